//! Vendor PKCS#11 modules run in a helper process each (`src/token/host.rs`): a module that crashes (SIGSEGV in
//! `C_FindObjects`) or hangs (`C_Login` never returns) is reported, the CLI and the window's commands keep
//! working, the SoftHSM2 token behind them is still listed, and the next operation starts a fresh helper. PINs
//! cross to the helper through its pipe only: never its command line or environment.

use crate::support::faulty::{self, Fault};
use crate::support::softhsm::{self, SoftHsm, USER_PIN};
use crate::support::{json_error_code, Home};
use crate::token::openssl_cert;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use trousseau::token::{self, Pin, TokenError};
use trousseau::{Coded, Lang};
use zeroize::Zeroizing;

/// A SoftHSM2 token "Vivante" holding one identity (CKA_ID e1), and the two faulty modules, listed first.
struct Bench {
    hsm: SoftHsm,
    crash: PathBuf,
    hang: PathBuf,
}

impl Bench {
    fn new() -> Bench {
        let hsm = SoftHsm::new();
        hsm.init_token("Vivante");
        let id = openssl_cert(hsm.dir.path(), "live", "Agent Vivant", "keyEncipherment", None);
        hsm.import_identity("Vivante", &id, "e1", "live");
        let crash = faulty::module(hsm.dir.path(), Fault::CrashInFindObjects);
        let hang = faulty::module(hsm.dir.path(), Fault::HangInLogin);
        Bench { hsm, crash, hang }
    }

    fn modules(&self) -> String {
        format!("{}:{}:{}", self.crash.display(), self.hang.display(), softhsm::module().display())
    }

    fn cli(&self, home: &Home) -> std::process::Command {
        let mut c = home.cli();
        self.hsm.env(&mut c).env("TROUSSEAU_PKCS11_MODULE", self.modules());
        c
    }

    /// Points this test process (the window's functions) at the same modules, in helpers started from the CLI
    /// binary (the desktop app starts them from itself).
    fn activate(&self) {
        self.hsm.activate();
        std::env::set_var("TROUSSEAU_PKCS11_MODULE", self.modules());
        std::env::set_var("TROUSSEAU_PKCS11_SYSTEM", "0");
        token::isolate_modules(crate::support::bin());
        assert!(token::modules_isolated());
    }
}

fn pin(s: &str) -> Pin {
    Pin::new(Zeroizing::new(s.to_string()))
}

#[test]
fn the_cli_reports_a_crashing_module_and_still_lists_the_tokens_behind_it() {
    let b = Bench::new();
    let home = Home::new();

    // Listing tokens reads token information only: all three modules answer.
    let out = b.cli(&home).args(["--json", "tokens"]).output().expect("runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let labels: Vec<&str> =
        v["tokens"].as_array().expect("tokens").iter().filter_map(|t| t["label"].as_str()).collect();
    for l in ["Carte qui plante", "Carte muette", "Vivante"] {
        assert!(labels.contains(&l), "{l} missing from {v}");
    }

    // Reading certificates makes the first module segfault: reported, and the SoftHSM2 token is still read.
    let out = b.cli(&home).args(["--json", "token", "certs"]).output().expect("runs");
    assert_eq!(out.status.code(), Some(1), "a partial list ends in error");
    assert_eq!(json_error_code(&out), "token.module_crashed");
    let certs: serde_json::Value = serde_json::from_slice(&out.stdout).expect("certificates still printed");
    let certs = certs.as_array().expect("array");
    assert!(certs.iter().any(|c| c["token"] == "Vivante" && c["key_id"] == "e1"), "{certs:?}");

    // French by default, saying what happened and what to do.
    let out = b.cli(&home).args(["token", "certs", "--token", "Carte qui plante"]).output().expect("runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("s'est arrêté brutalement") && err.contains("réessayez"), "{err}");

    // No helper outlives the CLI.
    std::thread::sleep(Duration::from_millis(300));
    for m in [&b.crash, &b.hang] {
        assert!(faulty::any_helpers(m).is_empty(), "a helper of {} is still running", m.display());
    }
}

#[test]
fn the_windows_commands_survive_a_module_that_segfaults() {
    let b = Bench::new();
    b.activate();
    for round in 0..2 {
        // Each round starts a fresh helper for the crashing module (the last one died).
        let view = trousseau::api::token_certificates((), Lang::Fr).expect("the command answers");
        let row = |label: &str| view.tokens.iter().find(|t| t.token.label == label).expect(label);
        let crashed = row("Carte qui plante");
        let e = crashed.error.as_ref().expect("the crash is reported on its token");
        assert_eq!(e.code, "token.module_crashed", "round {round}");
        assert!(e.message.contains("Le module de la carte s'est arrêté"), "{}", e.message);
        assert!(row("Vivante").certificates.iter().any(|c| c.key_id == "e1"), "round {round}: SoftHSM2 still read");
        assert!(row("Carte muette").error.is_none());
        let tokens = trousseau::api::tokens_list((), Lang::Fr).expect("tokens");
        assert_eq!(tokens.tokens.len(), 3, "round {round}: {:?}", tokens.problems);
    }
}

#[test]
fn a_login_stuck_in_the_module_is_killed_and_the_next_operations_work() {
    let b = Bench::new();
    std::env::set_var("TROUSSEAU_PKCS11_TIMEOUT_MS", "1500");
    b.activate();
    let d = token::discover();
    let stuck = token::find_token(&d, "Carte muette", Lang::En).expect("token");
    let started = Instant::now();
    let e = token::login(&stuck, pin("0000")).expect_err("the module never answers");
    assert!(matches!(e, TokenError::Timeout { operation: "login", .. }), "{e:?}");
    assert!(started.elapsed() < Duration::from_secs(10), "waited {:?}", started.elapsed());
    // The stuck helper was killed and reaped, not abandoned.
    assert!(faulty::helpers_of(std::process::id(), &b.hang).is_empty(), "the stuck helper still runs");
    // A fresh helper answers for the same module, and the other modules never noticed.
    assert_eq!(token::module_tokens(&b.hang, Lang::En).expect("fresh helper")[0].label, "Carte muette");
    let live = token::find_token(&d, "Vivante", Lang::En).expect("token");
    let s = token::login(&live, pin(USER_PIN)).expect("login elsewhere");
    assert_eq!(s.keys().expect("keys").len(), 1);
}

#[test]
fn a_session_whose_helper_died_is_lost_and_a_new_login_works() {
    let b = Bench::new();
    b.activate();
    let d = token::discover();
    let live = token::find_token(&d, "Vivante", Lang::En).expect("token");
    let s = token::login(&live, pin(USER_PIN)).expect("login");
    assert_eq!(s.keys().expect("keys").len(), 1);
    let helpers = faulty::helpers_of(std::process::id(), &softhsm::module());
    assert_eq!(helpers.len(), 1, "one helper serves SoftHSM2: {helpers:?}");
    // The module's process dies under the session (as when a vendor module crashes mid-operation; SIGKILL
    // because a SIGSEGV sent from outside is swallowed by Rust's stack-overflow handler in the helper).
    let killed = std::process::Command::new("kill").args(["-KILL", &helpers[0].to_string()]).status().expect("kill");
    assert!(killed.success());
    let e = s.keys().expect_err("the helper is gone");
    assert_eq!(e.code(), "token.module_crashed", "{e:?}");
    assert!(e.to_string().contains("signal 9"), "{e}");
    assert!(matches!(s.keys(), Err(TokenError::SessionLost)), "the session does not come back by itself");
    drop(s);
    let again = token::login(&live, pin(USER_PIN)).expect("a new login starts a fresh helper");
    assert_eq!(again.keys().expect("keys").len(), 1);
}

#[test]
fn the_pin_reaches_the_helper_through_its_pipe_only() {
    const PIN: &str = "73915";
    let b = Bench::new();
    let home = Home::new();
    let mut c = b.cli(&home);
    c.env("TROUSSEAU_PKCS11_TIMEOUT_MS", "8000")
        .env("MODULE_TEST_PIN", PIN)
        .args(["--json", "token", "login", "--token", "Carte muette", "--pin-env", "MODULE_TEST_PIN"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = c.spawn().expect("spawn");
    // While the module sits in C_Login with the PIN, look at its helper from outside.
    let until = Instant::now() + Duration::from_secs(6);
    let helper = loop {
        if let Some(pid) = faulty::helpers_of(child.id(), &b.hang).first() {
            break *pid;
        }
        assert!(Instant::now() < until, "no helper process appeared");
        std::thread::sleep(Duration::from_millis(50));
    };
    std::thread::sleep(Duration::from_millis(300));
    let environ = std::fs::read(format!("/proc/{helper}/environ")).expect("environ");
    let cmdline = std::fs::read(format!("/proc/{helper}/cmdline")).expect("cmdline");
    for (what, bytes) in [("environment", &environ), ("command line", &cmdline)] {
        let text = String::from_utf8_lossy(bytes);
        assert!(!text.contains(PIN), "the PIN is in the helper's {what}");
        assert!(!text.contains("MODULE_TEST_PIN"), "the PIN's variable is in the helper's {what}");
    }
    let out = child.wait_with_output().expect("ends");
    assert_eq!(json_error_code(&out), "token.timeout");
    assert!(faulty::any_helpers(&b.hang).is_empty(), "the stuck helper was killed");
}

#[test]
fn a_reader_with_a_pin_pad_is_left_to_type_the_codes_itself() {
    let b = Bench::new();
    let pad = faulty::module(b.hsm.dir.path(), Fault::PinPad);
    let log = b.hsm.file("pinpad.log");
    std::env::set_var("FAULTY_PKCS11_LOG", &log);
    b.activate();
    std::env::set_var("TROUSSEAU_PKCS11_MODULE", &pad);
    let t = token::module_tokens(&pad, Lang::Fr).expect("tokens").remove(0);
    assert!(t.pin.protected_path, "the token announces its PIN pad");
    token::change_pin_on_pad(&t).expect("changed on the pad");
    token::unblock_pin_on_pad(&t).expect("unblocked on the pad");
    drop(token::login_protected(&t).expect("logged in on the pad"));
    // Typed codes are not what a pad reader wants: the module refuses them (and says it saw them).
    let typed = token::change_pin(&t, pin("1234"), pin("5678"), None);
    assert!(typed.is_err());
    // Both faces: the window sends empty codes for a pad reader, the CLI asks for none.
    let empty = || trousseau::password::Password::from("");
    let req = trousseau::api::PinChangeRequest {
        token: t.label.clone(),
        current: empty(),
        new_pin: empty(),
        confirm: empty(),
        final_try_ok: false,
    };
    trousseau::api::token_pin_change(req.clone(), Lang::Fr).expect("window: changed on the pad");
    trousseau::api::token_pin_unblock(req, Lang::Fr).expect("window: unblocked on the pad");
    let home = Home::new();
    let mut c = b.cli(&home);
    c.env("TROUSSEAU_PKCS11_MODULE", &pad).env("FAULTY_PKCS11_LOG", &log);
    let out = c.args(["token", "pin", "change", "--token", &t.label]).output().expect("runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("sur le clavier du lecteur"));
    let calls = std::fs::read_to_string(&log).expect("the module logged its calls");
    let calls: Vec<&str> = calls.lines().collect();
    assert_eq!(
        calls,
        [
            "C_SetPIN on the pad",
            "C_Login SO on the pad",
            "C_InitPIN on the pad",
            "C_Login user on the pad",
            "C_SetPIN with typed PINs",
            "C_SetPIN on the pad",
            "C_Login SO on the pad",
            "C_InitPIN on the pad",
            "C_SetPIN on the pad",
        ]
    );
}

#[test]
fn a_helper_outlives_the_thread_that_started_it_and_dies_with_its_process() {
    let b = Bench::new();
    b.activate();
    let module = softhsm::module();
    // The desktop app runs commands on short-lived threads: the helper must not end with them.
    let m = module.clone();
    std::thread::spawn(move || token::module_tokens(&m, Lang::En).expect("tokens")).join().expect("thread");
    let first = faulty::helpers_of(std::process::id(), &module);
    assert_eq!(first.len(), 1, "{first:?}");
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(token::module_tokens(&module, Lang::En).expect("tokens again").len(), 1);
    assert_eq!(faulty::helpers_of(std::process::id(), &module), first, "the same helper served both calls");

    // Trousseau killed while a module sits in C_Login: its helper does not stay behind.
    let home = Home::new();
    let mut c = b.cli(&home);
    c.env("TROUSSEAU_PKCS11_TIMEOUT_MS", "60000")
        .env("MODULE_TEST_PIN", "0000")
        .args(["token", "login", "--token", "Carte muette", "--pin-env", "MODULE_TEST_PIN"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut child = c.spawn().expect("spawn");
    let until = Instant::now() + Duration::from_secs(6);
    let helper = loop {
        if let Some(pid) = faulty::helpers_of(child.id(), &b.hang).first() {
            break *pid;
        }
        assert!(Instant::now() < until, "no helper process appeared");
        std::thread::sleep(Duration::from_millis(50));
    };
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    let until = Instant::now() + Duration::from_secs(5);
    while std::path::Path::new(&format!("/proc/{helper}")).exists() && faulty::any_helpers(&b.hang).contains(&helper) {
        assert!(Instant::now() < until, "the helper of a killed Trousseau is still running");
        std::thread::sleep(Duration::from_millis(100));
    }
}

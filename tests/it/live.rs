//! The window's live state (issue 15, "pages never wait"): with a PKCS#11 module that takes seconds per call, the
//! window's commands answer from the state the core keeps at once while the tokens are probed in the background,
//! once at start and once per card insertion or removal (real pcscd, vpcd virtual readers, SoftHSM2 behind a slow
//! wrapper: tests/modules/slow-pkcs11.c). Named `live::…` so that it runs in the `pcscd` group.

use crate::support::softhsm::{self, SoftHsm};
use crate::support::vcard::{self, VirtualCard, ATR_CPS4};
use crate::support::{openssl, pcscd, Home};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};
use trousseau::api;
use trousseau::live::{self, LiveChange, LiveEvent};
use trousseau::Lang;

/// What each slow call of the module sleeps.
const SLOW_MS: u64 = 1500;
/// The goal for a command answered from the state (a page renders from it).
const ANSWER_GOAL: Duration = Duration::from_millis(100);

/// Builds the slow wrapper of SoftHSM2 with the system's C compiler.
pub fn slow_module(dir: &Path) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/modules/slow-pkcs11.c");
    let lib = dir.join("libslow-pkcs11.so");
    let out =
        Command::new("cc").args(["-shared", "-fPIC", "-o"]).arg(&lib).arg(&src).arg("-ldl").output().expect("cc runs");
    assert!(out.status.success(), "cc: {}", String::from_utf8_lossy(&out.stderr));
    lib
}

/// Runs `f` and returns its result with how long it took.
fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let t = Instant::now();
    let r = f();
    (r, t.elapsed())
}

/// Waits for the next event of `kind`.
fn wait_for(rx: &Receiver<LiveEvent>, kind: LiveChange, within: Duration) -> LiveEvent {
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(e) if e.change == kind => return e,
            Ok(_) => continue,
            Err(e) => panic!("no {kind:?} event within {within:?}: {e}"),
        }
    }
}

/// The window's token and card commands, each timed: they must answer from the state, whatever the module does.
fn answer_at_once(what: &str) -> (api::TokensView, api::TokenCertsView, Vec<api::ReaderState>) {
    let (tokens, t1) = timed(|| api::tokens_list((), Lang::Fr).expect("tokens_list"));
    let (certs, t2) = timed(|| api::token_certificates((), Lang::Fr).expect("token_certificates"));
    let (readers, t3) = timed(|| api::cards_list((), Lang::Fr).expect("cards_list"));
    let (dash, t4) = timed(|| api::dashboard((), Lang::Fr).expect("dashboard"));
    eprintln!("{what}: tokens_list {t1:?}, token_certificates {t2:?}, cards_list {t3:?}, dashboard {t4:?}");
    for (name, t) in [("tokens_list", t1), ("token_certificates", t2), ("cards_list", t3), ("dashboard", t4)] {
        assert!(t < ANSWER_GOAL, "{what}: {name} took {t:?} (goal {ANSWER_GOAL:?})");
    }
    assert_eq!(dash.readers, readers, "the dashboard shows the same readers");
    (tokens, certs, readers)
}

#[test]
fn commands_answer_from_the_live_state_while_a_slow_module_is_probed() {
    pcscd::ensure();
    let home = Home::new();
    std::env::set_var("TROUSSEAU_HOME", home.file("home"));
    std::env::set_var("TROUSSEAU_NSSDB", home.file("nssdb"));
    let hsm = SoftHsm::new();
    hsm.init_token("Jeton lent");
    let dir = home.path();
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "agent.key",
            "-out",
            "agent.pem",
            "-days",
            "365",
            "-subj",
            "/CN=Agent Lent/O=Trousseau Tests/C=LU",
            "-addext",
            "keyUsage=critical,digitalSignature,keyEncipherment",
        ],
    );
    hsm.import_identity("Jeton lent", &softhsm::der_files(dir, "agent"), "a1", "Agent Lent");
    hsm.activate();
    std::env::set_var("TROUSSEAU_PKCS11_MODULE", slow_module(dir));
    std::env::set_var("TROUSSEAU_PKCS11_SYSTEM", "0");
    std::env::set_var("TROUSSEAU_SLOW_MS", SLOW_MS.to_string());

    // Without the live state (the CLI's way), a listing waits for the module.
    let (direct, took) = timed(|| api::tokens_list((), Lang::Fr).expect("tokens_list"));
    assert!(took >= Duration::from_millis(SLOW_MS), "the wrapper is not slow: {took:?}");
    assert!(direct.tokens.iter().any(|t| t.label == "Jeton lent") && !direct.probing, "{direct:?}");
    eprintln!("direct listing through the slow module: {took:?}");

    // The store and the portal file are opened once here (NSS start-up is not what is measured below).
    api::dashboard((), Lang::Fr).expect("dashboard");

    let (tx, rx) = channel();
    let started = Instant::now();
    live::start(move |e| {
        let _ = tx.send(e.clone());
    })
    .expect("live state");

    // At once: nothing read yet, and the window is told so.
    let (tokens, certs, _) = answer_at_once("at start");
    assert!(tokens.probing && certs.probing, "{tokens:?}");
    let finished = wait_for(&rx, LiveChange::ProbeFinished, Duration::from_secs(60));
    eprintln!("start-up probe finished after {:?}", started.elapsed());
    assert!(started.elapsed() >= Duration::from_millis(SLOW_MS));
    assert_eq!(finished.probes, 1);
    let (tokens, certs, readers) = answer_at_once("after the start-up probe");
    assert!(!tokens.probing, "{tokens:?}");
    assert!(
        tokens.tokens.iter().any(|t| t.label == "Jeton lent" && t.pin_state == trousseau::api::PinState::Ok),
        "{tokens:?}"
    );
    let card = certs.tokens.iter().find(|t| t.token.label == "Jeton lent").expect("the token's certificates");
    assert!(card.certificates.iter().any(|c| c.certificate.holder.contains("Agent Lent")), "{card:?}");
    assert!(readers.iter().any(|r| r.name == vcard::READER0 && r.card.is_none()), "{readers:?}");

    // A CPS4 card inserted: the readers are current at once, the tokens are being read again, and the card's
    // missing software is said with where it comes from.
    let inserted = VirtualCard::insert(0, ATR_CPS4);
    let deadline = Instant::now() + Duration::from_secs(10);
    let readers = loop {
        wait_for(&rx, LiveChange::Readers, deadline.saturating_duration_since(Instant::now()));
        let (_, _, readers) = answer_at_once("card inserted");
        if readers.iter().any(|r| r.name == vcard::READER0 && r.card.is_some()) {
            break readers;
        }
    };
    let cps = readers.iter().find_map(|r| r.card.clone().filter(|_| r.name == vcard::READER0)).expect("card");
    assert_eq!(cps.family, trousseau::api::CardFamily::Cps4);
    let (tokens, _, _) = answer_at_once("probe after insertion");
    assert!(tokens.probing, "a probe runs after the insertion: {tokens:?}");
    assert!(tokens.tokens.iter().any(|t| t.label == "Jeton lent"), "the last probe's tokens stay shown: {tokens:?}");
    let missing = tokens.problems.iter().find(|p| p.code == "card.software_missing").expect("software missing");
    assert!(missing.message.contains("Cryptolib CPS") && missing.message.contains("esante.gouv.fr"), "{missing:?}");
    let finished = wait_for(&rx, LiveChange::ProbeFinished, Duration::from_secs(60));
    assert_eq!(finished.probes, 2, "one probe per insertion");
    assert!(!finished.probing);

    // Removed: the readers say so at once, one more probe, the problem is gone.
    inserted.remove();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        wait_for(&rx, LiveChange::Readers, deadline.saturating_duration_since(Instant::now()));
        let (_, _, readers) = answer_at_once("card removed");
        if readers.iter().any(|r| r.name == vcard::READER0 && r.card.is_none()) {
            break;
        }
    }
    let (tokens, _, _) = answer_at_once("probe after removal");
    assert!(!tokens.problems.iter().any(|p| p.code == "card.software_missing"), "{tokens:?}");
    let finished = wait_for(&rx, LiveChange::ProbeFinished, Duration::from_secs(60));
    assert_eq!(finished.probes, 3, "one probe per removal");

    // Nothing probes without a change.
    std::thread::sleep(Duration::from_millis(2 * SLOW_MS));
    let snapshot = live::running().expect("running").snapshot();
    assert_eq!((snapshot.probes, snapshot.probing), (3, false), "no probe without a card change");
}

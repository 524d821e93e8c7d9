//! `trousseau doctor` against real components: pcscd with vpcd readers and the virtual card, SoftHSM2 tokens, NSS
//! databases for Chromium and a Firefox profile. Every test here reads (or stops) the machine's one pcscd, so they
//! are in nextest's `pcscd` group (one at a time).

use crate::support::pki::{KeyAlg, Pki};
use crate::support::softhsm::{self, SoftHsm};
use crate::support::vcard::{self, VirtualCard, ATR_CPS4, ATR_LUXTRUST, READER0};
use crate::support::{nss, pcscd, Home};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

/// A user's session: its own HOME (Firefox profiles, logs), Trousseau home, Chromium NSS database.
struct Session {
    home: Home,
}

impl Session {
    fn new() -> Session {
        let home = Home::new();
        std::fs::create_dir_all(home.file("user")).unwrap();
        Session { home }
    }

    fn cmd(&self, lang: &str) -> Command {
        let mut c = self.home.cli();
        c.env("HOME", self.home.file("user"))
            .env_remove("XDG_DATA_HOME")
            .env("TROUSSEAU_LANG", lang)
            .env("TROUSSEAU_PKCS11_SYSTEM", "0")
            .env_remove("TROUSSEAU_PKCS11_MODULE");
        c
    }

    fn doctor(&self, lang: &str, hsm: Option<&SoftHsm>) -> (Output, Value) {
        let mut c = self.cmd(lang);
        c.args(["--json", "doctor"]);
        if let Some(h) = hsm {
            h.env(&mut c);
        }
        let out = c.output().expect("trousseau runs");
        let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!("{e}: {}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
        });
        (out, v)
    }
}

fn find<'a>(v: &'a Value, id: &str) -> &'a Value {
    v["checks"].as_array().and_then(|a| a.iter().find(|c| c["id"] == id)).unwrap_or_else(|| panic!("no {id} in {v}"))
}

fn status<'a>(v: &'a Value, id: &str) -> &'a str {
    find(v, id)["status"].as_str().unwrap_or("")
}

#[test]
fn cps4_or_luxtrust_card_without_its_middleware_names_the_missing_software() {
    pcscd::ensure();
    let s = Session::new();
    let cps4 = VirtualCard::insert(0, ATR_CPS4);
    vcard::wait_card(READER0, true, Duration::from_secs(10));

    let (out, v) = s.doctor("fr", None);
    assert_eq!(out.status.code(), Some(1), "a failed link exits 1: {v}");
    let ids: Vec<&str> = v["checks"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(ids, trousseau::doctor::CHECK_IDS, "chain order");
    assert_eq!(status(&v, "pcsc.service"), "ok");
    assert_eq!(status(&v, "pcsc.readers"), "ok");
    let card = find(&v, "card.present");
    assert_eq!(card["status"], "ok", "{card}");
    assert!(card["message"].as_str().unwrap().contains("CPS4"), "{card}");
    let module = find(&v, "card.module");
    assert_eq!(module["status"], "fail", "{module}");
    assert!(module["message"].as_str().unwrap().contains("Cryptolib CPS"), "{module}");
    assert!(module["fix"].as_str().unwrap().contains("esante.gouv.fr"), "{module}");
    assert_eq!(status(&v, "token.visible"), "fail", "the card is in but no module shows it: {v}");

    let (_, de) = s.doctor("de", None);
    let module = find(&de, "card.module");
    assert!(module["message"].as_str().unwrap().contains("nicht installiert"), "{module}");
    assert!(module["fix"].as_str().unwrap().starts_with("Installieren Sie"), "{module}");

    // The window's face gives the same chain.
    let report = trousseau::api::doctor((), trousseau::Lang::En).expect("doctor");
    assert_eq!(report.get("card.module").map(|c| c.status), Some(trousseau::doctor::CheckStatus::Fail));

    // A LuxTrust card without its middleware: the LuxTrust software, from luxtrust.lu.
    cps4.remove();
    vcard::wait_card(READER0, false, Duration::from_secs(10));
    let _card = VirtualCard::insert(0, ATR_LUXTRUST);
    vcard::wait_card(READER0, true, Duration::from_secs(10));
    let (_, v) = s.doctor("fr", None);
    let module = find(&v, "card.module");
    assert_eq!(module["status"], "fail", "{module}");
    assert!(module["message"].as_str().unwrap().contains("middleware LuxTrust"), "{module}");
    assert!(module["fix"].as_str().unwrap().contains("luxtrust.lu"), "{module}");
}

#[test]
fn pcscd_down_fails_the_first_link_and_skips_the_card_links() {
    pcscd::ensure();
    let s = Session::new();
    pcscd::stop();
    let (out, v) = s.doctor("en", None);
    pcscd::ensure();
    assert_eq!(out.status.code(), Some(1));
    let service = find(&v, "pcsc.service");
    assert_eq!(service["status"], "fail", "{service}");
    assert!(service["fix"].as_str().unwrap().contains("pcscd"), "{service}");
    for id in ["pcsc.readers", "card.present", "card.module"] {
        assert_eq!(status(&v, id), "skip", "{id}: {v}");
    }
    // Links that do not depend on PC/SC are still judged.
    assert_eq!(status(&v, "store.os"), "ok", "{v}");
    assert_eq!(status(&v, "clock"), "ok", "{v}");
}

/// A SoftHSM2 token holding a certificate that expires in 10 days, a Chromium database and a Firefox profile.
fn token_session(holder: &str) -> (Session, SoftHsm, Pki) {
    let s = Session::new();
    let hsm = SoftHsm::new();
    hsm.init_token(&format!("Carte {holder}"));
    let pki = Pki::new(&s.home.file("pki"), "/C=LU/O=Trousseau Test/CN=Doctor Test CA", KeyAlg::EcP256, 30);
    let ext = "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n";
    pki.issue(
        "holder",
        &format!("/C=LU/O=Trousseau Test/CN={holder}"),
        KeyAlg::EcP256.newkey_args(),
        ext,
        Some("0x5eC12e7"),
        10,
    );
    let der = softhsm::der_files(&pki.dir, "holder");
    hsm.import_identity(&format!("Carte {holder}"), &der, "01", holder);
    nss::create_db(&s.home.file("nssdb"));
    let ff = s.home.file("user/.mozilla/firefox");
    nss::create_db(&ff.join("abcd.default-release"));
    std::fs::write(
        ff.join("profiles.ini"),
        "[Profile0]\nName=default-release\nIsRelative=1\nPath=abcd.default-release\nDefault=1\n",
    )
    .unwrap();
    (s, hsm, pki)
}

#[test]
fn token_pin_expiry_and_browser_registration() {
    pcscd::ensure();
    let (s, hsm, _pki) = token_session("Ulrike Tokenholder");
    let (_, v) = s.doctor("en", Some(&hsm));
    assert_eq!(status(&v, "token.visible"), "ok", "{v}");
    assert_eq!(status(&v, "token.pin"), "ok", "{v}");
    let certs = find(&v, "token.certificates");
    assert_eq!(certs["status"], "warn", "expires in 10 days: {certs}");
    let browsers = find(&v, "browser.registration");
    assert_eq!(browsers["status"], "warn", "{browsers}");
    let msg = browsers["message"].as_str().unwrap();
    assert!(msg.contains("Chromium") && msg.contains("Firefox"), "{msg}");
    assert!(browsers["fix"].as_str().unwrap().contains("register-module"), "{browsers}");

    // Registered in Chromium's database and in the Firefox profile, the link is whole.
    let module = softhsm::module();
    for firefox in [None, Some("default-release")] {
        let mut c = s.cmd("en");
        c.args(["store", "register-module", "--name", "Carte", "--module"]).arg(&module);
        if let Some(p) = firefox {
            c.args(["--firefox", p]);
        }
        hsm.env(&mut c);
        let out = c.output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let (_, v) = s.doctor("en", Some(&hsm));
    assert_eq!(status(&v, "browser.registration"), "ok", "{v}");
}

#[test]
fn support_bundle_holds_no_secret_and_no_name() {
    pcscd::ensure();
    let holder = "Ulrike Tokenholder";
    let (s, hsm, pki) = token_session(holder);
    // A personal certificate in the store too, imported from a .p12 whose password must not leak.
    pki.issue(
        "store",
        "/C=LU/O=Trousseau Test/CN=Gustav Storeholder",
        KeyAlg::EcP256.newkey_args(),
        "keyUsage=critical,digitalSignature\n",
        Some("0x0badcafe42"),
        30,
    );
    let p12 = pki.p12("store", "P12-geheim-Passwort!", &[]);
    let mut c = s.cmd("fr");
    c.args(["p12", "import", "--password-env", "P12PW"]).arg(&p12).env("P12PW", "P12-geheim-Passwort!");
    let out = c.output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // A desktop log line naming the holder and an e-mail address.
    let logs = s.home.file("user/.local/share/lu.trousseau.desktop/logs");
    std::fs::create_dir_all(&logs).unwrap();
    std::fs::write(logs.join("Trousseau.log"), format!("[INFO] certificate of {holder} <ulrike@example.lu> listed\n"))
        .unwrap();

    let bundle = s.home.file("bundle.json");
    let mut c = s.cmd("fr");
    c.args(["doctor", "--bundle"]).arg(&bundle);
    hsm.env(&mut c);
    let out = c.output().unwrap();
    let text = std::fs::read_to_string(&bundle).unwrap_or_else(|e| {
        panic!("{e}: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
    });
    let v: Value = serde_json::from_str(&text).expect("the bundle is JSON");
    assert_eq!(v["versions"]["trousseau"], env!("CARGO_PKG_VERSION"));
    assert_eq!(v["doctor"]["checks"].as_array().map(Vec::len), Some(trousseau::doctor::CHECK_IDS.len()));
    assert!(v["modules"].as_array().is_some_and(|m| !m.is_empty()), "the module list: {v}");
    assert!(v["log"].as_array().is_some_and(|l| l.iter().any(|x| x.as_str().unwrap().contains("listed"))), "{v}");
    let user_home = s.home.file("user").display().to_string();
    for secret in [
        "Ulrike",
        "Tokenholder",
        "Gustav",
        "Storeholder",
        "5ec12e7",
        "0badcafe42",
        "badcafe42",
        "example.lu",
        "P12-geheim-Passwort!",
        softhsm::SO_PIN,
        user_home.as_str(),
    ] {
        assert!(!text.to_lowercase().contains(&secret.to_lowercase()), "{secret:?} is in the bundle:\n{text}");
    }

    // Never over an existing file.
    let before = std::fs::read(&bundle).unwrap();
    let mut c = s.cmd("fr");
    c.args(["--json", "doctor", "--bundle"]).arg(&bundle);
    let out = c.output().unwrap();
    assert_eq!(crate::support::json_error_code(&out), "doctor.bundle_exists");
    assert_eq!(std::fs::read(&bundle).unwrap(), before);
}

/// `trousseau portal pair` against the sandbox, approved by script.
fn pair(s: &Session, sb: &crate::support::sandbox::Sandbox, agent: &str) {
    let mut child = s
        .cmd("fr")
        .args(["--json", "portal", "pair", &sb.url, "--device-name", "poste-doctor"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("pair");
    let mut reader = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    reader.read_line(&mut line).expect("first line");
    let v: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
    sb.approve(v["user_code"].as_str().expect("user_code"), agent);
    let out = child.wait_with_output().expect("wait");
    assert!(out.status.success(), "pair failed: {}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn portal_pairing_and_live_channel() {
    pcscd::ensure();
    let s = Session::new();
    let (_, v) = s.doctor("fr", None);
    assert_eq!(status(&v, "portal.pairing"), "skip", "not paired: {v}");
    assert_eq!(status(&v, "portal.channel"), "skip", "{v}");

    let sb = crate::support::sandbox::Sandbox::start();
    pair(&s, &sb, "agent.doctor");
    let (_, v) = s.doctor("fr", None);
    assert_eq!(status(&v, "portal.pairing"), "ok", "{v}");
    let channel = find(&v, "portal.channel");
    assert_eq!(channel["status"], "warn", "the app is not running: {channel}");
    assert!(channel["message"].as_str().unwrap().contains("Déconnecté"), "{channel}");
    let clock = find(&v, "clock");
    assert_eq!(clock["status"], "ok", "{clock}");
    assert!(
        clock["message"].as_str().unwrap().contains("heure du portail"),
        "compared with the portal's Date: {clock}"
    );

    // With the channel up (`portal run`), the link is whole.
    let mut run =
        s.cmd("fr").args(["portal", "run"]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("portal run");
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    let mut last = Value::Null;
    while std::time::Instant::now() < deadline {
        last = s.doctor("fr", None).1;
        if status(&last, "portal.channel") == "ok" {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let _ = run.kill();
    let _ = run.wait();
    assert_eq!(status(&last, "portal.channel"), "ok", "{last}");
    assert!(find(&last, "portal.channel")["message"].as_str().unwrap().contains("Connecté"), "{last}");
}

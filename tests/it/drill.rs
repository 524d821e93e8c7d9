//! The backup-key drill (issue 14, part 2) against the real reference portal: three registered bi-clés — a
//! personal one in the NSS database, a backup one on a card (SoftHSM2), and one whose key lives on another
//! workstation — each gets its verdict; with the card pulled out, the backup says "key not here". Only the list
//! request reaches the portal (its registry and audit log are unchanged by the drill).

use std::process::Output;

use crate::support::pki::Pki;
use crate::support::sandbox::Sandbox;
use crate::support::softhsm::{self, SoftHsm};
use crate::support::{json_ok, run_with_stdin, Home};

const AGENT: &str = "agent.drill";
const PW: &str = "Motdepasse-Exercice-1";

fn pair(home: &Home, sb: &Sandbox) {
    crate::support::sandbox::pair_cli(home, sb, AGENT, "poste-exercice");
}

fn import(home: &Home, pki: &Pki, name: &str) {
    pki.p12(name, PW, &[]);
    let mut c = home.cli();
    c.args(["--json", "p12", "import", "--password-stdin"]).arg(pki.path(&format!("{name}.p12")));
    json_ok(&run_with_stdin(c, format!("{PW}\n").as_bytes()));
}

fn add(home: &Home, hsm: Option<&SoftHsm>, designation: &str, sha: &str, kind: &str) {
    let mut c = home.cli();
    match hsm {
        Some(h) => {
            h.env(&mut c);
        }
        None => {
            c.env("TROUSSEAU_PKCS11_SYSTEM", "0");
        }
    }
    json_ok(&c.args(["--json", "portal", "keys", "add", "--name", designation, "--cert", sha, kind]).output().unwrap());
}

fn drill(home: &Home, hsm: Option<&SoftHsm>) -> (Output, serde_json::Value) {
    let mut c = home.cli();
    match hsm {
        Some(h) => {
            h.env(&mut c);
        }
        None => {
            c.env("TROUSSEAU_PKCS11_SYSTEM", "0");
        }
    }
    let out = c
        .env("CARD_PIN", softhsm::USER_PIN)
        .args(["--json", "portal", "keys", "drill", "--pin-env", "CARD_PIN"])
        .output()
        .unwrap();
    let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{e}: {} {}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
    });
    (out, v)
}

fn outcome<'a>(v: &'a serde_json::Value, designation: &str) -> &'a serde_json::Value {
    v["rows"].as_array().unwrap().iter().find(|r| r["designation"] == designation).unwrap_or_else(|| panic!("{v}"))
}

#[test]
fn the_drill_opens_each_bicle_where_its_key_lives_and_names_the_missing_ones() {
    let sb = Sandbox::start();
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::test_root(&dir.path().join("pki"), "LuxTrust Test CA");
    pki.leaf("perso", "Jean Dupont", "rsa", "keyEncipherment");
    pki.leaf("carte", "Jean Dupont carte", "rsa", "keyEncipherment");
    pki.leaf("ailleurs", "Jean Dupont bureau", "rsa", "keyEncipherment");

    // this workstation: the personal key in the store, the backup on a card
    let home = Home::new();
    crate::support::nss::create_db(&home.file("nssdb"));
    import(&home, &pki, "perso");
    let hsm = SoftHsm::new();
    hsm.init_token("Carte LuxTrust");
    hsm.import_identity("Carte LuxTrust", &softhsm::der_files(&pki.dir, "carte"), "c1", "chiffrement");
    pair(&home, &sb);
    add(&home, None, "Jean Dupont 2026", &pki.sha256("perso"), "--personal");
    add(&home, Some(&hsm), "Jean Dupont secours", &pki.sha256("carte"), "--backup");

    // another workstation registers the third key for the same agent
    let office = Home::new();
    crate::support::nss::create_db(&office.file("nssdb"));
    import(&office, &pki, "ailleurs");
    pair(&office, &sb);
    add(&office, None, "Jean Dupont bureau", &pki.sha256("ailleurs"), "--personal");
    sb.confirm_all(AGENT);
    let registry_before = sb.count("bicles");

    let (out, v) = drill(&home, Some(&hsm));
    assert_eq!(out.status.code(), Some(1), "not every bi-clé opens here: {v}");
    let perso = outcome(&v, "Jean Dupont 2026");
    assert_eq!((perso["outcome"].as_str(), perso["reachable"].as_str()), (Some("opens"), Some("store")), "{v}");
    let secours = outcome(&v, "Jean Dupont secours");
    assert_eq!(
        (secours["outcome"].as_str(), secours["token"].as_str()),
        (Some("opens"), Some("Carte LuxTrust")),
        "{v}"
    );
    assert_eq!(outcome(&v, "Jean Dupont bureau")["outcome"], "key_absent", "{v}");
    assert_eq!(v["summary"]["opened"], 2);
    assert_eq!(v["summary"]["all_open"], false);

    // the office workstation: only its own key opens
    let (_, w) = drill(&office, None);
    assert_eq!(outcome(&w, "Jean Dupont bureau")["outcome"], "opens", "{w}");
    assert_eq!(outcome(&w, "Jean Dupont 2026")["outcome"], "key_absent", "{w}");

    // the card pulled out: the backup's key is not here any more
    let (_, v) = drill(&home, None);
    assert_eq!(outcome(&v, "Jean Dupont secours")["outcome"], "key_absent", "{v}");
    assert_eq!(outcome(&v, "Jean Dupont 2026")["outcome"], "opens", "{v}");

    // a wrong PIN: the backup fails with the token's words, the personal key still opens
    let mut c = home.cli();
    hsm.env(&mut c);
    let out = c
        .env("CARD_PIN", "0000")
        .args(["--json", "portal", "keys", "drill", "--pin-env", "CARD_PIN"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let secours = outcome(&v, "Jean Dupont secours");
    assert_eq!(secours["outcome"], "failed", "{v}");
    assert!(secours["error"]["code"].as_str().unwrap().starts_with("token."), "{v}");

    // nothing but the list went to the portal: the registry is as it was
    assert_eq!(sb.count("bicles"), registry_before);
    let last = std::fs::read_to_string(home.file("home").join("data").join("drill.json")).expect("last result kept");
    assert!(last.contains("\"opened\": 1"), "{last}");
}

//! The window's IGC-Santé command (`api::csr_igc_new`) called as the window calls it: the request is the JSON the
//! wizard sends (the core's `igc_sante::Input` plus `out`), the rules are the core's, the CSR is re-read by OpenSSL.
//! Needs the session keyring (scripts/in-session.sh): an accepted request keeps its key in the vault.

use crate::csr::{openssl_csr, vault_entries};
use crate::support::Home;
use serde_json::{json, Value};
use trousseau::api::{csr_igc_new, IgcRequest};
use trousseau::i18n::Lang;

/// An ORG / AUTH_CLI request as the wizard sends it, with `cn` and `insi` as given.
fn org_request(home: &Home, cn: Option<&str>, insi: Option<&str>, out: &str) -> IgcRequest {
    let v: Value = json!({
        "offer": "ORG", "usage": "AUTH_CLI",
        "cn": cn, "sn": null, "gn": null, "title": null,
        "ou": "123456789", "o": "Clinique du Parc", "st": "Paris (75)",
        "emails": [], "upn": null, "fqdns": [],
        "insi": insi,
        "out": home.file(out),
    });
    serde_json::from_value(v).expect("the wizard's JSON is an IgcRequest")
}

/// The command reads `TROUSSEAU_HOME` (vault, settings) from its own process: nextest runs each test in its own
/// process, so this home is this test's alone.
fn use_home(home: &Home) {
    std::env::set_var("TROUSSEAU_HOME", home.file("home"));
    std::env::set_var("TROUSSEAU_NSSDB", home.file("nssdb"));
}

#[test]
fn api_igc_org_cn_insi_aut_refused_with_its_rule_insi_auto_accepted() {
    let home = Home::new();
    use_home(&home);

    // A near-miss of the INSi name: refused, the rule named, in French, and nothing created.
    let e = csr_igc_new(org_request(&home, Some("INSI-AUT"), None, "refusee.csr"), Lang::Fr).unwrap_err();
    assert_eq!(e.code, "csr.rule", "{e:?}");
    assert!(e.message.contains("insi_cn"), "the rule is named: {}", e.message);
    assert!(e.message.contains("INSI-AUTO ou INSI-MANU"), "says what to write: {}", e.message);
    assert!(e.message.contains("Rien n'a été créé"), "{}", e.message);
    assert!(!home.file("refusee.csr").exists(), "no CSR for a refused request");
    assert!(vault_entries(&home).is_empty(), "no vault entry for a refused request");

    // The INSi choice with a different cn: refused, and in English when the window speaks English.
    let e = csr_igc_new(org_request(&home, Some("Portail"), Some("INSI-MANU"), "melange.csr"), Lang::En).unwrap_err();
    assert_eq!(e.code, "csr.rule");
    assert!(e.message.contains("insi_cn") && e.message.contains("INSI-MANU"), "{}", e.message);
    assert!(vault_entries(&home).is_empty());

    // The exact name typed as the service name is accepted; OpenSSL reads it back as the subject's CN.
    let r = csr_igc_new(org_request(&home, Some("INSI-AUTO"), None, "insi-auto.csr"), Lang::Fr).expect("INSI-AUTO");
    let o = openssl_csr(home.path(), &home.file("insi-auto.csr"));
    assert!(o.subject.starts_with("CN=INSI-AUTO,"), "subject: {}", o.subject);
    assert!(o.subject.contains("O=Clinique du Parc") && o.subject.contains("C=FR"), "subject: {}", o.subject);
    assert!(r.deadline.is_some(), "an IGC-Santé request has a withdrawal deadline");

    // The INSi choice alone (no cn) gives exactly INSI-MANU.
    csr_igc_new(org_request(&home, None, Some("INSI-MANU"), "insi-manu.csr"), Lang::Fr).expect("INSI-MANU");
    let o = openssl_csr(home.path(), &home.file("insi-manu.csr"));
    assert!(o.subject.starts_with("CN=INSI-MANU,"), "subject: {}", o.subject);
    assert_eq!(vault_entries(&home).len(), 2, "one pending key per accepted request");

    // A value outside the INSi choice is not a request at all (the wire type is the core's enum).
    let bad: Result<IgcRequest, _> = serde_json::from_value(json!({
        "offer": "ORG", "usage": "AUTH_CLI", "cn": null, "sn": null, "gn": null, "title": null, "ou": "1",
        "o": "C", "st": "Paris (75)", "emails": [], "upn": null, "fqdns": [], "insi": "INSI-AUT", "out": "x.csr",
    }));
    assert!(bad.is_err(), "insi accepts only INSI-AUTO / INSI-MANU");
}

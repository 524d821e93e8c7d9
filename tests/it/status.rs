//! `trousseau status`: the one-screen summary reads the real sources — an NSS database with a certificate about to
//! expire, a SoftHSM2 token, a pending request in the vault (gnome-keyring) — and shows each of them.

use crate::support::{nss, softhsm::SoftHsm, Home};
use std::process::Command;

fn status(home: &Home, hsm: &SoftHsm, json: bool) -> std::process::Output {
    let mut cmd: Command = home.cli();
    hsm.env(&mut cmd);
    cmd.arg("status");
    if json {
        cmd.arg("--json");
    }
    cmd.output().expect("status runs")
}

#[test]
fn summary_shows_store_expiry_token_and_pending_request() {
    let home = Home::new();
    nss::create_db(&home.file("nssdb"));
    // A certificate that expires in 5 days, made by OpenSSL and added by certutil (second implementation).
    crate::support::openssl(
        home.path(),
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "soon.key",
            "-out",
            "soon.pem",
            "-days",
            "5",
            "-subj",
            "/C=LU/O=Trousseau Test/CN=Agent Expirant",
            "-addext",
            "basicConstraints=critical,CA:FALSE",
        ],
    );
    let out = Command::new("certutil")
        .args(["-A", "-n", "soon", "-t", ",,", "-i"])
        .arg(home.file("soon.pem"))
        .arg("-d")
        .arg(format!("sql:{}", home.file("nssdb").display()))
        .output()
        .expect("certutil");
    assert!(out.status.success(), "certutil -A: {}", String::from_utf8_lossy(&out.stderr));

    let hsm = SoftHsm::new();
    hsm.init_token("Jeton Statut");

    // A pending request (its key goes to the vault, whose key is in the keyring).
    let out = home
        .cli()
        .args(["csr", "new", "--subject", "CN=Demande Statut,O=Test,C=LU", "--out"])
        .arg(home.file("r.csr"))
        .output()
        .expect("csr new");
    assert!(out.status.success(), "csr new: {}", String::from_utf8_lossy(&out.stderr));

    let out = status(&home, &hsm, true);
    assert!(out.status.success(), "status --json: {}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("status JSON");
    assert_eq!(v["store_certificates"], 1, "{v:#}");
    let expiring = v["expiring"].as_array().expect("expiring");
    assert_eq!(expiring.len(), 1, "{v:#}");
    assert_eq!(expiring[0]["holder"], "Agent Expirant");
    let days = expiring[0]["days_left"].as_i64().expect("days_left");
    assert!((4..=5).contains(&days), "days_left {days}");
    let tokens = v["tokens"].as_array().expect("tokens");
    assert!(tokens.iter().any(|t| t["label"] == "Jeton Statut" && t["pin_state"] == "ok"), "{v:#}");
    assert_eq!(v["pending"].as_array().map(Vec::len), Some(1), "{v:#}");
    // The holder's name first, never the raw DN.
    assert_eq!(v["pending"][0]["label"], "Demande Statut — Demande de certificat", "{v:#}");
    assert_eq!(v["portal"]["paired"], false);
    assert_eq!(v["portal"]["connected"], false);

    // The same facts in French for a person.
    let out = status(&home, &hsm, false);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Agent Expirant") && text.contains("expire dans"), "{text}");
    assert!(text.contains("Jeton Statut"), "{text}");
    assert!(text.contains("Demandes en attente : 1"), "{text}");
    assert!(text.contains("non associé"), "{text}");
}

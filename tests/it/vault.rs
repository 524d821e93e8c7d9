//! The pending-key vault through the CLI, with the session's real gnome-keyring: entries survive restarts, damaged
//! or tampered entries are reported and never used, a vault key missing from the keyring is an error (never a
//! silent regeneration), concurrent first uses share one key, and a missing Secret Service is named clearly.

use crate::csr::{csr_new, csr_ok, pending, vault_entries};
use crate::support::{json_error_code, Home};
use serde_json::Value;

fn key_account(h: &Home) -> String {
    let kf = std::fs::read(h.file("home").join("data/vault/key.json")).expect("key.json");
    let v: Value = serde_json::from_slice(&kf).unwrap();
    v["account"].as_str().unwrap().to_string()
}

#[test]
fn entries_survive_restarts_with_their_metadata() {
    let h = Home::new();
    let a = csr_ok(&h, &["--subject", "CN=Un,C=LU"], &h.file("a.csr"));
    let b = csr_ok(
        &h,
        &[
            "--offer",
            "PS",
            "--usage",
            "SIGN",
            "--cn",
            "810001234567",
            "--sn",
            "Dupont",
            "--gn",
            "Jean",
            "--title",
            "Infirmier",
            "--email",
            "jean@x.fr",
        ],
        &h.file("b.csr"),
    );
    // Every listing is a fresh process that reopens the vault with the key from the keyring.
    for _ in 0..2 {
        let p = pending(&h);
        let ids: Vec<&Value> = p.iter().map(|e| &e["id"]).collect();
        assert_eq!(ids, [&a["id"], &b["id"]], "oldest first");
        assert!(p.iter().all(|e| e["status"] == "ok"));
        assert_eq!(p[1]["offer"], "PS");
        assert_eq!(p[1]["usage"], "SIGN");
        assert_eq!(p[1]["csr_path"].as_str(), h.file("b.csr").to_str());
    }
    // Lost CSR file: written again from the vault, identical.
    let original = std::fs::read_to_string(h.file("b.csr")).unwrap();
    let o =
        h.cli().args(["pending", "csr", b["id"].as_str().unwrap(), "--out"]).arg(h.file("again.csr")).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(std::fs::read_to_string(h.file("again.csr")).unwrap(), original);
    // Files and folder are private to the user.
    use std::os::unix::fs::PermissionsExt;
    let dir = h.file("home").join("data/vault");
    assert_eq!(std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777, 0o700);
    for e in vault_entries(&h) {
        assert_eq!(std::fs::metadata(&e).unwrap().permissions().mode() & 0o777, 0o600);
    }
}

#[test]
fn tampered_and_truncated_entries_are_reported_not_used() {
    let h = Home::new();
    csr_ok(&h, &["--subject", "CN=Good,C=LU"], &h.file("good.csr"));
    let t = csr_ok(&h, &["--subject", "CN=Tampered,C=LU"], &h.file("t.csr"));
    let c = csr_ok(&h, &["--subject", "CN=Cut,C=LU"], &h.file("c.csr"));
    let dir = h.file("home").join("data/vault");
    let tp = dir.join(format!("{}.pending", t["id"].as_str().unwrap()));
    let raw = std::fs::read_to_string(&tp).unwrap();
    // Tamper with the clear metadata (authenticated by the vault key).
    std::fs::write(&tp, raw.replace("CN=Tampered", "CN=Tampere_")).unwrap();
    let cp = dir.join(format!("{}.pending", c["id"].as_str().unwrap()));
    let raw = std::fs::read(&cp).unwrap();
    std::fs::write(&cp, &raw[..raw.len() / 3]).unwrap();

    let p = pending(&h);
    assert_eq!(p.len(), 3);
    let by_id = |id: &Value| p.iter().find(|e| &e["id"] == id).unwrap().clone();
    assert_eq!(by_id(&t["id"])["status"], "damaged");
    assert_eq!(by_id(&t["id"])["error"]["code"], "vault.damaged");
    assert_eq!(by_id(&c["id"])["status"], "damaged");
    assert!(by_id(&t["id"])["subject"].is_null(), "a damaged entry's content is not shown as if valid");
    assert_eq!(p.iter().filter(|e| e["status"] == "ok").count(), 1);
    // Its CSR cannot be re-exported either.
    let o = h
        .cli()
        .args(["pending", "csr", t["id"].as_str().unwrap(), "--json", "--out"])
        .arg(h.file("x.csr"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(json_error_code(&o), "vault.damaged");
    assert!(!h.file("x.csr").exists());
}

#[test]
fn missing_vault_key_is_an_error_never_a_regeneration() {
    let h = Home::new();
    csr_ok(&h, &["--subject", "CN=Waiting,C=LU"], &h.file("w.csr"));
    let account = key_account(&h);
    let key_json = std::fs::read(h.file("home").join("data/vault/key.json")).unwrap();
    // The user's keyring loses the vault key (this test runs in the same session keyring as the CLI).
    assert!(trousseau::secrets::delete(&account).expect("keyring reachable"), "the key was in the keyring");
    for args in [
        &["pending", "list", "--json"][..],
        &["csr", "new", "--subject", "CN=Next,C=LU", "--json", "--out", "n.csr"][..],
    ] {
        let o = h.cli().current_dir(h.path()).args(args).output().unwrap();
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        assert_eq!(json_error_code(&o), "vault.key_missing", "{args:?}");
        let msg = String::from_utf8_lossy(&o.stderr);
        assert!(msg.contains("1 clé(s) privée(s)"), "{msg}");
    }
    assert!(!h.file("n.csr").exists());
    assert!(trousseau::secrets::get(&account).unwrap().is_none(), "no new key was created");
    assert_eq!(std::fs::read(h.file("home").join("data/vault/key.json")).unwrap(), key_json, "key.json untouched");
    assert_eq!(vault_entries(&h).len(), 1, "the entry is kept");
}

#[test]
fn replaced_vault_key_is_detected() {
    let h = Home::new();
    csr_ok(&h, &["--subject", "CN=Waiting,C=LU"], &h.file("w.csr"));
    let account = key_account(&h);
    trousseau::secrets::set(&account, &[9u8; 32]).unwrap();
    let o = h.cli().args(["pending", "list", "--json"]).output().unwrap();
    assert_eq!(json_error_code(&o), "vault.key_mismatch");
    trousseau::secrets::delete(&account).unwrap();
}

#[test]
fn concurrent_first_uses_share_one_vault_key() {
    let h = Home::new();
    let children: Vec<_> = (0..4)
        .map(|i| {
            let mut c = h.cli();
            c.args(["csr", "new", "--json", "--subject", &format!("CN=Parallel {i},C=LU"), "--out"])
                .arg(h.file(&format!("p{i}.csr")))
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped());
            c.spawn().unwrap()
        })
        .collect();
    for c in children {
        let o = c.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let p = pending(&h);
    assert_eq!(p.len(), 4);
    assert!(p.iter().all(|e| e["status"] == "ok"), "every entry opens with the one key: {p:?}");
}

#[test]
fn no_secret_service_is_named_clearly_and_creates_nothing() {
    let h = Home::new();
    let out = h.file("r.csr");
    let o = {
        let mut c = h.cli();
        c.env("DBUS_SESSION_BUS_ADDRESS", format!("unix:path={}", h.file("no-bus").display()));
        c.args(["csr", "new", "--json", "--subject", "CN=A,C=LU", "--out"]).arg(&out);
        c.output().unwrap()
    };
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(json_error_code(&o), "secrets.unavailable");
    let msg = String::from_utf8_lossy(&o.stderr);
    assert!(msg.contains("Secret Service"), "{msg}");
    assert!(!msg.contains("panicked"));
    assert!(!out.exists());
    assert!(vault_entries(&h).is_empty());
    let o = csr_new(&h, &["--subject", "CN=A,C=LU"], &out);
    assert!(o.status.success(), "with the keyring back, it works: {}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn revocation_codes_round_trip_through_the_keyring() {
    use trousseau::secrets;
    let issuer = format!("CN=AC IGC-SANTE STANDARD PERSONNES,O=TEST {}", std::process::id());
    assert!(secrets::revocation_code(&issuer, "0a1b").unwrap().is_none());
    secrets::remember_revocation_code(&issuer, "0A1B", "Révocation-42!").unwrap();
    // Serial spelling (case, leading zeros) does not matter.
    assert_eq!(
        secrets::revocation_code(&issuer, "a1b").unwrap().as_deref().map(String::as_str),
        Some("Révocation-42!")
    );
    assert!(secrets::forget_revocation_code(&issuer, "0a1b").unwrap());
    assert!(secrets::revocation_code(&issuer, "a1b").unwrap().is_none());
}

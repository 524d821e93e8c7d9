//! `trousseau cert install`: end to end with a test CA made by OpenSSL — `csr new` → the CA signs the CSR →
//! PKCS#7 bag (PEM and DER, as `openssl crl2pkcs7` writes them) → `cert install` → OpenSSL reads our `.p12`
//! (modern and `-legacy`) and its key matches the certificate → the pending key is retired. Refusals keep the key.

use crate::csr::{csr_ok, pending};
use crate::support::pki::{sha256_of, KeyAlg, Pki};
use crate::support::{json_error_code, openssl, openssl_reads_p12, run_with_stdin, Home, P12Dump};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Output;

pub const PASSWORD: &str = "Kq7#vTz!mW2pLx9$rB";

/// The IGC-Santé-like test CA in `dir` (`ca.pem`, `ca.key`).
pub fn make_ca(dir: &Path) -> Pki {
    Pki::new(dir, "/C=FR/O=Test IGC/CN=AC TEST STANDARD PERSONNES", KeyAlg::Rsa2048, 30)
}

/// The CA in `dir` signs `csr` (keeping its SAN) into `NAME.pem`; returns that path.
pub fn sign(dir: &Path, csr: &Path, name: &str) -> PathBuf {
    let ext = format!("{name}.ext");
    std::fs::write(dir.join(&ext), "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n").unwrap();
    let out = format!("{name}.pem");
    let csr = csr.to_str().unwrap();
    Pki::at(dir).sign(csr, &out, 10, &["-set_serial", "0x4242", "-copy_extensions", "copy", "-extfile", &ext]);
    dir.join(out)
}

/// A PKCS#7 bag of `leaf` + the CA (`der`: binary), as IGC-Santé delivers uploaded-CSR certificates.
pub fn bag(dir: &Path, leaf: &Path, name: &str, der: bool) -> PathBuf {
    let out = dir.join(name);
    let mut args = vec![
        "crl2pkcs7",
        "-nocrl",
        "-certfile",
        leaf.to_str().unwrap(),
        "-certfile",
        "ca.pem",
        "-out",
        out.to_str().unwrap(),
    ];
    if der {
        args.extend(["-outform", "DER"]);
    }
    openssl(dir, &args);
    out
}

pub fn install(h: &Home, file: &Path, p12: &Path, password: &str, extra: &[&str]) -> Output {
    let mut c = h.cli();
    c.args(["cert", "install", "--json", "--password-stdin", "--p12-out"]).arg(p12).arg(file).args(extra);
    run_with_stdin(c, format!("{password}\n").as_bytes())
}

fn fingerprint(dir: &Path, pem: &Path) -> String {
    sha256_of(dir, pem.to_str().unwrap())
}

#[test]
fn pkcs7_pem_and_der_reunited_end_to_end() {
    let h = Home::new();
    let d = h.path();
    make_ca(d);
    let ps = [
        "--offer",
        "PS",
        "--usage",
        "SIGN",
        "--cn",
        "810001234567",
        "--sn",
        "Dupont",
        "--gn",
        "Jeanne",
        "--title",
        "Médecin",
        "--email",
        "jeanne@hopital.fr",
    ];
    let a = csr_ok(&h, &ps, &h.file("a.csr"));
    let b = csr_ok(&h, &["--subject", "CN=Agent B,O=Test,C=LU"], &h.file("b.csr"));
    assert_eq!(pending(&h).len(), 2);

    // PEM bag → modern .p12.
    let leaf_a = sign(d, &h.file("a.csr"), "a");
    let bag_a = bag(d, &leaf_a, "a.p7b", false);
    let o = install(&h, &bag_a, &h.file("a.p12"), PASSWORD, &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let j: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["id"], a["id"]);
    assert_eq!(j["sha256"], fingerprint(d, &leaf_a).as_str());
    assert_eq!(j["chain"], 2);
    assert_eq!(j["retired"], true);
    let P12Dump { info, key_modulus, cert_modulus, pem } = openssl_reads_p12(d, &h.file("a.p12"), PASSWORD, false);
    assert_eq!(key_modulus, cert_modulus, "the key in the .p12 is the certificate's");
    assert_eq!(pem.matches("BEGIN CERTIFICATE").count(), 2, "leaf and CA in the .p12");
    assert!(info.contains("AES-256-CBC") && info.contains("MAC: sha256"), "modern encryption: {info}");
    let left = pending(&h);
    assert_eq!(left.len(), 1, "request a retired, b still waits");
    assert_eq!(left[0]["id"], b["id"]);

    // DER bag → legacy .p12 for old importers.
    let leaf_b = sign(d, &h.file("b.csr"), "b");
    let bag_b = bag(d, &leaf_b, "b.p7c", true);
    assert_ne!(std::fs::read(&bag_b).unwrap()[0], b'-', "DER bag");
    let o = install(&h, &bag_b, &h.file("b.p12"), PASSWORD, &["--legacy"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let P12Dump { info, key_modulus, cert_modulus, pem } = openssl_reads_p12(d, &h.file("b.p12"), PASSWORD, true);
    assert_eq!(key_modulus, cert_modulus);
    assert_eq!(pem.matches("BEGIN CERTIFICATE").count(), 2, "leaf and CA in the .p12");
    assert!(info.contains("3DES") || info.contains("TripleDES"), "legacy encryption: {info}");
    assert!(info.contains("MAC: sha1"), "legacy MAC: {info}");
    assert!(pending(&h).is_empty(), "every pending key was reunited");
}

#[test]
fn plain_der_certificate_without_chain() {
    let h = Home::new();
    let d = h.path();
    make_ca(d);
    csr_ok(&h, &["--subject", "CN=Solo,C=LU"], &h.file("s.csr"));
    let leaf = sign(d, &h.file("s.csr"), "s");
    openssl(d, &["x509", "-in", leaf.to_str().unwrap(), "-outform", "DER", "-out", "s.der"]);
    let o = install(&h, &h.file("s.der"), &h.file("s.p12"), PASSWORD, &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let j: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["chain"], 1);
    let pass = format!("pass:{PASSWORD}");
    openssl(d, &["pkcs12", "-in", "s.p12", "-passin", &pass, "-nodes", "-out", "s.dump"]);
    assert!(pending(&h).is_empty());
}

#[test]
fn certificate_of_another_key_names_what_was_compared() {
    let h = Home::new();
    let d = h.path();
    make_ca(d);
    let p = csr_ok(&h, &["--subject", "CN=Waiting,C=LU"], &h.file("w.csr"));
    // A certificate for a key made by OpenSSL, not by us.
    openssl(
        d,
        &["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "o.key", "-out", "o.csr", "-subj", "/C=LU/CN=Stranger"],
    );
    let other = sign(d, &h.file("o.csr"), "o");
    let o = install(&h, &other, &h.file("o.p12"), PASSWORD, &[]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(json_error_code(&o), "install.no_matching_key");
    let msg = String::from_utf8_lossy(&o.stderr);
    assert!(msg.contains("CN=Stranger,C=LU"), "names the certificate: {msg}");
    assert!(msg.contains(&fingerprint(d, &other)[..16]), "gives its fingerprint: {msg}");
    assert!(
        msg.contains(p["id"].as_str().unwrap()) && msg.contains("CN=Waiting,C=LU"),
        "names the pending requests: {msg}"
    );
    assert!(!h.file("o.p12").exists());
    assert_eq!(pending(&h).len(), 1);
}

#[test]
fn weak_password_or_existing_file_keeps_the_pending_key() {
    let h = Home::new();
    let d = h.path();
    make_ca(d);
    csr_ok(&h, &["--subject", "CN=Careful,C=LU"], &h.file("c.csr"));
    let leaf = sign(d, &h.file("c.csr"), "c");
    for (pw, code) in
        [("court", "password.policy"), ("motdepasse12", "password.policy"), ("Password123!", "password.too_weak")]
    {
        let o = install(&h, &leaf, &h.file("c.p12"), pw, &[]);
        assert_eq!(o.status.code(), Some(1), "{pw}");
        assert_eq!(json_error_code(&o), code, "{pw}: {}", String::from_utf8_lossy(&o.stderr));
        assert!(!h.file("c.p12").exists());
    }
    let o = install(&h, &leaf, &h.file("c.p12"), "court", &[]);
    let msg = String::from_utf8_lossy(&o.stderr);
    assert!(msg.contains("au moins 12 caractères") && msg.contains("majuscule"), "lists the unmet rules: {msg}");
    // An unrelated file at the destination is never overwritten.
    std::fs::write(h.file("taken.p12"), b"not mine to replace").unwrap();
    let o = install(&h, &leaf, &h.file("taken.p12"), PASSWORD, &[]);
    assert_eq!(json_error_code(&o), "install.output_exists");
    assert_eq!(std::fs::read(h.file("taken.p12")).unwrap(), b"not mine to replace");
    // No destination at all.
    let o = {
        let mut c = h.cli();
        c.args(["cert", "install", "--json", "--password-stdin"]).arg(&leaf);
        run_with_stdin(c, PASSWORD.as_bytes())
    };
    assert_eq!(json_error_code(&o), "install.no_destination");
    assert_eq!(pending(&h).len(), 1, "the key still waits");
    // And then it works.
    let o = install(&h, &leaf, &h.file("c.p12"), PASSWORD, &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(pending(&h).is_empty());
}

#[test]
fn tampered_pending_key_is_never_used() {
    let h = Home::new();
    let d = h.path();
    make_ca(d);
    let p = csr_ok(&h, &["--subject", "CN=Tampered,C=LU"], &h.file("t.csr"));
    let leaf = sign(d, &h.file("t.csr"), "t");
    let entry = h.file("home").join(format!("data/vault/{}.pending", p["id"].as_str().unwrap()));
    let mut v: Value = serde_json::from_slice(&std::fs::read(&entry).unwrap()).unwrap();
    // Flip one character of the encrypted key.
    let ct = v["ciphertext"].as_str().unwrap().to_string();
    let flipped = match ct.strip_prefix('A') {
        Some(rest) => format!("B{rest}"),
        None => format!("A{}", &ct[1..]),
    };
    v["ciphertext"] = Value::String(flipped);
    std::fs::write(&entry, serde_json::to_vec(&v).unwrap()).unwrap();
    let o = install(&h, &leaf, &h.file("t.p12"), PASSWORD, &[]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(json_error_code(&o), "install.no_matching_key");
    assert!(String::from_utf8_lossy(&o.stderr).contains("endommagée"), "mentions the damaged request");
    assert!(!h.file("t.p12").exists());
    assert!(entry.exists(), "the damaged entry is kept for support");
}

/// The revocation code given at withdrawal (issue 14, part 4): kept in the real keyring at install, shown back by
/// `cert revocation-code` (fingerprint or file), then kept or forgotten with the certificate's removal as asked.
#[test]
fn the_revocation_code_is_kept_at_install_and_follows_the_removal_choice() {
    let h = Home::new();
    let d = h.path();
    crate::support::nss::create_db(&h.file("nssdb"));
    make_ca(d);
    // a per-test serial so that the shared session keyring holds nothing from another test
    let code = format!("RC-{}-Ab#", std::process::id());
    for (name, forget) in [("garde", false), ("oublie", true)] {
        let csr = h.file(&format!("{name}.csr"));
        csr_ok(&h, &["--subject", &format!("CN=Code {name} {},C=FR", std::process::id())], &csr);
        let leaf = sign(d, &csr, name);
        let mut c = h.cli();
        c.env("RCODE", &code)
            .args(["cert", "install", "--json", "--password-stdin", "--into-store", "--revocation-code-env", "RCODE"])
            .arg("--p12-out")
            .arg(h.file(&format!("{name}.p12")))
            .arg(&leaf);
        let o = run_with_stdin(c, format!("{PASSWORD}\n").as_bytes());
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let j: Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(j["revocation_code_kept"], true, "{j}");
        let sha = fingerprint(d, &leaf);
        let mut c = h.cli();
        c.args(["cert", "revocation-code", "--json", "--yes", &sha]);
        let shown = c.output().unwrap();
        assert!(shown.status.success(), "{}", String::from_utf8_lossy(&shown.stderr));
        let v: Value = serde_json::from_slice(&shown.stdout).unwrap();
        assert_eq!(v["revocation_code"], code.as_str());
        // the same from the certificate file; without --yes and without a terminal: not shown
        let mut c = h.cli();
        c.args(["cert", "revocation-code", "--json"]).arg(&leaf);
        assert_eq!(json_error_code(&c.output().unwrap()), "cert.not_confirmed");
        // removal: kept unless asked
        let mut c = h.cli();
        c.args(["store", "remove", "--json", &sha]);
        if forget {
            c.arg("--forget-revocation-code");
        }
        let removed: Value = serde_json::from_slice(&c.output().unwrap().stdout).unwrap();
        assert_eq!(removed["revocation_code"], if forget { "forgotten" } else { "kept" });
        let mut c = h.cli();
        c.args(["cert", "revocation-code", "--json", "--yes"]).arg(&leaf);
        let after = c.output().unwrap();
        if forget {
            assert_eq!(json_error_code(&after), "cert.no_revocation_code");
        } else {
            let v: Value = serde_json::from_slice(&after.stdout).unwrap();
            assert_eq!(v["revocation_code"], code.as_str(), "kept after the removal");
            let mut c = h.cli();
            c.args(["cert", "revocation-code", "--json", "--forget"]).arg(&leaf);
            assert!(c.output().unwrap().status.success());
        }
    }
}

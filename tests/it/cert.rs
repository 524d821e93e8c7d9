//! `trousseau cert inspect` and the `cert` module against OpenSSL: every certificate OpenSSL makes is read with
//! OpenSSL's fingerprints, serial, subject and dates; every kind of bad input is refused with its own code.

use crate::support::pki::{self, KeyAlg};
use crate::support::{json_error_code, openssl, openssl_pw, Home};
use serde_json::Value;
use std::path::Path;
use std::process::Command;

/// A test PKI made by OpenSSL: a CA and leaves signed by it, in a home for the CLI.
struct Pki {
    home: Home,
    ca: pki::Pki,
}

impl Pki {
    fn new() -> Pki {
        let home = Home::new();
        let ca = pki::Pki::new(home.path(), "/C=LU/O=Test Org/CN=Test CA", KeyAlg::Rsa2048, 30);
        Pki { home, ca }
    }

    fn dir(&self) -> &Path {
        self.home.path()
    }

    /// Issues `NAME.pem` (key `NAME.key`) with the given subject, extensions and key algorithm arguments.
    fn leaf(&self, name: &str, subj: &str, ext: &str, newkey: &[&str]) {
        self.ca.issue(name, subj, newkey, ext, Some("0x00c0ffee01"), 30);
    }

    fn inspect(&self, file: &str) -> Vec<Value> {
        let out = self.home.cli().args(["--json", "cert", "inspect"]).arg(self.dir().join(file)).output().unwrap();
        assert!(out.status.success(), "cert inspect {file} failed: {}", String::from_utf8_lossy(&out.stderr));
        let v: Value = serde_json::from_slice(&out.stdout).expect("JSON array");
        v.as_array().expect("array").clone()
    }

    fn refuse(&self, file: &str) -> String {
        let out = self.home.cli().args(["--json", "cert", "inspect"]).arg(self.dir().join(file)).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{file} must be refused with exit 1: {stderr}");
        assert!(!stderr.contains("panicked"), "{file}: panic: {stderr}");
        json_error_code(&out)
    }
}

/// OpenSSL's view of a PEM certificate: (sha256, sha1, serial, subject RFC 2253, issuer RFC 2253), lowercase hex.
fn openssl_view(dir: &Path, pem: &str) -> (String, String, String, String, String) {
    let field = |args: &[&str]| {
        let mut all = vec!["x509", "-in", pem, "-noout", "-nameopt", "RFC2253"];
        all.extend_from_slice(args);
        let out = String::from_utf8(openssl(dir, &all).stdout).unwrap();
        out.trim().split_once('=').map(|(_, v)| v.to_string()).unwrap_or_default()
    };
    let hex = |s: String| s.replace(':', "").to_lowercase();
    (
        hex(field(&["-fingerprint", "-sha256"])),
        hex(field(&["-fingerprint", "-sha1"])),
        field(&["-serial"]).to_lowercase(),
        field(&["-subject"]),
        field(&["-issuer"]),
    )
}

fn assert_same_as_openssl(dir: &Path, pem: &str, ours: &Value) {
    let (sha256, sha1, serial, subject, issuer) = openssl_view(dir, pem);
    assert_eq!(ours["sha256"], sha256.as_str(), "{pem}: sha256");
    assert_eq!(ours["sha1"], sha1.as_str(), "{pem}: sha1");
    assert_eq!(
        ours["serial"].as_str().unwrap().trim_start_matches('0'),
        serial.trim_start_matches('0'),
        "{pem}: serial"
    );
    assert_eq!(ours["subject"], subject.as_str(), "{pem}: subject");
    assert_eq!(ours["issuer"], issuer.as_str(), "{pem}: issuer");
}

const AGENT_EXT: &str = "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n\
extendedKeyUsage=clientAuth,emailProtection,1.2.3.4.5\n\
subjectAltName=email:agent@example.lu,DNS:portal.example.lu,URI:https://example.lu/a,IP:192.0.2.7,IP:2001:db8::1,\
otherName:1.3.6.1.4.1.311.20.2.3;UTF8:agent@upn.example.lu\n";

#[test]
fn pem_der_old_labels_and_trailing_bytes_match_openssl() {
    let pki = Pki::new();
    let dir = pki.dir();
    pki.leaf("agent", "/C=LU/O=Test Org/OU=Achats/CN=Agent Dupont", AGENT_EXT, &["-newkey", "rsa:2048"]);
    openssl(dir, &["x509", "-in", "agent.pem", "-outform", "DER", "-out", "agent.der"]);
    // DER followed by junk, as some exporters leave it: OpenSSL reads the certificate and ignores the rest.
    let mut der = std::fs::read(dir.join("agent.der")).unwrap();
    der.extend_from_slice(b"\x00\x00trailing garbage");
    std::fs::write(dir.join("agent-trailing.der"), &der).unwrap();
    // Old PEM labels.
    let pem = std::fs::read_to_string(dir.join("agent.pem")).unwrap();
    std::fs::write(
        dir.join("agent-x509.pem"),
        pem.replace("BEGIN CERTIFICATE", "BEGIN X509 CERTIFICATE").replace("END CERTIFICATE", "END X509 CERTIFICATE"),
    )
    .unwrap();
    openssl(dir, &["x509", "-in", "agent.pem", "-trustout", "-addtrust", "clientAuth", "-out", "agent-trusted.pem"]);
    assert!(std::fs::read_to_string(dir.join("agent-trusted.pem")).unwrap().contains("TRUSTED CERTIFICATE"));
    // Text around the PEM block (openssl x509 -text output).
    openssl(dir, &["x509", "-in", "agent.pem", "-text", "-out", "agent-text.pem"]);

    for file in
        ["agent.pem", "agent.der", "agent-trailing.der", "agent-x509.pem", "agent-trusted.pem", "agent-text.pem"]
    {
        let certs = pki.inspect(file);
        assert_eq!(certs.len(), 1, "{file}");
        let c = &certs[0];
        assert_same_as_openssl(dir, "agent.pem", c);
        assert_eq!(c["subject"], "CN=Agent Dupont,OU=Achats,O=Test Org,C=LU", "{file}");
        assert_eq!(c["serial"], "c0ffee01");
        assert_eq!(c["key_usage"], serde_json::json!(["digitalSignature", "keyEncipherment"]));
        assert_eq!(c["ext_key_usage"], serde_json::json!(["clientAuth", "emailProtection", "1.2.3.4.5"]));
        assert_eq!(
            c["san"],
            serde_json::json!([
                {"type": "email", "value": "agent@example.lu"},
                {"type": "dns", "value": "portal.example.lu"},
                {"type": "uri", "value": "https://example.lu/a"},
                {"type": "ip", "value": "192.0.2.7"},
                {"type": "ip", "value": "2001:db8::1"},
                {"type": "upn", "value": "agent@upn.example.lu"},
            ])
        );
        assert_eq!(c["encryption_capable"], true);
        assert_eq!(c["key"]["algorithm"], "rsa");
        assert_eq!(c["key"]["bits"], 2048);
        assert_eq!(c["subject_cn"], "Agent Dupont");
        assert_eq!(c["issuer_cn"], "Test CA");
        assert_eq!(c["is_ca"], false);
        assert!(c["not_before"].as_str().unwrap().ends_with('Z'));
    }
}

#[test]
fn dates_match_openssl() {
    let pki = Pki::new();
    let out = String::from_utf8(openssl(pki.dir(), &["x509", "-in", "ca.pem", "-noout", "-enddate", "-dates"]).stdout)
        .unwrap();
    let not_after = out.lines().find_map(|l| l.strip_prefix("notAfter=")).unwrap().to_string();
    let ours = &pki.inspect("ca.pem")[0];
    // "Dec 23 09:42:01 2026 GMT" → "2026-12-23T09:42:01Z"
    let parsed = time::PrimitiveDateTime::parse(
        not_after.trim_end_matches(" GMT"),
        time::macros::format_description!("[month repr:short] [day padding:space] [hour]:[minute]:[second] [year]"),
    )
    .unwrap();
    assert_eq!(ours["not_after"], trousseau::cert::rfc3339_z::format(&parsed.assume_utc()));
    assert_eq!(ours["is_ca"], true);
}

#[test]
fn bundle_and_pkcs7_bags_der_and_pem() {
    let pki = Pki::new();
    let dir = pki.dir();
    pki.leaf("a", "/C=LU/CN=Leaf A", "keyUsage=digitalSignature\n", &["-newkey", "rsa:2048"]);
    let bundle =
        [std::fs::read_to_string(dir.join("a.pem")).unwrap(), std::fs::read_to_string(dir.join("ca.pem")).unwrap()]
            .concat();
    // A private key in the same file is ignored.
    let with_key = [bundle.clone(), std::fs::read_to_string(dir.join("a.key")).unwrap()].concat();
    std::fs::write(dir.join("bundle.pem"), &with_key).unwrap();
    openssl(dir, &["crl2pkcs7", "-nocrl", "-certfile", "bundle.pem", "-outform", "DER", "-out", "bag.p7b"]);
    openssl(dir, &["crl2pkcs7", "-nocrl", "-certfile", "bundle.pem", "-out", "bag.p7c"]);
    for file in ["bundle.pem", "bag.p7b", "bag.p7c"] {
        let certs = pki.inspect(file);
        assert_eq!(certs.len(), 2, "{file}");
        assert_same_as_openssl(dir, "a.pem", &certs[0]);
        assert_same_as_openssl(dir, "ca.pem", &certs[1]);
    }
}

#[test]
fn pkcs7_with_indefinite_lengths() {
    // `openssl cms -sign -stream` writes BER with indefinite lengths, as Windows and OpenSSL do for .p7b/.p7m.
    let pki = Pki::new();
    let dir = pki.dir();
    pki.leaf("s", "/C=FR/O=Clinique/CN=Signataire", "keyUsage=digitalSignature\n", &["-newkey", "rsa:2048"]);
    std::fs::write(dir.join("msg"), b"hello").unwrap();
    openssl(
        dir,
        &[
            "cms",
            "-sign",
            "-stream",
            "-nodetach",
            "-binary",
            "-in",
            "msg",
            "-signer",
            "s.pem",
            "-inkey",
            "s.key",
            "-certfile",
            "ca.pem",
            "-outform",
            "DER",
            "-out",
            "signed.p7m",
        ],
    );
    let bytes = std::fs::read(dir.join("signed.p7m")).unwrap();
    assert_eq!(&bytes[..2], &[0x30, 0x80], "OpenSSL must have written an indefinite length");
    let certs = pki.inspect("signed.p7m");
    let ours: Vec<&str> = certs.iter().map(|c| c["sha256"].as_str().unwrap()).collect();
    for pem in ["s.pem", "ca.pem"] {
        let (sha256, ..) = openssl_view(dir, pem);
        assert!(ours.contains(&sha256.as_str()), "{pem} missing from the BER bag");
    }
    assert_eq!(certs.len(), 2);

    // The committed fixture (same shape, regenerated by tests/fixtures/regenerate.sh).
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let certs = trousseau::cert::read_file(&fixtures.join("signed-ber.p7m")).unwrap();
    let mut ours: Vec<String> = certs.iter().map(|c| c.sha256.clone()).collect();
    let mut theirs: Vec<String> =
        ["fixture-leaf.pem", "fixture-ca.pem"].iter().map(|p| openssl_view(&fixtures, p).0).collect();
    ours.sort();
    theirs.sort();
    assert_eq!(ours, theirs);
}

#[test]
fn encryption_capable_follows_key_usage() {
    let pki = Pki::new();
    // LuxTrust's combined usage: signature and encryption on one key.
    pki.leaf(
        "lux",
        "/C=LU/O=LuxTrust S.A./CN=Jean Dupont",
        "keyUsage=critical,digitalSignature,nonRepudiation,keyEncipherment,dataEncipherment\n",
        &["-newkey", "rsa:2048"],
    );
    pki.leaf("sig", "/C=LU/CN=Signature Only", "keyUsage=critical,nonRepudiation\n", &["-newkey", "rsa:2048"]);
    pki.leaf("noku", "/C=LU/CN=No Key Usage", "basicConstraints=CA:FALSE\n", &["-newkey", "rsa:2048"]);
    pki.leaf(
        "ec",
        "/C=LU/CN=EC Agent",
        "keyUsage=digitalSignature,keyAgreement\n",
        &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384"],
    );
    let lux = &pki.inspect("lux.pem")[0];
    assert_eq!(lux["encryption_capable"], true);
    assert_eq!(
        lux["key_usage"],
        serde_json::json!(["digitalSignature", "nonRepudiation", "keyEncipherment", "dataEncipherment"])
    );
    assert_eq!(pki.inspect("sig.pem")[0]["encryption_capable"], false);
    assert_eq!(pki.inspect("noku.pem")[0]["encryption_capable"], true);
    let ec = &pki.inspect("ec.pem")[0];
    assert_eq!(ec["encryption_capable"], false);
    assert_eq!(ec["key"], serde_json::json!({"algorithm": "ec", "bits": 384}));
    assert_same_as_openssl(pki.dir(), "ec.pem", ec);
}

#[test]
fn subject_escaping_matches_openssl_rfc2253() {
    let pki = Pki::new();
    let dir = pki.dir();
    // Special characters, a leading '#', a trailing space, non-ASCII text and a multi-valued RDN.
    openssl(
        dir,
        &[
            "req",
            "-new",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "esc.key",
            "-out",
            "esc.csr",
            "-utf8",
            "-multivalue-rdn",
            "-subj",
            "/C=LU/O=Dupont, Martin & Fils/OU=R\\+D;Lab/CN=#1 Agent <test> /emailAddress=a@b.lu/CN=Zoé Müller+UID=x1",
        ],
    );
    pki.ca.sign("esc.csr", "esc.pem", 3, &[]);
    let c = &pki.inspect("esc.pem")[0];
    assert_same_as_openssl(dir, "esc.pem", c);
    assert_eq!(
        c["subject"],
        "CN=Zo\\C3\\A9 M\\C3\\BCller+UID=x1,emailAddress=a@b.lu,CN=\\#1 Agent \\<test\\>\\ ,OU=R\\+D\\;Lab,O=Dupont\\, Martin & Fils,C=LU"
    );
    // The display name is text, not an escaped string.
    assert_eq!(c["subject_cn"], "Zoé Müller");
    assert_eq!(trousseau::asn1::rfc4514::unescape_utf8("CN=Zo\\C3\\A9\\, X"), "CN=Zoé\\, X");
}

#[test]
fn human_output_is_french_first() {
    let pki = Pki::new();
    pki.leaf(
        "h",
        "/C=LU/O=Test Org/CN=Marie Schmit",
        "keyUsage=digitalSignature,keyEncipherment\n",
        &["-newkey", "rsa:2048"],
    );
    let out = pki.home.cli().args(["cert", "inspect"]).arg(pki.dir().join("h.pem")).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("Marie Schmit — émis par Test CA"), "{text}");
    assert!(text.contains("expire dans 29 jours") || text.contains("expire dans 30 jours"), "{text}");
    assert!(text.contains("chiffrement de clé"), "{text}");
    let out = pki
        .home
        .cli()
        .env("TROUSSEAU_LANG", "en")
        .args(["cert", "inspect"])
        .arg(pki.dir().join("h.pem"))
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("issued by Test CA"));
}

#[test]
fn bad_input_is_refused_with_its_own_code() {
    let pki = Pki::new();
    let dir = pki.dir();
    std::fs::write(dir.join("empty.pem"), b"").unwrap();
    std::fs::write(
        dir.join("random.bin"),
        (0..4096u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect::<Vec<_>>(),
    )
    .unwrap();
    std::fs::write(dir.join("text.txt"), b"Bonjour, ceci n'est pas un certificat.\n").unwrap();
    openssl(dir, &["x509", "-in", "ca.pem", "-outform", "DER", "-out", "ca.der"]);
    let der = std::fs::read(dir.join("ca.der")).unwrap();
    std::fs::write(dir.join("truncated.der"), &der[..der.len() / 2]).unwrap();
    let pem = std::fs::read_to_string(dir.join("ca.pem")).unwrap();
    std::fs::write(dir.join("truncated.pem"), &pem[..200]).unwrap();
    let mut cut_body = pem.lines().collect::<Vec<_>>();
    cut_body.drain(3..10);
    std::fs::write(dir.join("cut.pem"), cut_body.join("\n")).unwrap();
    let mut flipped = der.clone();
    flipped[3] ^= 0x01; // the outer length no longer matches the content
    std::fs::write(dir.join("flipped.der"), &flipped).unwrap();

    assert_eq!(pki.refuse("empty.pem"), "cert.empty");
    assert_eq!(pki.refuse("random.bin"), "cert.not_certificate");
    assert_eq!(pki.refuse("text.txt"), "cert.not_certificate");
    assert_eq!(pki.refuse("ca.key"), "cert.not_certificate");
    assert_eq!(pki.refuse("truncated.der"), "cert.malformed");
    assert_eq!(pki.refuse("truncated.pem"), "cert.malformed");
    assert_eq!(pki.refuse("cut.pem"), "cert.malformed");
    assert_eq!(pki.refuse("flipped.der"), "cert.malformed");
    assert_eq!(pki.refuse("does-not-exist.pem"), "cert.io");
    openssl(dir, &["crl2pkcs7", "-nocrl", "-outform", "DER", "-out", "empty-bag.p7b"]);
    assert_eq!(pki.refuse("empty-bag.p7b"), "cert.pkcs7_empty");
    // Unpadded base64, which OpenSSL's PEM reader accepts.
    std::fs::write(dir.join("nopad.pem"), pem.replace('=', "")).unwrap();
    assert_eq!(pki.inspect("nopad.pem")[0]["sha256"], openssl_view(dir, "ca.pem").0.as_str());
    // A .p12 given where a certificate is expected is named as such.
    openssl_pw(
        dir,
        &["pkcs12", "-export", "-nokeys", "-in", "ca.pem", "-out", "ca.p12", "-passout", "env:P12PW"],
        "Pw-123456789!",
    );
    assert_eq!(pki.refuse("ca.p12"), "cert.is_pkcs12");
    // A usage error (missing argument) is exit 2.
    let out = pki.home.cli().args(["cert", "inspect"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn library_helpers() {
    let pki = Pki::new();
    let certs = trousseau::cert::read_file(&pki.dir().join("ca.pem")).unwrap();
    let c = &certs[0];
    assert_eq!(c.display_name(), "Test CA");
    assert!((28..=30).contains(&c.days_until_expiry(time::OffsetDateTime::now_utc())));
    // to_pem round-trips.
    let again = trousseau::cert::read_certificates(c.to_pem().as_bytes()).unwrap();
    assert_eq!(again[0].sha256, c.sha256);
    assert!(c.matches_spki(&again[0].spki_der));
}

#[test]
fn system_ca_certificates_match_openssl() {
    // Real-world certificates from many CAs (Debian's ca-certificates): fingerprints and RFC 2253 subjects must be
    // exactly OpenSSL's, for each file and for the whole bundle.
    let dir = Path::new("/usr/share/ca-certificates/mozilla");
    let Ok(entries) = std::fs::read_dir(dir) else {
        eprintln!("SKIP: {} not present (package ca-certificates)", dir.display());
        return;
    };
    let mut files: Vec<_> =
        entries.map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == "crt")).collect();
    files.sort();
    assert!(files.len() > 50);
    let mut bundle = Vec::new();
    for path in &files {
        let out = Command::new("openssl")
            .args(["x509", "-noout", "-fingerprint", "-sha256", "-subject", "-nameopt", "RFC2253", "-in"])
            .arg(path)
            .output()
            .unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        let mut lines = text.lines();
        let sha256 = lines.next().unwrap().split_once('=').unwrap().1.replace(':', "").to_lowercase();
        let subject = lines.next().unwrap().strip_prefix("subject=").unwrap().to_string();
        let ours = trousseau::cert::read_file(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(ours.len(), 1);
        assert_eq!(ours[0].sha256, sha256, "{}", path.display());
        assert_eq!(ours[0].subject, subject, "{}", path.display());
        assert!(ours[0].is_ca, "{}", path.display());
        bundle.push(sha256);
    }
    let joined: Vec<u8> = files.iter().flat_map(|p| std::fs::read(p).unwrap()).collect();
    let all = trousseau::cert::read_certificates(&joined).unwrap();
    assert_eq!(all.iter().map(|c| c.sha256.clone()).collect::<Vec<_>>(), bundle);
}

/// OpenSSL's `notBefore=`/`notAfter=` text → RFC 3339 (fractions of a second dropped, as we print them).
fn openssl_date(text: &str) -> String {
    let mut t = text.trim().trim_end_matches(" GMT").to_string();
    if let Some(dot) = t.find('.') {
        let end = t[dot..].find(' ').map(|i| dot + i).unwrap_or(t.len());
        t.replace_range(dot..end, "");
    }
    let parsed = time::PrimitiveDateTime::parse(
        &t,
        time::macros::format_description!("[month repr:short] [day padding:space] [hour]:[minute]:[second] [year]"),
    )
    .unwrap_or_else(|e| panic!("{text}: {e}"));
    trousseau::cert::rfc3339_z::format(&parsed.assume_utc())
}

#[test]
fn odd_certificates_read_like_openssl() {
    // tests/fixtures/odd/: encodings met in old or careless CAs' certificates, and some OpenSSL refuses
    // (see tests/fixtures/odd-certs.py): we read what OpenSSL reads, as OpenSSL reads it, and refuse the rest.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/odd");
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    assert!(files.len() >= 50);
    let (mut read, mut refused) = (0, 0);
    for path in files {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let out = Command::new("openssl")
            .args(["x509", "-inform", "DER", "-noout", "-fingerprint", "-sha256", "-serial", "-subject"])
            .args(["-nameopt", "RFC2253", "-startdate", "-enddate", "-in"])
            .arg(&path)
            .output()
            .unwrap();
        if !out.status.success() {
            // OpenSSL refuses it: so must we, cleanly.
            let err = trousseau::cert::read_file(&path).expect_err(&name);
            assert_eq!(trousseau::Coded::code(&err), "cert.malformed", "{name}");
            refused += 1;
            continue;
        }
        read += 1;
        // OpenSSL wraps long serials with a trailing backslash.
        let text = String::from_utf8(out.stdout).unwrap().replace("\\\n", "");
        let field = |key: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(key))
                .unwrap_or_else(|| panic!("{name}: no {key} in {text}"))
                .to_string()
        };
        let ours = trousseau::cert::read_file(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(ours.len(), 1, "{name}");
        let c = &ours[0];
        assert_eq!(c.sha256, field("sha256 Fingerprint=").replace(':', "").to_lowercase(), "{name}");
        assert_eq!(c.serial, field("serial=").to_lowercase(), "{name}");
        assert_eq!(c.subject, field("subject="), "{name}");
        assert_eq!(trousseau::cert::rfc3339_z::format(&c.not_before), openssl_date(&field("notBefore=")), "{name}");
        assert_eq!(trousseau::cert::rfc3339_z::format(&c.not_after), openssl_date(&field("notAfter=")), "{name}");
        if name == "garbage_key_usage.der" {
            // A key usage we cannot decode still restricts the key: never offered as an encryption bi-clé.
            assert!(!c.encryption_capable, "{name}");
        }
    }
    assert!(read >= 30 && refused >= 15, "read {read}, refused {refused}");
}

//! `trousseau csr`: every request is re-read by OpenSSL (signature, key size, algorithm, subject, SANs); every
//! refused IGC-Santé combination creates no file and no vault entry. Needs the session keyring
//! (scripts/in-session.sh).

use crate::support::{json_error_code, openssl, Home};
use serde_json::Value;
use std::path::Path;
use std::process::Output;

/// Runs `trousseau csr new ARGS --out OUT --json` in `home`.
pub fn csr_new(home: &Home, args: &[&str], out: &Path) -> Output {
    let mut c = home.cli();
    c.args(["csr", "new"]).args(args).arg("--out").arg(out).arg("--json");
    c.output().expect("trousseau runs")
}

/// `csr new` that must succeed; returns its JSON.
pub fn csr_ok(home: &Home, args: &[&str], out: &Path) -> Value {
    let o = csr_new(home, args, out);
    assert!(o.status.success(), "csr new {args:?} failed: {}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).expect("JSON output")
}

/// The vault's entry files.
pub fn vault_entries(home: &Home) -> Vec<std::path::PathBuf> {
    let dir = home.file("home").join("data").join("vault");
    let Ok(rd) = std::fs::read_dir(dir) else { return Vec::new() };
    rd.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|e| e == "pending")).collect()
}

/// `pending list --json` (must succeed).
pub fn pending(home: &Home) -> Vec<Value> {
    let o = home.cli().args(["pending", "list", "--json"]).output().expect("runs");
    assert!(o.status.success(), "pending list failed: {}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice::<Value>(&o.stdout).expect("JSON").as_array().expect("array").clone()
}

/// OpenSSL's view of a CSR: verified self-signature, text, RFC 2253 subject (UTF-8 kept), asn1parse dump.
pub struct OpensslCsr {
    pub text: String,
    pub subject: String,
    pub asn1: String,
}

pub fn openssl_csr(dir: &Path, csr: &Path) -> OpensslCsr {
    let csr = csr.to_str().unwrap();
    let v = openssl(dir, &["req", "-in", csr, "-verify", "-noout"]);
    let all = format!("{}{}", String::from_utf8_lossy(&v.stdout), String::from_utf8_lossy(&v.stderr));
    assert!(all.contains("verify OK"), "openssl does not verify the CSR: {all}");
    let text = String::from_utf8_lossy(&openssl(dir, &["req", "-in", csr, "-noout", "-text"]).stdout).into_owned();
    assert!(text.contains("Public-Key: (2048 bit)"), "not RSA-2048:\n{text}");
    assert!(text.contains("rsaEncryption"), "not RSA:\n{text}");
    assert!(text.contains("Signature Algorithm: sha256WithRSAEncryption"), "not sha256WithRSA:\n{text}");
    let s = openssl(dir, &["req", "-in", csr, "-noout", "-subject", "-nameopt", "RFC2253"]);
    let subject = String::from_utf8_lossy(&s.stdout).trim().trim_start_matches("subject=").to_string();
    let asn1 = String::from_utf8_lossy(&openssl(dir, &["asn1parse", "-in", csr]).stdout).into_owned();
    OpensslCsr { text, subject, asn1 }
}

#[test]
fn generic_subject_order_kept_and_verified_by_openssl() {
    let h = Home::new();
    let out = h.file("r.csr");
    let j = csr_ok(&h, &["--subject", "CN=Contract Test,O=Test,C=LU", "--email", "agent@example.lu"], &out);
    assert_eq!(j["subject"], "CN=Contract Test,O=Test,C=LU");
    assert_eq!(j["out"].as_str().map(Path::new), Some(out.as_path()));
    let o = openssl_csr(h.path(), &out);
    assert_eq!(o.subject, "CN=Contract Test,O=Test,C=LU");
    assert!(o.text.contains("email:agent@example.lu"), "{}", o.text);
    assert!(o.asn1.contains("PRINTABLESTRING   :LU"), "C must be a PrintableString:\n{}", o.asn1);
    // The key waits in the vault, under the id printed.
    let p = pending(&h);
    assert_eq!(p.len(), 1);
    assert_eq!(p[0]["id"], j["id"]);
    assert_eq!(p[0]["status"], "ok");
    assert_eq!(p[0]["profile"], "generic");
    assert!(p[0]["deadline"].is_null());
    // No private key in clear anywhere in the data directory.
    for e in vault_entries(&h) {
        let raw = std::fs::read_to_string(&e).unwrap();
        assert!(!raw.contains("PRIVATE KEY"), "entry looks unencrypted");
        let v: Value = serde_json::from_str(&raw).expect("entry is JSON");
        assert!(v["ciphertext"].as_str().is_some_and(|c| c.len() > 1000), "the key is stored encrypted");
    }
}

#[test]
fn generic_escapes_and_utf8_round_trip_through_openssl() {
    let h = Home::new();
    let out = h.file("r.csr");
    let subject = "CN=Dupont\\, Jean,OU=Santé publique,O=Hôpital A\\+B,L=Esch-sur-Alzette,C=LU";
    let j = csr_ok(&h, &["--subject", subject, "--fqdn", "www.example.lu", "--upn", "jdupont@example.lu"], &out);
    let o = openssl_csr(h.path(), &out);
    // OpenSSL's RFC 2253 form escapes the UTF-8 bytes; ours is the same string (one RFC 4514 rule for certificates
    // and requests).
    let printed = "CN=Dupont\\, Jean,OU=Sant\\C3\\A9 publique,O=H\\C3\\B4pital A\\+B,L=Esch-sur-Alzette,C=LU";
    assert_eq!(o.subject, printed, "OpenSSL must print the subject we were given");
    assert_eq!(j["subject"], printed);
    assert!(o.text.contains("DNS:www.example.lu"), "{}", o.text);
    assert!(o.text.contains("UPN::jdupont@example.lu"), "{}", o.text);
}

/// One RFC 4514 rule: a CSR subject with every special character (`,+"\\<>;#=`, leading and trailing spaces, a
/// control-free non-ASCII letter) prints like `openssl req -subject -nameopt RFC2253`, and the certificate an
/// authority issues on it reads back with the very same subject string.
#[test]
fn rfc4514_special_characters_match_openssl_for_requests_and_certificates() {
    let h = Home::new();
    let out = h.file("s.csr");
    let subject = r#"CN=\ a\,b\+c\"d\\e\<f\>g\;h=i#j\ ,OU=\#k é,C=LU"#;
    let j = csr_ok(&h, &["--subject", subject], &out);
    let o = openssl_csr(h.path(), &out);
    let printed = r#"CN=\ a\,b\+c\"d\\e\<f\>g\;h=i#j\ ,OU=\#k \C3\A9,C=LU"#;
    assert_eq!(o.subject, printed, "OpenSSL's RFC 2253 form");
    assert_eq!(j["subject"], printed, "ours");
    // Signed by a CA, read back through `cert inspect`: the same string as OpenSSL's `x509 -subject`.
    let ca = crate::support::pki::Pki::new(
        &h.path().join("ca"),
        "/C=LU/O=Test Org/CN=Test CA",
        crate::support::pki::KeyAlg::Rsa2048,
        30,
    );
    let pem = h.path().join("s.pem");
    ca.sign(out.to_str().unwrap(), pem.to_str().unwrap(), 7, &[]);
    let x = openssl(h.path(), &["x509", "-in", "s.pem", "-noout", "-subject", "-nameopt", "RFC2253"]);
    let x = String::from_utf8_lossy(&x.stdout).trim().trim_start_matches("subject=").to_string();
    assert_eq!(x, printed, "OpenSSL's view of the certificate");
    let inspect = h.cli().args(["--json", "cert", "inspect"]).arg(&pem).output().unwrap();
    assert!(inspect.status.success(), "{}", String::from_utf8_lossy(&inspect.stderr));
    let c: Value = serde_json::from_slice(&inspect.stdout).unwrap();
    assert_eq!(c[0]["subject"], printed, "cert inspect");
}

#[test]
fn generic_subject_that_cannot_be_built_is_refused_and_creates_nothing() {
    let h = Home::new();
    for (i, subject) in ["CN=A,CN=B", "CN=A+O=B,C=LU", "CN=A,C=LUX", "NOPE=x", "CN=#0403414243", ""].iter().enumerate()
    {
        let out = h.file(&format!("bad{i}.csr"));
        let o = csr_new(&h, &["--subject", subject], &out);
        assert_eq!(o.status.code(), Some(1), "{subject}: {}", String::from_utf8_lossy(&o.stderr));
        assert_eq!(json_error_code(&o), "csr.subject", "{subject}");
        assert!(!out.exists(), "{subject}: a CSR was written");
    }
    let o = csr_new(&h, &["--subject", "CN=A+O=B"], &h.file("x.csr"));
    let msg = String::from_utf8_lossy(&o.stderr);
    assert!(msg.contains("plusieurs valeurs"), "the message names the multi-valued RDN: {msg}");
    assert!(vault_entries(&h).is_empty(), "no vault entry for a refused request");
}

fn igc(offer: &str, usage: &str) -> Vec<String> {
    let mut a: Vec<String> = ["--profile", "igc-sante", "--offer", offer, "--usage", usage].map(String::from).to_vec();
    let person = offer == "PS" || offer == "PRO";
    let push = |a: &mut Vec<String>, k: &str, v: &str| {
        a.push(k.to_string());
        a.push(v.to_string());
    };
    if person {
        push(&mut a, "--cn", "810001234567");
        push(&mut a, "--sn", "Lefèvre");
        push(&mut a, "--gn", "Anaïs");
        push(&mut a, "--title", "Médecin");
    } else {
        push(&mut a, "--cn", "Portail patients");
    }
    if offer != "PS" {
        push(&mut a, "--ou", "123456789");
        push(&mut a, "--o", "Clinique du Parc");
        push(&mut a, "--st", "Corse-du-Sud (2A)");
    }
    match usage {
        "AUTH" => push(&mut a, "--upn", "anais.lefevre@clinique.fr"),
        "CONF" | "SIGN" | "SMIME" => push(&mut a, "--email", "contact@clinique.fr"),
        "SSL_SERV" => {
            push(&mut a, "--fqdn", "portail.clinique.fr");
            push(&mut a, "--fqdn", "www.clinique.fr");
        }
        _ => {}
    }
    a
}

#[test]
fn igc_sante_every_offer_and_usage_verified_by_openssl() {
    let h = Home::new();
    let combos = [
        ("PS", "AUTH"),
        ("PS", "SIGN"),
        ("PS", "CONF"),
        ("PRO", "AUTH"),
        ("PRO", "SIGN"),
        ("PRO", "CONF"),
        ("ORG", "AUTH_CLI"),
        ("ORG", "SIGN"),
        ("ORG", "CONF"),
        ("SERV", "SSL_SERV"),
        ("SERV", "SMIME"),
        ("SERV", "SIGN"),
        ("SERV", "CONF"),
    ];
    for (offer, usage) in combos {
        let out = h.file(&format!("{offer}-{usage}.csr"));
        let args = igc(offer, usage);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let j = csr_ok(&h, &args, &out);
        let o = openssl_csr(h.path(), &out);
        assert_eq!(o.subject, j["subject"].as_str().unwrap(), "{offer}/{usage}: our subject = OpenSSL's");
        let want = match offer {
            "PS" => "CN=810001234567,GN=Ana\\C3\\AFs,SN=Lef\\C3\\A8vre,title=M\\C3\\A9decin".to_string(),
            "PRO" => "CN=810001234567,GN=Ana\\C3\\AFs,SN=Lef\\C3\\A8vre,title=M\\C3\\A9decin,OU=123456789,O=Clinique du Parc,ST=Corse-du-Sud (2A),C=FR".to_string(),
            _ => "CN=Portail patients,OU=123456789,O=Clinique du Parc,ST=Corse-du-Sud (2A),C=FR".to_string(),
        };
        assert_eq!(o.subject, want, "{offer}/{usage}");
        if offer != "PS" {
            assert!(o.asn1.contains("PRINTABLESTRING   :FR"), "{offer}/{usage}: C=FR as PrintableString");
        }
        let san = |s: &str| o.text.contains(s);
        match usage {
            "AUTH" => assert!(san("UPN::anais.lefevre@clinique.fr"), "{offer}/{usage}: UPN\n{}", o.text),
            "CONF" | "SIGN" | "SMIME" => assert!(san("email:contact@clinique.fr"), "{offer}/{usage}: email"),
            "SSL_SERV" => assert!(san("DNS:portail.clinique.fr, DNS:www.clinique.fr"), "{offer}/{usage}: FQDNs"),
            _ => assert!(!san("Subject Alternative Name"), "{offer}/{usage}: no SAN"),
        }
    }
    // Each IGC-Santé request has its 10-day withdrawal deadline.
    let p = pending(&h);
    assert_eq!(p.len(), combos.len());
    for e in &p {
        let created =
            time::OffsetDateTime::parse(e["created"].as_str().unwrap(), &time::format_description::well_known::Rfc3339)
                .unwrap();
        let deadline = time::OffsetDateTime::parse(
            e["deadline"].as_str().unwrap(),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap();
        assert_eq!(deadline - created, time::Duration::days(10));
        assert_eq!(e["days_left"], 10);
        assert_eq!(e["profile"], "igc-sante");
    }
}

#[test]
fn impossible_igc_sante_combinations_are_refused_and_create_nothing() {
    let h = Home::new();
    let base = |offer: &str, usage: &str| igc(offer, usage);
    let without = |mut a: Vec<String>, flag: &str| {
        if let Some(i) = a.iter().position(|x| x == flag) {
            a.drain(i..i + 2);
        }
        a
    };
    let with = |mut a: Vec<String>, extra: &[&str]| {
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let six_fqdns = {
        let mut a = without(without(base("SERV", "SSL_SERV"), "--fqdn"), "--fqdn");
        for n in 0..6 {
            a.push("--fqdn".into());
            a.push(format!("h{n}.clinique.fr"));
        }
        a
    };
    let cases: Vec<(&str, Vec<String>)> = vec![
        (
            "usage_for_offer",
            with(base("PS", "AUTH"), &[])
                .into_iter()
                .map(|s| if s == "AUTH" { "SSL_SERV".into() } else { s })
                .collect(),
        ),
        (
            "usage_for_offer",
            base("ORG", "AUTH_CLI").into_iter().map(|s| if s == "AUTH_CLI" { "AUTH".into() } else { s }).collect(),
        ),
        (
            "usage_for_offer",
            base("PRO", "SIGN").into_iter().map(|s| if s == "SIGN" { "SMIME".into() } else { s }).collect(),
        ),
        ("san_fqdn_count", six_fqdns),
        ("san_fqdn_count", without(without(base("SERV", "SSL_SERV"), "--fqdn"), "--fqdn")),
        ("required_field", without(base("SERV", "SIGN"), "--cn")),
        ("required_field", without(base("PS", "AUTH"), "--sn")),
        ("required_field", without(base("PRO", "CONF"), "--st")),
        ("department", with(without(base("ORG", "SIGN"), "--st"), &["--st", "Paris"])),
        ("insi_cn", with(without(base("ORG", "AUTH_CLI"), "--cn"), &["--cn", "INSI-AUTOMATIQUE"])),
        ("insi_cn", with(base("ORG", "AUTH_CLI"), &["--insi", "auto"])),
        ("insi_offer", with(base("PS", "SIGN"), &["--insi", "manu"])),
        ("san_upn", without(base("PS", "AUTH"), "--upn")),
        ("san_email", without(base("PRO", "CONF"), "--email")),
        ("san_for_usage", with(base("PS", "AUTH"), &["--email", "a@b.fr"])),
        ("field_not_allowed", with(base("ORG", "SIGN"), &["--sn", "Dupont"])),
        ("field_not_allowed", with(base("PS", "SIGN"), &["--o", "Clinique"])),
        ("national_id", with(without(base("PS", "SIGN"), "--cn"), &["--cn", "Anaïs Lefèvre"])),
    ];
    for (i, (rule, args)) in cases.iter().enumerate() {
        let out = h.file(&format!("refused{i}.csr"));
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = csr_new(&h, &a, &out);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "case {i} ({rule}) must be refused: {err}");
        assert_eq!(json_error_code(&o), "csr.rule", "case {i}: {err}");
        assert!(err.contains(&format!("« {rule} »")), "case {i}: the message names the rule {rule}: {err}");
        assert!(err.contains("Rien n'a été créé"), "case {i}: {err}");
        assert!(!out.exists(), "case {i}: a CSR file was created");
    }
    assert!(vault_entries(&h).is_empty(), "a refused request created a vault entry");
    // English messages too.
    let o = {
        let mut c = h.cli();
        c.env("TROUSSEAU_LANG", "en").args(["csr", "new", "--json", "--out"]).arg(h.file("en.csr"));
        c.args(base("PS", "AUTH").into_iter().map(|s| if s == "AUTH" { "SSL_SERV".into() } else { s }));
        c.output().unwrap()
    };
    assert!(String::from_utf8_lossy(&o.stderr).contains("does not provide the SSL_SERV usage"));
}

#[test]
fn existing_output_is_never_overwritten() {
    let h = Home::new();
    let out = h.file("r.csr");
    std::fs::write(&out, "mine").unwrap();
    let o = csr_new(&h, &["--subject", "CN=A,C=LU"], &out);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(json_error_code(&o), "csr.output_exists");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "mine");
    let o = csr_new(&h, &["--subject", "CN=A,C=LU"], &h.file("no/such/dir/r.csr"));
    assert_eq!(json_error_code(&o), "csr.output_folder");
    assert!(vault_entries(&h).is_empty());
}

#[test]
fn profiles_list_offers_and_usages() {
    let h = Home::new();
    let o = h.cli().args(["csr", "profiles", "--json"]).output().unwrap();
    assert!(o.status.success());
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let offers = v["profiles"][0]["offers"].as_array().unwrap();
    let ids: Vec<&str> = offers.iter().map(|o| o["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["PS", "PRO", "ORG", "SERV"]);
    let serv: Vec<&str> = offers[3]["usages"].as_array().unwrap().iter().map(|u| u["id"].as_str().unwrap()).collect();
    assert_eq!(serv, ["SSL_SERV", "SMIME", "SIGN", "CONF"]);
}

//! PKCS#11 tokens against real modules: SoftHSM2 (a private configuration per test), OpenSC's `pkcs11-tool` and
//! OpenSSL as the second implementations, opencryptoki's soft token for the PIN lock (SoftHSM2 never locks).
//!
//! Library-API tests set `SOFTHSM2_CONF` for their own process: run them with nextest (one process per test).

use crate::support::softhsm::{self, SoftHsm, USER_PIN};
use crate::support::{json_error_code, openssl, run_with_stdin, Home};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use trousseau::token::{self, DecryptPadding, DiscoveryOptions, Pin, PinState, TokenError};
use trousseau::{Coded, Lang};
use zeroize::Zeroizing;

fn pin(s: &str) -> Pin {
    Pin::new(Zeroizing::new(s.to_string()))
}

fn cli_json(hsm: &SoftHsm, home: &Home, args: &[&str]) -> Output {
    let mut c = home.cli();
    hsm.env(&mut c).arg("--json").args(args);
    c.output().expect("trousseau runs")
}

fn stdout_json(out: &Output) -> serde_json::Value {
    assert!(out.status.success(), "failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("bad JSON {e}: {}", String::from_utf8_lossy(&out.stdout)))
}

/// A key pair and a self-signed certificate made by OpenSSL, as DER files in `dir`.
pub(crate) fn openssl_cert(
    dir: &Path,
    name: &str,
    cn: &str,
    key_usage: &str,
    eku: Option<&str>,
) -> (PathBuf, PathBuf, PathBuf) {
    let key = format!("{name}.key.pem");
    let cert = format!("{name}.crt.der");
    let mut args = vec![
        "req".to_string(),
        "-x509".into(),
        "-newkey".into(),
        "rsa:2048".into(),
        "-nodes".into(),
        "-keyout".into(),
        key.clone(),
        "-outform".into(),
        "DER".into(),
        "-out".into(),
        cert.clone(),
        "-days".into(),
        "365".into(),
        "-subj".into(),
        format!("/C=LU/O=Trousseau Tests/CN={cn}"),
        "-addext".into(),
        format!("keyUsage=critical,{key_usage}"),
        "-addext".into(),
        "basicConstraints=critical,CA:FALSE".into(),
    ];
    if let Some(e) = eku {
        args.push("-addext".into());
        args.push(format!("extendedKeyUsage={e}"));
    }
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    openssl(dir, &refs);
    let keyder = format!("{name}.key.der");
    let pubder = format!("{name}.pub.der");
    openssl(dir, &["pkey", "-in", &key, "-outform", "DER", "-out", &keyder]);
    openssl(dir, &["pkey", "-in", &key, "-pubout", "-outform", "DER", "-out", &pubder]);
    (dir.join(cert), dir.join(keyder), dir.join(pubder))
}

fn only_softhsm() -> DiscoveryOptions {
    DiscoveryOptions::only([softhsm::module()])
}

fn find(label: &str) -> token::Token {
    let d = token::discover_with(&only_softhsm());
    assert!(d.problems.is_empty(), "problems: {:?}", d.problems);
    token::find_token(&d, label, Lang::En).expect("token found")
}

#[test]
fn lists_tokens_with_pin_state_and_reports_wrong_pin() {
    let hsm = SoftHsm::new();
    let home = Home::new();
    let serial = hsm.init_token("Carte Agent");
    hsm.init_token("Second");

    let v = stdout_json(&cli_json(&hsm, &home, &["tokens"]));
    let modules = v["modules"].as_array().expect("modules");
    assert_eq!(modules.len(), 1, "{v}");
    assert_eq!(modules[0]["manufacturer"], "SoftHSM", "{v}");
    assert_eq!(v["tokens"].as_array().map(Vec::len), Some(2), "blank slots are not listed: {v}");
    assert_eq!(v["problems"].as_array().map(Vec::len), Some(0), "{v}");
    let tokens = v["tokens"].as_array().expect("tokens");
    let agent = tokens.iter().find(|t| t["label"] == "Carte Agent").expect("token listed");
    assert_eq!(agent["serial"], serial.as_str());
    assert_eq!(agent["manufacturer"], "SoftHSM project");
    assert_eq!(agent["model"], "SoftHSM v2");
    assert_eq!(agent["pin"]["state"], "ok");
    assert!(tokens.iter().any(|t| t["label"] == "Second"));

    // Wrong PIN from the environment: exit 1, a coded error saying what the token now says.
    let mut c = home.cli();
    hsm.env(&mut c).env("CARD_PIN", "0000").args([
        "--json",
        "token",
        "login",
        "--token",
        "Carte Agent",
        "--pin-env",
        "CARD_PIN",
    ]);
    let out = c.output().expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json_error_code(&out), "token.wrong_pin");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Code PIN incorrect") && err.contains("peu d'essais"), "{err}");
    assert!(!err.contains("0000"), "the PIN must never be echoed: {err}");

    // The listing shows the "count low" flag (what pkcs11-tool also reports).
    let v = stdout_json(&cli_json(&hsm, &home, &["tokens"]));
    let agent =
        v["tokens"].as_array().expect("tokens").iter().find(|t| t["label"] == "Carte Agent").cloned().expect("t");
    assert_eq!(agent["pin"]["state"], "count_low", "{v}");
    let listed = hsm.pkcs11_tool("Carte Agent", &["--list-token-slots"]);
    assert!(String::from_utf8_lossy(&listed.stdout).contains("user PIN count low"));

    // The right PIN on stdin works and clears the state.
    let mut c = home.cli();
    hsm.env(&mut c).args(["--json", "token", "login", "--token", "Carte Agent", "--pin-stdin"]);
    let out = run_with_stdin(c, format!("{USER_PIN}\n").as_bytes());
    let v = stdout_json(&out);
    assert_eq!(v["logged_in"], true);
    assert_eq!(v["pin"]["state"], "ok", "{v}");

    // An unknown label is a clear error.
    let out = cli_json(&hsm, &home, &["token", "certs", "--token", "Absente"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json_error_code(&out), "token.not_found");

    // No terminal and no PIN source: refused with a hint, nothing tried.
    let out = cli_json(&hsm, &home, &["token", "login", "--token", "Carte Agent"]);
    assert_eq!(json_error_code(&out), "cli.no_terminal");
}

#[test]
fn pairs_certificates_with_keys_by_id() {
    let hsm = SoftHsm::new();
    let home = Home::new();
    hsm.init_token("Paires");
    let dir = hsm.dir.path();
    let auth = openssl_cert(dir, "auth", "Agent Auth", "digitalSignature", Some("clientAuth"));
    let sig = openssl_cert(
        dir,
        "sig",
        "Agent Signature",
        "digitalSignature,nonRepudiation,keyEncipherment,dataEncipherment",
        None,
    );
    let (enc_crt, _, _) = openssl_cert(dir, "enc", "Encryption Only", "keyEncipherment", None);
    hsm.import_identity("Paires", &auth, "a1", "auth");
    hsm.import_identity("Paires", &sig, "5e", "sig");
    hsm.import("Paires", &enc_crt, "cert", "e0", "no key");

    // Without the PIN: public objects only (SoftHSM2 hides private keys until login; the public key object with
    // the same CKA_ID stands for it).
    let v = stdout_json(&cli_json(&hsm, &home, &["token", "certs", "--token", "Paires"]));
    let certs = v.as_array().expect("array");
    assert_eq!(certs.len(), 3, "{v}");
    let by_id = |v: &serde_json::Value, id: &str| -> serde_json::Value {
        v.as_array().expect("a").iter().find(|c| c["key_id"] == id).cloned().unwrap_or_else(|| panic!("no {id} in {v}"))
    };
    let auth = by_id(&v, "a1");
    assert_eq!(auth["role"], "authentication");
    assert_eq!(auth["has_private_key"], true);
    assert_eq!(auth["on_token"], true);
    assert_eq!(auth["token"], "Paires");
    assert_eq!(auth["subject_cn"], "Agent Auth");
    assert_eq!(auth["encryption_capable"], false);
    // The fingerprint agrees with OpenSSL's.
    let fp = openssl(dir, &["x509", "-inform", "DER", "-in", "auth.crt.der", "-noout", "-fingerprint", "-sha256"]);
    let fp = String::from_utf8_lossy(&fp.stdout).split('=').nth(1).unwrap_or("").trim().replace(':', "").to_lowercase();
    assert_eq!(auth["sha256"], fp.as_str());
    assert_eq!(by_id(&v, "5e")["has_private_key"], true);
    assert_eq!(by_id(&v, "e0")["has_private_key"], false);
    assert_eq!(by_id(&v, "e0")["role"], "encryption");

    // After login the private keys are seen: the LuxTrust-like combined certificate is a signature certificate
    // that is also encryption-capable.
    let mut c = home.cli();
    hsm.env(&mut c).env("P", USER_PIN).args(["--json", "token", "certs", "--token", "Paires", "--pin-env", "P"]);
    let v = stdout_json(&c.output().expect("runs"));
    let sig = by_id(&v, "5e");
    assert_eq!(sig["has_private_key"], true, "{v}");
    assert_eq!(sig["role"], "signature");
    assert_eq!(sig["encryption_capable"], true);
    assert_eq!(by_id(&v, "e0")["has_private_key"], false);

    // The portal's view: encryption-capable certificates with a key, public data only.
    hsm.activate();
    let d = token::discover_with(&only_softhsm());
    let enc = token::encryption_certificates(&d, Lang::Fr);
    let ids: Vec<&str> = enc.iter().map(|c| c.key_id.as_str()).collect();
    assert_eq!(ids, vec!["5e"]);
}

#[test]
fn wrong_pin_through_the_library_reports_flags() {
    let hsm = SoftHsm::new();
    hsm.init_token("Lib");
    hsm.activate();
    let t = find("Lib");
    assert_eq!(t.pin.state, PinState::Ok);
    let e = token::login(&t, pin("9999")).expect_err("wrong PIN refused");
    assert!(matches!(e, TokenError::WrongPin { state: PinState::CountLow }), "{e:?}");
    assert_eq!(e.code(), "token.wrong_pin");
    assert!(e.message(Lang::En).contains("few tries"), "{}", e.message(Lang::En));
    let s = token::login(&t, pin(USER_PIN)).expect("right PIN");
    assert!(s.keys().expect("keys").is_empty());
}

#[test]
fn generates_on_token_and_signs_a_csr_there() {
    let hsm = SoftHsm::new();
    hsm.init_token("Signer");
    hsm.activate();
    let t = find("Signer");
    let s = token::login(&t, pin(USER_PIN)).expect("login");
    let id = s.generate_rsa_2048("csr key", Some(&[0xc5, 0x01])).expect("generate");
    assert_eq!(id, vec![0xc5, 0x01]);
    let keys = s.keys().expect("keys");
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].key_id, "c501");
    assert_eq!(keys[0].bits, Some(2048));

    let key = s.signing_key(&id).expect("signing key");
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    params.distinguished_name.push(rcgen::DnType::CommonName, "Agent sur carte");
    let csr = params.serialize_request(&key).expect("CSR signed on the token");
    let pem = csr.pem().expect("pem");
    std::fs::write(hsm.file("req.pem"), pem).expect("write");
    let out = openssl(hsm.dir.path(), &["req", "-in", "req.pem", "-verify", "-noout", "-text"]);
    let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("verify OK") || text.contains("Certificate request self-signature verify OK"), "{text}");
    assert!(text.contains("sha256WithRSAEncryption") && text.contains("2048 bit"), "{text}");

    // The CSR's key is the token's key, as OpenSC reads it.
    hsm.pkcs11_tool("Signer", &["--read-object", "--type", "pubkey", "--id", "c501", "-o", "tok.pub.der"]);
    let a = openssl(hsm.dir.path(), &["pkey", "-pubin", "-inform", "DER", "-in", "tok.pub.der", "-outform", "PEM"]);
    let b = openssl(hsm.dir.path(), &["req", "-in", "req.pem", "-pubkey", "-noout"]);
    assert_eq!(a.stdout, b.stdout);
    // The private key is sensitive: OpenSC cannot read it out.
    let out = Command::new("pkcs11-tool")
        .env("SOFTHSM2_CONF", hsm.conf())
        .args([
            "--module",
            softhsm::module().to_str().expect("p"),
            "--token-label",
            "Signer",
            "--login",
            "--pin",
            USER_PIN,
        ])
        .args(["--read-object", "--type", "privkey", "--id", "c501", "-o", "priv.der"])
        .current_dir(hsm.dir.path())
        .output()
        .expect("runs");
    assert!(!out.status.success() || !hsm.file("priv.der").exists());

    // The CLI lists it too (PIN from the environment).
    let home = Home::new();
    let mut c = home.cli();
    hsm.env(&mut c).env("P", USER_PIN).args(["--json", "token", "keys", "--token", "Signer", "--pin-env", "P"]);
    let v = stdout_json(&c.output().expect("runs"));
    assert_eq!(v[0]["key_id"], "c501", "{v}");
    assert_eq!(v[0]["algorithm"], "rsa");
    assert_eq!(v[0]["bits"], 2048);
    assert_eq!(v[0]["can_sign"], true);
    assert_eq!(v[0]["can_decrypt"], true);

    // Generating again with the same id is refused, the key stays.
    assert!(s.generate_rsa_2048("dup", Some(&[0xc5, 0x01])).is_err());
    assert_eq!(s.keys().expect("keys").len(), 1);
    // An unknown key id is a clear error.
    let e = s.signing_key(&[0x99]).expect_err("no such key");
    assert_eq!(e.code(), "token.key_not_found");
}

#[test]
fn decrypts_what_openssl_encrypted() {
    let hsm = SoftHsm::new();
    hsm.init_token("Chiffre");
    hsm.activate();
    let t = find("Chiffre");
    let s = token::login(&t, pin(USER_PIN)).expect("login");
    let id = s.generate_rsa_2048("enveloppe", Some(&[0xd1])).expect("generate");
    hsm.pkcs11_tool("Chiffre", &["--read-object", "--type", "pubkey", "--id", "d1", "-o", "pub.der"]);
    let dir = hsm.dir.path();
    std::fs::write(dir.join("secret.bin"), b"cle de session AES-256 0123456789abcdef").expect("write");
    let encrypt = |out: &str, opts: &[&str]| {
        let mut args = vec![
            "pkeyutl",
            "-encrypt",
            "-pubin",
            "-keyform",
            "DER",
            "-inkey",
            "pub.der",
            "-in",
            "secret.bin",
            "-out",
            out,
        ];
        args.extend_from_slice(opts);
        openssl(dir, &args);
        std::fs::read(dir.join(out)).expect("ciphertext")
    };
    let v15 = encrypt("v15.bin", &["-pkeyopt", "rsa_padding_mode:pkcs1"]);
    let oaep1 = encrypt("oaep1.bin", &["-pkeyopt", "rsa_padding_mode:oaep"]);
    let oaep256 = encrypt(
        "oaep256.bin",
        &["-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:sha256", "-pkeyopt", "rsa_mgf1_md:sha256"],
    );
    let want = std::fs::read(dir.join("secret.bin")).expect("plain");
    assert_eq!(*s.decrypt(&id, DecryptPadding::Pkcs1v15, &v15).expect("PKCS#1 v1.5"), want);
    assert_eq!(*s.decrypt(&id, DecryptPadding::OaepSha1, &oaep1).expect("OAEP-SHA1"), want);
    // SoftHSM2 2.6.1 (Debian 12) only does OAEP with SHA-1: SHA-256 is refused as unsupported, clearly.
    match s.decrypt(&id, DecryptPadding::OaepSha256, &oaep256) {
        Ok(p) => assert_eq!(*p, want, "OAEP-SHA256 supported by this SoftHSM2"),
        Err(e) => {
            assert_eq!(e.code(), "token.unsupported", "{e:?}");
            eprintln!("OAEP-SHA256 on SoftHSM2: {e:?}");
        }
    }
    // Wrong padding: a decryption error, not garbage.
    let e = s.decrypt(&id, DecryptPadding::OaepSha1, &v15).expect_err("wrong padding");
    assert_eq!(e.code(), "token.decrypt_failed", "{e:?}");
    // And the session still works afterwards.
    assert_eq!(*s.decrypt(&id, DecryptPadding::Pkcs1v15, &v15).expect("again"), want);
}

#[test]
fn bogus_and_non_pkcs11_modules_are_reported_and_skipped() {
    let hsm = SoftHsm::new();
    let home = Home::new();
    hsm.init_token("Survivant");
    let text = hsm.file("notes.so");
    std::fs::write(&text, "ceci n'est pas une bibliothèque\n").expect("write");
    let libz = ["/usr/lib/x86_64-linux-gnu/libz.so.1", "/lib/x86_64-linux-gnu/libz.so.1"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("libz present");
    let modules = format!("/nonexistent/libgclib.so:{}:{libz}:{}", text.display(), softhsm::module().display());
    let mut c = home.cli();
    hsm.env(&mut c).env("TROUSSEAU_PKCS11_MODULE", &modules).args(["--json", "tokens"]);
    let v = stdout_json(&c.output().expect("runs"));
    let codes: Vec<(String, String)> = v["problems"]
        .as_array()
        .expect("problems")
        .iter()
        .map(|p| (p["path"].as_str().unwrap_or("").to_string(), p["code"].as_str().unwrap_or("").to_string()))
        .collect();
    assert!(codes.contains(&("/nonexistent/libgclib.so".into(), "token.module_missing".into())), "{codes:?}");
    assert!(codes.contains(&(text.display().to_string(), "token.not_a_library".into())), "{codes:?}");
    assert!(codes.contains(&(libz.to_string(), "token.not_pkcs11".into())), "{codes:?}");
    assert_eq!(v["modules"].as_array().map(Vec::len), Some(1), "{v}");
    assert!(v["tokens"].as_array().expect("t").iter().any(|t| t["label"] == "Survivant"), "{v}");
    let msg = v["problems"][0]["message"].as_str().unwrap_or("");
    assert!(msg.contains("introuvable"), "{msg}");

    // Text output too, and in English.
    let mut c = home.cli();
    hsm.env(&mut c).env("TROUSSEAU_PKCS11_MODULE", &modules).env("TROUSSEAU_LANG", "en").arg("tokens");
    let out = c.output().expect("runs");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Unusable modules") && text.contains("is not a PKCS#11 module") && text.contains("Survivant"),
        "{text}"
    );
}

/// A PKCS#11 module whose `C_Initialize` never returns in time (a stuck vendor middleware).
fn hanging_module(dir: &Path) -> PathBuf {
    let src = dir.join("hang.c");
    // CK_FUNCTION_LIST: a CK_VERSION (2 bytes) then 68 function pointers; C_Initialize is the first, C_Finalize
    // the second, C_GetInfo the third.
    std::fs::write(
        &src,
        r#"
#include <unistd.h>
typedef unsigned long CK_RV;
static CK_RV hang(void *a) { (void)a; sleep(20); return 0; }
static CK_RV ok(void *a) { (void)a; return 0; }
static CK_RV no(void) { return 0x54; }
struct list { unsigned char major, minor; void *f[68]; };
static struct list L;
CK_RV C_GetFunctionList(struct list **out) {
  L.major = 2; L.minor = 40;
  for (int i = 0; i < 68; i++) L.f[i] = (void *)no;
  L.f[0] = (void *)hang; L.f[1] = (void *)ok;
  *out = &L; return 0;
}
"#,
    )
    .expect("write C");
    let lib = dir.join("libhang.so");
    let out = Command::new("cc").args(["-shared", "-fPIC", "-o"]).arg(&lib).arg(&src).output().expect("cc runs");
    assert!(out.status.success(), "cc: {}", String::from_utf8_lossy(&out.stderr));
    lib
}

#[test]
fn a_hanging_module_times_out_and_the_next_module_works() {
    let hsm = SoftHsm::new();
    let home = Home::new();
    hsm.init_token("Apres");
    let hang = hanging_module(hsm.dir.path());
    let modules = format!("{}:{}", hang.display(), softhsm::module().display());
    let mut c = home.cli();
    hsm.env(&mut c)
        .env("TROUSSEAU_PKCS11_MODULE", &modules)
        .env("TROUSSEAU_PKCS11_TIMEOUT_MS", "1500")
        .args(["--json", "tokens"]);
    let started = std::time::Instant::now();
    let v = stdout_json(&c.output().expect("runs"));
    let took = started.elapsed();
    assert!(took < std::time::Duration::from_secs(10), "the app waited for the stuck module: {took:?}");
    let p = &v["problems"][0];
    assert_eq!(p["code"], "token.timeout", "{v}");
    assert_eq!(p["path"], hang.display().to_string());
    // A fresh worker served the next module.
    assert!(v["tokens"].as_array().expect("t").iter().any(|t| t["label"] == "Apres"), "{v}");
}

/// Every opencryptoki check lives here: its soft token is machine-global, so these steps never run concurrently,
/// and the token is reset to factory state first so the test can run again.
#[test]
fn opencryptoki_pin_lock_is_reported_and_never_retried() {
    use crate::support::opencryptoki as ock;
    ock::reset_soft_token("TrousseauLock");
    let home = Home::new();
    let cli = |extra_env: &[(&str, &str)], args: &[&str]| -> Output {
        let mut c = home.cli();
        c.env("TROUSSEAU_PKCS11_MODULE", ock::MODULE).env("TROUSSEAU_PKCS11_SYSTEM", "0");
        for (k, v) in extra_env {
            c.env(k, v);
        }
        c.args(args).output().expect("trousseau runs")
    };
    let pin_state = || -> serde_json::Value {
        let v = stdout_json(&cli(&[], &["--json", "tokens"]));
        v["tokens"]
            .as_array()
            .expect("tokens")
            .iter()
            .find(|t| t["label"] == "TrousseauLock")
            .map(|t| t["pin"].clone())
            .unwrap_or_else(|| panic!("opencryptoki token not listed: {v}"))
    };
    assert_eq!(pin_state()["state"], "ok");
    let login = |pin: &str| {
        cli(&[("CARD_PIN", pin)], &["--json", "token", "login", "--token", "TrousseauLock", "--pin-env", "CARD_PIN"])
    };

    // The right PIN works.
    assert!(login(ock::USER_PIN).status.success());
    // Three wrong PINs: two "wrong PIN" with the token's wording, then "locked".
    let mut codes = Vec::new();
    let mut last_message = String::new();
    for _ in 0..3 {
        let out = login("00000000");
        assert_eq!(out.status.code(), Some(1));
        codes.push(json_error_code(&out));
        last_message = String::from_utf8_lossy(&out.stderr).to_string();
        eprintln!("after a wrong PIN: {} / flags {}", String::from_utf8_lossy(&out.stderr).trim(), pin_state());
    }
    assert_eq!(codes, ["token.wrong_pin", "token.wrong_pin", "token.pin_locked"], "{codes:?}");
    assert!(last_message.contains("maintenant bloquée"), "{last_message}");
    let state = pin_state();
    assert_eq!(state["state"], "locked", "{state}");
    assert!(state["message"].as_str().unwrap_or("").contains("bloqué"), "{state}");
    // OpenSC sees the same flag.
    let out = Command::new("pkcs11-tool").args(["--module", ock::MODULE, "--list-token-slots"]).output().expect("runs");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("user PIN locked"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    // Now even the right PIN is refused as locked, and no C_Login reaches the module: OpenSC's spy, wrapping
    // opencryptoki, logs every call we make.
    let spylog = home.file("spy.log");
    let out = cli(
        &[
            ("CARD_PIN", ock::USER_PIN),
            ("PKCS11SPY", ock::MODULE),
            ("PKCS11SPY_OUTPUT", spylog.to_str().expect("utf-8")),
            ("TROUSSEAU_PKCS11_MODULE", ock::spy().to_str().expect("utf-8")),
            ("TROUSSEAU_LANG", "en"),
        ],
        &["--json", "token", "login", "--token", "TrousseauLock", "--pin-env", "CARD_PIN"],
    );
    assert_eq!(json_error_code(&out), "token.pin_locked");
    assert!(String::from_utf8_lossy(&out.stderr).contains("locked: no attempt was made"));
    let log = std::fs::read_to_string(&spylog).expect("spy log written");
    assert!(log.contains("C_GetTokenInfo"), "the spy saw our calls: {log}");
    assert!(!log.contains("C_Login"), "a locked PIN must not be tried");

    // The library says the same.
    std::env::set_var("TROUSSEAU_PKCS11_SYSTEM", "0");
    let d = token::discover_with(&DiscoveryOptions::only([PathBuf::from(ock::MODULE)]));
    let t = token::find_token(&d, "TrousseauLock", Lang::Fr).expect("token");
    assert_eq!(t.pin.state, PinState::Locked);
    assert!(matches!(token::login(&t, pin(ock::USER_PIN)), Err(TokenError::PinLocked)));

    // Unblocking (issue 14): changing a locked PIN is refused without trying; a wrong unblocking code is reported
    // in the token's terms; the right one (opencryptoki's SO PIN) sets a new PIN that logs in.
    let change = cli(
        &[("OLD", ock::USER_PIN), ("NEW", "55556666")],
        &["--json", "token", "pin", "change", "--token", "TrousseauLock", "--pin-env", "OLD", "--new-pin-env", "NEW"],
    );
    assert_eq!(json_error_code(&change), "token.pin_locked");
    let unblock = |puk: &str| {
        cli(
            &[("PUK", puk), ("NEW", "55556666")],
            &[
                "--json",
                "token",
                "pin",
                "unblock",
                "--token",
                "TrousseauLock",
                "--puk-env",
                "PUK",
                "--new-pin-env",
                "NEW",
            ],
        )
    };
    let out = unblock("00000000");
    assert_eq!(json_error_code(&out), "token.wrong_unblock_code", "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("déblocage"), "{}", String::from_utf8_lossy(&out.stderr));
    let out = unblock(ock::SO_PIN);
    assert!(out.status.success(), "unblock: {}", String::from_utf8_lossy(&out.stderr));
    assert_ne!(pin_state()["state"], "locked");
    assert!(login("55556666").status.success(), "the new PIN logs in");
    assert_eq!(json_error_code(&login(ock::USER_PIN)), "token.wrong_pin", "the old PIN no longer works");
}

/// `token pin change` on SoftHSM2: the new PIN works and the old one no longer; a wrong current PIN, a new PIN of a
/// length the token refuses, or two different entries change nothing.
#[test]
fn pin_change_on_a_token_checks_lengths_and_the_current_pin() {
    let hsm = SoftHsm::new();
    hsm.init_token("Changer");
    let home = Home::new();
    let cli = |env: &[(&str, &str)], args: &[&str]| -> Output {
        let mut c = home.cli();
        hsm.env(&mut c);
        for (k, v) in env {
            c.env(k, v);
        }
        c.args(args).output().expect("trousseau runs")
    };
    let change = |old: &str, new: &str| {
        cli(
            &[("OLD", old), ("NEW", new)],
            &["--json", "token", "pin", "change", "--token", "Changer", "--pin-env", "OLD", "--new-pin-env", "NEW"],
        )
    };
    let login = |p: &str| cli(&[("P", p)], &["--json", "token", "login", "--token", "Changer", "--pin-env", "P"]);
    // SoftHSM2 accepts 4 to 255 characters
    assert_eq!(json_error_code(&change(USER_PIN, "12")), "token.pin_length");
    assert_eq!(json_error_code(&change("9999", "24682468")), "token.wrong_pin");
    assert!(login(USER_PIN).status.success(), "nothing changed");
    let out = change(USER_PIN, "24682468");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(login("24682468").status.success());
    assert_eq!(json_error_code(&login(USER_PIN)), "token.wrong_pin");
    // typed twice at a prompt: the core refuses two different entries before touching the token
    std::env::set_var("SOFTHSM2_CONF", hsm.conf());
    let d = token::discover_with(&DiscoveryOptions::only([softhsm::module()]));
    let t = token::find_token(&d, "Changer", Lang::Fr).expect("token");
    let r = token::change_pin(&t, pin("24682468"), pin("13571357"), Some(pin("13571358")));
    assert!(matches!(r, Err(TokenError::PinMismatch)), "{r:?}");
    assert!(login("24682468").status.success(), "nothing changed");
}

#[test]
fn a_token_removed_mid_session_gives_a_clear_error_and_the_next_operation_works() {
    let hsm = SoftHsm::new();
    hsm.init_token("Retiree");
    hsm.init_token("Restante");
    hsm.activate();
    let t = find("Retiree");
    let s = token::login(&t, pin(USER_PIN)).expect("login");
    let id = s.generate_rsa_2048("k", Some(&[0x01])).expect("generate");
    // The token disappears while the session is open (SoftHSM2's equivalent of pulling the card out).
    hsm.run("softhsm2-util", &["--delete-token", "--token", "Retiree"]);
    let r = s.signing_key(&id).and_then(|k| k.sign_on_token(b"data"));
    let e = r.expect_err("the key is gone with its token");
    assert_eq!(e.code(), "token.removed", "{e:?}");
    assert!(e.message(Lang::Fr).contains("retirée"), "{}", e.message(Lang::Fr));
    drop(s);
    // Listing again works and no longer shows it; the other token is still usable.
    let d = token::discover_with(&only_softhsm());
    let list = token::list_tokens(&d, Lang::Fr);
    assert!(list.tokens.iter().all(|t| t.label != "Retiree"), "{:?}", list.tokens);
    let other = list.tokens.iter().find(|t| t.label == "Restante").expect("other token");
    let s2 = token::login(other, pin(USER_PIN)).expect("login on the other token");
    assert!(s2.keys().expect("keys").is_empty());
    // Logging in to the removed token is a clear error, not a hang.
    let e = token::login(&t, pin(USER_PIN)).expect_err("gone");
    assert_eq!(e.code(), "token.removed", "{e:?}");
}

#[test]
fn signs_a_csr_with_an_ec_key_made_by_opensc() {
    let hsm = SoftHsm::new();
    hsm.init_token("Courbe");
    // The key pair is made by OpenSC's tool, not by us.
    hsm.pkcs11_tool(
        "Courbe",
        &["--login", "--pin", USER_PIN, "--keypairgen", "--key-type", "EC:prime256v1", "--id", "ec01", "--label", "ec"],
    );
    hsm.activate();
    let t = find("Courbe");
    let s = token::login(&t, pin(USER_PIN)).expect("login");
    let keys = s.keys().expect("keys");
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].algorithm, token::KeyAlgorithm::Ec);
    let key = s.signing_key(&[0xec, 0x01]).expect("EC signing key");
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    params.distinguished_name.push(rcgen::DnType::CommonName, "Clé EC sur jeton");
    let pem = params.serialize_request(&key).expect("CSR").pem().expect("pem");
    std::fs::write(hsm.file("ec.pem"), pem).expect("write");
    let out = openssl(hsm.dir.path(), &["req", "-in", "ec.pem", "-verify", "-noout", "-text"]);
    let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("verify OK") && text.contains("ecdsa-with-SHA256") && text.contains("prime256v1"), "{text}");
}

#[test]
fn csr_new_on_token_signs_on_the_card_without_a_vault_entry() {
    let hsm = SoftHsm::new();
    let home = Home::new();
    hsm.init_token("Carte CPS");
    let dir = hsm.dir.path();
    let csr = |args: &[&str]| -> Output {
        let mut c = home.cli();
        hsm.env(&mut c).env("CARD_PIN", USER_PIN).args(["--json", "csr", "new"]).args(args);
        c.args(["--token", "Carte CPS", "--pin-env", "CARD_PIN"]).output().expect("runs")
    };
    // IGC-Santé request with a new RSA-2048 pair created on the card.
    let out_a = hsm.file("ps-auth.csr");
    let o = csr(&[
        "--profile",
        "igc-sante",
        "--offer",
        "PS",
        "--usage",
        "AUTH",
        "--cn",
        "810001234567",
        "--sn",
        "Lefèvre",
        "--gn",
        "Anaïs",
        "--title",
        "Médecin",
        "--upn",
        "anais.lefevre@clinique.fr",
        "--out",
        out_a.to_str().expect("p"),
        "--generate-on-token",
        "--key-id",
        "a0",
    ]);
    let v = stdout_json(&o);
    assert_eq!(v["on_token"], true);
    assert_eq!(v["generated"], true);
    assert_eq!(v["key_id"], "a0");
    assert_eq!(v["token"], "Carte CPS");
    let text = openssl(dir, &["req", "-in", "ps-auth.csr", "-verify", "-noout", "-text"]);
    let text = String::from_utf8_lossy(&text.stdout).to_string() + &String::from_utf8_lossy(&text.stderr);
    assert!(
        text.contains("verify OK") && text.contains("sha256WithRSAEncryption") && text.contains("2048 bit"),
        "{text}"
    );
    assert!(text.contains("810001234567"), "{text}");
    // Its key is the card's key (read back by OpenSC), and no pending key went to the vault.
    hsm.pkcs11_tool("Carte CPS", &["--read-object", "--type", "pubkey", "--id", "a0", "-o", "a0.der"]);
    let card = openssl(dir, &["pkey", "-pubin", "-inform", "DER", "-in", "a0.der"]);
    let req = openssl(dir, &["req", "-in", "ps-auth.csr", "-pubkey", "-noout"]);
    assert_eq!(card.stdout, req.stdout);
    let vault = home.file("home").join("data").join("vault");
    assert!(std::fs::read_dir(&vault).map(|d| d.count() == 0).unwrap_or(true), "no vault entry for a token key");

    // A generic request with an existing key named by --key-id (imported by OpenSC from OpenSSL).
    let (crt, key, _) = openssl_cert(dir, "agent", "Agent", "digitalSignature,keyEncipherment", None);
    hsm.import("Carte CPS", &key, "privkey", "b7", "agent");
    hsm.import("Carte CPS", &crt, "cert", "b7", "agent");
    let gen = hsm.file("gen.csr");
    let o = csr(&["--subject", "CN=Agent,O=Trousseau Tests,C=LU", "--out", gen.to_str().expect("p"), "--key-id", "b7"]);
    assert_eq!(stdout_json(&o)["generated"], false);
    openssl(dir, &["req", "-in", "gen.csr", "-verify", "-noout"]);
    let req = openssl(dir, &["req", "-in", "gen.csr", "-pubkey", "-noout"]);
    let cert = openssl(dir, &["x509", "-inform", "DER", "-in", "agent.crt.der", "-pubkey", "-noout"]);
    assert_eq!(req.stdout, cert.stdout, "signed with the imported key");

    // Mistakes are clear and create nothing.
    let o = csr(&["--subject", "CN=X", "--out", hsm.file("none.csr").to_str().expect("p"), "--key-id", "ff"]);
    assert_eq!(json_error_code(&o), "token.key_not_found");
    let o = csr(&["--subject", "CN=X", "--out", hsm.file("none.csr").to_str().expect("p")]);
    assert_eq!(json_error_code(&o), "csr.arguments");
    let o = csr(&["--subject", "CN=X", "--out", hsm.file("none.csr").to_str().expect("p"), "--key-id", "zz"]);
    assert_eq!(json_error_code(&o), "csr.arguments");
    assert!(!hsm.file("none.csr").exists());
    let mut c = home.cli();
    hsm.env(&mut c).env("CARD_PIN", "0000").args(["--json", "csr", "new", "--subject", "CN=X", "--out"]);
    c.arg(hsm.file("none.csr")).args(["--token", "Carte CPS", "--pin-env", "CARD_PIN", "--generate-on-token"]);
    let o = c.output().expect("runs");
    assert_eq!(json_error_code(&o), "token.wrong_pin");
    assert!(!hsm.file("none.csr").exists());
}

#[test]
fn p11kit_module_files_and_the_configured_list_are_discovered() {
    let hsm = SoftHsm::new();
    let home = Home::new();
    hsm.init_token("Par p11-kit");
    // A p11-kit directory like ~/.config/pkcs11/modules: OpenSC's spy (bare name, resolved in the p11-kit module
    // folder) wrapping SoftHSM2; a module disabled for us; one enabled only for others; the trust module.
    let dir = hsm.file("modules");
    std::fs::create_dir(&dir).expect("dir");
    std::fs::write(dir.join("spy.module"), "module: pkcs11-spy.so\n").expect("w");
    std::fs::write(dir.join("off.module"), "module: /usr/lib/x86_64-linux-gnu/libz.so.1\ndisable-in: trousseau\n")
        .expect("w");
    std::fs::write(dir.join("other.module"), "module: /nonexistent/x.so\nenable-in: firefox\n").expect("w");
    std::fs::write(dir.join("trust.module"), "module: p11-kit-trust.so\n").expect("w");
    std::fs::write(dir.join("README"), "module: /nonexistent/not-a-module-file.so\n").expect("w");
    let opts = DiscoveryOptions { explicit: Vec::new(), system: true, p11kit_dirs: vec![dir.clone()] };
    let spy = crate::support::opencryptoki::spy();
    let found: Vec<_> =
        token::candidates(&opts).into_iter().filter(|c| matches!(c.source, token::ModuleSource::P11Kit(_))).collect();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].path, spy);
    assert_eq!(found[0].source, token::ModuleSource::P11Kit(dir.join("spy.module")));
    // The candidate really works: the spy loads SoftHSM2 and shows its token.
    hsm.activate();
    std::env::set_var("PKCS11SPY", softhsm::module());
    std::env::set_var("PKCS11SPY_OUTPUT", hsm.file("spy.log"));
    let m = token::probe(&spy).expect("spy module starts");
    let tokens = token::module_tokens(&m.path, Lang::En).expect("tokens");
    assert!(tokens.iter().any(|t| t.label == "Par p11-kit"), "{tokens:?}");

    // The configured list (<config>/pkcs11-modules, one path per line) is read by the CLI.
    let config = home.file("home").join("config");
    std::fs::create_dir_all(&config).expect("config");
    std::fs::write(
        config.join("pkcs11-modules"),
        format!("# middleware\n/opt/absent/libcps3.so\n{}\n", softhsm::module().display()),
    )
    .expect("w");
    let mut c = home.cli();
    c.env("SOFTHSM2_CONF", hsm.conf()).env("TROUSSEAU_PKCS11_SYSTEM", "0").env_remove("TROUSSEAU_PKCS11_MODULE");
    let v = stdout_json(&c.args(["--json", "tokens"]).output().expect("runs"));
    assert_eq!(v["problems"][0]["path"], "/opt/absent/libcps3.so", "{v}");
    assert_eq!(v["problems"][0]["source"]["kind"], "configured");
    assert_eq!(v["problems"][0]["code"], "token.module_missing");
    assert_eq!(v["modules"][0]["source"]["kind"], "configured");
    assert!(v["tokens"].as_array().expect("t").iter().any(|t| t["label"] == "Par p11-kit"), "{v}");
}

//! Opening bids (issue 14, part 1): envelopes made by OpenSSL (`openssl cms -encrypt`, the second implementation),
//! opened by the CLI with the key where it lives — a real NSS database (softokn decrypts), a SoftHSM2 token and
//! opencryptoki's soft token (PKCS#11 `C_Decrypt`, PIN from the environment) — and every refusal checked to change
//! nothing on disk.

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::support::pki::Pki;
use crate::support::softhsm::{self, SoftHsm};
use crate::support::{json_error_code, json_ok, openssl, run_with_stdin, Home};

const PW: &str = "Motdepasse-Pli-1";

/// A home whose NSS database holds `NAME` (RSA, keyEncipherment) with its key.
fn home_with(pki: &Pki, names: &[&str]) -> Home {
    let home = Home::new();
    crate::support::nss::create_db(&home.file("nssdb"));
    for name in names {
        pki.p12(name, PW, &[]);
        let mut c = home.cli();
        c.args(["--json", "p12", "import", "--password-stdin"]).arg(pki.path(&format!("{name}.p12")));
        json_ok(&run_with_stdin(c, format!("{PW}\n").as_bytes()));
    }
    home
}

/// `openssl cms -encrypt` of `content` to `recipients` (PEM files in the PKI dir) into `out`.
fn encrypt(
    pki: &Pki,
    content: &Path,
    out: &str,
    cipher: &str,
    transport: &str,
    form: &str,
    recipients: &[&str],
) -> PathBuf {
    let mut args: Vec<String> = vec!["cms".into(), "-encrypt".into(), "-binary".into()];
    args.extend(["-in".into(), content.display().to_string(), "-out".into(), out.into()]);
    match form {
        "der" => args.extend(["-outform".into(), "DER".into()]),
        "ber" => args.extend(["-outform".into(), "DER".into(), "-stream".into()]),
        "pem" => args.extend(["-outform".into(), "PEM".into()]),
        _ => {} // S/MIME
    }
    args.push(format!("-{cipher}"));
    for r in recipients {
        args.extend(["-recip".into(), format!("{r}.pem")]);
        match transport {
            "oaep-sha1" => args.extend(["-keyopt".into(), "rsa_padding_mode:oaep".into()]),
            "oaep-sha256" => args.extend([
                "-keyopt".into(),
                "rsa_padding_mode:oaep".into(),
                "-keyopt".into(),
                "rsa_oaep_md:sha256".into(),
                "-keyopt".into(),
                "rsa_mgf1_md:sha256".into(),
            ]),
            "ski" => args.push("-keyid".into()),
            _ => {}
        }
    }
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    openssl(&pki.dir, &refs);
    pki.dir.join(out)
}

fn bid(dir: &Path, size: usize) -> PathBuf {
    let path = dir.join("offre.pdf");
    let data: Vec<u8> = (0..size).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(&path, data).unwrap();
    path
}

fn open(home: &Home, envelope: &Path, out: &Path, extra: &[(&str, &str)], args: &[&str]) -> Output {
    let mut c = home.cli();
    c.env("TROUSSEAU_PKCS11_SYSTEM", "0");
    for (k, v) in extra {
        c.env(k, v);
    }
    c.args(["--json", "envelope", "open"]).arg(envelope).arg("--out").arg(out).args(args);
    c.output().expect("trousseau runs")
}

fn inspect(home: &Home, envelope: &Path, extra: &[(&str, &str)]) -> serde_json::Value {
    let mut c = home.cli();
    c.env("TROUSSEAU_PKCS11_SYSTEM", "0");
    for (k, v) in extra {
        c.env(k, v);
    }
    json_ok(&c.args(["--json", "envelope", "inspect"]).arg(envelope).output().expect("trousseau runs"))
}

/// Every combination OpenSSL makes — 6 content ciphers × 4 key transports (PKCS#1 v1.5, OAEP SHA-1, OAEP
/// SHA-256, recipient by subject key identifier) × DER, streamed BER, PEM and S/MIME — opens with the key in the
/// NSS database, byte for byte.
#[test]
fn openssl_envelopes_open_with_the_store_key_in_every_combination() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::test_root(&dir.path().join("pki"), "Trousseau Test CA");
    pki.leaf("agent", "Jean Dupont", "rsa", "keyEncipherment");
    let home = home_with(&pki, &["agent"]);
    let content = bid(dir.path(), 70_000);
    let want = std::fs::read(&content).unwrap();
    let mut opened = 0;
    let forms = ["der", "ber", "pem", "smime"];
    for (i, cipher) in
        ["aes-128-cbc", "aes-192-cbc", "aes-256-cbc", "des3", "aes-128-gcm", "aes-256-gcm"].iter().enumerate()
    {
        for (j, transport) in ["pkcs1", "oaep-sha1", "oaep-sha256", "ski"].iter().enumerate() {
            let form = forms[(i + j) % forms.len()];
            let name = format!("pli-{cipher}-{transport}-{form}.p7m");
            let env = encrypt(&pki, &content, &name, cipher, transport, form, &["agent"]);
            let v = inspect(&home, &env, &[]);
            let r = &v["recipients"][0];
            assert_eq!(r["reachable"], "store", "{name}: {v}");
            assert_eq!(r["holder"], "Jean Dupont", "{name}: {v}");
            let want_transport = match *transport {
                "oaep-sha1" => "rsa_oaep_sha1",
                "oaep-sha256" => "rsa_oaep_sha256",
                _ => "rsa_pkcs1v15",
            };
            assert_eq!(r["key_transport"], want_transport, "{name}: {v}");
            assert_eq!(r["ski"].is_string(), *transport == "ski", "{name}: {v}");
            let cipher_name = if *cipher == "des3" { "des-ede3-cbc" } else { cipher };
            assert_eq!(v["content_cipher"], cipher_name, "{name}: {v}");
            let out = dir.path().join(format!("{name}.out"));
            let o = open(&home, &env, &out, &[], &[]);
            let j = json_ok(&o);
            assert_eq!(j["size"], want.len(), "{name}: {j}");
            assert_eq!(std::fs::read(&out).unwrap(), want, "{name}: content differs");
            opened += 1;
        }
    }
    println!("envelopes made by openssl cms and opened with the NSS key: {opened}");
}

/// A bid is encrypted to the personal and the backup bi-clé: either key alone opens it.
#[test]
fn a_two_recipient_envelope_opens_with_either_key_alone() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::test_root(&dir.path().join("pki"), "Trousseau Test CA");
    pki.leaf("perso", "Jean Dupont", "rsa", "keyEncipherment");
    pki.leaf("secours", "Jean Dupont secours", "rsa", "keyEncipherment");
    let content = bid(dir.path(), 5_000);
    let env = encrypt(&pki, &content, "deux.p7m", "aes-256-cbc", "pkcs1", "der", &["perso", "secours"]);
    for (who, holder) in [("perso", "Jean Dupont"), ("secours", "Jean Dupont secours")] {
        let home = home_with(&pki, &[who]);
        let v = inspect(&home, &env, &[]);
        let reach: Vec<&str> =
            v["recipients"].as_array().unwrap().iter().map(|r| r["reachable"].as_str().unwrap()).collect();
        assert_eq!(reach.iter().filter(|r| **r == "store").count(), 1, "{who}: {v}");
        assert_eq!(reach.iter().filter(|r| **r == "absent").count(), 1, "{who}: {v}");
        let out = dir.path().join(format!("{who}.out"));
        let j = json_ok(&open(&home, &env, &out, &[], &[]));
        assert_eq!(j["recipient"]["holder"], holder);
        assert_eq!(std::fs::read(&out).unwrap(), std::fs::read(&content).unwrap());
    }
}

/// The key on a card (SoftHSM2 token): `inspect` names the card without any PIN; `open` asks the PIN then
/// (here from the environment), and a wrong PIN is refused with the token's words and writes nothing.
#[test]
fn a_card_key_opens_with_its_pin_and_inspect_asks_none() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::test_root(&dir.path().join("pki"), "Trousseau Test CA");
    pki.leaf("carte", "Marie Carte", "rsa", "keyEncipherment");
    let hsm = SoftHsm::new();
    hsm.init_token("Carte LuxTrust");
    hsm.import_identity("Carte LuxTrust", &softhsm::der_files(&pki.dir, "carte"), "c1", "chiffrement");
    let home = Home::new();
    crate::support::nss::create_db(&home.file("nssdb"));
    let conf = hsm.conf().display().to_string();
    let module = softhsm::module().display().to_string();
    let env_card = [("SOFTHSM2_CONF", conf.as_str()), ("TROUSSEAU_PKCS11_MODULE", module.as_str())];
    let content = bid(dir.path(), 40_000);
    // SoftHSM2 2.6.1 decrypts OAEP with SHA-1 only (DESIGN.md)
    for transport in ["pkcs1", "oaep-sha1"] {
        let env =
            encrypt(&pki, &content, &format!("carte-{transport}.p7m"), "aes-256-cbc", transport, "der", &["carte"]);
        let v = inspect(&home, &env, &env_card);
        assert_eq!(v["recipients"][0]["reachable"], "token", "{v}");
        assert_eq!(v["recipients"][0]["token"], "Carte LuxTrust", "{v}");
        assert_eq!(v["can_open"], true);
        let out = dir.path().join(format!("carte-{transport}.out"));
        let mut with_pin = env_card.to_vec();
        with_pin.push(("CARD_PIN", softhsm::USER_PIN));
        let j = json_ok(&open(&home, &env, &out, &with_pin, &["--pin-env", "CARD_PIN"]));
        assert_eq!(j["recipient"]["reachable"], "token");
        assert_eq!(std::fs::read(&out).unwrap(), std::fs::read(&content).unwrap());
    }
    let env = dir.path().join("pki").join("carte-pkcs1.p7m");
    let out = dir.path().join("wrong-pin.out");
    let mut wrong = env_card.to_vec();
    wrong.push(("CARD_PIN", "000000"));
    let o = open(&home, &env, &out, &wrong, &["--pin-env", "CARD_PIN"]);
    assert!(!o.status.success());
    assert!(json_error_code(&o).starts_with("token."), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(!out.exists(), "nothing written after a wrong PIN");
    // the card is not there: the envelope names it, and nothing opens
    let o = open(&home, &env, &out, &[], &[]);
    assert_eq!(json_error_code(&o), "envelope.no_key");
    assert!(String::from_utf8_lossy(&o.stderr).contains("Trousseau Test CA"), "{}", String::from_utf8_lossy(&o.stderr));
}

/// The card leaves the reader while it decrypts (a module in front of SoftHSM2 answers CKR_DEVICE_REMOVED and
/// then shows an empty slot: nothing here can pull a real card): the user is told the card was removed and to
/// reinsert it, and nothing is written — no output, no temporary file.
#[test]
fn a_card_pulled_out_during_decryption_is_said_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::test_root(&dir.path().join("pki"), "Trousseau Test CA");
    pki.leaf("carte", "Marie Carte", "rsa", "keyEncipherment");
    let hsm = SoftHsm::new();
    hsm.init_token("Carte LuxTrust");
    hsm.import_identity("Carte LuxTrust", &softhsm::der_files(&pki.dir, "carte"), "c1", "chiffrement");
    let pulled = crate::support::faulty::pulled_module(hsm.dir.path());
    let home = Home::new();
    crate::support::nss::create_db(&home.file("nssdb"));
    let content = bid(dir.path(), 40_000);
    let env = encrypt(&pki, &content, "carte.p7m", "aes-256-cbc", "pkcs1", "der", &["carte"]);
    let outdir = dir.path().join("sortie");
    std::fs::create_dir(&outdir).unwrap();
    let out = outdir.join("offre.pdf");
    let conf = hsm.conf().display().to_string();
    let module = pulled.display().to_string();
    let vars = [
        ("SOFTHSM2_CONF", conf.as_str()),
        ("TROUSSEAU_PKCS11_MODULE", module.as_str()),
        ("CARD_PIN", softhsm::USER_PIN),
    ];
    let v = inspect(&home, &env, &vars);
    assert_eq!(v["recipients"][0]["reachable"], "token", "the card is there before: {v}");
    let o = open(&home, &env, &out, &vars, &["--pin-env", "CARD_PIN"]);
    assert_eq!(json_error_code(&o), "token.removed", "{}", String::from_utf8_lossy(&o.stderr));
    // French by default (Home::cli), saying what happened and what to do.
    let said = String::from_utf8_lossy(&o.stderr);
    assert!(said.contains("retirée") && said.contains("Réinsérez"), "{said}");
    assert_eq!(std::fs::read_dir(&outdir).unwrap().count(), 0, "nothing written, not even a temporary file");
}

/// Truncated, damaged, foreign or non-envelope input, and an existing output: each a specific error, the output
/// folder unchanged (no partial or temporary file), an existing file byte for byte the same.
#[test]
fn refusals_are_specific_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::test_root(&dir.path().join("pki"), "Trousseau Test CA");
    pki.leaf("agent", "Jean Dupont", "rsa", "keyEncipherment");
    pki.leaf("autre", "Paul Autre", "rsa", "keyEncipherment");
    let home = home_with(&pki, &["agent"]);
    let content = bid(dir.path(), 50_000);
    let cbc = encrypt(&pki, &content, "cbc.p7m", "aes-256-cbc", "pkcs1", "der", &["agent"]);
    let gcm = encrypt(&pki, &content, "gcm.p7m", "aes-256-gcm", "pkcs1", "der", &["agent"]);
    let foreign = encrypt(&pki, &content, "autre.p7m", "aes-256-cbc", "pkcs1", "der", &["autre"]);
    let outdir = dir.path().join("sortie");
    std::fs::create_dir(&outdir).unwrap();
    let listing = || {
        let mut v: Vec<String> = std::fs::read_dir(&outdir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    let cases = |name: &str, bytes: Vec<u8>| {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    };
    let cbc_bytes = std::fs::read(&cbc).unwrap();
    let gcm_bytes = std::fs::read(&gcm).unwrap();
    let truncated = cases("tronque.p7m", cbc_bytes[..cbc_bytes.len() / 2].to_vec());
    let mut flipped = gcm_bytes.clone();
    let n = flipped.len();
    flipped[n - 100] ^= 0x40;
    let tampered = cases("modifie.p7m", flipped);
    let signed = {
        openssl(&pki.dir, &["crl2pkcs7", "-nocrl", "-certfile", "agent.pem", "-outform", "DER", "-out", "certs.p7b"]);
        pki.dir.join("certs.p7b")
    };
    let garbage = cases("bruit.p7m", b"not an envelope at all".to_vec());
    for (file, code) in [
        (&truncated, "envelope.truncated"),
        (&tampered, "envelope.not_authentic"),
        (&foreign, "envelope.no_key"),
        (&signed, "envelope.not_an_envelope"),
        (&garbage, "envelope.damaged"),
    ] {
        let o = open(&home, file, &outdir, &[], &[]);
        assert_eq!(o.status.code(), Some(1), "{}", file.display());
        assert_eq!(json_error_code(&o), code, "{}: {}", file.display(), String::from_utf8_lossy(&o.stderr));
        assert!(listing().is_empty(), "{}: left {:?}", file.display(), listing());
    }
    // an existing output is left alone unless --force
    let existing = outdir.join("cbc");
    std::fs::write(&existing, b"deja la").unwrap();
    let o = open(&home, &cbc, &outdir, &[], &[]);
    assert_eq!(json_error_code(&o), "envelope.output_exists");
    assert_eq!(std::fs::read(&existing).unwrap(), b"deja la");
    assert_eq!(listing(), vec!["cbc".to_string()]);
    json_ok(&open(&home, &cbc, &outdir, &[], &["--force"]));
    assert_eq!(std::fs::read(&existing).unwrap(), std::fs::read(&content).unwrap());
    assert_eq!(listing(), vec!["cbc".to_string()]);
}

/// opencryptoki's soft token (the second PKCS#11 implementation, which also locks PINs): the card key opens an
/// OAEP-SHA-256 envelope (SoftHSM2 cannot). Runs in the opencryptoki test group: its token is machine-global.
#[test]
fn opencryptoki_card_key_opens_an_envelope() {
    use crate::support::opencryptoki as ock;
    ock::reset_soft_token("TrousseauPli");
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::test_root(&dir.path().join("pki"), "Trousseau Test CA");
    pki.leaf("carte", "Marie Carte", "rsa", "keyEncipherment");
    // the public key too: opencryptoki hides private objects until login, the public key shows the pair is there
    let (crt, key, public) = softhsm::der_files(&pki.dir, "carte");
    for (file, kind) in [(&crt, "cert"), (&key, "privkey"), (&public, "pubkey")] {
        let out = std::process::Command::new("pkcs11-tool")
            .args(["--module", ock::MODULE, "--slot", ock::SLOT, "--login", "--pin", ock::USER_PIN, "--write-object"])
            .arg(file)
            .args(["--type", kind, "--id", "a1", "--label", "chiffrement"])
            .output()
            .expect("pkcs11-tool");
        assert!(out.status.success(), "pkcs11-tool {kind}: {}", String::from_utf8_lossy(&out.stderr));
    }
    let home = Home::new();
    crate::support::nss::create_db(&home.file("nssdb"));
    let content = bid(dir.path(), 30_000);
    let env_card = [("TROUSSEAU_PKCS11_MODULE", ock::MODULE), ("CARD_PIN", ock::USER_PIN)];
    for transport in ["pkcs1", "oaep-sha256"] {
        let env = encrypt(&pki, &content, &format!("ock-{transport}.p7m"), "aes-128-gcm", transport, "der", &["carte"]);
        let v = inspect(&home, &env, &env_card);
        assert_eq!(v["recipients"][0]["reachable"], "token", "{v}");
        let out = dir.path().join(format!("ock-{transport}.out"));
        let o = open(&home, &env, &out, &env_card, &["--pin-env", "CARD_PIN"]);
        json_ok(&o);
        assert_eq!(std::fs::read(&out).unwrap(), std::fs::read(&content).unwrap(), "{transport}");
    }
}

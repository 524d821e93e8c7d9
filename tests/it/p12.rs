//! `trousseau p12 inspect` and `trousseau::pkcs12` against OpenSSL: every PKCS#12 variant met in the field is read
//! with OpenSSL's fingerprints; files we write are re-read by `openssl pkcs12` with the key matching the
//! certificate; each kind of bad input gets its own code. Passwords reach OpenSSL through `env:` (never `pass:`
//! except for the empty password) and reach our CLI through stdin or an environment variable.

use crate::support::pki::{sha256_of, KeyAlg, Pki};
use crate::support::{json_error_code, openssl, openssl_pw, openssl_reads_p12, run_with_stdin, Home, P12Dump};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use trousseau::pkcs12::{self, Encryption, Pkcs12Error, WriteRequest};
use trousseau::Coded;

const PW: &str = "Kq7#vTz!mW2pLx9$rB-é";

/// A CA, a leaf signed by it, and the leaf's key, made by OpenSSL.
struct Fixture {
    home: Home,
}

impl Fixture {
    fn new(key_args: &[&str]) -> Fixture {
        let home = Home::new();
        let ca = Pki::new(home.path(), "/C=LU/O=Test Org/CN=Test CA", KeyAlg::Rsa2048, 30);
        ca.issue(
            "leaf",
            "/C=LU/O=Test Org/CN=Agent P12",
            key_args,
            "keyUsage=digitalSignature,keyEncipherment\nsubjectAltName=email:agent@example.lu\n",
            Some("77"),
            30,
        );
        Fixture { home }
    }

    fn dir(&self) -> &Path {
        self.home.path()
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir().join(name)
    }

    /// `openssl pkcs12 -export` with extra arguments; the password comes from the environment.
    fn export(&self, out: &str, extra: &[&str], password: &str) {
        let mut args = vec!["pkcs12", "-export", "-out", out, "-passout", "env:P12PW"];
        args.extend_from_slice(extra);
        openssl_pw(self.dir(), &args, password);
    }

    fn sha256(&self, pem: &str) -> String {
        sha256_of(self.dir(), pem)
    }

    /// `trousseau --json p12 inspect FILE --password-stdin`.
    fn inspect(&self, file: &str, password: &str) -> Result<Value, String> {
        let mut cmd = self.home.cli();
        cmd.args(["--json", "p12", "inspect"]).arg(self.path(file)).arg("--password-stdin");
        let out = run_with_stdin(cmd, password.as_bytes());
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(!stderr.contains("panicked"), "{file}: {stderr}");
        if out.status.success() {
            Ok(serde_json::from_slice(&out.stdout).expect("JSON"))
        } else {
            assert_eq!(out.status.code(), Some(1), "{file}: {stderr}");
            Err(json_error_code(&out))
        }
    }

    fn assert_reads(&self, file: &str, password: &str, certs: &[&str], keys: u64) {
        let v = self.inspect(file, password).unwrap_or_else(|code| panic!("{file}: refused with {code}"));
        assert_eq!(v["private_keys"], keys, "{file}");
        let ours: Vec<&str> =
            v["certificates"].as_array().unwrap().iter().map(|c| c["sha256"].as_str().unwrap()).collect();
        assert_eq!(ours.len(), certs.len(), "{file}");
        for pem in certs {
            assert!(ours.contains(&self.sha256(pem).as_str()), "{file}: {pem} missing");
        }
    }
}

#[test]
fn reads_every_variant_openssl_writes() {
    let f = Fixture::new(&["-newkey", "rsa:2048"]);
    let chain = ["-inkey", "leaf.key", "-in", "leaf.pem", "-certfile", "ca.pem"];
    f.export("modern.p12", &chain, PW);
    f.export("legacy.p12", &[&chain[..], &["-legacy"]].concat(), PW);
    f.export("nomac.p12", &[&chain[..], &["-nomac"]].concat(), PW);
    f.export(
        "aes-sha1mac.p12",
        &[&chain[..], &["-keypbe", "AES-256-CBC", "-certpbe", "AES-256-CBC", "-macalg", "sha1"]].concat(),
        PW,
    );
    f.export(
        "3des.p12",
        &[&chain[..], &["-keypbe", "DES-EDE3-CBC", "-certpbe", "DES-EDE3-CBC", "-macalg", "sha1"]].concat(),
        PW,
    );
    f.export("nocertenc.p12", &[&chain[..], &["-certpbe", "NONE"]].concat(), PW);
    f.export("empty-pw.p12", &chain, "");
    f.export("empty-pw-legacy.p12", &[&chain[..], &["-legacy"]].concat(), "");
    f.export("nokey.p12", &["-nokeys", "-in", "leaf.pem"], PW);
    f.export("keyonly.p12", &["-nocerts", "-inkey", "leaf.key"], PW);

    for file in ["modern.p12", "legacy.p12", "nomac.p12", "aes-sha1mac.p12", "3des.p12", "nocertenc.p12"] {
        f.assert_reads(file, PW, &["leaf.pem", "ca.pem"], 1);
    }
    f.assert_reads("empty-pw.p12", "", &["leaf.pem", "ca.pem"], 1);
    f.assert_reads("empty-pw-legacy.p12", "", &["leaf.pem", "ca.pem"], 1);
    f.assert_reads("nokey.p12", PW, &["leaf.pem"], 0);
    // Files from OpenSSL < 1.1 with a non-ASCII password took each UTF-8 byte as a character; OpenSSL 3 still reads
    // them with the real password, so must we. OpenSSL 3 writes the same bytes when given the Latin-1 reading.
    let real = "Mot-de-passe-été";
    let old_form: String = real.bytes().map(char::from).collect();
    f.export("old-utf8.p12", &chain, &old_form);
    f.export("old-utf8-legacy.p12", &[&chain[..], &["-legacy"]].concat(), &old_form);
    f.assert_reads("old-utf8.p12", real, &["leaf.pem", "ca.pem"], 1);
    f.assert_reads("old-utf8-legacy.p12", real, &["leaf.pem", "ca.pem"], 1);
    // A key without any certificate is still counted (p12-keystore's Strict policy would drop it).
    f.assert_reads("keyonly.p12", PW, &[], 1);

    // The library view: key matched to the leaf, chain ordered, require_key_and_cert.
    let c = pkcs12::read_file(&f.path("modern.p12"), PW).unwrap();
    let (key, leaf) = c.require_key_and_cert().unwrap();
    assert_eq!(leaf.sha256, f.sha256("leaf.pem"));
    assert!(key.matches(leaf));
    let leaf_index = key.certificate.unwrap();
    assert_eq!(c.chain_for(leaf_index).len(), 1);
    let nokey = pkcs12::read_file(&f.path("nokey.p12"), PW).unwrap();
    assert_eq!(nokey.require_key_and_cert().unwrap_err().code(), "pkcs12.no_private_key");
    let keyonly = pkcs12::read_file(&f.path("keyonly.p12"), PW).unwrap();
    assert_eq!(keyonly.require_key_and_cert().unwrap_err().code(), "pkcs12.no_certificate");

    // --password-env works too; the password never appears on our command line.
    let out = f
        .home
        .cli()
        .env("MY_P12_PW", PW)
        .args(["--json", "p12", "inspect"])
        .arg(f.path("legacy.p12"))
        .args(["--password-env", "MY_P12_PW"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn reads_committed_fixtures_openssl_cannot_write() {
    // Made by tests/fixtures/regenerate.sh (Python cryptography and Java keytool).
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let sha = |pem: &str| {
        let out = String::from_utf8(openssl(&dir, &["x509", "-in", pem, "-noout", "-fingerprint", "-sha256"]).stdout)
            .unwrap();
        out.trim().split_once('=').unwrap().1.replace(':', "").to_lowercase()
    };
    let want = [sha("fixture-leaf.pem"), sha("fixture-ca.pem")];
    for (file, pw) in [("nopw-zero-length.p12", ""), ("pbes2-hmacsha1.p12", "Fixture#Passw0rd")] {
        // OpenSSL reads it...
        let o = Command::new("openssl")
            .current_dir(&dir)
            .env("P", pw)
            .args(["pkcs12", "-in", file, "-nokeys", "-noout", "-passin", "env:P"])
            .output()
            .unwrap();
        assert!(o.status.success(), "openssl cannot read {file}");
        // ...so must we, with the same fingerprints and the key matched.
        let c = pkcs12::read_file(&dir.join(file), pw).unwrap_or_else(|e| panic!("{file}: {e}"));
        let mut ours: Vec<String> = c.certificates.iter().map(|c| c.sha256.clone()).collect();
        ours.sort();
        let mut theirs = want.to_vec();
        theirs.sort();
        assert_eq!(ours, theirs, "{file}");
        assert_eq!(c.keys.len(), 1, "{file}");
        assert_eq!(c.require_key_and_cert().unwrap().1.sha256, want[0], "{file}");
        assert_eq!(pkcs12::read_file(&dir.join(file), "wrong").unwrap_err().code(), "pkcs12.wrong_password", "{file}");
    }
}

#[test]
fn bad_input_gets_its_own_code() {
    let f = Fixture::new(&["-newkey", "rsa:2048"]);
    f.export("good.p12", &["-inkey", "leaf.key", "-in", "leaf.pem"], PW);
    f.export("nomac.p12", &["-inkey", "leaf.key", "-in", "leaf.pem", "-nomac"], PW);
    let good = std::fs::read(f.path("good.p12")).unwrap();
    std::fs::write(f.path("truncated.p12"), &good[..good.len() * 2 / 3]).unwrap();
    std::fs::write(f.path("empty.p12"), b"").unwrap();
    std::fs::write(
        f.path("random.p12"),
        (0..3000u32).map(|i| (i.wrapping_mul(2654435761) >> 11) as u8).collect::<Vec<_>>(),
    )
    .unwrap();
    let mut broken = good.clone();
    broken[7] = 0x31; // authSafe is no longer a SEQUENCE
    std::fs::write(f.path("corrupted.p12"), &broken).unwrap();
    openssl(f.dir(), &["x509", "-in", "leaf.pem", "-outform", "DER", "-out", "leaf.der"]);

    assert_eq!(f.inspect("good.p12", "wrong password").unwrap_err(), "pkcs12.wrong_password");
    assert_eq!(f.inspect("nomac.p12", "wrong password").unwrap_err(), "pkcs12.wrong_password");
    assert_eq!(f.inspect("truncated.p12", PW).unwrap_err(), "pkcs12.truncated");
    assert_eq!(f.inspect("empty.p12", PW).unwrap_err(), "pkcs12.empty");
    assert_eq!(f.inspect("random.p12", PW).unwrap_err(), "pkcs12.not_pkcs12");
    assert_eq!(f.inspect("corrupted.p12", PW).unwrap_err(), "pkcs12.corrupted");
    assert_eq!(f.inspect("leaf.der", PW).unwrap_err(), "pkcs12.not_pkcs12");
    assert_eq!(f.inspect("leaf.pem", PW).unwrap_err(), "pkcs12.not_pkcs12");
    assert_eq!(f.inspect("missing.p12", PW).unwrap_err(), "pkcs12.io");

    // Every truncation point is refused cleanly (never a panic, never success).
    for len in (0..good.len()).step_by(97) {
        let r = pkcs12::read(&good[..len], PW);
        assert!(r.is_err(), "truncated at {len} was accepted");
    }
    // The message says "mot de passe incorrect" in French.
    let mut cmd = f.home.cli();
    cmd.args(["p12", "inspect"]).arg(f.path("good.p12")).arg("--password-stdin");
    let out = run_with_stdin(cmd, b"nope");
    assert!(String::from_utf8_lossy(&out.stderr).to_lowercase().contains("mot de passe incorrect"));
}

fn pkcs8_of(dir: &Path, key_pem: &str) -> Vec<u8> {
    openssl(dir, &["pkcs8", "-topk8", "-nocrypt", "-in", key_pem, "-outform", "DER", "-out", "key.pk8"]);
    std::fs::read(dir.join("key.pk8")).unwrap()
}

#[test]
fn written_files_are_read_by_openssl_modern_and_legacy() {
    let f = Fixture::new(&["-newkey", "rsa:2048"]);
    let d = f.dir();
    let key = pkcs8_of(d, "leaf.key");
    let mut chain = trousseau::cert::read_file(&f.path("leaf.pem")).unwrap();
    chain.extend(trousseau::cert::read_file(&f.path("ca.pem")).unwrap());

    for (encryption, name) in [(Encryption::Modern, "ours-modern.p12"), (Encryption::Legacy, "ours-legacy.p12")] {
        let bytes = pkcs12::write(&WriteRequest {
            key_pkcs8: &key,
            chain: &chain,
            friendly_name: "Agent P12",
            password: PW,
            encryption,
        })
        .unwrap();
        std::fs::write(f.path(name), &bytes).unwrap();
        let legacy = encryption == Encryption::Legacy;
        let P12Dump { info, key_modulus, cert_modulus, .. } = openssl_reads_p12(d, &f.path(name), PW, legacy);
        assert_eq!(key_modulus, cert_modulus, "{name}: the key must match the certificate");
        if legacy {
            assert!(info.contains("MAC: sha1"), "{name}: {info}");
            assert!(info.contains("pbeWithSHA1And3-KeyTripleDES-CBC"), "{name}: {info}");
            assert!(!info.contains("PBES2"), "{name}: {info}");
            // Legacy files are for old importers: OpenSSL reads them even without -legacy (3DES is in the default provider).
        } else {
            assert!(info.contains("MAC: sha256"), "{name}: {info}");
            assert!(info.contains("PBES2, PBKDF2, AES-256-CBC"), "{name}: {info}");
            assert!(info.contains("hmacWithSHA256"), "{name}: {info}");
        }
        // The chain is inside, and our own reader agrees.
        let back = f.inspect(name, PW).unwrap();
        assert_eq!(back["private_keys"], 1);
        assert_eq!(back["certificates"].as_array().unwrap().len(), 2);
        // Wrong password on our own file.
        assert_eq!(f.inspect(name, "Wrong-password-1!").unwrap_err(), "pkcs12.wrong_password");
    }
}

#[test]
fn write_ec_key_and_refuse_mismatched_key() {
    let f = Fixture::new(&["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]);
    let d = f.dir();
    let key = pkcs8_of(d, "leaf.key");
    let leaf = trousseau::cert::read_file(&f.path("leaf.pem")).unwrap();
    let bytes = pkcs12::write(&WriteRequest {
        key_pkcs8: &key,
        chain: &leaf,
        friendly_name: "",
        password: PW,
        encryption: Encryption::Modern,
    })
    .unwrap();
    std::fs::write(f.path("ec.p12"), &bytes).unwrap();
    let o = Command::new("openssl")
        .current_dir(d)
        .env("P", PW)
        .args(["pkcs12", "-in", "ec.p12", "-nodes", "-passin", "env:P", "-out", "ec.pem"])
        .output()
        .unwrap();
    assert!(o.status.success());
    // The key in the file is the certificate's key.
    openssl(d, &["x509", "-in", "ec.pem", "-noout", "-pubkey", "-out", "cert-pub.pem"]);
    let from_key = openssl(d, &["pkey", "-in", "ec.pem", "-pubout", "-outform", "DER"]).stdout;
    let from_cert = openssl(d, &["pkey", "-pubin", "-in", "cert-pub.pem", "-outform", "DER"]).stdout;
    assert_eq!(from_key, from_cert);

    // The CA's key with the leaf's certificate: refused before anything is written.
    let ca_key = pkcs8_of(d, "ca.key");
    let err = pkcs12::write(&WriteRequest {
        key_pkcs8: &ca_key,
        chain: &leaf,
        friendly_name: "x",
        password: PW,
        encryption: Encryption::Modern,
    })
    .unwrap_err();
    assert!(matches!(err, Pkcs12Error::KeyMismatch), "{err}");
    assert_eq!(err.code(), "pkcs12.key_mismatch");
    let err = pkcs12::write(&WriteRequest {
        key_pkcs8: b"not a key",
        chain: &leaf,
        friendly_name: "x",
        password: PW,
        encryption: Encryption::Modern,
    })
    .unwrap_err();
    assert_eq!(err.code(), "pkcs12.invalid_key");
    let err = pkcs12::write(&WriteRequest {
        key_pkcs8: &key,
        chain: &[],
        friendly_name: "x",
        password: PW,
        encryption: Encryption::Modern,
    })
    .unwrap_err();
    assert_eq!(err.code(), "pkcs12.empty_chain");
}

#[test]
fn reads_nss_exports_with_indefinite_lengths() {
    // Firefox and every NSS tool export PKCS#12 as BER with indefinite lengths (and 600,000 PBKDF2 iterations);
    // p12-keystore's DER decoder refuses them, our reader must not.
    let f = Fixture::new(&["-newkey", "rsa:2048"]);
    f.export("in.p12", &["-inkey", "leaf.key", "-in", "leaf.pem", "-certfile", "ca.pem", "-name", "agent"], PW);
    let script = r#"set -e
certutil -N -d "sql:$D/nss" --empty-password
pk12util -i "$D/in.p12" -d "sql:$D/nss" -w <(printf '%s' "$P12PW") >/dev/null
pk12util -o "$D/nss.p12" -n agent -d "sql:$D/nss" -w <(printf '%s' "$P12PW") >/dev/null"#;
    std::fs::create_dir_all(f.path("nss")).unwrap();
    let o = Command::new("bash").arg("-c").arg(script).env("D", f.dir()).env("P12PW", PW).output().unwrap();
    assert!(o.status.success(), "NSS export failed: {}", String::from_utf8_lossy(&o.stderr));
    let bytes = std::fs::read(f.path("nss.p12")).unwrap();
    assert_eq!(&bytes[..2], &[0x30, 0x80], "NSS must have written an indefinite length");
    f.assert_reads("nss.p12", PW, &["leaf.pem", "ca.pem"], 1);
    let c = pkcs12::read(&bytes, PW).unwrap();
    let (key, leaf) = c.require_key_and_cert().unwrap();
    assert_eq!(leaf.sha256, f.sha256("leaf.pem"));
    assert_eq!(key.friendly_name.as_deref(), Some("agent"));
    assert_eq!(f.inspect("nss.p12", "wrong").unwrap_err(), "pkcs12.wrong_password");
}

#[test]
fn human_output_names_the_holder_and_the_key() {
    let f = Fixture::new(&["-newkey", "rsa:2048"]);
    f.export("h.p12", &["-inkey", "leaf.key", "-in", "leaf.pem", "-certfile", "ca.pem"], PW);
    let mut cmd = f.home.cli();
    cmd.env("P12_PW", PW).args(["p12", "inspect"]).arg(f.path("h.p12")).args(["--password-env", "P12_PW"]);
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("2 certificat(s), 1 clé(s) privée(s)"), "{text}");
    assert!(text.contains("[avec sa clé privée]\nAgent P12 — émis par Test CA"), "{text}");
    // No password at all (stdin closed, no terminal): a clear refusal, not a hang.
    let out = f.home.cli().args(["--json", "p12", "inspect"]).arg(f.path("h.p12")).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json_error_code(&out), "cli.no_terminal");
    // A file that is no PKCS#12 is refused before any password is asked for (no terminal here, yet not no_terminal).
    let out = f.home.cli().args(["--json", "p12", "inspect"]).arg(f.path("leaf.pem")).output().unwrap();
    assert_eq!(json_error_code(&out), "pkcs12.not_pkcs12");
}

/// Keys handed over by Windows — the RSA parts of a CryptoAPI `PRIVATEKEYBLOB`, or the encrypted PKCS#8 that CNG gives
/// for keys without plaintext export — become exactly the PKCS#8 OpenSSL writes for the same key.
#[test]
fn platform_key_parts_and_encrypted_pkcs8_give_the_pkcs8_openssl_writes() {
    let home = Home::new();
    let d = home.path();
    openssl(
        d,
        &["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-outform", "DER", "-out", "k1.der"],
    );
    // genpkey's DER is PKCS#1: OpenSSL's PKCS#8 of the same key.
    openssl(d, &["pkcs8", "-topk8", "-nocrypt", "-inform", "DER", "-in", "k1.der", "-outform", "DER", "-out", "k.der"]);
    let der = std::fs::read(d.join("k.der")).expect("key");
    // PrivateKeyInfo → its privateKey OCTET STRING → RSAPrivateKey's nine INTEGERs.
    let fields = der_children(der_children(&der)[0].1);
    let ints: Vec<&[u8]> = der_children(der_children(fields[2].1)[0].1).into_iter().map(|(_, v)| v).collect();
    assert_eq!(ints.len(), 9);
    let parts = pkcs12::RsaKeyParts {
        modulus: ints[1],
        public_exponent: ints[2],
        private_exponent: ints[3],
        prime1: ints[4],
        prime2: ints[5],
        exponent1: ints[6],
        exponent2: ints[7],
        coefficient: ints[8],
    };
    assert_eq!(*pkcs12::rsa_pkcs8(&parts), der, "rebuilt PKCS#8 = OpenSSL's");

    // The same key as CryptExportKey writes it: BLOBHEADER (PRIVATEKEYBLOB, CUR_BLOB_VERSION, CALG_RSA_KEYX),
    // RSAPUBKEY ("RSA2", 2048, e), then each part little-endian at its fixed width.
    let mut blob = vec![7u8, 2, 0, 0, 0x00, 0xa4, 0, 0];
    blob.extend_from_slice(b"RSA2");
    blob.extend_from_slice(&2048u32.to_le_bytes());
    let e = ints[2].iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b));
    blob.extend_from_slice(&e.to_le_bytes());
    for (i, width) in [(1, 256), (4, 128), (5, 128), (6, 128), (7, 128), (8, 128), (3, 256)] {
        let be: Vec<u8> = ints[i].iter().copied().skip_while(|b| *b == 0).collect();
        let mut le: Vec<u8> = be.into_iter().rev().collect();
        le.resize(width, 0);
        blob.extend_from_slice(&le);
    }
    assert_eq!(*pkcs12::rsa_pkcs8_from_cryptoapi_blob(&blob).expect("PRIVATEKEYBLOB"), der, "from the CryptoAPI blob");
    assert!(pkcs12::rsa_pkcs8_from_cryptoapi_blob(&blob[..blob.len() - 1]).is_none(), "a short blob is refused");
    assert!(pkcs12::rsa_pkcs8_from_cryptoapi_blob(&[]).is_none());

    for (name, alg) in [("pbes1.der", &["-v1", "PBE-SHA1-3DES"][..]), ("pbes2.der", &["-v2", "aes-256-cbc"][..])] {
        let mut args = vec!["pkcs8", "-topk8", "-inform", "DER", "-in", "k.der", "-outform", "DER", "-out", name];
        args.extend_from_slice(alg);
        args.extend_from_slice(&["-passout", "env:P12PW"]);
        openssl_pw(d, &args, PW);
        let epki = std::fs::read(d.join(name)).expect("encrypted key");
        assert_eq!(*pkcs12::decrypt_private_key_info(&epki, PW).expect(name), der, "{name}");
        assert!(matches!(pkcs12::decrypt_private_key_info(&epki, "wrong"), Err(Pkcs12Error::WrongPassword)), "{name}");
    }
    assert!(pkcs12::decrypt_private_key_info(b"\x30\x03\x02\x01\x00", PW).is_err());
}

/// The (tag, content) items of a DER encoding, one level deep (test support: definite lengths only).
fn der_children(mut der: &[u8]) -> Vec<(u8, &[u8])> {
    let mut out = Vec::new();
    while der.len() >= 2 {
        let tag = der[0];
        let (len, head) = match der[1] {
            n if n < 0x80 => (n as usize, 2),
            n => {
                let k = (n & 0x7f) as usize;
                (der[2..2 + k].iter().fold(0usize, |acc, b| (acc << 8) | *b as usize), 2 + k)
            }
        };
        out.push((tag, &der[head..head + len]));
        der = &der[head + len..];
    }
    out
}

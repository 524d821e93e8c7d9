//! The one test PKI, made by OpenSSL (the second implementation): a self-signed CA (`ca.pem`, `ca.key`) in a
//! directory, and the certificates it issues there. Every area builds its CA here, with its own subject.

use super::{openssl, openssl_pw};
use std::path::{Path, PathBuf};

/// Algorithm of a key OpenSSL generates.
#[derive(Clone, Copy, Debug)]
pub enum KeyAlg {
    Rsa2048,
    EcP256,
}

impl KeyAlg {
    /// `openssl req` arguments that generate such a key.
    pub fn newkey_args(self) -> &'static [&'static str] {
        match self {
            KeyAlg::Rsa2048 => &["-newkey", "rsa:2048"],
            KeyAlg::EcP256 => &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
        }
    }
}

/// A CA in `dir` and the files it issues there.
pub struct Pki {
    pub dir: PathBuf,
}

impl Pki {
    /// Makes `ca.key` (`key`) and the self-signed `ca.pem` in `dir` for `subject` (OpenSSL's form,
    /// "/C=LU/O=Test Org/CN=Test CA"), valid `days` days, marked as a CA (basicConstraints, keyCertSign).
    pub fn new(dir: &Path, subject: &str, key: KeyAlg, days: u32) -> Pki {
        std::fs::create_dir_all(dir).expect("pki dir");
        let days = days.to_string();
        let mut args = vec!["req", "-x509"];
        args.extend_from_slice(key.newkey_args());
        args.extend_from_slice(&[
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            &days,
            "-subj",
            subject,
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ]);
        openssl(dir, &args);
        Pki::at(dir)
    }

    /// The CA that [`Pki::new`] made earlier in `dir`.
    pub fn at(dir: &Path) -> Pki {
        Pki { dir: dir.to_path_buf() }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// The CA signs the request `csr` into `out` (both relative to the directory, or absolute), valid `days` days;
    /// `extra` adds `openssl x509 -req` arguments (serial, extension file, `-copy_extensions`).
    pub fn sign(&self, csr: &str, out: &str, days: u32, extra: &[&str]) {
        let days = days.to_string();
        let mut args = vec!["x509", "-req", "-in", csr, "-CA", "ca.pem", "-CAkey", "ca.key", "-days", &days];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["-out", out]);
        openssl(&self.dir, &args);
    }

    /// Issues `NAME.pem` for `subject` with a new unencrypted key `NAME.key` (`newkey`: `openssl req` key arguments),
    /// the extensions in `ext` (an extension file's text), serial `serial` (`None`: OpenSSL's serial file), valid
    /// `days` days.
    pub fn issue(&self, name: &str, subject: &str, newkey: &[&str], ext: &str, serial: Option<&str>, days: u32) {
        let key = format!("{name}.key");
        let csr = format!("{name}.csr");
        let ext_file = format!("{name}.ext");
        let mut args = vec!["req", "-new"];
        args.extend_from_slice(newkey);
        args.extend_from_slice(&["-nodes", "-keyout", &key, "-out", &csr, "-subj", subject]);
        openssl(&self.dir, &args);
        std::fs::write(self.path(&ext_file), ext).expect("ext file");
        let mut extra = match serial {
            Some(s) => vec!["-set_serial", s],
            None => vec!["-CAcreateserial"],
        };
        extra.extend_from_slice(&["-extfile", &ext_file]);
        self.sign(&csr, &format!("{name}.pem"), days, &extra);
    }

    /// The store and portal tests' root: "/C=LU/O=Trousseau Test/CN={cn}", EC P-256 (fast), ten years.
    pub fn test_root(dir: &Path, cn: &str) -> Pki {
        Pki::new(dir, &format!("/C=LU/O=Trousseau Test/CN={cn}"), KeyAlg::EcP256, 3650)
    }

    /// `NAME.key` + `NAME.pem` for "/C=LU/O=Trousseau Test/CN={cn}". `key` is `rsa` or `ec`; `key_usage` is added
    /// to digitalSignature, e.g. `keyEncipherment`; extended usages clientAuth and emailProtection.
    pub fn leaf(&self, name: &str, cn: &str, key: &str, key_usage: &str) {
        let alg = if key == "rsa" { KeyAlg::Rsa2048 } else { KeyAlg::EcP256 };
        let ext = format!(
            "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,{key_usage}\n\
             extendedKeyUsage=clientAuth,emailProtection\n"
        );
        self.issue(name, &format!("/C=LU/O=Trousseau Test/CN={cn}"), alg.newkey_args(), &ext, None, 730);
    }

    /// `NAME.p12` with the leaf, its key and the CA, password from the environment (never on argv).
    /// `extra` e.g. `["-legacy"]`, `["-nokeys"]`.
    pub fn p12(&self, name: &str, password: &str, extra: &[&str]) -> PathBuf {
        let out = format!("{name}.p12");
        let name_pem = format!("{name}.pem");
        let name_key = format!("{name}.key");
        let mut args = vec!["pkcs12", "-export", "-in", &name_pem, "-certfile", "ca.pem", "-name", name, "-out", &out];
        args.extend_from_slice(&["-passout", "env:P12PW"]);
        if !extra.contains(&"-nokeys") {
            args.extend_from_slice(&["-inkey", &name_key]);
        }
        args.extend_from_slice(extra);
        openssl_pw(&self.dir, &args, password);
        self.dir.join(out)
    }

    /// SHA-256 fingerprint (lowercase hex) of `NAME.pem`.
    pub fn sha256(&self, name: &str) -> String {
        sha256_of(&self.dir, &format!("{name}.pem"))
    }
}

/// SHA-256 fingerprint (lowercase hex) of the certificate `pem` (relative to `dir`, or absolute), as OpenSSL
/// computes it.
pub fn sha256_of(dir: &Path, pem: &str) -> String {
    let out = openssl(dir, &["x509", "-in", pem, "-noout", "-fingerprint", "-sha256"]);
    let text = String::from_utf8_lossy(&out.stdout);
    text.trim().rsplit('=').next().unwrap_or_default().replace(':', "").to_ascii_lowercase()
}

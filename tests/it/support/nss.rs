//! NSS databases and test PKI for the store tests: real `cert9.db`/`key4.db` created with `certutil`, inspected with
//! `certutil`/`modutil`, certificates and `.p12` files made by OpenSSL (the second implementation).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use sha2::Digest;

/// Creates an empty, password-less NSS database in `dir` (as Chromium's first start does).
pub fn create_db(dir: &Path) {
    std::fs::create_dir_all(dir).expect("create nssdb dir");
    let out = Command::new("certutil")
        .args(["-N", "--empty-password", "-d"])
        .arg(format!("sql:{}", dir.display()))
        .stdin(Stdio::null())
        .output()
        .expect("certutil runs (libnss3-tools)");
    assert!(out.status.success(), "certutil -N: {}", String::from_utf8_lossy(&out.stderr));
}

fn nss_tool(tool: &str, dir: &Path, args: &[&str]) -> Output {
    let db = format!("sql:{}", dir.display());
    let mut c = Command::new(tool);
    if tool == "modutil" {
        c.args(["-dbdir", &db]);
    } else {
        c.args(["-d", &db]);
    }
    c.args(args).stdin(Stdio::null()).output().unwrap_or_else(|e| panic!("{tool} runs: {e}"))
}

/// `certutil -L` output: one line per certificate nickname with its trust flags.
pub fn certutil_list(dir: &Path) -> String {
    let out = nss_tool("certutil", dir, &["-L"]);
    assert!(out.status.success(), "certutil -L: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Nicknames and trust flags from `certutil -L` (the header lines skipped).
pub fn certutil_entries(dir: &Path) -> Vec<(String, String)> {
    certutil_list(dir)
        .lines()
        .skip(4)
        .filter(|l| !l.trim().is_empty())
        .filter_map(|l| {
            let l = l.trim_end();
            let (nick, trust) = l.rsplit_once(char::is_whitespace)?;
            Some((nick.trim().to_string(), trust.to_string()))
        })
        .collect()
}

/// `certutil -K` output: the private keys (empty database: certutil exits non-zero with "no keys found").
pub fn certutil_keys(dir: &Path) -> String {
    let out = nss_tool("certutil", dir, &["-K"]);
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

/// Number of private keys `certutil -K` lists.
pub fn key_count(dir: &Path) -> usize {
    certutil_keys(dir).lines().filter(|l| l.starts_with('<')).count()
}

/// `modutil -list` output.
pub fn modutil_list(dir: &Path) -> String {
    let out = nss_tool("modutil", dir, &["-list"]);
    assert!(out.status.success(), "modutil -list: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// SHA-256 of every file in `dir`: equal maps mean the database is byte-for-byte unchanged.
pub fn hash_dir(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for e in std::fs::read_dir(dir).expect("read nssdb dir") {
        let e = e.expect("dir entry");
        if e.file_type().map(|t| t.is_file()).unwrap_or(false) {
            let bytes = std::fs::read(e.path()).expect("read db file");
            out.insert(e.file_name().to_string_lossy().into_owned(), hex::encode(sha2::Sha256::digest(&bytes)));
        }
    }
    out
}

/// A small PKI made with OpenSSL in `dir`: a root CA and end-entity certificates with their keys.
pub struct Pki {
    pub dir: PathBuf,
}

fn openssl(dir: &Path, args: &[&str]) -> Output {
    let out = Command::new("openssl").args(args).current_dir(dir).stdin(Stdio::null()).output().expect("openssl");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out
}

impl Pki {
    /// Root CA `ca.pem`/`ca.key` (EC P-256, fast) in `dir`.
    pub fn new(dir: &Path, ca_cn: &str) -> Pki {
        std::fs::create_dir_all(dir).expect("pki dir");
        openssl(dir, &["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "ca.key"]);
        openssl(
            dir,
            &[
                "req",
                "-x509",
                "-new",
                "-key",
                "ca.key",
                "-out",
                "ca.pem",
                "-days",
                "3650",
                "-subj",
                &format!("/C=LU/O=Trousseau Test/CN={ca_cn}"),
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ],
        );
        Pki { dir: dir.to_path_buf() }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// `NAME.key` + `NAME.pem` signed by the CA. `key` is `rsa` or `ec`; `key_usage` e.g. `keyEncipherment`.
    pub fn leaf(&self, name: &str, cn: &str, key: &str, key_usage: &str) {
        let key_file = format!("{name}.key");
        match key {
            "rsa" => openssl(
                &self.dir,
                &["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", &key_file],
            ),
            _ => openssl(
                &self.dir,
                &["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", &key_file],
            ),
        };
        let csr = format!("{name}.csr");
        openssl(
            &self.dir,
            &["req", "-new", "-key", &key_file, "-out", &csr, "-subj", &format!("/C=LU/O=Trousseau Test/CN={cn}")],
        );
        let ext = format!("{name}.ext");
        std::fs::write(
            self.dir.join(&ext),
            format!("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,{key_usage}\nextendedKeyUsage=clientAuth,emailProtection\n"),
        )
        .expect("ext file");
        openssl(
            &self.dir,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "730",
                "-out",
                &format!("{name}.pem"),
                "-extfile",
                &ext,
            ],
        );
    }

    /// `NAME.p12` with the leaf, its key and the CA, password from the environment (never on argv).
    /// `extra` e.g. `["-legacy"]`, `["-nokeys"]`.
    pub fn p12(&self, name: &str, password: &str, extra: &[&str]) -> PathBuf {
        let out = format!("{name}.p12");
        let mut args = vec![
            "pkcs12",
            "-export",
            "-in",
            &format!("{name}.pem"),
            "-certfile",
            "ca.pem",
            "-name",
            name,
            "-out",
            &out,
            "-passout",
            "env:P12PW",
        ]
        .into_iter()
        .map(String::from)
        .collect::<Vec<_>>();
        if !extra.contains(&"-nokeys") {
            args.extend(["-inkey".into(), format!("{name}.key")]);
        }
        args.extend(extra.iter().map(|s| s.to_string()));
        let o = Command::new("openssl")
            .args(&args)
            .env("P12PW", password)
            .current_dir(&self.dir)
            .output()
            .expect("openssl");
        assert!(o.status.success(), "openssl pkcs12 -export: {}", String::from_utf8_lossy(&o.stderr));
        self.dir.join(out)
    }

    /// SHA-256 fingerprint (lowercase hex) of `NAME.pem`.
    pub fn sha256(&self, name: &str) -> String {
        let out = openssl(&self.dir, &["x509", "-in", &format!("{name}.pem"), "-noout", "-fingerprint", "-sha256"]);
        let text = String::from_utf8_lossy(&out.stdout);
        text.trim().rsplit('=').next().unwrap_or_default().replace(':', "").to_ascii_lowercase()
    }
}

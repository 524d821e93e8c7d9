//! SoftHSM2 for the token tests: every test gets its own `SOFTHSM2_CONF` and token directory, so tests run in
//! parallel without seeing each other's tokens. PINs appear on `softhsm2-util`/`pkcs11-tool` command lines here:
//! acceptable in test setup only, never in Trousseau itself.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const SO_PIN: &str = "12345678";
pub const USER_PIN: &str = "1234";

/// SoftHSM2's module (Debian 12).
pub fn module() -> PathBuf {
    for p in ["/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so"] {
        if Path::new(p).exists() {
            return PathBuf::from(p);
        }
    }
    panic!("SoftHSM2 is not installed (scripts/deps.sh installs softhsm2)");
}

/// A private SoftHSM2 configuration with its token directory.
pub struct SoftHsm {
    pub dir: tempfile::TempDir,
}

impl SoftHsm {
    pub fn new() -> SoftHsm {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("tokens")).expect("tokendir");
        std::fs::write(
            dir.path().join("softhsm2.conf"),
            format!(
                "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n",
                dir.path().join("tokens").display()
            ),
        )
        .expect("conf");
        SoftHsm { dir }
    }

    pub fn conf(&self) -> PathBuf {
        self.dir.path().join("softhsm2.conf")
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Makes this process use this SoftHSM2 (library-API tests; nextest runs each test in its own process).
    pub fn activate(&self) {
        std::env::set_var("SOFTHSM2_CONF", self.conf());
    }

    /// Points a command (the CLI, pkcs11-tool, softhsm2-util) at this SoftHSM2 only.
    pub fn env<'a>(&self, cmd: &'a mut Command) -> &'a mut Command {
        cmd.env("SOFTHSM2_CONF", self.conf())
            .env("TROUSSEAU_PKCS11_MODULE", module())
            .env("TROUSSEAU_PKCS11_SYSTEM", "0")
    }

    /// `softhsm2-util --init-token --free --label LABEL` with the test PINs; returns the token's serial.
    pub fn init_token(&self, label: &str) -> String {
        let out = self
            .run("softhsm2-util", &["--init-token", "--free", "--label", label, "--so-pin", SO_PIN, "--pin", USER_PIN]);
        assert!(String::from_utf8_lossy(&out.stdout).contains("initialized"));
        let out = self.run("softhsm2-util", &["--show-slots"]);
        let slots = String::from_utf8_lossy(&out.stdout).to_string();
        // Blocks start at "Slot N"; the serial line comes before the label line.
        let mut serial = String::new();
        let mut current = String::new();
        for line in slots.lines() {
            let l = line.trim();
            if l.starts_with("Slot ") {
                current.clear();
            }
            if let Some(s) = l.strip_prefix("Serial number:") {
                current = s.trim().to_string();
            }
            if l.strip_prefix("Label:").map(str::trim) == Some(label) {
                serial = current.clone();
            }
        }
        serial
    }

    /// Runs a tool with this SoftHSM2's configuration; panics with its stderr if it fails.
    pub fn run(&self, tool: &str, args: &[&str]) -> Output {
        let out = Command::new(tool)
            .args(args)
            .env("SOFTHSM2_CONF", self.conf())
            .current_dir(self.dir.path())
            .output()
            .unwrap_or_else(|e| panic!("{tool} runs: {e}"));
        assert!(
            out.status.success(),
            "{tool} {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// `pkcs11-tool --module softhsm --token-label LABEL ARGS` (OpenSC's tool: the second implementation).
    pub fn pkcs11_tool(&self, label: &str, args: &[&str]) -> Output {
        let module = module();
        let mut all: Vec<&str> = vec!["--module", module.to_str().expect("utf-8 path"), "--token-label", label];
        all.extend_from_slice(args);
        self.run("pkcs11-tool", &all)
    }

    /// Writes an object with pkcs11-tool after logging in with the user PIN.
    pub fn import(&self, label: &str, file: &Path, kind: &str, id_hex: &str, object_label: &str) {
        self.pkcs11_tool(
            label,
            &[
                "--login",
                "--pin",
                USER_PIN,
                "--write-object",
                file.to_str().expect("utf-8 path"),
                "--type",
                kind,
                "--id",
                id_hex,
                "--label",
                object_label,
            ],
        );
    }

    /// Puts a certificate and its key pair, DER files `(certificate, private key, public key)`, on token `label`
    /// with CKA_ID `id_hex` and label `object_label`.
    pub fn import_identity(&self, label: &str, der: &(PathBuf, PathBuf, PathBuf), id_hex: &str, object_label: &str) {
        self.import(label, &der.0, "cert", id_hex, object_label);
        self.import(label, &der.1, "privkey", id_hex, object_label);
        self.import(label, &der.2, "pubkey", id_hex, object_label);
    }
}

/// DER copies of `NAME.pem` and its key `NAME.key` in `dir`, for [`SoftHsm::import_identity`]: `NAME.crt.der`,
/// `NAME.key.der`, `NAME.pub.der`.
pub fn der_files(dir: &Path, name: &str) -> (PathBuf, PathBuf, PathBuf) {
    let (pem, key) = (format!("{name}.pem"), format!("{name}.key"));
    let (crt_der, key_der, pub_der) = (format!("{name}.crt.der"), format!("{name}.key.der"), format!("{name}.pub.der"));
    super::openssl(dir, &["x509", "-in", &pem, "-outform", "DER", "-out", &crt_der]);
    super::openssl(dir, &["pkey", "-in", &key, "-outform", "DER", "-out", &key_der]);
    super::openssl(dir, &["pkey", "-in", &key, "-pubout", "-outform", "DER", "-out", &pub_der]);
    (dir.join(crt_der), dir.join(key_der), dir.join(pub_der))
}

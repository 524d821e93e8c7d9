//! Test support shared by all areas: the CLI binary, temporary homes, OpenSSL as the second implementation.
#![allow(dead_code)]

pub mod nss;
pub mod opencryptoki;
pub mod pcscd;
pub mod sandbox;
pub mod softhsm;
pub mod vcard;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// Path of the built `trousseau` CLI.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_trousseau"))
}

/// A private working directory with its own `TROUSSEAU_HOME` and `TROUSSEAU_NSSDB`.
pub struct Home {
    pub dir: tempfile::TempDir,
}

impl Home {
    pub fn new() -> Home {
        Home { dir: tempfile::tempdir().expect("tempdir") }
    }
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    /// A `trousseau` command with this home's environment (French messages unless the test changes it).
    pub fn cli(&self) -> Command {
        let mut c = Command::new(bin());
        c.env("TROUSSEAU_HOME", self.file("home"))
            .env("TROUSSEAU_NSSDB", self.file("nssdb"))
            .env("TROUSSEAU_LANG", "fr")
            .stdin(Stdio::null());
        c
    }
}

/// Runs `cmd`, writing `stdin` to it, and returns its output.
pub fn run_with_stdin(mut cmd: Command, stdin: &[u8]) -> Output {
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn");
    // A child that refuses its input before reading stdin (bad file, usage error) closes the pipe: not a failure.
    if let Err(e) = child.stdin.take().expect("stdin").write_all(stdin) {
        assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "write stdin: {e}");
    }
    child.wait_with_output().expect("wait")
}

/// Runs `openssl` with `args` in `dir`; panics with its stderr if it fails.
pub fn openssl(dir: &Path, args: &[&str]) -> Output {
    let out = Command::new("openssl").args(args).current_dir(dir).output().expect("openssl runs");
    assert!(out.status.success(), "openssl {:?} failed: {}", args, String::from_utf8_lossy(&out.stderr));
    out
}

/// `{"error":{"code","message"}}` on stderr → the code.
pub fn json_error_code(out: &Output) -> String {
    let text = String::from_utf8_lossy(&out.stderr);
    let start = text.find('{').unwrap_or_else(|| panic!("no JSON error in stderr: {text}"));
    let v: serde_json::Value =
        serde_json::from_str(text[start..].trim()).unwrap_or_else(|e| panic!("bad JSON error {e}: {text}"));
    v["error"]["code"].as_str().expect("error.code").to_string()
}

//! Test support shared by all areas: the CLI binary, temporary homes, OpenSSL as the second implementation.
#![allow(dead_code)]

pub mod faulty;
pub mod nss;
pub mod opencryptoki;
pub mod pcscd;
pub mod pki;
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
    /// The D-Bus session its CLI talks to, when not the test session's (see [`PrivateKeyring`]).
    pub bus: Option<String>,
}

impl Home {
    pub fn new() -> Home {
        Home { dir: tempfile::tempdir().expect("tempdir"), bus: None }
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
        if let Some(bus) = &self.bus {
            c.env("DBUS_SESSION_BUS_ADDRESS", bus);
        }
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
    openssl_env(dir, args, &[])
}

/// Runs `openssl` with `args` in `dir`, `password` in its environment as `P12PW` (arguments name it `env:P12PW`, it
/// never goes on the command line); panics with its stderr if it fails.
pub fn openssl_pw(dir: &Path, args: &[&str], password: &str) -> Output {
    openssl_env(dir, args, &[("P12PW", password)])
}

fn openssl_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let out =
        Command::new("openssl").args(args).envs(env.iter().copied()).current_dir(dir).output().expect("openssl runs");
    assert!(out.status.success(), "openssl {:?} failed: {}", args, String::from_utf8_lossy(&out.stderr));
    out
}

/// The JSON a successful command printed; panics with its output when it failed or printed something else.
pub fn json_ok(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "command failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("bad JSON {e}: {}", String::from_utf8_lossy(&out.stdout)))
}

/// `{"error":{"code","message"}}` on stderr → the code.
pub fn json_error_code(out: &Output) -> String {
    let text = String::from_utf8_lossy(&out.stderr);
    let start = text.find('{').unwrap_or_else(|| panic!("no JSON error in stderr: {text}"));
    let v: serde_json::Value =
        serde_json::from_str(text[start..].trim()).unwrap_or_else(|e| panic!("bad JSON error {e}: {text}"));
    v["error"]["code"].as_str().expect("error.code").to_string()
}

/// What OpenSSL reads in a `.p12`: `openssl pkcs12 -info -nodes` (`-legacy` when asked), the password from the
/// environment.
pub struct P12Dump {
    /// OpenSSL's `-info` report (stderr): MAC and encryption algorithms.
    pub info: String,
    /// Keys and certificates, PEM.
    pub pem: String,
    /// RSA modulus of the key and of the (first) certificate, hex.
    pub key_modulus: String,
    pub cert_modulus: String,
}

pub fn openssl_reads_p12(dir: &Path, p12: &Path, password: &str, legacy: bool) -> P12Dump {
    let mut args = vec!["pkcs12", "-in", p12.to_str().expect("UTF-8 path"), "-info", "-nodes", "-passin", "env:P12PW"];
    if legacy {
        args.push("-legacy");
    }
    let out = openssl_pw(dir, &args, password);
    let pem = String::from_utf8_lossy(&out.stdout).into_owned();
    std::fs::write(dir.join("p12-dump.pem"), &pem).expect("write dump");
    P12Dump {
        info: String::from_utf8_lossy(&out.stderr).into_owned(),
        key_modulus: rsa_modulus(dir, "rsa", "p12-dump.pem"),
        cert_modulus: rsa_modulus(dir, "x509", "p12-dump.pem"),
        pem,
    }
}

/// `openssl rsa|x509 -in FILE -noout -modulus` → the modulus in hex.
pub fn rsa_modulus(dir: &Path, kind: &str, file: &str) -> String {
    let out = openssl(dir, &[kind, "-in", file, "-noout", "-modulus"]);
    String::from_utf8_lossy(&out.stdout).trim().trim_start_matches("Modulus=").to_string()
}

/// A Secret Service of its own (a private D-Bus session with its own unlocked gnome-keyring), for tests that put the
/// keyring under heavy load: the rest of the suite keeps using the session's keyring undisturbed. Stopped on drop.
pub struct PrivateKeyring {
    pub bus: String,
    dbus_pid: u32,
    keyring: std::process::Child,
    _dir: tempfile::TempDir,
}

impl PrivateKeyring {
    pub fn start() -> PrivateKeyring {
        let dir = tempfile::tempdir().expect("tempdir");
        for d in ["home", "run"] {
            std::fs::create_dir(dir.path().join(d)).expect("mkdir");
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir.path().join("run"), std::fs::Permissions::from_mode(0o700)).expect("chmod");
        }
        let out = Command::new("dbus-daemon")
            .args(["--session", "--fork", "--print-address=1", "--print-pid=1"])
            .output()
            .expect("dbus-daemon runs");
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let mut lines = text.lines();
        let bus = lines.next().expect("bus address").trim().to_string();
        let dbus_pid: u32 = lines.next().and_then(|p| p.trim().parse().ok()).expect("dbus pid");
        // in the foreground, so that this test owns the process and stops it
        let mut keyring = Command::new("gnome-keyring-daemon")
            .args(["--foreground", "--unlock", "--components=secrets"])
            .env("DBUS_SESSION_BUS_ADDRESS", &bus)
            .env("HOME", dir.path().join("home"))
            .env("XDG_RUNTIME_DIR", dir.path().join("run"))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("gnome-keyring-daemon runs");
        {
            let mut stdin = keyring.stdin.take().expect("stdin");
            stdin.write_all(b"private-test-keyring").expect("password");
        }
        // ready once it owns the Secret Service name on that bus
        let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let owned = Command::new("dbus-send")
                .env("DBUS_SESSION_BUS_ADDRESS", &bus)
                .args([
                    "--session",
                    "--print-reply",
                    "--dest=org.freedesktop.DBus",
                    "/org/freedesktop/DBus",
                    "org.freedesktop.DBus.NameHasOwner",
                    "string:org.freedesktop.secrets",
                ])
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).contains("boolean true"))
                .unwrap_or(false);
            if owned {
                break;
            }
            assert!(std::time::Instant::now() < until, "the private gnome-keyring did not start");
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        PrivateKeyring { bus, dbus_pid, keyring, _dir: dir }
    }
}

impl Drop for PrivateKeyring {
    fn drop(&mut self) {
        let _ = self.keyring.kill();
        let _ = self.keyring.wait();
        let _ = Command::new("kill").arg(self.dbus_pid.to_string()).status();
    }
}

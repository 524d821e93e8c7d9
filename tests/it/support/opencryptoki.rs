//! opencryptoki's soft token (slot 3) for PIN-lock tests: SoftHSM2 never locks a PIN, opencryptoki does after
//! three wrong PINs. Its state is machine-global (pkcsslotd + /var/lib/opencryptoki/swtok): the tests that use
//! it live in ONE test function, and [`reset_soft_token`] brings the token back to factory state first, so the
//! test can run again (a locked user PIN, or a token left half-initialised, is simply wiped). Needs root.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub const MODULE: &str = "/usr/lib/x86_64-linux-gnu/opencryptoki/libopencryptoki.so.0";
pub const SLOT: &str = "3";
pub const SO_PIN: &str = "76543210";
pub const USER_PIN: &str = "12341234";
const DEFAULT_SO_PIN: &str = "87654321";
const SWTOK: &str = "/var/lib/opencryptoki/swtok";
const PIDFILE: &str = "/run/pkcsslotd.pid";

fn alive(pid: &str) -> bool {
    Path::new("/proc").join(pid).join("status").exists()
        && std::fs::read_to_string(Path::new("/proc").join(pid).join("status"))
            .map(|s| !s.contains("State:\tZ"))
            .unwrap_or(false)
}

fn pkcsconf(args: &[&str], stdin: Option<&str>) {
    let mut c = Command::new("pkcsconf");
    c.args(args).stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() });
    c.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = c.spawn().expect("pkcsconf runs (scripts/deps.sh installs opencryptoki)");
    if let Some(text) = stdin {
        use std::io::Write;
        child.stdin.take().expect("stdin").write_all(text.as_bytes()).expect("write");
    }
    let out = child.wait_with_output().expect("wait");
    assert!(
        out.status.success(),
        "pkcsconf {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Stops pkcsslotd (if its pid file names a live process), wipes the soft token, starts pkcsslotd again and
/// personalises the token: label `label`, SO PIN [`SO_PIN`], user PIN [`USER_PIN`] (DESIGN.md's recipe).
pub fn reset_soft_token(label: &str) {
    assert!(Path::new(MODULE).exists(), "opencryptoki is not installed (scripts/deps.sh installs it)");
    if let Ok(pid) = std::fs::read_to_string(PIDFILE) {
        let pid = pid.trim().to_string();
        if !pid.is_empty() && alive(&pid) {
            let _ = Command::new("kill").arg(&pid).status();
            let until = Instant::now() + Duration::from_secs(10);
            while alive(&pid) && Instant::now() < until {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
    for f in ["NVTOK.DAT", "MK_SO", "MK_USER"] {
        let _ = std::fs::remove_file(Path::new(SWTOK).join(f));
    }
    if let Ok(rd) = std::fs::read_dir(Path::new(SWTOK).join("TOK_OBJ")) {
        for e in rd.flatten() {
            let _ = std::fs::remove_file(e.path());
        }
    }
    let _ = std::fs::remove_file("/dev/shm/var.lib.opencryptoki.swtok");
    let st = Command::new("/usr/sbin/pkcsslotd").status().expect("pkcsslotd starts (needs root)");
    assert!(st.success(), "pkcsslotd failed to start");
    // Wait until the slot answers.
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        let ok = Command::new("pkcsconf")
            .args(["-t", "-c", SLOT])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if ok {
            break;
        }
        assert!(Instant::now() < until, "opencryptoki slot 3 does not answer");
        std::thread::sleep(Duration::from_millis(100));
    }
    pkcsconf(&["-I", "-c", SLOT, "-S", DEFAULT_SO_PIN], Some(&format!("{label}\n")));
    pkcsconf(&["-P", "-c", SLOT, "-S", DEFAULT_SO_PIN, "-n", SO_PIN], None);
    pkcsconf(&["-u", "-c", SLOT, "-S", SO_PIN, "-n", "11112222"], None);
    pkcsconf(&["-p", "-c", SLOT, "-U", "11112222", "-n", USER_PIN], None);
}

/// OpenSC's PKCS#11 spy, which logs every call into the module it wraps (`PKCS11SPY`, `PKCS11SPY_OUTPUT`).
pub fn spy() -> PathBuf {
    PathBuf::from("/usr/lib/x86_64-linux-gnu/pkcs11/pkcs11-spy.so")
}

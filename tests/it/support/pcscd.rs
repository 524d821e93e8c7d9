//! pcscd for the card tests: started here when it is not running (Debian's package scripts do not start it),
//! stopped and restarted by fault tests. One pcscd per machine (fixed socket), so every test using it is named
//! `card::…` and runs in nextest's `pcscd` group, one at a time.

use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub const SOCKET: &str = "/run/pcscd/pcscd.comm";
const PID_FILE: &str = "/run/pcscd/pcscd.pid";

/// Whether a pcscd answers on its socket.
pub fn running() -> bool {
    UnixStream::connect(SOCKET).is_ok()
}

/// Makes sure a pcscd answers (starting `pcscd --foreground` detached from the test process if needed) and waits
/// until its vpcd readers are listed.
pub fn ensure() {
    if !running() {
        start();
    }
    wait_for_readers(Duration::from_secs(10));
    // A card left by a previous (failed) test disappears once pcscd polls its closed connection.
    for reader in [super::vcard::READER0, super::vcard::READER1] {
        super::vcard::wait_card(reader, false, Duration::from_secs(10));
    }
}

/// Starts pcscd (never `--auto-exit`: it must outlive the test that started it) in its own process group, with
/// its output in a log file so that no test output pipe stays open.
pub fn start() {
    assert!(Path::new("/usr/sbin/pcscd").exists(), "pcscd is not installed: run scripts/deps.sh (apt package pcscd)");
    // A killed pcscd leaves its socket and pid file behind; pcscd refuses to start over them.
    let _ = std::fs::remove_file(SOCKET);
    let _ = std::fs::remove_file(PID_FILE);
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(std::env::temp_dir().join("trousseau-test-pcscd.log"))
        .expect("pcscd log file");
    let log2 = log.try_clone().expect("pcscd log file");
    // pcscd outlives this test and serves the next ones: it must not inherit descriptors beyond stdio, above all the
    // lock of `flock /tmp/pcscd.lock cargo nextest …` (a pcscd holding it would block every later run for good).
    let close_and_exec =
        "for fd in /proc/$$/fd/*; do n=${fd##*/}; [ \"$n\" -gt 2 ] 2>/dev/null && eval \"exec $n>&-\"; done; \
                          exec /usr/sbin/pcscd --foreground";
    let mut child = Command::new("/bin/bash")
        .args(["-c", close_and_exec])
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log2)
        .process_group(0)
        .spawn()
        .expect("start pcscd");
    // Reap it if this test process stops it; otherwise it outlives us and serves the next tests.
    std::thread::spawn(move || child.wait());
    let deadline = Instant::now() + Duration::from_secs(10);
    while !running() {
        assert!(Instant::now() < deadline, "pcscd did not open {SOCKET} within 10 s");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The pid of the running pcscd, from its pid file or from /proc.
fn pid() -> Option<u32> {
    // pcscd writes its pid file with a trailing NUL.
    let from_file = std::fs::read_to_string(PID_FILE)
        .ok()
        .and_then(|s| s.trim_matches(|c: char| c.is_whitespace() || c == '\0').parse().ok())
        .filter(|p| !is_zombie(*p));
    if from_file.is_some() {
        return from_file;
    }
    // A container's init may not reap orphans: skip the zombies of earlier pcscd runs.
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let p: u32 = e.file_name().to_str()?.parse().ok()?;
        let comm = std::fs::read_to_string(e.path().join("comm")).ok()?;
        (comm.trim() == "pcscd" && !is_zombie(p)).then_some(p)
    })
}

/// Stops pcscd (SIGTERM, then SIGKILL after 5 s) and waits until its socket no longer answers.
pub fn stop() {
    if let Some(p) = pid() {
        let _ = Command::new("kill").arg("-TERM").arg(p.to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Path::new(&format!("/proc/{p}")).exists() && !is_zombie(p) {
            if Instant::now() > deadline {
                let _ = Command::new("kill").arg("-KILL").arg(p.to_string()).status();
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while running() {
        assert!(Instant::now() < deadline, "pcscd still answers after being stopped");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn is_zombie(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| s.rsplit(')').next().is_some_and(|rest| rest.trim_start().starts_with('Z')))
        .unwrap_or(true)
}

/// Stops and starts pcscd again (fault tests).
pub fn restart() {
    stop();
    start();
    wait_for_readers(Duration::from_secs(10));
}

/// Waits until the vpcd readers are listed (`pcsc_scan`-free: asks the library through `trousseau`'s own list).
pub fn wait_for_readers(timeout: Duration) {
    let deadline = Instant::now() + timeout;
    loop {
        match trousseau::card::list() {
            Ok(r) if r.iter().any(|r| r.reader.starts_with("Virtual PCD")) => return,
            other => assert!(Instant::now() < deadline, "vpcd readers not listed within {timeout:?}: {other:?}"),
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

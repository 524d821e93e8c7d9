//! Where PKCS#11 modules run: in a helper process per module, so that a vendor module that crashes or hangs
//! cannot take Trousseau down with it.
//!
//! A binary that can serve as the helper (the CLI and the desktop app: the same executable started with the
//! hidden argument [`HELPER_ARG`] and the module's path) calls [`serve_if_asked`] first thing in `main`, then
//! [`isolate_modules`]. From then on every operation on a module is a [`Request`] sent to that module's helper
//! over its standard input, answered on its standard output ([`super::wire`]). The helper stays up between calls
//! (sessions live in it); when it dies — a segfault in the vendor code — the caller gets
//! [`TokenError::ModuleCrashed`] and the next operation starts a fresh helper; when it does not answer within
//! the operation's time limit it is killed ([`TokenError::Timeout`]). Sessions opened in a helper that is gone
//! give [`TokenError::SessionLost`].
//!
//! Without [`isolate_modules`] (library tests, examples) or with `TROUSSEAU_PKCS11_IN_PROCESS=1`, the same
//! requests run on the in-process worker thread ([`super::worker`]).

use super::wire::{read_frame, write_frame, Reply, Request};
use super::worker::{self, State};
use super::TokenError;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex, OnceLock};
use zeroize::Zeroizing;

/// The hidden first argument that makes the executable a module helper: `EXE __pkcs11-helper-1 MODULE`. The number
/// is the protocol's version: a helper of another version (the binary replaced by an update while Trousseau runs)
/// does not answer as one.
pub const HELPER_ARG: &str = "__pkcs11-helper-1";

static EXECUTABLE: OnceLock<PathBuf> = OnceLock::new();

/// Runs PKCS#11 modules in helper processes started from `exe` (which must call [`serve_if_asked`]). Ignored when
/// `TROUSSEAU_PKCS11_IN_PROCESS=1` (diagnosis, or a platform where helpers cannot start).
pub fn isolate_modules(exe: PathBuf) {
    if std::env::var_os("TROUSSEAU_PKCS11_IN_PROCESS").is_some_and(|v| v == "1") {
        return;
    }
    let _ = EXECUTABLE.set(exe);
}

/// Whether modules run in helper processes.
pub fn modules_isolated() -> bool {
    EXECUTABLE.get().is_some()
}

type Frame = std::io::Result<Option<Zeroizing<Vec<u8>>>>;

/// A running helper for one module.
struct Helper {
    child: Child,
    stdin: ChildStdin,
    replies: Receiver<Frame>,
    /// The last request's number: each answer carries its request's, so a stray frame is never taken for an answer.
    seq: u64,
}

/// A helper and what can be read of it without waiting for the call it may be serving.
struct HelperSlot {
    generation: u64,
    /// Set when the helper was killed or found dead: the slot is never used again.
    gone: AtomicBool,
    /// Held for the whole of a call: calls into one module are serialised, as PKCS#11 modules expect.
    helper: Mutex<Helper>,
}

type Slot = Arc<HelperSlot>;

static HELPERS: Mutex<Option<HashMap<PathBuf, Slot>>> = Mutex::new(None);
static GENERATION: AtomicU64 = AtomicU64::new(0);

fn spawn(exe: &Path, module: &Path) -> Result<HelperSlot, TokenError> {
    let mut cmd = crate::child::command(exe);
    cmd.arg(HELPER_ARG).arg(module).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::inherit());
    #[cfg(windows)]
    {
        use std::os::windows::process::CommandExt;
        // CREATE_NO_WINDOW: no console flashes up for a helper of the desktop app.
        cmd.creation_flags(0x0800_0000);
    }
    let mut child = cmd.spawn().map_err(|e| TokenError::Device { operation: "helper", detail: e.to_string() })?;
    let (Some(stdin), Some(mut stdout)) = (child.stdin.take(), child.stdout.take()) else {
        let _ = stop(&mut child);
        return Err(TokenError::Device { operation: "helper", detail: "no pipe to the helper".into() });
    };
    let generation = GENERATION.fetch_add(1, Ordering::SeqCst) + 1;
    let (tx, replies) = mpsc::channel::<Frame>();
    let reader = std::thread::Builder::new().name(format!("pkcs11-helper-{generation}")).spawn(move || loop {
        let frame = read_frame(&mut stdout);
        let end = !matches!(frame, Ok(Some(_)));
        if tx.send(frame).is_err() || end {
            break;
        }
    });
    if let Err(e) = reader {
        let _ = stop(&mut child);
        return Err(TokenError::Device { operation: "helper", detail: e.to_string() });
    }
    tracing::debug!("PKCS#11 helper {generation} started for {}", module.display());
    Ok(HelperSlot {
        generation,
        gone: AtomicBool::new(false),
        helper: Mutex::new(Helper { child, stdin, replies, seq: 0 }),
    })
}

/// The helper slot for `module`, started if needed. With `generation = Some(g)` the call is for a session opened
/// in helper `g`: if that helper is gone, [`TokenError::SessionLost`].
fn slot(exe: &Path, module: &Path, generation: Option<u64>) -> Result<Slot, TokenError> {
    let mut map = HELPERS.lock().unwrap_or_else(|p| p.into_inner());
    let map = map.get_or_insert_with(HashMap::new);
    if let Some(s) = map.get(module) {
        let (current, gone) = (s.generation, s.gone.load(Ordering::SeqCst));
        match generation {
            Some(g) if g != current || gone => return Err(TokenError::SessionLost),
            _ if !gone => return Ok(s.clone()),
            _ => {}
        }
    } else if generation.is_some() {
        return Err(TokenError::SessionLost);
    }
    let s = Arc::new(spawn(exe, module)?);
    map.insert(module.to_path_buf(), s.clone());
    Ok(s)
}

/// Forgets `module`'s helper if it is still helper `generation`.
fn forget(module: &Path, generation: u64) {
    let mut map = HELPERS.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(map) = map.as_mut() {
        let same = map.get(module).is_some_and(|s| s.generation == generation);
        if same {
            map.remove(module);
        }
    }
}

/// The generation that a session opened now on `module` will belong to.
pub(crate) fn current_generation(module: &Path) -> Result<u64, TokenError> {
    match EXECUTABLE.get() {
        None => worker::current_generation(),
        Some(exe) => Ok(slot(exe, module, None)?.generation),
    }
}

/// Performs `req` on `module`, in its helper process or on the worker thread.
pub(crate) fn call(module: &Path, generation: Option<u64>, req: Request) -> Result<Reply, TokenError> {
    let op = req.op();
    let Some(exe) = EXECUTABLE.get() else {
        return worker::call(op, generation, move |state| req.run(state));
    };
    // No process is started just to say that a module file is missing.
    if !module.exists() {
        return Err(TokenError::ModuleMissing { path: module.to_path_buf() });
    }
    let mut s = slot(exe, module, generation)?;
    let mut h = lock(&s);
    // Another call found this helper dead (or killed it) while we waited for it: a request that needs no session
    // goes to a fresh helper; a session's request cannot.
    if s.gone.load(Ordering::SeqCst) {
        drop(h);
        if generation.is_some() {
            return Err(TokenError::SessionLost);
        }
        s = slot(exe, module, None)?;
        h = lock(&s);
        if s.gone.load(Ordering::SeqCst) {
            return Err(TokenError::ModuleCrashed { path: module.to_path_buf(), detail: "stopped again".into() });
        }
    }
    h.seq += 1;
    let seq = h.seq;
    let sent = write_frame(&mut h.stdin, &(seq, &req));
    drop(req);
    let answer = match sent {
        Ok(()) => h.replies.recv_timeout(op.timeout()),
        Err(e) => Ok(Err(e)),
    };
    match answer {
        Ok(Ok(Some(frame))) => match serde_json::from_slice::<(u64, Result<Reply, TokenError>)>(&frame) {
            Ok((n, r)) if n == seq => {
                drop(frame);
                r
            }
            // An answer to another request (the protocol lost its step): this helper cannot be trusted any more.
            Ok(_) | Err(_) => {
                tracing::warn!("PKCS#11 helper {} sent an unreadable or stray answer: stopped", s.generation);
                end(&s, &mut h, module);
                Err(TokenError::Device { operation: "helper", detail: "unreadable answer".into() })
            }
        },
        Ok(Ok(None) | Err(_)) | Err(RecvTimeoutError::Disconnected) => {
            let detail = end(&s, &mut h, module);
            tracing::info!("PKCS#11 module {} crashed in its helper ({detail}) during {}", module.display(), op.name());
            Err(TokenError::ModuleCrashed { path: module.to_path_buf(), detail })
        }
        Err(RecvTimeoutError::Timeout) => {
            let limit = op.timeout();
            tracing::info!("PKCS#11 helper {} killed: no answer within {limit:?} ({})", s.generation, op.name());
            end(&s, &mut h, module);
            Err(TokenError::Timeout { operation: op.name(), seconds: limit.as_secs().max(1) })
        }
    }
}

/// Takes a helper for one call. A lock poisoned by a panic mid-call leaves the protocol in an unknown step: that
/// helper is ended and the caller sees it gone.
fn lock(s: &HelperSlot) -> std::sync::MutexGuard<'_, Helper> {
    match s.helper.lock() {
        Ok(h) => h,
        Err(p) => {
            let mut h = p.into_inner();
            s.gone.store(true, Ordering::SeqCst);
            let _ = stop(&mut h.child);
            h
        }
    }
}

/// Kills a helper process (if still running) and reaps it: no zombie is left behind.
fn stop(child: &mut Child) -> std::io::Result<std::process::ExitStatus> {
    let _ = child.kill();
    child.wait()
}

/// Kills (if still running) and reaps a helper; returns how it ended.
fn end(s: &HelperSlot, h: &mut Helper, module: &Path) -> String {
    s.gone.store(true, Ordering::SeqCst);
    let status = stop(&mut h.child);
    forget(module, s.generation);
    match status {
        Ok(s) => describe(s),
        Err(e) => e.to_string(),
    }
}

fn describe(s: std::process::ExitStatus) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(sig) = s.signal() {
            return format!("signal {sig}");
        }
    }
    match s.code() {
        Some(c) => format!("exit code {c}"),
        None => s.to_string(),
    }
}

/// Serves as a module helper when the process was started as one (`EXE __pkcs11-helper MODULE`): returns the
/// exit code to end with. Call it first thing in `main`, before logging or argument parsing.
pub fn serve_if_asked() -> Option<i32> {
    let mut args = std::env::args_os().skip(1);
    if args.next().is_none_or(|a| a != HELPER_ARG) {
        return None;
    }
    let Some(module) = args.next() else { return Some(64) };
    Some(serve(Path::new(&module)))
}

fn serve(module: &Path) -> i32 {
    let mut out = match protocol_output() {
        Ok(o) => o,
        Err(_) => return 70,
    };
    // Not `std::io::stdin()`: its buffer would keep a copy of the last PIN received, never wiped.
    let mut input = match protocol_input() {
        Ok(i) => i,
        Err(_) => return 70,
    };
    let mut state = State::default();
    loop {
        let frame = match read_frame(&mut input) {
            Ok(Some(f)) => f,
            // Trousseau ended (or closed the pipe): finalise the module and leave.
            Ok(None) | Err(_) => break,
        };
        let (seq, answer): (u64, Result<Reply, TokenError>) = match serde_json::from_slice::<(u64, Request)>(&frame) {
            Ok((seq, req)) if req.module().is_some_and(|m| m != module) => {
                (seq, Err(TokenError::Device { operation: "helper", detail: "request for another module".into() }))
            }
            Ok((seq, req)) => {
                let op = req.op();
                let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| req.run(&mut state))).unwrap_or_else(
                    |_| Err(TokenError::Device { operation: op.name(), detail: "internal panic".into() }),
                );
                (seq, r)
            }
            // Not a request of this protocol: stop rather than answer out of step.
            Err(_) => break,
        };
        drop(frame);
        if write_frame(&mut out, &(seq, &answer)).is_err() {
            break;
        }
    }
    state.shutdown();
    0
}

/// Standard input, unbuffered: each frame is read straight into its wiped buffer.
fn protocol_input() -> std::io::Result<std::fs::File> {
    #[cfg(unix)]
    let owned = std::os::fd::AsFd::as_fd(&std::io::stdin()).try_clone_to_owned()?;
    #[cfg(windows)]
    let owned = std::os::windows::io::AsHandle::as_handle(&std::io::stdin()).try_clone_to_owned()?;
    Ok(std::fs::File::from(owned))
}

/// The helper's answers go to the original standard output; the process's own standard output is pointed at
/// standard error, so that a vendor module printing to stdout cannot corrupt the protocol. The protocol descriptor
/// is close-on-exec: a daemon the module starts does not keep the pipe open (Trousseau would not see a crash).
#[cfg(unix)]
#[allow(unsafe_code)]
fn protocol_output() -> std::io::Result<std::fs::File> {
    use std::os::fd::FromRawFd;
    watch_parent();
    // SAFETY: plain descriptor calls on descriptors 1 and 2; the duplicate is owned by the returned File and by
    // nothing else.
    unsafe {
        let fd = libc::fcntl(1, libc::F_DUPFD_CLOEXEC, 3);
        if fd < 0 || libc::dup2(2, 1) < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(std::fs::File::from_raw_fd(fd))
    }
}

/// Ends the helper when Trousseau is gone, even while the module is stuck in a call (standard input's end is only
/// seen between calls). Polls the parent: `PR_SET_PDEATHSIG` would fire when the *thread* that started the helper
/// ends, and the desktop app starts helpers from short-lived threads.
#[cfg(unix)]
#[allow(unsafe_code)]
fn watch_parent() {
    // SAFETY: getppid has no preconditions.
    let parent = unsafe { libc::getppid() };
    let _ = std::thread::Builder::new().name("parent-watch".into()).spawn(move || loop {
        std::thread::sleep(std::time::Duration::from_millis(500));
        // SAFETY: getppid has no preconditions; _exit ends the process without running the module's atexit
        // handlers (which could wait for the stuck call).
        unsafe {
            if libc::getppid() != parent {
                libc::_exit(0);
            }
        }
    });
}

/// On Windows the protocol is the original standard output, written unbuffered (Rust's `Stdout` would keep a copy
/// of each frame in its line buffer).
#[cfg(windows)]
fn protocol_output() -> std::io::Result<std::fs::File> {
    let owned = std::os::windows::io::AsHandle::as_handle(&std::io::stdout()).try_clone_to_owned()?;
    Ok(std::fs::File::from(owned))
}

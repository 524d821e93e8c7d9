//! Every call into a vendor PKCS#11 module runs on one dedicated worker thread, with a time limit.
//!
//! Vendor middleware can hang (a card pulled out at the wrong moment, a stuck reader driver). The caller waits at
//! most the operation's time limit; on timeout it gets [`TokenError::Timeout`] and the worker is *abandoned*: the
//! next call starts a fresh worker, so the application never freezes. Sessions opened on an abandoned worker are
//! gone ([`TokenError::SessionLost`]). The worker owns all cryptoki state (modules, sessions): cryptoki sessions
//! are `Send` but not `Sync`, and keeping them on one thread also serialises calls into modules that are not
//! thread-safe.

use super::TokenError;
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::session::Session;
use cryptoki::slot::Slot;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Mutex;
use std::time::Duration;

/// What the worker is asked to do, for its time limit and for error messages.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Op {
    Probe,
    List,
    Login,
    /// Only the rcgen signer signs (feature `software-keys`).
    #[cfg_attr(not(feature = "software-keys"), allow(dead_code))]
    Sign,
    Decrypt,
    Generate,
    /// Changing or unblocking a PIN (C_SetPIN, SO login + C_InitPIN).
    SetPin,
    Close,
}

impl Op {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Op::Probe => "module start",
            Op::List => "token listing",
            Op::Login => "login",
            Op::Sign => "signature",
            Op::Decrypt => "decryption",
            Op::Generate => "key generation",
            Op::SetPin => "PIN change",
            Op::Close => "logout",
        }
    }

    /// Default limit; `TROUSSEAU_PKCS11_TIMEOUT_MS` overrides every limit (tests, slow middleware).
    pub(crate) fn timeout(self) -> Duration {
        if let Some(ms) = std::env::var("TROUSSEAU_PKCS11_TIMEOUT_MS").ok().and_then(|v| v.trim().parse::<u64>().ok()) {
            return Duration::from_millis(ms.max(1));
        }
        Duration::from_secs(match self {
            Op::Probe | Op::List => 30,
            // A PIN pad or a protected authentication path waits for the user.
            Op::Login | Op::SetPin => 120,
            Op::Sign | Op::Decrypt => 60,
            Op::Generate => 180,
            Op::Close => 10,
        })
    }
}

/// A module loaded and initialised on the worker.
struct Loaded {
    ctx: Pkcs11,
    /// Sessions using it; the module is finalised when this drops to zero.
    users: usize,
    /// `C_Initialize` said it was already initialised (by an abandoned worker): never finalise it then.
    borrowed: bool,
}

/// A logged-in session kept on the worker between calls.
pub(crate) struct OpenSession {
    pub session: Session,
    pub module: PathBuf,
    pub slot: Slot,
}

/// The worker's state: only ever touched on the worker thread.
#[derive(Default)]
pub(crate) struct State {
    modules: HashMap<PathBuf, Loaded>,
    sessions: HashMap<u64, OpenSession>,
    next_session: u64,
}

impl State {
    /// Loads and initialises `path` unless a session keeps it loaded already.
    fn acquire(&mut self, path: &Path) -> Result<Pkcs11, TokenError> {
        if let Some(l) = self.modules.get_mut(path) {
            l.users += 1;
            return Ok(l.ctx.clone());
        }
        let (ctx, borrowed) = load(path)?;
        self.modules.insert(path.to_path_buf(), Loaded { ctx: ctx.clone(), users: 1, borrowed });
        Ok(ctx)
    }

    /// Drops one user of `path`; finalises the module when none is left.
    fn release(&mut self, path: &Path) {
        let done = match self.modules.get_mut(path) {
            Some(l) => {
                l.users = l.users.saturating_sub(1);
                l.users == 0
            }
            None => false,
        };
        if done {
            if let Some(l) = self.modules.remove(path) {
                if !l.borrowed {
                    if let Err(e) = l.ctx.finalize() {
                        tracing::debug!("C_Finalize of {} failed: {e}", path.display());
                    }
                }
            }
        }
    }

    /// Runs `f` with the module at `path` initialised, finalising it afterwards unless a session still uses it.
    pub(crate) fn with_module<T>(
        &mut self,
        path: &Path,
        f: impl FnOnce(&Pkcs11) -> Result<T, TokenError>,
    ) -> Result<T, TokenError> {
        let ctx = self.acquire(path)?;
        let r = f(&ctx);
        drop(ctx);
        self.release(path);
        r
    }

    /// Keeps `session` open on the worker; returns its id. The module stays initialised until it is closed.
    pub(crate) fn open_session(
        &mut self,
        path: &Path,
        make: impl FnOnce(&Pkcs11) -> Result<(Session, Slot), TokenError>,
    ) -> Result<u64, TokenError> {
        let ctx = self.acquire(path)?;
        match make(&ctx) {
            Ok((session, slot)) => {
                self.next_session += 1;
                let id = self.next_session;
                self.sessions.insert(id, OpenSession { session, module: path.to_path_buf(), slot });
                Ok(id)
            }
            Err(e) => {
                drop(ctx);
                self.release(path);
                Err(e)
            }
        }
    }

    /// The initialised module at `path`, if a session keeps it loaded.
    pub(crate) fn module_ctx(&self, path: &Path) -> Option<Pkcs11> {
        self.modules.get(path).map(|l| l.ctx.clone())
    }

    /// Whether session `id`'s slot still holds the token with this serial number.
    pub(crate) fn still_present(&self, id: u64, serial: &str) -> bool {
        let Some(s) = self.sessions.get(&id) else { return false };
        let Some(ctx) = self.module_ctx(&s.module) else { return false };
        // Slot lists are refreshed by C_GetSlotList in several modules (SoftHSM2 among them).
        let listed = ctx.get_slots_with_token().map(|l| l.contains(&s.slot)).unwrap_or(false);
        listed && super::token_facts(&ctx, &s.module, s.slot).map(|f| f.serial == serial).unwrap_or(false)
    }

    pub(crate) fn session(&self, id: u64) -> Result<&OpenSession, TokenError> {
        self.sessions.get(&id).ok_or(TokenError::SessionLost)
    }

    /// Logs out, closes the session and releases its module.
    pub(crate) fn close_session(&mut self, id: u64) {
        if let Some(s) = self.sessions.remove(&id) {
            let _ = s.session.logout();
            let module = s.module.clone();
            drop(s);
            self.release(&module);
        }
    }

    pub(crate) fn shutdown(&mut self) {
        let ids: Vec<u64> = self.sessions.keys().copied().collect();
        for id in ids {
            self.close_session(id);
        }
        let paths: Vec<PathBuf> = self.modules.keys().cloned().collect();
        for p in paths {
            if let Some(l) = self.modules.remove(&p) {
                if !l.borrowed {
                    let _ = l.ctx.finalize();
                }
            }
        }
    }
}

/// Loads a module file and initialises it, telling apart the ways it can fail.
fn load(path: &Path) -> Result<(Pkcs11, bool), TokenError> {
    if !path.exists() {
        return Err(TokenError::ModuleMissing { path: path.to_path_buf() });
    }
    let ctx = Pkcs11::new(path).map_err(|e| match e {
        CkError::MissingSymbol(_) => TokenError::NotPkcs11 { path: path.to_path_buf() },
        CkError::LibraryLoading(e) => TokenError::NotALibrary { path: path.to_path_buf(), detail: e.to_string() },
        other => TokenError::ModuleInit { path: path.to_path_buf(), detail: other.to_string() },
    })?;
    match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(()) => Ok((ctx, false)),
        Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => Ok((ctx, true)),
        Err(e) => Err(TokenError::ModuleInit { path: path.to_path_buf(), detail: rv_text(&e) }),
    }
}

/// A short technical text for a cryptoki error (`CKR_…` name when there is one); never contains a secret.
pub(crate) fn rv_text(e: &CkError) -> String {
    match e {
        CkError::Pkcs11(rv, _) => format!("{rv:?}"),
        other => other.to_string(),
    }
}

type Job = Box<dyn FnOnce(&mut State) + Send>;

struct Handle {
    tx: mpsc::Sender<Job>,
    generation: u64,
}

static WORKER: Mutex<Option<Handle>> = Mutex::new(None);
static GENERATION: AtomicU64 = AtomicU64::new(0);

fn spawn() -> Result<Handle, TokenError> {
    let (tx, rx) = mpsc::channel::<Job>();
    let generation = GENERATION.fetch_add(1, Ordering::SeqCst) + 1;
    std::thread::Builder::new()
        .name(format!("pkcs11-worker-{generation}"))
        .spawn(move || {
            let mut state = State::default();
            while let Ok(job) = rx.recv() {
                job(&mut state);
            }
            state.shutdown();
        })
        .map_err(|e| TokenError::Device { operation: "worker", detail: e.to_string() })?;
    Ok(Handle { tx, generation })
}

/// The current worker's generation (sessions remember it), starting one if none runs.
pub(crate) fn current_generation() -> Result<u64, TokenError> {
    let mut w = WORKER.lock().unwrap_or_else(|p| p.into_inner());
    if w.is_none() {
        *w = Some(spawn()?);
    }
    Ok(w.as_ref().map(|h| h.generation).unwrap_or(0))
}

/// Runs `f` on the worker and waits at most the operation's time limit.
///
/// With `generation = Some(g)` the call is for a session opened on worker `g`: if that worker was abandoned the
/// call fails with [`TokenError::SessionLost`] instead of starting a new one.
pub(crate) fn call<T, F>(op: Op, generation: Option<u64>, f: F) -> Result<T, TokenError>
where
    T: Send + 'static,
    F: FnOnce(&mut State) -> Result<T, TokenError> + Send + 'static,
{
    let (tx, my_generation) = {
        let mut w = WORKER.lock().unwrap_or_else(|p| p.into_inner());
        match (&*w, generation) {
            (Some(h), Some(g)) if h.generation != g => return Err(TokenError::SessionLost),
            (None, Some(_)) => return Err(TokenError::SessionLost),
            _ => {}
        }
        if w.is_none() {
            *w = Some(spawn()?);
        }
        let h = w.as_ref().ok_or(TokenError::SessionLost)?;
        (h.tx.clone(), h.generation)
    };
    let (rtx, rrx) = mpsc::channel::<Result<T, TokenError>>();
    let job: Job = Box::new(move |state: &mut State| {
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(state)))
            .unwrap_or_else(|_| Err(TokenError::Device { operation: op.name(), detail: "internal panic".into() }));
        let _ = rtx.send(r);
    });
    if tx.send(job).is_err() {
        abandon(my_generation);
        return Err(TokenError::SessionLost);
    }
    let limit = op.timeout();
    match rrx.recv_timeout(limit) {
        Ok(r) => r,
        Err(RecvTimeoutError::Timeout) => {
            tracing::warn!("PKCS#11 worker {my_generation} abandoned: no answer within {limit:?} ({})", op.name());
            abandon(my_generation);
            Err(TokenError::Timeout { operation: op.name(), seconds: limit.as_secs().max(1) })
        }
        Err(RecvTimeoutError::Disconnected) => {
            abandon(my_generation);
            Err(TokenError::SessionLost)
        }
    }
}

/// Forgets worker `generation` (if it is still the current one): the next call starts a fresh worker. The
/// abandoned thread ends by itself once its stuck call returns, since nothing can send it work any more.
fn abandon(generation: u64) {
    let mut w = WORKER.lock().unwrap_or_else(|p| p.into_inner());
    if w.as_ref().map(|h| h.generation) == Some(generation) {
        *w = None;
    }
}

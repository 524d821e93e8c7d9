//! The live picture of readers, cards and tokens that the window shows, kept current by the core so that no page
//! waits for a card or a vendor module.
//!
//! Why: reading tokens goes through vendor PKCS#11 modules, and some take seconds per call (a CPS card through
//! Cryptolib, a LuxTrust card through its middleware, a module that scans every reader). Asking them each time a
//! page opens made every page as slow as the slowest module. Here the card monitor ([`crate::card::Monitor`]) is
//! followed on a thread of its own; the readers are re-read (one PC/SC status query) on every change, and the tokens
//! are probed **once per insertion or removal, in the background** (and once at start): changes that arrive while
//! a probe runs are folded into one more probe after it. The window's commands answer from this state at once,
//! with `probing` set while a probe runs, and the listener given to [`start`] tells the window when something
//! changed so that each page redraws itself.
//!
//! Only a long-lived process starts it (the desktop app). Without it ([`running`] is `None`: the CLI, the tests of
//! the command surface), callers probe directly through the same [`probe`].

use crate::card::{self, CardError, Monitor, ReaderState};
use crate::token::{self, ModuleProblem, Token, TokenCertificate, TokenError};
use serde::{Deserialize, Serialize};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::Duration;
use ts_rs::TS;

/// A token as the last probe saw it, with its certificates (public objects, read without the PIN) or why they
/// could not be read.
#[derive(Debug, Clone)]
pub struct ProbedToken {
    pub token: Token,
    /// `None` when the probe did not read certificates ([`probe`] with `certificates: false`).
    pub certificates: Option<Result<Vec<TokenCertificate>, TokenError>>,
}

/// What one probe found: every token of every discovered module, and the modules that failed (discovery or
/// listing). Language-neutral: wordings are made when a face shows it.
#[derive(Debug, Clone, Default)]
pub struct TokenProbe {
    pub tokens: Vec<ProbedToken>,
    pub problems: Vec<ModuleProblem>,
}

/// Probes the tokens now: module discovery, each module's tokens, and, with `certificates`, each token's
/// certificates. Slow modules make this slow: the window calls it on the live thread only; the CLI calls it
/// directly.
pub fn probe(certificates: bool) -> TokenProbe {
    let discovery = token::discover();
    // Wordings are remade in the reader's language when shown (see `pin_in`); French is only a placeholder here.
    let list = token::list_tokens(&discovery, crate::Lang::Fr);
    let mut problems = discovery.problems.clone();
    problems.extend(list.problems);
    let tokens = list
        .tokens
        .into_iter()
        .map(|t| {
            let certificates = certificates.then(|| {
                token::certificates(&t).map(|mut certs| {
                    certs.sort_by_key(|c| (c.role == token::KeyRole::Ca, c.key_id.clone()));
                    certs
                })
            });
            ProbedToken { token: t, certificates }
        })
        .collect();
    TokenProbe { tokens, problems }
}

/// The PIN state of a probed token worded in `lang` (the probe ran in whichever language; the flags it read are
/// the same in all of them).
pub fn pin_in(pin: &token::PinStatus, lang: crate::Lang) -> token::PinStatus {
    use token::{flags, PinState};
    let mut f = match pin.state {
        PinState::Ok => flags::USER_PIN_INITIALIZED,
        PinState::CountLow => flags::USER_PIN_INITIALIZED | flags::USER_PIN_COUNT_LOW,
        PinState::FinalTry => flags::USER_PIN_INITIALIZED | flags::USER_PIN_FINAL_TRY,
        PinState::Locked => flags::USER_PIN_INITIALIZED | flags::USER_PIN_LOCKED,
        PinState::NotInitialized => 0,
    };
    if pin.to_be_changed {
        f |= flags::USER_PIN_TO_BE_CHANGED;
    }
    if pin.protected_path {
        f |= flags::PROTECTED_AUTHENTICATION_PATH;
    }
    token::PinStatus::from_flags(f, lang)
}

/// A copy of the live state.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// Whether the PC/SC service answered at the last look.
    pub service_up: bool,
    pub readers: Vec<ReaderState>,
    /// The last finished probe; `None` until the first one ends.
    pub tokens: Option<Arc<TokenProbe>>,
    /// A probe is running (or about to): `tokens` may be about to change.
    pub probing: bool,
    /// Probes finished since start.
    pub probes: u64,
}

/// What changed, as the window is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum LiveChange {
    /// Readers or cards came or went (the readers are already current).
    Readers,
    /// A token probe started: token listings say `probing` until it finishes.
    ProbeStarted,
    /// A token probe finished: token listings are current.
    ProbeFinished,
}

/// The event the window receives (`live-state`) on every change, to redraw the pages that show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct LiveEvent {
    pub change: LiveChange,
    pub probing: bool,
    /// Probes finished since start.
    pub probes: u32,
}

type Listener = Box<dyn Fn(&LiveEvent) + Send + Sync>;

/// The running service (one per process).
pub struct Live {
    state: Mutex<Snapshot>,
    /// A probe is wanted (set by card changes and [`tokens_changed`], taken by the probe thread).
    pending: Mutex<bool>,
    wake: Condvar,
    listener: Listener,
    /// Kept for the process's lifetime: dropping it would stop the monitor thread.
    monitor: Mutex<Option<Monitor>>,
}

impl std::fmt::Debug for Live {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Live").field("state", &self.snapshot()).finish()
    }
}

static LIVE: OnceLock<Arc<Live>> = OnceLock::new();

/// The service, when this process started it.
pub fn running() -> Option<Arc<Live>> {
    LIVE.get().cloned()
}

/// Starts following readers, cards and tokens for the rest of the process; `listener` is called (on the service's
/// threads, never under its locks) on every change. A second call returns the running service and ignores its
/// listener. Waits for the PC/SC service when it is not running yet.
pub fn start(listener: impl Fn(&LiveEvent) + Send + Sync + 'static) -> Result<Arc<Live>, CardError> {
    if let Some(l) = running() {
        return Ok(l);
    }
    let live = Arc::new(Live {
        state: Mutex::new(Snapshot { service_up: false, readers: Vec::new(), tokens: None, probing: true, probes: 0 }),
        pending: Mutex::new(false),
        wake: Condvar::new(),
        listener: Box::new(listener),
        monitor: Mutex::new(None),
    });
    if LIVE.set(Arc::clone(&live)).is_err() {
        return running().ok_or(CardError::MonitorStart { detail: "live state".into() });
    }
    let spawn = |name: &str, f: Box<dyn FnOnce() + Send>| {
        std::thread::Builder::new().name(name.into()).spawn(f).map(|_| ()).map_err(|e| e.to_string())
    };
    let prober = Arc::clone(&live);
    spawn("trousseau-token-probe", Box::new(move || prober.probe_loop()))
        .map_err(|detail| CardError::MonitorStart { detail })?;
    match Monitor::start_waiting_for_service() {
        Ok((monitor, events)) => {
            *lock(&live.monitor) = Some(monitor);
            let follower = Arc::clone(&live);
            spawn("trousseau-live-cards", Box::new(move || follower.follow(&events)))
                .map_err(|detail| CardError::MonitorStart { detail })?;
        }
        Err(e) => {
            // No card events: the readers are read once, the tokens probed once.
            tracing::warn!("card monitor not started: {e}");
            live.refresh_readers();
            live.request_probe();
            return Err(e);
        }
    }
    Ok(live)
}

/// Something changed the tokens outside the card events (a PIN changed or was mistyped, the module list in the
/// settings): probe again in the background. Nothing happens without a running service.
pub fn tokens_changed() {
    if let Some(l) = running() {
        l.request_probe();
    }
}

/// Asks for a probe when dropped (after an operation that may change a token's state, whatever its outcome: a
/// wrong PIN changes the retries left).
#[derive(Debug)]
pub struct ProbeAfter;

impl Drop for ProbeAfter {
    fn drop(&mut self) {
        tokens_changed();
    }
}

/// The encryption-capable certificates with a key on a token (what the portal may offer as a bi-clé). With a
/// running service they come from its state (none before its first probe ends) unless `fresh`; otherwise the
/// tokens are read now.
pub fn encryption_certificates(fresh: bool) -> Vec<TokenCertificate> {
    let probe = match running() {
        Some(l) if !fresh => l.snapshot().tokens.unwrap_or_default(),
        _ => Arc::new(probe(true)),
    };
    probe
        .tokens
        .iter()
        .filter_map(|t| t.certificates.as_ref().and_then(|c| c.as_ref().ok()))
        .flatten()
        .filter(|c| c.certificate.encryption_capable && c.has_private_key)
        .cloned()
        .collect()
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Live {
    /// The state now (cheap: the probe is shared).
    pub fn snapshot(&self) -> Snapshot {
        lock(&self.state).clone()
    }

    fn emit(&self, change: LiveChange) {
        let (probing, probes) = {
            let s = lock(&self.state);
            (s.probing, s.probes)
        };
        (self.listener)(&LiveEvent { change, probing, probes: u32::try_from(probes).unwrap_or(u32::MAX) });
    }

    fn request_probe(&self) {
        *lock(&self.pending) = true;
        lock(&self.state).probing = true;
        self.wake.notify_all();
    }

    /// Re-reads the readers (one status query, no card connection) and tells the listener.
    fn refresh_readers(&self) {
        let (up, readers) = match card::list() {
            Ok(r) => (true, r),
            Err(CardError::ServiceUnavailable { .. }) => (false, Vec::new()),
            Err(e) => {
                tracing::debug!("reading the readers failed: {e}");
                let s = lock(&self.state);
                (s.service_up, s.readers.clone())
            }
        };
        {
            let mut s = lock(&self.state);
            s.service_up = up;
            s.readers = readers;
        }
        self.emit(LiveChange::Readers);
    }

    /// Follows the card monitor: readers re-read on every batch of events, a probe after card changes.
    fn follow(&self, events: &Receiver<card::CardEvent>) {
        // The monitor's first events describe the present (readers, then the cards in them): gather them so that
        // the start-up probe covers the cards already inserted.
        let mut first = true;
        loop {
            let quiet = if first { Duration::from_millis(150) } else { Duration::from_millis(30) };
            let mut cards_changed = false;
            let mut got = false;
            if !first {
                match events.recv() {
                    Ok(e) => {
                        got = true;
                        cards_changed |= is_card(&e);
                    }
                    Err(_) => return,
                }
            }
            // What arrives together (a reader with its card, a card swapped) is one change.
            loop {
                match events.recv_timeout(if first && !got { Duration::from_millis(500) } else { quiet }) {
                    Ok(e) => {
                        got = true;
                        cards_changed |= is_card(&e);
                    }
                    Err(RecvTimeoutError::Timeout) => break,
                    Err(RecvTimeoutError::Disconnected) => return,
                }
            }
            // The probe is asked for first, so the readers' event already says that the tokens are being read.
            if first || cards_changed {
                self.request_probe();
            }
            self.refresh_readers();
            first = false;
        }
    }

    fn probe_loop(&self) {
        loop {
            {
                let mut pending = lock(&self.pending);
                while !*pending {
                    pending = self.wake.wait(pending).unwrap_or_else(|e| e.into_inner());
                }
                *pending = false;
            }
            self.emit(LiveChange::ProbeStarted);
            let started = std::time::Instant::now();
            let found = Arc::new(probe(true));
            tracing::info!(
                "tokens probed in {} ms: {} token(s), {} module problem(s)",
                started.elapsed().as_millis(),
                found.tokens.len(),
                found.problems.len()
            );
            {
                let again = *lock(&self.pending);
                let mut s = lock(&self.state);
                s.tokens = Some(found);
                s.probes += 1;
                s.probing = again;
            }
            self.emit(LiveChange::ProbeFinished);
        }
    }
}

fn is_card(e: &card::CardEvent) -> bool {
    matches!(e.kind, card::CardEventKind::CardInserted | card::CardEventKind::CardRemoved)
}

#[cfg(test)]
mod tests {
    use super::*;
    use token::PinState;

    #[test]
    fn pin_wording_is_remade_in_each_language() {
        for state in [PinState::Ok, PinState::CountLow, PinState::FinalTry, PinState::Locked, PinState::NotInitialized]
        {
            for (to_be_changed, protected_path) in [(false, false), (true, true)] {
                let fr = token::PinStatus { state, to_be_changed, protected_path, message: String::new() };
                let de = pin_in(&fr, crate::Lang::De);
                assert_eq!((de.state, de.to_be_changed, de.protected_path), (state, to_be_changed, protected_path));
                assert!(pin_in(&de, crate::Lang::Fr).message.contains("PIN"));
                assert_ne!(de.message, pin_in(&de, crate::Lang::Fr).message);
            }
        }
    }
}

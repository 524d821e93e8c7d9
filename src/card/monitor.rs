//! The card monitor: one thread owns the blocking PC/SC wait and publishes reader and card changes.
//!
//! Why a dedicated thread: `SCardGetStatusChange` blocks until something changes, which is exactly what we want
//! (the platform wakes us; nothing polls), but it must not block the UI or an async runtime. The thread holds the
//! only waiting context; [`Monitor::stop`] ends the wait from any thread with `SCardCancel`.
//!
//! The PC/SC service can go away: pcsc-lite clients do not survive a pcscd restart, and Windows stops its service
//! when the last reader is unplugged. The monitor then reports every known card and reader as removed, waits for
//! the service with a short back-off (the only timed wait: no platform notifies a service start to plain clients),
//! and reports the readers again once it answers.

use super::{atr, card_in, establish, reader_names, CardError, Family};
use serde::Serialize;
use std::collections::BTreeMap;
use std::ffi::CString;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// What changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CardEventKind {
    ReaderAdded,
    ReaderRemoved,
    CardInserted,
    CardRemoved,
}

/// One change seen by the monitor. Card events carry the card's ATR (uppercase hex), family and display name
/// (for `card_removed`, those of the card that left); reader events carry `None` there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CardEvent {
    #[serde(rename = "event")]
    pub kind: CardEventKind,
    pub reader: String,
    pub atr: Option<String>,
    pub family: Option<Family>,
    pub name: Option<&'static str>,
}

impl CardEvent {
    fn reader(kind: CardEventKind, reader: &str) -> Self {
        CardEvent { kind, reader: reader.to_string(), atr: None, family: None, name: None }
    }

    fn card(kind: CardEventKind, reader: &str, raw_atr: &[u8]) -> Self {
        let info = atr::identify(raw_atr);
        CardEvent {
            kind,
            reader: reader.to_string(),
            atr: Some(info.atr),
            family: Some(info.family),
            name: Some(info.name),
        }
    }
}

/// State shared between the monitor thread and its handle.
struct Shared {
    stop: AtomicBool,
    service_up: AtomicBool,
    /// The context the thread is waiting on, so `stop()` can cancel the wait.
    ctx: Mutex<Option<pcsc::Context>>,
    /// Wakes the back-off sleep while the service is down.
    wake: Condvar,
    sleep_lock: Mutex<()>,
}

/// A running card monitor. Dropping it stops the thread.
pub struct Monitor {
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for Monitor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Monitor").field("service_up", &self.service_available()).finish()
    }
}

impl Monitor {
    /// Starts monitoring. Fails with [`CardError::ServiceUnavailable`] when the PC/SC service does not answer now
    /// (the CLI reports it); once started, the monitor rides out service restarts by itself.
    ///
    /// The first events describe the present: `reader_added` for every reader, then `card_inserted` for every card
    /// already inserted.
    pub fn start() -> Result<(Monitor, Receiver<CardEvent>), CardError> {
        let ctx = establish("monitor")?;
        Self::spawn(Some(ctx))
    }

    /// Starts monitoring even when the PC/SC service is not running yet (the desktop app): readers are reported
    /// when the service appears.
    pub fn start_waiting_for_service() -> Result<(Monitor, Receiver<CardEvent>), CardError> {
        Self::spawn(establish("monitor").ok())
    }

    fn spawn(first: Option<pcsc::Context>) -> Result<(Monitor, Receiver<CardEvent>), CardError> {
        let shared = Arc::new(Shared {
            stop: AtomicBool::new(false),
            service_up: AtomicBool::new(first.is_some()),
            ctx: Mutex::new(None),
            wake: Condvar::new(),
            sleep_lock: Mutex::new(()),
        });
        let (tx, rx) = channel();
        let thread_shared = Arc::clone(&shared);
        let handle = std::thread::Builder::new()
            .name("trousseau-card-monitor".into())
            .spawn(move || run(&thread_shared, &tx, first))
            .map_err(|e| CardError::MonitorStart { detail: e.to_string() })?;
        Ok((Monitor { shared, thread: Mutex::new(Some(handle)) }, rx))
    }

    /// Whether the PC/SC service answered at the monitor's last contact.
    pub fn service_available(&self) -> bool {
        self.shared.service_up.load(Ordering::SeqCst)
    }

    /// Stops the monitor and waits for its thread (promptly: the blocking wait is cancelled). Callable from any
    /// thread, any number of times; the event channel closes afterwards.
    pub fn stop(&self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        let handle = match self.thread.lock() {
            Ok(mut guard) => guard.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        };
        let Some(handle) = handle else { return };
        // `SCardCancel` only ends a wait that has begun: if the thread is between two waits, cancel again until it
        // has seen the stop flag (a few milliseconds at most).
        let deadline = Instant::now() + Duration::from_secs(5);
        while !handle.is_finished() && Instant::now() < deadline {
            self.cancel_wait();
            self.shared.wake.notify_all();
            std::thread::sleep(Duration::from_millis(5));
        }
        if handle.is_finished() {
            let _ = handle.join();
        } else {
            tracing::warn!("card monitor thread did not stop within 5 s; leaving it behind");
        }
    }

    fn cancel_wait(&self) {
        let guard = match self.shared.ctx.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some(ctx) = guard.as_ref() {
            let _ = ctx.cancel();
        }
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        self.stop();
    }
}

/// How one connection to the service ended.
enum End {
    Stopped,
    ServiceLost,
}

/// What the monitor believes is connected: reader → ATR of the card in it (`None`: empty reader).
type Known = BTreeMap<String, Option<Vec<u8>>>;

fn run(shared: &Shared, tx: &Sender<CardEvent>, mut first: Option<pcsc::Context>) {
    let mut known = Known::new();
    let mut backoff = Duration::from_millis(20);
    while !shared.stop.load(Ordering::SeqCst) {
        let ctx = match first.take() {
            Some(c) => c,
            None => match pcsc::Context::establish(pcsc::Scope::User) {
                Ok(c) => c,
                Err(_) => {
                    shared.service_up.store(false, Ordering::SeqCst);
                    sleep_unless_stopped(shared, backoff);
                    backoff = (backoff * 2).min(Duration::from_millis(500));
                    continue;
                }
            },
        };
        set_ctx(shared, Some(ctx.clone()));
        let end = if shared.stop.load(Ordering::SeqCst) { End::Stopped } else { watch(shared, &ctx, tx, &mut known) };
        set_ctx(shared, None);
        match end {
            End::Stopped => break,
            End::ServiceLost => {
                shared.service_up.store(false, Ordering::SeqCst);
                tracing::info!("PC/SC service lost; waiting for it to come back");
                for (reader, card) in std::mem::take(&mut known) {
                    if let Some(a) = card {
                        if tx.send(CardEvent::card(CardEventKind::CardRemoved, &reader, &a)).is_err() {
                            return;
                        }
                    }
                    if tx.send(CardEvent::reader(CardEventKind::ReaderRemoved, &reader)).is_err() {
                        return;
                    }
                }
                backoff = Duration::from_millis(20);
                // The old context is dead; pcsc-lite needs a fresh one, and an immediate re-establish usually
                // fails while pcscd is going down.
                sleep_unless_stopped(shared, backoff);
            }
        }
    }
}

fn set_ctx(shared: &Shared, ctx: Option<pcsc::Context>) {
    match shared.ctx.lock() {
        Ok(mut g) => *g = ctx,
        Err(poisoned) => *poisoned.into_inner() = ctx,
    }
}

fn sleep_unless_stopped(shared: &Shared, d: Duration) {
    let guard = match shared.sleep_lock.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    };
    if shared.stop.load(Ordering::SeqCst) {
        return;
    }
    let _ = shared.wake.wait_timeout(guard, d);
}

/// Watches one service connection until it is lost or the monitor is stopped (a dropped receiver counts as a
/// stop).
fn watch(shared: &Shared, ctx: &pcsc::Context, tx: &Sender<CardEvent>, known: &mut Known) -> End {
    let pnp_name: CString = pcsc::PNP_NOTIFICATION().to_owned();
    let mut states: Vec<pcsc::ReaderState> = vec![pcsc::ReaderState::new(pnp_name.clone(), pcsc::State::UNAWARE)];
    let mut pnp = true;
    let mut counts: BTreeMap<String, u32> = BTreeMap::new();
    loop {
        if shared.stop.load(Ordering::SeqCst) {
            return End::Stopped;
        }
        // Readers first (pcsc-lite: the first PnP wait may otherwise time out instead of returning).
        let names = match reader_names(ctx, "monitor") {
            Ok(n) => n,
            Err(e) => {
                tracing::debug!("listing readers failed: {e}");
                return End::ServiceLost;
            }
        };
        shared.service_up.store(true, Ordering::SeqCst);
        let mut events = Vec::new();
        // Readers that left.
        states.retain(|s| {
            let keep = s.name() == pnp_name.as_c_str() || names.iter().any(|n| n.as_c_str() == s.name());
            if !keep {
                let r = s.name().to_string_lossy().into_owned();
                if let Some(Some(a)) = known.remove(&r) {
                    events.push(CardEvent::card(CardEventKind::CardRemoved, &r, &a));
                }
                counts.remove(&r);
                events.push(CardEvent::reader(CardEventKind::ReaderRemoved, &r));
            }
            keep
        });
        // Readers that arrived: their state is unknown, so the next wait returns at once with it.
        for n in &names {
            if !states.iter().any(|s| s.name() == n.as_c_str()) {
                let r = n.to_string_lossy().into_owned();
                if !known.contains_key(&r) {
                    known.insert(r.clone(), None);
                    events.push(CardEvent::reader(CardEventKind::ReaderAdded, &r));
                }
                states.push(pcsc::ReaderState::new(n.clone(), pcsc::State::UNAWARE));
            }
        }
        // Readers the monitor knew from a previous connection that are not there any more.
        let gone: Vec<String> =
            known.keys().filter(|r| !names.iter().any(|n| n.to_string_lossy() == r.as_str())).cloned().collect();
        for r in gone {
            if let Some(Some(a)) = known.remove(&r) {
                events.push(CardEvent::card(CardEventKind::CardRemoved, &r, &a));
            }
            events.push(CardEvent::reader(CardEventKind::ReaderRemoved, &r));
        }
        if !send_all(tx, events) {
            return End::Stopped;
        }
        for s in states.iter_mut() {
            s.sync_current_state();
        }

        let timeout = if pnp { None } else { Some(Duration::from_secs(2)) };
        match ctx.get_status_change(timeout, &mut states) {
            Ok(()) => {}
            Err(pcsc::Error::Cancelled) | Err(pcsc::Error::Timeout) => continue,
            Err(pcsc::Error::UnknownReader) => continue,
            Err(e) => {
                tracing::debug!("SCardGetStatusChange failed: {e}");
                return End::ServiceLost;
            }
        }
        if shared.stop.load(Ordering::SeqCst) {
            return End::Stopped;
        }

        let mut events = Vec::new();
        for s in states.iter() {
            let ev = s.event_state();
            if s.name() == pnp_name.as_c_str() {
                if ev.intersects(pcsc::State::UNKNOWN | pcsc::State::IGNORE) && pnp {
                    // No reader hot-plug notification on this platform: re-list readers every 2 s instead.
                    tracing::info!("PC/SC PnP notification unsupported; checking readers every 2 s");
                    pnp = false;
                }
                continue;
            }
            if ev.intersects(pcsc::State::UNKNOWN | pcsc::State::IGNORE | pcsc::State::UNAVAILABLE) {
                continue; // the reader left: the next listing reports it
            }
            let r = s.name().to_string_lossy().into_owned();
            let now = card_in(s).map(|_| s.atr().to_vec());
            let count = s.event_count();
            let before = known.get(&r).cloned().flatten();
            let previous_count = counts.insert(r.clone(), count);
            match (&before, &now) {
                (None, Some(a)) => events.push(CardEvent::card(CardEventKind::CardInserted, &r, a)),
                (Some(b), None) => events.push(CardEvent::card(CardEventKind::CardRemoved, &r, b)),
                (Some(b), Some(a)) => {
                    // A different card, or the same one pulled and reinserted between two waits.
                    let swapped = previous_count.is_some_and(|p| p != count && count != 0);
                    if a != b || swapped {
                        events.push(CardEvent::card(CardEventKind::CardRemoved, &r, b));
                        events.push(CardEvent::card(CardEventKind::CardInserted, &r, a));
                    }
                }
                (None, None) => {}
            }
            known.insert(r, now);
        }
        if !pnp {
            states.retain(|s| s.name() != pnp_name.as_c_str());
        }
        if !send_all(tx, events) {
            return End::Stopped;
        }
    }
}

/// Sends the events; `false` when nobody listens any more.
fn send_all(tx: &Sender<CardEvent>, events: Vec<CardEvent>) -> bool {
    events.into_iter().all(|e| tx.send(e).is_ok())
}

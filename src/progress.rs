//! Progress of long operations (opening a 200 MB envelope), for the window's progress bar.
//!
//! The core reports as it works; whoever shows progress installs one sink at start (the desktop app forwards each
//! report as a `progress` event to the page). Without a sink (the CLI, tests) reports cost one atomic load. Reports
//! are throttled to whole-percent steps, so a sink is called at most about a hundred times per operation.

use serde::Serialize;
use std::sync::OnceLock;

/// How far an operation is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct Progress {
    /// The window command doing the work (`envelope_open`).
    pub operation: &'static str,
    /// Bytes done, out of `total`.
    #[ts(type = "number")]
    pub done: u64,
    #[ts(type = "number")]
    pub total: u64,
}

type Sink = Box<dyn Fn(Progress) + Send + Sync>;

static SINK: OnceLock<Sink> = OnceLock::new();

/// Installs the one progress sink (later calls are ignored).
pub fn set_sink(f: impl Fn(Progress) + Send + Sync + 'static) {
    let _ = SINK.set(Box::new(f));
}

/// Reports one operation's progress in whole-percent steps (only envelopes report, which builds without
/// `software-keys` lack).
#[cfg_attr(not(feature = "software-keys"), allow(dead_code))]
pub(crate) struct Reporter {
    operation: &'static str,
    total: u64,
    done: u64,
    last_percent: Option<u64>,
}

#[cfg_attr(not(feature = "software-keys"), allow(dead_code))]
impl Reporter {
    /// Starts reporting `operation` over `total` bytes (0 % is reported at once).
    pub(crate) fn new(operation: &'static str, total: u64) -> Reporter {
        let mut r = Reporter { operation, total, done: 0, last_percent: None };
        r.advance(0);
        r
    }

    /// `n` more bytes are done.
    pub(crate) fn advance(&mut self, n: u64) {
        self.done = self.done.saturating_add(n).min(self.total);
        let Some(sink) = SINK.get() else { return };
        let percent = self.done.saturating_mul(100).checked_div(self.total).unwrap_or(100);
        if self.last_percent != Some(percent) {
            self.last_percent = Some(percent);
            sink(Progress { operation: self.operation, done: self.done, total: self.total });
        }
    }

    /// The operation is done.
    pub(crate) fn finish(&mut self) {
        let rest = self.total - self.done;
        self.advance(rest);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn reports_are_throttled_to_whole_percents_and_end_at_the_total() {
        static SEEN: Mutex<Vec<Progress>> = Mutex::new(Vec::new());
        set_sink(|p| SEEN.lock().unwrap().push(p));
        let mut r = Reporter::new("test_op", 1_000_000);
        for _ in 0..10_000 {
            r.advance(50);
        }
        r.finish();
        let seen = SEEN.lock().unwrap();
        let mine: Vec<&Progress> = seen.iter().filter(|p| p.operation == "test_op").collect();
        assert!(mine.len() <= 102, "{} reports", mine.len());
        assert_eq!(mine.first().map(|p| p.done), Some(0));
        assert_eq!(mine.last().map(|p| (p.done, p.total)), Some((1_000_000, 1_000_000)));
        assert!(mine.windows(2).all(|w| w[0].done < w[1].done));
    }
}

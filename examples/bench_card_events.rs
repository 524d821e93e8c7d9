//! Benchmark: card insertion → event, Trousseau's monitor against a raw PC/SC listener, over N insertions.
//!
//! `cargo run --example bench_card_events [-- N]` (default 100) with pcscd and Debian's vsmartcard-vpcd (the
//! example starts `pcscd --foreground` when its socket is absent). A virtual card (the vpcd protocol, as in
//! `tests/it/support/vcard.rs`) is inserted into "Virtual PCD 00 00" and removed, N times. For each insertion:
//! - raw: a plain `SCardGetStatusChange` loop in its own thread watching the same reader stamps the moment the
//!   platform reports the card;
//! - trousseau: the moment `trousseau::card::Monitor`'s `card_inserted` event is received from its channel.
//!
//! pcscd learns of a vpcd card by polling it (every ~400 ms), so the absolute insertion→event time is the
//! platform's and cannot reach the old "≤ 50 ms" goal on vpcd. What Trousseau controls is what it adds on
//! top of the platform: the goal (DESIGN.md) is ≤ 5 ms at p99.

use std::ffi::CString;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};
use trousseau::card::{CardEventKind, Monitor};

const READER: &str = "Virtual PCD 00 00";
const PORT: u16 = 35963;
const ATR: [u8; 20] = [
    0x3B, 0x7F, 0x96, 0x00, 0x00, 0x80, 0x31, 0x80, 0x65, 0xB0, 0x85, 0x05, 0x00, 0x11, 0x12, 0x0F, 0xFF, 0x82, 0x90,
    0x00,
];

fn main() -> anyhow::Result<()> {
    let n: usize = std::env::args().nth(1).map(|s| s.parse()).transpose()?.unwrap_or(100);
    ensure_pcscd()?;

    // The raw listener: the platform's own report, stamped as soon as SCardGetStatusChange returns.
    let (raw_tx, raw_rx) = channel::<(bool, Instant)>();
    let raw_ctx = pcsc::Context::establish(pcsc::Scope::User)?;
    let raw_ctx2 = raw_ctx.clone();
    let raw = std::thread::spawn(move || -> anyhow::Result<()> {
        let mut states = vec![pcsc::ReaderState::new(CString::new(READER)?, pcsc::State::UNAWARE)];
        let mut present = None;
        loop {
            match raw_ctx2.get_status_change(None, &mut states) {
                Ok(()) => {}
                Err(pcsc::Error::Cancelled) => return Ok(()),
                Err(e) => return Err(e.into()),
            }
            let at = Instant::now();
            let now = states[0].event_state().contains(pcsc::State::PRESENT);
            if present != Some(now) {
                if present.is_some() && raw_tx.send((now, at)).is_err() {
                    return Ok(());
                }
                present = Some(now);
            }
            states[0].sync_current_state();
        }
    });

    let (monitor, events) = Monitor::start()?;
    let trousseau_rx = {
        let (tx, rx) = channel::<(bool, Instant)>();
        std::thread::spawn(move || {
            for e in events {
                let at = Instant::now();
                if e.reader != READER {
                    continue;
                }
                let present = match e.kind {
                    CardEventKind::CardInserted => true,
                    CardEventKind::CardRemoved => false,
                    _ => continue,
                };
                if tx.send((present, at)).is_err() {
                    return;
                }
            }
        });
        rx
    };
    // Let both settle on the initial (empty) state.
    std::thread::sleep(Duration::from_millis(300));
    drain(&raw_rx);
    drain(&trousseau_rx);

    let mut added = Vec::with_capacity(n);
    let mut raw_abs = Vec::with_capacity(n);
    let mut ours_abs = Vec::with_capacity(n);
    for i in 0..n {
        let t0 = Instant::now();
        let card = VirtualCard::insert()?;
        let raw_at = wait_for(&raw_rx, true, "raw listener", i)?;
        let ours_at = wait_for(&trousseau_rx, true, "trousseau monitor", i)?;
        raw_abs.push(ms(raw_at - t0));
        ours_abs.push(ms(ours_at - t0));
        added.push(if ours_at >= raw_at { ms(ours_at - raw_at) } else { -ms(raw_at - ours_at) });
        card.remove();
        wait_for(&raw_rx, false, "raw listener", i)?;
        wait_for(&trousseau_rx, false, "trousseau monitor", i)?;
    }
    monitor.stop();
    raw_ctx.cancel()?;
    raw.join().map_err(|_| anyhow::anyhow!("raw listener panicked"))??;

    println!("card insertion → event over {n} insertions (vpcd virtual card, reader {READER:?})");
    println!(
        "  Trousseau adds to the platform's report: median {:.3} ms, p99 {:.3} ms, max {:.3} ms   (goal: p99 ≤ 5 ms)",
        pct(&added, 50.0),
        pct(&added, 99.0),
        pct(&added, 100.0)
    );
    println!(
        "  absolute, raw SCardGetStatusChange:    median {:.1} ms, p99 {:.1} ms",
        pct(&raw_abs, 50.0),
        pct(&raw_abs, 99.0)
    );
    println!(
        "  absolute, Trousseau monitor event:     median {:.1} ms, p99 {:.1} ms",
        pct(&ours_abs, 50.0),
        pct(&ours_abs, 99.0)
    );
    println!(
        "  (the issue's absolute goal p99 ≤ 50 ms cannot hold here: pcscd polls vpcd for presence every ~400 ms, \
         so the platform itself reports a vpcd card 400–800 ms after it connects)"
    );
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn pct(v: &[f64], p: f64) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    if s.is_empty() {
        return f64::NAN;
    }
    let idx = ((p / 100.0) * (s.len() as f64 - 1.0)).round() as usize;
    s[idx.min(s.len() - 1)]
}

fn drain(rx: &Receiver<(bool, Instant)>) {
    while rx.try_recv().is_ok() {}
}

fn wait_for(rx: &Receiver<(bool, Instant)>, present: bool, who: &str, i: usize) -> anyhow::Result<Instant> {
    loop {
        let (p, at) = rx.recv_timeout(Duration::from_secs(10)).map_err(|e| {
            anyhow::anyhow!("{who}: no {} event for insertion {i}: {e}", if present { "insert" } else { "remove" })
        })?;
        if p == present {
            return Ok(at);
        }
    }
}

fn ensure_pcscd() -> anyhow::Result<()> {
    if std::os::unix::net::UnixStream::connect("/run/pcscd/pcscd.comm").is_ok() {
        return Ok(());
    }
    use std::os::unix::process::CommandExt;
    let _ = std::fs::remove_file("/run/pcscd/pcscd.comm");
    let _ = std::fs::remove_file("/run/pcscd/pcscd.pid");
    std::process::Command::new("/usr/sbin/pcscd")
        .arg("--foreground")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .process_group(0)
        .spawn()?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::os::unix::net::UnixStream::connect("/run/pcscd/pcscd.comm").is_err() {
        anyhow::ensure!(Instant::now() < deadline, "pcscd did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(500));
    Ok(())
}

/// The vpcd card protocol, minimal: answer the ATR request, ignore power control, answer APDUs with 6D00.
struct VirtualCard {
    stream: TcpStream,
    thread: std::thread::JoinHandle<()>,
}

impl VirtualCard {
    fn insert() -> anyhow::Result<VirtualCard> {
        let deadline = Instant::now() + Duration::from_secs(10);
        let stream = loop {
            match TcpStream::connect(("127.0.0.1", PORT)) {
                Ok(s) => break s,
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(e) => return Err(e.into()),
            }
        };
        stream.set_nodelay(true)?;
        let mut s = stream.try_clone()?;
        let thread = std::thread::spawn(move || loop {
            let mut len = [0u8; 2];
            if s.read_exact(&mut len).is_err() {
                return;
            }
            let mut frame = vec![0u8; usize::from(u16::from_be_bytes(len))];
            if s.read_exact(&mut frame).is_err() {
                return;
            }
            let reply: &[u8] = match frame.as_slice() {
                [0x04] => &ATR,
                [_] => continue,
                _ => &[0x6D, 0x00],
            };
            let mut out = (reply.len() as u16).to_be_bytes().to_vec();
            out.extend_from_slice(reply);
            if s.write_all(&out).is_err() {
                return;
            }
        });
        Ok(VirtualCard { stream, thread })
    }

    fn remove(self) {
        let _ = self.stream.shutdown(Shutdown::Both);
        let _ = self.thread.join();
    }
}

//! Readers and cards against the real pcscd with vsmartcard's vpcd readers and the in-repo virtual card.
//! All tests here touch the one pcscd of the machine: they run one at a time (nextest group `pcscd`).

use crate::support::vcard::{self, VirtualCard, ATR_CPS3_MASKED, ATR_CPS4, ATR_LUXTRUST, ATR_UNKNOWN, READER0};
use crate::support::{pcscd, Home};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};
use trousseau::card::{self, CardEvent, CardEventKind, Family, Monitor};
use trousseau::Coded;

/// pcscd sees a vpcd card 400–800 ms after it connects; leave room for a loaded CI machine.
const CARD_TIMEOUT: Duration = Duration::from_secs(10);

/// The next event, within `timeout`.
fn next_event(rx: &Receiver<CardEvent>, timeout: Duration) -> CardEvent {
    match rx.recv_timeout(timeout) {
        Ok(e) => e,
        Err(RecvTimeoutError::Timeout) => panic!("no card event within {timeout:?}"),
        Err(RecvTimeoutError::Disconnected) => panic!("the monitor closed its channel"),
    }
}

/// Waits for the first event matching `kind` on `reader`, skipping others (e.g. the other reader's).
fn expect_event(rx: &Receiver<CardEvent>, kind: CardEventKind, reader: &str) -> CardEvent {
    let deadline = Instant::now() + CARD_TIMEOUT;
    loop {
        let e = next_event(rx, deadline.saturating_duration_since(Instant::now()));
        if e.kind == kind && e.reader == reader {
            return e;
        }
        assert!(
            !(e.reader == reader && matches!(e.kind, CardEventKind::CardInserted | CardEventKind::CardRemoved)),
            "unexpected {e:?} while waiting for {kind:?}"
        );
    }
}

/// The start-up events: every vpcd reader added, no card inserted.
fn expect_startup(rx: &Receiver<CardEvent>) {
    let mut seen = Vec::new();
    while !(seen.iter().any(|r| r == vcard::READER0) && seen.iter().any(|r| r == vcard::READER1)) {
        let e = next_event(rx, CARD_TIMEOUT);
        assert_eq!(e.kind, CardEventKind::ReaderAdded, "{e:?}");
        seen.push(e.reader);
    }
}

/// The ATR `opensc-tool` reads from the reader (a second PC/SC client, to re-check ours).
fn opensc_atr(reader: &str) -> String {
    let out = Command::new("opensc-tool").args(["--reader", reader, "--atr"]).output().expect("opensc-tool runs");
    assert!(out.status.success(), "opensc-tool: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).split_whitespace().collect::<String>().replace(':', "").to_ascii_uppercase()
}

#[test]
fn readers_are_listed_by_api_and_cli() {
    pcscd::ensure();
    let readers = card::list().expect("list");
    let names: Vec<&str> = readers.iter().map(|r| r.reader.as_str()).collect();
    assert!(names.contains(&vcard::READER0) && names.contains(&vcard::READER1), "{names:?}");

    // Another PC/SC client sees the same readers.
    let out = Command::new("opensc-tool").arg("--list-readers").output().expect("opensc-tool");
    let text = String::from_utf8_lossy(&out.stdout);
    for n in &names {
        assert!(text.contains(n), "opensc-tool does not list {n}: {text}");
    }

    let home = Home::new();
    let out = home.cli().args(["cards", "--json"]).output().expect("run");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let listed: Vec<&str> =
        v["readers"].as_array().expect("readers").iter().filter_map(|r| r["reader"].as_str()).collect();
    assert!(listed.contains(&vcard::READER0), "{v}");
}

#[test]
fn monitor_identifies_luxtrust_cps3_and_unknown_cards() {
    pcscd::ensure();
    let (monitor, rx) = Monitor::start().expect("monitor");
    expect_startup(&rx);

    for (atr, family) in
        [(ATR_LUXTRUST, Family::LuxTrust), (ATR_CPS3_MASKED, Family::Cps3), (ATR_UNKNOWN, Family::Unknown)]
    {
        let card = VirtualCard::insert(0, atr);
        let e = expect_event(&rx, CardEventKind::CardInserted, READER0);
        assert_eq!(e.atr.as_deref(), Some(vcard::hex_upper(atr).as_str()));
        assert_eq!(e.family, Some(family), "{e:?}");

        // The one-shot listing agrees, and so does another PC/SC client.
        let listed = card::list().expect("list");
        let r0 = listed.iter().find(|r| r.reader == READER0).expect("reader 0");
        let c = r0.card.as_ref().expect("card listed");
        assert_eq!(c.family, family);
        assert_eq!(opensc_atr(READER0), c.atr);
        if family == Family::Unknown {
            assert_eq!(c.name, card::atr::UNKNOWN_NAME);
        }

        // Another program using the card (connect, command, disconnect) is not a card change.
        let session = card::connect(READER0).expect("connect");
        assert_eq!(session.transmit(&[0x00, 0xA4, 0x04, 0x00]).expect("select"), [0x90, 0x00]);
        drop(session);
        match rx.recv_timeout(Duration::from_millis(600)) {
            Err(RecvTimeoutError::Timeout) => {}
            other => panic!("spurious event while the card stayed in: {other:?}"),
        }

        card.remove();
        let e = expect_event(&rx, CardEventKind::CardRemoved, READER0);
        assert_eq!(e.family, Some(family), "removal names the card that left: {e:?}");
    }
    monitor.stop();
}

/// `trousseau cards --watch --json` as a child process, its stdout lines on a channel.
struct Watch {
    child: Child,
    lines: Receiver<String>,
}

impl Watch {
    fn start(home: &Home) -> Watch {
        let mut child = home
            .cli()
            .args(["cards", "--watch", "--json"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn watch");
        let out = child.stdout.take().expect("stdout");
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for l in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
        Watch { child, lines }
    }

    /// The next line for reader 0 with this `event`, as JSON.
    fn expect(&self, event: &str) -> serde_json::Value {
        let deadline = Instant::now() + CARD_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self.lines.recv_timeout(left).unwrap_or_else(|_| panic!("no {event} line within the timeout"));
            let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("bad line {line:?}: {e}"));
            for k in ["event", "reader", "atr", "family", "name"] {
                assert!(v.get(k).is_some(), "line lacks {k}: {line}");
            }
            if v["event"] == event && v["reader"] == READER0 {
                return v;
            }
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn watch_cli_prints_one_json_line_per_event() {
    pcscd::ensure();
    let home = Home::new();
    // A card already in the reader when the watch starts is reported right after its reader.
    let already = VirtualCard::insert(0, ATR_UNKNOWN);
    vcard::wait_card(READER0, true, CARD_TIMEOUT);
    let watch = Watch::start(&home);
    let v = watch.expect("reader_added");
    assert!(v["atr"].is_null() && v["family"].is_null(), "{v}");
    let v = watch.expect("card_inserted");
    assert_eq!((v["family"].as_str(), v["atr"].as_str()), (Some("unknown"), Some(ATR_UNKNOWN)), "{v}");
    already.remove();
    watch.expect("card_removed");

    for (atr, family) in [(ATR_CPS4, "cps4"), (ATR_CPS3_MASKED, "cps3"), (ATR_LUXTRUST, "luxtrust")] {
        let card = VirtualCard::insert(0, atr);
        let v = watch.expect("card_inserted");
        assert_eq!(v["family"], family, "{v}");
        assert_eq!(v["atr"], vcard::hex_upper(atr), "{v}");
        assert!(v["name"].as_str().is_some_and(|n| !n.is_empty()), "{v}");
        card.remove();
        let v = watch.expect("card_removed");
        assert_eq!(v["family"], family, "{v}");
    }
}

/// User + system CPU time (clock ticks) of this process's card monitor thread.
fn monitor_cpu_ticks() -> u64 {
    let tasks = std::fs::read_dir("/proc/self/task").expect("/proc/self/task");
    for t in tasks.flatten() {
        let comm = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
        if comm.trim() == "trousseau-card-" {
            let stat = std::fs::read_to_string(t.path().join("stat")).expect("stat");
            let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
            // After "pid (comm)", utime and stime are fields 14 and 15 of stat(5), i.e. indexes 11 and 12 here.
            return fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime");
        }
    }
    panic!("no card monitor thread in this process");
}

#[test]
fn stop_ends_the_monitor_promptly_from_another_thread() {
    pcscd::ensure();
    let (monitor, rx) = Monitor::start().expect("monitor");
    expect_startup(&rx);
    // The monitor thread is now blocked in SCardGetStatusChange with no timeout: idle, it burns no CPU (no
    // polling, and the PnP entry does not make the wait return at once).
    let before = monitor_cpu_ticks();
    std::thread::sleep(Duration::from_secs(1));
    let used = monitor_cpu_ticks() - before;
    assert!(used <= 2, "the idle monitor thread used {used} CPU ticks in 1 s");
    let monitor = std::sync::Arc::new(monitor);
    let m = std::sync::Arc::clone(&monitor);
    let t0 = Instant::now();
    std::thread::spawn(move || m.stop()).join().expect("stop thread");
    let took = t0.elapsed();
    assert!(took < Duration::from_millis(1500), "stop() took {took:?}");
    // The channel closes once the thread has ended.
    match rx.recv_timeout(Duration::from_secs(1)) {
        Err(RecvTimeoutError::Disconnected) => {}
        other => panic!("channel still open after stop: {other:?}"),
    }
    monitor.stop(); // idempotent
}

#[test]
fn monitor_survives_a_pcscd_restart() {
    pcscd::ensure();
    let (monitor, rx) = Monitor::start().expect("monitor");
    expect_startup(&rx);
    let card = VirtualCard::insert(0, ATR_LUXTRUST);
    expect_event(&rx, CardEventKind::CardInserted, READER0);

    pcscd::stop();
    // Everything the service knew is gone: the card, then the reader.
    let e = expect_event(&rx, CardEventKind::CardRemoved, READER0);
    assert_eq!(e.family, Some(Family::LuxTrust));
    expect_event(&rx, CardEventKind::ReaderRemoved, READER0);
    drop(card); // its vpcd connection died with pcscd

    pcscd::start();
    expect_event(&rx, CardEventKind::ReaderAdded, READER0);
    assert!(monitor.service_available());
    let card = VirtualCard::insert(0, ATR_CPS4);
    let e = expect_event(&rx, CardEventKind::CardInserted, READER0);
    assert_eq!(e.family, Some(Family::Cps4));
    card.remove();
    expect_event(&rx, CardEventKind::CardRemoved, READER0);
    monitor.stop();
    pcscd::wait_for_readers(CARD_TIMEOUT);
}

#[test]
fn card_removed_during_an_operation_gives_a_typed_error_then_works_again() {
    pcscd::ensure();
    // No card: a clear error.
    let err = card::connect(READER0).expect_err("empty reader");
    assert_eq!(err.code(), "card.no_card", "{err:?}");
    let err = card::connect("No Such Reader 00 00").expect_err("unknown reader");
    assert_eq!(err.code(), "card.reader_not_found", "{err:?}");

    let vc = VirtualCard::insert(0, ATR_LUXTRUST);
    vcard::wait_card(READER0, true, CARD_TIMEOUT);
    let session = card::connect(READER0).expect("connect");
    assert_eq!(session.info().family, Family::LuxTrust);
    assert_eq!(session.transmit(&[0x00, 0xA4, 0x04, 0x00, 0x02, 0x3F, 0x00]).expect("select"), [0x90, 0x00]);
    assert_eq!(session.transmit(&[0x00, 0x12, 0x00, 0x00]).expect("unknown ins"), [0x6D, 0x00]);

    // A command the card does not answer, and the card pulled out meanwhile.
    let stalled = std::thread::spawn(move || {
        let r = session.transmit(&[0x00, vcard::INS_STALL, 0x00, 0x00]);
        (r, session)
    });
    let deadline = Instant::now() + CARD_TIMEOUT;
    while !vc.apdus().iter().any(|a| a.get(1) == Some(&vcard::INS_STALL)) {
        assert!(Instant::now() < deadline, "the stalled command never reached the card");
        std::thread::sleep(Duration::from_millis(10));
    }
    vc.remove();
    let (r, session) = stalled.join().expect("transmit thread");
    let err = r.expect_err("transmit during removal fails");
    assert_eq!(err.code(), "card.removed", "{err:?}");
    assert!(err.message(trousseau::Lang::Fr).contains("retirée"), "{}", err.message(trousseau::Lang::Fr));
    // The old session stays failed with the same clear error…
    let err = session.transmit(&[0x00, 0xA4, 0x04, 0x00]).expect_err("card is gone");
    assert_eq!(err.code(), "card.removed", "{err:?}");
    drop(session);

    // …and the next operation on a new card works.
    let vc = VirtualCard::insert(0, ATR_CPS4);
    vcard::wait_card(READER0, true, CARD_TIMEOUT);
    let session = card::connect(READER0).expect("connect again");
    assert_eq!(session.info().family, Family::Cps4);
    assert_eq!(session.transmit(&[0x00, 0xB0, 0x00, 0x00, 0x04]).expect("read"), [0xCA, 0xFE, 0xBA, 0xBE, 0x90, 0x00]);
    drop(session);
    vc.remove();
    vcard::wait_card(READER0, false, CARD_TIMEOUT);
}

#[test]
fn no_pcscd_gives_a_clear_error() {
    // PCSCLITE_CSOCK_NAME points the client library at a socket nobody serves: the same as pcscd not running,
    // without disturbing the machine's pcscd.
    let home = Home::new();
    let missing = home.file("no-pcscd.comm");
    for (lang, words) in [("fr", "le service de cartes à puce (pcscd) ne répond pas"), ("en", "does not respond")] {
        for args in [&["cards", "--json"][..], &["cards", "--watch", "--json"][..]] {
            let out = home
                .cli()
                .env("PCSCLITE_CSOCK_NAME", &missing)
                .env("TROUSSEAU_LANG", lang)
                .args(args)
                .output()
                .expect("run");
            assert_eq!(out.status.code(), Some(1), "{args:?}");
            assert_eq!(crate::support::json_error_code(&out), "card.service_unavailable");
            let stderr = String::from_utf8_lossy(&out.stderr).to_lowercase();
            assert!(stderr.contains(words), "{lang}: {stderr}");
            assert!(out.stdout.is_empty(), "nothing on stdout: {}", String::from_utf8_lossy(&out.stdout));
        }
    }
}

#[test]
fn monitor_waits_for_a_service_that_starts_later() {
    pcscd::ensure();
    pcscd::stop();
    // Strict start (the CLI): a clear, typed error.
    let err = Monitor::start().expect_err("no service");
    assert_eq!(err.code(), "card.service_unavailable");
    assert_eq!(card::list().expect_err("no service").code(), "card.service_unavailable");
    assert_eq!(card::connect(READER0).expect_err("no service").code(), "card.service_unavailable");

    // Patient start (the desktop app): stoppable while it waits…
    let (monitor, rx) = Monitor::start_waiting_for_service().expect("monitor");
    assert!(!monitor.service_available());
    let t0 = Instant::now();
    monitor.stop();
    assert!(t0.elapsed() < Duration::from_millis(1500), "stop while waiting took {:?}", t0.elapsed());
    assert!(matches!(rx.recv_timeout(Duration::from_secs(1)), Err(RecvTimeoutError::Disconnected)));

    // …and reports the readers and cards once the service is up.
    let (monitor, rx) = Monitor::start_waiting_for_service().expect("monitor");
    pcscd::start();
    expect_startup(&rx);
    assert!(monitor.service_available());
    let card = VirtualCard::insert(0, ATR_CPS3_MASKED);
    assert_eq!(expect_event(&rx, CardEventKind::CardInserted, READER0).family, Some(Family::Cps3));

    // The plain listing, in French, names the card for people.
    let home = Home::new();
    let out = home.cli().arg("cards").output().expect("run");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&format!("Lecteur : {READER0}")), "{text}");
    assert!(text.contains("CPS3 (Carte de Professionnel de Santé)"), "{text}");
    assert!(text.contains("aucune carte"), "the second reader is empty: {text}");

    card.remove();
    expect_event(&rx, CardEventKind::CardRemoved, READER0);
    monitor.stop();
    pcscd::wait_for_readers(CARD_TIMEOUT);
}

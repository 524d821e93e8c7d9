//! A virtual smartcard for vsmartcard's `vpcd` reader driver (Debian `vsmartcard-vpcd`).
//!
//! vpcd's readers ("Virtual PCD 00 00" on TCP 35963, "Virtual PCD 00 01" on 35964, per
//! `/etc/reader.conf.d/vpcd`) wait for a card to connect: connecting inserts the card, closing removes it. Every
//! frame is a 2-byte big-endian length then the payload. One-byte frames are control: 00 power off, 01 power on,
//! 02 reset (no answer), 04 "send your ATR" (answered with the ATR; vpcd also uses it to check presence). Longer
//! frames are command APDUs, answered with a response APDU. pcscd polls vpcd, so a card shows up 400–800 ms after
//! it connects: wait with [`wait_card`], never with fixed sleeps.

use std::ffi::CString;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// vpcd's first reader and its port.
pub const READER0: &str = "Virtual PCD 00 00";
pub const READER1: &str = "Virtual PCD 00 01";
const BASE_PORT: u16 = 35963;

/// ATRs of real cards (DESIGN.md).
pub const ATR_LUXTRUST: &str = "3B7F96000080318065B085050011120FFF829000";
/// A CPS3 whose masked bytes (TC2 and three historical bytes) differ from the table's pattern: identified through
/// the mask only. The interface bytes still declare T=0, so pcscd can talk to it.
pub const ATR_CPS3_MASKED: &str = "3BAC00400A001225006480010203009000";
pub const ATR_CPS4: &str = "3B9B188001001225006480000401009044";
pub const ATR_UNKNOWN: &str = "3B021450";

/// Instruction byte the card never answers (until removed): simulates a long operation.
pub const INS_STALL: u8 = 0xEE;

/// Hex (spaces allowed) → bytes.
pub fn hex(s: &str) -> Vec<u8> {
    let compact: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    ::hex::decode(compact).expect("hex")
}

/// Uppercase compact hex of an ATR written with spaces.
pub fn hex_upper(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_ascii_uppercase()
}

/// A virtual card inserted in one vpcd reader. Dropping it removes it.
pub struct VirtualCard {
    pub reader: &'static str,
    stream: TcpStream,
    thread: Option<JoinHandle<()>>,
    apdus: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl VirtualCard {
    /// Inserts a card with `atr` (hex) into vpcd slot `slot` (0 or 1).
    pub fn insert(slot: u8, atr: &str) -> VirtualCard {
        let atr = hex(atr);
        let port = BASE_PORT + u16::from(slot);
        let reader = if slot == 0 { READER0 } else { READER1 };
        // vpcd listens once pcscd has loaded it; a previous card on the same slot may still be closing.
        let deadline = Instant::now() + Duration::from_secs(10);
        let stream = loop {
            match TcpStream::connect(("127.0.0.1", port)) {
                Ok(s) => break s,
                Err(e) => {
                    assert!(Instant::now() < deadline, "vpcd port {port} does not accept a card: {e}");
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        };
        stream.set_nodelay(true).ok();
        let apdus = Arc::new(Mutex::new(Vec::new()));
        let mut s = stream.try_clone().expect("clone stream");
        let log = Arc::clone(&apdus);
        let thread = std::thread::spawn(move || serve(&mut s, &atr, &log));
        VirtualCard { reader, stream, thread: Some(thread), apdus }
    }

    /// Command APDUs received so far.
    pub fn apdus(&self) -> Vec<Vec<u8>> {
        self.apdus.lock().map(|v| v.clone()).unwrap_or_default()
    }

    /// Pulls the card out (closes the connection).
    pub fn remove(mut self) {
        self.close();
    }

    fn close(&mut self) {
        let _ = self.stream.shutdown(Shutdown::Both);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for VirtualCard {
    fn drop(&mut self) {
        self.close();
    }
}

fn serve(s: &mut TcpStream, atr: &[u8], log: &Mutex<Vec<Vec<u8>>>) {
    loop {
        let mut len = [0u8; 2];
        if s.read_exact(&mut len).is_err() {
            return;
        }
        let mut frame = vec![0u8; usize::from(u16::from_be_bytes(len))];
        if s.read_exact(&mut frame).is_err() {
            return;
        }
        let reply: Option<Vec<u8>> = match frame.as_slice() {
            [0x04] => Some(atr.to_vec()),
            [_] => None, // power off / on / reset: no answer
            apdu => {
                if let Ok(mut l) = log.lock() {
                    l.push(apdu.to_vec());
                }
                respond(apdu)
            }
        };
        if let Some(r) = reply {
            let mut out = (r.len() as u16).to_be_bytes().to_vec();
            out.extend_from_slice(&r);
            if s.write_all(&out).is_err() {
                return;
            }
        }
    }
}

/// The card's answers: SELECT → 9000, READ BINARY → 4 bytes + 9000, the stall instruction → nothing, anything
/// else → 6D00 (instruction not supported).
fn respond(apdu: &[u8]) -> Option<Vec<u8>> {
    match apdu.get(1) {
        Some(0xA4) => Some(vec![0x90, 0x00]),
        Some(0xB0) => Some(vec![0xCA, 0xFE, 0xBA, 0xBE, 0x90, 0x00]),
        Some(&INS_STALL) => None,
        _ => Some(vec![0x6D, 0x00]),
    }
}

/// Waits (blocking on SCardGetStatusChange, no polling) until `reader` holds a card (`present`) or is empty.
/// Returns the ATR when present.
pub fn wait_card(reader: &str, present: bool, timeout: Duration) -> Vec<u8> {
    let ctx = pcsc::Context::establish(pcsc::Scope::User).expect("pcscd answers");
    let mut states = vec![pcsc::ReaderState::new(CString::new(reader).expect("name"), pcsc::State::UNAWARE)];
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match ctx.get_status_change(left, &mut states) {
            Ok(()) => {}
            Err(pcsc::Error::Timeout) => {}
            Err(e) => panic!("waiting for {reader}: {e}"),
        }
        let ev = states[0].event_state();
        let is_present = ev.contains(pcsc::State::PRESENT) && !states[0].atr().is_empty();
        if is_present == present {
            return states[0].atr().to_vec();
        }
        assert!(
            Instant::now() < deadline,
            "{reader}: card {} not seen within {timeout:?}",
            if present { "insertion" } else { "removal" }
        );
        states[0].sync_current_state();
    }
}

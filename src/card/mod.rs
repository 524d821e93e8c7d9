//! PC/SC readers and cards.
//!
//! Agents and health professionals start by inserting a card; Trousseau must see it at once and say which card it
//! is. Three pieces:
//! - [`list`]: a one-shot view of the readers and the cards in them (one status query, no card connection);
//! - [`Monitor`]: one dedicated thread owns the blocking `SCardGetStatusChange` wait (reader hot-plug through
//!   `\\?PnP?\Notification` included, no polling) and publishes [`CardEvent`]s on a channel; it survives the
//!   PC/SC service going away and coming back;
//! - [`atr::identify`]: the family, display name and PKCS#11 modules of a card from its ATR.
//!
//! [`connect`] gives a [`CardSession`] for raw APDUs; a card pulled out meanwhile gives
//! [`CardError::CardRemoved`], and the next session works as usual.

pub mod atr;
mod monitor;

pub use atr::{identify, CardInfo, Family};
pub use monitor::{CardEvent, CardEventKind, Monitor};

use crate::i18n::{Coded, Lang};
use serde::Serialize;
use std::ffi::CString;
use std::time::Duration;

/// What went wrong with readers or cards.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CardError {
    /// The PC/SC service (pcscd, Windows' "Smart Card" service SCardSvr) is not running or does not answer; `code` is
    /// the PC/SC status the system gave (SCARD_E_NO_SERVICE, SCARD_E_SERVICE_STOPPED…).
    #[error("the smart card service does not answer ({operation}, PC/SC 0x{code:08X})")]
    ServiceUnavailable { operation: &'static str, code: u32 },
    /// The reader named in the operation is not (or no longer) connected.
    #[error("reader {reader:?} not found ({operation})")]
    ReaderNotFound { reader: String, operation: &'static str },
    /// The reader is empty.
    #[error("no card in reader {reader:?} ({operation})")]
    NoCard { reader: String, operation: &'static str },
    /// The card was pulled out before or during the operation.
    #[error("card removed from reader {reader:?} during {operation}")]
    CardRemoved { reader: String, operation: &'static str },
    /// The card is inserted but does not answer (inserted the wrong way, dirty contacts, unsupported card).
    #[error("the card in reader {reader:?} does not respond ({operation})")]
    CardUnresponsive { reader: String, operation: &'static str },
    /// Another program holds the card exclusively.
    #[error("reader {reader:?} is in use by another program ({operation})")]
    Busy { reader: String, operation: &'static str },
    /// The monitor thread could not be started.
    #[error("cannot start the card monitor: {detail}")]
    MonitorStart { detail: String },
    /// Any other PC/SC failure.
    #[error("PC/SC {operation} failed on {reader:?}: {detail}")]
    Pcsc { operation: &'static str, reader: String, detail: String },
}

impl Coded for CardError {
    fn code(&self) -> &'static str {
        match self {
            CardError::ServiceUnavailable { .. } => "card.service_unavailable",
            CardError::ReaderNotFound { .. } => "card.reader_not_found",
            CardError::NoCard { .. } => "card.no_card",
            CardError::CardRemoved { .. } => "card.removed",
            CardError::CardUnresponsive { .. } => "card.unresponsive",
            CardError::Busy { .. } => "card.busy",
            CardError::MonitorStart { .. } => "card.monitor_start",
            CardError::Pcsc { .. } => "card.pcsc",
        }
    }

    fn message(&self, lang: Lang) -> String {
        match self {
            CardError::ServiceUnavailable { code, .. } => {
                let (fr, en, de) = service_hint();
                if cfg!(target_os = "windows") {
                    lang.pick3(
                        format!("Le service Windows « Carte à puce » ({SERVICE_NAME}) n'est pas démarré (code PC/SC 0x{code:08X}) : {fr}, puis réessayez."),
                        format!("The Windows \"Smart Card\" service ({SERVICE_NAME}) is not running (PC/SC code 0x{code:08X}): {en}, then try again."),
                        format!("Der Windows-Dienst „Smartcard“ ({SERVICE_NAME}) läuft nicht (PC/SC-Code 0x{code:08X}): {de}, und versuchen Sie es dann erneut."),
                    )
                } else {
                    lang.pick3(
                        format!("Le service de cartes à puce ({SERVICE_NAME}) ne répond pas (code PC/SC 0x{code:08X}) : {fr}, puis réessayez."),
                        format!("The smart card service ({SERVICE_NAME}) does not respond (PC/SC code 0x{code:08X}): {en}, then try again."),
                        format!("Der Chipkartendienst ({SERVICE_NAME}) antwortet nicht (PC/SC-Code 0x{code:08X}): {de}, und versuchen Sie es dann erneut."),
                    )
                }
            }
            CardError::ReaderNotFound { reader, .. } => lang.pick3(
                format!("Le lecteur « {reader} » n'est pas branché : rebranchez-le, puis réessayez."),
                format!("The reader \"{reader}\" is not connected: plug it in again, then try again."),
                format!("Der Kartenleser „{reader}“ ist nicht angeschlossen: Schließen Sie ihn wieder an und versuchen Sie es dann erneut."),
            ),
            CardError::NoCard { reader, .. } => lang.pick3(
                format!("Aucune carte dans le lecteur « {reader} » : insérez votre carte, puis réessayez."),
                format!("There is no card in the reader \"{reader}\": insert your card, then try again."),
                format!("Keine Karte im Kartenleser „{reader}“: Stecken Sie Ihre Karte ein und versuchen Sie es dann erneut."),
            ),
            CardError::CardRemoved { reader, .. } => lang.pick3(
                format!(
                    "La carte a été retirée du lecteur « {reader} » pendant l'opération : \
                     réinsérez-la et laissez-la en place, puis recommencez."
                ),
                format!(
                    "The card was removed from the reader \"{reader}\" during the operation: \
                     insert it again and leave it in, then start over."
                ),
                format!(
                    "Die Karte wurde während des Vorgangs aus dem Kartenleser „{reader}“ entnommen: \
                     Stecken Sie sie wieder ein, lassen Sie sie stecken und beginnen Sie dann von vorn."
                ),
            ),
            CardError::CardUnresponsive { reader, .. } => lang.pick3(
                format!(
                    "La carte du lecteur « {reader} » ne répond pas : vérifiez qu'elle est insérée puce en avant \
                     et vers le haut, retirez-la et réinsérez-la."
                ),
                format!(
                    "The card in the reader \"{reader}\" does not respond: check that it is inserted chip first \
                     and facing up, then remove it and insert it again."
                ),
                format!(
                    "Die Karte im Kartenleser „{reader}“ antwortet nicht: Prüfen Sie, ob sie mit dem Chip voran \
                     und nach oben eingesteckt ist, entnehmen Sie sie und stecken Sie sie wieder ein."
                ),
            ),
            CardError::Busy { reader, .. } => lang.pick3(
                format!(
                    "La carte du lecteur « {reader} » est utilisée par un autre programme : \
                     fermez-le (ou attendez la fin de son opération), puis réessayez."
                ),
                format!(
                    "The card in the reader \"{reader}\" is in use by another program: \
                     close it (or wait until it finishes), then try again."
                ),
                format!(
                    "Die Karte im Kartenleser „{reader}“ wird von einem anderen Programm verwendet: \
                     Schließen Sie es (oder warten Sie, bis sein Vorgang beendet ist) und versuchen Sie es dann erneut."
                ),
            ),
            CardError::MonitorStart { detail } => lang.pick3(
                format!("La surveillance des cartes n'a pas pu démarrer ({detail}) : redémarrez Trousseau."),
                format!("Card monitoring could not start ({detail}): restart Trousseau."),
                format!("Die Kartenüberwachung konnte nicht starten ({detail}): Starten Sie Trousseau neu."),
            ),
            CardError::Pcsc { operation, reader, detail } => lang.pick3(
                format!(
                    "Erreur du service de cartes à puce ({operation}, lecteur « {reader} ») : {detail}. \
                     Retirez la carte, réinsérez-la et réessayez ; si l'erreur persiste, débranchez le lecteur."
                ),
                format!(
                    "Smart card service error ({operation}, reader \"{reader}\"): {detail}. \
                     Remove the card, insert it again and retry; if the error persists, unplug the reader."
                ),
                format!(
                    "Fehler des Chipkartendienstes ({operation}, Kartenleser „{reader}“): {detail}. \
                     Entnehmen Sie die Karte, stecken Sie sie wieder ein und versuchen Sie es erneut; falls der Fehler bleibt, trennen Sie den Kartenleser."
                ),
            ),
        }
    }
}

#[cfg(target_os = "windows")]
const SERVICE_NAME: &str = "SCardSvr";
#[cfg(target_os = "macos")]
const SERVICE_NAME: &str = "com.apple.ctkpcscd";
#[cfg(not(any(target_os = "windows", target_os = "macos")))]
const SERVICE_NAME: &str = "pcscd";

/// What to do when the service is down, per platform (French, English).
fn service_hint() -> (&'static str, &'static str, &'static str) {
    if cfg!(target_os = "windows") {
        (
            "branchez votre lecteur de cartes (Windows démarre ce service quand un lecteur est branché et l'arrête \
             sans lecteur) ; s'il reste arrêté, ouvrez « Services » (touche Windows, tapez services.msc), \
             double-cliquez sur « Carte à puce », choisissez le type de démarrage « Automatique » et cliquez sur \
             « Démarrer »",
            "plug in your card reader (Windows starts this service when a reader is connected and stops it without \
             one); if it stays stopped, open \"Services\" (Windows key, type services.msc), double-click \
             \"Smart Card\", set the startup type to \"Automatic\" and click \"Start\"",
            "Schließen Sie Ihren Kartenleser an (Windows startet diesen Dienst, sobald ein Kartenleser angeschlossen \
             ist, und beendet ihn ohne Kartenleser); bleibt er beendet, öffnen Sie „Dienste“ (Windows-Taste, \
             services.msc eingeben), doppelklicken Sie auf „Smartcard“, wählen Sie den Starttyp „Automatisch“ und \
             klicken Sie auf „Starten“",
        )
    } else if cfg!(target_os = "macos") {
        (
            "débranchez et rebranchez le lecteur de cartes",
            "unplug the card reader and plug it in again",
            "Trennen Sie den Kartenleser und schließen Sie ihn wieder an",
        )
    } else {
        (
            "démarrez-le (sudo systemctl start pcscd.socket) ou installez le paquet pcscd",
            "start it (sudo systemctl start pcscd.socket) or install the pcscd package",
            "Starten Sie ihn (sudo systemctl start pcscd.socket) oder installieren Sie das Paket pcscd",
        )
    }
}

/// Maps a PC/SC error to what it means for the user.
pub(crate) fn map_err(err: pcsc::Error, operation: &'static str, reader: &str) -> CardError {
    use pcsc::Error as E;
    let reader = reader.to_string();
    match err {
        E::NoService | E::ServiceStopped => CardError::ServiceUnavailable { operation, code: err as u32 },
        E::UnknownReader | E::ReaderUnavailable | E::NoReadersAvailable => {
            CardError::ReaderNotFound { reader, operation }
        }
        E::NoSmartcard => CardError::NoCard { reader, operation },
        E::RemovedCard => CardError::CardRemoved { reader, operation },
        E::UnresponsiveCard | E::UnpoweredCard | E::UnsupportedCard | E::InvalidAtr => {
            CardError::CardUnresponsive { reader, operation }
        }
        E::SharingViolation => CardError::Busy { reader, operation },
        other => CardError::Pcsc { operation, reader, detail: other.to_string() },
    }
}

/// A reader and what is in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReaderState {
    /// The reader's name as PC/SC gives it, e.g. "Gemalto PC Twin Reader 00 00".
    pub reader: String,
    /// The card in the reader, identified by its ATR; `None` when the reader is empty. A card that does not
    /// answer (mute) is present with an empty ATR and the `unknown` family.
    pub card: Option<CardInfo>,
}

/// A PC/SC context. No context at all means no service to talk to: besides "no service" and "service stopped", an
/// internal error or a communication failure here (what a stopped or broken service gives on some systems, Wine's
/// winscard stub among them) is reported as the service being unavailable, with its code.
pub(crate) fn establish(operation: &'static str) -> Result<pcsc::Context, CardError> {
    use pcsc::Error as E;
    pcsc::Context::establish(pcsc::Scope::User).map_err(|e| match e {
        E::InternalError | E::CommError | E::NoService | E::ServiceStopped => {
            CardError::ServiceUnavailable { operation, code: e as u32 }
        }
        other => map_err(other, operation, ""),
    })
}

/// The names of the connected readers (empty when none is connected).
pub(crate) fn reader_names(ctx: &pcsc::Context, operation: &'static str) -> Result<Vec<CString>, CardError> {
    match ctx.list_readers_owned() {
        Ok(names) => Ok(names),
        Err(pcsc::Error::NoReadersAvailable) => Ok(Vec::new()),
        Err(e) => Err(map_err(e, operation, "")),
    }
}

/// The card described by a reader's state, if any.
pub(crate) fn card_in(state: &pcsc::ReaderState) -> Option<CardInfo> {
    let ev = state.event_state();
    if ev.contains(pcsc::State::PRESENT) {
        Some(atr::identify(state.atr()))
    } else {
        None
    }
}

/// Readers and the cards in them, right now. An empty list means no reader is connected; a stopped PC/SC service
/// is [`CardError::ServiceUnavailable`].
pub fn list() -> Result<Vec<ReaderState>, CardError> {
    const OP: &str = "list";
    let ctx = establish(OP)?;
    // A reader can disappear between the listing and the status query: list again (a few times at most).
    for _ in 0..3 {
        let names = reader_names(&ctx, OP)?;
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let mut states: Vec<pcsc::ReaderState> =
            names.iter().map(|n| pcsc::ReaderState::new(n.clone(), pcsc::State::UNAWARE)).collect();
        match ctx.get_status_change(Duration::ZERO, &mut states) {
            Ok(()) | Err(pcsc::Error::Timeout) => {}
            Err(pcsc::Error::UnknownReader) => continue,
            Err(e) => return Err(map_err(e, OP, "")),
        }
        return Ok(states
            .iter()
            .filter(|s| !s.event_state().intersects(pcsc::State::UNKNOWN | pcsc::State::IGNORE))
            .map(|s| ReaderState { reader: s.name().to_string_lossy().into_owned(), card: card_in(s) })
            .collect());
    }
    Err(CardError::Pcsc { operation: OP, reader: String::new(), detail: "readers keep changing".into() })
}

/// A connection to the card in one reader, for raw APDUs. Shared access: other programs (the card's PKCS#11
/// module, the browser) may use the card at the same time. Dropping it leaves the card as it is.
pub struct CardSession {
    card: Option<pcsc::Card>,
    reader: String,
    atr: Vec<u8>,
}

impl std::fmt::Debug for CardSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CardSession").field("reader", &self.reader).field("atr", &atr::to_hex(&self.atr)).finish()
    }
}

/// Connects to the card in `reader` (its own PC/SC context, so a restarted service does not matter).
pub fn connect(reader: &str) -> Result<CardSession, CardError> {
    const OP: &str = "connect";
    let ctx = establish(OP)?;
    let name = CString::new(reader).map_err(|_| CardError::ReaderNotFound { reader: reader.into(), operation: OP })?;
    let card = ctx.connect(&name, pcsc::ShareMode::Shared, pcsc::Protocols::ANY).map_err(|e| map_err(e, OP, reader))?;
    // SCardStatus rather than the ATR attribute: not every reader driver (vpcd, some pinpads) implements attributes.
    let atr = card.status2_owned().map_err(|e| map_err(e, OP, reader))?.atr().to_vec();
    Ok(CardSession { card: Some(card), reader: reader.to_string(), atr })
}

impl CardSession {
    /// The reader this session talks to.
    pub fn reader(&self) -> &str {
        &self.reader
    }

    /// The card, identified from the ATR read at connection.
    pub fn info(&self) -> CardInfo {
        atr::identify(&self.atr)
    }

    /// Sends one command APDU and returns the response APDU (data + SW1 SW2).
    pub fn transmit(&self, apdu: &[u8]) -> Result<Vec<u8>, CardError> {
        const OP: &str = "transmit";
        let mut buf = vec![0u8; pcsc::MAX_BUFFER_SIZE_EXTENDED];
        let card =
            self.card.as_ref().ok_or_else(|| CardError::CardRemoved { reader: self.reader.clone(), operation: OP })?;
        let resp = card.transmit(apdu, &mut buf).map_err(|e| map_err(e, OP, &self.reader))?;
        if resp.len() < 2 {
            // No status word: some drivers (vpcd, a few USB readers) answer the interrupted command with nothing
            // when the card is pulled out, before the service has noticed the removal.
            return Err(self.explain_silence(OP));
        }
        Ok(resp.to_vec())
    }

    /// Tells a removed card from a mute one after a command got no answer: waits (blocking, at most 2 s) for the
    /// service to report the reader's state.
    fn explain_silence(&self, operation: &'static str) -> CardError {
        let removed = CardError::CardRemoved { reader: self.reader.clone(), operation };
        let mute = CardError::CardUnresponsive { reader: self.reader.clone(), operation };
        let Ok(name) = CString::new(self.reader.as_str()) else { return mute };
        let Ok(ctx) = pcsc::Context::establish(pcsc::Scope::User) else { return mute };
        let mut states = [pcsc::ReaderState::new(name, pcsc::State::UNAWARE)];
        let deadline = std::time::Instant::now() + Duration::from_secs(2);
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match ctx.get_status_change(left, &mut states) {
                Ok(()) => {}
                Err(pcsc::Error::Timeout) => return mute,
                Err(e) => return map_err(e, operation, &self.reader),
            }
            let ev = states[0].event_state();
            if !ev.contains(pcsc::State::PRESENT) || states[0].atr() != self.atr.as_slice() {
                return removed;
            }
            if left.is_zero() {
                return mute;
            }
            states[0].sync_current_state();
        }
    }
}

impl Drop for CardSession {
    /// Leaves the card as it is: a reset (the `pcsc` crate's default) would log out the other programs using it,
    /// e.g. the browser's PKCS#11 session on the same card.
    fn drop(&mut self) {
        if let Some(card) = self.card.take() {
            if let Err((card, e)) = card.disconnect(pcsc::Disposition::LeaveCard) {
                tracing::debug!("SCardDisconnect on {:?} failed: {e}", self.reader);
                drop(card);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::assert_german;

    #[test]
    fn german_messages() {
        let removed = CardError::CardRemoved { reader: "Lecteur 0".into(), operation: "transmit" };
        assert_german(&removed);
        assert!(removed.message(Lang::De).contains("„Lecteur 0“"));
        assert_german(&CardError::ServiceUnavailable { operation: "establish", code: 0x8010_001D });
        assert_german(&CardError::NoCard { reader: "Lecteur 0".into(), operation: "connect" });
    }

    #[test]
    fn errors_have_stable_codes_and_say_what_to_do() {
        let e = map_err(pcsc::Error::NoService, "list", "");
        assert_eq!(e.code(), "card.service_unavailable");
        if cfg!(windows) {
            // Says which service, that it is not running, and how to start it.
            for lang in [Lang::Fr, Lang::En, Lang::De] {
                let m = e.message(lang);
                assert!(m.contains("SCardSvr") && m.contains("services.msc") && m.contains("0x8010001D"), "{m}");
            }
            assert!(e.message(Lang::Fr).contains("n'est pas démarré"), "{}", e.message(Lang::Fr));
            assert!(e.message(Lang::En).contains("is not running"));
        } else {
            assert!(e.message(Lang::Fr).contains("ne répond pas"), "{}", e.message(Lang::Fr));
            assert!(e.message(Lang::En).contains("does not respond"));
        }
        let e = map_err(pcsc::Error::RemovedCard, "transmit", "R 00");
        assert_eq!(e.code(), "card.removed");
        assert!(e.message(Lang::Fr).contains("R 00"));
        assert_eq!(map_err(pcsc::Error::NoSmartcard, "connect", "R").code(), "card.no_card");
        assert_eq!(map_err(pcsc::Error::UnknownReader, "connect", "R").code(), "card.reader_not_found");
        assert_eq!(map_err(pcsc::Error::SharingViolation, "connect", "R").code(), "card.busy");
        assert_eq!(map_err(pcsc::Error::InternalError, "connect", "R").code(), "card.pcsc");
    }
}

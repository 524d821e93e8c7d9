//! The workstation doctor (`trousseau doctor`, the window's "Diagnostic" page): the chain a card certificate goes
//! through — PC/SC service → readers → card identified by its ATR → the card's PKCS#11 module → token and PIN →
//! certificates → browsers → OS store → portal → clock — checked link by link, in that order, each with its verdict
//! and what to do, in the user's language. A link that cannot be judged because an earlier one failed is `skip`.
//!
//! The support bundle (`trousseau doctor --bundle FILE`) packs the verdicts with versions, the module list and the
//! app's recent log lines, with personal data replaced (names, serial numbers, e-mail addresses, the user's name
//! and home directory). Secrets are never read here: PINs are not asked, keyring entries are not opened.
//!
//! Layout: this file holds the verdict types and `run` (the chain, in order); `cards.rs` (PC/SC, readers, the card
//! and its software), `tokens.rs`, `browsers.rs` (browsers and the OS store), `portal.rs`, `clock.rs`, and
//! `bundle.rs` (the support bundle and its redaction) hold the checks.

use crate::card::{self, atr::Family, CardError, ReaderState};
use crate::i18n::{Coded, Lang};
use crate::token::{self, PinState, Token};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use time::OffsetDateTime;
use ts_rs::TS;

// One file per stretch of the chain; each check is a function of its file, called in chain order by `run`.
mod browsers;
mod bundle;
mod cards;
mod clock;
mod portal;
mod tokens;

use browsers::*;
pub use bundle::*;
pub use cards::*;
use clock::*;
use portal::*;
use tokens::*;

/// A link's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
#[ts(rename = "CheckStatus")]
pub enum CheckStatus {
    Ok,
    Warn,
    Fail,
    /// Not judged: an earlier link failed, or there is nothing to check.
    Skip,
}

/// One link of the chain.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, TS)]
pub struct Check {
    /// Stable identifier (`pcsc.service`, `card.module`…).
    pub id: String,
    pub status: CheckStatus,
    /// What was found, in the user's language.
    pub message: String,
    /// What to do, in the user's language (`null` when nothing is to be done).
    pub fix: Option<String>,
}

/// Every link, in chain order.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, TS)]
pub struct DoctorReport {
    pub checks: Vec<Check>,
}

impl DoctorReport {
    /// The check with this id.
    pub fn get(&self, id: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.id == id)
    }

    /// No link failed.
    pub fn healthy(&self) -> bool {
        !self.checks.iter().any(|c| c.status == CheckStatus::Fail)
    }
}

/// The chain's ids, in order.
pub const CHECK_IDS: [&str; 12] = [
    "pcsc.service",
    "pcsc.readers",
    "card.present",
    "card.module",
    "token.visible",
    "token.pin",
    "token.certificates",
    "browser.registration",
    "store.os",
    "portal.pairing",
    "portal.channel",
    "clock",
];

fn check(id: &str, status: CheckStatus, message: String, fix: Option<String>) -> Check {
    Check { id: id.to_string(), status, message, fix }
}

fn skip(id: &str, lang: Lang) -> Check {
    check(
        id,
        CheckStatus::Skip,
        lang.pick3(
            "Non vérifié : un maillon précédent de la chaîne pose problème.",
            "Not checked: an earlier link of the chain has a problem.",
            "Nicht geprüft: Ein früheres Glied der Kette hat ein Problem.",
        ),
        None,
    )
}

/// What the chain found, kept for the later links and the support bundle.
#[derive(Default)]
struct Findings {
    readers: Vec<ReaderState>,
    tokens: Vec<Token>,
    /// Modules that show a token, for the browser registration.
    token_modules: Vec<PathBuf>,
    /// Names and serial numbers met on the way (redacted from the bundle).
    personal: Vec<String>,
    /// The paired portal's address: its clock is the reference for ours.
    portal_url: Option<String>,
}

/// Runs every check, in chain order.
pub fn run(lang: Lang) -> DoctorReport {
    run_collecting(lang).0
}

fn run_collecting(lang: Lang) -> (DoctorReport, Findings) {
    let mut f = Findings::default();
    let mut checks = Vec::new();

    // 1. PC/SC service, 2. readers.
    let service = pcsc_service(lang, &mut f);
    let service_ok = service.status == CheckStatus::Ok;
    checks.push(service);
    let readers_ok = if service_ok {
        let c = readers(&f, lang);
        let ok = c.status == CheckStatus::Ok;
        checks.push(c);
        ok
    } else {
        checks.push(skip("pcsc.readers", lang));
        false
    };

    // 3. Card present and identified, 4. its module.
    let cards: Vec<(String, card::CardInfo)> =
        f.readers.iter().filter_map(|r| r.card.clone().map(|c| (r.reader.clone(), c))).collect();
    if readers_ok {
        checks.push(card_present(&cards, lang));
        checks.push(card_module(&cards, lang));
    } else {
        checks.push(skip("card.present", lang));
        checks.push(skip("card.module", lang));
    }

    // 5. Tokens through the modules, 6. PIN, 7. certificates.
    let discovery = token::discover();
    let listing = token::list_tokens(&discovery, lang);
    f.tokens = listing.tokens;
    for t in &f.tokens {
        if !f.token_modules.contains(&t.module) {
            f.token_modules.push(t.module.clone());
        }
        f.personal.extend([t.label.clone(), t.serial.clone()]);
    }
    let problems: Vec<String> =
        discovery.problems.iter().chain(listing.problems.iter()).map(|p| p.report(lang).message).collect();
    checks.push(token_visible(&f.tokens, &cards, &problems, lang));
    checks.push(token_pin(&f.tokens, lang));
    checks.push(token_certificates(&mut f, lang));

    // 8. Browsers, 9. OS store.
    checks.push(browser_registration(&f.token_modules, lang));
    checks.push(os_store(&mut f, lang));

    // 10. Portal pairing, 11. live channel.
    let (pairing, channel) = portal_checks(&mut f, lang);
    checks.push(pairing);
    checks.push(channel);

    // 12. The clock.
    let reference = f.portal_url.as_deref().and_then(portal_time);
    checks.push(clock(reference, lang));
    (DoctorReport { checks }, f)
}

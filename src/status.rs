//! `trousseau status`: the one-screen headless summary (DESIGN.md "First run") — readers and cards, tokens,
//! certificates in the store (with those expiring), pending requests with their deadlines, portal state.
//!
//! It is the window's dashboard ([`crate::api::dashboard`]) plus what a terminal user also wants to see at once
//! (tokens, store size); every part is read independently so one failing source hides nothing else.

use crate::api::{self, ApiError, CertSummary, PendingSummary, PortalState, ReaderState};
use crate::i18n::Lang;
use serde::Serialize;

/// A PKCS#11 token as the summary shows it.
#[derive(Debug, Clone, Serialize)]
pub struct TokenSummary {
    pub label: String,
    pub manufacturer: String,
    pub model: String,
    pub serial: String,
    /// `ok`, `count_low`, `final_try`, `locked` …
    pub pin_state: String,
    /// Retries-left wording in the user's language.
    pub pin_message: String,
    pub module: String,
}

/// The whole summary (`trousseau status --json`).
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub portal: PortalState,
    pub readers: Vec<ReaderState>,
    pub tokens: Vec<TokenSummary>,
    /// Certificates in the OS store (CA certificates included), when the store could be read.
    pub store_certificates: Option<usize>,
    /// Certificates expiring within [`api::EXPIRY_WARNING_DAYS`] days (or expired), soonest first.
    pub expiring: Vec<CertSummary>,
    pub pending: Vec<PendingSummary>,
    /// Parts that could not be read, each with its code and what to do.
    pub problems: Vec<ApiError>,
}

/// Reads every source once and returns the summary.
pub fn summary(lang: Lang) -> Status {
    let (portal, readers, expiring, pending, problems) = match api::dashboard((), lang) {
        Ok(d) => (d.portal, d.readers, d.expiring, d.pending, d.problems),
        Err(e) => {
            (PortalState { name: None, url: None, paired: false, connected: false }, vec![], vec![], vec![], vec![e])
        }
    };
    let store_certificates = match api::store_list((), lang) {
        Ok(list) => Some(list.len()),
        Err(_) => None, // already reported by the dashboard
    };
    let listing = crate::token::list_tokens(&crate::token::discover(), lang);
    let tokens = listing
        .tokens
        .into_iter()
        .map(|t| TokenSummary {
            label: t.label,
            manufacturer: t.manufacturer,
            model: t.model,
            serial: t.serial,
            pin_state: serde_json::to_value(t.pin.state)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            pin_message: t.pin.message,
            module: t.module.display().to_string(),
        })
        .collect();
    Status { portal, readers, tokens, store_certificates, expiring, pending, problems }
}

//! Trousseau's core: certificates, smartcards, PKCS#11 tokens, the OS certificate store, local certificate
//! requests, PKCS#12 files, the pending-key vault and the procurement-portal client. No Tauri, no GUI:
//! everything here runs headless and is driven by the `trousseau` CLI, the desktop shell (`src-tauri/`) and the
//! tests alike.
#![deny(unsafe_code)]

pub mod api;
pub mod asn1;
pub mod card;
pub mod cert;
pub mod child;
#[cfg(feature = "software-keys")]
pub mod csr;
pub mod doctor;
#[cfg(feature = "software-keys")]
pub mod envelope;
pub mod fsutil;
pub mod i18n;
pub mod live;
pub mod password;
pub mod paths;
pub mod pin_guard;
pub mod pkcs12;
pub mod progress;
pub mod reminders;
pub mod revocation;
pub mod secrets;
pub mod settings;
pub mod status;
pub mod store;
pub mod token;
pub mod vault;

#[cfg(feature = "portal")]
pub mod bridge;
#[cfg(feature = "portal")]
pub mod portal;

pub use i18n::{Coded, ErrorReport, Lang};

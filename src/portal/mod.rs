//! The procurement-portal client: how the assistant pairs with a portal (OAuth 2.0 device authorization,
//! RFC 8628), keeps an outbound channel open so the portal page shows "Connecté", answers the requests the page
//! relays through the portal (list the workstation's encryption certificates, generate a new bi-clé after the
//! user's confirmation), and registers bi-clés in the portal's registry. The protocol is ours and documented in
//! `docs/portal-api.yaml`; `sandbox/` is the reference portal the tests run against.
//!
//! Security rules kept here: tokens live in the OS keyring only; plain HTTP is refused except for loopback
//! portals; a relayed "generate" runs only after [`Confirm::confirm`] said yes; only public certificate data ever
//! leaves the workstation.

mod bicle;
mod channel;
mod client;
mod config;
mod error;
mod pairing;
mod relay;

pub use bicle::{bicle_certificate, bicle_kinds, BicleSource};
pub use channel::{publish_state, published_state, spawn_channel, ChannelEvent, ChannelHandle, ChannelOptions};
pub use client::{
    complete_pairing, current_pairing, device_name, pairing_changed, start_pairing, Bicle, BicleKind,
    DeviceAuthorization, Pairing, Session, Tokens,
};
pub use config::{
    check_url, is_exact_origin, is_loopback_host, load_config, managed_config_path, portal_name, save_user_config,
    user_config_path, BridgeConfig, PortalConfig, PortalEntry, DEFAULT_SANDBOX_URL,
};
pub use error::PortalError;
pub use pairing::{begin_pairing, PendingPairing};
pub use relay::{
    check_designation, for_portal, relay_deadline, AlwaysConfirm, Confirm, ConfirmRequest, NeverConfirm,
    OfferedCertificate, RelayHandler, SystemWorkstation, Via, Workstation, DEFAULT_RELAY_DEADLINE,
};

//! Integration tests against real components (one test binary, see DESIGN.md "Staying inside CI's 90 minutes on 2 cores").
//! Each area has its own module; `support` starts the real services (keyring, pcscd, SoftHSM2, NSS, sandbox).

mod api_igc;
mod bridge;
mod card;
mod cert;
mod crash;
mod csr;
mod doctor;
mod drill;
mod envelope;
mod error_codes;
mod faces;
mod files;
mod fuzz_corpus;
mod install;
mod live;
mod modules;
mod p12;
mod portal;
mod portal_assistant;
mod portal_server;
mod portal_tokens;
mod revocation;
mod secrets;
mod status;
mod store;
mod support;
mod token;
mod token_bicle;
mod vault;

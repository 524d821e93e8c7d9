//! PKCS#11 tokens (cryptoki): module discovery, tokens and their PIN state, certificates paired with their keys,
//! login, signing and decryption on the card.
//!
//! Smartcards (LuxTrust, CPS) are reached through their vendor's PKCS#11 module. Those modules are foreign code
//! that can hang or crash, so every call runs on one worker thread with a time limit ([`worker`]); a module that
//! is missing, is not PKCS#11 or fails to start is reported and skipped, never fatal. PINs travel as [`Pin`]
//! (a secret string, moved, zeroized on drop, never logged); a locked PIN is never tried.
//!
//! Entry points: [`discover`] → [`list_tokens`] → [`certificates`] (public objects, no PIN) or [`login`] →
//! [`TokenSession`] (decrypt, generate an RSA-2048 pair, sign a CSR with [`TokenSession::signing_key`]).

mod discovery;
mod error;
mod ffi;
mod host;
mod objects;
mod pin;
mod session;
#[cfg(feature = "software-keys")]
mod signer;
mod wire;
mod worker;

pub use discovery::{
    candidates, configured_modules_file, discover, discover_with, known_paths, probe, Candidate, Discovery,
    DiscoveryOptions, Module, ModuleProblem, ModuleProblemReport, ModuleSource,
};
pub use error::TokenError;
pub use host::{isolate_modules, modules_isolated, serve_if_asked, HELPER_ARG};
pub use objects::{certificates, classify, encryption_certificates, KeyRole, TokenCertificate};
pub use pin::{change_pin, change_pin_on_pad, check_new_pin, pin_rules, unblock_pin, unblock_pin_on_pad, PinRules};
pub use session::{login, login_protected, DecryptPadding, KeyAlgorithm, Pin, TokenKeyInfo, TokenSession};
#[cfg(feature = "software-keys")]
pub use signer::TokenSigningKey;

use crate::i18n::Lang;
use cryptoki::context::Pkcs11;
use cryptoki::slot::Slot;
use serde::Serialize;
use std::path::{Path, PathBuf};
use worker::Op;

/// What the token's flags say about the user PIN (PKCS#11 gives no exact count: only these states).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PinState {
    /// No failed attempt recorded.
    Ok,
    /// At least one wrong PIN was entered since the last success: few tries may be left.
    CountLow,
    /// One more wrong PIN will lock the card.
    FinalTry,
    /// Locked: unblock with the PUK or the issuer.
    Locked,
    /// The token has no user PIN yet.
    NotInitialized,
}

impl PinState {
    /// The retries-left wording for this state, in `lang`.
    pub fn message(self, lang: Lang) -> String {
        match self {
            PinState::Ok => {
                lang.pick3("Code PIN : aucun essai erroné.", "PIN: no failed attempt.", "PIN: kein Fehlversuch.")
            }
            PinState::CountLow => lang.pick3(
                "Attention : un code PIN erroné a déjà été saisi, il reste peu d'essais avant le blocage.",
                "Careful: a wrong PIN has already been entered, few tries are left before it locks.",
                "Achtung: Es wurde bereits eine falsche PIN eingegeben, bis zur Sperrung bleiben nur wenige Versuche.",
            ),
            PinState::FinalTry => lang.pick3(
                "Dernier essai : un code PIN erroné de plus bloquera la carte.",
                "Last try: one more wrong PIN will lock the card.",
                "Letzter Versuch: Eine weitere falsche PIN sperrt die Karte.",
            ),
            PinState::Locked => lang.pick3(
                "Code PIN bloqué : débloquez-le avec le code PUK ou contactez l'émetteur de la carte.",
                "PIN locked: unblock it with the PUK or contact the card's issuer.",
                "PIN gesperrt: Entsperren Sie sie mit der PUK oder wenden Sie sich an den Aussteller der Karte.",
            ),
            PinState::NotInitialized => lang.pick3(
                "Cette carte n'a pas encore de code PIN utilisateur.",
                "This card has no user PIN yet.",
                "Diese Karte hat noch keine Benutzer-PIN.",
            ),
        }
    }

    pub(crate) fn from_flags(flags: u64) -> PinState {
        if flags & flags::USER_PIN_LOCKED != 0 {
            PinState::Locked
        } else if flags & flags::USER_PIN_FINAL_TRY != 0 {
            PinState::FinalTry
        } else if flags & flags::USER_PIN_COUNT_LOW != 0 {
            PinState::CountLow
        } else if flags & flags::USER_PIN_INITIALIZED == 0 {
            PinState::NotInitialized
        } else {
            PinState::Ok
        }
    }
}

/// `CK_TOKEN_INFO.flags` bits (PKCS#11 2.40 §3.2).
pub(crate) mod flags {
    pub const LOGIN_REQUIRED: u64 = 0x4;
    pub const USER_PIN_INITIALIZED: u64 = 0x8;
    pub const PROTECTED_AUTHENTICATION_PATH: u64 = 0x100;
    pub const TOKEN_INITIALIZED: u64 = 0x400;
    pub const USER_PIN_COUNT_LOW: u64 = 0x1_0000;
    pub const USER_PIN_FINAL_TRY: u64 = 0x2_0000;
    pub const USER_PIN_LOCKED: u64 = 0x4_0000;
    pub const USER_PIN_TO_BE_CHANGED: u64 = 0x8_0000;
}

/// What we keep of `CK_TOKEN_INFO`.
pub(crate) struct TokenFacts {
    pub label: String,
    pub manufacturer: String,
    pub model: String,
    pub serial: String,
    pub flags: u64,
}

/// Reads a token's information. cryptoki's reader fails on tokens whose clock string it cannot parse
/// (opencryptoki): then it is read directly ([`ffi`]).
pub(crate) fn token_facts(ctx: &Pkcs11, module: &Path, slot: Slot) -> Result<TokenFacts, TokenError> {
    match ctx.get_token_info(slot) {
        Ok(info) => {
            let mut f = 0u64;
            for (on, bit) in [
                (info.login_required(), flags::LOGIN_REQUIRED),
                (info.user_pin_initialized(), flags::USER_PIN_INITIALIZED),
                (info.protected_authentication_path(), flags::PROTECTED_AUTHENTICATION_PATH),
                (info.token_initialized(), flags::TOKEN_INITIALIZED),
                (info.user_pin_count_low(), flags::USER_PIN_COUNT_LOW),
                (info.user_pin_final_try(), flags::USER_PIN_FINAL_TRY),
                (info.user_pin_locked(), flags::USER_PIN_LOCKED),
                (info.user_pin_to_be_changed(), flags::USER_PIN_TO_BE_CHANGED),
            ] {
                if on {
                    f |= bit;
                }
            }
            Ok(TokenFacts {
                label: info.label().trim().to_string(),
                manufacturer: info.manufacturer_id().trim().to_string(),
                model: info.model().trim().to_string(),
                serial: info.serial_number().trim().to_string(),
                flags: f,
            })
        }
        Err(e @ cryptoki::error::Error::Pkcs11(..)) => Err(device(Op::List, &e)),
        Err(e) => {
            tracing::debug!("cryptoki cannot read token info of slot {} ({e}); reading it directly", slot.id());
            let raw = ffi::token_info(module, slot.id())
                .map_err(|detail| TokenError::Device { operation: Op::List.name(), detail })?;
            Ok(TokenFacts {
                label: raw.label,
                manufacturer: raw.manufacturer,
                model: raw.model,
                serial: raw.serial,
                flags: raw.flags,
            })
        }
    }
}

/// The user PIN's state with its wording, as listings show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct PinStatus {
    pub state: PinState,
    /// The PIN must be changed before use (new card, reset PIN).
    pub to_be_changed: bool,
    /// PIN entered on a PIN pad instead of the keyboard.
    pub protected_path: bool,
    /// `state`'s retries-left wording in the listing's language.
    pub message: String,
}

impl PinStatus {
    pub(crate) fn from_flags(f: u64, lang: Lang) -> PinStatus {
        let state = PinState::from_flags(f);
        let to_be_changed = f & flags::USER_PIN_TO_BE_CHANGED != 0;
        let mut message = state.message(lang);
        if to_be_changed {
            message.push(' ');
            message.push_str(&lang.pick3(
                "Le code PIN doit être changé avant utilisation.",
                "The PIN must be changed before use.",
                "Die PIN muss vor der Verwendung geändert werden.",
            ));
        }
        PinStatus { state, to_be_changed, protected_path: f & flags::PROTECTED_AUTHENTICATION_PATH != 0, message }
    }
}

/// A token (a card in a reader, or a software token) seen through a module.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Token {
    /// The module that shows it.
    pub module: PathBuf,
    /// PKCS#11 slot id (may change when readers come and go; tokens are found again by label and serial).
    pub slot_id: u64,
    /// The reader (slot) description.
    pub slot_description: String,
    pub label: String,
    pub manufacturer: String,
    pub model: String,
    pub serial: String,
    pub pin: PinStatus,
    pub login_required: bool,
    /// Removable device (a card in a reader) rather than a fixed token.
    pub removable: bool,
}

impl Token {
    /// Whether the codes are typed on the reader's PIN pad: the reader has one and the user gave no code here.
    /// (Both faces ask this; with a code given, it is sent as typed.)
    pub fn uses_pin_pad(&self, code_given: bool) -> bool {
        self.pin.protected_path && !code_given
    }
}

/// Tokens of every discovered module, and the modules that failed while listing.
#[derive(Debug, Clone, Default)]
pub struct TokenList {
    pub tokens: Vec<Token>,
    pub problems: Vec<ModuleProblem>,
}

/// Lists the tokens present in every module of `discovery` (slots without a token are left out).
pub fn list_tokens(discovery: &Discovery, lang: Lang) -> TokenList {
    let mut out = TokenList::default();
    for m in &discovery.modules {
        match module_tokens(&m.path, lang) {
            Ok(mut t) => out.tokens.append(&mut t),
            Err(error) => out.problems.push(ModuleProblem { path: m.path.clone(), source: m.source.clone(), error }),
        }
    }
    out
}

/// The tokens of one module.
pub fn module_tokens(module: &Path, lang: Lang) -> Result<Vec<Token>, TokenError> {
    let reply = host::call(module, None, wire::Request::Tokens { module: module.to_path_buf(), lang })?;
    let mut tokens = wire::expect_reply!(reply, wire::Reply::Tokens(t) => t)?;
    // The module is the one asked, whatever the answer says.
    for t in &mut tokens {
        t.module = module.to_path_buf();
    }
    Ok(tokens)
}

/// [`module_tokens`] where the module lives.
pub(crate) fn tokens_on(state: &mut worker::State, module: &Path, lang: Lang) -> Result<Vec<Token>, TokenError> {
    state.with_module(module, |ctx| read_tokens(ctx, module, lang))
}

fn read_tokens(ctx: &Pkcs11, module: &Path, lang: Lang) -> Result<Vec<Token>, TokenError> {
    let slots = ctx.get_slots_with_token().map_err(|e| device(Op::List, &e))?;
    let mut out = Vec::new();
    for slot in slots {
        // A card pulled out between the two calls: skip the slot.
        let info = match token_facts(ctx, module, slot) {
            Ok(i) => i,
            Err(e) => {
                tracing::debug!("token info of slot {} in {}: {e}", slot.id(), module.display());
                continue;
            }
        };
        // A blank token (SoftHSM2's spare slot, a card never personalised) has nothing to offer.
        if info.flags & flags::TOKEN_INITIALIZED == 0 {
            continue;
        }
        let slot_info = ctx.get_slot_info(slot).ok();
        out.push(Token {
            module: module.to_path_buf(),
            slot_id: slot.id(),
            slot_description: slot_info.as_ref().map(|s| s.slot_description().trim().to_string()).unwrap_or_default(),
            label: info.label,
            manufacturer: info.manufacturer,
            model: info.model,
            serial: info.serial,
            pin: PinStatus::from_flags(info.flags, lang),
            login_required: info.flags & flags::LOGIN_REQUIRED != 0,
            removable: slot_info.map(|s| s.removable_device()).unwrap_or(false),
        });
    }
    Ok(out)
}

/// Finds the token labelled `label` among the discovered modules.
pub fn find_token(discovery: &Discovery, label: &str, lang: Lang) -> Result<Token, TokenError> {
    let list = list_tokens(discovery, lang);
    let mut found: Vec<Token> = list.tokens.into_iter().filter(|t| t.label == label.trim()).collect();
    match found.len() {
        0 => Err(TokenError::TokenNotFound { label: label.to_string() }),
        1 => Ok(found.remove(0)),
        count => Err(TokenError::Ambiguous { label: label.to_string(), count }),
    }
}

/// Finds `token`'s slot again in an initialised module (slot ids can change when readers come and go).
pub(crate) fn locate(ctx: &Pkcs11, token: &Token) -> Result<(Slot, TokenFacts), TokenError> {
    let slots = ctx.get_slots_with_token().map_err(|e| device(Op::List, &e))?;
    let mut fallback = None;
    for slot in slots {
        let Ok(info) = token_facts(ctx, &token.module, slot) else { continue };
        if info.label == token.label && info.serial == token.serial {
            if slot.id() == token.slot_id {
                return Ok((slot, info));
            }
            fallback.get_or_insert((slot, info));
        }
    }
    fallback.ok_or(TokenError::Removed { operation: "token lookup" })
}

/// Maps a cryptoki error of operation `op` to our error: removal, PIN states, or a device error.
pub(crate) fn device(op: Op, e: &cryptoki::error::Error) -> TokenError {
    use cryptoki::error::{Error as CkError, RvError};
    match e {
        CkError::Pkcs11(rv, _) => match rv {
            RvError::DeviceRemoved
            | RvError::TokenNotPresent
            | RvError::SessionHandleInvalid
            | RvError::SessionClosed
            | RvError::SlotIdInvalid
            | RvError::TokenNotRecognized => TokenError::Removed { operation: op.name() },
            RvError::PinLocked => TokenError::PinLocked,
            RvError::PinExpired => TokenError::PinExpired,
            RvError::PinLenRange | RvError::PinInvalid => TokenError::PinInvalid,
            RvError::MechanismInvalid | RvError::MechanismParamInvalid | RvError::FunctionNotSupported => {
                TokenError::Unsupported { what: format!("{} ({rv:?})", op.name()) }
            }
            _ => TokenError::Device { operation: op.name(), detail: format!("{rv:?}") },
        },
        other => TokenError::Device { operation: op.name(), detail: other.to_string() },
    }
}

//! Changing and unblocking a card's user PIN: `C_SetPIN` in a session that is not logged in (the token checks the
//! old PIN), and for a blocked PIN a login with the unblocking code (the token's SO PIN — a PUK on most cards) then
//! `C_InitPIN`. The token's own state is read first: a locked PIN is not tried, a PIN on its final try is said so,
//! and the new PIN is checked against the token's minimum and maximum length before anything is sent.

use cryptoki::context::Function;
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::session::UserType;
use secrecy::ExposeSecret;

use super::host;
use super::wire::{expect_reply, Reply, Request, WirePin};
use super::worker::{Op, State};
use super::{device, locate, PinState, Token, TokenError};
use crate::token::Pin;

/// The lengths the token accepts for a PIN (`ulMinPinLen`, `ulMaxPinLen`), when it says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PinRules {
    pub min: usize,
    pub max: usize,
}

/// The token's PIN length rules (`None` when its information cannot be read: the token then judges alone).
pub fn pin_rules(token: &Token) -> Result<Option<PinRules>, TokenError> {
    let reply = host::call(&token.module, None, Request::PinRules { token: token.clone() })?;
    expect_reply!(reply, Reply::PinRules(r) => r)
}

/// [`pin_rules`] where the module lives.
pub(super) fn pin_rules_on(state: &mut State, t: &Token) -> Result<Option<PinRules>, TokenError> {
    state.with_module(&t.module, |ctx| {
        let (slot, _) = locate(ctx, t)?;
        Ok(rules_of(ctx, slot))
    })
}

/// Checks a new PIN against the token's rules and its confirmation (typed twice).
pub fn check_new_pin(rules: Option<PinRules>, new: &Pin, again: Option<&Pin>) -> Result<(), TokenError> {
    let text = new.0.expose_secret();
    if let Some(again) = again {
        if again.0.expose_secret() != text {
            return Err(TokenError::PinMismatch);
        }
    }
    let len = text.chars().count();
    match rules {
        // some tokens report 0/0 or max < min: only the token judges then
        Some(r) if r.max >= r.min && r.max > 0 && (len < r.min.max(1) || len > r.max) => {
            Err(TokenError::PinLength { min: r.min.max(1), max: r.max })
        }
        _ if len == 0 => Err(TokenError::PinInvalid),
        _ => Ok(()),
    }
}

/// The PIN state the token reports now.
fn pin_state(ctx: &cryptoki::context::Pkcs11, t: &Token) -> PinState {
    locate(ctx, t).map(|(_, f)| PinState::from_flags(f.flags)).unwrap_or(PinState::CountLow)
}

fn rules_of(ctx: &cryptoki::context::Pkcs11, slot: cryptoki::slot::Slot) -> Option<PinRules> {
    ctx.get_token_info(slot).ok().map(|i| PinRules { min: i.min_pin_length(), max: i.max_pin_length() })
}

/// Changes the user PIN of `token` from `old` to `new` (typed twice when `again` is given). The new PIN is checked
/// against the token's lengths first; the token checks `old`; a locked PIN is not tried.
pub fn change_pin(token: &Token, old: Pin, new: Pin, again: Option<Pin>) -> Result<(), TokenError> {
    let entry = PinEntry::Keyboard { old: WirePin(old), new: WirePin(new), again: again.map(WirePin) };
    let reply = host::call(&token.module, None, Request::ChangePin { token: token.clone(), entry })?;
    expect_reply!(reply, Reply::Done => ())
}

/// Changes the user PIN of a token whose reader has a PIN pad (`pin.protected_path`): the reader asks for the
/// current PIN and the new one (the time limit is the login's, 120 s). Same errors as [`change_pin`].
pub fn change_pin_on_pad(token: &Token) -> Result<(), TokenError> {
    let reply = host::call(&token.module, None, Request::ChangePin { token: token.clone(), entry: PinEntry::Pad })?;
    expect_reply!(reply, Reply::Done => ())
}

/// How a PIN change or unblock gets its codes: typed into Trousseau, or on the reader's PIN pad.
#[derive(serde::Serialize, serde::Deserialize)]
pub(crate) enum PinEntry {
    Keyboard { old: WirePin, new: WirePin, again: Option<WirePin> },
    Pad,
}

/// [`change_pin`] where the module lives.
pub(super) fn change_pin_on(state: &mut State, t: &Token, entry: PinEntry) -> Result<(), TokenError> {
    state.with_module(&t.module, move |ctx| {
        let (slot, info) = locate(ctx, t)?;
        check_entry(&entry, info.flags, rules_of(ctx, slot))?;
        if info.flags & super::flags::USER_PIN_LOCKED != 0 {
            return Err(TokenError::PinLocked);
        }
        let session = ctx.open_rw_session(slot).map_err(|e| device(Op::SetPin, &e))?;
        let result = match entry {
            PinEntry::Keyboard { old, new, again } => {
                let r = session.set_pin(&old.0 .0, &new.0 .0);
                drop((old, new, again));
                r
            }
            PinEntry::Pad => on_pad(super::ffi::set_pin_on_pad(&t.module, session.handle()), Function::SetPIN)?,
        };
        match result {
            Ok(()) => Ok(()),
            Err(CkError::Pkcs11(RvError::PinIncorrect, _)) => match pin_state(ctx, t) {
                PinState::Locked => Err(TokenError::PinLockedNow),
                state => Err(TokenError::WrongPin { state }),
            },
            Err(CkError::Pkcs11(RvError::PinLocked, _)) => Err(TokenError::PinLockedNow),
            Err(e) => Err(device(Op::SetPin, &e)),
        }
    })
}

/// A raw `CK_RV` from a PIN-pad call to `function`, as cryptoki's result.
fn on_pad(
    rv: Result<std::os::raw::c_ulong, String>,
    function: Function,
) -> Result<cryptoki::error::Result<()>, TokenError> {
    let rv = rv.map_err(|detail| TokenError::Device { operation: Op::SetPin.name(), detail })?;
    Ok(cryptoki::error::Rv::from(rv).into_result(function))
}

/// Checks the codes before anything reaches the token: typed codes are not empty (an empty code would use up a
/// try, and for an unblocking code could lock it) and the new PIN fits the token's lengths; the pad is used only
/// when the token, as it is now, says its reader has one (a module may not expect null PINs otherwise).
fn check_entry(entry: &PinEntry, flags: u64, rules: Option<PinRules>) -> Result<(), TokenError> {
    match entry {
        PinEntry::Keyboard { old, new, again } => {
            if old.0 .0.expose_secret().is_empty() {
                return Err(TokenError::PinInvalid);
            }
            check_new_pin(rules, &new.0, again.as_ref().map(|a| &a.0))
        }
        PinEntry::Pad if flags & super::flags::PROTECTED_AUTHENTICATION_PATH == 0 => {
            Err(TokenError::Unsupported { what: "PIN pad (this reader has none)".into() })
        }
        PinEntry::Pad => Ok(()),
    }
}

/// Unblocks (or resets) the user PIN of `token` with its unblocking code (`so`: the SO PIN / PUK), setting `new`
/// (typed twice when `again` is given; checked against the token's lengths before anything is sent).
pub fn unblock_pin(token: &Token, so: Pin, new: Pin, again: Option<Pin>) -> Result<(), TokenError> {
    let entry = PinEntry::Keyboard { old: WirePin(so), new: WirePin(new), again: again.map(WirePin) };
    let reply = host::call(&token.module, None, Request::UnblockPin { token: token.clone(), entry })?;
    expect_reply!(reply, Reply::Done => ())
}

/// Unblocks the user PIN of a token whose reader has a PIN pad: the reader asks for the unblocking code, then
/// for the new PIN. Same errors as [`unblock_pin`].
pub fn unblock_pin_on_pad(token: &Token) -> Result<(), TokenError> {
    let reply = host::call(&token.module, None, Request::UnblockPin { token: token.clone(), entry: PinEntry::Pad })?;
    expect_reply!(reply, Reply::Done => ())
}

/// [`unblock_pin`] where the module lives (`entry`'s `old` is the unblocking code).
pub(super) fn unblock_pin_on(state: &mut State, t: &Token, entry: PinEntry) -> Result<(), TokenError> {
    state.with_module(&t.module, move |ctx| {
        let (slot, facts) = locate(ctx, t)?;
        check_entry(&entry, facts.flags, rules_of(ctx, slot))?;
        let info = ctx.get_token_info(slot).ok();
        if info.as_ref().is_some_and(|i| i.so_pin_locked()) {
            return Err(TokenError::UnblockCodeLocked);
        }
        let session = ctx.open_rw_session(slot).map_err(|e| device(Op::SetPin, &e))?;
        let (so, new) = match entry {
            PinEntry::Keyboard { old, new, again } => {
                drop(again);
                (Some(old), Some(new))
            }
            PinEntry::Pad => (None, None),
        };
        // With no code, the module asks the reader's pad for it (PKCS#11: a null PIN on a protected path).
        let login = session.login(UserType::So, so.as_ref().map(|p| &p.0 .0));
        drop(so);
        match login {
            Ok(()) | Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => {}
            Err(CkError::Pkcs11(RvError::PinIncorrect, _)) => {
                let final_try = ctx.get_token_info(slot).map(|i| i.so_pin_final_try()).unwrap_or(false);
                let locked = ctx.get_token_info(slot).map(|i| i.so_pin_locked()).unwrap_or(false);
                return Err(if locked {
                    TokenError::UnblockCodeLocked
                } else {
                    TokenError::WrongUnblockCode { final_try }
                });
            }
            Err(CkError::Pkcs11(RvError::PinLocked, _)) => return Err(TokenError::UnblockCodeLocked),
            Err(e) => return Err(device(Op::SetPin, &e)),
        }
        let result = match new {
            Some(new) => session.init_pin(&new.0 .0),
            None => on_pad(super::ffi::init_pin_on_pad(&t.module, session.handle()), Function::InitPIN)?,
        };
        let _ = session.logout();
        result.map_err(|e| device(Op::SetPin, &e))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use zeroize::Zeroizing;

    fn pin(s: &str) -> Pin {
        Pin::new(Zeroizing::new(s.to_string()))
    }

    #[test]
    fn new_pins_are_checked_against_the_tokens_lengths_and_their_confirmation() {
        let rules = Some(PinRules { min: 4, max: 8 });
        assert!(check_new_pin(rules, &pin("1234"), Some(&pin("1234"))).is_ok());
        assert!(matches!(check_new_pin(rules, &pin("1234"), Some(&pin("1235"))), Err(TokenError::PinMismatch)));
        assert!(matches!(check_new_pin(rules, &pin("123"), None), Err(TokenError::PinLength { min: 4, max: 8 })));
        assert!(matches!(check_new_pin(rules, &pin("123456789"), None), Err(TokenError::PinLength { .. })));
        // a token that says nothing useful: only empty is refused here
        assert!(check_new_pin(Some(PinRules { min: 0, max: 0 }), &pin("1"), None).is_ok());
        assert!(matches!(check_new_pin(None, &pin(""), None), Err(TokenError::PinInvalid)));
    }
}

//! Changing and unblocking a card's user PIN: `C_SetPIN` in a session that is not logged in (the token checks the
//! old PIN), and for a blocked PIN a login with the unblocking code (the token's SO PIN — a PUK on most cards) then
//! `C_InitPIN`. The token's own state is read first: a locked PIN is not tried, a PIN on its final try is said so,
//! and the new PIN is checked against the token's minimum and maximum length before anything is sent.

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
    let req =
        Request::ChangePin { token: token.clone(), old: WirePin(old), new: WirePin(new), again: again.map(WirePin) };
    let reply = host::call(&token.module, None, req)?;
    expect_reply!(reply, Reply::Done => ())
}

/// [`change_pin`] where the module lives.
pub(super) fn change_pin_on(
    state: &mut State,
    t: &Token,
    old: Pin,
    new: Pin,
    again: Option<Pin>,
) -> Result<(), TokenError> {
    {
        state.with_module(&t.module, move |ctx| {
            let (slot, info) = locate(ctx, t)?;
            check_new_pin(rules_of(ctx, slot), &new, again.as_ref())?;
            drop(again);
            if info.flags & super::flags::USER_PIN_LOCKED != 0 {
                return Err(TokenError::PinLocked);
            }
            let session = ctx.open_rw_session(slot).map_err(|e| device(Op::SetPin, &e))?;
            let result = session.set_pin(&old.0, &new.0);
            drop((old, new));
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
}

/// Unblocks (or resets) the user PIN of `token` with its unblocking code (`so`: the SO PIN / PUK), setting `new`
/// (typed twice when `again` is given; checked against the token's lengths before anything is sent).
pub fn unblock_pin(token: &Token, so: Pin, new: Pin, again: Option<Pin>) -> Result<(), TokenError> {
    let req =
        Request::UnblockPin { token: token.clone(), so: WirePin(so), new: WirePin(new), again: again.map(WirePin) };
    let reply = host::call(&token.module, None, req)?;
    expect_reply!(reply, Reply::Done => ())
}

/// [`unblock_pin`] where the module lives.
pub(super) fn unblock_pin_on(
    state: &mut State,
    t: &Token,
    so: Pin,
    new: Pin,
    again: Option<Pin>,
) -> Result<(), TokenError> {
    {
        state.with_module(&t.module, move |ctx| {
            let (slot, _) = locate(ctx, t)?;
            check_new_pin(rules_of(ctx, slot), &new, again.as_ref())?;
            drop(again);
            let info = ctx.get_token_info(slot).ok();
            if info.as_ref().is_some_and(|i| i.so_pin_locked()) {
                return Err(TokenError::UnblockCodeLocked);
            }
            let session = ctx.open_rw_session(slot).map_err(|e| device(Op::SetPin, &e))?;
            let login = session.login(UserType::So, Some(&so.0));
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
            let result = session.init_pin(&new.0);
            drop(new);
            let _ = session.logout();
            result.map_err(|e| device(Op::SetPin, &e))
        })
    }
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

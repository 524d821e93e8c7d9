//! Whether a card's PIN may be tried for a change, the same rule for the window and the CLI: never when it is
//! locked (unblock it instead), and on its final try only once the user confirmed.

use crate::i18n::{Coded, Lang};
use crate::token::{PinState, Token, TokenError};

/// Why a PIN change is not tried.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PinGuardError {
    #[error(transparent)]
    Locked(TokenError),
    #[error("final try not confirmed")]
    FinalTryNotConfirmed,
}

impl Coded for PinGuardError {
    fn code(&self) -> &'static str {
        match self {
            PinGuardError::Locked(e) => e.code(),
            PinGuardError::FinalTryNotConfirmed => "token.final_try_not_confirmed",
        }
    }
    fn message(&self, lang: Lang) -> String {
        match self {
            PinGuardError::Locked(e) => e.message(lang),
            PinGuardError::FinalTryNotConfirmed => lang.pick3(
                "Dernier essai avant le blocage de la carte : rien n'a été tenté. Confirmez que vous êtes sûr du code PIN actuel (en ligne de commande : --yes).",
                "Final try before the card locks: nothing was tried. Confirm that you are sure of the current PIN (on the command line: --yes).",
                "Letzter Versuch, bevor die Karte gesperrt wird: Es wurde nichts versucht. Bestätigen Sie, dass Sie sich der aktuellen PIN sicher sind (in der Befehlszeile: --yes).",
            ),
        }
    }
}

/// `Ok` when the PIN of `t` may be tried for a change; `final_try_confirmed`: the user accepted to use the last try.
pub fn may_change_pin(t: &Token, final_try_confirmed: bool) -> Result<(), PinGuardError> {
    match t.pin.state {
        PinState::Locked => Err(PinGuardError::Locked(TokenError::PinLocked)),
        PinState::FinalTry if !final_try_confirmed => Err(PinGuardError::FinalTryNotConfirmed),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn final_try_sentence_in_german() {
        crate::i18n::assert_german(&PinGuardError::FinalTryNotConfirmed);
        assert_eq!(PinGuardError::Locked(TokenError::PinLocked).code(), "token.pin_locked");
    }
}

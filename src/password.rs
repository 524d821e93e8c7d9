//! Password policies (IGC-Santé, TCS) and a strength estimate, shared by PKCS#12 export and reunite.
//!
//! A `.p12` protects a private key with nothing but its password, so the password the user picks is checked
//! before anything is written: first against the rules of the destination (the IGC-Santé platform asks for at
//! least 12 characters with an upper-case letter, a lower-case letter and a non-alphanumeric character; TCS asks
//! for at least 8 with two special characters and mixed case), then against a strength estimate (zxcvbn), so a
//! password that ticks every box but is a dictionary word with decorations is still refused. Every unmet rule is
//! listed at once, in the user's language, so the user fixes everything in one go.

use crate::i18n::{Coded, Lang};
use serde::{Deserialize, Serialize};

/// A password or PIN as requests carry it: a plain string on the wire, zeroized when dropped, and never shown by
/// `Debug` (a request logged or printed in a panic message shows `Password(***)`).
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Password(String);

impl Password {
    /// The secret itself, for the one call that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(***)")
    }
}

impl From<String> for Password {
    fn from(s: String) -> Self {
        Password(s)
    }
}

impl From<&str> for Password {
    fn from(s: &str) -> Self {
        Password(s.to_string())
    }
}

impl Drop for Password {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.0);
    }
}

/// Which rules a new password is checked against: the one list for the core, the window (`PasswordPolicy` on the
/// wire) and the CLI (`--policy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
#[ts(rename = "PasswordPolicy")]
pub enum Policy {
    /// IGC-Santé: at least 12 characters, upper and lower case, a non-alphanumeric character.
    IgcSante,
    /// TCS (GÉANT): at least 8 characters, 2 special characters, mixed case.
    Tcs,
}

impl Policy {
    pub fn name(self) -> &'static str {
        match self {
            Policy::IgcSante => "IGC-Santé",
            Policy::Tcs => "TCS",
        }
    }

    /// The rules of this policy.
    pub fn rules(self) -> Vec<Rule> {
        match self {
            Policy::IgcSante => vec![Rule::MinLength(12), Rule::Upper, Rule::Lower, Rule::NonAlphanumeric],
            Policy::Tcs => vec![Rule::MinLength(8), Rule::Specials(2), Rule::MixedCase],
        }
    }
}

/// One rule of a policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "rule", content = "n", rename_all = "snake_case")]
pub enum Rule {
    MinLength(usize),
    Upper,
    Lower,
    NonAlphanumeric,
    Specials(usize),
    MixedCase,
}

impl Rule {
    fn holds(self, password: &str) -> bool {
        let upper = password.chars().any(char::is_uppercase);
        let lower = password.chars().any(char::is_lowercase);
        let specials = password.chars().filter(|c| !c.is_alphanumeric()).count();
        match self {
            Rule::MinLength(n) => password.chars().count() >= n,
            Rule::Upper => upper,
            Rule::Lower => lower,
            Rule::NonAlphanumeric => specials >= 1,
            Rule::Specials(n) => specials >= n,
            Rule::MixedCase => upper && lower,
        }
    }

    /// The rule as a sentence fragment in `lang`.
    pub fn describe(self, lang: Lang) -> String {
        match self {
            Rule::MinLength(n) => lang.pick3(
                format!("au moins {n} caractères"),
                format!("at least {n} characters"),
                format!("mindestens {n} Zeichen"),
            ),
            Rule::Upper => lang.pick3(
                "au moins une lettre majuscule",
                "at least one upper-case letter",
                "mindestens einen Großbuchstaben",
            ),
            Rule::Lower => lang.pick3(
                "au moins une lettre minuscule",
                "at least one lower-case letter",
                "mindestens einen Kleinbuchstaben",
            ),
            Rule::NonAlphanumeric => lang.pick3(
                "au moins un caractère non alphanumérique (par exemple ! # $ % - _)",
                "at least one non-alphanumeric character (for example ! # $ % - _)",
                "mindestens ein nicht alphanumerisches Zeichen (zum Beispiel ! # $ % - _)",
            ),
            Rule::Specials(n) => lang.pick3(
                format!("au moins {n} caractères spéciaux (par exemple ! # $ % - _)"),
                format!("at least {n} special characters (for example ! # $ % - _)"),
                format!("mindestens {n} Sonderzeichen (zum Beispiel ! # $ % - _)"),
            ),
            Rule::MixedCase => lang.pick3(
                "des majuscules et des minuscules",
                "both upper-case and lower-case letters",
                "Groß- und Kleinbuchstaben",
            ),
        }
    }
}

/// Estimated strength of an accepted password (zxcvbn).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Strength {
    /// 0 (guessed at once) … 4 (very hard to guess).
    pub score: u8,
    /// log10 of the estimated number of guesses.
    pub guesses_log10: f64,
}

/// The minimum zxcvbn score accepted (2: "somewhat guessable", protection from unthrottled online attacks).
pub const MIN_SCORE: u8 = 2;

/// Why a password was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PasswordError {
    #[error("password does not follow the {} policy: {} rule(s) unmet", policy.name(), unmet.len())]
    Policy { policy: Policy, unmet: Vec<Rule> },
    #[error("password too easy to guess (score {score}/4)")]
    TooWeak { score: u8 },
}

impl Coded for PasswordError {
    fn code(&self) -> &'static str {
        match self {
            PasswordError::Policy { .. } => "password.policy",
            PasswordError::TooWeak { .. } => "password.too_weak",
        }
    }

    fn message(&self, lang: Lang) -> String {
        match self {
            PasswordError::Policy { policy, unmet } => {
                let list = unmet.iter().map(|r| r.describe(lang)).collect::<Vec<_>>().join(", ");
                lang.pick3(
                    format!("Le mot de passe ne respecte pas les règles {} : il lui manque {list}. Choisissez-en un autre.", policy.name()),
                    format!("The password does not follow the {} rules: it needs {list}. Choose another one.", policy.name()),
                    format!("Das Passwort entspricht nicht den Regeln {}: Es muss {list} enthalten. Wählen Sie ein anderes.", policy.name()),
                )
            }
            PasswordError::TooWeak { score } => lang.pick3(
                format!("Ce mot de passe respecte les règles mais se devine trop facilement (solidité {score}/4) : évitez les mots du dictionnaire, les dates et les suites ; une phrase de plusieurs mots convient bien."),
                format!("This password follows the rules but is too easy to guess (strength {score}/4): avoid dictionary words, dates and sequences; a phrase of several words works well."),
                format!("Dieses Passwort entspricht den Regeln, ist aber zu leicht zu erraten (Stärke {score}/4): Vermeiden Sie Wörter aus dem Wörterbuch, Datumsangaben und Zeichenfolgen; ein Satz aus mehreren Wörtern eignet sich gut."),
            ),
        }
    }
}

/// The rules of `policy` that `password` does not follow (empty when it follows them all).
pub fn unmet_rules(policy: Policy, password: &str) -> Vec<Rule> {
    policy.rules().into_iter().filter(|r| !r.holds(password)).collect()
}

/// Estimates the strength of `password` (zxcvbn), taking `user_inputs` (names, e-mail…) as known words.
pub fn strength(password: &str, user_inputs: &[&str]) -> Strength {
    let e = zxcvbn::zxcvbn(password, user_inputs);
    Strength { score: u8::from(e.score()), guesses_log10: e.guesses_log10() }
}

/// Checks `password` against `policy`, then against the strength estimate. `user_inputs` are words the password
/// should not be built from (holder's name, e-mail).
pub fn check(policy: Policy, password: &str, user_inputs: &[&str]) -> Result<Strength, PasswordError> {
    let unmet = unmet_rules(policy, password);
    if !unmet.is_empty() {
        return Err(PasswordError::Policy { policy, unmet });
    }
    let s = strength(password, user_inputs);
    if s.score < MIN_SCORE {
        return Err(PasswordError::TooWeak { score: s.score });
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::assert_german;

    #[test]
    fn german_messages() {
        let e = PasswordError::Policy { policy: Policy::IgcSante, unmet: vec![Rule::MinLength(12), Rule::Upper] };
        assert_german(&e);
        assert!(e.message(Lang::De).contains("mindestens 12 Zeichen, mindestens einen Großbuchstaben"));
        assert_german(&PasswordError::TooWeak { score: 1 });
    }

    #[test]
    fn igc_sante_lists_every_unmet_rule() {
        assert_eq!(unmet_rules(Policy::IgcSante, "abc"), vec![Rule::MinLength(12), Rule::Upper, Rule::NonAlphanumeric]);
        assert!(unmet_rules(Policy::IgcSante, "Kq7#vTz!mW2pLx").is_empty());
        // 11 characters is one too few; accents count as one character each.
        assert_eq!(unmet_rules(Policy::IgcSante, "Éléphant#1x"), vec![Rule::MinLength(12)]);
        assert!(unmet_rules(Policy::IgcSante, "Éléphant#1xy").is_empty());
    }

    #[test]
    fn tcs_needs_two_specials_and_mixed_case() {
        assert_eq!(unmet_rules(Policy::Tcs, "abcdefg!"), vec![Rule::Specials(2), Rule::MixedCase]);
        assert!(unmet_rules(Policy::Tcs, "aBcdef!?").is_empty());
    }

    #[test]
    fn decorated_dictionary_word_is_too_weak() {
        let e = check(Policy::IgcSante, "Password123!", &[]).unwrap_err();
        assert_eq!(e.code(), "password.too_weak");
        assert!(check(Policy::IgcSante, "Kq7#vTz!mW2pLx9$rB", &[]).is_ok());
    }

    #[test]
    fn messages_name_the_rules_in_both_languages() {
        let e = check(Policy::IgcSante, "short", &[]).unwrap_err();
        assert!(e.message(Lang::Fr).contains("au moins 12 caractères"));
        assert!(e.message(Lang::En).contains("at least one upper-case letter"));
        assert_eq!(e.code(), "password.policy");
    }
}

//! User language and the error contract shared by every module.
//!
//! Every module has its own error enum; each implements [`Coded`] so the CLI (`--json`), the desktop shell and the
//! portal bridge can show a stable code plus a sentence that says what happened and what to do, in the user's
//! language (French first, then English and German; German falls back to English where no text exists yet).

use serde::{Deserialize, Serialize};

/// The languages of the interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    #[default]
    Fr,
    En,
    De,
}

impl Lang {
    /// Reads `TROUSSEAU_LANG`, then `LC_ALL`, `LC_MESSAGES`, `LANG`; French when nothing says otherwise.
    pub fn from_env() -> Lang {
        for var in ["TROUSSEAU_LANG", "LC_ALL", "LC_MESSAGES", "LANG"] {
            if let Ok(v) = std::env::var(var) {
                if let Some(l) = Lang::parse(&v) {
                    return l;
                }
            }
        }
        Lang::Fr
    }

    /// `fr`, `fr_LU.UTF-8`, `en-GB`, `de`… → a language; `C`/`POSIX`/empty → `None`.
    pub fn parse(s: &str) -> Option<Lang> {
        let s = s.trim().to_ascii_lowercase();
        if s.starts_with("fr") {
            Some(Lang::Fr)
        } else if s.starts_with("en") {
            Some(Lang::En)
        } else if s.starts_with("de") {
            Some(Lang::De)
        } else {
            None
        }
    }

    /// A calendar date as people write it in this language: 07/03/2025, 2025-03-07, 07.03.2025.
    pub fn date(self, d: time::Date) -> String {
        let (day, month, year) = (d.day(), u8::from(d.month()), d.year());
        match self {
            Lang::Fr => format!("{day:02}/{month:02}/{year:04}"),
            Lang::En => format!("{year:04}-{month:02}-{day:02}"),
            Lang::De => format!("{day:02}.{month:02}.{year:04}"),
        }
    }

    /// Picks the text for this language: French, English, German.
    pub fn pick3(self, fr: impl Into<String>, en: impl Into<String>, de: impl Into<String>) -> String {
        match self {
            Lang::Fr => fr.into(),
            Lang::En => en.into(),
            Lang::De => de.into(),
        }
    }
}

/// An error the user can act on: a stable code for support and a sentence in the user's language.
pub trait Coded: std::error::Error {
    /// Stable, dotted, lowercase code, e.g. `pkcs12.wrong_password`. Never changes once released.
    fn code(&self) -> &'static str;
    /// What happened and what to do, in `lang`. Never contains a secret.
    fn message(&self, lang: Lang) -> String;
}

/// Test support: the German sentence of `e` exists, differs from the English one and has no unfilled
/// `{placeholder}`.
#[cfg(test)]
pub(crate) fn assert_german(e: &dyn Coded) {
    let (en, de) = (e.message(Lang::En), e.message(Lang::De));
    assert_ne!(de, en, "{}: German is the English text", e.code());
    assert!(!de.contains('{') && !de.contains('}'), "{}: unfilled placeholder in {de:?}", e.code());
}

/// A coded error flattened for transport (CLI JSON, Tauri command result, bridge reply).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ErrorReport {
    pub code: String,
    pub message: String,
}

impl ErrorReport {
    pub fn from_coded(e: &dyn Coded, lang: Lang) -> Self {
        ErrorReport { code: e.code().to_string(), message: e.message(lang) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pick3_gives_each_language_its_text() {
        assert_eq!(Lang::Fr.pick3("carte", "card", "Karte"), "carte");
        assert_eq!(Lang::En.pick3("carte", "card", "Karte"), "card");
        assert_eq!(Lang::De.pick3("carte", "card", "Karte"), "Karte");
    }

    #[test]
    fn dates_as_each_language_writes_them() {
        let d = time::macros::date!(2025 - 03 - 07);
        assert_eq!(Lang::Fr.date(d), "07/03/2025");
        assert_eq!(Lang::En.date(d), "2025-03-07");
        assert_eq!(Lang::De.date(d), "07.03.2025");
    }

    #[test]
    fn parses_posix_locales() {
        assert_eq!(Lang::parse("fr_LU.UTF-8"), Some(Lang::Fr));
        assert_eq!(Lang::parse("en_GB"), Some(Lang::En));
        assert_eq!(Lang::parse("de_DE.UTF-8"), Some(Lang::De));
        assert_eq!(Lang::parse("C"), None);
    }
}

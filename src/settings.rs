//! The window's preferences (`desktop.json`), with the portal list and the PKCS#11 list kept in their own modules'
//! configuration files.

use crate::i18n::{Coded, Lang};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use ts_rs::TS;

/// A portal entry in the settings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, TS)]
pub struct PortalEntry {
    pub name: String,
    pub url: String,
}

/// The window's preferences (stored in the configuration directory, `desktop.json`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, TS)]
pub struct Settings {
    /// `fr`, `en` or `de`.
    pub lang: String,
    /// Start Trousseau at login (off by default).
    pub autostart: bool,
    /// Portals; the first is the one the assistant pairs with. Default: the local reference portal.
    pub portals: Vec<PortalEntry>,
    /// Extra PKCS#11 modules (absolute paths) tried besides those found automatically.
    pub pkcs11_modules: Vec<String>,
    /// Notifications for cards, portal state and deadlines.
    pub notifications: bool,
    /// Remind to run the backup-key drill when the last one is older than this many days (0: never).
    #[serde(default = "default_drill_days")]
    pub drill_reminder_days: u32,
}

fn default_drill_days() -> u32 {
    30
}

/// The local reference portal (`trousseau-sandbox`) the run script starts on a fresh machine.
pub const SANDBOX_URL: &str = "http://127.0.0.1:8750";

impl Default for Settings {
    fn default() -> Self {
        Settings {
            lang: match Lang::from_env() {
                Lang::Fr => "fr",
                Lang::En => "en",
                Lang::De => "de",
            }
            .into(),
            autostart: false,
            portals: vec![PortalEntry { name: "Portail de test (local)".into(), url: SANDBOX_URL.into() }],
            pkcs11_modules: Vec::new(),
            notifications: true,
            drill_reminder_days: default_drill_days(),
        }
    }
}

/// Errors of the settings file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SettingsError {
    #[error("cannot read or write {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path} is not valid settings JSON: {source}")]
    Parse { path: PathBuf, source: serde_json::Error },
    #[error("invalid setting: {0}")]
    Invalid(&'static str),
}

impl Coded for SettingsError {
    fn code(&self) -> &'static str {
        match self {
            SettingsError::Io { .. } => "settings.io",
            SettingsError::Parse { .. } => "settings.parse",
            SettingsError::Invalid(_) => "settings.invalid",
        }
    }
    fn message(&self, lang: Lang) -> String {
        match self {
            SettingsError::Io { path, source } => lang.pick3(
                format!("Impossible de lire ou d'enregistrer les paramètres ({}) : {source}. Vérifiez l'espace disque et les droits du dossier.", path.display()),
                format!("Cannot read or save the settings ({}): {source}. Check disk space and the folder's permissions.", path.display()),
                format!("Die Einstellungen können nicht gelesen oder gespeichert werden ({}): {source}. Prüfen Sie den Speicherplatz und die Rechte des Ordners.", path.display()),
            ),
            SettingsError::Parse { path, .. } => lang.pick3(
                format!("Le fichier de paramètres {} est abîmé. Supprimez-le : Trousseau repartira avec les réglages par défaut.", path.display()),
                format!("The settings file {} is damaged. Delete it: Trousseau will start again with default settings.", path.display()),
                format!("Die Einstellungsdatei {} ist beschädigt. Löschen Sie sie: Trousseau startet dann mit den Standardeinstellungen.", path.display()),
            ),
            SettingsError::Invalid(what) => lang.pick3(
                format!("Réglage refusé : {what}. Corrigez-le puis enregistrez à nouveau."),
                format!("Setting refused: {what}. Correct it and save again."),
                format!("Einstellung abgelehnt: {what}. Korrigieren Sie sie und speichern Sie erneut."),
            ),
        }
    }
}

/// Reads the settings (defaults when the file does not exist yet).
pub fn load_settings() -> Result<Settings, SettingsError> {
    let path = crate::paths::config_dir()
        .map_err(|e| SettingsError::Io { path: PathBuf::from("config"), source: std::io::Error::other(e.to_string()) })?
        .join("desktop.json");
    let mut settings = match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|source| SettingsError::Parse { path, source })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Settings::default(),
        Err(source) => return Err(SettingsError::Io { path, source }),
    };
    // The portal list is the portal module's own configuration (`portals.json`, or the administrator's managed
    // file, which wins): the window, the CLI and the channel read one list.
    #[cfg(feature = "portal")]
    if let Ok(c) = crate::portal::load_config() {
        settings.portals = c.portals.into_iter().map(|p| PortalEntry { name: p.name, url: p.url }).collect();
    }
    // The PKCS#11 list is the token module's own configuration file (one path per line), read by discovery.
    if let Some(file) = crate::token::configured_modules_file() {
        if let Ok(text) = std::fs::read_to_string(file) {
            settings.pkcs11_modules = text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(String::from)
                .collect();
        }
    }
    Ok(settings)
}

/// Validates and writes the settings atomically ([`crate::fsutil::write_atomic`]).
pub fn save_settings(s: &Settings) -> Result<(), SettingsError> {
    if Lang::parse(&s.lang).is_none() {
        return Err(SettingsError::Invalid("lang"));
    }
    if s.pkcs11_modules.iter().any(|m| !std::path::Path::new(m.trim()).is_absolute()) {
        return Err(SettingsError::Invalid("PKCS#11 module path (absolute paths only)"));
    }
    if s.drill_reminder_days > 366 {
        return Err(SettingsError::Invalid("drill reminder (0 to 366 days)"));
    }
    #[cfg(feature = "portal")]
    let portals = checked_portals(&s.portals)?;
    let dir = crate::paths::config_dir().map_err(|e| SettingsError::Io {
        path: PathBuf::from("config"),
        source: std::io::Error::other(e.to_string()),
    })?;
    let path = dir.join("desktop.json");
    #[cfg(feature = "portal")]
    let s = &Settings { portals: Vec::new(), ..s.clone() }; // kept in portals.json, not twice
    let json = serde_json::to_vec_pretty(s).map_err(|source| SettingsError::Parse { path: path.clone(), source })?;
    crate::fsutil::write_atomic(&path, &json, crate::fsutil::Access::Private)
        .map_err(|e| SettingsError::Io { path: path.clone(), source: e.into() })?;
    if let Some(file) = crate::token::configured_modules_file() {
        let mut text = String::from("# PKCS#11 modules added in Trousseau's settings, one path per line\n");
        for m in &s.pkcs11_modules {
            text.push_str(m.trim());
            text.push('\n');
        }
        crate::fsutil::write_atomic(&file, text.as_bytes(), crate::fsutil::Access::Private)
            .map_err(|e| SettingsError::Io { path: file.clone(), source: e.into() })?;
    }
    #[cfg(feature = "portal")]
    if let Some((entries, bridge)) = portals {
        crate::portal::save_user_config(&entries, bridge.as_ref()).map_err(|e| SettingsError::Io {
            path: PathBuf::from("portals.json"),
            source: std::io::Error::other(e.to_string()),
        })?;
    }
    Ok(())
}

/// Checks the window's portal list with the portal module's own rules (`https://`, or `http://` on loopback only)
/// before anything is written. `None`: the list is unchanged. A list managed by the administrator cannot be edited.
#[cfg(feature = "portal")]
#[allow(clippy::type_complexity)]
fn checked_portals(
    portals: &[PortalEntry],
) -> Result<Option<(Vec<crate::portal::PortalEntry>, Option<crate::portal::BridgeConfig>)>, SettingsError> {
    let current = crate::portal::load_config().map_err(|_| SettingsError::Invalid("portal configuration"))?;
    let unchanged = current.portals.len() == portals.len()
        && current.portals.iter().zip(portals).all(|(a, b)| a.name == b.name && a.url == b.url);
    if unchanged {
        return Ok(None);
    }
    if current.managed {
        return Err(SettingsError::Invalid("portals (managed by your administrator)"));
    }
    let mut entries = Vec::new();
    for p in portals {
        let url = crate::portal::check_url(&p.url)
            .map_err(|_| SettingsError::Invalid("portal URL (https://, or http:// on 127.0.0.1 / localhost only)"))?;
        if p.name.trim().is_empty() {
            return Err(SettingsError::Invalid("portal name"));
        }
        entries.push(crate::portal::PortalEntry { name: p.name.trim().to_string(), url });
    }
    Ok(Some((entries, current.bridge)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "portal")]
    #[test]
    fn portal_urls_https_or_loopback_http_only() {
        let entry = |url: &str| vec![PortalEntry { name: "P".into(), url: url.into() }];
        for ok in ["http://127.0.0.1:8787", "http://localhost/", "https://pmp.example.lu"] {
            assert!(checked_portals(&entry(ok)).is_ok(), "{ok}");
        }
        for bad in ["http://localhost.evil.example", "http://portal.example", "ftp://127.0.0.1"] {
            assert!(matches!(checked_portals(&entry(bad)), Err(SettingsError::Invalid(_))), "{bad}");
        }
    }
}

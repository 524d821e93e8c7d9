//! The command surface, declared once: every command the window (and later the bridge) can call, with its request
//! and response types. The Tauri shell (`src-tauri/`) turns each entry into a `#[tauri::command]` through
//! [`with_commands!`]; the TypeScript types of `ui/` are generated from the same list ([`typescript_bindings`]),
//! so a command or a field is never written twice. Every handler here is plain Rust that runs headless.
//!
//! Areas whose core module has not landed yet answer [`ApiError::unavailable`] (code `api.unavailable`), and
//! [`Capabilities`] tells the window which areas are wired so it can say "bientôt disponible" instead of showing
//! made-up data.

use crate::i18n::{Coded, ErrorReport, Lang};
use crate::password;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use ts_rs::TS;

/// An error as the window shows it: stable code (small print, for support) and a sentence in the user's language
/// that says what happened and what to do.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, TS)]
pub struct ApiError {
    pub code: String,
    pub message: String,
}

impl ApiError {
    /// The area's core module is not part of this build yet.
    pub fn unavailable(area: &str, lang: Lang) -> Self {
        ApiError {
            code: "api.unavailable".into(),
            message: lang.pick3(
                format!("Cette fonction ({area}) sera bientôt disponible dans Trousseau. Utilisez en attendant la ligne de commande « trousseau » si elle la propose."),
                format!("This feature ({area}) is coming soon in Trousseau. Meanwhile, use the « trousseau » command line if it offers it."),
                format!("Diese Funktion ({area}) ist bald in Trousseau verfügbar. Verwenden Sie bis dahin die Befehlszeile „trousseau“, falls sie sie anbietet."),
            ),
        }
    }

    /// A request the window built wrongly (a bug, never the user's fault).
    pub fn bad_request(what: &str, lang: Lang) -> Self {
        ApiError {
            code: "api.bad_request".into(),
            message: lang.pick3(
                format!("La demande est incomplète ({what}). Fermez et rouvrez la fenêtre ; si cela se reproduit, contactez votre support."),
                format!("The request is incomplete ({what}). Close and reopen the window; if it happens again, contact your support."),
                format!("Die Anfrage ist unvollständig ({what}). Schließen Sie das Fenster und öffnen Sie es erneut; falls das wieder vorkommt, wenden Sie sich an Ihren Support."),
            ),
        }
    }

    pub fn from_coded(e: &dyn Coded, lang: Lang) -> Self {
        let r = ErrorReport::from_coded(e, lang);
        ApiError { code: r.code, message: r.message }
    }
}

impl From<ErrorReport> for ApiError {
    fn from(r: ErrorReport) -> Self {
        ApiError { code: r.code, message: r.message }
    }
}

/// The window's language as the command receives it (`fr`, `en`, `de`; anything else → French).
pub fn lang_of(code: &str) -> Lang {
    Lang::parse(code).unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------------------------
// Types shared by several commands.

/// Which areas of the core this build offers; the window shows "bientôt disponible" for the others.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, TS)]
pub struct Capabilities {
    pub version: String,
    pub cards: bool,
    pub tokens: bool,
    pub store: bool,
    pub pkcs12: bool,
    pub csr: bool,
    pub pending: bool,
    pub portal: bool,
    pub password: bool,
}

/// A certificate as people know it: holder, issuer's short name, expiry; the technical fields follow.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, TS)]
pub struct CertSummary {
    /// Holder's name (subject CN), or the subject when there is no CN.
    pub holder: String,
    /// Issuer's short name (issuer CN), or the issuer.
    pub issuer_name: String,
    pub subject: String,
    pub issuer: String,
    pub serial: String,
    /// RFC 3339 UTC (`…Z`); the window formats it in the user's locale.
    pub not_before: String,
    pub not_after: String,
    /// Whole days until expiry (negative once expired).
    pub days_left: i32,
    pub sha256: String,
    pub key_usage: Vec<String>,
    pub ext_key_usage: Vec<String>,
    pub encryption_capable: bool,
    pub is_ca: bool,
    pub has_private_key: bool,
}

impl CertSummary {
    /// Summarises a parsed certificate, counting days from `now`.
    pub fn from_cert(c: &crate::cert::Certificate, has_private_key: bool, now: time::OffsetDateTime) -> Self {
        let days = (c.not_after - now).whole_days();
        CertSummary {
            holder: c.subject_cn.clone().unwrap_or_else(|| c.subject.clone()),
            issuer_name: c.issuer_cn.clone().unwrap_or_else(|| c.issuer.clone()),
            subject: c.subject.clone(),
            issuer: c.issuer.clone(),
            serial: c.serial.clone(),
            not_before: crate::cert::rfc3339_z::format(&c.not_before),
            not_after: crate::cert::rfc3339_z::format(&c.not_after),
            days_left: days.clamp(i32::MIN as i64, i32::MAX as i64) as i32,
            sha256: c.sha256.clone(),
            key_usage: c.key_usage.clone(),
            ext_key_usage: c.ext_key_usage.clone(),
            encryption_capable: c.encryption_capable,
            is_ca: c.is_ca,
            has_private_key,
        }
    }
}

/// A smartcard reader and the card in it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, TS)]
pub struct ReaderState {
    pub name: String,
    pub card: Option<CardState>,
}

/// A card identified by its ATR.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, TS)]
pub struct CardState {
    /// Uppercase hex.
    pub atr: String,
    /// `luxtrust`, `lux-eid`, `cps3`, `cps4`, `unknown`.
    pub family: String,
    pub name: String,
}

/// A request waiting for its certificate.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, TS)]
pub struct PendingSummary {
    pub id: String,
    /// Who and what the request is for, e.g. "Jeanne Dupont — IGC-Santé PS — AUTH" (holder first, never a raw DN).
    pub label: String,
    /// RFC 3339 UTC.
    pub created: String,
    /// Withdrawal deadline (IGC-Santé: 10 days for an uploaded CSR), RFC 3339 UTC.
    pub deadline: Option<String>,
    pub days_left: Option<i32>,
}

/// The portal channel as the tray and the dashboard show it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, TS)]
pub struct PortalState {
    /// The portal's display name (e.g. "PMP" or "Portail de test (local)").
    pub name: Option<String>,
    pub url: Option<String>,
    pub paired: bool,
    pub connected: bool,
}

/// Everything the dashboard shows without a click.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, TS)]
pub struct Dashboard {
    pub capabilities: Capabilities,
    pub portal: PortalState,
    pub readers: Vec<ReaderState>,
    /// Certificates expiring within 30 days (or expired), soonest first.
    pub expiring: Vec<CertSummary>,
    pub pending: Vec<PendingSummary>,
    /// Parts of the summary that could not be read, as errors to show (the rest is still shown).
    pub problems: Vec<ApiError>,
    /// The last backup-key drill on this workstation, if any.
    pub drill: Option<DrillLast>,
}

/// When the backup-key drill last ran here and what it found.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, TS)]
pub struct DrillLast {
    /// RFC 3339 UTC.
    pub checked_at: String,
    pub bicles: u32,
    pub opened: u32,
    pub all_open: bool,
}

/// The last drill's summary, as the dashboard shows it.
pub fn drill_last() -> Option<DrillLast> {
    #[cfg(all(feature = "portal", feature = "software-keys"))]
    {
        crate::envelope::drill::last().map(|d| DrillLast {
            checked_at: d.checked_at,
            bicles: u32::try_from(d.bicles).unwrap_or(u32::MAX),
            opened: u32::try_from(d.opened).unwrap_or(u32::MAX),
            all_open: d.all_open,
        })
    }
    #[cfg(not(all(feature = "portal", feature = "software-keys")))]
    {
        None
    }
}

/// Which rules a new password is checked against.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, TS)]
#[serde(rename_all = "kebab-case")]
pub enum PasswordPolicy {
    /// IGC-Santé: ≥ 12 characters, upper, lower, non-alphanumeric.
    IgcSante,
    /// TCS: ≥ 8 characters, 2 special characters, mixed case.
    Tcs,
}

impl From<PasswordPolicy> for password::Policy {
    fn from(p: PasswordPolicy) -> Self {
        match p {
            PasswordPolicy::IgcSante => password::Policy::IgcSante,
            PasswordPolicy::Tcs => password::Policy::Tcs,
        }
    }
}

/// A password to rate before it protects a key (the window calls this as the user types).
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct PasswordCheckRequest {
    #[ts(type = "string")]
    pub password: password::Password,
    pub policy: PasswordPolicy,
    /// Words the password must not be built from (holder's name, e-mail).
    #[serde(default)]
    pub user_inputs: Vec<String>,
}

/// The verdict on a password: every unmet rule at once, the strength meter, and whether it is accepted.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, TS)]
pub struct PasswordCheck {
    pub accepted: bool,
    /// 0 (guessed at once) … 4 (very hard to guess).
    pub score: u8,
    /// Rules still unmet, as sentences in the user's language.
    pub unmet: Vec<String>,
    /// Why it is refused, when it is.
    pub error: Option<ApiError>,
}

/// A file chosen by the user.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct FileRequest {
    #[ts(type = "string")]
    pub path: PathBuf,
}

/// A certificate file (PEM, DER, .p7b…) and what it holds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, TS)]
pub struct CertFile {
    pub certificates: Vec<CertSummary>,
}

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

// ---------------------------------------------------------------------------------------------------------------
// Handlers. Each takes the request and the window's language and runs headless.

/// What this build offers.
pub fn capabilities(_req: (), _lang: Lang) -> Result<Capabilities, ApiError> {
    Ok(Capabilities {
        version: env!("CARGO_PKG_VERSION").into(),
        cards: true,
        tokens: true,
        store: true,
        pkcs12: true,
        csr: cfg!(feature = "software-keys"),
        pending: true,
        portal: cfg!(feature = "portal"),
        password: true,
    })
}

/// Certificates expiring within this many days are shown on the dashboard (J-30).
pub const EXPIRY_WARNING_DAYS: i32 = 30;

/// The dashboard: every state that matters, each part read independently so one failure hides nothing else.
pub fn dashboard(_req: (), lang: Lang) -> Result<Dashboard, ApiError> {
    let capabilities = capabilities((), lang)?;
    let mut problems = Vec::new();
    let portal = portal_state((), lang).unwrap_or_else(|e| {
        problems.push(e);
        PortalState { name: None, url: None, paired: false, connected: false }
    });
    let readers = cards_list((), lang).unwrap_or_else(|e| {
        problems.push(e);
        Vec::new()
    });
    let mut expiring: Vec<CertSummary> = match store_list((), lang) {
        Ok(list) => {
            list.into_iter().filter(|c| (c.has_private_key || !c.is_ca) && c.days_left <= EXPIRY_WARNING_DAYS).collect()
        }
        Err(e) => {
            problems.push(e);
            Vec::new()
        }
    };
    expiring.sort_by_key(|c| c.days_left);
    let pending = pending_list((), lang).unwrap_or_else(|e| {
        problems.push(e);
        Vec::new()
    });
    Ok(Dashboard { capabilities, portal, readers, expiring, pending, problems, drill: drill_last() })
}

/// The portal as the dashboard and the tray show it: the pairing (if any) and the channel's published state.
#[cfg(feature = "portal")]
pub fn portal_state(_req: (), lang: Lang) -> Result<PortalState, ApiError> {
    let pairing = crate::portal::current_pairing().map_err(|e| ApiError::from_coded(&e, lang))?;
    Ok(match pairing {
        Some(p) => PortalState {
            connected: crate::portal::published_state().is_some_and(|e| e.is_connected()),
            name: Some(p.name),
            url: Some(p.url),
            paired: true,
        },
        None => {
            let settings = load_settings().unwrap_or_default();
            let first = settings.portals.first();
            PortalState {
                name: first.map(|p| p.name.clone()),
                url: first.map(|p| p.url.clone()),
                paired: false,
                connected: false,
            }
        }
    })
}

#[cfg(not(feature = "portal"))]
pub fn portal_state(_req: (), _lang: Lang) -> Result<PortalState, ApiError> {
    let settings = load_settings().unwrap_or_default();
    let first = settings.portals.first();
    Ok(PortalState {
        name: first.map(|p| p.name.clone()),
        url: first.map(|p| p.url.clone()),
        paired: false,
        connected: false,
    })
}

/// Start pairing with a portal (OAuth device authorization).
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct PairRequest {
    pub url: String,
    /// What the agent sees on the approval page (default: this computer's name).
    pub device_name: Option<String>,
}

/// The code to check on the portal page.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, TS)]
pub struct PairCode {
    pub user_code: String,
    pub verification_uri: String,
    pub verification_uri_complete: Option<String>,
    pub expires_in: u32,
    pub device_name: String,
}

#[cfg(feature = "portal")]
static PAIRING: std::sync::Mutex<Option<(crate::portal::DeviceAuthorization, String)>> = std::sync::Mutex::new(None);

/// One runtime for every portal call of the window: the process's shared portal session
/// ([`crate::portal::Session::shared`]) keeps its HTTP connections, which belong to the runtime that opened them.
#[cfg(feature = "portal")]
static RUNTIME: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();

#[cfg(feature = "portal")]
fn block_on<F: std::future::Future>(lang: Lang, f: F) -> Result<F::Output, ApiError> {
    if RUNTIME.get().is_none() {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().map_err(|e| {
            ApiError {
                code: "desktop.runtime".into(),
                message: lang.pick3(
                    format!("Trousseau n'a pas pu démarrer une tâche réseau ({e}). Redémarrez Trousseau."),
                    format!("Trousseau could not start a network task ({e}). Restart Trousseau."),
                    format!("Trousseau konnte keine Netzwerkaufgabe starten ({e}). Starten Sie Trousseau neu."),
                ),
            }
        })?;
        // a concurrent first call may have won: its runtime is kept, this one dropped
        let _ = RUNTIME.set(rt);
    }
    match RUNTIME.get() {
        Some(rt) => Ok(rt.block_on(f)),
        None => Err(ApiError::unavailable("portal", lang)),
    }
}

/// Asks the portal for a pairing code (step 1 of 2): the window shows it, the agent approves it on the portal page.
#[cfg(feature = "portal")]
pub fn portal_pair_start(req: PairRequest, lang: Lang) -> Result<PairCode, ApiError> {
    let base = crate::portal::check_url(&req.url).map_err(|e| ApiError::from_coded(&e, lang))?;
    crate::secrets::available().map_err(|e| ApiError::from_coded(&e, lang))?;
    let device_name =
        req.device_name.filter(|n| !n.trim().is_empty()).unwrap_or_else(crate::portal::default_device_name);
    let auth = block_on(lang, crate::portal::start_pairing(&base, &device_name))?
        .map_err(|e| ApiError::from_coded(&e, lang))?;
    let name = load_settings()
        .ok()
        .and_then(|s| s.portals.into_iter().find(|p| p.url.trim_end_matches('/') == base.trim_end_matches('/')))
        .map(|p| p.name)
        .or_else(|| crate::portal::load_config().ok().and_then(|c| c.find(&base).map(|p| p.name.clone())))
        .unwrap_or_else(|| base.clone());
    let code = PairCode {
        user_code: auth.user_code.clone(),
        verification_uri: auth.verification_uri.clone(),
        verification_uri_complete: auth.verification_uri_complete.clone(),
        expires_in: auth.expires_in.min(u32::MAX as u64) as u32,
        device_name,
    };
    *PAIRING.lock().unwrap_or_else(|e| e.into_inner()) = Some((auth, name));
    Ok(code)
}

/// Waits for the agent's approval (step 2 of 2; up to 10 minutes), then keeps the tokens in the OS keyring.
#[cfg(feature = "portal")]
pub fn portal_pair_finish(_req: (), lang: Lang) -> Result<PortalState, ApiError> {
    let Some((auth, name)) = PAIRING.lock().unwrap_or_else(|e| e.into_inner()).take() else {
        return Err(ApiError::bad_request("no pairing started", lang));
    };
    block_on(lang, async {
        let tokens = crate::portal::complete_pairing(&auth).await?;
        crate::portal::Session::save_pairing(&auth, &name, tokens).await
    })?
    .map_err(|e| ApiError::from_coded(&e, lang))?;
    portal_state((), lang)
}

#[cfg(not(feature = "portal"))]
pub fn portal_pair_start(_req: PairRequest, lang: Lang) -> Result<PairCode, ApiError> {
    Err(ApiError::unavailable("portal", lang))
}

#[cfg(not(feature = "portal"))]
pub fn portal_pair_finish(_req: (), lang: Lang) -> Result<PortalState, ApiError> {
    Err(ApiError::unavailable("portal", lang))
}

/// An IGC-Santé software-certificate request from the wizard (offre → usage → informations → CSR): the core's
/// [`crate::csr::igc_sante::Input`] (one definition of the fields, flattened on the wire) plus where to write the CSR.
#[cfg(feature = "software-keys")]
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct IgcRequest {
    #[serde(flatten)]
    #[ts(flatten)]
    pub input: crate::csr::igc_sante::Input,
    /// Where to write the CSR (PEM); it must not exist yet unless `force`.
    #[ts(type = "string")]
    pub out: PathBuf,
    /// Replace `out` if it exists (the user confirmed); absent means no.
    #[serde(default)]
    #[ts(optional)]
    pub force: Option<bool>,
}

/// Without software keys no request can be made: the command answers `api.unavailable` whatever it is sent.
#[cfg(not(feature = "software-keys"))]
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct IgcRequest {}

/// A request made: its key waits in the vault, its CSR is written.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, TS)]
pub struct CsrResult {
    /// Vault entry id.
    pub id: String,
    pub out: String,
    pub subject: String,
    /// Withdrawal deadline (RFC 3339 UTC), when the profile has one.
    pub deadline: Option<String>,
}

/// Generates the key, keeps it in the vault (written first), then writes the CSR: shared by both request forms.
#[cfg(feature = "software-keys")]
fn make_software_request(
    spec: &crate::csr::RequestSpec,
    out: &std::path::Path,
    force: bool,
    lang: Lang,
) -> Result<CsrResult, ApiError> {
    let made =
        crate::csr::new_software_request_default_vault(spec, out, force).map_err(|e| ApiError::from_coded(&e, lang))?;
    Ok(CsrResult {
        id: made.id,
        out: made.out.display().to_string(),
        subject: made.subject,
        deadline: made.deadline.as_ref().map(crate::cert::rfc3339_z::format),
    })
}

/// Checks the request against the platform's rules, generates RSA-2048, keeps the key in the vault (written first)
/// and only then writes the CSR.
#[cfg(feature = "software-keys")]
pub fn csr_igc_new(req: IgcRequest, lang: Lang) -> Result<CsrResult, ApiError> {
    let spec = crate::csr::RequestSpec::igc_sante(&req.input).map_err(|e| ApiError::from_coded(&e, lang))?;
    make_software_request(&spec, &req.out, req.force.unwrap_or(false), lang)
}

#[cfg(not(feature = "software-keys"))]
pub fn csr_igc_new(_req: IgcRequest, lang: Lang) -> Result<CsrResult, ApiError> {
    Err(ApiError::unavailable("csr", lang))
}

/// A notification that is due (certificate expiring at J-30 / J-5, pending request near its deadline).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, TS)]
pub struct Reminder {
    /// Stable key ("cert:<sha256>:30"): each reminder is shown once.
    pub key: String,
    pub title: String,
    pub body: String,
}

/// The reminders due now that were not shown yet (`shown` holds their keys). Expired certificates are not
/// announced again; a certificate is announced at J-30 and again at J-5; a pending request 3 days and 1 day before
/// its withdrawal deadline.
pub fn due_reminders(
    certs: &[CertSummary],
    pending: &[PendingSummary],
    shown: &std::collections::BTreeSet<String>,
    lang: Lang,
) -> Vec<Reminder> {
    let mut out = Vec::new();
    for c in certs.iter().filter(|c| c.has_private_key && c.days_left >= 0) {
        let step = if c.days_left <= 5 {
            5
        } else if c.days_left <= EXPIRY_WARNING_DAYS {
            30
        } else {
            continue;
        };
        let key = format!("cert:{}:{step}", c.sha256);
        if !shown.contains(&key) {
            out.push(Reminder {
                key,
                title: lang.pick3("Certificat bientôt expiré", "Certificate expiring soon", "Zertifikat läuft bald ab"),
                body: lang.pick3(
                    format!(
                        "Le certificat de {} ({}) expire dans {} jour(s) : pensez à le renouveler.",
                        c.holder, c.issuer_name, c.days_left
                    ),
                    format!(
                        "The certificate of {} ({}) expires in {} day(s): remember to renew it.",
                        c.holder, c.issuer_name, c.days_left
                    ),
                    format!(
                        "Das Zertifikat von {} ({}) läuft in {} Tag(en) ab: Denken Sie daran, es zu erneuern.",
                        c.holder, c.issuer_name, c.days_left
                    ),
                ),
            });
        }
    }
    for p in pending {
        let Some(days) = p.days_left.filter(|d| *d >= 0) else { continue };
        let step = if days <= 1 {
            1
        } else if days <= 3 {
            3
        } else {
            continue;
        };
        let key = format!("pending:{}:{step}", p.id);
        if !shown.contains(&key) {
            out.push(Reminder {
                key,
                title: lang.pick3("Certificat à retirer", "Certificate to withdraw", "Zertifikat abholen"),
                body: lang.pick3(
                    format!(
                        "{} : plus que {days} jour(s) pour retirer le certificat, sinon la demande est perdue.",
                        p.label
                    ),
                    format!(
                        "{}: only {days} day(s) left to withdraw the certificate, or the request is lost.",
                        p.label
                    ),
                    format!(
                        "{}: nur noch {days} Tag(e), um das Zertifikat abzuholen, sonst verfällt die Anforderung.",
                        p.label
                    ),
                ),
            });
        }
    }
    out
}

/// The drill reminder: when paired and the last drill (if any) is older than `every_days` (0: never). Keyed by the
/// last drill's date, so one reminder per overdue drill.
pub fn due_drill_reminder(
    paired: bool,
    last: Option<&DrillLast>,
    every_days: u32,
    now: time::OffsetDateTime,
    shown: &std::collections::BTreeSet<String>,
    lang: Lang,
) -> Option<Reminder> {
    if !paired || every_days == 0 {
        return None;
    }
    let last_at = last
        .and_then(|l| time::OffsetDateTime::parse(&l.checked_at, &time::format_description::well_known::Rfc3339).ok());
    if last_at.is_some_and(|t| (now - t).whole_days() < i64::from(every_days)) {
        return None;
    }
    let key = format!("drill:{}", last.map(|l| l.checked_at.as_str()).unwrap_or("never"));
    if shown.contains(&key) {
        return None;
    }
    Some(Reminder {
        key,
        title: lang.pick3("Exercice des bi-clés", "Bi-clé drill", "Übung der Schlüsselpaare"),
        body: lang.pick3(
            "Vérifiez que vos bi-clés (personnel et de secours) ouvrent toujours les plis : Bi-clés → « Tester mes bi-clés ».",
            "Check that your bi-clés (personal and backup) still open envelopes: Bi-clés → \"Test my bi-clés\".",
            "Prüfen Sie, ob Ihre Schlüsselpaare (persönlich und Ersatz) Umschläge noch öffnen: Schlüsselpaare → „Meine Schlüsselpaare testen“.",
        ),
    })
}

/// The reminders due now, recorded as shown (`<data>/reminders.json`) so that each appears once.
pub fn take_due_reminders(lang: Lang) -> Vec<Reminder> {
    let Ok(dir) = crate::paths::data_dir() else { return Vec::new() };
    let path = dir.join("reminders.json");
    let mut shown: std::collections::BTreeSet<String> =
        std::fs::read(&path).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default();
    let certs = store_list((), lang).unwrap_or_default();
    let pending = pending_list((), lang).unwrap_or_default();
    #[cfg_attr(not(feature = "portal"), allow(unused_mut))]
    let mut due = due_reminders(&certs, &pending, &shown, lang);
    #[cfg(feature = "portal")]
    {
        let paired = crate::portal::current_pairing().ok().flatten().is_some();
        let every = load_settings().map(|s| s.drill_reminder_days).unwrap_or(30);
        let last = drill_last();
        due.extend(due_drill_reminder(paired, last.as_ref(), every, time::OffsetDateTime::now_utc(), &shown, lang));
    }
    if !due.is_empty() {
        shown.extend(due.iter().map(|r| r.key.clone()));
        if let Ok(json) = serde_json::to_vec(&shown) {
            // Best effort: a reminder not recorded is shown again, nothing worse.
            let _ = crate::fsutil::write_atomic(&path, &json, crate::fsutil::Access::Private);
        }
    }
    due
}

/// Installs a withdrawn certificate (PEM, DER or a .p7b bag with its chain) into the store with the private key
/// waiting in the vault. The key leaves the vault only once the store holds the certificate with its key.
#[cfg(feature = "software-keys")]
pub fn pending_install(req: FileRequest, lang: Lang) -> Result<InstallResult, ApiError> {
    use crate::csr::reunite;
    let certs = crate::cert::read_file(&req.path).map_err(|e| ApiError::from_coded(&e, lang))?;
    let vault = crate::vault::Vault::open().map_err(|e| ApiError::from_coded(&e, lang))?;
    let (key, leaf) = reunite::find_pending(&vault, &certs).map_err(|e| ApiError::from_coded(&e, lang))?;
    let chain = reunite::chain_for(&certs, leaf);
    let identity = crate::store::Identity {
        key_pkcs8: key.pkcs8_der.clone(),
        certificate: chain[0].clone(),
        chain: chain[1..].to_vec(),
        friendly_name: None,
    };
    let mut store = open_store(lang)?;
    let report = store.install_identity(&identity).map_err(|e| ApiError::from_coded(&e, lang))?;
    let found = store.find(&chain[0].sha256).map_err(|e| ApiError::from_coded(&e, lang))?;
    if !found.is_some_and(|c| c.has_private_key) {
        let e = crate::store::StoreError::NoPrivateKey { sha256: chain[0].sha256.clone(), store: store.location() };
        return Err(ApiError::from_coded(&e, lang));
    }
    vault.retire(&key.meta.id).map_err(|e| ApiError::from_coded(&e, lang))?;
    Ok(install_result(report))
}

#[cfg(not(feature = "software-keys"))]
pub fn pending_install(_req: FileRequest, lang: Lang) -> Result<InstallResult, ApiError> {
    Err(ApiError::unavailable("csr", lang))
}

/// A bi-clé registered with the portal.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, TS)]
pub struct BicleRow {
    pub id: i32,
    /// `personal` or `backup`.
    pub kind: String,
    pub designation: String,
    pub cn: String,
    pub issuer: String,
    pub serial: String,
    /// RFC 3339 UTC.
    pub not_after: String,
    pub sha256: String,
    /// `actif`, `a_confirmer` (waiting for the agent on the portal page) or `suppression_a_confirmer`.
    pub status: String,
    /// Expired certificates cannot decrypt new bids: the window warns.
    pub expired: bool,
}

/// Register a certificate of the store or of a card (token) as a bi-clé, personal and/or backup, in one request.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct BicleAdd {
    /// Generate a new RSA-2048 key pair with a self-signed encryption certificate (`CN=designation`), installed in
    /// the store, instead of using the certificate `sha256`.
    pub generate: bool,
    /// A certificate offered by `portal_bicle_candidates`: looked up in the store first, then on the tokens. Only
    /// the public certificate is sent to the portal (no PIN is asked).
    pub sha256: String,
    pub designation: String,
    pub personal: bool,
    pub backup: bool,
}

/// A bi-clé of the registry, by id.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct BicleRef {
    pub id: i32,
}

/// A certificate of this workstation that can serve as an encryption bi-clé (public data only): from the OS store,
/// or on a card (token) with its private key.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, TS)]
pub struct BicleCandidate {
    pub sha256: String,
    /// Holder's name (subject CN), or the subject.
    pub holder: String,
    /// Issuer's short name (issuer CN), or the issuer.
    pub issuer_name: String,
    /// RFC 3339 UTC.
    pub not_after: String,
    pub days_left: i32,
    /// `store` (the OS certificate store) or `token` (a smartcard or other PKCS#11 token).
    pub source: String,
    /// The token's label when `source` is `token`.
    pub token: Option<String>,
}

#[cfg(feature = "portal")]
fn session(lang: Lang) -> Result<std::sync::Arc<crate::portal::Session>, ApiError> {
    crate::portal::Session::shared().map_err(|e| ApiError::from_coded(&e, lang))
}

#[cfg(feature = "portal")]
fn bicle_row(b: crate::portal::Bicle) -> BicleRow {
    let expired = time::OffsetDateTime::parse(&b.not_after, &time::format_description::well_known::Rfc3339)
        .is_ok_and(|t| t < time::OffsetDateTime::now_utc());
    BicleRow {
        id: b.id.clamp(i32::MIN as i64, i32::MAX as i64) as i32,
        kind: b.kind.as_str().into(),
        designation: b.designation,
        cn: b.cn,
        issuer: b.issuer,
        serial: b.serial,
        not_after: b.not_after,
        sha256: b.sha256,
        status: b.status,
        expired,
    }
}

/// The agent's bi-clés registered with the paired portal.
#[cfg(feature = "portal")]
pub fn portal_bicles(_req: (), lang: Lang) -> Result<Vec<BicleRow>, ApiError> {
    let s = session(lang)?;
    let list = block_on(lang, s.list_bicles())?.map_err(|e| ApiError::from_coded(&e, lang))?;
    Ok(list.into_iter().map(bicle_row).collect())
}

/// The certificates this workstation can register as bi-clés: the portal module's own listing (the one a portal
/// page gets through the channel), store certificates first, then card certificates with their private key.
#[cfg(feature = "portal")]
pub fn portal_bicle_candidates(_req: (), lang: Lang) -> Result<Vec<BicleCandidate>, ApiError> {
    use crate::portal::Workstation;
    let offered = crate::portal::SystemWorkstation { lang }.list().map_err(|e| ApiError::from_coded(&e, lang))?;
    let now = time::OffsetDateTime::now_utc();
    Ok(offered
        .into_iter()
        .map(|o| {
            let days_left = time::OffsetDateTime::parse(&o.not_after, &time::format_description::well_known::Rfc3339)
                .map(|t| (t - now).whole_days().clamp(i32::MIN as i64, i32::MAX as i64) as i32)
                .unwrap_or(0);
            BicleCandidate {
                holder: o.subject_cn.unwrap_or(o.subject),
                issuer_name: o.issuer_cn.unwrap_or(o.issuer),
                sha256: o.sha256,
                not_after: o.not_after,
                days_left,
                source: o.source.into(),
                token: o.token,
            }
        })
        .collect())
}

#[cfg(feature = "portal")]
fn not_a_bicle(lang: Lang) -> ApiError {
    ApiError {
        code: "desktop.not_a_bicle".into(),
        message: lang.pick3(
            "Ce certificat ne peut pas servir de bi-clé de chiffrement : il faut un certificat (du magasin ou d'une carte) avec sa clé privée et l'usage « chiffrement de clé ». Choisissez-en un autre ou générez un nouveau bi-clé.",
            "This certificate cannot serve as an encryption bi-clé: it needs a certificate (from the store or a card) with its private key and the “key encipherment” usage. Choose another one or generate a new bi-clé.",
            "Dieses Zertifikat kann nicht als Schlüsselpaar (bi-clé) zur Verschlüsselung dienen: Es braucht ein Zertifikat (aus dem Zertifikatsspeicher oder von einer Karte) mit seinem privaten Schlüssel und der Verwendung „Schlüsselverschlüsselung“. Wählen Sie ein anderes oder erzeugen Sie ein neues Schlüsselpaar.",
        ),
    }
}

/// Whether a certificate with this fingerprint is on the workstation at all (store or token), usable or not.
#[cfg(feature = "portal")]
fn on_workstation(sha256: &str, lang: Lang) -> bool {
    let in_store = open_store(lang).ok().and_then(|mut s| s.find(sha256).ok().flatten()).is_some();
    in_store || {
        let discovery = crate::token::discover();
        crate::token::list_tokens(&discovery, lang).tokens.iter().any(|t| {
            crate::token::certificates(t).is_ok_and(|certs| certs.iter().any(|c| c.certificate.sha256 == sha256))
        })
    }
}

/// Registers a certificate of the store or of a card (with its private key, usable for encryption) as personal
/// and/or backup bi-clé; the rows wait for the agent's confirmation on the portal page. The certificate is found
/// the way the portal's relayed requests find it ([`crate::portal::Workstation::certificate`]: store, then tokens);
/// only its public part is sent.
#[cfg(feature = "portal")]
pub fn portal_bicle_add(req: BicleAdd, lang: Lang) -> Result<Vec<BicleRow>, ApiError> {
    use crate::portal::Workstation;
    let mut kinds = Vec::new();
    if req.personal {
        kinds.push(crate::portal::BicleKind::Personal);
    }
    if req.backup {
        kinds.push(crate::portal::BicleKind::Backup);
    }
    let workstation = crate::portal::SystemWorkstation { lang };
    let certificate = if req.generate {
        workstation.generate(req.designation.trim()).map_err(|e| ApiError::from_coded(&e, lang))?
    } else {
        let sha256 = crate::store::normalize_fingerprint(&req.sha256).map_err(|e| ApiError::from_coded(&e, lang))?;
        match workstation.certificate(&sha256) {
            Ok(c) if !c.encryption_capable => return Err(not_a_bicle(lang)),
            Ok(c) => c,
            Err(crate::portal::PortalError::CertificateNotFound { .. }) if on_workstation(&sha256, lang) => {
                return Err(not_a_bicle(lang))
            }
            Err(e) => return Err(ApiError::from_coded(&e, lang)),
        }
    };
    let s = session(lang)?;
    let rows = block_on(lang, s.add_bicles(req.designation.trim(), &certificate, &kinds))?
        .map_err(|e| ApiError::from_coded(&e, lang))?;
    Ok(rows.into_iter().map(bicle_row).collect())
}

/// Asks the portal to remove a bi-clé (an active one waits for the agent's confirmation); returns the new status.
#[cfg(feature = "portal")]
pub fn portal_bicle_remove(req: BicleRef, lang: Lang) -> Result<String, ApiError> {
    let s = session(lang)?;
    block_on(lang, s.remove_bicle(req.id as i64))?.map_err(|e| ApiError::from_coded(&e, lang))
}

#[cfg(not(feature = "portal"))]
pub fn portal_bicles(_req: (), lang: Lang) -> Result<Vec<BicleRow>, ApiError> {
    Err(ApiError::unavailable("portal", lang))
}

#[cfg(not(feature = "portal"))]
pub fn portal_bicle_candidates(_req: (), lang: Lang) -> Result<Vec<BicleCandidate>, ApiError> {
    Err(ApiError::unavailable("portal", lang))
}

#[cfg(not(feature = "portal"))]
pub fn portal_bicle_add(_req: BicleAdd, lang: Lang) -> Result<Vec<BicleRow>, ApiError> {
    Err(ApiError::unavailable("portal", lang))
}

#[cfg(not(feature = "portal"))]
pub fn portal_bicle_remove(_req: BicleRef, lang: Lang) -> Result<String, ApiError> {
    Err(ApiError::unavailable("portal", lang))
}

/// A PKCS#11 token (a card seen through its module, or a software token) and its PIN state.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, TS)]
pub struct TokenRow {
    pub label: String,
    pub manufacturer: String,
    pub model: String,
    pub serial: String,
    /// The reader (slot) description.
    pub slot: String,
    pub module: String,
    /// `ok`, `count_low`, `final_try`, `locked`, `not_initialized` …
    pub pin_state: String,
    /// The PIN state as a sentence (retries left, what to do).
    pub pin_message: String,
    pub removable: bool,
    /// The reader has a PIN pad (protected authentication path): codes are typed there, not in the window.
    pub pin_pad: bool,
}

/// Tokens of every PKCS#11 module found (LuxTrust, CPS, OpenSSL, p11-kit, configured), and the modules that
/// failed, as errors to show.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, TS)]
pub struct TokensView {
    pub tokens: Vec<TokenRow>,
    pub problems: Vec<ApiError>,
    /// The tokens are being read in the background (a card came or went): the list may change, and a
    /// `live-state` event tells when it is current.
    pub probing: bool,
}

/// The tokens as the window shows them: the live state when the desktop keeps one (answered at once, even while
/// a slow module is read), else read now; the readers they were read with.
fn token_state(
    certificates: bool,
) -> (Option<std::sync::Arc<crate::live::TokenProbe>>, Vec<crate::card::ReaderState>, bool) {
    match crate::live::running() {
        Some(live) => {
            let s = live.snapshot();
            (s.tokens, s.readers, s.probing)
        }
        None => (
            Some(std::sync::Arc::new(crate::live::probe(certificates))),
            crate::card::list().unwrap_or_default(),
            false,
        ),
    }
}

/// Lists the tokens (module discovery, then each module's slots).
pub fn tokens_list(_req: (), lang: Lang) -> Result<TokensView, ApiError> {
    let (probe, readers, probing) = token_state(false);
    let probe = probe.unwrap_or_default();
    let problems = token_problems(&probe, &readers, lang);
    let tokens = probe.tokens.iter().map(|t| token_row(&t.token, lang)).collect();
    Ok(TokensView { tokens, problems, probing })
}

/// What keeps tokens from being read: a recognised card whose software is missing (what it is and where it comes
/// from), then the modules that failed (discovery or listing), as errors naming the module file.
fn token_problems(probe: &crate::live::TokenProbe, readers: &[crate::card::ReaderState], lang: Lang) -> Vec<ApiError> {
    let cards = readers.iter().filter_map(|r| r.card.as_ref().map(|c| (r, c)));
    let missing = cards.filter_map(|(r, c)| {
        crate::doctor::software_missing(c, lang).map(|(message, fix)| ApiError {
            code: "card.software_missing".into(),
            message: format!("{} : {message} {fix}", r.reader),
        })
    });
    let modules = probe.problems.iter().map(|p| {
        let r = p.report(lang);
        ApiError { code: r.code.into(), message: format!("{} ({})", r.message, r.path.display()) }
    });
    missing.chain(modules).collect()
}

fn token_row(t: &crate::token::Token, lang: Lang) -> TokenRow {
    let pin = crate::live::pin_in(&t.pin, lang);
    let t = t.clone();
    TokenRow {
        pin_state: serde_json::to_value(pin.state).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default(),
        pin_message: pin.message,
        label: t.label,
        manufacturer: t.manufacturer,
        model: t.model,
        serial: t.serial,
        slot: t.slot_description,
        module: t.module.display().to_string(),
        removable: t.removable,
        pin_pad: t.pin.protected_path,
    }
}

/// A certificate on a token (public object, read without the PIN), with what its key is for.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, TS)]
pub struct TokenCertRow {
    /// Holder, issuer's short name, expiry and days left, SHA-256, usages, `encryption_capable`, and
    /// `has_private_key`: a key object with the same `CKA_ID` is on the token.
    pub certificate: CertSummary,
    /// `authentication`, `signature`, `encryption`, `ca` or `other` (a signature certificate may also be
    /// encryption-capable, as LuxTrust's are).
    pub role: String,
    /// `CKA_ID`, lowercase hex: the link between the certificate and its keys.
    pub key_id: String,
    /// `CKA_LABEL` of the certificate object.
    pub object_label: String,
    /// Usable as an encryption bi-clé: encryption-capable, private key on the token, not expired.
    pub bicle_capable: bool,
}

/// A token and its certificates; `error` when they could not be read (card pulled out, module failing): the token
/// is still shown.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, TS)]
pub struct TokenCerts {
    pub token: TokenRow,
    pub certificates: Vec<TokenCertRow>,
    pub error: Option<ApiError>,
}

/// Every token with its certificates, and the modules that failed, as errors to show.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, TS)]
pub struct TokenCertsView {
    pub tokens: Vec<TokenCerts>,
    pub problems: Vec<ApiError>,
    /// The tokens are being read in the background (see [`TokensView::probing`]).
    pub probing: bool,
}

fn token_cert_row(c: &crate::token::TokenCertificate, now: time::OffsetDateTime) -> TokenCertRow {
    let certificate = CertSummary::from_cert(&c.certificate, c.has_private_key, now);
    TokenCertRow {
        role: serde_json::to_value(c.role).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default(),
        key_id: c.key_id.clone(),
        object_label: c.object_label.clone(),
        bicle_capable: c.has_private_key && c.certificate.encryption_capable && c.certificate.not_after > now,
        certificate,
    }
}

/// The certificates of every token (public objects only: no PIN is asked), each token read on its own so that a
/// card pulled out or a failing module hides nothing else. Pairing with keys and roles come from the token module
/// (the same reading as `trousseau token certs`).
pub fn token_certificates(_req: (), lang: Lang) -> Result<TokenCertsView, ApiError> {
    let (probe, readers, probing) = token_state(true);
    let probe = probe.unwrap_or_default();
    let problems = token_problems(&probe, &readers, lang);
    let now = time::OffsetDateTime::now_utc();
    let tokens = probe
        .tokens
        .iter()
        .map(|t| {
            let (certificates, error) = match &t.certificates {
                Some(Ok(certs)) => (certs.iter().map(|c| token_cert_row(c, now)).collect(), None),
                Some(Err(e)) => (Vec::new(), Some(ApiError::from_coded(e, lang))),
                None => (Vec::new(), None),
            };
            TokenCerts { token: token_row(&t.token, lang), certificates, error }
        })
        .collect();
    Ok(TokenCertsView { tokens, problems, probing })
}

/// A generic request: a subject (RFC 4514, most specific first) and optional e-mail / DNS names.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct GenericRequest {
    pub subject: String,
    pub emails: Vec<String>,
    pub dns: Vec<String>,
    #[ts(type = "string")]
    pub out: PathBuf,
    /// Replace `out` if it exists (the user confirmed); absent means no.
    #[serde(default)]
    #[ts(optional)]
    pub force: Option<bool>,
}

/// Generates RSA-2048 and a generic CSR, the key kept in the vault first.
#[cfg(feature = "software-keys")]
pub fn csr_generic_new(req: GenericRequest, lang: Lang) -> Result<CsrResult, ApiError> {
    use crate::csr::SanRequest;
    let sans = req
        .emails
        .iter()
        .map(|e| SanRequest::Email(e.trim().to_string()))
        .chain(req.dns.iter().map(|d| SanRequest::Dns(d.trim().to_string())))
        .collect();
    let spec =
        crate::csr::RequestSpec::generic(req.subject.trim(), sans).map_err(|e| ApiError::from_coded(&e, lang))?;
    make_software_request(&spec, &req.out, req.force.unwrap_or(false), lang)
}

#[cfg(not(feature = "software-keys"))]
pub fn csr_generic_new(_req: GenericRequest, lang: Lang) -> Result<CsrResult, ApiError> {
    Err(ApiError::unavailable("csr", lang))
}

/// Readers and the cards in them (PC/SC). No service or no reader is an empty list, not an error: the window says
/// "branchez votre lecteur".
pub fn cards_list(_req: (), lang: Lang) -> Result<Vec<ReaderState>, ApiError> {
    if let Some(live) = crate::live::running() {
        return Ok(live.snapshot().readers.into_iter().map(|r| reader_state(r, lang)).collect());
    }
    match crate::card::list() {
        Ok(list) => Ok(list.into_iter().map(|r| reader_state(r, lang)).collect()),
        Err(crate::card::CardError::ServiceUnavailable { .. }) => Ok(Vec::new()),
        Err(e) => Err(ApiError::from_coded(&e, lang)),
    }
}

/// The command surface's view of a reader, the card named in `lang`.
pub fn reader_state(r: crate::card::ReaderState, lang: Lang) -> ReaderState {
    ReaderState {
        name: r.reader,
        card: r.card.map(|c| CardState { name: card_name(&c, lang), atr: c.atr, family: c.family.as_str().into() }),
    }
}

/// A card's display name in `lang`: the card table's names are French; those that are not a product's own name
/// (an unknown card, the Luxembourg identity card) are said in English and German too.
fn card_name(c: &crate::card::CardInfo, lang: Lang) -> String {
    use crate::card::atr::Family;
    match c.family {
        Family::Unknown => lang.pick3(c.name, "Unrecognised card", "Unbekannte Karte"),
        Family::LuxEid => lang.pick3(
            c.name,
            "Luxembourg identity card (eID, LuxTrust certificate)",
            "Luxemburgischer Personalausweis (eID, LuxTrust-Zertifikat)",
        ),
        Family::LuxTrust | Family::Cps3 | Family::Cps4 => c.name.to_string(),
    }
}

fn open_store(lang: Lang) -> Result<Box<dyn crate::store::CertStore>, ApiError> {
    crate::store::open_default().map_err(|e| ApiError::from_coded(&e, lang))
}

fn summary_of(c: &crate::store::StoredCertificate, now: time::OffsetDateTime) -> CertSummary {
    CertSummary::from_cert(&c.certificate, c.has_private_key, now)
}

/// Lists the certificates of the OS store, soonest expiry first.
pub fn store_list(_req: (), lang: Lang) -> Result<Vec<CertSummary>, ApiError> {
    let mut store = open_store(lang)?;
    let now = time::OffsetDateTime::now_utc();
    let mut list: Vec<CertSummary> =
        store.list().map_err(|e| ApiError::from_coded(&e, lang))?.iter().map(|c| summary_of(c, now)).collect();
    list.sort_by_key(|c| (c.is_ca, c.days_left));
    Ok(list)
}

/// Reads a certificate file (PEM, DER, .p7b).
pub fn cert_inspect(req: FileRequest, lang: Lang) -> Result<CertFile, ApiError> {
    let now = time::OffsetDateTime::now_utc();
    let certs = crate::cert::read_file(&req.path).map_err(|e| ApiError::from_coded(&e, lang))?;
    Ok(CertFile { certificates: certs.iter().map(|c| CertSummary::from_cert(c, false, now)).collect() })
}

/// A `.p12` file and its password.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct P12Request {
    #[ts(type = "string")]
    pub path: PathBuf,
    #[ts(type = "string")]
    pub password: password::Password,
}

/// What a `.p12` holds (read with its password; nothing installed).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, TS)]
pub struct P12Summary {
    pub certificates: Vec<CertSummary>,
    pub keys: u32,
}

/// Opens a `.p12` with its password and says what it holds.
pub fn p12_inspect(req: P12Request, lang: Lang) -> Result<P12Summary, ApiError> {
    let contents =
        crate::pkcs12::read_file(&req.path, req.password.expose()).map_err(|e| ApiError::from_coded(&e, lang))?;
    let now = time::OffsetDateTime::now_utc();
    let certificates = contents
        .certificates
        .iter()
        .enumerate()
        .map(|(i, c)| CertSummary::from_cert(c, contents.keys.iter().any(|k| k.certificate == Some(i)), now))
        .collect();
    Ok(P12Summary { certificates, keys: contents.keys.len() as u32 })
}

/// The outcome of an installation.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, TS)]
pub struct InstallResult {
    /// Where it was installed (e.g. the NSS database).
    pub store: String,
    /// Items newly installed (certificates, keys).
    pub installed: u32,
    /// The whole content was already there.
    pub already_present: bool,
    /// SHA-256 of the main certificate.
    pub sha256: String,
}

fn install_result(r: crate::store::ImportReport) -> InstallResult {
    InstallResult {
        installed: r.installed() as u32,
        store: r.store,
        already_present: r.already_present,
        sha256: r.sha256,
    }
}

/// Installs a `.p12` into the OS store. The file is opened with the password first: a wrong password, a damaged
/// file or a file without key and certificate changes nothing.
pub fn p12_import(req: P12Request, lang: Lang) -> Result<InstallResult, ApiError> {
    let bytes = std::fs::read(&req.path).map_err(|e| ApiError {
        code: "desktop.read_file".into(),
        message: lang.pick3(
            format!(
                "Impossible de lire {} ({e}). Vérifiez que le fichier existe et que vous pouvez l'ouvrir.",
                req.path.display()
            ),
            format!("Cannot read {} ({e}). Check that the file exists and that you can open it.", req.path.display()),
            format!(
                "{} kann nicht gelesen werden ({e}). Prüfen Sie, ob die Datei existiert und ob Sie sie öffnen können.",
                req.path.display()
            ),
        ),
    })?;
    let identity = crate::store::identity_from_pkcs12(&bytes, req.password.expose())
        .map_err(|e| ApiError::from_coded(&e, lang))?;
    crate::store::refuse_if_revoked(&identity).map_err(|e| ApiError::from_coded(&e, lang))?;
    let mut store = open_store(lang)?;
    store.install_identity(&identity).map(install_result).map_err(|e| ApiError::from_coded(&e, lang))
}

/// Installs the CA certificate(s) of a file into the OS store.
pub fn ca_install(req: FileRequest, lang: Lang) -> Result<InstallResult, ApiError> {
    let certs = crate::cert::read_file(&req.path).map_err(|e| ApiError::from_coded(&e, lang))?;
    let cas: Vec<_> = certs.iter().filter(|c| c.is_ca).collect();
    if cas.is_empty() {
        return Err(ApiError {
            code: "desktop.not_a_ca".into(),
            message: lang.pick3(
                "Ce fichier ne contient aucun certificat d'autorité (AC). Demandez à votre fournisseur le certificat de l'AC, souvent nommé « AC racine » ou « chaîne ».",
                "This file holds no certificate authority (CA) certificate. Ask your provider for the CA certificate, often called “root CA” or “chain”.",
                "Diese Datei enthält kein Zertifikat einer Zertifizierungsstelle (CA). Fordern Sie bei Ihrem Anbieter das CA-Zertifikat an, oft „Stamm-CA“ oder „Zertifikatskette“ genannt.",
            ),
        });
    }
    let mut store = open_store(lang)?;
    let mut total = InstallResult { store: String::new(), installed: 0, already_present: true, sha256: String::new() };
    for ca in cas {
        let r = install_result(store.import_ca(ca).map_err(|e| ApiError::from_coded(&e, lang))?);
        total.store = r.store;
        total.installed += r.installed;
        total.already_present &= r.already_present;
        if total.sha256.is_empty() {
            total.sha256 = r.sha256;
        }
    }
    Ok(total)
}

/// A certificate of the store, by SHA-256 fingerprint.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct CertRef {
    pub sha256: String,
    /// Removal only: also forget the certificate's revocation code kept in the keyring (kept when absent).
    #[serde(default)]
    #[ts(optional)]
    pub forget_revocation_code: Option<bool>,
}

/// Removes a certificate (and its key) from the store; the window asks for confirmation first, and whether to
/// forget a revocation code kept for it.
pub fn store_remove(req: CertRef, lang: Lang) -> Result<CertSummary, ApiError> {
    let mut store = open_store(lang)?;
    let removed = store.remove(&req.sha256).map_err(|e| ApiError::from_coded(&e, lang))?;
    if req.forget_revocation_code == Some(true) {
        let c = &removed.certificate;
        crate::secrets::forget_revocation_code(&c.issuer, &c.serial).map_err(|e| ApiError::from_coded(&e, lang))?;
    }
    Ok(summary_of(&removed, time::OffsetDateTime::now_utc()))
}

/// The certificate of the store with this fingerprint (for its issuer and serial).
fn stored_certificate(sha256: &str, lang: Lang) -> Result<crate::cert::Certificate, ApiError> {
    let mut store = open_store(lang)?;
    match store.find(sha256).map_err(|e| ApiError::from_coded(&e, lang))? {
        Some(c) => Ok(c.certificate),
        None => Err(ApiError::from_coded(
            &crate::store::StoreError::NotFound { sha256: sha256.to_string(), store: store.location() },
            lang,
        )),
    }
}

/// Whether a revocation code is kept for a certificate of the store (the code itself is not sent).
pub fn revocation_code_kept(req: CertRef, lang: Lang) -> Result<bool, ApiError> {
    let c = stored_certificate(&req.sha256, lang)?;
    crate::secrets::revocation_code(&c.issuer, &c.serial)
        .map(|c| c.is_some())
        .map_err(|e| ApiError::from_coded(&e, lang))
}

/// The revocation code kept for a certificate (the window asks for confirmation first); `None` when none is kept.
pub fn revocation_code_reveal(req: CertRef, lang: Lang) -> Result<Option<String>, ApiError> {
    let c = stored_certificate(&req.sha256, lang)?;
    crate::secrets::revocation_code(&c.issuer, &c.serial)
        .map(|c| c.map(|z| z.as_str().to_string()))
        .map_err(|e| ApiError::from_coded(&e, lang))
}

/// Keep (or replace) a certificate's revocation code in the keyring.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct RevocationCodeRequest {
    pub sha256: String,
    #[ts(type = "string")]
    pub code: password::Password,
}

/// Keeps the revocation code chosen at withdrawal (IGC-Santé), needed later to revoke without the card.
pub fn revocation_code_keep(req: RevocationCodeRequest, lang: Lang) -> Result<bool, ApiError> {
    let c = stored_certificate(&req.sha256, lang)?;
    let code = req.code.expose().trim();
    if code.is_empty() {
        return Err(ApiError::bad_request("empty revocation code", lang));
    }
    crate::secrets::remember_revocation_code(&c.issuer, &c.serial, code).map_err(|e| ApiError::from_coded(&e, lang))?;
    Ok(true)
}

/// Export a certificate with its private key to a password-protected `.p12`.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct ExportRequest {
    pub sha256: String,
    #[ts(type = "string")]
    pub path: PathBuf,
    #[ts(type = "string")]
    pub password: password::Password,
    pub policy: PasswordPolicy,
    /// 3DES + SHA-1 MAC for older importers (Windows Server ≤ 2016, old macOS) instead of AES-256.
    pub legacy: bool,
    /// Replace `path` if it exists (the user confirmed); absent means no: the answer is then `file.exists`.
    #[serde(default)]
    #[ts(optional)]
    pub force: Option<bool>,
}

/// Exports after checking the password against the policy and the strength estimate; the file is written
/// atomically.
pub fn store_export(req: ExportRequest, lang: Lang) -> Result<InstallResult, ApiError> {
    password::check(req.policy.into(), req.password.expose(), &[]).map_err(|e| ApiError::from_coded(&e, lang))?;
    let mut store = open_store(lang)?;
    let enc = if req.legacy { crate::pkcs12::Encryption::Legacy } else { crate::pkcs12::Encryption::Modern };
    let count = crate::store::export_pkcs12_file(
        store.as_mut(),
        &req.sha256,
        req.password.expose(),
        enc,
        &req.path,
        req.force.unwrap_or(false),
    )
    .map_err(|e| ApiError::from_coded(&e, lang))?;
    Ok(InstallResult {
        store: req.path.display().to_string(),
        installed: count as u32,
        already_present: false,
        sha256: req.sha256.clone(),
    })
}

/// Requests waiting for their certificate, with their withdrawal deadline.
pub fn pending_list(_req: (), lang: Lang) -> Result<Vec<PendingSummary>, ApiError> {
    let now = time::OffsetDateTime::now_utc();
    let metas = crate::vault::peek_default().map_err(|e| ApiError::from_coded(&e, lang))?;
    Ok(metas
        .into_iter()
        .map(|m| {
            let what = match (&m.offer, &m.usage) {
                (Some(o), Some(u)) => format!("IGC-Santé {o} — {u}"),
                _ => lang.pick3("Demande de certificat", "Certificate request", "Zertifikatsanforderung"),
            };
            PendingSummary {
                id: m.id.clone(),
                label: format!("{} — {what}", m.holder()),
                created: crate::cert::rfc3339_z::format(&m.created),
                deadline: m.deadline.as_ref().map(crate::cert::rfc3339_z::format),
                days_left: m.days_left(now).map(|d| d.clamp(i32::MIN as i64, i32::MAX as i64) as i32),
            }
        })
        .collect())
}

/// Rates a new password against a policy and the strength estimate.
pub fn password_check(req: PasswordCheckRequest, lang: Lang) -> Result<PasswordCheck, ApiError> {
    let policy = password::Policy::from(req.policy);
    let inputs: Vec<&str> = req.user_inputs.iter().map(String::as_str).collect();
    let unmet = password::unmet_rules(policy, req.password.expose()).into_iter().map(|r| r.describe(lang)).collect();
    let score = password::strength(req.password.expose(), &inputs).score;
    Ok(match password::check(policy, req.password.expose(), &inputs) {
        Ok(s) => PasswordCheck { accepted: true, score: s.score, unmet, error: None },
        Err(e) => PasswordCheck { accepted: false, score, unmet, error: Some(ApiError::from_coded(&e, lang)) },
    })
}

/// Reads the settings.
pub fn settings_get(_req: (), lang: Lang) -> Result<Settings, ApiError> {
    load_settings().map_err(|e| ApiError::from_coded(&e, lang))
}

/// Validates and saves the settings; returns them as stored.
pub fn settings_set(req: Settings, lang: Lang) -> Result<Settings, ApiError> {
    save_settings(&req).map_err(|e| ApiError::from_coded(&e, lang))?;
    // The module list may have changed.
    crate::live::tokens_changed();
    Ok(req)
}

/// Which tray icon shows the state.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, TS)]
#[serde(rename_all = "kebab-case")]
pub enum TrayIcon {
    Connected,
    Disconnected,
    CardInserted,
}

/// What the tray shows: Linux delivers no tray clicks or tooltips, so the state lives in the icon and the first
/// (disabled) menu lines.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, TS)]
pub struct TrayView {
    pub icon: TrayIcon,
    /// "● Connecté — PMP" / "○ Déconnecté".
    pub portal_line: String,
    /// "Carte insérée : LuxTrust …" / "Aucune carte".
    pub card_line: String,
}

/// The tray's icon and state lines for this portal state and these readers, in `lang`.
pub fn tray_view(portal: &PortalState, readers: &[ReaderState], lang: Lang) -> TrayView {
    let portal_line = match (portal.connected, &portal.name) {
        (true, Some(name)) => match lang {
            Lang::Fr => format!("● Connecté — {name}"),
            Lang::En => format!("● Connected — {name}"),
            Lang::De => format!("● Verbunden — {name}"),
        },
        (true, None) => tr(lang, "● Connecté", "● Connected", "● Verbunden"),
        (false, _) => tr(lang, "○ Déconnecté", "○ Disconnected", "○ Getrennt"),
    };
    let card = readers.iter().find_map(|r| r.card.as_ref());
    let card_line = match card {
        Some(c) => match lang {
            Lang::Fr => format!("Carte insérée : {}", c.name),
            Lang::En => format!("Card inserted: {}", c.name),
            Lang::De => format!("Karte eingesteckt: {}", c.name),
        },
        None => tr(lang, "Aucune carte", "No card", "Keine Karte"),
    };
    let icon = if portal.connected {
        TrayIcon::Connected
    } else if card.is_some() {
        TrayIcon::CardInserted
    } else {
        TrayIcon::Disconnected
    };
    TrayView { icon, portal_line, card_line }
}

fn tr(lang: Lang, fr: &str, en: &str, de: &str) -> String {
    match lang {
        Lang::Fr => fr,
        Lang::En => en,
        Lang::De => de,
    }
    .to_string()
}

/// Change a card's PIN (`current` is the PIN now), or unblock it (`current` is then the unblocking code, PUK / SO
/// PIN); `new_pin` typed twice (`confirm`).
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct PinChangeRequest {
    /// Token label, as the Cartes page shows it.
    pub token: String,
    #[ts(type = "string")]
    pub current: password::Password,
    #[ts(type = "string")]
    pub new_pin: password::Password,
    #[ts(type = "string")]
    pub confirm: password::Password,
    /// The user confirmed that the PIN is on its final try.
    pub final_try_ok: bool,
}

fn pin_of(p: &password::Password) -> crate::token::Pin {
    crate::token::Pin::new(zeroize::Zeroizing::new(p.expose().to_string()))
}

/// A reader with a PIN pad and no code typed in the window: the reader's pad asks for them.
fn on_pad(t: &crate::token::Token, req: &PinChangeRequest) -> bool {
    t.pin.protected_path && req.current.expose().is_empty() && req.new_pin.expose().is_empty()
}

/// Changes a card's PIN: refused without trying when it is locked, or on its final try unless confirmed.
pub fn token_pin_change(req: PinChangeRequest, lang: Lang) -> Result<TokenRow, ApiError> {
    let _reread = crate::live::ProbeAfter;
    use crate::token::{PinState, TokenError};
    let discovery = crate::token::discover();
    let t = crate::token::find_token(&discovery, &req.token, lang).map_err(|e| ApiError::from_coded(&e, lang))?;
    if t.pin.state == PinState::Locked {
        return Err(ApiError::from_coded(&TokenError::PinLocked, lang));
    }
    if t.pin.state == PinState::FinalTry && !req.final_try_ok {
        return Err(ApiError {
            code: "token.final_try_not_confirmed".into(),
            message: lang.pick3(
                "Dernier essai avant le blocage de la carte : confirmez que vous êtes sûr du code PIN actuel.",
                "Final try before the card locks: confirm that you are sure of the current PIN.",
                "Letzter Versuch, bevor die Karte gesperrt wird: Bestätigen Sie, dass Sie sich der aktuellen PIN sicher sind.",
            ),
        });
    }
    let changed = if on_pad(&t, &req) {
        crate::token::change_pin_on_pad(&t)
    } else {
        crate::token::change_pin(&t, pin_of(&req.current), pin_of(&req.new_pin), Some(pin_of(&req.confirm)))
    };
    changed.map_err(|e| ApiError::from_coded(&e, lang))?;
    let t = crate::token::find_token(&discovery, &req.token, lang).map_err(|e| ApiError::from_coded(&e, lang))?;
    Ok(token_row(&t, lang))
}

/// Unblocks a card's PIN with its unblocking code (`current`), setting `new_pin`.
pub fn token_pin_unblock(req: PinChangeRequest, lang: Lang) -> Result<TokenRow, ApiError> {
    let _reread = crate::live::ProbeAfter;
    let discovery = crate::token::discover();
    let t = crate::token::find_token(&discovery, &req.token, lang).map_err(|e| ApiError::from_coded(&e, lang))?;
    let unblocked = if on_pad(&t, &req) {
        crate::token::unblock_pin_on_pad(&t)
    } else {
        crate::token::unblock_pin(&t, pin_of(&req.current), pin_of(&req.new_pin), Some(pin_of(&req.confirm)))
    };
    unblocked.map_err(|e| ApiError::from_coded(&e, lang))?;
    let t = crate::token::find_token(&discovery, &req.token, lang).map_err(|e| ApiError::from_coded(&e, lang))?;
    Ok(token_row(&t, lang))
}

/// Run the backup-key drill (the PIN is used only if a bi-clé's key is on a card).
#[derive(Debug, Clone, Default, Serialize, Deserialize, TS)]
pub struct DrillRequest {
    #[ts(type = "string | null")]
    pub pin: Option<password::Password>,
}

/// One bi-clé's verdict in the drill.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, TS)]
pub struct DrillRowView {
    pub id: i32,
    /// `personal` or `backup`.
    pub kind: String,
    pub designation: String,
    /// `opens`, `key_absent`, `expired`, `removed_on_portal`, `failed`.
    pub outcome: String,
    /// `store`, `token` or `absent`.
    pub reachable: String,
    pub token: Option<String>,
    pub error: Option<ApiError>,
}

/// The drill's result.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, TS)]
pub struct DrillView {
    pub rows: Vec<DrillRowView>,
    pub last: DrillLast,
}

/// The window's PIN source for a key on a card: the PIN the request carries, else the reader's PIN pad when it has
/// one; without either, an error naming the card (the window then asks for the PIN).
#[cfg(feature = "software-keys")]
fn card_pin(
    pin: &Option<password::Password>,
) -> impl FnMut(&crate::token::Token) -> Result<Option<crate::token::Pin>, crate::envelope::EnvelopeError> + '_ {
    move |t| match pin {
        Some(p) => Ok(Some(pin_of(p))),
        None if t.pin.protected_path => Ok(None),
        None => Err(crate::envelope::EnvelopeError::Pin { detail: format!("« {} »", t.label) }),
    }
}

/// The backup-key drill: a test envelope to every registered bi-clé, opened with each key this workstation holds.
#[cfg(all(feature = "portal", feature = "software-keys"))]
pub fn portal_drill(req: DrillRequest, lang: Lang) -> Result<DrillView, ApiError> {
    let s = session(lang)?;
    let bicles = block_on(lang, s.list_bicles())?.map_err(|e| ApiError::from_coded(&e, lang))?;
    let mut source = card_pin(&req.pin);
    let report = crate::envelope::drill::run(&bicles, &mut source, lang).map_err(|e| ApiError::from_coded(&e, lang))?;
    Ok(DrillView {
        rows: report
            .rows
            .into_iter()
            .map(|r| DrillRowView {
                id: r.id.clamp(i32::MIN as i64, i32::MAX as i64) as i32,
                kind: r.kind.as_str().into(),
                designation: r.designation,
                outcome: wire_name(&r.outcome),
                reachable: wire_name(&r.reachable),
                token: r.token,
                error: r.error.map(|e| ApiError { code: e.code, message: e.message }),
            })
            .collect(),
        last: drill_last().unwrap_or(DrillLast {
            checked_at: report.summary.checked_at,
            bicles: u32::try_from(report.summary.bicles).unwrap_or(u32::MAX),
            opened: u32::try_from(report.summary.opened).unwrap_or(u32::MAX),
            all_open: report.summary.all_open,
        }),
    })
}

#[cfg(not(all(feature = "portal", feature = "software-keys")))]
pub fn portal_drill(_req: DrillRequest, lang: Lang) -> Result<DrillView, ApiError> {
    Err(ApiError::unavailable("portal", lang))
}

/// One recipient of an envelope, as the window shows it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, TS)]
pub struct EnvelopeRecipient {
    /// Issuer (RFC 4514) and serial (hex), or the subject key identifier.
    pub issuer: Option<String>,
    pub serial: Option<String>,
    pub ski: Option<String>,
    /// `rsa_pkcs1v15`, `rsa_oaep_sha1`, `rsa_oaep_sha256`; `None` with `unsupported` naming what it is.
    pub key_transport: Option<String>,
    pub unsupported: Option<String>,
    /// `store`, `token` (card present) or `absent`.
    pub reachable: String,
    /// Holder's name and the card's label when this workstation has the key.
    pub holder: Option<String>,
    pub token: Option<String>,
}

/// What an envelope names, read without any PIN.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, TS)]
pub struct EnvelopeView {
    /// `enveloped` or `auth_enveloped`.
    pub kind: String,
    /// `aes-256-cbc`, `aes-128-gcm`, `des-ede3-cbc`…
    pub content_cipher: String,
    pub encrypted_size: f64,
    pub recipients: Vec<EnvelopeRecipient>,
    pub can_open: bool,
}

/// Open an envelope into a folder (or file); the card's PIN when the key is on a card.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct EnvelopeOpenRequest {
    #[ts(type = "string")]
    pub path: PathBuf,
    #[ts(type = "string")]
    pub out: PathBuf,
    /// Replace an existing file of the same name.
    pub force: bool,
    #[ts(type = "string | null")]
    pub pin: Option<password::Password>,
}

/// An envelope opened: where its content is.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, TS)]
pub struct EnvelopeOpened {
    pub out: String,
    pub size: f64,
    pub recipient: EnvelopeRecipient,
}

/// The wire name (serde) of one of the core's enums.
#[cfg(feature = "software-keys")]
fn wire_name<T: Serialize>(v: &T) -> String {
    serde_json::to_value(v).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}

#[cfg(feature = "software-keys")]
fn envelope_recipient(r: crate::envelope::Recipient) -> EnvelopeRecipient {
    EnvelopeRecipient {
        issuer: r.issuer,
        serial: r.serial,
        ski: r.ski,
        key_transport: r.key_transport.map(|t| wire_name(&t)),
        unsupported: r.unsupported,
        reachable: wire_name(&r.reachable),
        holder: r.holder,
        token: r.token,
    }
}

/// Which recipients an envelope names and which of them this workstation can open (no PIN asked).
#[cfg(feature = "software-keys")]
pub fn envelope_inspect(req: FileRequest, lang: Lang) -> Result<EnvelopeView, ApiError> {
    let i = crate::envelope::inspect(&req.path, lang).map_err(|e| ApiError::from_coded(&e, lang))?;
    Ok(EnvelopeView {
        kind: i.kind.to_string(),
        content_cipher: i.content_cipher.name().to_string(),
        encrypted_size: i.encrypted_size as f64,
        can_open: i.can_open,
        recipients: i.recipients.into_iter().map(envelope_recipient).collect(),
    })
}

/// Opens an envelope with the key where it lives (the PIN given is used only if the key is on a card).
#[cfg(feature = "software-keys")]
pub fn envelope_open(req: EnvelopeOpenRequest, lang: Lang) -> Result<EnvelopeOpened, ApiError> {
    let open = crate::envelope::OpenRequest { file: req.path.clone(), out: req.out.clone(), force: req.force };
    let mut source = card_pin(&req.pin);
    let o = crate::envelope::open(&open, &mut source, lang).map_err(|e| ApiError::from_coded(&e, lang))?;
    Ok(EnvelopeOpened {
        out: o.out.display().to_string(),
        size: o.size as f64,
        recipient: envelope_recipient(o.recipient),
    })
}

#[cfg(not(feature = "software-keys"))]
pub fn envelope_inspect(_req: FileRequest, lang: Lang) -> Result<EnvelopeView, ApiError> {
    Err(ApiError::unavailable("envelope", lang))
}

#[cfg(not(feature = "software-keys"))]
pub fn envelope_open(_req: EnvelopeOpenRequest, lang: Lang) -> Result<EnvelopeOpened, ApiError> {
    Err(ApiError::unavailable("envelope", lang))
}

/// A certificate whose status to check online: a file, or the SHA-256 of a certificate in the store; the
/// issuer's certificate when the file does not carry it.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct CertStatusRequest {
    pub target: String,
    #[ts(type = "string | null")]
    #[serde(default)]
    pub issuer: Option<PathBuf>,
}

/// Is the certificate revoked? OCSP, then the CRL, cached until the answer's nextUpdate (see
/// `crate::revocation`). A verdict other than good is an answer, not an error.
#[cfg(feature = "revocation")]
pub fn cert_status(req: CertStatusRequest, lang: Lang) -> Result<crate::revocation::StatusReport, ApiError> {
    crate::revocation::check_target(&req.target, req.issuer.as_deref())
        .map(|o| o.report(lang))
        .map_err(|e| ApiError::from_coded(&e, lang))
}

#[cfg(not(feature = "revocation"))]
pub fn cert_status(_req: CertStatusRequest, lang: Lang) -> Result<crate::revocation::StatusReport, ApiError> {
    Err(ApiError::unavailable("revocation", lang))
}

/// The workstation's chain checked link by link, for the "Diagnostic" page (see `crate::doctor`).
pub fn doctor(_req: (), lang: Lang) -> Result<crate::doctor::DoctorReport, ApiError> {
    Ok(crate::doctor::run(lang))
}

/// The invocation callback pattern: `with_commands!(my_macro)` expands to `my_macro! { name: Req => Res; … }`
/// for every command, so adapters (Tauri shell, TypeScript generation, bridge) iterate over the one list.
#[macro_export]
macro_rules! with_commands {
    ($m:ident) => {
        $m! {
            capabilities: () => $crate::api::Capabilities;
            dashboard: () => $crate::api::Dashboard;
            password_check: $crate::api::PasswordCheckRequest => $crate::api::PasswordCheck;
            settings_get: () => $crate::api::Settings;
            settings_set: $crate::api::Settings => $crate::api::Settings;
            cards_list: () => ::std::vec::Vec<$crate::api::ReaderState>;
            tokens_list: () => $crate::api::TokensView;
            token_certificates: () => $crate::api::TokenCertsView;
            store_list: () => ::std::vec::Vec<$crate::api::CertSummary>;
            cert_inspect: $crate::api::FileRequest => $crate::api::CertFile;
            p12_inspect: $crate::api::P12Request => $crate::api::P12Summary;
            p12_import: $crate::api::P12Request => $crate::api::InstallResult;
            ca_install: $crate::api::FileRequest => $crate::api::InstallResult;
            store_remove: $crate::api::CertRef => $crate::api::CertSummary;
            store_export: $crate::api::ExportRequest => $crate::api::InstallResult;
            pending_list: () => ::std::vec::Vec<$crate::api::PendingSummary>;
            portal_state: () => $crate::api::PortalState;
            portal_pair_start: $crate::api::PairRequest => $crate::api::PairCode;
            portal_pair_finish: () => $crate::api::PortalState;
            csr_igc_new: $crate::api::IgcRequest => $crate::api::CsrResult;
            csr_generic_new: $crate::api::GenericRequest => $crate::api::CsrResult;
            pending_install: $crate::api::FileRequest => $crate::api::InstallResult;
            portal_bicles: () => ::std::vec::Vec<$crate::api::BicleRow>;
            portal_bicle_candidates: () => ::std::vec::Vec<$crate::api::BicleCandidate>;
            portal_bicle_add: $crate::api::BicleAdd => ::std::vec::Vec<$crate::api::BicleRow>;
            portal_bicle_remove: $crate::api::BicleRef => ::std::string::String;
            envelope_inspect: $crate::api::FileRequest => $crate::api::EnvelopeView;
            envelope_open: $crate::api::EnvelopeOpenRequest => $crate::api::EnvelopeOpened;
            portal_drill: $crate::api::DrillRequest => $crate::api::DrillView;
            token_pin_change: $crate::api::PinChangeRequest => $crate::api::TokenRow;
            token_pin_unblock: $crate::api::PinChangeRequest => $crate::api::TokenRow;
            revocation_code_kept: $crate::api::CertRef => bool;
            revocation_code_reveal: $crate::api::CertRef => ::std::option::Option<::std::string::String>;
            revocation_code_keep: $crate::api::RevocationCodeRequest => bool;
            cert_status: $crate::api::CertStatusRequest => $crate::revocation::StatusReport;
            doctor: () => $crate::doctor::DoctorReport;
        }
    };
}

macro_rules! command_names {
    ($($name:ident : $req:ty => $res:ty;)*) => {
        /// The names of every command, in declaration order.
        pub const COMMANDS: &[&str] = &[$(stringify!($name)),*];

        fn commands_typescript(cfg: &ts_rs::Config) -> String {
            let mut s = String::from("/** Every command: its request and response types. */\nexport type Commands = {\n");
            $(
                s.push_str(&format!(
                    "  {}: {{ req: {}; res: {} }};\n",
                    stringify!($name),
                    <$req as TS>::name(cfg),
                    <$res as TS>::name(cfg)
                ));
            )*
            s.push_str("};\n");
            s
        }
    };
}
with_commands!(command_names);

/// The TypeScript declarations of every type of the command surface plus the `Commands` map, as one module
/// (written to `ui/src/bindings.ts` by `trousseau-desktop --write-bindings`; a test checks it is current).
pub fn typescript_bindings() -> String {
    let cfg = ts_rs::Config::new();
    let decls = [
        ApiError::decl(&cfg),
        Capabilities::decl(&cfg),
        CertSummary::decl(&cfg),
        ReaderState::decl(&cfg),
        CardState::decl(&cfg),
        PendingSummary::decl(&cfg),
        PortalState::decl(&cfg),
        Dashboard::decl(&cfg),
        PasswordPolicy::decl(&cfg),
        PasswordCheckRequest::decl(&cfg),
        PasswordCheck::decl(&cfg),
        FileRequest::decl(&cfg),
        CertFile::decl(&cfg),
        PortalEntry::decl(&cfg),
        Settings::decl(&cfg),
        TrayIcon::decl(&cfg),
        TrayView::decl(&cfg),
        P12Request::decl(&cfg),
        P12Summary::decl(&cfg),
        InstallResult::decl(&cfg),
        CertRef::decl(&cfg),
        ExportRequest::decl(&cfg),
        PairRequest::decl(&cfg),
        PairCode::decl(&cfg),
        #[cfg(feature = "software-keys")]
        crate::csr::igc_sante::Insi::decl(&cfg),
        IgcRequest::decl(&cfg),
        CsrResult::decl(&cfg),
        Reminder::decl(&cfg),
        BicleRow::decl(&cfg),
        BicleAdd::decl(&cfg),
        BicleRef::decl(&cfg),
        TokenRow::decl(&cfg),
        TokensView::decl(&cfg),
        TokenCertRow::decl(&cfg),
        TokenCerts::decl(&cfg),
        TokenCertsView::decl(&cfg),
        BicleCandidate::decl(&cfg),
        GenericRequest::decl(&cfg),
        EnvelopeRecipient::decl(&cfg),
        EnvelopeView::decl(&cfg),
        EnvelopeOpenRequest::decl(&cfg),
        EnvelopeOpened::decl(&cfg),
        DrillLast::decl(&cfg),
        DrillRequest::decl(&cfg),
        DrillRowView::decl(&cfg),
        DrillView::decl(&cfg),
        PinChangeRequest::decl(&cfg),
        RevocationCodeRequest::decl(&cfg),
        CertStatusRequest::decl(&cfg),
        crate::revocation::Status::decl(&cfg),
        crate::revocation::Source::decl(&cfg),
        crate::revocation::StatusProblem::decl(&cfg),
        crate::revocation::StatusReport::decl(&cfg),
        crate::doctor::CheckStatus::decl(&cfg),
        crate::doctor::Check::decl(&cfg),
        crate::doctor::DoctorReport::decl(&cfg),
        crate::live::LiveChange::decl(&cfg),
        crate::live::LiveEvent::decl(&cfg),
    ];
    let mut out = String::from(
        "// Generated from src/api.rs by ts-rs (`cargo run -p trousseau-desktop -- --write-bindings`). Do not edit.\n\n",
    );
    for d in decls {
        out.push_str("export ");
        out.push_str(&d);
        out.push_str("\n\n");
    }
    out.push_str(&commands_typescript(&cfg));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn german_error_sentences() {
        let pairs = [
            (not_a_bicle(Lang::En).message, not_a_bicle(Lang::De).message),
            (ApiError::unavailable("x", Lang::En).message, ApiError::unavailable("x", Lang::De).message),
            (SettingsError::Invalid("lang").message(Lang::En), SettingsError::Invalid("lang").message(Lang::De)),
        ];
        for (en, de) in pairs {
            assert_ne!(en, de);
            assert!(!de.contains('{') && !de.contains('}'), "{de}");
        }
    }

    #[test]
    fn request_debug_never_shows_the_password() {
        const SECRET: &str = "Secr3t-Never-In-Logs!";
        let p12: P12Request = serde_json::from_value(serde_json::json!({ "path": "/tmp/a.p12", "password": SECRET }))
            .expect("P12Request");
        let export: ExportRequest = serde_json::from_value(serde_json::json!({
            "sha256": "ab", "path": "/tmp/a.p12", "password": SECRET, "policy": "tcs", "legacy": false,
        }))
        .expect("ExportRequest");
        let check = PasswordCheckRequest { password: SECRET.into(), policy: PasswordPolicy::Tcs, user_inputs: vec![] };
        for text in [format!("{p12:?}"), format!("{export:?}"), format!("{check:?}"), format!("{p12:#?}")] {
            assert!(!text.contains(SECRET) && text.contains("Password(***)"), "{text}");
        }
        assert_eq!(p12.password.expose(), SECRET, "the secret itself is still there for the call");
        // The guard: a request field that carries a secret is a Password, never a bare String.
        let source = include_str!("api.rs");
        for bare in [concat!("pub password: ", "String"), concat!("pub pin: ", "String")] {
            assert!(!source.contains(bare), "a request carries a secret as a String ({bare}): use password::Password");
        }
    }

    #[test]
    fn bindings_name_every_command() {
        let ts = typescript_bindings();
        for c in COMMANDS {
            assert!(ts.contains(&format!("  {c}: {{ req: ")), "{c} missing");
        }
        assert!(ts.contains("export type Dashboard = "));
    }

    #[test]
    fn password_check_lists_every_unmet_rule_in_french() {
        let r = password_check(
            PasswordCheckRequest { password: "abc".into(), policy: PasswordPolicy::IgcSante, user_inputs: vec![] },
            Lang::Fr,
        )
        .unwrap();
        assert!(!r.accepted);
        assert_eq!(r.unmet.len(), 3, "{:?}", r.unmet);
        assert_eq!(r.error.unwrap().code, "password.policy");
    }

    #[test]
    fn tray_follows_portal_and_card() {
        let mut portal = PortalState { name: Some("PMP".into()), url: None, paired: true, connected: true };
        let v = tray_view(&portal, &[], Lang::Fr);
        assert_eq!(
            (v.icon, v.portal_line.as_str(), v.card_line.as_str()),
            (TrayIcon::Connected, "● Connecté — PMP", "Aucune carte")
        );
        portal.connected = false;
        let reader = ReaderState {
            name: "Virtual PCD 00 00".into(),
            card: Some(CardState { atr: "3B".into(), family: "luxtrust".into(), name: "LuxTrust".into() }),
        };
        let v = tray_view(&portal, &[reader], Lang::Fr);
        assert_eq!((v.icon, v.portal_line.as_str()), (TrayIcon::CardInserted, "○ Déconnecté"));
        assert_eq!(v.card_line, "Carte insérée : LuxTrust");
        assert_eq!(tray_view(&portal, &[], Lang::De).portal_line, "○ Getrennt");
    }

    fn cert(days_left: i32) -> CertSummary {
        CertSummary {
            holder: "Agent".into(),
            issuer_name: "LuxTrust Global Qualified CA 3".into(),
            subject: "CN=Agent".into(),
            issuer: "CN=LuxTrust Global Qualified CA 3".into(),
            serial: "01".into(),
            not_before: "2025-01-01T00:00:00Z".into(),
            not_after: "2027-01-01T00:00:00Z".into(),
            days_left,
            sha256: "ab".repeat(32),
            key_usage: vec![],
            ext_key_usage: vec![],
            encryption_capable: true,
            is_ca: false,
            has_private_key: true,
        }
    }

    #[test]
    fn the_drill_reminder_comes_when_the_last_drill_is_older_than_the_setting_once() {
        let now = time::macros::datetime!(2026-12-04 10:00 UTC);
        let mut shown = std::collections::BTreeSet::new();
        let last = |d: &str| DrillLast { checked_at: d.into(), bicles: 2, opened: 2, all_open: true };
        // not paired, or switched off: never
        assert!(due_drill_reminder(false, None, 30, now, &shown, Lang::Fr).is_none());
        assert!(due_drill_reminder(true, None, 0, now, &shown, Lang::Fr).is_none());
        // never ran: due
        let r = due_drill_reminder(true, None, 30, now, &shown, Lang::Fr).unwrap();
        assert_eq!(r.key, "drill:never");
        assert!(r.body.contains("Tester mes bi-clés"), "{}", r.body);
        // ran 29 days ago: not yet; 30 days ago: due, once
        assert!(due_drill_reminder(true, Some(&last("2026-11-05T10:00:00Z")), 30, now, &shown, Lang::Fr).is_none());
        let r = due_drill_reminder(true, Some(&last("2026-11-04T10:00:00Z")), 30, now, &shown, Lang::De).unwrap();
        assert!(r.title.contains("Übung"));
        shown.insert(r.key);
        assert!(due_drill_reminder(true, Some(&last("2026-11-04T10:00:00Z")), 30, now, &shown, Lang::Fr).is_none());
    }

    #[test]
    fn reminders_at_j30_and_j5_once_each() {
        let mut shown = std::collections::BTreeSet::new();
        assert!(due_reminders(&[cert(31)], &[], &shown, Lang::Fr).is_empty());
        let r = due_reminders(&[cert(30)], &[], &shown, Lang::Fr);
        assert_eq!(r.len(), 1);
        assert!(r[0].body.contains("expire dans 30 jour(s)"), "{}", r[0].body);
        shown.insert(r[0].key.clone());
        assert!(due_reminders(&[cert(12)], &[], &shown, Lang::Fr).is_empty(), "J-30 is shown once");
        let r = due_reminders(&[cert(5)], &[], &shown, Lang::En);
        assert_eq!(r.len(), 1, "J-5 comes again");
        assert!(due_reminders(&[cert(-1)], &[], &shown, Lang::Fr).is_empty(), "expired: no reminder");
        let p = PendingSummary {
            id: "abc".into(),
            label: "IGC-Santé PS — AUTH".into(),
            created: "2026-11-20T00:00:00Z".into(),
            deadline: Some("2026-11-30T00:00:00Z".into()),
            days_left: Some(2),
        };
        let r = due_reminders(&[], &[p], &shown, Lang::Fr);
        assert_eq!(r[0].key, "pending:abc:3");
        assert!(r[0].body.contains("plus que 2 jour(s)"));
    }

    #[test]
    fn tray_reminders_and_card_names_speak_german_to_german_users() {
        let portal = PortalState { name: Some("PMP".into()), url: None, paired: true, connected: true };
        let reader = |card: crate::card::CardInfo| {
            reader_state(crate::card::ReaderState { reader: "R".into(), card: Some(card) }, Lang::De)
        };
        let unknown = reader(crate::card::atr::identify(&[0x3B, 0x00]));
        assert_eq!(unknown.card.as_ref().unwrap().name, "Unbekannte Karte");
        let v = tray_view(&portal, &[unknown], Lang::De);
        assert_eq!(
            (v.portal_line.as_str(), v.card_line.as_str()),
            ("● Verbunden — PMP", "Karte eingesteckt: Unbekannte Karte")
        );
        let eid = crate::card::atr::parse_hex("3B 8F 80 01 80 31 80 65 B0 85 03 00 EF 12 0F FF 82 90 00 73").unwrap();
        let eid = |lang| {
            reader_state(
                crate::card::ReaderState { reader: "R".into(), card: Some(crate::card::atr::identify(&eid)) },
                lang,
            )
        };
        assert_eq!(eid(Lang::De).card.unwrap().name, "Luxemburgischer Personalausweis (eID, LuxTrust-Zertifikat)");
        assert_eq!(eid(Lang::Fr).card.unwrap().name, "Carte d'identité luxembourgeoise (eID, certificat LuxTrust)");

        let shown = std::collections::BTreeSet::new();
        let r = due_reminders(&[cert(5)], &[], &shown, Lang::De);
        assert_eq!(r[0].title, "Zertifikat läuft bald ab");
        assert!(r[0].body.contains("läuft in 5 Tag(en) ab"), "{}", r[0].body);
        let p = PendingSummary {
            id: "abc".into(),
            label: "IGC-Santé PS — AUTH".into(),
            created: "2026-11-20T00:00:00Z".into(),
            deadline: Some("2026-11-30T00:00:00Z".into()),
            days_left: Some(1),
        };
        let r = due_reminders(&[], &[p], &shown, Lang::De);
        assert_eq!(r[0].title, "Zertifikat abholen");
        assert!(r[0].body.contains("nur noch 1 Tag(e)"), "{}", r[0].body);
    }

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

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

/// Declares handlers that need a feature: each is compiled as written when `cfg` holds, and otherwise as a stub that
/// answers [`ApiError::unavailable`] for `area`, so a build without the feature still offers every command.
macro_rules! gated {
    ($cfg:meta, $area:literal; $($(#[$attr:meta])* pub fn $name:ident($req:ident: $req_ty:ty, $lang:ident: Lang) -> $res:ty $body:block)*) => {
        $(
            $(#[$attr])*
            #[cfg($cfg)]
            pub fn $name($req: $req_ty, $lang: Lang) -> $res $body

            #[cfg(not($cfg))]
            pub fn $name(_: $req_ty, lang: Lang) -> $res {
                Err(ApiError::unavailable($area, lang))
            }
        )*
    };
}

mod bicles;
mod bindings;
mod csr;
mod drill;
mod envelope;
mod portal;
mod store;
mod tokens;
mod tray;

pub use bicles::*;
pub use bindings::*;
pub use csr::*;
pub use drill::*;
pub use envelope::*;
pub use portal::*;
pub use store::*;
pub use tokens::*;
pub use tray::*;
// Settings and reminders are core modules; the command surface re-exports what the window names.
pub use crate::reminders::{due_drill_reminder, due_reminders, take_due_reminders, Reminder};
pub use crate::settings::{load_settings, save_settings, PortalEntry, Settings, SettingsError, SANDBOX_URL};

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
    pub family: CardFamily,
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

/// Which rules a new password is checked against (the core's one list).
pub use crate::password::Policy as PasswordPolicy;

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

/// Rates a new password against a policy and the strength estimate.
pub fn password_check(req: PasswordCheckRequest, lang: Lang) -> Result<PasswordCheck, ApiError> {
    let policy = req.policy;
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

/// A certificate whose status to check online: a file, or the SHA-256 of a certificate in the store; the
/// issuer's certificate when the file does not carry it.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct CertStatusRequest {
    pub target: String,
    #[ts(type = "string | null")]
    #[serde(default)]
    pub issuer: Option<PathBuf>,
}

gated! { feature = "revocation", "revocation";
    /// Is the certificate revoked? OCSP, then the CRL, cached until the answer's nextUpdate (see
    /// `crate::revocation`). A verdict other than good is an answer, not an error.
    pub fn cert_status(req: CertStatusRequest, lang: Lang) -> Result<crate::revocation::StatusReport, ApiError> {
        crate::revocation::check_target(&req.target, req.issuer.as_deref())
            .map(|o| o.report(lang))
            .map_err(|e| ApiError::from_coded(&e, lang))
    }
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
            csr_igc_check: $crate::api::IgcCheckRequest => $crate::api::IgcCheck;
            csr_igc_new: $crate::api::IgcRequest => $crate::api::CsrResult;
            csr_generic_new: $crate::api::GenericRequest => $crate::api::CsrResult;
            pending_install: $crate::api::FileRequest => $crate::api::InstallResult;
            portal_bicles: () => ::std::vec::Vec<$crate::api::BicleRow>;
            portal_bicle_candidates: () => ::std::vec::Vec<$crate::api::BicleCandidate>;
            portal_bicle_add: $crate::api::BicleAdd => ::std::vec::Vec<$crate::api::BicleRow>;
            portal_bicle_remove: $crate::api::BicleRef => $crate::api::BicleStatus;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn german_error_sentences() {
        let pairs = [
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
        let sources = [
            include_str!("mod.rs"),
            include_str!("bicles.rs"),
            include_str!("csr.rs"),
            include_str!("drill.rs"),
            include_str!("envelope.rs"),
            include_str!("portal.rs"),
            include_str!("store.rs"),
            include_str!("tokens.rs"),
            include_str!("tray.rs"),
        ];
        for (source, bare) in
            sources.iter().flat_map(|s| [(s, concat!("pub password: ", "String")), (s, concat!("pub pin: ", "String"))])
        {
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
            card: Some(CardState { atr: "3B".into(), family: CardFamily::Luxtrust, name: "LuxTrust".into() }),
        };
        let v = tray_view(&portal, &[reader], Lang::Fr);
        assert_eq!((v.icon, v.portal_line.as_str()), (TrayIcon::CardInserted, "○ Déconnecté"));
        assert_eq!(v.card_line, "Carte insérée : LuxTrust");
        assert_eq!(tray_view(&portal, &[], Lang::De).portal_line, "○ Getrennt");
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
        let r = due_reminders(&[crate::reminders::tests::cert(5)], &[], &shown, Lang::De);
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
}

//! Requests relayed from a portal page (through the portal channel or the loopback bridge) and how the assistant
//! answers them. Only public certificate data leaves the workstation; generating a bi-clé needs the user's yes in
//! the assistant's own window ([`Confirm`]), which names the portal.

use serde::Serialize;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::PortalError;
use crate::cert::Certificate;
use crate::i18n::{ErrorReport, Lang};

/// A workstation certificate the portal may reference as a bi-clé (public data only).
#[derive(Debug, Clone, Serialize)]
pub struct OfferedCertificate {
    pub sha256: String,
    pub subject: String,
    pub subject_cn: Option<String>,
    pub issuer: String,
    pub issuer_cn: Option<String>,
    pub serial: String,
    pub not_after: String,
    /// `store` (the OS certificate store) or `token` (a smartcard or other PKCS#11 token).
    pub source: &'static str,
    /// The token's label when `source` is `token`.
    pub token: Option<String>,
}

impl OfferedCertificate {
    pub fn new(c: &Certificate, source: &'static str, token: Option<String>) -> Self {
        OfferedCertificate {
            sha256: c.sha256.clone(),
            subject: c.subject.clone(),
            subject_cn: c.subject_cn.clone(),
            issuer: c.issuer.clone(),
            issuer_cn: c.issuer_cn.clone(),
            serial: c.serial.clone(),
            not_after: crate::cert::rfc3339_z::format(&c.not_after),
            source,
            token,
        }
    }
}

/// What the assistant can do on this workstation for a portal.
pub trait Workstation: Send + Sync {
    /// Encryption-capable certificates with a private key, from the OS store and the tokens present.
    fn list(&self) -> Result<Vec<OfferedCertificate>, PortalError>;
    /// The certificate with this SHA-256, if it is still on the workstation.
    fn certificate(&self, sha256: &str) -> Result<Certificate, PortalError>;
    /// Generates an RSA-2048 key pair with a self-signed encryption certificate (`CN=designation`) and installs
    /// both in the OS store. Called only after the user confirmed.
    fn generate(&self, designation: &str) -> Result<Certificate, PortalError>;
}

/// Where a request to the assistant came from: shown in the confirmation, so the user knows who asks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "origin", rename_all = "snake_case")]
pub enum Via {
    /// The paired portal's own channel.
    Channel,
    /// A page calling the loopback bridge, with its (allow-listed) origin.
    Bridge(String),
    /// The user at the command line.
    Cli,
}

/// What the user is asked to confirm.
#[derive(Debug, Clone, Serialize)]
pub struct ConfirmRequest {
    /// The portal's name, as configured (shown to the user).
    pub portal: String,
    /// `generate_bicle`.
    pub action: String,
    pub designation: String,
    /// Where the request came from.
    pub via: Via,
}

impl ConfirmRequest {
    pub fn question(&self, lang: Lang) -> String {
        let via = match &self.via {
            Via::Channel => lang.pick3(
                " (par sa connexion avec cet assistant)",
                " (through its connection with this assistant)",
                " (über seine Verbindung mit diesem Assistenten)",
            ),
            Via::Bridge(origin) => lang.pick3(
                format!(" (depuis la page {origin})"),
                format!(" (from the page {origin})"),
                format!(" (von der Seite {origin})"),
            ),
            Via::Cli => String::new(),
        };
        lang.pick3(
            format!(
                "Le portail « {} »{via} demande de créer un nouveau bi-clé « {} » et de l'installer dans le magasin de certificats de ce poste. Accepter ?",
                self.portal, self.designation
            ),
            format!(
                "The portal \"{}\"{via} asks to create a new bi-clé \"{}\" and install it in this workstation's certificate store. Accept?",
                self.portal, self.designation
            ),
            format!(
                "Das Portal „{}“{via} möchte ein neues Schlüsselpaar (bi-clé) „{}“ erzeugen und im Zertifikatsspeicher dieses Computers installieren. Annehmen?",
                self.portal, self.designation
            ),
        )
    }
}

/// The user's confirmation: the CLI prompts on the terminal, the desktop shows a window.
pub trait Confirm: Send + Sync {
    /// Blocking; true only when the user said yes.
    fn confirm(&self, request: &ConfirmRequest) -> bool;
}

/// Says yes to everything (`portal run --yes`, tests and scripted demos; announced on start).
pub struct AlwaysConfirm;
impl Confirm for AlwaysConfirm {
    fn confirm(&self, _: &ConfirmRequest) -> bool {
        true
    }
}

/// Says no to everything (no user present).
pub struct NeverConfirm;
impl Confirm for NeverConfirm {
    fn confirm(&self, _: &ConfirmRequest) -> bool {
        false
    }
}

/// How long a relayed request may wait for the user when the portal names no deadline.
pub const DEFAULT_RELAY_DEADLINE: Duration = Duration::from_secs(120);
/// The longest deadline believed from a portal.
const MAX_RELAY_DEADLINE: Duration = Duration::from_secs(600);

/// The deadline of a request whose portal allows `timeout_ms` (absent: the default; clamped to 10 minutes).
pub fn relay_deadline(timeout_ms: Option<u64>) -> Instant {
    let wait = timeout_ms.map(Duration::from_millis).unwrap_or(DEFAULT_RELAY_DEADLINE).min(MAX_RELAY_DEADLINE);
    Instant::now() + wait
}

/// Answers relayed requests; counts the operations it actually executed (the abuse tests assert zero).
pub struct RelayHandler {
    workstation: Arc<dyn Workstation>,
    confirm: Arc<dyn Confirm>,
    portal: String,
    lang: Lang,
    executed: AtomicU64,
    /// A confirmation is on screen: the next one is answered "busy" rather than stacked behind it.
    asking: AtomicBool,
}

/// Clears [`RelayHandler::asking`] when the confirmation ends, however it ends.
struct Asking<'a>(&'a AtomicBool);

impl Drop for Asking<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

fn valid_sha256(v: &Value) -> Result<String, PortalError> {
    let s = v.as_str().unwrap_or("").to_ascii_lowercase();
    if s.len() == 64 && s.chars().all(|c| c.is_ascii_hexdigit()) {
        Ok(s)
    } else {
        Err(PortalError::InvalidRequest { detail: "sha256: 64 hexadecimal digits expected".into() })
    }
}

/// Characters that change how a text is displayed without being seen: bidirectional overrides and isolates, zero-width
/// characters, the BOM, soft hyphen and interlinear annotations. A designation holding one could read as another
/// name in the confirmation dialog (e.g. "Jean Dupont" followed by a right-to-left override).
fn is_invisible_format(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}' | '\u{180E}'
        | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{206F}' | '\u{3164}' | '\u{FEFF}'
        | '\u{FFA0}' | '\u{FFF9}'..='\u{FFFB}')
}

/// The one rule for a bi-clé designation ("Prénom Nom 2025"), whoever gives it (portal page, window, command line):
/// 1 to 64 characters, trimmed, no control character, no invisible or direction-changing character.
pub fn check_designation(text: &str) -> Result<String, PortalError> {
    let s = text.trim().to_string();
    if s.is_empty() || s.chars().count() > 64 || s.chars().any(|c| c.is_control() || is_invisible_format(c)) {
        return Err(PortalError::InvalidRequest {
            detail: "designation: 1 to 64 visible characters, no control, zero-width or direction-changing character"
                .into(),
        });
    }
    Ok(s)
}

fn valid_designation(v: &Value) -> Result<String, PortalError> {
    check_designation(v.as_str().unwrap_or(""))
}

impl RelayHandler {
    pub fn new(workstation: Arc<dyn Workstation>, confirm: Arc<dyn Confirm>, portal: &str, lang: Lang) -> Self {
        RelayHandler {
            workstation,
            confirm,
            portal: portal.to_string(),
            lang,
            executed: AtomicU64::new(0),
            asking: AtomicBool::new(false),
        }
    }

    /// Operations executed so far (listings, certificate reads, generations).
    pub fn executed(&self) -> u64 {
        self.executed.load(Ordering::SeqCst)
    }

    /// Handles one relayed request; `via` says where it came from (shown in the confirmation); nothing is executed
    /// once `deadline` (the portal's, see [`relay_deadline`]) has passed. The error sent back names no local path
    /// and no user name ([`for_portal`]).
    pub async fn handle(
        self: &Arc<Self>,
        op: &str,
        params: &Value,
        via: Via,
        deadline: Instant,
    ) -> Result<Value, ErrorReport> {
        let this = Arc::clone(self);
        let (op, params) = (op.to_string(), params.clone());
        let lang = self.lang;
        tokio::task::spawn_blocking(move || this.handle_blocking(&op, &params, via, deadline))
            .await
            .unwrap_or_else(|e| Err(PortalError::Generate { detail: e.to_string() }))
            .map_err(|e| for_portal(ErrorReport::from_coded(&e, lang)))
    }

    fn handle_blocking(&self, op: &str, params: &Value, via: Via, deadline: Instant) -> Result<Value, PortalError> {
        if Instant::now() >= deadline {
            return Err(PortalError::RequestExpired);
        }
        if !params.is_object() && !params.is_null() {
            return Err(PortalError::InvalidRequest { detail: "params must be an object".into() });
        }
        match op {
            "list_certificates" => {
                self.executed.fetch_add(1, Ordering::SeqCst);
                Ok(json!({ "certificates": self.workstation.list()? }))
            }
            "get_certificate" => {
                let sha = valid_sha256(&params["sha256"])?;
                self.executed.fetch_add(1, Ordering::SeqCst);
                let c = self.workstation.certificate(&sha)?;
                Ok(json!({ "sha256": c.sha256, "certificate": c.to_pem() }))
            }
            "generate_bicle" => {
                let designation = valid_designation(&params["designation"])?;
                // one question on screen at a time: a page cannot stack dialogs behind the one the user reads
                if self.asking.compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst).is_err() {
                    return Err(PortalError::Busy);
                }
                let _asking = Asking(&self.asking);
                let req = ConfirmRequest {
                    portal: self.portal.clone(),
                    action: "generate_bicle".into(),
                    designation: designation.clone(),
                    via,
                };
                if !self.confirm.confirm(&req) {
                    return Err(PortalError::Declined);
                }
                // a yes given after the portal stopped waiting creates nothing: nobody would receive the key
                if Instant::now() >= deadline {
                    return Err(PortalError::RequestExpired);
                }
                self.executed.fetch_add(1, Ordering::SeqCst);
                let c = self.workstation.generate(&designation)?;
                Ok(
                    json!({ "sha256": c.sha256, "certificate": c.to_pem(), "not_after": crate::cert::rfc3339_z::format(&c.not_after) }),
                )
            }
            _ => Err(PortalError::InvalidRequest { detail: format!("unknown operation {op:?}") }),
        }
    }
}

/// An error report as it may leave the workstation: local paths (home directory, absolute paths) and the user's
/// and computer's names are replaced by "…" in the message; the code is kept.
pub fn for_portal(mut report: ErrorReport) -> ErrorReport {
    report.message = redact_local(&report.message);
    report
}

fn redact_local(text: &str) -> String {
    let mut out = text.to_string();
    let mut private: Vec<String> = Vec::new();
    for var in ["HOME", "USERPROFILE", "TROUSSEAU_HOME", "APPDATA", "LOCALAPPDATA", "TMPDIR", "TEMP"] {
        if let Some(v) = std::env::var_os(var) {
            private.push(v.to_string_lossy().into_owned());
        }
    }
    // longest first, so a home directory is replaced whole before the user name inside it
    private.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for p in private.iter().filter(|p| p.len() > 1) {
        out = out.replace(p.as_str(), "…");
    }
    // any remaining absolute path: a word starting with '/', '~/' or a drive letter ("C:\")
    out = out
        .split(' ')
        .map(|w| {
            let core = w.trim_start_matches(['(', '«', '"', '\'', '[']);
            let b = core.as_bytes();
            let path = core.starts_with('/')
                || core.starts_with("~/")
                || core.starts_with("\\\\")
                || (b.len() > 2 && b[0].is_ascii_alphabetic() && b[1] == b':' && (b[2] == b'\\' || b[2] == b'/'));
            if path {
                format!("{}…", &w[..w.len() - core.len()])
            } else {
                w.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ");
    let mut names: Vec<String> =
        ["USER", "USERNAME", "LOGNAME", "COMPUTERNAME"].iter().filter_map(|v| std::env::var(v).ok()).collect();
    if let Ok(h) = std::fs::read_to_string("/etc/hostname") {
        names.push(h.trim().to_string());
    }
    for n in names.iter().filter(|n| n.chars().count() >= 3) {
        out = replace_word(&out, n);
    }
    out
}

/// Replaces `word` where it stands as a whole word (a user called "ana" leaves "analyse" alone).
fn replace_word(text: &str, word: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(word) {
        let before = rest[..i].chars().next_back();
        let after = rest[i + word.len()..].chars().next();
        let boundary = |c: Option<char>| c.is_none_or(|c| !c.is_alphanumeric() && c != '_' && c != '-');
        out.push_str(&rest[..i]);
        out.push_str(if boundary(before) && boundary(after) { "…" } else { word });
        rest = &rest[i + word.len()..];
    }
    out.push_str(rest);
    out
}

/// The real workstation: the OS certificate store and the PKCS#11 tokens present.
pub struct SystemWorkstation {
    pub lang: Lang,
}

impl SystemWorkstation {
    /// The card certificates offered: from the desktop's live state when it runs (a slow module does not hold the
    /// listing up), else read now; `fresh` reads now in any case.
    fn token_certificates(&self, fresh: bool) -> Vec<crate::token::TokenCertificate> {
        crate::live::encryption_certificates(fresh)
    }
}

impl Workstation for SystemWorkstation {
    fn list(&self) -> Result<Vec<OfferedCertificate>, PortalError> {
        let mut store = crate::store::open_default()?;
        let mut out: Vec<OfferedCertificate> = crate::store::encryption_capable(store.as_mut())?
            .iter()
            .map(|c| OfferedCertificate::new(&c.certificate, "store", None))
            .collect();
        let now = time::OffsetDateTime::now_utc();
        for t in self.token_certificates(false) {
            if t.certificate.not_after > now && !out.iter().any(|o| o.sha256 == t.certificate.sha256) {
                out.push(OfferedCertificate::new(&t.certificate, "token", Some(t.token.clone())));
            }
        }
        Ok(out)
    }

    fn certificate(&self, sha256: &str) -> Result<Certificate, PortalError> {
        let mut store = crate::store::open_default()?;
        if let Some(c) = store.find(sha256)? {
            if c.has_private_key && c.certificate.encryption_capable {
                return Ok(c.certificate);
            }
        }
        let find = |fresh| self.token_certificates(fresh).into_iter().find(|t| t.certificate.sha256 == sha256);
        // A card inserted since the last probe: read the tokens now rather than refuse.
        find(false)
            .or_else(|| crate::live::running().and_then(|_| find(true)))
            .map(|t| t.certificate)
            .ok_or_else(|| PortalError::CertificateNotFound { sha256: sha256.to_string() })
    }

    fn generate(&self, designation: &str) -> Result<Certificate, PortalError> {
        let designation = check_designation(designation)?;
        let (identity, cert) = generate_identity(&designation)?;
        let mut store = crate::store::open_default()?;
        store.install_identity(&identity)?;
        // verified: the store holds the certificate with its key
        match store.find(&cert.sha256)? {
            Some(c) if c.has_private_key => Ok(cert),
            _ => Err(PortalError::Generate { detail: "the store does not show the new key".into() }),
        }
    }
}

#[cfg(feature = "software-keys")]
fn generate_identity(designation: &str) -> Result<(crate::store::Identity, Certificate), PortalError> {
    let g = |e: rcgen::Error| PortalError::Generate { detail: e.to_string() };
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).map_err(g)?;
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(g)?;
    let mut dn = rcgen::DistinguishedName::new();
    dn.push(rcgen::DnType::CommonName, designation);
    params.distinguished_name = dn;
    params.key_usages = vec![rcgen::KeyUsagePurpose::KeyEncipherment, rcgen::KeyUsagePurpose::DataEncipherment];
    params.is_ca = rcgen::IsCa::ExplicitNoCa;
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::minutes(5);
    params.not_after = now + time::Duration::days(3 * 365);
    let mut serial = [0u8; 16];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut serial);
    serial[0] &= 0x7f;
    params.serial_number = Some(rcgen::SerialNumber::from_slice(&serial));
    let cert = params.self_signed(&key).map_err(g)?;
    let parsed = crate::cert::parse_der(cert.der()).map_err(|e| PortalError::Generate { detail: e.to_string() })?;
    let identity = crate::store::Identity {
        key_pkcs8: zeroize::Zeroizing::new(key.serialize_der()),
        certificate: parsed.clone(),
        chain: Vec::new(),
        friendly_name: Some(designation.to_string()),
    };
    Ok((identity, parsed))
}

#[cfg(not(feature = "software-keys"))]
fn generate_identity(_designation: &str) -> Result<(crate::store::Identity, Certificate), PortalError> {
    Err(PortalError::Generate { detail: "built without software-keys".into() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_relay_question_is_asked_in_each_language() {
        let r = ConfirmRequest {
            portal: "PMP".into(),
            action: "generate_bicle".into(),
            designation: "Marie Dupont 2026".into(),
            via: Via::Cli,
        };
        assert!(r.question(Lang::Fr).starts_with("Le portail « PMP » demande"));
        assert!(r.question(Lang::En).starts_with("The portal \"PMP\" asks"));
        assert_eq!(
            r.question(Lang::De),
            "Das Portal „PMP“ möchte ein neues Schlüsselpaar (bi-clé) „Marie Dupont 2026“ erzeugen und im \
             Zertifikatsspeicher dieses Computers installieren. Annehmen?"
        );
    }

    #[test]
    fn the_question_names_where_the_request_came_from() {
        let mut r = ConfirmRequest {
            portal: "PMP".into(),
            action: "generate_bicle".into(),
            designation: "Marie Dupont 2026".into(),
            via: Via::Bridge("https://pmp.example.lu".into()),
        };
        assert!(r.question(Lang::Fr).starts_with("Le portail « PMP » (depuis la page https://pmp.example.lu) demande"));
        assert!(r.question(Lang::De).contains("(von der Seite https://pmp.example.lu)"));
        r.via = Via::Channel;
        assert!(r.question(Lang::En).contains("(through its connection with this assistant)"));
    }

    #[test]
    fn designations_that_display_as_another_name_are_refused() {
        assert_eq!(check_designation("  Jean Dupont 2025 ").unwrap(), "Jean Dupont 2025");
        assert!(check_designation("Zoë Ñúñez-Łukasz 2026").is_ok());
        for bad in [
            "",
            "   ",
            "Jean\u{202E}5202 tnopuD",
            "Jean\u{2066}Dupont\u{2069}",
            "Jean\u{200B}Dupont",
            "Jean\u{200D}Dupont",
            "\u{FEFF}Jean Dupont",
            "Jean\u{00AD}Dupont",
            "Jean\nDupont",
            "Jean\u{061C}Dupont",
        ] {
            assert!(check_designation(bad).is_err(), "{bad:?}");
        }
        assert!(check_designation(&"x".repeat(65)).is_err());
    }

    struct SlowYes(std::time::Duration);
    impl Confirm for SlowYes {
        fn confirm(&self, _: &ConfirmRequest) -> bool {
            std::thread::sleep(self.0);
            true
        }
    }

    struct NoWorkstation(AtomicU64);
    impl Workstation for NoWorkstation {
        fn list(&self) -> Result<Vec<OfferedCertificate>, PortalError> {
            Ok(Vec::new())
        }
        fn certificate(&self, sha256: &str) -> Result<Certificate, PortalError> {
            Err(PortalError::CertificateNotFound { sha256: sha256.into() })
        }
        fn generate(&self, _: &str) -> Result<Certificate, PortalError> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Err(PortalError::Generate { detail: "test workstation".into() })
        }
    }

    #[test]
    fn a_yes_after_the_portals_deadline_creates_nothing() {
        let ws = Arc::new(NoWorkstation(AtomicU64::new(0)));
        let h = RelayHandler::new(ws.clone(), Arc::new(SlowYes(Duration::from_millis(300))), "PMP", Lang::Fr);
        let params = serde_json::json!({"designation": "Jean Dupont 2026"});
        let deadline = Instant::now() + Duration::from_millis(100);
        let r = h.handle_blocking("generate_bicle", &params, Via::Channel, deadline);
        assert!(matches!(r, Err(PortalError::RequestExpired)), "{r:?}");
        assert_eq!(ws.0.load(Ordering::SeqCst), 0, "nothing generated after the deadline");
        assert_eq!(h.executed(), 0);
        // already past: not even asked
        let r = h.handle_blocking("list_certificates", &Value::Null, Via::Channel, Instant::now());
        assert!(matches!(r, Err(PortalError::RequestExpired)));
    }

    #[test]
    fn a_second_generate_while_the_first_is_on_screen_is_answered_busy() {
        let ws = Arc::new(NoWorkstation(AtomicU64::new(0)));
        let h = Arc::new(RelayHandler::new(ws.clone(), Arc::new(SlowYes(Duration::from_millis(500))), "PMP", Lang::Fr));
        let params = serde_json::json!({"designation": "Jean Dupont 2026"});
        let first = {
            let (h, params) = (Arc::clone(&h), params.clone());
            std::thread::spawn(move || h.handle_blocking("generate_bicle", &params, Via::Channel, relay_deadline(None)))
        };
        std::thread::sleep(Duration::from_millis(100));
        let second = h.handle_blocking("generate_bicle", &params, Via::Channel, relay_deadline(None));
        assert!(matches!(second, Err(PortalError::Busy)), "{second:?}");
        let first = first.join().unwrap();
        assert!(matches!(first, Err(PortalError::Generate { .. })), "the first one went on: {first:?}");
        assert_eq!(ws.0.load(Ordering::SeqCst), 1);
        // once answered, the next request is asked again
        let third = h.handle_blocking("generate_bicle", &params, Via::Channel, relay_deadline(None));
        assert!(matches!(third, Err(PortalError::Generate { .. })), "{third:?}");
    }

    #[test]
    fn errors_sent_to_the_portal_carry_no_local_path_or_user_name() {
        let home = std::env::var("HOME").unwrap_or_else(|_| "/root".into());
        let report = ErrorReport {
            code: "store.io".into(),
            message: format!(
                "Impossible d'écrire {home}/.pki/nssdb/cert9.db (Permission denied) ; voir /var/lib/x et C:\\Users\\jdupont\\AppData"
            ),
        };
        let out = for_portal(report);
        assert_eq!(out.code, "store.io");
        assert!(!out.message.contains(&home), "{}", out.message);
        assert!(!out.message.contains("/var/lib"), "{}", out.message);
        assert!(!out.message.contains("jdupont"), "{}", out.message);
        assert!(out.message.contains("Permission denied"), "{}", out.message);
        assert_eq!(replace_word("analyse ana ana-b x", "ana"), "analyse … ana-b x");
    }

    #[test]
    fn portal_deadlines_are_clamped() {
        let far = relay_deadline(Some(u64::MAX));
        assert!(far <= Instant::now() + MAX_RELAY_DEADLINE);
        assert!(relay_deadline(Some(0)) <= Instant::now());
    }
}

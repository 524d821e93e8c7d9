//! Requests relayed from a portal page (through the portal channel or the loopback bridge) and how the assistant
//! answers them. Only public certificate data leaves the workstation; generating a bi-clé needs the user's yes in
//! the assistant's own window ([`Confirm`]), which names the portal.

use serde::Serialize;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

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

/// What the user is asked to confirm.
#[derive(Debug, Clone, Serialize)]
pub struct ConfirmRequest {
    /// The portal's name, as configured (shown to the user).
    pub portal: String,
    /// `generate_bicle`.
    pub action: String,
    pub designation: String,
    /// Where the request came from (`portal channel`, or the page origin for the bridge).
    pub via: String,
}

impl ConfirmRequest {
    pub fn question(&self, lang: Lang) -> String {
        lang.pick3(
            format!(
                "Le portail « {} » demande de créer un nouveau bi-clé « {} » et de l'installer dans le magasin de certificats de ce poste. Accepter ?",
                self.portal, self.designation
            ),
            format!(
                "The portal \"{}\" asks to create a new bi-clé \"{}\" and install it in this workstation's certificate store. Accept?",
                self.portal, self.designation
            ),
            format!(
                "Das Portal „{}“ möchte ein neues Schlüsselpaar (bi-clé) „{}“ erzeugen und im Zertifikatsspeicher dieses Computers installieren. Annehmen?",
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

/// Answers relayed requests; counts the operations it actually executed (the abuse tests assert zero).
pub struct RelayHandler {
    workstation: Arc<dyn Workstation>,
    confirm: Arc<dyn Confirm>,
    portal: String,
    lang: Lang,
    executed: AtomicU64,
}

fn valid_sha256(v: &Value) -> Result<String, PortalError> {
    let s = v.as_str().unwrap_or("").to_ascii_lowercase();
    if s.len() == 64 && s.chars().all(|c| c.is_ascii_hexdigit()) {
        Ok(s)
    } else {
        Err(PortalError::InvalidRequest { detail: "sha256: 64 hexadecimal digits expected".into() })
    }
}

fn valid_designation(v: &Value) -> Result<String, PortalError> {
    let s = v.as_str().unwrap_or("").trim().to_string();
    if s.is_empty() || s.chars().count() > 64 || s.chars().any(char::is_control) {
        return Err(PortalError::InvalidRequest { detail: "designation: 1 to 64 printable characters".into() });
    }
    Ok(s)
}

impl RelayHandler {
    pub fn new(workstation: Arc<dyn Workstation>, confirm: Arc<dyn Confirm>, portal: &str, lang: Lang) -> Self {
        RelayHandler { workstation, confirm, portal: portal.to_string(), lang, executed: AtomicU64::new(0) }
    }

    /// Operations executed so far (listings, certificate reads, generations).
    pub fn executed(&self) -> u64 {
        self.executed.load(Ordering::SeqCst)
    }

    /// Handles one relayed request; `via` says where it came from (shown in the confirmation).
    pub async fn handle(self: &Arc<Self>, op: &str, params: &Value, via: &str) -> Result<Value, ErrorReport> {
        let this = Arc::clone(self);
        let (op, params, via) = (op.to_string(), params.clone(), via.to_string());
        let lang = self.lang;
        tokio::task::spawn_blocking(move || this.handle_blocking(&op, &params, &via))
            .await
            .unwrap_or_else(|e| Err(PortalError::Generate { detail: e.to_string() }))
            .map_err(|e| ErrorReport::from_coded(&e, lang))
    }

    fn handle_blocking(&self, op: &str, params: &Value, via: &str) -> Result<Value, PortalError> {
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
                let req = ConfirmRequest {
                    portal: self.portal.clone(),
                    action: "generate_bicle".into(),
                    designation: designation.clone(),
                    via: via.to_string(),
                };
                if !self.confirm.confirm(&req) {
                    return Err(PortalError::Declined);
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

/// The real workstation: the OS certificate store and the PKCS#11 tokens present.
pub struct SystemWorkstation {
    pub lang: Lang,
}

impl SystemWorkstation {
    fn token_certificates(&self) -> Vec<crate::token::TokenCertificate> {
        let discovery = crate::token::discover();
        crate::token::encryption_certificates(&discovery, self.lang)
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
        for t in self.token_certificates() {
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
        self.token_certificates()
            .into_iter()
            .find(|t| t.certificate.sha256 == sha256)
            .map(|t| t.certificate)
            .ok_or_else(|| PortalError::CertificateNotFound { sha256: sha256.to_string() })
    }

    fn generate(&self, designation: &str) -> Result<Certificate, PortalError> {
        let (identity, cert) = generate_identity(designation)?;
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
            via: "portal channel".into(),
        };
        assert!(r.question(Lang::Fr).starts_with("Le portail « PMP » demande"));
        assert!(r.question(Lang::En).starts_with("The portal \"PMP\" asks"));
        assert_eq!(
            r.question(Lang::De),
            "Das Portal „PMP“ möchte ein neues Schlüsselpaar (bi-clé) „Marie Dupont 2026“ erzeugen und im \
             Zertifikatsspeicher dieses Computers installieren. Annehmen?"
        );
    }
}

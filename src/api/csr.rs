//! Certificate requests (IGC-Santé wizard, generic) and the requests waiting for their certificate.

use super::*;

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

/// The form's fields as the wizard has them (the core's [`crate::csr::igc_sante::Input`]), to check before asking
/// for the request.
#[cfg(feature = "software-keys")]
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct IgcCheckRequest {
    #[serde(flatten)]
    #[ts(flatten)]
    pub input: crate::csr::igc_sante::Input,
}

/// Without software keys there is no form to check.
#[cfg(not(feature = "software-keys"))]
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct IgcCheckRequest {}

#[cfg(feature = "software-keys")]
pub use crate::csr::igc_form::{Field as IgcField, Problem as IgcProblem};

/// A field of the IGC-Santé form (none without software keys).
#[cfg(not(feature = "software-keys"))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
pub enum IgcField {}

/// What is wrong with one field of the form.
#[cfg(not(feature = "software-keys"))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct IgcProblem {
    pub field: IgcField,
    pub message: String,
}

/// The form checked by the core: the fields this offer and usage ask for, and what is wrong with each.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct IgcCheck {
    pub fields: Vec<IgcField>,
    /// In the form's order; empty when the request can be made.
    pub problems: Vec<IgcProblem>,
}

gated! { feature = "software-keys", "csr";
    /// Checks the wizard's fields with the core's IGC-Santé rules (nothing is created): the window shows each
    /// problem beside its field.
    pub fn csr_igc_check(req: IgcCheckRequest, lang: Lang) -> Result<IgcCheck, ApiError> {
        use crate::csr::igc_sante::{Offer, Usage};
        let i = &req.input;
        let fields = match (Offer::parse(&i.offer), Usage::parse(&i.usage)) {
            (Some(o), Some(u)) => crate::csr::igc_form::fields(o, u, i.insi.is_some()),
            _ => return Err(ApiError::bad_request("offer or usage", lang)),
        };
        Ok(IgcCheck { fields, problems: crate::csr::igc_form::problems(i, lang) })
    }
}

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
pub(super) fn make_software_request(
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

gated! { feature = "software-keys", "csr";
    /// Checks the request against the platform's rules, generates RSA-2048, keeps the key in the vault (written first)
    /// and only then writes the CSR.
    pub fn csr_igc_new(req: IgcRequest, lang: Lang) -> Result<CsrResult, ApiError> {
        let spec = crate::csr::RequestSpec::igc_sante(&req.input).map_err(|e| ApiError::from_coded(&e, lang))?;
        make_software_request(&spec, &req.out, req.force.unwrap_or(false), lang)
    }
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

gated! { feature = "software-keys", "csr";
    /// Generates RSA-2048 and a generic CSR, the key kept in the vault first.
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

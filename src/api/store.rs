//! The OS certificate store: list, inspect, install (.p12, CA, a withdrawn certificate), remove, export, and the
//! revocation codes kept for its certificates.

use super::*;

pub(super) fn open_store(lang: Lang) -> Result<Box<dyn crate::store::CertStore>, ApiError> {
    crate::store::open_default().map_err(|e| ApiError::from_coded(&e, lang))
}

pub(super) fn summary_of(c: &crate::store::StoredCertificate, now: time::OffsetDateTime) -> CertSummary {
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
    let bytes = crate::store::read_pkcs12_file(&req.path).map_err(|e| ApiError::from_coded(&e, lang))?;
    let contents = crate::pkcs12::read(&bytes, req.password.expose()).map_err(|e| ApiError::from_coded(&e, lang))?;
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

pub(super) fn install_result(r: crate::store::ImportReport) -> InstallResult {
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
    let bytes = crate::store::read_pkcs12_file(&req.path).map_err(|e| ApiError::from_coded(&e, lang))?;
    let mut store = open_store(lang)?;
    crate::store::import_pkcs12(store.as_mut(), &bytes, req.password.expose())
        .map(install_result)
        .map_err(|e| ApiError::from_coded(&e, lang))
}

/// Installs the CA certificate(s) of a file into the OS store.
pub fn ca_install(req: FileRequest, lang: Lang) -> Result<InstallResult, ApiError> {
    let mut store = open_store(lang)?;
    let reports =
        crate::store::install_ca_file(store.as_mut(), &req.path).map_err(|e| ApiError::from_coded(&e, lang))?;
    let mut total = InstallResult { store: String::new(), installed: 0, already_present: true, sha256: String::new() };
    for r in reports.into_iter().map(install_result) {
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
pub(super) fn stored_certificate(sha256: &str, lang: Lang) -> Result<crate::cert::Certificate, ApiError> {
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
    let mut store = open_store(lang)?;
    let export = crate::store::Export {
        sha256: &req.sha256,
        password: req.password.expose(),
        policy: Some(req.policy),
        encryption: if req.legacy { crate::pkcs12::Encryption::Legacy } else { crate::pkcs12::Encryption::Modern },
        out: &req.path,
        force: req.force.unwrap_or(false),
    };
    let done = crate::store::export_checked(store.as_mut(), &export).map_err(|e| ApiError::from_coded(&e, lang))?;
    Ok(InstallResult {
        store: req.path.display().to_string(),
        installed: done.certificates as u32,
        already_present: false,
        sha256: done.sha256,
    })
}

gated! { feature = "software-keys", "csr";
    /// Installs a withdrawn certificate (PEM, DER or a .p7b bag with its chain) into the store with the private key
    /// waiting in the vault. The key leaves the vault only once the store holds the certificate with its key.
    pub fn pending_install(req: FileRequest, lang: Lang) -> Result<InstallResult, ApiError> {
        let withdrawn =
            crate::csr::reunite::withdrawn(&req.path, false, true).map_err(|e| ApiError::from_coded(&e, lang))?;
        let mut store = open_store(lang)?;
        let installed = withdrawn
            .install(crate::csr::reunite::Destinations { p12: None, store: Some(store.as_mut()) })
            .map_err(|e| ApiError::from_coded(&e, lang))?;
        match installed.store_report {
            Some(report) => Ok(install_result(report)),
            None => Err(ApiError::bad_request("no store report", lang)),
        }
    }
}

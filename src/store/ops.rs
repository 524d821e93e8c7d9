//! The store's operations as the window (`src/api/`) and the CLI (`src/cli/`) both run them: reading a `.p12`,
//! installing it, installing authorities, exporting with a checked password. Each face only translates its
//! arguments in and the result (or the one [`StoreError`]) out.

use super::{refuse_if_revoked, CertStore, ExportEncryption, Identity, ImportReport, StoreError, StoredCertificate};
use crate::password::{Policy, Strength};
use std::path::Path;

/// Reads a `.p12` file to install or inspect: at most [`crate::pkcs12::MAX_FILE_SIZE`] bytes, and refused before any
/// password is asked when it is not a PKCS#12 at all (`pkcs12.io`, `pkcs12.too_large`, `pkcs12.not_pkcs12`…).
pub fn read_pkcs12_file(path: &Path) -> Result<Vec<u8>, StoreError> {
    let bytes = crate::pkcs12::read_bytes(path)?;
    crate::pkcs12::probe(&bytes)?;
    Ok(bytes)
}

/// The identity (key, certificate, chain) a `.p12` holds, opened with its password and refused when its authority
/// says it is revoked. Nothing is installed.
pub fn pkcs12_identity(der: &[u8], password: &str) -> Result<Identity, StoreError> {
    let identity = super::identity_from_pkcs12(der, password)?;
    refuse_if_revoked(&identity)?;
    Ok(identity)
}

/// Installs the authority (CA) certificates of a file (PEM, DER, PKCS#7) as trusted, one report each. A file
/// without any authority certificate is [`StoreError::NotCa`] and changes nothing.
pub fn install_ca_file(store: &mut dyn CertStore, path: &Path) -> Result<Vec<ImportReport>, StoreError> {
    let certs = crate::cert::read_file(path)?;
    let cas: Vec<_> = certs.iter().filter(|c| c.is_ca).collect();
    if cas.is_empty() {
        return Err(StoreError::NotCa { sha256: certs.first().map(|c| c.sha256.clone()).unwrap_or_default() });
    }
    cas.into_iter().map(|ca| store.import_ca(ca)).collect()
}

/// The certificate of `store` with this fingerprint, when it can be exported with its key: present, not on a
/// token, with its private key. Checked before any password is asked for.
pub fn exportable(store: &mut dyn CertStore, sha256: &str) -> Result<StoredCertificate, StoreError> {
    let found = store
        .find(sha256)?
        .ok_or_else(|| StoreError::NotFound { sha256: sha256.to_string(), store: store.location() })?;
    if found.on_token {
        return Err(StoreError::OnToken { sha256: found.certificate.sha256.clone() });
    }
    if !found.has_private_key {
        return Err(StoreError::NoPrivateKey { sha256: found.certificate.sha256.clone(), store: store.location() });
    }
    Ok(found)
}

/// An export to write.
pub struct Export<'a> {
    pub sha256: &'a str,
    pub password: &'a str,
    /// The rules the password must follow; `None`: only its strength is measured.
    pub policy: Option<Policy>,
    pub encryption: ExportEncryption,
    pub out: &'a Path,
    /// Replace `out` if it exists.
    pub force: bool,
}

/// An export written.
#[derive(Debug, Clone)]
pub struct Exported {
    /// SHA-256 of the certificate exported.
    pub sha256: String,
    /// Certificates written (the certificate and its chain).
    pub certificates: usize,
    pub strength: Strength,
}

/// Exports a certificate with its private key to a password-protected `.p12`: the certificate must be exportable,
/// the password follow the policy (the holder's name is not a good password); the file is never overwritten
/// unless `force`.
pub fn export_checked(store: &mut dyn CertStore, e: &Export<'_>) -> Result<Exported, StoreError> {
    let found = exportable(store, e.sha256)?;
    let cert = &found.certificate;
    let inputs: Vec<&str> = cert.subject_cn.iter().map(String::as_str).collect();
    let strength = match e.policy {
        Some(p) => crate::password::check(p, e.password, &inputs)?,
        None => crate::password::strength(e.password, &inputs),
    };
    let certificates = super::export_pkcs12_file(store, &cert.sha256, e.password, e.encryption, e.out, e.force)?;
    Ok(Exported { sha256: cert.sha256.clone(), certificates, strength })
}

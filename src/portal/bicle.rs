//! Choosing what to register as a bi-clé, the same way for the window and the CLI: the kinds asked for (at least
//! one) and the certificate (generated, or one of this workstation's that can decrypt).

use super::{BicleKind, PortalError, Workstation};
use crate::cert::Certificate;

/// The kinds asked for, in registry order; none is [`PortalError::NoKind`].
pub fn bicle_kinds(personal: bool, backup: bool) -> Result<Vec<BicleKind>, PortalError> {
    let kinds: Vec<BicleKind> = [(personal, BicleKind::Personal), (backup, BicleKind::Backup)]
        .into_iter()
        .filter_map(|(wanted, k)| wanted.then_some(k))
        .collect();
    if kinds.is_empty() {
        return Err(PortalError::NoKind);
    }
    Ok(kinds)
}

/// Where the bi-clé's certificate comes from.
pub enum BicleSource<'a> {
    /// A new RSA-2048 key pair with a self-signed encryption certificate (`CN=designation`), installed in the store.
    Generate { designation: &'a str },
    /// A certificate of this workstation (store first, then tokens), by SHA-256 fingerprint.
    Existing { sha256: &'a str },
}

/// The certificate to register. An existing one must be usable for encryption with its private key here: a
/// certificate that is on the workstation but cannot decrypt is [`PortalError::NotABicle`], one that is not here
/// at all [`PortalError::CertificateNotFound`]. Only its public part is ever sent.
pub fn bicle_certificate(ws: &dyn Workstation, source: BicleSource<'_>) -> Result<Certificate, PortalError> {
    match source {
        BicleSource::Generate { designation } => ws.generate(designation.trim()),
        BicleSource::Existing { sha256 } => {
            let sha256 = crate::store::normalize_fingerprint(sha256)?;
            match ws.certificate(&sha256) {
                Ok(c) if !c.encryption_capable => Err(PortalError::NotABicle { sha256 }),
                Ok(c) => Ok(c),
                Err(PortalError::CertificateNotFound { .. }) if on_workstation(&sha256) => {
                    Err(PortalError::NotABicle { sha256 })
                }
                Err(e) => Err(e),
            }
        }
    }
}

/// Whether a certificate with this fingerprint is on the workstation at all (store or token), usable or not.
fn on_workstation(sha256: &str) -> bool {
    let in_store = crate::store::open_default().ok().and_then(|mut s| s.find(sha256).ok().flatten()).is_some();
    in_store || {
        let discovery = crate::token::discover();
        crate::token::list_tokens(&discovery, crate::Lang::default()).tokens.iter().any(|t| {
            crate::token::certificates(t).is_ok_and(|certs| certs.iter().any(|c| c.certificate.sha256 == sha256))
        })
    }
}

//! Reunite: a certificate withdrawn for a locally generated request (PEM/DER certificate or PKCS#7 bag, the
//! IGC-Santé "uploaded CSR" withdrawal format) meets the private key waiting in the vault.
//!
//! The steps are building blocks so each destination stays explicit at the call site (`cert install`):
//! [`find_pending`] finds the pending key whose public key matches one of the certificates, [`chain_for`] orders
//! the rest of the file into the leaf's chain, [`write_p12_verified`] writes a `.p12` and reads it back from disk;
//! the caller retires the vault entry ([`crate::vault::Vault::retire`]) only once EVERY destination is verified.
//! Nothing here needs rcgen: the vault holds the key as PKCS#8.

use crate::cert::Certificate;
use crate::i18n::{Coded, Lang};
use crate::pkcs12::{self, Encryption, Pkcs12Error, WriteRequest};
use crate::vault::{Listed, PendingKey, Vault, VaultError};
use std::path::{Path, PathBuf};

/// Errors reuniting a certificate with its pending key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReuniteError {
    /// No pending key matches any certificate of the file.
    #[error("no pending key matches {certificates:?} (pending: {pending:?}, damaged: {damaged})")]
    NoMatch {
        /// `(subject, sha256)` of each certificate compared.
        certificates: Vec<(String, String)>,
        /// `(id, subject)` of each pending request compared.
        pending: Vec<(String, String)>,
        damaged: usize,
    },
    /// The output file exists and is not this certificate with this key.
    #[error("{} already exists", path.display())]
    OutputExists { path: PathBuf },
    #[error("cannot write {}: {source}", path.display())]
    Write { path: PathBuf, source: std::io::Error },
    /// The file written does not read back as expected (the pending key is kept).
    #[error("{} did not verify: {detail}", path.display())]
    Verify { path: PathBuf, detail: String },
    /// Neither a `.p12` file nor the store was asked for.
    #[error("no destination")]
    NoDestination,
    #[error(transparent)]
    Pkcs12(#[from] Pkcs12Error),
    #[error(transparent)]
    Vault(#[from] VaultError),
    #[error(transparent)]
    Cert(#[from] crate::cert::CertError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Password(#[from] crate::password::PasswordError),
}

impl Coded for ReuniteError {
    fn code(&self) -> &'static str {
        match self {
            ReuniteError::NoMatch { .. } => "install.no_matching_key",
            ReuniteError::OutputExists { .. } => "install.output_exists",
            ReuniteError::Write { .. } => "install.write",
            ReuniteError::Verify { .. } => "install.verify_failed",
            ReuniteError::NoDestination => "install.no_destination",
            ReuniteError::Pkcs12(e) => e.code(),
            ReuniteError::Vault(e) => e.code(),
            ReuniteError::Cert(e) => e.code(),
            ReuniteError::Store(e) => e.code(),
            ReuniteError::Password(e) => e.code(),
        }
    }

    fn message(&self, lang: Lang) -> String {
        match self {
            ReuniteError::NoMatch { certificates, pending, damaged } => {
                let certs = certificates
                    .iter()
                    .map(|(s, f)| format!("« {s} » (SHA-256 {})", &f[..f.len().min(16)]))
                    .collect::<Vec<_>>()
                    .join(", ");
                let reqs = if pending.is_empty() {
                    lang.pick3("aucune demande en attente".to_string(), "no pending request".to_string(),
                        "keine ausstehende Anforderung".to_string())
                } else {
                    pending.iter().map(|(id, s)| format!("{id} « {s} »")).collect::<Vec<_>>().join(", ")
                };
                let dmg = if *damaged > 0 {
                    lang.pick3(
                        format!(" ({damaged} demande(s) endommagée(s) n'ont pas pu être comparées)"),
                        format!(" ({damaged} damaged request(s) could not be compared)"),
                        format!(" ({damaged} beschädigte Anforderung(en) konnten nicht verglichen werden)"),
                    )
                } else {
                    String::new()
                };
                lang.pick3(
                    format!("Aucune clé en attente ne correspond à ce certificat. Certificat(s) du fichier : {certs} ; demandes en attente comparées : {reqs}{dmg}. Vérifiez que le certificat a été demandé depuis cet ordinateur et cette session, avec `trousseau pending list`."),
                    format!("No pending key matches this certificate. Certificate(s) in the file: {certs}; pending requests compared: {reqs}{dmg}. Check that the certificate was requested from this computer and session, with `trousseau pending list`."),
                    format!("Kein ausstehender Schlüssel passt zu diesem Zertifikat. Zertifikat(e) in der Datei: {certs}; verglichene ausstehende Anforderungen: {reqs}{dmg}. Prüfen Sie mit `trousseau pending list`, ob das Zertifikat von diesem Computer und in dieser Sitzung beantragt wurde."),
                )
            }
            ReuniteError::OutputExists { path } => lang.pick3(
                format!("Le fichier {} existe déjà et ne contient pas ce certificat avec sa clé : choisissez un autre nom, ou demandez à le remplacer (--force). La clé en attente est conservée.", path.display()),
                format!("The file {} already exists and does not hold this certificate with its key: choose another name, or ask to replace it (--force). The pending key is kept.", path.display()),
                format!("Die Datei {} existiert bereits und enthält nicht dieses Zertifikat mit seinem Schlüssel: Wählen Sie einen anderen Namen oder lassen Sie sie ersetzen (--force). Der ausstehende Schlüssel bleibt erhalten.", path.display()),
            ),
            ReuniteError::Write { path, source } => lang.pick3(
                format!("Impossible d'écrire {} ({source}). Libérez de la place ou choisissez un autre dossier ; la clé en attente est conservée.", path.display()),
                format!("Cannot write {} ({source}). Free some space or choose another folder; the pending key is kept.", path.display()),
                format!("{} kann nicht geschrieben werden ({source}). Schaffen Sie Platz oder wählen Sie einen anderen Ordner; der ausstehende Schlüssel bleibt erhalten.", path.display()),
            ),
            ReuniteError::Verify { path, detail } => lang.pick3(
                format!("Le fichier {} relu ne correspond pas à ce qui a été écrit ({detail}) : la clé en attente est conservée. Réessayez vers un autre emplacement.", path.display()),
                format!("The file {} read back does not match what was written ({detail}): the pending key is kept. Try again to another place.", path.display()),
                format!("Die zurückgelesene Datei {} entspricht nicht dem Geschriebenen ({detail}): Der ausstehende Schlüssel bleibt erhalten. Versuchen Sie es erneut an einem anderen Ort.", path.display()),
            ),
            ReuniteError::NoDestination => lang.pick3(
                "Indiquez où installer le certificat : dans un fichier .p12 (--p12-out FICHIER.p12) et/ou dans le magasin de certificats (--into-store)",
                "Say where to install the certificate: a .p12 file (--p12-out FILE.p12) and/or the certificate store (--into-store)",
                "Geben Sie an, wo das Zertifikat installiert werden soll: in einer .p12-Datei (--p12-out DATEI.p12) und/oder im Zertifikatsspeicher (--into-store)",
            ),
            ReuniteError::Pkcs12(e) => e.message(lang),
            ReuniteError::Vault(e) => e.message(lang),
            ReuniteError::Cert(e) => e.message(lang),
            ReuniteError::Store(e) => e.message(lang),
            ReuniteError::Password(e) => e.message(lang),
        }
    }
}

/// Finds the pending key matching one of `certs` (end-entity certificates first); returns it with the index of
/// the matching certificate. No match → [`ReuniteError::NoMatch`] naming what was compared.
pub fn find_pending(vault: &Vault, certs: &[Certificate]) -> Result<(PendingKey, usize), ReuniteError> {
    let mut order: Vec<usize> = (0..certs.len()).collect();
    order.sort_by_key(|&i| certs[i].is_ca);
    let mut damaged = 0;
    for &i in &order {
        let (found, dmg) = vault.find_by_public_key(&certs[i].spki_der)?;
        damaged = dmg.len();
        if let Some(k) = found {
            return Ok((k, i));
        }
    }
    let pending = vault
        .list()?
        .into_iter()
        .filter_map(|l| match l {
            Listed::Ok(m) => Some((m.id, m.subject)),
            Listed::Damaged { .. } => None,
        })
        .collect();
    Err(ReuniteError::NoMatch {
        certificates: certs.iter().map(|c| (c.subject.clone(), c.sha256.clone())).collect(),
        pending,
        damaged,
    })
}

/// The leaf followed by its issuers found in `certs` (by name), as far as they go; unrelated certificates are
/// left out.
pub fn chain_for(certs: &[Certificate], leaf: usize) -> Vec<Certificate> {
    let mut chain = vec![certs[leaf].clone()];
    let mut used = vec![leaf];
    loop {
        let current = &chain[chain.len() - 1];
        if current.subject == current.issuer {
            break;
        }
        match certs.iter().enumerate().find(|(i, c)| !used.contains(i) && c.subject == current.issuer) {
            Some((i, c)) => {
                used.push(i);
                chain.push(c.clone());
            }
            None => break,
        }
    }
    chain
}

/// Whether the `.p12` at `path` opens with `password` and holds `key`'s private key with the leaf `chain[0]`.
fn verify_p12(path: &Path, password: &str, key: &PendingKey, chain: &[Certificate]) -> Result<(), String> {
    let back = pkcs12::read_file(path, password).map_err(|e| e.to_string())?;
    let leaf = &chain[0];
    let key_ok = back.keys.iter().any(|k| *k.pkcs8_der == *key.pkcs8_der && k.matches(leaf));
    if !key_ok {
        return Err("private key missing or not matching the certificate".into());
    }
    if chain.iter().any(|c| !back.certificates.iter().any(|b| b.sha256 == c.sha256)) {
        return Err("certificate chain incomplete".into());
    }
    Ok(())
}

/// Writes `key` with `chain` (leaf first) to `out` as a PKCS#12 protected by `password`, durably, then reads the
/// file back from disk and checks key and certificates. An existing `out` is never overwritten unless `force` —
/// but when it already is exactly this key and certificate under this password (an earlier run stopped before
/// retiring the key), it is accepted as verified. The creation itself is race-free ([`crate::fsutil::write_new`]):
/// a file that appears at `out` meanwhile is left as it is. Returns `true` when a file was written.
pub fn write_p12_verified(
    out: &Path,
    key: &PendingKey,
    chain: &[Certificate],
    password: &str,
    encryption: Encryption,
    force: bool,
) -> Result<bool, ReuniteError> {
    use crate::fsutil::{self, Access, FileError};
    let name = chain.first().map(|c| c.display_name()).unwrap_or_default();
    let bytes =
        pkcs12::write(&WriteRequest { key_pkcs8: &key.pkcs8_der, chain, friendly_name: &name, password, encryption })?;
    match fsutil::write(out, &bytes, Access::Private, force) {
        Ok(()) => {}
        Err(FileError::Exists { .. }) => {
            return match verify_p12(out, password, key, chain) {
                Ok(()) => Ok(false),
                Err(_) => Err(ReuniteError::OutputExists { path: out.to_path_buf() }),
            };
        }
        Err(e) => return Err(ReuniteError::Write { path: out.to_path_buf(), source: e.into() }),
    }
    verify_p12(out, password, key, chain).map_err(|detail| ReuniteError::Verify { path: out.to_path_buf(), detail })?;
    Ok(true)
}

/// A withdrawn certificate file matched with its pending key ([`withdrawn`]), ready to be installed: the faces
/// ask for a password only once this succeeded.
pub struct Withdrawn {
    vault: Vault,
    key: PendingKey,
    /// Leaf first, then its chain.
    pub chain: Vec<Certificate>,
}

/// Where a withdrawn certificate goes; each destination is written and verified before the key leaves the vault.
pub struct Destinations<'a> {
    /// A `.p12` file protected by `password` (checked against the IGC-Santé rules, holder's name excluded).
    pub p12: Option<P12Destination<'a>>,
    /// The certificate store (verified: the certificate must be found there with its key).
    pub store: Option<&'a mut (dyn crate::store::CertStore + 'static)>,
}

/// The `.p12` destination of [`Withdrawn::install`].
pub struct P12Destination<'a> {
    pub out: &'a Path,
    pub password: &'a str,
    pub encryption: Encryption,
    /// Replace `out` if it exists.
    pub force: bool,
}

/// One verified destination.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Done {
    /// `p12` or `store`
    pub kind: &'static str,
    /// The file, or the store's location.
    pub path: PathBuf,
    /// `false` when the destination already held exactly this key and certificate (an earlier run was interrupted).
    pub written: bool,
}

/// A withdrawn certificate installed: its request retired from the vault.
#[derive(Debug, Clone)]
pub struct Installed {
    /// The pending request reunited (now retired).
    pub id: String,
    /// Leaf first, then its chain.
    pub chain: Vec<Certificate>,
    pub destinations: Vec<Done>,
    /// What the store reported, when the store was a destination.
    pub store_report: Option<crate::store::ImportReport>,
}

/// Reads a withdrawn certificate (PEM, DER or a PKCS#7 bag with its chain) and finds its pending key in the vault,
/// for the destinations wanted (`p12`, `store`: at least one, else [`ReuniteError::NoDestination`] at once).
pub fn withdrawn(file: &Path, p12: bool, store: bool) -> Result<Withdrawn, ReuniteError> {
    if !p12 && !store {
        return Err(ReuniteError::NoDestination);
    }
    let certs = crate::cert::read_file(file)?;
    let vault = Vault::open()?;
    let (key, leaf) = find_pending(&vault, &certs)?;
    let chain = chain_for(&certs, leaf);
    Ok(Withdrawn { vault, key, chain })
}

impl Withdrawn {
    /// The certificate withdrawn.
    pub fn leaf(&self) -> &Certificate {
        &self.chain[0]
    }

    /// Writes and verifies every destination, then retires the pending key. A failure anywhere leaves the key in
    /// the vault. The one installation of a withdrawn certificate, for the window and the CLI alike.
    pub fn install(self, dest: Destinations<'_>) -> Result<Installed, ReuniteError> {
        if dest.p12.is_none() && dest.store.is_none() {
            return Err(ReuniteError::NoDestination);
        }
        let leaf = self.chain[0].clone();
        let mut destinations = Vec::new();
        if let Some(p) = dest.p12 {
            let cn = leaf.subject_cn.clone().unwrap_or_default();
            crate::password::check(crate::password::Policy::IgcSante, p.password, &[cn.as_str()])?;
            let written = write_p12_verified(p.out, &self.key, &self.chain, p.password, p.encryption, p.force)?;
            destinations.push(Done { kind: "p12", path: p.out.to_path_buf(), written });
        }
        let mut store_report = None;
        if let Some(store) = dest.store {
            // Installed all or nothing, then verified: the certificate must be found in the store with its key.
            let identity = crate::store::Identity {
                key_pkcs8: self.key.pkcs8_der.clone(),
                certificate: leaf.clone(),
                chain: self.chain[1..].to_vec(),
                friendly_name: None,
            };
            let report = store.install_identity(&identity)?;
            if !store.find(&leaf.sha256)?.is_some_and(|c| c.has_private_key) {
                return Err(crate::store::StoreError::NoPrivateKey {
                    sha256: leaf.sha256.clone(),
                    store: store.location(),
                }
                .into());
            }
            destinations.push(Done {
                kind: "store",
                path: PathBuf::from(store.location()),
                written: !report.already_present,
            });
            store_report = Some(report);
        }
        // Every destination asked for is verified: the key can leave the vault.
        self.vault.retire(&self.key.meta.id)?;
        Ok(Installed { id: self.key.meta.id.clone(), chain: self.chain, destinations, store_report })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::assert_german;

    #[test]
    fn german_messages() {
        let e = ReuniteError::NoMatch {
            certificates: vec![("CN=Jeanne".into(), "ab".repeat(32))],
            pending: vec![],
            damaged: 2,
        };
        assert_german(&e);
        assert_german(&ReuniteError::NoDestination);
        assert!(ReuniteError::NoDestination.message(Lang::De).contains("--p12-out DATEI.p12"));
        let de = e.message(Lang::De);
        assert!(de.contains("keine ausstehende Anforderung (2 beschädigte Anforderung(en)"), "{de}");
    }
}

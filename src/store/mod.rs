//! The operating system's certificate store, behind one trait.
//!
//! Health professionals install the `.p12` they received where their browser and software find it; agents look
//! for the certificates of this workstation that can serve as encryption bi-clés; the portal asks to install a
//! freshly generated key pair. All of that goes through [`CertStore`], whose backend is chosen at compile time:
//! `nss.rs` (Linux: the NSS shared database that Chromium and most applications use, or a Firefox profile),
//! `windows.rs` (CurrentUser "MY") and `macos.rs` (login keychain).
//!
//! Invariants every backend keeps:
//! - a PKCS#12 file is read and checked completely (password, structure, a private key with its certificate)
//!   before the store is touched, and an import either installs everything or leaves the store as it was;
//! - importing what is already there is reported (`already_present`), never duplicated;
//! - passwords never reach a command line.
//!
//! Size: the store trait, the certificate model every backend returns and the import rules all backends share;
//! about 50 lines are tests. Backends and shared operations live in their own files.

use serde::Serialize;
use std::path::PathBuf;
use zeroize::Zeroizing;

use crate::cert::Certificate;
use crate::i18n::{Coded, Lang};

#[cfg(target_os = "linux")]
mod nss;
#[cfg(target_os = "linux")]
use self::nss as platform;

#[cfg(windows)]
mod windows;
#[cfg(windows)]
use self::windows as platform;

#[cfg(target_os = "macos")]
mod macos;
#[cfg(target_os = "macos")]
use self::macos as platform;

mod ops;
#[cfg(target_os = "linux")]
pub use self::nss::{default_dir as nss_default_dir, firefox_profiles, FirefoxProfile};
pub use self::ops::*;

/// A certificate as the store holds it: the shared certificate model plus what the store knows about it.
#[derive(Debug, Clone, Serialize)]
pub struct StoredCertificate {
    #[serde(flatten)]
    pub certificate: Certificate,
    /// The store's name for it (NSS nickname, Windows friendly name, keychain label).
    pub nickname: Option<String>,
    /// Identifier linking the certificate to its private key (NSS/PKCS#11 `CKA_ID`), lowercase hex.
    pub key_id: Option<String>,
    /// `identity` (the store holds its private key), `ca` (an authority certificate) or `other`.
    pub role: &'static str,
    pub has_private_key: bool,
    /// The private key lives on a smartcard or token rather than in the store's software database.
    pub on_token: bool,
    /// Trusted as an authority for websites or e-mail (a CA installed with [`CertStore::import_ca`]).
    pub trusted: bool,
}

impl StoredCertificate {
    fn new(certificate: Certificate, nickname: Option<String>, key_id: Option<Vec<u8>>, has_key: bool) -> Self {
        let role = if has_key {
            "identity"
        } else if certificate.is_ca {
            "ca"
        } else {
            "other"
        };
        StoredCertificate {
            certificate,
            nickname,
            key_id: key_id.map(hex::encode),
            role,
            has_private_key: has_key,
            on_token: false,
            trusted: false,
        }
    }
}

/// A private key with its certificate and chain, ready to be installed (from a `.p12`, or freshly generated).
pub struct Identity {
    /// PKCS#8 `PrivateKeyInfo` DER of the key. Kept in memory only, zeroized on drop.
    pub key_pkcs8: Zeroizing<Vec<u8>>,
    /// The end-entity certificate matching the key.
    pub certificate: Certificate,
    /// Issuers (intermediate and root certificates), in any order.
    pub chain: Vec<Certificate>,
    /// Name to show in the store; the holder's name when absent.
    pub friendly_name: Option<String>,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("certificate", &self.certificate.sha256)
            .field("chain", &self.chain.len())
            .field("friendly_name", &self.friendly_name)
            .finish_non_exhaustive()
    }
}

impl Identity {
    /// The name to show in a store: the friendly name, else the holder's.
    fn name(&self) -> String {
        self.friendly_name.clone().unwrap_or_else(|| self.certificate.display_name())
    }

    /// This identity as a `.p12` (the certificate first, then its issuers) protected by `password`.
    fn to_pkcs12(&self, password: &str, encryption: ExportEncryption) -> Result<Vec<u8>, StoreError> {
        let mut chain = vec![self.certificate.clone()];
        chain.extend(self.chain.iter().cloned());
        Ok(crate::pkcs12::write(&crate::pkcs12::WriteRequest {
            key_pkcs8: &self.key_pkcs8,
            chain: &chain,
            friendly_name: &self.name(),
            password,
            encryption,
        })?)
    }

    /// Adds the issuers found in `pool`, from the certificate up to a self-signed root (ten at most), skipping those
    /// already in the chain: platform stores export a key with its certificate only.
    #[cfg(any(windows, target_os = "macos"))]
    fn complete_chain(&mut self, pool: &[Certificate]) {
        let mut current = self.certificate.clone();
        for _ in 0..10 {
            if current.subject == current.issuer {
                break;
            }
            let Some(issuer) =
                pool.iter().find(|c| c.subject == current.issuer && !self.chain.iter().any(|x| x.sha256 == c.sha256))
            else {
                break;
            };
            self.chain.push(issuer.clone());
            current = issuer.clone();
        }
    }
}

/// A random one-time password for handing a key to or from the platform's PKCS#12 functions.
#[cfg(any(windows, target_os = "macos"))]
fn transfer_password() -> Zeroizing<String> {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    Zeroizing::new((0..32).map(|_| rng.sample(rand::distributions::Alphanumeric) as char).collect())
}

/// One certificate (or key) that an import considered.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ImportedItem {
    /// `certificate`, `ca_certificate` or `private_key`.
    pub kind: &'static str,
    /// SHA-256 of the certificate (for a key: of its certificate).
    pub sha256: String,
    pub subject: String,
    pub nickname: Option<String>,
    /// Was already in the store: nothing was added for it.
    pub already_present: bool,
}

/// What an import did: every item considered, installed or already present.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ImportReport {
    /// Where it was installed (e.g. `nss:/home/u/.pki/nssdb`).
    pub store: String,
    /// SHA-256 of the end-entity certificate (the one with the key), or of the CA certificate.
    pub sha256: String,
    pub items: Vec<ImportedItem>,
    /// True when every item was already in the store: the import changed nothing.
    pub already_present: bool,
}

impl ImportReport {
    /// Number of items actually added.
    pub fn installed(&self) -> usize {
        self.items.iter().filter(|i| !i.already_present).count()
    }

    /// The report of an authority certificate's import into `store`; `present`: it was already there.
    fn authority(store: String, ca: &Certificate, nickname: Option<String>, present: bool) -> ImportReport {
        ImportReport {
            store,
            sha256: ca.sha256.clone(),
            items: vec![ImportedItem {
                kind: "ca_certificate",
                sha256: ca.sha256.clone(),
                subject: ca.subject.clone(),
                nickname,
                already_present: present,
            }],
            already_present: present,
        }
    }
}

/// How an exported `.p12` is protected: modern (AES-256, HMAC-SHA-256) by default, legacy (3DES, SHA-1) for older
/// macOS, Windows Server 2016 and some Android importers.
pub use crate::pkcs12::Encryption as ExportEncryption;

/// A PKCS#11 module registered in the store (NSS `pkcs11.txt`).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct RegisteredModule {
    pub name: String,
    pub library: PathBuf,
}

/// The store's operations. Object-safe: the app holds a `Box<dyn CertStore>` from [`open_default`].
pub trait CertStore: Send {
    /// Human-readable location (`nss:/home/u/.pki/nssdb`, `windows:CurrentUser\MY`, `macos:login`).
    fn location(&self) -> String;

    /// Loads what the store needs (e.g. NSS's software token) without changing anything, so that a later operation
    /// starts at once; callers may run it on a thread while they check their input. Never creates a store.
    fn prepare(&mut self) -> Result<(), StoreError> {
        Ok(())
    }

    /// Gives the store's own password (NSS: Firefox's primary password), for stores that have one; checked at
    /// once ([`StoreError::WrongStorePassword`]). Stores without a password ignore it.
    fn unlock(&mut self, _password: &str) -> Result<(), StoreError> {
        Ok(())
    }

    /// Every certificate of the store, with whether it has its private key.
    fn list(&mut self) -> Result<Vec<StoredCertificate>, StoreError>;

    /// The certificate with this SHA-256 fingerprint (hex, any case, colons allowed).
    fn find(&mut self, sha256: &str) -> Result<Option<StoredCertificate>, StoreError> {
        let wanted = normalize_fingerprint(sha256)?;
        Ok(self.list()?.into_iter().find(|c| c.certificate.sha256 == wanted))
    }

    /// Installs a key with its certificate and chain, all or nothing. What is already there is reported
    /// `already_present` and not added twice.
    fn install_identity(&mut self, identity: &Identity) -> Result<ImportReport, StoreError>;

    /// The private key (PKCS#8 DER) and chain of the certificate with this fingerprint, for export.
    fn extract_identity(&mut self, sha256: &str) -> Result<Identity, StoreError>;

    /// Removes the certificate with this fingerprint and its private key. Returns what was removed.
    fn remove(&mut self, sha256: &str) -> Result<StoredCertificate, StoreError>;

    /// Installs an authority certificate, trusted for websites, e-mail and client certificates.
    fn import_ca(&mut self, ca: &Certificate) -> Result<ImportReport, StoreError>;

    /// Decrypts `data` (an RSA-encrypted content key) with the private key of the certificate `sha256`, where the
    /// store keeps it. The default takes the key out of the store into this process (backends whose store can
    /// decrypt in place override it: NSS through softokn).
    fn decrypt(
        &mut self,
        sha256: &str,
        padding: crate::token::DecryptPadding,
        data: &[u8],
    ) -> Result<zeroize::Zeroizing<Vec<u8>>, StoreError> {
        let identity = self.extract_identity(sha256)?;
        software_decrypt(&identity.key_pkcs8, padding, data)
    }

    /// Registers a PKCS#11 module (a smartcard's library) so that applications using this store see the card's
    /// certificates. Stores that find card certificates by themselves (Windows, macOS) answer
    /// [`StoreError::Unsupported`].
    fn register_module(&mut self, _name: &str, _library: &std::path::Path) -> Result<RegisteredModule, StoreError> {
        Err(StoreError::Unsupported { what: "register-module" })
    }

    /// Removes a module registered with [`CertStore::register_module`]; `Ok(false)` if it was not registered.
    fn unregister_module(&mut self, _name: &str) -> Result<bool, StoreError> {
        Err(StoreError::Unsupported { what: "register-module" })
    }

    /// The PKCS#11 modules registered in the store (empty where the platform has no such notion).
    fn modules(&mut self) -> Result<Vec<RegisteredModule>, StoreError> {
        Ok(Vec::new())
    }
}

/// The user's default store: NSS shared database (`TROUSSEAU_NSSDB`, else `~/.pki/nssdb`, created if absent)
/// on Linux, CurrentUser "MY" on Windows, the login keychain on macOS.
/// RSA decryption with a key held in memory (PKCS#8), for stores that cannot decrypt in place.
#[cfg(feature = "software-keys")]
pub fn software_decrypt(
    key_pkcs8: &[u8],
    padding: crate::token::DecryptPadding,
    data: &[u8],
) -> Result<zeroize::Zeroizing<Vec<u8>>, StoreError> {
    use crate::token::DecryptPadding;
    use aws_lc_rs::rsa::{
        OaepPrivateDecryptingKey, Pkcs1PrivateDecryptingKey, PrivateDecryptingKey, OAEP_SHA1_MGF1SHA1,
        OAEP_SHA256_MGF1SHA256,
    };
    let failed =
        || StoreError::Decrypt { detail: "the key does not open this content (wrong key or damaged data)".into() };
    let key = PrivateDecryptingKey::from_pkcs8(key_pkcs8).map_err(|e| StoreError::Decrypt { detail: e.to_string() })?;
    let mut out = zeroize::Zeroizing::new(vec![0u8; key.key_size_bytes()]);
    let n = match padding {
        DecryptPadding::Pkcs1v15 => {
            let k = Pkcs1PrivateDecryptingKey::new(key).map_err(|_| failed())?;
            k.decrypt(data, &mut out).map_err(|_| failed())?.len()
        }
        DecryptPadding::OaepSha1 | DecryptPadding::OaepSha256 => {
            let alg = if padding == DecryptPadding::OaepSha1 { &OAEP_SHA1_MGF1SHA1 } else { &OAEP_SHA256_MGF1SHA256 };
            let k = OaepPrivateDecryptingKey::new(key).map_err(|_| failed())?;
            k.decrypt(alg, data, &mut out, None).map_err(|_| failed())?.len()
        }
    };
    out.truncate(n);
    Ok(out)
}

/// Without software keys there is no RSA implementation in this build.
#[cfg(not(feature = "software-keys"))]
pub fn software_decrypt(
    _key_pkcs8: &[u8],
    _padding: crate::token::DecryptPadding,
    _data: &[u8],
) -> Result<zeroize::Zeroizing<Vec<u8>>, StoreError> {
    Err(StoreError::Unsupported { what: "decrypt" })
}

pub fn open_default() -> Result<Box<dyn CertStore>, StoreError> {
    platform::open_default()
}

/// Linux only: the NSS database in `dir` (e.g. a Firefox profile), created if absent.
#[cfg(target_os = "linux")]
pub fn open_nss(dir: &std::path::Path) -> Result<Box<dyn CertStore>, StoreError> {
    Ok(Box::new(nss::NssStore::open(dir)?))
}

/// Reads and checks a `.p12` completely (password, structure, a private key with its certificate) without touching
/// any store: the first step of an all-or-nothing import.
pub fn identity_from_pkcs12(der: &[u8], password: &str) -> Result<Identity, StoreError> {
    let contents = crate::pkcs12::read(der, password)?;
    let (key, leaf) = contents.require_key_and_cert()?;
    let leaf_index = key.certificate.unwrap_or(0);
    Ok(Identity {
        key_pkcs8: key.pkcs8_der.clone(),
        certificate: leaf.clone(),
        chain: contents.chain_for(leaf_index).into_iter().cloned().collect(),
        friendly_name: key.friendly_name.clone().filter(|n| !n.trim().is_empty()),
    })
}

/// Imports a `.p12` into `store`, all or nothing: the file is read and checked completely first, then its key,
/// certificate and chain are installed; what was already there is reported, not duplicated.
pub fn import_pkcs12(store: &mut dyn CertStore, der: &[u8], password: &str) -> Result<ImportReport, StoreError> {
    let identity = identity_from_pkcs12(der, password)?;
    refuse_if_revoked(&identity)?;
    store.install_identity(&identity)
}

/// A revoked certificate is not installed: its authority is asked first when the file's chain (or the store) names
/// it; an unreachable authority does not stop the installation. Called before every `.p12` installation (CLI and
/// window alike).
pub fn refuse_if_revoked(identity: &Identity) -> Result<(), StoreError> {
    #[cfg(feature = "revocation")]
    if let Some(o) = crate::revocation::before_use(&identity.certificate, &identity.chain) {
        if o.status == crate::revocation::Status::Revoked {
            return Err(StoreError::Revoked {
                sha256: identity.certificate.sha256.clone(),
                revoked_at: o.revoked_at.map(|t| t.date()),
            });
        }
    }
    #[cfg(not(feature = "revocation"))]
    let _ = identity;
    Ok(())
}

/// Builds a `.p12` of the certificate with this fingerprint: its private key and chain, protected by `password`
/// (check it first with [`crate::password::check`]), read back before it is returned.
pub fn export_pkcs12(
    store: &mut dyn CertStore,
    sha256: &str,
    password: &str,
    encryption: ExportEncryption,
) -> Result<(Vec<u8>, usize), StoreError> {
    let identity = store.extract_identity(sha256)?;
    Ok((identity.to_pkcs12(password, encryption)?, identity.chain.len() + 1))
}

/// [`export_pkcs12`] into `out` through [`crate::fsutil`]: an existing file is left untouched unless `force`, a
/// failure never leaves a half-written file, the file is readable by its owner only. Returns the number of
/// certificates in the file.
pub fn export_pkcs12_file(
    store: &mut dyn CertStore,
    sha256: &str,
    password: &str,
    encryption: ExportEncryption,
    out: &std::path::Path,
    force: bool,
) -> Result<usize, StoreError> {
    let (bytes, count) = export_pkcs12(store, sha256, password, encryption)?;
    crate::fsutil::write(out, &bytes, crate::fsutil::Access::Private, force)?;
    Ok(count)
}

/// Certificates usable as encryption bi-clés: with their private key, key encipherment allowed, not expired.
pub fn encryption_capable(store: &mut dyn CertStore) -> Result<Vec<StoredCertificate>, StoreError> {
    let now = time::OffsetDateTime::now_utc();
    Ok(store
        .list()?
        .into_iter()
        .filter(|c| c.has_private_key && c.certificate.encryption_capable && c.certificate.not_after > now)
        .collect())
}

/// Lowercase hex without separators; refuses anything that is not 64 hex digits.
pub fn normalize_fingerprint(s: &str) -> Result<String, StoreError> {
    let clean: String = s.chars().filter(|c| !matches!(c, ':' | ' ' | '-')).collect::<String>().to_ascii_lowercase();
    if clean.len() == 64 && clean.chars().all(|c| c.is_ascii_hexdigit()) {
        Ok(clean)
    } else {
        Err(StoreError::BadFingerprint { given: s.chars().take(80).collect() })
    }
}

/// What was asked of the store when the operating system refused, named in the user's language in
/// [`StoreError::System`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreOperation {
    Open,
    Import,
    Export,
    Remove,
    TrustAuthority,
}

impl StoreOperation {
    /// The operation as a verb phrase ("installer le certificat et sa clé").
    pub fn name(self, lang: Lang) -> String {
        match self {
            StoreOperation::Open => lang.pick3("ouvrir le magasin", "open the store", "Speicher öffnen"),
            StoreOperation::Import => lang.pick3(
                "installer le certificat et sa clé",
                "install the certificate and its key",
                "Zertifikat und Schlüssel installieren",
            ),
            StoreOperation::Export => {
                lang.pick3("exporter la clé privée", "export the private key", "privaten Schlüssel exportieren")
            }
            StoreOperation::Remove => lang.pick3(
                "retirer le certificat et sa clé",
                "remove the certificate and its key",
                "Zertifikat und Schlüssel entfernen",
            ),
            StoreOperation::TrustAuthority => lang.pick3(
                "installer l'autorité de confiance",
                "install the trusted authority",
                "vertrauenswürdige Zertifizierungsstelle installieren",
            ),
        }
    }
}

/// Errors of the certificate store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("not a SHA-256 fingerprint: {given}")]
    BadFingerprint { given: String },
    #[error("no certificate with SHA-256 {sha256} in {store}")]
    NotFound { sha256: String, store: String },
    #[error("certificate {sha256} has no private key in {store}")]
    NoPrivateKey { sha256: String, store: String },
    #[error("the certificate store {store} is protected by a primary password")]
    Locked { store: String },
    #[error("wrong primary password for the certificate store {store}")]
    WrongStorePassword { store: String },
    #[error("cannot open the certificate store {store}: {detail}")]
    Open { store: String, detail: String },
    #[error("{operation} failed in {store}: {detail}")]
    Backend { operation: &'static str, store: String, detail: String },
    /// A call into the operating system failed: the function's name and the error code it reported (Windows: the
    /// HRESULT, `GetLastError` read right after the call), with the system's own text for it.
    #[error("{function} failed in {store} ({operation:?}): error 0x{code:08X} {system_message}")]
    System { operation: StoreOperation, function: &'static str, code: u32, system_message: String, store: String },
    #[error("the NSS tool {tool} is missing (package libnss3-tools)")]
    ToolMissing { tool: &'static str },
    #[error("module library {path} not found")]
    ModuleMissing { path: PathBuf },
    #[error("{what} is not available with this store")]
    Unsupported { what: &'static str },
    #[error("the private key of certificate {sha256} is marked non-exportable")]
    NotExportable { sha256: String },
    #[error("certificate {sha256} is on a smartcard")]
    OnToken { sha256: String },
    #[error("the certificate is not an authority certificate (CA)")]
    NotCa { sha256: String },
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    /// The certificate's authority says it is revoked: nothing was installed.
    #[error("certificate {sha256} is revoked")]
    Revoked { sha256: String, revoked_at: Option<time::Date> },
    /// The private key refused the data (another key's envelope, or damaged data).
    #[error("decryption with the stored key failed: {detail}")]
    Decrypt { detail: String },
    #[error(transparent)]
    Pkcs12(#[from] crate::pkcs12::Pkcs12Error),
    #[error(transparent)]
    Cert(#[from] crate::cert::CertError),
    #[error(transparent)]
    File(#[from] crate::fsutil::FileError),
    /// The password chosen for an export does not follow the policy or is too weak.
    #[error(transparent)]
    Password(#[from] crate::password::PasswordError),
}

impl Coded for StoreError {
    fn code(&self) -> &'static str {
        match self {
            StoreError::BadFingerprint { .. } => "store.bad_fingerprint",
            StoreError::NotFound { .. } => "store.not_found",
            StoreError::NoPrivateKey { .. } => "store.no_private_key",
            StoreError::Locked { .. } => "store.locked",
            StoreError::WrongStorePassword { .. } => "store.wrong_password",
            StoreError::Open { .. } => "store.open",
            StoreError::Backend { .. } => "store.backend",
            StoreError::System { .. } => "store.system",
            StoreError::ToolMissing { .. } => "store.tool_missing",
            StoreError::ModuleMissing { .. } => "store.module_missing",
            StoreError::Unsupported { .. } => "store.unsupported",
            StoreError::NotExportable { .. } => "store.not_exportable",
            StoreError::OnToken { .. } => "store.on_token",
            StoreError::NotCa { .. } => "store.not_ca",
            StoreError::Io { .. } => "store.io",
            StoreError::Decrypt { .. } => "store.decrypt",
            StoreError::Revoked { .. } => "store.revoked",
            StoreError::Pkcs12(e) => e.code(),
            StoreError::Cert(e) => e.code(),
            StoreError::File(e) => e.code(),
            StoreError::Password(e) => e.code(),
        }
    }

    fn message(&self, lang: Lang) -> String {
        match self {
            StoreError::BadFingerprint { given } => lang.pick3(
                format!("« {given} » n'est pas une empreinte SHA-256 (64 chiffres hexadécimaux). Copiez-la depuis « trousseau store list »."),
                format!("\"{given}\" is not a SHA-256 fingerprint (64 hex digits). Copy it from \"trousseau store list\"."),
                format!("„{given}“ ist kein SHA-256-Fingerabdruck (64 Hexadezimalziffern). Kopieren Sie ihn aus „trousseau store list“."),
            ),
            StoreError::NotFound { sha256, store } => lang.pick3(
                format!("Aucun certificat d'empreinte {sha256} dans le magasin {store}. Vérifiez l'empreinte avec « trousseau store list »."),
                format!("No certificate with fingerprint {sha256} in the store {store}. Check it with \"trousseau store list\"."),
                format!("Kein Zertifikat mit dem Fingerabdruck {sha256} im Zertifikatsspeicher {store}. Prüfen Sie den Fingerabdruck mit „trousseau store list“."),
            ),
            StoreError::NoPrivateKey { sha256, store } => lang.pick3(
                format!("Le certificat {sha256} n'a pas sa clé privée dans le magasin {store} : il ne peut pas être exporté en .p12. Exportez-le depuis l'ordinateur ou la carte qui détient la clé."),
                format!("The certificate {sha256} has no private key in the store {store}, so it cannot be exported as a .p12. Export it from the computer or card that holds the key."),
                format!("Der private Schlüssel des Zertifikats {sha256} liegt nicht im Zertifikatsspeicher {store}: Es kann nicht als .p12 exportiert werden. Exportieren Sie es von dem Computer oder der Karte, die den Schlüssel enthält."),
            ),
            StoreError::Locked { store } => lang.pick3(
                format!("Le magasin de certificats {store} est protégé par un mot de passe principal : donnez-le (option --store-password-env VARIABLE en ligne de commande) ; rien n'a été modifié."),
                format!("The certificate store {store} is protected by a primary password: give it (option --store-password-env VARIABLE on the command line); nothing was changed."),
                format!("Der Zertifikatsspeicher {store} ist durch ein Hauptpasswort geschützt: Geben Sie es an (Option --store-password-env VARIABLE in der Befehlszeile); es wurde nichts geändert."),
            ),
            StoreError::WrongStorePassword { store } => lang.pick3(
                format!("Mot de passe principal incorrect pour le magasin de certificats {store} : c'est celui que demande Firefox au démarrage ou pour voir les mots de passe enregistrés. Réessayez ; rien n'a été modifié."),
                format!("Wrong primary password for the certificate store {store}: it is the one Firefox asks for at start-up or to show saved passwords. Try again; nothing was changed."),
                format!("Falsches Hauptpasswort für den Zertifikatsspeicher {store}: Es ist das Passwort, das Firefox beim Start oder zum Anzeigen gespeicherter Passwörter abfragt. Versuchen Sie es erneut; es wurde nichts geändert."),
            ),
            StoreError::Open { store, detail } => lang.pick3(
                format!("Impossible d'ouvrir le magasin de certificats {store} ({detail}). Fermez les navigateurs qui l'utilisent et réessayez ; vérifiez les droits du dossier."),
                format!("Cannot open the certificate store {store} ({detail}). Close the browsers using it and try again; check the folder's permissions."),
                format!("Der Zertifikatsspeicher {store} kann nicht geöffnet werden ({detail}). Schließen Sie die Browser, die ihn verwenden, und versuchen Sie es erneut; prüfen Sie die Rechte des Ordners."),
            ),
            StoreError::Backend { operation, store, detail } => lang.pick3(
                format!("Le magasin de certificats {store} a refusé l'opération « {operation} » ({detail}). Rien n'a été laissé à moitié fait ; réessayez, puis contactez votre support avec ce message."),
                format!("The certificate store {store} refused the operation \"{operation}\" ({detail}). Nothing was left half done; try again, then contact your support with this message."),
                format!("Der Zertifikatsspeicher {store} hat den Vorgang „{operation}“ abgelehnt ({detail}). Nichts wurde halb erledigt zurückgelassen; versuchen Sie es erneut und wenden Sie sich dann mit dieser Meldung an Ihren Support."),
            ),
            StoreError::System { operation, function, code, system_message, store } => {
                let op = operation.name(lang);
                // The system's own text in parentheses; "no reason" when the call failed without an error code.
                let why = if *code == 0 {
                    format!(
                        " ({})",
                        lang.pick3(
                            "le système n'a donné aucune raison",
                            "the system gave no reason",
                            "das System hat keinen Grund angegeben",
                        )
                    )
                } else if system_message.trim().is_empty() {
                    String::new()
                } else {
                    format!(" ({})", system_message.trim())
                };
                lang.pick3(
                    format!("Le magasin de certificats {store} a refusé l'opération « {op} » : la fonction {function} a renvoyé l'erreur 0x{code:08X}{why}. Rien n'a été laissé à moitié fait ; réessayez, puis contactez votre support avec ce message."),
                    format!("The certificate store {store} refused to {op}: the function {function} returned error 0x{code:08X}{why}. Nothing was left half done; try again, then contact your support with this message."),
                    format!("Der Zertifikatsspeicher {store} hat den Vorgang „{op}“ abgelehnt: Die Funktion {function} hat den Fehler 0x{code:08X} gemeldet{why}. Nichts wurde halb erledigt zurückgelassen; versuchen Sie es erneut und wenden Sie sich dann mit dieser Meldung an Ihren Support."),
                )
            }
            StoreError::ToolMissing { tool } => lang.pick3(
                format!("L'outil NSS « {tool} » est absent : installez le paquet libnss3-tools (sudo apt install libnss3-tools) puis réessayez."),
                format!("The NSS tool \"{tool}\" is missing: install the libnss3-tools package (sudo apt install libnss3-tools) and try again."),
                format!("Das NSS-Programm „{tool}“ fehlt: Installieren Sie das Paket libnss3-tools (sudo apt install libnss3-tools) und versuchen Sie es dann erneut."),
            ),
            StoreError::ModuleMissing { path } => lang.pick3(
                format!("La bibliothèque PKCS#11 {} est introuvable : installez le logiciel de votre carte (middleware) ou indiquez son chemin avec --module.", path.display()),
                format!("The PKCS#11 library {} was not found: install your card's software (middleware) or give its path with --module.", path.display()),
                format!("Die PKCS#11-Bibliothek {} wurde nicht gefunden: Installieren Sie die Software Ihrer Karte (Middleware) oder geben Sie ihren Pfad mit --module an.", path.display()),
            ),
            StoreError::Unsupported { what } => lang.pick3(
                format!("« {what} » n'est pas nécessaire ni disponible avec le magasin de certificats de ce système."),
                format!("\"{what}\" is neither needed nor available with this system's certificate store."),
                format!("„{what}“ ist beim Zertifikatsspeicher dieses Systems weder nötig noch verfügbar."),
            ),
            StoreError::NotExportable { sha256 } => lang.pick3(
                format!("La clé privée du certificat {sha256} a été installée comme non exportable : elle ne peut pas être copiée dans un fichier .p12. Utilisez le fichier .p12 d'origine ou demandez un nouveau certificat."),
                format!("The private key of certificate {sha256} was installed as non-exportable: it cannot be copied into a .p12 file. Use the original .p12 file or request a new certificate."),
                format!("Der private Schlüssel des Zertifikats {sha256} wurde als nicht exportierbar installiert: Er kann nicht in eine .p12-Datei kopiert werden. Verwenden Sie die ursprüngliche .p12-Datei oder beantragen Sie ein neues Zertifikat."),
            ),
            StoreError::OnToken { sha256 } => lang.pick3(
                format!("Le certificat {sha256} est sur une carte à puce : sa clé privée ne quitte jamais la carte (pas d'export .p12) et il ne peut pas être retiré d'ici. Pour ne plus le voir, retirez le module de la carte (« trousseau store register-module --remove »)."),
                format!("The certificate {sha256} is on a smartcard: its private key never leaves the card (no .p12 export) and it cannot be removed from here. To stop seeing it, unregister the card's module (\"trousseau store register-module --remove\")."),
                format!("Das Zertifikat {sha256} liegt auf einer Chipkarte: Sein privater Schlüssel verlässt die Karte nie (kein .p12-Export) und es kann hier nicht entfernt werden. Um es nicht mehr zu sehen, melden Sie das Modul der Karte ab („trousseau store register-module --remove“)."),
            ),
            StoreError::NotCa { sha256 } => lang.pick3(
                format!("Ce fichier ne contient aucun certificat d'autorité (AC) (certificat {sha256}) : il ne peut pas être installé comme autorité de confiance. Demandez à votre fournisseur le certificat de l'AC, souvent nommé « AC racine » ou « chaîne » ; un certificat personnel s'installe avec son fichier .p12."),
                format!("This file holds no certificate authority (CA) certificate (certificate {sha256}): it cannot be installed as a trusted authority. Ask your provider for the CA certificate, often called “root CA” or “chain”; a personal certificate is installed with its .p12 file."),
                format!("Diese Datei enthält kein Zertifikat einer Zertifizierungsstelle (CA) (Zertifikat {sha256}): Es kann nicht als vertrauenswürdige Zertifizierungsstelle installiert werden. Fordern Sie bei Ihrem Anbieter das CA-Zertifikat an, oft „Stamm-CA“ oder „Zertifikatskette“ genannt; ein persönliches Zertifikat wird mit seiner .p12-Datei installiert."),
            ),
            StoreError::Io { path, source } => lang.pick3(
                format!("Lecture ou écriture impossible : {} ({source}). Vérifiez le chemin et les droits.", path.display()),
                format!("Cannot read or write {} ({source}). Check the path and permissions.", path.display()),
                format!("Lesen oder Schreiben nicht möglich: {} ({source}). Prüfen Sie den Pfad und die Rechte.", path.display()),
            ),
            StoreError::Revoked { revoked_at, .. } => {
                let d = revoked_at.map(|d| lang.date(d));
                let on = |prefix: &str| d.as_ref().map(|d| format!(" {prefix} {d}")).unwrap_or_default();
                lang.pick3(
                    format!("Ce certificat a été révoqué par son autorité{} : il n'a pas été installé. Demandez un nouveau certificat.", on("le")),
                    format!("This certificate was revoked by its authority{}: it was not installed. Ask for a new certificate.", on("on")),
                    format!("Dieses Zertifikat wurde{} von seiner Zertifizierungsstelle widerrufen: Es wurde nicht installiert. Beantragen Sie ein neues Zertifikat.", on("am")),
                )
            }
            StoreError::Decrypt { detail } => lang.pick3(
                format!("La clé privée du magasin n'a pas pu ouvrir ce contenu ({detail}) : il est destiné à une autre clé, ou il est endommagé. Demandez un nouvel envoi si besoin."),
                format!("The store's private key could not open this content ({detail}): it is meant for another key, or it is damaged. Ask for it to be sent again if needed."),
                format!("Der private Schlüssel des Zertifikatsspeichers konnte diesen Inhalt nicht öffnen ({detail}): Er ist für einen anderen Schlüssel bestimmt oder beschädigt. Lassen Sie ihn bei Bedarf erneut senden."),
            ),
            StoreError::Pkcs12(e) => e.message(lang),
            StoreError::Cert(e) => e.message(lang),
            StoreError::File(e) => e.message(lang),
            StoreError::Password(e) => e.message(lang),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::assert_german;

    #[test]
    fn german_messages() {
        let wrong = StoreError::WrongStorePassword { store: "NSS".into() };
        assert_german(&wrong);
        assert!(wrong.message(Lang::De).starts_with("Falsches Hauptpasswort für den Zertifikatsspeicher NSS"));
        assert_german(&StoreError::Locked { store: "NSS".into() });
        assert_german(&StoreError::ModuleMissing { path: PathBuf::from("/usr/lib/x.so") });
        assert_german(&StoreError::OnToken { sha256: "ab".repeat(32) });
        assert_german(&StoreError::System {
            operation: StoreOperation::Import,
            function: "PFXImportCertStore",
            code: 0,
            system_message: String::new(),
            store: "windows:CurrentUser\\MY".into(),
        });
    }

    /// Regression (issue 12): a Windows call that failed without a reason was shown as "Success. (0x00000000)".
    #[test]
    fn a_system_error_names_the_function_and_code_and_never_says_success() {
        let e = StoreError::System {
            operation: StoreOperation::Import,
            function: "PFXImportCertStore",
            code: 0,
            system_message: "The operation completed successfully.".into(),
            store: "windows:CurrentUser\\MY".into(),
        };
        for lang in [Lang::Fr, Lang::En, Lang::De] {
            let m = e.message(lang);
            assert!(m.contains("PFXImportCertStore") && m.contains("0x00000000"), "{m}");
            assert!(!m.to_lowercase().contains("success"), "{m}");
        }
        assert_eq!(e.code(), "store.system");
        let denied = StoreError::System {
            operation: StoreOperation::Remove,
            function: "NCryptDeleteKey",
            code: 0x8009_0010,
            system_message: "Accès refusé.".into(),
            store: "windows:CurrentUser\\MY".into(),
        };
        assert!(denied.message(Lang::Fr).contains("0x80090010 (Accès refusé.)"), "{}", denied.message(Lang::Fr));
    }
}

//! Pending private keys awaiting their certificate: encrypted at rest, atomic, never lost.
//!
//! When a user requests a certificate with a locally generated CSR (IGC-Santé "uploaded CSR" mode), the private
//! key must wait on this computer — days, sometimes — until the certificate comes back and is reunited with it
//! (`cert install`). Losing that key means requesting, paying for and validating a new certificate, so the vault
//! follows a few strict rules:
//!
//! - **one file per pending key** (`<data dir>/vault/<id>.pending`), written to a temporary file, `fsync`ed,
//!   renamed into place and the directory `fsync`ed: after a crash (or `kill -9`) an entry is either complete or
//!   absent, never half-written;
//! - the entry is written **before** the CSR leaves the process, and retired only once every destination the user
//!   asked for is verified (see [`Vault::retire`]);
//! - the private key is **encrypted** with AES-256-GCM; the entry's public metadata (subject, dates, CSR) is
//!   authenticated with it, so tampering with either is detected and the entry is reported, never used;
//! - the 256-bit vault key lives in the OS keyring ([`crate::secrets`]); it is created once, under a lock file,
//!   and a missing key while entries exist is an error, never a silent regeneration (which would make every
//!   existing entry unreadable). `key.json` beside the entries names the keyring account and holds a check value,
//!   so a wrong key is told apart from a damaged entry.
//!
//! Size: ~560 lines of code; the rest are its tests (crash-safety and key-loss cases).

use crate::asn1::rfc4514;
use crate::fsutil::{self, Access};
use crate::i18n::{Coded, Lang};
use crate::paths::PathsError;
use crate::secrets::{self, SecretsError};
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use std::fs::{self, OpenOptions};
use std::path::{Path, PathBuf};
use time::OffsetDateTime;
use zeroize::Zeroizing;

const ENTRY_EXT: &str = "pending";
const ENTRY_FORMAT: &str = "trousseau-vault-entry";
const KEY_FILE: &str = "key.json";
const LOCK_FILE: &str = "vault.lock";
const CHECK_PLAINTEXT: &[u8] = b"trousseau vault key check v1";
const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Public facts about a pending request (stored in clear, authenticated by the vault key).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PendingMeta {
    /// Short identifier (12 lowercase hex digits).
    pub id: String,
    /// `igc-sante` or `generic`.
    pub profile: String,
    /// IGC-Santé offer (`PS`, `PRO`, `ORG`, `SERV`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offer: Option<String>,
    /// IGC-Santé usage (`AUTH`, `SIGN`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<String>,
    /// RFC 4514 subject of the request.
    pub subject: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
    /// Last day to withdraw the certificate (IGC-Santé: created + 10 days).
    #[serde(default, with = "time::serde::rfc3339::option", skip_serializing_if = "Option::is_none")]
    pub deadline: Option<OffsetDateTime>,
    /// Where the CSR was written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub csr_path: Option<PathBuf>,
    /// The CSR itself (PEM), so it can be written again if the file is lost.
    pub csr_pem: String,
    /// DER SubjectPublicKeyInfo of the key (base64 in the file): matched against returned certificates.
    #[serde(with = "b64")]
    pub spki_der: Vec<u8>,
    /// `rsa-2048`.
    pub key_algorithm: String,
}

impl PendingMeta {
    /// Days left before the withdrawal deadline, rounded up (0 or negative once past), if there is one.
    pub fn days_left(&self, now: OffsetDateTime) -> Option<i64> {
        // Rounded up: a deadline 9 days and 23 hours away reads "10 days left".
        self.deadline.map(|d| {
            let secs = (d - now).whole_seconds();
            secs.div_euclid(86_400) + i64::from(secs.rem_euclid(86_400) != 0)
        })
    }

    /// The holder as people know them: given name and surname when the subject has both (IGC-Santé, whose CN is a
    /// national id), else the common name, else the whole subject. Never a raw DN first when a name exists.
    pub fn holder(&self) -> String {
        let attr = |name: &str| rfc4514::attribute(&self.subject, name);
        match (attr("GN").or_else(|| attr("givenName")), attr("SN").or_else(|| attr("surname"))) {
            (Some(g), Some(s)) => format!("{g} {s}"),
            _ => attr("CN").unwrap_or_else(|| self.subject.clone()),
        }
    }
}

mod b64 {
    use base64::Engine as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::B64.encode(v))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        super::B64.decode(s.as_bytes()).map_err(serde::de::Error::custom)
    }
}

/// A pending entry with its decrypted private key.
pub struct PendingKey {
    pub meta: PendingMeta,
    /// PKCS#8 DER of the private key.
    pub pkcs8_der: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for PendingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingKey").field("meta", &self.meta).field("pkcs8_der", &"<secret>").finish()
    }
}

/// One file of the vault as listed: usable, or damaged (reported, never used).
#[derive(Debug, Clone)]
pub enum Listed {
    Ok(PendingMeta),
    Damaged { file: PathBuf, reason: String },
}

/// Errors of the pending-key vault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VaultError {
    #[error(transparent)]
    Paths(#[from] PathsError),
    #[error(transparent)]
    Secrets(#[from] SecretsError),
    /// `operation` is the French verb (`lire`, `écrire`…); messages translate it.
    #[error("vault I/O error ({operation} {path}): {source}")]
    Io { operation: &'static str, path: PathBuf, source: std::io::Error },
    #[error("vault key missing from the keyring ({account}) while {entries} pending key(s) exist")]
    KeyMissing { account: String, entries: usize },
    #[error("vault key in the keyring ({account}) does not open this vault")]
    KeyMismatch { account: String },
    #[error("vault entry {} is damaged: {reason}", file.display())]
    Damaged { file: PathBuf, reason: String },
    #[error("no pending key with id {id}")]
    NotFound { id: String },
}

impl Coded for VaultError {
    fn code(&self) -> &'static str {
        match self {
            VaultError::Paths(e) => e.code(),
            VaultError::Secrets(e) => e.code(),
            VaultError::Io { .. } => "vault.io",
            VaultError::KeyMissing { .. } => "vault.key_missing",
            VaultError::KeyMismatch { .. } => "vault.key_mismatch",
            VaultError::Damaged { .. } => "vault.damaged",
            VaultError::NotFound { .. } => "vault.not_found",
        }
    }

    fn message(&self, lang: Lang) -> String {
        match self {
            VaultError::Paths(e) => e.message(lang),
            VaultError::Secrets(e) => e.message(lang),
            VaultError::Io { operation, path, source } => lang.pick3(
                format!("Le coffre des clés en attente n'a pas pu {operation} {} ({source}). Vérifiez l'espace disque et les droits du dossier ; rien n'a été perdu.", path.display()),
                format!("The pending-key vault could not {} {} ({source}). Check disk space and folder permissions; nothing was lost.", operation_en(operation), path.display()),
                format!("Der Tresor der ausstehenden Schlüssel konnte {} nicht {} ({source}). Prüfen Sie den Speicherplatz und die Rechte des Ordners; es ging nichts verloren.", path.display(), operation_de(operation)),
            ),
            VaultError::KeyMissing { account, entries } => lang.pick3(
                format!("La clé du coffre ({account}) a disparu du trousseau de clés système alors que {entries} clé(s) privée(s) attendent leur certificat. Trousseau n'en crée pas de nouvelle, ce qui rendrait ces clés illisibles : restaurez le trousseau de clés de votre session (ou sa sauvegarde), ou contactez votre support."),
                format!("The vault key ({account}) is missing from the system keyring while {entries} private key(s) await their certificate. Trousseau does not create a new one, which would make those keys unreadable: restore your session keyring (or its backup), or contact your support."),
                format!("Der Schlüssel des Tresors ({account}) fehlt im Schlüsselbund des Systems, während {entries} private(r) Schlüssel auf ihr Zertifikat warten. Trousseau erstellt keinen neuen, denn dadurch würden diese Schlüssel unlesbar: Stellen Sie den Schlüsselbund Ihrer Sitzung (oder seine Sicherung) wieder her oder wenden Sie sich an Ihren Support."),
            ),
            VaultError::KeyMismatch { account } => lang.pick3(
                format!("La clé du coffre trouvée dans le trousseau de clés système ({account}) n'ouvre pas ce coffre : le trousseau a été remplacé. Restaurez le trousseau de clés d'origine ; aucune clé en attente n'a été modifiée."),
                format!("The vault key found in the system keyring ({account}) does not open this vault: the keyring was replaced. Restore the original keyring; no pending key was changed."),
                format!("Der im Schlüsselbund des Systems gefundene Schlüssel des Tresors ({account}) öffnet diesen Tresor nicht: Der Schlüsselbund wurde ersetzt. Stellen Sie den ursprünglichen Schlüsselbund wieder her; kein ausstehender Schlüssel wurde geändert."),
            ),
            VaultError::Damaged { file, reason } => lang.pick3(
                format!("La clé en attente {} est endommagée ou a été modifiée ({reason}) : elle n'est pas utilisée. Gardez le fichier pour votre support ; si le certificat n'a pas encore été émis, refaites une demande.", file.display()),
                format!("The pending key {} is damaged or was modified ({reason}): it is not used. Keep the file for your support; if the certificate was not issued yet, make a new request.", file.display()),
                format!("Der ausstehende Schlüssel {} ist beschädigt oder wurde verändert ({reason}): Er wird nicht verwendet. Bewahren Sie die Datei für Ihren Support auf; falls das Zertifikat noch nicht ausgestellt wurde, stellen Sie eine neue Anforderung.", file.display()),
            ),
            VaultError::NotFound { id } => lang.pick3(
                format!("Aucune demande en attente ne porte l'identifiant {id} : voyez `trousseau pending list`."),
                format!("No pending request has the id {id}: see `trousseau pending list`."),
                format!("Keine ausstehende Anforderung hat die Kennung {id}: Siehe `trousseau pending list`."),
            ),
        }
    }
}

/// The English verb for an operation named in French in [`VaultError::Io`].
fn operation_en(op: &str) -> &str {
    match op {
        "lire" => "read",
        "écrire" => "write",
        "créer" => "create",
        "protéger" => "protect",
        "ouvrir" => "open",
        "verrouiller" => "lock",
        "supprimer" => "delete",
        "synchroniser" => "sync",
        other => other,
    }
}

fn operation_de(op: &str) -> &str {
    match op {
        "lire" => "lesen",
        "écrire" => "schreiben",
        "créer" => "erstellen",
        "protéger" => "schützen",
        "ouvrir" => "öffnen",
        "verrouiller" => "sperren",
        "supprimer" => "löschen",
        "synchroniser" => "synchronisieren",
        other => other,
    }
}

fn io<'a>(operation: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> VaultError + 'a {
    move |source| VaultError::Io { operation, path: path.to_path_buf(), source }
}

#[derive(Serialize, Deserialize)]
struct KeyFile {
    version: u32,
    account: String,
    /// base64(nonce ‖ AES-GCM(check plaintext)).
    check: String,
}

#[derive(Serialize, Deserialize)]
struct EntryFile {
    format: String,
    version: u32,
    /// The metadata exactly as authenticated (JSON text of [`PendingMeta`]).
    meta: String,
    nonce: String,
    ciphertext: String,
}

/// The pending-key vault of one data directory, opened with its key.
pub struct Vault {
    dir: PathBuf,
    account: String,
    key: Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault").field("dir", &self.dir).field("account", &self.account).finish_non_exhaustive()
    }
}

/// The vault directory of the current user (`<data dir>/vault`).
pub fn default_dir() -> Result<PathBuf, VaultError> {
    Ok(crate::paths::data_dir()?.join("vault"))
}

/// A fresh entry identifier (12 lowercase hex digits).
pub fn new_id() -> String {
    let mut b = [0u8; 6];
    rand::thread_rng().fill_bytes(&mut b);
    hex::encode(b)
}

fn cipher(key: &[u8; 32]) -> Aes256Gcm {
    Aes256Gcm::new(key.into())
}

fn seal(key: &[u8; 32], plaintext: &[u8], aad: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let mut nonce = [0u8; 12];
    rand::thread_rng().fill_bytes(&mut nonce);
    // Encryption with a 96-bit nonce and in-memory buffers only fails for inputs over 64 GiB.
    let ct = cipher(key).encrypt(Nonce::from_slice(&nonce), Payload { msg: plaintext, aad }).unwrap_or_default();
    (nonce.to_vec(), ct)
}

fn open_sealed(key: &[u8; 32], nonce: &[u8], ct: &[u8], aad: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    if nonce.len() != 12 {
        return None;
    }
    cipher(key).decrypt(Nonce::from_slice(nonce), Payload { msg: ct, aad }).ok().map(Zeroizing::new)
}

fn entry_aad(meta_json: &str) -> Vec<u8> {
    let mut aad = b"trousseau-vault-entry-v1\0".to_vec();
    aad.extend_from_slice(meta_json.as_bytes());
    aad
}

fn entry_files(dir: &Path) -> Result<Vec<PathBuf>, VaultError> {
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(VaultError::Io { operation: "lire", path: dir.to_path_buf(), source: e }),
    };
    let mut out = Vec::new();
    for ent in rd {
        let ent = ent.map_err(io("lire", dir))?;
        let p = ent.path();
        let name = ent.file_name();
        let name = name.to_string_lossy();
        if !name.starts_with('.') && p.extension().is_some_and(|e| e == ENTRY_EXT) {
            out.push(p);
        }
    }
    out.sort();
    Ok(out)
}

fn remove_stale_temporaries(dir: &Path) {
    let Ok(rd) = fs::read_dir(dir) else { return };
    for ent in rd.flatten() {
        if !ent.file_name().to_string_lossy().starts_with(".tmp-") {
            continue;
        }
        let old = ent
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age.as_secs() > 3600);
        if old {
            let _ = fs::remove_file(ent.path());
        }
    }
}

fn create_dir_private(dir: &Path) -> Result<(), VaultError> {
    fs::create_dir_all(dir).map_err(io("créer", dir))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(io("protéger", dir))?;
    }
    Ok(())
}

impl Vault {
    /// Opens the current user's vault, creating it and its key in the OS keyring on first use.
    pub fn open() -> Result<Vault, VaultError> {
        Vault::open_at(&default_dir()?)
    }

    /// Opens (or creates) the vault in `dir`, getting its key from the OS keyring (created under the vault's lock
    /// file when neither the key nor any entry exists yet).
    pub fn open_at(dir: &Path) -> Result<Vault, VaultError> {
        create_dir_private(dir)?;
        let lock_path = dir.join(LOCK_FILE);
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io("ouvrir", &lock_path))?;
        fs4::fs_std::FileExt::lock_exclusive(&lock).map_err(io("verrouiller", &lock_path))?;
        let result = Vault::open_locked(dir);
        let _ = fs4::fs_std::FileExt::unlock(&lock);
        result
    }

    fn open_locked(dir: &Path) -> Result<Vault, VaultError> {
        remove_stale_temporaries(dir);
        let key_path = dir.join(KEY_FILE);
        let entries = entry_files(dir)?.len();
        let key_file = match fs::read(&key_path) {
            Ok(bytes) => match serde_json::from_slice::<KeyFile>(&bytes) {
                Ok(k) => Some(k),
                Err(e) if entries > 0 => {
                    return Err(VaultError::Damaged { file: key_path, reason: format!("key.json: {e}") })
                }
                Err(_) => None,
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(VaultError::Io { operation: "lire", path: key_path, source: e }),
        };
        if let Some(kf) = key_file {
            match secrets::get(&kf.account)? {
                Some(raw) => {
                    let key = to_key(&raw).ok_or_else(|| VaultError::KeyMismatch { account: kf.account.clone() })?;
                    let check = B64.decode(kf.check.as_bytes()).unwrap_or_default();
                    let ok = check.len() > 12
                        && open_sealed(&key, &check[..12], &check[12..], kf.account.as_bytes())
                            .is_some_and(|p| p.as_slice() == CHECK_PLAINTEXT);
                    if !ok {
                        return Err(VaultError::KeyMismatch { account: kf.account });
                    }
                    return Ok(Vault { dir: dir.to_path_buf(), account: kf.account, key });
                }
                None if entries > 0 => return Err(VaultError::KeyMissing { account: kf.account, entries }),
                None => {} // No entry depends on the lost key: start afresh below.
            }
        } else if entries > 0 {
            return Err(VaultError::KeyMissing { account: "key.json".to_string(), entries });
        }
        // Create: key in the keyring first, then key.json naming it.
        let account = format!("vault-key-{}", new_id());
        let mut key = Zeroizing::new([0u8; 32]);
        rand::thread_rng().fill_bytes(key.as_mut());
        secrets::set(&account, key.as_ref())?;
        let (nonce, ct) = seal(&key, CHECK_PLAINTEXT, account.as_bytes());
        let check = B64.encode([nonce, ct].concat());
        let kf = KeyFile { version: 1, account: account.clone(), check };
        let json = serde_json::to_vec_pretty(&kf).map_err(|e| io("écrire", &key_path)(std::io::Error::other(e)))?;
        fsutil::write_atomic(&key_path, &json, Access::Private).map_err(|e| io("écrire", &key_path)(e.into()))?;
        Ok(Vault { dir: dir.to_path_buf(), account, key })
    }

    /// The vault's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The keyring account (under service [`secrets::SERVICE`]) holding this vault's key.
    pub fn keyring_account(&self) -> &str {
        &self.account
    }

    fn entry_path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.{ENTRY_EXT}"))
    }

    /// Stores a pending private key (PKCS#8 DER) with its metadata, durably (the call returns only once the entry
    /// is on disk). Call it BEFORE writing the CSR anywhere.
    pub fn add(&self, meta: &PendingMeta, pkcs8_der: &[u8]) -> Result<PathBuf, VaultError> {
        let path = self.entry_path(&meta.id);
        if meta.id.is_empty() || !meta.id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(VaultError::Damaged { file: path, reason: "invalid id".to_string() });
        }
        let meta_json = serde_json::to_string(meta).map_err(|e| io("écrire", &path)(std::io::Error::other(e)))?;
        let (nonce, ct) = seal(&self.key, pkcs8_der, &entry_aad(&meta_json));
        if ct.len() < 16 {
            // AES-GCM output always carries its 16-byte tag: anything shorter means encryption failed.
            return Err(VaultError::Damaged { file: path, reason: "encryption failed".to_string() });
        }
        let file = EntryFile {
            format: ENTRY_FORMAT.to_string(),
            version: 1,
            meta: meta_json,
            nonce: B64.encode(nonce),
            ciphertext: B64.encode(ct),
        };
        let bytes = serde_json::to_vec_pretty(&file).map_err(|e| io("écrire", &path)(std::io::Error::other(e)))?;
        // Never replaces an entry: an id collision fails without touching the existing key.
        fsutil::write_new(&path, &bytes, Access::Private).map_err(|e| match e {
            fsutil::FileError::Exists { .. } => {
                VaultError::Io { operation: "créer", path: path.clone(), source: e.into() }
            }
            e => io("écrire", &path)(e.into()),
        })?;
        Ok(path)
    }

    fn read_entry(&self, path: &Path) -> Result<PendingKey, VaultError> {
        let damaged = |reason: &str| VaultError::Damaged { file: path.to_path_buf(), reason: reason.to_string() };
        let bytes = fs::read(path).map_err(io("lire", path))?;
        let file: EntryFile = serde_json::from_slice(&bytes).map_err(|e| damaged(&format!("unreadable: {e}")))?;
        if file.format != ENTRY_FORMAT || file.version != 1 {
            return Err(damaged("unknown format"));
        }
        let nonce = B64.decode(file.nonce.as_bytes()).map_err(|_| damaged("bad nonce"))?;
        let ct = B64.decode(file.ciphertext.as_bytes()).map_err(|_| damaged("bad ciphertext"))?;
        let pkcs8_der = open_sealed(&self.key, &nonce, &ct, &entry_aad(&file.meta))
            .ok_or_else(|| damaged("authentication failed (modified or corrupted)"))?;
        let meta: PendingMeta = serde_json::from_str(&file.meta).map_err(|e| damaged(&format!("metadata: {e}")))?;
        let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        if stem != meta.id {
            return Err(damaged("file name does not match its id"));
        }
        Ok(PendingKey { meta, pkcs8_der })
    }

    /// Every entry, oldest first; damaged entries are listed as such, never silently skipped.
    pub fn list(&self) -> Result<Vec<Listed>, VaultError> {
        let mut out = Vec::new();
        for p in entry_files(&self.dir)? {
            match self.read_entry(&p) {
                Ok(k) => out.push(Listed::Ok(k.meta)),
                Err(VaultError::Damaged { file, reason }) => out.push(Listed::Damaged { file, reason }),
                Err(VaultError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {} // retired meanwhile
                Err(e) => return Err(e),
            }
        }
        out.sort_by_key(|l| match l {
            Listed::Ok(m) => (0, m.created, m.id.clone()),
            Listed::Damaged { file, .. } => (1, OffsetDateTime::UNIX_EPOCH, file.display().to_string()),
        });
        Ok(out)
    }

    /// The entry `id` with its decrypted key.
    pub fn get(&self, id: &str) -> Result<PendingKey, VaultError> {
        let path = self.entry_path(id);
        if !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') || !path.exists() {
            return Err(VaultError::NotFound { id: id.to_string() });
        }
        self.read_entry(&path)
    }

    /// The usable entry whose public key is the one in `spki_der` (a certificate's SubjectPublicKeyInfo).
    /// Also returns the damaged entries met on the way, so a failed match can mention them.
    pub fn find_by_public_key(&self, spki_der: &[u8]) -> Result<(Option<PendingKey>, Vec<Listed>), VaultError> {
        let mut damaged = Vec::new();
        for p in entry_files(&self.dir)? {
            match self.read_entry(&p) {
                Ok(k) if crate::asn1::same_public_key(&k.meta.spki_der, spki_der) => return Ok((Some(k), damaged)),
                Ok(_) => {}
                Err(VaultError::Damaged { file, reason }) => damaged.push(Listed::Damaged { file, reason }),
                Err(VaultError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        Ok((None, damaged))
    }

    /// Retires the entry `id` (removes it durably). Call it only once every destination the user asked for has
    /// been verified: the `.p12` written and read back, and/or the certificate and key found in the store.
    pub fn retire(&self, id: &str) -> Result<(), VaultError> {
        let path = self.entry_path(id);
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(VaultError::NotFound { id: id.to_string() })
            }
            Err(e) => return Err(VaultError::Io { operation: "supprimer", path, source: e }),
        }
        fsutil::sync_dir(&self.dir).map_err(io("synchroniser", &self.dir))
    }
}

fn to_key(raw: &[u8]) -> Option<Zeroizing<[u8; 32]>> {
    let arr: [u8; 32] = raw.try_into().ok()?;
    Some(Zeroizing::new(arr))
}

/// Lists the metadata of the current user's pending requests WITHOUT the keyring (for a status summary): the
/// metadata is not authenticated here, use [`Vault::list`] before acting on an entry.
pub fn peek_default() -> Result<Vec<PendingMeta>, VaultError> {
    let dir = default_dir()?;
    let mut out = Vec::new();
    for p in entry_files(&dir)? {
        let Ok(bytes) = fs::read(&p) else { continue };
        let Ok(file) = serde_json::from_slice::<EntryFile>(&bytes) else { continue };
        if let Ok(meta) = serde_json::from_str::<PendingMeta>(&file.meta) {
            out.push(meta);
        }
    }
    out.sort_by_key(|m| m.created);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::assert_german;

    #[test]
    fn german_messages() {
        let io = VaultError::Io {
            operation: "écrire",
            path: PathBuf::from("/tmp/coffre/k.json"),
            source: std::io::Error::other("disk full"),
        };
        assert_german(&io);
        assert!(io.message(Lang::De).contains("konnte /tmp/coffre/k.json nicht schreiben (disk full)"));
        assert_german(&VaultError::KeyMissing { account: "vault".into(), entries: 2 });
        assert_german(&VaultError::NotFound { id: "abc".into() });
        assert_german(&VaultError::Secrets(crate::secrets::SecretsError::Locked { detail: "dbus".into() }));
        assert_german(&VaultError::Paths(crate::paths::PathsError::NoHome));
    }

    fn vault(dir: &Path) -> Vault {
        fs::create_dir_all(dir).unwrap();
        Vault { dir: dir.to_path_buf(), account: "test".into(), key: Zeroizing::new([7u8; 32]) }
    }

    #[test]
    fn holder_is_the_name_people_know() {
        let mut m = meta("a");
        m.subject = "CN=810012345678,SN=Dupont,GN=Jeanne,title=M\\C3\\A9decin,C=FR".into();
        assert_eq!(m.holder(), "Jeanne Dupont");
        m.subject = "CN=Cabinet Dupont\\, Fils,O=Test,C=LU".into();
        assert_eq!(m.holder(), "Cabinet Dupont, Fils");
        m.subject = "O=Sans nom,C=LU".into();
        assert_eq!(m.holder(), "O=Sans nom,C=LU");
    }

    fn meta(id: &str) -> PendingMeta {
        PendingMeta {
            id: id.into(),
            profile: "generic".into(),
            offer: None,
            usage: None,
            subject: "CN=Test".into(),
            created: OffsetDateTime::now_utc(),
            deadline: None,
            csr_path: None,
            csr_pem: "-----BEGIN CERTIFICATE REQUEST-----".into(),
            spki_der: vec![1, 2, 3],
            key_algorithm: "rsa-2048".into(),
        }
    }

    #[test]
    fn round_trip_and_tamper_detection() {
        let t = tempfile::tempdir().unwrap();
        let v = vault(t.path());
        let p = v.add(&meta("aaaa"), b"secret key").unwrap();
        assert_eq!(v.get("aaaa").unwrap().pkcs8_der.as_slice(), b"secret key");
        let raw = fs::read_to_string(&p).unwrap();
        assert!(!raw.contains("secret key"));
        // Change the subject in the clear metadata: authentication must fail.
        fs::write(&p, raw.replace("CN=Test", "CN=Evil")).unwrap();
        assert!(matches!(v.get("aaaa"), Err(VaultError::Damaged { .. })));
        // Truncate: reported as damaged, listed as such.
        fs::write(&p, &raw.as_bytes()[..raw.len() / 2]).unwrap();
        assert!(matches!(v.list().unwrap().as_slice(), [Listed::Damaged { .. }]));
    }

    #[test]
    fn renamed_entry_is_damaged() {
        let t = tempfile::tempdir().unwrap();
        let v = vault(t.path());
        let p = v.add(&meta("bbbb"), b"k").unwrap();
        fs::rename(&p, t.path().join("cccc.pending")).unwrap();
        assert!(matches!(v.get("cccc"), Err(VaultError::Damaged { .. })));
        v.retire("cccc").unwrap();
        assert!(v.list().unwrap().is_empty());
    }

    #[test]
    fn temporaries_are_not_entries() {
        let t = tempfile::tempdir().unwrap();
        let v = vault(t.path());
        fs::write(t.path().join(".tmp-dddd.pending-123"), b"half").unwrap();
        assert!(v.list().unwrap().is_empty());
    }
}

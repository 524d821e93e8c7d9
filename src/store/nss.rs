//! Linux backend: an NSS database (`cert9.db`/`key4.db`), the one Chromium, Evolution, LibreOffice and most
//! desktop applications share in `~/.pki/nssdb`, or a Firefox profile chosen by the user.
//!
//! Reads and writes go through NSS's own software token (softokn) loaded in-process as a PKCS#11 module, so
//! the database keeps NSS's exact format and no password or key ever reaches a command line or a temporary file:
//! a private key enters the database by `C_UnwrapKey` under a throw-away session AES key (as `pk12util` itself
//! does), and leaves it for export the same way. NSS's tools are used only where NSS owns the semantics: creating an
//! empty database (`certutil -N`), trust flags of an authority (`certutil -A/-M`) and module registration
//! (`modutil`, like OpenSC's `pkcs11-register`).
//!
//! softokn can only be initialised once per process, so one process-wide instance serves every [`NssStore`]; it
//! is re-initialised when another directory is asked for.
#![allow(unsafe_code)]

use std::collections::{HashMap, HashSet};
use std::ffi::CString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::ptr::NonNull;
use std::sync::{Mutex, MutexGuard};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, CertificateType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;
use cryptoki::slot::Slot;
use sha1::Digest as _;
use zeroize::Zeroizing;

use super::{CertStore, Identity, ImportReport, ImportedItem, RegisteredModule, StoreError, StoredCertificate};
use crate::asn1::ber;
use crate::asn1::public_key::{public_key_of_spki, PublicKeyId, OID_EC};
use crate::cert::{self, Certificate};

/// Where softokn may live (Debian/Ubuntu multiarch, Fedora, Arch), then the loader's own search.
const SOFTOKN_CANDIDATES: &[&str] = &[
    "/usr/lib/x86_64-linux-gnu/libsoftokn3.so",
    "/usr/lib/aarch64-linux-gnu/libsoftokn3.so",
    "/usr/lib/x86_64-linux-gnu/nss/libsoftokn3.so",
    "/usr/lib64/libsoftokn3.so",
    "/usr/lib/libsoftokn3.so",
    "/usr/lib/nss/libsoftokn3.so",
];

// NSS vendor constants (nss/lib/util/pkcs11n.h).
const CKO_NSS_TRUST: u64 = 0xCE53_4353;
const CKA_CLASS: u64 = 0x0000_0000;
const CKA_NSS_DB: u64 = 0xD5A0_DB00;
const CKA_TRUST_SERVER_AUTH: u64 = 0xCE53_6358;
const CKA_TRUST_EMAIL_PROTECTION: u64 = 0xCE53_635B;
const CKT_NSS_TRUSTED_DELEGATOR: u64 = 0xCE53_4352;

/// The NSS database directory used by default: `TROUSSEAU_NSSDB`, else `~/.pki/nssdb`.
pub fn default_dir() -> Result<PathBuf, StoreError> {
    if let Some(d) = std::env::var_os("TROUSSEAU_NSSDB").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(d));
    }
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .ok_or_else(|| StoreError::Open { store: "~/.pki/nssdb".into(), detail: "HOME is not set".into() })?;
    Ok(PathBuf::from(home).join(".pki").join("nssdb"))
}

pub(super) fn open_default() -> Result<Box<dyn CertStore>, StoreError> {
    Ok(Box::new(NssStore::open(&default_dir()?)?))
}

/// A Firefox profile found through `profiles.ini`.
#[derive(Debug, Clone, serde::Serialize, PartialEq, Eq)]
pub struct FirefoxProfile {
    pub name: String,
    pub path: PathBuf,
    pub default: bool,
}

/// Firefox profiles of the current user (`~/.mozilla/firefox/profiles.ini`, and the Snap/Flatpak locations),
/// those with an NSS database only. The user chooses which ones to use; none is written to by default.
pub fn firefox_profiles() -> Vec<FirefoxProfile> {
    let Some(home) = std::env::var_os("HOME").map(PathBuf::from) else { return Vec::new() };
    let roots = [
        home.join(".mozilla/firefox"),
        home.join("snap/firefox/common/.mozilla/firefox"),
        home.join(".var/app/org.mozilla.firefox/.mozilla/firefox"),
    ];
    let mut out = Vec::new();
    for root in roots {
        let Ok(text) = std::fs::read_to_string(root.join("profiles.ini")) else { continue };
        out.extend(parse_profiles_ini(&root, &text).into_iter().filter(|p| p.path.join("cert9.db").exists()));
    }
    out
}

fn parse_profiles_ini(root: &Path, text: &str) -> Vec<FirefoxProfile> {
    let mut out = Vec::new();
    let mut section: Option<HashMap<String, String>> = None;
    let flush = |s: Option<HashMap<String, String>>, out: &mut Vec<FirefoxProfile>| {
        let Some(s) = s else { return };
        let Some(path) = s.get("Path") else { return };
        let relative = s.get("IsRelative").map(|v| v == "1").unwrap_or(true);
        let path = if relative { root.join(path) } else { PathBuf::from(path) };
        out.push(FirefoxProfile {
            name: s.get("Name").cloned().unwrap_or_default(),
            path,
            default: s.get("Default").map(|v| v == "1").unwrap_or(false),
        });
    };
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            let prev = section.take();
            flush(prev, &mut out);
            if line.starts_with("[Profile") {
                section = Some(HashMap::new());
            }
        } else if let (Some(s), Some((k, v))) = (section.as_mut(), line.split_once('=')) {
            s.insert(k.trim().to_string(), v.trim().to_string());
        }
    }
    flush(section, &mut out);
    out
}

/// An NSS database directory.
#[derive(Clone)]
pub struct NssStore {
    dir: PathBuf,
    /// The primary password, when the user gave it ([`CertStore::unlock`]).
    password: Option<Zeroizing<String>>,
}

impl std::fmt::Debug for NssStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NssStore").field("dir", &self.dir).finish_non_exhaustive()
    }
}

impl NssStore {
    /// The NSS database in `dir`. An empty, password-less database (and its directory) is created on first use
    /// if absent, never before: a refused import leaves no trace.
    pub fn open(dir: &Path) -> Result<NssStore, StoreError> {
        Ok(NssStore { dir: dir.to_path_buf(), password: None })
    }

    fn exists(&self) -> bool {
        self.dir.join("cert9.db").exists()
    }

    fn ensure_db(&self) -> Result<(), StoreError> {
        if self.exists() {
            Ok(())
        } else {
            self.create()
        }
    }

    fn name(&self) -> String {
        format!("nss:{}", self.dir.display())
    }

    fn create(&self) -> Result<(), StoreError> {
        create_private_dir(&self.dir)?;
        let out = self.tool("certutil")?.arg("-N").arg("--empty-password").output();
        let out = out.map_err(|e| tool_error("certutil", e))?;
        if !out.status.success() {
            return Err(StoreError::Open { store: self.name(), detail: tool_stderr(&out) });
        }
        Ok(())
    }

    /// `certutil`/`modutil` with `-d sql:DIR` (modutil spells it `-dbdir`).
    fn tool(&self, tool: &'static str) -> Result<Command, StoreError> {
        let mut c = crate::child::command(tool);
        let db = format!("sql:{}", self.dir.display());
        if tool == "modutil" {
            c.arg("-dbdir").arg(db).arg("-force");
        } else {
            c.arg("-d").arg(db);
        }
        c.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        Ok(c)
    }

    /// Runs `f` with a read-write session on this database's token.
    fn with_session<T>(&self, f: impl FnOnce(&Session) -> Result<T, StoreError>) -> Result<T, StoreError> {
        self.ensure_db()?;
        let mut guard = lock_softokn();
        let tok = ensure_softokn(&mut guard, &self.dir)?;
        if tok.needs_login && tok.login.is_none() {
            match &self.password {
                Some(pw) => tok.log_in(pw, &self.name())?,
                None => return Err(StoreError::Locked { store: self.name() }),
            }
        }
        let session = tok.pkcs11.open_rw_session(tok.slot).map_err(|e| self.backend("open session", e))?;
        f(&session)
    }

    /// The certificate with this fingerprint in the software database (not on a card).
    fn find_soft(&self, sha256: &str) -> Result<Option<StoredCertificate>, StoreError> {
        self.with_session(|s| {
            let raw = match self.find_raw(s, sha256) {
                Ok(r) => r,
                Err(StoreError::NotFound { .. }) => return Ok(None),
                Err(e) => return Err(e),
            };
            let keys = match &raw.id {
                Some(id) if self.private_key(s, id)?.is_some() => HashSet::from([id.clone()]),
                _ => HashSet::new(),
            };
            Ok(to_stored(&raw, &keys, &self.trusted(s)?))
        })
    }

    /// Certificates with a key on the tokens (smartcards) of the modules registered in this database, as browsers
    /// see them. Modules that fail or have no card are skipped: the card may simply be out of its reader.
    fn token_certificates(&mut self) -> Vec<StoredCertificate> {
        let modules = match self.modules() {
            Ok(m) => m,
            Err(_) => return Vec::new(),
        };
        let lang = crate::i18n::Lang::from_env();
        let mut out = Vec::new();
        for m in modules {
            let Ok(tokens) = crate::token::module_tokens(&m.library, lang) else { continue };
            for t in tokens {
                let Ok(certs) = crate::token::certificates(&t) else { continue };
                // A card's identities only: trust tokens (p11-kit-trust, NSS built-in roots) hold hundreds of
                // authority certificates without keys that are not the user's.
                for c in certs.into_iter().filter(|c| c.has_private_key) {
                    let nickname = Some(format!("{}:{}", c.token, c.object_label));
                    let mut stored =
                        StoredCertificate::new(c.certificate, nickname, hex::decode(&c.key_id).ok(), c.has_private_key);
                    stored.on_token = true;
                    out.push(stored);
                }
            }
        }
        out
    }

    /// A fingerprint not found in the software database may be a card's certificate: say so.
    fn explain_not_found(&mut self, e: StoreError) -> StoreError {
        match e {
            StoreError::NotFound { sha256, store } => {
                if self.token_certificates().iter().any(|c| c.certificate.sha256 == sha256) {
                    StoreError::OnToken { sha256 }
                } else {
                    StoreError::NotFound { sha256, store }
                }
            }
            other => other,
        }
    }

    fn backend(&self, operation: &'static str, e: impl std::fmt::Display) -> StoreError {
        StoreError::Backend { operation, store: self.name(), detail: e.to_string() }
    }

    /// Raw certificate objects of the token.
    fn raw_certs(&self, s: &Session) -> Result<Vec<RawCert>, StoreError> {
        let handles = s
            .find_objects(&[Attribute::Class(ObjectClass::CERTIFICATE), Attribute::Token(true)])
            .map_err(|e| self.backend("list certificates", e))?;
        let mut out = Vec::with_capacity(handles.len());
        for h in handles {
            let attrs = s
                .get_attributes(
                    h,
                    &[AttributeType::Value, AttributeType::Subject, AttributeType::Label, AttributeType::Id],
                )
                .map_err(|e| self.backend("read certificate", e))?;
            let mut raw = RawCert { handle: h, der: Vec::new(), subject: Vec::new(), label: None, id: None };
            for a in attrs {
                match a {
                    Attribute::Value(v) => raw.der = v,
                    Attribute::Subject(v) => raw.subject = v,
                    Attribute::Label(l) if !l.is_empty() => raw.label = Some(String::from_utf8_lossy(&l).into_owned()),
                    Attribute::Id(i) if !i.is_empty() => raw.id = Some(i),
                    _ => {}
                }
            }
            if !raw.der.is_empty() {
                out.push(raw);
            }
        }
        Ok(out)
    }

    /// `CKA_ID`s of the private keys of the token.
    fn key_ids(&self, s: &Session) -> Result<HashSet<Vec<u8>>, StoreError> {
        let handles = s
            .find_objects(&[Attribute::Class(ObjectClass::PRIVATE_KEY), Attribute::Token(true)])
            .map_err(|e| self.backend("list keys", e))?;
        let mut ids = HashSet::new();
        for h in handles {
            for a in s.get_attributes(h, &[AttributeType::Id]).map_err(|e| self.backend("read key", e))? {
                if let Attribute::Id(i) = a {
                    ids.insert(i);
                }
            }
        }
        Ok(ids)
    }

    /// (issuer DER, serial DER) of the certificates trusted as authorities for TLS or e-mail.
    fn trusted(&self, s: &Session) -> Result<HashSet<TrustKey>, StoreError> {
        let class = Attribute::VendorDefined((AttributeType::VendorDefined(CKA_CLASS), ulong_bytes(CKO_NSS_TRUST)));
        let handles = s.find_objects(&[class]).map_err(|e| self.backend("list trust", e))?;
        let mut out = HashSet::new();
        for h in handles {
            let attrs = s
                .get_attributes(
                    h,
                    &[
                        AttributeType::Issuer,
                        AttributeType::SerialNumber,
                        AttributeType::VendorDefined(CKA_TRUST_SERVER_AUTH),
                        AttributeType::VendorDefined(CKA_TRUST_EMAIL_PROTECTION),
                    ],
                )
                .map_err(|e| self.backend("read trust", e))?;
            let (mut issuer, mut serial, mut delegator) = (Vec::new(), Vec::new(), false);
            for a in attrs {
                match a {
                    Attribute::Issuer(v) => issuer = v,
                    Attribute::SerialNumber(v) => serial = v,
                    Attribute::VendorDefined((_, v)) => delegator |= read_ulong(&v) == Some(CKT_NSS_TRUSTED_DELEGATOR),
                    _ => {}
                }
            }
            if delegator {
                out.insert((issuer, serial));
            }
        }
        Ok(out)
    }

    fn find_raw(&self, s: &Session, sha256: &str) -> Result<RawCert, StoreError> {
        let wanted = super::normalize_fingerprint(sha256)?;
        self.raw_certs(s)?
            .into_iter()
            .find(|c| hex::encode(sha2::Sha256::digest(&c.der)) == wanted)
            .ok_or(StoreError::NotFound { sha256: wanted, store: self.name() })
    }

    fn private_key(&self, s: &Session, id: &[u8]) -> Result<Option<ObjectHandle>, StoreError> {
        let found = s
            .find_objects(&[
                Attribute::Class(ObjectClass::PRIVATE_KEY),
                Attribute::Token(true),
                Attribute::Id(id.to_vec()),
            ])
            .map_err(|e| self.backend("find key", e))?;
        Ok(found.into_iter().next())
    }

    /// A nickname for a certificate of `subject`: the one NSS already uses for that subject (NSS requires it),
    /// else `wanted`, made unique.
    fn nickname_for(&self, existing: &[RawCert], added: &[(Vec<u8>, String)], subject: &[u8], wanted: &str) -> String {
        let known = existing.iter().filter_map(|c| c.label.as_ref().map(|l| (c.subject.as_slice(), l)));
        let mut all = known.chain(added.iter().map(|(s, l)| (s.as_slice(), l)));
        if let Some((_, label)) = all.clone().find(|(s, _)| *s == subject) {
            return label.clone();
        }
        let taken: HashSet<&str> = all.by_ref().map(|(_, l)| l.as_str()).collect();
        let base = if wanted.trim().is_empty() { "Certificat" } else { wanted.trim() };
        let mut candidate = base.to_string();
        let mut n = 2;
        while taken.contains(candidate.as_str()) {
            candidate = format!("{base} ({n})");
            n += 1;
        }
        candidate
    }

    fn create_cert(
        &self,
        s: &Session,
        c: &Certificate,
        parts: &CertParts,
        label: &str,
    ) -> Result<ObjectHandle, StoreError> {
        s.create_object(&[
            Attribute::Class(ObjectClass::CERTIFICATE),
            Attribute::CertificateType(CertificateType::X_509),
            Attribute::Token(true),
            Attribute::Private(false),
            Attribute::Label(label.as_bytes().to_vec()),
            Attribute::Value(c.der.clone()),
            Attribute::Subject(parts.subject.clone()),
            Attribute::Issuer(parts.issuer.clone()),
            Attribute::SerialNumber(parts.serial_der.clone()),
            Attribute::Id(parts.key_id.clone()),
        ])
        .map_err(|e| self.backend("add certificate", e))
    }

    /// Unwraps `pkcs8` into a token private key under a session AES key: the key is encrypted between our memory
    /// and softokn's, exactly the path `pk12util` takes.
    fn create_key(
        &self,
        s: &Session,
        pkcs8: &[u8],
        parts: &CertParts,
        label: &str,
    ) -> Result<ObjectHandle, StoreError> {
        let aes = session_aes_key(s).map_err(|e| self.backend("prepare key import", e))?;
        let iv = random_iv(s).map_err(|e| self.backend("prepare key import", e))?;
        let wrapped =
            s.encrypt(&Mechanism::AesCbcPad(iv), aes, pkcs8).map_err(|e| self.backend("prepare key import", e));
        let wrapped = match wrapped {
            Ok(w) => w,
            Err(e) => {
                let _ = s.destroy_object(aes);
                return Err(e);
            }
        };
        let mut template = vec![
            Attribute::Class(ObjectClass::PRIVATE_KEY),
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(true),
            Attribute::Id(parts.key_id.clone()),
            Attribute::Label(label.as_bytes().to_vec()),
            Attribute::Sign(true),
        ];
        match parts.key_type {
            KeyKind::Rsa => template.extend([
                Attribute::KeyType(KeyType::RSA),
                Attribute::Decrypt(true),
                Attribute::Unwrap(true),
                Attribute::SignRecover(true),
            ]),
            // softokn wants the public point beside a token EC key (as PK11_ImportPrivateKeyInfo gives it).
            KeyKind::Ec => template.extend([
                Attribute::KeyType(KeyType::EC),
                Attribute::Derive(true),
                Attribute::VendorDefined((AttributeType::VendorDefined(CKA_NSS_DB), parts.public_value.clone())),
            ]),
        }
        let key = s.unwrap_key(&Mechanism::AesCbcPad(iv), aes, &wrapped, &template);
        let _ = s.destroy_object(aes);
        key.map_err(|e| self.backend("add private key", e))
    }

    fn extract_key(&self, s: &Session, key: ObjectHandle, sha256: &str) -> Result<Zeroizing<Vec<u8>>, StoreError> {
        use cryptoki::error::{Error, RvError};
        let failed = |e: &dyn std::fmt::Display| self.backend("export key", e);
        let aes = session_aes_key(s).map_err(|e| failed(&e))?;
        let result = (|| {
            let iv = random_iv(s).map_err(|e| failed(&e))?;
            let wrapped = s.wrap_key(&Mechanism::AesCbcPad(iv), aes, key).map_err(|e| match e {
                Error::Pkcs11(RvError::KeyUnextractable, _) => StoreError::NotExportable { sha256: sha256.to_string() },
                other => failed(&other),
            })?;
            // cryptoki returns softokn's size estimate (input + two blocks), not the length actually written: the
            // ciphertext is the first whole blocks of it. Try the candidate lengths, longest first, and keep the one
            // whose plaintext is exactly one DER SEQUENCE (a wrong length fails the padding or that check).
            let longest = wrapped.len() / 16 * 16;
            let mut last = String::from("no ciphertext");
            for len in (16..=longest).rev().step_by(16).take(4) {
                match s.decrypt(&Mechanism::AesCbcPad(iv), aes, &wrapped[..len]) {
                    Ok(plain) => {
                        let plain = Zeroizing::new(plain);
                        if ber::is_one_sequence(&plain) {
                            return Ok(plain);
                        }
                        last = "unexpected key encoding".into();
                    }
                    Err(e) => last = e.to_string(),
                }
            }
            Err(failed(&last))
        })();
        let _ = s.destroy_object(aes);
        result
    }
}

/// (issuer DER, serial DER): how NSS trust objects name their certificate.
type TrustKey = (Vec<u8>, Vec<u8>);

struct RawCert {
    handle: ObjectHandle,
    der: Vec<u8>,
    /// `CKA_SUBJECT`: the DER subject name.
    subject: Vec<u8>,
    label: Option<String>,
    id: Option<Vec<u8>>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum KeyKind {
    Rsa,
    Ec,
}

/// What NSS indexes a certificate by: raw subject/issuer names, DER serial, and the key ID NSS derives from the
/// public key (SHA-1 of the RSA modulus or of the EC point, `pk11_mkcertKeyID`).
struct CertParts {
    subject: Vec<u8>,
    issuer: Vec<u8>,
    serial_der: Vec<u8>,
    key_id: Vec<u8>,
    key_type: KeyKind,
    /// RSA modulus or EC point: NSS stores it with a token key (`CKA_NSS_DB`).
    public_value: Vec<u8>,
}

impl CertParts {
    fn parse(der: &[u8]) -> Result<CertParts, String> {
        use x509_parser::prelude::*;
        let (_, x) = X509Certificate::from_der(der).map_err(|e| e.to_string())?;
        // NSS's CKA_ID and public value: the RSA modulus or the EC point, as "same public key" defines them.
        let (key_type, index) = match public_key_of_spki(x.public_key().raw) {
            Some(PublicKeyId::Rsa { modulus }) => (KeyKind::Rsa, modulus),
            Some(PublicKeyId::Point { algorithm, point }) if algorithm == OID_EC => (KeyKind::Ec, point),
            Some(PublicKeyId::Point { algorithm, .. }) => return Err(format!("unsupported key algorithm {algorithm}")),
            None => return Err("unreadable public key".into()),
        };
        let key_id = if index.len() <= 20 { index.clone() } else { sha1::Sha1::digest(&index).to_vec() };
        Ok(CertParts {
            subject: x.tbs_certificate.subject.as_raw().to_vec(),
            issuer: x.tbs_certificate.issuer.as_raw().to_vec(),
            serial_der: {
                let mut serial = Vec::new();
                ber::push_tlv(0x02, x.tbs_certificate.raw_serial(), &mut serial);
                serial
            },
            key_id,
            key_type,
            public_value: index,
        })
    }
}

#[allow(clippy::unnecessary_cast)] // c_ulong is u32 on 32-bit Linux
fn ulong_bytes(v: u64) -> Vec<u8> {
    (v as std::os::raw::c_ulong).to_ne_bytes().to_vec()
}

#[allow(clippy::unnecessary_cast)] // c_ulong is u32 on 32-bit Linux
fn read_ulong(b: &[u8]) -> Option<u64> {
    let arr: [u8; std::mem::size_of::<std::os::raw::c_ulong>()] = b.try_into().ok()?;
    Some(std::os::raw::c_ulong::from_ne_bytes(arr) as u64)
}

fn session_aes_key(s: &Session) -> cryptoki::error::Result<ObjectHandle> {
    s.generate_key(
        &Mechanism::AesKeyGen,
        &[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::AES),
            Attribute::ValueLen(32.into()),
            Attribute::Token(false),
            Attribute::Encrypt(true),
            Attribute::Decrypt(true),
            Attribute::Wrap(true),
            Attribute::Unwrap(true),
        ],
    )
}

fn random_iv(s: &Session) -> cryptoki::error::Result<[u8; 16]> {
    let mut iv = [0u8; 16];
    s.generate_random_slice(&mut iv)?;
    Ok(iv)
}

fn create_private_dir(dir: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|source| StoreError::Io { path: dir.to_path_buf(), source })
}

fn tool_error(tool: &'static str, e: std::io::Error) -> StoreError {
    if e.kind() == std::io::ErrorKind::NotFound {
        StoreError::ToolMissing { tool }
    } else {
        StoreError::Io { path: PathBuf::from(tool), source: e }
    }
}

fn tool_stderr(out: &std::process::Output) -> String {
    let text = String::from_utf8_lossy(&out.stderr);
    let text = if text.trim().is_empty() { String::from_utf8_lossy(&out.stdout) } else { text };
    text.trim().chars().take(400).collect()
}

/// The process-wide softokn instance and the directory it was initialised on.
struct Softokn {
    pkcs11: Pkcs11,
    slot: Slot,
    dir: PathBuf,
    /// The database has a primary password: private keys need a login.
    needs_login: bool,
    /// Keeps the login alive (PKCS#11 logs out when an application's last session closes).
    login: Option<Session>,
    _params: CString,
}

impl Softokn {
    fn log_in(&mut self, password: &str, store: &str) -> Result<(), StoreError> {
        use cryptoki::error::{Error, RvError};
        let backend =
            |e: Error| StoreError::Backend { operation: "unlock", store: store.to_string(), detail: e.to_string() };
        let session = self.pkcs11.open_ro_session(self.slot).map_err(backend)?;
        let pin = cryptoki::types::AuthPin::new(password.to_string().into());
        match session.login(cryptoki::session::UserType::User, Some(&pin)) {
            Ok(()) | Err(Error::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => {
                self.login = Some(session);
                Ok(())
            }
            Err(Error::Pkcs11(RvError::PinIncorrect | RvError::PinInvalid | RvError::PinLenRange, _)) => {
                Err(StoreError::WrongStorePassword { store: store.to_string() })
            }
            Err(e) => Err(backend(e)),
        }
    }

    fn finalize(self) {
        let Softokn { pkcs11, login, .. } = self;
        drop(login);
        let _ = pkcs11.finalize();
    }
}

static SOFTOKN: Mutex<Option<Softokn>> = Mutex::new(None);

fn lock_softokn() -> MutexGuard<'static, Option<Softokn>> {
    SOFTOKN.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn ensure_softokn<'a>(
    guard: &'a mut MutexGuard<'static, Option<Softokn>>,
    dir: &Path,
) -> Result<&'a mut Softokn, StoreError> {
    if guard.as_ref().is_some_and(|t| t.dir != dir) {
        if let Some(old) = guard.take() {
            old.finalize();
        }
    }
    if guard.is_none() {
        **guard = Some(init_softokn(dir)?);
    }
    guard.as_mut().ok_or_else(|| StoreError::Open { store: format!("nss:{}", dir.display()), detail: "softokn".into() })
}

fn init_softokn(dir: &Path) -> Result<Softokn, StoreError> {
    let store = format!("nss:{}", dir.display());
    let open_err = |detail: String| StoreError::Open { store: store.clone(), detail };
    let path = SOFTOKN_CANDIDATES.iter().map(Path::new).find(|p| p.exists()).unwrap_or(Path::new("libsoftokn3.so"));
    let pkcs11 =
        Pkcs11::new(path).map_err(|e| open_err(format!("NSS softokn ({}) cannot be loaded: {e}", path.display())))?;
    let escaped = dir.display().to_string().replace('\\', "\\\\").replace('\'', "\\'");
    let params = CString::new(format!(
        "configdir='sql:{escaped}' certPrefix='' keyPrefix='' secmod='secmod.db' flags='' \
         updatedir='' updateCertPrefix='' updateKeyPrefix='' updateid='' updateTokenDescription=''"
    ))
    .map_err(|e| open_err(e.to_string()))?;
    let reserved =
        NonNull::new(params.as_ptr() as *mut std::ffi::c_void).ok_or_else(|| open_err("empty parameters".into()))?;
    // SAFETY: softokn reads `pReserved` as a NUL-terminated parameter string during C_Initialize (NSS's
    // `LibraryParameters` extension); `params` lives in the returned `Softokn` for as long as the module.
    let args = unsafe { CInitializeArgs::new_with_reserved(CInitializeFlags::OS_LOCKING_OK, reserved) };
    pkcs11.initialize(args).map_err(|e| open_err(format!("NSS softokn refused the database: {e}")))?;
    let slots = pkcs11.get_slots_with_token().map_err(|e| open_err(e.to_string()))?;
    let mut chosen = None;
    for slot in slots {
        let info = pkcs11.get_token_info(slot).map_err(|e| open_err(e.to_string()))?;
        if info.label().contains("Certificate DB") || info.label().contains("Software Security Device") {
            // A primary password (Firefox's "mot de passe principal") protects the keys.
            chosen = Some((slot, info.login_required() && info.user_pin_initialized()));
        }
    }
    match chosen {
        Some((slot, needs_login)) => {
            Ok(Softokn { pkcs11, slot, dir: dir.to_path_buf(), needs_login, login: None, _params: params })
        }
        None => {
            let _ = pkcs11.finalize();
            Err(open_err("no certificate database token".into()))
        }
    }
}

fn to_stored(raw: &RawCert, keys: &HashSet<Vec<u8>>, trusted: &HashSet<TrustKey>) -> Option<StoredCertificate> {
    let certificate = cert::parse_der(&raw.der).ok()?;
    let has_key = raw.id.as_ref().is_some_and(|id| keys.contains(id));
    let mut stored = StoredCertificate::new(certificate, raw.label.clone(), raw.id.clone(), has_key);
    if !trusted.is_empty() {
        if let Ok(parts) = CertParts::parse(&raw.der) {
            stored.trusted = trusted.contains(&(parts.issuer, parts.serial_der));
        }
    }
    Some(stored)
}

impl NssStore {
    /// RSA decryption inside softokn (`C_Decrypt`): the key never leaves NSS's database.
    fn decrypt_in_softokn(
        &self,
        sha256: &str,
        padding: crate::token::DecryptPadding,
        data: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, StoreError> {
        self.with_session(|s| {
            let raw = self.find_raw(s, sha256)?;
            let no_key = || StoreError::NoPrivateKey { sha256: sha256.to_string(), store: self.name() };
            let id = raw.id.clone().ok_or_else(no_key)?;
            let key = self.private_key(s, &id)?.ok_or_else(no_key)?;
            s.decrypt(&padding.mechanism(), key, data)
                .map(Zeroizing::new)
                .map_err(|e| StoreError::Decrypt { detail: e.to_string() })
        })
    }
}

impl CertStore for NssStore {
    fn decrypt(
        &mut self,
        sha256: &str,
        padding: crate::token::DecryptPadding,
        data: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, StoreError> {
        self.decrypt_in_softokn(sha256, padding, data)
    }

    fn location(&self) -> String {
        self.name()
    }

    fn prepare(&mut self) -> Result<(), StoreError> {
        if self.exists() {
            let mut guard = lock_softokn();
            ensure_softokn(&mut guard, &self.dir)?;
        }
        Ok(())
    }

    fn unlock(&mut self, password: &str) -> Result<(), StoreError> {
        self.password = Some(Zeroizing::new(password.to_string()));
        if !self.exists() {
            return Ok(());
        }
        let mut guard = lock_softokn();
        let tok = ensure_softokn(&mut guard, &self.dir)?;
        if tok.needs_login && tok.login.is_none() {
            tok.log_in(password, &self.name())?;
        }
        Ok(())
    }

    fn list(&mut self) -> Result<Vec<StoredCertificate>, StoreError> {
        let mut out: Vec<StoredCertificate> = self.with_session(|s| {
            let raws = self.raw_certs(s)?;
            let keys = self.key_ids(s)?;
            let trusted = self.trusted(s)?;
            Ok(raws.iter().filter_map(|r| to_stored(r, &keys, &trusted)).collect())
        })?;
        let known: HashSet<String> = out.iter().map(|c| c.certificate.sha256.clone()).collect();
        out.extend(self.token_certificates().into_iter().filter(|c| !known.contains(&c.certificate.sha256)));
        Ok(out)
    }

    fn find(&mut self, sha256: &str) -> Result<Option<StoredCertificate>, StoreError> {
        let found = self.find_soft(sha256)?;
        if found.is_some() {
            return Ok(found);
        }
        let wanted = super::normalize_fingerprint(sha256)?;
        Ok(self.token_certificates().into_iter().find(|c| c.certificate.sha256 == wanted))
    }

    fn install_identity(&mut self, identity: &Identity) -> Result<ImportReport, StoreError> {
        let store = self.name();
        let leaf = &identity.certificate;
        let leaf_parts = CertParts::parse(&leaf.der).map_err(|d| self.backend("read certificate", d))?;
        self.with_session(|s| {
            let existing = self.raw_certs(s)?;
            let present: HashSet<&[u8]> = existing.iter().map(|c| c.der.as_slice()).collect();
            let mut created: Vec<ObjectHandle> = Vec::new();
            let mut items = Vec::new();
            let result = (|| {
                let wanted = identity
                    .friendly_name
                    .clone()
                    .or_else(|| leaf.subject_cn.clone())
                    .unwrap_or_else(|| leaf.subject.clone());
                let mut added: Vec<(Vec<u8>, String)> = Vec::new();
                let nickname = self.nickname_for(&existing, &added, &leaf_parts.subject, &wanted);
                added.push((leaf_parts.subject.clone(), nickname.clone()));
                let key_present = self.private_key(s, &leaf_parts.key_id)?.is_some();
                if !key_present {
                    created.push(self.create_key(s, &identity.key_pkcs8, &leaf_parts, &nickname)?);
                }
                items.push(ImportedItem {
                    kind: "private_key",
                    sha256: leaf.sha256.clone(),
                    subject: leaf.subject.clone(),
                    nickname: Some(nickname.clone()),
                    already_present: key_present,
                });
                let leaf_present = present.contains(leaf.der.as_slice());
                if !leaf_present {
                    created.push(self.create_cert(s, leaf, &leaf_parts, &nickname)?);
                }
                items.push(ImportedItem {
                    kind: "certificate",
                    sha256: leaf.sha256.clone(),
                    subject: leaf.subject.clone(),
                    nickname: Some(nickname),
                    already_present: leaf_present,
                });
                let mut seen = HashSet::from([leaf.der.as_slice()]);
                for ca in &identity.chain {
                    if !seen.insert(ca.der.as_slice()) {
                        continue;
                    }
                    let parts = CertParts::parse(&ca.der).map_err(|d| self.backend("read certificate", d))?;
                    let ca_present = present.contains(ca.der.as_slice());
                    let nick = self.nickname_for(
                        &existing,
                        &added,
                        &parts.subject,
                        ca.subject_cn.as_deref().unwrap_or(ca.subject.as_str()),
                    );
                    added.push((parts.subject.clone(), nick.clone()));
                    if !ca_present {
                        created.push(self.create_cert(s, ca, &parts, &nick)?);
                    }
                    items.push(ImportedItem {
                        kind: "ca_certificate",
                        sha256: ca.sha256.clone(),
                        subject: ca.subject.clone(),
                        nickname: Some(nick),
                        already_present: ca_present,
                    });
                }
                Ok(())
            })();
            if let Err(e) = result {
                // All or nothing: take back what this import added.
                for h in created.into_iter().rev() {
                    let _ = s.destroy_object(h);
                }
                return Err(e);
            }
            let already_present = items.iter().all(|i| i.already_present);
            Ok(ImportReport { store: store.clone(), sha256: leaf.sha256.clone(), items, already_present })
        })
    }

    fn extract_identity(&mut self, sha256: &str) -> Result<Identity, StoreError> {
        let result = self.with_session(|s| {
            let all = self.raw_certs(s)?;
            let wanted = super::normalize_fingerprint(sha256)?;
            let raw = all
                .iter()
                .find(|c| hex::encode(sha2::Sha256::digest(&c.der)) == wanted)
                .ok_or(StoreError::NotFound { sha256: wanted.clone(), store: self.name() })?;
            let no_key = || StoreError::NoPrivateKey { sha256: wanted.clone(), store: self.name() };
            let id = raw.id.clone().ok_or_else(no_key)?;
            let key = self.private_key(s, &id)?.ok_or_else(no_key)?;
            let key_pkcs8 = self.extract_key(s, key, &wanted)?;
            let certificate = cert::parse_der(&raw.der)?;
            // The chain: issuers found in the database, up to a self-signed root.
            let parsed: Vec<(CertParts, &RawCert)> =
                all.iter().filter_map(|c| CertParts::parse(&c.der).ok().map(|p| (p, c))).collect();
            let mut chain = Vec::new();
            let mut current = CertParts::parse(&raw.der).map_err(|d| self.backend("read certificate", d))?;
            let mut used = HashSet::from([raw.der.clone()]);
            for _ in 0..10 {
                if current.issuer == current.subject {
                    break;
                }
                let Some((p, c)) = parsed.iter().find(|(p, c)| p.subject == current.issuer && !used.contains(&c.der))
                else {
                    break;
                };
                used.insert(c.der.clone());
                chain.push(cert::parse_der(&c.der)?);
                current = CertParts { subject: p.subject.clone(), issuer: p.issuer.clone(), ..current };
            }
            Ok(Identity { key_pkcs8, certificate, chain, friendly_name: raw.label.clone() })
        });
        result.map_err(|e| self.explain_not_found(e))
    }

    fn remove(&mut self, sha256: &str) -> Result<StoredCertificate, StoreError> {
        let result = self.with_session(|s| {
            let raw = self.find_raw(s, sha256)?;
            let key = match &raw.id {
                Some(id) => self.private_key(s, id)?,
                None => None,
            };
            let keys = match (&raw.id, key) {
                (Some(id), Some(_)) => HashSet::from([id.clone()]),
                _ => HashSet::new(),
            };
            let stored = to_stored(&raw, &keys, &HashSet::new())
                .ok_or_else(|| self.backend("read certificate", "unreadable certificate"))?;
            s.destroy_object(raw.handle).map_err(|e| self.backend("remove certificate", e))?;
            // The key goes too, unless another certificate (a renewal with the same key) still uses it.
            if let (Some(id), Some(key)) = (&raw.id, key) {
                let others = s
                    .find_objects(&[
                        Attribute::Class(ObjectClass::CERTIFICATE),
                        Attribute::Token(true),
                        Attribute::Id(id.clone()),
                    ])
                    .map_err(|e| self.backend("remove key", e))?;
                if others.is_empty() {
                    s.destroy_object(key).map_err(|e| self.backend("remove key", e))?;
                    let publics = s
                        .find_objects(&[Attribute::Class(ObjectClass::PUBLIC_KEY), Attribute::Id(id.clone())])
                        .unwrap_or_default();
                    for p in publics {
                        let _ = s.destroy_object(p);
                    }
                }
            }
            Ok(stored)
        });
        result.map_err(|e| self.explain_not_found(e))
    }

    fn import_ca(&mut self, ca: &Certificate) -> Result<ImportReport, StoreError> {
        if !ca.is_ca {
            return Err(StoreError::NotCa { sha256: ca.sha256.clone() });
        }
        let existing = self.find(&ca.sha256)?;
        let already_trusted = existing.as_ref().is_some_and(|c| c.trusted);
        let nickname = match &existing {
            Some(c) => c.nickname.clone().unwrap_or_else(|| ca.subject.clone()),
            None => {
                let parts = CertParts::parse(&ca.der).map_err(|d| self.backend("read certificate", d))?;
                let raws = self.with_session(|s| self.raw_certs(s))?;
                self.nickname_for(&raws, &[], &parts.subject, ca.subject_cn.as_deref().unwrap_or(&ca.subject))
            }
        };
        if !already_trusted {
            // Trust flags are NSS's own semantics: let certutil write them. "C,C,C": trusted to issue
            // certificates for websites (TLS client and server), e-mail and code signing.
            let mut cmd = self.tool("certutil")?;
            if existing.is_some() {
                cmd.args(["-M", "-n", &nickname, "-t", "CT,C,C"]);
            } else {
                cmd.args(["-A", "-n", &nickname, "-t", "CT,C,C"]).stdin(Stdio::piped());
            }
            let mut child = cmd.spawn().map_err(|e| tool_error("certutil", e))?;
            if let Some(mut stdin) = child.stdin.take() {
                stdin.write_all(&ca.der).map_err(|source| StoreError::Io { path: "certutil".into(), source })?;
            }
            let out = child.wait_with_output().map_err(|e| tool_error("certutil", e))?;
            if !out.status.success() {
                return Err(self.backend("trust authority", tool_stderr(&out)));
            }
        }
        Ok(ImportReport::authority(self.name(), ca, Some(nickname), already_trusted))
    }

    fn register_module(&mut self, name: &str, library: &Path) -> Result<RegisteredModule, StoreError> {
        if !library.exists() {
            return Err(StoreError::ModuleMissing { path: library.to_path_buf() });
        }
        self.ensure_db()?;
        let wanted = RegisteredModule { name: name.to_string(), library: library.to_path_buf() };
        let current = self.modules()?;
        if current.contains(&wanted) {
            return Ok(wanted);
        }
        if current.iter().any(|m| m.name == name) {
            self.unregister_module(name)?;
        }
        let mut cmd = self.tool("modutil")?;
        cmd.arg("-add").arg(name).arg("-libfile").arg(library);
        let out = cmd.output().map_err(|e| tool_error("modutil", e))?;
        if !out.status.success() {
            return Err(self.backend("register module", tool_stderr(&out)));
        }
        Ok(wanted)
    }

    fn unregister_module(&mut self, name: &str) -> Result<bool, StoreError> {
        if !self.modules()?.iter().any(|m| m.name == name) {
            return Ok(false);
        }
        let mut cmd = self.tool("modutil")?;
        cmd.arg("-delete").arg(name);
        let out = cmd.output().map_err(|e| tool_error("modutil", e))?;
        if !out.status.success() {
            return Err(self.backend("unregister module", tool_stderr(&out)));
        }
        Ok(true)
    }

    fn modules(&mut self) -> Result<Vec<RegisteredModule>, StoreError> {
        let path = self.dir.join("pkcs11.txt");
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => return Err(StoreError::Io { path, source }),
        };
        Ok(parse_pkcs11_txt(&text))
    }
}

/// Modules with a library in NSS's `pkcs11.txt` (the built-in softokn entry has an empty `library=`).
fn parse_pkcs11_txt(text: &str) -> Vec<RegisteredModule> {
    let mut out = Vec::new();
    for block in text.split("\n\n") {
        let mut name = None;
        let mut library = None;
        for line in block.lines() {
            if let Some(v) = line.strip_prefix("library=") {
                library = Some(v.trim().to_string());
            } else if let Some(v) = line.strip_prefix("name=") {
                name = Some(v.trim().trim_matches('"').to_string());
            }
        }
        if let (Some(name), Some(library)) = (name, library) {
            if !library.is_empty() {
                out.push(RegisteredModule { name, library: PathBuf::from(library) });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_ini_relative_and_absolute() {
        let ini = "[General]\nStartWithLastProfile=1\n\n[Profile0]\nName=default-release\nIsRelative=1\n\
                   Path=abc.default-release\nDefault=1\n\n[Profile1]\nName=work\nIsRelative=0\nPath=/srv/ff/work\n\n\
                   [Install4F96D1932A9F858E]\nDefault=abc.default-release\n";
        let p = parse_profiles_ini(Path::new("/home/u/.mozilla/firefox"), ini);
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].path, PathBuf::from("/home/u/.mozilla/firefox/abc.default-release"));
        assert!(p[0].default);
        assert_eq!(p[1].path, PathBuf::from("/srv/ff/work"));
    }

    #[test]
    fn pkcs11_txt_modules() {
        let txt = "library=\nname=NSS Internal PKCS #11 Module\nparameters=configdir='sql:/x'\n\n\
                   library=/usr/lib/softhsm/libsofthsm2.so\nname=SoftHSM\nNSS=trustOrder=75\n";
        let m = parse_pkcs11_txt(txt);
        assert_eq!(
            m,
            vec![RegisteredModule { name: "SoftHSM".into(), library: "/usr/lib/softhsm/libsofthsm2.so".into() }]
        );
    }

    /// A self-signed certificate for `subject` with a new key (`newkey`: `openssl req` key arguments), made by OpenSSL
    /// in `dir` and read back from a `.p12` as an [`Identity`].
    fn self_signed_identity(dir: &Path, newkey: &[&str], subject: &str) -> Identity {
        let run = |args: &[&str]| {
            let out =
                Command::new("openssl").args(args).current_dir(dir).env("PW", "pw-Test-1").output().expect("openssl");
            assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        };
        let mut args = vec!["req", "-x509"];
        args.extend_from_slice(newkey);
        args.extend_from_slice(&["-nodes", "-keyout", "k.pem", "-out", "c.pem", "-subj", subject, "-days", "30"]);
        run(&args);
        run(&["pkcs12", "-export", "-in", "c.pem", "-inkey", "k.pem", "-out", "t.p12", "-passout", "env:PW"]);
        let der = std::fs::read(dir.join("t.p12")).expect("p12");
        super::super::identity_from_pkcs12(&der, "pw-Test-1").expect("read p12")
    }

    /// softokn in-process: create, install a key + certificate, list, extract the key back, remove.
    #[test]
    fn softokn_install_list_extract_remove() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let d = tmp.path();
        let identity = self_signed_identity(d, &["-newkey", "rsa:2048"], "/CN=Unit Test");
        let mut store = NssStore::open(&d.join("db")).expect("open");
        let report = store.install_identity(&identity).expect("install");
        assert_eq!(report.installed(), 2);
        let listed = store.list().expect("list");
        assert_eq!(listed.len(), 1);
        assert!(listed[0].has_private_key);
        let back = store.extract_identity(&identity.certificate.sha256).expect("extract");
        assert_eq!(
            crate::asn1::public_key::public_key_of_pkcs8(&back.key_pkcs8),
            crate::asn1::public_key::public_key_of_pkcs8(&identity.key_pkcs8)
        );
        assert!(store.install_identity(&identity).expect("again").already_present);
        store.remove(&identity.certificate.sha256).expect("remove");
        assert!(store.list().expect("list").is_empty());
    }

    /// A failure after the key and certificate were added takes them back: the database holds nothing afterwards.
    #[test]
    fn failed_install_is_rolled_back() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let d = tmp.path();
        let mut identity =
            self_signed_identity(d, &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"], "/CN=Rollback");
        // A chain certificate that cannot be stored makes the install fail after key and leaf went in.
        let mut broken = identity.certificate.clone();
        broken.der = vec![0x30, 0x03, 0x02, 0x01, 0x01];
        broken.sha256 = "00".repeat(32);
        identity.chain.push(broken);
        let db = d.join("db");
        let mut store = NssStore::open(&db).expect("open");
        assert!(store.install_identity(&identity).is_err());
        assert!(store.list().expect("list").is_empty());
        let keys = Command::new("certutil")
            .args(["-K", "-d"])
            .arg(format!("sql:{}", db.display()))
            .output()
            .expect("certutil");
        assert!(!String::from_utf8_lossy(&keys.stdout).contains('<'), "{}", String::from_utf8_lossy(&keys.stdout));
    }
}

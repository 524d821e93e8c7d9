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
//!
//! Layout: this file holds [`NssStore`] and its [`CertStore`] operations; `softokn` starts and logs in to NSS's
//! software token, `objects` reads and writes the token's certificates, keys and trust objects, `tools` runs
//! `certutil`/`modutil`, `firefox` finds Firefox profiles.

mod firefox;
mod objects;
mod softokn;
mod tools;

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

pub use self::firefox::{firefox_profiles, FirefoxProfile};
use self::objects::*;
use self::softokn::*;
use self::tools::*;

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

#[cfg(test)]
mod tests {
    use super::*;

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

//! macOS backend: the user's login keychain, where Safari, Chrome, Mail and most applications look for identities
//! (a certificate with its private key). Smartcard identities (CryptoTokenKit) are found by the identity search
//! and reported `on_token`; no PKCS#11 module needs registering.
//!
//! Keys enter with `SecPKCS12Import` and leave with `SecItemExport`, both with a random one-time transfer password,
//! after our own reader has checked the user's `.p12`. The transfer file uses the legacy 3DES profile because
//! older macOS versions refuse PBES2/AES files (reported there as a wrong password).
#![allow(unsafe_code)]

use std::collections::HashSet;

use core_foundation::base::TCFType;
use core_foundation::data::CFData;
use core_foundation::string::CFString;
use security_framework::certificate::SecCertificate;
use security_framework::identity::SecIdentity;
use security_framework::import_export::Pkcs12ImportOptions;
use security_framework::item::{ItemClass, ItemSearchOptions, Limit, Reference, SearchResult};
use security_framework::os::macos::keychain::SecKeychain;
use security_framework::trust_settings::{Domain, TrustSettings};
use zeroize::Zeroizing;

use super::{transfer_password, CertStore, Identity, ImportReport, ImportedItem, StoreError, StoredCertificate};
use crate::cert::{self, Certificate};

const ERR_SEC_ITEM_NOT_FOUND: i32 = -25300;
const ERR_SEC_DUPLICATE_ITEM: i32 = -25299;
const LOCATION: &str = "macos:login";

pub(super) fn open_default() -> Result<Box<dyn CertStore>, StoreError> {
    Ok(Box::new(KeychainStore))
}

/// The user's default (login) keychain.
#[derive(Debug, Clone, Copy)]
pub struct KeychainStore;

fn backend(operation: &'static str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend { operation, store: LOCATION.into(), detail: e.to_string() }
}

fn search(class: ItemClass, token_only: bool) -> Result<Vec<Reference>, StoreError> {
    let mut opts = ItemSearchOptions::new();
    opts.class(class).load_refs(true).limit(Limit::All);
    if token_only {
        opts.access_group_token();
    }
    match opts.search() {
        Ok(results) => Ok(results
            .into_iter()
            .filter_map(|r| match r {
                SearchResult::Ref(r) => Some(r),
                _ => None,
            })
            .collect()),
        Err(e) if e.code() == ERR_SEC_ITEM_NOT_FOUND => Ok(Vec::new()),
        Err(e) => Err(backend("search keychain", e)),
    }
}

fn certificates() -> Result<Vec<SecCertificate>, StoreError> {
    Ok(search(ItemClass::certificate(), false)?
        .into_iter()
        .filter_map(|r| match r {
            Reference::Certificate(c) => Some(c),
            _ => None,
        })
        .collect())
}

fn identities(token_only: bool) -> Result<Vec<SecIdentity>, StoreError> {
    Ok(search(ItemClass::identity(), token_only)?
        .into_iter()
        .filter_map(|r| match r {
            Reference::Identity(i) => Some(i),
            _ => None,
        })
        .collect())
}

fn sha256_hex(der: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(der))
}

fn find_identity(sha256: &str) -> Result<Option<SecIdentity>, StoreError> {
    for i in identities(false)? {
        if let Ok(c) = i.certificate() {
            if sha256_hex(&c.to_der()) == sha256 {
                return Ok(Some(i));
            }
        }
    }
    Ok(None)
}

impl CertStore for KeychainStore {
    fn location(&self) -> String {
        LOCATION.into()
    }

    fn list(&mut self) -> Result<Vec<StoredCertificate>, StoreError> {
        let with_key: HashSet<Vec<u8>> =
            identities(false)?.iter().filter_map(|i| i.certificate().ok()).map(|c| c.to_der()).collect();
        let on_token: HashSet<Vec<u8>> = identities(true)
            .unwrap_or_default()
            .iter()
            .filter_map(|i| i.certificate().ok())
            .map(|c| c.to_der())
            .collect();
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        let ders =
            certificates()?.iter().map(SecCertificate::to_der).chain(on_token.iter().cloned()).collect::<Vec<_>>();
        for der in ders {
            if !seen.insert(der.clone()) {
                continue;
            }
            let Ok(c) = cert::parse_der(&der) else { continue };
            let has_key = with_key.contains(&der) || on_token.contains(&der);
            let mut s = StoredCertificate::new(c, None, None, has_key);
            s.on_token = on_token.contains(&der);
            out.push(s);
        }
        Ok(out)
    }

    fn install_identity(&mut self, identity: &Identity) -> Result<ImportReport, StoreError> {
        let present: HashSet<String> = certificates()?.iter().map(|c| sha256_hex(&c.to_der())).collect();
        let leaf = &identity.certificate;
        let key_present = find_identity(&leaf.sha256)?.is_some();
        let mut items = vec![
            ImportedItem {
                kind: "private_key",
                sha256: leaf.sha256.clone(),
                subject: leaf.subject.clone(),
                nickname: identity.friendly_name.clone(),
                already_present: key_present,
            },
            ImportedItem {
                kind: "certificate",
                sha256: leaf.sha256.clone(),
                subject: leaf.subject.clone(),
                nickname: identity.friendly_name.clone(),
                already_present: present.contains(&leaf.sha256),
            },
        ];
        for ca in &identity.chain {
            items.push(ImportedItem {
                kind: "ca_certificate",
                sha256: ca.sha256.clone(),
                subject: ca.subject.clone(),
                nickname: ca.subject_cn.clone(),
                already_present: present.contains(&ca.sha256),
            });
        }
        if !key_present {
            let pw = transfer_password();
            let pfx = identity.to_pkcs12(&pw, crate::pkcs12::Encryption::Legacy)?;
            let keychain = SecKeychain::default()
                .map_err(|e| StoreError::Open { store: LOCATION.into(), detail: e.to_string() })?;
            Pkcs12ImportOptions::new()
                .passphrase(&pw)
                .keychain(keychain)
                .import(&pfx)
                .map_err(|e| backend("import PKCS#12", e))?;
        }
        let already_present = items.iter().all(|i| i.already_present);
        Ok(ImportReport { store: LOCATION.into(), sha256: leaf.sha256.clone(), items, already_present })
    }

    fn extract_identity(&mut self, sha256: &str) -> Result<Identity, StoreError> {
        use security_framework_sys::import_export::{
            kSecFormatPKCS12, SecItemExport, SecItemImportExportKeyParameters,
        };
        let wanted = super::normalize_fingerprint(sha256)?;
        let Some(ident) = find_identity(&wanted)? else {
            return Err(if certificates()?.iter().any(|c| sha256_hex(&c.to_der()) == wanted) {
                StoreError::NoPrivateKey { sha256: wanted, store: LOCATION.into() }
            } else {
                StoreError::NotFound { sha256: wanted, store: LOCATION.into() }
            });
        };
        let pw = transfer_password();
        let cf_pw = CFString::new(&pw);
        let params = SecItemImportExportKeyParameters {
            version: 0,
            flags: 0,
            passphrase: cf_pw.as_CFTypeRef(),
            alertTitle: std::ptr::null(),
            alertPrompt: std::ptr::null(),
            accessRef: std::ptr::null_mut(),
            keyUsage: std::ptr::null(),
            keyAttributes: std::ptr::null(),
        };
        let mut out = std::ptr::null();
        // SAFETY: `ident` is a valid identity reference, `params` and its passphrase outlive the call; on success
        // `out` receives a CFData we own (create rule).
        let status = unsafe { SecItemExport(ident.as_CFTypeRef(), kSecFormatPKCS12, 0, &params, &mut out) };
        if status != 0 || out.is_null() {
            return Err(backend("export key", format!("OSStatus {status}")));
        }
        // SAFETY: `out` is a CFDataRef returned by a Copy/Create-style API.
        let data = unsafe { CFData::wrap_under_create_rule(out) };
        let bytes = Zeroizing::new(data.bytes().to_vec());
        let mut identity = super::identity_from_pkcs12(&bytes, &pw)?;
        let pool: Vec<Certificate> = certificates()?.iter().filter_map(|c| cert::parse_der(&c.to_der()).ok()).collect();
        identity.complete_chain(&pool);
        Ok(identity)
    }

    fn remove(&mut self, sha256: &str) -> Result<StoredCertificate, StoreError> {
        let wanted = super::normalize_fingerprint(sha256)?;
        let cert_ref = certificates()?
            .into_iter()
            .find(|c| sha256_hex(&c.to_der()) == wanted)
            .ok_or_else(|| StoreError::NotFound { sha256: wanted.clone(), store: LOCATION.into() })?;
        let ident = find_identity(&wanted)?;
        let parsed = cert::parse_der(&cert_ref.to_der())?;
        let stored = StoredCertificate::new(parsed, None, None, ident.is_some());
        if let Some(i) = ident {
            if let Ok(key) = i.private_key() {
                let _ = key.delete();
            }
        }
        match cert_ref.delete() {
            Ok(()) => {}
            Err(e) if e.code() == ERR_SEC_ITEM_NOT_FOUND => {}
            Err(e) => return Err(backend("remove certificate", e)),
        }
        Ok(stored)
    }

    fn import_ca(&mut self, ca: &Certificate) -> Result<ImportReport, StoreError> {
        if !ca.is_ca {
            return Err(StoreError::NotCa { sha256: ca.sha256.clone() });
        }
        let c = SecCertificate::from_der(&ca.der).map_err(|e| backend("read certificate", e))?;
        let present = match c.add_to_keychain(None) {
            Ok(()) => false,
            Err(e) if e.code() == ERR_SEC_DUPLICATE_ITEM => true,
            Err(e) => return Err(backend("add authority", e)),
        };
        // macOS asks the user to confirm (Touch ID or password) before trusting a new authority.
        TrustSettings::new(Domain::User).set_trust_settings_always(&c).map_err(|e| backend("trust authority", e))?;
        let mut report = ImportReport::authority(LOCATION.into(), ca, ca.subject_cn.clone(), present);
        // Trust settings were (re)applied even when the certificate was already in the keychain.
        report.already_present = false;
        Ok(report)
    }
}

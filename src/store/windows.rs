//! Windows backend: the current user's personal store ("MY", what Edge, Chrome and Office use), intermediate
//! authorities in "CA", trusted roots in "Root" (Windows itself asks the user to confirm a new root).
//!
//! Keys enter and leave through the platform's PKCS#12 functions (`PFXImportCertStore`, `PFXExportCertStoreEx`)
//! with a random one-time transfer password, so the key is encrypted between our memory and the key storage
//! provider; the user's `.p12` has already been read and checked by our own reader before anything is touched.
//! Smartcard certificates appear in "MY" by themselves (certificate propagation service): no module to register.
#![allow(unsafe_code)]

use std::collections::HashSet;

use windows::core::{PCWSTR, PWSTR};
use windows::Win32::Security::Cryptography::{
    CertAddCertificateContextToStore, CertAddEncodedCertificateToStore, CertCloseStore, CertDeleteCertificateFromStore,
    CertDuplicateCertificateContext, CertEnumCertificatesInStore, CertFreeCertificateContext,
    CertGetCertificateContextProperty, CertOpenStore, CryptAcquireCertificatePrivateKey, NCryptDeleteKey,
    PFXExportCertStoreEx, PFXImportCertStore, CERT_CONTEXT, CERT_FRIENDLY_NAME_PROP_ID, CERT_KEY_PROV_INFO_PROP_ID,
    CERT_KEY_SPEC, CERT_NCRYPT_KEY_SPEC, CERT_OPEN_STORE_FLAGS, CERT_QUERY_ENCODING_TYPE, CERT_STORE_ADD_NEW,
    CERT_STORE_PROV_MEMORY, CERT_STORE_PROV_SYSTEM_W, CERT_SYSTEM_STORE_CURRENT_USER,
    CRYPT_ACQUIRE_ONLY_NCRYPT_KEY_FLAG, CRYPT_ACQUIRE_SILENT_FLAG, CRYPT_EXPORTABLE, CRYPT_INTEGER_BLOB,
    CRYPT_KEY_PROV_INFO, CRYPT_USER_KEYSET, EXPORT_PRIVATE_KEYS, HCERTSTORE, HCRYPTPROV_OR_NCRYPT_KEY_HANDLE,
    NCRYPT_KEY_HANDLE, PKCS12_ALWAYS_CNG_KSP, PKCS_7_ASN_ENCODING, REPORT_NOT_ABLE_TO_EXPORT_PRIVATE_KEY,
    X509_ASN_ENCODING,
};
use zeroize::Zeroizing;

use super::{transfer_password, CertStore, Identity, ImportReport, ImportedItem, StoreError, StoredCertificate};
use crate::cert::{self, Certificate};

const ENCODING: CERT_QUERY_ENCODING_TYPE = CERT_QUERY_ENCODING_TYPE(X509_ASN_ENCODING.0 | PKCS_7_ASN_ENCODING.0);
const CRYPT_E_EXISTS: i32 = 0x8009_2005_u32 as i32;

pub(super) fn open_default() -> Result<Box<dyn CertStore>, StoreError> {
    Ok(Box::new(WindowsStore))
}

/// The current user's certificate stores. Store handles are opened per operation (they are not `Send`).
#[derive(Debug, Clone, Copy)]
pub struct WindowsStore;

/// An open system store, closed on drop.
struct Store(HCERTSTORE);

impl Store {
    fn system(name: &str) -> Result<Store, StoreError> {
        let wide: Vec<u16> = name.encode_utf16().chain(Some(0)).collect();
        // SAFETY: `wide` is a NUL-terminated UTF-16 string alive for the call; the flags select the current
        // user's system store of that name.
        let h = unsafe {
            CertOpenStore(
                CERT_STORE_PROV_SYSTEM_W,
                CERT_QUERY_ENCODING_TYPE(0),
                None,
                CERT_OPEN_STORE_FLAGS(CERT_SYSTEM_STORE_CURRENT_USER),
                Some(wide.as_ptr() as *const core::ffi::c_void),
            )
        };
        h.map(Store)
            .map_err(|e| StoreError::Open { store: format!("windows:CurrentUser\\{name}"), detail: e.to_string() })
    }

    fn memory() -> Result<Store, StoreError> {
        // SAFETY: a new in-memory store takes no parameters.
        let h = unsafe {
            CertOpenStore(CERT_STORE_PROV_MEMORY, CERT_QUERY_ENCODING_TYPE(0), None, CERT_OPEN_STORE_FLAGS(0), None)
        };
        h.map(Store).map_err(|e| backend("memory store", e))
    }

    /// Every certificate context of the store, each duplicated (freed by [`Ctx`]'s drop).
    fn contexts(&self) -> Vec<Ctx> {
        let mut out = Vec::new();
        let mut prev: Option<*const CERT_CONTEXT> = None;
        loop {
            // SAFETY: `prev` is the context returned by the previous call (or None); the enumeration frees it.
            let next = unsafe { CertEnumCertificatesInStore(self.0, prev) };
            if next.is_null() {
                break;
            }
            // SAFETY: `next` is a valid context; the duplicate is owned by the returned `Ctx`.
            out.push(Ctx(unsafe { CertDuplicateCertificateContext(Some(next)) }));
            prev = Some(next);
        }
        out
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        // SAFETY: the handle came from CertOpenStore and is closed once.
        let _ = unsafe { CertCloseStore(Some(self.0), 0) };
    }
}

/// An owned certificate context.
struct Ctx(*mut CERT_CONTEXT);

impl Drop for Ctx {
    fn drop(&mut self) {
        // SAFETY: the context was duplicated for this owner and is freed once.
        let _ = unsafe { CertFreeCertificateContext(Some(self.0)) };
    }
}

impl Ctx {
    fn der(&self) -> Vec<u8> {
        // SAFETY: a valid context points at `cbCertEncoded` bytes of DER.
        unsafe {
            let c = &*self.0;
            std::slice::from_raw_parts(c.pbCertEncoded, c.cbCertEncoded as usize).to_vec()
        }
    }

    fn property(&self, id: u32) -> Option<Vec<u8>> {
        let mut size = 0u32;
        // SAFETY: first call asks for the size only.
        unsafe { CertGetCertificateContextProperty(self.0, id, None, &mut size) }.ok()?;
        let mut buf = vec![0u8; size as usize];
        // SAFETY: `buf` holds `size` bytes.
        unsafe { CertGetCertificateContextProperty(self.0, id, Some(buf.as_mut_ptr() as *mut _), &mut size) }.ok()?;
        buf.truncate(size as usize);
        Some(buf)
    }

    fn friendly_name(&self) -> Option<String> {
        let b = self.property(CERT_FRIENDLY_NAME_PROP_ID)?;
        let wide: Vec<u16> =
            b.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).take_while(|c| *c != 0).collect();
        Some(String::from_utf16_lossy(&wide)).filter(|s| !s.is_empty())
    }

    /// (has a private key, the key is on a smartcard).
    fn key_state(&self) -> (bool, bool) {
        let Some(buf) = self.property(CERT_KEY_PROV_INFO_PROP_ID) else { return (false, false) };
        if buf.len() < std::mem::size_of::<CRYPT_KEY_PROV_INFO>() {
            return (true, false);
        }
        // SAFETY: the property is a CRYPT_KEY_PROV_INFO followed by the strings it points to, all inside `buf`.
        let provider = unsafe {
            let info = &*(buf.as_ptr() as *const CRYPT_KEY_PROV_INFO);
            wide_to_string(info.pwszProvName)
        };
        (true, provider.to_ascii_lowercase().contains("smart card"))
    }
}

fn wide_to_string(p: PWSTR) -> String {
    if p.is_null() {
        return String::new();
    }
    // SAFETY: a non-null PWSTR from the API is NUL-terminated.
    unsafe { p.to_string() }.unwrap_or_default()
}

fn backend(operation: &'static str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend { operation, store: "windows:CurrentUser\\MY".into(), detail: e.to_string() }
}

fn wide(s: &str) -> Zeroizing<Vec<u16>> {
    Zeroizing::new(s.encode_utf16().chain(Some(0)).collect())
}

fn stored(ctx: &Ctx, trusted_roots: &HashSet<Vec<u8>>) -> Option<StoredCertificate> {
    let der = ctx.der();
    let certificate = cert::parse_der(&der).ok()?;
    let (has_key, on_token) = ctx.key_state();
    let mut s = StoredCertificate::new(certificate, ctx.friendly_name(), None, has_key);
    s.on_token = on_token;
    s.trusted = trusted_roots.contains(&der);
    Some(s)
}

fn find_ctx(store: &Store, sha256: &str) -> Result<Ctx, StoreError> {
    use sha2::Digest;
    let wanted = super::normalize_fingerprint(sha256)?;
    store
        .contexts()
        .into_iter()
        .find(|c| hex::encode(sha2::Sha256::digest(c.der())) == wanted)
        .ok_or(StoreError::NotFound { sha256: wanted, store: "windows:CurrentUser\\MY".into() })
}

/// Adds `ctx` to `store`; `Ok(None)` when it was already there.
fn add(store: &Store, ctx: *const CERT_CONTEXT) -> Result<Option<Ctx>, StoreError> {
    let mut added: *mut CERT_CONTEXT = std::ptr::null_mut();
    // SAFETY: `ctx` is a valid context of the temporary PFX store; `added` receives an owned context.
    match unsafe { CertAddCertificateContextToStore(Some(store.0), ctx, CERT_STORE_ADD_NEW, Some(&mut added)) } {
        Ok(()) => Ok(Some(Ctx(added))),
        Err(e) if e.code().0 == CRYPT_E_EXISTS => Ok(None),
        Err(e) => Err(backend("add certificate", e)),
    }
}

impl CertStore for WindowsStore {
    fn location(&self) -> String {
        "windows:CurrentUser\\MY".into()
    }

    fn list(&mut self) -> Result<Vec<StoredCertificate>, StoreError> {
        let roots: HashSet<Vec<u8>> = Store::system("Root")?.contexts().iter().map(Ctx::der).collect();
        Ok(Store::system("MY")?.contexts().iter().filter_map(|c| stored(c, &roots)).collect())
    }

    fn install_identity(&mut self, identity: &Identity) -> Result<ImportReport, StoreError> {
        let pw = transfer_password();
        let name = identity.name();
        // 3DES: every Windows version imports it (Server 2016 and older refuse AES); the file never leaves memory.
        let pfx = identity.to_pkcs12(&pw, crate::pkcs12::Encryption::Legacy)?;
        let blob = CRYPT_INTEGER_BLOB { cbData: pfx.len() as u32, pbData: pfx.as_ptr() as *mut u8 };
        let wpw = wide(&pw);
        // SAFETY: `blob` points at `pfx`, `wpw` is NUL-terminated; both outlive the call. The keys go to the
        // user's key storage, exportable so the user can back them up later (as the Windows import wizard offers).
        let temp = unsafe {
            PFXImportCertStore(
                &blob,
                PCWSTR(wpw.as_ptr()),
                CRYPT_USER_KEYSET | CRYPT_EXPORTABLE | PKCS12_ALWAYS_CNG_KSP,
            )
        }
        .map(Store)
        .map_err(|e| backend("import PKCS#12", e))?;
        let my = Store::system("MY")?;
        let ca = Store::system("CA")?;
        let mut added: Vec<Ctx> = Vec::new();
        let mut items = Vec::new();
        let result = (|| {
            for ctx in temp.contexts() {
                let der = ctx.der();
                let Ok(c) = cert::parse_der(&der) else { continue };
                let leaf = c.sha256 == identity.certificate.sha256;
                let target = if leaf { &my } else { &ca };
                let new = add(target, ctx.0)?;
                let present = new.is_none();
                added.extend(new);
                if leaf {
                    items.push(ImportedItem {
                        kind: "private_key",
                        sha256: c.sha256.clone(),
                        subject: c.subject.clone(),
                        nickname: Some(name.clone()),
                        already_present: present,
                    });
                }
                items.push(ImportedItem {
                    kind: if leaf { "certificate" } else { "ca_certificate" },
                    sha256: c.sha256.clone(),
                    subject: c.subject.clone(),
                    nickname: if leaf { Some(name.clone()) } else { c.subject_cn.clone() },
                    already_present: present,
                });
            }
            Ok(())
        })();
        if let Err(e) = result {
            for ctx in added.into_iter().rev() {
                // SAFETY: deleting consumes a duplicate of the context we added; ours is freed by its drop.
                let _ = unsafe { CertDeleteCertificateFromStore(CertDuplicateCertificateContext(Some(ctx.0))) };
            }
            return Err(e);
        }
        let already_present = items.iter().all(|i| i.already_present);
        Ok(ImportReport { store: self.location(), sha256: identity.certificate.sha256.clone(), items, already_present })
    }

    fn extract_identity(&mut self, sha256: &str) -> Result<Identity, StoreError> {
        let my = Store::system("MY")?;
        let ctx = find_ctx(&my, sha256)?;
        let wanted = super::normalize_fingerprint(sha256)?;
        if !ctx.key_state().0 {
            return Err(StoreError::NoPrivateKey { sha256: wanted, store: self.location() });
        }
        let mem = Store::memory()?;
        add(&mem, ctx.0)?;
        let pw = transfer_password();
        let wpw = wide(&pw);
        let mut blob = CRYPT_INTEGER_BLOB::default();
        let flags = EXPORT_PRIVATE_KEYS | REPORT_NOT_ABLE_TO_EXPORT_PRIVATE_KEY;
        // SAFETY: first call sizes the blob, second fills `buf`; the password is NUL-terminated.
        unsafe { PFXExportCertStoreEx(mem.0, &mut blob, PCWSTR(wpw.as_ptr()), std::ptr::null(), flags) }
            .map_err(|e| backend("export key", e))?;
        let mut buf = Zeroizing::new(vec![0u8; blob.cbData as usize]);
        blob.pbData = buf.as_mut_ptr();
        // SAFETY: `blob` now points at `buf` of the size the first call asked for.
        unsafe { PFXExportCertStoreEx(mem.0, &mut blob, PCWSTR(wpw.as_ptr()), std::ptr::null(), flags) }
            .map_err(|_| StoreError::NoPrivateKey { sha256: wanted.clone(), store: self.location() })?;
        buf.truncate(blob.cbData as usize);
        let mut identity = super::identity_from_pkcs12(&buf, &pw)?;
        // Add the issuers Windows knows (intermediate and root stores).
        let pool: Vec<Certificate> = ["CA", "Root"]
            .iter()
            .filter_map(|n| Store::system(n).ok())
            .flat_map(|s| s.contexts().iter().map(Ctx::der).collect::<Vec<_>>())
            .filter_map(|d| cert::parse_der(&d).ok())
            .collect();
        identity.complete_chain(&pool);
        identity.friendly_name = ctx.friendly_name();
        Ok(identity)
    }

    fn remove(&mut self, sha256: &str) -> Result<StoredCertificate, StoreError> {
        let my = Store::system("MY")?;
        let ctx = find_ctx(&my, sha256)?;
        let s = stored(&ctx, &HashSet::new()).ok_or_else(|| backend("read certificate", "unreadable certificate"))?;
        // The private key goes first (a certificate left without its key is harmless, the reverse is not), unless it
        // lives on a smartcard: a card's key is never deleted from here.
        if s.has_private_key && !s.on_token {
            let mut handle = HCRYPTPROV_OR_NCRYPT_KEY_HANDLE::default();
            let mut spec = CERT_KEY_SPEC(0);
            let flags = CRYPT_ACQUIRE_ONLY_NCRYPT_KEY_FLAG | CRYPT_ACQUIRE_SILENT_FLAG;
            // SAFETY: `ctx` is a valid context; the handle is written on success, and we own it (the caller-free
            // flag is true for NCrypt handles obtained without the cache flag).
            let acquired =
                unsafe { CryptAcquireCertificatePrivateKey(ctx.0, flags, None, &mut handle, Some(&mut spec), None) };
            if acquired.is_ok() && spec == CERT_NCRYPT_KEY_SPEC {
                // SAFETY: NCryptDeleteKey deletes the persisted key and frees the handle.
                unsafe { NCryptDeleteKey(NCRYPT_KEY_HANDLE(handle.0), 0) }.map_err(|e| backend("remove key", e))?;
            }
        }
        // SAFETY: deleting consumes a duplicate; `ctx` itself is freed by its drop.
        unsafe { CertDeleteCertificateFromStore(CertDuplicateCertificateContext(Some(ctx.0))) }
            .map_err(|e| backend("remove certificate", e))?;
        Ok(s)
    }

    fn import_ca(&mut self, ca: &Certificate) -> Result<ImportReport, StoreError> {
        if !ca.is_ca {
            return Err(StoreError::NotCa { sha256: ca.sha256.clone() });
        }
        let root = Store::system("Root")?;
        // SAFETY: `ca.der` is a DER certificate; Windows asks the user to confirm a new trusted root.
        let present = match unsafe {
            CertAddEncodedCertificateToStore(Some(root.0), ENCODING, &ca.der, CERT_STORE_ADD_NEW, None)
        } {
            Ok(()) => false,
            Err(e) if e.code().0 == CRYPT_E_EXISTS => true,
            Err(e) => return Err(backend("trust authority", e)),
        };
        Ok(ImportReport::authority("windows:CurrentUser\\Root".into(), ca, ca.subject_cn.clone(), present))
    }
}

//! Windows backend: the current user's personal store ("MY", what Edge, Chrome and Office use), intermediate
//! authorities in "CA", trusted roots in "Root" (Windows itself asks the user to confirm a new root).
//!
//! Keys enter through `PFXImportCertStore` with a random one-time transfer password, so the key is encrypted between
//! our memory and the key storage provider; the user's `.p12` has already been read and checked by our own reader
//! before anything is touched. The CNG key storage provider is asked first (`PKCS12_ALWAYS_CNG_KSP`); where it refuses
//! (older or trimmed systems; Wine 8.0 does not know the flag) the legacy CryptoAPI provider takes the key, and the
//! reason is logged. Keys leave from the provider that holds them (CryptoAPI `PRIVATEKEYBLOB`, CNG PKCS#8, encrypted
//! when the key only allows encrypted export) and our own PKCS#12 writer builds the file, so the encryption presets are
//! the same on every OS (`PFXExportCertStoreEx` would impose Windows' own). Every failing Windows call is reported
//! with its name and the HRESULT it set ([`StoreError::System`]).
//! Smartcard certificates appear in "MY" by themselves (certificate propagation service): no module to register.
//!
//! Size: one file on purpose — every unsafe CryptoAPI/CNG call of the backend sits next to the others and to its
//! safety argument; split, the handle lifetimes it relies on would be spread over several files.
#![allow(unsafe_code)]

use std::collections::HashSet;

use windows::core::{PCWSTR, PWSTR};
use windows::Win32::Foundation::{NTE_BAD_KEY_STATE, NTE_NOT_SUPPORTED, NTE_PERM};
use windows::Win32::Security::Cryptography::{
    BCryptBuffer, BCryptBufferDesc, CertAddCertificateContextToStore, CertAddEncodedCertificateToStore, CertCloseStore,
    CertControlStore, CertDeleteCertificateFromStore, CertDuplicateCertificateContext, CertEnumCertificatesInStore,
    CertFreeCertificateContext, CertGetCertificateContextProperty, CertOpenStore, CryptAcquireContextW,
    CryptDestroyKey, CryptExportKey, CryptGetUserKey, CryptReleaseContext, NCryptDeleteKey, NCryptExportKey,
    NCryptFreeObject, NCryptOpenKey, NCryptOpenStorageProvider, PFXImportCertStore, CERT_CONTEXT,
    CERT_CONTROL_STORE_FLAGS, CERT_FRIENDLY_NAME_PROP_ID, CERT_KEY_PROV_INFO_PROP_ID, CERT_KEY_SPEC,
    CERT_OPEN_STORE_FLAGS, CERT_QUERY_ENCODING_TYPE, CERT_STORE_ADD_NEW, CERT_STORE_ADD_REPLACE_EXISTING,
    CERT_STORE_CTRL_COMMIT, CERT_STORE_PROV_SYSTEM_W, CERT_SYSTEM_STORE_CURRENT_USER, CRYPT_DELETEKEYSET,
    CRYPT_EXPORTABLE, CRYPT_INTEGER_BLOB, CRYPT_KEY_FLAGS, CRYPT_KEY_PROV_INFO, CRYPT_MACHINE_KEYSET, CRYPT_SILENT,
    CRYPT_USER_KEYSET, HCERTSTORE, NCRYPTBUFFER_PKCS_ALG_OID, NCRYPTBUFFER_PKCS_ALG_PARAM, NCRYPTBUFFER_PKCS_SECRET,
    NCRYPT_HANDLE, NCRYPT_KEY_HANDLE, NCRYPT_MACHINE_KEY_FLAG, NCRYPT_PKCS8_PRIVATE_KEY_BLOB, NCRYPT_PROV_HANDLE,
    NCRYPT_SILENT_FLAG, PKCS12_ALWAYS_CNG_KSP, PKCS_7_ASN_ENCODING, PRIVATEKEYBLOB, X509_ASN_ENCODING,
};
use zeroize::Zeroizing;

use super::{
    transfer_password, CertStore, Identity, ImportReport, ImportedItem, StoreError, StoreOperation, StoredCertificate,
};
use crate::cert::{self, Certificate};

const ENCODING: CERT_QUERY_ENCODING_TYPE = CERT_QUERY_ENCODING_TYPE(X509_ASN_ENCODING.0 | PKCS_7_ASN_ENCODING.0);
/// `dwKeySpec` values of CryptoAPI keys.
const AT_KEYEXCHANGE: u32 = 1;
const AT_SIGNATURE: u32 = 2;
/// "Keyset does not exist" and "key does not exist": the key is already gone.
const NTE_BAD_KEYSET_CODE: u32 = 0x8009_0016;
const NTE_NO_KEY_CODE: u32 = 0x8009_000D;
const CRYPT_E_EXISTS: i32 = 0x8009_2005_u32 as i32;
const MY: &str = "windows:CurrentUser\\MY";

/// The error of a failed Windows call: its name and the HRESULT it left (the `windows` crate reads `GetLastError`, or
/// takes the returned status, right after the call, before anything else can overwrite it), with the system's text for
/// it in the user's language.
fn sys(
    operation: StoreOperation,
    function: &'static str,
    store: &str,
) -> impl FnOnce(windows::core::Error) -> StoreError {
    let store = store.to_string();
    move |e| {
        let code = e.code().0 as u32;
        let system_message = if code == 0 { String::new() } else { e.message().trim().to_string() };
        StoreError::System { operation, function, code, system_message, store }
    }
}

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
        h.map(Store).map_err(sys(StoreOperation::Open, "CertOpenStore", &format!("windows:CurrentUser\\{name}")))
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

impl Store {
    /// Asks the store to write its changes now (a no-op where they already are), so a change is on disk before it is
    /// reported done. A refusal is only logged: the change itself succeeded.
    fn commit(&self) {
        // SAFETY: `self.0` is an open store; COMMIT takes no parameter.
        if let Err(e) = unsafe { CertControlStore(self.0, CERT_CONTROL_STORE_FLAGS(0), CERT_STORE_CTRL_COMMIT, None) } {
            tracing::debug!(code = format_args!("0x{:08X}", e.code().0 as u32), "CertControlStore(COMMIT) refused");
        }
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
    /// Where the private key of this certificate is kept, from its key-provider property; `None` without a key.
    fn key_location(&self) -> Option<KeyLocation> {
        let buf = self.property(CERT_KEY_PROV_INFO_PROP_ID)?;
        if buf.len() < std::mem::size_of::<CRYPT_KEY_PROV_INFO>() {
            return None;
        }
        // SAFETY: the property is a CRYPT_KEY_PROV_INFO followed by the strings it points to, all inside `buf`, which
        // outlives the copies made below; read_unaligned because a byte buffer promises no alignment.
        let info = unsafe { std::ptr::read_unaligned(buf.as_ptr() as *const CRYPT_KEY_PROV_INFO) };
        Some(KeyLocation {
            container: wide_to_string(info.pwszContainerName),
            provider: wide_to_string(info.pwszProvName),
            provider_type: info.dwProvType,
            machine: info.dwFlags.0 & CRYPT_MACHINE_KEYSET.0 != 0,
            key_spec: info.dwKeySpec,
        })
    }

    /// (has a private key, the key is on a smartcard).
    fn key_state(&self) -> (bool, bool) {
        match self.key_location() {
            Some(location) => (true, location.on_smartcard()),
            None => (self.property(CERT_KEY_PROV_INFO_PROP_ID).is_some(), false),
        }
    }

    fn sha256(&self) -> String {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(self.der()))
    }
}

fn wide_to_string(p: PWSTR) -> String {
    if p.is_null() {
        return String::new();
    }
    // SAFETY: a non-null PWSTR from the API is NUL-terminated.
    unsafe { p.to_string() }.unwrap_or_default()
}

fn wide(s: &str) -> Zeroizing<Vec<u16>> {
    Zeroizing::new(s.encode_utf16().chain(Some(0)).collect())
}

/// An NCrypt provider or key handle, freed on drop.
struct NcryptObject(usize);

impl Drop for NcryptObject {
    fn drop(&mut self) {
        // SAFETY: the handle came from NCryptOpenStorageProvider/NCryptOpenKey and is freed once.
        let _ = unsafe { NCryptFreeObject(NCRYPT_HANDLE(self.0)) };
    }
}

/// A CryptoAPI provider context, released on drop.
struct CapiProvider(usize);

impl Drop for CapiProvider {
    fn drop(&mut self) {
        // SAFETY: the context came from CryptAcquireContextW and is released once.
        let _ = unsafe { CryptReleaseContext(self.0, 0) };
    }
}

/// A CryptoAPI key handle, destroyed on drop (the persisted key stays).
struct CapiKey(usize);

impl Drop for CapiKey {
    fn drop(&mut self) {
        // SAFETY: the handle came from CryptGetUserKey and is destroyed once.
        let _ = unsafe { CryptDestroyKey(self.0) };
    }
}

/// Where a certificate's private key is kept (`CERT_KEY_PROV_INFO_PROP_ID`): a CNG key (provider type 0) or a
/// CryptoAPI key container.
struct KeyLocation {
    container: String,
    provider: String,
    provider_type: u32,
    machine: bool,
    key_spec: u32,
}

impl KeyLocation {
    fn on_smartcard(&self) -> bool {
        self.provider.to_ascii_lowercase().contains("smart card")
    }

    fn is_cng(&self) -> bool {
        self.provider_type == 0
    }

    /// Opens the CNG key.
    fn open_cng(&self, op: StoreOperation) -> Result<NcryptObject, StoreError> {
        let provider = wide(&self.provider);
        let container = wide(&self.container);
        let mut prov = NCRYPT_PROV_HANDLE::default();
        // SAFETY: `provider` is NUL-terminated and outlives the call; the handle is written on success and freed by
        // `NcryptObject`'s drop (an open key keeps its own reference to the provider).
        unsafe { NCryptOpenStorageProvider(&mut prov, PCWSTR(provider.as_ptr()), 0) }.map_err(sys(
            op,
            "NCryptOpenStorageProvider",
            MY,
        ))?;
        let prov = NcryptObject(prov.0);
        let mut key = NCRYPT_KEY_HANDLE::default();
        let flags = if self.machine { NCRYPT_SILENT_FLAG | NCRYPT_MACHINE_KEY_FLAG } else { NCRYPT_SILENT_FLAG };
        // SAFETY: `prov` is open, `container` NUL-terminated and alive; the key handle is written on success.
        unsafe {
            NCryptOpenKey(
                NCRYPT_PROV_HANDLE(prov.0),
                &mut key,
                PCWSTR(container.as_ptr()),
                CERT_KEY_SPEC(self.key_spec),
                flags,
            )
        }
        .map_err(sys(op, "NCryptOpenKey", MY))?;
        Ok(NcryptObject(key.0))
    }

    /// Deletes the persisted key.
    fn delete(&self, op: StoreOperation) -> Result<(), StoreError> {
        if self.is_cng() {
            let key = self.open_cng(op)?;
            // SAFETY: `key` is an open key handle; on success NCryptDeleteKey deletes the key and frees the handle.
            match unsafe { NCryptDeleteKey(NCRYPT_KEY_HANDLE(key.0), 0) } {
                Ok(()) => {
                    std::mem::forget(key);
                    Ok(())
                }
                Err(e) => Err(sys(op, "NCryptDeleteKey", MY)(e)),
            }
        } else {
            let provider = wide(&self.provider);
            let container = wide(&self.container);
            let machine = if self.machine { CRYPT_MACHINE_KEYSET.0 } else { 0 };
            let mut h = 0usize;
            // SAFETY: both names are NUL-terminated and outlive the call; with CRYPT_DELETEKEYSET the container is
            // deleted and no context is returned, so there is nothing to release.
            unsafe {
                CryptAcquireContextW(
                    &mut h,
                    PCWSTR(container.as_ptr()),
                    PCWSTR(provider.as_ptr()),
                    self.provider_type,
                    CRYPT_DELETEKEYSET | CRYPT_SILENT | machine,
                )
            }
            .map_err(sys(op, "CryptAcquireContextW", MY))
        }
    }

    /// The private key as PKCS#8 DER, from the provider that holds it.
    fn export_pkcs8(&self, sha256: &str) -> Result<Zeroizing<Vec<u8>>, StoreError> {
        let op = StoreOperation::Export;
        tracing::debug!(
            container = %self.container,
            provider = %self.provider,
            provider_type = self.provider_type,
            key_spec = self.key_spec,
            "exporting the private key"
        );
        let refused = |function: &'static str| {
            let sha256 = sha256.to_string();
            move |e: windows::core::Error| {
                let c = e.code();
                if c == NTE_BAD_KEY_STATE || c == NTE_PERM || c == NTE_NOT_SUPPORTED {
                    StoreError::NotExportable { sha256 }
                } else {
                    sys(op, function, MY)(e)
                }
            }
        };
        if self.is_cng() {
            let key = self.open_cng(op)?;
            match ncrypt_export(&key, None) {
                Ok(pkcs8) => return Ok(pkcs8),
                Err(e) => tracing::info!(
                    function = "NCryptExportKey",
                    code = format_args!("0x{:08X}", e.code().0 as u32),
                    "plaintext export of the CNG key refused (the key allows encrypted export only): exporting it \
                     encrypted with a one-time password"
                ),
            }
            // Encrypted PKCS#8 (PKCS#12 PBE SHA-1/3DES, the scheme every CNG version offers), decrypted here: the key
            // is encrypted between the key storage provider and our memory.
            let pw = transfer_password();
            let mut secret = wide(&pw);
            let mut oid = *b"1.2.840.113549.1.12.1.3\0";
            let mut param = [0u8; 16];
            param[..4].copy_from_slice(&[0x30, 0x0e, 0x04, 0x08]);
            {
                use rand::RngCore;
                rand::thread_rng().fill_bytes(&mut param[4..12]);
            }
            param[12..].copy_from_slice(&[0x02, 0x02, 0x07, 0xd0]); // 2000 iterations
            let mut buffers = [
                BCryptBuffer {
                    cbBuffer: (secret.len() * 2) as u32,
                    BufferType: NCRYPTBUFFER_PKCS_SECRET,
                    pvBuffer: secret.as_mut_ptr().cast(),
                },
                BCryptBuffer {
                    cbBuffer: oid.len() as u32,
                    BufferType: NCRYPTBUFFER_PKCS_ALG_OID,
                    pvBuffer: oid.as_mut_ptr().cast(),
                },
                BCryptBuffer {
                    cbBuffer: param.len() as u32,
                    BufferType: NCRYPTBUFFER_PKCS_ALG_PARAM,
                    pvBuffer: param.as_mut_ptr().cast(),
                },
            ];
            let desc =
                BCryptBufferDesc { ulVersion: 0, cBuffers: buffers.len() as u32, pBuffers: buffers.as_mut_ptr() };
            let epki = ncrypt_export(&key, Some(&desc)).map_err(refused("NCryptExportKey"))?;
            Ok(crate::pkcs12::decrypt_private_key_info(&epki, &pw)?)
        } else {
            let provider = wide(&self.provider);
            let container = wide(&self.container);
            let machine = if self.machine { CRYPT_MACHINE_KEYSET.0 } else { 0 };
            let mut h = 0usize;
            // SAFETY: both names are NUL-terminated and outlive the call; the context is released by `CapiProvider`.
            unsafe {
                CryptAcquireContextW(
                    &mut h,
                    PCWSTR(container.as_ptr()),
                    PCWSTR(provider.as_ptr()),
                    self.provider_type,
                    CRYPT_SILENT | machine,
                )
            }
            .map_err(sys(op, "CryptAcquireContextW", MY))?;
            let prov = CapiProvider(h);
            // The recorded key spec (AT_KEYEXCHANGE or AT_SIGNATURE); when the property holds anything else (Wine 8.0
            // records 3), each of the two in turn.
            let specs: &[u32] = match self.key_spec {
                AT_KEYEXCHANGE | AT_SIGNATURE => &[self.key_spec],
                _ => &[AT_KEYEXCHANGE, AT_SIGNATURE],
            };
            let mut found = Err(StoreError::NoPrivateKey { sha256: sha256.to_string(), store: MY.into() });
            for spec in specs {
                let mut k = 0usize;
                // SAFETY: `prov` is an open context; the key handle is destroyed by `CapiKey`.
                match unsafe { CryptGetUserKey(prov.0, *spec, &mut k) } {
                    Ok(()) => {
                        found = Ok(CapiKey(k));
                        break;
                    }
                    Err(e) => found = Err(sys(op, "CryptGetUserKey", MY)(e)),
                }
            }
            let key = found?;
            let mut len = 0u32;
            // SAFETY: the first call only sizes the blob.
            unsafe { CryptExportKey(key.0, 0, PRIVATEKEYBLOB, CRYPT_KEY_FLAGS(0), None, &mut len) }
                .map_err(refused("CryptExportKey"))?;
            let mut blob = Zeroizing::new(vec![0u8; len as usize]);
            // SAFETY: `blob` holds the `len` bytes the first call asked for.
            unsafe { CryptExportKey(key.0, 0, PRIVATEKEYBLOB, CRYPT_KEY_FLAGS(0), Some(blob.as_mut_ptr()), &mut len) }
                .map_err(refused("CryptExportKey"))?;
            blob.truncate(len as usize);
            crate::pkcs12::rsa_pkcs8_from_cryptoapi_blob(&blob).ok_or_else(|| StoreError::Backend {
                operation: "export key",
                store: MY.into(),
                detail: "the key is not an RSA key in the PRIVATEKEYBLOB format".into(),
            })
        }
    }
}

/// `NCryptExportKey` to PKCS#8 (encrypted when `params` carry a password), sized then filled.
fn ncrypt_export(
    key: &NcryptObject,
    params: Option<*const BCryptBufferDesc>,
) -> windows::core::Result<Zeroizing<Vec<u8>>> {
    let mut len = 0u32;
    // SAFETY: the first call only sizes the output; `params`, when given, points at buffers alive for the call.
    unsafe {
        NCryptExportKey(
            NCRYPT_KEY_HANDLE(key.0),
            None,
            NCRYPT_PKCS8_PRIVATE_KEY_BLOB,
            params,
            None,
            &mut len,
            NCRYPT_SILENT_FLAG,
        )
    }?;
    let mut out = Zeroizing::new(vec![0u8; len as usize]);
    // SAFETY: `out` holds the `len` bytes the first call asked for.
    unsafe {
        NCryptExportKey(
            NCRYPT_KEY_HANDLE(key.0),
            None,
            NCRYPT_PKCS8_PRIVATE_KEY_BLOB,
            params,
            Some(&mut out[..]),
            &mut len,
            NCRYPT_SILENT_FLAG,
        )
    }?;
    out.truncate(len as usize);
    Ok(out)
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
    let wanted = super::normalize_fingerprint(sha256)?;
    store
        .contexts()
        .into_iter()
        .find(|c| c.sha256() == wanted)
        .ok_or(StoreError::NotFound { sha256: wanted, store: MY.into() })
}

/// Adds `ctx` to `store` (`name` for errors); `Ok(None)` when it was already there.
fn add(store: &Store, name: &str, ctx: *const CERT_CONTEXT, disposition: u32) -> Result<Option<Ctx>, StoreError> {
    let mut added: *mut CERT_CONTEXT = std::ptr::null_mut();
    // SAFETY: `ctx` is a valid context of the temporary PFX store; `added` receives an owned context.
    match unsafe { CertAddCertificateContextToStore(Some(store.0), ctx, disposition, Some(&mut added)) } {
        Ok(()) => Ok(Some(Ctx(added))),
        Err(e) if e.code().0 == CRYPT_E_EXISTS => Ok(None),
        Err(e) => Err(sys(StoreOperation::Import, "CertAddCertificateContextToStore", name)(e)),
    }
}

/// Imports the PKCS#12 into a temporary store, its key persisted in the user's key storage (exportable, so the user
/// can back it up later, as the Windows import wizard offers). The CNG key storage provider first; if it refuses,
/// the legacy CryptoAPI provider, with the reason logged.
fn import_pfx(pfx: &[u8], password: &str) -> Result<Store, StoreError> {
    let blob = CRYPT_INTEGER_BLOB { cbData: pfx.len() as u32, pbData: pfx.as_ptr() as *mut u8 };
    let wpw = wide(password);
    let cng = CRYPT_USER_KEYSET | CRYPT_EXPORTABLE | PKCS12_ALWAYS_CNG_KSP;
    // SAFETY: `blob` points at `pfx`, `wpw` is NUL-terminated; both outlive the call.
    match unsafe { PFXImportCertStore(&blob, PCWSTR(wpw.as_ptr()), cng) } {
        Ok(h) => return Ok(Store(h)),
        // Logged at info: the import goes on and succeeds, and stderr stays clean for `--json` callers
        // (TROUSSEAU_LOG=info shows it).
        Err(e) => tracing::info!(
            function = "PFXImportCertStore",
            flags = format_args!("0x{:04X}", cng.0),
            code = format_args!("0x{:08X}", e.code().0 as u32),
            reason = %e.message().trim(),
            "the CNG key storage provider refused the key (PKCS12_ALWAYS_CNG_KSP): importing it into the legacy \
             CryptoAPI provider instead"
        ),
    }
    let legacy = CRYPT_USER_KEYSET | CRYPT_EXPORTABLE;
    // SAFETY: as above.
    unsafe { PFXImportCertStore(&blob, PCWSTR(wpw.as_ptr()), legacy) }.map(Store).map_err(sys(
        StoreOperation::Import,
        "PFXImportCertStore",
        MY,
    ))
}

impl CertStore for WindowsStore {
    fn location(&self) -> String {
        MY.into()
    }

    fn list(&mut self) -> Result<Vec<StoredCertificate>, StoreError> {
        let roots: HashSet<Vec<u8>> = Store::system("Root")?.contexts().iter().map(Ctx::der).collect();
        Ok(Store::system("MY")?.contexts().iter().filter_map(|c| stored(c, &roots)).collect())
    }

    fn install_identity(&mut self, identity: &Identity) -> Result<ImportReport, StoreError> {
        let pw = transfer_password();
        let name = identity.name();
        // 3DES: every Windows version imports it (Server 2016 and older refuse AES); the file never leaves memory.
        let pfx = Zeroizing::new(identity.to_pkcs12(&pw, crate::pkcs12::Encryption::Legacy)?);
        // The stores open first: once PFXImportCertStore has persisted the key, every way out cleans it up.
        let my = Store::system("MY")?;
        let ca = Store::system("CA")?;
        let leaf_sha = &identity.certificate.sha256;
        let existing = find_ctx(&my, leaf_sha).ok();
        let existing_key = existing.as_ref().and_then(Ctx::key_location);
        let temp = import_pfx(&pfx, &pw)?;
        let contexts = temp.contexts();
        // The key PFXImportCertStore just persisted (a new container): it stays only if its certificate is added.
        let new_key = contexts.iter().find(|c| &c.sha256() == leaf_sha).and_then(Ctx::key_location);
        let mut added: Vec<Ctx> = Vec::new();
        let mut items = Vec::new();
        let mut key_kept = false;
        let result: Result<(), StoreError> = (|| {
            // The certificate with its key, from the store PFXImportCertStore made.
            let leaf_ctx = contexts.iter().find(|c| &c.sha256() == leaf_sha).ok_or_else(|| StoreError::Backend {
                operation: "import PKCS#12",
                store: MY.into(),
                detail: "PFXImportCertStore returned no certificate for the key".into(),
            })?;
            let present = if existing_key.is_some() {
                true // already installed with its key
            } else {
                // New, or there without its key: the context carrying the key goes in (replacing the bare one).
                let disposition = if existing.is_some() { CERT_STORE_ADD_REPLACE_EXISTING } else { CERT_STORE_ADD_NEW };
                let new = add(&my, MY, leaf_ctx.0, disposition)?;
                key_kept = new.is_some();
                let present = new.is_none();
                if existing.is_none() {
                    added.extend(new);
                }
                present
            };
            let c = &identity.certificate;
            for kind in ["private_key", "certificate"] {
                items.push(ImportedItem {
                    kind,
                    sha256: c.sha256.clone(),
                    subject: c.subject.clone(),
                    nickname: Some(name.clone()),
                    already_present: present,
                });
            }
            // Its issuers go to the intermediate authorities ("CA"), from our own reading of the file: trusting a root
            // is the user's explicit choice (`import_ca`), and PFX importers differ in which chain certificates they
            // keep (Wine 8.0 keeps none).
            for c in &identity.chain {
                let mut new: *mut CERT_CONTEXT = std::ptr::null_mut();
                // SAFETY: `c.der` is a DER certificate alive for the call; `new` receives an owned context.
                let present = match unsafe {
                    CertAddEncodedCertificateToStore(Some(ca.0), ENCODING, &c.der, CERT_STORE_ADD_NEW, Some(&mut new))
                } {
                    Ok(()) => {
                        added.push(Ctx(new));
                        false
                    }
                    Err(e) if e.code().0 == CRYPT_E_EXISTS => true,
                    Err(e) => {
                        return Err(sys(
                            StoreOperation::Import,
                            "CertAddEncodedCertificateToStore",
                            "windows:CurrentUser\\CA",
                        )(e))
                    }
                };
                items.push(ImportedItem {
                    kind: "ca_certificate",
                    sha256: c.sha256.clone(),
                    subject: c.subject.clone(),
                    nickname: c.subject_cn.clone(),
                    already_present: present,
                });
            }
            Ok(())
        })();
        if result.is_err() {
            for ctx in added.into_iter().rev() {
                // SAFETY: deleting consumes a duplicate of the context we added; ours is freed by its drop.
                let _ = unsafe { CertDeleteCertificateFromStore(CertDuplicateCertificateContext(Some(ctx.0))) };
            }
            key_kept = false;
        }
        if let Some(key) =
            new_key.filter(|k| !key_kept && existing_key.as_ref().is_none_or(|e| e.container != k.container))
        {
            // A duplicate import, or one rolled back: the container made for it must not stay behind.
            if let Err(e) = key.delete(StoreOperation::Import) {
                tracing::warn!(error = %e, container = %key.container, "could not delete the unused key container");
            }
        }
        my.commit();
        ca.commit();
        result?;
        let already_present = items.iter().all(|i| i.already_present);
        Ok(ImportReport { store: self.location(), sha256: identity.certificate.sha256.clone(), items, already_present })
    }

    fn extract_identity(&mut self, sha256: &str) -> Result<Identity, StoreError> {
        let my = Store::system("MY")?;
        let ctx = find_ctx(&my, sha256)?;
        let wanted = super::normalize_fingerprint(sha256)?;
        let Some(location) = ctx.key_location() else {
            return Err(StoreError::NoPrivateKey { sha256: wanted, store: self.location() });
        };
        if location.on_smartcard() {
            return Err(StoreError::OnToken { sha256: wanted });
        }
        let key_pkcs8 = location.export_pkcs8(&wanted)?;
        let mut identity = Identity {
            key_pkcs8,
            certificate: cert::parse_der(&ctx.der())?,
            chain: Vec::new(),
            friendly_name: ctx.friendly_name(),
        };
        // Add the issuers Windows knows (intermediate and root stores).
        let pool: Vec<Certificate> = ["CA", "Root"]
            .iter()
            .filter_map(|n| Store::system(n).ok())
            .flat_map(|s| s.contexts().iter().map(Ctx::der).collect::<Vec<_>>())
            .filter_map(|d| cert::parse_der(&d).ok())
            .collect();
        identity.complete_chain(&pool);
        Ok(identity)
    }

    fn remove(&mut self, sha256: &str) -> Result<StoredCertificate, StoreError> {
        let my = Store::system("MY")?;
        let ctx = find_ctx(&my, sha256)?;
        let s = stored(&ctx, &HashSet::new()).ok_or_else(|| StoreError::Backend {
            operation: "read certificate",
            store: MY.into(),
            detail: "unreadable certificate".into(),
        })?;
        // The private key goes first (a certificate left without its key is harmless, the reverse is not), unless it
        // lives on a smartcard: a card's key is never deleted from here.
        // A key that is already gone (its container deleted elsewhere) does not keep the certificate in the store.
        if let Some(location) = ctx.key_location().filter(|l| !l.on_smartcard()) {
            match location.delete(StoreOperation::Remove) {
                Err(StoreError::System { code: NTE_BAD_KEYSET_CODE | NTE_NO_KEY_CODE, function, .. }) => {
                    tracing::info!(function, container = %location.container, "the private key was already gone")
                }
                other => other?,
            }
        }
        // SAFETY: deleting consumes a duplicate; `ctx` itself is freed by its drop.
        unsafe { CertDeleteCertificateFromStore(CertDuplicateCertificateContext(Some(ctx.0))) }.map_err(sys(
            StoreOperation::Remove,
            "CertDeleteCertificateFromStore",
            MY,
        ))?;
        my.commit();
        Ok(s)
    }

    fn import_ca(&mut self, ca: &Certificate) -> Result<ImportReport, StoreError> {
        if !ca.is_ca {
            return Err(StoreError::NotCa { sha256: ca.sha256.clone() });
        }
        const ROOT: &str = "windows:CurrentUser\\Root";
        let root = Store::system("Root")?;
        // SAFETY: `ca.der` is a DER certificate; Windows asks the user to confirm a new trusted root.
        let present = match unsafe {
            CertAddEncodedCertificateToStore(Some(root.0), ENCODING, &ca.der, CERT_STORE_ADD_NEW, None)
        } {
            Ok(()) => false,
            Err(e) if e.code().0 == CRYPT_E_EXISTS => true,
            Err(e) => return Err(sys(StoreOperation::TrustAuthority, "CertAddEncodedCertificateToStore", ROOT)(e)),
        };
        root.commit();
        Ok(ImportReport::authority(ROOT.into(), ca, ca.subject_cn.clone(), present))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::{Coded, Lang};

    /// Regression (issue 12): a failing call is reported with its name and its own HRESULT, never as "Success".
    #[test]
    fn a_failed_call_keeps_its_function_name_and_hresult() {
        let e = sys(StoreOperation::Remove, "NCryptDeleteKey", MY)(windows::core::Error::from_hresult(NTE_PERM));
        assert!(matches!(&e, StoreError::System { function: "NCryptDeleteKey", code: 0x8009_0010, .. }), "{e:?}");
        assert_eq!(e.code(), "store.system");
        assert!(e.message(Lang::En).contains("NCryptDeleteKey returned error 0x80090010"), "{}", e.message(Lang::En));
        let silent = sys(StoreOperation::Import, "PFXImportCertStore", MY)(windows::core::Error::from_hresult(
            windows::core::HRESULT(0),
        ));
        for lang in [Lang::Fr, Lang::En, Lang::De] {
            assert!(!silent.message(lang).to_lowercase().contains("success"), "{}", silent.message(lang));
        }
    }

    /// A file PFXImportCertStore cannot read fails through both providers and names the function.
    #[test]
    fn an_unreadable_pfx_names_pfximportcertstore() {
        match import_pfx(b"not a PKCS#12 file", "password") {
            Err(StoreError::System { function, operation, .. }) => {
                assert_eq!(function, "PFXImportCertStore");
                assert_eq!(operation, StoreOperation::Import);
            }
            Err(other) => panic!("unexpected error {other:?}"),
            Ok(_) => panic!("garbage imported"),
        }
    }

    #[test]
    fn key_locations_know_smartcards_and_cng() {
        let k = |provider: &str, provider_type| KeyLocation {
            container: "c".into(),
            provider: provider.into(),
            provider_type,
            machine: false,
            key_spec: 1,
        };
        assert!(k("Microsoft Smart Card Key Storage Provider", 0).on_smartcard());
        assert!(k("Microsoft Base Smart Card Crypto Provider", 1).on_smartcard());
        assert!(!k("Microsoft Software Key Storage Provider", 0).on_smartcard());
        assert!(k("Microsoft Software Key Storage Provider", 0).is_cng());
        assert!(!k("Microsoft Enhanced Cryptographic Provider v1.0", 1).is_cng());
    }
}

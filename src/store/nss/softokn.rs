//! NSS's software token (softokn) loaded in-process as a PKCS#11 module: found on disk, initialised once per process
//! on one database directory (NSS's `LibraryParameters` extension), re-initialised when another directory is asked
//! for, and logged in when the database has a primary password.
//!
//! The one unsafe call of the NSS backend is here: `CInitializeArgs::new_with_reserved` hands softokn its parameter
//! string as a raw pointer.
#![allow(unsafe_code)]

use super::*;

/// Where softokn may live (Debian/Ubuntu multiarch, Fedora, Arch), then the loader's own search.
pub(super) const SOFTOKN_CANDIDATES: &[&str] = &[
    "/usr/lib/x86_64-linux-gnu/libsoftokn3.so",
    "/usr/lib/aarch64-linux-gnu/libsoftokn3.so",
    "/usr/lib/x86_64-linux-gnu/nss/libsoftokn3.so",
    "/usr/lib64/libsoftokn3.so",
    "/usr/lib/libsoftokn3.so",
    "/usr/lib/nss/libsoftokn3.so",
];

/// The process-wide softokn instance and the directory it was initialised on.
pub(super) struct Softokn {
    pub(super) pkcs11: Pkcs11,
    pub(super) slot: Slot,
    pub(super) dir: PathBuf,
    /// The database has a primary password: private keys need a login.
    pub(super) needs_login: bool,
    /// Keeps the login alive (PKCS#11 logs out when an application's last session closes).
    pub(super) login: Option<Session>,
    pub(super) _params: CString,
}

impl Softokn {
    pub(super) fn log_in(&mut self, password: &str, store: &str) -> Result<(), StoreError> {
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

    pub(super) fn finalize(self) {
        let Softokn { pkcs11, login, .. } = self;
        drop(login);
        let _ = pkcs11.finalize();
    }
}

pub(super) static SOFTOKN: Mutex<Option<Softokn>> = Mutex::new(None);

pub(super) fn lock_softokn() -> MutexGuard<'static, Option<Softokn>> {
    SOFTOKN.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

pub(super) fn ensure_softokn<'a>(
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

pub(super) fn init_softokn(dir: &Path) -> Result<Softokn, StoreError> {
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

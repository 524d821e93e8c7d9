//! A direct `C_GetTokenInfo`, for modules whose token information cryptoki 0.12 cannot parse; and `C_SetPIN` /
//! `C_InitPIN` with no PIN, for readers with a PIN pad (protected authentication path), which cryptoki cannot pass
//! (its `AuthPin` is never a null pointer, and PKCS#11 says the pad is used when the PIN pointer is `NULL_PTR`).
//!
//! cryptoki's `get_token_info` fails as a whole ("Error parsing string as integer") when a token sets
//! `CKF_CLOCK_ON_TOKEN` with a `utcTime` that is not 14 ASCII digits — opencryptoki's soft token does, which
//! made its tokens invisible. We only need the label, manufacturer, model, serial number and flags, so this
//! module reads `CK_TOKEN_INFO` itself through the module's function list (the module is already initialised
//! by cryptoki on the same worker thread; loading the library again only takes another reference to it).
#![allow(unsafe_code)]

use std::os::raw::{c_uchar, c_ulong};
use std::path::Path;

/// `CK_VERSION`.
#[repr(C)]
#[derive(Default, Clone, Copy)]
#[allow(dead_code)]
struct CkVersion {
    major: c_uchar,
    minor: c_uchar,
}

/// `CK_TOKEN_INFO` (PKCS#11 2.40 §3.2; packed to 1 byte on Windows, natural alignment elsewhere).
#[cfg_attr(windows, repr(C, packed(1)))]
#[cfg_attr(not(windows), repr(C))]
#[allow(dead_code)]
struct CkTokenInfo {
    label: [u8; 32],
    manufacturer_id: [u8; 32],
    model: [u8; 16],
    serial_number: [u8; 16],
    flags: c_ulong,
    max_session_count: c_ulong,
    session_count: c_ulong,
    max_rw_session_count: c_ulong,
    rw_session_count: c_ulong,
    max_pin_len: c_ulong,
    min_pin_len: c_ulong,
    total_public_memory: c_ulong,
    free_public_memory: c_ulong,
    total_private_memory: c_ulong,
    free_private_memory: c_ulong,
    hardware_version: CkVersion,
    firmware_version: CkVersion,
    utc_time: [u8; 16],
}

type GetTokenInfo = unsafe extern "C" fn(slot: c_ulong, info: *mut CkTokenInfo) -> c_ulong;

/// The start of `CK_FUNCTION_LIST`: a version, then the function pointers in the standard's order.
#[cfg_attr(windows, repr(C, packed(1)))]
#[cfg_attr(not(windows), repr(C))]
#[allow(dead_code)]
struct FunctionListHead {
    version: CkVersion,
    c_initialize: Option<unsafe extern "C" fn()>,
    c_finalize: Option<unsafe extern "C" fn()>,
    c_get_info: Option<unsafe extern "C" fn()>,
    c_get_function_list: Option<unsafe extern "C" fn()>,
    c_get_slot_list: Option<unsafe extern "C" fn()>,
    c_get_slot_info: Option<unsafe extern "C" fn()>,
    c_get_token_info: Option<GetTokenInfo>,
    c_get_mechanism_list: Option<unsafe extern "C" fn()>,
    c_get_mechanism_info: Option<unsafe extern "C" fn()>,
    c_init_token: Option<unsafe extern "C" fn()>,
    c_init_pin: Option<InitPin>,
    c_set_pin: Option<SetPin>,
}

type InitPin = unsafe extern "C" fn(session: c_ulong, pin: *const c_uchar, len: c_ulong) -> c_ulong;
type SetPin = unsafe extern "C" fn(
    session: c_ulong,
    old: *const c_uchar,
    old_len: c_ulong,
    new: *const c_uchar,
    new_len: c_ulong,
) -> c_ulong;

type GetFunctionList = unsafe extern "C" fn(list: *mut *const FunctionListHead) -> c_ulong;

/// What we read from `CK_TOKEN_INFO`.
pub(crate) struct RawTokenInfo {
    pub label: String,
    pub manufacturer: String,
    pub model: String,
    pub serial: String,
    pub flags: u64,
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).trim_end_matches([' ', '\0']).trim().to_string()
}

/// The (already loaded and initialised) module at `path`, and its function list.
fn function_list(path: &Path) -> Result<(libloading::Library, *const FunctionListHead), String> {
    // SAFETY: loading a library runs its initialisers; this library is already loaded and initialised by
    // cryptoki in this process (same path), so this only takes another reference to it.
    let lib = unsafe { libloading::Library::new(path) }.map_err(|e| e.to_string())?;
    let mut list: *const FunctionListHead = std::ptr::null();
    {
        // SAFETY: `C_GetFunctionList` has this signature in every PKCS#11 module (PKCS#11 2.40 §5.2).
        let get_list: libloading::Symbol<GetFunctionList> =
            unsafe { lib.get(b"C_GetFunctionList\0") }.map_err(|e| e.to_string())?;
        // SAFETY: we pass a valid out-pointer; the module writes a pointer to its static function list.
        let rv = unsafe { get_list(&mut list) };
        if rv != 0 || list.is_null() {
            return Err(format!("C_GetFunctionList returned {rv:#x}"));
        }
    }
    Ok((lib, list))
}

/// `C_SetPIN(session, NULL_PTR, 0, NULL_PTR, 0)`: the reader's PIN pad asks for the current and the new PIN.
/// Returns the module's `CK_RV`.
pub(crate) fn set_pin_on_pad(path: &Path, session: c_ulong) -> Result<c_ulong, String> {
    let (_lib, list) = function_list(path)?;
    // SAFETY: `list` points to the module's CK_FUNCTION_LIST, laid out as FunctionListHead up to C_SetPIN; it stays
    // valid while `_lib` keeps the library loaded.
    let set_pin = unsafe { std::ptr::read_unaligned(std::ptr::addr_of!((*list).c_set_pin)) }
        .ok_or_else(|| "no C_SetPIN".to_string())?;
    // SAFETY: a session handle the module gave; null PINs with zero lengths are how PKCS#11 asks for the pad.
    Ok(unsafe { set_pin(session, std::ptr::null(), 0, std::ptr::null(), 0) })
}

/// `C_InitPIN(session, NULL_PTR, 0)` in a session logged in as SO: the PIN pad asks for the new PIN.
pub(crate) fn init_pin_on_pad(path: &Path, session: c_ulong) -> Result<c_ulong, String> {
    let (_lib, list) = function_list(path)?;
    // SAFETY: as in `set_pin_on_pad`.
    let init_pin = unsafe { std::ptr::read_unaligned(std::ptr::addr_of!((*list).c_init_pin)) }
        .ok_or_else(|| "no C_InitPIN".to_string())?;
    // SAFETY: a session handle the module gave; a null PIN with zero length asks for the pad.
    Ok(unsafe { init_pin(session, std::ptr::null(), 0) })
}

/// Calls `C_GetTokenInfo(slot)` of the (already initialised) module at `path`.
pub(crate) fn token_info(path: &Path, slot: u64) -> Result<RawTokenInfo, String> {
    let (_lib, list) = function_list(path)?;
    // SAFETY: `list` points to the module's CK_FUNCTION_LIST, whose first fields are laid out as
    // FunctionListHead; it stays valid while the library is loaded (`_lib` lives until the end of this function).
    let get_info = unsafe { std::ptr::read_unaligned(std::ptr::addr_of!((*list).c_get_token_info)) }
        .ok_or_else(|| "no C_GetTokenInfo".to_string())?;
    let mut info = std::mem::MaybeUninit::<CkTokenInfo>::zeroed();
    let slot = c_ulong::try_from(slot).map_err(|e| e.to_string())?;
    // SAFETY: `info` is a writable CK_TOKEN_INFO-sized buffer; the module is initialised (by cryptoki).
    let rv = unsafe { get_info(slot, info.as_mut_ptr()) };
    if rv != 0 {
        return Err(format!("C_GetTokenInfo returned {rv:#x}"));
    }
    // SAFETY: zero-initialised, then filled by C_GetTokenInfo; every field is plain bytes or integers.
    let info = unsafe { info.assume_init() };
    // `c_ulong` is 32 bits on Windows, 64 elsewhere.
    #[allow(clippy::unnecessary_cast)]
    let flags = info.flags as u64;
    Ok(RawTokenInfo {
        label: text(&info.label),
        manufacturer: text(&info.manufacturer_id),
        model: text(&info.model),
        serial: text(&info.serial_number),
        flags,
    })
}

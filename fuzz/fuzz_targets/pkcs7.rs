//! PKCS#7 certificate bags (BER, indefinite lengths): `cert::read_pkcs7`.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = trousseau::cert::read_pkcs7(data);
});

//! PKCS#12 files with a known and an empty password: `pkcs12::read`.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for password in ["Fixture#Passw0rd", ""] {
        if let Ok(contents) = trousseau::pkcs12::read(data, password) {
            for key in &contents.keys {
                let _ = key.public_key();
            }
            let _ = contents.require_key_and_cert();
        }
    }
});

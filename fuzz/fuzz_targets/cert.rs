//! Any bytes given to `cert inspect`: PEM, DER, bundles, PKCS#7. Must return Ok or a CertError, never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(certs) = trousseau::cert::read_certificates(data) {
        for c in certs {
            // Everything the CLI prints must be computable.
            let _ = serde_json::to_string(&c);
            let _ = trousseau::cert::parse_der(&c.der).expect("a certificate we read must re-parse");
        }
    }
});

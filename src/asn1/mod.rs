//! One ASN.1 layer: the BER/DER reader ([`ber`]), "same public key" ([`public_key`]), RFC 4514 names
//! ([`rfc4514`]) and OID strings ([`oid_string`]). Typed structures (CMS envelopes, OCSP, CRLs, PBES2 parameters) use
//! the RustCrypto `der` crates and certificates x509-parser; what they cannot read (BER with indefinite lengths in
//! PKCS#7 and PKCS#12 files) or what must match OpenSSL byte for byte lives here, once.
//!
//! OID strings stay hand-decoded ([`oid_string`]): asn1-rs 0.7's `Oid::to_id_string` and const-oid 0.10 both
//! decode the first sub-identifier as a single octet, so `2.999.1` (`88 37 01`) prints as `3.16.55.1` or is
//! refused, and const-oid refuses arcs above 2^32 (UUID OIDs under 2.25) and accepts non-minimal `80` octets.

pub mod ber;
pub mod public_key;
pub mod rfc4514;

pub use public_key::same_public_key;

/// Dotted form of an encoded OID (the content octets).
pub fn oid_string(content: &[u8]) -> String {
    let mut arcs: Vec<String> = Vec::new();
    let mut value: u128 = 0;
    for (i, b) in content.iter().enumerate() {
        value = (value << 7) | u128::from(b & 0x7f);
        if value > u128::from(u64::MAX) {
            return format!("#{}", hex::encode(content));
        }
        if b & 0x80 == 0 {
            if arcs.is_empty() {
                let (a, b) = if value < 40 {
                    (0, value)
                } else if value < 80 {
                    (1, value - 40)
                } else {
                    (2, value - 80)
                };
                arcs.push(a.to_string());
                arcs.push(b.to_string());
            } else {
                arcs.push(value.to_string());
            }
            value = 0;
        } else if i + 1 == content.len() {
            return format!("#{}", hex::encode(content));
        }
    }
    arcs.join(".")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oids_in_dotted_form() {
        assert_eq!(oid_string(&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01]), "1.2.840.113549.1.1.1");
        assert_eq!(oid_string(&[0x55, 0x1d, 0x25, 0x00]), "2.5.29.37.0");
        assert_eq!(oid_string(&[0x88, 0x37, 0x01]), "2.999.1");
        assert!(oid_string(&[0x86]).starts_with('#'));
    }
}

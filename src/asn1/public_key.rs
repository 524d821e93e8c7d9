//! "Same public key", one rule for the whole application: a PKCS#12 key and its certificate, a pending request's
//! key and the certificate the authority issued for it (the vault), a key unwrapped from NSS and the certificate it
//! was exported with, the CKA_ID NSS derives from a certificate. Two public keys are the same when their
//! [`PublicKeyId`]s are equal: the RSA modulus (RSA and RSA-PSS alike, leading zeros stripped), or the algorithm OID
//! with the public point/key bits (EC, EdDSA, X25519…). Algorithm parameters' encodings (an absent or an explicit
//! NULL for RSA) never matter.

use super::{ber, oid_string};

/// Public key identity used to match keys and certificates: the RSA modulus, or the EC/EdDSA public point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicKeyId {
    Rsa { modulus: Vec<u8> },
    Point { algorithm: String, point: Vec<u8> },
}

pub const OID_RSA: &str = "1.2.840.113549.1.1.1";
pub const OID_RSA_PSS: &str = "1.2.840.113549.1.1.10";
pub const OID_EC: &str = "1.2.840.10045.2.1";

/// Strips the leading zero octets of an unsigned INTEGER's content.
pub(crate) fn unsigned(bytes: &[u8]) -> Vec<u8> {
    let first = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    bytes[first..].to_vec()
}

/// The public key of a PKCS#8 PrivateKeyInfo / OneAsymmetricKey: RSA modulus; EC point (from the ECPrivateKey's
/// optional publicKey field); Ed25519/Ed448/X25519 public key when the v2 structure carries it.
pub fn public_key_of_pkcs8(pkcs8: &[u8]) -> Option<PublicKeyId> {
    let (pki, _) = ber::read(pkcs8, 0).ok()?;
    let f = pki.children(0).ok()?;
    let alg = f.get(1)?.children(1).ok()?;
    let alg_oid = oid_string(alg.first().filter(|o| o.tag == 0x06)?.content);
    let private = f.get(2).filter(|o| o.tag == 0x04)?.content;
    match alg_oid.as_str() {
        OID_RSA | OID_RSA_PSS => {
            let (rsa, _) = ber::read(private, 1).ok()?;
            let rf = rsa.children(1).ok()?;
            Some(PublicKeyId::Rsa { modulus: unsigned(rf.get(1).filter(|o| o.tag == 0x02)?.content) })
        }
        OID_EC => {
            let (ec, _) = ber::read(private, 1).ok()?;
            let ef = ec.children(1).ok()?;
            let public = ef.iter().find(|o| o.tag == 0xa1)?.children(2).ok()?;
            let bits = public.first().filter(|o| o.tag == 0x03)?.content;
            Some(PublicKeyId::Point { algorithm: alg_oid, point: bits.get(1..)?.to_vec() })
        }
        _ => {
            // OneAsymmetricKey v2: publicKey [1] IMPLICIT BIT STRING.
            let public = f.iter().find(|o| o.tag == 0x81)?;
            Some(PublicKeyId::Point { algorithm: alg_oid, point: public.content.get(1..)?.to_vec() })
        }
    }
}

/// The public key of a DER SubjectPublicKeyInfo, comparable with [`public_key_of_pkcs8`].
pub fn public_key_of_spki(spki: &[u8]) -> Option<PublicKeyId> {
    let (seq, _) = ber::read(spki, 0).ok()?;
    let f = seq.children(0).ok()?;
    let alg = f.first()?.children(1).ok()?;
    let alg_oid = oid_string(alg.first().filter(|o| o.tag == 0x06)?.content);
    let bits = f.get(1).filter(|o| o.tag == 0x03)?.content.get(1..)?;
    match alg_oid.as_str() {
        OID_RSA | OID_RSA_PSS => {
            let (rsa, _) = ber::read(bits, 1).ok()?;
            let rf = rsa.children(1).ok()?;
            Some(PublicKeyId::Rsa { modulus: unsigned(rf.first().filter(|o| o.tag == 0x02)?.content) })
        }
        _ => Some(PublicKeyId::Point { algorithm: alg_oid, point: bits.to_vec() }),
    }
}

/// Whether two DER SubjectPublicKeyInfos carry the same public key (see the module header). Unreadable input is
/// never the same as anything.
pub fn same_public_key(a: &[u8], b: &[u8]) -> bool {
    matches!((public_key_of_spki(a), public_key_of_spki(b)), (Some(x), Some(y)) if x == y)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SubjectPublicKeyInfo of an RSA key with modulus `m` and exponent 65537, with or without the NULL parameters.
    fn rsa_spki(m: &[u8], null: bool) -> Vec<u8> {
        let mut rsa = Vec::new();
        ber::push_tlv(0x02, m, &mut rsa);
        ber::push_tlv(0x02, &[1, 0, 1], &mut rsa);
        let mut rsa_seq = vec![0];
        ber::push_tlv(0x30, &rsa, &mut rsa_seq);
        let mut alg = vec![0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
        if null {
            alg.extend_from_slice(&[0x05, 0x00]);
        }
        let mut body = Vec::new();
        ber::push_tlv(0x30, &alg, &mut body);
        ber::push_tlv(0x03, &rsa_seq, &mut body);
        let mut out = Vec::new();
        ber::push_tlv(0x30, &body, &mut out);
        out
    }

    #[test]
    fn parameters_encoding_and_leading_zeros_do_not_matter() {
        let a = rsa_spki(&[0x00, 0xc1, 0x02, 0x03], true);
        let b = rsa_spki(&[0x00, 0xc1, 0x02, 0x03], false);
        let c = rsa_spki(&[0x00, 0xc1, 0x02, 0x04], true);
        assert!(same_public_key(&a, &b));
        assert!(!same_public_key(&a, &c));
        assert!(!same_public_key(&a, b"garbage"));
        assert_eq!(public_key_of_spki(&a), Some(PublicKeyId::Rsa { modulus: vec![0xc1, 2, 3] }));
    }
}

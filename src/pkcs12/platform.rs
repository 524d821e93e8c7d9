//! Private keys handed over by platform key stores (Windows CryptoAPI and CNG), turned into PKCS#8 for our writer.

use super::*;

/// The parts of an RSA private key, each an unsigned big-endian integer (leading zeros allowed).
pub struct RsaKeyParts<'a> {
    pub modulus: &'a [u8],
    pub public_exponent: &'a [u8],
    pub private_exponent: &'a [u8],
    pub prime1: &'a [u8],
    pub prime2: &'a [u8],
    pub exponent1: &'a [u8],
    pub exponent2: &'a [u8],
    pub coefficient: &'a [u8],
}

/// A non-negative INTEGER from unsigned big-endian bytes.
pub(super) fn der_unsigned(bytes: &[u8], out: &mut Vec<u8>) {
    let trimmed = public_key::unsigned(bytes);
    let mut content = Zeroizing::new(Vec::with_capacity(trimmed.len() + 1));
    if trimmed.first().is_none_or(|b| b & 0x80 != 0) {
        content.push(0);
    }
    content.extend_from_slice(&trimmed);
    ber::push_tlv(0x02, &content, out);
}

/// PKCS#8 `PrivateKeyInfo` (rsaEncryption) holding the PKCS#1 `RSAPrivateKey` made of `parts`.
pub fn rsa_pkcs8(parts: &RsaKeyParts<'_>) -> Zeroizing<Vec<u8>> {
    let mut rsa = Zeroizing::new(Vec::new());
    der_unsigned(&[0], &mut rsa); // version two-prime
    for v in [
        parts.modulus,
        parts.public_exponent,
        parts.private_exponent,
        parts.prime1,
        parts.prime2,
        parts.exponent1,
        parts.exponent2,
        parts.coefficient,
    ] {
        der_unsigned(v, &mut rsa);
    }
    let mut rsa_seq = Zeroizing::new(Vec::new());
    ber::push_tlv(0x30, &rsa, &mut rsa_seq);
    let mut body = Zeroizing::new(Vec::new());
    der_unsigned(&[0], &mut body);
    // AlgorithmIdentifier { rsaEncryption, NULL }
    body.extend_from_slice(&[0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00]);
    ber::push_tlv(0x04, &rsa_seq, &mut body);
    let mut out = Zeroizing::new(Vec::new());
    ber::push_tlv(0x30, &body, &mut out);
    out
}

/// PKCS#8 from a Windows CryptoAPI RSA `PRIVATEKEYBLOB` (what `CryptExportKey` gives): `BLOBHEADER`, `RSAPUBKEY`
/// ("RSA2", bit length, public exponent), then modulus, prime1, prime2, exponent1, exponent2, coefficient and private
/// exponent, little-endian. `None` for anything else.
pub fn rsa_pkcs8_from_cryptoapi_blob(blob: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    const PRIVATEKEYBLOB: u8 = 7;
    const RSA2: u32 = 0x3241_5352;
    let word = |at: usize| blob.get(at..at + 4).and_then(|b| b.try_into().ok()).map(u32::from_le_bytes);
    if blob.first() != Some(&PRIVATEKEYBLOB) || word(8)? != RSA2 {
        return None;
    }
    let bits = usize::try_from(word(12)?).ok()?;
    if bits == 0 || bits > 16384 {
        return None;
    }
    let public_exponent = word(16)?.to_be_bytes();
    let (full, half) = (bits.div_ceil(8), bits.div_ceil(16));
    let mut rest = blob.get(20..)?;
    let mut take = |len: usize| -> Option<Zeroizing<Vec<u8>>> {
        let (field, tail) = (rest.get(..len)?, rest.get(len..)?);
        rest = tail;
        Some(Zeroizing::new(field.iter().rev().copied().collect()))
    };
    let modulus = take(full)?;
    let prime1 = take(half)?;
    let prime2 = take(half)?;
    let exponent1 = take(half)?;
    let exponent2 = take(half)?;
    let coefficient = take(half)?;
    let private_exponent = take(full)?;
    Some(rsa_pkcs8(&RsaKeyParts {
        modulus: &modulus,
        public_exponent: &public_exponent,
        private_exponent: &private_exponent,
        prime1: &prime1,
        prime2: &prime2,
        exponent1: &exponent1,
        exponent2: &exponent2,
        coefficient: &coefficient,
    }))
}

/// Decrypts a PKCS#8 `EncryptedPrivateKeyInfo` (PKCS#12 PBES1 or PBES2) with `password`, as a platform key store
/// hands out a key it only exports encrypted (CNG keys without plaintext export). Returns the `PrivateKeyInfo` DER.
pub fn decrypt_private_key_info(epki: &[u8], password: &str) -> Result<Zeroizing<Vec<u8>>, Pkcs12Error> {
    let corrupted = |what: &str| Pkcs12Error::Corrupted { detail: what.into() };
    let (seq, _) = ber::read(epki, 0).map_err(|_| corrupted("encrypted private key"))?;
    let f = seq.children(1).map_err(|_| corrupted("encrypted private key"))?;
    let alg = f.first().filter(|o| o.tag == 0x30).ok_or_else(|| corrupted("encrypted private key"))?;
    let ciphertext =
        f.get(1).and_then(|o| octet_string_content(o, 2)).ok_or_else(|| corrupted("encrypted private key"))?;
    let mut last = Pkcs12Error::WrongPassword;
    for form in password_forms(password) {
        match decrypt(alg, &ciphertext, &form.as_password()) {
            Ok(plain) => {
                let (pki, _) = ber::read(&plain, 0).map_err(|_| Pkcs12Error::WrongPassword)?;
                if !pkcs8_well_formed(&pki) {
                    return Err(Pkcs12Error::InvalidKey);
                }
                return Ok(Zeroizing::new(pki.raw.to_vec()));
            }
            Err(e) => last = e.into_error(false),
        }
    }
    Err(last)
}

//! Passwords as PKCS#12 writers encode them (BMPString with or without terminator, the UTF-8 bytes older OpenSSL
//! versions took as characters), the RFC 7292 key derivation (the `pkcs12` crate's) and the MAC check (`hmac`).

use super::*;

/// The password as RFC 7292 BMPString bytes: UTF-16BE plus a two-byte terminator; the empty password has the
/// terminator only when `terminated` (what `&str`-based libraries do) and no bytes at all otherwise.
pub(super) fn bmp_password(password: &str, terminated: bool) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(password.len() * 2 + 2));
    for unit in password.encode_utf16() {
        out.extend_from_slice(&unit.to_be_bytes());
    }
    if terminated {
        out.extend_from_slice(&[0, 0]);
    }
    out
}

/// One way of turning the user's password into bytes, as some PKCS#12 writer did it.
pub(super) struct PasswordForm {
    /// For the MAC and PBES1: BMPString bytes.
    pub(super) bmp: Zeroizing<Vec<u8>>,
    /// For PBES2: the bytes given to PBKDF2.
    pub(super) utf8: Zeroizing<Vec<u8>>,
}

impl PasswordForm {
    pub(super) fn as_password(&self) -> Password<'_> {
        Password { utf8: &self.utf8, bmp: &self.bmp }
    }
}

/// The forms OpenSSL tries, in its order: the standard one (UTF-16BE with a terminator); for an empty password the
/// zero-length one ("no password" files); for a non-ASCII password the form older OpenSSL versions wrote, each UTF-8
/// byte taken as one character.
pub(super) fn password_forms(password: &str) -> Vec<PasswordForm> {
    let mut forms =
        vec![PasswordForm { bmp: bmp_password(password, true), utf8: Zeroizing::new(password.as_bytes().to_vec()) }];
    if password.is_empty() {
        forms.push(PasswordForm { bmp: bmp_password("", false), utf8: Zeroizing::new(Vec::new()) });
    }
    if !password.is_ascii() {
        let latin1 = Zeroizing::new(password.bytes().map(char::from).collect::<String>());
        forms.push(PasswordForm { bmp: bmp_password(&latin1, true), utf8: Zeroizing::new(latin1.as_bytes().to_vec()) });
    }
    forms
}

/// RFC 7292 appendix B.2 key derivation with digest `D` (the RustCrypto `pkcs12` crate's KDF), `password` given as
/// raw BMPString bytes so that the zero-length form of "no password" files can be expressed.
pub(super) fn pkcs12_kdf<D>(
    password: &[u8],
    salt: &[u8],
    id: KeyType,
    iterations: u32,
    size: usize,
) -> Zeroizing<Vec<u8>>
where
    D: Digest + FixedOutputReset + BlockSizeUser,
{
    // Callers cap the iterations far below i32::MAX (MAX_KDF_ITERATIONS, the MAC ceiling).
    let rounds = i32::try_from(iterations.max(1)).unwrap_or(i32::MAX);
    Zeroizing::new(pkcs12::kdf::derive_key::<D>(password, salt, id, rounds, size))
}

/// Verifies a PFX MAC with the password given as raw BMP bytes. `None` when the digest is not supported.
pub(super) fn mac_matches(mac: &MacInfo<'_>, bmp: &[u8], data: &[u8]) -> Option<bool> {
    pub(super) fn check<D>(mac: &MacInfo<'_>, bmp: &[u8], data: &[u8]) -> bool
    where
        D: Digest + FixedOutputReset + BlockSizeUser + EagerHash,
    {
        let key = pkcs12_kdf::<D>(bmp, mac.salt, KeyType::Mac, mac.iterations, <D as Digest>::output_size());
        let Ok(mut hmac) = <Hmac<D> as KeyInit>::new_from_slice(&key) else { return false };
        hmac.update(data);
        // Constant-time (subtle) and length-checked. Not needed against an offline attacker holding the file, but
        // costs nothing.
        hmac.verify_slice(mac.mac).is_ok()
    }
    // Same ceiling as p12-keystore: a hostile file must not keep us hashing for minutes.
    if mac.iterations > 1_000_000 {
        return None;
    }
    Some(match mac.digest_oid.as_str() {
        "1.3.14.3.2.26" => check::<Sha1>(mac, bmp, data),
        "2.16.840.1.101.3.4.2.4" => check::<Sha224>(mac, bmp, data),
        "2.16.840.1.101.3.4.2.1" => check::<Sha256>(mac, bmp, data),
        "2.16.840.1.101.3.4.2.2" => check::<Sha384>(mac, bmp, data),
        "2.16.840.1.101.3.4.2.3" => check::<Sha512>(mac, bmp, data),
        "2.16.840.1.101.3.4.2.5" => check::<sha2::Sha512_224>(mac, bmp, data),
        "2.16.840.1.101.3.4.2.6" => check::<sha2::Sha512_256>(mac, bmp, data),
        _ => return None,
    })
}

/// The password in the two encodings PKCS#12 uses: raw UTF-8 bytes for PBES2, BMPString for PBES1 and the MAC.
pub(super) struct Password<'a> {
    pub(super) utf8: &'a [u8],
    pub(super) bmp: &'a [u8],
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kdf_matches_rfc7292_vector() {
        // Known vector (from the PKCS#12 test suites): password "smeg", salt 0A58CF64530D823F, id 1, 1 iteration,
        // SHA-1, 24 bytes.
        let key = pkcs12_kdf::<Sha1>(
            &bmp_password("smeg", true),
            &hex::decode("0a58cf64530d823f").unwrap(),
            KeyType::EncryptionKey,
            1,
            24,
        );
        assert_eq!(hex::encode(&*key), "8aaae6297b6cb04642ab5b077851284eb7128f1a2a7fbca3");
    }
}

//! The PFX structure read with the one BER reader: the outline (version, authSafe, macData), the authenticated safe,
//! safe bags and their attributes, and the bag decryption (PBES2 through `pkcs5`; the legacy PKCS#12 PBES1 ciphers,
//! 3DES and RC2, which no RustCrypto crate decrypts for PKCS#12, on `cbc`).

use super::*;

/// The outline of a PFX: the MAC (if any) and the authenticated content bytes.
pub(super) struct Outline<'a> {
    /// `(digest OID content, expected MAC, salt, iterations)`
    pub(super) mac: Option<MacInfo<'a>>,
    /// The authenticated bytes (content of the `data` OCTET STRING).
    pub(super) auth_content: Vec<u8>,
}

pub(super) struct MacInfo<'a> {
    pub(super) digest_oid: String,
    pub(super) mac: &'a [u8],
    pub(super) salt: &'a [u8],
    pub(super) iterations: u32,
}

/// Checks the outer structure of a PFX (RFC 7292 §4) and classifies what is wrong with it.
pub(super) fn outline(bytes: &[u8]) -> Result<Outline<'_>, Pkcs12Error> {
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(Pkcs12Error::Empty);
    }
    if bytes.first() != Some(&0x30) {
        return Err(Pkcs12Error::NotPkcs12);
    }
    let corrupted = |d: &str| Pkcs12Error::Corrupted { detail: d.to_string() };
    // A PFX starts SEQUENCE { INTEGER 3, ... }: look at the version before trusting the length.
    let (hlen, _) = ber::header(bytes).map_err(|_| Pkcs12Error::NotPkcs12)?;
    let looks_like_pfx = bytes.get(hlen..hlen + 3) == Some(&[0x02, 0x01, 0x03][..]);
    let pfx = match ber::read(bytes, 0) {
        Ok((pfx, _)) => pfx,
        Err(ber::BerError::Truncated) if looks_like_pfx => return Err(Pkcs12Error::Truncated),
        Err(_) if looks_like_pfx => return Err(corrupted("structure")),
        Err(_) => return Err(Pkcs12Error::NotPkcs12),
    };
    if !looks_like_pfx {
        return Err(Pkcs12Error::NotPkcs12);
    }
    let fields = pfx.children(0).map_err(|e| match e {
        ber::BerError::Truncated => Pkcs12Error::Truncated,
        _ => corrupted("structure"),
    })?;
    // fields[0] is the version (checked above: INTEGER 3).
    let auth_safe = fields.get(1).filter(|a| a.tag == 0x30).ok_or_else(|| corrupted("authSafe"))?;
    // authSafe ContentInfo: data (password integrity). signedData (public-key integrity) is not supported.
    let ci = auth_safe.children(1).map_err(|_| corrupted("authSafe"))?;
    match ci.first() {
        Some(o) if o.tag == 0x06 && oid_string(o.content) == OID_DATA => {}
        Some(o) if o.tag == 0x06 => {
            return Err(Pkcs12Error::Unsupported { detail: format!("authSafe {}", oid_string(o.content)) })
        }
        _ => return Err(corrupted("authSafe")),
    }
    let explicit = ci.get(1).filter(|e| e.tag == 0xa0).ok_or_else(|| corrupted("authSafe content"))?;
    let inner = explicit.children(2).map_err(|_| corrupted("authSafe content"))?;
    let octets = inner.first().ok_or_else(|| corrupted("authSafe content"))?;
    let auth_content = octet_string_content(octets, 3).ok_or_else(|| corrupted("authSafe content"))?;

    let mac = match fields.get(2) {
        None => None,
        Some(mac_data) => Some(parse_mac_data(mac_data).ok_or_else(|| corrupted("macData"))?),
    };
    Ok(Outline { mac, auth_content })
}

/// Content of an OCTET STRING, primitive or constructed (BER).
pub(super) fn octet_string_content(obj: &ber::Obj<'_>, depth: usize) -> Option<Vec<u8>> {
    match obj.tag {
        // OCTET STRING, or an IMPLICIT [0] one (encryptedContent), primitive or constructed (BER)
        0x04 | 0x80 => Some(obj.content.to_vec()),
        0x24 | 0xa0 => {
            let mut out = Vec::new();
            for part in obj.children(depth).ok()? {
                out.extend(octet_string_content(&part, depth + 1)?);
            }
            Some(out)
        }
        _ => None,
    }
}

/// MacData ::= SEQUENCE { mac DigestInfo, macSalt OCTET STRING, iterations INTEGER DEFAULT 1 }
pub(super) fn parse_mac_data<'a>(obj: &ber::Obj<'a>) -> Option<MacInfo<'a>> {
    let f = obj.children(1).ok()?;
    let digest_info = f.first()?.children(2).ok()?;
    let alg = digest_info.first()?.children(3).ok()?;
    let oid = alg.first().filter(|o| o.tag == 0x06)?;
    let mac = digest_info.get(1).filter(|o| o.tag == 0x04)?.content;
    let salt = f.get(1).filter(|o| o.tag == 0x04)?.content;
    let iterations = match f.get(2) {
        None => 1,
        Some(i) if i.tag == 0x02 && !i.content.is_empty() && i.content.len() <= 5 && i.content[0] & 0x80 == 0 => {
            u32::try_from(i.content.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b))).ok()?
        }
        _ => return None,
    };
    Some(MacInfo { digest_oid: oid_string(oid.content), mac, salt, iterations })
}

/// Certificates (DER, localKeyId) and keys found in the bags.
#[derive(Default)]
pub(super) struct Bags {
    pub(super) certs: Vec<(Vec<u8>, Option<Vec<u8>>)>,
    pub(super) keys: Vec<PrivateKey>,
}

/// Failures inside the authenticated safe, classified once we know whether a MAC vouched for the password.
pub(super) enum BagError {
    /// Decryption produced garbage (bad padding, or plaintext that does not decode).
    Decrypt,
    Structure(&'static str),
    Unsupported(String),
}

impl BagError {
    pub(super) fn into_error(self, mac_verified: bool) -> Pkcs12Error {
        match self {
            BagError::Decrypt if mac_verified => Pkcs12Error::Corrupted { detail: "encrypted content".into() },
            BagError::Decrypt => Pkcs12Error::WrongPassword,
            BagError::Structure(what) => Pkcs12Error::Corrupted { detail: what.into() },
            BagError::Unsupported(detail) => Pkcs12Error::Unsupported { detail },
        }
    }
}

pub(super) const OID_DATA: &str = "1.2.840.113549.1.7.1";
pub(super) const OID_ENCRYPTED_DATA: &str = "1.2.840.113549.1.7.6";
pub(super) const OID_KEY_BAG: &str = "1.2.840.113549.1.12.10.1.1";
pub(super) const OID_SHROUDED_KEY_BAG: &str = "1.2.840.113549.1.12.10.1.2";
pub(super) const OID_CERT_BAG: &str = "1.2.840.113549.1.12.10.1.3";
pub(super) const OID_SAFE_CONTENTS_BAG: &str = "1.2.840.113549.1.12.10.1.6";
pub(super) const OID_X509_CERT: &str = "1.2.840.113549.1.9.22.1";
pub(super) const OID_FRIENDLY_NAME: &str = "1.2.840.113549.1.9.20";
pub(super) const OID_LOCAL_KEY_ID: &str = "1.2.840.113549.1.9.21";
pub(super) const OID_PBES2: &str = "1.2.840.113549.1.5.13";
pub(super) const OID_PBE_SHA1_RC2_128: &str = "1.2.840.113549.1.12.1.5";
pub(super) const OID_PBE_SHA1_RC2_40: &str = "1.2.840.113549.1.12.1.6";
pub(super) const OID_PBE_SHA1_3DES: &str = "1.2.840.113549.1.12.1.3";
pub(super) const OID_PBE_SHA1_2DES: &str = "1.2.840.113549.1.12.1.4";

/// Ceiling on key-derivation work a file may ask for (NSS writes 600,000 PBKDF2 iterations today).
pub(super) const MAX_KDF_ITERATIONS: u32 = 5_000_000;

pub(super) fn oid_of(obj: Option<&ber::Obj<'_>>) -> Option<String> {
    obj.filter(|o| o.tag == 0x06).map(|o| oid_string(o.content))
}

/// AuthenticatedSafe ::= SEQUENCE OF ContentInfo (BER accepted throughout, as NSS and Windows write it).
pub(super) fn parse_authenticated_safe(content: &[u8], pw: &Password<'_>) -> Result<Bags, BagError> {
    let structure = BagError::Structure;
    let (seq, _) = ber::read(content, 0).map_err(|_| structure("authenticated safe"))?;
    let mut bags = Bags::default();
    for ci in seq.children(1).map_err(|_| structure("authenticated safe"))? {
        let f = ci.children(2).map_err(|_| structure("content info"))?;
        let kind = oid_of(f.first()).ok_or(structure("content info"))?;
        let explicit = f.get(1).filter(|o| o.tag == 0xa0);
        match kind.as_str() {
            OID_DATA => {
                let inner = explicit.ok_or(structure("data"))?.children(3).map_err(|_| structure("data"))?;
                let octets = inner.first().and_then(|o| octet_string_content(o, 4)).ok_or(structure("data"))?;
                parse_safe_contents(&octets, pw, &mut bags, 0, false)?;
            }
            OID_ENCRYPTED_DATA => {
                let inner = explicit
                    .ok_or(structure("encrypted data"))?
                    .children(3)
                    .map_err(|_| structure("encrypted data"))?;
                let ed = inner
                    .first()
                    .ok_or(structure("encrypted data"))?
                    .children(4)
                    .map_err(|_| structure("encrypted data"))?;
                let eci = ed
                    .get(1)
                    .ok_or(structure("encrypted data"))?
                    .children(5)
                    .map_err(|_| structure("encrypted data"))?;
                let alg = eci.get(1).filter(|o| o.tag == 0x30).ok_or(structure("encrypted data algorithm"))?;
                let Some(ciphertext) = eci.get(2).and_then(|o| octet_string_content(o, 6)) else { continue };
                let plain = decrypt(alg, &ciphertext, pw)?;
                parse_safe_contents(&plain, pw, &mut bags, 0, true)?;
            }
            other => return Err(BagError::Unsupported(format!("content type {other}"))),
        }
    }
    Ok(bags)
}

/// SafeContents ::= SEQUENCE OF SafeBag. `decrypted`: the bytes came out of a decryption, so a decoding failure
/// most likely means a wrong key.
pub(super) fn parse_safe_contents(
    data: &[u8],
    pw: &Password<'_>,
    bags: &mut Bags,
    depth: usize,
    decrypted: bool,
) -> Result<(), BagError> {
    let bad = |what: &'static str| if decrypted { BagError::Decrypt } else { BagError::Structure(what) };
    if depth > 4 {
        return Err(BagError::Structure("nested safe contents"));
    }
    let (seq, _) = ber::read(data, 0).map_err(|_| bad("safe contents"))?;
    for bag in seq.children(1).map_err(|_| bad("safe contents"))? {
        let f = bag.children(2).map_err(|_| bad("safe bag"))?;
        let kind = oid_of(f.first()).ok_or_else(|| bad("safe bag"))?;
        let value = f
            .get(1)
            .filter(|o| o.tag == 0xa0)
            .and_then(|v| v.children(3).ok())
            .and_then(|c| c.first().copied())
            .ok_or_else(|| bad("safe bag value"))?;
        let (friendly_name, local_key_id) = bag_attributes(f.get(2));
        match kind.as_str() {
            OID_KEY_BAG => {
                if !pkcs8_well_formed(&value) {
                    return Err(BagError::Structure("private key"));
                }
                bags.keys.push(PrivateKey {
                    pkcs8_der: Zeroizing::new(value.raw.to_vec()),
                    friendly_name,
                    local_key_id,
                    certificate: None,
                })
            }
            OID_SHROUDED_KEY_BAG => {
                let epki = value.children(4).map_err(|_| bad("shrouded key"))?;
                let alg = epki.first().filter(|o| o.tag == 0x30).ok_or_else(|| bad("shrouded key"))?;
                let ciphertext =
                    epki.get(1).and_then(|o| octet_string_content(o, 5)).ok_or_else(|| bad("shrouded key"))?;
                let plain = decrypt(alg, &ciphertext, pw)?;
                // A key that does not decode as PKCS#8 came from a wrong decryption key.
                let (pki, _) = ber::read(&plain, 0).map_err(|_| BagError::Decrypt)?;
                if !pkcs8_well_formed(&pki) {
                    return Err(BagError::Decrypt);
                }
                bags.keys.push(PrivateKey {
                    pkcs8_der: Zeroizing::new(pki.raw.to_vec()),
                    friendly_name,
                    local_key_id,
                    certificate: None,
                });
            }
            OID_CERT_BAG => {
                let cb = value.children(4).map_err(|_| bad("certificate bag"))?;
                if oid_of(cb.first()).as_deref() != Some(OID_X509_CERT) {
                    continue; // SDSI certificates: not X.509, nothing to show
                }
                let der = cb
                    .get(1)
                    .filter(|o| o.tag == 0xa0)
                    .and_then(|o| o.children(5).ok())
                    .and_then(|c| c.first().and_then(|o| octet_string_content(o, 6)))
                    .ok_or_else(|| bad("certificate bag"))?;
                bags.certs.push((der, local_key_id));
            }
            OID_SAFE_CONTENTS_BAG => parse_safe_contents(value.raw, pw, bags, depth + 1, decrypted)?,
            _ => {} // CRL and secret bags: not ours to show
        }
    }
    Ok(())
}

/// Whether a PrivateKeyInfo is structurally sound (RFC 5208; RSA and EC keys down to their inner structure), as
/// OpenSSL requires before it hands a key out. Decrypting with a wrong key yields garbage that fails here.
pub(super) fn pkcs8_well_formed(pki: &ber::Obj<'_>) -> bool {
    let check = || -> Option<bool> {
        if pki.tag != 0x30 || !ber::well_formed(pki, 0) {
            return Some(false);
        }
        let f = pki.children(1).ok()?;
        let alg = f.get(1).filter(|o| o.tag == 0x30)?.children(2).ok()?;
        let key = f.get(2).filter(|o| o.tag == 0x04)?;
        if f.first()?.tag != 0x02 {
            return Some(false);
        }
        let inner = || ber::read(key.content, 2).ok().filter(|(o, rest)| rest.is_empty() && ber::well_formed(o, 2));
        Some(match oid_of(alg.first())?.as_str() {
            OID_RSA | OID_RSA_PSS => {
                let (rsa, _) = inner()?;
                let ints = rsa.children(3).ok()?;
                rsa.tag == 0x30 && ints.len() >= 9 && ints.iter().all(|i| i.tag == 0x02)
            }
            OID_EC => {
                let (ec, _) = inner()?;
                let e = ec.children(3).ok()?;
                ec.tag == 0x30
                    && e.first().map(|v| (v.tag, v.content)) == Some((0x02, &[1u8][..]))
                    && e.get(1)?.tag == 0x04
            }
            _ => true,
        })
    };
    check().unwrap_or(false)
}

/// friendlyName (BMPString) and localKeyId (OCTET STRING) from a bag's attributes.
pub(super) fn bag_attributes(attrs: Option<&ber::Obj<'_>>) -> (Option<String>, Option<Vec<u8>>) {
    let mut name = None;
    let mut id = None;
    let Some(list) = attrs.filter(|a| a.tag == 0x31).and_then(|a| a.children(3).ok()) else { return (None, None) };
    for attr in list {
        let Ok(f) = attr.children(4) else { continue };
        let Some(value) = f.get(1).and_then(|s| s.children(5).ok()).and_then(|v| v.first().copied()) else { continue };
        match oid_of(f.first()).as_deref() {
            Some(OID_FRIENDLY_NAME) if value.tag == 0x1e && value.content.len() % 2 == 0 => {
                let units: Vec<u16> = value.content.chunks(2).map(|c| u16::from_be_bytes([c[0], c[1]])).collect();
                name = Some(String::from_utf16_lossy(&units));
            }
            Some(OID_LOCAL_KEY_ID) => id = octet_string_content(&value, 6),
            _ => {}
        }
    }
    (name, id)
}

/// Decrypts with PBES2 (any cipher/PRF pkcs5 knows, hmacWithSHA1 included) or PKCS#12 PBES1 (3DES, RC2).
pub(super) fn decrypt(
    alg: &ber::Obj<'_>,
    ciphertext: &[u8],
    pw: &Password<'_>,
) -> Result<Zeroizing<Vec<u8>>, BagError> {
    let f = alg.children(6).map_err(|_| BagError::Structure("algorithm"))?;
    let oid = oid_of(f.first()).ok_or(BagError::Structure("algorithm"))?;
    let params = f.get(1).ok_or(BagError::Structure("algorithm parameters"))?;
    match oid.as_str() {
        OID_PBES2 => {
            use pkcs5::der::Decode;
            let p = pkcs5::pbes2::Parameters::from_der(params.raw).map_err(|e| {
                if e.to_string().contains("OID") {
                    BagError::Unsupported(e.to_string())
                } else {
                    BagError::Structure("PBES2 parameters")
                }
            })?;
            match &p.kdf {
                pkcs5::pbes2::Kdf::Pbkdf2(k) if k.iteration_count > MAX_KDF_ITERATIONS => {
                    return Err(BagError::Unsupported(format!("{} PBKDF2 iterations", k.iteration_count)))
                }
                pkcs5::pbes2::Kdf::Scrypt(s)
                    if s.parallelization > 16
                        || 128u64.saturating_mul(s.cost_parameter).saturating_mul(u64::from(s.block_size))
                            > 1 << 30 =>
                {
                    return Err(BagError::Unsupported("scrypt parameters".into()))
                }
                _ => {}
            }
            p.decrypt(pw.utf8, ciphertext).map(Zeroizing::new).map_err(|e| match e {
                pkcs5::Error::DecryptFailed => BagError::Decrypt,
                other => BagError::Unsupported(other.to_string()),
            })
        }
        OID_PBE_SHA1_3DES | OID_PBE_SHA1_2DES | OID_PBE_SHA1_RC2_128 | OID_PBE_SHA1_RC2_40 => {
            let p = params.children(7).map_err(|_| BagError::Structure("PBES1 parameters"))?;
            let salt = p.first().filter(|o| o.tag == 0x04).ok_or(BagError::Structure("PBES1 salt"))?.content;
            let iterations = p
                .get(1)
                .filter(|o| o.tag == 0x02 && !o.content.is_empty() && o.content.len() <= 4 && o.content[0] & 0x80 == 0)
                .map(|o| o.content.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b)))
                .ok_or(BagError::Structure("PBES1 iterations"))?;
            if iterations > MAX_KDF_ITERATIONS {
                return Err(BagError::Unsupported(format!("{iterations} iterations")));
            }
            let key_len = match oid.as_str() {
                OID_PBE_SHA1_3DES => 24,
                OID_PBE_SHA1_2DES | OID_PBE_SHA1_RC2_128 => 16,
                _ => 5,
            };
            let key = pkcs12_kdf::<Sha1>(pw.bmp, salt, KeyType::EncryptionKey, iterations, key_len);
            let iv = pkcs12_kdf::<Sha1>(pw.bmp, salt, KeyType::Iv, iterations, 8);
            pbes1_decrypt(&oid, &key, &iv, ciphertext).map(Zeroizing::new).ok_or(BagError::Decrypt)
        }
        other => Err(BagError::Unsupported(format!("encryption {other}"))),
    }
}

/// CBC decryption with PKCS#7 padding for the PKCS#12 PBES1 ciphers.
pub(super) fn pbes1_decrypt(oid: &str, key: &[u8], iv: &[u8], data: &[u8]) -> Option<Vec<u8>> {
    use cbc::cipher::{block_padding::Pkcs7, BlockModeDecrypt, KeyIvInit};
    match oid {
        OID_PBE_SHA1_3DES => {
            cbc::Decryptor::<des::TdesEde3>::new_from_slices(key, iv).ok()?.decrypt_padded_vec::<Pkcs7>(data).ok()
        }
        OID_PBE_SHA1_2DES => {
            cbc::Decryptor::<des::TdesEde2>::new_from_slices(key, iv).ok()?.decrypt_padded_vec::<Pkcs7>(data).ok()
        }
        _ => cbc::Decryptor::<rc2::Rc2>::new_from_slices(key, iv).ok()?.decrypt_padded_vec::<Pkcs7>(data).ok(),
    }
}

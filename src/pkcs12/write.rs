//! Writing a PKCS#12 file with p12-keystore, then reading it back with both decoders before it is returned.

use super::*;

/// Builds a PKCS#12 file holding `key_pkcs8` and `chain` (leaf first), then reads it back and checks it.
pub fn write(req: &WriteRequest<'_>) -> Result<Vec<u8>, Pkcs12Error> {
    let leaf = req.chain.first().ok_or(Pkcs12Error::EmptyChain)?;
    let own_key = public_key_of_pkcs8(req.key_pkcs8).ok_or(Pkcs12Error::InvalidKey)?;
    if public_key_of_spki(&leaf.spki_der).as_ref() != Some(&own_key) {
        return Err(Pkcs12Error::KeyMismatch);
    }
    let failed = |e: p12_keystore::error::Error| Pkcs12Error::WriteFailed { detail: e.to_string() };
    let key = p12_keystore::PrivateKey::from_der(req.key_pkcs8).map_err(|_| Pkcs12Error::InvalidKey)?;
    let certs = req
        .chain
        .iter()
        .map(|c| p12_keystore::Certificate::from_der(&c.der))
        .collect::<Result<Vec<_>, _>>()
        .map_err(failed)?;
    // localKeyId = SHA-1 of the leaf certificate, as OpenSSL and Windows do.
    let local_key_id = Sha1::digest(&leaf.der).to_vec();
    let chain = p12_keystore::PrivateKeyChain::new(local_key_id, key, certs);
    let mut store = p12_keystore::KeyStore::new();
    let alias = if req.friendly_name.is_empty() { leaf.display_name() } else { req.friendly_name.to_string() };
    store.add_entry(&alias, p12_keystore::KeyStoreEntry::PrivateKeyChain(chain));
    let writer = store.writer(req.password);
    let writer = match req.encryption {
        Encryption::Modern => writer
            .encryption_algorithm(p12_keystore::EncryptionAlgorithm::PbeWithHmacSha256AndAes256)
            .encryption_iterations(MODERN_ITERATIONS)
            .mac_algorithm(p12_keystore::MacAlgorithm::HmacSha256)
            .mac_iterations(MODERN_ITERATIONS),
        Encryption::Legacy => writer
            .encryption_algorithm(p12_keystore::EncryptionAlgorithm::PbeWithShaAnd3KeyTripleDesCbc)
            .encryption_iterations(LEGACY_ITERATIONS)
            .mac_algorithm(p12_keystore::MacAlgorithm::HmacSha1)
            .mac_iterations(LEGACY_ITERATIONS),
    };
    let out = writer.write().map_err(failed)?;

    // Read it back with the same password: one key, matching the leaf, and every certificate present.
    let verify = |d: &str| Pkcs12Error::VerifyFailed { detail: d.to_string() };
    let back = read(&out, req.password).map_err(|e| verify(&e.to_string()))?;
    // A second, independent decoder (the one that wrote it) must agree.
    let archive = p12_keystore::Pkcs12Archive::from_pkcs12(&out, req.password).map_err(|e| verify(&e.to_string()))?;
    if archive.keys.len() != 1 || archive.certs.len() != req.chain.len() {
        return Err(verify("p12-keystore re-read"));
    }
    if back.keys.len() != 1 || *back.keys[0].pkcs8_der != req.key_pkcs8 {
        return Err(verify("private key"));
    }
    if back.certificates.len() != req.chain.len()
        || req.chain.iter().any(|c| !back.certificates.iter().any(|b| b.sha256 == c.sha256))
    {
        return Err(verify("certificates"));
    }
    match back.keys[0].certificate.and_then(|i| back.certificates.get(i)) {
        Some(c) if c.sha256 == leaf.sha256 => Ok(out),
        _ => Err(verify("key does not match the leaf certificate")),
    }
}

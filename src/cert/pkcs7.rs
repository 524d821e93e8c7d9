//! PKCS#7 certificate bags (`.p7b`/`.p7c`, PEM or DER), often BER with indefinite lengths as OpenSSL and Windows
//! write them: read with the one BER reader (`asn1::ber`), since RustCrypto `cms` reads DER only.

use super::*;

pub(super) const OID_SIGNED_DATA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02];

/// Whether `bytes` starts like a PKCS#7 ContentInfo of type signedData.
pub(super) fn is_pkcs7_signed_data(bytes: &[u8]) -> bool {
    // SEQUENCE (any length form) then OBJECT IDENTIFIER signedData.
    let Ok((hdr_len, _)) = ber::header(bytes) else { return false };
    let rest = &bytes[hdr_len..];
    rest.len() >= 2 + OID_SIGNED_DATA.len()
        && rest[0] == 0x06
        && usize::from(rest[1]) == OID_SIGNED_DATA.len()
        && &rest[2..2 + OID_SIGNED_DATA.len()] == OID_SIGNED_DATA
}

/// Certificates of a PKCS#7 SignedData (a "certs-only" bag, or any signed message), BER or DER.
pub fn read_pkcs7(bytes: &[u8]) -> Result<Vec<Certificate>, CertError> {
    let bad = |detail: &str| CertError::Pkcs7Malformed { detail: detail.to_string() };
    let map = |e: ber::BerError| CertError::Pkcs7Malformed { detail: e.to_string() };
    let (content_info, _) = ber::read(bytes, 0).map_err(map)?;
    let ci = content_info.children(0).map_err(map)?;
    if ci.first().map(|o| (o.tag, o.content)) != Some((0x06, OID_SIGNED_DATA)) {
        return Err(bad("not signedData"));
    }
    let explicit = ci.get(1).filter(|e| e.tag == 0xa0).ok_or_else(|| bad("no content"))?;
    let inner = explicit.children(1).map_err(map)?;
    let signed_data = inner.first().filter(|s| s.tag == 0x30).ok_or_else(|| bad("no SignedData"))?;
    let fields = signed_data.children(2).map_err(map)?;
    // The SignedData skeleton OpenSSL's decoder insists on (RFC 2315 §9.1): version, digestAlgorithms,
    // contentInfo, [0] certificates, [1] crls, signerInfos; inconsistent lengths anywhere are refused too.
    let tags: Vec<u8> = fields.iter().map(|f| f.tag).collect();
    let skeleton = match tags.as_slice() {
        [0x02, 0x31, 0x30, middle @ .., 0x31] => matches!(middle, [] | [0xa0] | [0xa1] | [0xa0, 0xa1]),
        _ => false,
    };
    let algorithms_ok = fields.get(1).and_then(|set| set.children(3).ok()).is_some_and(|algs| {
        algs.iter().all(|a| a.tag == 0x30 && a.children(4).ok().and_then(|c| c.first().map(|o| o.tag)) == Some(0x06))
    });
    let content_ok =
        fields.get(2).and_then(|c| c.children(3).ok()).and_then(|c| c.first().map(|o| o.tag)) == Some(0x06);
    let signers_ok = fields.last().and_then(|set| set.children(3).ok()).is_some_and(|signers| {
        signers.iter().all(|s| s.tag == 0x30 && s.children(4).ok().and_then(|c| c.first().map(|o| o.tag)) == Some(0x02))
    });
    if !skeleton || !algorithms_ok || !content_ok || !signers_ok || !ber::well_formed(&content_info, 0) {
        return Err(bad("SignedData structure"));
    }
    let mut certs = Vec::new();
    if let Some(set) = fields.iter().find(|f| f.tag == 0xa0) {
        for choice in set.children(3).map_err(map)? {
            // Only X.509 certificates (universal SEQUENCE); attribute certificates are skipped.
            if choice.tag == 0x30 {
                certs.push(parse_der(choice.raw)?);
            }
        }
    }
    if certs.is_empty() {
        return Err(CertError::Pkcs7Empty);
    }
    Ok(certs)
}

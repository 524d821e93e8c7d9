//! PEM blocks as OpenSSL reads them: any label, text around the blocks ignored, RFC 1421 headers skipped.

pub(super) struct PemBlock {
    pub(super) label: String,
    pub(super) der: Vec<u8>,
}

/// PEM blocks in `bytes`, or `None` when the data holds no `-----BEGIN ` line at all (then it may be DER).
/// Text around the blocks (as `openssl x509 -text` prints) is ignored; RFC 1421 headers are skipped.
pub(super) fn pem_blocks(bytes: &[u8]) -> Option<Vec<PemBlock>> {
    const BEGIN: &[u8] = b"-----BEGIN ";
    // DER never starts with '-' and PEM is text: only look for PEM in data that is not obviously binary DER.
    if bytes.first() == Some(&0x30) && bytes.len() > 1 && bytes[1] >= 0x80 {
        return None;
    }
    let text = String::from_utf8_lossy(bytes);
    if !text.contains(std::str::from_utf8(BEGIN).unwrap_or("-----BEGIN ")) {
        return None;
    }
    let mut blocks = Vec::new();
    let mut rest: &str = &text;
    while let Some(start) = rest.find("-----BEGIN ") {
        let after = &rest[start + 11..];
        let Some(label_end) = after.find("-----") else { break };
        let label = after[..label_end].trim().to_string();
        let body_start = &after[label_end + 5..];
        let end_marker = format!("-----END {label}-----");
        let Some(end) = body_start.find(&end_marker) else {
            // A certificate block cut before its END line: report the damage rather than "no certificate".
            if matches!(label.as_str(), "CERTIFICATE" | "X509 CERTIFICATE" | "TRUSTED CERTIFICATE" | "PKCS7") {
                blocks.push(PemBlock { label, der: Vec::new() });
            }
            break;
        };
        let body = &body_start[..end];
        rest = &body_start[end + end_marker.len()..];
        let b64: String =
            body.lines().filter(|l| !l.contains(':')).flat_map(|l| l.chars()).filter(|c| !c.is_whitespace()).collect();
        use base64::engine::{general_purpose::GeneralPurpose, DecodePaddingMode, GeneralPurposeConfig};
        use base64::Engine;
        // Lenient like OpenSSL's PEM reader: padding optional, trailing bits ignored.
        const LENIENT: GeneralPurpose = GeneralPurpose::new(
            &base64::alphabet::STANDARD,
            GeneralPurposeConfig::new()
                .with_decode_padding_mode(DecodePaddingMode::Indifferent)
                .with_decode_allow_trailing_bits(true),
        );
        if let Ok(der) = LENIENT.decode(b64.as_bytes()) {
            blocks.push(PemBlock { label, der });
        } else if matches!(label.as_str(), "CERTIFICATE" | "X509 CERTIFICATE" | "TRUSTED CERTIFICATE" | "PKCS7") {
            // A certificate block whose base64 is broken: surface it as damage rather than "no certificate".
            blocks.push(PemBlock { label, der: Vec::new() });
        }
    }
    Some(blocks)
}

//! Reading an envelope file: DER, BER, PEM or S/MIME, decoded by `der` with the encrypted content borrowed where it
//! lies in the file ([`RawContent`]) and a chunked BER content joined in place, so the file is in memory once.

use super::*;

/// A parsed envelope. The file's bytes are kept once (`raw`): the encrypted content is located in them, never copied
/// (a chunked BER content is joined in place), so a 200 MB bid is in memory once.
pub(super) struct Envelope {
    pub(super) kind: &'static str,
    pub(super) recipients: Vec<RecipientInfo>,
    pub(super) content_enc_alg: spki::AlgorithmIdentifierOwned,
    pub(super) raw: Vec<u8>,
    /// Where the encrypted content lies in `raw` (`None`: detached content, which we do not open).
    pub(super) body: Option<std::ops::Range<usize>>,
    /// AuthEnvelopedData: the authenticated attributes (DER, for GCM's additional data) and the tag.
    pub(super) auth: Option<(Vec<u8>, Vec<u8>)>,
}

impl Envelope {
    /// The encrypted content.
    pub(super) fn ciphertext(&self) -> Option<&[u8]> {
        self.body.clone().map(|r| &self.raw[r])
    }
}

/// Reads an envelope file: DER/BER, PEM (`CMS`, `PKCS7`) or S/MIME.
pub(super) fn read(path: &Path) -> Result<Envelope, EnvelopeError> {
    let io = |source| EnvelopeError::Io { path: path.to_path_buf(), source };
    let file = std::fs::File::open(path).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    if len > MAX_ENVELOPE_SIZE {
        return Err(EnvelopeError::TooLarge { path: path.to_path_buf(), size: len });
    }
    let mut raw = Vec::with_capacity(len as usize);
    file.take(MAX_ENVELOPE_SIZE + 1).read_to_end(&mut raw).map_err(io)?;
    let der = unwrap_text(raw)
        .ok_or_else(|| EnvelopeError::Damaged { detail: "neither DER nor a PEM or S/MIME envelope".into() })?;
    parse(der)
}

/// PEM and S/MIME bodies are base64: decoded to DER; binary input is returned as is.
pub(super) fn unwrap_text(raw: Vec<u8>) -> Option<Vec<u8>> {
    if raw.first() == Some(&0x30) {
        return Some(raw);
    }
    let text = std::str::from_utf8(&raw).ok()?;
    if let Some(start) = text.find("-----BEGIN ") {
        let p = pem::parse(&text[start..]).ok()?;
        return matches!(p.tag(), "CMS" | "PKCS7" | "PKCS #7 SIGNED DATA" | "ENVELOPED DATA")
            .then(|| p.into_contents());
    }
    // S/MIME: headers, a blank line, then base64 (application/pkcs7-mime; smime-type=enveloped-data)
    let lower = text.to_ascii_lowercase();
    if lower.contains("pkcs7-mime") || lower.contains("content-transfer-encoding: base64") {
        let body = text.split_once("\r\n\r\n").or_else(|| text.split_once("\n\n")).map(|(_, b)| b)?;
        let b64: String = body.chars().filter(|c| !c.is_whitespace()).collect();
        use base64::Engine as _;
        return base64::engine::general_purpose::STANDARD
            .decode(b64.trim_end_matches('=').to_string() + pad(&b64))
            .ok();
    }
    None
}

pub(super) fn pad(b64: &str) -> &'static str {
    match b64.trim_end_matches('=').len() % 4 {
        2 => "==",
        3 => "=",
        _ => "",
    }
}

pub(super) fn damaged(e: der::Error) -> EnvelopeError {
    match e.kind() {
        der::ErrorKind::Incomplete { .. } => EnvelopeError::Truncated,
        _ => EnvelopeError::Damaged { detail: e.to_string() },
    }
}

/// The `encryptedContent` field as it lies in the file, borrowed: a primitive OCTET STRING's content, or a
/// constructed one's chunks (BER, OpenSSL's streamed output). The `cms` crate's own type would copy it.
#[derive(Clone, Copy)]
pub(super) struct RawContent<'a> {
    bytes: &'a [u8],
    constructed: bool,
}

impl<'a> der::DecodeValue<'a> for RawContent<'a> {
    type Error = der::Error;
    fn decode_value<R: der::Reader<'a>>(r: &mut R, header: der::Header) -> der::Result<Self> {
        Ok(RawContent { bytes: r.read_slice(header.length())?, constructed: header.tag().is_constructed() })
    }
}

impl der::EncodeValue for RawContent<'_> {
    fn value_len(&self) -> der::Result<der::Length> {
        der::Length::try_from(self.bytes.len())
    }
    fn encode_value(&self, w: &mut impl der::Writer) -> der::Result<()> {
        w.write(self.bytes)
    }
}

impl der::FixedTag for RawContent<'_> {
    const TAG: der::Tag = der::Tag::OctetString;
}

/// EncryptedContentInfo (RFC 5652 §6.1) with its content borrowed.
#[derive(der::Sequence)]
pub(super) struct EncryptedContentRef<'a> {
    content_type: Oid,
    content_enc_alg: spki::AlgorithmIdentifierOwned,
    #[asn1(context_specific = "0", tag_mode = "IMPLICIT", optional = "true")]
    encrypted_content: Option<RawContent<'a>>,
}

/// EnvelopedData (RFC 5652 §6.1) with its content borrowed.
#[derive(der::Sequence)]
pub(super) struct EnvelopedRef<'a> {
    version: cms::content_info::CmsVersion,
    #[asn1(context_specific = "0", tag_mode = "IMPLICIT", constructed = "true", optional = "true")]
    originator_info: Option<cms::enveloped_data::OriginatorInfo>,
    recip_infos: cms::enveloped_data::RecipientInfos,
    encrypted_content: EncryptedContentRef<'a>,
    #[asn1(context_specific = "1", tag_mode = "IMPLICIT", constructed = "true", optional = "true")]
    unprotected_attrs: Option<x509_cert::attr::Attributes>,
}

/// AuthEnvelopedData (RFC 5083 §2.1) with its content borrowed.
#[derive(der::Sequence)]
pub(super) struct AuthEnvelopedRef<'a> {
    version: cms::content_info::CmsVersion,
    #[asn1(context_specific = "0", tag_mode = "IMPLICIT", constructed = "true", optional = "true")]
    originator_info: Option<cms::enveloped_data::OriginatorInfo>,
    recip_infos: cms::enveloped_data::RecipientInfos,
    auth_encrypted_content_info: EncryptedContentRef<'a>,
    #[asn1(context_specific = "1", tag_mode = "IMPLICIT", constructed = "true", optional = "true")]
    auth_attrs: Option<cms::authenveloped_data::AuthAttributes>,
    mac: der::asn1::OctetString,
    #[asn1(context_specific = "2", tag_mode = "IMPLICIT", constructed = "true", optional = "true")]
    unauth_attrs: Option<cms::authenveloped_data::UnauthAttributes>,
}

/// ContentInfo holding EnvelopedData.
#[derive(der::Sequence)]
pub(super) struct EnvelopedInfo<'a> {
    content_type: Oid,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT")]
    content: EnvelopedRef<'a>,
}

/// ContentInfo holding AuthEnvelopedData.
#[derive(der::Sequence)]
pub(super) struct AuthEnvelopedInfo<'a> {
    content_type: Oid,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT")]
    content: AuthEnvelopedRef<'a>,
}

/// The content type of a ContentInfo, read without decoding the content.
pub(super) fn content_type(der: &[u8]) -> Result<Oid, EnvelopeError> {
    use der::Reader as _;
    let mut r = der::SliceReader::new_with_encoding_rules(der, der::EncodingRules::Ber).map_err(damaged)?;
    let outer = der::Header::decode(&mut r).map_err(damaged)?;
    if outer.tag() != der::Tag::Sequence {
        return Err(EnvelopeError::Damaged { detail: format!("expected a SEQUENCE, found {}", outer.tag()) });
    }
    let _ = r.position();
    Oid::decode(&mut r).map_err(damaged)
}

/// Where the content's bytes lie in the file: one range for a primitive OCTET STRING, one per chunk for a
/// constructed one (each chunk a primitive OCTET STRING; the end-of-contents octets end the list).
pub(super) fn content_ranges(raw: &[u8], c: &RawContent<'_>) -> Result<Vec<std::ops::Range<usize>>, EnvelopeError> {
    let base = (c.bytes.as_ptr() as usize)
        .checked_sub(raw.as_ptr() as usize)
        .filter(|b| b + c.bytes.len() <= raw.len())
        .ok_or_else(|| EnvelopeError::Damaged { detail: "content outside the file".into() })?;
    if !c.constructed {
        return Ok(std::iter::once(base..base + c.bytes.len()).collect());
    }
    let mut out = Vec::new();
    let mut pos = 0usize;
    while pos < c.bytes.len() {
        let rest = &c.bytes[pos..];
        // der has already taken off the content's own end-of-contents octets: a pair left here ends it early,
        // and the chunks after it would be silently dropped
        if rest.starts_with(&[0, 0]) {
            if rest.len() == 2 {
                break;
            }
            return Err(EnvelopeError::Damaged { detail: "end of the encrypted content before its last chunk".into() });
        }
        let mut r = der::SliceReader::new_with_encoding_rules(rest, der::EncodingRules::Ber).map_err(damaged)?;
        let h = der::Header::decode(&mut r).map_err(damaged)?;
        // der reads a constructed chunk (0x24) as OCTET STRING too: its headers would be taken for ciphertext
        if h.tag() != der::Tag::OctetString || h.is_constructed() {
            return Err(EnvelopeError::Damaged {
                detail: "encrypted content in nested chunks (constructed OCTET STRING inside one) is not supported"
                    .into(),
            });
        }
        let header_len = usize::try_from(u32::from(der::Reader::position(&r))).unwrap_or(usize::MAX);
        let len = usize::try_from(u32::from(h.length())).unwrap_or(usize::MAX);
        let start = pos
            .checked_add(header_len)
            .filter(|s| s.saturating_add(len) <= c.bytes.len())
            .ok_or(EnvelopeError::Truncated)?;
        out.push(base + start..base + start + len);
        pos = start + len;
    }
    Ok(out)
}

/// Joins the chunks into one range, moving them down inside `raw` (no copy of the content elsewhere).
pub(super) fn join_in_place(raw: &mut [u8], ranges: &[std::ops::Range<usize>]) -> Option<std::ops::Range<usize>> {
    let first = ranges.first()?.start;
    let mut end = first;
    for r in ranges {
        raw.copy_within(r.clone(), end);
        end += r.len();
    }
    Some(first..end)
}

pub(super) fn parse(der: Vec<u8>) -> Result<Envelope, EnvelopeError> {
    // BER: OpenSSL streams envelopes with indefinite lengths and chunked octet strings
    let ct = content_type(&der)?;
    let (kind, recipients, content_enc_alg, ranges, auth) = if ct == ID_ENVELOPED_DATA {
        let ed = EnvelopedInfo::from_ber(&der).map_err(damaged)?.content;
        let c = ed.encrypted_content;
        let ranges = c.encrypted_content.as_ref().map(|c| content_ranges(&der, c)).transpose()?;
        ("enveloped", ed.recip_infos.0.into_vec(), c.content_enc_alg, ranges, None)
    } else if ct == ID_AUTH_ENVELOPED_DATA {
        let ad = AuthEnvelopedInfo::from_ber(&der).map_err(damaged)?.content;
        let aad = match &ad.auth_attrs {
            // the additional data is the attributes' DER with the SET OF tag (RFC 5083 §2.2)
            Some(attrs) => attrs.to_der().map_err(damaged)?,
            None => Vec::new(),
        };
        let c = ad.auth_encrypted_content_info;
        let ranges = c.encrypted_content.as_ref().map(|c| content_ranges(&der, c)).transpose()?;
        (
            "auth_enveloped",
            ad.recip_infos.0.into_vec(),
            c.content_enc_alg,
            ranges,
            Some((aad, ad.mac.as_bytes().to_vec())),
        )
    } else {
        return Err(EnvelopeError::NotAnEnvelope { content_type: ct.to_string() });
    };
    let mut raw = der;
    let body = match ranges {
        Some(r) if r.is_empty() => Some(0..0),
        Some(r) => join_in_place(&mut raw, &r),
        None => None,
    };
    Ok(Envelope { kind, recipients, content_enc_alg, raw, body, auth })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_content_is_joined_in_place_and_odd_chunking_refused() {
        let mut raw = vec![0x30, 0x04, 0x02, 0xaa, 0xbb, 0x04, 0x01, 0xcc, 0x00, 0x00];
        let c = RawContent { bytes: &raw[3..10], constructed: true };
        // the bytes from index 3: 04 02 aa bb 04 01 cc 00 00 — wrong on purpose, they start at 0x02: refused
        assert!(content_ranges(&raw, &c).is_err());
        let c = RawContent { bytes: &raw[1..], constructed: true };
        let _ = content_ranges(&raw, &c); // whatever it says, no panic on arbitrary bytes
        raw = vec![0xff, 0x04, 0x02, 0xaa, 0xbb, 0x04, 0x01, 0xcc, 0x00, 0x00];
        let c = RawContent { bytes: &raw[1..], constructed: true };
        let ranges = content_ranges(&raw, &c).expect("two chunks then the end");
        assert_eq!(ranges, vec![3..5, 7..8]);
        let body = join_in_place(&mut raw, &ranges).expect("joined");
        assert_eq!(&raw[body], &[0xaa, 0xbb, 0xcc]);
        // a constructed chunk inside (valid BER, never written by OpenSSL): refused, not read as ciphertext
        let nested = [0x24, 0x80, 0x04, 0x02, 0xaa, 0xbb, 0x00, 0x00];
        let c = RawContent { bytes: &nested, constructed: true };
        assert!(matches!(content_ranges(&nested, &c), Err(EnvelopeError::Damaged { .. })));
        // end-of-contents before the last chunk: refused, the rest is not dropped silently
        let early = [0x04, 0x01, 0xaa, 0x00, 0x00, 0x04, 0x01, 0xbb];
        let c = RawContent { bytes: &early, constructed: true };
        assert!(matches!(content_ranges(&early, &c), Err(EnvelopeError::Damaged { .. })));
        // a chunk longer than what is left: truncated
        let short = [0x04, 0x05, 0xaa];
        let c = RawContent { bytes: &short, constructed: true };
        assert!(content_ranges(&short, &c).is_err());
    }
}

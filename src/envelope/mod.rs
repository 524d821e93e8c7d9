//! Encrypted envelopes ("plis"): the bids a procurement portal encrypts to the agent's registered bi-clés, and
//! any CMS message encrypted to a certificate of this workstation.
//!
//! Structures: CMS EnvelopedData (RFC 5652) and AuthEnvelopedData (RFC 5083), in DER, BER (OpenSSL's streamed
//! output, indefinite lengths), PEM or S/MIME (`.p7m`), read with the RustCrypto `cms` and `der` crates. Key
//! transport: RSA PKCS#1 v1.5 and RSAES-OAEP (SHA-1, SHA-256) to recipients named by issuer and serial number or by
//! subject key identifier. The private-key operation happens where the key lives — the OS store (NSS softokn's
//! `C_Decrypt`) or the card (PKCS#11 `C_Decrypt`, PIN asked only then) — and only the content-encryption key comes
//! back. Content: AES-128/192/256-CBC and AES-GCM through aws-lc-rs (streamed for CBC, in place for GCM), 3DES-CBC for
//! old files through RustCrypto `des` (in place). The file's bytes are held once: the structures are decoded by `der`
//! with the encrypted content borrowed where it lies ([`RawContent`]), a chunked BER content joined in place. The
//! output is written to a temporary file beside the destination and appears under its name only once the whole
//! content decrypted (and, for GCM, authenticated): nothing half-written, and an existing file is never replaced
//! unless asked.

mod content;
#[cfg(feature = "portal")]
pub mod drill;
mod error;
mod file;

pub use error::EnvelopeError;
use file::*;

use std::io::Read;
use std::path::{Path, PathBuf};

use cms::enveloped_data::{RecipientIdentifier, RecipientInfo};
use der::asn1::ObjectIdentifier as Oid;
use der::{Decode, Encode};
use serde::Serialize;
use zeroize::Zeroizing;

use crate::cert::Certificate;
use crate::token::{DecryptPadding, Pin, Token};

/// The largest envelope read (a bid with its annexes; well above the portal's upload limit).
pub const MAX_ENVELOPE_SIZE: u64 = 2 * 1024 * 1024 * 1024;

const ID_ENVELOPED_DATA: Oid = Oid::new_unwrap("1.2.840.113549.1.7.3");
const ID_AUTH_ENVELOPED_DATA: Oid = Oid::new_unwrap("1.2.840.113549.1.9.16.1.23");
const RSA_ENCRYPTION: Oid = Oid::new_unwrap("1.2.840.113549.1.1.1");
const RSAES_OAEP: Oid = Oid::new_unwrap("1.2.840.113549.1.1.7");
const SHA256: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.1");
const SHA1: Oid = Oid::new_unwrap("1.3.14.3.2.26");
const SUBJECT_KEY_IDENTIFIER: Oid = Oid::new_unwrap("2.5.29.14");

/// How the content-encryption key was encrypted to a recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyTransport {
    RsaPkcs1v15,
    RsaOaepSha1,
    RsaOaepSha256,
}

impl KeyTransport {
    fn padding(self) -> DecryptPadding {
        match self {
            KeyTransport::RsaPkcs1v15 => DecryptPadding::Pkcs1v15,
            KeyTransport::RsaOaepSha1 => DecryptPadding::OaepSha1,
            KeyTransport::RsaOaepSha256 => DecryptPadding::OaepSha256,
        }
    }
}

pub use content::ContentCipher;

/// Where this workstation has the key of a recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reachable {
    /// In the OS certificate store, with its private key.
    Store,
    /// On a card or token that is present now.
    Token,
    /// Nowhere here (the card that holds it is not inserted, or the key is on another workstation).
    Absent,
}

/// One recipient the envelope names.
#[derive(Debug, Clone, Serialize)]
pub struct Recipient {
    /// Issuer (RFC 4514) and serial (lowercase hex), when the recipient is named that way.
    pub issuer: Option<String>,
    pub serial: Option<String>,
    /// Subject key identifier (lowercase hex), when the recipient is named that way.
    pub ski: Option<String>,
    /// `None` when the algorithm is not one we can use (named in `unsupported`).
    pub key_transport: Option<KeyTransport>,
    /// Another kind of recipient (key agreement, password…) or algorithm, named for support.
    pub unsupported: Option<String>,
    pub reachable: Reachable,
    /// The matching certificate when this workstation has it: holder's name and fingerprint.
    pub holder: Option<String>,
    pub sha256: Option<String>,
    /// The token's label when `reachable` is `token`.
    pub token: Option<String>,
}

/// What `inspect` tells, without any PIN.
#[derive(Debug, Clone, Serialize)]
pub struct Inspection {
    /// `enveloped` (RFC 5652) or `auth_enveloped` (RFC 5083).
    pub kind: &'static str,
    pub content_cipher: ContentCipher,
    pub encrypted_size: u64,
    pub recipients: Vec<Recipient>,
    /// Whether one of the recipients' keys is reachable here.
    pub can_open: bool,
}

/// The result of opening an envelope.
#[derive(Debug, Clone, Serialize)]
pub struct Opened {
    pub out: PathBuf,
    pub size: u64,
    pub content_cipher: ContentCipher,
    /// The recipient whose key opened it.
    pub recipient: Recipient,
}

/// The key transport of a recipient, or the name of what we cannot do.
fn key_transport(alg: &spki::AlgorithmIdentifierOwned) -> Result<KeyTransport, String> {
    if alg.oid == RSA_ENCRYPTION {
        return Ok(KeyTransport::RsaPkcs1v15);
    }
    if alg.oid == RSAES_OAEP {
        // RSAES-OAEP-params: hashFunc [0] (default SHA-1), maskGenFunc [1] (MGF1 with the same hash), pSource [2]
        let hash = match &alg.parameters {
            None => SHA1,
            Some(p) => oaep_hash(p).ok_or_else(|| "RSAES-OAEP (unreadable parameters)".to_string())?,
        };
        return match hash {
            h if h == SHA1 => Ok(KeyTransport::RsaOaepSha1),
            h if h == SHA256 => Ok(KeyTransport::RsaOaepSha256),
            other => Err(format!("RSAES-OAEP with hash {other}")),
        };
    }
    Err(format!("key transport {}", alg.oid))
}

fn oaep_hash(params: &der::Any) -> Option<Oid> {
    #[derive(der::Sequence)]
    struct OaepParams {
        #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
        hash: Option<spki::AlgorithmIdentifierOwned>,
        #[asn1(context_specific = "1", tag_mode = "EXPLICIT", optional = "true")]
        mgf: Option<spki::AlgorithmIdentifierOwned>,
        #[asn1(context_specific = "2", tag_mode = "EXPLICIT", optional = "true")]
        source: Option<spki::AlgorithmIdentifierOwned>,
    }
    let p: OaepParams = params.decode_as().ok()?;
    let hash = p.hash.map(|h| h.oid).unwrap_or(SHA1);
    // the mask generation must use the same hash (what PKCS#11 and OpenSSL's defaults do)
    if let Some(mgf) = p.mgf {
        let inner = mgf.parameters.and_then(|a| a.decode_as::<spki::AlgorithmIdentifierOwned>().ok())?;
        if inner.oid != hash {
            return None;
        }
    }
    if p.source.is_some() {
        return None;
    }
    Some(hash)
}

/// A certificate of this workstation with its key: where it is.
struct Holder {
    certificate: Certificate,
    reachable: Reachable,
    token: Option<Token>,
    key_id: Option<Vec<u8>>,
}

fn names(rid: &RecipientIdentifier) -> (Option<String>, Option<String>, Option<String>) {
    match rid {
        RecipientIdentifier::IssuerAndSerialNumber(ias) => (
            Some(rfc4514(&ias.issuer)),
            Some(hex::encode(ias.serial_number.as_bytes()).trim_start_matches("00").to_string()),
            None,
        ),
        RecipientIdentifier::SubjectKeyIdentifier(ski) => (None, None, Some(hex::encode(ski.0.as_bytes()))),
    }
}

/// A name as the rest of Trousseau writes it (RFC 4514: most specific first, the crate's escaping).
fn rfc4514(name: &x509_cert::name::Name) -> String {
    use x509_parser::prelude::FromDer as _;
    name.to_der()
        .ok()
        .and_then(|der| x509_parser::x509::X509Name::from_der(&der).ok().map(|(_, n)| crate::cert::rfc4514(&n)))
        .unwrap_or_else(|| name.to_string())
}

/// Whether `cert` is the one `rid` names.
fn matches(rid: &RecipientIdentifier, cert: &Certificate) -> bool {
    let Ok(c) = x509_cert::Certificate::from_der(&cert.der) else { return false };
    let tbs = c.tbs_certificate();
    match rid {
        RecipientIdentifier::IssuerAndSerialNumber(ias) => {
            tbs.issuer() == &ias.issuer && tbs.serial_number().as_bytes() == ias.serial_number.as_bytes()
        }
        RecipientIdentifier::SubjectKeyIdentifier(ski) => tbs.extensions().into_iter().flatten().any(|e| {
            e.extn_id == SUBJECT_KEY_IDENTIFIER
                && x509_cert::ext::pkix::SubjectKeyIdentifier::from_der(e.extn_value.as_bytes())
                    .is_ok_and(|k| k.0.as_bytes() == ski.0.as_bytes())
        }),
    }
}

/// Every certificate with a private key on this workstation: the OS store first, then the tokens present.
fn holders(lang: crate::i18n::Lang) -> Vec<Holder> {
    let mut out = Vec::new();
    if let Ok(mut store) = crate::store::open_default() {
        if let Ok(list) = store.list() {
            for c in list.into_iter().filter(|c| c.has_private_key && !c.on_token) {
                out.push(Holder { certificate: c.certificate, reachable: Reachable::Store, token: None, key_id: None });
            }
        }
    }
    let discovery = crate::token::discover();
    for t in crate::token::list_tokens(&discovery, lang).tokens {
        let Ok(certs) = crate::token::certificates(&t) else { continue };
        for c in certs.into_iter().filter(|c| c.has_private_key) {
            if out.iter().any(|h| h.certificate.sha256 == c.certificate.sha256) {
                continue;
            }
            out.push(Holder {
                certificate: c.certificate,
                reachable: Reachable::Token,
                token: Some(t.clone()),
                key_id: hex::decode(&c.key_id).ok(),
            });
        }
    }
    out
}

fn describe(ri: &RecipientInfo, holders: &[Holder]) -> Recipient {
    let RecipientInfo::Ktri(k) = ri else {
        let kind = match ri {
            RecipientInfo::Kari(_) => "key agreement (kari)",
            RecipientInfo::Kekri(_) => "key-encryption key (kekri)",
            RecipientInfo::Pwri(_) => "password (pwri)",
            _ => "other recipient type",
        };
        return Recipient {
            issuer: None,
            serial: None,
            ski: None,
            key_transport: None,
            unsupported: Some(kind.into()),
            reachable: Reachable::Absent,
            holder: None,
            sha256: None,
            token: None,
        };
    };
    let (issuer, serial, ski) = names(&k.rid);
    let (key_transport, unsupported) = match key_transport(&k.key_enc_alg) {
        Ok(t) => (Some(t), None),
        Err(what) => (None, Some(what)),
    };
    let found = holders.iter().find(|h| matches(&k.rid, &h.certificate));
    Recipient {
        issuer,
        serial,
        ski,
        key_transport,
        unsupported,
        reachable: found.map(|h| h.reachable).unwrap_or(Reachable::Absent),
        holder: found.map(|h| h.certificate.subject_cn.clone().unwrap_or_else(|| h.certificate.subject.clone())),
        sha256: found.map(|h| h.certificate.sha256.clone()),
        token: found.and_then(|h| h.token.as_ref().map(|t| t.label.clone())),
    }
}

/// Which recipients the envelope names and which of them this workstation can open — no PIN asked.
pub fn inspect(path: &Path, lang: crate::i18n::Lang) -> Result<Inspection, EnvelopeError> {
    let env = read(path)?;
    let holders = holders(lang);
    let recipients: Vec<Recipient> = env.recipients.iter().map(|r| describe(r, &holders)).collect();
    Ok(Inspection {
        kind: env.kind,
        content_cipher: ContentCipher::of(&env.content_enc_alg, env.auth.is_some())?,
        encrypted_size: env.ciphertext().map(|c| c.len() as u64).unwrap_or(0),
        can_open: recipients.iter().any(|r| r.reachable != Reachable::Absent && r.key_transport.is_some()),
        recipients,
    })
}

/// How the core gets a PIN for a token when it needs one (the CLI: prompt, `--pin-stdin`, `--pin-env`; the window:
/// its dialog). `Ok(None)`: type it on the reader's PIN pad.
pub type PinSource<'a> = &'a mut dyn FnMut(&Token) -> Result<Option<Pin>, EnvelopeError>;

/// What to open and where to put it.
#[derive(Debug, Clone)]
pub struct OpenRequest {
    pub file: PathBuf,
    /// A directory (the output takes the envelope's name without `.p7m`/`.p7e`/`.cms`) or a file name.
    pub out: PathBuf,
    /// Replace an existing output file.
    pub force: bool,
}

/// The output file for `req`: in a directory, the envelope's name without its envelope extension.
pub fn output_path(req: &OpenRequest) -> PathBuf {
    if req.out.is_dir() {
        let name = req.file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "pli".into());
        let lower = name.to_ascii_lowercase();
        let stem = [".p7m", ".p7e", ".cms", ".pem", ".der"]
            .iter()
            .find(|e| lower.ends_with(*e) && name.len() > e.len())
            .map(|e| name[..name.len() - e.len()].to_string())
            .unwrap_or_else(|| format!("{name}.dechiffre"));
        req.out.join(stem)
    } else {
        req.out.clone()
    }
}

/// Opens an envelope with the first recipient key this workstation holds (store keys first: no PIN), writes the
/// content to `req.out` only once it decrypted (and authenticated), and never replaces a file unless asked.
pub fn open(req: &OpenRequest, pin: PinSource<'_>, lang: crate::i18n::Lang) -> Result<Opened, EnvelopeError> {
    let out = output_path(req);
    if !req.force && out.exists() {
        return Err(EnvelopeError::OutputExists { path: out });
    }
    let env = read(&req.file)?;
    let cipher = ContentCipher::of(&env.content_enc_alg, env.auth.is_some())?;
    let holders = holders(lang);
    let mut candidates: Vec<(&cms::enveloped_data::KeyTransRecipientInfo, KeyTransport, &Holder)> = Vec::new();
    for ri in &env.recipients {
        let RecipientInfo::Ktri(k) = ri else { continue };
        let Ok(t) = key_transport(&k.key_enc_alg) else { continue };
        for h in holders.iter().filter(|h| matches(&k.rid, &h.certificate)) {
            candidates.push((k, t, h));
        }
    }
    if candidates.is_empty() {
        let recipients = env.recipients.iter().map(|r| describe(r, &holders)).collect::<Vec<_>>();
        return Err(EnvelopeError::NoKey { recipients: recipients.iter().map(recipient_label).collect() });
    }
    // store keys first (no PIN), then cards
    candidates.sort_by_key(|(_, _, h)| h.reachable != Reachable::Store);
    let mut last = None;
    let mut cek = None;
    for (k, transport, h) in candidates {
        match unwrap_key(k.enc_key.as_bytes(), transport, h, pin) {
            Ok(key) => {
                cek = Some((key, describe(&RecipientInfo::Ktri(k.clone()), &holders)));
                break;
            }
            Err(e @ (EnvelopeError::Token(_) | EnvelopeError::Store(_) | EnvelopeError::WrongKey)) => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    let Some((cek, recipient)) = cek else { return Err(last.unwrap_or(EnvelopeError::WrongKey)) };
    // the envelope is given up to the decryption, which may work in its buffer (GCM decrypts in place)
    let written = content::decrypt_to(env, cipher, &cek, &out, req.force)?;
    Ok(Opened { out, size: written, content_cipher: cipher, recipient })
}

fn recipient_label(r: &Recipient) -> String {
    match (&r.issuer, &r.serial, &r.ski) {
        (Some(i), Some(s), _) => format!("{} n° {s}", short_issuer(i)),
        (_, _, Some(k)) => format!("SKI {k}"),
        _ => r.unsupported.clone().unwrap_or_default(),
    }
}

fn short_issuer(rfc4514: &str) -> String {
    rfc4514.split(',').find_map(|p| p.trim().strip_prefix("CN=")).unwrap_or(rfc4514).to_string()
}

/// The content-encryption key, decrypted where the recipient's private key lives.
fn unwrap_key(
    encrypted: &[u8],
    transport: KeyTransport,
    holder: &Holder,
    pin: PinSource<'_>,
) -> Result<Zeroizing<Vec<u8>>, EnvelopeError> {
    match (&holder.token, &holder.key_id) {
        (Some(token), Some(key_id)) => {
            let session = match pin(token)? {
                Some(p) => crate::token::login(token, p)?,
                None => crate::token::login_protected(token)?,
            };
            session.decrypt(key_id, transport.padding(), encrypted).map_err(|e| match e {
                crate::token::TokenError::Decrypt { .. } => EnvelopeError::WrongKey,
                other => EnvelopeError::Token(other),
            })
        }
        _ => {
            let mut store = crate::store::open_default()?;
            store.decrypt(&holder.certificate.sha256, transport.padding(), encrypted).map_err(|e| match e {
                crate::store::StoreError::Decrypt { .. } => EnvelopeError::WrongKey,
                other => EnvelopeError::Store(other),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_names_drop_the_envelope_extension() {
        let dir = tempfile::tempdir().unwrap();
        let req = |f: &str| OpenRequest { file: PathBuf::from(f), out: dir.path().to_path_buf(), force: false };
        assert_eq!(output_path(&req("/x/offre.pdf.p7m")), dir.path().join("offre.pdf"));
        assert_eq!(output_path(&req("/x/OFFRE.ZIP.P7M")), dir.path().join("OFFRE.ZIP"));
        assert_eq!(output_path(&req("/x/pli")), dir.path().join("pli.dechiffre"));
        assert_eq!(output_path(&req("/x/.p7m")), dir.path().join(".p7m.dechiffre"));
    }

    #[test]
    fn garbage_and_truncated_input_are_refused_clearly() {
        assert!(matches!(
            parse(b"\x30\x03\x02\x01".to_vec()),
            Err(EnvelopeError::Truncated | EnvelopeError::Damaged { .. })
        ));
        assert!(unwrap_text(b"hello".to_vec()).is_none());
        // a certificate-only PKCS#7 is not an envelope
        let signed = cms::content_info::ContentInfo {
            content_type: Oid::new_unwrap("1.2.840.113549.1.7.2"),
            content: der::Any::new(der::Tag::Sequence, Vec::<u8>::new()).unwrap(),
        };
        let der = signed.to_der().unwrap();
        assert!(matches!(parse(der), Err(EnvelopeError::NotAnEnvelope { .. })));
    }
}

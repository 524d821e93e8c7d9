//! Content decryption: the algorithm identifiers of RFC 3565 (AES-CBC), RFC 5084 (AES-GCM) and RFC 3370 (3DES),
//! and the write of the plaintext — to a temporary file beside the destination, renamed into place only once the
//! whole content decrypted and, for GCM, its tag verified.

use std::io::Write;
use std::path::Path;

use der::asn1::{ObjectIdentifier as Oid, OctetString};
use serde::Serialize;

use super::{Envelope, EnvelopeError};

const AES128_CBC: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.1.2");
const AES192_CBC: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.1.22");
const AES256_CBC: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.1.42");
const AES128_GCM: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.1.6");
const AES192_GCM: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.1.26");
const AES256_GCM: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.1.46");
const DES_EDE3_CBC: Oid = Oid::new_unwrap("1.2.840.113549.3.7");

/// The content-encryption algorithm, with its parameters (IV, or GCM nonce and tag length).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ContentCipher {
    #[serde(rename = "aes-128-cbc")]
    Aes128Cbc,
    #[serde(rename = "aes-192-cbc")]
    Aes192Cbc,
    #[serde(rename = "aes-256-cbc")]
    Aes256Cbc,
    #[serde(rename = "aes-128-gcm")]
    Aes128Gcm,
    #[serde(rename = "aes-192-gcm")]
    Aes192Gcm,
    #[serde(rename = "aes-256-gcm")]
    Aes256Gcm,
    #[serde(rename = "des-ede3-cbc")]
    DesEde3Cbc,
}

impl ContentCipher {
    /// The algorithm of an envelope's content; GCM only inside AuthEnvelopedData (it needs the tag).
    pub(super) fn of(alg: &spki::AlgorithmIdentifierOwned, auth: bool) -> Result<ContentCipher, EnvelopeError> {
        let c = match alg.oid {
            o if o == AES128_CBC => ContentCipher::Aes128Cbc,
            o if o == AES192_CBC => ContentCipher::Aes192Cbc,
            o if o == AES256_CBC => ContentCipher::Aes256Cbc,
            o if o == AES128_GCM => ContentCipher::Aes128Gcm,
            o if o == AES192_GCM => ContentCipher::Aes192Gcm,
            o if o == AES256_GCM => ContentCipher::Aes256Gcm,
            o if o == DES_EDE3_CBC => ContentCipher::DesEde3Cbc,
            other => return Err(EnvelopeError::UnsupportedAlgorithm { what: format!("content cipher {other}") }),
        };
        if c.is_gcm() != auth {
            return Err(EnvelopeError::UnsupportedAlgorithm {
                what: format!("{} in {}", c.name(), if auth { "AuthEnvelopedData" } else { "EnvelopedData" }),
            });
        }
        Ok(c)
    }

    pub fn name(self) -> &'static str {
        match self {
            ContentCipher::Aes128Cbc => "aes-128-cbc",
            ContentCipher::Aes192Cbc => "aes-192-cbc",
            ContentCipher::Aes256Cbc => "aes-256-cbc",
            ContentCipher::Aes128Gcm => "aes-128-gcm",
            ContentCipher::Aes192Gcm => "aes-192-gcm",
            ContentCipher::Aes256Gcm => "aes-256-gcm",
            ContentCipher::DesEde3Cbc => "des-ede3-cbc",
        }
    }

    fn is_gcm(self) -> bool {
        matches!(self, ContentCipher::Aes128Gcm | ContentCipher::Aes192Gcm | ContentCipher::Aes256Gcm)
    }

    fn key_len(self) -> usize {
        match self {
            ContentCipher::Aes128Cbc | ContentCipher::Aes128Gcm => 16,
            ContentCipher::Aes192Cbc | ContentCipher::Aes192Gcm | ContentCipher::DesEde3Cbc => 24,
            ContentCipher::Aes256Cbc | ContentCipher::Aes256Gcm => 32,
        }
    }
}

/// GCMParameters (RFC 5084): the nonce and the tag length (default 12).
#[derive(der::Sequence)]
struct GcmParams {
    nonce: OctetString,
    #[asn1(default = "default_icv")]
    icv_len: u8,
}

fn default_icv() -> u8 {
    12
}

const CHUNK: usize = 1 << 20;

/// A write error without its path (the caller names the file).
fn write_err(source: std::io::Error) -> EnvelopeError {
    EnvelopeError::Io { path: std::path::PathBuf::new(), source }
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> EnvelopeError + '_ {
    move |source| EnvelopeError::Io { path: path.to_path_buf(), source }
}

/// The content cipher's parameters, checked against the key.
enum Params {
    Cbc(OctetString),
    Gcm(GcmParams),
}

fn params(env: &Envelope, cipher: ContentCipher, cek: &[u8]) -> Result<Params, EnvelopeError> {
    if cek.len() != cipher.key_len() {
        // a wrong key unwrapped by PKCS#1 v1.5 often yields random bytes of another length
        return Err(EnvelopeError::WrongKey);
    }
    if env.body.is_none() {
        return Err(EnvelopeError::Damaged {
            detail: "no encrypted content (detached content is not supported)".into(),
        });
    }
    let p = env
        .content_enc_alg
        .parameters
        .as_ref()
        .ok_or_else(|| EnvelopeError::Damaged { detail: "content cipher without parameters".into() })?;
    let bad = |e: der::Error| EnvelopeError::Damaged { detail: e.to_string() };
    Ok(if cipher.is_gcm() {
        Params::Gcm(p.decode_as().map_err(bad)?)
    } else {
        Params::Cbc(p.decode_as().map_err(bad)?)
    })
}

/// Decrypts the envelope's content with `cek` into `w` (the backup-key drill decrypts into memory); returns the
/// plaintext size. For GCM nothing reaches `w` before the tag checked. The envelope is left as it was.
pub(super) fn decrypt_into(
    env: &Envelope,
    cipher: ContentCipher,
    cek: &[u8],
    w: &mut dyn Write,
    progress: Option<&mut crate::progress::Reporter>,
) -> Result<u64, EnvelopeError> {
    let params = params(env, cipher, cek)?;
    let ciphertext = env.ciphertext().unwrap_or_default();
    match (cipher, params) {
        (ContentCipher::DesEde3Cbc, Params::Cbc(iv)) => {
            let mut buf = zeroize::Zeroizing::new(ciphertext.to_vec());
            let n = tdes_cbc(cek, iv.as_bytes(), &mut buf, w)?;
            if let Some(r) = progress {
                r.finish();
            }
            Ok(n)
        }
        (_, Params::Cbc(iv)) => aes_cbc(cipher, cek, iv.as_bytes(), ciphertext, w, progress),
        (_, Params::Gcm(p)) => {
            let (aad, tag) = env.auth.as_ref().ok_or(EnvelopeError::WrongKey)?;
            let mut buf = Vec::with_capacity(ciphertext.len() + tag.len());
            buf.extend_from_slice(ciphertext);
            buf.extend_from_slice(tag);
            let n = aes_gcm(cipher, cek, &p, aad, tag.len(), &mut buf, w)?;
            if let Some(r) = progress {
                r.finish();
            }
            Ok(n)
        }
    }
}

/// Decrypts the envelope's content with `cek` into `out`; returns the plaintext size. The file appears only once
/// the whole content decrypted (and authenticated), never over an existing file unless `force`. The envelope is
/// used up: GCM and 3DES decrypt in its buffer, so the content is never held twice.
pub(super) fn decrypt_to(
    mut env: Envelope,
    cipher: ContentCipher,
    cek: &[u8],
    out: &Path,
    force: bool,
) -> Result<u64, EnvelopeError> {
    let params = params(&env, cipher, cek)?;
    let mut staged = crate::fsutil::stage(out, crate::fsutil::Access::Private).map_err(file_error)?;
    let body = env.body.clone().unwrap_or(0..0);
    let mut progress = crate::progress::Reporter::new("envelope_open", body.len() as u64);
    let with_path = |e: EnvelopeError| match e {
        EnvelopeError::Io { source, .. } => EnvelopeError::Io { path: out.to_path_buf(), source },
        other => other,
    };
    let written = {
        let mut w = std::io::BufWriter::with_capacity(CHUNK, staged.file());
        let n = match (cipher, params) {
            (ContentCipher::DesEde3Cbc, Params::Cbc(iv)) => {
                let n = tdes_cbc(cek, iv.as_bytes(), &mut env.raw[body], &mut w);
                progress.finish();
                n
            }
            (_, Params::Cbc(iv)) => aes_cbc(cipher, cek, iv.as_bytes(), &env.raw[body], &mut w, Some(&mut progress)),
            (_, Params::Gcm(p)) => {
                let (aad, tag) = env.auth.take().ok_or(EnvelopeError::WrongKey)?;
                // the tag goes right after the ciphertext, over bytes already read (the MAC field follows the
                // content, so there is room), and the content decrypts in place
                let end =
                    body.end.checked_add(tag.len()).filter(|e| *e <= env.raw.len()).ok_or(EnvelopeError::Truncated)?;
                env.raw[body.end..end].copy_from_slice(&tag);
                let n = aes_gcm(cipher, cek, &p, &aad, tag.len(), &mut env.raw[body.start..end], &mut w);
                progress.finish();
                n
            }
        }
        .map_err(with_path)?;
        w.flush().map_err(io(out))?;
        n
    };
    staged.commit(force).map_err(file_error)?;
    Ok(written)
}

fn file_error(e: crate::fsutil::FileError) -> EnvelopeError {
    match e {
        crate::fsutil::FileError::Exists { path } => EnvelopeError::OutputExists { path },
        other => EnvelopeError::Io { path: other.path().to_path_buf(), source: other.into() },
    }
}

fn aes_cbc(
    cipher: ContentCipher,
    cek: &[u8],
    iv: &[u8],
    ciphertext: &[u8],
    file: &mut dyn Write,
    mut progress: Option<&mut crate::progress::Reporter>,
) -> Result<u64, EnvelopeError> {
    use aws_lc_rs::cipher::{DecryptionContext, StreamingDecryptingKey, UnboundCipherKey, AES_128, AES_192, AES_256};
    let alg = match cipher {
        ContentCipher::Aes128Cbc => &AES_128,
        ContentCipher::Aes192Cbc => &AES_192,
        _ => &AES_256,
    };
    let iv: [u8; 16] =
        iv.try_into().map_err(|_| EnvelopeError::Damaged { detail: format!("AES-CBC IV of {} bytes", iv.len()) })?;
    if ciphertext.is_empty() || ciphertext.len() % 16 != 0 {
        return Err(EnvelopeError::Truncated);
    }
    let key = UnboundCipherKey::new(alg, cek).map_err(|_| EnvelopeError::WrongKey)?;
    let mut dec = StreamingDecryptingKey::cbc_pkcs7(key, DecryptionContext::Iv128(iv.into()))
        .map_err(|_| EnvelopeError::WrongKey)?;
    let mut buf = vec![0u8; CHUNK + 16];
    let mut total = 0u64;
    for chunk in ciphertext.chunks(CHUNK) {
        let u = dec.update(chunk, &mut buf).map_err(|_| EnvelopeError::WrongKey)?;
        file.write_all(u.written()).map_err(write_err)?;
        total += u.written().len() as u64;
        if let Some(r) = progress.as_deref_mut() {
            r.advance(chunk.len() as u64);
        }
    }
    // a wrong key shows here: the padding of the last block does not check
    let u = dec.finish(&mut buf).map_err(|_| EnvelopeError::WrongKey)?;
    file.write_all(u.written()).map_err(write_err)?;
    total += u.written().len() as u64;
    buf.iter_mut().for_each(|b| *b = 0);
    if let Some(r) = progress {
        r.finish();
    }
    Ok(total)
}

/// AES-GCM over `in_out` (ciphertext then its `tag_len`-byte tag), decrypted in place and written only once the tag
/// checked: nothing unauthenticated reaches the output. (The plaintext is the bid itself, written to disk next: not
/// zeroized, which would cost a pass over it.)
fn aes_gcm(
    cipher: ContentCipher,
    cek: &[u8],
    p: &GcmParams,
    aad: &[u8],
    tag_len: usize,
    in_out: &mut [u8],
    file: &mut dyn Write,
) -> Result<u64, EnvelopeError> {
    use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_128_GCM, AES_192_GCM, AES_256_GCM};
    let alg = match cipher {
        ContentCipher::Aes128Gcm => &AES_128_GCM,
        ContentCipher::Aes192Gcm => &AES_192_GCM,
        _ => &AES_256_GCM,
    };
    let nonce: [u8; 12] = p.nonce.as_bytes().try_into().map_err(|_| EnvelopeError::UnsupportedAlgorithm {
        what: format!("AES-GCM with a {}-byte nonce", p.nonce.as_bytes().len()),
    })?;
    if p.icv_len != 16 || tag_len != 16 {
        return Err(EnvelopeError::UnsupportedAlgorithm { what: format!("AES-GCM with a {tag_len}-byte tag") });
    }
    let key = LessSafeKey::new(UnboundKey::new(alg, cek).map_err(|_| EnvelopeError::WrongKey)?);
    let plain = key
        .open_in_place(Nonce::assume_unique_for_key(nonce), Aad::from(aad), in_out)
        .map_err(|_| EnvelopeError::NotAuthentic)?;
    file.write_all(plain).map_err(write_err)?;
    Ok(plain.len() as u64)
}

fn tdes_cbc(cek: &[u8], iv: &[u8], buf: &mut [u8], file: &mut dyn Write) -> Result<u64, EnvelopeError> {
    use cbc::cipher::{block_padding::Pkcs7, BlockModeDecrypt, KeyIvInit};
    let iv: [u8; 8] =
        iv.try_into().map_err(|_| EnvelopeError::Damaged { detail: format!("3DES IV of {} bytes", iv.len()) })?;
    if buf.is_empty() || buf.len() % 8 != 0 {
        return Err(EnvelopeError::Truncated);
    }
    let dec = cbc::Decryptor::<des::TdesEde3>::new_from_slices(cek, &iv).map_err(|_| EnvelopeError::WrongKey)?;
    let plain = dec.decrypt_padded::<Pkcs7>(buf).map_err(|_| EnvelopeError::WrongKey)?;
    file.write_all(plain).map_err(write_err)?;
    Ok(plain.len() as u64)
}

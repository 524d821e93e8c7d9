//! A private key on a token as an rcgen signing key: the CSR (or certificate) code that signs with a software
//! key signs with a key on the card, in place — the key never leaves the token.

use super::session::{find_key, with_session};
use super::wire::{expect_reply, Reply, Request, SignWith};
use super::worker::{Op, State};
use super::{device, TokenError, TokenSession};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass};
use cryptoki::session::Session;
use sha2::Digest;
use std::sync::Mutex;

/// A key on a logged-in token that rcgen can sign with (`PublicKeyData` + `SigningKey`).
///
/// rcgen's error type cannot carry our errors: when signing fails, rcgen reports `RemoteKeyError` and
/// [`TokenSigningKey::take_error`] gives the token's actual error (wrong card, card removed, timeout…).
#[derive(Debug)]
pub struct TokenSigningKey<'a> {
    session: &'a TokenSession,
    key_id: Vec<u8>,
    /// The subjectPublicKey bits (RSAPublicKey DER, or the EC point).
    public: Vec<u8>,
    with: SignWith,
    last_error: Mutex<Option<TokenError>>,
}

impl TokenSession {
    /// The private key `key_id` (CKA_ID bytes) as an rcgen signing key: RSA (SHA-256 with PKCS#1 v1.5) or
    /// EC P-256/P-384 (ECDSA).
    pub fn signing_key(&self, key_id: &[u8]) -> Result<TokenSigningKey<'_>, TokenError> {
        let req =
            Request::DescribeKey { session: self.id, serial: self.token().serial.clone(), key_id: key_id.to_vec() };
        let reply = self.call(req)?;
        let (public, with) = expect_reply!(reply, Reply::Key { public, with } => (public, with))?;
        Ok(TokenSigningKey { session: self, key_id: key_id.to_vec(), public, with, last_error: Mutex::new(None) })
    }
}

impl TokenSigningKey<'_> {
    /// The error behind the last `RemoteKeyError` rcgen reported, if any.
    pub fn take_error(&self) -> Option<TokenError> {
        self.last_error.lock().ok().and_then(|mut e| e.take())
    }

    /// CKA_ID of the key.
    pub fn key_id(&self) -> &[u8] {
        &self.key_id
    }

    /// Signs `msg` on the token (hashing as the algorithm requires).
    pub fn sign_on_token(&self, msg: &[u8]) -> Result<Vec<u8>, TokenError> {
        let with = self.with;
        let data: Vec<u8> = match with {
            SignWith::Sha256RsaPkcs => msg.to_vec(),
            SignWith::RsaPkcsDigestInfo => {
                let mut d = SHA256_DIGEST_INFO.to_vec();
                d.extend_from_slice(&sha2::Sha256::digest(msg));
                d
            }
            SignWith::EcdsaP256 => sha2::Sha256::digest(msg).to_vec(),
            SignWith::EcdsaP384 => sha2::Sha384::digest(msg).to_vec(),
        };
        let req = Request::Sign {
            session: self.session.id,
            serial: self.session.token().serial.clone(),
            key_id: self.key_id.clone(),
            with,
            data,
        };
        let raw = expect_reply!(self.session.call(req)?, Reply::Bytes(b) => b)?;
        match with {
            SignWith::EcdsaP256 | SignWith::EcdsaP384 => Ok(ecdsa_raw_to_der(&raw)),
            _ => Ok(raw),
        }
    }
}

/// [`TokenSession::signing_key`] where the module lives.
pub(super) fn describe_on(
    state: &mut State,
    sid: u64,
    serial: &str,
    id: &[u8],
) -> Result<(Vec<u8>, SignWith), TokenError> {
    let (slot, module) = {
        let s = state.session(sid)?;
        (s.slot, s.module.clone())
    };
    let ctx = state.module_ctx(&module).ok_or(TokenError::SessionLost)?;
    let mechanisms = ctx.get_mechanism_list(slot).unwrap_or_default();
    with_session(state, sid, serial, Op::List, |s| describe_key(s, id, &mechanisms))
}

/// [`TokenSigningKey::sign_on_token`] where the module lives.
pub(super) fn sign_on(
    state: &mut State,
    sid: u64,
    serial: &str,
    id: &[u8],
    with: SignWith,
    data: &[u8],
) -> Result<Vec<u8>, TokenError> {
    with_session(state, sid, serial, Op::Sign, |s| {
        let key = find_key(s, ObjectClass::PRIVATE_KEY, id)?;
        let mechanism = match with {
            SignWith::Sha256RsaPkcs => Mechanism::Sha256RsaPkcs,
            SignWith::RsaPkcsDigestInfo => Mechanism::RsaPkcs,
            SignWith::EcdsaP256 | SignWith::EcdsaP384 => Mechanism::Ecdsa,
        };
        s.sign(&mechanism, key, data).map_err(|e| match e {
            cryptoki::error::Error::Pkcs11(cryptoki::error::RvError::UserNotLoggedIn, _) => TokenError::Unsupported {
                what: "signature key asking for the PIN at every use (CKA_ALWAYS_AUTHENTICATE)".into(),
            },
            e => device(Op::Sign, &e),
        })
    })
}

impl rcgen::PublicKeyData for TokenSigningKey<'_> {
    fn der_bytes(&self) -> &[u8] {
        &self.public
    }

    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        match self.with {
            SignWith::Sha256RsaPkcs | SignWith::RsaPkcsDigestInfo => &rcgen::PKCS_RSA_SHA256,
            SignWith::EcdsaP256 => &rcgen::PKCS_ECDSA_P256_SHA256,
            SignWith::EcdsaP384 => &rcgen::PKCS_ECDSA_P384_SHA384,
        }
    }
}

impl rcgen::SigningKey for TokenSigningKey<'_> {
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        self.sign_on_token(msg).map_err(|e| {
            if let Ok(mut slot) = self.last_error.lock() {
                *slot = Some(e);
            }
            rcgen::Error::RemoteKeyError
        })
    }
}

/// DER prefix of a SHA-256 DigestInfo (RFC 8017 §9.2 note 1).
const SHA256_DIGEST_INFO: [u8; 19] =
    [0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20];
const OID_P256: [u8; 10] = [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
const OID_P384: [u8; 7] = [0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22];

/// Reads the key's type and public half (from the private key, its public key object or its certificate).
fn describe_key(s: &Session, id: &[u8], mechanisms: &[MechanismType]) -> Result<(Vec<u8>, SignWith), TokenError> {
    let private = find_key(s, ObjectClass::PRIVATE_KEY, id)?;
    let public = find_key(s, ObjectClass::PUBLIC_KEY, id).ok();
    let wanted = [
        AttributeType::KeyType,
        AttributeType::Modulus,
        AttributeType::PublicExponent,
        AttributeType::EcParams,
        AttributeType::EcPoint,
    ];
    let mut attrs = s.get_attributes(private, &wanted).map_err(|e| device(Op::List, &e))?;
    if let Some(p) = public {
        attrs.extend(s.get_attributes(p, &wanted).map_err(|e| device(Op::List, &e))?);
    }
    let (mut kt, mut n, mut e, mut params, mut point) = (None, None, None, None, None);
    for a in attrs {
        match a {
            Attribute::KeyType(t) => kt = kt.or(Some(t)),
            Attribute::Modulus(v) if !v.is_empty() => n = n.or(Some(v)),
            Attribute::PublicExponent(v) if !v.is_empty() => e = e.or(Some(v)),
            Attribute::EcParams(v) if !v.is_empty() => params = params.or(Some(v)),
            Attribute::EcPoint(v) if !v.is_empty() => point = point.or(Some(v)),
            _ => {}
        }
    }
    match kt {
        Some(t) if t == KeyType::RSA => {
            let (Some(n), Some(e)) = (n, e) else {
                return Err(TokenError::Unsupported { what: "RSA key without readable public half".into() });
            };
            let with = if mechanisms.contains(&MechanismType::SHA256_RSA_PKCS) {
                SignWith::Sha256RsaPkcs
            } else {
                SignWith::RsaPkcsDigestInfo
            };
            Ok((pair_of_integers(&n, &e), with))
        }
        Some(t) if t == KeyType::EC => {
            let (Some(params), Some(point)) = (params, point) else {
                return Err(TokenError::Unsupported { what: "EC key without readable public point".into() });
            };
            let with = if params == OID_P256 {
                SignWith::EcdsaP256
            } else if params == OID_P384 {
                SignWith::EcdsaP384
            } else {
                return Err(TokenError::Unsupported { what: "EC curve other than P-256/P-384".into() });
            };
            Ok((unwrap_octet_string(&point), with))
        }
        _ => Err(TokenError::Unsupported { what: "key type other than RSA or EC".into() }),
    }
}

/// CKA_EC_POINT is a DER OCTET STRING holding the point; some modules return the bare point.
fn unwrap_octet_string(v: &[u8]) -> Vec<u8> {
    use crate::asn1::ber;
    match ber::read(v, 0) {
        Ok((o, rest)) if rest.is_empty() && o.tag == 0x04 => o.content.to_vec(),
        _ => v.to_vec(),
    }
}

/// An INTEGER holding the unsigned big-endian `n` (leading zeros dropped, one added when the top bit is set).
fn push_unsigned(n: &[u8], out: &mut Vec<u8>) {
    let mut body: Vec<u8> = n.iter().copied().skip_while(|b| *b == 0).collect();
    if body.is_empty() || body[0] & 0x80 != 0 {
        body.insert(0, 0);
    }
    crate::asn1::ber::push_tlv(0x02, &body, out);
}

/// `SEQUENCE { INTEGER a, INTEGER b }` of two unsigned big-endian numbers (RSAPublicKey, ECDSA-Sig-Value).
fn pair_of_integers(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    push_unsigned(a, &mut body);
    push_unsigned(b, &mut body);
    let mut out = Vec::new();
    crate::asn1::ber::push_tlv(0x30, &body, &mut out);
    out
}

/// PKCS#11 ECDSA signatures are r || s; X.509 wants `SEQUENCE { INTEGER r, INTEGER s }`.
fn ecdsa_raw_to_der(raw: &[u8]) -> Vec<u8> {
    let (r, s) = raw.split_at(raw.len() / 2);
    pair_of_integers(r, s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_helpers() {
        let mut v = Vec::new();
        push_unsigned(&[0x00, 0x80], &mut v);
        assert_eq!(v, vec![0x02, 0x02, 0x00, 0x80]);
        assert_eq!(
            pair_of_integers(&[0x01, 0x00, 0x01], &[0x03]),
            vec![0x30, 0x08, 0x02, 0x03, 0x01, 0x00, 0x01, 0x02, 0x01, 0x03]
        );
        assert_eq!(unwrap_octet_string(&[0x04, 0x03, 0x04, 0x01, 0x02]), vec![0x04, 0x01, 0x02]);
        assert_eq!(ecdsa_raw_to_der(&[0x01, 0x81]), vec![0x30, 0x07, 0x02, 0x01, 0x01, 0x02, 0x02, 0x00, 0x81]);
    }
}

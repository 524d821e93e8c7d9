//! Certificates on a token, paired with their keys by `CKA_ID` and classified by what they are for.

use super::host;
use super::wire::{expect_reply, RawCertificate, Reply, Request};
use super::worker::{Op, State};
use super::{device, locate, Discovery, Token, TokenError};
use crate::cert::Certificate;
use crate::i18n::Lang;
use cryptoki::object::{Attribute, AttributeType, ObjectClass};
use cryptoki::session::Session;
use serde::Serialize;
use std::collections::HashSet;

/// What a certificate's key is for, from its key usage and extended key usage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyRole {
    /// Logging in (TLS client, smartcard logon): digitalSignature without nonRepudiation, or clientAuth.
    Authentication,
    /// Qualified / legal signature: nonRepudiation.
    Signature,
    /// Only key or data encipherment.
    Encryption,
    /// A CA certificate stored on the card.
    Ca,
    Other,
}

/// The main role of a certificate. Encryption capability is separate: a LuxTrust certificate is a signature
/// certificate *and* encryption-capable (see [`Certificate::encryption_capable`]).
pub fn classify(cert: &Certificate) -> KeyRole {
    let ku = |n: &str| cert.key_usage.iter().any(|u| u == n);
    let eku = |n: &str| cert.ext_key_usage.iter().any(|u| u == n);
    if cert.is_ca {
        KeyRole::Ca
    } else if ku("nonRepudiation") || ku("contentCommitment") {
        KeyRole::Signature
    } else if eku("clientAuth") || ku("digitalSignature") {
        KeyRole::Authentication
    } else if ku("keyEncipherment")
        || ku("dataEncipherment")
        || ku("keyAgreement")
        || (cert.key_usage.is_empty() && eku("emailProtection"))
    {
        KeyRole::Encryption
    } else {
        KeyRole::Other
    }
}

/// A certificate found on a token, as `token certs` lists it: the certificate object of `cert inspect` plus
/// where its key is.
#[derive(Debug, Clone, Serialize)]
pub struct TokenCertificate {
    #[serde(flatten)]
    pub certificate: Certificate,
    /// `CKA_ID`, lowercase hex: the link between the certificate and its keys.
    pub key_id: String,
    /// `CKA_LABEL` of the certificate object.
    pub object_label: String,
    pub role: KeyRole,
    /// A private key object with the same `CKA_ID` is visible (or, before login, its public key is: many
    /// tokens hide private objects until the PIN is given).
    pub has_private_key: bool,
    pub on_token: bool,
    /// Label of the token holding it.
    pub token: String,
}

/// Reads the certificate objects of a session's token, each with whether a key object shares its `CKA_ID`.
pub(crate) fn read_certificates(session: &Session) -> Result<Vec<RawCertificate>, TokenError> {
    let ids_of = |class: ObjectClass| -> Result<HashSet<Vec<u8>>, TokenError> {
        let handles = session.find_objects(&[Attribute::Class(class)]).map_err(|e| device(Op::List, &e))?;
        let mut ids = HashSet::new();
        for h in handles {
            if let Ok(attrs) = session.get_attributes(h, &[AttributeType::Id]) {
                for a in attrs {
                    if let Attribute::Id(id) = a {
                        ids.insert(id);
                    }
                }
            }
        }
        Ok(ids)
    };
    let private_ids = ids_of(ObjectClass::PRIVATE_KEY)?;
    let public_ids = ids_of(ObjectClass::PUBLIC_KEY)?;
    let handles =
        session.find_objects(&[Attribute::Class(ObjectClass::CERTIFICATE)]).map_err(|e| device(Op::List, &e))?;
    let mut out = Vec::new();
    for h in handles {
        let attrs = session
            .get_attributes(h, &[AttributeType::Value, AttributeType::Id, AttributeType::Label])
            .map_err(|e| device(Op::List, &e))?;
        let (mut value, mut id, mut label) = (None, Vec::new(), String::new());
        for a in attrs {
            match a {
                Attribute::Value(v) => value = Some(v),
                Attribute::Id(v) => id = v,
                Attribute::Label(v) => label = String::from_utf8_lossy(&v).trim().to_string(),
                _ => {}
            }
        }
        let Some(der) = value else { continue };
        let has_key = !id.is_empty() && (private_ids.contains(&id) || public_ids.contains(&id));
        out.push(RawCertificate { der, id, label, has_key });
    }
    Ok(out)
}

/// Parses the certificate objects read on a token (here, not in the module's process): unreadable ones are
/// left out with a warning.
pub(crate) fn pair_certificates(raw: Vec<RawCertificate>, token_label: &str) -> Vec<TokenCertificate> {
    let mut out = Vec::new();
    for r in raw {
        let certificate = match parse_certificate(&r.der) {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!("certificate object {:?} on token {token_label:?} is not readable: {e}", r.label);
                continue;
            }
        };
        out.push(TokenCertificate {
            role: classify(&certificate),
            certificate,
            key_id: hex::encode(&r.id),
            object_label: r.label,
            has_private_key: r.has_key,
            on_token: true,
            token: token_label.to_string(),
        });
    }
    out
}

fn parse_certificate(der: &[u8]) -> Result<Certificate, String> {
    crate::cert::parse_der(der).map_err(|e| e.to_string())
}

/// The certificates of `token` (public objects: no PIN needed).
pub fn certificates(token: &Token) -> Result<Vec<TokenCertificate>, TokenError> {
    let reply = host::call(&token.module, None, Request::Certificates { token: token.clone() })?;
    let raw = expect_reply!(reply, Reply::Certificates(c) => c)?;
    Ok(pair_certificates(raw, &token.label))
}

/// [`certificates`] where the module lives.
pub(crate) fn certificates_on(state: &mut State, t: &Token) -> Result<Vec<RawCertificate>, TokenError> {
    state.with_module(&t.module, |ctx| {
        let (slot, _) = locate(ctx, t)?;
        let session = ctx.open_ro_session(slot).map_err(|e| device(Op::List, &e))?;
        read_certificates(&session)
    })
}

/// Every encryption-capable certificate with a key on any token (public data only): what the portal may offer
/// as a bi-clé. Tokens that fail are skipped.
pub fn encryption_certificates(discovery: &Discovery, lang: Lang) -> Vec<TokenCertificate> {
    let mut out = Vec::new();
    for t in super::list_tokens(discovery, lang).tokens {
        if let Ok(certs) = certificates(&t) {
            out.extend(certs.into_iter().filter(|c| c.certificate.encryption_capable && c.has_private_key));
        }
    }
    out
}

//! The backup-key drill: proves, before opening day, that each registered bi-clé still opens what the portal
//! encrypts to it. The bi-clés' public certificates come from the portal's registry (the list request is the only
//! thing sent); a test envelope is built here, addressed to every one of them as the portal addresses a bid
//! (CMS EnvelopedData, AES-256-CBC, RSA PKCS#1 v1.5 key transport per recipient), then opened with each key this
//! workstation can reach — in the store, or on a card (PIN asked then). Each bi-clé gets its verdict: opens, key
//! not here (which card is needed), expired, removed on the portal, or the failure met.
//!
//! The envelope is assembled from the RustCrypto `cms`/`der` structures and encrypted with aws-lc-rs: no hand-made
//! ASN.1 and no RSA of our own.

use der::asn1::{ObjectIdentifier as Oid, OctetString, SetOfVec};
use der::{Decode, Encode};
use serde::Serialize;

use super::{content, holders, matches, parse, unwrap_key, EnvelopeError, KeyTransport, PinSource, Reachable};
use crate::cert::Certificate;
use crate::i18n::{ErrorReport, Lang};
use crate::portal::{Bicle, BicleKind};

const ID_DATA: Oid = Oid::new_unwrap("1.2.840.113549.1.7.1");
const AES256_CBC: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.1.42");

/// What the drill found for one bi-clé.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The key here opened the test envelope.
    Opens,
    /// No key of this workstation for it: the card that holds it is not inserted (or it lives elsewhere).
    KeyAbsent,
    /// The certificate expired: new bids cannot be encrypted to it.
    Expired,
    /// The portal lists it as removed (or waiting for removal).
    RemovedOnPortal,
    /// The key was found but the test failed (wrong PIN, card error…): see `error`.
    Failed,
}

/// One bi-clé's verdict.
#[derive(Debug, Clone, Serialize)]
pub struct DrillRow {
    pub id: i64,
    pub kind: BicleKind,
    pub designation: String,
    pub sha256: String,
    /// The portal's status of the row (`actif`, `a_confirmer`…).
    pub portal_status: String,
    pub outcome: Outcome,
    /// Where the key was found (store or card) and the card's label.
    pub reachable: Reachable,
    pub token: Option<String>,
    pub error: Option<ErrorReport>,
}

/// The drill's result, kept as the last result for the dashboard.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct DrillSummary {
    /// RFC 3339 UTC.
    pub checked_at: String,
    pub bicles: usize,
    pub opened: usize,
    /// Every active, unexpired bi-clé opened.
    pub all_open: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct DrillReport {
    pub rows: Vec<DrillRow>,
    pub summary: DrillSummary,
}

/// Builds an envelope of `content` addressed to every certificate (RSA keys), as a portal addresses a bid.
pub fn seal(recipients: &[&Certificate], content: &[u8]) -> Result<Vec<u8>, EnvelopeError> {
    use aws_lc_rs::cipher::{PaddedBlockEncryptingKey, UnboundCipherKey, AES_256};
    use aws_lc_rs::rsa::{Pkcs1PublicEncryptingKey, PublicEncryptingKey};
    use cms::cert::IssuerAndSerialNumber;
    use cms::content_info::CmsVersion;
    use cms::enveloped_data::{
        EncryptedContentInfo, EnvelopedData, KeyTransRecipientInfo, RecipientIdentifier, RecipientInfo, RecipientInfos,
    };
    let bad = |what: &str| EnvelopeError::UnsupportedAlgorithm { what: what.to_string() };
    let der_err = |e: der::Error| EnvelopeError::Damaged { detail: e.to_string() };
    let mut cek = zeroize::Zeroizing::new([0u8; 32]);
    aws_lc_rs::rand::fill(cek.as_mut()).map_err(|_| bad("random content key"))?;
    let mut infos = Vec::new();
    for cert in recipients {
        let c = x509_cert::Certificate::from_der(&cert.der).map_err(der_err)?;
        let tbs = c.tbs_certificate();
        let spki = tbs.subject_public_key_info().to_der().map_err(der_err)?;
        let key = PublicEncryptingKey::from_der(&spki).map_err(|_| bad("key transport to a non-RSA key"))?;
        let key = Pkcs1PublicEncryptingKey::new(key).map_err(|_| bad("RSA PKCS#1 v1.5"))?;
        let mut out = vec![0u8; key.ciphertext_size()];
        let n = key.encrypt(cek.as_ref(), &mut out).map_err(|_| bad("RSA PKCS#1 v1.5"))?.len();
        out.truncate(n);
        infos.push(RecipientInfo::Ktri(KeyTransRecipientInfo {
            version: CmsVersion::V0,
            rid: RecipientIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
                issuer: tbs.issuer().clone(),
                serial_number: tbs.serial_number().clone(),
            }),
            key_enc_alg: spki::AlgorithmIdentifierOwned {
                oid: Oid::new_unwrap("1.2.840.113549.1.1.1"),
                parameters: Some(der::Any::null()),
            },
            enc_key: OctetString::new(out).map_err(der_err)?,
        }));
    }
    let key =
        PaddedBlockEncryptingKey::cbc_pkcs7(UnboundCipherKey::new(&AES_256, cek.as_ref()).map_err(|_| bad("AES"))?)
            .map_err(|_| bad("AES-256-CBC"))?;
    let mut body = content.to_vec();
    let ctx = key.encrypt(&mut body).map_err(|_| bad("AES-256-CBC"))?;
    let iv: &[u8] = (&ctx).try_into().map_err(|_| bad("AES-256-CBC IV"))?;
    let ed = EnvelopedData {
        version: CmsVersion::V0,
        originator_info: None,
        recip_infos: RecipientInfos(SetOfVec::try_from(infos).map_err(der_err)?),
        encrypted_content: EncryptedContentInfo {
            content_type: ID_DATA,
            content_enc_alg: spki::AlgorithmIdentifierOwned {
                oid: AES256_CBC,
                parameters: Some(der::Any::encode_from(&OctetString::new(iv).map_err(der_err)?).map_err(der_err)?),
            },
            encrypted_content: Some(OctetString::new(body).map_err(der_err)?),
        },
        unprotected_attrs: None,
    };
    let ci = cms::content_info::ContentInfo {
        content_type: super::ID_ENVELOPED_DATA,
        content: der::Any::encode_from(&ed).map_err(der_err)?,
    };
    ci.to_der().map_err(der_err)
}

fn parse_certificate(b: &Bicle) -> Option<Certificate> {
    crate::cert::read_certificates(b.certificate.as_bytes()).ok().and_then(|v| v.into_iter().next())
}

/// Runs the drill on the agent's registered bi-clés (`bicles`, from the portal's registry).
pub fn run(bicles: &[Bicle], pin: PinSource<'_>, lang: Lang) -> Result<DrillReport, EnvelopeError> {
    let now = time::OffsetDateTime::now_utc();
    let certs: Vec<Option<Certificate>> = bicles.iter().map(parse_certificate).collect();
    let usable: Vec<&Certificate> = certs.iter().flatten().filter(|c| c.not_after > now).collect();
    let mut secret = [0u8; 32];
    aws_lc_rs::rand::fill(&mut secret).map_err(|_| EnvelopeError::UnsupportedAlgorithm { what: "random".into() })?;
    let sealed = if usable.is_empty() { None } else { Some(parse(seal(&usable, &secret)?)?) };
    let holders = holders(lang);
    let mut rows = Vec::new();
    for (b, cert) in bicles.iter().zip(&certs) {
        let mut row = DrillRow {
            id: b.id,
            kind: b.kind,
            designation: b.designation.clone(),
            sha256: b.sha256.clone(),
            portal_status: b.status.clone(),
            outcome: Outcome::Failed,
            reachable: Reachable::Absent,
            token: None,
            error: None,
        };
        let removed = matches!(b.status.as_str(), "supprime" | "suppression_a_confirmer" | "revoque");
        match cert {
            None => {
                row.error = Some(ErrorReport::from_coded(
                    &EnvelopeError::Damaged { detail: "the portal's certificate cannot be read".into() },
                    lang,
                ))
            }
            Some(_) if removed => row.outcome = Outcome::RemovedOnPortal,
            Some(c) if c.not_after <= now => row.outcome = Outcome::Expired,
            Some(c) => {
                let holder = holders.iter().find(|h| h.certificate.sha256 == c.sha256);
                match (holder, &sealed) {
                    (None, _) => row.outcome = Outcome::KeyAbsent,
                    (Some(h), Some(env)) => {
                        row.reachable = h.reachable;
                        row.token = h.token.as_ref().map(|t| t.label.clone());
                        match open_for(env, h, pin, &secret) {
                            Ok(()) => row.outcome = Outcome::Opens,
                            Err(e) => row.error = Some(ErrorReport::from_coded(&e, lang)),
                        }
                    }
                    (Some(_), None) => {}
                }
            }
        }
        rows.push(row);
    }
    let counted: Vec<&DrillRow> = rows
        .iter()
        .filter(|r| r.portal_status == "actif" && !matches!(r.outcome, Outcome::Expired | Outcome::RemovedOnPortal))
        .collect();
    let opened = rows.iter().filter(|r| r.outcome == Outcome::Opens).count();
    let summary = DrillSummary {
        checked_at: crate::cert::rfc3339_z::format(&now),
        bicles: rows.len(),
        opened,
        all_open: !counted.is_empty() && counted.iter().all(|r| r.outcome == Outcome::Opens),
    };
    save_last(&summary);
    Ok(DrillReport { rows, summary })
}

/// Opens the test envelope with one holder's key and checks the content came back.
fn open_for(env: &super::Envelope, h: &super::Holder, pin: PinSource<'_>, secret: &[u8]) -> Result<(), EnvelopeError> {
    let cms::enveloped_data::RecipientInfo::Ktri(k) = env
        .recipients
        .iter()
        .find(|r| matches!(r, cms::enveloped_data::RecipientInfo::Ktri(k) if matches(&k.rid, &h.certificate)))
        .ok_or(EnvelopeError::WrongKey)?
    else {
        return Err(EnvelopeError::WrongKey);
    };
    let cek = unwrap_key(k.enc_key.as_bytes(), KeyTransport::RsaPkcs1v15, h, pin)?;
    let mut out = Vec::new();
    let cipher = content::ContentCipher::of(&env.content_enc_alg, false)?;
    content::decrypt_into(env, cipher, &cek, &mut out, None)?;
    if out != secret {
        return Err(EnvelopeError::WrongKey);
    }
    Ok(())
}

fn last_file() -> Option<std::path::PathBuf> {
    crate::paths::data_dir().ok().map(|d| d.join("drill.json"))
}

fn save_last(summary: &DrillSummary) {
    if let (Some(f), Ok(text)) = (last_file(), serde_json::to_vec_pretty(summary)) {
        if let Err(e) = crate::fsutil::write_atomic(&f, &text, crate::fsutil::Access::Private) {
            tracing::warn!("the drill's result was not kept: {e}");
        }
    }
}

/// The last drill's summary (dashboard, reminder), if one ran on this workstation.
pub fn last() -> Option<DrillSummary> {
    serde_json::from_slice(&std::fs::read(last_file()?).ok()?).ok()
}

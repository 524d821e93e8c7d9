//! The online half of the status check: finding the issuer, OCSP and CRL over HTTP, signatures, the cache.
//!
//! Size: OCSP and CRL are two ways of answering one question, with one cache and one signature check; kept together
//! so that the fallback order can be read in one place.

use super::{Outcome, RevocationError, Source, Status};
use crate::cert::{self, Certificate};
// der 0.7 / x509-cert 0.2, the versions x509-ocsp is built on (see Cargo.toml)
use der07 as der;
use x509_cert_02 as x509_cert;

use der::{Decode, Encode};
use serde::{Deserialize, Serialize};
use sha1_010::{Digest, Sha1};
use std::path::{Path, PathBuf};
use std::time::Duration;
use time::OffsetDateTime;
use x509_cert::crl::CertificateList;
use x509_cert::ext::pkix::name::{DistributionPointName, GeneralName};
use x509_cert::ext::pkix::{AuthorityInfoAccessSyntax, CrlDistributionPoints, CrlReason, ExtendedKeyUsage, KeyUsage};
use x509_cert::spki::{AlgorithmIdentifierOwned, ObjectIdentifier, SubjectPublicKeyInfoOwned};
use x509_ocsp::{BasicOcspResponse, CertId, CertStatus, OcspRequest, OcspResponse, OcspResponseStatus, ResponderId};

const ID_AD_OCSP: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1");
const ID_KP_OCSP_SIGNING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.9");
const ID_PKIX_OCSP_BASIC: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1.1");
const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");

/// Clock difference tolerated between this computer and a responder.
const SKEW: time::Duration = time::Duration::minutes(5);
/// Largest OCSP answer and CRL read (a national CA's CRL is a few MB).
const MAX_OCSP: usize = 1024 * 1024;
const MAX_CRL: usize = 32 * 1024 * 1024;

/// How a check runs. [`Options::default`] is what the CLI and the window use.
#[derive(Debug, Clone)]
pub struct Options {
    /// The time answers are judged against (tests move it to judge freshness).
    pub now: OffsetDateTime,
    /// Where answers are cached until their nextUpdate; `None`: no cache.
    pub cache_dir: Option<PathBuf>,
    /// Time allowed to each service.
    pub timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            now: OffsetDateTime::now_utc(),
            cache_dir: crate::paths::data_dir().ok().map(|d| d.join("revocation")),
            timeout: Duration::from_secs(10),
        }
    }
}

fn reason_name(r: CrlReason) -> &'static str {
    match r {
        CrlReason::Unspecified => "unspecified",
        CrlReason::KeyCompromise => "keyCompromise",
        CrlReason::CaCompromise => "cACompromise",
        CrlReason::AffiliationChanged => "affiliationChanged",
        CrlReason::Superseded => "superseded",
        CrlReason::CessationOfOperation => "cessationOfOperation",
        CrlReason::CertificateHold => "certificateHold",
        CrlReason::RemoveFromCRL => "removeFromCRL",
        CrlReason::PrivilegeWithdrawn => "privilegeWithdrawn",
        CrlReason::AaCompromise => "aACompromise",
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Finding the certificate and its issuer.

/// The certificate named by `target` (a file, or the SHA-256 of a certificate in the OS store) and its issuer
/// (`issuer_file`, else the file's other certificates, else the OS store).
pub fn resolve(target: &str, issuer_file: Option<&Path>) -> Result<(Certificate, Certificate), RevocationError> {
    let path = Path::new(target);
    let (subject, bundle) = if path.is_file() {
        let mut certs = cert::read_file(path)?;
        if certs.is_empty() {
            return Err(cert::CertError::NotCertificate.into());
        }
        let first = certs.remove(0);
        (first, certs)
    } else {
        let fp = crate::store::normalize_fingerprint(target)
            .map_err(|_| RevocationError::TargetNotFound { target: target.to_string() })?;
        let mut store = crate::store::open_default()?;
        match store.find(&fp)? {
            Some(found) => (found.certificate, Vec::new()),
            None => return Err(RevocationError::TargetNotFound { target: target.to_string() }),
        }
    };
    let issuer = match issuer_file {
        Some(f) => {
            let candidates = cert::read_file(f)?;
            let found = candidates.iter().find(|c| issued_by(&subject, c)).cloned();
            match (found, candidates.into_iter().next()) {
                (Some(i), _) => i,
                (None, Some(other)) => {
                    return Err(RevocationError::IssuerMismatch {
                        subject: subject.display_name(),
                        issuer: other.display_name(),
                    })
                }
                (None, None) => return Err(cert::CertError::NotCertificate.into()),
            }
        }
        None => match bundle.iter().find(|c| issued_by(&subject, c)).cloned() {
            Some(i) => i,
            None => find_issuer_in_store(&subject)?,
        },
    };
    Ok((subject, issuer))
}

/// The issuer of `cert` for a check before use: from `pool` (the file's chain), else the OS store; `None` for a
/// self-signed certificate (a generated bi-clé: no authority to ask) or when the issuer is not at hand.
fn issuer_for_use(cert: &Certificate, pool: &[Certificate]) -> Option<Certificate> {
    if issued_by(cert, cert) {
        return None;
    }
    pool.iter().find(|c| issued_by(cert, c)).cloned().or_else(|| find_issuer_in_store(cert).ok())
}

/// The certificate's status before it is put to use (registered as a bi-clé, installed from a .p12), when a check
/// can run (see [`issuer_for_use`]). Callers refuse a revoked certificate and go on otherwise: an unreachable
/// responder must not stop an agent on opening day.
pub async fn before_use_async(cert: &Certificate, pool: &[Certificate]) -> Option<Outcome> {
    let issuer = issuer_for_use(cert, pool)?;
    check_async(cert, &issuer, &Options::default()).await.ok()
}

/// [`before_use_async`] for plain threads (the CLI, the window's blocking command threads).
pub fn before_use(cert: &Certificate, pool: &[Certificate]) -> Option<Outcome> {
    let issuer = issuer_for_use(cert, pool)?;
    check(cert, &issuer, &Options::default()).ok()
}

fn find_issuer_in_store(subject: &Certificate) -> Result<Certificate, RevocationError> {
    let not_found =
        || RevocationError::IssuerNotFound { subject: subject.display_name(), issuer: subject.issuer_display_name() };
    // A store that cannot be opened is the same as an issuer not found: the user can give it with --issuer.
    let Ok(mut store) = crate::store::open_default() else { return Err(not_found()) };
    let Ok(list) = store.list() else { return Err(not_found()) };
    list.into_iter().map(|s| s.certificate).find(|c| issued_by(subject, c)).ok_or_else(not_found)
}

/// Whether `issuer` signed `subject` (names chain and the signature verifies).
pub fn issued_by(subject: &Certificate, issuer: &Certificate) -> bool {
    let (Ok(s), Ok(i)) =
        (x509_cert::Certificate::from_der(&subject.der), x509_cert::Certificate::from_der(&issuer.der))
    else {
        return false;
    };
    signed_by_cert(&s, &i)
}

fn signed_by_cert(s: &x509_cert::Certificate, i: &x509_cert::Certificate) -> bool {
    if !same_der(&s.tbs_certificate.issuer, &i.tbs_certificate.subject) {
        return false;
    }
    let Ok(tbs) = s.tbs_certificate.to_der() else { return false };
    let Some(sig) = s.signature.as_bytes() else { return false };
    verify(&i.tbs_certificate.subject_public_key_info, &s.signature_algorithm, &tbs, sig).is_ok()
}

fn same_der<T: Encode>(a: &T, b: &T) -> bool {
    matches!((a.to_der(), b.to_der()), (Ok(x), Ok(y)) if x == y)
}

// ---------------------------------------------------------------------------------------------------------------
// Signatures.

enum SigError {
    Unsupported(String),
    Invalid,
}

/// Verifies `sig` over `msg` with the key `spki` for the algorithm `alg` (RSA PKCS#1 v1.5 with SHA-256/384/512,
/// ECDSA P-256/P-384 with SHA-256/384). SHA-1 signatures are refused.
fn verify(
    spki: &SubjectPublicKeyInfoOwned,
    alg: &AlgorithmIdentifierOwned,
    msg: &[u8],
    sig: &[u8],
) -> Result<(), SigError> {
    use aws_lc_rs::signature as s;
    let Some(key) = spki.subject_public_key.as_bytes() else { return Err(SigError::Invalid) };
    let curve = || spki.algorithm.parameters.as_ref().and_then(|p| p.decode_as::<ObjectIdentifier>().ok());
    let unsupported = || SigError::Unsupported(alg.oid.to_string());
    let algorithm: &'static dyn s::VerificationAlgorithm = match (alg.oid.to_string().as_str(), spki.algorithm.oid) {
        ("1.2.840.113549.1.1.11", RSA_ENCRYPTION) => &s::RSA_PKCS1_2048_8192_SHA256,
        ("1.2.840.113549.1.1.12", RSA_ENCRYPTION) => &s::RSA_PKCS1_2048_8192_SHA384,
        ("1.2.840.113549.1.1.13", RSA_ENCRYPTION) => &s::RSA_PKCS1_2048_8192_SHA512,
        ("1.2.840.10045.4.3.2", EC_PUBLIC_KEY) => match curve() {
            Some(P256) => &s::ECDSA_P256_SHA256_ASN1,
            Some(P384) => &s::ECDSA_P384_SHA256_ASN1,
            _ => return Err(unsupported()),
        },
        ("1.2.840.10045.4.3.3", EC_PUBLIC_KEY) => match curve() {
            Some(P256) => &s::ECDSA_P256_SHA384_ASN1,
            Some(P384) => &s::ECDSA_P384_SHA384_ASN1,
            _ => return Err(unsupported()),
        },
        _ => return Err(unsupported()),
    };
    s::UnparsedPublicKey::new(algorithm, key).verify(msg, sig).map_err(|_| SigError::Invalid)
}

// ---------------------------------------------------------------------------------------------------------------
// The check.

/// Checks the status of `subject`, issued by `issuer`: cache, then OCSP, then CRL.
pub fn check(subject: &Certificate, issuer: &Certificate, opts: &Options) -> Result<Outcome, RevocationError> {
    // A runtime of its own: callers are plain threads (CLI, the window's blocking command threads). Async callers
    // (the portal relay) use `check_async` instead: a runtime cannot be started inside another.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| RevocationError::OcspUnreachable { url: String::new(), detail: format!("runtime: {e}") })?;
    rt.block_on(check_async(subject, issuer, opts))
}

/// [`check`] for async callers.
pub async fn check_async(
    subject: &Certificate,
    issuer: &Certificate,
    opts: &Options,
) -> Result<Outcome, RevocationError> {
    let malformed = |e: der::Error| RevocationError::Malformed { detail: e.to_string() };
    let s = x509_cert::Certificate::from_der(&subject.der).map_err(malformed)?;
    let i = x509_cert::Certificate::from_der(&issuer.der).map_err(malformed)?;
    if !signed_by_cert(&s, &i) {
        return Err(RevocationError::IssuerMismatch { subject: subject.display_name(), issuer: issuer.display_name() });
    }
    let cache = opts.cache_dir.as_ref().map(|d| d.join(format!("{}.json", subject.sha256)));
    if let Some(hit) = cache.as_deref().and_then(|p| read_cache(p, &issuer.sha256, opts.now)) {
        return Ok(hit);
    }
    let outcome = check_online(&s, &i, opts).await;
    if let (Some(path), Some(_)) = (&cache, outcome.next_update) {
        if matches!(outcome.status, Status::Good | Status::Revoked) {
            write_cache(path, &issuer.sha256, &outcome);
        }
    }
    Ok(outcome)
}

/// Resolves `target` (and its issuer) and checks its status: the one service behind `trousseau cert status`
/// and the window's `cert_status`.
pub fn check_target(target: &str, issuer_file: Option<&Path>) -> Result<Outcome, RevocationError> {
    let (subject, issuer) = resolve(target, issuer_file)?;
    check(&subject, &issuer, &Options::default())
}

async fn check_online(s: &x509_cert::Certificate, i: &x509_cert::Certificate, opts: &Options) -> Outcome {
    let mut outcome = Outcome {
        status: Status::Unreachable,
        source: None,
        revoked_at: None,
        reason: None,
        checked_at: opts.now,
        next_update: None,
        problems: Vec::new(),
    };
    let (ocsp_urls, crl_urls) = service_urls(s);
    if ocsp_urls.is_empty() && crl_urls.is_empty() {
        outcome.status = Status::Unknown;
        outcome.problems.push(RevocationError::NoService);
        return outcome;
    }
    let http = reqwest::Client::builder()
        .connect_timeout(opts.timeout.min(Duration::from_secs(5)))
        .timeout(opts.timeout)
        .user_agent(concat!("trousseau/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_default();
    let mut unknown_from_ocsp = None;
    for url in &ocsp_urls {
        match ocsp(&http, url, s, i, opts.now).await {
            Ok(v) if v.status == Status::Unknown => unknown_from_ocsp = Some(v),
            Ok(v) => return v.into_outcome(Source::Ocsp, outcome),
            Err(e) => outcome.problems.push(e),
        }
    }
    for url in &crl_urls {
        match crl(&http, url, s, i, opts.now).await {
            Ok(v) => return v.into_outcome(Source::Crl, outcome),
            Err(e) => outcome.problems.push(e),
        }
    }
    match unknown_from_ocsp {
        Some(v) => v.into_outcome(Source::Ocsp, outcome),
        None => outcome,
    }
}

/// A definite answer from one service.
struct Verdict {
    status: Status,
    revoked_at: Option<OffsetDateTime>,
    reason: Option<String>,
    next_update: Option<OffsetDateTime>,
}

impl Verdict {
    fn into_outcome(self, source: Source, mut outcome: Outcome) -> Outcome {
        outcome.status = self.status;
        outcome.source = Some(source);
        outcome.revoked_at = self.revoked_at;
        outcome.reason = self.reason;
        outcome.next_update = self.next_update;
        outcome
    }
}

/// The http(s) URLs of the OCSP responders and of the CRLs the certificate names.
fn service_urls(s: &x509_cert::Certificate) -> (Vec<String>, Vec<String>) {
    let uri = |g: &GeneralName| match g {
        GeneralName::UniformResourceIdentifier(u) => {
            let u = u.as_str();
            (u.starts_with("http://") || u.starts_with("https://")).then(|| u.to_string())
        }
        _ => None,
    };
    let mut ocsp = Vec::new();
    if let Ok(Some((_, aia))) = s.tbs_certificate.get::<AuthorityInfoAccessSyntax>() {
        ocsp.extend(aia.0.iter().filter(|a| a.access_method == ID_AD_OCSP).filter_map(|a| uri(&a.access_location)));
    }
    let mut crls = Vec::new();
    if let Ok(Some((_, dps))) = s.tbs_certificate.get::<CrlDistributionPoints>() {
        for dp in &dps.0 {
            if let Some(DistributionPointName::FullName(names)) = &dp.distribution_point {
                crls.extend(names.iter().filter_map(uri));
            }
        }
    }
    (ocsp, crls)
}

fn to_time(d: Duration) -> Option<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp(i64::try_from(d.as_secs()).ok()?).ok()
}

/// Reads at most `max` bytes of a response body.
async fn body(mut resp: reqwest::Response, max: usize) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| e.to_string())? {
        if out.len() + chunk.len() > max {
            return Err(format!("more than {max} bytes"));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// Network errors without the URL (the message names it once).
fn net_detail(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timeout".into()
    } else if e.is_connect() {
        "connection refused or no route".into()
    } else if e.is_request() {
        "connection closed without an answer".into()
    } else {
        let mut s = e.to_string();
        if let Some(u) = e.url() {
            s = s.replace(&format!(" ({u})"), "").replace(u.as_str(), "");
        }
        s
    }
}

async fn ocsp(
    http: &reqwest::Client,
    url: &str,
    s: &x509_cert::Certificate,
    i: &x509_cert::Certificate,
    now: OffsetDateTime,
) -> Result<Verdict, RevocationError> {
    let malformed = |detail: String| RevocationError::OcspMalformed { url: url.to_string(), detail };
    let cert_id = CertId::from_cert::<Sha1>(i, s).map_err(|e| malformed(e.to_string()))?;
    let nonce: [u8; 16] = rand::random();
    let request: OcspRequest = x509_ocsp::builder::OcspRequestBuilder::default()
        .with_request(x509_ocsp::Request::new(cert_id.clone()))
        .with_extension(x509_ocsp::ext::Nonce::new(nonce.to_vec()).map_err(|e| malformed(e.to_string()))?)
        .map_err(|e| malformed(e.to_string()))?
        .build();
    let der = request.to_der().map_err(|e| malformed(e.to_string()))?;
    let unreachable = |detail: String| RevocationError::OcspUnreachable { url: url.to_string(), detail };
    let resp = http
        .post(url)
        .header("Content-Type", "application/ocsp-request")
        .header("Accept", "application/ocsp-response")
        .body(der)
        .send()
        .await
        .map_err(|e| unreachable(net_detail(&e)))?;
    if !resp.status().is_success() {
        return Err(unreachable(format!("HTTP {}", resp.status().as_u16())));
    }
    let bytes = body(resp, MAX_OCSP).await.map_err(unreachable)?;
    let response = OcspResponse::from_der(&bytes).map_err(|e| malformed(e.to_string()))?;
    if response.response_status != OcspResponseStatus::Successful {
        return Err(RevocationError::OcspRefused {
            url: url.to_string(),
            status: format!("{:?}", response.response_status),
        });
    }
    let Some(rb) = response.response_bytes else { return Err(malformed("no response bytes".into())) };
    if rb.response_type != ID_PKIX_OCSP_BASIC {
        return Err(malformed(format!("response type {}", rb.response_type)));
    }
    let basic = BasicOcspResponse::from_der(rb.response.as_bytes()).map_err(|e| malformed(e.to_string()))?;

    // Who signed, and may they speak for this issuer?
    let signer =
        responder(&basic, i, now).ok_or_else(|| RevocationError::OcspNotAuthorized { url: url.to_string() })?;
    let tbs = basic.tbs_response_data.to_der().map_err(|e| malformed(e.to_string()))?;
    let sig = basic.signature.as_bytes().ok_or_else(|| malformed("signature bits".into()))?;
    match verify(&signer.tbs_certificate.subject_public_key_info, &basic.signature_algorithm, &tbs, sig) {
        Ok(()) => {}
        Err(SigError::Invalid) => return Err(RevocationError::OcspBadSignature { url: url.to_string() }),
        Err(SigError::Unsupported(oid)) => return Err(RevocationError::UnsupportedAlgorithm { oid }),
    }
    if let Some(n) = basic.nonce() {
        if n.0.as_bytes() != nonce {
            return Err(RevocationError::OcspNonceMismatch { url: url.to_string() });
        }
    }
    let single = basic
        .tbs_response_data
        .responses
        .iter()
        .find(|r| same_der(&r.cert_id, &cert_id))
        .ok_or_else(|| RevocationError::OcspNoAnswer { url: url.to_string() })?;
    let this_update = to_time(single.this_update.0.to_unix_duration()).ok_or_else(|| malformed("thisUpdate".into()))?;
    let next_update = match &single.next_update {
        Some(t) => Some(to_time(t.0.to_unix_duration()).ok_or_else(|| malformed("nextUpdate".into()))?),
        None => None,
    };
    if this_update > now + SKEW {
        return Err(malformed(format!("thisUpdate {} is in the future", cert::rfc3339_z::format(&this_update))));
    }
    if let Some(nu) = next_update {
        if nu + SKEW < now {
            return Err(RevocationError::OcspStale { url: url.to_string(), next_update: cert::rfc3339_z::format(&nu) });
        }
    }
    let (status, revoked_at, reason) = match &single.cert_status {
        CertStatus::Good(_) => (Status::Good, None, None),
        CertStatus::Unknown(_) => (Status::Unknown, None, None),
        CertStatus::Revoked(info) => (
            Status::Revoked,
            to_time(info.revocation_time.0.to_unix_duration()),
            info.revocation_reason.map(|r| reason_name(r).to_string()),
        ),
    };
    Ok(Verdict { status, revoked_at, reason, next_update })
}

/// The certificate whose key signed `basic`, if it may speak for `issuer`: the issuer itself, or a delegated
/// responder certificate the issuer signed, marked id-kp-OCSPSigning and valid `now`.
fn responder(
    basic: &BasicOcspResponse,
    issuer: &x509_cert::Certificate,
    now: OffsetDateTime,
) -> Option<x509_cert::Certificate> {
    let matches = |c: &x509_cert::Certificate| match &basic.tbs_response_data.responder_id {
        ResponderId::ByName(name) => same_der(name, &c.tbs_certificate.subject),
        ResponderId::ByKey(hash) => {
            c.tbs_certificate.subject_public_key_info.subject_public_key.as_bytes().map(|k| Sha1::digest(k).to_vec())
                == Some(hash.as_bytes().to_vec())
        }
    };
    if matches(issuer) {
        return Some(issuer.clone());
    }
    let delegated = basic.certs.as_deref().unwrap_or(&[]).iter().find(|c| matches(c))?;
    let eku_ok = matches!(
        delegated.tbs_certificate.get::<ExtendedKeyUsage>(),
        Ok(Some((_, eku))) if eku.0.contains(&ID_KP_OCSP_SIGNING)
    );
    let validity = &delegated.tbs_certificate.validity;
    let valid_now =
        match (to_time(validity.not_before.to_unix_duration()), to_time(validity.not_after.to_unix_duration())) {
            (Some(nb), Some(na)) => nb <= now + SKEW && now <= na + SKEW,
            _ => false,
        };
    (eku_ok && valid_now && signed_by_cert(delegated, issuer)).then(|| delegated.clone())
}

async fn crl(
    http: &reqwest::Client,
    url: &str,
    s: &x509_cert::Certificate,
    i: &x509_cert::Certificate,
    now: OffsetDateTime,
) -> Result<Verdict, RevocationError> {
    let unreachable = |detail: String| RevocationError::CrlUnreachable { url: url.to_string(), detail };
    let malformed = |detail: String| RevocationError::CrlMalformed { url: url.to_string(), detail };
    let resp = http.get(url).send().await.map_err(|e| unreachable(net_detail(&e)))?;
    if !resp.status().is_success() {
        return Err(unreachable(format!("HTTP {}", resp.status().as_u16())));
    }
    let mut bytes = body(resp, MAX_CRL).await.map_err(unreachable)?;
    if bytes.starts_with(b"-----BEGIN") {
        bytes = pem::parse(&bytes).map_err(|e| malformed(e.to_string()))?.into_contents();
    }
    let list = CertificateList::from_der(&bytes).map_err(|e| malformed(e.to_string()))?;
    let bad_signature = || RevocationError::CrlBadSignature { url: url.to_string() };
    if !same_der(&list.tbs_cert_list.issuer, &i.tbs_certificate.subject) {
        return Err(bad_signature());
    }
    if let Ok(Some((_, ku))) = i.tbs_certificate.get::<KeyUsage>() {
        if !ku.crl_sign() {
            return Err(bad_signature());
        }
    }
    let tbs = list.tbs_cert_list.to_der().map_err(|e| malformed(e.to_string()))?;
    let sig = list.signature.as_bytes().ok_or_else(|| malformed("signature bits".into()))?;
    match verify(&i.tbs_certificate.subject_public_key_info, &list.signature_algorithm, &tbs, sig) {
        Ok(()) => {}
        Err(SigError::Invalid) => return Err(bad_signature()),
        Err(SigError::Unsupported(oid)) => return Err(RevocationError::UnsupportedAlgorithm { oid }),
    }
    let this_update =
        to_time(list.tbs_cert_list.this_update.to_unix_duration()).ok_or_else(|| malformed("thisUpdate".into()))?;
    if this_update > now + SKEW {
        return Err(malformed(format!("thisUpdate {} is in the future", cert::rfc3339_z::format(&this_update))));
    }
    // A CRL without nextUpdate cannot be judged fresh: refused.
    let next_update = list
        .tbs_cert_list
        .next_update
        .and_then(|t| to_time(t.to_unix_duration()))
        .ok_or_else(|| malformed("no nextUpdate".into()))?;
    if next_update + SKEW < now {
        return Err(RevocationError::CrlStale {
            url: url.to_string(),
            next_update: cert::rfc3339_z::format(&next_update),
        });
    }
    let serial = s.tbs_certificate.serial_number.as_bytes();
    let entry = list
        .tbs_cert_list
        .revoked_certificates
        .as_deref()
        .unwrap_or(&[])
        .iter()
        .find(|r| r.serial_number.as_bytes() == serial);
    Ok(match entry {
        None => Verdict { status: Status::Good, revoked_at: None, reason: None, next_update: Some(next_update) },
        Some(r) => {
            let reason = r
                .crl_entry_extensions
                .as_deref()
                .unwrap_or(&[])
                .iter()
                .find(|e| e.extn_id == <CrlReason as der::oid::AssociatedOid>::OID)
                .and_then(|e| CrlReason::from_der(e.extn_value.as_bytes()).ok())
                .map(|r| reason_name(r).to_string());
            Verdict {
                status: Status::Revoked,
                revoked_at: to_time(r.revocation_date.to_unix_duration()),
                reason,
                next_update: Some(next_update),
            }
        }
    })
}

// ---------------------------------------------------------------------------------------------------------------
// Cache: one JSON file per certificate (by SHA-256), kept until the answer's nextUpdate.

#[derive(Serialize, Deserialize)]
struct Cached {
    issuer_sha256: String,
    status: Status,
    revoked_at: Option<i64>,
    reason: Option<String>,
    checked_at: i64,
    next_update: i64,
}

fn read_cache(path: &Path, issuer_sha256: &str, now: OffsetDateTime) -> Option<Outcome> {
    let bytes = std::fs::read(path).ok()?;
    let c: Cached = serde_json::from_slice(&bytes).ok()?;
    let next_update = OffsetDateTime::from_unix_timestamp(c.next_update).ok()?;
    if c.issuer_sha256 != issuer_sha256 || next_update <= now || !matches!(c.status, Status::Good | Status::Revoked) {
        return None;
    }
    Some(Outcome {
        status: c.status,
        source: Some(Source::Cache),
        revoked_at: c.revoked_at.and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok()),
        reason: c.reason,
        checked_at: OffsetDateTime::from_unix_timestamp(c.checked_at).ok()?,
        next_update: Some(next_update),
        problems: Vec::new(),
    })
}

fn write_cache(path: &Path, issuer_sha256: &str, o: &Outcome) {
    let Some(next_update) = o.next_update else { return };
    let c = Cached {
        issuer_sha256: issuer_sha256.to_string(),
        status: o.status,
        revoked_at: o.revoked_at.map(|t| t.unix_timestamp()),
        reason: o.reason.clone(),
        checked_at: o.checked_at.unix_timestamp(),
        next_update: next_update.unix_timestamp(),
    };
    let written = serde_json::to_vec(&c).map_err(std::io::Error::other).and_then(|bytes| {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        crate::fsutil::write_atomic(path, &bytes, crate::fsutil::Access::Private).map_err(std::io::Error::from)
    });
    // A cache that cannot be written costs a network check next time, nothing else.
    if let Err(e) = written {
        tracing::warn!("revocation cache {}: {e}", path.display());
    }
}

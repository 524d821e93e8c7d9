//! Certificate requests: IGC-Santé and generic profiles, RSA-2048 keys, PKCS#10.
//!
//! A request is first described and checked ([`RequestSpec`]: subject in DER order plus SANs) — an impossible
//! request is refused here, before any key exists, so a refusal creates nothing. It is then signed by a key
//! through rcgen's [`rcgen::SigningKey`] ([`build_request`]), so the same code signs with a software key or with a
//! key that stays on a card or token. The software path ([`new_software_request`]) generates RSA-2048 with
//! aws-lc-rs, stores the private key in the pending-key vault FIRST (durably, encrypted), and only then writes the
//! CSR file: a CSR that reached the user always has its key waiting for the certificate.

pub mod dn;
pub mod igc_form;
pub mod igc_sante;
pub mod reunite;

use crate::i18n::{Coded, Lang};
use crate::vault::{self, PendingMeta, Vault, VaultError};
use dn::{AttrType, Subject};
use rcgen::{CertificateParams, DistinguishedName, DnType, DnValue, KeyPair, SanType};
use std::path::{Path, PathBuf};
use time::OffsetDateTime;
use zeroize::Zeroizing;

pub use rcgen::{PublicKeyData, SigningKey};

/// Days an IGC-Santé certificate requested with an uploaded CSR can be withdrawn.
pub const IGC_SANTE_WITHDRAWAL_DAYS: i64 = 10;

/// Errors building a certificate request.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CsrError {
    /// The request breaks a profile rule (named by `rule`); nothing was created.
    #[error("request refused by rule {rule}: {en}")]
    Rule { rule: &'static str, fr: String, en: String, de: String },
    /// The subject cannot be built (syntax, repeated type, multi-valued RDN…); nothing was created.
    #[error("invalid subject: {en}")]
    Subject { fr: String, en: String, de: String },
    /// A subject alternative name is malformed.
    #[error("invalid subject alternative name {value}: {en}")]
    San { value: String, fr: String, en: String, de: String },
    /// The output file already exists (nothing is overwritten).
    #[error("{} already exists", path.display())]
    OutputExists { path: PathBuf },
    /// The output folder does not exist.
    #[error("folder of {} not found", path.display())]
    OutputFolder { path: PathBuf },
    /// Writing the CSR file failed (the key is safe in the vault).
    #[error("cannot write {}: {source}", path.display())]
    Write { path: PathBuf, id: String, source: std::io::Error },
    /// Key generation or signing failed (token or crypto library).
    #[error("signing the request failed: {detail}")]
    Signing { detail: String },
    /// The key's algorithm is not what the profile requires.
    #[error("key algorithm not allowed: {detail}")]
    Algorithm { detail: String },
    #[error(transparent)]
    Vault(#[from] VaultError),
}

impl CsrError {
    pub(crate) fn subject(fr: String, en: String, de: String) -> CsrError {
        CsrError::Subject { fr, en, de }
    }
}

impl Coded for CsrError {
    fn code(&self) -> &'static str {
        match self {
            CsrError::Rule { .. } => "csr.rule",
            CsrError::Subject { .. } => "csr.subject",
            CsrError::San { .. } => "csr.san",
            CsrError::OutputExists { .. } => "csr.output_exists",
            CsrError::OutputFolder { .. } => "csr.output_folder",
            CsrError::Write { .. } => "csr.write",
            CsrError::Signing { .. } => "csr.signing",
            CsrError::Algorithm { .. } => "csr.algorithm",
            CsrError::Vault(e) => e.code(),
        }
    }

    fn message(&self, lang: Lang) -> String {
        match self {
            CsrError::Rule { rule, fr, en, de } => lang.pick3(
                format!("Demande refusée (règle IGC-Santé « {rule} ») : {fr}. Rien n'a été créé."),
                format!("Request refused (IGC-Santé rule \"{rule}\"): {en}. Nothing was created."),
                format!("Anforderung abgelehnt (IGC-Santé-Regel „{rule}“): {de}. Es wurde nichts erstellt."),
            ),
            CsrError::Subject { fr, en, de } => lang.pick3(
                format!("Sujet invalide : {fr}. Rien n'a été créé."),
                format!("Invalid subject: {en}. Nothing was created."),
                format!("Ungültiger Antragsteller (Subject): {de}. Es wurde nichts erstellt."),
            ),
            CsrError::San { value, fr, en, de } => lang.pick3(
                format!("Nom alternatif « {value} » invalide : {fr}. Rien n'a été créé."),
                format!("Invalid alternative name \"{value}\": {en}. Nothing was created."),
                format!("Ungültiger alternativer Name „{value}“: {de}. Es wurde nichts erstellt."),
            ),
            CsrError::OutputExists { path } => lang.pick3(
                format!("Le fichier {} existe déjà : choisissez un autre nom, ou demandez à le remplacer (--force). Rien n'a été créé.", path.display()),
                format!("The file {} already exists: choose another name, or ask to replace it (--force). Nothing was created.", path.display()),
                format!("Die Datei {} existiert bereits: Wählen Sie einen anderen Namen oder lassen Sie sie ersetzen (--force). Es wurde nichts erstellt.", path.display()),
            ),
            CsrError::OutputFolder { path } => lang.pick3(
                format!("Le dossier de {} n'existe pas : créez-le ou choisissez un autre emplacement. Rien n'a été créé.", path.display()),
                format!("The folder of {} does not exist: create it or choose another place. Nothing was created.", path.display()),
                format!("Der Ordner von {} existiert nicht: Legen Sie ihn an oder wählen Sie einen anderen Ort. Es wurde nichts erstellt.", path.display()),
            ),
            CsrError::Write { path, id, source } => lang.pick3(
                format!("Impossible d'écrire la demande {} ({source}). La clé privée est en sécurité dans le coffre (demande {id}) : libérez de la place ou choisissez un autre dossier, puis `trousseau pending csr {id} --out FICHIER`.", path.display()),
                format!("Cannot write the request {} ({source}). The private key is safe in the vault (request {id}): free some space or choose another folder, then `trousseau pending csr {id} --out FILE`.", path.display()),
                format!("Die Anforderung {} kann nicht geschrieben werden ({source}). Der private Schlüssel ist im Tresor sicher (Anforderung {id}): Schaffen Sie Platz oder wählen Sie einen anderen Ordner, dann `trousseau pending csr {id} --out DATEI`.", path.display()),
            ),
            CsrError::Signing { detail } => lang.pick3(
                format!("La signature de la demande a échoué ({detail}). Réessayez ; si la clé est sur une carte, vérifiez qu'elle est insérée."),
                format!("Signing the request failed ({detail}). Try again; if the key is on a card, check it is inserted."),
                format!("Das Signieren der Anforderung ist fehlgeschlagen ({detail}). Versuchen Sie es erneut; wenn der Schlüssel auf einer Karte liegt, prüfen Sie, ob sie eingesteckt ist."),
            ),
            CsrError::Algorithm { detail } => lang.pick3(
                format!("Cette clé ne convient pas à la demande : {detail}. IGC-Santé exige RSA 2048 signé en sha256WithRSAEncryption."),
                format!("This key does not suit the request: {detail}. IGC-Santé requires RSA 2048 signed with sha256WithRSAEncryption."),
                format!("Dieser Schlüssel eignet sich nicht für die Anforderung: {detail}. IGC-Santé verlangt RSA 2048, signiert mit sha256WithRSAEncryption."),
            ),
            CsrError::Vault(e) => e.message(lang),
        }
    }
}

/// A subject alternative name to request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SanRequest {
    Email(String),
    Dns(String),
    /// Microsoft User Principal Name (otherName 1.3.6.1.4.1.311.20.2.3, UTF8String).
    Upn(String),
}

fn san_err(value: &str, fr: &str, en: &str, de: &str) -> CsrError {
    CsrError::San { value: value.to_string(), fr: fr.to_string(), en: en.to_string(), de: de.to_string() }
}

fn valid_hostname(h: &str, allow_wildcard: bool) -> bool {
    let h = h.strip_suffix('.').unwrap_or(h);
    let body = match h.strip_prefix("*.") {
        Some(rest) if allow_wildcard => rest,
        _ => h,
    };
    let labels: Vec<&str> = body.split('.').collect();
    h.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
        && !labels.last().is_some_and(|tld| tld.chars().all(|c| c.is_ascii_digit()))
}

impl SanRequest {
    /// An e-mail address (ASCII, one `@`, a domain with a dot).
    pub fn email(v: &str) -> Result<SanRequest, CsrError> {
        let v = v.trim();
        let ok = v.is_ascii()
            && !v.contains(char::is_whitespace)
            && v.split('@').count() == 2
            && v.split_once('@').is_some_and(|(l, d)| !l.is_empty() && valid_hostname(d, false));
        if !ok {
            return Err(san_err(
                v,
                "adresse électronique attendue (nom@domaine.fr)",
                "an e-mail address is expected (name@domain.fr)",
                "E-Mail-Adresse erwartet (name@domain.de)",
            ));
        }
        Ok(SanRequest::Email(v.to_string()))
    }

    /// A fully qualified DNS name (a leading `*.` wildcard is accepted here; profiles may refuse it).
    pub fn dns(v: &str) -> Result<SanRequest, CsrError> {
        let v = v.trim().to_ascii_lowercase();
        if !valid_hostname(&v, true) {
            return Err(san_err(
                &v,
                "nom de serveur complet attendu (serveur.domaine.fr : lettres, chiffres, tirets)",
                "a fully qualified server name is expected (server.domain.fr: letters, digits, hyphens)",
                "vollständiger Servername erwartet (server.domain.de: Buchstaben, Ziffern, Bindestriche)",
            ));
        }
        Ok(SanRequest::Dns(v.trim_end_matches('.').to_string()))
    }

    /// A User Principal Name (`user@domain`).
    pub fn upn(v: &str) -> Result<SanRequest, CsrError> {
        let v = v.trim();
        let ok = !v.contains(char::is_whitespace)
            && v.split_once('@').is_some_and(|(l, d)| !l.is_empty() && !d.is_empty() && !d.contains('@'));
        if !ok {
            return Err(san_err(
                v,
                "UPN attendu (identifiant@domaine)",
                "a UPN is expected (logon@domain)",
                "UPN erwartet (anmeldename@domain)",
            ));
        }
        Ok(SanRequest::Upn(v.to_string()))
    }

    /// `email`, `dns` or `upn` (the CLI contract's SAN types).
    pub fn kind(&self) -> &'static str {
        match self {
            SanRequest::Email(_) => "email",
            SanRequest::Dns(_) => "dns",
            SanRequest::Upn(_) => "upn",
        }
    }

    pub fn value(&self) -> &str {
        match self {
            SanRequest::Email(v) | SanRequest::Dns(v) | SanRequest::Upn(v) => v,
        }
    }
}

/// Which profile a request follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProfileKind {
    IgcSante { offer: igc_sante::Offer, usage: igc_sante::Usage },
    Generic,
}

/// A checked request: what the CSR will say. Building one never creates a key or a file.
#[derive(Debug, Clone)]
pub struct RequestSpec {
    pub profile: ProfileKind,
    pub subject: Subject,
    pub sans: Vec<SanRequest>,
}

impl RequestSpec {
    /// An IGC-Santé request, checked against the platform's rules.
    pub fn igc_sante(input: &igc_sante::Input) -> Result<RequestSpec, CsrError> {
        let c = igc_sante::check(input)?;
        Ok(RequestSpec {
            profile: ProfileKind::IgcSante { offer: c.offer, usage: c.usage },
            subject: c.subject,
            sans: c.sans,
        })
    }

    /// A generic request: `subject` as an RFC 4514 string (most specific RDN first), optional SANs.
    pub fn generic(subject: &str, sans: Vec<SanRequest>) -> Result<RequestSpec, CsrError> {
        let subject = Subject::parse_rfc4514(subject)?;
        Ok(RequestSpec { profile: ProfileKind::Generic, subject, sans })
    }

    /// `igc-sante` or `generic`.
    pub fn profile_name(&self) -> &'static str {
        match self.profile {
            ProfileKind::IgcSante { .. } => "igc-sante",
            ProfileKind::Generic => "generic",
        }
    }

    /// RFC 4514 subject (as OpenSSL prints it with `-nameopt RFC2253`).
    pub fn subject_string(&self) -> String {
        self.subject.to_rfc4514()
    }

    /// Withdrawal deadline for a request created at `created` (IGC-Santé: 10 days).
    pub fn deadline(&self, created: OffsetDateTime) -> Option<OffsetDateTime> {
        match self.profile {
            ProfileKind::IgcSante { .. } => Some(created + time::Duration::days(IGC_SANTE_WITHDRAWAL_DAYS)),
            ProfileKind::Generic => None,
        }
    }

    fn params(&self) -> Result<CertificateParams, CsrError> {
        let mut dn = DistinguishedName::new();
        for a in self.subject.attrs() {
            let ty = match &a.kind {
                AttrType::Country => DnType::CountryName,
                AttrType::State => DnType::StateOrProvinceName,
                AttrType::Locality => DnType::LocalityName,
                AttrType::Organization => DnType::OrganizationName,
                AttrType::OrgUnit => DnType::OrganizationalUnitName,
                AttrType::CommonName => DnType::CommonName,
                other => DnType::CustomDnType(other.oid()),
            };
            let value = match &a.kind {
                AttrType::Country | AttrType::SerialNumber => {
                    match rcgen::string::PrintableString::try_from(a.value.as_str()) {
                        Ok(p) => DnValue::PrintableString(p),
                        Err(_) if a.kind == AttrType::SerialNumber => DnValue::Utf8String(a.value.clone()),
                        Err(_) => {
                            return Err(CsrError::subject(
                                format!("la valeur « {} » ne peut pas être encodée", a.value),
                                format!("the value \"{}\" cannot be encoded", a.value),
                                format!("der Wert „{}“ kann nicht kodiert werden", a.value),
                            ))
                        }
                    }
                }
                AttrType::Email | AttrType::DomainComponent => {
                    match rcgen::string::Ia5String::try_from(a.value.as_str()) {
                        Ok(s) => DnValue::Ia5String(s),
                        Err(_) => {
                            return Err(CsrError::subject(
                                format!("la valeur « {} » doit être en ASCII", a.value),
                                format!("the value \"{}\" must be ASCII", a.value),
                                format!("der Wert „{}“ muss ASCII sein", a.value),
                            ))
                        }
                    }
                }
                _ => DnValue::Utf8String(a.value.clone()),
            };
            dn.push(ty, value);
        }
        let mut params = CertificateParams::default();
        params.distinguished_name = dn;
        params.subject_alt_names = self
            .sans
            .iter()
            .map(|s| match s {
                SanRequest::Email(v) => rcgen::string::Ia5String::try_from(v.as_str()).map(SanType::Rfc822Name),
                SanRequest::Dns(v) => rcgen::string::Ia5String::try_from(v.as_str()).map(SanType::DnsName),
                SanRequest::Upn(v) => Ok(SanType::OtherName((
                    vec![1, 3, 6, 1, 4, 1, 311, 20, 2, 3],
                    rcgen::OtherNameValue::Utf8String(v.clone()),
                ))),
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| CsrError::San {
                value: e.to_string(),
                fr: "encodage impossible".into(),
                en: "cannot be encoded".into(),
                de: "kann nicht kodiert werden".into(),
            })?;
        Ok(params)
    }
}

/// Builds and signs the PKCS#10 request described by `spec` with `key` (software key, card or token key);
/// returns the PEM. IGC-Santé requests require an RSA key signing with sha256WithRSAEncryption.
pub fn build_request(spec: &RequestSpec, key: &impl SigningKey) -> Result<String, CsrError> {
    if matches!(spec.profile, ProfileKind::IgcSante { .. }) && key.algorithm() != &rcgen::PKCS_RSA_SHA256 {
        return Err(CsrError::Algorithm { detail: format!("{:?}", key.algorithm()) });
    }
    let csr = spec.params()?.serialize_request(key).map_err(|e| CsrError::Signing { detail: e.to_string() })?;
    csr.pem().map_err(|e| CsrError::Signing { detail: e.to_string() })
}

/// Generates a software RSA-2048 key for sha256WithRSAEncryption (aws-lc-rs).
pub fn generate_rsa_2048() -> Result<KeyPair, CsrError> {
    KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048)
        .map_err(|e| CsrError::Signing { detail: format!("RSA key generation: {e}") })
}

/// The result of a new request.
#[derive(Debug, Clone, serde::Serialize)]
pub struct NewRequest {
    /// Vault entry id.
    pub id: String,
    /// Where the CSR was written (absolute).
    pub out: PathBuf,
    /// RFC 4514 subject.
    pub subject: String,
    pub profile: &'static str,
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub deadline: Option<OffsetDateTime>,
}

/// Checks that `out` can be created (its folder exists, no file there yet unless `force` asks to replace it) and
/// returns its absolute path. An early answer only: the final write is itself race-free ([`crate::fsutil`]).
pub fn check_output(out: &Path, force: bool) -> Result<PathBuf, CsrError> {
    let abs = if out.is_absolute() {
        out.to_path_buf()
    } else {
        std::env::current_dir().map(|d| d.join(out)).unwrap_or_else(|_| out.to_path_buf())
    };
    if !force && (abs.exists() || abs.is_symlink()) {
        return Err(CsrError::OutputExists { path: out.to_path_buf() });
    }
    match abs.parent() {
        Some(p) if p.is_dir() => Ok(abs),
        _ => Err(CsrError::OutputFolder { path: out.to_path_buf() }),
    }
}

/// The whole software path of `csr new`: check the destination, generate RSA-2048, sign the CSR, store the key
/// in `vault` (durably), and only then write the CSR to `out` (atomically; an existing file is replaced only when
/// `force` says so).
pub fn new_software_request(
    spec: &RequestSpec,
    out: &Path,
    vault: &Vault,
    force: bool,
) -> Result<NewRequest, CsrError> {
    let abs = check_output(out, force)?;
    let key = generate_rsa_2048()?;
    finish_software_request(spec, &abs, vault, &key, force)
}

/// Same as [`new_software_request`] with the current user's vault, opened (keyring round trips) while the key is
/// being generated on another thread: the two waits overlap instead of adding up.
pub fn new_software_request_default_vault(spec: &RequestSpec, out: &Path, force: bool) -> Result<NewRequest, CsrError> {
    let abs = check_output(out, force)?;
    std::thread::scope(|s| {
        let keygen = s.spawn(generate_rsa_2048);
        let vault = Vault::open();
        let key =
            keygen.join().map_err(|_| CsrError::Signing { detail: "key generation thread failed".to_string() })??;
        finish_software_request(spec, &abs, &vault?, &key, force)
    })
}

fn finish_software_request(
    spec: &RequestSpec,
    abs: &Path,
    vault: &Vault,
    key: &KeyPair,
    force: bool,
) -> Result<NewRequest, CsrError> {
    let pem = build_request(spec, key)?;
    let now = OffsetDateTime::now_utc();
    // Millisecond precision: enough to order requests, short enough to read.
    let created = now.replace_millisecond(now.millisecond()).unwrap_or(now);
    let (offer, usage) = match spec.profile {
        ProfileKind::IgcSante { offer, usage } => (Some(offer.as_str().to_string()), Some(usage.as_str().to_string())),
        ProfileKind::Generic => (None, None),
    };
    let meta = PendingMeta {
        id: vault::new_id(),
        profile: spec.profile_name().to_string(),
        offer,
        usage,
        subject: spec.subject_string(),
        created,
        deadline: spec.deadline(created),
        csr_path: Some(abs.to_path_buf()),
        csr_pem: pem.clone(),
        spki_der: key.subject_public_key_info(),
        key_algorithm: "rsa-2048".to_string(),
    };
    let pkcs8 = Zeroizing::new(key.serialize_der());
    // The key is durably in the vault BEFORE the CSR exists anywhere else.
    vault.add(&meta, &pkcs8)?;
    // Never over an existing file unless the user asked (`force`); a file that appeared since `check_output` is
    // left untouched and reported as a write failure: the key is safe in the vault, the CSR can be written again.
    crate::fsutil::write(abs, pem.as_bytes(), crate::fsutil::Access::Public, force).map_err(|e| CsrError::Write {
        path: abs.to_path_buf(),
        id: meta.id.clone(),
        source: e.into(),
    })?;
    Ok(NewRequest {
        id: meta.id,
        out: abs.to_path_buf(),
        subject: meta.subject,
        profile: spec.profile_name(),
        created,
        deadline: meta.deadline,
    })
}

/// Offers and usages of the profiles, for the window and `csr profiles --json`.
pub fn profiles(lang: Lang) -> serde_json::Value {
    serde_json::json!({
        "profiles": [
            { "id": "igc-sante", "key": "rsa-2048", "signature": "sha256WithRSAEncryption",
              "withdrawal_days": IGC_SANTE_WITHDRAWAL_DAYS, "offers": igc_sante::offers(lang) },
            { "id": "generic", "key": "rsa-2048", "signature": "sha256WithRSAEncryption",
              "subject": "RFC 4514", "san": ["email", "dns", "upn"] }
        ]
    })
}

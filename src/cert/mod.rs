//! One certificate model for the whole application (x509-parser): what the store, the tokens, the portal and
//! the window show about a certificate, and what the CLI prints as JSON (see DESIGN.md, "CLI JSON contract").
//!
//! Reading is as tolerant as OpenSSL where users meet real files: PEM with the old labels (`X509 CERTIFICATE`,
//! `TRUSTED CERTIFICATE`), DER followed by trailing bytes, PEM bundles, and PKCS#7 certificate bags
//! (`.p7b`/`.p7c`, PEM or DER, often BER with indefinite lengths as OpenSSL and Windows write them). Anything
//! else is refused with a [`CertError`] that says what to do.
//!
//! Layout: this file holds the model ([`Certificate`], [`CertError`]) and the readers; `names` prints names as
//! OpenSSL does, `pem_text` finds PEM blocks, `pkcs7` reads certificate bags, `strict` refuses what OpenSSL refuses.
//!
//! OWNER: core-cert helper. Other modules use only the public items below.

use serde::Serialize;
use sha1::Sha1;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use time::OffsetDateTime;
use x509_parser::prelude::{FromDer, GeneralName, ParsedExtension, X509Certificate, X509Name};

use crate::asn1::rfc4514::escape as escape_rfc4514;
use crate::asn1::{ber, oid_string};
use crate::i18n::{Coded, Lang};

mod names;
mod pem_text;
mod pkcs7;
mod strict;

pub(crate) use self::names::rfc4514;
use self::names::*;
use self::pem_text::*;
pub use self::pkcs7::read_pkcs7;
use self::pkcs7::*;
use self::strict::*;

/// Largest certificate file we read (a PKCS#7 bag of a whole CA hierarchy is far smaller).
pub const MAX_FILE_SIZE: u64 = 16 * 1024 * 1024;
/// A subject alternative name, as the CLI contract prints it: `{"type":"email|dns|upn|uri|ip","value":..}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct San {
    #[serde(rename = "type")]
    pub kind: String,
    pub value: String,
}

/// Public key facts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyInfo {
    /// `rsa`, `ec`, `ed25519`, or the dotted OID.
    pub algorithm: String,
    /// Modulus size for RSA, curve size for EC.
    pub bits: Option<u32>,
}

/// A parsed X.509 certificate. Serializes to the CLI contract's certificate object.
#[derive(Debug, Clone, Serialize)]
pub struct Certificate {
    /// RFC 4514 string (most specific RDN first, e.g. `CN=Agent,O=Org,C=LU`).
    pub subject: String,
    pub issuer: String,
    /// Lowercase hex, as OpenSSL prints it without colons.
    pub serial: String,
    #[serde(with = "rfc3339_z")]
    pub not_before: OffsetDateTime,
    #[serde(with = "rfc3339_z")]
    pub not_after: OffsetDateTime,
    /// Lowercase hex SHA-256 of the DER.
    pub sha256: String,
    pub sha1: String,
    /// RFC 5280 names (`digitalSignature`, `keyEncipherment`, …).
    pub key_usage: Vec<String>,
    /// Short names (`clientAuth`, …) or dotted OIDs.
    pub ext_key_usage: Vec<String>,
    pub san: Vec<San>,
    /// Usable as an encryption bi-clé: key usage allows keyEncipherment, or there is no key usage extension.
    pub encryption_capable: bool,
    pub key: KeyInfo,
    /// Common name of subject / issuer, for display ("holder's name, issuer's short name").
    pub subject_cn: Option<String>,
    pub issuer_cn: Option<String>,
    pub is_ca: bool,
    /// The certificate's DER encoding.
    #[serde(skip)]
    pub der: Vec<u8>,
    /// DER of the SubjectPublicKeyInfo (to match a certificate with a pending or token key).
    #[serde(skip)]
    pub spki_der: Vec<u8>,
}

/// Why certificates could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CertError {
    #[error("cannot read {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("file too large ({size} bytes, at most {max})")]
    TooLarge { size: u64, max: u64 },
    #[error("the file is empty")]
    Empty,
    #[error("no certificate found (not PEM, DER or PKCS#7)")]
    NotCertificate,
    #[error("malformed certificate: {detail}")]
    Malformed { detail: String },
    #[error("malformed PKCS#7 certificate bag: {detail}")]
    Pkcs7Malformed { detail: String },
    #[error("the PKCS#7 bag holds no certificate")]
    Pkcs7Empty,
    #[error("this is a PKCS#12 file, not a certificate")]
    IsPkcs12,
}

impl Coded for CertError {
    fn code(&self) -> &'static str {
        match self {
            CertError::Io { .. } => "cert.io",
            CertError::TooLarge { .. } => "cert.too_large",
            CertError::Empty => "cert.empty",
            CertError::NotCertificate => "cert.not_certificate",
            CertError::Malformed { .. } => "cert.malformed",
            CertError::Pkcs7Malformed { .. } => "cert.pkcs7_malformed",
            CertError::Pkcs7Empty => "cert.pkcs7_empty",
            CertError::IsPkcs12 => "cert.is_pkcs12",
        }
    }

    fn message(&self, lang: Lang) -> String {
        match self {
            CertError::Io { path, source } => lang.pick3(
                format!("Impossible de lire le fichier {} ({source}) : vérifiez le chemin et les droits d'accès.", path.display()),
                format!("Cannot read the file {} ({source}): check the path and the permissions.", path.display()),
                format!("Die Datei {} kann nicht gelesen werden ({source}): Prüfen Sie den Pfad und die Zugriffsrechte.", path.display()),
            ),
            CertError::TooLarge { size, max } => lang.pick3(
                format!("Le fichier est trop gros pour être un certificat ({size} octets, au plus {max}) : choisissez le bon fichier."),
                format!("The file is too large to be a certificate ({size} bytes, at most {max}): choose the right file."),
                format!("Die Datei ist zu groß für ein Zertifikat ({size} Bytes, höchstens {max}): Wählen Sie die richtige Datei."),
            ),
            CertError::Empty => lang.pick3(
                "Le fichier est vide : le téléchargement a peut-être échoué, téléchargez le certificat à nouveau.",
                "The file is empty: the download may have failed, download the certificate again.",
                "Die Datei ist leer: Der Download ist möglicherweise fehlgeschlagen, laden Sie das Zertifikat erneut herunter.",
            ),
            CertError::NotCertificate => lang.pick3(
                "Ce fichier ne contient pas de certificat lisible (PEM, DER ou PKCS#7 .p7b/.p7c attendu) : choisissez le fichier du certificat.",
                "This file holds no readable certificate (PEM, DER or PKCS#7 .p7b/.p7c expected): choose the certificate file.",
                "Diese Datei enthält kein lesbares Zertifikat (PEM, DER oder PKCS#7 .p7b/.p7c erwartet): Wählen Sie die Zertifikatsdatei.",
            ),
            CertError::Malformed { detail } => lang.pick3(
                format!("Le certificat est endommagé ou tronqué ({detail}) : téléchargez-le à nouveau."),
                format!("The certificate is damaged or truncated ({detail}): download it again."),
                format!("Das Zertifikat ist beschädigt oder abgeschnitten ({detail}): Laden Sie es erneut herunter."),
            ),
            CertError::Pkcs7Malformed { detail } => lang.pick3(
                format!("Le fichier PKCS#7 (.p7b/.p7c) est endommagé ou tronqué ({detail}) : téléchargez-le à nouveau."),
                format!("The PKCS#7 file (.p7b/.p7c) is damaged or truncated ({detail}): download it again."),
                format!("Die PKCS#7-Datei (.p7b/.p7c) ist beschädigt oder abgeschnitten ({detail}): Laden Sie sie erneut herunter."),
            ),
            CertError::IsPkcs12 => lang.pick3(
                "Ce fichier est un magasin PKCS#12 (.p12/.pfx, certificat et clé protégés par mot de passe), pas un simple certificat : ouvrez-le comme fichier .p12 (trousseau p12 inspect).",
                "This file is a PKCS#12 store (.p12/.pfx, certificate and key protected by a password), not a plain certificate: open it as a .p12 file (trousseau p12 inspect).",
                "Diese Datei ist ein PKCS#12-Speicher (.p12/.pfx, Zertifikat und Schlüssel durch ein Passwort geschützt), kein einfaches Zertifikat: Öffnen Sie sie als .p12-Datei (trousseau p12 inspect).",
            ),
            CertError::Pkcs7Empty => lang.pick3(
                "Le fichier PKCS#7 ne contient aucun certificat : vérifiez que vous avez téléchargé le bon fichier.",
                "The PKCS#7 file contains no certificate: check that you downloaded the right file.",
                "Die PKCS#7-Datei enthält kein Zertifikat: Prüfen Sie, ob Sie die richtige Datei heruntergeladen haben.",
            ),
        }
    }
}

/// Reads every certificate in a file (see [`read_certificates`]), refusing files over [`MAX_FILE_SIZE`].
pub fn read_file(path: &Path) -> Result<Vec<Certificate>, CertError> {
    let io = |source| CertError::Io { path: path.to_path_buf(), source };
    let meta = std::fs::metadata(path).map_err(io)?;
    if meta.len() > MAX_FILE_SIZE {
        return Err(CertError::TooLarge { size: meta.len(), max: MAX_FILE_SIZE });
    }
    let bytes = std::fs::read(path).map_err(io)?;
    read_certificates(&bytes)
}

/// Reads every certificate in `bytes`: PEM (one or many, old labels included), DER (trailing bytes tolerated), or
/// a PKCS#7 certificate bag (PEM or DER/BER). Other PEM blocks (keys, requests) are ignored. Order is the file's.
pub fn read_certificates(bytes: &[u8]) -> Result<Vec<Certificate>, CertError> {
    if bytes.len() as u64 > MAX_FILE_SIZE {
        return Err(CertError::TooLarge { size: bytes.len() as u64, max: MAX_FILE_SIZE });
    }
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(CertError::Empty);
    }
    if let Some(blocks) = pem_blocks(bytes) {
        let mut certs = Vec::new();
        let mut first_error = None;
        for block in blocks {
            let found = match block.label.as_str() {
                "CERTIFICATE" | "X509 CERTIFICATE" | "TRUSTED CERTIFICATE" => parse_der(&block.der).map(|c| vec![c]),
                "PKCS7" | "PKCS #7 SIGNED DATA" | "CMS" => read_pkcs7(&block.der),
                _ => continue,
            };
            match found {
                Ok(found) => certs.extend(found),
                // Like OpenSSL 3 (whose PEM reader moves on to the next block), a damaged block is left out when
                // others are readable; when none is, the first damage is the error.
                Err(e) => {
                    tracing::warn!("a damaged PEM block was skipped: {e}");
                    first_error.get_or_insert(e);
                }
            }
        }
        return match (certs.is_empty(), first_error) {
            (false, _) => Ok(certs),
            (true, Some(e)) => Err(e),
            (true, None) => Err(CertError::NotCertificate),
        };
    }
    if bytes.first() != Some(&0x30) {
        return Err(CertError::NotCertificate);
    }
    if is_pkcs7_signed_data(bytes) {
        return read_pkcs7(bytes);
    }
    // Only call it a damaged certificate when it starts like one: SEQUENCE { SEQUENCE { [0] | INTEGER ...
    let Ok((outer, _)) = ber::header(bytes) else { return Err(CertError::NotCertificate) };
    let inner = &bytes[outer..];
    if inner.starts_with(&[0x02, 0x01, 0x03]) {
        return Err(CertError::IsPkcs12);
    }
    let tbs_first = ber::header(inner).ok().and_then(|(h, _)| inner.get(h).copied());
    if inner.first() != Some(&0x30) || !matches!(tbs_first, Some(0xa0) | Some(0x02) | None) {
        return Err(CertError::NotCertificate);
    }
    parse_der(bytes).map(|c| vec![c])
}

/// Parses one DER certificate. Bytes after the certificate are ignored, as OpenSSL does.
pub fn parse_der(der: &[u8]) -> Result<Certificate, CertError> {
    let (_, x509) = X509Certificate::from_der(der).map_err(|e| {
        // A BER/DER structure that is cut short is reported as truncation; anything else as damage.
        let detail = match ber::read(der, 0) {
            Err(ber::BerError::Truncated) => "truncated".to_string(),
            _ => e.to_string(),
        };
        CertError::Malformed { detail }
    })?;
    // Refuse, like OpenSSL, a certificate whose structure is inconsistent somewhere x509-parser did not look.
    match ber::read(x509.as_raw(), 0) {
        Ok((outer, _)) if ber::well_formed(&outer, 0) && skeleton_ok(&outer).is_some() => {}
        _ => return Err(CertError::Malformed { detail: "inconsistent structure".to_string() }),
    }
    // OpenSSL converts subject and issuer text to UTF-8 when it reads a certificate and refuses what cannot be.
    let tbs = &x509.tbs_certificate;
    if !names_convertible(tbs.subject()) || !names_convertible(tbs.issuer()) {
        return Err(CertError::Malformed { detail: "invalid text in a name".to_string() });
    }
    Ok(Certificate::from_x509(&x509))
}

impl Certificate {
    fn from_x509(x: &X509Certificate<'_>) -> Certificate {
        let der = x.as_raw().to_vec();
        let tbs = &x.tbs_certificate;

        let mut key_usage = Vec::new();
        let mut ku_present = false;
        let mut ku_allows_encipherment = false;
        let mut ext_key_usage = Vec::new();
        let mut san = Vec::new();
        let mut is_ca = false;
        for ext in tbs.extensions() {
            match ext.parsed_extension() {
                ParsedExtension::KeyUsage(ku) => {
                    ku_present = true;
                    ku_allows_encipherment = ku.key_encipherment();
                    let names = [
                        (ku.digital_signature(), "digitalSignature"),
                        (ku.non_repudiation(), "nonRepudiation"),
                        (ku.key_encipherment(), "keyEncipherment"),
                        (ku.data_encipherment(), "dataEncipherment"),
                        (ku.key_agreement(), "keyAgreement"),
                        (ku.key_cert_sign(), "keyCertSign"),
                        (ku.crl_sign(), "cRLSign"),
                        (ku.encipher_only(), "encipherOnly"),
                        (ku.decipher_only(), "decipherOnly"),
                    ];
                    key_usage.extend(names.iter().filter(|(on, _)| *on).map(|(_, n)| n.to_string()));
                }
                ParsedExtension::ExtendedKeyUsage(_) => ext_key_usage = eku_names(ext.value),
                ParsedExtension::SubjectAlternativeName(names) => {
                    san.extend(names.general_names.iter().filter_map(san_entry));
                }
                ParsedExtension::BasicConstraints(bc) => is_ca = bc.ca,
                _ => {
                    // A key usage extension we cannot decode still restricts the key: not usable for encryption.
                    if ext.oid.as_bytes() == [0x55, 0x1d, 0x0f] {
                        ku_present = true;
                    }
                }
            }
        }

        let spki = tbs.public_key();
        let serial = serial_hex(tbs.raw_serial());
        Certificate {
            subject: rfc4514(tbs.subject()),
            issuer: rfc4514(tbs.issuer()),
            serial,
            not_before: tbs.validity().not_before.to_datetime(),
            not_after: tbs.validity().not_after.to_datetime(),
            sha256: hex::encode(Sha256::digest(&der)),
            sha1: hex::encode(Sha1::digest(&der)),
            key_usage,
            ext_key_usage,
            san,
            encryption_capable: !ku_present || ku_allows_encipherment,
            key: key_info(spki.algorithm.algorithm.as_bytes(), spki.algorithm.parameters.as_ref(), spki),
            subject_cn: first_cn(tbs.subject()),
            issuer_cn: first_cn(tbs.issuer()),
            is_ca,
            spki_der: spki.raw.to_vec(),
            der,
        }
    }

    /// Whether this certificate's public key is `spki_der` (a DER SubjectPublicKeyInfo).
    pub fn matches_spki(&self, spki_der: &[u8]) -> bool {
        crate::asn1::same_public_key(&self.spki_der, spki_der)
    }

    /// The name people know: the subject's common name, else its first attribute, else the whole subject.
    pub fn display_name(&self) -> String {
        self.subject_cn.clone().unwrap_or_else(|| self.subject.clone())
    }

    /// The issuer's short name (its common name, else the whole issuer).
    pub fn issuer_display_name(&self) -> String {
        self.issuer_cn.clone().unwrap_or_else(|| self.issuer.clone())
    }

    /// Whole days until `not_after`, counted from `now` (negative once expired).
    pub fn days_until_expiry(&self, now: OffsetDateTime) -> i64 {
        (self.not_after - now).whole_days()
    }

    /// The certificate as PEM (`-----BEGIN CERTIFICATE-----`).
    pub fn to_pem(&self) -> String {
        pem::encode_config(
            &pem::Pem::new("CERTIFICATE", self.der.clone()),
            pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
        )
    }
}

/// The serial number as OpenSSL prints it (`openssl x509 -serial`), in lowercase: big-endian hex without leading
/// zero octets; a negative serial (found in old certificates) as `-` and its magnitude.
fn serial_hex(raw: &[u8]) -> String {
    let strip = |bytes: &[u8]| {
        let first = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
        let s = hex::encode(&bytes[first..]);
        if s.is_empty() {
            "00".to_string()
        } else {
            s
        }
    };
    if raw.first().is_some_and(|b| b & 0x80 != 0) {
        // Two's complement: magnitude = !raw + 1.
        let mut magnitude: Vec<u8> = raw.iter().map(|b| !b).collect();
        for b in magnitude.iter_mut().rev() {
            let (v, overflow) = b.overflowing_add(1);
            *b = v;
            if !overflow {
                break;
            }
        }
        format!("-{}", strip(&magnitude))
    } else {
        strip(raw)
    }
}

/// Key facts from a SubjectPublicKeyInfo.
fn key_info(
    alg_oid: &[u8],
    params: Option<&x509_parser::der_parser::asn1_rs::Any<'_>>,
    spki: &x509_parser::x509::SubjectPublicKeyInfo<'_>,
) -> KeyInfo {
    use x509_parser::public_key::PublicKey;
    let name = oid_string(alg_oid);
    let (algorithm, bits) = match name.as_str() {
        "1.2.840.113549.1.1.1" | "1.2.840.113549.1.1.10" => {
            let bits = match spki.parsed() {
                Ok(PublicKey::RSA(rsa)) => Some(significant_bits(rsa.modulus)),
                _ => None,
            };
            (if name.ends_with(".1.1.1") { "rsa" } else { "rsa-pss" }.to_string(), bits)
        }
        "1.2.840.10045.2.1" => {
            let curve = params.filter(|p| p.tag().0 == 6).map(|p| oid_string(p.data)).unwrap_or_default();
            let bits = match curve.as_str() {
                "1.2.840.10045.3.1.7" | "1.3.36.3.3.2.8.1.1.7" | "1.3.132.0.10" => Some(256),
                "1.3.132.0.34" | "1.3.36.3.3.2.8.1.1.11" => Some(384),
                "1.3.132.0.35" => Some(521),
                "1.3.36.3.3.2.8.1.1.13" => Some(512),
                "1.2.840.10045.3.1.1" => Some(192),
                "1.3.132.0.33" => Some(224),
                _ => None,
            };
            ("ec".to_string(), bits)
        }
        "1.3.101.112" => ("ed25519".to_string(), Some(256)),
        "1.3.101.113" => ("ed448".to_string(), Some(456)),
        "1.3.101.110" => ("x25519".to_string(), Some(256)),
        "1.3.101.111" => ("x448".to_string(), Some(448)),
        "1.2.840.10040.4.1" => {
            let bits = match spki.parsed() {
                Ok(PublicKey::DSA(y)) => Some(significant_bits(y)),
                _ => None,
            };
            ("dsa".to_string(), bits)
        }
        _ => (name, None),
    };
    KeyInfo { algorithm, bits }
}

/// Bit length of a big-endian unsigned integer (leading zero bytes and bits ignored).
fn significant_bits(bytes: &[u8]) -> u32 {
    let Some(first) = bytes.iter().position(|b| *b != 0) else { return 0 };
    let len = (bytes.len() - first) as u32;
    len * 8 - bytes[first].leading_zeros()
}

/// Extended key usage names, in the certificate's order.
fn eku_names(ext_value: &[u8]) -> Vec<String> {
    let Ok((seq, _)) = ber::read(ext_value, 0) else { return Vec::new() };
    let Ok(children) = seq.children(0) else { return Vec::new() };
    children
        .iter()
        .filter(|c| c.tag == 0x06)
        .map(|c| {
            let dotted = oid_string(c.content);
            let short = match dotted.as_str() {
                "1.3.6.1.5.5.7.3.1" => "serverAuth",
                "1.3.6.1.5.5.7.3.2" => "clientAuth",
                "1.3.6.1.5.5.7.3.3" => "codeSigning",
                "1.3.6.1.5.5.7.3.4" => "emailProtection",
                "1.3.6.1.5.5.7.3.5" => "ipsecEndSystem",
                "1.3.6.1.5.5.7.3.6" => "ipsecTunnel",
                "1.3.6.1.5.5.7.3.7" => "ipsecUser",
                "1.3.6.1.5.5.7.3.8" => "timeStamping",
                "1.3.6.1.5.5.7.3.9" => "OCSPSigning",
                "1.3.6.1.5.5.7.3.17" => "ipsecIKE",
                "1.3.6.1.5.5.7.3.36" => "documentSigning",
                "2.5.29.37.0" => "anyExtendedKeyUsage",
                "1.3.6.1.4.1.311.20.2.2" => "msSmartcardLogin",
                "1.3.6.1.4.1.311.10.3.4" => "msEFS",
                "1.3.6.1.4.1.311.10.3.12" => "msDocumentSigning",
                "1.3.6.1.4.1.311.2.1.21" => "msCodeInd",
                "1.3.6.1.4.1.311.2.1.22" => "msCodeCom",
                "1.3.6.1.4.1.311.10.3.1" => "msCTLSign",
                "1.3.6.1.4.1.311.10.3.3" => "msSGC",
                "2.16.840.1.113730.4.1" => "nsSGC",
                "1.3.6.1.5.2.3.4" => "pkInitClientAuth",
                "1.3.6.1.5.2.3.5" => "pkInitKDC",
                _ => "",
            };
            if short.is_empty() {
                dotted
            } else {
                short.to_string()
            }
        })
        .collect()
}

const UPN_OID: &str = "1.3.6.1.4.1.311.20.2.3";

fn san_entry(name: &GeneralName<'_>) -> Option<San> {
    let (kind, value) = match name {
        GeneralName::RFC822Name(v) => ("email", v.to_string()),
        GeneralName::DNSName(v) => ("dns", v.to_string()),
        GeneralName::URI(v) => ("uri", v.to_string()),
        GeneralName::IPAddress(bytes) => ("ip", ip_text(bytes)?),
        GeneralName::OtherName(oid, value) if oid_string(oid.as_bytes()) == UPN_OID => ("upn", decode_upn(value)?),
        _ => return None,
    };
    Some(San { kind: kind.to_string(), value })
}

/// The UPN otherName value: `[0] EXPLICIT UTF8String` (x509-parser hands it over raw).
fn decode_upn(value: &[u8]) -> Option<String> {
    let (outer, _) = ber::read(value, 0).ok()?;
    let inner = if outer.tag == 0xa0 { ber::read(outer.content, 0).ok()?.0 } else { outer };
    attribute_text(inner.tag_number(), inner.content)
}

fn ip_text(bytes: &[u8]) -> Option<String> {
    match bytes.len() {
        4 => Some(std::net::Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3]).to_string()),
        16 => {
            let mut a = [0u8; 16];
            a.copy_from_slice(bytes);
            Some(std::net::Ipv6Addr::from(a).to_string())
        }
        // Name constraints use address+mask forms; a SAN never should. Show it as hex rather than lose it.
        _ => Some(hex::encode(bytes)),
    }
}

/// RFC 3339 UTC with a trailing `Z` (the CLI contract).
pub mod rfc3339_z {
    use serde::Serializer;
    use time::OffsetDateTime;

    pub fn format(t: &OffsetDateTime) -> String {
        let t = t.to_offset(time::UtcOffset::UTC);
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        )
    }

    pub fn serialize<S: Serializer>(t: &OffsetDateTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format(t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::assert_german;

    #[test]
    fn german_messages() {
        assert_german(&CertError::NotCertificate);
        assert_german(&CertError::IsPkcs12);
        assert_german(&CertError::TooLarge { size: 20_000_000, max: 1_000_000 });
    }

    #[test]
    fn serials_as_openssl_prints_them() {
        assert_eq!(serial_hex(&[0x00, 0xc0, 0xff, 0xee]), "c0ffee");
        assert_eq!(serial_hex(&[0x00]), "00");
        assert_eq!(serial_hex(&[]), "00");
        assert_eq!(serial_hex(&[0xff]), "-01");
        assert_eq!(serial_hex(&[0xee, 0xf3, 0x46]), "-110cba");
    }

    #[test]
    fn ber_reader_survives_hostile_lengths() {
        for input in [
            &[0x30, 0x84, 0xff, 0xff, 0xff, 0xff][..],
            &[0x30, 0x80],
            &[0x30, 0x80, 0x30, 0x80],
            &[0x1f],
            &[0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0x00],
        ] {
            assert!(ber::read(input, 0).is_err());
        }
        let deep: Vec<u8> = std::iter::repeat_n([0x30u8, 0x80], 100).flatten().collect();
        assert_eq!(ber::read(&deep, 0).unwrap_err(), ber::BerError::TooDeep);
        assert!(read_certificates(&deep).is_err());
    }
}

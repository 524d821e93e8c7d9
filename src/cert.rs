//! One certificate model for the whole application (x509-parser): what the store, the tokens, the portal and
//! the window show about a certificate, and what the CLI prints as JSON (see DESIGN.md, "CLI JSON contract").
//!
//! Reading is as tolerant as OpenSSL where users meet real files: PEM with the old labels (`X509 CERTIFICATE`,
//! `TRUSTED CERTIFICATE`), DER followed by trailing bytes, PEM bundles, and PKCS#7 certificate bags
//! (`.p7b`/`.p7c`, PEM or DER, often BER with indefinite lengths as OpenSSL and Windows write them). Anything
//! else is refused with a [`CertError`] that says what to do.
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

/// The RFC 5280 skeleton with the exact tags OpenSSL's decoder expects (x509-parser lets some wrong tags through).
fn skeleton_ok(cert: &ber::Obj<'_>) -> Option<()> {
    let tags = |o: &ber::Obj<'_>| o.children(1).ok().map(|c| c.iter().map(|x| x.tag).collect::<Vec<u8>>());
    let top = cert.children(1).ok()?;
    if cert.tag != 0x30 || top.len() != 3 || top[0].tag != 0x30 || top[1].tag != 0x30 || top[2].tag != 0x03 {
        return None;
    }
    let tbs = top[0].children(2).ok()?;
    let mut i = usize::from(tbs.first()?.tag == 0xa0);
    let field = |i: usize, tag: u8| tbs.get(i).filter(|o| o.tag == tag);
    field(i, 0x02)?; // serialNumber
    let alg = field(i + 1, 0x30)?;
    if alg.children(3).ok()?.first()?.tag != 0x06 {
        return None;
    }
    let names = [field(i + 2, 0x30)?, field(i + 4, 0x30)?];
    let validity = tags(field(i + 3, 0x30)?)?;
    if validity.len() != 2 || validity.iter().any(|t| *t != 0x17 && *t != 0x18) {
        return None;
    }
    let spki = tags(field(i + 5, 0x30)?)?;
    if spki != [0x30, 0x03] {
        return None;
    }
    for name in names {
        for rdn in name.children(3).ok()? {
            if rdn.tag != 0x31 {
                return None;
            }
            for atv in rdn.children(4).ok()? {
                if atv.tag != 0x30 || tags(&atv)?.first() != Some(&0x06) {
                    return None;
                }
            }
        }
    }
    i += 6;
    // issuerUniqueID [1], subjectUniqueID [2], extensions [3], in order.
    for (tag, primitive_or_constructed) in [(0x81u8, 0xa1u8), (0x82, 0xa2)] {
        if tbs.get(i).is_some_and(|o| o.tag == tag || o.tag == primitive_or_constructed) {
            i += 1;
        }
    }
    if let Some(ext) = tbs.get(i) {
        if ext.tag != 0xa3 || i + 1 != tbs.len() {
            return None;
        }
        let list = ext.children(3).ok()?;
        if list.len() != 1 || list[0].tag != 0x30 {
            return None;
        }
        for e in list[0].children(4).ok()? {
            let t = tags(&e)?;
            if e.tag != 0x30 || !(t == [0x06, 0x04] || t == [0x06, 0x01, 0x04]) {
                return None;
            }
        }
    }
    Some(())
}

/// Whether every UTF8String, BMPString and UniversalString of a name decodes (OpenSSL's canonical form needs it).
/// Also refuses the universal types OpenSSL's DirectoryString decoder rejects (BOOLEAN, INTEGER, NULL, OID, times,
/// Videotex/Graphic/Visible/General strings…), checked one by one against OpenSSL 3 (tests/fixtures/odd/name_tag_*).
fn names_convertible(name: &X509Name<'_>) -> bool {
    name.iter_attributes().all(|a| {
        let value = a.attr_value();
        let data = value.data;
        if value.class() == x509_parser::der_parser::asn1_rs::Class::Universal && !value.header.is_constructed() {
            match value.tag().0 {
                1 | 2 | 4 | 5 | 6 | 10 | 16 | 17 | 21 | 23 | 24 | 25 | 26 | 27 => return false,
                3 if data.first().is_none_or(|unused| *unused > 7) => return false,
                _ => {}
            }
        }
        match value.tag().0 {
            12 => std::str::from_utf8(data).is_ok(),
            30 => data.len() % 2 == 0,
            28 => {
                data.len() % 4 == 0
                    && data.chunks(4).all(|c| char::from_u32(u32::from_be_bytes([c[0], c[1], c[2], c[3]])).is_some())
            }
            _ => true,
        }
    })
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

fn first_cn(name: &X509Name<'_>) -> Option<String> {
    // The most specific CN: the last one in encoding order.
    name.iter_common_name()
        .last()
        .map(|a| attribute_text(a.attr_value().tag().0, a.attr_value().data).unwrap_or_default())
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

/// Text of a directory string by its universal tag number; `None` for a type that is not a string.
fn attribute_text(tag: u32, data: &[u8]) -> Option<String> {
    match tag {
        // UTF8String, NumericString, PrintableString, IA5String, VisibleString, GraphicString
        12 | 18 | 19 | 22 | 26 | 25 => Some(String::from_utf8_lossy(data).into_owned()),
        // TeletexString: read as Latin-1, as OpenSSL does
        20 => Some(data.iter().map(|b| char::from(*b)).collect()),
        // BMPString (UTF-16BE)
        30 => {
            if data.len() % 2 != 0 {
                return None;
            }
            let units: Vec<u16> = data.chunks(2).map(|c| u16::from_be_bytes([c[0], c[1]])).collect();
            Some(String::from_utf16_lossy(&units))
        }
        // UniversalString (UTF-32BE)
        28 => {
            if data.len() % 4 != 0 {
                return None;
            }
            Some(
                data.chunks(4)
                    .map(|c| char::from_u32(u32::from_be_bytes([c[0], c[1], c[2], c[3]])).unwrap_or('\u{fffd}'))
                    .collect(),
            )
        }
        _ => None,
    }
}

/// OpenSSL's short names for attribute types (`openssl x509 -nameopt RFC2253`).
fn attribute_short_name(dotted: &str) -> Option<&'static str> {
    Some(match dotted {
        "2.5.4.3" => "CN",
        "2.5.4.4" => "SN",
        "2.5.4.5" => "serialNumber",
        "2.5.4.6" => "C",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.9" => "street",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "2.5.4.12" => "title",
        "2.5.4.13" => "description",
        "2.5.4.15" => "businessCategory",
        "2.5.4.16" => "postalAddress",
        "2.5.4.17" => "postalCode",
        "2.5.4.18" => "postOfficeBox",
        "2.5.4.20" => "telephoneNumber",
        "2.5.4.41" => "name",
        "2.5.4.42" => "GN",
        "2.5.4.43" => "initials",
        "2.5.4.44" => "generationQualifier",
        "2.5.4.45" => "x500UniqueIdentifier",
        "2.5.4.46" => "dnQualifier",
        "2.5.4.65" => "pseudonym",
        "2.5.4.72" => "role",
        "2.5.4.97" => "organizationIdentifier",
        "2.5.4.14" => "searchGuide",
        "2.5.4.19" => "physicalDeliveryOfficeName",
        "2.5.4.21" => "telexNumber",
        "2.5.4.23" => "facsimileTelephoneNumber",
        "2.5.4.24" => "x121Address",
        "2.5.4.25" => "internationaliSDNNumber",
        "2.5.4.26" => "registeredAddress",
        "2.5.4.27" => "destinationIndicator",
        "2.5.4.28" => "preferredDeliveryMethod",
        "2.5.4.49" => "distinguishedName",
        "2.5.4.51" => "houseIdentifier",
        "2.5.4.54" => "dmdName",
        "1.2.840.113549.1.9.8" => "unstructuredAddress",
        "0.9.2342.19200300.100.1.3" => "mail",
        "1.2.840.113549.1.9.1" => "emailAddress",
        "1.2.840.113549.1.9.2" => "unstructuredName",
        "0.9.2342.19200300.100.1.1" => "UID",
        "0.9.2342.19200300.100.1.25" => "DC",
        "1.3.6.1.4.1.311.60.2.1.1" => "jurisdictionL",
        "1.3.6.1.4.1.311.60.2.1.2" => "jurisdictionST",
        "1.3.6.1.4.1.311.60.2.1.3" => "jurisdictionC",
        _ => return None,
    })
}

/// RFC 4514 string of a name: most specific RDN first, multi-valued RDNs joined with `+`, values escaped;
/// unknown attribute types as dotted OIDs with the value's DER in `#hex`; the same string as
/// `openssl x509 -nameopt RFC2253` prints.
pub(crate) fn rfc4514(name: &X509Name<'_>) -> String {
    let rdns: Vec<String> = name
        .iter_rdn()
        .map(|rdn| {
            // OpenSSL prints the whole attribute list reversed, inside multi-valued RDNs too.
            let attributes: Vec<_> = rdn.iter().collect();
            attributes
                .into_iter()
                .rev()
                .map(|atv| {
                    let dotted = oid_string(atv.attr_type().as_bytes());
                    let any = atv.attr_value();
                    match (attribute_short_name(&dotted), attribute_text(any.tag().0, any.data)) {
                        (Some(short), Some(text)) => format!("{short}={}", escape_rfc4514(&text)),
                        (short, _) => {
                            let mut der = ber::header_bytes(
                                any.class() as u8,
                                any.header.is_constructed(),
                                any.tag().0,
                                any.data.len(),
                            );
                            der.extend_from_slice(any.data);
                            format!("{}=#{}", short.map(str::to_string).unwrap_or(dotted), hex::encode_upper(der))
                        }
                    }
                })
                .collect::<Vec<_>>()
                .join("+")
        })
        .collect();
    rdns.into_iter().rev().collect::<Vec<_>>().join(",")
}

// ---------------------------------------------------------------------------------------------------------------
// PEM and PKCS#7

struct PemBlock {
    label: String,
    der: Vec<u8>,
}

/// PEM blocks in `bytes`, or `None` when the data holds no `-----BEGIN ` line at all (then it may be DER).
/// Text around the blocks (as `openssl x509 -text` prints) is ignored; RFC 1421 headers are skipped.
fn pem_blocks(bytes: &[u8]) -> Option<Vec<PemBlock>> {
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

const OID_SIGNED_DATA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02];

/// Whether `bytes` starts like a PKCS#7 ContentInfo of type signedData.
fn is_pkcs7_signed_data(bytes: &[u8]) -> bool {
    // SEQUENCE (any length form) then OBJECT IDENTIFIER signedData.
    let Ok((hdr_len, _)) = ber::header(bytes) else { return false };
    let rest = &bytes[hdr_len..];
    rest.len() >= 2 + OID_SIGNED_DATA.len()
        && rest[0] == 0x06
        && usize::from(rest[1]) == OID_SIGNED_DATA.len()
        && &rest[2..2 + OID_SIGNED_DATA.len()] == OID_SIGNED_DATA
}

/// Certificates of a PKCS#7 SignedData (a "certs-only" bag, or any signed message), BER or DER.
pub fn read_pkcs7(bytes: &[u8]) -> Result<Vec<Certificate>, CertError> {
    let bad = |detail: &str| CertError::Pkcs7Malformed { detail: detail.to_string() };
    let map = |e: ber::BerError| CertError::Pkcs7Malformed { detail: e.to_string() };
    let (content_info, _) = ber::read(bytes, 0).map_err(map)?;
    let ci = content_info.children(0).map_err(map)?;
    if ci.first().map(|o| (o.tag, o.content)) != Some((0x06, OID_SIGNED_DATA)) {
        return Err(bad("not signedData"));
    }
    let explicit = ci.get(1).filter(|e| e.tag == 0xa0).ok_or_else(|| bad("no content"))?;
    let inner = explicit.children(1).map_err(map)?;
    let signed_data = inner.first().filter(|s| s.tag == 0x30).ok_or_else(|| bad("no SignedData"))?;
    let fields = signed_data.children(2).map_err(map)?;
    // The SignedData skeleton OpenSSL's decoder insists on (RFC 2315 §9.1): version, digestAlgorithms,
    // contentInfo, [0] certificates, [1] crls, signerInfos; inconsistent lengths anywhere are refused too.
    let tags: Vec<u8> = fields.iter().map(|f| f.tag).collect();
    let skeleton = match tags.as_slice() {
        [0x02, 0x31, 0x30, middle @ .., 0x31] => matches!(middle, [] | [0xa0] | [0xa1] | [0xa0, 0xa1]),
        _ => false,
    };
    let algorithms_ok = fields.get(1).and_then(|set| set.children(3).ok()).is_some_and(|algs| {
        algs.iter().all(|a| a.tag == 0x30 && a.children(4).ok().and_then(|c| c.first().map(|o| o.tag)) == Some(0x06))
    });
    let content_ok =
        fields.get(2).and_then(|c| c.children(3).ok()).and_then(|c| c.first().map(|o| o.tag)) == Some(0x06);
    let signers_ok = fields.last().and_then(|set| set.children(3).ok()).is_some_and(|signers| {
        signers.iter().all(|s| s.tag == 0x30 && s.children(4).ok().and_then(|c| c.first().map(|o| o.tag)) == Some(0x02))
    });
    if !skeleton || !algorithms_ok || !content_ok || !signers_ok || !ber::well_formed(&content_info, 0) {
        return Err(bad("SignedData structure"));
    }
    let mut certs = Vec::new();
    if let Some(set) = fields.iter().find(|f| f.tag == 0xa0) {
        for choice in set.children(3).map_err(map)? {
            // Only X.509 certificates (universal SEQUENCE); attribute certificates are skipped.
            if choice.tag == 0x30 {
                certs.push(parse_der(choice.raw)?);
            }
        }
    }
    if certs.is_empty() {
        return Err(CertError::Pkcs7Empty);
    }
    Ok(certs)
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

//! PKCS#12 (.p12/.pfx) files: read every variant met in the field, write modern by default and legacy on request.
//!
//! Reading is our own BER-tolerant decoder (RFC 7292) on top of `pkcs5` (PBES2) and the RustCrypto block ciphers
//! (PBES1), because p12-keystore 0.4 decodes DER only and Firefox/NSS exports are BER with indefinite lengths; its
//! `&str` API also cannot express the zero-length password of files saved "without password". It reads OpenSSL 3
//! defaults (PBES2/AES-256-CBC, HMAC-SHA-256 MAC), `-legacy` files (RC2-40/3DES, SHA-1 MAC), files without a MAC,
//! PBES2 with the hmacWithSHA1 PRF, NSS exports, and empty passwords in both forms (like OpenSSL: the MAC tells
//! which one the file was made with). Keys without a matching certificate are kept and counted.
//!
//! The primitives are crates: the RFC 7292 appendix B key derivation is the RustCrypto `pkcs12` crate's
//! (`kdf::derive_key`, given raw BMPString bytes), the MAC is `hmac` with its constant-time `verify_slice`. The
//! structures stay on our BER reader: the `pkcs12` crate's types (`Pfx`, `SafeBag`) decode DER only, and the
//! legacy PBES1 ciphers (3DES, RC2) are not in `pkcs5`, so their CBC decryption is written here on `cbc`.
//!
//! Every failure has its own code: wrong password, truncated, corrupted, not a PKCS#12 file, empty, unsupported
//! algorithm; and for callers that need them, no private key / no certificate ([`Pkcs12Contents::require_key_and_cert`]).
//!
//! Writing (p12-keystore): PBES2/AES-256-CBC + HMAC-SHA-256 ([`Encryption::Modern`], the default) or 3DES + SHA-1 MAC
//! ([`Encryption::Legacy`]) for older macOS/Windows/Android importers. Every file written is read back and checked
//! before it is returned.
//!
//! OWNER: core-cert helper.

use hmac::digest::block_api::{BlockSizeUser, EagerHash};
use hmac::digest::FixedOutputReset;
use hmac::{Hmac, KeyInit, Mac};
use pkcs12::kdf::Pkcs12KeyType as KeyType;
use sha1::Sha1;
use sha2::{Digest, Sha224, Sha256, Sha384, Sha512};
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

use crate::asn1::public_key::{
    self, public_key_of_pkcs8, public_key_of_spki, PublicKeyId, OID_EC, OID_RSA, OID_RSA_PSS,
};
use crate::asn1::{ber, oid_string};
use crate::cert::{self, Certificate};
use crate::i18n::{Coded, Lang};

/// Largest PKCS#12 file we read.
pub const MAX_FILE_SIZE: u64 = 16 * 1024 * 1024;

/// Iterations used when writing (OpenSSL 3 uses 2048; we use more for the modern profile).
const MODERN_ITERATIONS: u32 = 10_000;
const LEGACY_ITERATIONS: u32 = 2048;

/// What a PKCS#12 file holds.
#[derive(Debug, Clone, Default)]
pub struct Pkcs12Contents {
    /// Every certificate, in file order (leaf and chain alike).
    pub certificates: Vec<Certificate>,
    /// Every private key, including keys without a matching certificate.
    pub keys: Vec<PrivateKey>,
}

/// A private key found in a PKCS#12 file.
#[derive(Clone)]
pub struct PrivateKey {
    /// The decrypted PKCS#8 PrivateKeyInfo (DER).
    pub pkcs8_der: Zeroizing<Vec<u8>>,
    pub friendly_name: Option<String>,
    pub local_key_id: Option<Vec<u8>>,
    /// Index in [`Pkcs12Contents::certificates`] of the certificate whose public key matches.
    pub certificate: Option<usize>,
}

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrivateKey")
            .field("pkcs8_der", &"<secret>")
            .field("friendly_name", &self.friendly_name)
            .field("local_key_id", &self.local_key_id.as_ref().map(hex::encode))
            .field("certificate", &self.certificate)
            .finish()
    }
}

impl PrivateKey {
    /// The public half of this key, in a form comparable with a certificate's (see [`public_key_of_pkcs8`]).
    pub fn public_key(&self) -> Option<PublicKeyId> {
        public_key_of_pkcs8(&self.pkcs8_der)
    }

    /// Whether `cert` carries this key's public key.
    pub fn matches(&self, cert: &Certificate) -> bool {
        match (self.public_key(), public_key_of_spki(&cert.spki_der)) {
            (Some(a), Some(b)) => a == b,
            _ => false,
        }
    }
}

impl Pkcs12Contents {
    /// The first key that has a matching certificate, with that certificate; errors name what is missing.
    pub fn require_key_and_cert(&self) -> Result<(&PrivateKey, &Certificate), Pkcs12Error> {
        if self.keys.is_empty() {
            return Err(Pkcs12Error::NoPrivateKey);
        }
        if self.certificates.is_empty() {
            return Err(Pkcs12Error::NoCertificate);
        }
        self.keys
            .iter()
            .find_map(|k| k.certificate.and_then(|i| self.certificates.get(i)).map(|c| (k, c)))
            .ok_or(Pkcs12Error::NoMatchingCertificate)
    }

    /// The certificates other than `leaf`, ordered from the leaf's issuer upwards where the names allow it.
    pub fn chain_for(&self, leaf: usize) -> Vec<&Certificate> {
        let mut chain = Vec::new();
        let Some(mut current) = self.certificates.get(leaf) else { return chain };
        let mut used = vec![leaf];
        while let Some((i, issuer)) =
            self.certificates.iter().enumerate().find(|(i, c)| !used.contains(i) && c.subject == current.issuer)
        {
            used.push(i);
            chain.push(issuer);
            current = issuer;
        }
        chain
    }
}

/// Encryption profile of a written file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Encryption {
    /// PBES2 (PBKDF2-HMAC-SHA-256, AES-256-CBC) and an HMAC-SHA-256 MAC: OpenSSL 3's defaults.
    #[default]
    Modern,
    /// pbeWithSHAAnd3-KeyTripleDES-CBC and an HMAC-SHA-1 MAC, for older macOS Keychain, Windows Server ≤ 2016
    /// machine stores and some Android versions.
    Legacy,
}

/// What to write.
pub struct WriteRequest<'a> {
    /// The private key, PKCS#8 DER.
    pub key_pkcs8: &'a [u8],
    /// Leaf first, then its issuers.
    pub chain: &'a [Certificate],
    pub friendly_name: &'a str,
    pub password: &'a str,
    pub encryption: Encryption,
}

/// Errors of this module.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Pkcs12Error {
    #[error("cannot read {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("file too large ({size} bytes)")]
    TooLarge { size: u64 },
    #[error("the file is empty")]
    Empty,
    #[error("not a PKCS#12 file")]
    NotPkcs12,
    #[error("the PKCS#12 file is truncated")]
    Truncated,
    #[error("the PKCS#12 file is corrupted: {detail}")]
    Corrupted { detail: String },
    #[error("wrong password")]
    WrongPassword,
    #[error("unsupported PKCS#12 feature: {detail}")]
    Unsupported { detail: String },
    #[error("no private key in the file")]
    NoPrivateKey,
    #[error("no certificate in the file")]
    NoCertificate,
    #[error("no certificate matches the private key")]
    NoMatchingCertificate,
    #[error("the private key is not a valid PKCS#8 key")]
    InvalidKey,
    #[error("the private key does not match the first certificate")]
    KeyMismatch,
    #[error("no certificate given")]
    EmptyChain,
    #[error("writing the PKCS#12 failed: {detail}")]
    WriteFailed { detail: String },
    #[error("the written PKCS#12 did not read back correctly: {detail}")]
    VerifyFailed { detail: String },
}

impl Coded for Pkcs12Error {
    fn code(&self) -> &'static str {
        match self {
            Pkcs12Error::Io { .. } => "pkcs12.io",
            Pkcs12Error::TooLarge { .. } => "pkcs12.too_large",
            Pkcs12Error::Empty => "pkcs12.empty",
            Pkcs12Error::NotPkcs12 => "pkcs12.not_pkcs12",
            Pkcs12Error::Truncated => "pkcs12.truncated",
            Pkcs12Error::Corrupted { .. } => "pkcs12.corrupted",
            Pkcs12Error::WrongPassword => "pkcs12.wrong_password",
            Pkcs12Error::Unsupported { .. } => "pkcs12.unsupported",
            Pkcs12Error::NoPrivateKey => "pkcs12.no_private_key",
            Pkcs12Error::NoCertificate => "pkcs12.no_certificate",
            Pkcs12Error::NoMatchingCertificate => "pkcs12.no_matching_certificate",
            Pkcs12Error::InvalidKey => "pkcs12.invalid_key",
            Pkcs12Error::KeyMismatch => "pkcs12.key_mismatch",
            Pkcs12Error::EmptyChain => "pkcs12.empty_chain",
            Pkcs12Error::WriteFailed { .. } => "pkcs12.write_failed",
            Pkcs12Error::VerifyFailed { .. } => "pkcs12.verify_failed",
        }
    }

    fn message(&self, lang: Lang) -> String {
        match self {
            Pkcs12Error::Io { path, source } => lang.pick3(
                format!("Impossible de lire le fichier {} ({source}) : vérifiez le chemin et les droits d'accès.", path.display()),
                format!("Cannot read the file {} ({source}): check the path and the permissions.", path.display()),
                format!("Die Datei {} kann nicht gelesen werden ({source}): Prüfen Sie den Pfad und die Zugriffsrechte.", path.display()),
            ),
            Pkcs12Error::TooLarge { size } => lang.pick3(
                format!("Le fichier est trop gros pour être un fichier .p12 ({size} octets) : choisissez le bon fichier."),
                format!("The file is too large to be a .p12 file ({size} bytes): choose the right file."),
                format!("Die Datei ist zu groß für eine .p12-Datei ({size} Bytes): Wählen Sie die richtige Datei."),
            ),
            Pkcs12Error::Empty => lang.pick3(
                "Le fichier .p12 est vide : le téléchargement ou la copie a échoué, récupérez le fichier à nouveau.",
                "The .p12 file is empty: the download or copy failed, get the file again.",
                "Die .p12-Datei ist leer: Der Download oder das Kopieren ist fehlgeschlagen, holen Sie die Datei erneut.",
            ),
            Pkcs12Error::NotPkcs12 => lang.pick3(
                "Ce fichier n'est pas un fichier PKCS#12 (.p12/.pfx) : choisissez le fichier qui contient votre certificat et sa clé.",
                "This file is not a PKCS#12 file (.p12/.pfx): choose the file that holds your certificate and its key.",
                "Diese Datei ist keine PKCS#12-Datei (.p12/.pfx): Wählen Sie die Datei, die Ihr Zertifikat und dessen Schlüssel enthält.",
            ),
            Pkcs12Error::Truncated => lang.pick3(
                "Le fichier .p12 est incomplet (tronqué) : le téléchargement ou la copie s'est interrompu, récupérez le fichier à nouveau.",
                "The .p12 file is incomplete (truncated): the download or copy was interrupted, get the file again.",
                "Die .p12-Datei ist unvollständig (abgeschnitten): Der Download oder das Kopieren wurde unterbrochen, holen Sie die Datei erneut.",
            ),
            Pkcs12Error::Corrupted { detail } => lang.pick3(
                format!("Le fichier .p12 est endommagé ({detail}) : récupérez une copie intacte du fichier."),
                format!("The .p12 file is damaged ({detail}): get an intact copy of the file."),
                format!("Die .p12-Datei ist beschädigt ({detail}): Besorgen Sie eine unbeschädigte Kopie der Datei."),
            ),
            Pkcs12Error::WrongPassword => lang.pick3(
                "Mot de passe incorrect pour ce fichier .p12 : vérifiez le mot de passe reçu avec le fichier (majuscules, minuscules, caractères spéciaux) et réessayez.",
                "Wrong password for this .p12 file: check the password you received with the file (upper/lower case, special characters) and try again.",
                "Falsches Passwort für diese .p12-Datei: Prüfen Sie das mit der Datei erhaltene Passwort (Groß-/Kleinschreibung, Sonderzeichen) und versuchen Sie es erneut.",
            ),
            Pkcs12Error::Unsupported { detail } => lang.pick3(
                format!("Ce fichier .p12 utilise un chiffrement non pris en charge ({detail}) : réexportez-le avec un logiciel récent (AES-256 ou 3DES)."),
                format!("This .p12 file uses unsupported encryption ({detail}): export it again with recent software (AES-256 or 3DES)."),
                format!("Diese .p12-Datei verwendet eine nicht unterstützte Verschlüsselung ({detail}): Exportieren Sie sie erneut mit einer aktuellen Software (AES-256 oder 3DES)."),
            ),
            Pkcs12Error::NoPrivateKey => lang.pick3(
                "Ce fichier .p12 ne contient pas de clé privée, seulement des certificats : demandez le fichier complet (certificat et clé).",
                "This .p12 file holds no private key, only certificates: ask for the complete file (certificate and key).",
                "Diese .p12-Datei enthält keinen privaten Schlüssel, nur Zertifikate: Fordern Sie die vollständige Datei an (Zertifikat und Schlüssel).",
            ),
            Pkcs12Error::NoCertificate => lang.pick3(
                "Ce fichier .p12 ne contient aucun certificat : demandez le fichier complet (certificat et clé).",
                "This .p12 file holds no certificate: ask for the complete file (certificate and key).",
                "Diese .p12-Datei enthält kein Zertifikat: Fordern Sie die vollständige Datei an (Zertifikat und Schlüssel).",
            ),
            Pkcs12Error::NoMatchingCertificate => lang.pick3(
                "Aucun certificat du fichier .p12 ne correspond à sa clé privée : le fichier est incohérent, demandez-en un nouveau.",
                "No certificate in the .p12 file matches its private key: the file is inconsistent, ask for a new one.",
                "Kein Zertifikat der .p12-Datei passt zu ihrem privaten Schlüssel: Die Datei ist widersprüchlich, fordern Sie eine neue an.",
            ),
            Pkcs12Error::InvalidKey => lang.pick3(
                "La clé privée est illisible (PKCS#8 attendu) : la demande de certificat doit être refaite.",
                "The private key is unreadable (PKCS#8 expected): the certificate request must be made again.",
                "Der private Schlüssel ist unlesbar (PKCS#8 erwartet): Die Zertifikatsanforderung muss neu gestellt werden.",
            ),
            Pkcs12Error::KeyMismatch => lang.pick3(
                "La clé privée ne correspond pas au certificat : vérifiez que le certificat est bien celui de cette demande.",
                "The private key does not match the certificate: check that the certificate belongs to this request.",
                "Der private Schlüssel passt nicht zum Zertifikat: Prüfen Sie, ob das Zertifikat wirklich zu dieser Anforderung gehört.",
            ),
            Pkcs12Error::EmptyChain => lang.pick3(
                "Aucun certificat à mettre dans le fichier .p12.",
                "No certificate to put in the .p12 file.",
                "Kein Zertifikat für die .p12-Datei vorhanden.",
            ),
            Pkcs12Error::WriteFailed { detail } => lang.pick3(
                format!("La création du fichier .p12 a échoué ({detail}) : réessayez ; si cela persiste, contactez le support."),
                format!("Creating the .p12 file failed ({detail}): try again; if it persists, contact support."),
                format!("Das Erstellen der .p12-Datei ist fehlgeschlagen ({detail}): Versuchen Sie es erneut; falls das Problem bleibt, wenden Sie sich an den Support."),
            ),
            Pkcs12Error::VerifyFailed { detail } => lang.pick3(
                format!("Le fichier .p12 créé n'a pas pu être relu correctement ({detail}) : rien n'a été enregistré, réessayez."),
                format!("The .p12 file created could not be read back correctly ({detail}): nothing was saved, try again."),
                format!("Die erstellte .p12-Datei konnte nicht korrekt zurückgelesen werden ({detail}): Es wurde nichts gespeichert, versuchen Sie es erneut."),
            ),
        }
    }
}

/// Reads a PKCS#12 file from disk (see [`read`]).
pub fn read_file(path: &Path, password: &str) -> Result<Pkcs12Contents, Pkcs12Error> {
    read(&read_bytes(path)?, password)
}

/// The outline of a PFX: the MAC (if any) and the authenticated content bytes.
struct Outline<'a> {
    /// `(digest OID content, expected MAC, salt, iterations)`
    mac: Option<MacInfo<'a>>,
    /// The authenticated bytes (content of the `data` OCTET STRING).
    auth_content: Vec<u8>,
}

struct MacInfo<'a> {
    digest_oid: String,
    mac: &'a [u8],
    salt: &'a [u8],
    iterations: u32,
}

/// Checks the outer structure of a PFX (RFC 7292 §4) and classifies what is wrong with it.
fn outline(bytes: &[u8]) -> Result<Outline<'_>, Pkcs12Error> {
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(Pkcs12Error::Empty);
    }
    if bytes.first() != Some(&0x30) {
        return Err(Pkcs12Error::NotPkcs12);
    }
    let corrupted = |d: &str| Pkcs12Error::Corrupted { detail: d.to_string() };
    // A PFX starts SEQUENCE { INTEGER 3, ... }: look at the version before trusting the length.
    let (hlen, _) = ber::header(bytes).map_err(|_| Pkcs12Error::NotPkcs12)?;
    let looks_like_pfx = bytes.get(hlen..hlen + 3) == Some(&[0x02, 0x01, 0x03][..]);
    let pfx = match ber::read(bytes, 0) {
        Ok((pfx, _)) => pfx,
        Err(ber::BerError::Truncated) if looks_like_pfx => return Err(Pkcs12Error::Truncated),
        Err(_) if looks_like_pfx => return Err(corrupted("structure")),
        Err(_) => return Err(Pkcs12Error::NotPkcs12),
    };
    if !looks_like_pfx {
        return Err(Pkcs12Error::NotPkcs12);
    }
    let fields = pfx.children(0).map_err(|e| match e {
        ber::BerError::Truncated => Pkcs12Error::Truncated,
        _ => corrupted("structure"),
    })?;
    // fields[0] is the version (checked above: INTEGER 3).
    let auth_safe = fields.get(1).filter(|a| a.tag == 0x30).ok_or_else(|| corrupted("authSafe"))?;
    // authSafe ContentInfo: data (password integrity). signedData (public-key integrity) is not supported.
    let ci = auth_safe.children(1).map_err(|_| corrupted("authSafe"))?;
    match ci.first() {
        Some(o) if o.tag == 0x06 && oid_string(o.content) == OID_DATA => {}
        Some(o) if o.tag == 0x06 => {
            return Err(Pkcs12Error::Unsupported { detail: format!("authSafe {}", oid_string(o.content)) })
        }
        _ => return Err(corrupted("authSafe")),
    }
    let explicit = ci.get(1).filter(|e| e.tag == 0xa0).ok_or_else(|| corrupted("authSafe content"))?;
    let inner = explicit.children(2).map_err(|_| corrupted("authSafe content"))?;
    let octets = inner.first().ok_or_else(|| corrupted("authSafe content"))?;
    let auth_content = octet_string_content(octets, 3).ok_or_else(|| corrupted("authSafe content"))?;

    let mac = match fields.get(2) {
        None => None,
        Some(mac_data) => Some(parse_mac_data(mac_data).ok_or_else(|| corrupted("macData"))?),
    };
    Ok(Outline { mac, auth_content })
}

/// Content of an OCTET STRING, primitive or constructed (BER).
fn octet_string_content(obj: &ber::Obj<'_>, depth: usize) -> Option<Vec<u8>> {
    match obj.tag {
        // OCTET STRING, or an IMPLICIT [0] one (encryptedContent), primitive or constructed (BER)
        0x04 | 0x80 => Some(obj.content.to_vec()),
        0x24 | 0xa0 => {
            let mut out = Vec::new();
            for part in obj.children(depth).ok()? {
                out.extend(octet_string_content(&part, depth + 1)?);
            }
            Some(out)
        }
        _ => None,
    }
}

/// MacData ::= SEQUENCE { mac DigestInfo, macSalt OCTET STRING, iterations INTEGER DEFAULT 1 }
fn parse_mac_data<'a>(obj: &ber::Obj<'a>) -> Option<MacInfo<'a>> {
    let f = obj.children(1).ok()?;
    let digest_info = f.first()?.children(2).ok()?;
    let alg = digest_info.first()?.children(3).ok()?;
    let oid = alg.first().filter(|o| o.tag == 0x06)?;
    let mac = digest_info.get(1).filter(|o| o.tag == 0x04)?.content;
    let salt = f.get(1).filter(|o| o.tag == 0x04)?.content;
    let iterations = match f.get(2) {
        None => 1,
        Some(i) if i.tag == 0x02 && !i.content.is_empty() && i.content.len() <= 5 && i.content[0] & 0x80 == 0 => {
            u32::try_from(i.content.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b))).ok()?
        }
        _ => return None,
    };
    Some(MacInfo { digest_oid: oid_string(oid.content), mac, salt, iterations })
}

/// The password as RFC 7292 BMPString bytes: UTF-16BE plus a two-byte terminator; the empty password has the
/// terminator only when `terminated` (what `&str`-based libraries do) and no bytes at all otherwise.
fn bmp_password(password: &str, terminated: bool) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(password.len() * 2 + 2));
    for unit in password.encode_utf16() {
        out.extend_from_slice(&unit.to_be_bytes());
    }
    if terminated {
        out.extend_from_slice(&[0, 0]);
    }
    out
}

/// One way of turning the user's password into bytes, as some PKCS#12 writer did it.
struct PasswordForm {
    /// For the MAC and PBES1: BMPString bytes.
    bmp: Zeroizing<Vec<u8>>,
    /// For PBES2: the bytes given to PBKDF2.
    utf8: Zeroizing<Vec<u8>>,
}

impl PasswordForm {
    fn as_password(&self) -> Password<'_> {
        Password { utf8: &self.utf8, bmp: &self.bmp }
    }
}

/// The forms OpenSSL tries, in its order: the standard one (UTF-16BE with a terminator); for an empty password the
/// zero-length one ("no password" files); for a non-ASCII password the form older OpenSSL versions wrote, each UTF-8
/// byte taken as one character.
fn password_forms(password: &str) -> Vec<PasswordForm> {
    let mut forms =
        vec![PasswordForm { bmp: bmp_password(password, true), utf8: Zeroizing::new(password.as_bytes().to_vec()) }];
    if password.is_empty() {
        forms.push(PasswordForm { bmp: bmp_password("", false), utf8: Zeroizing::new(Vec::new()) });
    }
    if !password.is_ascii() {
        let latin1 = Zeroizing::new(password.bytes().map(char::from).collect::<String>());
        forms.push(PasswordForm { bmp: bmp_password(&latin1, true), utf8: Zeroizing::new(latin1.as_bytes().to_vec()) });
    }
    forms
}

/// RFC 7292 appendix B.2 key derivation with digest `D` (the RustCrypto `pkcs12` crate's KDF), `password` given as
/// raw BMPString bytes so that the zero-length form of "no password" files can be expressed.
fn pkcs12_kdf<D>(password: &[u8], salt: &[u8], id: KeyType, iterations: u32, size: usize) -> Zeroizing<Vec<u8>>
where
    D: Digest + FixedOutputReset + BlockSizeUser,
{
    // Callers cap the iterations far below i32::MAX (MAX_KDF_ITERATIONS, the MAC ceiling).
    let rounds = i32::try_from(iterations.max(1)).unwrap_or(i32::MAX);
    Zeroizing::new(pkcs12::kdf::derive_key::<D>(password, salt, id, rounds, size))
}

/// Verifies a PFX MAC with the password given as raw BMP bytes. `None` when the digest is not supported.
fn mac_matches(mac: &MacInfo<'_>, bmp: &[u8], data: &[u8]) -> Option<bool> {
    fn check<D>(mac: &MacInfo<'_>, bmp: &[u8], data: &[u8]) -> bool
    where
        D: Digest + FixedOutputReset + BlockSizeUser + EagerHash,
    {
        let key = pkcs12_kdf::<D>(bmp, mac.salt, KeyType::Mac, mac.iterations, <D as Digest>::output_size());
        let Ok(mut hmac) = <Hmac<D> as KeyInit>::new_from_slice(&key) else { return false };
        hmac.update(data);
        // Constant-time (subtle) and length-checked. Not needed against an offline attacker holding the file, but
        // costs nothing.
        hmac.verify_slice(mac.mac).is_ok()
    }
    // Same ceiling as p12-keystore: a hostile file must not keep us hashing for minutes.
    if mac.iterations > 1_000_000 {
        return None;
    }
    Some(match mac.digest_oid.as_str() {
        "1.3.14.3.2.26" => check::<Sha1>(mac, bmp, data),
        "2.16.840.1.101.3.4.2.4" => check::<Sha224>(mac, bmp, data),
        "2.16.840.1.101.3.4.2.1" => check::<Sha256>(mac, bmp, data),
        "2.16.840.1.101.3.4.2.2" => check::<Sha384>(mac, bmp, data),
        "2.16.840.1.101.3.4.2.3" => check::<Sha512>(mac, bmp, data),
        "2.16.840.1.101.3.4.2.5" => check::<sha2::Sha512_224>(mac, bmp, data),
        "2.16.840.1.101.3.4.2.6" => check::<sha2::Sha512_256>(mac, bmp, data),
        _ => return None,
    })
}

/// Checks, without a password, that `bytes` look like a complete PKCS#12 file (so a wrong or damaged file is refused
/// before the user is asked for a password).
pub fn probe(bytes: &[u8]) -> Result<(), Pkcs12Error> {
    if bytes.len() as u64 > MAX_FILE_SIZE {
        return Err(Pkcs12Error::TooLarge { size: bytes.len() as u64 });
    }
    outline(bytes).map(|_| ())
}

/// Reads a file of at most [`MAX_FILE_SIZE`] bytes (for callers that probe before asking for the password).
pub fn read_bytes(path: &Path) -> Result<Vec<u8>, Pkcs12Error> {
    let io = |source| Pkcs12Error::Io { path: path.to_path_buf(), source };
    let meta = std::fs::metadata(path).map_err(io)?;
    if meta.len() > MAX_FILE_SIZE {
        return Err(Pkcs12Error::TooLarge { size: meta.len() });
    }
    std::fs::read(path).map_err(io)
}

/// Reads a PKCS#12 file: every certificate and every private key (keys without a certificate included).
pub fn read(bytes: &[u8], password: &str) -> Result<Pkcs12Contents, Pkcs12Error> {
    if bytes.len() as u64 > MAX_FILE_SIZE {
        return Err(Pkcs12Error::TooLarge { size: bytes.len() as u64 });
    }
    let outline = outline(bytes)?;
    let forms = password_forms(password);

    let bags = if let Some(mac) = &outline.mac {
        // The MAC tells which password form the file was made with.
        let mut chosen = None;
        for form in &forms {
            match mac_matches(mac, &form.bmp, &outline.auth_content) {
                Some(true) => {
                    chosen = Some(form);
                    break;
                }
                Some(false) => {}
                None => return Err(Pkcs12Error::Unsupported { detail: format!("MAC {}", mac.digest_oid) }),
            }
        }
        let form = chosen.ok_or(Pkcs12Error::WrongPassword)?;
        // The MAC proved the password: a decryption failure now means damage.
        parse_authenticated_safe(&outline.auth_content, &form.as_password()).map_err(|e| e.into_error(true))?
    } else {
        let mut result = Err(BagError::Decrypt);
        for form in &forms {
            result = parse_authenticated_safe(&outline.auth_content, &form.as_password());
            if !matches!(result, Err(BagError::Decrypt)) {
                break;
            }
        }
        result.map_err(|e| e.into_error(false))?
    };

    let mut contents = Pkcs12Contents::default();
    let mut cert_key_ids = Vec::new();
    for (der, local_key_id) in bags.certs {
        let c = cert::parse_der(&der).map_err(|e| Pkcs12Error::Corrupted { detail: e.to_string() })?;
        contents.certificates.push(c);
        cert_key_ids.push(local_key_id);
    }
    for mut key in bags.keys {
        key.certificate = contents.certificates.iter().position(|c| key.matches(c)).or_else(|| {
            // Keys whose public half we cannot compute: fall back to the localKeyId attribute.
            key.local_key_id
                .as_ref()
                .and_then(|id| cert_key_ids.iter().position(|c| c.as_deref() == Some(id.as_slice())))
        });
        contents.keys.push(key);
    }
    Ok(contents)
}

/// The password in the two encodings PKCS#12 uses: raw UTF-8 bytes for PBES2, BMPString for PBES1 and the MAC.
struct Password<'a> {
    utf8: &'a [u8],
    bmp: &'a [u8],
}

/// Certificates (DER, localKeyId) and keys found in the bags.
#[derive(Default)]
struct Bags {
    certs: Vec<(Vec<u8>, Option<Vec<u8>>)>,
    keys: Vec<PrivateKey>,
}

/// Failures inside the authenticated safe, classified once we know whether a MAC vouched for the password.
enum BagError {
    /// Decryption produced garbage (bad padding, or plaintext that does not decode).
    Decrypt,
    Structure(&'static str),
    Unsupported(String),
}

impl BagError {
    fn into_error(self, mac_verified: bool) -> Pkcs12Error {
        match self {
            BagError::Decrypt if mac_verified => Pkcs12Error::Corrupted { detail: "encrypted content".into() },
            BagError::Decrypt => Pkcs12Error::WrongPassword,
            BagError::Structure(what) => Pkcs12Error::Corrupted { detail: what.into() },
            BagError::Unsupported(detail) => Pkcs12Error::Unsupported { detail },
        }
    }
}

const OID_DATA: &str = "1.2.840.113549.1.7.1";
const OID_ENCRYPTED_DATA: &str = "1.2.840.113549.1.7.6";
const OID_KEY_BAG: &str = "1.2.840.113549.1.12.10.1.1";
const OID_SHROUDED_KEY_BAG: &str = "1.2.840.113549.1.12.10.1.2";
const OID_CERT_BAG: &str = "1.2.840.113549.1.12.10.1.3";
const OID_SAFE_CONTENTS_BAG: &str = "1.2.840.113549.1.12.10.1.6";
const OID_X509_CERT: &str = "1.2.840.113549.1.9.22.1";
const OID_FRIENDLY_NAME: &str = "1.2.840.113549.1.9.20";
const OID_LOCAL_KEY_ID: &str = "1.2.840.113549.1.9.21";
const OID_PBES2: &str = "1.2.840.113549.1.5.13";
const OID_PBE_SHA1_RC2_128: &str = "1.2.840.113549.1.12.1.5";
const OID_PBE_SHA1_RC2_40: &str = "1.2.840.113549.1.12.1.6";
const OID_PBE_SHA1_3DES: &str = "1.2.840.113549.1.12.1.3";
const OID_PBE_SHA1_2DES: &str = "1.2.840.113549.1.12.1.4";

/// Ceiling on key-derivation work a file may ask for (NSS writes 600,000 PBKDF2 iterations today).
const MAX_KDF_ITERATIONS: u32 = 5_000_000;

fn oid_of(obj: Option<&ber::Obj<'_>>) -> Option<String> {
    obj.filter(|o| o.tag == 0x06).map(|o| oid_string(o.content))
}

/// AuthenticatedSafe ::= SEQUENCE OF ContentInfo (BER accepted throughout, as NSS and Windows write it).
fn parse_authenticated_safe(content: &[u8], pw: &Password<'_>) -> Result<Bags, BagError> {
    let structure = BagError::Structure;
    let (seq, _) = ber::read(content, 0).map_err(|_| structure("authenticated safe"))?;
    let mut bags = Bags::default();
    for ci in seq.children(1).map_err(|_| structure("authenticated safe"))? {
        let f = ci.children(2).map_err(|_| structure("content info"))?;
        let kind = oid_of(f.first()).ok_or(structure("content info"))?;
        let explicit = f.get(1).filter(|o| o.tag == 0xa0);
        match kind.as_str() {
            OID_DATA => {
                let inner = explicit.ok_or(structure("data"))?.children(3).map_err(|_| structure("data"))?;
                let octets = inner.first().and_then(|o| octet_string_content(o, 4)).ok_or(structure("data"))?;
                parse_safe_contents(&octets, pw, &mut bags, 0, false)?;
            }
            OID_ENCRYPTED_DATA => {
                let inner = explicit
                    .ok_or(structure("encrypted data"))?
                    .children(3)
                    .map_err(|_| structure("encrypted data"))?;
                let ed = inner
                    .first()
                    .ok_or(structure("encrypted data"))?
                    .children(4)
                    .map_err(|_| structure("encrypted data"))?;
                let eci = ed
                    .get(1)
                    .ok_or(structure("encrypted data"))?
                    .children(5)
                    .map_err(|_| structure("encrypted data"))?;
                let alg = eci.get(1).filter(|o| o.tag == 0x30).ok_or(structure("encrypted data algorithm"))?;
                let Some(ciphertext) = eci.get(2).and_then(|o| octet_string_content(o, 6)) else { continue };
                let plain = decrypt(alg, &ciphertext, pw)?;
                parse_safe_contents(&plain, pw, &mut bags, 0, true)?;
            }
            other => return Err(BagError::Unsupported(format!("content type {other}"))),
        }
    }
    Ok(bags)
}

/// SafeContents ::= SEQUENCE OF SafeBag. `decrypted`: the bytes came out of a decryption, so a decoding failure
/// most likely means a wrong key.
fn parse_safe_contents(
    data: &[u8],
    pw: &Password<'_>,
    bags: &mut Bags,
    depth: usize,
    decrypted: bool,
) -> Result<(), BagError> {
    let bad = |what: &'static str| if decrypted { BagError::Decrypt } else { BagError::Structure(what) };
    if depth > 4 {
        return Err(BagError::Structure("nested safe contents"));
    }
    let (seq, _) = ber::read(data, 0).map_err(|_| bad("safe contents"))?;
    for bag in seq.children(1).map_err(|_| bad("safe contents"))? {
        let f = bag.children(2).map_err(|_| bad("safe bag"))?;
        let kind = oid_of(f.first()).ok_or_else(|| bad("safe bag"))?;
        let value = f
            .get(1)
            .filter(|o| o.tag == 0xa0)
            .and_then(|v| v.children(3).ok())
            .and_then(|c| c.first().copied())
            .ok_or_else(|| bad("safe bag value"))?;
        let (friendly_name, local_key_id) = bag_attributes(f.get(2));
        match kind.as_str() {
            OID_KEY_BAG => {
                if !pkcs8_well_formed(&value) {
                    return Err(BagError::Structure("private key"));
                }
                bags.keys.push(PrivateKey {
                    pkcs8_der: Zeroizing::new(value.raw.to_vec()),
                    friendly_name,
                    local_key_id,
                    certificate: None,
                })
            }
            OID_SHROUDED_KEY_BAG => {
                let epki = value.children(4).map_err(|_| bad("shrouded key"))?;
                let alg = epki.first().filter(|o| o.tag == 0x30).ok_or_else(|| bad("shrouded key"))?;
                let ciphertext =
                    epki.get(1).and_then(|o| octet_string_content(o, 5)).ok_or_else(|| bad("shrouded key"))?;
                let plain = decrypt(alg, &ciphertext, pw)?;
                // A key that does not decode as PKCS#8 came from a wrong decryption key.
                let (pki, _) = ber::read(&plain, 0).map_err(|_| BagError::Decrypt)?;
                if !pkcs8_well_formed(&pki) {
                    return Err(BagError::Decrypt);
                }
                bags.keys.push(PrivateKey {
                    pkcs8_der: Zeroizing::new(pki.raw.to_vec()),
                    friendly_name,
                    local_key_id,
                    certificate: None,
                });
            }
            OID_CERT_BAG => {
                let cb = value.children(4).map_err(|_| bad("certificate bag"))?;
                if oid_of(cb.first()).as_deref() != Some(OID_X509_CERT) {
                    continue; // SDSI certificates: not X.509, nothing to show
                }
                let der = cb
                    .get(1)
                    .filter(|o| o.tag == 0xa0)
                    .and_then(|o| o.children(5).ok())
                    .and_then(|c| c.first().and_then(|o| octet_string_content(o, 6)))
                    .ok_or_else(|| bad("certificate bag"))?;
                bags.certs.push((der, local_key_id));
            }
            OID_SAFE_CONTENTS_BAG => parse_safe_contents(value.raw, pw, bags, depth + 1, decrypted)?,
            _ => {} // CRL and secret bags: not ours to show
        }
    }
    Ok(())
}

/// Whether a PrivateKeyInfo is structurally sound (RFC 5208; RSA and EC keys down to their inner structure), as
/// OpenSSL requires before it hands a key out. Decrypting with a wrong key yields garbage that fails here.
fn pkcs8_well_formed(pki: &ber::Obj<'_>) -> bool {
    let check = || -> Option<bool> {
        if pki.tag != 0x30 || !ber::well_formed(pki, 0) {
            return Some(false);
        }
        let f = pki.children(1).ok()?;
        let alg = f.get(1).filter(|o| o.tag == 0x30)?.children(2).ok()?;
        let key = f.get(2).filter(|o| o.tag == 0x04)?;
        if f.first()?.tag != 0x02 {
            return Some(false);
        }
        let inner = || ber::read(key.content, 2).ok().filter(|(o, rest)| rest.is_empty() && ber::well_formed(o, 2));
        Some(match oid_of(alg.first())?.as_str() {
            OID_RSA | OID_RSA_PSS => {
                let (rsa, _) = inner()?;
                let ints = rsa.children(3).ok()?;
                rsa.tag == 0x30 && ints.len() >= 9 && ints.iter().all(|i| i.tag == 0x02)
            }
            OID_EC => {
                let (ec, _) = inner()?;
                let e = ec.children(3).ok()?;
                ec.tag == 0x30
                    && e.first().map(|v| (v.tag, v.content)) == Some((0x02, &[1u8][..]))
                    && e.get(1)?.tag == 0x04
            }
            _ => true,
        })
    };
    check().unwrap_or(false)
}

/// friendlyName (BMPString) and localKeyId (OCTET STRING) from a bag's attributes.
fn bag_attributes(attrs: Option<&ber::Obj<'_>>) -> (Option<String>, Option<Vec<u8>>) {
    let mut name = None;
    let mut id = None;
    let Some(list) = attrs.filter(|a| a.tag == 0x31).and_then(|a| a.children(3).ok()) else { return (None, None) };
    for attr in list {
        let Ok(f) = attr.children(4) else { continue };
        let Some(value) = f.get(1).and_then(|s| s.children(5).ok()).and_then(|v| v.first().copied()) else { continue };
        match oid_of(f.first()).as_deref() {
            Some(OID_FRIENDLY_NAME) if value.tag == 0x1e && value.content.len() % 2 == 0 => {
                let units: Vec<u16> = value.content.chunks(2).map(|c| u16::from_be_bytes([c[0], c[1]])).collect();
                name = Some(String::from_utf16_lossy(&units));
            }
            Some(OID_LOCAL_KEY_ID) => id = octet_string_content(&value, 6),
            _ => {}
        }
    }
    (name, id)
}

/// Decrypts with PBES2 (any cipher/PRF pkcs5 knows, hmacWithSHA1 included) or PKCS#12 PBES1 (3DES, RC2).
fn decrypt(alg: &ber::Obj<'_>, ciphertext: &[u8], pw: &Password<'_>) -> Result<Zeroizing<Vec<u8>>, BagError> {
    let f = alg.children(6).map_err(|_| BagError::Structure("algorithm"))?;
    let oid = oid_of(f.first()).ok_or(BagError::Structure("algorithm"))?;
    let params = f.get(1).ok_or(BagError::Structure("algorithm parameters"))?;
    match oid.as_str() {
        OID_PBES2 => {
            use pkcs5::der::Decode;
            let p = pkcs5::pbes2::Parameters::from_der(params.raw).map_err(|e| {
                if e.to_string().contains("OID") {
                    BagError::Unsupported(e.to_string())
                } else {
                    BagError::Structure("PBES2 parameters")
                }
            })?;
            match &p.kdf {
                pkcs5::pbes2::Kdf::Pbkdf2(k) if k.iteration_count > MAX_KDF_ITERATIONS => {
                    return Err(BagError::Unsupported(format!("{} PBKDF2 iterations", k.iteration_count)))
                }
                pkcs5::pbes2::Kdf::Scrypt(s)
                    if s.parallelization > 16
                        || 128u64.saturating_mul(s.cost_parameter).saturating_mul(u64::from(s.block_size))
                            > 1 << 30 =>
                {
                    return Err(BagError::Unsupported("scrypt parameters".into()))
                }
                _ => {}
            }
            p.decrypt(pw.utf8, ciphertext).map(Zeroizing::new).map_err(|e| match e {
                pkcs5::Error::DecryptFailed => BagError::Decrypt,
                other => BagError::Unsupported(other.to_string()),
            })
        }
        OID_PBE_SHA1_3DES | OID_PBE_SHA1_2DES | OID_PBE_SHA1_RC2_128 | OID_PBE_SHA1_RC2_40 => {
            let p = params.children(7).map_err(|_| BagError::Structure("PBES1 parameters"))?;
            let salt = p.first().filter(|o| o.tag == 0x04).ok_or(BagError::Structure("PBES1 salt"))?.content;
            let iterations = p
                .get(1)
                .filter(|o| o.tag == 0x02 && !o.content.is_empty() && o.content.len() <= 4 && o.content[0] & 0x80 == 0)
                .map(|o| o.content.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b)))
                .ok_or(BagError::Structure("PBES1 iterations"))?;
            if iterations > MAX_KDF_ITERATIONS {
                return Err(BagError::Unsupported(format!("{iterations} iterations")));
            }
            let key_len = match oid.as_str() {
                OID_PBE_SHA1_3DES => 24,
                OID_PBE_SHA1_2DES | OID_PBE_SHA1_RC2_128 => 16,
                _ => 5,
            };
            let key = pkcs12_kdf::<Sha1>(pw.bmp, salt, KeyType::EncryptionKey, iterations, key_len);
            let iv = pkcs12_kdf::<Sha1>(pw.bmp, salt, KeyType::Iv, iterations, 8);
            pbes1_decrypt(&oid, &key, &iv, ciphertext).map(Zeroizing::new).ok_or(BagError::Decrypt)
        }
        other => Err(BagError::Unsupported(format!("encryption {other}"))),
    }
}

/// CBC decryption with PKCS#7 padding for the PKCS#12 PBES1 ciphers.
fn pbes1_decrypt(oid: &str, key: &[u8], iv: &[u8], data: &[u8]) -> Option<Vec<u8>> {
    use cbc::cipher::{block_padding::Pkcs7, BlockModeDecrypt, KeyIvInit};
    match oid {
        OID_PBE_SHA1_3DES => {
            cbc::Decryptor::<des::TdesEde3>::new_from_slices(key, iv).ok()?.decrypt_padded_vec::<Pkcs7>(data).ok()
        }
        OID_PBE_SHA1_2DES => {
            cbc::Decryptor::<des::TdesEde2>::new_from_slices(key, iv).ok()?.decrypt_padded_vec::<Pkcs7>(data).ok()
        }
        _ => cbc::Decryptor::<rc2::Rc2>::new_from_slices(key, iv).ok()?.decrypt_padded_vec::<Pkcs7>(data).ok(),
    }
}

/// Builds a PKCS#12 file holding `key_pkcs8` and `chain` (leaf first), then reads it back and checks it.
pub fn write(req: &WriteRequest<'_>) -> Result<Vec<u8>, Pkcs12Error> {
    let leaf = req.chain.first().ok_or(Pkcs12Error::EmptyChain)?;
    let own_key = public_key_of_pkcs8(req.key_pkcs8).ok_or(Pkcs12Error::InvalidKey)?;
    if public_key_of_spki(&leaf.spki_der).as_ref() != Some(&own_key) {
        return Err(Pkcs12Error::KeyMismatch);
    }
    let failed = |e: p12_keystore::error::Error| Pkcs12Error::WriteFailed { detail: e.to_string() };
    let key = p12_keystore::PrivateKey::from_der(req.key_pkcs8).map_err(|_| Pkcs12Error::InvalidKey)?;
    let certs = req
        .chain
        .iter()
        .map(|c| p12_keystore::Certificate::from_der(&c.der))
        .collect::<Result<Vec<_>, _>>()
        .map_err(failed)?;
    // localKeyId = SHA-1 of the leaf certificate, as OpenSSL and Windows do.
    let local_key_id = Sha1::digest(&leaf.der).to_vec();
    let chain = p12_keystore::PrivateKeyChain::new(local_key_id, key, certs);
    let mut store = p12_keystore::KeyStore::new();
    let alias = if req.friendly_name.is_empty() { leaf.display_name() } else { req.friendly_name.to_string() };
    store.add_entry(&alias, p12_keystore::KeyStoreEntry::PrivateKeyChain(chain));
    let writer = store.writer(req.password);
    let writer = match req.encryption {
        Encryption::Modern => writer
            .encryption_algorithm(p12_keystore::EncryptionAlgorithm::PbeWithHmacSha256AndAes256)
            .encryption_iterations(MODERN_ITERATIONS)
            .mac_algorithm(p12_keystore::MacAlgorithm::HmacSha256)
            .mac_iterations(MODERN_ITERATIONS),
        Encryption::Legacy => writer
            .encryption_algorithm(p12_keystore::EncryptionAlgorithm::PbeWithShaAnd3KeyTripleDesCbc)
            .encryption_iterations(LEGACY_ITERATIONS)
            .mac_algorithm(p12_keystore::MacAlgorithm::HmacSha1)
            .mac_iterations(LEGACY_ITERATIONS),
    };
    let out = writer.write().map_err(failed)?;

    // Read it back with the same password: one key, matching the leaf, and every certificate present.
    let verify = |d: &str| Pkcs12Error::VerifyFailed { detail: d.to_string() };
    let back = read(&out, req.password).map_err(|e| verify(&e.to_string()))?;
    // A second, independent decoder (the one that wrote it) must agree.
    let archive = p12_keystore::Pkcs12Archive::from_pkcs12(&out, req.password).map_err(|e| verify(&e.to_string()))?;
    if archive.keys.len() != 1 || archive.certs.len() != req.chain.len() {
        return Err(verify("p12-keystore re-read"));
    }
    if back.keys.len() != 1 || *back.keys[0].pkcs8_der != req.key_pkcs8 {
        return Err(verify("private key"));
    }
    if back.certificates.len() != req.chain.len()
        || req.chain.iter().any(|c| !back.certificates.iter().any(|b| b.sha256 == c.sha256))
    {
        return Err(verify("certificates"));
    }
    match back.keys[0].certificate.and_then(|i| back.certificates.get(i)) {
        Some(c) if c.sha256 == leaf.sha256 => Ok(out),
        _ => Err(verify("key does not match the leaf certificate")),
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Private keys handed over by platform key stores (Windows CryptoAPI and CNG), turned into PKCS#8 for our writer.

/// The parts of an RSA private key, each an unsigned big-endian integer (leading zeros allowed).
pub struct RsaKeyParts<'a> {
    pub modulus: &'a [u8],
    pub public_exponent: &'a [u8],
    pub private_exponent: &'a [u8],
    pub prime1: &'a [u8],
    pub prime2: &'a [u8],
    pub exponent1: &'a [u8],
    pub exponent2: &'a [u8],
    pub coefficient: &'a [u8],
}

/// A non-negative INTEGER from unsigned big-endian bytes.
fn der_unsigned(bytes: &[u8], out: &mut Vec<u8>) {
    let trimmed = public_key::unsigned(bytes);
    let mut content = Zeroizing::new(Vec::with_capacity(trimmed.len() + 1));
    if trimmed.first().is_none_or(|b| b & 0x80 != 0) {
        content.push(0);
    }
    content.extend_from_slice(&trimmed);
    ber::push_tlv(0x02, &content, out);
}

/// PKCS#8 `PrivateKeyInfo` (rsaEncryption) holding the PKCS#1 `RSAPrivateKey` made of `parts`.
pub fn rsa_pkcs8(parts: &RsaKeyParts<'_>) -> Zeroizing<Vec<u8>> {
    let mut rsa = Zeroizing::new(Vec::new());
    der_unsigned(&[0], &mut rsa); // version two-prime
    for v in [
        parts.modulus,
        parts.public_exponent,
        parts.private_exponent,
        parts.prime1,
        parts.prime2,
        parts.exponent1,
        parts.exponent2,
        parts.coefficient,
    ] {
        der_unsigned(v, &mut rsa);
    }
    let mut rsa_seq = Zeroizing::new(Vec::new());
    ber::push_tlv(0x30, &rsa, &mut rsa_seq);
    let mut body = Zeroizing::new(Vec::new());
    der_unsigned(&[0], &mut body);
    // AlgorithmIdentifier { rsaEncryption, NULL }
    body.extend_from_slice(&[0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00]);
    ber::push_tlv(0x04, &rsa_seq, &mut body);
    let mut out = Zeroizing::new(Vec::new());
    ber::push_tlv(0x30, &body, &mut out);
    out
}

/// PKCS#8 from a Windows CryptoAPI RSA `PRIVATEKEYBLOB` (what `CryptExportKey` gives): `BLOBHEADER`, `RSAPUBKEY`
/// ("RSA2", bit length, public exponent), then modulus, prime1, prime2, exponent1, exponent2, coefficient and private
/// exponent, little-endian. `None` for anything else.
pub fn rsa_pkcs8_from_cryptoapi_blob(blob: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    const PRIVATEKEYBLOB: u8 = 7;
    const RSA2: u32 = 0x3241_5352;
    let word = |at: usize| blob.get(at..at + 4).and_then(|b| b.try_into().ok()).map(u32::from_le_bytes);
    if blob.first() != Some(&PRIVATEKEYBLOB) || word(8)? != RSA2 {
        return None;
    }
    let bits = usize::try_from(word(12)?).ok()?;
    if bits == 0 || bits > 16384 {
        return None;
    }
    let public_exponent = word(16)?.to_be_bytes();
    let (full, half) = (bits.div_ceil(8), bits.div_ceil(16));
    let mut rest = blob.get(20..)?;
    let mut take = |len: usize| -> Option<Zeroizing<Vec<u8>>> {
        let (field, tail) = (rest.get(..len)?, rest.get(len..)?);
        rest = tail;
        Some(Zeroizing::new(field.iter().rev().copied().collect()))
    };
    let modulus = take(full)?;
    let prime1 = take(half)?;
    let prime2 = take(half)?;
    let exponent1 = take(half)?;
    let exponent2 = take(half)?;
    let coefficient = take(half)?;
    let private_exponent = take(full)?;
    Some(rsa_pkcs8(&RsaKeyParts {
        modulus: &modulus,
        public_exponent: &public_exponent,
        private_exponent: &private_exponent,
        prime1: &prime1,
        prime2: &prime2,
        exponent1: &exponent1,
        exponent2: &exponent2,
        coefficient: &coefficient,
    }))
}

/// Decrypts a PKCS#8 `EncryptedPrivateKeyInfo` (PKCS#12 PBES1 or PBES2) with `password`, as a platform key store
/// hands out a key it only exports encrypted (CNG keys without plaintext export). Returns the `PrivateKeyInfo` DER.
pub fn decrypt_private_key_info(epki: &[u8], password: &str) -> Result<Zeroizing<Vec<u8>>, Pkcs12Error> {
    let corrupted = |what: &str| Pkcs12Error::Corrupted { detail: what.into() };
    let (seq, _) = ber::read(epki, 0).map_err(|_| corrupted("encrypted private key"))?;
    let f = seq.children(1).map_err(|_| corrupted("encrypted private key"))?;
    let alg = f.first().filter(|o| o.tag == 0x30).ok_or_else(|| corrupted("encrypted private key"))?;
    let ciphertext =
        f.get(1).and_then(|o| octet_string_content(o, 2)).ok_or_else(|| corrupted("encrypted private key"))?;
    let mut last = Pkcs12Error::WrongPassword;
    for form in password_forms(password) {
        match decrypt(alg, &ciphertext, &form.as_password()) {
            Ok(plain) => {
                let (pki, _) = ber::read(&plain, 0).map_err(|_| Pkcs12Error::WrongPassword)?;
                if !pkcs8_well_formed(&pki) {
                    return Err(Pkcs12Error::InvalidKey);
                }
                return Ok(Zeroizing::new(pki.raw.to_vec()));
            }
            Err(e) => last = e.into_error(false),
        }
    }
    Err(last)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::assert_german;

    #[test]
    fn german_messages() {
        assert_german(&Pkcs12Error::WrongPassword);
        assert_german(&Pkcs12Error::Truncated);
        assert_german(&Pkcs12Error::TooLarge { size: 12345 });
        assert!(Pkcs12Error::WrongPassword.message(Lang::De).contains("Falsches Passwort"));
        assert!(Pkcs12Error::TooLarge { size: 12345 }.message(Lang::De).contains("12345 Bytes"));
    }

    #[test]
    fn kdf_matches_rfc7292_vector() {
        // Known vector (from the PKCS#12 test suites): password "smeg", salt 0A58CF64530D823F, id 1, 1 iteration,
        // SHA-1, 24 bytes.
        let key = pkcs12_kdf::<Sha1>(
            &bmp_password("smeg", true),
            &hex::decode("0a58cf64530d823f").unwrap(),
            KeyType::EncryptionKey,
            1,
            24,
        );
        assert_eq!(hex::encode(&*key), "8aaae6297b6cb04642ab5b077851284eb7128f1a2a7fbca3");
    }

    #[test]
    fn garbage_never_panics() {
        for input in [&b""[..], b"\x30", b"\x30\x80", b"\x30\x03\x02\x01\x03", b"\x30\x84\xff\xff\xff\xff", b"hello"] {
            assert!(read(input, "x").is_err());
        }
    }
}

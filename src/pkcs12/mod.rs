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
//! Layout: this file holds the model, the errors and [`read`]; `bags` decodes the PFX structure and decrypts the bags,
//! `kdf` turns passwords into keys and checks the MAC, `write` writes and re-reads, `platform` turns keys from
//! Windows key stores into PKCS#8.
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

mod bags;
mod kdf;
mod platform;
mod write;

use self::bags::*;
use self::kdf::*;
pub use self::platform::{decrypt_private_key_info, rsa_pkcs8, rsa_pkcs8_from_cryptoapi_blob, RsaKeyParts};
pub use self::write::write;

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
    fn garbage_never_panics() {
        for input in [&b""[..], b"\x30", b"\x30\x80", b"\x30\x03\x02\x01\x03", b"\x30\x84\xff\xff\xff\xff", b"hello"] {
            assert!(read(input, "x").is_err());
        }
    }
}

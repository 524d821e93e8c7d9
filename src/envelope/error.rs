//! The envelope module's error enum.

use std::path::PathBuf;

use crate::i18n::{Coded, Lang};

/// What can go wrong opening an envelope, with what the user can do about it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EnvelopeError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path} is too large ({size} bytes)")]
    TooLarge { path: PathBuf, size: u64 },
    #[error("the envelope is truncated")]
    Truncated,
    #[error("the envelope is damaged: {detail}")]
    Damaged { detail: String },
    #[error("not an encrypted envelope (content type {content_type})")]
    NotAnEnvelope { content_type: String },
    #[error("unsupported algorithm: {what}")]
    UnsupportedAlgorithm { what: String },
    #[error("no key of this workstation opens the envelope (recipients: {})", recipients.join("; "))]
    NoKey { recipients: Vec<String> },
    #[error("the key does not open this envelope")]
    WrongKey,
    #[error("the content failed its authentication check")]
    NotAuthentic,
    #[error("{path} already exists")]
    OutputExists { path: PathBuf },
    #[error("PIN: {detail}")]
    Pin { detail: String },
    #[error(transparent)]
    Token(#[from] crate::token::TokenError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

impl Coded for EnvelopeError {
    fn code(&self) -> &'static str {
        match self {
            EnvelopeError::Io { .. } => "envelope.io",
            EnvelopeError::TooLarge { .. } => "envelope.too_large",
            EnvelopeError::Truncated => "envelope.truncated",
            EnvelopeError::Damaged { .. } => "envelope.damaged",
            EnvelopeError::NotAnEnvelope { .. } => "envelope.not_an_envelope",
            EnvelopeError::UnsupportedAlgorithm { .. } => "envelope.unsupported_algorithm",
            EnvelopeError::NoKey { .. } => "envelope.no_key",
            EnvelopeError::WrongKey => "envelope.wrong_key",
            EnvelopeError::NotAuthentic => "envelope.not_authentic",
            EnvelopeError::OutputExists { .. } => "envelope.output_exists",
            EnvelopeError::Pin { .. } => "envelope.pin",
            EnvelopeError::Token(e) => e.code(),
            EnvelopeError::Store(e) => e.code(),
        }
    }

    fn message(&self, lang: Lang) -> String {
        match self {
            EnvelopeError::Io { path, source } => lang.pick3(
                format!("Lecture ou écriture impossible : {} ({source}). Vérifiez le chemin, l'espace disque et les droits.", path.display()),
                format!("Cannot read or write {} ({source}). Check the path, disk space and permissions.", path.display()),
                format!("Lesen oder Schreiben nicht möglich: {} ({source}). Prüfen Sie den Pfad, den Speicherplatz und die Rechte.", path.display()),
            ),
            EnvelopeError::TooLarge { path, size } => lang.pick3(
                format!("Le fichier {} est trop volumineux ({size} octets) pour être un pli.", path.display()),
                format!("The file {} is too large ({size} bytes) to be an envelope.", path.display()),
                format!("Die Datei {} ist zu groß ({size} Bytes), um ein verschlüsselter Umschlag zu sein.", path.display()),
            ),
            EnvelopeError::Truncated => lang.pick3(
                "Le pli est incomplet (fichier tronqué) : téléchargez-le de nouveau depuis le portail.",
                "The envelope is incomplete (truncated file): download it again from the portal.",
                "Der Umschlag ist unvollständig (abgeschnittene Datei): Laden Sie ihn erneut vom Portal herunter.",
            ),
            EnvelopeError::Damaged { detail } => lang.pick3(
                format!("Le pli est endommagé ({detail}) : téléchargez-le de nouveau depuis le portail."),
                format!("The envelope is damaged ({detail}): download it again from the portal."),
                format!("Der Umschlag ist beschädigt ({detail}): Laden Sie ihn erneut vom Portal herunter."),
            ),
            EnvelopeError::NotAnEnvelope { content_type } => lang.pick3(
                format!("Ce fichier n'est pas un pli chiffré (type CMS {content_type}) : choisissez le fichier .p7m reçu du portail."),
                format!("This file is not an encrypted envelope (CMS type {content_type}): choose the .p7m file received from the portal."),
                format!("Diese Datei ist kein verschlüsselter Umschlag (CMS-Typ {content_type}): Wählen Sie die vom Portal erhaltene .p7m-Datei."),
            ),
            EnvelopeError::UnsupportedAlgorithm { what } => lang.pick3(
                format!("Ce pli utilise un algorithme que Trousseau ne sait pas ouvrir ({what}) : signalez-le à votre support."),
                format!("This envelope uses an algorithm Trousseau cannot open ({what}): report it to your support."),
                format!("Dieser Umschlag verwendet einen Algorithmus, den Trousseau nicht öffnen kann ({what}): Melden Sie dies Ihrem Support."),
            ),
            EnvelopeError::NoKey { recipients } => {
                let r = recipients.join(" ; ");
                lang.pick3(
                    format!("Aucune clé de ce poste n'ouvre ce pli. Il est destiné à : {r}. Insérez la carte qui porte l'un de ces certificats (par exemple votre ancienne carte pour un marché lié à un ancien bi-clé), ou ouvrez-le sur le poste qui a la clé."),
                    format!("No key of this workstation opens this envelope. It is meant for: {r}. Insert the card holding one of these certificates (for instance your old card for a tender tied to an old bi-clé), or open it on the workstation that has the key."),
                    format!("Kein Schlüssel dieses Arbeitsplatzes öffnet diesen Umschlag. Er ist bestimmt für: {r}. Stecken Sie die Karte mit einem dieser Zertifikate ein (zum Beispiel Ihre alte Karte für eine Ausschreibung mit einem alten Schlüsselpaar) oder öffnen Sie ihn auf dem Arbeitsplatz mit dem Schlüssel."),
                )
            }
            EnvelopeError::WrongKey => lang.pick3(
                "La clé trouvée n'ouvre pas ce pli : il a été chiffré pour une autre clé, ou il est endommagé. Rien n'a été écrit.",
                "The key found does not open this envelope: it was encrypted for another key, or it is damaged. Nothing was written.",
                "Der gefundene Schlüssel öffnet diesen Umschlag nicht: Er wurde für einen anderen Schlüssel verschlüsselt oder ist beschädigt. Es wurde nichts geschrieben.",
            ),
            EnvelopeError::NotAuthentic => lang.pick3(
                "Le contenu du pli ne passe pas le contrôle d'intégrité (modifié ou endommagé) : rien n'a été écrit. Téléchargez-le de nouveau et signalez-le au portail.",
                "The envelope's content fails its integrity check (modified or damaged): nothing was written. Download it again and report it to the portal.",
                "Der Inhalt des Umschlags besteht die Integritätsprüfung nicht (verändert oder beschädigt): Es wurde nichts geschrieben. Laden Sie ihn erneut herunter und melden Sie es dem Portal.",
            ),
            EnvelopeError::OutputExists { path } => lang.pick3(
                format!("Le fichier {} existe déjà : choisissez un autre nom ou dossier (ou --force pour le remplacer).", path.display()),
                format!("The file {} already exists: choose another name or folder (or --force to replace it).", path.display()),
                format!("Die Datei {} existiert bereits: Wählen Sie einen anderen Namen oder Ordner (oder --force zum Ersetzen).", path.display()),
            ),
            EnvelopeError::Pin { detail } => lang.pick3(
                format!("Le code PIN n'a pas pu être lu ({detail})."),
                format!("The PIN could not be read ({detail})."),
                format!("Die PIN konnte nicht gelesen werden ({detail})."),
            ),
            EnvelopeError::Token(e) => e.message(lang),
            EnvelopeError::Store(e) => e.message(lang),
        }
    }
}

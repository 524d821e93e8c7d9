//! The token module's one error enum: every failure of a PKCS#11 module or token, with a stable code and a
//! sentence (French / English) that says what happened and what to do.

use crate::i18n::{Coded, Lang};
use crate::token::PinState;
use std::path::PathBuf;

/// The name of an operation in an error (`"login"`, `"decryption"`…). An alias, so that serde's derive does not
/// take it for a borrowed string.
pub type OperationName = &'static str;

/// What went wrong with a PKCS#11 module, a token or a key.
///
/// Errors cross the pipe from a module's helper process ([`super::host`]), hence `Serialize`/`Deserialize`: the
/// `operation` names are `&'static str` and come back as the known operation names ([`super::wire::static_name`]).
#[derive(Debug, Clone, thiserror::Error, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub enum TokenError {
    /// The module file does not exist.
    #[error("PKCS#11 module {path} not found")]
    ModuleMissing { path: PathBuf },
    /// The file exists but cannot be loaded as a shared library.
    #[error("{path} cannot be loaded as a library: {detail}")]
    NotALibrary { path: PathBuf, detail: String },
    /// A shared library without the PKCS#11 entry points.
    #[error("{path} is not a PKCS#11 module (no C_GetFunctionList)")]
    NotPkcs11 { path: PathBuf },
    /// `C_Initialize` (or the first calls) failed.
    #[error("PKCS#11 module {path} failed to start: {detail}")]
    ModuleInit { path: PathBuf, detail: String },
    /// The module did not answer in time; the call was abandoned.
    #[error("the PKCS#11 module did not answer within {seconds} s during {operation}")]
    Timeout {
        #[serde(deserialize_with = "super::wire::static_name")]
        operation: OperationName,
        seconds: u64,
    },
    /// No token with this label.
    #[error("no token labelled {label:?}")]
    TokenNotFound { label: String },
    /// Several tokens carry the same label.
    #[error("{count} tokens are labelled {label:?}")]
    Ambiguous { label: String, count: usize },
    /// The PIN was refused; `state` is what the token now says about the remaining tries.
    #[error("wrong PIN ({state:?})")]
    WrongPin { state: PinState },
    /// The PIN is blocked: no login is attempted.
    #[error("the PIN is locked")]
    PinLocked,
    /// This wrong PIN was the last try: the PIN is now locked.
    #[error("wrong PIN: the PIN is now locked")]
    PinLockedNow,
    /// The PIN has expired and must be changed first.
    #[error("the PIN has expired")]
    PinExpired,
    /// The PIN has a length or characters the token refuses.
    #[error("the PIN has an invalid length or characters")]
    PinInvalid,
    /// The new PIN's length is outside what the token accepts.
    #[error("the new PIN must have {min} to {max} characters")]
    PinLength { min: usize, max: usize },
    /// The two entries of the new PIN differ.
    #[error("the two entries of the new PIN differ")]
    PinMismatch,
    /// The unblocking code (PUK / SO PIN) was refused.
    #[error("wrong unblocking code")]
    WrongUnblockCode { final_try: bool },
    /// The unblocking code itself is blocked: only the card's issuer can help.
    #[error("the unblocking code is locked")]
    UnblockCodeLocked,
    /// No key (or certificate) with this CKA_ID.
    #[error("no key with id {id} on the token")]
    KeyNotFound { id: String },
    /// The token does not offer what was asked.
    #[error("the token does not support {what}")]
    Unsupported { what: String },
    /// The card or token was removed (or its session vanished) during the operation.
    #[error("the token was removed during {operation}")]
    Removed {
        #[serde(deserialize_with = "super::wire::static_name")]
        operation: OperationName,
    },
    /// The session belonged to a worker that was abandoned after a timeout.
    #[error("the token session was lost after a module stopped answering")]
    SessionLost,
    /// Decryption refused by the token (wrong key, wrong padding, corrupted data).
    #[error("decryption failed: {detail}")]
    Decrypt { detail: String },
    /// Any other failure reported by the module.
    #[error("{operation} failed: {detail}")]
    Device {
        #[serde(deserialize_with = "super::wire::static_name")]
        operation: OperationName,
        detail: String,
    },
    /// The module's helper process ended abruptly (the vendor module crashed) during an operation.
    #[error("the PKCS#11 module {path} crashed ({detail})")]
    ModuleCrashed { path: PathBuf, detail: String },
}

impl Coded for TokenError {
    fn code(&self) -> &'static str {
        match self {
            TokenError::ModuleMissing { .. } => "token.module_missing",
            TokenError::NotALibrary { .. } => "token.not_a_library",
            TokenError::NotPkcs11 { .. } => "token.not_pkcs11",
            TokenError::ModuleInit { .. } => "token.module_init",
            TokenError::Timeout { .. } => "token.timeout",
            TokenError::TokenNotFound { .. } => "token.not_found",
            TokenError::Ambiguous { .. } => "token.ambiguous",
            TokenError::WrongPin { .. } => "token.wrong_pin",
            TokenError::PinLocked | TokenError::PinLockedNow => "token.pin_locked",
            TokenError::PinExpired => "token.pin_expired",
            TokenError::PinInvalid => "token.pin_invalid",
            TokenError::PinLength { .. } => "token.pin_length",
            TokenError::PinMismatch => "token.pin_mismatch",
            TokenError::WrongUnblockCode { .. } => "token.wrong_unblock_code",
            TokenError::UnblockCodeLocked => "token.unblock_code_locked",
            TokenError::KeyNotFound { .. } => "token.key_not_found",
            TokenError::Unsupported { .. } => "token.unsupported",
            TokenError::Removed { .. } => "token.removed",
            TokenError::SessionLost => "token.session_lost",
            TokenError::Decrypt { .. } => "token.decrypt_failed",
            TokenError::Device { .. } => "token.device",
            TokenError::ModuleCrashed { .. } => "token.module_crashed",
        }
    }

    fn message(&self, lang: Lang) -> String {
        let operation = |op: &str| operation_name(op, lang);
        match self {
            TokenError::ModuleMissing { path } => lang.pick3(
                format!(
                    "Le module PKCS#11 {} est introuvable. Installez le logiciel de la carte (middleware) ou corrigez le chemin configuré.",
                    path.display()
                ),
                format!(
                    "The PKCS#11 module {} was not found. Install the card's software (middleware) or fix the configured path.",
                    path.display()
                ),
                format!(
                    "Das PKCS#11-Modul {} wurde nicht gefunden. Installieren Sie die Software der Karte (Middleware) oder korrigieren Sie den eingestellten Pfad.",
                    path.display()
                ),
            ),
            TokenError::NotALibrary { path, detail } => lang.pick3(
                format!(
                    "Le fichier {} n'est pas une bibliothèque chargeable ({detail}). Indiquez le fichier du module PKCS#11 de la carte.",
                    path.display()
                ),
                format!(
                    "The file {} is not a loadable library ({detail}). Point to the card's PKCS#11 module file.",
                    path.display()
                ),
                format!(
                    "Die Datei {} ist keine ladbare Bibliothek ({detail}). Geben Sie die Datei des PKCS#11-Moduls der Karte an.",
                    path.display()
                ),
            ),
            TokenError::NotPkcs11 { path } => lang.pick3(
                format!(
                    "La bibliothèque {} n'est pas un module PKCS#11. Indiquez le module PKCS#11 fourni avec la carte.",
                    path.display()
                ),
                format!(
                    "The library {} is not a PKCS#11 module. Point to the PKCS#11 module shipped with the card.",
                    path.display()
                ),
                format!(
                    "Die Bibliothek {} ist kein PKCS#11-Modul. Geben Sie das mit der Karte gelieferte PKCS#11-Modul an.",
                    path.display()
                ),
            ),
            TokenError::ModuleInit { path, detail } => lang.pick3(
                format!(
                    "Le module PKCS#11 {} n'a pas pu démarrer ({detail}). Vérifiez que son service tourne, réinstallez-le, ou contactez votre support.",
                    path.display()
                ),
                format!(
                    "The PKCS#11 module {} failed to start ({detail}). Check that its service is running, reinstall it, or contact your support.",
                    path.display()
                ),
                format!(
                    "Das PKCS#11-Modul {} konnte nicht starten ({detail}). Prüfen Sie, ob sein Dienst läuft, installieren Sie es neu oder wenden Sie sich an Ihren Support.",
                    path.display()
                ),
            ),
            TokenError::Timeout { operation: op, seconds } => {
                let operation = operation(op);
                lang.pick3(
                format!(
                    "Le module de la carte n'a pas répondu en {seconds} s ({operation}). Retirez et réinsérez la carte puis réessayez ; si cela persiste, redémarrez l'ordinateur."
                ),
                format!(
                    "The card's module did not answer within {seconds} s ({operation}). Remove and reinsert the card, then try again; if it persists, restart the computer."
                ),
                format!(
                    "Das Modul der Karte hat nicht innerhalb von {seconds} s geantwortet ({operation}). Entnehmen Sie die Karte, stecken Sie sie wieder ein und versuchen Sie es erneut; falls das Problem bleibt, starten Sie den Computer neu."
                ),
            )
            }
            TokenError::TokenNotFound { label } => lang.pick3(
                format!("Aucune carte ou jeton nommé « {label} » n'a été trouvé. Insérez la carte et vérifiez son nom avec « trousseau tokens »."),
                format!("No card or token named \"{label}\" was found. Insert the card and check its name with \"trousseau tokens\"."),
                format!("Keine Karte und kein Token mit dem Namen „{label}“ gefunden. Stecken Sie die Karte ein und prüfen Sie ihren Namen mit „trousseau tokens“."),
            ),
            TokenError::Ambiguous { label, count } => lang.pick3(
                format!("{count} cartes portent le nom « {label} ». Ne laissez que la carte voulue dans le lecteur."),
                format!("{count} cards are named \"{label}\". Leave only the card you want in the reader."),
                format!("{count} Karten tragen den Namen „{label}“. Lassen Sie nur die gewünschte Karte im Kartenleser."),
            ),
            TokenError::WrongPin { state } => {
                let rest = state.message(lang);
                lang.pick3(format!("Code PIN incorrect. {rest}"), format!("Wrong PIN. {rest}"), format!("Falsche PIN. {rest}"))
            }
            TokenError::PinLocked => lang.pick3(
                "Le code PIN de la carte est bloqué : aucun essai n'a été fait. Débloquez-le avec le code PUK ou demandez une nouvelle carte à l'émetteur.",
                "The card's PIN is locked: no attempt was made. Unblock it with the PUK or ask the issuer for a new card.",
                "Die PIN der Karte ist gesperrt: Es wurde kein Versuch unternommen. Entsperren Sie sie mit der PUK oder fordern Sie beim Aussteller eine neue Karte an.",
            ),
            TokenError::PinLockedNow => lang.pick3(
                "Code PIN incorrect : c'était le dernier essai, la carte est maintenant bloquée. Débloquez-la avec le code PUK ou demandez une nouvelle carte à l'émetteur.",
                "Wrong PIN: that was the last try, the card is now locked. Unblock it with the PUK or ask the issuer for a new card.",
                "Falsche PIN: Das war der letzte Versuch, die Karte ist jetzt gesperrt. Entsperren Sie sie mit der PUK oder fordern Sie beim Aussteller eine neue Karte an.",
            ),
            TokenError::PinExpired => lang.pick3(
                "Le code PIN a expiré : changez-le avec l'outil de la carte, puis réessayez.",
                "The PIN has expired: change it with the card's tool, then try again.",
                "Die PIN ist abgelaufen: Ändern Sie sie mit dem Programm der Karte und versuchen Sie es dann erneut.",
            ),
            TokenError::PinLength { min, max } => lang.pick3(
                format!("Le nouveau code PIN doit compter de {min} à {max} caractères : rien n'a été changé."),
                format!("The new PIN must have {min} to {max} characters: nothing was changed."),
                format!("Die neue PIN muss {min} bis {max} Zeichen haben: Es wurde nichts geändert."),
            ),
            TokenError::PinMismatch => lang.pick3(
                "Les deux saisies du nouveau code PIN diffèrent : rien n'a été changé. Recommencez.",
                "The two entries of the new PIN differ: nothing was changed. Try again.",
                "Die beiden Eingaben der neuen PIN unterscheiden sich: Es wurde nichts geändert. Versuchen Sie es erneut.",
            ),
            TokenError::WrongUnblockCode { final_try } => {
                if *final_try {
                    lang.pick3(
                        "Code de déblocage (PUK) incorrect : il ne reste qu'un essai avant son blocage définitif. Vérifiez le courrier reçu avec la carte.",
                        "Wrong unblocking code (PUK): one try left before it locks for good. Check the letter that came with the card.",
                        "Falscher Entsperrcode (PUK): Nur noch ein Versuch, bevor er endgültig gesperrt wird. Prüfen Sie das Schreiben, das Sie mit der Karte erhalten haben.",
                    )
                } else {
                    lang.pick3(
                        "Code de déblocage (PUK) incorrect : la carte l'a refusé. Vérifiez le courrier reçu avec la carte et réessayez.",
                        "Wrong unblocking code (PUK): the card refused it. Check the letter that came with the card and try again.",
                        "Falscher Entsperrcode (PUK): Die Karte hat ihn abgelehnt. Prüfen Sie das Schreiben, das Sie mit der Karte erhalten haben, und versuchen Sie es erneut.",
                    )
                }
            }
            TokenError::UnblockCodeLocked => lang.pick3(
                "Le code de déblocage (PUK) de cette carte est bloqué : seul l'émetteur de la carte (LuxTrust, l'ANS pour la CPS) peut la débloquer ou la remplacer.",
                "This card's unblocking code (PUK) is locked: only the card's issuer (LuxTrust, ANS for the CPS) can unblock or replace it.",
                "Der Entsperrcode (PUK) dieser Karte ist gesperrt: Nur der Herausgeber der Karte (LuxTrust, ANS für die CPS) kann sie entsperren oder ersetzen.",
            ),
            TokenError::PinInvalid => lang.pick3(
                "Ce code PIN n'a pas une longueur ou des caractères acceptés par la carte. Vérifiez-le et réessayez.",
                "This PIN has a length or characters the card does not accept. Check it and try again.",
                "Diese PIN hat eine Länge oder Zeichen, die die Karte nicht akzeptiert. Prüfen Sie sie und versuchen Sie es erneut.",
            ),
            TokenError::KeyNotFound { id } => lang.pick3(
                format!("Aucune clé d'identifiant {id} sur la carte. Listez les certificats avec « trousseau token certs »."),
                format!("No key with id {id} on the card. List the certificates with \"trousseau token certs\"."),
                format!("Kein Schlüssel mit der Kennung {id} auf der Karte. Listen Sie die Zertifikate mit „trousseau token certs“ auf."),
            ),
            TokenError::Unsupported { what } => lang.pick3(
                format!("La carte ne permet pas cette opération ({what})."),
                format!("The card does not support this operation ({what})."),
                format!("Die Karte unterstützt diesen Vorgang nicht ({what})."),
            ),
            TokenError::Removed { operation: op } => {
                let operation = operation(op);
                lang.pick3(
                format!("La carte a été retirée pendant l'opération ({operation}). Réinsérez-la et recommencez."),
                format!("The card was removed during the operation ({operation}). Reinsert it and start again."),
                format!("Die Karte wurde während des Vorgangs entnommen ({operation}). Stecken Sie sie wieder ein und beginnen Sie von vorn."),
            )
            }
            TokenError::SessionLost => lang.pick3(
                "La connexion à la carte a été perdue après un blocage du module. Recommencez (le code PIN sera redemandé).",
                "The connection to the card was lost after the module stopped answering. Start again (the PIN will be asked again).",
                "Die Verbindung zur Karte ging verloren, nachdem das Modul nicht mehr antwortete. Beginnen Sie von vorn (die PIN wird erneut abgefragt).",
            ),
            TokenError::Decrypt { detail } => lang.pick3(
                format!("La carte n'a pas pu déchiffrer ces données ({detail}). Elles ne sont peut-être pas destinées à cette clé."),
                format!("The card could not decrypt this data ({detail}). It may not be meant for this key."),
                format!("Die Karte konnte diese Daten nicht entschlüsseln ({detail}). Sie sind möglicherweise nicht für diesen Schlüssel bestimmt."),
            ),
            TokenError::ModuleCrashed { path, .. } => lang.pick3(
                format!(
                    "Le module de la carte s'est arrêté brutalement ({}). Trousseau continue de fonctionner : réessayez ; si cela se reproduit, mettez à jour ou réinstallez le logiciel de la carte (middleware) fourni par son émetteur.",
                    path.display()
                ),
                format!(
                    "The card's module stopped abruptly ({}). Trousseau keeps running: try again; if it happens again, update or reinstall the card's software (middleware) from its issuer.",
                    path.display()
                ),
                format!(
                    "Das Modul der Karte wurde abrupt beendet ({}). Trousseau läuft weiter: Versuchen Sie es erneut; wenn es wieder passiert, aktualisieren oder installieren Sie die Software der Karte (Middleware) ihres Herausgebers neu.",
                    path.display()
                ),
            ),
            TokenError::Device { operation: op, detail } => {
                let operation = operation(op);
                lang.pick3(
                format!("La carte a signalé une erreur ({operation} : {detail}). Retirez et réinsérez-la, puis réessayez."),
                format!("The card reported an error ({operation}: {detail}). Remove and reinsert it, then try again."),
                format!("Die Karte hat einen Fehler gemeldet ({operation}: {detail}). Entnehmen Sie sie, stecken Sie sie wieder ein und versuchen Sie es erneut."),
            )
            }
        }
    }
}

/// An operation's name in `lang` (the names are English in the code and in logs).
fn operation_name(op: &str, lang: Lang) -> String {
    let (fr, de) = match op {
        "module start" => ("démarrage du module", "Start des Moduls"),
        "token listing" => ("lecture de la carte", "Lesen der Karte"),
        "login" => ("saisie du code PIN", "PIN-Eingabe"),
        "signature" => ("signature", "Signatur"),
        "decryption" => ("déchiffrement", "Entschlüsselung"),
        "key generation" => ("création de clé", "Schlüsselerzeugung"),
        "PIN change" => ("changement de code PIN", "PIN-Änderung"),
        "logout" => ("fermeture de session", "Abmeldung"),
        "token lookup" => ("recherche de la carte", "Suche der Karte"),
        _ => (op, op),
    };
    lang.pick3(fr, op, de).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::assert_german;

    #[test]
    fn german_messages() {
        assert_german(&TokenError::ModuleMissing { path: PathBuf::from("/usr/lib/missing.so") });
        assert_german(&TokenError::PinLocked);
        assert_german(&TokenError::PinLockedNow);
        assert_german(&TokenError::Timeout { operation: "C_Login", seconds: 30 });
        assert_german(&TokenError::ModuleCrashed { path: PathBuf::from("/x.so"), detail: "signal 11".into() });
        let wrong = TokenError::WrongPin { state: PinState::FinalTry };
        assert_german(&wrong);
        assert_eq!(wrong.message(Lang::De), "Falsche PIN. Letzter Versuch: Eine weitere falsche PIN sperrt die Karte.");
        assert!(TokenError::ModuleMissing { path: PathBuf::from("/x.so") }.message(Lang::De).contains("/x.so"));
    }
}

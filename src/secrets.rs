//! OS keyring access (vault key, portal tokens, remembered revocation codes).
//!
//! Secrets never go to a file: they live in the platform's credential store (Secret Service on Linux —
//! gnome-keyring or KWallet —, Keychain on macOS, Credential Manager on Windows) through `keyring` 4 with its `v1`
//! store selection. That store is chosen once per process: when no Secret Service answers at first use, every
//! later call fails too, so this module turns that into one clear error (`secrets.unavailable`) that names what
//! the user must start, instead of a D-Bus message. Windows caps a secret at 2,560 bytes: keep secrets small
//! (keys, tokens), never whole files.

use crate::i18n::{Coded, Lang};
use zeroize::Zeroizing;

/// The keyring "service" under which every Trousseau secret is filed.
pub const SERVICE: &str = "trousseau";

/// Errors talking to the OS keyring.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SecretsError {
    /// No credential store could be reached (no D-Bus session, no Secret Service provider).
    #[error("no Secret Service reachable: {detail}")]
    Unavailable { detail: String },
    /// The store exists but refused access (locked collection, dismissed prompt).
    #[error("keyring locked or access refused: {detail}")]
    Locked { detail: String },
    /// Any other failure of the store, for the operation named.
    #[error("keyring {operation} failed for {account}: {detail}")]
    Failed { operation: &'static str, account: String, detail: String },
}

impl Coded for SecretsError {
    fn code(&self) -> &'static str {
        match self {
            SecretsError::Unavailable { .. } => "secrets.unavailable",
            SecretsError::Locked { .. } => "secrets.locked",
            SecretsError::Failed { .. } => "secrets.failed",
        }
    }

    fn message(&self, lang: Lang) -> String {
        match self {
            SecretsError::Unavailable { detail } => lang.pick3(
                format!("Trousseau a besoin d'un trousseau de clés système (Secret Service : gnome-keyring, KWallet) et aucun ne répond. Ouvrez une session de bureau ou démarrez gnome-keyring, puis réessayez. ({detail})"),
                format!("trousseau needs a Secret Service (gnome-keyring, KWallet) and none answers. Log into a desktop session or start gnome-keyring, then try again. ({detail})"),
                format!("Trousseau benötigt einen Schlüsselbund des Systems (Secret Service: gnome-keyring, KWallet), und keiner antwortet. Melden Sie sich an einer Desktop-Sitzung an oder starten Sie gnome-keyring und versuchen Sie es dann erneut. ({detail})"),
            ),
            SecretsError::Locked { detail } => lang.pick3(
                format!("Le trousseau de clés système (Secret Service) est verrouillé ou l'accès a été refusé : déverrouillez-le (mot de passe de session) puis réessayez. ({detail})"),
                format!("The system keyring (Secret Service) is locked or access was refused: unlock it (session password) and try again. ({detail})"),
                format!("Der Schlüsselbund des Systems (Secret Service) ist gesperrt oder der Zugriff wurde verweigert: Entsperren Sie ihn (Sitzungspasswort) und versuchen Sie es erneut. ({detail})"),
            ),
            SecretsError::Failed { operation, account, detail } => lang.pick3(
                format!("Le trousseau de clés système (Secret Service) a échoué ({operation}, {account}) : {detail}. Réessayez ; si cela persiste, redémarrez votre session."),
                format!("The system keyring (Secret Service) failed ({operation}, {account}): {detail}. Try again; if it persists, restart your session."),
                format!("Der Schlüsselbund des Systems (Secret Service) meldet einen Fehler ({operation}, {account}): {detail}. Versuchen Sie es erneut; falls das Problem bleibt, starten Sie Ihre Sitzung neu."),
            ),
        }
    }
}

fn map(operation: &'static str, account: &str, e: keyring::Error) -> SecretsError {
    match e {
        keyring::Error::NoDefaultStore => {
            let detail = match keyring::Entry::store_status() {
                Err(inner) => inner.to_string(),
                Ok(()) => "no default credential store".to_string(),
            };
            SecretsError::Unavailable { detail }
        }
        keyring::Error::NoStorageAccess(inner) => SecretsError::Locked { detail: inner.to_string() },
        keyring::Error::PlatformFailure(inner) => {
            let detail = inner.to_string();
            // zbus reports a missing provider as ServiceUnknown / a missing bus as an I/O error on the socket.
            if detail.contains("ServiceUnknown")
                || detail.contains("No such file")
                || detail.contains("Connection refused")
            {
                SecretsError::Unavailable { detail }
            } else {
                SecretsError::Failed { operation, account: account.to_string(), detail }
            }
        }
        other => SecretsError::Failed { operation, account: account.to_string(), detail: other.to_string() },
    }
}

fn entry(account: &str, operation: &'static str) -> Result<keyring::Entry, SecretsError> {
    keyring::Entry::new(SERVICE, account).map_err(|e| map(operation, account, e))
}

/// Checks that a credential store answers (initialises it on first call).
pub fn available() -> Result<(), SecretsError> {
    match keyring::Entry::store_status() {
        Ok(()) => Ok(()),
        Err(e) => Err(SecretsError::Unavailable { detail: e.to_string() }),
    }
}

/// Reads the binary secret filed under `account`; `Ok(None)` when there is none.
pub fn get(account: &str) -> Result<Option<Zeroizing<Vec<u8>>>, SecretsError> {
    let e = entry(account, "read")?;
    match e.get_secret() {
        Ok(v) => Ok(Some(Zeroizing::new(v))),
        Err(keyring::Error::NoEntry) => Ok(None),
        Err(err) => Err(map("read", account, err)),
    }
}

/// Files `secret` under `account`, replacing any previous value.
pub fn set(account: &str, secret: &[u8]) -> Result<(), SecretsError> {
    entry(account, "write")?.set_secret(secret).map_err(|e| map("write", account, e))
}

/// Removes the secret filed under `account`; `Ok(false)` when there was none.
pub fn delete(account: &str) -> Result<bool, SecretsError> {
    match entry(account, "delete")?.delete_credential() {
        Ok(()) => Ok(true),
        Err(keyring::Error::NoEntry) => Ok(false),
        Err(e) => Err(map("delete", account, e)),
    }
}

/// Reads a text secret (token, revocation code) filed under `account`.
pub fn get_text(account: &str) -> Result<Option<Zeroizing<String>>, SecretsError> {
    let e = entry(account, "read")?;
    match e.get_password() {
        Ok(v) => Ok(Some(Zeroizing::new(v))),
        Err(keyring::Error::NoEntry) => Ok(None),
        Err(err) => Err(map("read", account, err)),
    }
}

/// Files a text secret under `account`.
pub fn set_text(account: &str, secret: &str) -> Result<(), SecretsError> {
    entry(account, "write")?.set_password(secret).map_err(|e| map("write", account, e))
}

/// The keyring account of the revocation code of the certificate `serial` (lowercase hex) issued by `issuer`
/// (RFC 4514): IGC-Santé asks for a revocation code at withdrawal, needed later to revoke without a card.
pub fn revocation_account(issuer: &str, serial: &str) -> String {
    format!("revocation-code:{issuer}:{}", serial.trim_start_matches('0').to_ascii_lowercase())
}

/// Remembers the revocation code of a certificate (issuer + serial) in the OS keyring.
pub fn remember_revocation_code(issuer: &str, serial: &str, code: &str) -> Result<(), SecretsError> {
    set_text(&revocation_account(issuer, serial), code)
}

/// The remembered revocation code of a certificate, if any.
pub fn revocation_code(issuer: &str, serial: &str) -> Result<Option<Zeroizing<String>>, SecretsError> {
    get_text(&revocation_account(issuer, serial))
}

/// Forgets the revocation code of a certificate; `Ok(false)` when none was remembered.
pub fn forget_revocation_code(issuer: &str, serial: &str) -> Result<bool, SecretsError> {
    delete(&revocation_account(issuer, serial))
}

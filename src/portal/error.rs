//! The portal module's error enum.

use crate::i18n::{Coded, Lang};

/// What can go wrong talking to a portal, with what the user can do about it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PortalError {
    #[error("portal configuration {path}: {detail}")]
    Config { path: String, detail: String },
    #[error("not a valid portal address: {url}")]
    BadUrl { url: String },
    #[error("plain HTTP refused for {url}")]
    InsecureUrl { url: String },
    #[error("portal {url} unreachable: {detail}")]
    Unreachable { url: String, detail: String },
    #[error("this assistant is not paired with a portal")]
    NotPaired,
    #[error("the agent refused the pairing")]
    PairingDenied,
    #[error("the pairing code expired")]
    PairingExpired,
    #[error("the portal refused the assistant's token (revoked or expired)")]
    TokenRejected,
    #[error("portal answered {status} {code}: {detail}")]
    Server { status: u16, code: String, detail: String },
    #[error("unexpected answer from the portal: {detail}")]
    Protocol { detail: String },
    #[error("certificate {sha256} is not on this workstation")]
    CertificateNotFound { sha256: String },
    #[error("certificate {sha256} expired on {not_after}")]
    CertificateExpired { sha256: String, not_after: time::Date },
    #[error("the user declined")]
    Declined,
    #[error("invalid request: {detail}")]
    InvalidRequest { detail: String },
    #[error("key generation failed: {detail}")]
    Generate { detail: String },
    #[error("keyring: {0}")]
    Secrets(#[from] crate::secrets::SecretsError),
    #[error("store: {0}")]
    Store(#[from] crate::store::StoreError),
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    /// The administrator's managed portal list does not name this portal.
    #[error("portal {url} is not in the managed portal list")]
    NotAllowed { url: String },
    /// The certificate's authority says it is revoked: it cannot serve as a bi-clé.
    #[error("certificate {sha256} is revoked")]
    CertificateRevoked { sha256: String, revoked_at: Option<time::Date> },
    /// Another relayed request is waiting for the user's answer.
    #[error("another request is waiting for the user's confirmation")]
    Busy,
    /// The portal's deadline for a relayed request passed before the user answered: nothing was done.
    #[error("the portal's request expired before it was confirmed")]
    RequestExpired,
    /// A bi-clé was asked for without a kind (personal, backup or both).
    #[error("no bi-clé kind given")]
    NoKind,
    /// The certificate is on this workstation but cannot serve as an encryption bi-clé (no private key, or no
    /// encryption usage).
    #[error("certificate {sha256} cannot serve as an encryption bi-clé")]
    NotABicle { sha256: String },
}

impl Coded for PortalError {
    fn code(&self) -> &'static str {
        match self {
            PortalError::Config { .. } => "portal.config",
            PortalError::BadUrl { .. } => "portal.bad_url",
            PortalError::InsecureUrl { .. } => "portal.insecure_url",
            PortalError::Unreachable { .. } => "portal.unreachable",
            PortalError::NotPaired => "portal.not_paired",
            PortalError::PairingDenied => "portal.pairing_denied",
            PortalError::PairingExpired => "portal.pairing_expired",
            PortalError::TokenRejected => "portal.token_rejected",
            PortalError::Server { .. } => "portal.server",
            PortalError::Protocol { .. } => "portal.protocol",
            PortalError::CertificateNotFound { .. } => "portal.certificate_not_found",
            PortalError::CertificateExpired { .. } => "portal.certificate_expired",
            PortalError::Declined => "portal.declined",
            PortalError::InvalidRequest { .. } => "portal.invalid_request",
            PortalError::Generate { .. } => "portal.generate",
            PortalError::Secrets(e) => e.code(),
            PortalError::Store(e) => e.code(),
            PortalError::Io { .. } => "portal.io",
            PortalError::NotAllowed { .. } => "portal.not_allowed",
            PortalError::Busy => "portal.busy",
            PortalError::CertificateRevoked { .. } => "portal.certificate_revoked",
            PortalError::RequestExpired => "portal.request_expired",
            PortalError::NoKind => "portal.no_kind",
            PortalError::NotABicle { .. } => "portal.not_a_bicle",
        }
    }

    fn message(&self, lang: Lang) -> String {
        match self {
            PortalError::Config { path, detail } => lang.pick3(
                format!("Le fichier de configuration des portails {path} est invalide ({detail}) : corrigez-le ou contactez votre administrateur."),
                format!("The portal configuration file {path} is invalid ({detail}): fix it or contact your administrator."),
                format!("Die Konfigurationsdatei der Portale {path} ist ungültig ({detail}): Korrigieren Sie sie oder wenden Sie sich an Ihren Administrator."),
            ),
            PortalError::BadUrl { url } => lang.pick3(
                format!("« {url} » n'est pas une adresse de portail valide : indiquez une adresse commençant par https://."),
                format!("\"{url}\" is not a valid portal address: give an address starting with https://."),
                format!("„{url}“ ist keine gültige Portaladresse: Geben Sie eine Adresse an, die mit https:// beginnt."),
            ),
            PortalError::InsecureUrl { url } => lang.pick3(
                format!("L'adresse {url} n'est pas chiffrée (http) : seuls les portails en https:// sont acceptés, sauf le bac à sable local (127.0.0.1)."),
                format!("The address {url} is not encrypted (http): only https:// portals are accepted, except the local sandbox (127.0.0.1)."),
                format!("Die Adresse {url} ist nicht verschlüsselt (http): Nur Portale mit https:// werden akzeptiert, außer der lokalen Sandbox (127.0.0.1)."),
            ),
            PortalError::Unreachable { url, detail } => lang.pick3(
                format!("Le portail {url} ne répond pas ({detail}) : vérifiez votre connexion réseau, puis réessayez."),
                format!("The portal {url} does not answer ({detail}): check your network connection, then try again."),
                format!("Das Portal {url} antwortet nicht ({detail}): Prüfen Sie Ihre Netzwerkverbindung und versuchen Sie es dann erneut."),
            ),
            PortalError::NotPaired => lang.pick3(
                "Cet assistant n'est associé à aucun portail : lancez « trousseau portal pair ADRESSE ».",
                "This assistant is not paired with any portal: run \"trousseau portal pair ADDRESS\".",
                "Dieser Assistent ist mit keinem Portal gekoppelt: Führen Sie „trousseau portal pair ADRESSE“ aus.",
            ),
            PortalError::PairingDenied => lang.pick3(
                "L'association a été refusée sur le portail. Relancez-la si c'était une erreur.",
                "The pairing was refused on the portal. Start it again if that was a mistake.",
                "Die Kopplung wurde auf dem Portal abgelehnt. Starten Sie sie erneut, falls das ein Versehen war.",
            ),
            PortalError::PairingExpired => lang.pick3(
                "Le code d'association a expiré (10 minutes) : relancez « trousseau portal pair ».",
                "The pairing code expired (10 minutes): run \"trousseau portal pair\" again.",
                "Der Kopplungscode ist abgelaufen (10 Minuten): Führen Sie „trousseau portal pair“ erneut aus.",
            ),
            PortalError::TokenRejected => lang.pick3(
                "Le portail ne reconnaît plus cet assistant (association révoquée ou expirée) : associez-le de nouveau avec « trousseau portal pair ».",
                "The portal no longer recognises this assistant (pairing revoked or expired): pair it again with \"trousseau portal pair\".",
                "Das Portal erkennt diesen Assistenten nicht mehr (Kopplung widerrufen oder abgelaufen): Koppeln Sie ihn erneut mit „trousseau portal pair“.",
            ),
            PortalError::Server { status, code, detail } => lang.pick3(
                format!("Le portail a refusé la demande ({status}, {code}) : {detail}"),
                format!("The portal refused the request ({status}, {code}): {detail}"),
                format!("Das Portal hat die Anfrage abgelehnt ({status}, {code}): {detail}"),
            ),
            PortalError::Protocol { detail } => lang.pick3(
                format!("Réponse inattendue du portail ({detail}) : vérifiez l'adresse du portail ou mettez Trousseau à jour."),
                format!("Unexpected answer from the portal ({detail}): check the portal address or update Trousseau."),
                format!("Unerwartete Antwort des Portals ({detail}): Prüfen Sie die Adresse des Portals oder aktualisieren Sie Trousseau."),
            ),
            PortalError::CertificateNotFound { sha256 } => lang.pick3(
                format!("Le certificat {} n'est plus sur ce poste (carte retirée ?) : insérez la carte ou choisissez un autre bi-clé.", short(sha256)),
                format!("Certificate {} is no longer on this workstation (card removed?): insert the card or choose another bi-clé.", short(sha256)),
                format!("Das Zertifikat {} ist nicht mehr auf diesem Arbeitsplatz (Karte entnommen?): Stecken Sie die Karte ein oder wählen Sie ein anderes Schlüsselpaar (bi-clé).", short(sha256)),
            ),
            PortalError::CertificateExpired { not_after, .. } => {
                let d = lang.date(*not_after);
                lang.pick3(
                    format!("Ce certificat a expiré le {d} : il ne pourrait pas déchiffrer les nouvelles offres. Choisissez un certificat valide ou générez un nouveau bi-clé."),
                    format!("This certificate expired on {d}: it could not decrypt new bids. Choose a valid certificate or generate a new bi-clé."),
                    format!("Dieses Zertifikat ist am {d} abgelaufen: Es könnte neue Angebote nicht entschlüsseln. Wählen Sie ein gültiges Zertifikat oder erzeugen Sie ein neues Schlüsselpaar (bi-clé)."),
                )
            }
            PortalError::Declined => lang.pick3(
                "Opération refusée dans l'assistant : rien n'a été fait.",
                "Operation declined in the assistant: nothing was done.",
                "Vorgang im Assistenten abgelehnt: Es wurde nichts getan.",
            ),
            PortalError::InvalidRequest { detail } => lang.pick3(
                format!("Demande invalide ({detail}) : rien n'a été fait."),
                format!("Invalid request ({detail}): nothing was done."),
                format!("Ungültige Anfrage ({detail}): Es wurde nichts getan."),
            ),
            PortalError::Generate { detail } => lang.pick3(
                format!("La création du bi-clé a échoué ({detail}) : rien n'a été installé, réessayez."),
                format!("Creating the bi-clé failed ({detail}): nothing was installed, try again."),
                format!("Das Erzeugen des Schlüsselpaars (bi-clé) ist fehlgeschlagen ({detail}): Es wurde nichts installiert, versuchen Sie es erneut."),
            ),
            PortalError::Secrets(e) => e.message(lang),
            PortalError::Store(e) => e.message(lang),
            PortalError::Io { path, source } => lang.pick3(
                format!("Impossible d'écrire {path} ({source}) : vérifiez l'espace disque et les droits."),
                format!("Cannot write {path} ({source}): check disk space and permissions."),
                format!("{path} kann nicht geschrieben werden ({source}): Prüfen Sie den Speicherplatz und die Rechte."),
            ),
            PortalError::NotAllowed { url } => lang.pick3(
                format!("Votre administrateur n'autorise pas l'association avec {url} : choisissez un portail de la liste (trousseau portal portals) ou contactez votre support."),
                format!("Your administrator does not allow pairing with {url}: choose a portal from the list (trousseau portal portals) or contact your support."),
                format!("Ihr Administrator erlaubt keine Kopplung mit {url}: Wählen Sie ein Portal aus der Liste (trousseau portal portals) oder wenden Sie sich an Ihren Support."),
            ),
            PortalError::CertificateRevoked { revoked_at, .. } => {
                let d = revoked_at.map(|d| lang.date(d));
                let on = |prefix: &str| d.as_ref().map(|d| format!(" {prefix} {d}")).unwrap_or_default();
                lang.pick3(
                    format!("Ce certificat a été révoqué par son autorité{} : il ne peut pas servir de bi-clé. Choisissez-en un autre ou générez un nouveau bi-clé.", on("le")),
                    format!("This certificate was revoked by its authority{}: it cannot serve as a bi-clé. Choose another one or generate a new bi-clé.", on("on")),
                    format!("Dieses Zertifikat wurde{} von seiner Zertifizierungsstelle widerrufen: Es kann nicht als Schlüsselpaar (bi-clé) dienen. Wählen Sie ein anderes oder erzeugen Sie ein neues Schlüsselpaar.", on("am")),
                )
            }
            PortalError::Busy => lang.pick3(
                "Une autre demande du portail attend déjà votre réponse dans Trousseau : répondez-y d'abord, puis recommencez.",
                "Another portal request is already waiting for your answer in Trousseau: answer it first, then try again.",
                "Eine andere Anfrage des Portals wartet bereits auf Ihre Antwort in Trousseau: Beantworten Sie sie zuerst und versuchen Sie es dann erneut.",
            ),
            PortalError::RequestExpired => lang.pick3(
                "La demande du portail a expiré avant votre confirmation : rien n'a été créé. Recommencez depuis la page du portail.",
                "The portal's request expired before you confirmed it: nothing was created. Start again from the portal page.",
                "Die Anfrage des Portals ist vor Ihrer Bestätigung abgelaufen: Es wurde nichts erstellt. Beginnen Sie erneut auf der Seite des Portals.",
            ),
            PortalError::NoKind => lang.pick3(
                "Indiquez si le bi-clé est personnel, de secours ou les deux (--personal, --backup) : chaque type est enregistré séparément.",
                "Say whether the bi-clé is personal, backup or both (--personal, --backup): each kind is registered separately.",
                "Geben Sie an, ob das Schlüsselpaar persönlich, Ersatz oder beides ist (--personal, --backup): jede Art wird getrennt registriert.",
            ),
            PortalError::NotABicle { .. } => lang.pick3(
                "Ce certificat ne peut pas servir de bi-clé de chiffrement : il faut un certificat (du magasin ou d'une carte) avec sa clé privée et l'usage « chiffrement de clé ». Choisissez-en un autre ou générez un nouveau bi-clé.",
                "This certificate cannot serve as an encryption bi-clé: it needs a certificate (from the store or a card) with its private key and the “key encipherment” usage. Choose another one or generate a new bi-clé.",
                "Dieses Zertifikat kann nicht als Schlüsselpaar (bi-clé) zur Verschlüsselung dienen: Es braucht ein Zertifikat (aus dem Zertifikatsspeicher oder von einer Karte) mit seinem privaten Schlüssel und der Verwendung „Schlüsselverschlüsselung“. Wählen Sie ein anderes oder erzeugen Sie ein neues Schlüsselpaar.",
            ),
        }
    }
}

fn short(sha256: &str) -> String {
    sha256.chars().take(16).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::assert_german;

    #[test]
    fn german_messages() {
        let down = PortalError::Unreachable { url: "https://pmp.example".into(), detail: "timeout".into() };
        assert_german(&down);
        assert!(down.message(Lang::De).starts_with("Das Portal https://pmp.example antwortet nicht (timeout)"));
        assert_german(&PortalError::NotPaired);
        assert_german(&PortalError::TokenRejected);
        assert_german(&PortalError::NotAllowed { url: "https://evil.example".into() });
        assert_german(&PortalError::Busy);
        let revoked = PortalError::CertificateRevoked {
            sha256: "ab".repeat(32),
            revoked_at: Some(time::macros::date!(2026 - 11 - 02)),
        };
        assert_german(&revoked);
        assert!(
            revoked.message(Lang::De).starts_with("Dieses Zertifikat wurde am 02.11.2026 von"),
            "{}",
            revoked.message(Lang::De)
        );
        assert_german(&PortalError::RequestExpired);
        assert_german(&PortalError::NoKind);
        assert_german(&PortalError::NotABicle { sha256: "ab".repeat(32) });
        assert_german(&PortalError::CertificateNotFound { sha256: "ab".repeat(32) });
        let expired =
            PortalError::CertificateExpired { sha256: "ab".repeat(32), not_after: time::macros::date!(2025 - 03 - 07) };
        assert_german(&expired);
        assert!(expired.message(Lang::Fr).contains("a expiré le 07/03/2025"), "{}", expired.message(Lang::Fr));
        assert!(expired.message(Lang::De).contains("am 07.03.2025 abgelaufen"), "{}", expired.message(Lang::De));
    }
}

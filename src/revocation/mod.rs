//! Certificate status online: is this certificate revoked? (`trousseau cert status`, the window's `cert_status`).
//!
//! OCSP first (RFC 6960): the responder named in the certificate's Authority Information Access extension is
//! asked with a fresh nonce; its answer is believed only when it is signed by the issuer itself or by a delegated
//! responder certificate that the issuer signed and marked for OCSP signing (id-kp-OCSPSigning), echoes our nonce
//! when it carries one, and is current (thisUpdate / nextUpdate). Otherwise the CRL from the certificate's
//! distribution points (RFC 5280): signed by the issuer, current. Every definite answer is cached in the data
//! directory until its nextUpdate. The verdict is good, revoked (with date and reason), unknown or unreachable,
//! and every answer that was not believed is listed with the reason: there is never a silent pass.
//!
//! ASN.1 is the RustCrypto `x509-ocsp` / `x509-cert` types; signatures are checked with aws-lc-rs; HTTP is reqwest.

use crate::cert;
use crate::i18n::{Coded, Lang};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use ts_rs::TS;

#[cfg(feature = "revocation")]
mod online;
#[cfg(feature = "revocation")]
pub use online::{before_use, before_use_async, check, check_async, check_target, issued_by, resolve, Options};

/// The verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
#[ts(rename = "RevocationStatus")]
pub enum Status {
    Good,
    Revoked,
    /// The responder does not know the certificate, or the certificate names no status service.
    Unknown,
    /// No trustworthy answer could be obtained (network, or answers refused: see the problems).
    Unreachable,
}

/// Where the verdict comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
#[ts(rename = "RevocationSource")]
pub enum Source {
    Ocsp,
    Crl,
    Cache,
}

/// What the check found, as the CLI prints it (`--json`) and the window shows it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, TS)]
pub struct StatusReport {
    pub status: Status,
    pub source: Option<Source>,
    /// RFC 3339 UTC, when revoked.
    pub revoked_at: Option<String>,
    /// RFC 5280 reason name (`keyCompromise`, `superseded`…), when revoked and given.
    pub reason: Option<String>,
    /// RFC 3339 UTC.
    pub checked_at: String,
    /// Until when the answer holds (RFC 3339 UTC), when the responder says.
    pub next_update: Option<String>,
    /// The verdict as one sentence in the user's language.
    pub message: String,
    /// Answers that were not believed or services that did not answer, each with its stable code.
    pub problems: Vec<StatusProblem>,
}

/// One service that failed or one answer that was refused.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, TS)]
pub struct StatusProblem {
    pub code: String,
    pub message: String,
}

/// Why a status answer was not obtained or not believed, or why the check could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RevocationError {
    #[error(transparent)]
    Cert(#[from] cert::CertError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("no certificate file or store certificate {target}")]
    TargetNotFound { target: String },
    #[error("the issuer of {subject} was not found")]
    IssuerNotFound { subject: String, issuer: String },
    #[error("{issuer} did not issue {subject}")]
    IssuerMismatch { subject: String, issuer: String },
    #[error("cannot decode the certificate: {detail}")]
    Malformed { detail: String },
    #[error("the certificate names no OCSP responder and no CRL")]
    NoService,
    #[error("OCSP responder {url} unreachable: {detail}")]
    OcspUnreachable { url: String, detail: String },
    #[error("OCSP responder {url} refused: {status}")]
    OcspRefused { url: String, status: String },
    #[error("OCSP answer from {url} malformed: {detail}")]
    OcspMalformed { url: String, detail: String },
    #[error("OCSP answer from {url}: signature invalid")]
    OcspBadSignature { url: String },
    #[error("OCSP answer from {url}: signer not authorised by the issuer")]
    OcspNotAuthorized { url: String },
    #[error("OCSP answer from {url}: nonce differs")]
    OcspNonceMismatch { url: String },
    #[error("OCSP answer from {url} out of date (next update {next_update})")]
    OcspStale { url: String, next_update: String },
    #[error("OCSP answer from {url} says nothing about this certificate")]
    OcspNoAnswer { url: String },
    #[error("CRL {url} unreachable: {detail}")]
    CrlUnreachable { url: String, detail: String },
    #[error("CRL {url} malformed: {detail}")]
    CrlMalformed { url: String, detail: String },
    #[error("CRL {url}: signature invalid or not by the issuer")]
    CrlBadSignature { url: String },
    #[error("CRL {url} out of date (next update {next_update})")]
    CrlStale { url: String, next_update: String },
    #[error("signature algorithm {oid} not supported")]
    UnsupportedAlgorithm { oid: String },
}

impl Coded for RevocationError {
    fn code(&self) -> &'static str {
        match self {
            RevocationError::Cert(e) => e.code(),
            RevocationError::Store(e) => e.code(),
            RevocationError::TargetNotFound { .. } => "revocation.target_not_found",
            RevocationError::IssuerNotFound { .. } => "revocation.issuer_not_found",
            RevocationError::IssuerMismatch { .. } => "revocation.issuer_mismatch",
            RevocationError::Malformed { .. } => "revocation.malformed",
            RevocationError::NoService => "revocation.no_service",
            RevocationError::OcspUnreachable { .. } => "revocation.ocsp_unreachable",
            RevocationError::OcspRefused { .. } => "revocation.ocsp_refused",
            RevocationError::OcspMalformed { .. } => "revocation.ocsp_malformed",
            RevocationError::OcspBadSignature { .. } => "revocation.ocsp_bad_signature",
            RevocationError::OcspNotAuthorized { .. } => "revocation.ocsp_not_authorized",
            RevocationError::OcspNonceMismatch { .. } => "revocation.ocsp_nonce_mismatch",
            RevocationError::OcspStale { .. } => "revocation.ocsp_stale",
            RevocationError::OcspNoAnswer { .. } => "revocation.ocsp_no_answer",
            RevocationError::CrlUnreachable { .. } => "revocation.crl_unreachable",
            RevocationError::CrlMalformed { .. } => "revocation.crl_malformed",
            RevocationError::CrlBadSignature { .. } => "revocation.crl_bad_signature",
            RevocationError::CrlStale { .. } => "revocation.crl_stale",
            RevocationError::UnsupportedAlgorithm { .. } => "revocation.unsupported_algorithm",
        }
    }

    fn message(&self, lang: Lang) -> String {
        match self {
            RevocationError::Cert(e) => e.message(lang),
            RevocationError::Store(e) => e.message(lang),
            RevocationError::TargetNotFound { target } => lang.pick3(
                format!("« {target} » n'est ni un fichier de certificat ni l'empreinte SHA-256 d'un certificat du magasin : vérifiez le chemin ou l'empreinte."),
                format!("« {target} » is neither a certificate file nor the SHA-256 fingerprint of a certificate in the store: check the path or the fingerprint."),
                format!("„{target}“ ist weder eine Zertifikatsdatei noch der SHA-256-Fingerabdruck eines Zertifikats im Speicher: Prüfen Sie den Pfad oder den Fingerabdruck."),
            ),
            RevocationError::IssuerNotFound { subject, issuer } => lang.pick3(
                format!("Le certificat de l'autorité qui a émis « {subject} » ({issuer}) est introuvable (ni dans le fichier, ni dans le magasin) : indiquez-le avec --issuer FICHIER."),
                format!("The certificate of the authority that issued « {subject} » ({issuer}) was not found (neither in the file nor in the store): give it with --issuer FILE."),
                format!("Das Zertifikat der Stelle, die „{subject}“ ausgestellt hat ({issuer}), wurde nicht gefunden (weder in der Datei noch im Speicher): Geben Sie es mit --issuer DATEI an."),
            ),
            RevocationError::IssuerMismatch { subject, issuer } => lang.pick3(
                format!("« {issuer} » n'a pas émis « {subject} » : indiquez le certificat de l'autorité émettrice exacte."),
                format!("« {issuer} » did not issue « {subject} »: give the certificate of the exact issuing authority."),
                format!("„{issuer}“ hat „{subject}“ nicht ausgestellt: Geben Sie das Zertifikat der tatsächlich ausstellenden Stelle an."),
            ),
            RevocationError::Malformed { detail } => lang.pick3(
                format!("Le certificat ne peut pas être décodé pour vérifier son statut ({detail}) : téléchargez-le à nouveau."),
                format!("The certificate cannot be decoded to check its status ({detail}): download it again."),
                format!("Das Zertifikat kann zur Statusprüfung nicht dekodiert werden ({detail}): Laden Sie es erneut herunter."),
            ),
            RevocationError::NoService => lang.pick3(
                "Le certificat n'indique ni service OCSP ni liste de révocation : son statut ne peut pas être vérifié en ligne. Demandez-le à l'autorité qui l'a émis.",
                "The certificate names neither an OCSP service nor a revocation list: its status cannot be checked online. Ask the authority that issued it.",
                "Das Zertifikat nennt weder einen OCSP-Dienst noch eine Sperrliste: Sein Status kann nicht online geprüft werden. Fragen Sie die ausstellende Stelle.",
            ),
            RevocationError::OcspUnreachable { url, detail } => lang.pick3(
                format!("Le service de statut OCSP {url} ne répond pas ({detail}) : vérifiez la connexion Internet, puis réessayez."),
                format!("The OCSP status service {url} does not answer ({detail}): check the Internet connection, then try again."),
                format!("Der OCSP-Statusdienst {url} antwortet nicht ({detail}): Prüfen Sie die Internetverbindung und versuchen Sie es erneut."),
            ),
            RevocationError::OcspRefused { url, status } => lang.pick3(
                format!("Le service OCSP {url} a refusé la demande ({status}) : réessayez plus tard."),
                format!("The OCSP service {url} refused the request ({status}): try again later."),
                format!("Der OCSP-Dienst {url} hat die Anfrage abgelehnt ({status}): Versuchen Sie es später erneut."),
            ),
            RevocationError::OcspMalformed { url, detail } => lang.pick3(
                format!("La réponse du service OCSP {url} est illisible ({detail}) : elle est ignorée."),
                format!("The answer of the OCSP service {url} is unreadable ({detail}): it is ignored."),
                format!("Die Antwort des OCSP-Dienstes {url} ist unlesbar ({detail}): Sie wird ignoriert."),
            ),
            RevocationError::OcspBadSignature { url } => lang.pick3(
                format!("La réponse du service OCSP {url} porte une signature invalide : elle est ignorée (réponse falsifiée ou endommagée)."),
                format!("The answer of the OCSP service {url} carries an invalid signature: it is ignored (forged or damaged answer)."),
                format!("Die Antwort des OCSP-Dienstes {url} trägt eine ungültige Signatur: Sie wird ignoriert (gefälschte oder beschädigte Antwort)."),
            ),
            RevocationError::OcspNotAuthorized { url } => lang.pick3(
                format!("La réponse du service OCSP {url} est signée par un certificat que l'autorité émettrice n'a pas autorisé : elle est ignorée."),
                format!("The answer of the OCSP service {url} is signed by a certificate the issuing authority did not authorise: it is ignored."),
                format!("Die Antwort des OCSP-Dienstes {url} ist mit einem Zertifikat signiert, das die ausstellende Stelle nicht autorisiert hat: Sie wird ignoriert."),
            ),
            RevocationError::OcspNonceMismatch { url } => lang.pick3(
                format!("La réponse du service OCSP {url} ne correspond pas à la demande (nonce différent, réponse rejouée ?) : elle est ignorée."),
                format!("The answer of the OCSP service {url} does not match the request (different nonce, replayed answer?): it is ignored."),
                format!("Die Antwort des OCSP-Dienstes {url} passt nicht zur Anfrage (anderer Nonce, wiederholte Antwort?): Sie wird ignoriert."),
            ),
            RevocationError::OcspStale { url, next_update } => lang.pick3(
                format!("La réponse du service OCSP {url} est périmée (valable jusqu'au {next_update}) : elle est ignorée. Vérifiez aussi l'heure de cet ordinateur."),
                format!("The answer of the OCSP service {url} is out of date (valid until {next_update}): it is ignored. Also check this computer's clock."),
                format!("Die Antwort des OCSP-Dienstes {url} ist veraltet (gültig bis {next_update}): Sie wird ignoriert. Prüfen Sie auch die Uhrzeit dieses Computers."),
            ),
            RevocationError::OcspNoAnswer { url } => lang.pick3(
                format!("Le service OCSP {url} a répondu sans parler de ce certificat : sa réponse est ignorée."),
                format!("The OCSP service {url} answered without mentioning this certificate: its answer is ignored."),
                format!("Der OCSP-Dienst {url} hat geantwortet, ohne dieses Zertifikat zu nennen: Die Antwort wird ignoriert."),
            ),
            RevocationError::CrlUnreachable { url, detail } => lang.pick3(
                format!("La liste de révocation {url} n'a pas pu être téléchargée ({detail}) : vérifiez la connexion Internet, puis réessayez."),
                format!("The revocation list {url} could not be downloaded ({detail}): check the Internet connection, then try again."),
                format!("Die Sperrliste {url} konnte nicht heruntergeladen werden ({detail}): Prüfen Sie die Internetverbindung und versuchen Sie es erneut."),
            ),
            RevocationError::CrlMalformed { url, detail } => lang.pick3(
                format!("La liste de révocation {url} est illisible ({detail}) : elle est ignorée."),
                format!("The revocation list {url} is unreadable ({detail}): it is ignored."),
                format!("Die Sperrliste {url} ist unlesbar ({detail}): Sie wird ignoriert."),
            ),
            RevocationError::CrlBadSignature { url } => lang.pick3(
                format!("La liste de révocation {url} n'est pas signée par l'autorité émettrice : elle est ignorée."),
                format!("The revocation list {url} is not signed by the issuing authority: it is ignored."),
                format!("Die Sperrliste {url} ist nicht von der ausstellenden Stelle signiert: Sie wird ignoriert."),
            ),
            RevocationError::CrlStale { url, next_update } => lang.pick3(
                format!("La liste de révocation {url} est périmée (valable jusqu'au {next_update}) : elle est ignorée. Vérifiez aussi l'heure de cet ordinateur."),
                format!("The revocation list {url} is out of date (valid until {next_update}): it is ignored. Also check this computer's clock."),
                format!("Die Sperrliste {url} ist veraltet (gültig bis {next_update}): Sie wird ignoriert. Prüfen Sie auch die Uhrzeit dieses Computers."),
            ),
            RevocationError::UnsupportedAlgorithm { oid } => lang.pick3(
                format!("Une signature utilise un algorithme que Trousseau ne vérifie pas ({oid}) : la réponse est ignorée."),
                format!("A signature uses an algorithm Trousseau does not verify ({oid}): the answer is ignored."),
                format!("Eine Signatur verwendet einen Algorithmus, den Trousseau nicht prüft ({oid}): Die Antwort wird ignoriert."),
            ),
        }
    }
}

/// The verdict with its dates, before it is put into words.
#[derive(Debug)]
pub struct Outcome {
    pub status: Status,
    pub source: Option<Source>,
    pub revoked_at: Option<OffsetDateTime>,
    pub reason: Option<String>,
    pub checked_at: OffsetDateTime,
    pub next_update: Option<OffsetDateTime>,
    pub problems: Vec<RevocationError>,
}

impl Outcome {
    /// The verdict as the CLI and the window show it, in `lang`.
    pub fn report(&self, lang: Lang) -> StatusReport {
        let fmt = |t: &OffsetDateTime| cert::rfc3339_z::format(t);
        let message = match self.status {
            Status::Good => lang.pick3(
                "Le certificat est valide : il n'est pas révoqué.",
                "The certificate is valid: it is not revoked.",
                "Das Zertifikat ist gültig: Es ist nicht gesperrt.",
            ),
            Status::Revoked => {
                let date = self.revoked_at.map(|t| lang.date(t.date())).unwrap_or_default();
                let why = self.reason.as_deref().map(|r| reason_text(r, lang)).unwrap_or_default();
                lang.pick3(
                    format!("Le certificat est RÉVOQUÉ depuis le {date}{why} : ne l'utilisez plus et demandez-en un nouveau."),
                    format!("The certificate is REVOKED since {date}{why}: stop using it and request a new one."),
                    format!("Das Zertifikat ist seit dem {date} GESPERRT{why}: Verwenden Sie es nicht mehr und beantragen Sie ein neues."),
                )
            }
            Status::Unknown => lang.pick3(
                "Le statut du certificat est inconnu : l'autorité ne le connaît pas, ou il n'indique aucun service de statut. Ne vous y fiez pas sans vérifier auprès de l'autorité émettrice.",
                "The certificate's status is unknown: the authority does not know it, or it names no status service. Do not rely on it without checking with the issuing authority.",
                "Der Status des Zertifikats ist unbekannt: Die Stelle kennt es nicht, oder es nennt keinen Statusdienst. Verlassen Sie sich nicht darauf, ohne bei der ausstellenden Stelle nachzufragen.",
            ),
            Status::Unreachable => lang.pick3(
                "Le statut du certificat n'a pas pu être vérifié : aucun service n'a donné de réponse fiable (détails ci-dessous). Vérifiez la connexion Internet et réessayez.",
                "The certificate's status could not be checked: no service gave a trustworthy answer (details below). Check the Internet connection and try again.",
                "Der Status des Zertifikats konnte nicht geprüft werden: Kein Dienst hat eine verlässliche Antwort gegeben (Einzelheiten unten). Prüfen Sie die Internetverbindung und versuchen Sie es erneut.",
            ),
        };
        StatusReport {
            status: self.status,
            source: self.source,
            revoked_at: self.revoked_at.as_ref().map(fmt),
            reason: self.reason.clone(),
            checked_at: fmt(&self.checked_at),
            next_update: self.next_update.as_ref().map(fmt),
            message,
            problems: self
                .problems
                .iter()
                .map(|p| StatusProblem { code: p.code().to_string(), message: p.message(lang) })
                .collect(),
        }
    }
}

/// The reason for a revocation as words, with a leading separator (empty for `unspecified`).
fn reason_text(reason: &str, lang: Lang) -> String {
    let t = match reason {
        "keyCompromise" => lang.pick3("clé compromise", "key compromised", "Schlüssel kompromittiert"),
        "cACompromise" => {
            lang.pick3("autorité compromise", "authority compromised", "Zertifizierungsstelle kompromittiert")
        }
        "affiliationChanged" => lang.pick3("changement d'affiliation", "affiliation changed", "Zugehörigkeit geändert"),
        "superseded" => lang.pick3("remplacé", "superseded", "ersetzt"),
        "cessationOfOperation" => lang.pick3("fin d'activité", "cessation of operation", "Einstellung des Betriebs"),
        "certificateHold" => lang.pick3("suspendu", "on hold", "ausgesetzt"),
        "privilegeWithdrawn" => lang.pick3("droits retirés", "privilege withdrawn", "Berechtigung entzogen"),
        _ => return String::new(),
    };
    format!(" ({t})")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_message_has_german() {
        let errors = [
            RevocationError::NoService,
            RevocationError::OcspBadSignature { url: "http://x".into() },
            RevocationError::OcspNotAuthorized { url: "http://x".into() },
            RevocationError::OcspStale { url: "http://x".into(), next_update: "2026-01-01T00:00:00Z".into() },
            RevocationError::CrlStale { url: "http://x".into(), next_update: "2026-01-01T00:00:00Z".into() },
            RevocationError::IssuerNotFound { subject: "A".into(), issuer: "B".into() },
        ];
        for e in &errors {
            crate::i18n::assert_german(e);
        }
    }

    #[test]
    fn revoked_verdict_names_date_and_reason() {
        let o = Outcome {
            status: Status::Revoked,
            source: Some(Source::Crl),
            revoked_at: Some(time::macros::datetime!(2026-03-07 10:00 UTC)),
            reason: Some("keyCompromise".into()),
            checked_at: time::macros::datetime!(2026-03-08 10:00 UTC),
            next_update: None,
            problems: vec![],
        };
        let r = o.report(Lang::Fr);
        assert!(r.message.contains("07/03/2026") && r.message.contains("clé compromise"), "{}", r.message);
        assert_eq!(r.revoked_at.as_deref(), Some("2026-03-07T10:00:00Z"));
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["status"], "revoked");
        assert_eq!(json["source"], "crl");
        assert!(o.report(Lang::De).message.contains("07.03.2026"));
    }
}

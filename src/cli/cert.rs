//! `trousseau cert` — OWNER: core-cert helper (inspect); install is in install.rs.

use super::{CliError, Ctx};
use trousseau::cert::{self, Certificate};
use trousseau::Lang;

#[derive(clap::Subcommand, Debug)]
pub enum Cmd {
    /// Show certificates in a file (PEM, DER, bundle, PKCS#7 .p7b/.p7c)
    Inspect { file: std::path::PathBuf },
    /// Reunite a withdrawn certificate (or PKCS#7) with its pending private key
    Install(super::install::Args),
    /// Is the certificate revoked? OCSP, then the CRL (exit 0 only when it is good)
    Status {
        /// A certificate file, or the SHA-256 fingerprint of a certificate in the store
        target: String,
        /// The issuing authority's certificate (otherwise found in the file or in the store)
        #[arg(long, value_name = "FILE")]
        issuer: Option<std::path::PathBuf>,
    },
    /// The revocation code kept for a certificate (store fingerprint or certificate file), after a confirmation
    RevocationCode {
        /// SHA-256 of a certificate in the store, or a certificate file
        cert: String,
        /// Show it without asking (scripts)
        #[arg(long)]
        yes: bool,
        /// Forget it instead of showing it
        #[arg(long, conflicts_with = "yes")]
        forget: bool,
    },
}

/// The certificate named by a store fingerprint or a file.
fn certificate_named(name: &str) -> Result<Certificate, CliError> {
    if let Ok(sha) = trousseau::store::normalize_fingerprint(name) {
        let mut st = trousseau::store::open_default()?;
        return match st.find(&sha)? {
            Some(c) => Ok(c.certificate),
            None => Err(trousseau::store::StoreError::NotFound { sha256: sha, store: st.location() }.into()),
        };
    }
    let certs = cert::read_file(std::path::Path::new(name))?;
    certs
        .into_iter()
        .find(|c| !c.is_ca)
        .ok_or_else(|| CliError::new("cert.no_certificate", format!("{name}: no end-entity certificate")))
}

fn revocation_code(name: &str, yes: bool, forget: bool, ctx: &Ctx) -> Result<(), CliError> {
    let l = ctx.lang;
    let c = certificate_named(name)?;
    if forget {
        let was = trousseau::secrets::forget_revocation_code(&c.issuer, &c.serial)?;
        if ctx.json {
            return ctx.print_json(&serde_json::json!({"sha256": c.sha256, "forgotten": was}));
        }
        return outln!(
            "{}",
            if was {
                l.pick3("Code de révocation oublié.", "Revocation code forgotten.", "Sperrcode vergessen.")
            } else {
                l.pick3("Aucun code de révocation gardé.", "No revocation code kept.", "Kein Sperrcode aufbewahrt.")
            }
        );
    }
    let Some(code) = trousseau::secrets::revocation_code(&c.issuer, &c.serial)? else {
        return Err(CliError::new(
            "cert.no_revocation_code",
            l.pick3(
                format!("Aucun code de révocation n'est gardé pour « {} » sur ce poste.", c.display_name()),
                format!("No revocation code is kept for \"{}\" on this workstation.", c.display_name()),
                format!("Für „{}“ ist auf diesem Arbeitsplatz kein Sperrcode aufbewahrt.", c.display_name()),
            ),
        ));
    };
    if !yes
        && !super::ask_yes(
            ctx,
            &l.pick3(
                format!("Afficher le code de révocation de « {} » ?", c.display_name()),
                format!("Show the revocation code of \"{}\"?", c.display_name()),
                format!("Den Sperrcode von „{}“ anzeigen?", c.display_name()),
            ),
        )
    {
        return Err(CliError::new(
            "cert.not_confirmed",
            l.pick3(
                "Code non affiché (confirmez à la question, ou --yes dans un script).",
                "Code not shown (confirm at the question, or --yes in a script).",
                "Code nicht angezeigt (bestätigen Sie die Frage oder --yes in einem Skript).",
            ),
        ));
    }
    if ctx.json {
        return ctx.print_json(&serde_json::json!({"sha256": c.sha256, "revocation_code": code.as_str()}));
    }
    outln!("{}", code.as_str())
}

pub fn run(cmd: Cmd, ctx: &Ctx) -> Result<(), CliError> {
    match cmd {
        Cmd::Inspect { file } => {
            let certs = cert::read_file(&file)?;
            if ctx.json {
                ctx.print_json(&certs)
            } else {
                for (i, c) in certs.iter().enumerate() {
                    if i > 0 {
                        outln!()?;
                    }
                    out!("{}", describe(c, ctx.lang))?;
                }
                Ok(())
            }
        }
        Cmd::Install(a) => super::install::run(a, ctx),
        Cmd::RevocationCode { cert, yes, forget } => revocation_code(&cert, yes, forget, ctx),
        Cmd::Status { target, issuer } => status(&target, issuer.as_deref(), ctx),
    }
}

#[cfg(feature = "revocation")]
fn status(target: &str, issuer: Option<&std::path::Path>, ctx: &Ctx) -> Result<(), CliError> {
    use trousseau::revocation::{self, Status};
    let report = revocation::check_target(target, issuer)?.report(ctx.lang);
    if ctx.json {
        ctx.print_json(&report)?;
    } else {
        outln!("{}", report.message)?;
        let source = match report.source {
            Some(revocation::Source::Ocsp) => Some("OCSP".to_string()),
            Some(revocation::Source::Crl) => {
                Some(ctx.lang.pick3("liste de révocation (CRL)", "revocation list (CRL)", "Sperrliste (CRL)"))
            }
            Some(revocation::Source::Cache) => {
                Some(ctx.lang.pick3("réponse en cache", "cached answer", "zwischengespeicherte Antwort"))
            }
            None => None,
        };
        if let Some(source) = source {
            outln!("  {} : {source}", ctx.lang.pick3("Source", "Source", "Quelle"))?;
        }
        if let Some(next) = &report.next_update {
            outln!("  {} : {next}", ctx.lang.pick3("Valable jusqu'au", "Valid until", "Gültig bis"))?;
        }
        for p in &report.problems {
            outln!("  - {} ({})", p.message, p.code)?;
        }
    }
    if report.status == Status::Good {
        Ok(())
    } else {
        // The verdict is printed: exit 1 without an error line, as the contract says (0 only for good).
        super::flush_out()?;
        std::process::exit(1)
    }
}

#[cfg(not(feature = "revocation"))]
fn status(_target: &str, _issuer: Option<&std::path::Path>, ctx: &Ctx) -> Result<(), CliError> {
    Err(CliError::new(
        "cli.unavailable",
        ctx.lang.pick3(
            "La vérification du statut en ligne n'est pas incluse dans cette version de Trousseau.",
            "The online status check is not part of this build of Trousseau.",
            "Die Online-Statusprüfung ist in dieser Trousseau-Version nicht enthalten.",
        ),
    ))
}

/// Human description of a certificate, as people know it: holder, issuer's short name, expiry, usages.
pub fn describe(c: &Certificate, lang: Lang) -> String {
    let now = time::OffsetDateTime::now_utc();
    let days = c.days_until_expiry(now);
    let date = lang.date(c.not_after.date());
    let expiry = if c.not_before > now {
        lang.pick3(
            format!("pas encore valide (à partir du {})", cert::rfc3339_z::format(&c.not_before)),
            format!("not yet valid (from {})", cert::rfc3339_z::format(&c.not_before)),
            format!("noch nicht gültig (ab {})", cert::rfc3339_z::format(&c.not_before)),
        )
    } else if days < 0 {
        lang.pick3(
            format!("expiré depuis {} jours ({date})", -days),
            format!("expired {} days ago ({date})", -days),
            format!("seit {} Tagen abgelaufen ({date})", -days),
        )
    } else {
        lang.pick3(
            format!("expire dans {days} jours ({date})"),
            format!("expires in {days} days ({date})"),
            format!("läuft in {days} Tagen ab ({date})"),
        )
    };
    let mut out = String::new();
    out.push_str(&format!(
        "{} — {}\n",
        c.display_name(),
        lang.pick3(
            format!("émis par {}", c.issuer_display_name()),
            format!("issued by {}", c.issuer_display_name()),
            format!("ausgestellt von {}", c.issuer_display_name())
        )
    ));
    out.push_str(&format!("  {expiry}\n"));
    let usages = usages_text(c, lang);
    if !usages.is_empty() {
        out.push_str(&format!("  {} : {}\n", lang.pick3("Usages", "Usages", "Verwendungszwecke"), usages.join(", ")));
    }
    out.push_str(&format!(
        "  {} : {}\n",
        lang.pick3("Bi-clé de chiffrement", "Encryption bi-clé", "Verschlüsselungs-Schlüsselpaar (bi-clé)"),
        if c.encryption_capable {
            lang.pick3("utilisable", "usable", "verwendbar")
        } else {
            lang.pick3("non", "no", "nein")
        }
    ));
    if c.is_ca {
        out.push_str(&format!(
            "  {}\n",
            lang.pick3("Autorité de certification", "Certification authority", "Zertifizierungsstelle")
        ));
    }
    for s in &c.san {
        out.push_str(&format!("  {} : {}\n", s.kind, s.value));
    }
    let key = match c.key.bits {
        Some(b) => format!("{} {b}", c.key.algorithm.to_uppercase()),
        None => c.key.algorithm.to_uppercase(),
    };
    out.push_str(&format!("  {} : {key}\n", lang.pick3("Clé", "Key", "Schlüssel")));
    out.push_str(&format!(
        "  {} : {}\n",
        lang.pick3("Sujet", "Subject", "Antragsteller"),
        trousseau::asn1::rfc4514::unescape_utf8(&c.subject)
    ));
    out.push_str(&format!(
        "  {} : {}\n",
        lang.pick3("Émetteur", "Issuer", "Aussteller"),
        trousseau::asn1::rfc4514::unescape_utf8(&c.issuer)
    ));
    out.push_str(&format!("  {} : {}\n", lang.pick3("Numéro de série", "Serial number", "Seriennummer"), c.serial));
    out.push_str(&format!("  SHA-256 : {}\n", c.sha256));
    out
}

fn usages_text(c: &Certificate, lang: Lang) -> Vec<String> {
    let mut out: Vec<String> = c
        .key_usage
        .iter()
        .map(|u| match u.as_str() {
            "digitalSignature" => lang.pick3("signature numérique", "digital signature", "digitale Signatur"),
            "nonRepudiation" => {
                lang.pick3("signature qualifiée (non-répudiation)", "non-repudiation", "Nichtabstreitbarkeit")
            }
            "keyEncipherment" => lang.pick3("chiffrement de clé", "key encipherment", "Schlüsselverschlüsselung"),
            "dataEncipherment" => lang.pick3("chiffrement de données", "data encipherment", "Datenverschlüsselung"),
            "keyAgreement" => lang.pick3("accord de clé", "key agreement", "Schlüsselvereinbarung"),
            "keyCertSign" => lang.pick3("signature de certificats", "certificate signing", "Zertifikatsignatur"),
            "cRLSign" => lang.pick3("signature de listes de révocation", "CRL signing", "Signatur von Sperrlisten"),
            other => other.to_string(),
        })
        .collect();
    out.extend(c.ext_key_usage.iter().map(|u| match u.as_str() {
        "serverAuth" => lang.pick3("authentification de serveur", "server authentication", "Serverauthentifizierung"),
        "clientAuth" => lang.pick3("authentification", "client authentication", "Clientauthentifizierung"),
        "emailProtection" => lang.pick3("messagerie sécurisée", "e-mail protection", "E-Mail-Schutz"),
        "codeSigning" => lang.pick3("signature de code", "code signing", "Codesignatur"),
        "msSmartcardLogin" => lang.pick3("connexion par carte à puce", "smartcard logon", "Chipkarten-Anmeldung"),
        other => other.to_string(),
    }));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::test_support::assert_german;

    #[test]
    fn certificate_described_in_german() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fixture-leaf.pem");
        let c = &cert::read_file(&path).expect("fixture certificate")[0];
        let (de, en) = (describe(c, Lang::De), describe(c, Lang::En));
        assert_german(&de, &en);
        assert!(de.contains("ausgestellt von"), "{de}");
        assert!(de.contains("Seriennummer"), "{de}");
        let t = c.not_after;
        let day = format!("{:02}.{:02}.{:04}", t.day(), u8::from(t.month()), t.year());
        assert!(de.contains(&day), "German date {day} in: {de}");
    }
}

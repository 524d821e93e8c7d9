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
                        println!();
                    }
                    print!("{}", describe(c, ctx.lang));
                }
                Ok(())
            }
        }
        Cmd::Install(a) => super::install::run(a, ctx),
    }
}

/// Human description of a certificate, as people know it: holder, issuer's short name, expiry, usages.
pub fn describe(c: &Certificate, lang: Lang) -> String {
    let now = time::OffsetDateTime::now_utc();
    let days = c.days_until_expiry(now);
    let date = {
        let t = c.not_after;
        match lang {
            Lang::Fr => format!("{:02}/{:02}/{:04}", t.day(), u8::from(t.month()), t.year()),
            _ => format!("{:04}-{:02}-{:02}", t.year(), u8::from(t.month()), t.day()),
        }
    };
    let expiry = if c.not_before > now {
        lang.pick(
            format!("pas encore valide (à partir du {})", cert::rfc3339_z::format(&c.not_before)),
            format!("not yet valid (from {})", cert::rfc3339_z::format(&c.not_before)),
        )
    } else if days < 0 {
        lang.pick(format!("expiré depuis {} jours ({date})", -days), format!("expired {} days ago ({date})", -days))
    } else {
        lang.pick(format!("expire dans {days} jours ({date})"), format!("expires in {days} days ({date})"))
    };
    let mut out = String::new();
    out.push_str(&format!(
        "{} — {}\n",
        c.display_name(),
        lang.pick(format!("émis par {}", c.issuer_display_name()), format!("issued by {}", c.issuer_display_name()))
    ));
    out.push_str(&format!("  {expiry}\n"));
    let usages = usages_text(c, lang);
    if !usages.is_empty() {
        out.push_str(&format!("  {} : {}\n", lang.pick("Usages", "Usages"), usages.join(", ")));
    }
    out.push_str(&format!(
        "  {} : {}\n",
        lang.pick("Bi-clé de chiffrement", "Encryption bi-clé"),
        if c.encryption_capable { lang.pick("utilisable", "usable") } else { lang.pick("non", "no") }
    ));
    if c.is_ca {
        out.push_str(&format!("  {}\n", lang.pick("Autorité de certification", "Certification authority")));
    }
    for s in &c.san {
        out.push_str(&format!("  {} : {}\n", s.kind, s.value));
    }
    let key = match c.key.bits {
        Some(b) => format!("{} {b}", c.key.algorithm.to_uppercase()),
        None => c.key.algorithm.to_uppercase(),
    };
    out.push_str(&format!("  {} : {key}\n", lang.pick("Clé", "Key")));
    out.push_str(&format!("  {} : {}\n", lang.pick("Sujet", "Subject"), cert::unescape_rfc4514_utf8(&c.subject)));
    out.push_str(&format!("  {} : {}\n", lang.pick("Émetteur", "Issuer"), cert::unescape_rfc4514_utf8(&c.issuer)));
    out.push_str(&format!("  {} : {}\n", lang.pick("Numéro de série", "Serial number"), c.serial));
    out.push_str(&format!("  SHA-256 : {}\n", c.sha256));
    out
}

fn usages_text(c: &Certificate, lang: Lang) -> Vec<String> {
    let mut out: Vec<String> = c
        .key_usage
        .iter()
        .map(|u| match u.as_str() {
            "digitalSignature" => lang.pick("signature numérique", "digital signature"),
            "nonRepudiation" => lang.pick("signature qualifiée (non-répudiation)", "non-repudiation"),
            "keyEncipherment" => lang.pick("chiffrement de clé", "key encipherment"),
            "dataEncipherment" => lang.pick("chiffrement de données", "data encipherment"),
            "keyAgreement" => lang.pick("accord de clé", "key agreement"),
            "keyCertSign" => lang.pick("signature de certificats", "certificate signing"),
            "cRLSign" => lang.pick("signature de listes de révocation", "CRL signing"),
            other => other.to_string(),
        })
        .collect();
    out.extend(c.ext_key_usage.iter().map(|u| match u.as_str() {
        "serverAuth" => lang.pick("authentification de serveur", "server authentication"),
        "clientAuth" => lang.pick("authentification", "client authentication"),
        "emailProtection" => lang.pick("messagerie sécurisée", "e-mail protection"),
        "codeSigning" => lang.pick("signature de code", "code signing"),
        "msSmartcardLogin" => lang.pick("connexion par carte à puce", "smartcard logon"),
        other => other.to_string(),
    }));
    out
}

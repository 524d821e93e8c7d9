//! `trousseau pending` — requests waiting for their certificate (the pending-key vault).

use super::{CliError, Ctx};
use serde::Serialize;
use std::path::PathBuf;
use time::OffsetDateTime;
use trousseau::vault::{Listed, PendingMeta, Vault};
use trousseau::{Coded, ErrorReport};

#[derive(clap::Subcommand, Debug)]
pub enum Cmd {
    /// List the pending requests: subject, creation, withdrawal deadline, CSR file
    List,
    /// Write a pending request's CSR again (e.g. if the file was lost)
    Csr {
        /// Request id (see `pending list`)
        id: String,
        /// Where to write the CSR (an existing file is kept unless --force)
        #[arg(long)]
        out: PathBuf,
        /// Replace the file if it exists
        #[arg(long)]
        force: bool,
    },
}

/// One line of `pending list --json`.
#[derive(Debug, Serialize)]
pub struct PendingItem {
    pub id: String,
    /// `ok`, or `damaged` (reported, never used).
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", with = "time::serde::rfc3339::option")]
    pub created: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub deadline: Option<OffsetDateTime>,
    pub days_left: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub csr_path: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorReport>,
}

fn item(l: &Listed, now: OffsetDateTime, ctx: &Ctx) -> PendingItem {
    match l {
        Listed::Ok(m) => PendingItem {
            id: m.id.clone(),
            status: "ok",
            profile: Some(m.profile.clone()),
            offer: m.offer.clone(),
            usage: m.usage.clone(),
            subject: Some(m.subject.clone()),
            created: Some(m.created),
            deadline: m.deadline,
            days_left: m.days_left(now),
            csr_path: m.csr_path.clone(),
            error: None,
        },
        Listed::Damaged { file, reason } => {
            let e = trousseau::vault::VaultError::Damaged { file: file.clone(), reason: reason.clone() };
            PendingItem {
                id: file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default(),
                status: "damaged",
                profile: None,
                offer: None,
                usage: None,
                subject: None,
                created: None,
                deadline: None,
                days_left: None,
                csr_path: None,
                error: Some(ErrorReport { code: e.code().to_string(), message: e.message(ctx.lang) }),
            }
        }
    }
}

fn print_text(items: &[PendingItem], ctx: &Ctx) -> Result<(), CliError> {
    if items.is_empty() {
        outln!(
            "{}",
            ctx.lang.pick3(
                "Aucune demande en attente.",
                "No pending request.",
                "Keine ausstehende Zertifikatsanforderung."
            )
        )?;
        return Ok(());
    }
    for i in items {
        if let Some(e) = &i.error {
            outln!("{}  ⚠ {}", i.id, e.message)?;
            continue;
        }
        let mut line = format!("{}  {}", i.id, i.subject.as_deref().unwrap_or(""));
        if let (Some(d), Some(left)) = (i.deadline, i.days_left) {
            line.push_str(&ctx.lang.pick3(
                format!("  — à retirer avant le {} ({left} j)", ctx.lang.date(d.date())),
                format!("  — withdraw before {} ({left} d)", ctx.lang.date(d.date())),
                format!("  — vor dem {} abrufen ({left} T.)", ctx.lang.date(d.date())),
            ));
        }
        outln!("{line}")?;
        if let Some(p) = &i.csr_path {
            outln!("    {} {}", ctx.lang.pick3("CSR :", "CSR:", "CSR-Datei:"), p.display())?;
        }
    }
    Ok(())
}

pub fn run(cmd: Cmd, ctx: &Ctx) -> Result<(), CliError> {
    match cmd {
        Cmd::List => {
            let vault = Vault::open()?;
            let now = OffsetDateTime::now_utc();
            let items: Vec<PendingItem> = vault.list()?.iter().map(|l| item(l, now, ctx)).collect();
            if ctx.json {
                ctx.print_json(&items)
            } else {
                print_text(&items, ctx)
            }
        }
        Cmd::Csr { id, out, force } => {
            let vault = Vault::open()?;
            let entry = vault.get(&id)?;
            let meta: &PendingMeta = &entry.meta;
            write_csr(&out, &meta.csr_pem, force, ctx)?;
            if ctx.json {
                ctx.print_json(&serde_json::json!({ "id": meta.id, "out": out, "subject": meta.subject }))
            } else {
                outln!(
                    "{}",
                    ctx.lang.pick3(
                        format!("CSR écrite : {}", out.display()),
                        format!("CSR written: {}", out.display()),
                        format!("CSR geschrieben: {}", out.display())
                    )
                )?;
                Ok(())
            }
        }
    }
}

/// Writes the CSR through the core's one writer: never over an existing file unless `force`, atomically.
fn write_csr(out: &std::path::Path, pem: &str, force: bool, ctx: &Ctx) -> Result<(), CliError> {
    use trousseau::fsutil::{self, Access};
    fsutil::write(out, pem.as_bytes(), Access::Public, force).map_err(|e| {
        // The same code and sentence as `csr new` (the csr module exists with software keys only).
        #[cfg(feature = "software-keys")]
        if let fsutil::FileError::Exists { path } = &e {
            let e = trousseau::csr::CsrError::OutputExists { path: path.clone() };
            return CliError::Report(ErrorReport::from_coded(&e, ctx.lang));
        }
        CliError::Report(ErrorReport::from_coded(&e, ctx.lang))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::test_support::{assert_german, de_en};

    #[test]
    fn existing_csr_file_in_german_and_untouched() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let out = dir.path().join("demande.csr");
        std::fs::write(&out, "keep me").expect("write");
        let (de, en) = de_en(|ctx| write_csr(&out, "-----BEGIN CERTIFICATE REQUEST-----", false, ctx).err());
        assert_eq!(de.code, "csr.output_exists");
        assert_german(&de.message, &en.message);
        assert!(de.message.contains("existiert bereits"), "{}", de.message);
        assert_eq!(std::fs::read_to_string(&out).expect("read"), "keep me");
    }
}

//! `trousseau envelope`: encrypted envelopes (bids). The core (`trousseau::envelope`) decides; this file translates.

use std::path::PathBuf;

use clap::Subcommand;
use trousseau::envelope::{self, Reachable};

use super::tokens::PinArgs;
use super::{CliError, Ctx};

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Which recipients an envelope names and which of them this workstation can open (no PIN asked)
    Inspect { file: PathBuf },
    /// Opens an envelope with the key where it lives (store, or card: PIN asked then)
    Open {
        file: PathBuf,
        /// Output folder (the file keeps the envelope's name without .p7m) or file
        #[arg(long)]
        out: PathBuf,
        /// Replace an existing output file
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        pin: PinArgs,
    },
}

pub fn run(cmd: Cmd, ctx: &Ctx) -> Result<(), CliError> {
    let l = ctx.lang;
    match cmd {
        Cmd::Inspect { file } => {
            let i = envelope::inspect(&file, l)?;
            if ctx.json {
                return ctx.print_json(&i);
            }
            outln!(
                "{}",
                l.pick3(
                    format!(
                        "Pli chiffré ({}), {} octets chiffrés en {}.",
                        i.kind,
                        i.encrypted_size,
                        i.content_cipher.name()
                    ),
                    format!(
                        "Encrypted envelope ({}), {} encrypted bytes in {}.",
                        i.kind,
                        i.encrypted_size,
                        i.content_cipher.name()
                    ),
                    format!(
                        "Verschlüsselter Umschlag ({}), {} verschlüsselte Bytes in {}.",
                        i.kind,
                        i.encrypted_size,
                        i.content_cipher.name()
                    ),
                )
            )?;
            outln!("{}", l.pick3("Destinataires :", "Recipients:", "Empfänger:"))?;
            for r in &i.recipients {
                let name = match (&r.issuer, &r.serial, &r.ski) {
                    (Some(is), Some(s), _) => format!("{is} — n° {s}"),
                    (_, _, Some(k)) => format!("SKI {k}"),
                    _ => r.unsupported.clone().unwrap_or_default(),
                };
                let here = match (r.reachable, &r.holder, &r.token) {
                    (Reachable::Store, Some(h), _) => l.pick3(
                        format!("clé dans le magasin : {h}"),
                        format!("key in the store: {h}"),
                        format!("Schlüssel im Zertifikatsspeicher: {h}"),
                    ),
                    (Reachable::Token, Some(h), Some(t)) => l.pick3(
                        format!("clé sur la carte « {t} » : {h}"),
                        format!("key on the card \"{t}\": {h}"),
                        format!("Schlüssel auf der Karte „{t}“: {h}"),
                    ),
                    _ => l.pick3(
                        "clé absente de ce poste (insérez la carte qui porte ce certificat)".to_string(),
                        "key not on this workstation (insert the card holding this certificate)".to_string(),
                        "Schlüssel nicht auf diesem Arbeitsplatz (stecken Sie die Karte mit diesem Zertifikat ein)"
                            .to_string(),
                    ),
                };
                outln!("  - {name}\n    {here}")?;
            }
            Ok(())
        }
        Cmd::Open { file, out, force, pin } => {
            let req = envelope::OpenRequest { file, out, force };
            let mut source = pin.source(ctx);
            let opened = envelope::open(&req, &mut source, l)?;
            if ctx.json {
                return ctx.print_json(&opened);
            }
            outln!(
                "{}",
                l.pick3(
                    format!("Pli ouvert : {} ({} octets).", opened.out.display(), opened.size),
                    format!("Envelope opened: {} ({} bytes).", opened.out.display(), opened.size),
                    format!("Umschlag geöffnet: {} ({} Bytes).", opened.out.display(), opened.size),
                )
            )?;
            Ok(())
        }
    }
}

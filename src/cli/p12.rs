//! `trousseau p12` — OWNER: core-cert helper (inspect); store helper (import).

use super::{CliError, Ctx, PasswordArgs};
use serde::Serialize;
use trousseau::cert::Certificate;
use trousseau::pkcs12;

#[derive(clap::Subcommand, Debug)]
pub enum Cmd {
    /// Show what a .p12/.pfx contains
    Inspect {
        file: std::path::PathBuf,
        #[command(flatten)]
        password: PasswordArgs,
    },
    /// Install a .p12/.pfx into the certificate store (all or nothing)
    Import(super::store::P12ImportArgs),
}

#[derive(Serialize)]
struct Inspection<'a> {
    certificates: &'a [Certificate],
    private_keys: usize,
}

pub fn run(cmd: Cmd, ctx: &Ctx) -> Result<(), CliError> {
    match cmd {
        Cmd::Inspect { file, password } => {
            // Refuse a missing, wrong or damaged file before asking for its password.
            let bytes = trousseau::store::read_pkcs12_file(&file)?;
            let pw = password
                .read(ctx, ["Mot de passe du fichier .p12", "Password of the .p12 file", "Passwort der .p12-Datei"])?;
            let contents = pkcs12::read(&bytes, &pw)?;
            if ctx.json {
                ctx.print_json(&Inspection { certificates: &contents.certificates, private_keys: contents.keys.len() })
            } else {
                let lang = ctx.lang;
                outln!(
                    "{}",
                    lang.pick3(
                        format!(
                            "{} certificat(s), {} clé(s) privée(s)",
                            contents.certificates.len(),
                            contents.keys.len()
                        ),
                        format!(
                            "{} certificate(s), {} private key(s)",
                            contents.certificates.len(),
                            contents.keys.len()
                        ),
                        format!(
                            "{} Zertifikat(e), {} private(r) Schlüssel",
                            contents.certificates.len(),
                            contents.keys.len()
                        ),
                    )
                )?;
                for (i, c) in contents.certificates.iter().enumerate() {
                    outln!()?;
                    let with_key = contents.keys.iter().any(|k| k.certificate == Some(i));
                    if with_key {
                        outln!(
                            "{}",
                            lang.pick3(
                                "[avec sa clé privée]",
                                "[with its private key]",
                                "[mit seinem privaten Schlüssel]"
                            )
                        )?;
                    }
                    out!("{}", super::cert::describe(c, lang))?;
                }
                Ok(())
            }
        }
        Cmd::Import(a) => super::store::run_p12_import(a, ctx),
    }
}

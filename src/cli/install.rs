//! `trousseau cert install FILE` — reunite a withdrawn certificate (PEM/DER or PKCS#7 bag) with the private key
//! waiting in the vault, write it to every destination the user asked for, verify each one, and only then
//! retire the pending key.
//!
//! Destinations are explicit: each is written and verified in turn, recorded in `done`, and the vault entry is
//! retired after the last one. A failure anywhere leaves the pending key in the vault.

use super::{CliError, Ctx, PasswordArgs};
use serde::Serialize;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The certificate received (PEM, DER, or a PKCS#7 .p7b/.p7c bag with its chain)
    pub file: PathBuf,
    /// Write the certificate, its chain and the private key to this PKCS#12 file (an existing file is kept unless
    /// --force)
    #[arg(long, value_name = "FILE")]
    pub p12_out: Option<PathBuf>,
    /// Replace the --p12-out file if it exists
    #[arg(long, requires = "p12_out")]
    pub force: bool,
    /// Legacy PKCS#12 encryption (3DES, SHA-1 MAC) for older macOS/Windows/Android importers
    #[arg(long)]
    pub legacy: bool,
    /// Also install the certificate, its chain and the private key into the system certificate store (NSS shared
    /// database on Linux, the personal store "MY" on Windows, the login keychain on macOS)
    #[arg(long)]
    pub into_store: bool,
    #[command(flatten)]
    pub password: PasswordArgs,
    /// Keep the revocation code chosen at withdrawal (IGC-Santé) in the system keyring, read from standard input
    #[arg(long, conflicts_with = "revocation_code_env")]
    pub revocation_code_stdin: bool,
    /// Keep the revocation code, read from this environment variable
    #[arg(long, value_name = "VAR")]
    pub revocation_code_env: Option<String>,
}

/// One verified destination.
#[derive(Debug, Serialize)]
pub struct Done {
    /// `p12`
    pub kind: &'static str,
    pub path: PathBuf,
    /// `false` when the file already held exactly this key and certificate (an earlier run was interrupted).
    pub written: bool,
}

/// `cert install --json` output.
#[derive(Debug, Serialize)]
pub struct Installed {
    /// The pending request reunited (now retired).
    pub id: String,
    pub subject: String,
    pub sha256: String,
    pub chain: usize,
    pub destinations: Vec<Done>,
    pub retired: bool,
    /// The revocation code was kept in the system keyring (`trousseau cert revocation-code SHA256` shows it).
    pub revocation_code_kept: bool,
}

#[cfg(feature = "software-keys")]
pub fn run(a: Args, ctx: &Ctx) -> Result<(), CliError> {
    use trousseau::csr::reunite;
    use trousseau::password::{self, Policy};
    use trousseau::pkcs12::Encryption;

    if a.p12_out.is_none() && !a.into_store {
        return Err(CliError::new(
            "install.no_destination",
            ctx.lang.pick3(
                "Indiquez où installer le certificat : --p12-out FICHIER.p12 et/ou --into-store",
                "Say where to install the certificate: --p12-out FILE.p12 and/or --into-store",
                "Geben Sie an, wo das Zertifikat installiert werden soll: --p12-out DATEI.p12 und/oder --into-store",
            ),
        ));
    }
    let certs = trousseau::cert::read_file(&a.file)?;
    let vault = trousseau::vault::Vault::open()?;
    let (key, leaf) = reunite::find_pending(&vault, &certs)?;
    let chain = reunite::chain_for(&certs, leaf);
    let leaf_cert = &chain[0];

    let mut done: Vec<Done> = Vec::new();
    if let Some(out) = &a.p12_out {
        let pw = a.password.read_new(
            ctx,
            ["Mot de passe du fichier .p12", "Password for the .p12 file", "Passwort für die .p12-Datei"],
        )?;
        let cn = leaf_cert.subject_cn.clone().unwrap_or_default();
        password::check(Policy::IgcSante, &pw, &[cn.as_str()])?;
        let enc = if a.legacy { Encryption::Legacy } else { Encryption::Modern };
        let written = reunite::write_p12_verified(out, &key, &chain, &pw, enc, a.force)?;
        done.push(Done { kind: "p12", path: out.clone(), written });
    }

    if a.into_store {
        // Installed all or nothing, then verified: the certificate must be found in the store with its key.
        let identity = trousseau::store::Identity {
            key_pkcs8: key.pkcs8_der.clone(),
            certificate: leaf_cert.clone(),
            chain: chain[1..].to_vec(),
            friendly_name: None,
        };
        let mut st = trousseau::store::open_default()?;
        let report = st.install_identity(&identity)?;
        if !st.find(&leaf_cert.sha256)?.is_some_and(|c| c.has_private_key) {
            return Err(trousseau::store::StoreError::NoPrivateKey {
                sha256: leaf_cert.sha256.clone(),
                store: st.location(),
            }
            .into());
        }
        done.push(Done { kind: "store", path: PathBuf::from(st.location()), written: !report.already_present });
    }

    // Every destination asked for is verified: the key can leave the vault.
    vault.retire(&key.meta.id)?;
    // IGC-Santé's revocation code, needed later to revoke without the card: kept in the keyring if given (or typed
    // at the prompt; Enter skips it).
    let code = read_revocation_code(&a, ctx)?;
    let revocation_code_kept = match code {
        Some(code) => {
            trousseau::secrets::remember_revocation_code(&leaf_cert.issuer, &leaf_cert.serial, &code)?;
            true
        }
        None => false,
    };
    let result = Installed {
        id: key.meta.id.clone(),
        subject: leaf_cert.subject.clone(),
        sha256: leaf_cert.sha256.clone(),
        chain: chain.len(),
        destinations: done,
        retired: true,
        revocation_code_kept,
    };
    if ctx.json {
        ctx.print_json(&result)
    } else {
        outln!(
            "{}",
            ctx.lang.pick3(
                format!(
                    "Certificat « {} » réuni avec sa clé privée (demande {}).",
                    leaf_cert.display_name(),
                    result.id
                ),
                format!(
                    "Certificate \"{}\" reunited with its private key (request {}).",
                    leaf_cert.display_name(),
                    result.id
                ),
                format!(
                    "Zertifikat „{}“ mit seinem privaten Schlüssel zusammengeführt (Anforderung {}).",
                    leaf_cert.display_name(),
                    result.id
                ),
            )
        )?;
        for d in &result.destinations {
            outln!(
                "  {} {}",
                ctx.lang.pick3("Écrit et vérifié :", "Written and verified:", "Geschrieben und geprüft:"),
                d.path.display()
            )?;
        }
        Ok(())
    }
}

/// The revocation code from `--revocation-code-env`/`--revocation-code-stdin`, or asked at the terminal (optional).
#[cfg(feature = "software-keys")]
fn read_revocation_code(a: &Args, ctx: &Ctx) -> Result<Option<zeroize::Zeroizing<String>>, CliError> {
    use std::io::IsTerminal;
    if a.revocation_code_stdin && a.password.password_stdin {
        return Err(CliError::new(
            "cli.stdin_twice",
            ctx.lang.pick3(
                "Un seul secret peut venir de l'entrée standard : donnez l'autre par --password-env ou --revocation-code-env.",
                "Only one secret can come from standard input: give the other with --password-env or --revocation-code-env.",
                "Nur ein Geheimnis kann von der Standardeingabe kommen: Geben Sie das andere mit --password-env oder --revocation-code-env an.",
            ),
        ));
    }
    let given = a.revocation_code_stdin || a.revocation_code_env.is_some();
    let code = if given {
        let pw = PasswordArgs { password_stdin: a.revocation_code_stdin, password_env: a.revocation_code_env.clone() };
        pw.read(ctx, ["Code de révocation", "Revocation code", "Sperrcode"])?
    } else if std::io::stdin().is_terminal() && !a.password.password_stdin {
        let prompt = ctx.lang.pick3(
            "Code de révocation choisi au retrait (Entrée pour ne pas le garder) : ",
            "Revocation code chosen at withdrawal (Enter not to keep it): ",
            "Beim Abholen gewählter Sperrcode (Eingabe, um ihn nicht aufzubewahren): ",
        );
        zeroize::Zeroizing::new(rpassword::prompt_password(prompt).unwrap_or_default())
    } else {
        return Ok(None);
    };
    let trimmed = code.trim();
    Ok((!trimmed.is_empty()).then(|| zeroize::Zeroizing::new(trimmed.to_string())))
}

#[cfg(not(feature = "software-keys"))]
pub fn run(_a: Args, ctx: &Ctx) -> Result<(), CliError> {
    Err(CliError::new(
        "install.unavailable",
        ctx.lang.pick3(
            "Cette version de Trousseau a été construite sans la fonction software-keys.",
            "This build of Trousseau has no software-keys feature.",
            "Diese Version von Trousseau wurde ohne die Funktion software-keys erstellt.",
        ),
    ))
}

#[cfg(all(test, feature = "software-keys"))]
mod tests {
    use super::*;
    use crate::cli::test_support::{assert_german, de_en};

    #[test]
    fn no_destination_in_german() {
        let (de, en) = de_en(|ctx| {
            let a = Args {
                file: PathBuf::from("absent.pem"),
                p12_out: None,
                force: false,
                legacy: false,
                into_store: false,
                password: PasswordArgs::default(),
                revocation_code_stdin: false,
                revocation_code_env: None,
            };
            run(a, ctx).err()
        });
        assert_eq!(de.code, "install.no_destination");
        assert_german(&de.message, &en.message);
        assert!(de.message.contains("--p12-out DATEI.p12"), "{}", de.message);
    }
}

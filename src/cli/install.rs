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

/// `cert install --json` output.
#[derive(Debug, Serialize)]
pub struct Installed {
    /// The pending request reunited (now retired).
    pub id: String,
    pub subject: String,
    pub sha256: String,
    pub chain: usize,
    pub destinations: Vec<trousseau::csr::reunite::Done>,
    pub retired: bool,
    /// The revocation code was kept in the system keyring (`trousseau cert revocation-code SHA256` shows it).
    pub revocation_code_kept: bool,
}

#[cfg(feature = "software-keys")]
pub fn run(a: Args, ctx: &Ctx) -> Result<(), CliError> {
    use trousseau::csr::reunite::{self, Destinations, P12Destination};
    use trousseau::pkcs12::Encryption;

    // The certificate must meet its pending key before any password is asked for.
    let withdrawn = reunite::withdrawn(&a.file, a.p12_out.is_some(), a.into_store)?;
    let password = match &a.p12_out {
        Some(_) => Some(a.password.read_new(
            ctx,
            ["Mot de passe du fichier .p12", "Password for the .p12 file", "Passwort für die .p12-Datei"],
        )?),
        None => None,
    };
    let mut store = if a.into_store { Some(trousseau::store::open_default()?) } else { None };
    let p12 = match (&a.p12_out, &password) {
        (Some(out), Some(pw)) => Some(P12Destination {
            out,
            password: pw,
            encryption: if a.legacy { Encryption::Legacy } else { Encryption::Modern },
            force: a.force,
        }),
        _ => None,
    };
    let installed = withdrawn.install(Destinations { p12, store: store.as_deref_mut() })?;
    let leaf_cert = &installed.chain[0];
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
        id: installed.id.clone(),
        subject: leaf_cert.subject.clone(),
        sha256: leaf_cert.sha256.clone(),
        chain: installed.chain.len(),
        destinations: installed.destinations.clone(),
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

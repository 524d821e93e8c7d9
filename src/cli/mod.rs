//! The `trousseau` command line: every capability of the app is scriptable. Each area has its own file; this
//! file holds the top-level command list, the output context and the shared password/error plumbing.

use clap::{Parser, Subcommand};
use serde::Serialize;
use std::io::{IsTerminal, Read};
use trousseau::{Coded, ErrorReport, Lang};
use zeroize::Zeroizing;

pub mod cards;
pub mod cert;
pub mod csr;
pub mod doctor;
pub mod install;
pub mod p12;
pub mod pending;
pub mod portal;
pub mod status;
pub mod store;
pub mod tokens;

#[derive(Parser, Debug)]
#[command(name = "trousseau", version, about = "Certificats, cartes à puce et bi-clés — Trousseau")]
pub struct Cli {
    /// Machine-readable output (JSON on stdout; errors as {"error":{"code","message"}} on stderr)
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// One-screen summary: readers and cards, tokens, store, pending requests, portal
    Status(status::Args),
    /// Certificates: inspect files, install a withdrawn certificate with its pending key
    #[command(subcommand)]
    Cert(cert::Cmd),
    /// PKCS#12 (.p12/.pfx) files
    #[command(subcommand)]
    P12(p12::Cmd),
    /// Certificate requests (CSR) generated on this computer
    #[command(subcommand)]
    Csr(csr::Cmd),
    /// Requests waiting for their certificate
    #[command(subcommand)]
    Pending(pending::Cmd),
    /// Smartcard readers and cards
    Cards(cards::Args),
    /// PKCS#11 tokens (cards seen through their module)
    Tokens(tokens::Args),
    /// One PKCS#11 token: certificates, login
    #[command(subcommand)]
    Token(tokens::TokenCmd),
    /// The operating system's certificate store
    #[command(subcommand)]
    Store(store::Cmd),
    /// Procurement portal: pairing, channel, bi-clés
    #[command(subcommand)]
    Portal(portal::Cmd),
    /// Check the workstation link by link: card service, reader, card, its software, browsers, portal, clock
    Doctor(doctor::Args),
}

/// What every command needs to know about the output.
#[derive(Debug, Clone, Copy)]
pub struct Ctx {
    pub json: bool,
    pub lang: Lang,
}

impl Ctx {
    /// Prints `value` as pretty JSON on stdout.
    pub fn print_json<T: Serialize + ?Sized>(&self, value: &T) -> Result<(), CliError> {
        let s = serde_json::to_string_pretty(value)
            .map_err(|e| CliError::new("cli.json", format!("JSON output failed: {e}")))?;
        println!("{s}");
        Ok(())
    }
}

/// An error as the CLI reports it: stable code + sentence in the user's language. Exit code 1.
#[derive(Debug)]
pub struct CliError(pub ErrorReport);

impl CliError {
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        CliError(ErrorReport { code: code.to_string(), message: message.into() })
    }
}

impl<E: Coded> From<E> for CliError {
    fn from(e: E) -> Self {
        CliError(ErrorReport::from_coded(&e, Lang::from_env()))
    }
}

pub fn run(cli: Cli) -> Result<(), CliError> {
    let ctx = Ctx { json: cli.json, lang: Lang::from_env() };
    match cli.command {
        Command::Status(a) => status::run(a, &ctx),
        Command::Cert(c) => cert::run(c, &ctx),
        Command::P12(c) => p12::run(c, &ctx),
        Command::Csr(c) => csr::run(c, &ctx),
        Command::Pending(c) => pending::run(c, &ctx),
        Command::Cards(a) => cards::run(a, &ctx),
        Command::Tokens(a) => tokens::run(a, &ctx),
        Command::Token(c) => tokens::run_token(c, &ctx),
        Command::Store(c) => store::run(c, &ctx),
        Command::Portal(c) => portal::run(c, &ctx),
        Command::Doctor(a) => doctor::run(a, &ctx),
    }
}

/// How a password or PIN reaches the CLI: interactive prompt (default), stdin, or an environment variable.
/// Never as an argument value.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct PasswordArgs {
    /// Read the password from standard input (first line)
    #[arg(long, conflicts_with = "password_env")]
    pub password_stdin: bool,
    /// Read the password from this environment variable
    #[arg(long, value_name = "VAR")]
    pub password_env: Option<String>,
}

impl PasswordArgs {
    /// Reads an existing password (one prompt). `prompt` is the question in French, English and German.
    pub fn read(&self, ctx: &Ctx, prompt: [&str; 3]) -> Result<Zeroizing<String>, CliError> {
        self.obtain(ctx, prompt, false)
    }

    /// Reads a new password (prompted twice when interactive).
    pub fn read_new(&self, ctx: &Ctx, prompt: [&str; 3]) -> Result<Zeroizing<String>, CliError> {
        self.obtain(ctx, prompt, true)
    }

    fn obtain(&self, ctx: &Ctx, prompt: [&str; 3], confirm: bool) -> Result<Zeroizing<String>, CliError> {
        if let Some(var) = &self.password_env {
            return match std::env::var(var) {
                Ok(v) => Ok(Zeroizing::new(v)),
                Err(_) => Err(CliError::new(
                    "cli.password_env_missing",
                    ctx.lang.pick3(
                        format!("La variable d'environnement {var} n'existe pas : définissez-la avec le mot de passe."),
                        format!("The environment variable {var} is not set: set it to the password."),
                        format!("Die Umgebungsvariable {var} ist nicht gesetzt: setzen Sie sie auf das Passwort."),
                    ),
                )),
            };
        }
        if self.password_stdin {
            let mut buf = Zeroizing::new(Vec::new());
            std::io::stdin().lock().read_to_end(&mut buf).map_err(|e| {
                CliError::new(
                    "cli.stdin",
                    ctx.lang.pick3(
                        format!("Lecture de l'entrée standard impossible : {e}"),
                        format!("Cannot read standard input: {e}"),
                        format!("Die Standardeingabe kann nicht gelesen werden: {e}"),
                    ),
                )
            })?;
            let text = std::str::from_utf8(&buf).map_err(|_| {
                CliError::new(
                    "cli.password_utf8",
                    ctx.lang.pick3(
                        "Le mot de passe reçu n'est pas du texte UTF-8.",
                        "The password received is not UTF-8 text.",
                        "Das empfangene Passwort ist kein UTF-8-Text.",
                    ),
                )
            })?;
            let line = text.split(['\n', '\r']).next().unwrap_or("");
            return Ok(Zeroizing::new(line.to_string()));
        }
        if !std::io::stdin().is_terminal() {
            return Err(CliError::new(
                "cli.no_terminal",
                ctx.lang.pick3(
                    "Aucun terminal pour demander le mot de passe : utilisez --password-stdin ou --password-env VARIABLE.",
                    "No terminal to ask for the password: use --password-stdin or --password-env VARIABLE.",
                    "Kein Terminal für die Passwortabfrage: verwenden Sie --password-stdin oder --password-env VARIABLE.",
                ),
            ));
        }
        let [prompt_fr, prompt_en, prompt_de] = prompt;
        let prompt = ctx.lang.pick3(prompt_fr, prompt_en, prompt_de);
        let unreadable = |e: std::io::Error| {
            CliError::new(
                "cli.prompt",
                ctx.lang.pick3(
                    format!("Saisie impossible : {e}"),
                    format!("Cannot read the input: {e}"),
                    format!("Die Eingabe kann nicht gelesen werden: {e}"),
                ),
            )
        };
        let first = Zeroizing::new(rpassword::prompt_password(format!("{prompt} : ")).map_err(unreadable)?);
        if confirm {
            let again = Zeroizing::new(
                rpassword::prompt_password(ctx.lang.pick3("Confirmez : ", "Confirm: ", "Bestätigung: "))
                    .map_err(unreadable)?,
            );
            if *first != *again {
                return Err(CliError::new(
                    "cli.password_mismatch",
                    ctx.lang.pick3(
                        "Les deux saisies diffèrent : recommencez.",
                        "The two entries differ: try again.",
                        "Die beiden Eingaben stimmen nicht überein: versuchen Sie es erneut.",
                    ),
                ));
            }
        }
        Ok(first)
    }
}

/// Checks shared by the CLI's unit tests.
#[cfg(test)]
pub(crate) mod test_support {
    use super::Ctx;
    use trousseau::Lang;

    pub fn ctx(lang: Lang) -> Ctx {
        Ctx { json: false, lang }
    }

    /// German text that is really German: not the English sentence, not empty, no format placeholder left.
    pub fn assert_german(de: &str, en: &str) {
        assert!(!de.trim().is_empty(), "empty German text (English: {en})");
        assert_ne!(de, en, "the German text is the English one");
        assert!(!de.contains('{') && !de.contains('}'), "format placeholder left in the German text: {de}");
    }

    /// The same error in German and in English (code and message), for `f` run in each language.
    pub fn de_en(f: impl Fn(&Ctx) -> Option<super::CliError>) -> (trousseau::ErrorReport, trousseau::ErrorReport) {
        let de = f(&ctx(Lang::De)).expect("an error in German").0;
        let en = f(&ctx(Lang::En)).expect("an error in English").0;
        assert_eq!(de.code, en.code, "the code does not depend on the language");
        (de, en)
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::{assert_german, de_en};
    use super::*;

    #[test]
    fn missing_password_variable_is_said_in_german() {
        const VAR: &str = "TROUSSEAU_TEST_NO_SUCH_VARIABLE_5E1";
        let args = PasswordArgs { password_stdin: false, password_env: Some(VAR.into()) };
        let (de, en) = de_en(|ctx| args.read(ctx, ["Mot de passe", "Password", "Passwort"]).err());
        assert_eq!(de.code, "cli.password_env_missing");
        assert_german(&de.message, &en.message);
        assert!(de.message.contains(VAR), "the German sentence names the variable: {}", de.message);
        assert!(de.message.contains("Umgebungsvariable"), "{}", de.message);
    }

    /// The guard: every sentence of the command line has its German text (a two-language call gives German users
    /// English). A new file in src/cli must be added to the list below.
    #[test]
    fn cli_sentences_have_german() {
        let files: [(&str, &str); 12] = [
            ("cards.rs", include_str!("cards.rs")),
            ("cert.rs", include_str!("cert.rs")),
            ("csr.rs", include_str!("csr.rs")),
            ("doctor.rs", include_str!("doctor.rs")),
            ("install.rs", include_str!("install.rs")),
            ("mod.rs", include_str!("mod.rs")),
            ("p12.rs", include_str!("p12.rs")),
            ("pending.rs", include_str!("pending.rs")),
            ("portal.rs", include_str!("portal.rs")),
            ("status.rs", include_str!("status.rs")),
            ("store.rs", include_str!("store.rs")),
            ("tokens.rs", include_str!("tokens.rs")),
        ];
        // Built in two halves so that this file does not contain the text it looks for.
        let two_languages = concat!(".pi", "ck(");
        for (name, text) in files {
            assert!(
                !text.contains(two_languages),
                "src/cli/{name} still has a French/English-only sentence ({two_languages}…): use pick3 with German"
            );
        }
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/cli");
        for entry in std::fs::read_dir(&dir).expect("src/cli is readable") {
            let name = entry.expect("directory entry").file_name().to_string_lossy().into_owned();
            if name.ends_with(".rs") {
                assert!(files.iter().any(|(n, _)| *n == name), "src/cli/{name} is not checked by this test: add it");
            }
        }
    }
}

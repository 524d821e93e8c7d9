//! The `trousseau` command line: every capability of the app is scriptable. Each area has its own file; this
//! file holds the top-level command list, the output context and the shared password/error plumbing.

use clap::{Parser, Subcommand};
use serde::Serialize;
use std::io::{IsTerminal, Read};
use trousseau::{Coded, ErrorReport, Lang};
use zeroize::Zeroizing;

/// Writes a line to standard output through [`write_out`]; evaluates to `Result<(), CliError>`.
/// Every line the command line prints goes through here, never through `println!` (which panics on a closed pipe).
macro_rules! outln {
    () => {
        $crate::cli::write_out(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::cli::write_out(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// Writes to standard output without a line end (see [`outln!`]).
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::cli::write_out(format_args!($($arg)*))
    };
}

/// A progress or notice line on standard error. A closed or broken standard error is not a reason to stop (or to
/// panic, as `eprintln!` does): the line is dropped.
macro_rules! note {
    ($($arg:tt)*) => {
        $crate::cli::write_note(format_args!("{}\n", format_args!($($arg)*)))
    };
}

pub mod cards;
pub mod cert;
pub mod csr;
pub mod doctor;
pub mod envelope;
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
    /// Encrypted envelopes (bids): inspect, open with the key where it lives
    #[command(subcommand)]
    Envelope(envelope::Cmd),
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
        outln!("{s}")
    }
}

/// How a command ends when it does not succeed.
#[derive(Debug)]
pub enum CliError {
    /// An error to report: stable code + sentence in the user's language. Exit code 1.
    Report(ErrorReport),
    /// Whoever reads our output has stopped (`trousseau store list --json | head -1`): not an error of ours, the
    /// command ends quietly (exit 0, nothing on stderr), as `head`'s users expect.
    ClosedOutput,
}

impl CliError {
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        CliError::Report(ErrorReport { code: code.to_string(), message: message.into() })
    }

    /// The report of a [`CliError::Report`] (tests).
    #[cfg(test)]
    pub fn report(self) -> ErrorReport {
        match self {
            CliError::Report(r) => r,
            CliError::ClosedOutput => panic!("closed output, not a report"),
        }
    }
}

impl<E: Coded> From<E> for CliError {
    fn from(e: E) -> Self {
        CliError::Report(ErrorReport::from_coded(&e, Lang::from_env()))
    }
}

/// Whether `e` means the reader of our output went away (EPIPE, or a reset socket as stdout; on Windows also
/// ERROR_PIPE_NOT_CONNECTED, 233, which a pipe whose reader has gone gives there, e.g. `trousseau … | head` under
/// Wine).
fn is_closed_output(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::NotConnected
    ) || (cfg!(windows) && e.raw_os_error() == Some(233))
}

/// Asks `question` on the terminal; true only for a yes ("o"/"oui", "j"/"ja", "y"/"yes" in every language). Never
/// reads standard input when it is not a terminal (scripts): then the answer is no.
pub fn ask_yes(ctx: &Ctx, question: &str) -> bool {
    use std::io::{BufRead, Write};
    if !std::io::stdin().is_terminal() {
        return false;
    }
    let Ok(mut tty) = std::fs::OpenOptions::new().read(true).write(true).open("/dev/tty") else { return false };
    let choices = if ctx.lang == Lang::De { "[j/N]" } else { "[o/N]" };
    let _ = write!(tty, "{question} {choices} ");
    let _ = tty.flush();
    let mut line = String::new();
    let _ = std::io::BufReader::new(tty).read_line(&mut line);
    matches!(line.trim().to_lowercase().as_str(), "o" | "oui" | "j" | "ja" | "y" | "yes")
}

/// The one writer of standard output: a closed pipe becomes [`CliError::ClosedOutput`], any other failure (disk
/// full behind a redirection) a reported error; never a panic.
pub fn write_out(args: std::fmt::Arguments<'_>) -> Result<(), CliError> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    out.write_fmt(args).map_err(|e| output_error(&e))
}

/// Flushes standard output at the end of a command (same mapping as [`write_out`]).
pub fn flush_out() -> Result<(), CliError> {
    use std::io::Write;
    std::io::stdout().lock().flush().map_err(|e| output_error(&e))
}

fn output_error(e: &std::io::Error) -> CliError {
    if is_closed_output(e) {
        return CliError::ClosedOutput;
    }
    let lang = Lang::from_env();
    CliError::new(
        "cli.output",
        lang.pick3(
            format!("L'écriture du résultat a échoué ({e}) : vérifiez l'espace disque de la destination."),
            format!("Writing the output failed ({e}): check the free space of the destination."),
            format!("Die Ausgabe konnte nicht geschrieben werden ({e}): prüfen Sie den freien Speicher des Ziels."),
        ),
    )
}

/// The one writer of notices on standard error: failures are ignored (see [`note!`]).
pub fn write_note(args: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let _ = std::io::stderr().lock().write_fmt(args);
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
        Command::Envelope(c) => envelope::run(c, &ctx),
        Command::Doctor(a) => doctor::run(a, &ctx),
    }
}

/// The arguments whose value names an environment variable holding a secret.
const SECRET_VARIABLE_ARGS: [&str; 6] =
    ["password_env", "pin_env", "store_password_env", "new_pin_env", "puk_env", "revocation_code_env"];

/// Names, for [`trousseau::child`], every environment variable given to a `--…-env` secret argument anywhere in
/// the command line, so that no child process (certutil, modutil…) inherits it.
pub fn hide_secret_variables(m: &clap::ArgMatches) {
    for id in SECRET_VARIABLE_ARGS {
        if let Ok(Some(var)) = m.try_get_one::<String>(id) {
            trousseau::child::hide_variable(var);
        }
    }
    if let Some((_, sub)) = m.subcommand() {
        hide_secret_variables(sub);
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
        let de = f(&ctx(Lang::De)).expect("an error in German").report();
        let en = f(&ctx(Lang::En)).expect("an error in English").report();
        assert_eq!(de.code, en.code, "the code does not depend on the language");
        (de, en)
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::{assert_german, de_en};
    use super::*;

    /// The guard: nothing in the command line's path prints with the macros that panic on a closed pipe
    /// (`println!`, `print!`, `eprintln!`, `eprint!`); output goes through `outln!`/`out!`/`note!`.
    #[test]
    fn no_panicking_print_macro_in_the_cli_path() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let needles =
            [concat!("print", "ln!("), concat!("print", "!("), concat!("eprint", "ln!("), concat!("eprint", "!(")];
        let mut stack = vec![root];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).expect("readable") {
                let p = entry.expect("entry").path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.extension().is_some_and(|e| e == "rs") {
                    let text = std::fs::read_to_string(&p).expect("read");
                    let code = text.split("#[cfg(test)]").next().unwrap_or("");
                    for (n, line) in code.lines().enumerate() {
                        let line = line.trim_start();
                        if line.starts_with("//") {
                            continue;
                        }
                        for needle in needles {
                            assert!(!line.contains(needle), "{}:{}: {line}", p.display(), n + 1);
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn secret_variables_of_every_command_are_hidden_from_children() {
        use clap::CommandFactory;
        let lines: [&[&str]; 3] = [
            &[
                "trousseau",
                "store",
                "export",
                "ab",
                "--out",
                "x.p12",
                "--password-env",
                "PW_7A1",
                "--store-password-env",
                "DB_7A1",
            ],
            &[
                "trousseau",
                "--json",
                "csr",
                "new",
                "--subject",
                "CN=A",
                "--out",
                "x.csr",
                "--token",
                "T",
                "--key-id",
                "01",
                "--pin-env",
                "PIN_7A1",
            ],
            &["trousseau", "token", "login", "--token", "T", "--pin-env", "PIN2_7A1"],
        ];
        for line in lines {
            let m = Cli::command().try_get_matches_from(line).unwrap_or_else(|e| panic!("{line:?}: {e}"));
            hide_secret_variables(&m);
        }
        let hidden = trousseau::child::hidden_variables();
        for var in ["PW_7A1", "DB_7A1", "PIN_7A1", "PIN2_7A1"] {
            assert!(hidden.iter().any(|h| h == var), "{var} not hidden: {hidden:?}");
        }
    }

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
        let files: [(&str, &str); 13] = [
            ("cards.rs", include_str!("cards.rs")),
            ("cert.rs", include_str!("cert.rs")),
            ("csr.rs", include_str!("csr.rs")),
            ("doctor.rs", include_str!("doctor.rs")),
            ("envelope.rs", include_str!("envelope.rs")),
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

#[cfg(test)]
mod command_line_tests {
    /// clap's own consistency checks over every subcommand (an argument named in `conflicts_with` that a
    /// subcommand lacks panics only when that subcommand runs otherwise).
    #[test]
    fn every_subcommand_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}

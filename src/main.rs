//! The `trousseau` command-line interface (see `src/cli/`).

mod cli;

use clap::Parser;

fn main() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("TROUSSEAU_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let parsed = cli::Cli::parse();
    let json = parsed.json;
    match cli::run(parsed) {
        Ok(()) => {}
        Err(cli::CliError(report)) => {
            if json {
                let v = serde_json::json!({ "error": { "code": report.code, "message": report.message } });
                eprintln!("{v}");
            } else {
                // French puts a space before the colon.
                let label = trousseau::Lang::from_env().pick3("code : ", "code: ", "Code: ");
                eprintln!("trousseau: {}\n  ({label}{})", report.message, report.code);
            }
            std::process::exit(1);
        }
    }
}

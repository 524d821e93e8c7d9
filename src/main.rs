//! The `trousseau` command-line interface (see `src/cli/`).

mod cli;

use clap::{CommandFactory, FromArgMatches};
use std::io::{IsTerminal, Write};

/// Log targets of dependencies that print secrets at their most verbose level, with the level they are capped at
/// whatever `TROUSSEAU_LOG` asks: tungstenite's TRACE dumps the WebSocket handshake, `Authorization: Bearer`
/// header (the portal's access token) included.
const SECRET_LOGGING_TARGETS: [&str; 2] = ["tungstenite::handshake=debug", "tungstenite::handshake::client=debug"];

/// `TROUSSEAU_LOG` (default `warn`), with [`SECRET_LOGGING_TARGETS`] capped.
fn log_filter() -> tracing_subscriber::EnvFilter {
    let mut f = tracing_subscriber::EnvFilter::try_from_env("TROUSSEAU_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    for d in SECRET_LOGGING_TARGETS {
        if let Ok(d) = d.parse() {
            f = f.add_directive(d);
        }
    }
    f
}

fn main() {
    // Started as a PKCS#11 module's helper process (src/token/host.rs): serve it, nothing else.
    if let Some(code) = trousseau::token::serve_if_asked() {
        std::process::exit(code);
    }
    if let Ok(exe) = std::env::current_exe() {
        trousseau::token::isolate_modules(exe);
    }
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        // Colour codes only for a person at a terminal: logs captured to a file or a pipe stay plain text.
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(log_filter())
        .init();
    let matches = cli::Cli::command().get_matches();
    // Before anything runs: variables named by --password-env/--pin-env are never passed on to a child process.
    cli::hide_secret_variables(&matches);
    let parsed = cli::Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let json = parsed.json;
    match cli::run(parsed).and_then(|()| cli::flush_out()) {
        Ok(()) => {}
        // The reader of our output stopped (`| head`): end quietly, as a finished command.
        Err(cli::CliError::ClosedOutput) => {}
        Err(cli::CliError::Report(report)) => {
            // Never `eprintln!`: it panics when standard error is itself a closed pipe.
            let mut err = std::io::stderr().lock();
            let _ = if json {
                let v = serde_json::json!({ "error": { "code": report.code, "message": report.message } });
                writeln!(err, "{v}")
            } else {
                // French puts a space before the colon.
                let label = trousseau::Lang::from_env().pick3("code : ", "code: ", "Code: ");
                writeln!(err, "trousseau: {}\n  ({label}{})", report.message, report.code)
            };
            drop(err);
            std::process::exit(1);
        }
    }
}

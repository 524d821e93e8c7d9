//! `trousseau doctor [--json] [--bundle FILE]`: the workstation's chain checked link by link (see
//! `trousseau::doctor`). Exit 1 when a link fails.

use super::{CliError, Ctx};
use trousseau::doctor::{self, CheckStatus, DoctorReport};
use trousseau::Lang;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Also write a support bundle (JSON, personal data removed) to this new file
    #[arg(long, value_name = "FILE")]
    pub bundle: Option<std::path::PathBuf>,
}

pub fn run(a: Args, ctx: &Ctx) -> Result<(), CliError> {
    let report = match &a.bundle {
        Some(path) => doctor::write_bundle(path, ctx.lang)?,
        None => doctor::run(ctx.lang),
    };
    if ctx.json {
        ctx.print_json(&report)?;
    } else {
        out!("{}", render(&report, ctx.lang))?;
        if let Some(path) = &a.bundle {
            outln!(
                "{}",
                ctx.lang.pick3(
                    format!("Paquet de diagnostic écrit : {} (à joindre à votre demande de support).", path.display()),
                    format!("Support bundle written: {} (attach it to your support request).", path.display()),
                    format!("Support-Paket geschrieben: {} (fügen Sie es Ihrer Support-Anfrage bei).", path.display()),
                )
            )?;
        }
    }
    if report.healthy() {
        Ok(())
    } else {
        // The verdicts are printed: exit 1 without an error line.
        super::flush_out()?;
        std::process::exit(1)
    }
}

/// One line per link, its fix indented below.
pub fn render(r: &DoctorReport, lang: Lang) -> String {
    let mut out = String::new();
    for c in &r.checks {
        let mark = match c.status {
            CheckStatus::Ok => "[ok]".to_string(),
            CheckStatus::Warn => "[!]".to_string(),
            CheckStatus::Fail => lang.pick3("[ÉCHEC]", "[FAIL]", "[FEHLER]"),
            CheckStatus::Skip => "[-]".to_string(),
        };
        out.push_str(&format!("{mark:<8} {} — {}\n", c.id, c.message));
        if let Some(fix) = &c.fix {
            out.push_str(&format!("        → {fix}\n"));
        }
    }
    out
}

//! `trousseau cards [--watch] [--json]`: readers and the cards in them, once or as they change.

use super::{CliError, Ctx};
use std::io::Write;
use trousseau::card::{self, CardEvent, CardEventKind, Monitor, ReaderState};
use trousseau::Lang;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Keep running and print one line per event (reader added/removed, card inserted/removed)
    #[arg(long)]
    pub watch: bool,
}

pub fn run(a: Args, ctx: &Ctx) -> Result<(), CliError> {
    if a.watch {
        return watch(ctx);
    }
    let readers = card::list()?;
    if ctx.json {
        return ctx.print_json(&serde_json::json!({ "readers": readers }));
    }
    print!("{}", describe(&readers, ctx.lang));
    Ok(())
}

/// The human listing.
fn describe(readers: &[ReaderState], lang: Lang) -> String {
    if readers.is_empty() {
        return lang.pick(
            "Aucun lecteur de cartes n'est branché : branchez votre lecteur.\n",
            "No card reader is connected: plug in your reader.\n",
        );
    }
    let mut out = String::new();
    for r in readers {
        out.push_str(&format!("{} : {}\n", lang.pick("Lecteur", "Reader"), r.reader));
        match &r.card {
            None => out.push_str(&lang.pick("  aucune carte\n", "  no card\n")),
            Some(c) => {
                out.push_str(&format!("  {} : {} ({})\n", lang.pick("Carte", "Card"), c.name, c.family));
                out.push_str(&format!("  ATR   : {}\n", if c.atr.is_empty() { "—" } else { &c.atr }));
            }
        }
    }
    out
}

/// One event as a human line.
fn describe_event(e: &CardEvent, lang: Lang) -> String {
    let what = match e.kind {
        CardEventKind::ReaderAdded => lang.pick("lecteur branché", "reader connected"),
        CardEventKind::ReaderRemoved => lang.pick("lecteur débranché", "reader disconnected"),
        CardEventKind::CardInserted => lang.pick("carte insérée", "card inserted"),
        CardEventKind::CardRemoved => lang.pick("carte retirée", "card removed"),
    };
    match (&e.name, &e.atr) {
        (Some(name), Some(atr)) => format!("{what} — {} — {name} (ATR {atr})", e.reader),
        _ => format!("{what} — {}", e.reader),
    }
}

/// Prints events as they happen, one line each, flushed at once. Ends when stdout closes.
fn watch(ctx: &Ctx) -> Result<(), CliError> {
    let (monitor, events) = Monitor::start()?;
    let stdout = std::io::stdout();
    for e in events {
        let line = if ctx.json {
            serde_json::to_string(&e).map_err(|err| CliError::new("cli.json", format!("JSON output failed: {err}")))?
        } else {
            describe_event(&e, ctx.lang)
        };
        let mut out = stdout.lock();
        if writeln!(out, "{line}").and_then(|_| out.flush()).is_err() {
            break; // the reader of our output went away
        }
    }
    monitor.stop();
    Ok(())
}

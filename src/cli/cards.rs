//! `trousseau cards [--watch] [--json]`: readers and the cards in them, once or as they change.

use super::{CliError, Ctx};
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
    out!("{}", describe(&readers, ctx.lang))?;
    Ok(())
}

/// The human listing.
fn describe(readers: &[ReaderState], lang: Lang) -> String {
    if readers.is_empty() {
        return lang.pick3(
            "Aucun lecteur de cartes n'est branché : branchez votre lecteur.\n",
            "No card reader is connected: plug in your reader.\n",
            "Kein Kartenleser angeschlossen: schließen Sie Ihren Kartenleser an.\n",
        );
    }
    let mut out = String::new();
    for r in readers {
        out.push_str(&format!("{} : {}\n", lang.pick3("Lecteur", "Reader", "Kartenleser"), r.reader));
        match &r.card {
            None => out.push_str(&lang.pick3("  aucune carte\n", "  no card\n", "  keine Karte\n")),
            Some(c) => {
                out.push_str(&format!("  {} : {} ({})\n", lang.pick3("Carte", "Card", "Karte"), c.name, c.family));
                out.push_str(&format!("  ATR   : {}\n", if c.atr.is_empty() { "—" } else { &c.atr }));
            }
        }
    }
    out
}

/// One event as a human line.
fn describe_event(e: &CardEvent, lang: Lang) -> String {
    let what = match e.kind {
        CardEventKind::ReaderAdded => lang.pick3("lecteur branché", "reader connected", "Kartenleser angeschlossen"),
        CardEventKind::ReaderRemoved => lang.pick3("lecteur débranché", "reader disconnected", "Kartenleser getrennt"),
        CardEventKind::CardInserted => lang.pick3("carte insérée", "card inserted", "Karte eingesteckt"),
        CardEventKind::CardRemoved => lang.pick3("carte retirée", "card removed", "Karte entfernt"),
    };
    match (&e.name, &e.atr) {
        (Some(name), Some(atr)) => format!("{what} — {} — {name} (ATR {atr})", e.reader),
        _ => format!("{what} — {}", e.reader),
    }
}

/// Prints events as they happen, one line each, flushed at once. Ends when stdout closes.
fn watch(ctx: &Ctx) -> Result<(), CliError> {
    let (monitor, events) = Monitor::start()?;
    for e in events {
        let line = if ctx.json {
            serde_json::to_string(&e).map_err(|err| CliError::new("cli.json", format!("JSON output failed: {err}")))?
        } else {
            describe_event(&e, ctx.lang)
        };
        // Through the one writer, flushed at once: a reader that went away ends the watch quietly, any other
        // failure is reported.
        match outln!("{line}").and_then(|()| super::flush_out()) {
            Ok(()) => {}
            Err(CliError::ClosedOutput) => break,
            Err(e) => {
                monitor.stop();
                return Err(e);
            }
        }
    }
    monitor.stop();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::test_support::assert_german;

    #[test]
    fn no_reader_and_card_removed_in_german() {
        assert_german(&describe(&[], Lang::De), &describe(&[], Lang::En));
        assert!(describe(&[], Lang::De).contains("Kartenleser"));
        let removed = CardEvent {
            kind: CardEventKind::CardRemoved,
            reader: "Lecteur 0".into(),
            atr: None,
            family: None,
            name: None,
        };
        assert_eq!(describe_event(&removed, Lang::De), "Karte entfernt — Lecteur 0");
        assert_german(&describe_event(&removed, Lang::De), &describe_event(&removed, Lang::En));
    }
}

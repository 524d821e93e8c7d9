//! `trousseau status [--json]`: the one-screen summary (see `trousseau::status`).

use super::{CliError, Ctx};
use trousseau::Lang;

#[derive(clap::Args, Debug)]
pub struct Args {}

pub fn run(_a: Args, ctx: &Ctx) -> Result<(), CliError> {
    let s = trousseau::status::summary(ctx.lang);
    if ctx.json {
        return ctx.print_json(&s);
    }
    out!("{}", render(&s, ctx.lang))?;
    Ok(())
}

/// The day of an RFC 3339 time (the summary's dates) as the language writes it ([`Lang::date`], the one date
/// formatter); the text itself when it is not a time.
fn date(rfc3339: &str, lang: Lang) -> String {
    time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339)
        .map(|t| lang.date(t.date()))
        .unwrap_or_else(|_| rfc3339.to_string())
}

fn days(n: i32, lang: Lang) -> String {
    match (n, lang) {
        (n, Lang::Fr) if n < 0 => format!("expiré depuis {} jour(s)", -n),
        (n, Lang::De) if n < 0 => format!("seit {} Tag(en) abgelaufen", -n),
        (n, _) if n < 0 => format!("expired {} day(s) ago", -n),
        (0, Lang::Fr) => "expire aujourd'hui".into(),
        (0, Lang::De) => "läuft heute ab".into(),
        (0, _) => "expires today".into(),
        (n, Lang::Fr) => format!("expire dans {n} jour(s)"),
        (n, Lang::De) => format!("läuft in {n} Tag(en) ab"),
        (n, _) => format!("expires in {n} day(s)"),
    }
}

fn render(s: &trousseau::status::Status, lang: Lang) -> String {
    let t = |fr: &str, en: &str, de: &str| lang.pick3(fr, en, de);
    let mut out = String::new();
    let mut line = |l: String| {
        out.push_str(&l);
        out.push('\n');
    };
    let portal_name = s
        .portal
        .name
        .clone()
        .unwrap_or_else(|| t("aucun portail configuré", "no portal configured", "kein Portal konfiguriert"));
    line(match (s.portal.paired, s.portal.connected) {
        (true, true) => format!(
            "{} : ● {} — {portal_name}",
            t("Portail", "Portal", "Portal"),
            t("Connecté", "Connected", "Verbunden")
        ),
        (true, false) => format!(
            "{} : ○ {} — {portal_name} ({})",
            t("Portail", "Portal", "Portal"),
            t("Déconnecté", "Disconnected", "Getrennt"),
            t(
                "lancez « trousseau portal run » ou l'application",
                "start « trousseau portal run » or the app",
                "starten Sie „trousseau portal run“ oder die Anwendung"
            )
        ),
        _ => format!(
            "{} : ○ {} — {portal_name} ({})",
            t("Portail", "Portal", "Portal"),
            t("non associé", "not paired", "nicht gekoppelt"),
            t(
                "associez-le avec « trousseau portal pair URL »",
                "pair it with « trousseau portal pair URL »",
                "koppeln Sie es mit „trousseau portal pair URL“"
            )
        ),
    });
    line(format!("{} :", t("Lecteurs de cartes", "Card readers", "Kartenleser")));
    if s.readers.is_empty() {
        line(format!(
            "  {}",
            t(
                "aucun lecteur détecté — branchez votre lecteur",
                "no reader found — plug in your reader",
                "kein Kartenleser gefunden — schließen Sie Ihren Kartenleser an"
            )
        ));
    }
    for r in &s.readers {
        match &r.card {
            Some(c) => line(format!("  {} : {} ({})", r.name, c.name, c.atr)),
            None => line(format!("  {} : {}", r.name, t("pas de carte", "no card", "keine Karte"))),
        }
    }
    line(format!("{} :", t("Jetons PKCS#11", "PKCS#11 tokens", "PKCS#11-Token")));
    if s.tokens.is_empty() {
        line(format!("  {}", t("aucun", "none", "keine")));
    }
    for tk in &s.tokens {
        line(format!("  {} ({} {}) — {}", tk.label, tk.manufacturer, tk.model, tk.pin_message));
    }
    match s.store_certificates {
        Some(n) => line(format!(
            "{} : {n}",
            t("Certificats dans le magasin", "Certificates in the store", "Zertifikate im Zertifikatsspeicher")
        )),
        None => line(format!(
            "{} : {}",
            t("Certificats dans le magasin", "Certificates in the store", "Zertifikate im Zertifikatsspeicher"),
            t("illisible", "unreadable", "unlesbar")
        )),
    }
    for c in &s.expiring {
        line(format!(
            "  ⚠ {} ({}) — {} ({})",
            c.holder,
            c.issuer_name,
            days(c.days_left, lang),
            date(&c.not_after, lang)
        ));
    }
    line(format!(
        "{} : {}",
        t("Demandes en attente", "Pending requests", "Ausstehende Zertifikatsanforderungen"),
        s.pending.len()
    ));
    for p in &s.pending {
        let deadline = match (&p.deadline, p.days_left) {
            (Some(d), Some(n)) => format!(
                " — {} {} ({})",
                t("à retirer avant le", "withdraw before", "abzurufen vor dem"),
                date(d, lang),
                lang.pick3(format!("{n} jour(s)"), format!("{n} day(s)"), format!("{n} Tag(e)"))
            ),
            _ => String::new(),
        };
        line(format!("  {}{deadline}", p.label));
    }
    for p in &s.problems {
        line(format!("! {} ({})", p.message, p.code));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_follow_the_language() {
        assert_eq!(date("2026-12-31T10:00:00Z", Lang::Fr), "31/12/2026");
        assert_eq!(date("2026-12-31T10:00:00Z", Lang::De), "31.12.2026");
        assert_eq!(date("2026-12-31T10:00:00Z", Lang::En), "2026-12-31");
        assert_eq!(days(12, Lang::Fr), "expire dans 12 jour(s)");
        assert_eq!(days(-3, Lang::En), "expired 3 day(s) ago");
        assert_eq!(days(-3, Lang::De), "seit 3 Tag(en) abgelaufen");
        assert_eq!(days(0, Lang::De), "läuft heute ab");
        assert_eq!(days(12, Lang::De), "läuft in 12 Tag(en) ab");
    }
}

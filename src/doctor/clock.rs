//! The clock, against the portal's and the system's time (certificate checks depend on it).

use super::*;

/// The earliest date this build can run at: a clock before it is certainly wrong.
pub(super) const CLOCK_FLOOR: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z

/// The time the portal's web server gives in its `Date` header (HTTP-date, second precision).
#[cfg(feature = "portal")]
pub(super) fn portal_time(url: &str) -> Option<OffsetDateTime> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
    rt.block_on(async {
        let http = reqwest::Client::builder().timeout(std::time::Duration::from_secs(5)).build().ok()?;
        let resp = http.get(url).send().await.ok()?;
        let date = resp.headers().get("date")?.to_str().ok()?.to_string();
        OffsetDateTime::parse(&date, &time::format_description::well_known::Rfc2822).ok()
    })
}

#[cfg(not(feature = "portal"))]
pub(super) fn portal_time(_url: &str) -> Option<OffsetDateTime> {
    None
}

/// Clock difference from the portal beyond which certificate dates are judged wrongly.
pub(super) const CLOCK_SKEW_MAX: i64 = 300;

pub(super) fn clock(reference: Option<OffsetDateTime>, lang: Lang) -> Check {
    let id = "clock";
    let now = OffsetDateTime::now_utc();
    let fix = || {
        lang.pick3(
            "Réglez la date et l'heure de l'ordinateur (réglage automatique par Internet) : les certificats sont jugés valides ou expirés d'après elles.",
            "Set the computer's date and time (automatic setting from the Internet): certificates are judged valid or expired by them.",
            "Stellen Sie Datum und Uhrzeit des Computers ein (automatisch über das Internet): Danach werden Zertifikate als gültig oder abgelaufen beurteilt.",
        )
    };
    if now.unix_timestamp() < CLOCK_FLOOR {
        let date = lang.date(now.date());
        return check(
            id,
            CheckStatus::Fail,
            lang.pick3(
                format!("L'horloge de l'ordinateur indique le {date} : c'est impossible, elle est fausse."),
                format!("The computer's clock says {date}: that is impossible, it is wrong."),
                format!("Die Uhr des Computers zeigt den {date}: Das ist unmöglich, sie geht falsch."),
            ),
            Some(fix()),
        );
    }
    if let Some(portal) = reference {
        let skew = (now - portal).whole_seconds();
        let minutes = skew.abs() / 60;
        if skew.abs() > CLOCK_SKEW_MAX {
            let (fr, en, de) = if skew > 0 { ("en avance", "ahead", "vor") } else { ("en retard", "behind", "nach") };
            return check(
                id,
                CheckStatus::Fail,
                lang.pick3(
                    format!("L'horloge de l'ordinateur est {fr} de {minutes} minute(s) sur celle du portail."),
                    format!("The computer's clock is {minutes} minute(s) {en} the portal's."),
                    format!("Die Uhr des Computers geht gegenüber der des Portals {minutes} Minute(n) {de}."),
                ),
                Some(fix()),
            );
        }
        return check(
            id,
            CheckStatus::Ok,
            lang.pick3(
                "L'horloge de l'ordinateur est à l'heure du portail.",
                "The computer's clock agrees with the portal's.",
                "Die Uhr des Computers stimmt mit der des Portals überein.",
            ),
            None,
        );
    }
    match ntp_synchronized() {
        Some(false) => check(
            id,
            CheckStatus::Warn,
            lang.pick3(
                "L'horloge de l'ordinateur n'est pas synchronisée automatiquement : elle peut dériver.",
                "The computer's clock is not synchronised automatically: it may drift.",
                "Die Uhr des Computers wird nicht automatisch synchronisiert: Sie kann abweichen.",
            ),
            Some(fix()),
        ),
        _ => check(
            id,
            CheckStatus::Ok,
            lang.pick3(
                "L'horloge de l'ordinateur est plausible.",
                "The computer's clock is plausible.",
                "Die Uhr des Computers ist plausibel.",
            ),
            None,
        ),
    }
}

/// systemd's view of time synchronisation (`timedatectl`), where it exists.
pub(super) fn ntp_synchronized() -> Option<bool> {
    if !cfg!(target_os = "linux") {
        return None;
    }
    let out = crate::child::command("timedatectl")
        .args(["show", "-p", "NTPSynchronized", "--value"])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    match String::from_utf8_lossy(&out.stdout).trim() {
        "yes" => Some(true),
        "no" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_against_the_portal() {
        let now = OffsetDateTime::now_utc();
        assert_eq!(clock(Some(now - time::Duration::seconds(30)), Lang::Fr).status, CheckStatus::Ok);
        let c = clock(Some(now - time::Duration::minutes(20)), Lang::Fr);
        assert_eq!(c.status, CheckStatus::Fail);
        assert!(c.message.contains("en avance de 20 minute(s)"), "{}", c.message);
        let http =
            OffsetDateTime::parse("Fri, 04 Dec 2026 12:58:06 GMT", &time::format_description::well_known::Rfc2822);
        assert!(http.is_ok(), "{http:?}");
    }
}

//! Notifications that are due (certificate expiring, request near its withdrawal deadline, drill overdue), each
//! shown once.

use crate::api::{pending_list, store_list, CertSummary, DrillLast, PendingSummary, EXPIRY_WARNING_DAYS};
use crate::i18n::Lang;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// A notification that is due (certificate expiring at J-30 / J-5, pending request near its deadline).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, TS)]
pub struct Reminder {
    /// Stable key ("cert:<sha256>:30"): each reminder is shown once.
    pub key: String,
    pub title: String,
    pub body: String,
}

/// The reminders due now that were not shown yet (`shown` holds their keys). Expired certificates are not
/// announced again; a certificate is announced at J-30 and again at J-5; a pending request 3 days and 1 day before
/// its withdrawal deadline.
pub fn due_reminders(
    certs: &[CertSummary],
    pending: &[PendingSummary],
    shown: &std::collections::BTreeSet<String>,
    lang: Lang,
) -> Vec<Reminder> {
    let mut out = Vec::new();
    for c in certs.iter().filter(|c| c.has_private_key && c.days_left >= 0) {
        let step = if c.days_left <= 5 {
            5
        } else if c.days_left <= EXPIRY_WARNING_DAYS {
            30
        } else {
            continue;
        };
        let key = format!("cert:{}:{step}", c.sha256);
        if !shown.contains(&key) {
            out.push(Reminder {
                key,
                title: lang.pick3("Certificat bientôt expiré", "Certificate expiring soon", "Zertifikat läuft bald ab"),
                body: lang.pick3(
                    format!(
                        "Le certificat de {} ({}) expire dans {} jour(s) : pensez à le renouveler.",
                        c.holder, c.issuer_name, c.days_left
                    ),
                    format!(
                        "The certificate of {} ({}) expires in {} day(s): remember to renew it.",
                        c.holder, c.issuer_name, c.days_left
                    ),
                    format!(
                        "Das Zertifikat von {} ({}) läuft in {} Tag(en) ab: Denken Sie daran, es zu erneuern.",
                        c.holder, c.issuer_name, c.days_left
                    ),
                ),
            });
        }
    }
    for p in pending {
        let Some(days) = p.days_left.filter(|d| *d >= 0) else { continue };
        let step = if days <= 1 {
            1
        } else if days <= 3 {
            3
        } else {
            continue;
        };
        let key = format!("pending:{}:{step}", p.id);
        if !shown.contains(&key) {
            out.push(Reminder {
                key,
                title: lang.pick3("Certificat à retirer", "Certificate to withdraw", "Zertifikat abholen"),
                body: lang.pick3(
                    format!(
                        "{} : plus que {days} jour(s) pour retirer le certificat, sinon la demande est perdue.",
                        p.label
                    ),
                    format!(
                        "{}: only {days} day(s) left to withdraw the certificate, or the request is lost.",
                        p.label
                    ),
                    format!(
                        "{}: nur noch {days} Tag(e), um das Zertifikat abzuholen, sonst verfällt die Anforderung.",
                        p.label
                    ),
                ),
            });
        }
    }
    out
}

/// The drill reminder: when paired and the last drill (if any) is older than `every_days` (0: never). Keyed by the
/// last drill's date, so one reminder per overdue drill.
pub fn due_drill_reminder(
    paired: bool,
    last: Option<&DrillLast>,
    every_days: u32,
    now: time::OffsetDateTime,
    shown: &std::collections::BTreeSet<String>,
    lang: Lang,
) -> Option<Reminder> {
    if !paired || every_days == 0 {
        return None;
    }
    let last_at = last
        .and_then(|l| time::OffsetDateTime::parse(&l.checked_at, &time::format_description::well_known::Rfc3339).ok());
    if last_at.is_some_and(|t| (now - t).whole_days() < i64::from(every_days)) {
        return None;
    }
    let key = format!("drill:{}", last.map(|l| l.checked_at.as_str()).unwrap_or("never"));
    if shown.contains(&key) {
        return None;
    }
    Some(Reminder {
        key,
        title: lang.pick3("Exercice des bi-clés", "Bi-clé drill", "Übung der Schlüsselpaare"),
        body: lang.pick3(
            "Vérifiez que vos bi-clés (personnel et de secours) ouvrent toujours les plis : Bi-clés → « Tester mes bi-clés ».",
            "Check that your bi-clés (personal and backup) still open envelopes: Bi-clés → \"Test my bi-clés\".",
            "Prüfen Sie, ob Ihre Schlüsselpaare (persönlich und Ersatz) Umschläge noch öffnen: Schlüsselpaare → „Meine Schlüsselpaare testen“.",
        ),
    })
}

/// The reminders due now, recorded as shown (`<data>/reminders.json`) so that each appears once.
pub fn take_due_reminders(lang: Lang) -> Vec<Reminder> {
    let Ok(dir) = crate::paths::data_dir() else { return Vec::new() };
    let path = dir.join("reminders.json");
    let mut shown: std::collections::BTreeSet<String> =
        std::fs::read(&path).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default();
    let certs = store_list((), lang).unwrap_or_default();
    let pending = pending_list((), lang).unwrap_or_default();
    #[cfg_attr(not(feature = "portal"), allow(unused_mut))]
    let mut due = due_reminders(&certs, &pending, &shown, lang);
    #[cfg(feature = "portal")]
    {
        let paired = crate::portal::current_pairing().ok().flatten().is_some();
        let every = crate::settings::load_settings().map(|s| s.drill_reminder_days).unwrap_or(30);
        let last = crate::api::drill_last();
        due.extend(due_drill_reminder(paired, last.as_ref(), every, time::OffsetDateTime::now_utc(), &shown, lang));
    }
    if !due.is_empty() {
        shown.extend(due.iter().map(|r| r.key.clone()));
        if let Ok(json) = serde_json::to_vec(&shown) {
            // Best effort: a reminder not recorded is shown again, nothing worse.
            let _ = crate::fsutil::write_atomic(&path, &json, crate::fsutil::Access::Private);
        }
    }
    due
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn cert(days_left: i32) -> CertSummary {
        CertSummary {
            holder: "Agent".into(),
            issuer_name: "LuxTrust Global Qualified CA 3".into(),
            subject: "CN=Agent".into(),
            issuer: "CN=LuxTrust Global Qualified CA 3".into(),
            serial: "01".into(),
            not_before: "2025-01-01T00:00:00Z".into(),
            not_after: "2027-01-01T00:00:00Z".into(),
            days_left,
            sha256: "ab".repeat(32),
            key_usage: vec![],
            ext_key_usage: vec![],
            encryption_capable: true,
            is_ca: false,
            has_private_key: true,
        }
    }

    #[test]
    fn the_drill_reminder_comes_when_the_last_drill_is_older_than_the_setting_once() {
        let now = time::macros::datetime!(2026-12-04 10:00 UTC);
        let mut shown = std::collections::BTreeSet::new();
        let last = |d: &str| DrillLast { checked_at: d.into(), bicles: 2, opened: 2, all_open: true };
        // not paired, or switched off: never
        assert!(due_drill_reminder(false, None, 30, now, &shown, Lang::Fr).is_none());
        assert!(due_drill_reminder(true, None, 0, now, &shown, Lang::Fr).is_none());
        // never ran: due
        let r = due_drill_reminder(true, None, 30, now, &shown, Lang::Fr).unwrap();
        assert_eq!(r.key, "drill:never");
        assert!(r.body.contains("Tester mes bi-clés"), "{}", r.body);
        // ran 29 days ago: not yet; 30 days ago: due, once
        assert!(due_drill_reminder(true, Some(&last("2026-11-05T10:00:00Z")), 30, now, &shown, Lang::Fr).is_none());
        let r = due_drill_reminder(true, Some(&last("2026-11-04T10:00:00Z")), 30, now, &shown, Lang::De).unwrap();
        assert!(r.title.contains("Übung"));
        shown.insert(r.key);
        assert!(due_drill_reminder(true, Some(&last("2026-11-04T10:00:00Z")), 30, now, &shown, Lang::Fr).is_none());
    }

    #[test]
    fn reminders_at_j30_and_j5_once_each() {
        let mut shown = std::collections::BTreeSet::new();
        assert!(due_reminders(&[cert(31)], &[], &shown, Lang::Fr).is_empty());
        let r = due_reminders(&[cert(30)], &[], &shown, Lang::Fr);
        assert_eq!(r.len(), 1);
        assert!(r[0].body.contains("expire dans 30 jour(s)"), "{}", r[0].body);
        shown.insert(r[0].key.clone());
        assert!(due_reminders(&[cert(12)], &[], &shown, Lang::Fr).is_empty(), "J-30 is shown once");
        let r = due_reminders(&[cert(5)], &[], &shown, Lang::En);
        assert_eq!(r.len(), 1, "J-5 comes again");
        assert!(due_reminders(&[cert(-1)], &[], &shown, Lang::Fr).is_empty(), "expired: no reminder");
        let p = PendingSummary {
            id: "abc".into(),
            label: "IGC-Santé PS — AUTH".into(),
            created: "2026-11-20T00:00:00Z".into(),
            deadline: Some("2026-11-30T00:00:00Z".into()),
            days_left: Some(2),
        };
        let r = due_reminders(&[], &[p], &shown, Lang::Fr);
        assert_eq!(r[0].key, "pending:abc:3");
        assert!(r[0].body.contains("plus que 2 jour(s)"));
    }
}

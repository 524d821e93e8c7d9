//! The backup-key drill: a test envelope to every registered bi-clé, opened with each key this workstation holds.

use super::*;

/// When the backup-key drill last ran here and what it found.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, TS)]
pub struct DrillLast {
    /// RFC 3339 UTC.
    pub checked_at: String,
    pub bicles: u32,
    pub opened: u32,
    pub all_open: bool,
}

/// The last drill's summary, as the dashboard shows it.
pub fn drill_last() -> Option<DrillLast> {
    #[cfg(all(feature = "portal", feature = "software-keys"))]
    {
        crate::envelope::drill::last().map(|d| DrillLast {
            checked_at: d.checked_at,
            bicles: u32::try_from(d.bicles).unwrap_or(u32::MAX),
            opened: u32::try_from(d.opened).unwrap_or(u32::MAX),
            all_open: d.all_open,
        })
    }
    #[cfg(not(all(feature = "portal", feature = "software-keys")))]
    {
        None
    }
}

/// Run the backup-key drill (the PIN is used only if a bi-clé's key is on a card).
#[derive(Debug, Clone, Default, Serialize, Deserialize, TS)]
pub struct DrillRequest {
    #[ts(type = "string | null")]
    pub pin: Option<password::Password>,
}

/// What the drill found for one bi-clé (the drill's `Outcome`, as the window receives it).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, TS)]
#[serde(rename_all = "snake_case")]
pub enum DrillOutcome {
    /// The key here opened the test envelope.
    Opens,
    /// No key of this workstation for it: the card that holds it is not inserted (or it lives elsewhere).
    KeyAbsent,
    /// The certificate expired.
    Expired,
    /// The portal lists it as removed (or waiting for removal).
    RemovedOnPortal,
    /// The key was found but the test failed: see `error`.
    Failed,
}

#[cfg(all(feature = "portal", feature = "software-keys"))]
impl From<crate::envelope::drill::Outcome> for DrillOutcome {
    fn from(o: crate::envelope::drill::Outcome) -> Self {
        use crate::envelope::drill::Outcome as O;
        match o {
            O::Opens => DrillOutcome::Opens,
            O::KeyAbsent => DrillOutcome::KeyAbsent,
            O::Expired => DrillOutcome::Expired,
            O::RemovedOnPortal => DrillOutcome::RemovedOnPortal,
            O::Failed => DrillOutcome::Failed,
        }
    }
}

/// One bi-clé's verdict in the drill.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, TS)]
pub struct DrillRowView {
    pub id: i32,
    pub kind: BicleKind,
    pub designation: String,
    pub outcome: DrillOutcome,
    pub reachable: Reachable,
    pub token: Option<String>,
    pub error: Option<ApiError>,
}

/// The drill's result.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, TS)]
pub struct DrillView {
    pub rows: Vec<DrillRowView>,
    pub last: DrillLast,
}

/// The window's PIN source for a key on a card: the PIN the request carries, else the reader's PIN pad when it has
/// one; without either, an error naming the card (the window then asks for the PIN).
#[cfg(feature = "software-keys")]
pub(super) fn card_pin(
    pin: &Option<password::Password>,
) -> impl FnMut(&crate::token::Token) -> Result<Option<crate::token::Pin>, crate::envelope::EnvelopeError> + '_ {
    move |t| match pin {
        Some(p) => Ok(Some(pin_of(p))),
        None if t.uses_pin_pad(false) => Ok(None),
        None => Err(crate::envelope::EnvelopeError::Pin { detail: format!("« {} »", t.label) }),
    }
}

gated! { all(feature = "portal", feature = "software-keys"), "portal";
    /// The backup-key drill: a test envelope to every registered bi-clé, opened with each key this workstation holds.
    pub fn portal_drill(req: DrillRequest, lang: Lang) -> Result<DrillView, ApiError> {
        let s = session(lang)?;
        let bicles = block_on(lang, s.list_bicles())?.map_err(|e| ApiError::from_coded(&e, lang))?;
        let mut source = card_pin(&req.pin);
        let report = crate::envelope::drill::run(&bicles, &mut source, lang).map_err(|e| ApiError::from_coded(&e, lang))?;
        Ok(DrillView {
            rows: report
                .rows
                .into_iter()
                .map(|r| DrillRowView {
                    id: r.id.clamp(i32::MIN as i64, i32::MAX as i64) as i32,
                    kind: r.kind.into(),
                    designation: r.designation,
                    outcome: r.outcome.into(),
                    reachable: r.reachable.into(),
                    token: r.token,
                    error: r.error.map(|e| ApiError { code: e.code, message: e.message }),
                })
                .collect(),
            last: drill_last().unwrap_or(DrillLast {
                checked_at: report.summary.checked_at,
                bicles: u32::try_from(report.summary.bicles).unwrap_or(u32::MAX),
                opened: u32::try_from(report.summary.opened).unwrap_or(u32::MAX),
                all_open: report.summary.all_open,
            }),
        })
    }
}

//! What the tray shows (icon and state lines).

use super::*;

/// Which tray icon shows the state.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, TS)]
#[serde(rename_all = "kebab-case")]
pub enum TrayIcon {
    Connected,
    Disconnected,
    CardInserted,
}

/// What the tray shows: Linux delivers no tray clicks or tooltips, so the state lives in the icon and the first
/// (disabled) menu lines.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, TS)]
pub struct TrayView {
    pub icon: TrayIcon,
    /// "● Connecté — PMP" / "○ Déconnecté".
    pub portal_line: String,
    /// "Carte insérée : LuxTrust …" / "Aucune carte".
    pub card_line: String,
}

/// The tray's icon and state lines for this portal state and these readers, in `lang`.
pub fn tray_view(portal: &PortalState, readers: &[ReaderState], lang: Lang) -> TrayView {
    let portal_line = match (portal.connected, &portal.name) {
        (true, Some(name)) => match lang {
            Lang::Fr => format!("● Connecté — {name}"),
            Lang::En => format!("● Connected — {name}"),
            Lang::De => format!("● Verbunden — {name}"),
        },
        (true, None) => tr(lang, "● Connecté", "● Connected", "● Verbunden"),
        (false, _) => tr(lang, "○ Déconnecté", "○ Disconnected", "○ Getrennt"),
    };
    let card = readers.iter().find_map(|r| r.card.as_ref());
    let card_line = match card {
        Some(c) => match lang {
            Lang::Fr => format!("Carte insérée : {}", c.name),
            Lang::En => format!("Card inserted: {}", c.name),
            Lang::De => format!("Karte eingesteckt: {}", c.name),
        },
        None => tr(lang, "Aucune carte", "No card", "Keine Karte"),
    };
    let icon = if portal.connected {
        TrayIcon::Connected
    } else if card.is_some() {
        TrayIcon::CardInserted
    } else {
        TrayIcon::Disconnected
    };
    TrayView { icon, portal_line, card_line }
}

pub(super) fn tr(lang: Lang, fr: &str, en: &str, de: &str) -> String {
    match lang {
        Lang::Fr => fr,
        Lang::En => en,
        Lang::De => de,
    }
    .to_string()
}

//! The tray: icon and first menu lines show the state (portal Connecté/Déconnecté, card), the menu opens the window,
//! starts pairing, or quits. Menu items are created once and their text updated in place.

use tauri::image::Image;
use tauri::menu::{Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Emitter, Manager};
use trousseau::api::{PortalState, ReaderState, TrayIcon, TrayView};
use trousseau::Lang;

const TRAY_ID: &str = "trousseau";
const ICON_CONNECTED: &[u8] = include_bytes!("../../icons/tray-connected.png");
const ICON_DISCONNECTED: &[u8] = include_bytes!("../../icons/tray-disconnected.png");
const ICON_CARD: &[u8] = include_bytes!("../../icons/tray-card.png");

/// The menu items whose text changes.
pub struct TrayItems {
    pub portal: MenuItem<tauri::Wry>,
    pub card: MenuItem<tauri::Wry>,
    pub open: MenuItem<tauri::Wry>,
    pub pair: MenuItem<tauri::Wry>,
    pub quit: MenuItem<tauri::Wry>,
}

fn icon(kind: TrayIcon) -> tauri::Result<Image<'static>> {
    Image::from_bytes(match kind {
        TrayIcon::Connected => ICON_CONNECTED,
        TrayIcon::Disconnected => ICON_DISCONNECTED,
        TrayIcon::CardInserted => ICON_CARD,
    })
}

/// The labels of the action items in `lang`: open, pair, quit.
pub fn action_labels(lang: Lang) -> [&'static str; 3] {
    match lang {
        Lang::Fr => ["Ouvrir Trousseau", "Associer au portail…", "Quitter"],
        Lang::En => ["Open Trousseau", "Pair with the portal…", "Quit"],
        Lang::De => ["Trousseau öffnen", "Mit dem Portal koppeln…", "Beenden"],
    }
}

/// Creates the tray icon and its menu.
pub fn create(app: &AppHandle) -> tauri::Result<()> {
    let lang = crate::current_lang();
    let [open, pair, quit] = action_labels(lang);
    let items = TrayItems {
        portal: MenuItem::with_id(app, "state-portal", "○", false, None::<&str>)?,
        card: MenuItem::with_id(app, "state-card", "", false, None::<&str>)?,
        open: MenuItem::with_id(app, "open", open, true, None::<&str>)?,
        pair: MenuItem::with_id(app, "pair", pair, true, None::<&str>)?,
        quit: MenuItem::with_id(app, "quit", quit, true, None::<&str>)?,
    };
    let menu = Menu::with_items(
        app,
        &[
            &items.portal,
            &items.card,
            &PredefinedMenuItem::separator(app)?,
            &items.open,
            &items.pair,
            &PredefinedMenuItem::separator(app)?,
            &items.quit,
        ],
    )?;
    TrayIconBuilder::with_id(TRAY_ID)
        .icon(icon(TrayIcon::Disconnected)?)
        .tooltip("Trousseau")
        .menu(&menu)
        .show_menu_on_left_click(true)
        .on_menu_event(|app, event| match event.id().as_ref() {
            "open" => crate::show_window(app),
            "pair" => {
                crate::show_window(app);
                let _ = app.emit("navigate", "bicles");
            }
            "quit" => app.exit(0),
            _ => {}
        })
        .build(app)?;
    app.manage(items);
    Ok(())
}

/// Shows `view` in the tray: icon, state lines, and the action labels in the current language.
pub fn show(app: &AppHandle, view: &TrayView) {
    if let Some(tray) = app.tray_by_id(TRAY_ID) {
        if let Ok(img) = icon(view.icon) {
            let _ = tray.set_icon(Some(img));
        }
        let _ = tray.set_tooltip(Some(format!("Trousseau — {}", view.portal_line)));
    }
    if let Some(items) = app.try_state::<TrayItems>() {
        let _ = items.portal.set_text(&view.portal_line);
        let _ = items.card.set_text(&view.card_line);
        let [open, pair, quit] = action_labels(crate::current_lang());
        let _ = items.open.set_text(open);
        let _ = items.pair.set_text(pair);
        let _ = items.quit.set_text(quit);
    }
}

/// Texts of the tray's current state lines (for tests and the window's status bar).
pub fn current_lines(app: &AppHandle) -> Option<(String, String)> {
    let items = app.try_state::<TrayItems>()?;
    Some((items.portal.text().ok()?, items.card.text().ok()?))
}

/// The notification for a portal connection change.
pub fn portal_note(p: &PortalState, lang: Lang) -> (String, String) {
    let name = p.name.clone().unwrap_or_else(|| lang.pick3("portail", "portal", "Portal"));
    if p.connected {
        (
            lang.pick3("Trousseau est connecté", "Trousseau is connected", "Trousseau ist verbunden"),
            lang.pick3(
                format!("Le portail {name} voit votre assistant : « Connecté »."),
                format!("The portal {name} sees your assistant: “Connected”."),
                format!("Das Portal {name} sieht Ihren Assistenten: „Verbunden“."),
            ),
        )
    } else {
        (
            lang.pick3("Trousseau est déconnecté", "Trousseau is disconnected", "Trousseau ist getrennt"),
            lang.pick3(
                format!("La liaison avec {name} est coupée ; Trousseau réessaie automatiquement. Vérifiez votre connexion Internet."),
                format!("The link with {name} is down; Trousseau retries automatically. Check your Internet connection."),
                format!("Die Verbindung zu {name} ist unterbrochen; Trousseau versucht es automatisch erneut. Prüfen Sie Ihre Internetverbindung."),
            ),
        )
    }
}

/// Notifications for cards inserted or removed between `before` and `after`.
pub fn card_notes(before: &[ReaderState], after: &[ReaderState], lang: Lang) -> Vec<(String, String)> {
    let mut notes = Vec::new();
    for r in after {
        let was = before.iter().find(|b| b.name == r.name).and_then(|b| b.card.as_ref());
        match (was, &r.card) {
            (None, Some(c)) => notes.push((
                lang.pick3("Carte insérée", "Card inserted", "Karte eingesteckt"),
                lang.pick3(
                    format!("{} dans {}", c.name, r.name),
                    format!("{} in {}", c.name, r.name),
                    format!("{} in {}", c.name, r.name),
                ),
            )),
            (Some(c), None) => notes.push((
                lang.pick3("Carte retirée", "Card removed", "Karte entfernt"),
                lang.pick3(
                    format!("{} retirée de {}", c.name, r.name),
                    format!("{} removed from {}", c.name, r.name),
                    format!("{} aus {} entfernt", c.name, r.name),
                ),
            )),
            _ => {}
        }
    }
    notes
}

/// Shows a desktop notification (silently skipped where no notification service runs).
pub fn notify(app: &AppHandle, title: &str, body: &str) {
    use tauri_plugin_notification::NotificationExt;
    if let Err(e) = app.notification().builder().title(title).body(body).show() {
        log::info!("notification not shown ({e}): {title}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use trousseau::api::CardState;

    #[test]
    fn notifications_speak_the_users_language() {
        let portal = PortalState { name: Some("PMP".into()), url: None, paired: true, connected: true };
        assert_eq!(portal_note(&portal, Lang::De).0, "Trousseau ist verbunden");
        assert_eq!(portal_note(&portal, Lang::De).1, "Das Portal PMP sieht Ihren Assistenten: „Verbunden“.");
        assert_eq!(portal_note(&portal, Lang::Fr).0, "Trousseau est connecté");
        let down = PortalState { connected: false, ..portal };
        assert_eq!(portal_note(&down, Lang::De).0, "Trousseau ist getrennt");
        assert_eq!(portal_note(&down, Lang::En).0, "Trousseau is disconnected");

        let empty = vec![ReaderState { name: "Reader 0".into(), card: None }];
        let card =
            CardState { atr: "3B".into(), family: trousseau::api::CardFamily::Luxtrust, name: "LuxTrust".into() };
        let full = vec![ReaderState { name: "Reader 0".into(), card: Some(card) }];
        assert_eq!(
            card_notes(&empty, &full, Lang::De),
            vec![("Karte eingesteckt".into(), "LuxTrust in Reader 0".into())]
        );
        assert_eq!(
            card_notes(&full, &empty, Lang::De),
            vec![("Karte entfernt".into(), "LuxTrust aus Reader 0 entfernt".into())]
        );
        assert_eq!(
            card_notes(&full, &empty, Lang::Fr),
            vec![("Carte retirée".into(), "LuxTrust retirée de Reader 0".into())]
        );
        assert!(card_notes(&full, &full, Lang::De).is_empty());
    }
}

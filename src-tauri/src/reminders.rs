//! Reminders as desktop notifications: certificates expiring (J-30, J-5) and pending requests near their
//! withdrawal deadline. Checked at start, whenever the window is opened, and twice a day (deadlines are counted in
//! days: no need for more). Each reminder is shown once (the core records them).

use std::time::Duration;
use tauri::AppHandle;

/// Shows the reminders due now.
pub fn check_now(app: &AppHandle) {
    if !trousseau::api::load_settings().map(|s| s.notifications).unwrap_or(true) {
        return;
    }
    for r in trousseau::api::take_due_reminders(crate::current_lang()) {
        crate::tray::notify(app, &r.title, &r.body);
    }
}

/// Starts the reminder thread.
pub fn start(app: &AppHandle) {
    let app = app.clone();
    let spawned = std::thread::Builder::new().name("trousseau-reminders".into()).spawn(move || loop {
        check_now(&app);
        std::thread::sleep(Duration::from_secs(12 * 3600));
    });
    if let Err(e) = spawned {
        log::warn!("reminders not started: {e}");
    }
}

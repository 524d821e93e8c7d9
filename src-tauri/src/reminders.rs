//! Reminders as desktop notifications: certificates expiring (J-30, J-5) and pending requests near their
//! withdrawal deadline. Checked at start, whenever the window is opened, and twice a day (deadlines are counted in
//! days: no need for more). Each reminder is shown once (the core records them).

use std::sync::Mutex;
use std::time::Duration;
use tauri::AppHandle;

/// One check at a time: the start-up check and the window's run together when the app starts with its window, and
/// both would read `reminders.json` before either records what it showed (the same reminder sent twice).
static CHECKING: Mutex<()> = Mutex::new(());

/// Shows the reminders due now.
pub fn check_now(app: &AppHandle) {
    let _one_at_a_time = CHECKING.lock().unwrap_or_else(|e| e.into_inner());
    if !trousseau::api::load_settings().map(|s| s.notifications).unwrap_or(true) {
        log::info!("reminders: notifications are off");
        return;
    }
    let due = trousseau::api::take_due_reminders(crate::current_lang());
    for r in &due {
        crate::tray::notify(app, &r.title, &r.body);
    }
    // Scripts (scripts/checks/desktop-notifications.sh) wait for this line: the check at start is done.
    log::info!("reminders: {} shown", due.len());
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

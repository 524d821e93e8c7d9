//! The window's commands: one `#[tauri::command]` per entry of the core's command list (`trousseau::with_commands!`),
//! each running the core handler on a blocking thread. They take no Tauri state, so tests call them directly,
//! headless. Shell-only commands (tray, deep links) follow.

use tauri::{AppHandle, Manager};
use trousseau::api::{ApiError, TrayView};

fn join_error(lang: trousseau::Lang) -> ApiError {
    ApiError {
        code: "desktop.task".into(),
        message: lang.pick3(
            "L'opération s'est interrompue de façon inattendue. Réessayez ; si cela se reproduit, redémarrez Trousseau.",
            "The operation stopped unexpectedly. Try again; if it happens again, restart Trousseau.",
            "Der Vorgang wurde unerwartet unterbrochen. Versuchen Sie es erneut; wenn es wieder vorkommt, starten Sie Trousseau neu.",
        ),
    }
}

macro_rules! tauri_commands {
    ($($name:ident : $req:ty => $res:ty;)*) => {
        $(
            #[doc = concat!("`", stringify!($name), "`: see `trousseau::api::", stringify!($name), "`.")]
            #[tauri::command]
            pub async fn $name(req: $req, lang: String) -> Result<$res, ApiError> {
                let lang = trousseau::api::lang_of(&lang);
                tauri::async_runtime::spawn_blocking(move || trousseau::api::$name(req, lang))
                    .await
                    .map_err(|_| join_error(lang))?
            }
        )*

        /// The invoke handler of every command (core list + shell commands).
        pub fn handler() -> impl Fn(tauri::ipc::Invoke<tauri::Wry>) -> bool + Send + Sync + 'static {
            tauri::generate_handler![$($name,)* shell_tray_state, shell_tray_lines, shell_take_link, shell_settings_changed, shell_portal_connect]
        }
    };
}
trousseau::with_commands!(tauri_commands);

/// The tray's current view (the window shows the same state in its header).
#[tauri::command]
pub fn shell_tray_state(app: AppHandle) -> TrayView {
    let shell = app.state::<crate::ShellState>();
    let portal = shell.portal.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let readers = shell.readers.lock().unwrap_or_else(|e| e.into_inner()).clone();
    trousseau::api::tray_view(&portal, &readers, crate::current_lang())
}

/// The text of the tray menu's two state lines, read back from the menu items themselves (tests, support).
#[tauri::command]
pub fn shell_tray_lines(app: AppHandle) -> Option<(String, String)> {
    crate::tray::current_lines(&app)
}

/// (Re)connects the portal channel, e.g. right after pairing.
#[tauri::command]
pub fn shell_portal_connect(app: AppHandle) {
    crate::portal::start(&app);
}

/// A `trousseau://` link that arrived before the page was ready (taken once).
#[tauri::command]
pub fn shell_take_link(app: AppHandle) -> Option<String> {
    app.state::<crate::PendingLink>().0.lock().ok().and_then(|mut l| l.take())
}

/// The settings changed: redraw the tray in the new language and apply "launch at login".
#[tauri::command]
pub fn shell_settings_changed(app: AppHandle) -> Result<(), ApiError> {
    let lang = crate::current_lang();
    // Card names are said in the user's language (an unknown card, the eID): list them again in the new one.
    crate::apply_state(&app, None, trousseau::api::cards_list((), lang).ok());
    let wanted = trousseau::api::load_settings().map(|s| s.autostart).unwrap_or(false);
    crate::set_autostart(&app, wanted).map_err(|detail| ApiError {
        code: "desktop.autostart".into(),
        message: lang.pick3(
            format!("Le lancement à l'ouverture de session n'a pas pu être modifié ({detail}). Réessayez, ou ajoutez Trousseau vous-même aux applications de démarrage."),
            format!("Launch at login could not be changed ({detail}). Try again, or add Trousseau to your startup applications yourself."),
            format!("Der Start bei der Anmeldung konnte nicht geändert werden ({detail}). Versuchen Sie es erneut oder fügen Sie Trousseau selbst zu Ihren Autostart-Anwendungen hinzu."),
        ),
    })
}

#[cfg(test)]
mod tests {
    //! The commands run headless: called directly, without a window, an event loop or a display.
    use super::*;
    use trousseau::api::{PasswordCheckRequest, PasswordPolicy};

    static ENV: std::sync::Mutex<()> = std::sync::Mutex::new(());

    fn home() -> (tempfile::TempDir, std::sync::MutexGuard<'static, ()>) {
        let guard = ENV.lock().unwrap_or_else(|e| e.into_inner());
        let dir = tempfile::tempdir().expect("tempdir");
        // nextest runs every test in its own process, so the environment is this test's alone.
        std::env::set_var("TROUSSEAU_HOME", dir.path().join("home"));
        std::env::set_var("TROUSSEAU_NSSDB", dir.path().join("nssdb"));
        (dir, guard)
    }

    #[test]
    fn commands_run_headless() {
        let _home = home();
        let caps = tauri::async_runtime::block_on(capabilities((), "fr".into())).expect("capabilities");
        assert!(caps.password && caps.store);
        let d = tauri::async_runtime::block_on(dashboard((), "fr".into())).expect("dashboard");
        assert!(!d.portal.connected);
        assert_eq!(d.portal.url.as_deref(), Some(trousseau::api::SANDBOX_URL));
        let r = tauri::async_runtime::block_on(password_check(
            PasswordCheckRequest {
                password: "Tr0ub4dour&3-cheval-agrafe".into(),
                policy: PasswordPolicy::IgcSante,
                user_inputs: vec![],
            },
            "en".into(),
        ))
        .expect("password_check");
        assert!(r.accepted, "{r:?}");
    }

    #[test]
    fn settings_round_trip_and_bad_portal_url_is_refused_in_french() {
        let _home = home();
        let mut s = tauri::async_runtime::block_on(settings_get((), "fr".into())).expect("defaults");
        assert!(!s.autostart, "autostart is off by default");
        s.lang = "de".into();
        tauri::async_runtime::block_on(settings_set(s.clone(), "fr".into())).expect("saved");
        assert_eq!(tauri::async_runtime::block_on(settings_get((), "fr".into())).unwrap().lang, "de");
        s.portals[0].url = "http://portal.example".into();
        let e = tauri::async_runtime::block_on(settings_set(s, "fr".into())).unwrap_err();
        assert_eq!(e.code, "settings.invalid");
        assert!(e.message.contains("Réglage refusé"), "{}", e.message);
    }

    #[test]
    fn typescript_bindings_are_current() {
        let committed = include_str!("../../ui/src/bindings.ts");
        assert!(
            committed == trousseau::api::typescript_bindings(),
            "ui/src/bindings.ts is stale: run `target/debug/trousseau-desktop --write-bindings ui/src/bindings.ts`"
        );
    }
}

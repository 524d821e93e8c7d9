//! Trousseau's desktop shell: the tray, the window and the commands that translate UI calls into core calls.
//!
//! The shell stays thin. Commands come from the one list in the core (`trousseau::with_commands!`), each run on a
//! blocking thread so the window never freezes. The assistant lives in the tray all day: closing the window destroys
//! its webview (memory goes back to the system) and the app keeps running; "Ouvrir Trousseau" recreates it.
//! Linux trays deliver neither clicks nor tooltips, so the state is shown by the icon and by the first, disabled
//! menu lines, whose text is updated in place (a Linux tray menu cannot be replaced once set).
//!
//! No unsafe code, with one exception: [`memory`] calls glibc's `malloc_trim` and `madvise` (no safe wrapper exists
//! in `libc` or `std`) to give a closed window's memory back; each of those functions carries its own
//! `#[allow(unsafe_code)]` and a `// SAFETY:` comment.

#![deny(unsafe_code)]

pub mod commands;
pub mod memory;
pub mod portal;
pub mod reminders;
pub mod tray;

use std::sync::Mutex;
use tauri::{AppHandle, Emitter, Manager, RunEvent, WebviewUrl, WebviewWindowBuilder};
use trousseau::api::{PortalState, ReaderState};
use trousseau::Lang;

/// Label of the one main window.
pub const MAIN_WINDOW: &str = "main";

/// What the shell remembers between events: the last known portal and card state, to notify on changes only.
pub struct ShellState {
    pub portal: Mutex<PortalState>,
    pub readers: Mutex<Vec<ReaderState>>,
}

/// The window's language, from the settings (French when unset).
pub fn current_lang() -> Lang {
    trousseau::api::load_settings().ok().and_then(|s| Lang::parse(&s.lang)).unwrap_or_default()
}

/// Shows the main window, creating it (and its webview) when it was closed.
pub fn show_window(app: &AppHandle) {
    if let Some(w) = app.get_webview_window(MAIN_WINDOW) {
        let _ = w.unminimize();
        let _ = w.show();
        let _ = w.set_focus();
        return;
    }
    let built = WebviewWindowBuilder::new(app, MAIN_WINDOW, WebviewUrl::App("index.html".into()))
        .title("Trousseau")
        .inner_size(1120.0, 780.0)
        .min_inner_size(560.0, 420.0)
        .build();
    match built {
        Ok(w) => {
            let handle = app.clone();
            let _ = std::thread::Builder::new()
                .name("trousseau-reminders-now".into())
                .spawn(move || reminders::check_now(&handle));
            let handle = app.clone();
            w.on_window_event(move |event| {
                if let tauri::WindowEvent::Destroyed = event {
                    // Let WebKit finish tearing the webview down, then give the memory back.
                    release_memory_later(&handle, std::time::Duration::from_secs(2));
                }
            });
        }
        Err(e) => log::error!("cannot open the window: {e}"),
    }
}

/// Gives memory back (memory.rs) after `delay`, unless the window is open by then (its new WebKit network process
/// must live, and its pages are in use).
fn release_memory_later(app: &AppHandle, delay: std::time::Duration) {
    let handle = app.clone();
    let _ = std::thread::Builder::new().name("trousseau-release".into()).spawn(move || {
        std::thread::sleep(delay);
        if handle.get_webview_window(MAIN_WINDOW).is_none() {
            memory::release_after_window_closed();
        }
    });
}

/// Shows the window on the page for a `trousseau://…` link (pairing from the portal page).
pub fn open_deep_link(app: &AppHandle, url: &str) {
    if !url.starts_with("trousseau://") {
        return;
    }
    show_window(app);
    // The page may still be loading: it also asks for the pending link when it starts (`shell_take_link`).
    if let Ok(mut pending) = app.state::<PendingLink>().0.lock() {
        *pending = Some(url.to_string());
    }
    let _ = app.emit("deep-link", url.to_string());
}

/// A deep link received before the page was ready.
#[derive(Default)]
pub struct PendingLink(pub Mutex<Option<String>>);

/// Applies a new portal or card state: tray icon and lines, an event for the window, a notification on change.
pub fn apply_state(app: &AppHandle, portal: Option<PortalState>, readers: Option<Vec<ReaderState>>) {
    let shell = app.state::<ShellState>();
    let lang = current_lang();
    let mut notes = Vec::new();
    if let Some(p) = portal {
        let mut cur = shell.portal.lock().unwrap_or_else(|e| e.into_inner());
        if cur.connected != p.connected {
            notes.push(tray::portal_note(&p, lang));
        }
        if *cur != p {
            // The pages that show the pairing or the channel (Bi-clés, Accueil) redraw on it.
            let _ = app.emit("portal-state", &p);
        }
        *cur = p;
    }
    if let Some(r) = readers {
        let mut cur = shell.readers.lock().unwrap_or_else(|e| e.into_inner());
        notes.extend(tray::card_notes(&cur, &r, lang));
        *cur = r;
    }
    let portal = shell.portal.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let readers = shell.readers.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let view = trousseau::api::tray_view(&portal, &readers, lang);
    tray::show(app, &view);
    let _ = app.emit("tray-state", &view);
    if trousseau::api::load_settings().map(|s| s.notifications).unwrap_or(true) {
        for (title, body) in notes {
            tray::notify(app, &title, &body);
        }
    }
}

/// Turns "launch at login" on or off (the autostart plugin starts the app with `--tray`).
pub fn set_autostart(app: &AppHandle, on: bool) -> Result<(), String> {
    use tauri_plugin_autostart::ManagerExt;
    let launcher = app.autolaunch();
    if launcher.is_enabled().unwrap_or(false) == on {
        return Ok(());
    }
    if on { launcher.enable() } else { launcher.disable() }.map_err(|e| e.to_string())
}

/// Follows readers, cards and tokens through the core's live state (the card monitor owns the blocking PC/SC wait;
/// tokens are probed in the background once per insertion or removal; nothing polls): reader changes go to the
/// tray and notifications, and every change to the window as a `live-state` event so that its pages redraw.
fn start_live(app: &AppHandle) {
    let handle = app.clone();
    let started = trousseau::live::start(move |event| {
        if event.change == trousseau::live::LiveChange::Readers {
            apply_state(&handle, None, trousseau::api::cards_list((), current_lang()).ok());
        }
        let _ = handle.emit("live-state", event);
    });
    if let Err(e) = started {
        log::warn!("card monitor not started: {e}");
    }
}

/// Starts the desktop app. `--tray` starts it in the tray without opening the window (autostart uses it);
/// `--write-bindings PATH` writes the TypeScript types of the command surface and exits.
pub fn run() {
    memory::choose_rendering();
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--write-bindings") {
        let path = args.get(i + 1).cloned().unwrap_or_else(|| "ui/src/bindings.ts".into());
        let bytes = trousseau::api::typescript_bindings();
        let written = trousseau::fsutil::write_atomic(
            std::path::Path::new(&path),
            bytes.as_bytes(),
            trousseau::fsutil::Access::Public,
        );
        if let Err(e) = written {
            eprintln!("trousseau-desktop: cannot write {path}: {e}");
            std::process::exit(1);
        }
        return;
    }
    let start_in_tray = args.iter().any(|a| a == "--tray" || a == "--close-window");

    let app = tauri::Builder::default()
        .plugin(tauri_plugin_single_instance::init(|app, argv, _cwd| {
            // A second launch (or a trousseau:// link on Linux/Windows) lands here: show the running instance.
            if argv.iter().any(|a| a == "--close-window") {
                // `trousseau-desktop --close-window`: closes the window of the running instance (it stays in the
                // tray); used by scripts and the benchmark.
                if let Some(w) = app.get_webview_window(MAIN_WINDOW) {
                    let _ = w.destroy();
                }
                return;
            }
            match argv.iter().find(|a| a.starts_with("trousseau://")) {
                Some(url) => open_deep_link(app, url),
                None => show_window(app),
            }
        }))
        .plugin(tauri_plugin_deep_link::init())
        .plugin(tauri_plugin_autostart::init(tauri_plugin_autostart::MacosLauncher::LaunchAgent, Some(vec!["--tray"])))
        .plugin(tauri_plugin_notification::init())
        .plugin(tauri_plugin_dialog::init())
        .plugin(
            tauri_plugin_log::Builder::new()
                .level(log::LevelFilter::Info)
                .level_for("zbus", log::LevelFilter::Warn)
                .level_for("tracing", log::LevelFilter::Warn)
                // The default targets (stdout and the app's log directory) are kept: adding Stdout again printed
                // every line twice.
                .build(),
        )
        .on_page_load(|_webview, payload| {
            // The desktop benchmark (scripts/bench/desktop.sh) times a launch until the page has loaded.
            if matches!(payload.event(), tauri::webview::PageLoadEvent::Finished)
                && std::env::var_os("TROUSSEAU_BENCH").is_some()
            {
                println!("bench: page-loaded");
            }
        })
        .manage(PendingLink::default())
        .manage(portal::PortalChannel::default())
        .manage(ShellState {
            portal: Mutex::new(trousseau::api::portal_state((), Lang::Fr).unwrap_or(PortalState {
                name: None,
                url: None,
                paired: false,
                connected: false,
            })),
            readers: Mutex::new(Vec::new()),
        })
        .invoke_handler(commands::handler())
        .setup(move |app| {
            // The window first: WebKit starts its processes and loads the page while the tray is built. Nothing
            // slow before the tray either: the card monitor's first events describe the readers present, and the
            // portal channel publishes its state as soon as it runs (the window asks for both when it is ready).
            let deep_link = args.iter().find(|a| a.starts_with("trousseau://"));
            if deep_link.is_none() && !start_in_tray {
                show_window(app.handle());
            }
            tray::create(app.handle())?;
            apply_state(app.handle(), None, None);
            start_live(app.handle());
            portal::start(app.handle());
            reminders::start(app.handle());
            {
                // Long operations (opening a large envelope) report their progress to the page.
                let handle = app.handle().clone();
                trousseau::progress::set_sink(move |p| {
                    let _ = handle.emit("progress", p);
                });
            }
            #[cfg(any(target_os = "linux", all(debug_assertions, windows)))]
            {
                use tauri_plugin_deep_link::DeepLinkExt;
                // Registers the trousseau:// scheme for this user (the .deb also declares it). On Linux that runs
                // update-desktop-database and xdg-mime (~0.1-0.2 s): off the path to the first paint.
                let handle = app.handle().clone();
                let _ = std::thread::Builder::new().name("trousseau-scheme".into()).spawn(move || {
                    let _ = handle.deep_link().register_all();
                });
            }
            {
                use tauri_plugin_deep_link::DeepLinkExt;
                let handle = app.handle().clone();
                app.deep_link().on_open_url(move |event| {
                    if let Some(url) = event.urls().first() {
                        open_deep_link(&handle, url.as_str());
                    }
                });
            }
            if let Some(url) = deep_link {
                open_deep_link(app.handle(), url);
            } else if start_in_tray {
                // Started in the tray (autostart): once the start-up work is done, keep only what the tray uses.
                release_memory_later(app.handle(), std::time::Duration::from_secs(10));
            }
            Ok(())
        })
        .build(tauri::generate_context!());
    let app = match app {
        Ok(a) => a,
        Err(e) => {
            eprintln!("trousseau-desktop: {e}");
            std::process::exit(1);
        }
    };
    app.run(|_app, event| match event {
        // Closing the last window must not end the assistant: it stays in the tray. "Quitter" exits with a code.
        RunEvent::ExitRequested { api, code: None, .. } => api.prevent_exit(),
        // The portal page must not show "Connecté" for an assistant that quit.
        RunEvent::Exit => trousseau::portal::publish_state(None),
        _ => {}
    });
}

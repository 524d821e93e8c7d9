//! The reference for the desktop benchmark (scripts/bench/desktop.sh): a blank Tauri 2 app built with the same
//! profile and the same tauri features as Trousseau, its page a paragraph with no script. `--tray` gives the
//! tray-only variant (a tray icon, no window). Built only with `--features bench-blank`.

use tauri::{WebviewUrl, WebviewWindowBuilder};

fn main() {
    let tray_only = std::env::args().any(|a| a == "--tray");
    let app = tauri::Builder::default()
        .on_page_load(|_w, p| {
            if matches!(p.event(), tauri::webview::PageLoadEvent::Finished) {
                println!("bench: page-loaded");
            }
        })
        .setup(move |app| {
            let menu = tauri::menu::Menu::with_items(
                app,
                &[&tauri::menu::MenuItem::with_id(app, "quit", "Quit", true, None::<&str>)?],
            )?;
            tauri::tray::TrayIconBuilder::new()
                .icon(tauri::image::Image::from_bytes(include_bytes!("../../icons/tray-disconnected.png"))?)
                .menu(&menu)
                .build(app)?;
            if !tray_only {
                WebviewWindowBuilder::new(app, "main", WebviewUrl::App("index.html".into())).title("Blank").build()?;
            }
            Ok(())
        })
        .build(tauri::generate_context!("../scripts/bench/blank-app/tauri.conf.json"))
        .expect("blank app builds");
    app.run(|_app, event| {
        if let tauri::RunEvent::ExitRequested { api, code: None, .. } = event {
            api.prevent_exit();
        }
    });
}

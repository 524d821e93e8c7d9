//! The reference for the desktop benchmark (scripts/bench/desktop.sh): a blank Tauri 2 app built with the same
//! profile and the same tauri features as Trousseau, its page a paragraph with no script. `--tray` gives the
//! tray-only variant (a tray icon, no window); `--close-after SECONDS` opens the window, then destroys it after that
//! long and stays in the tray (what one process costs once its webview has lived: the fair reference for
//! Trousseau's "window closed"). `--size WIDTHxHEIGHT` sets the window's size (Tauri's default otherwise), to tell
//! what the window's size costs from what the page costs. Built only with `--features bench-blank`.

use tauri::{WebviewUrl, WebviewWindowBuilder};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let tray_only = args.iter().any(|a| a == "--tray");
    let close_after = args
        .iter()
        .position(|a| a == "--close-after")
        .and_then(|i| args.get(i + 1))
        .and_then(|s| s.parse::<f64>().ok())
        .map(std::time::Duration::from_secs_f64);
    let size = args
        .iter()
        .position(|a| a == "--size")
        .and_then(|i| args.get(i + 1))
        .and_then(|s| s.split_once('x'))
        .and_then(|(w, h)| Some((w.parse::<f64>().ok()?, h.parse::<f64>().ok()?)));
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
                let mut builder =
                    WebviewWindowBuilder::new(app, "main", WebviewUrl::App("index.html".into())).title("Blank");
                if let Some((width, height)) = size {
                    builder = builder.inner_size(width, height);
                }
                let w = builder.build()?;
                if let Some(delay) = close_after {
                    std::thread::spawn(move || {
                        std::thread::sleep(delay);
                        let _ = w.destroy();
                    });
                }
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

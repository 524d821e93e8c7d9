// Keeps a console window from opening next to the app on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]
#![deny(unsafe_code)]

fn main() {
    // Started as a PKCS#11 module's helper process: a vendor module that crashes takes only the helper down.
    if let Some(code) = trousseau::token::serve_if_asked() {
        std::process::exit(code);
    }
    if let Ok(exe) = std::env::current_exe() {
        trousseau::token::isolate_modules(exe);
    }
    trousseau_desktop::run()
}

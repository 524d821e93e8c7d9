//! Giving memory back once the window is closed: the assistant runs all day in the tray, so what the webview
//! used must not stay resident. Closing destroys the webview; then (Linux) WebKit's network process, which
//! WebKit keeps for the next webview, is ended (WebKit starts a new one when the window is reopened), and glibc
//! is asked to return freed heap pages to the system.

/// Called a moment after the main window was destroyed.
pub fn release_after_window_closed() {
    #[cfg(target_os = "linux")]
    {
        end_webkit_network_process();
        trim_heap();
    }
}

/// Ends our own WebKitNetworkProcess children (by pid, never by name across the system).
#[cfg(target_os = "linux")]
fn end_webkit_network_process() {
    let me = std::process::id();
    let Ok(entries) = std::fs::read_dir("/proc") else { return };
    for e in entries.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else { continue };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { continue };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else { continue };
        let comm = &stat[open + 1..close];
        let ppid = stat[close + 1..].split_whitespace().nth(1).and_then(|p| p.parse::<u32>().ok());
        if ppid == Some(me) && comm.starts_with("WebKitNetworkPr") {
            let _ = std::process::Command::new("kill").arg("-TERM").arg(pid.to_string()).status();
        }
    }
}

#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn trim_heap() {
    // SAFETY: malloc_trim only walks glibc's own arenas and releases free pages; it takes no pointer from us and is
    // thread-safe (it locks each arena).
    unsafe {
        libc::malloc_trim(0);
    }
}

//! Giving memory back once the window is closed: the assistant runs all day in the tray, so what the webview
//! used must not stay resident. Closing destroys the webview (its WebKitWebProcess exits with it); then (Linux):
//!
//! - WebKit's network process, which WebKit keeps for the next webview (≈ 30 MB), is ended; WebKit starts a new one
//!   when the window is reopened;
//! - glibc is asked to return freed heap pages to the system (`malloc_trim`, ≈ 2.5 MB here);
//! - the pages of read-only file mappings (WebKit, JavaScriptCore, GTK, our own executable…) are unmapped. Measured
//!   with scripts/bench/desktop.sh, they are almost all of what a closed window leaves behind (≈ 100 MB of PSS,
//!   against ≈ 4 MB of heap): the kernel keeps a file page mapped in every process that touched it until memory runs
//!   short. Unmapping costs nothing but a page-cache lookup when the page is needed again (the window reopens); the
//!   page itself stays in the page cache while memory allows, and no longer counts for the assistant. Only clean
//!   pages are dropped: a mapping holding a private copy of any page (relocated data) is left alone, so nothing is
//!   ever lost. (Android compacts cached apps the same way; `MADV_PAGEOUT` would also evict them from the cache, but
//!   the kernel ignores it for files the user may not write, such as system libraries.)

/// How the window is painted, chosen before GTK and WebKit start (Linux): Skia paints the page on the CPU, and
/// WebKit's compositor still puts the layers together. The window is forms and tables, cheap to paint on the CPU;
/// painting it on the GPU compiles shaders in the web process, which is costly where the only OpenGL is Mesa's
/// software renderer (llvmpipe: virtual machines, remote desktops, no GPU driver) — measured with
/// scripts/bench/desktop.sh under Xvfb: WebKitWebProcess ≈ 149 MB of PSS instead of ≈ 176 MB. (Turning compositing
/// off altogether, `WEBKIT_DISABLE_COMPOSITING_MODE`, saves more but WebKitWebDriver's screenshots then fail or
/// hang.) A value the user set for `WEBKIT_SKIA_ENABLE_CPU_RENDERING` is left as it is.
pub fn choose_rendering() {
    #[cfg(target_os = "linux")]
    if std::env::var_os(CPU_PAINTING).is_none() {
        // Called first thing in `run()`, before any other thread exists.
        std::env::set_var(CPU_PAINTING, "1");
    }
}

/// WebKitGTK's switch (2.46 and later) for Skia painting on the CPU.
#[cfg(target_os = "linux")]
const CPU_PAINTING: &str = "WEBKIT_SKIA_ENABLE_CPU_RENDERING";

/// Called a moment after the main window was destroyed, or after a start in the tray (not while a window is open).
pub fn release_after_window_closed() {
    #[cfg(target_os = "linux")]
    {
        end_webkit_network_process();
        trim_heap();
        let _ = drop_clean_file_pages(&std::fs::read_to_string("/proc/self/smaps").unwrap_or_default());
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

/// The read-only, private, file-backed mappings of `smaps` (the text of `/proc/<pid>/smaps`) whose pages are all
/// clean copies of their file (`Anonymous: 0 kB`): unmapping their pages loses nothing, the next access reads them
/// back from the file. Writable, shared, locked and special mappings are never listed.
#[cfg(target_os = "linux")]
pub fn clean_file_mappings(smaps: &str) -> Vec<(usize, usize)> {
    let mut candidate: Option<(usize, usize)> = None;
    let mut anonymous_zero = false;
    let mut locked = false;
    let mut out = Vec::new();
    let mut flush = |candidate: &mut Option<(usize, usize)>, anonymous_zero: bool, locked: bool| {
        if let Some(range) = candidate.take() {
            if anonymous_zero && !locked {
                out.push(range);
            }
        }
    };
    for line in smaps.lines() {
        let mut parts = line.split_whitespace();
        let first = parts.next().unwrap_or("");
        if let Some((a, b)) = first.split_once('-') {
            if let (Ok(start), Ok(end)) = (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16)) {
                flush(&mut candidate, anonymous_zero, locked);
                let perms = parts.next().unwrap_or("");
                let path = parts.nth(3).unwrap_or("");
                let read_only_private = perms.len() == 4 && perms.starts_with('r') && perms.as_bytes()[1] == b'-';
                let private = perms.ends_with('p');
                let file = path.starts_with('/') && !path.starts_with("/memfd:") && !path.starts_with("/dev/");
                candidate = (read_only_private && private && file && end > start).then_some((start, end));
                anonymous_zero = false;
                locked = false;
                continue;
            }
        }
        match first {
            "Anonymous:" => anonymous_zero = parts.next() == Some("0"),
            "Locked:" => locked = parts.next() != Some("0"),
            // `VmFlags: … lo …` marks an mlock()ed mapping.
            "VmFlags:" => locked |= parts.any(|f| f == "lo"),
            _ => {}
        }
    }
    flush(&mut candidate, anonymous_zero, locked);
    out
}

/// Unmaps the resident pages of the clean read-only file mappings listed in `smaps` (this process's own
/// `/proc/self/smaps`); returns how many mappings were released.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
pub fn drop_clean_file_pages(smaps: &str) -> usize {
    let mut released = 0;
    for (start, end) in clean_file_mappings(smaps) {
        // SAFETY: the range is one whole mapping of this process, read-only, private and file-backed, holding no
        // private (anonymous) page: MADV_DONTNEED only removes its page-table entries and every later access faults
        // the identical content back in from the file. A read-only mapping cannot gain a private page between the
        // read of smaps and this call. If the mapping was unmapped meanwhile, madvise fails with ENOMEM (ignored).
        if unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED) } == 0 {
            released += 1;
        }
    }
    released
}

#[cfg(all(test, target_os = "linux"))]
#[allow(unsafe_code)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::fd::AsRawFd;

    const PAGES: usize = 8;

    #[test]
    fn cpu_painting_is_chosen_unless_the_user_chose() {
        // The only test touching this variable (the web process inherits it from the app).
        std::env::remove_var(CPU_PAINTING);
        choose_rendering();
        assert_eq!(std::env::var(CPU_PAINTING).as_deref(), Ok("1"));
        std::env::set_var(CPU_PAINTING, "0");
        choose_rendering();
        assert_eq!(std::env::var(CPU_PAINTING).as_deref(), Ok("0"), "a value the user set is kept");
        std::env::remove_var(CPU_PAINTING);
    }

    /// Resident kB of the mapping starting at `start`, from this process's smaps.
    fn rss_kb(start: usize) -> usize {
        let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
        let header = format!("{start:x}-");
        let mut lines = smaps.lines().skip_while(|l| !l.starts_with(&header)).skip(1);
        let rss = lines.find(|l| l.starts_with("Rss:")).expect("mapping in smaps");
        rss.split_whitespace().nth(1).unwrap().parse().unwrap()
    }

    /// A private read-only mapping of a file holding `PAGES` pages of known bytes, every page touched.
    fn map_file(file: &std::fs::File, len: usize) -> *mut u8 {
        // SAFETY: a fresh mapping of `len` bytes of an open file, checked against MAP_FAILED.
        let p =
            unsafe { libc::mmap(std::ptr::null_mut(), len, libc::PROT_READ, libc::MAP_PRIVATE, file.as_raw_fd(), 0) };
        assert_ne!(p, libc::MAP_FAILED);
        p.cast()
    }

    fn sum(p: *const u8, len: usize) -> u64 {
        // SAFETY: `p` maps `len` readable bytes.
        unsafe { std::slice::from_raw_parts(p, len) }.iter().map(|&b| u64::from(b)).sum()
    }

    #[test]
    fn clean_file_pages_are_unmapped_and_read_back_intact() {
        let page = 4096;
        let len = PAGES * page;
        let mut file = tempfile::tempfile().unwrap();
        let bytes: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        file.write_all(&bytes).unwrap();
        let expected: u64 = bytes.iter().map(|&b| u64::from(b)).sum();

        let clean = map_file(&file, len);
        assert_eq!(sum(clean, len), expected);
        assert!(rss_kb(clean as usize) >= len / 1024, "all pages resident after reading them");

        // A second mapping with a private copy of one page (written while writable, then made read-only, as the
        // loader does with relocated data): it must be left alone, or the written byte would be lost.
        let dirty = map_file(&file, len);
        // SAFETY: `dirty` maps `len` bytes that we own; made writable for the one write, then read-only again.
        unsafe {
            assert_eq!(libc::mprotect(dirty.cast(), len, libc::PROT_READ | libc::PROT_WRITE), 0);
            *dirty.add(10) = 255;
            assert_eq!(libc::mprotect(dirty.cast(), len, libc::PROT_READ), 0);
        }
        let dirty_sum = sum(dirty, len);
        assert_ne!(dirty_sum, expected);

        let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
        let listed = clean_file_mappings(&smaps);
        assert!(listed.contains(&(clean as usize, clean as usize + len)), "the clean mapping is listed");
        assert!(!listed.iter().any(|&(s, _)| s == dirty as usize), "the mapping with a private page is not");

        assert!(drop_clean_file_pages(&smaps) >= 1);
        assert_eq!(rss_kb(clean as usize), 0, "the clean mapping's pages are no longer resident");
        assert_eq!(sum(clean, len), expected, "its content comes back from the file");
        assert_eq!(sum(dirty, len), dirty_sum, "the private copy is intact");
        // SAFETY: both mappings were created above with these lengths and are not used afterwards.
        unsafe {
            libc::munmap(clean.cast(), len);
            libc::munmap(dirty.cast(), len);
        }
    }

    #[test]
    fn writable_shared_and_anonymous_mappings_are_never_listed() {
        let smaps = "\
7f0000000000-7f0000002000 r--p 00000000 08:01 1234 /usr/lib/libfoo.so
Rss:                   8 kB
Anonymous:             0 kB
Locked:                0 kB
VmFlags: rd mr mw me
7f0000002000-7f0000004000 rw-p 00002000 08:01 1234 /usr/lib/libfoo.so
Anonymous:             0 kB
7f0000004000-7f0000006000 r--s 00000000 08:01 99 /usr/share/fonts/a.ttf
Anonymous:             0 kB
7f0000006000-7f0000008000 r--p 00000000 00:00 0
Anonymous:             8 kB
7f0000008000-7f000000a000 r--p 00000000 00:01 7 /memfd:wayland (deleted)
Anonymous:             0 kB
7f000000a000-7f000000c000 r-xp 00000000 08:01 1234 /usr/lib/libfoo.so
Anonymous:             4 kB
7f000000c000-7f000000e000 r-xp 00000000 08:01 1234 /usr/lib/libbar.so
Anonymous:             0 kB
Locked:                8 kB
7f000000e000-7f0000010000 r-xp 00000000 08:01 1234 /usr/lib/libbaz.so
Anonymous:             0 kB
VmFlags: rd ex mr mw me lo
7f0000010000-7f0000012000 r-xp 00000000 08:01 1234 /usr/lib/libok.so
Anonymous:             0 kB
";
        assert_eq!(
            clean_file_mappings(smaps),
            vec![(0x7f0000000000, 0x7f0000002000), (0x7f0000010000, 0x7f0000012000)]
        );
    }
}

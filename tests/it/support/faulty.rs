//! The misbehaving PKCS#11 modules of `tests/modules/faulty-pkcs11.c`, compiled for a test: one that crashes
//! (SIGSEGV) in `C_FindObjects`, one whose `C_Login` never returns, and a reader with a PIN pad.

use std::path::{Path, PathBuf};
use std::process::Command;

/// How the module misbehaves.
#[derive(Clone, Copy)]
pub enum Fault {
    /// Token "Carte qui plante": `C_FindObjects` dereferences a null pointer.
    CrashInFindObjects,
    /// Token "Carte muette": `C_Login` never returns.
    HangInLogin,
    /// Token "Lecteur a clavier" behind a PIN pad: PIN calls succeed only with no PIN, and are logged to
    /// `$FAULTY_PKCS11_LOG`.
    PinPad,
}

/// Compiles the module into `dir` and returns its path.
pub fn module(dir: &Path, fault: Fault) -> PathBuf {
    let (define, name) = match fault {
        Fault::CrashInFindObjects => ("-DFAULT_CRASH_FIND", "libfaulty-crash.so"),
        Fault::HangInLogin => ("-DFAULT_HANG_LOGIN", "libfaulty-hang.so"),
        Fault::PinPad => ("-DFAULT_PINPAD", "libfaulty-pinpad.so"),
    };
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/modules/faulty-pkcs11.c");
    let lib = dir.join(name);
    let out = Command::new("cc")
        .args(["-shared", "-fPIC", "-Wall", "-Werror", define, "-o"])
        .arg(&lib)
        .arg(&src)
        .output()
        .expect("cc runs");
    assert!(out.status.success(), "cc: {}", String::from_utf8_lossy(&out.stderr));
    lib
}

/// The helper processes of `parent` serving `module` (Linux `/proc`).
pub fn helpers_of(parent: u32, module: &Path) -> Vec<u32> {
    helpers(Some(parent), module)
}

/// Every helper process still running for `module`, whoever its parent (an orphan included).
pub fn any_helpers(module: &Path) -> Vec<u32> {
    helpers(None, module)
}

fn helpers(parent: Option<u32>, module: &Path) -> Vec<u32> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else { return out };
    for e in entries.flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else { continue };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { continue };
        // "pid (comm) state ppid …": comm may hold spaces, so split after the last ')'.
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else { continue };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.first() == Some(&"Z") {
            continue;
        }
        if parent.is_some() && fields.get(1).and_then(|p| p.parse::<u32>().ok()) != parent {
            continue;
        }
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
        if args.get(1) == Some(&trousseau::token::HELPER_ARG.as_bytes())
            && args.get(2) == Some(&module.as_os_str().as_encoded_bytes())
        {
            out.push(pid);
        }
    }
    out
}

/// `tests/modules/pulled-pkcs11.c` in front of SoftHSM2: its `C_Decrypt` behaves as a card pulled out mid-way.
pub fn pulled_module(dir: &Path) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/modules/pulled-pkcs11.c");
    let lib = dir.join("libpulled.so");
    let target = format!("-DTARGET=\"{}\"", super::softhsm::module().display());
    let out = Command::new("cc")
        .args(["-shared", "-fPIC", "-Wall", "-Werror", &target, "-o"])
        .arg(&lib)
        .arg(&src)
        .arg("-ldl")
        .output()
        .expect("cc runs");
    assert!(out.status.success(), "cc: {}", String::from_utf8_lossy(&out.stderr));
    lib
}

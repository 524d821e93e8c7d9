//! Where PKCS#11 modules are looked for, and the probe that tells a working module from a broken one.
//!
//! Sources, in order: `TROUSSEAU_PKCS11_MODULE` (colon-separated; `;` on Windows), the configured list
//! (`<config>/pkcs11-modules`, one path per line, `#` comments), the known install paths of the card middleware
//! Trousseau's users meet (LuxTrust / Gemalto Classic Client, Thales IDPrime, Cryptolib CPS, OpenSC, SoftHSM2),
//! and p11-kit's `*.module` files. `TROUSSEAU_PKCS11_SYSTEM=0` keeps only the first two (tests, kiosks).
//! Every candidate is loaded and initialised once on the worker: a missing file, a library that is not PKCS#11
//! or a module that fails to start becomes a [`ModuleProblem`] and is skipped — never fatal.

use super::host;
use super::wire::{expect_reply, Reply, Request};
use super::worker::{self, State};
use super::TokenError;
use serde::Serialize;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// Where a module path came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "file")]
#[non_exhaustive]
pub enum ModuleSource {
    /// `TROUSSEAU_PKCS11_MODULE`.
    Environment,
    /// Trousseau's configuration (or the caller's explicit list).
    Configured,
    /// A well-known install path of a card middleware.
    KnownPath,
    /// A p11-kit module file (its path).
    P11Kit(PathBuf),
}

/// A module file to try.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Candidate {
    pub path: PathBuf,
    pub source: ModuleSource,
}

/// A module that loaded and initialised.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Module {
    pub path: PathBuf,
    pub source: ModuleSource,
    /// `CK_INFO.libraryDescription`.
    pub description: String,
    pub manufacturer: String,
    pub library_version: String,
    pub cryptoki_version: String,
}

/// A module that was found but cannot be used.
#[derive(Debug, Clone)]
pub struct ModuleProblem {
    pub path: PathBuf,
    pub source: ModuleSource,
    pub error: TokenError,
}

impl ModuleProblem {
    /// The problem as the CLI, the window and `trousseau status` show it (public data only).
    pub fn report(&self, lang: crate::i18n::Lang) -> ModuleProblemReport {
        use crate::i18n::Coded;
        ModuleProblemReport {
            path: self.path.clone(),
            source: self.source.clone(),
            code: self.error.code(),
            message: self.error.message(lang),
        }
    }
}

/// A [`ModuleProblem`] flattened for transport: `{"path","source","code","message"}`.
#[derive(Debug, Clone, Serialize)]
pub struct ModuleProblemReport {
    pub path: PathBuf,
    pub source: ModuleSource,
    pub code: &'static str,
    pub message: String,
}

/// The outcome of a discovery: usable modules, and the problems to report.
#[derive(Debug, Clone, Default)]
pub struct Discovery {
    pub modules: Vec<Module>,
    pub problems: Vec<ModuleProblem>,
}

/// What to look at.
#[derive(Debug, Clone)]
pub struct DiscoveryOptions {
    /// Explicit module paths (environment + configuration), tried first.
    pub explicit: Vec<Candidate>,
    /// Also scan the known install paths and p11-kit's module files.
    pub system: bool,
    /// p11-kit module directories (defaults: /usr/share/p11-kit/modules, /etc/pkcs11/modules,
    /// ~/.config/pkcs11/modules).
    pub p11kit_dirs: Vec<PathBuf>,
}

impl DiscoveryOptions {
    /// Environment (`TROUSSEAU_PKCS11_MODULE`, `TROUSSEAU_PKCS11_SYSTEM`) plus the configured list.
    pub fn from_env() -> DiscoveryOptions {
        let mut explicit = Vec::new();
        if let Some(v) = std::env::var_os("TROUSSEAU_PKCS11_MODULE") {
            let sep = if cfg!(windows) { ';' } else { ':' };
            for p in v.to_string_lossy().split(sep).map(str::trim).filter(|s| !s.is_empty()) {
                explicit.push(Candidate { path: PathBuf::from(p), source: ModuleSource::Environment });
            }
        }
        for path in configured_modules() {
            explicit.push(Candidate { path, source: ModuleSource::Configured });
        }
        let system = !matches!(std::env::var("TROUSSEAU_PKCS11_SYSTEM").as_deref(), Ok("0") | Ok("false") | Ok("no"));
        DiscoveryOptions { explicit, system, p11kit_dirs: default_p11kit_dirs() }
    }

    /// Only these module paths (no system scan).
    pub fn only(paths: impl IntoIterator<Item = PathBuf>) -> DiscoveryOptions {
        DiscoveryOptions {
            explicit: paths.into_iter().map(|path| Candidate { path, source: ModuleSource::Configured }).collect(),
            system: false,
            p11kit_dirs: Vec::new(),
        }
    }
}

/// The configuration file listing extra module paths: `<config>/pkcs11-modules`.
pub fn configured_modules_file() -> Option<PathBuf> {
    crate::paths::config_dir().ok().map(|d| d.join("pkcs11-modules"))
}

fn configured_modules() -> Vec<PathBuf> {
    let Some(file) = configured_modules_file() else { return Vec::new() };
    let Ok(text) = std::fs::read_to_string(file) else { return Vec::new() };
    text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).map(PathBuf::from).collect()
}

fn default_p11kit_dirs() -> Vec<PathBuf> {
    let mut dirs = vec![PathBuf::from("/usr/share/p11-kit/modules"), PathBuf::from("/etc/pkcs11/modules")];
    if let Some(home) = std::env::var_os("HOME") {
        dirs.push(PathBuf::from(home).join(".config/pkcs11/modules"));
    }
    dirs
}

/// Well-known install paths of the middleware Trousseau's users have (DESIGN.md), for this OS.
pub fn known_paths() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = Vec::new();
    if cfg!(target_os = "windows") {
        let pf =
            std::env::var_os("ProgramFiles").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(r"C:\Program Files"));
        let sys = std::env::var_os("SystemRoot").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(r"C:\Windows"));
        v.push(pf.join(r"Gemalto\Classic Client\BIN\gclib.dll"));
        v.push(sys.join(r"System32\eTPKCS11.dll"));
        v.push(sys.join(r"System32\IDPrimePKCS11.dll"));
        v.push(sys.join(r"System32\cps3_pkcs11_w64.dll"));
        v.push(pf.join(r"OpenSC Project\OpenSC\pkcs11\opensc-pkcs11.dll"));
        v.push(sys.join(r"System32\opensc-pkcs11.dll"));
    } else if cfg!(target_os = "macos") {
        v.push(
            "/Library/Frameworks/Pkcs11ClassicClient.framework/Versions/A/Pkcs11ClassicClient/libgclib.dylib".into(),
        );
        v.push("/usr/local/lib/libIDPrimePKCS11.dylib".into());
        v.push("/usr/local/lib/libcps3_pkcs11_osx.dylib".into());
        v.push("/Library/OpenSC/lib/opensc-pkcs11.so".into());
        v.push("/usr/local/lib/opensc-pkcs11.so".into());
        v.push("/opt/homebrew/lib/softhsm/libsofthsm2.so".into());
    } else {
        v.push("/usr/lib/pkcs11/libgclib.so".into());
        v.push("/usr/lib/libIDPrimePKCS11.so".into());
        v.push("/usr/lib/x86_64-linux-gnu/libIDPrimePKCS11.so".into());
        v.push("/opt/santesocial/CPS/lib/libcps3_pkcs11_lux.so".into());
        v.push("/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so".into());
        v.push("/usr/lib/x86_64-linux-gnu/pkcs11/opensc-pkcs11.so".into());
        v.push("/usr/lib/softhsm/libsofthsm2.so".into());
        v.push("/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so".into());
    }
    v
}

/// Directory where p11-kit resolves bare `module:` names.
fn p11kit_module_dir() -> PathBuf {
    PathBuf::from("/usr/lib/x86_64-linux-gnu/pkcs11")
}

/// One parsed p11-kit module file: `module:` resolved to a path, or `None` if the file says not to load it here.
pub(crate) fn parse_p11kit_module(text: &str) -> Option<PathBuf> {
    let mut module = None;
    let mut enable_in: Option<Vec<String>> = None;
    let mut disable_in: Vec<String> = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') {
            continue;
        }
        let Some((k, v)) = line.split_once(':') else { continue };
        let v = v.trim();
        let list = || v.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect::<Vec<_>>();
        match k.trim() {
            "module" if !v.is_empty() => module = Some(v.to_string()),
            "enable-in" => enable_in = Some(list()),
            "disable-in" => disable_in = list(),
            _ => {}
        }
    }
    // p11-kit names programs by their base name; we are "trousseau".
    if let Some(list) = enable_in {
        if !list.iter().any(|p| p == "trousseau") {
            return None;
        }
    }
    if disable_in.iter().any(|p| p == "trousseau") {
        return None;
    }
    let module = module?;
    let path = if module.contains('/') { PathBuf::from(module) } else { p11kit_module_dir().join(module) };
    let name = path.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
    // The trust module only holds CA anchors; p11-kit's client and proxy re-export modules already listed.
    if name.starts_with("p11-kit-trust") || name.starts_with("p11-kit-client") || name.starts_with("p11-kit-proxy") {
        return None;
    }
    Some(path)
}

/// Every candidate path, deduplicated (by canonical path), without loading anything. Known paths that do not
/// exist are left out silently (they are just middleware this machine does not have); explicit paths that do
/// not exist are kept, so that the probe reports them.
pub fn candidates(opts: &DiscoveryOptions) -> Vec<Candidate> {
    let mut out: Vec<Candidate> = Vec::new();
    let mut seen: HashSet<PathBuf> = HashSet::new();
    let mut push = |c: Candidate, out: &mut Vec<Candidate>| {
        let key = std::fs::canonicalize(&c.path).unwrap_or_else(|_| c.path.clone());
        if seen.insert(key) {
            out.push(c);
        }
    };
    for c in &opts.explicit {
        push(c.clone(), &mut out);
    }
    if opts.system {
        for dir in &opts.p11kit_dirs {
            let Ok(rd) = std::fs::read_dir(dir) else { continue };
            let mut files: Vec<PathBuf> = rd
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "module"))
                .collect();
            files.sort();
            for f in files {
                let Ok(text) = std::fs::read_to_string(&f) else { continue };
                if let Some(path) = parse_p11kit_module(&text) {
                    push(Candidate { path, source: ModuleSource::P11Kit(f.clone()) }, &mut out);
                }
            }
        }
        for p in known_paths() {
            if p.exists() {
                push(Candidate { path: p, source: ModuleSource::KnownPath }, &mut out);
            }
        }
    }
    out
}

/// Finds, loads and initialises every module (environment, configuration, known paths, p11-kit), reporting
/// the broken ones as problems.
pub fn discover() -> Discovery {
    discover_with(&DiscoveryOptions::from_env())
}

/// [`discover`] with explicit options.
pub fn discover_with(opts: &DiscoveryOptions) -> Discovery {
    let mut d = Discovery::default();
    for c in candidates(opts) {
        match probe(&c.path) {
            Ok(mut m) => {
                m.source = c.source;
                d.modules.push(m);
            }
            Err(error) => d.problems.push(ModuleProblem { path: c.path, source: c.source, error }),
        }
    }
    d
}

/// Loads one module (in its helper process, see [`super::host`]), reads its `CK_INFO` and finalises it.
pub fn probe(path: &Path) -> Result<Module, TokenError> {
    let reply = host::call(path, None, Request::Probe { module: path.to_path_buf() })?;
    expect_reply!(reply, Reply::Module(m) => m)
}

/// [`probe`] where the module lives.
pub(super) fn probe_on(state: &mut State, p: &Path) -> Result<Module, TokenError> {
    state.with_module(p, |ctx| {
        let info = ctx
            .get_library_info()
            .map_err(|e| TokenError::ModuleInit { path: p.to_path_buf(), detail: worker::rv_text(&e) })?;
        Ok(Module {
            path: p.to_path_buf(),
            source: ModuleSource::Configured,
            description: info.library_description().trim().to_string(),
            manufacturer: info.manufacturer_id().trim().to_string(),
            library_version: info.library_version().to_string(),
            cryptoki_version: info.cryptoki_version().to_string(),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p11kit_files_resolve_and_filter() {
        assert_eq!(
            parse_p11kit_module("# c\nmodule: opensc-pkcs11.so\n"),
            Some(PathBuf::from("/usr/lib/x86_64-linux-gnu/pkcs11/opensc-pkcs11.so"))
        );
        assert_eq!(
            parse_p11kit_module("module: /usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so"),
            Some(PathBuf::from("/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so"))
        );
        assert_eq!(parse_p11kit_module("module: p11-kit-trust.so\ndisable-in: p11-kit-proxy\n"), None);
        assert_eq!(parse_p11kit_module("module: x.so\nenable-in: firefox, chromium\n"), None);
        assert_eq!(parse_p11kit_module("module: x.so\nenable-in: trousseau\n"), Some(p11kit_module_dir().join("x.so")));
        assert_eq!(parse_p11kit_module("module: x.so\ndisable-in: gnome-keyring, trousseau\n"), None);
        assert_eq!(parse_p11kit_module("critical: yes\n"), None);
    }
}

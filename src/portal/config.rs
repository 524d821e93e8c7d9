//! Which portals the assistant knows. The user's list lives in `<config>/portals.json`; an administrator can deploy
//! a managed file (`/etc/trousseau/portals.json`, `%ProgramData%\Trousseau\portals.json`,
//! `/Library/Application Support/Trousseau/portals.json`, or `TROUSSEAU_MANAGED_CONFIG`) which then wins: its
//! portals and bridge settings replace the user's. With nothing configured the list holds the local sandbox.
//!
//! File format: `{"portals":[{"name":"PMP","url":"https://pmp.example.lu"}],
//! "bridge":{"port":8751,"allowed_origins":["https://pmp.example.lu"]}}`.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

use super::PortalError;

/// The local reference portal started beside the app (`trousseau-sandbox serve`).
pub const DEFAULT_SANDBOX_URL: &str = "http://127.0.0.1:8750";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PortalEntry {
    pub name: String,
    pub url: String,
}

/// Loopback bridge settings (the bridge is off when absent).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct BridgeConfig {
    pub port: u16,
    /// Exact origins (`https://host[:port]`) allowed to call the bridge. `*` is refused.
    pub allowed_origins: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    portals: Vec<PortalEntry>,
    #[serde(default)]
    bridge: Option<BridgeConfig>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PortalConfig {
    pub portals: Vec<PortalEntry>,
    pub bridge: Option<BridgeConfig>,
    /// The administrator's managed file is in force (the user's list is ignored).
    pub managed: bool,
    /// The file the settings came from (none: built-in default).
    pub source: Option<PathBuf>,
}

impl PortalConfig {
    /// The entry whose URL is `url` (compared after normalisation).
    pub fn find(&self, url: &str) -> Option<&PortalEntry> {
        let u = check_url(url).ok()?;
        self.portals.iter().find(|p| check_url(&p.url).ok().as_deref() == Some(u.as_str()))
    }
}

/// The name a pairing with `base` is kept under: the configured portal's name, else the URL's host. The window
/// and the CLI name a pairing the same way.
pub fn portal_name(base: &str) -> String {
    if let Some(p) = load_config().ok().and_then(|c| c.find(base).cloned()) {
        return p.name;
    }
    base.split("//").nth(1).and_then(|r| r.split('/').next()).filter(|h| !h.is_empty()).unwrap_or(base).to_string()
}

/// Where the administrator's managed configuration is read from.
pub fn managed_config_path() -> PathBuf {
    if let Some(p) = std::env::var_os("TROUSSEAU_MANAGED_CONFIG") {
        return PathBuf::from(p);
    }
    if cfg!(windows) {
        let base =
            std::env::var_os("ProgramData").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(r"C:\ProgramData"));
        base.join("Trousseau").join("portals.json")
    } else if cfg!(target_os = "macos") {
        PathBuf::from("/Library/Application Support/Trousseau/portals.json")
    } else {
        PathBuf::from("/etc/trousseau/portals.json")
    }
}

fn read(path: &Path) -> Result<Option<File>, PortalError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(PortalError::Config { path: path.display().to_string(), detail: e.to_string() }),
    };
    let f: File = serde_json::from_str(&text)
        .map_err(|e| PortalError::Config { path: path.display().to_string(), detail: e.to_string() })?;
    for p in &f.portals {
        check_url(&p.url).map_err(|_| PortalError::Config {
            path: path.display().to_string(),
            detail: format!("portal {:?}: invalid or non-https url {:?}", p.name, p.url),
        })?;
    }
    if let Some(b) = &f.bridge {
        for o in &b.allowed_origins {
            if !is_exact_origin(o) {
                return Err(PortalError::Config {
                    path: path.display().to_string(),
                    detail: format!(
                        "bridge origin {o:?} must be an exact https://host[:port] (http only for a loopback host), no wildcard"
                    ),
                });
            }
        }
    }
    Ok(Some(f))
}

/// The portals and bridge settings in force: managed file, else the user's file, else the sandbox default.
pub fn load_config() -> Result<PortalConfig, PortalError> {
    let managed = managed_config_path();
    if let Some(f) = read(&managed)? {
        return Ok(PortalConfig { portals: f.portals, bridge: f.bridge, managed: true, source: Some(managed) });
    }
    let user = user_config_path()?;
    if let Some(f) = read(&user)? {
        if !f.portals.is_empty() || f.bridge.is_some() {
            let portals = if f.portals.is_empty() { default_portals() } else { f.portals };
            return Ok(PortalConfig { portals, bridge: f.bridge, managed: false, source: Some(user) });
        }
    }
    Ok(PortalConfig { portals: default_portals(), bridge: None, managed: false, source: None })
}

/// The user's portal list file (`<config>/portals.json`).
pub fn user_config_path() -> Result<PathBuf, PortalError> {
    Ok(crate::paths::config_dir()
        .map_err(|e| PortalError::Config { path: "config".into(), detail: e.to_string() })?
        .join("portals.json"))
}

/// Writes the user's portal list (what the desktop settings page edits). Every URL is checked first; the
/// administrator's managed file, when present, still wins at [`load_config`].
pub fn save_user_config(portals: &[PortalEntry], bridge: Option<&BridgeConfig>) -> Result<(), PortalError> {
    let path = user_config_path()?;
    for p in portals {
        check_url(&p.url)?;
    }
    let f = File { portals: portals.to_vec(), bridge: bridge.cloned() };
    let text = serde_json::to_string_pretty(&f).unwrap_or_default();
    crate::fsutil::write_atomic(&path, text.as_bytes(), crate::fsutil::Access::Private)
        .map_err(|e| PortalError::Io { path: path.display().to_string(), source: e.into() })?;
    read(&path).map(|_| ())
}

fn default_portals() -> Vec<PortalEntry> {
    let url = std::env::var("TROUSSEAU_SANDBOX_URL").unwrap_or_else(|_| DEFAULT_SANDBOX_URL.to_string());
    vec![PortalEntry { name: "Bac à sable local".into(), url }]
}

/// Normalises a portal URL (no trailing slash) and enforces the transport rule: `https://`, or `http://` only when
/// the host is a loopback address (the local sandbox).
pub fn check_url(url: &str) -> Result<String, PortalError> {
    let bad = || PortalError::BadUrl { url: url.to_string() };
    let parsed = reqwest::Url::parse(url.trim()).map_err(|_| bad())?;
    if !parsed.username().is_empty() || parsed.password().is_some() || parsed.query().is_some() {
        return Err(bad());
    }
    let host = parsed.host_str().ok_or_else(bad)?;
    match parsed.scheme() {
        "https" => {}
        "http" => {
            if !is_loopback_host(host) {
                return Err(PortalError::InsecureUrl { url: url.to_string() });
            }
        }
        _ => return Err(bad()),
    }
    Ok(parsed.as_str().trim_end_matches('/').to_string())
}

/// Whether `origin` is an exact web origin a bridge may serve: `https://host[:port]`, or `http://` only for a
/// loopback host (a page served by the local sandbox); no wildcard, path, user, query or `null`.
pub fn is_exact_origin(origin: &str) -> bool {
    if origin.contains('*') || origin.ends_with('/') || origin.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    let Ok(u) = reqwest::Url::parse(origin) else { return false };
    let Some(host) = u.host_str() else { return false };
    // the parsed URL must print back as the origin itself (no path, query, fragment, user or default-port games)
    if u.origin().ascii_serialization() != origin {
        return false;
    }
    match u.scheme() {
        "https" => true,
        "http" => is_loopback_host(host),
        _ => false,
    }
}

/// `127.0.0.1` (any 127/8), `[::1]`, `::1` or `localhost`.
pub fn is_loopback_host(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    match h.parse::<std::net::IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => h.eq_ignore_ascii_case("localhost"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transport_rule() {
        assert_eq!(check_url("http://127.0.0.1:8750/").unwrap(), "http://127.0.0.1:8750");
        assert!(check_url("http://localhost:1").is_ok());
        assert!(check_url("http://[::1]:1").is_ok());
        assert!(check_url("https://pmp.example.lu").is_ok());
        assert!(matches!(check_url("http://pmp.example.lu"), Err(PortalError::InsecureUrl { .. })));
        assert!(matches!(check_url("http://127.0.0.1.evil.com"), Err(PortalError::InsecureUrl { .. })));
        assert!(check_url("ftp://127.0.0.1").is_err());
        assert!(check_url("https://user:pw@pmp.example.lu").is_err());
    }

    #[test]
    fn bridge_origins_are_https_or_loopback_http() {
        for ok in
            ["https://pmp.example.lu", "https://pmp.example.lu:8443", "http://127.0.0.1:8750", "http://localhost:1"]
        {
            assert!(is_exact_origin(ok), "{ok}");
        }
        for bad in [
            "http://pmp.example.lu",
            "http://127.0.0.1.evil.com",
            "https://pmp.example.lu/",
            "https://pmp.example.lu/path",
            "https://*.example.lu",
            "null",
            "file://",
            "https://user@pmp.example.lu",
            "https://pmp.example.lu:443",
            " https://pmp.example.lu",
            "ws://127.0.0.1",
        ] {
            assert!(!is_exact_origin(bad), "{bad}");
        }
    }

    #[test]
    fn managed_file_refuses_wildcard_origins_and_plain_http_portals() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("portals.json");
        let write = |t: &str| std::fs::write(&f, t).unwrap();
        write(
            r#"{"portals":[{"name":"PMP","url":"https://pmp.example.lu"}],"bridge":{"port":8751,"allowed_origins":["https://pmp.example.lu"]}}"#,
        );
        let ok = read(&f).unwrap().unwrap();
        assert_eq!(ok.bridge.unwrap().allowed_origins, vec!["https://pmp.example.lu".to_string()]);
        for bad in [
            r#"{"bridge":{"port":1,"allowed_origins":["*"]}}"#,
            r#"{"bridge":{"port":1,"allowed_origins":["https://*.example.lu"]}}"#,
            r#"{"bridge":{"port":1,"allowed_origins":["https://pmp.example.lu/"]}}"#,
            r#"{"bridge":{"port":1,"allowed_origins":["http://pmp.example.lu"]}}"#,
            r#"{"bridge":{"port":1,"allowed_origins":["null"]}}"#,
            r#"{"portals":[{"name":"X","url":"http://pmp.example.lu"}]}"#,
            r#"{"portals":[], "extra": 1}"#,
            "not json",
        ] {
            write(bad);
            assert!(matches!(read(&f), Err(PortalError::Config { .. })), "{bad}");
        }
        assert!(read(&dir.path().join("absent.json")).unwrap().is_none());
    }
}

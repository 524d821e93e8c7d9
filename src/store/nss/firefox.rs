//! Firefox profiles, each with its own NSS database, found through `profiles.ini`.

use super::*;

/// A Firefox profile found through `profiles.ini`.
#[derive(Debug, Clone, serde::Serialize, PartialEq, Eq)]
pub struct FirefoxProfile {
    pub name: String,
    pub path: PathBuf,
    pub default: bool,
}

/// Firefox profiles of the current user (`~/.mozilla/firefox/profiles.ini`, and the Snap/Flatpak locations),
/// those with an NSS database only. The user chooses which ones to use; none is written to by default.
pub fn firefox_profiles() -> Vec<FirefoxProfile> {
    let Some(home) = std::env::var_os("HOME").map(PathBuf::from) else { return Vec::new() };
    let roots = [
        home.join(".mozilla/firefox"),
        home.join("snap/firefox/common/.mozilla/firefox"),
        home.join(".var/app/org.mozilla.firefox/.mozilla/firefox"),
    ];
    let mut out = Vec::new();
    for root in roots {
        let Ok(text) = std::fs::read_to_string(root.join("profiles.ini")) else { continue };
        out.extend(parse_profiles_ini(&root, &text).into_iter().filter(|p| p.path.join("cert9.db").exists()));
    }
    out
}

pub(super) fn parse_profiles_ini(root: &Path, text: &str) -> Vec<FirefoxProfile> {
    let mut out = Vec::new();
    let mut section: Option<HashMap<String, String>> = None;
    let flush = |s: Option<HashMap<String, String>>, out: &mut Vec<FirefoxProfile>| {
        let Some(s) = s else { return };
        let Some(path) = s.get("Path") else { return };
        let relative = s.get("IsRelative").map(|v| v == "1").unwrap_or(true);
        let path = if relative { root.join(path) } else { PathBuf::from(path) };
        out.push(FirefoxProfile {
            name: s.get("Name").cloned().unwrap_or_default(),
            path,
            default: s.get("Default").map(|v| v == "1").unwrap_or(false),
        });
    };
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            let prev = section.take();
            flush(prev, &mut out);
            if line.starts_with("[Profile") {
                section = Some(HashMap::new());
            }
        } else if let (Some(s), Some((k, v))) = (section.as_mut(), line.split_once('=')) {
            s.insert(k.trim().to_string(), v.trim().to_string());
        }
    }
    flush(section, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_ini_relative_and_absolute() {
        let ini = "[General]\nStartWithLastProfile=1\n\n[Profile0]\nName=default-release\nIsRelative=1\n\
                   Path=abc.default-release\nDefault=1\n\n[Profile1]\nName=work\nIsRelative=0\nPath=/srv/ff/work\n\n\
                   [Install4F96D1932A9F858E]\nDefault=abc.default-release\n";
        let p = parse_profiles_ini(Path::new("/home/u/.mozilla/firefox"), ini);
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].path, PathBuf::from("/home/u/.mozilla/firefox/abc.default-release"));
        assert!(p[0].default);
        assert_eq!(p[1].path, PathBuf::from("/srv/ff/work"));
    }
}

//! The support bundle: versions, verdicts, modules and recent log lines, personal data replaced.

use super::*;

/// Why the support bundle could not be written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DoctorError {
    #[error("{path} already exists")]
    Exists { path: PathBuf },
    #[error("cannot write {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

impl Coded for DoctorError {
    fn code(&self) -> &'static str {
        match self {
            DoctorError::Exists { .. } => "doctor.bundle_exists",
            DoctorError::Io { .. } => "doctor.bundle_io",
        }
    }

    fn message(&self, lang: Lang) -> String {
        match self {
            DoctorError::Exists { path } => lang.pick3(
                format!("Le fichier {} existe déjà : il n'est pas remplacé. Choisissez un autre nom.", path.display()),
                format!("The file {} already exists: it is not replaced. Choose another name.", path.display()),
                format!(
                    "Die Datei {} existiert bereits: Sie wird nicht ersetzt. Wählen Sie einen anderen Namen.",
                    path.display()
                ),
            ),
            DoctorError::Io { path, source } => lang.pick3(
                format!("Impossible d'écrire {} ({source}) : vérifiez le dossier et l'espace disque.", path.display()),
                format!("Cannot write {} ({source}): check the folder and the disk space.", path.display()),
                format!(
                    "{} kann nicht geschrieben werden ({source}): Prüfen Sie den Ordner und den Speicherplatz.",
                    path.display()
                ),
            ),
        }
    }
}

/// What the support bundle holds (all personal data already replaced).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Bundle {
    pub created_at: String,
    pub versions: Versions,
    pub doctor: DoctorReport,
    /// Modules found, with the problems of those that failed.
    pub modules: Vec<String>,
    /// The app's last log lines.
    pub log: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Versions {
    pub trousseau: String,
    pub os: String,
    pub arch: String,
}

/// Runs the doctor and writes the support bundle (JSON) to `path`, never over an existing file. Returns the
/// report.
pub fn write_bundle(path: &Path, lang: Lang) -> Result<DoctorReport, DoctorError> {
    if path.exists() {
        return Err(DoctorError::Exists { path: path.to_path_buf() });
    }
    let (report, findings) = run_collecting(lang);
    let discovery = token::discover();
    let mut modules: Vec<String> = discovery
        .modules
        .iter()
        .map(|m| format!("{} — {} {} ({})", m.path.display(), m.manufacturer, m.library_version, m.description))
        .collect();
    modules.extend(discovery.problems.iter().map(|p| format!("{} — {}", p.path.display(), p.report(lang).code)));
    let bundle = Bundle {
        created_at: crate::cert::rfc3339_z::format(&OffsetDateTime::now_utc()),
        versions: Versions {
            trousseau: env!("CARGO_PKG_VERSION").to_string(),
            os: os_name(),
            arch: std::env::consts::ARCH.to_string(),
        },
        doctor: report.clone(),
        modules,
        log: recent_log_lines(200),
    };
    let text = serde_json::to_string_pretty(&bundle).unwrap_or_default();
    let text = redact(&text, &findings.personal);
    write_new(path, text.as_bytes())?;
    Ok(report)
}

pub(super) fn os_name() -> String {
    std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|t| t.lines().find_map(|l| l.strip_prefix("PRETTY_NAME=").map(|v| v.trim_matches('"').to_string())))
        .unwrap_or_else(|| std::env::consts::OS.to_string())
}

/// The desktop app's log files (tauri-plugin-log writes `<data>/lu.trousseau.desktop/logs/*.log`): the last
/// `max` lines, oldest first.
pub(super) fn recent_log_lines(max: usize) -> Vec<String> {
    let mut dirs = Vec::new();
    if let Some(d) = directories::BaseDirs::new() {
        dirs.push(d.data_local_dir().join("lu.trousseau.desktop").join("logs"));
        dirs.push(d.data_dir().join("lu.trousseau.desktop").join("logs"));
    }
    if let Ok(d) = crate::paths::data_dir() {
        dirs.push(d.join("logs"));
    }
    let mut files: Vec<(std::time::SystemTime, PathBuf)> = dirs
        .iter()
        .filter_map(|d| std::fs::read_dir(d).ok())
        .flatten()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "log"))
        .map(|e| (e.metadata().and_then(|m| m.modified()).unwrap_or(std::time::UNIX_EPOCH), e.path()))
        .collect();
    files.sort();
    files.dedup_by(|a, b| a.1 == b.1);
    let mut lines: Vec<String> = Vec::new();
    for (_, f) in files {
        if let Ok(bytes) = std::fs::read(&f) {
            lines.extend(String::from_utf8_lossy(&bytes).lines().map(str::to_string));
        }
    }
    let skip = lines.len().saturating_sub(max);
    lines.split_off(skip)
}

/// Replaces personal data in `text`: the `personal` strings met during the checks (names, subjects, serials,
/// token labels), the user's home directory and login name, and e-mail addresses.
pub fn redact(text: &str, personal: &[String]) -> String {
    let mut out = text.to_string();
    let mut items: Vec<(String, &str)> = Vec::new();
    if let Some(home) = std::env::var_os("HOME").filter(|h| h.len() > 1) {
        items.push((home.to_string_lossy().into_owned(), "~"));
    }
    for p in personal {
        let p = p.trim();
        // Very short strings ("01", "A") would blank unrelated text: serials that short are not identifying.
        if p.chars().count() >= 3 {
            items.push((p.to_string(), "[redacted]"));
            // RFC 4514 escapes and JSON escapes of the same text.
            items.push((crate::asn1::rfc4514::escape(p), "[redacted]"));
            if let Ok(j) = serde_json::to_string(p) {
                items.push((j.trim_matches('"').to_string(), "[redacted]"));
            }
        }
    }
    for var in ["USER", "LOGNAME", "USERNAME"] {
        if let Some(u) = std::env::var_os(var).filter(|u| u.len() >= 3) {
            items.push((u.to_string_lossy().into_owned(), "[user]"));
        }
    }
    // Longest first, so a subject is replaced whole before its CN alone.
    items.sort_by_key(|i| std::cmp::Reverse(i.0.len()));
    items.dedup_by(|a, b| a.0 == b.0);
    for (from, to) in items {
        if !from.is_empty() {
            out = out.replace(&from, to);
        }
    }
    redact_emails(&out)
}

pub(super) fn redact_emails(text: &str) -> String {
    let is_part = |c: char| c.is_alphanumeric() || "._%+-".contains(c);
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '@' && i > 0 && is_part(chars[i - 1]) && chars.get(i + 1).is_some_and(|c| is_part(*c)) {
            // Drop the local part already written, and skip the domain.
            while out.chars().last().is_some_and(is_part) {
                out.pop();
            }
            out.push_str("[email]");
            i += 1;
            while i < chars.len() && (is_part(chars[i])) {
                i += 1;
            }
            continue;
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

/// Writes `bytes` to a new file at `path`: a temporary file in the same folder, synced, then linked to its name
/// (which fails if the name exists), so an existing file is never replaced and a half-written bundle never appears.
pub(super) fn write_new(path: &Path, bytes: &[u8]) -> Result<(), DoctorError> {
    use std::io::Write;
    let io = |source| DoctorError::Io { path: path.to_path_buf(), source };
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
    tmp.write_all(bytes).map_err(io)?;
    tmp.as_file().sync_all().map_err(io)?;
    match tmp.persist_noclobber(path) {
        Ok(_) => Ok(()),
        Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => {
            Err(DoctorError::Exists { path: path.to_path_buf() })
        }
        Err(e) => Err(io(e.error)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_removes_names_serials_emails_and_home() {
        std::env::set_var("HOME", "/home/jdupont");
        let text =
            r#"{"m":"Jeanne Dupont (CN=Jeanne Dupont,O=Org) 0a1b2c3d /home/jdupont/x jeanne.dupont@example.lu"}"#;
        let out = redact(text, &["Jeanne Dupont".into(), "0a1b2c3d".into()]);
        assert!(!out.contains("Jeanne") && !out.contains("0a1b2c3d") && !out.contains("jdupont"), "{out}");
        assert!(!out.contains("example.lu") && out.contains("[email]"), "{out}");
        assert!(out.contains("~/x"), "{out}");
    }

    #[test]
    fn german_bundle_errors() {
        crate::i18n::assert_german(&DoctorError::Exists { path: "/tmp/b.json".into() });
    }
}

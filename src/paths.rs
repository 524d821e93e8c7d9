//! Where Trousseau keeps its files: the platform's data and configuration directories, or `TROUSSEAU_HOME`
//! (tests, portable installs) which then holds both.

use std::path::PathBuf;

/// Errors locating Trousseau's directories.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PathsError {
    #[error("no home directory could be determined for this user")]
    NoHome,
    #[error("cannot create directory {path}: {source}")]
    Create { path: PathBuf, source: std::io::Error },
}

impl crate::i18n::Coded for PathsError {
    fn code(&self) -> &'static str {
        match self {
            PathsError::NoHome => "paths.no_home",
            PathsError::Create { .. } => "paths.create",
        }
    }
    fn message(&self, lang: crate::i18n::Lang) -> String {
        match self {
            PathsError::NoHome => lang.pick3(
                "Impossible de trouver votre dossier personnel. Définissez TROUSSEAU_HOME ou contactez votre support.",
                "Your home directory could not be found. Set TROUSSEAU_HOME or contact your support.",
                "Ihr persönlicher Ordner wurde nicht gefunden. Setzen Sie TROUSSEAU_HOME oder wenden Sie sich an Ihren Support.",
            ),
            PathsError::Create { path, source } => lang.pick3(
                format!(
                    "Impossible de créer le dossier {} ({source}). Vérifiez l'espace disque et les droits.",
                    path.display()
                ),
                format!("Cannot create the folder {} ({source}). Check disk space and permissions.", path.display()),
                format!("Der Ordner {} kann nicht erstellt werden ({source}). Prüfen Sie den Speicherplatz und die Rechte.", path.display()),
            ),
        }
    }
}

fn ensure(p: PathBuf) -> Result<PathBuf, PathsError> {
    std::fs::create_dir_all(&p).map_err(|source| PathsError::Create { path: p.clone(), source })?;
    Ok(p)
}

fn project() -> Result<directories::ProjectDirs, PathsError> {
    directories::ProjectDirs::from("lu", "Trousseau", "trousseau").ok_or(PathsError::NoHome)
}

/// Data directory (vault, history, lock files); created if absent.
pub fn data_dir() -> Result<PathBuf, PathsError> {
    match std::env::var_os("TROUSSEAU_HOME") {
        Some(h) if !h.is_empty() => ensure(PathBuf::from(h).join("data")),
        _ => ensure(project()?.data_dir().to_path_buf()),
    }
}

/// Configuration directory (portals, modules, preferences); created if absent.
pub fn config_dir() -> Result<PathBuf, PathsError> {
    match std::env::var_os("TROUSSEAU_HOME") {
        Some(h) if !h.is_empty() => ensure(PathBuf::from(h).join("config")),
        _ => ensure(project()?.config_dir().to_path_buf()),
    }
}

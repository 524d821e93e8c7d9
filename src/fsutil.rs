//! The two ways Trousseau writes a file, in one place so that no writer invents its own:
//!
//! - [`write_new`] creates a file that must not exist yet (a CSR, an exported `.p12`): the content goes to a
//!   temporary file in the same folder, is synced, then linked to its final name with a *no-replace* rename
//!   (`renameat2(RENAME_NOREPLACE)` or `link` on Unix, `MoveFileEx` without `REPLACE_EXISTING` on Windows, through
//!   [`tempfile::NamedTempFile::persist_noclobber`]). There is no check-then-rename window: a file that appears
//!   meanwhile, or was there before, is left byte-for-byte unchanged and the call fails with
//!   [`FileError::Exists`].
//! - [`write_atomic`] replaces a file (settings, state, vault entries, or a user's file with `--force`): temporary
//!   file, fsync, rename over the old one, fsync of the folder. A crash leaves the old content or the new one,
//!   never a mix.
//!
//! [`write`] picks one of them from the user's `force` choice. Files are created readable by their owner only
//! unless [`Access::Public`] is asked (a CSR, which is meant to be uploaded).

use std::io::Write;
use std::path::{Path, PathBuf};

/// Who may read the file created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Owner only (0600 on Unix): keys, `.p12` files, state.
    Private,
    /// Readable by others too (0644 before the umask): public data such as a CSR.
    Public,
}

/// Errors writing a file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FileError {
    /// The destination exists and the caller did not ask to replace it; it was not touched.
    #[error("{path} already exists")]
    Exists { path: PathBuf },
    /// Creating, writing, syncing or renaming failed; nothing was left under the final name.
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
}

impl FileError {
    /// The file the error is about.
    pub fn path(&self) -> &Path {
        match self {
            FileError::Exists { path } | FileError::Write { path, .. } => path,
        }
    }
}

/// For callers whose own error keeps an `io::Error`: `Exists` becomes `AlreadyExists`.
impl From<FileError> for std::io::Error {
    fn from(e: FileError) -> Self {
        match e {
            FileError::Exists { .. } => std::io::Error::from(std::io::ErrorKind::AlreadyExists),
            FileError::Write { source, .. } => source,
        }
    }
}

impl crate::i18n::Coded for FileError {
    fn code(&self) -> &'static str {
        match self {
            FileError::Exists { .. } => "file.exists",
            FileError::Write { .. } => "file.write",
        }
    }
    fn message(&self, lang: crate::i18n::Lang) -> String {
        match self {
            FileError::Exists { path } => lang.pick3(
                format!(
                    "Le fichier {} existe déjà et n'a pas été modifié : choisissez un autre nom, ou demandez à le remplacer (--force).",
                    path.display()
                ),
                format!(
                    "The file {} already exists and was left unchanged: choose another name, or ask to replace it (--force).",
                    path.display()
                ),
                format!(
                    "Die Datei {} existiert bereits und wurde nicht verändert: wählen Sie einen anderen Namen oder lassen Sie sie ersetzen (--force).",
                    path.display()
                ),
            ),
            FileError::Write { path, source } => lang.pick3(
                format!(
                    "Impossible d'écrire le fichier {} ({source}). Vérifiez l'espace disque et les droits sur le dossier, puis réessayez.",
                    path.display()
                ),
                format!(
                    "Cannot write the file {} ({source}). Check disk space and the folder's permissions, then try again.",
                    path.display()
                ),
                format!(
                    "Die Datei {} kann nicht geschrieben werden ({source}). Prüfen Sie den Speicherplatz und die Rechte am Ordner und versuchen Sie es erneut.",
                    path.display()
                ),
            ),
        }
    }
}

/// The folder a file is written in (`.` for a bare file name).
fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// A synced temporary file beside `path` holding `bytes`.
fn staged(path: &Path, bytes: &[u8], access: Access) -> std::io::Result<tempfile::NamedTempFile> {
    let mut tmp = temporary(path, access)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    Ok(tmp)
}

/// An empty temporary file beside `path`, with the permissions `access` asks.
fn temporary(path: &Path, access: Access) -> std::io::Result<tempfile::NamedTempFile> {
    let dir = parent_dir(path);
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let prefix = format!(".tmp-{name}-");
    let mut b = tempfile::Builder::new();
    b.prefix(&prefix);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = match access {
            Access::Private => 0o600,
            Access::Public => 0o644,
        };
        b.permissions(std::fs::Permissions::from_mode(mode));
    }
    #[cfg(not(unix))]
    let _ = access;
    b.tempfile_in(&dir)
}

/// A file written in pieces (a large decrypted content that is never held whole): its bytes go to a temporary file
/// beside `path`, which appears under `path` only at [`Staged::commit`] — as [`write_new`] or, when the user asked
/// to replace, [`write_atomic`] would. Dropped uncommitted, it leaves nothing behind.
pub struct Staged {
    path: PathBuf,
    tmp: tempfile::NamedTempFile,
}

/// Starts a [`Staged`] file for `path`.
pub fn stage(path: &Path, access: Access) -> Result<Staged, FileError> {
    let tmp = temporary(path, access).map_err(|source| FileError::Write { path: path.to_path_buf(), source })?;
    Ok(Staged { path: path.to_path_buf(), tmp })
}

impl Staged {
    /// Where the pieces are written.
    pub fn file(&mut self) -> &mut std::fs::File {
        self.tmp.as_file_mut()
    }

    /// Syncs the content and gives it its name: never over an existing file unless `force`.
    pub fn commit(self, force: bool) -> Result<(), FileError> {
        let Staged { path, tmp } = self;
        let fail = |source| FileError::Write { path: path.clone(), source };
        tmp.as_file().sync_all().map_err(fail)?;
        if force {
            tmp.persist(&path).map_err(|e| fail(e.error))?;
        } else {
            match tmp.persist_noclobber(&path) {
                Ok(_) => {}
                Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => {
                    return Err(FileError::Exists { path: path.clone() })
                }
                Err(e) => return Err(fail(e.error)),
            }
        }
        sync_dir(&parent_dir(&path)).map_err(fail)
    }
}

/// Creates `path` with `bytes`; never replaces an existing file (see the module documentation).
pub fn write_new(path: &Path, bytes: &[u8], access: Access) -> Result<(), FileError> {
    let fail = |source| FileError::Write { path: path.to_path_buf(), source };
    let tmp = staged(path, bytes, access).map_err(fail)?;
    // The temporary file is removed when `persist_noclobber` fails (it is dropped with the error).
    match tmp.persist_noclobber(path) {
        Ok(_) => {}
        Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(FileError::Exists { path: path.to_path_buf() })
        }
        Err(e) => return Err(fail(e.error)),
    }
    sync_dir(&parent_dir(path)).map_err(fail)
}

/// Writes `bytes` to `path` atomically, replacing what was there (see the module documentation).
pub fn write_atomic(path: &Path, bytes: &[u8], access: Access) -> Result<(), FileError> {
    let fail = |source| FileError::Write { path: path.to_path_buf(), source };
    let tmp = staged(path, bytes, access).map_err(fail)?;
    tmp.persist(path).map_err(|e| fail(e.error))?;
    sync_dir(&parent_dir(path)).map_err(fail)
}

/// [`write_atomic`] when the user asked to replace (`force`), else [`write_new`].
pub fn write(path: &Path, bytes: &[u8], access: Access, force: bool) -> Result<(), FileError> {
    if force {
        write_atomic(path, bytes, access)
    } else {
        write_new(path, bytes, access)
    }
}

/// `fsync` of a directory, so a rename or unlink in it is durable (no-op where directories cannot be opened).
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        std::fs::File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::{Coded, Lang};

    #[test]
    fn write_new_leaves_an_existing_file_unchanged() {
        let d = tempfile::tempdir().expect("tempdir");
        let p = d.path().join("out.p12");
        std::fs::write(&p, b"keep me").expect("write");
        let e = write_new(&p, b"new", Access::Private).expect_err("must refuse");
        assert_eq!(e.code(), "file.exists");
        assert_eq!(std::fs::read(&p).expect("read"), b"keep me");
        for lang in [Lang::Fr, Lang::En, Lang::De] {
            let m = e.message(lang);
            assert!(m.contains(&p.display().to_string()) && m.contains("--force"), "{m}");
        }
        // No temporary file left behind.
        assert_eq!(std::fs::read_dir(d.path()).expect("dir").count(), 1);
    }

    #[test]
    fn write_new_does_not_follow_a_symlink_planted_at_the_destination() {
        let d = tempfile::tempdir().expect("tempdir");
        let target = d.path().join("victim");
        std::fs::write(&target, b"victim").expect("write");
        let p = d.path().join("out.csr");
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(&target, &p).expect("symlink");
            assert_eq!(write_new(&p, b"x", Access::Public).expect_err("refused").code(), "file.exists");
            assert_eq!(std::fs::read(&target).expect("read"), b"victim");
        }
    }

    #[test]
    fn write_new_races_have_exactly_one_winner() {
        let d = tempfile::tempdir().expect("tempdir");
        let p = d.path().join("race.csr");
        let results: Vec<Result<(), FileError>> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..8u8)
                .map(|i| {
                    let p = p.clone();
                    s.spawn(move || write_new(&p, &[i; 64], Access::Public))
                })
                .collect();
            hs.into_iter().map(|h| h.join().expect("thread")).collect()
        });
        assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1, "{results:?}");
        let bytes = std::fs::read(&p).expect("read");
        assert!(bytes.len() == 64 && bytes.iter().all(|b| *b == bytes[0]), "one writer's content, whole");
        assert_eq!(std::fs::read_dir(d.path()).expect("dir").count(), 1, "no temporary file left");
    }

    #[test]
    fn write_atomic_replaces_and_write_with_force_too() {
        let d = tempfile::tempdir().expect("tempdir");
        let p = d.path().join("settings.json");
        write_atomic(&p, b"one", Access::Private).expect("first");
        write_atomic(&p, b"two", Access::Private).expect("second");
        assert_eq!(std::fs::read(&p).expect("read"), b"two");
        write(&p, b"three", Access::Private, true).expect("forced");
        assert_eq!(std::fs::read(&p).expect("read"), b"three");
        assert_eq!(write(&p, b"four", Access::Private, false).expect_err("refused").code(), "file.exists");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&p).expect("meta").permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
    }

    /// The guard: outside this module nothing in src/ or src-tauri/src writes a file by hand (`fs::write`,
    /// `rename`, `File::create`, tempfile's `persist`); every writer goes through `write_new`/`write_atomic`.
    #[test]
    fn every_writer_goes_through_fsutil() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let needles = [
            concat!("fs::", "write("),
            concat!("fs::", "rename("),
            concat!("File::", "create("),
            concat!(".persist", "("),
        ];
        let mut stack = vec![root.join("src"), root.join("src-tauri/src")];
        while let Some(dir) = stack.pop() {
            let Ok(rd) = std::fs::read_dir(&dir) else { continue };
            for entry in rd.flatten() {
                let p = entry.path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.extension().is_some_and(|e| e == "rs") && !p.ends_with("fsutil.rs") {
                    let text = std::fs::read_to_string(&p).expect("read");
                    let code = text.split("#[cfg(test)]").next().unwrap_or("");
                    for needle in needles {
                        assert!(
                            !code.contains(needle),
                            "{} writes a file by hand ({needle}): use crate::fsutil",
                            p.display()
                        );
                    }
                }
            }
        }
    }
}

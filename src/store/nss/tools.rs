//! NSS's command-line tools, used only where NSS owns the semantics: creating an empty database (`certutil -N`),
//! trust flags of an authority (`certutil -A/-M`) and module registration (`modutil`, whose `pkcs11.txt` is read here).

use super::*;

impl NssStore {
    pub(super) fn create(&self) -> Result<(), StoreError> {
        create_private_dir(&self.dir)?;
        let out = self.tool("certutil")?.arg("-N").arg("--empty-password").output();
        let out = out.map_err(|e| tool_error("certutil", e))?;
        if !out.status.success() {
            return Err(StoreError::Open { store: self.name(), detail: tool_stderr(&out) });
        }
        Ok(())
    }

    /// `certutil`/`modutil` with `-d sql:DIR` (modutil spells it `-dbdir`).
    pub(super) fn tool(&self, tool: &'static str) -> Result<Command, StoreError> {
        let mut c = crate::child::command(tool);
        let db = format!("sql:{}", self.dir.display());
        if tool == "modutil" {
            c.arg("-dbdir").arg(db).arg("-force");
        } else {
            c.arg("-d").arg(db);
        }
        c.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        Ok(c)
    }
}

pub(super) fn create_private_dir(dir: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|source| StoreError::Io { path: dir.to_path_buf(), source })
}

pub(super) fn tool_error(tool: &'static str, e: std::io::Error) -> StoreError {
    if e.kind() == std::io::ErrorKind::NotFound {
        StoreError::ToolMissing { tool }
    } else {
        StoreError::Io { path: PathBuf::from(tool), source: e }
    }
}

pub(super) fn tool_stderr(out: &std::process::Output) -> String {
    let text = String::from_utf8_lossy(&out.stderr);
    let text = if text.trim().is_empty() { String::from_utf8_lossy(&out.stdout) } else { text };
    text.trim().chars().take(400).collect()
}

/// Modules with a library in NSS's `pkcs11.txt` (the built-in softokn entry has an empty `library=`).
pub(super) fn parse_pkcs11_txt(text: &str) -> Vec<RegisteredModule> {
    let mut out = Vec::new();
    for block in text.split("\n\n") {
        let mut name = None;
        let mut library = None;
        for line in block.lines() {
            if let Some(v) = line.strip_prefix("library=") {
                library = Some(v.trim().to_string());
            } else if let Some(v) = line.strip_prefix("name=") {
                name = Some(v.trim().trim_matches('"').to_string());
            }
        }
        if let (Some(name), Some(library)) = (name, library) {
            if !library.is_empty() {
                out.push(RegisteredModule { name, library: PathBuf::from(library) });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkcs11_txt_modules() {
        let txt = "library=\nname=NSS Internal PKCS #11 Module\nparameters=configdir='sql:/x'\n\n\
                   library=/usr/lib/softhsm/libsofthsm2.so\nname=SoftHSM\nNSS=trustOrder=75\n";
        let m = parse_pkcs11_txt(txt);
        assert_eq!(
            m,
            vec![RegisteredModule { name: "SoftHSM".into(), library: "/usr/lib/softhsm/libsofthsm2.so".into() }]
        );
    }
}

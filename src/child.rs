//! Child processes (NSS's `certutil`, `modutil`, …): one builder for every spawn, so that no child inherits a
//! secret. A password or PIN handed to the CLI through an environment variable (`--password-env VAR`,
//! `--pin-env VAR`) is named here once, and every [`command`] removes those variables from the child's
//! environment. The process's own environment is left alone (`std::env::remove_var` is unsound once threads run).

use std::collections::BTreeSet;
use std::ffi::{OsStr, OsString};
use std::process::Command;
use std::sync::Mutex;

static SECRET_VARIABLES: Mutex<BTreeSet<OsString>> = Mutex::new(BTreeSet::new());

/// Names an environment variable that holds a secret: no child started by [`command`] will see it.
pub fn hide_variable(name: impl AsRef<OsStr>) {
    let mut set = SECRET_VARIABLES.lock().unwrap_or_else(|p| p.into_inner());
    set.insert(name.as_ref().to_os_string());
}

/// The variables hidden from children so far.
pub fn hidden_variables() -> Vec<OsString> {
    SECRET_VARIABLES.lock().unwrap_or_else(|p| p.into_inner()).iter().cloned().collect()
}

/// `Command::new(program)` without the secret variables (the only way the core starts a process).
pub fn command(program: impl AsRef<OsStr>) -> Command {
    let mut c = Command::new(program);
    for name in hidden_variables() {
        c.env_remove(name);
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn child_does_not_inherit_a_hidden_secret_variable() {
        const VAR: &str = "TROUSSEAU_TEST_SECRET_7F3";
        hide_variable(VAR);
        let c = command("certutil");
        // Removed explicitly, so an inherited value is dropped (the integration test
        // `files::child_processes_never_see_the_password_variable` watches a real child of the real CLI).
        assert!(c.get_envs().any(|(k, v)| k == VAR && v.is_none()), "{:?}", c.get_envs().collect::<Vec<_>>());
    }

    /// The guard: the core starts processes only through [`command`].
    #[test]
    fn every_spawn_goes_through_the_one_builder() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let needle = concat!("Command", "::new(");
        let mut stack = vec![root];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).expect("readable") {
                let p = entry.expect("entry").path();
                if p.is_dir() {
                    stack.push(p);
                    continue;
                }
                if p.extension().is_none_or(|e| e != "rs") || p.ends_with("child.rs") {
                    continue;
                }
                let text = std::fs::read_to_string(&p).expect("read");
                // Test modules may run tools directly (they set up fixtures, not secrets).
                let code = text.split("#[cfg(test)]").next().unwrap_or("");
                assert!(!code.contains(needle), "{} starts a process without crate::child::command", p.display());
            }
        }
    }
}

//! NSS databases for the store tests: real `cert9.db`/`key4.db` created with `certutil`, inspected with
//! `certutil`/`modutil` (the test PKI is in `support::pki`).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use sha2::Digest;

/// Creates an empty, password-less NSS database in `dir` (as Chromium's first start does).
pub fn create_db(dir: &Path) {
    std::fs::create_dir_all(dir).expect("create nssdb dir");
    let out = Command::new("certutil")
        .args(["-N", "--empty-password", "-d"])
        .arg(format!("sql:{}", dir.display()))
        .stdin(Stdio::null())
        .output()
        .expect("certutil runs (libnss3-tools)");
    assert!(out.status.success(), "certutil -N: {}", String::from_utf8_lossy(&out.stderr));
}

fn nss_tool(tool: &str, dir: &Path, args: &[&str]) -> Output {
    let db = format!("sql:{}", dir.display());
    let mut c = Command::new(tool);
    if tool == "modutil" {
        c.args(["-dbdir", &db]);
    } else {
        c.args(["-d", &db]);
    }
    c.args(args).stdin(Stdio::null()).output().unwrap_or_else(|e| panic!("{tool} runs: {e}"))
}

/// `certutil -L` output: one line per certificate nickname with its trust flags.
pub fn certutil_list(dir: &Path) -> String {
    let out = nss_tool("certutil", dir, &["-L"]);
    assert!(out.status.success(), "certutil -L: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Nicknames and trust flags from `certutil -L` (the header lines skipped).
pub fn certutil_entries(dir: &Path) -> Vec<(String, String)> {
    certutil_list(dir)
        .lines()
        .skip(4)
        .filter(|l| !l.trim().is_empty())
        .filter_map(|l| {
            let l = l.trim_end();
            let (nick, trust) = l.rsplit_once(char::is_whitespace)?;
            Some((nick.trim().to_string(), trust.to_string()))
        })
        .collect()
}

/// `certutil -K` output: the private keys (empty database: certutil exits non-zero with "no keys found").
pub fn certutil_keys(dir: &Path) -> String {
    let out = nss_tool("certutil", dir, &["-K"]);
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

/// Number of private keys `certutil -K` lists.
pub fn key_count(dir: &Path) -> usize {
    certutil_keys(dir).lines().filter(|l| l.starts_with('<')).count()
}

/// `modutil -list` output.
pub fn modutil_list(dir: &Path) -> String {
    let out = nss_tool("modutil", dir, &["-list"]);
    assert!(out.status.success(), "modutil -list: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// SHA-256 of every file in `dir`: equal maps mean the database is byte-for-byte unchanged.
pub fn hash_dir(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for e in std::fs::read_dir(dir).expect("read nssdb dir") {
        let e = e.expect("dir entry");
        if e.file_type().map(|t| t.is_file()).unwrap_or(false) {
            let bytes = std::fs::read(e.path()).expect("read db file");
            out.insert(e.file_name().to_string_lossy().into_owned(), hex::encode(sha2::Sha256::digest(&bytes)));
        }
    }
    out
}

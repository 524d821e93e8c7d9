//! The stable error codes (`Coded::code`) are a contract with the window, the CLI's `--json` readers and support
//! scripts: `docs/error-codes.txt` lists every code of every module error enum, and this test fails when one is
//! added, removed, renamed or moved to another variant without the snapshot being updated in the same commit.
//!
//! The codes are read from the source (every `impl … Coded for E` in `src/`, the `match` arms of its `fn code`),
//! so a new error enum is covered the day it is written. Arms that delegate (`E::Store(e) => e.code()`) carry no
//! code of their own: the delegate's enum lists it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

const SNAPSHOT: &str = "docs/error-codes.txt";

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `code<TAB>Enum::Variant` for every arm of every `Coded::code` in `source`.
fn codes_in(source: &str, out: &mut BTreeSet<String>) {
    let mut rest = source;
    while let Some(at) = rest.find("Coded for ") {
        rest = &rest[at + "Coded for ".len()..];
        let enum_name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
        let Some(body_at) = rest.find("fn code(&self)") else { break };
        let body = &rest[body_at..];
        // The body ends at the brace that closes `fn code` (patterns' `{ .. }` are balanced).
        let mut depth = 0usize;
        let mut end = body.len();
        for (i, c) in body.char_indices() {
            match c {
                '{' => depth += 1,
                '}' if depth == 1 => {
                    end = i;
                    break;
                }
                '}' => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
        let body = &body[..end];
        // Arms may span lines (rustfmt breaks long `A | B` patterns): split on `,` ends of `=> "code"` arms.
        let mut pattern = String::new();
        for line in body.lines().skip(2) {
            let line = line.trim();
            match line.split_once("=> \"") {
                Some((pat, code)) => {
                    pattern.push_str(pat);
                    let code = code.split('"').next().unwrap_or_default();
                    for variant in pattern.split('|') {
                        let variant = variant.split(['{', '(']).next().unwrap_or_default().trim();
                        if !variant.is_empty() {
                            out.insert(format!("{code}\t{}", variant.replace("Self::", &format!("{enum_name}::"))));
                        }
                    }
                    pattern.clear();
                }
                None if line.contains("=>") => pattern.clear(), // delegating arm
                None => pattern.push_str(line),
            }
        }
        rest = &rest[body_at..];
    }
}

#[test]
fn error_codes_match_the_committed_snapshot() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    files.sort();
    let mut codes = BTreeSet::new();
    for f in &files {
        codes_in(&std::fs::read_to_string(f).unwrap(), &mut codes);
    }
    assert!(codes.len() > 100, "the scan found only {} codes: the parser no longer matches the source", codes.len());
    for line in &codes {
        let code = line.split('\t').next().unwrap();
        assert!(
            code.contains('.')
                && code.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._".contains(c)),
            "not a dotted lowercase code: {line:?}"
        );
    }
    let current: String = codes.iter().map(|l| format!("{l}\n")).collect();
    let header = "# Every stable error code (code<TAB>Enum::Variant), checked by tests/it/error_codes.rs.\n\
                  # A code never changes once released: add new lines, do not rename old ones.\n";
    let expected = std::fs::read_to_string(root.join(SNAPSHOT)).unwrap_or_default();
    let committed: String = expected.lines().filter(|l| !l.starts_with('#')).map(|l| format!("{l}\n")).collect();
    if committed != current {
        let old: BTreeSet<&str> = committed.lines().collect();
        let new: BTreeSet<&str> = current.lines().collect();
        let gone: Vec<_> = old.difference(&new).collect();
        let added: Vec<_> = new.difference(&old).collect();
        panic!(
            "error codes differ from {SNAPSHOT}\n  removed or changed: {gone:?}\n  added: {added:?}\n\
             If this is deliberate, replace {SNAPSHOT} with:\n{header}{current}"
        );
    }
}

#[test]
fn the_scanner_reads_multi_line_and_delegating_arms() {
    let src = r#"
impl Coded for DemoError {
    fn code(&self) -> &'static str {
        match self {
            DemoError::A { .. } => "demo.a",
            DemoError::B | DemoError::C(_) => "demo.bc",
            DemoError::LongName { .. }
            | DemoError::OtherLongName { .. } => "demo.long",
            DemoError::Store(e) => e.code(),
        }
    }

    fn message(&self, lang: Lang) -> String {
        "x => \"not.a.code\"".into()
    }
}
"#;
    let mut codes = BTreeSet::new();
    codes_in(src, &mut codes);
    let got: Vec<&str> = codes.iter().map(String::as_str).collect();
    assert_eq!(
        got,
        [
            "demo.a\tDemoError::A",
            "demo.bc\tDemoError::B",
            "demo.bc\tDemoError::C",
            "demo.long\tDemoError::LongName",
            "demo.long\tDemoError::OtherLongName"
        ]
    );
}

//! Replays the cargo-fuzz corpus (fuzz/corpus/<target>/) through the same entry points as the fuzz targets, so every
//! input that once crashed or found new coverage stays a regression test in CI (which runs no fuzzing).

use std::path::PathBuf;

fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus").join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "empty corpus {}", dir.display());
    files.into_iter().map(|p| (p.clone(), std::fs::read(&p).unwrap())).collect()
}

#[test]
fn cert_corpus() {
    let mut read = 0;
    for (path, data) in corpus("cert") {
        if let Ok(certs) = trousseau::cert::read_certificates(&data) {
            read += 1;
            for c in certs {
                serde_json::to_string(&c).unwrap();
                let again = trousseau::cert::parse_der(&c.der).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                assert_eq!(again.sha256, c.sha256);
            }
        }
    }
    assert!(read > 0, "the seeds must be readable");
}

#[test]
fn pkcs7_corpus() {
    for (_, data) in corpus("pkcs7") {
        let _ = trousseau::cert::read_pkcs7(&data);
    }
}

#[test]
fn pkcs12_corpus() {
    let mut read = 0;
    for (_, data) in corpus("pkcs12") {
        for password in ["Fixture#Passw0rd", ""] {
            if let Ok(contents) = trousseau::pkcs12::read(&data, password) {
                read += 1;
                for key in &contents.keys {
                    let _ = key.public_key();
                }
                let _ = contents.require_key_and_cert();
            }
        }
    }
    assert!(read > 0, "the seeds must be readable");
}

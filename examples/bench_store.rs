//! Store benchmarks, Trousseau next to NSS's own tools in one run (medians and ratios):
//!
//! 1. importing a `.p12` (RSA-2048 + CA, OpenSSL 3 defaults) into an empty NSS database: `trousseau p12 import`
//!    against `pk12util -i` (both as processes), plus the library call alone;
//! 2. listing a 1,000-certificate NSS database: `trousseau store list --json` against `certutil -L`, plus the
//!    library call alone.
//!
//! Run: `cargo build --bin trousseau && cargo run --example bench_store [-- ROUNDS]` (dev profile; needs openssl,
//! certutil, pk12util). Not run in CI.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

const PW: &str = "Bench-Passw0rd!";

fn main() -> Result<()> {
    let rounds: usize = std::env::args().nth(1).map(|s| s.parse()).transpose()?.unwrap_or(15);
    let cli = std::env::current_exe()?
        .parent()
        .and_then(Path::parent)
        .map(|d| d.join("trousseau"))
        .context("locating target/debug")?;
    if !cli.exists() {
        bail!("{} is missing: run `cargo build --bin trousseau` first", cli.display());
    }
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path();

    // --- fixtures: a .p12 made by OpenSSL, an empty NSS database template, a password file for pk12util.
    sh(
        dir,
        "openssl",
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-subj",
            "/CN=Bench Root",
            "-days",
            "30",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
        ],
    )?;
    sh(
        dir,
        "openssl",
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "leaf.key",
            "-out",
            "leaf.csr",
            "-subj",
            "/CN=Bench Agent",
        ],
    )?;
    sh(
        dir,
        "openssl",
        &[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "leaf.pem",
            "-days",
            "30",
        ],
    )?;
    sh(
        dir,
        "openssl",
        &[
            "pkcs12",
            "-export",
            "-in",
            "leaf.pem",
            "-inkey",
            "leaf.key",
            "-certfile",
            "ca.pem",
            "-out",
            "bench.p12",
            "-passout",
            "env:BENCH_PW",
        ],
    )?;
    let p12 = dir.join("bench.p12");
    let template = dir.join("template");
    std::fs::create_dir(&template)?;
    sh(dir, "certutil", &["-N", "--empty-password", "-d", &format!("sql:{}", template.display())])?;
    // pk12util reads the file password from a 0600 file in our private temp dir (the reference tool's own way).
    let pwfile = dir.join("pw.txt");
    {
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&pwfile)?;
        f.write_all(format!("{PW}\n").as_bytes())?;
    }

    println!("== .p12 import into an empty NSS database ({rounds} rounds, RSA-2048 + CA, OpenSSL 3 defaults)");
    let fresh = |n: usize, tag: &str| -> Result<PathBuf> {
        let d = dir.join(format!("{tag}-{n}"));
        std::fs::create_dir(&d)?;
        for f in ["cert9.db", "key4.db", "pkcs11.txt"] {
            std::fs::copy(template.join(f), d.join(f))?;
        }
        Ok(d)
    };
    let mut ours_cli = Vec::new();
    let mut ours_lib = Vec::new();
    let mut reference = Vec::new();
    let der = std::fs::read(&p12)?;
    for n in 0..rounds {
        // Interleave the three so machine noise hits them alike.
        let db = fresh(n, "pk12util")?;
        let t = Instant::now();
        let out = Command::new("pk12util")
            .args(["-i"])
            .arg(&p12)
            .arg("-d")
            .arg(format!("sql:{}", db.display()))
            .arg("-w")
            .arg(&pwfile)
            .stdin(Stdio::null())
            .output()?;
        reference.push(t.elapsed());
        if !out.status.success() {
            bail!("pk12util: {}", String::from_utf8_lossy(&out.stderr));
        }

        let db = fresh(n, "cli")?;
        let t = Instant::now();
        let mut child = Command::new(&cli)
            .args(["--json", "p12", "import", "--password-stdin"])
            .arg(&p12)
            .env("TROUSSEAU_NSSDB", &db)
            .env("TROUSSEAU_HOME", dir.join("home"))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()?;
        child.stdin.take().context("stdin")?.write_all(format!("{PW}\n").as_bytes())?;
        let out = child.wait_with_output()?;
        ours_cli.push(t.elapsed());
        if !out.status.success() {
            bail!("trousseau p12 import: {}", String::from_utf8_lossy(&out.stderr));
        }

        let db = fresh(n, "lib")?;
        let t = Instant::now();
        let identity = trousseau::store::identity_from_pkcs12(&der, PW)?;
        let mut store = trousseau::store::open_nss(&db)?;
        store.install_identity(&identity)?;
        ours_lib.push(t.elapsed());
    }
    let r = median(&mut reference);
    report("pk12util -i (reference)", r, r);
    report("trousseau p12 import (CLI process)", median(&mut ours_cli), r);
    report("store::import (library call, incl. opening the DB)", median(&mut ours_lib), r);

    // --- 1,000-certificate database.
    println!("\n== listing a 1,000-certificate NSS database ({rounds} rounds)");
    let big = dir.join("big");
    let t = Instant::now();
    fill(&big, 1000)?;
    println!("   (filled in {:.1} s)", t.elapsed().as_secs_f64());
    let mut ours_cli = Vec::new();
    let mut ours_lib = Vec::new();
    let mut reference = Vec::new();
    let mut lib_store = trousseau::store::open_nss(&big)?;
    let mut count = 0;
    for _ in 0..rounds {
        let t = Instant::now();
        let out = Command::new("certutil")
            .args(["-L", "-d"])
            .arg(format!("sql:{}", big.display()))
            .stdin(Stdio::null())
            .output()?;
        reference.push(t.elapsed());
        let lines = String::from_utf8_lossy(&out.stdout).lines().count();
        if !out.status.success() || lines < 1000 {
            bail!("certutil -L listed {lines} lines: {}", String::from_utf8_lossy(&out.stderr));
        }

        let t = Instant::now();
        let out = Command::new(&cli)
            .args(["--json", "store", "list"])
            .env("TROUSSEAU_NSSDB", &big)
            .env("TROUSSEAU_HOME", dir.join("home"))
            .stdin(Stdio::null())
            .output()?;
        ours_cli.push(t.elapsed());
        let v: serde_json::Value = serde_json::from_slice(&out.stdout)?;
        count = v.as_array().map(Vec::len).unwrap_or(0);

        let t = Instant::now();
        let listed = lib_store.list()?;
        ours_lib.push(t.elapsed());
        if listed.len() != count {
            bail!("library listed {} certificates, CLI {count}", listed.len());
        }
    }
    if count != 1000 {
        bail!("expected 1000 certificates, listed {count}");
    }
    let r = median(&mut reference);
    report("certutil -L (reference)", r, r);
    report("trousseau store list --json (CLI process)", median(&mut ours_cli), r);
    report("store::list (library call, DB open)", median(&mut ours_lib), r);
    Ok(())
}

/// Fills `dir` with `n` identities (EC P-256 key + self-signed certificate) through the library.
fn fill(dir: &Path, n: usize) -> Result<()> {
    let mut store = trousseau::store::open_nss(dir)?;
    for i in 0..n {
        let key = rcgen::KeyPair::generate()?;
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name.push(rcgen::DnType::CommonName, format!("Bench Holder {i:04}"));
        params.distinguished_name.push(rcgen::DnType::OrganizationName, "Trousseau Bench");
        let cert = params.self_signed(&key)?;
        let certificate = trousseau::cert::parse_der(cert.der())?;
        let identity = trousseau::store::Identity {
            key_pkcs8: zeroize::Zeroizing::new(key.serialize_der()),
            certificate,
            chain: Vec::new(),
            friendly_name: None,
        };
        store.install_identity(&identity)?;
    }
    Ok(())
}

fn sh(dir: &Path, program: &str, args: &[&str]) -> Result<()> {
    let out = Command::new(program).args(args).current_dir(dir).env("BENCH_PW", PW).stdin(Stdio::null()).output()?;
    if !out.status.success() {
        bail!("{program} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(())
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn report(what: &str, ours: Duration, reference: Duration) {
    println!(
        "   {what:<55} median {:>8.2} ms   ratio {:.2}x",
        ours.as_secs_f64() * 1e3,
        ours.as_secs_f64() / reference.as_secs_f64()
    );
}

//! Benchmark: the whole `trousseau csr new` process (RSA-2048 generation, CSR signing, vault entry encrypted with
//! the key from the keyring, durable writes) against `openssl req -new -newkey rsa:2048 -nodes`, alternating, in
//! one run. Prints both medians and the ratio (goal: ≤ 0.8× OpenSSL).
//!
//! Needs the session keyring:
//!   cargo build --bin trousseau && scripts/in-session.sh cargo run --example bench_csr [RUNS]
//! (`TROUSSEAU_BIN` overrides the CLI path; default: target/debug/trousseau next to this example.)

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2
    }
}

fn main() -> anyhow::Result<()> {
    let runs: usize = std::env::args().nth(1).map(|s| s.parse()).transpose()?.unwrap_or(25).max(20);
    let bin = match std::env::var_os("TROUSSEAU_BIN") {
        Some(p) => PathBuf::from(p),
        None => {
            let exe = std::env::current_exe()?;
            exe.parent().and_then(|p| p.parent()).map(|p| p.join("trousseau")).unwrap_or_default()
        }
    };
    anyhow::ensure!(bin.exists(), "{} not found: run `cargo build --bin trousseau` first", bin.display());
    let dir = tempfile::tempdir()?;
    let home = dir.path().join("home");
    let subject_ours = "CN=Bench Agent,O=Trousseau,C=LU";
    let subject_openssl = "/C=LU/O=Trousseau/CN=Bench Agent";

    let ours = |i: usize| -> anyhow::Result<Duration> {
        let out = dir.path().join(format!("t{i}.csr"));
        let start = Instant::now();
        let st = Command::new(&bin)
            .env("TROUSSEAU_HOME", &home)
            .args(["csr", "new", "--subject", subject_ours, "--out"])
            .arg(&out)
            .stdout(Stdio::null())
            .status()?;
        let t = start.elapsed();
        anyhow::ensure!(
            st.success(),
            "trousseau csr new failed (is the session keyring running? use scripts/in-session.sh)"
        );
        Ok(t)
    };
    let openssl = |i: usize| -> anyhow::Result<Duration> {
        let key = dir.path().join(format!("o{i}.key"));
        let out = dir.path().join(format!("o{i}.csr"));
        let start = Instant::now();
        let st = Command::new("openssl")
            .args(["req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout"])
            .arg(&key)
            .arg("-out")
            .arg(&out)
            .args(["-subj", subject_openssl])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()?;
        let t = start.elapsed();
        anyhow::ensure!(st.success(), "openssl req failed");
        Ok(t)
    };

    // Warm-up (vault key creation, page cache) — not measured.
    ours(usize::MAX)?;
    openssl(usize::MAX)?;
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for i in 0..runs {
        // Alternate which one goes first, so neither always runs on a warmer machine.
        if i % 2 == 0 {
            a.push(ours(i)?);
            b.push(openssl(i)?);
        } else {
            b.push(openssl(i)?);
            a.push(ours(i)?);
        }
    }
    let (ma, mb) = (median(&mut a), median(&mut b));
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!("runs each:                      {runs}");
    println!("trousseau csr new (median):     {:8.1} ms  (min {:.1}, max {:.1})", ms(ma), ms(a[0]), ms(a[runs - 1]));
    println!("openssl req -newkey rsa:2048:   {:8.1} ms  (min {:.1}, max {:.1})", ms(mb), ms(b[0]), ms(b[runs - 1]));
    println!("ratio trousseau / openssl:      {:8.2}×  (goal ≤ 0.80×)", ma.as_secs_f64() / mb.as_secs_f64());
    Ok(())
}

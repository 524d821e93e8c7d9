//! Opening a 200 MB bid: `trousseau envelope open` next to `openssl cms -decrypt` with the same key, in one run.
//! Envelopes made by OpenSSL to an RSA-2048 certificate whose key is in an NSS database (Trousseau decrypts the
//! content key inside softokn; OpenSSL reads the PEM key). AES-256-CBC (streamed by both) and AES-256-GCM.
//! Prints the median wall time of each, the ratio (goal ≤ 1.0×) and each one's peak memory (maxrss of the process).
//!
//! Run: `cargo build --bin trousseau && cargo run --example bench_envelope [-- ROUNDS [MEGABYTES]]` (dev profile:
//! aws-lc-rs is built with opt-level 3 there). Not run in CI.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let rounds: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(5);
    let megabytes: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(200);
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
    std::fs::create_dir(dir.join("nssdb"))?;
    sh(dir, "certutil", &["-N", "-d", "sql:nssdb", "--empty-password"])?;
    sh(
        dir,
        "openssl",
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "key.pem",
            "-out",
            "cert.pem",
            "-days",
            "30",
            "-subj",
            "/CN=Banc Pli/C=LU",
            "-addext",
            "keyUsage=keyEncipherment",
        ],
    )?;
    sh(
        dir,
        "openssl",
        &[
            "pkcs12",
            "-export",
            "-inkey",
            "key.pem",
            "-in",
            "cert.pem",
            "-out",
            "k.p12",
            "-passout",
            "pass:Banc-Pli-2026!",
        ],
    )?;
    let mut import = Command::new(&cli);
    import
        .current_dir(dir)
        .env("TROUSSEAU_HOME", dir.join("home"))
        .env("TROUSSEAU_NSSDB", dir.join("nssdb"))
        .env("TROUSSEAU_PKCS11_SYSTEM", "0")
        .env("PW", "Banc-Pli-2026!")
        .args(["p12", "import", "--password-env", "PW", "k.p12"])
        .stdout(std::process::Stdio::null());
    if !import.status()?.success() {
        bail!("p12 import failed");
    }
    // content: pseudo-random bytes (not compressible), written in 1 MB blocks
    {
        use std::io::Write;
        let mut f = std::io::BufWriter::new(std::fs::File::create(dir.join("offre.bin"))?);
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut block = vec![0u8; 1 << 20];
        for _ in 0..megabytes {
            for b in block.chunks_mut(8) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                b.copy_from_slice(&x.to_le_bytes()[..b.len()]);
            }
            f.write_all(&block)?;
        }
    }
    println!("opening a {megabytes} MB envelope, {rounds} rounds each (median; peak memory = the process's maxrss)");
    for cipher in ["aes-256-cbc", "aes-256-gcm"] {
        let env = format!("offre-{cipher}.p7m");
        sh(
            dir,
            "openssl",
            &[
                "cms",
                "-encrypt",
                "-binary",
                "-in",
                "offre.bin",
                "-outform",
                "DER",
                "-out",
                &env,
                &format!("-{cipher}"),
                "cert.pem",
            ],
        )?;
        let mut ours = Vec::new();
        let mut theirs = Vec::new();
        let (mut ours_rss, mut theirs_rss) = (0u64, 0u64);
        for round in 0..rounds {
            let out = dir.join(format!("ours-{round}"));
            let mut c = Command::new(&cli);
            c.current_dir(dir)
                .env("TROUSSEAU_HOME", dir.join("home"))
                .env("TROUSSEAU_NSSDB", dir.join("nssdb"))
                .env("TROUSSEAU_PKCS11_SYSTEM", "0")
                .args(["envelope", "open", &env, "--out"])
                .arg(&out);
            let (t, rss) = timed(c)?;
            ours.push(t);
            ours_rss = ours_rss.max(rss);
            std::fs::remove_file(&out)?;
            let out = dir.join(format!("theirs-{round}"));
            let mut c = Command::new("openssl");
            c.current_dir(dir)
                .args([
                    "cms", "-decrypt", "-binary", "-inform", "DER", "-in", &env, "-inkey", "key.pem", "-recip",
                    "cert.pem", "-out",
                ])
                .arg(&out);
            let (t, rss) = timed(c)?;
            theirs.push(t);
            theirs_rss = theirs_rss.max(rss);
            std::fs::remove_file(&out)?;
        }
        let (a, b) = (median(&mut ours), median(&mut theirs));
        println!(
            "{cipher}: trousseau envelope open {:.3} s (peak {} MB) | openssl cms -decrypt {:.3} s (peak {} MB) | ratio {:.2}x (goal <= 1.0x)",
            a.as_secs_f64(),
            ours_rss / 1024,
            b.as_secs_f64(),
            theirs_rss / 1024,
            a.as_secs_f64() / b.as_secs_f64()
        );
        std::fs::remove_file(dir.join(&env))?;
    }
    Ok(())
}

/// Runs `c`, returns its wall time and its peak resident memory (KiB) from wait4.
fn timed(mut c: Command) -> Result<(Duration, u64)> {
    c.stdout(std::process::Stdio::null());
    let t = Instant::now();
    let child = c.spawn()?;
    let mut status = 0;
    // SAFETY: `usage` is a plain C struct that wait4 fills; the pid is our own child, waited for once.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    let took = t.elapsed();
    if r < 0 || !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
        bail!("{c:?} failed");
    }
    Ok((took, usage.ru_maxrss as u64))
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn sh(dir: &Path, tool: &str, args: &[&str]) -> Result<PathBuf> {
    let out = Command::new(tool).current_dir(dir).args(args).output().with_context(|| format!("{tool} runs"))?;
    if !out.status.success() {
        bail!("{tool} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(dir.to_path_buf())
}

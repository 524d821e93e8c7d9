//! Listing tokens through the per-module helper processes (`src/token/host.rs`) next to listing them in process,
//! in one run: discovery (C_GetInfo) then every token's information, on SoftHSM2 with three tokens (and any module
//! named in `TROUSSEAU_PKCS11_MODULE`). Prints the median of each, the ratio (goal ≤ 1.2×) and the cost of the
//! first listing through helpers (the helpers start then).
//!
//! Run: `cargo run --example bench_tokens [-- ROUNDS]`. Not run in CI. The example serves as its own helper, as the
//! CLI and the desktop app do.

use anyhow::{bail, Result};
use std::process::Command;
use std::time::{Duration, Instant};
use trousseau::token;
use trousseau::Lang;

fn main() -> Result<()> {
    if let Some(code) = token::serve_if_asked() {
        std::process::exit(code);
    }
    let rounds: usize = std::env::args().nth(1).map(|s| s.parse()).transpose()?.unwrap_or(40);
    let tmp = tempfile::tempdir()?;
    let conf = tmp.path().join("softhsm2.conf");
    std::fs::create_dir(tmp.path().join("tokens"))?;
    std::fs::write(
        &conf,
        format!("directories.tokendir = {}\nobjectstore.backend = file\n", tmp.path().join("tokens").display()),
    )?;
    // Set before any thread exists; the helpers inherit it.
    std::env::set_var("SOFTHSM2_CONF", &conf);
    for label in ["Banc 1", "Banc 2", "Banc 3"] {
        // Bench set-up only: these PINs are throw-away.
        let st = Command::new("softhsm2-util")
            .args(["--init-token", "--free", "--label", label, "--so-pin", "12345678", "--pin", "1234"])
            .output()?;
        if !st.status.success() {
            bail!("softhsm2-util: {}", String::from_utf8_lossy(&st.stderr));
        }
    }
    let softhsm = ["/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .ok_or_else(|| anyhow::anyhow!("SoftHSM2 is not installed"))?;
    let mut modules = vec![std::path::PathBuf::from(softhsm)];
    if let Some(extra) = std::env::var_os("TROUSSEAU_PKCS11_MODULE") {
        modules.extend(std::env::split_paths(&extra));
    }
    let opts = token::DiscoveryOptions::only(modules);
    let list = || -> Result<usize> {
        let d = token::discover_with(&opts);
        let l = token::list_tokens(&d, Lang::En);
        if !d.problems.is_empty() || !l.problems.is_empty() {
            bail!("module problems: {:?} {:?}", d.problems, l.problems);
        }
        Ok(l.tokens.len())
    };
    let measure = |n: usize| -> Result<(Vec<Duration>, usize)> {
        let mut times = Vec::with_capacity(n);
        let mut count = 0;
        for _ in 0..n {
            let t = Instant::now();
            count = list()?;
            times.push(t.elapsed());
        }
        times.sort();
        Ok((times, count))
    };

    list()?; // warm the file cache and the module's first load
    let (inproc, count) = measure(rounds)?;
    token::isolate_modules(std::env::current_exe()?);
    let first = Instant::now();
    list()?;
    let first = first.elapsed();
    let (helper, count2) = measure(rounds)?;
    if count != count2 {
        bail!("the two ways listed {count} and {count2} tokens");
    }
    let med = |v: &[Duration]| v[v.len() / 2];
    let p95 = |v: &[Duration]| v[(v.len() * 95 / 100).min(v.len() - 1)];
    println!("listing {count} tokens, {rounds} rounds each");
    println!("  in process       median {:>8.2?}  p95 {:>8.2?}", med(&inproc), p95(&inproc));
    println!("  helper processes median {:>8.2?}  p95 {:>8.2?}", med(&helper), p95(&helper));
    println!(
        "  ratio {:.2}× (goal ≤ 1.2×); first listing through helpers (they start) {:.2?}",
        med(&helper).as_secs_f64() / med(&inproc).as_secs_f64(),
        first
    );
    Ok(())
}

//! Files and output (issue 11, parts 4 and 5): a reader that stops early ends the CLI quietly; no command
//! replaces an existing file unless asked (`--force`), and a refused file is left byte-for-byte unchanged; logs
//! written to a file or a pipe carry no colour codes; a child process never sees the variable that carried a
//! password.

use crate::support::pki::Pki;
use crate::support::{json_error_code, json_ok, nss, run_with_stdin, Home};
use std::path::Path;
use std::process::{Command, Output, Stdio};

const PW: &str = "Myc3rt-Sant\u{e9}!2026";

/// A home with an NSS database holding the identity `agent` (key, certificate, chain) and its `.p12`.
fn home_with_identity() -> (Home, Pki) {
    let home = Home::new();
    nss::create_db(&home.file("nssdb"));
    let pki = Pki::test_root(&home.file("pki"), "Trousseau Test Root");
    pki.leaf("agent", "Agent Dupont", "rsa", "keyEncipherment");
    let p12 = pki.p12("agent", PW, &[]);
    let mut c = home.cli();
    c.args(["--json", "p12", "import", "--password-stdin"]).arg(&p12);
    json_ok(&run_with_stdin(c, format!("{PW}\n").as_bytes()));
    (home, pki)
}

/// Runs `cmd` with its standard output a pipe whose reader is already gone.
fn run_with_closed_stdout(mut cmd: Command) -> Output {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn");
    drop(child.stdout.take()); // the reader stops before the first line, as `| head -c0` would
    child.wait_with_output().expect("wait")
}

#[test]
fn closed_output_pipe_ends_every_command_quietly() {
    let (home, pki) = home_with_identity();
    // Well over a pipe buffer, in case a command wrote before the reader went away.
    let bundle = home.file("bundle.pem");
    let one = std::fs::read(pki.path("agent.pem")).expect("agent.pem");
    std::fs::write(&bundle, one.repeat(400)).expect("bundle");
    let p12 = pki.path("agent.p12");
    let b = bundle.to_str().expect("UTF-8");
    let p = p12.to_str().expect("UTF-8");
    let commands: Vec<Vec<&str>> = vec![
        vec!["store", "list"],
        vec!["--json", "store", "list"],
        vec!["store", "profiles"],
        vec!["cert", "inspect", b],
        vec!["--json", "cert", "inspect", b],
        vec!["p12", "inspect", p, "--password-env", "IT_PW"],
        vec!["--json", "p12", "inspect", p, "--password-env", "IT_PW"],
        vec!["csr", "profiles"],
        vec!["--json", "csr", "profiles"],
        vec!["status"],
        vec!["--json", "status"],
        vec!["tokens"],
        vec!["--json", "tokens"],
    ];
    let mut quiet = 0;
    for args in &commands {
        let mut c = home.cli();
        c.args(args).env("IT_PW", PW).env("TROUSSEAU_PKCS11_SYSTEM", "0");
        let o = run_with_closed_stdout(c);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!err.contains("panicked"), "{args:?} panicked on a closed pipe: {err}");
        assert_eq!(o.status.code(), Some(0), "{args:?} must end as a finished command: {err}");
        assert!(!err.contains("\"error\""), "{args:?}: no error JSON for a reader that stopped: {err}");
        quiet += 1;
    }
    println!("closed output pipe: {quiet}/{} commands ended quietly", commands.len());
}

#[test]
fn store_export_never_overwrites_an_existing_file_unless_force() {
    let (home, pki) = home_with_identity();
    let sha = pki.sha256("agent");
    let out = home.file("export.p12");
    std::fs::write(&out, b"someone else's file").expect("write");
    for lang in ["fr", "en", "de"] {
        let mut c = home.cli();
        c.args(["--json", "store", "export", &sha, "--password-env", "EXPORT_PW", "--out"]).arg(&out);
        let o = c.env("EXPORT_PW", PW).env("TROUSSEAU_LANG", lang).output().expect("run");
        assert_eq!(o.status.code(), Some(1), "{}", String::from_utf8_lossy(&o.stderr));
        assert_eq!(json_error_code(&o), "file.exists");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("export.p12") && err.contains("--force"), "names the file and the way out: {err}");
        assert_eq!(std::fs::read(&out).expect("read"), b"someone else's file", "left byte-for-byte unchanged");
    }
    let names: Vec<_> = std::fs::read_dir(home.path()).expect("dir").flatten().map(|e| e.file_name()).collect();
    assert!(!names.iter().any(|n| n.to_string_lossy().starts_with(".tmp-")), "no temporary file left: {names:?}");
    // Asked explicitly: replaced, and OpenSSL reads the new file.
    let mut c = home.cli();
    c.args(["--json", "store", "export", &sha, "--force", "--password-env", "EXPORT_PW", "--out"]).arg(&out);
    json_ok(&c.env("EXPORT_PW", PW).output().expect("run"));
    let dump = crate::support::openssl_reads_p12(home.path(), &out, PW, false);
    assert_eq!(dump.key_modulus, dump.cert_modulus);
}

#[test]
fn store_export_into_a_planted_symlink_does_not_write_through_it() {
    let (home, pki) = home_with_identity();
    let victim = home.file("victim.txt");
    std::fs::write(&victim, b"victim").expect("write");
    let out = home.file("link.p12");
    std::os::unix::fs::symlink(&victim, &out).expect("symlink");
    let mut c = home.cli();
    c.args(["--json", "store", "export", &pki.sha256("agent"), "--password-env", "EXPORT_PW", "--out"]).arg(&out);
    let o = c.env("EXPORT_PW", PW).output().expect("run");
    assert_eq!(json_error_code(&o), "file.exists");
    assert_eq!(std::fs::read(&victim).expect("read"), b"victim");
}

/// The same rule from the window's API (`store_export`): `file.exists` unless `force`. In-process: nextest runs
/// each test in its own process, so this test's environment is its own.
#[test]
fn api_store_export_keeps_an_existing_file_unless_force() {
    let (home, pki) = home_with_identity();
    std::env::set_var("TROUSSEAU_HOME", home.file("home"));
    std::env::set_var("TROUSSEAU_NSSDB", home.file("nssdb"));
    let out = home.file("window.p12");
    std::fs::write(&out, b"keep").expect("write");
    let export = |force: Option<bool>| {
        let req = serde_json::json!({
            "sha256": pki.sha256("agent"), "path": out, "password": PW, "policy": "tcs", "legacy": false, "force": force,
        });
        let req: trousseau::api::ExportRequest = serde_json::from_value(req).expect("request");
        trousseau::api::store_export(req, trousseau::Lang::En)
    };
    let e = export(None).expect_err("an existing file is kept");
    assert_eq!(e.code, "file.exists", "{e:?}");
    assert_eq!(std::fs::read(&out).expect("read"), b"keep");
    export(Some(true)).expect("replaced when the user confirmed");
    assert_ne!(std::fs::read(&out).expect("read"), b"keep");
}

#[test]
fn logs_on_a_pipe_carry_no_ansi_colour_codes() {
    let home = Home::new();
    let pki = Pki::test_root(&home.file("pki"), "Trousseau Test Root");
    pki.leaf("agent", "Agent Dupont", "rsa", "keyEncipherment");
    // A damaged PEM block beside a good certificate: the core logs a warning and reads the rest.
    let mut text = std::fs::read_to_string(pki.path("agent.pem")).expect("pem");
    text.push_str("-----BEGIN CERTIFICATE-----\nnot base64 at all !!\n-----END CERTIFICATE-----\n");
    let file = home.file("damaged.pem");
    std::fs::write(&file, text).expect("write");
    let o = home.cli().args(["cert", "inspect"]).arg(&file).env("TROUSSEAU_LOG", "warn").output().expect("run");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("damaged PEM block"), "the warning is logged: {err}");
    assert!(!err.contains('\u{1b}'), "no ANSI escape in logs written to a pipe: {err:?}");
}

/// The desktop shell logs through tauri-plugin-log, whose ANSI colours exist only with its `colored` feature and
/// `with_colors`: neither may appear (its logs go to a file and to a stdout that is rarely a terminal).
#[test]
fn desktop_logs_carry_no_ansi_colour_codes() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src-tauri");
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).expect("src-tauri/Cargo.toml");
    let log_line = manifest.lines().find(|l| l.starts_with("tauri-plugin-log")).expect("tauri-plugin-log dependency");
    assert!(!log_line.contains("colored"), "{log_line}");
    for entry in std::fs::read_dir(root.join("src")).expect("src-tauri/src").flatten() {
        let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
        assert!(!text.contains("with_colors") && !text.contains("with_ansi(true)"), "{}", entry.path().display());
    }
}

/// `--password-env VAR`: NSS's tools started on the way (here `certutil -N` creating the database) must not
/// inherit VAR. A `certutil` first on PATH records its environment, then runs the real one.
#[test]
fn child_processes_never_see_the_password_variable() {
    const SECRET: &str = "Child-Must-Not-See-9f2!";
    let home = Home::new();
    let bin = home.file("bin");
    std::fs::create_dir_all(&bin).expect("bin");
    let spy = bin.join("certutil");
    std::fs::write(&spy, "#!/bin/sh\nenv > \"$SPY_DIR/certutil-env.$$\"\nexec /usr/bin/certutil \"$@\"\n")
        .expect("spy");
    std::fs::set_permissions(&spy, std::os::unix::fs::PermissionsExt::from_mode(0o755)).expect("chmod");
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let fingerprint = "ab".repeat(32);
    for args in [
        vec!["--json", "store", "export", &fingerprint, "--password-env", "IT_EXPORT_SECRET", "--out", "x.p12"],
        vec!["--json", "store", "list", "--store-password-env", "IT_EXPORT_SECRET"],
    ] {
        // A fresh database each time, so that `certutil -N` runs.
        let _ = std::fs::remove_dir_all(home.file("nssdb"));
        // The commands themselves fail (no such certificate): only their children matter here.
        home.cli()
            .args(&args)
            .current_dir(home.path())
            .env("PATH", &path)
            .env("SPY_DIR", home.path())
            .env("IT_EXPORT_SECRET", SECRET)
            .output()
            .expect("run");
    }
    let dumps: Vec<_> = std::fs::read_dir(home.path())
        .expect("dir")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("certutil-env."))
        .collect();
    assert!(!dumps.is_empty(), "certutil was started (the spy saw it)");
    for d in &dumps {
        let env = std::fs::read_to_string(d.path()).expect("dump");
        assert!(env.contains("SPY_DIR="), "the dump is an environment");
        assert!(!env.contains("IT_EXPORT_SECRET") && !env.contains(SECRET), "a child inherited the secret: {env}");
    }
    println!("child processes watched: {}, secret variables seen: 0", dumps.len());
}

/// `csr new --out`: an existing file is kept (nothing created, no key in the vault); `--force` replaces it.
/// Needs the session keyring.
#[test]
fn csr_new_keeps_an_existing_file_unless_force() {
    use crate::csr::{csr_new, csr_ok, vault_entries};
    let home = Home::new();
    let out = home.file("demande.csr");
    std::fs::write(&out, b"earlier request").expect("write");
    let o = csr_new(&home, &["--subject", "CN=Force Test,C=LU"], &out);
    assert_eq!(json_error_code(&o), "csr.output_exists");
    assert!(String::from_utf8_lossy(&o.stderr).contains("--force"));
    assert_eq!(std::fs::read(&out).expect("read"), b"earlier request");
    assert!(vault_entries(&home).is_empty(), "no key generated for a refused destination");
    csr_ok(&home, &["--subject", "CN=Force Test,C=LU", "--force"], &out);
    assert!(std::fs::read_to_string(&out).expect("read").starts_with("-----BEGIN CERTIFICATE REQUEST-----"));
    assert_eq!(vault_entries(&home).len(), 1);
}

/// `cert install --p12-out`: an unrelated file is kept and the key keeps waiting; `--force` replaces it and the
/// new file is read back by OpenSSL. Needs the session keyring.
#[test]
fn cert_install_p12_out_keeps_an_existing_file_unless_force() {
    use crate::csr::{csr_ok, pending};
    use crate::install::{install, make_ca, sign, PASSWORD};
    let h = Home::new();
    make_ca(h.path());
    csr_ok(&h, &["--subject", "CN=Force Install,C=LU"], &h.file("f.csr"));
    let leaf = sign(h.path(), &h.file("f.csr"), "f");
    let out = h.file("taken.p12");
    std::fs::write(&out, b"not mine to replace").expect("write");
    let o = install(&h, &leaf, &out, PASSWORD, &[]);
    assert_eq!(json_error_code(&o), "install.output_exists");
    assert!(String::from_utf8_lossy(&o.stderr).contains("--force"));
    assert_eq!(std::fs::read(&out).expect("read"), b"not mine to replace");
    assert_eq!(pending(&h).len(), 1, "the key still waits");
    let o = install(&h, &leaf, &out, PASSWORD, &["--force"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let dump = crate::support::openssl_reads_p12(h.path(), &out, PASSWORD, false);
    assert_eq!(dump.key_modulus, dump.cert_modulus);
    assert!(pending(&h).is_empty(), "retired once the replaced file was verified");
}

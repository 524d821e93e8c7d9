//! Secrets never leak (issue 11, part 6). One session with known secrets — a `.p12` imported with its password,
//! a CSR whose key waits in the vault, `cert install --p12-out` with a new password, a store export with another,
//! a PIN login on a SoftHSM2 token, a pairing with the sandbox portal, its channel and a bi-clé registration —
//! then every place a secret could end up is searched for each of them, in clear and in the usual encodings:
//! every file under the data and configuration directories (TROUSSEAU_HOME), the NSS database and the token's
//! directory, the files we wrote, the captured stdout/stderr and logs (TROUSSEAU_LOG=trace), the arguments of
//! every process seen and the environment of every child of the CLI (`/proc/*/cmdline`, `/proc/*/environ`, plus
//! spies for NSS's tools that record theirs), and the sandbox's SQLite database.
//! Needs the session keyring (scripts/in-session.sh).

use crate::install::{make_ca, sign};
use crate::support::pki::Pki;
use crate::support::sandbox::Sandbox;
use crate::support::softhsm::{self, SoftHsm};
use crate::support::{openssl, openssl_pw, Home};
use base64::Engine as _;
use std::collections::{BTreeMap, HashSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const IMPORT_PW: &str = "Imp0rt-Secret-p12!Qz";
const INSTALL_PW: &str = "Inst4ll-Secret-Wx#Lm";
const EXPORT_PW: &str = "Exp0rt-Secret-Vb%Tn";
const PIN: &str = "Pin-Secret-48217";
const AGENT: &str = "agent.secrets";

/// One secret and the byte strings that would betray it.
struct Secret {
    name: String,
    forms: Vec<(&'static str, Vec<u8>)>,
}

impl Secret {
    /// A text secret: UTF-8, UTF-16 (BE, as PKCS#12 encodes passwords, and LE), base64 and hex of UTF-8.
    fn text(name: &str, s: &str) -> Secret {
        let be: Vec<u8> = s.encode_utf16().flat_map(|u| u.to_be_bytes()).collect();
        let le: Vec<u8> = s.encode_utf16().flat_map(|u| u.to_le_bytes()).collect();
        Secret {
            name: name.to_string(),
            forms: vec![
                ("utf-8", s.as_bytes().to_vec()),
                ("utf-16be", be),
                ("utf-16le", le),
                (
                    "base64",
                    base64::engine::general_purpose::STANDARD.encode(s).trim_end_matches('=').as_bytes().to_vec(),
                ),
                ("hex", hex::encode(s).into_bytes()),
            ],
        }
    }

    /// Key bytes: a 32-byte window from the middle (any copy of the key contains it), raw, hex and in any
    /// base64 alignment.
    fn bytes(name: &str, b: &[u8]) -> Secret {
        let mid = b.len() / 2;
        let w = &b[mid.saturating_sub(16)..(mid + 16).min(b.len())];
        let mut forms =
            vec![("raw", w.to_vec()), ("hex", hex::encode(w).into_bytes()), ("HEX", hex::encode_upper(w).into_bytes())];
        for shift in 0..3 {
            let enc = base64::engine::general_purpose::STANDARD.encode(&w[shift..]);
            // The middle of the encoding does not depend on what comes before or after.
            forms.push(("base64", enc.as_bytes()[4..enc.len() - 4].to_vec()));
        }
        Secret { name: name.to_string(), forms }
    }
}

/// Where each secret was found.
#[derive(Default)]
struct Findings(Vec<String>);

impl Findings {
    fn scan(&mut self, secrets: &[Secret], place: &str, data: &[u8]) {
        for s in secrets {
            for (form, needle) in &s.forms {
                if !needle.is_empty() && data.windows(needle.len()).any(|w| w == needle.as_slice()) {
                    self.0.push(format!("{} ({form}) in {place}", s.name));
                }
            }
        }
    }

    fn scan_tree(&mut self, secrets: &[Secret], root: &Path) -> usize {
        let mut files = 0;
        let mut stack = vec![root.to_path_buf()];
        while let Some(dir) = stack.pop() {
            let Ok(rd) = std::fs::read_dir(&dir) else { continue };
            for e in rd.flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else if let Ok(data) = std::fs::read(&p) {
                    self.scan(secrets, &p.display().to_string(), &data);
                    files += 1;
                }
            }
        }
        files
    }
}

/// What a /proc watcher saw: arguments of our processes and environments of the CLI's children.
#[derive(Default)]
struct Seen {
    cmdlines: BTreeMap<u32, Vec<u8>>,
    child_environs: BTreeMap<u32, (String, Vec<u8>)>,
}

/// Polls /proc while the session runs: every process whose executable is the CLI, and its children.
fn watch_proc(stop: Arc<AtomicBool>, seen: Arc<Mutex<Seen>>, cli: PathBuf) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            let mut ours: HashSet<u32> = HashSet::new();
            let mut procs = Vec::new();
            for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
                let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else { continue };
                let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { continue };
                // ppid is the second field after the parenthesised command name.
                let ppid =
                    stat.rsplit(')').next().and_then(|r| r.split_whitespace().nth(1)).and_then(|p| p.parse().ok());
                let exe = std::fs::read_link(format!("/proc/{pid}/exe")).ok();
                if exe.as_deref() == Some(cli.as_path()) {
                    ours.insert(pid);
                }
                procs.push((pid, ppid.unwrap_or(0u32), exe));
            }
            let mut s = seen.lock().unwrap_or_else(|p| p.into_inner());
            for (pid, ppid, exe) in procs {
                // The CLI and its children (the test's own fixtures, e.g. softhsm2-util --pin, are not ours).
                let related = ours.contains(&pid) || ours.contains(&ppid);
                if !related {
                    continue;
                }
                if let Ok(c) = std::fs::read(format!("/proc/{pid}/cmdline")) {
                    if !c.is_empty() {
                        s.cmdlines.insert(pid, c);
                    }
                }
                if ours.contains(&ppid) {
                    if let Ok(env) = std::fs::read(format!("/proc/{pid}/environ")) {
                        let name = exe.map(|e| e.display().to_string()).unwrap_or_default();
                        s.child_environs.insert(pid, (name, env));
                    }
                }
            }
            drop(s);
            std::thread::sleep(Duration::from_millis(3));
        }
    })
}

/// A `certutil`/`modutil`/`pk12util` first on PATH that records its arguments and environment, then runs the real
/// tool: children that the /proc watcher might miss are still seen.
fn spies(dir: &Path) -> String {
    std::fs::create_dir_all(dir.join("bin")).expect("spy bin");
    for tool in ["certutil", "modutil", "pk12util"] {
        let spy = dir.join("bin").join(tool);
        std::fs::write(
            &spy,
            format!(
                "#!/bin/sh\n{{ printf '%s\\n' \"$0\" \"$@\"; env; }} > \"{}/{tool}.$$\"\nexec /usr/bin/{tool} \"$@\"\n",
                dir.display()
            ),
        )
        .expect("spy");
        std::fs::set_permissions(&spy, std::os::unix::fs::PermissionsExt::from_mode(0o755)).expect("chmod");
    }
    format!("{}:{}", dir.join("bin").display(), std::env::var("PATH").unwrap_or_default())
}

/// Every command's arguments and output, for the scan.
#[derive(Default)]
struct Transcript(Vec<(String, Vec<u8>)>);

impl Transcript {
    /// Runs `c` (it must succeed) and keeps its output.
    fn run(&mut self, what: &str, c: &mut Command) -> Output {
        let o = c.output().expect("run");
        self.keep(what, &o);
        assert!(o.status.success(), "{what}: {}", String::from_utf8_lossy(&o.stderr));
        o
    }

    fn keep(&mut self, what: &str, o: &Output) {
        self.0.push((format!("stdout of {what}"), o.stdout.clone()));
        self.0.push((format!("stderr of {what}"), o.stderr.clone()));
    }
}

#[test]
fn session_leaves_no_secret_in_files_logs_processes_or_portal_database() {
    let home = Home::new();
    let spy_dir = home.file("spies");
    let path = spies(&spy_dir);
    // No database yet: the CLI creates it (`certutil -N`), one of the children watched.
    let hsm = SoftHsm::new();
    let cli = |extra_env: &[(&str, &str)]| {
        let mut c = home.cli();
        hsm.env(&mut c);
        c.env("PATH", &path).env("TROUSSEAU_LOG", "trace").env("RUST_LOG", "trace").envs(extra_env.iter().copied());
        c
    };
    let stop = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(Mutex::new(Seen::default()));
    let cli_exe = std::fs::canonicalize(crate::support::bin()).expect("cli path");
    let watcher = watch_proc(Arc::clone(&stop), Arc::clone(&seen), cli_exe);
    let mut t = Transcript::default();

    // 1. A .p12 from OpenSSL imported with its password.
    let pki = Pki::test_root(&home.file("pki"), "Trousseau Test Root");
    pki.leaf("agent", "Agent Secrets", "rsa", "keyEncipherment");
    let p12 = pki.p12("agent", IMPORT_PW, &[]);
    t.run(
        "p12 inspect",
        cli(&[("IT_PW", IMPORT_PW)]).args(["--json", "p12", "inspect", "--password-env", "IT_PW"]).arg(&p12),
    );
    t.run(
        "p12 import",
        cli(&[("IT_PW", IMPORT_PW)]).args(["--json", "p12", "import", "--password-env", "IT_PW"]).arg(&p12),
    );
    let agent_sha = pki.sha256("agent");
    t.run("store import-ca", cli(&[]).args(["--json", "store", "import-ca"]).arg(pki.path("ca.pem")));

    // 2. Export it again with another password.
    let exported = home.file("exported.p12");
    t.run(
        "store export",
        cli(&[("IT_PW", EXPORT_PW)])
            .args(["--json", "store", "export", &agent_sha, "--password-env", "IT_PW", "--out"])
            .arg(&exported),
    );

    // 3. A CSR whose key waits in the vault, signed by a CA, installed into a .p12 with a third password.
    let ca_dir = home.file("ca");
    std::fs::create_dir_all(&ca_dir).expect("ca dir");
    make_ca(&ca_dir);
    let csr = home.file("demande.csr");
    t.run("csr new", cli(&[]).args(["--json", "csr", "new", "--subject", "CN=Secrets Test,C=LU", "--out"]).arg(&csr));
    let leaf = sign(&ca_dir, &csr, "withdrawn");
    let installed = home.file("installed.p12");
    t.run(
        "cert install",
        cli(&[("IT_PW", INSTALL_PW)])
            .args(["--json", "cert", "install", "--password-env", "IT_PW", "--p12-out"])
            .arg(&installed)
            .arg(&leaf),
    );

    // 4. A PIN login on a token.
    hsm.run(
        "softhsm2-util",
        &["--init-token", "--free", "--label", "Carte Secrets", "--so-pin", softhsm::SO_PIN, "--pin", PIN],
    );
    t.run(
        "token login",
        cli(&[("IT_PIN", PIN)]).args(["--json", "token", "login", "--token", "Carte Secrets", "--pin-env", "IT_PIN"]),
    );

    // 5. Pairing with the sandbox portal, the channel for a moment, a bi-clé registration.
    let sb = Sandbox::start();
    let mut pair = cli(&[])
        .args(["--json", "portal", "pair", &sb.url, "--device-name", "poste-secrets"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("pair");
    let mut reader = BufReader::new(pair.stdout.take().expect("stdout"));
    let mut first = String::new();
    reader.read_line(&mut first).expect("user code line");
    let v: serde_json::Value = serde_json::from_str(&first).unwrap_or_else(|e| panic!("{e}: {first}"));
    sb.approve(v["user_code"].as_str().expect("user_code"), AGENT);
    let mut rest = Vec::new();
    std::io::Read::read_to_end(&mut reader, &mut rest).expect("rest");
    let o = pair.wait_with_output().expect("pair ends");
    assert!(o.status.success(), "pair: {}", String::from_utf8_lossy(&o.stderr));
    t.0.push(("stdout of portal pair".into(), [first.into_bytes(), rest].concat()));
    t.0.push(("stderr of portal pair".into(), o.stderr));
    let mut channel =
        cli(&[]).args(["--json", "portal", "run"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("run");
    std::thread::sleep(Duration::from_secs(2));
    t.run("portal status", cli(&[]).args(["--json", "portal", "status"]));
    t.run(
        "portal keys add",
        cli(&[]).args([
            "--json",
            "portal",
            "keys",
            "add",
            "--name",
            "Agent Secrets 2026",
            "--cert",
            &agent_sha,
            "--personal",
        ]),
    );
    t.run("portal keys list", cli(&[]).args(["--json", "portal", "keys", "list"]));
    let _ = channel.kill();
    let o = channel.wait_with_output().expect("channel ends");
    t.keep("portal run", &o);
    t.run("status", cli(&[]).args(["--json", "status"]));

    stop.store(true, Ordering::Relaxed);
    watcher.join().expect("watcher");

    // The secrets themselves, as they exist now: passwords, PIN, portal tokens, vault key, private keys.
    std::env::set_var("TROUSSEAU_HOME", home.file("home"));
    let mut secrets = vec![
        Secret::text("p12 import password", IMPORT_PW),
        Secret::text("cert install password", INSTALL_PW),
        Secret::text("store export password", EXPORT_PW),
        Secret::text("token PIN", PIN),
    ];
    let tokens =
        trousseau::secrets::get_text(&format!("portal-tokens:{}", sb.url)).expect("keyring").expect("tokens stored");
    let tokens: serde_json::Value = serde_json::from_str(&tokens).expect("tokens JSON");
    let mut token_count = 0;
    for (k, v) in tokens.as_object().expect("object") {
        if let Some(s) = v.as_str().filter(|s| s.len() >= 16) {
            secrets.push(Secret::text(&format!("portal {k}"), s));
            token_count += 1;
        }
    }
    assert!(token_count >= 2, "access and refresh tokens: {tokens}");
    let vault = trousseau::vault::Vault::open().expect("vault");
    let vault_key = trousseau::secrets::get(vault.keyring_account()).expect("keyring").expect("vault key");
    secrets.push(Secret::bytes("vault key", &vault_key));
    secrets.push(Secret::text("vault key (hex)", &hex::encode(&*vault_key)));
    let der = |pem_key: &Path| {
        openssl(pem_key.parent().expect("dir"), &["pkey", "-in", pem_key.to_str().expect("UTF-8"), "-outform", "DER"])
            .stdout
    };
    secrets.push(Secret::bytes("agent private key", &der(&pki.path("agent.key"))));
    let dump = openssl_pw(
        home.path(),
        &["pkcs12", "-in", installed.to_str().expect("UTF-8"), "-nodes", "-nocerts", "-passin", "env:P12PW"],
        INSTALL_PW,
    );
    std::fs::write(home.file("csr-key.pem"), &dump.stdout).expect("key pem");
    secrets.push(Secret::bytes("CSR private key (vault)", &der(&home.file("csr-key.pem"))));
    std::fs::remove_file(home.file("csr-key.pem")).expect("remove");

    // Where they must not be.
    let mut f = Findings::default();
    let mut files = 0;
    for root in [home.file("home"), home.file("nssdb"), hsm.file("tokens")] {
        files += f.scan_tree(&secrets, &root);
    }
    for written in [&exported, &installed, &csr] {
        f.scan(&secrets, &written.display().to_string(), &std::fs::read(written).expect("written file"));
        files += 1;
    }
    for db in ["portal.sqlite", "portal.sqlite-wal"] {
        if let Ok(data) = std::fs::read(sb.dir.path().join(db)) {
            f.scan(&secrets, &format!("sandbox database {db}"), &data);
            files += 1;
        }
    }
    for (what, data) in &t.0 {
        f.scan(&secrets, what, data);
    }
    let seen = seen.lock().unwrap_or_else(|p| p.into_inner());
    for (pid, c) in &seen.cmdlines {
        f.scan(&secrets, &format!("/proc/{pid}/cmdline ({})", String::from_utf8_lossy(c).replace('\0', " ")), c);
    }
    for (pid, (exe, env)) in &seen.child_environs {
        f.scan(&secrets, &format!("/proc/{pid}/environ of child {exe}"), env);
    }
    let mut spied = 0;
    for e in std::fs::read_dir(&spy_dir).expect("spies").flatten() {
        if e.path().is_file() {
            f.scan(
                &secrets,
                &format!("arguments and environment of {}", e.file_name().to_string_lossy()),
                &std::fs::read(e.path()).expect("spy"),
            );
            spied += 1;
        }
    }
    println!(
        "secrets: {} known ({} forms); searched {files} files, {} outputs, {} process command lines, {} child environments ({spied} NSS tool runs spied)",
        secrets.len(),
        secrets.iter().map(|s| s.forms.len()).sum::<usize>(),
        t.0.len(),
        seen.cmdlines.len(),
        seen.child_environs.len() + spied,
    );
    println!("secrets found: {}", f.0.len());

    assert!(spied > 0, "NSS tools ran during the session (the spies saw them)");
    assert!(f.0.is_empty(), "secrets found where they must not be:\n{}", f.0.join("\n"));
}

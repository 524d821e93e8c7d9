//! One core, two faces: every operation the CLI and the window both offer is run through the `trousseau` binary
//! and through the window's command functions (`trousseau::api`) on the same fixtures — real NSS databases, the
//! session keyring, the reference portal — and the outcomes and error codes are compared. The cases the two faces
//! once answered differently are here: a file without a CA, an unreadable or oversized `.p12`, a certificate that
//! cannot encrypt registered as a bi-clé, a bi-clé without a kind.
//!
//! The window's functions read `TROUSSEAU_HOME`/`TROUSSEAU_NSSDB` from this process (nextest runs each test in its
//! own process); the CLI gets the same variables from [`Home::cli`].

use crate::support::pki::Pki;
use crate::support::sandbox::Sandbox;
use crate::support::{json_error_code, json_ok, nss, run_with_stdin, Home};
use serde_json::Value;
use std::path::Path;
use std::process::Output;
use trousseau::api::{self, ApiError, ExportRequest, FileRequest, P12Request, PasswordPolicy};
use trousseau::i18n::Lang;

const PW: &str = "Myc3rt-Sant\u{e9}!2026";

/// The window's functions act on `home` (its NSS database, vault and settings).
fn window_uses(home: &Home) {
    std::env::set_var("TROUSSEAU_HOME", home.file("home"));
    std::env::set_var("TROUSSEAU_NSSDB", home.file("nssdb"));
    std::env::set_var("TROUSSEAU_LANG", "fr");
}

fn cli_json(home: &Home, args: &[&str], stdin: Option<&str>) -> Output {
    let mut c = home.cli();
    c.arg("--json").args(args);
    match stdin {
        Some(s) => run_with_stdin(c, format!("{s}\n").as_bytes()),
        None => c.output().expect("trousseau runs"),
    }
}

/// Both faces refused with the same code, and it is `code`.
fn same_refusal(what: &str, cli: &Output, window: Result<impl std::fmt::Debug, ApiError>, code: &str) {
    assert!(!cli.status.success(), "{what}: the CLI accepted it");
    let window = window.expect_err(&format!("{what}: the window accepted it"));
    assert_eq!(json_error_code(cli), window.code, "{what}: the two faces give different codes");
    assert_eq!(window.code, code, "{what}: {}", window.message);
    assert!(!window.message.is_empty());
}

fn p12_request(path: &Path, password: &str) -> P12Request {
    serde_json::from_value(serde_json::json!({ "path": path, "password": password })).expect("P12Request")
}

fn file(path: &Path) -> FileRequest {
    FileRequest { path: path.to_path_buf() }
}

/// Two homes, each with its own empty NSS database: one for the CLI, one for the window; a PKI with an encryption
/// leaf `agent` (and its `.p12`) and a signature-only leaf `signer`.
fn two_homes() -> (Home, Home, Pki) {
    let (cli, window) = (Home::new(), Home::new());
    nss::create_db(&cli.file("nssdb"));
    nss::create_db(&window.file("nssdb"));
    window_uses(&window);
    let pki = Pki::test_root(&cli.file("pki"), "Trousseau Faces Root");
    pki.leaf("agent", "Agent Faces", "rsa", "keyEncipherment");
    pki.p12("agent", PW, &[]);
    pki.leaf("signer", "Agent Signature", "rsa", "digitalSignature");
    pki.p12("signer", PW, &[]);
    (cli, window, pki)
}

#[test]
fn p12_inspect_import_ca_install_and_export_agree_between_faces() {
    let (cli, window, pki) = two_homes();
    let p12 = pki.path("agent.p12");
    let sha = pki.sha256("agent");

    // p12 inspect: the same certificates and keys.
    let c = json_ok(&cli_json(&cli, &["p12", "inspect", "--password-stdin", p12.to_str().unwrap()], Some(PW)));
    let w = api::p12_inspect(p12_request(&p12, PW), Lang::Fr).expect("window inspects");
    assert_eq!(c["private_keys"], w.keys);
    let shas = |v: &Value| -> Vec<String> {
        v["certificates"].as_array().unwrap().iter().map(|c| c["sha256"].as_str().unwrap().to_string()).collect()
    };
    assert_eq!(shas(&c), w.certificates.iter().map(|c| c.sha256.clone()).collect::<Vec<_>>());

    // p12 import: installed in each face's store, then already there for both.
    for round in 0..2 {
        let c = json_ok(&cli_json(&cli, &["p12", "import", "--password-stdin", p12.to_str().unwrap()], Some(PW)));
        let w = api::p12_import(p12_request(&p12, PW), Lang::Fr).expect("window imports");
        assert_eq!((c["sha256"].as_str().unwrap(), w.sha256.as_str()), (sha.as_str(), sha.as_str()));
        assert_eq!(c["already_present"], w.already_present, "round {round}");
        assert_eq!(w.already_present, round == 1);
        let added = c["items"].as_array().unwrap().iter().filter(|i| i["already_present"] == false).count();
        assert_eq!(added as u32, w.installed, "round {round}");
    }
    assert_eq!(nss::key_count(&cli.file("nssdb")), nss::key_count(&window.file("nssdb")));

    // store import-ca / ca_install: the root is trusted in both stores.
    let ca = pki.path("ca.pem");
    let c = json_ok(&cli_json(&cli, &["store", "import-ca", ca.to_str().unwrap()], None));
    let w = api::ca_install(file(&ca), Lang::Fr).expect("window installs the CA");
    assert_eq!(c[0]["sha256"].as_str().unwrap(), w.sha256);
    assert_eq!(c[0]["already_present"], w.already_present);

    // store export with the IGC-Santé policy: a weak password is refused by both, a good one writes a .p12.
    let export = |out: &str, password: &str, force: bool| {
        serde_json::from_value::<ExportRequest>(serde_json::json!({
            "sha256": sha, "path": window.file(out), "password": password, "policy": PasswordPolicy::IgcSante,
            "legacy": false, "force": force,
        }))
        .expect("ExportRequest")
    };
    let cli_export = |out: &str, password: &str| {
        let mut c = cli.cli();
        c.args(["--json", "store", "export", &sha, "--policy", "igc-sante", "--password-env", "PW", "--out"])
            .arg(cli.file(out))
            .env("PW", password);
        c.output().expect("runs")
    };
    same_refusal(
        "weak export password",
        &cli_export("weak.p12", "abc"),
        api::store_export(export("weak.p12", "abc", false), Lang::Fr),
        "password.policy",
    );
    let c = json_ok(&cli_export("out.p12", PW));
    let w = api::store_export(export("out.p12", PW, false), Lang::Fr).expect("window exports");
    assert_eq!(c["certificates"], w.installed);
    assert_eq!(c["sha256"].as_str().unwrap(), w.sha256);
    assert!(cli.file("out.p12").exists() && window.file("out.p12").exists());
    // An existing file is never overwritten without being told to.
    let before = std::fs::read(window.file("out.p12")).unwrap();
    same_refusal(
        "existing export file",
        &cli_export("out.p12", PW),
        api::store_export(export("out.p12", PW, false), Lang::Fr),
        "file.exists",
    );
    assert_eq!(std::fs::read(window.file("out.p12")).unwrap(), before);
}

#[test]
fn refusals_of_p12_and_ca_files_have_one_code_in_both_faces() {
    let (cli, _window, pki) = two_homes();
    let p12 = pki.path("agent.p12");
    let absent = cli.file("absent.p12");
    // Larger than pkcs12::MAX_FILE_SIZE: refused before it is read whole, by inspect and import alike.
    let huge = cli.file("huge.p12");
    std::fs::write(&huge, vec![0x30u8; (trousseau::pkcs12::MAX_FILE_SIZE + 1) as usize]).unwrap();
    let pem = pki.path("agent.pem");
    for (what, path, password, code) in [
        ("wrong password", &p12, "wrong", "pkcs12.wrong_password"),
        ("missing file", &absent, PW, "pkcs12.io"),
        ("oversized file", &huge, PW, "pkcs12.too_large"),
        ("a PEM certificate as .p12", &pem, PW, "pkcs12.not_pkcs12"),
    ] {
        let p = path.to_str().unwrap();
        same_refusal(
            &format!("p12 import: {what}"),
            &cli_json(&cli, &["p12", "import", "--password-stdin", p], Some(password)),
            api::p12_import(p12_request(path, password), Lang::Fr),
            code,
        );
        same_refusal(
            &format!("p12 inspect: {what}"),
            &cli_json(&cli, &["p12", "inspect", "--password-stdin", p], Some(password)),
            api::p12_inspect(p12_request(path, password), Lang::Fr),
            code,
        );
    }
    // A file that holds no authority certificate: one code (it was store.not_ca / desktop.not_a_ca).
    same_refusal(
        "CA install of a leaf",
        &cli_json(&cli, &["store", "import-ca", pem.to_str().unwrap()], None),
        api::ca_install(file(&pem), Lang::Fr),
        "store.not_ca",
    );
    same_refusal(
        "CA install of a missing file",
        &cli_json(&cli, &["store", "import-ca", absent.to_str().unwrap()], None),
        api::ca_install(file(&absent), Lang::Fr),
        "cert.io",
    );
    assert_eq!(nss::key_count(&cli.file("nssdb")), 0, "nothing installed by a refusal");
}

/// The test CA in `dir` signs `NAME.csr` into `NAME.pem` with this serial (two certificates of one authority never
/// share a serial).
fn sign(dir: &Path, name: &str, serial: &str) -> std::path::PathBuf {
    let ext = format!("{name}.ext");
    std::fs::write(dir.join(&ext), "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n").unwrap();
    let (csr, out) = (format!("{name}.csr"), format!("{name}.pem"));
    Pki::at(dir).sign(&csr, &out, 10, &["-set_serial", serial, "-copy_extensions", "copy", "-extfile", &ext]);
    dir.join(out)
}

/// `cert install --into-store` and the window's `pending_install`: each reunites its own request with its pending
/// key, installs it with its key and retires it; a certificate without a pending key is refused by both alike.
#[test]
fn withdrawn_certificate_install_agrees_between_faces() {
    let h = Home::new();
    nss::create_db(&h.file("nssdb"));
    window_uses(&h);
    let d = h.path();
    crate::install::make_ca(d);
    crate::csr::csr_ok(&h, &["--subject", "CN=Agent Ligne,O=Test,C=LU"], &h.file("cli.csr"));
    crate::csr::csr_ok(&h, &["--subject", "CN=Agent Fenetre,O=Test,C=LU"], &h.file("window.csr"));
    assert_eq!(crate::csr::pending(&h).len(), 2);
    let cli_cert = sign(d, "cli", "0x4243");
    let cli_bag = crate::install::bag(d, &cli_cert, "cli.p7b", false);
    let window_cert = sign(d, "window", "0x4244");
    let window_bag = crate::install::bag(d, &window_cert, "window.p7b", true);

    let c = json_ok(&cli_json(&h, &["cert", "install", "--into-store", cli_bag.to_str().unwrap()], None));
    assert_eq!((c["destinations"][0]["kind"].as_str(), c["retired"].as_bool()), (Some("store"), Some(true)));
    let w = api::pending_install(file(&window_bag), Lang::Fr).expect("the window installs");
    assert!(!w.already_present && w.installed >= 2, "{w:?}");
    assert!(crate::csr::pending(&h).is_empty(), "both requests retired");
    let listed = api::store_list((), Lang::Fr).expect("store list");
    for sha in [c["sha256"].as_str().unwrap(), w.sha256.as_str()] {
        assert!(listed.iter().any(|s| s.sha256 == sha && s.has_private_key), "{sha} with its key: {listed:#?}");
    }

    // Again: no pending key is left for either certificate.
    same_refusal(
        "a certificate installed already",
        &cli_json(&h, &["cert", "install", "--into-store", window_bag.to_str().unwrap()], None),
        api::pending_install(file(&cli_bag), Lang::Fr),
        "install.no_matching_key",
    );
    same_refusal(
        "a missing certificate file",
        &cli_json(&h, &["cert", "install", "--into-store", "absent.pem"], None),
        api::pending_install(file(&h.file("absent.pem")), Lang::Fr),
        "cert.io",
    );
}

/// Bi-clés with the reference portal, paired once (through the window) and used by both faces: a certificate
/// that cannot encrypt and a request without a kind are refused by both with one code, before anything is sent.
#[test]
fn bicle_refusals_agree_between_faces() {
    let h = Home::new();
    nss::create_db(&h.file("nssdb"));
    window_uses(&h);
    let pki = Pki::test_root(&h.file("pki"), "Trousseau Faces Root");
    pki.leaf("signer", "Agent Signature", "rsa", "digitalSignature");
    pki.p12("signer", PW, &[]);
    pki.leaf("agent", "Agent Chiffre", "rsa", "keyEncipherment");
    pki.p12("agent", PW, &[]);
    for name in ["signer", "agent"] {
        api::p12_import(p12_request(&pki.path(&format!("{name}.p12")), PW), Lang::Fr).expect("installed");
    }
    let sb = Sandbox::start();
    let code = api::portal_pair_start(
        api::PairRequest { url: sb.url.clone(), device_name: Some("poste-faces".into()) },
        Lang::Fr,
    )
    .expect("pairing code");
    assert_eq!(code.device_name, "poste-faces");
    sb.approve(&code.user_code, "agent.faces");
    assert!(api::portal_pair_finish((), Lang::Fr).expect("paired").paired);

    let add = |sha256: &str, personal: bool, backup: bool| {
        api::portal_bicle_add(
            api::BicleAdd { generate: false, sha256: sha256.into(), designation: "Faces".into(), personal, backup },
            Lang::Fr,
        )
    };
    let cli_add = |sha256: &str, kinds: &[&str]| {
        cli_json(&h, &[&["portal", "keys", "add", "--name", "Faces", "--cert", sha256][..], kinds].concat(), None)
    };
    let (signer, agent) = (pki.sha256("signer"), pki.sha256("agent"));
    same_refusal(
        "a signature-only certificate",
        &cli_add(&signer, &["--personal"]),
        add(&signer, true, false),
        "portal.not_a_bicle",
    );
    same_refusal("no kind", &cli_add(&agent, &[]), add(&agent, false, false), "portal.no_kind");
    same_refusal(
        "a certificate that is nowhere",
        &cli_add(&"ab".repeat(32), &["--backup"]),
        add(&"ab".repeat(32), false, true),
        "portal.certificate_not_found",
    );
    assert_eq!(sb.count("bicles"), 0, "nothing registered by the refusals");

    // Accepted by both: one row each, same certificate.
    let c = json_ok(&cli_add(&agent, &["--personal"]));
    let w = add(&agent, false, true).expect("the window registers");
    assert_eq!(c.as_array().unwrap().len(), 1);
    assert_eq!(c[0]["sha256"].as_str().unwrap(), w[0].sha256);
    assert_eq!(c[0]["kind"], "personal");
    assert_eq!(w[0].kind, api::BicleKind::Backup);
}

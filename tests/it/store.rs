//! The OS certificate store on Linux: real NSS databases in temporary directories, every change confirmed with
//! NSS's own tools (`certutil -L/-K`, `modutil -list`) and exports re-read by OpenSSL.

use std::path::Path;
use std::process::{Command, Output};

use crate::support::nss;
use crate::support::pki::Pki;
use crate::support::{
    json_error_code, json_ok as json, openssl, openssl_pw, openssl_reads_p12, rsa_modulus, run_with_stdin, Home,
};

const PW: &str = "Myc3rt-Sant\u{e9}!2026";

/// A home with an empty NSS database and a PKI holding one RSA leaf `agent` with its `.p12` (modern).
fn setup() -> (Home, Pki) {
    let home = Home::new();
    nss::create_db(&home.file("nssdb"));
    let pki = Pki::test_root(&home.file("pki"), "Trousseau Test Root");
    pki.leaf("agent", "Agent Dupont", "rsa", "keyEncipherment");
    pki.p12("agent", PW, &[]);
    (home, pki)
}

fn import(home: &Home, file: &Path, password: &str) -> Output {
    let mut c = home.cli();
    c.args(["--json", "p12", "import", "--password-stdin"]).arg(file);
    run_with_stdin(c, format!("{password}\n").as_bytes())
}

/// `trousseau store export SHA --out OUT` with `password` from the environment (and `extra` arguments): its report.
fn export(home: &Home, sha: &str, out: &Path, password: &str, extra: &[&str]) -> serde_json::Value {
    let mut c = home.cli();
    c.args(["--json", "store", "export", sha, "--password-env", "EXPORT_PW", "--out"]).arg(out).args(extra);
    json(&c.env("EXPORT_PW", password).output().unwrap())
}

fn list(home: &Home, extra: &[&str]) -> Vec<serde_json::Value> {
    let out = home.cli().args(["--json", "store", "list"]).args(extra).output().expect("run");
    json(&out).as_array().expect("array").clone()
}

#[test]
fn import_p12_installs_key_cert_and_chain_seen_by_certutil() {
    let (home, pki) = setup();
    let db = home.file("nssdb");
    let report = json(&import(&home, &pki.path("agent.p12"), PW));
    let sha = pki.sha256("agent");
    assert_eq!(report["sha256"], sha);
    assert_eq!(report["already_present"], false);
    let kinds: Vec<&str> = report["items"].as_array().unwrap().iter().map(|i| i["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["private_key", "certificate", "ca_certificate"]);

    // NSS's own tools see the certificate as a user certificate (u,u,u: key present), the CA and the key.
    let entries = nss::certutil_entries(&db);
    assert!(entries.iter().any(|(n, t)| n == "agent" && t == "u,u,u"), "certutil -L: {entries:?}");
    assert!(entries.iter().any(|(n, _)| n == "Trousseau Test Root"), "certutil -L: {entries:?}");
    assert_eq!(nss::key_count(&db), 1, "{}", nss::certutil_keys(&db));
    let out = Command::new("certutil")
        .args(["-L", "-n", "agent", "-d"])
        .arg(format!("sql:{}", db.display()))
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("Agent Dupont"));

    // Our listing agrees.
    let certs = list(&home, &["--with-key"]);
    assert_eq!(certs.len(), 1);
    assert_eq!(certs[0]["sha256"], sha);
    assert_eq!(certs[0]["has_private_key"], true);
    assert_eq!(certs[0]["on_token"], false);
    assert_eq!(certs[0]["role"], "identity");
    assert_eq!(certs[0]["nickname"], "agent");
    assert_eq!(certs[0]["subject"], "CN=Agent Dupont,O=Trousseau Test,C=LU");
    assert_eq!(list(&home, &[]).len(), 2);
}

#[test]
fn duplicate_import_is_reported_not_duplicated() {
    let (home, pki) = setup();
    let db = home.file("nssdb");
    json(&import(&home, &pki.path("agent.p12"), PW));
    let before = nss::certutil_entries(&db);
    let again = json(&import(&home, &pki.path("agent.p12"), PW));
    assert_eq!(again["already_present"], true);
    assert!(again["items"].as_array().unwrap().iter().all(|i| i["already_present"] == true));
    assert_eq!(nss::certutil_entries(&db), before);
    assert_eq!(nss::key_count(&db), 1);
    // Human output says so too.
    let mut c = home.cli();
    c.args(["p12", "import", "--password-stdin"]).arg(pki.path("agent.p12"));
    let out = run_with_stdin(c, format!("{PW}\n").as_bytes());
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("Déjà présent"), "{}", String::from_utf8_lossy(&out.stdout));
}

/// Wrong password, truncated file, file without a key: refused with a specific code, database untouched.
#[test]
fn bad_p12_leaves_database_byte_for_byte_unchanged() {
    let (home, pki) = setup();
    let db = home.file("nssdb");
    // A database that already holds something.
    pki.leaf("other", "Autre Personne", "ec", "keyAgreement");
    pki.p12("other", PW, &[]);
    json(&import(&home, &pki.path("other.p12"), PW));
    let before = nss::hash_dir(&db);
    assert!(before.contains_key("cert9.db") && before.contains_key("key4.db"));

    let out = import(&home, &pki.path("agent.p12"), "wrong password");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json_error_code(&out), "pkcs12.wrong_password");
    assert!(String::from_utf8_lossy(&out.stderr).contains("Mot de passe incorrect"));

    let full = std::fs::read(pki.path("agent.p12")).unwrap();
    let truncated = home.file("truncated.p12");
    std::fs::write(&truncated, &full[..full.len() * 2 / 3]).unwrap();
    let out = import(&home, &truncated, PW);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json_error_code(&out), "pkcs12.truncated");

    pki.p12("agent", PW, &["-nokeys"]);
    let out = import(&home, &pki.path("agent.p12"), PW);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json_error_code(&out), "pkcs12.no_private_key");

    assert_eq!(nss::hash_dir(&db), before, "the NSS database changed");
    assert_eq!(list(&home, &[]).len(), 2);
}

#[test]
fn export_round_trip_openssl_reads_key_matching_certificate() {
    let (home, pki) = setup();
    json(&import(&home, &pki.path("agent.p12"), PW));
    let sha = pki.sha256("agent");
    let export_pw = "Export-Tr0ussea\u{fc}!xK9";
    for (legacy, mac) in [(false, "sha256"), (true, "sha1")] {
        let out_file = home.file(if legacy { "legacy.p12" } else { "modern.p12" });
        let extra: &[&str] = if legacy { &["--policy", "igc-sante", "--legacy"] } else { &["--policy", "igc-sante"] };
        let v = export(&home, &sha, &out_file, export_pw, extra);
        assert_eq!(v["certificates"], 2);
        assert!(v["strength"]["score"].as_u64().unwrap() >= 2);

        // OpenSSL reads it with the password (env, not argv) and the key matches the certificate.
        let dump = openssl_reads_p12(home.path(), &out_file, export_pw, false);
        let err = dump.info.to_lowercase();
        assert!(err.contains(&format!("mac: {mac}")), "{err}");
        if legacy {
            assert!(err.contains("tripledes") || err.contains("des-ede3"), "{err}");
        } else {
            assert!(err.contains("aes-256-cbc"), "{err}");
        }
        assert_eq!(dump.cert_modulus, dump.key_modulus, "exported key does not match the certificate");
        assert_eq!(dump.key_modulus, rsa_modulus(&pki.dir, "rsa", "agent.key"));
        assert_eq!(dump.pem.matches("BEGIN CERTIFICATE").count(), 2, "leaf and CA expected");
    }
}

#[test]
fn export_refuses_password_against_policy_and_writes_nothing() {
    let (home, pki) = setup();
    json(&import(&home, &pki.path("agent.p12"), PW));
    let out_file = home.file("weak.p12");
    let out = home
        .cli()
        .args(["--json", "store", "export", &pki.sha256("agent"), "--policy", "tcs", "--password-env", "PW", "--out"])
        .arg(&out_file)
        .env("PW", "short")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json_error_code(&out), "password.policy");
    assert!(!out_file.exists());

    // A certificate without its key cannot be exported.
    let ca_sha = list(&home, &[]).into_iter().find(|c| c["role"] == "ca").expect("CA listed")["sha256"].clone();
    let out = home
        .cli()
        .args(["--json", "store", "export", ca_sha.as_str().unwrap(), "--password-env", "PW", "--out"])
        .arg(&out_file)
        .env("PW", PW)
        .output()
        .unwrap();
    assert_eq!(json_error_code(&out), "store.no_private_key");
}

#[test]
fn ec_identity_imports_and_exports() {
    let home = Home::new();
    nss::create_db(&home.file("nssdb"));
    let pki = Pki::test_root(&home.file("pki"), "EC Root");
    pki.leaf("ec", "Soignant EC", "ec", "keyAgreement");
    pki.p12("ec", PW, &["-legacy"]);
    json(&import(&home, &pki.path("ec.p12"), PW));
    assert_eq!(nss::key_count(&home.file("nssdb")), 1);
    let out_file = home.file("ec-out.p12");
    export(&home, &pki.sha256("ec"), &out_file, PW, &[]);
    openssl_pw(
        home.path(),
        &["pkcs12", "-in", "ec-out.p12", "-nodes", "-nocerts", "-passin", "env:P12PW", "-out", "k.pem"],
        PW,
    );
    let a = openssl(home.path(), &["pkey", "-in", "k.pem", "-pubout"]).stdout;
    let b = openssl(&pki.dir, &["x509", "-in", "ec.pem", "-noout", "-pubkey"]).stdout;
    assert_eq!(a, b);
}

#[test]
fn encryption_capable_filter_and_remove() {
    let (home, pki) = setup();
    let db = home.file("nssdb");
    pki.leaf("sign", "Signature Seule", "ec", "nonRepudiation");
    pki.p12("sign", PW, &[]);
    json(&import(&home, &pki.path("agent.p12"), PW));
    json(&import(&home, &pki.path("sign.p12"), PW));
    assert_eq!(list(&home, &["--with-key"]).len(), 2);
    let enc = list(&home, &["--encryption-capable"]);
    assert_eq!(enc.len(), 1);
    assert_eq!(enc[0]["sha256"], pki.sha256("agent"));
    assert_eq!(enc[0]["encryption_capable"], true);

    let removed = json(&home.cli().args(["--json", "store", "remove", &pki.sha256("agent")]).output().unwrap());
    assert_eq!(removed["sha256"], pki.sha256("agent"));
    let entries = nss::certutil_entries(&db);
    assert!(!entries.iter().any(|(n, _)| n == "agent"), "{entries:?}");
    assert!(entries.iter().any(|(n, _)| n == "sign"), "{entries:?}");
    assert_eq!(nss::key_count(&db), 1, "{}", nss::certutil_keys(&db));

    let out = home.cli().args(["--json", "store", "remove", &pki.sha256("agent")]).output().unwrap();
    assert_eq!(json_error_code(&out), "store.not_found");
    let out = home.cli().args(["--json", "store", "remove", "not-a-fingerprint"]).output().unwrap();
    assert_eq!(json_error_code(&out), "store.bad_fingerprint");
}

#[test]
fn import_ca_is_trusted_in_certutil() {
    let home = Home::new();
    nss::create_db(&home.file("nssdb"));
    let pki = Pki::test_root(&home.file("pki"), "Autorite Sante Test");
    let v = json(&home.cli().args(["--json", "store", "import-ca"]).arg(pki.path("ca.pem")).output().unwrap());
    assert_eq!(v[0]["already_present"], false);
    let entries = nss::certutil_entries(&home.file("nssdb"));
    assert!(entries.iter().any(|(n, t)| n == "Autorite Sante Test" && t == "CT,C,C"), "{entries:?}");
    let certs = list(&home, &[]);
    assert_eq!(certs[0]["trusted"], true);
    assert_eq!(certs[0]["role"], "ca");
    let again = json(&home.cli().args(["--json", "store", "import-ca"]).arg(pki.path("ca.pem")).output().unwrap());
    assert_eq!(again[0]["already_present"], true);
    assert_eq!(nss::certutil_entries(&home.file("nssdb")).len(), 1);

    // A leaf is not an authority.
    pki.leaf("leaf", "Pas Une AC", "ec", "keyAgreement");
    let out = home.cli().args(["--json", "store", "import-ca"]).arg(pki.path("leaf.pem")).output().unwrap();
    assert_eq!(json_error_code(&out), "store.not_ca");
}

#[test]
fn register_module_softhsm_visible_to_modutil() {
    let home = Home::new();
    nss::create_db(&home.file("nssdb"));
    let hsm = crate::support::softhsm::SoftHsm::new();
    let module = crate::support::softhsm::module();
    let mut c = home.cli();
    c.args(["--json", "store", "register-module", "--name", "SoftHSM test", "--module"]).arg(&module);
    hsm.env(&mut c);
    let v = json(&c.output().unwrap());
    assert_eq!(v[0]["registered"], true);
    assert_eq!(v[0]["changed"], true);
    let listed = nss::modutil_list(&home.file("nssdb"));
    assert!(listed.contains("SoftHSM test") && listed.contains(module.to_str().unwrap()), "{listed}");

    let mut c = home.cli();
    c.args(["--json", "store", "register-module", "--name", "SoftHSM test", "--module"]).arg(&module);
    hsm.env(&mut c);
    assert_eq!(json(&c.output().unwrap())[0]["changed"], false);

    let mut c = home.cli();
    c.args(["--json", "store", "register-module", "--name", "SoftHSM test", "--remove", "--module"]).arg(&module);
    hsm.env(&mut c);
    assert_eq!(json(&c.output().unwrap())[0]["changed"], true);
    assert!(!nss::modutil_list(&home.file("nssdb")).contains("SoftHSM test"));

    let out =
        home.cli().args(["--json", "store", "register-module", "--module", "/nonexistent/libx.so"]).output().unwrap();
    assert_eq!(json_error_code(&out), "store.module_missing");

    // Without --module: the card middleware that token discovery finds (here SoftHSM2 through the environment).
    let mut c = home.cli();
    c.args(["--json", "store", "register-module"]);
    hsm.env(&mut c);
    let v = json(&c.output().unwrap());
    assert_eq!(v[0]["name"], "Trousseau softhsm2");
    assert!(nss::modutil_list(&home.file("nssdb")).contains("Trousseau softhsm2"));
}

#[test]
fn missing_database_is_created_on_first_use() {
    let home = Home::new();
    let certs = list(&home, &[]);
    assert!(certs.is_empty());
    assert!(home.file("nssdb/cert9.db").exists());
    assert!(nss::certutil_list(&home.file("nssdb")).contains("Trust Attributes"));
}

#[test]
fn refused_import_does_not_create_a_database() {
    let home = Home::new();
    let pki = Pki::test_root(&home.file("pki"), "Root");
    pki.leaf("agent", "Agent", "ec", "keyAgreement");
    pki.p12("agent", PW, &[]);
    let out = import(&home, &pki.path("agent.p12"), "not the password");
    assert_eq!(json_error_code(&out), "pkcs12.wrong_password");
    assert!(!home.file("nssdb").exists(), "a refused import created the NSS database");
    // The same file with the right password creates it and installs.
    json(&import(&home, &pki.path("agent.p12"), PW));
    assert_eq!(nss::key_count(&home.file("nssdb")), 1);
}

/// Interoperability the other way: a key that NSS's own pk12util imported is listed with its key and exported.
#[test]
fn identity_imported_by_pk12util_is_listed_and_exported() {
    let (home, pki) = setup();
    let db = home.file("nssdb");
    // pk12util reads the password from a 0600 file in the test's private directory.
    let pwfile = home.file("pw.txt");
    std::fs::write(&pwfile, format!("{PW}\n")).unwrap();
    let out = Command::new("pk12util")
        .arg("-i")
        .arg(pki.path("agent.p12"))
        .arg("-d")
        .arg(format!("sql:{}", db.display()))
        .arg("-w")
        .arg(&pwfile)
        .output()
        .unwrap();
    assert!(out.status.success(), "pk12util: {}", String::from_utf8_lossy(&out.stderr));
    let certs = list(&home, &["--with-key"]);
    assert_eq!(certs.len(), 1);
    assert_eq!(certs[0]["sha256"], pki.sha256("agent"));
    // Importing the same file through Trousseau adds nothing.
    assert_eq!(json(&import(&home, &pki.path("agent.p12"), PW))["already_present"], true);
    let out_file = home.file("again.p12");
    export(&home, &pki.sha256("agent"), &out_file, PW, &[]);
    let dump = openssl_reads_p12(home.path(), &out_file, PW, false);
    assert_eq!(dump.key_modulus, rsa_modulus(&pki.dir, "x509", "agent.pem"));
}

/// Firefox profiles come from profiles.ini; `--firefox NAME` works on that profile's database, not the shared one.
#[test]
fn firefox_profile_chosen_by_name() {
    let (home, pki) = setup();
    let fake_home = home.file("userhome");
    let ff = fake_home.join(".mozilla/firefox");
    nss::create_db(&ff.join("abcd.default-release"));
    std::fs::write(
        ff.join("profiles.ini"),
        "[Profile0]\nName=default-release\nIsRelative=1\nPath=abcd.default-release\nDefault=1\n\n\
         [Profile1]\nName=empty\nIsRelative=1\nPath=nodb\n",
    )
    .unwrap();
    let profiles = json(&home.cli().env("HOME", &fake_home).args(["--json", "store", "profiles"]).output().unwrap());
    assert_eq!(profiles.as_array().unwrap().len(), 1, "{profiles}");
    assert_eq!(profiles[0]["name"], "default-release");

    let mut c = home.cli();
    c.env("HOME", &fake_home).args(["--json", "p12", "import", "--firefox", "default-release", "--password-stdin"]);
    c.arg(pki.path("agent.p12"));
    json(&run_with_stdin(c, format!("{PW}\n").as_bytes()));
    let entries = nss::certutil_entries(&ff.join("abcd.default-release"));
    assert!(entries.iter().any(|(n, t)| n == "agent" && t == "u,u,u"), "{entries:?}");
    assert!(nss::certutil_entries(&home.file("nssdb")).is_empty(), "the shared database was changed");

    let out =
        home.cli().env("HOME", &fake_home).args(["--json", "store", "list", "--firefox", "nope"]).output().unwrap();
    assert_eq!(json_error_code(&out), "store.profile_not_found");
}

/// `cert install --into-store`: the withdrawn certificate is reunited with its pending key in the NSS database
/// (seen by certutil as a user certificate with its key), then the pending key is retired.
#[test]
fn cert_install_into_store_reunites_and_retires_pending_key() {
    let h = Home::new();
    let db = h.file("nssdb");
    nss::create_db(&db);
    let d = h.path();
    crate::install::make_ca(d);
    crate::csr::csr_ok(&h, &["--subject", "CN=Agent Magasin,O=Test,C=LU"], &h.file("s.csr"));
    assert_eq!(crate::csr::pending(&h).len(), 1);
    let leaf = crate::install::sign(d, &h.file("s.csr"), "s");
    let bag = crate::install::bag(d, &leaf, "s.p7b", false);
    let v = json(&h.cli().args(["--json", "cert", "install", "--into-store"]).arg(&bag).output().unwrap());
    assert_eq!(v["destinations"][0]["kind"], "store");
    assert_eq!(v["destinations"][0]["written"], true);
    assert_eq!(v["retired"], true);
    let entries = nss::certutil_entries(&db);
    assert!(entries.iter().any(|(n, t)| n == "Agent Magasin" && t == "u,u,u"), "{entries:?}");
    assert_eq!(nss::key_count(&db), 1);
    assert!(crate::csr::pending(&h).is_empty());
    let enc = list(&h, &["--encryption-capable"]);
    assert_eq!(enc.len(), 1);
    assert_eq!(enc[0]["sha256"], v["sha256"]);
}

/// A database protected by a primary password (Firefox's "mot de passe principal") is reported, not corrupted.
#[test]
fn database_with_primary_password_is_reported_locked() {
    let home = Home::new();
    let db = home.file("nssdb");
    std::fs::create_dir_all(&db).unwrap();
    let pwfile = home.file("primary.txt");
    std::fs::write(&pwfile, "Primary-Passw0rd!\n").unwrap();
    let out = Command::new("certutil")
        .args(["-N", "-d"])
        .arg(format!("sql:{}", db.display()))
        .arg("-f")
        .arg(&pwfile)
        .output()
        .unwrap();
    assert!(out.status.success(), "certutil -N -f: {}", String::from_utf8_lossy(&out.stderr));
    let before = nss::hash_dir(&db);
    let out = home.cli().args(["--json", "store", "list"]).output().unwrap();
    assert_eq!(json_error_code(&out), "store.locked");
    assert!(String::from_utf8_lossy(&out.stderr).contains("mot de passe principal"));
    assert_eq!(nss::hash_dir(&db), before);

    // A wrong primary password is refused, the right one opens it: the .p12 goes in, protected by it.
    let pki = Pki::test_root(&home.file("pki"), "Root");
    pki.leaf("agent", "Agent Verrou", "rsa", "keyEncipherment");
    pki.p12("agent", PW, &[]);
    let import_with = |primary: &str| {
        let mut c = home.cli();
        c.args(["--json", "p12", "import", "--password-stdin", "--store-password-env", "PRIMARY"])
            .arg(pki.path("agent.p12"))
            .env("PRIMARY", primary);
        run_with_stdin(c, format!("{PW}\n").as_bytes())
    };
    assert_eq!(json_error_code(&import_with("wrong")), "store.wrong_password");
    assert_eq!(nss::hash_dir(&db), before);
    json(&import_with("Primary-Passw0rd!"));
    let keys = Command::new("certutil")
        .args(["-K", "-d"])
        .arg(format!("sql:{}", db.display()))
        .arg("-f")
        .arg(&pwfile)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&keys.stdout).contains("agent"), "{}", String::from_utf8_lossy(&keys.stdout));
    let out = home
        .cli()
        .args(["--json", "store", "list", "--with-key", "--store-password-env", "PRIMARY"])
        .env("PRIMARY", "Primary-Passw0rd!")
        .output()
        .unwrap();
    assert_eq!(json(&out).as_array().unwrap().len(), 1);
}

/// A card's certificates (here a SoftHSM2 token) appear in the listing once its module is registered, marked
/// `on_token`; they cannot be exported or removed from the store.
#[test]
fn card_certificates_of_registered_module_are_listed_on_token() {
    let (home, pki) = setup();
    let hsm = crate::support::softhsm::SoftHsm::new();
    hsm.init_token("Carte Test");
    let der = crate::support::softhsm::der_files(&pki.dir, "agent");
    hsm.import_identity("Carte Test", &der, "c1", "Agent carte");
    let module = crate::support::softhsm::module();
    let with_hsm = |args: &[&str]| {
        let mut c = home.cli();
        c.args(args);
        hsm.env(&mut c);
        c.output().unwrap()
    };
    json(&with_hsm(&["--json", "store", "register-module", "--name", "Carte", "--module", module.to_str().unwrap()]));

    let listed = json(&with_hsm(&["--json", "store", "list"]));
    let sha = pki.sha256("agent");
    let card =
        listed.as_array().unwrap().iter().find(|c| c["sha256"] == sha.as_str()).expect("card certificate listed");
    assert_eq!(card["on_token"], true, "{card}");
    assert_eq!(card["has_private_key"], true, "{card}");
    assert_eq!(card["key_id"], "c1");
    let enc = json(&with_hsm(&["--json", "store", "list", "--encryption-capable"]));
    assert_eq!(enc.as_array().unwrap().len(), 1);

    let out = with_hsm(&["--json", "store", "export", &sha, "--password-env", "PW", "--out", "/nonexistent/x.p12"]);
    assert_eq!(json_error_code(&out), "store.on_token");
    let out = with_hsm(&["--json", "store", "remove", &sha]);
    assert_eq!(json_error_code(&out), "store.on_token");
}

/// Nicknames stay unique per subject, as NSS requires, even when the file names its key like its CA.
#[test]
fn nickname_clash_between_leaf_and_ca_is_avoided() {
    let home = Home::new();
    let db = home.file("nssdb");
    nss::create_db(&db);
    let pki = Pki::test_root(&home.file("pki"), "Sante Lux");
    pki.leaf("Sante Lux", "Docteur Martin", "ec", "keyAgreement");
    pki.p12("Sante Lux", PW, &[]);
    json(&import(&home, &pki.path("Sante Lux.p12"), PW));
    let mut nicks: Vec<String> = nss::certutil_entries(&db).into_iter().map(|(n, _)| n).collect();
    nicks.sort();
    assert_eq!(nicks, ["Sante Lux", "Sante Lux (2)"]);
    let out = Command::new("certutil")
        .args(["-L", "-n", "Sante Lux", "-d"])
        .arg(format!("sql:{}", db.display()))
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("Docteur Martin"), "the key's nickname is the leaf's");
}

/// A key generated inside NSS (certutil -S, as browsers and NSS tools make them) is exported with its certificate.
#[test]
fn key_generated_by_nss_is_exported() {
    let home = Home::new();
    let db = home.file("nssdb");
    nss::create_db(&db);
    std::fs::write(home.file("noise"), [7u8; 64]).unwrap();
    let out = Command::new("certutil")
        .args([
            "-S",
            "-n",
            "nss-gen",
            "-s",
            "CN=Cle Generee NSS,O=Test",
            "-x",
            "-t",
            "u,u,u",
            "-k",
            "rsa",
            "-g",
            "2048",
        ])
        .arg("-z")
        .arg(home.file("noise"))
        .arg("-d")
        .arg(format!("sql:{}", db.display()))
        .output()
        .unwrap();
    assert!(out.status.success(), "certutil -S: {}", String::from_utf8_lossy(&out.stderr));
    let certs = list(&home, &["--with-key"]);
    assert_eq!(certs.len(), 1);
    let sha = certs[0]["sha256"].as_str().unwrap().to_string();
    let out_file = home.file("gen.p12");
    export(&home, &sha, &out_file, PW, &[]);
    let dump = openssl_reads_p12(home.path(), &out_file, PW, false);
    assert_eq!(dump.key_modulus, dump.cert_modulus);
}

//! The window's commands for card certificates, against real components: a SoftHSM2 token filled with OpenSC's
//! `pkcs11-tool` (certificates made by OpenSSL and rcgen), a real NSS database, the reference portal
//! (`trousseau-sandbox`) and the session's gnome-keyring (run inside scripts/in-session.sh). The commands are called
//! as the Tauri shell calls them (`trousseau::api::*`); each test runs in its own process (nextest), so it points
//! the environment at its own home, NSS database and SoftHSM2.

use std::path::Path;

use trousseau::api::{self, BicleAdd, PairRequest, TokenCertRow};
use trousseau::Lang;

use crate::support::sandbox::Sandbox;
use crate::support::softhsm::{self, SoftHsm};
use crate::support::{nss, openssl, Home};

const TOKEN: &str = "Carte LuxTrust";

/// This process's Trousseau sees only `home` (data, NSS database) and `hsm` (plus `extra_modules`, tried first).
fn use_workstation(home: &Home, hsm: &SoftHsm, extra_modules: &str) {
    nss::create_db(&home.file("nssdb"));
    std::env::set_var("TROUSSEAU_HOME", home.file("home"));
    std::env::set_var("TROUSSEAU_NSSDB", home.file("nssdb"));
    std::env::set_var("SOFTHSM2_CONF", hsm.conf());
    std::env::set_var("TROUSSEAU_PKCS11_MODULE", format!("{extra_modules}{}", softhsm::module().display()));
    std::env::set_var("TROUSSEAU_PKCS11_SYSTEM", "0");
}

/// An RSA key (`NAME.key`) and a self-signed certificate (`NAME.pem`) made by OpenSSL with this key usage.
fn openssl_identity(hsm: &SoftHsm, name: &str, cn: &str, key_usage: &str) {
    openssl(
        hsm.dir.path(),
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.pem"),
            "-days",
            "365",
            "-subj",
            &format!("/C=LU/O=LuxTrust S.A./CN={cn}"),
            "-addext",
            &format!("keyUsage=critical,{key_usage}"),
            "-addext",
            "basicConstraints=critical,CA:FALSE",
        ],
    );
}

/// [`openssl_identity`] put on the token (certificate, private key, public key) under CKA_ID `id`. Returns the
/// certificate's SHA-256 as OpenSSL computes it.
fn put_openssl_identity(hsm: &SoftHsm, name: &str, cn: &str, key_usage: &str, id: &str) -> String {
    openssl_identity(hsm, name, cn, key_usage);
    put_pem_identity(hsm, name, id)
}

/// Converts `NAME.pem` / `NAME.key` to DER and writes the three objects on the token.
fn put_pem_identity(hsm: &SoftHsm, name: &str, id: &str) -> String {
    let dir = hsm.dir.path();
    let (crt, key, public) = (format!("{name}.crt.der"), format!("{name}.key.der"), format!("{name}.pub.der"));
    openssl(dir, &["x509", "-in", &format!("{name}.pem"), "-outform", "DER", "-out", &crt]);
    openssl(dir, &["pkey", "-in", &format!("{name}.key"), "-outform", "DER", "-out", &key]);
    openssl(dir, &["pkey", "-in", &format!("{name}.key"), "-pubout", "-outform", "DER", "-out", &public]);
    hsm.import(TOKEN, &dir.join(&crt), "cert", id, name);
    hsm.import(TOKEN, &dir.join(&key), "privkey", id, name);
    hsm.import(TOKEN, &dir.join(&public), "pubkey", id, name);
    sha256_of(dir, &crt)
}

fn sha256_of(dir: &Path, der: &str) -> String {
    let out = openssl(dir, &["x509", "-inform", "DER", "-in", der, "-noout", "-fingerprint", "-sha256"]);
    String::from_utf8_lossy(&out.stdout).split('=').nth(1).unwrap_or("").trim().replace(':', "").to_lowercase()
}

/// An encryption certificate that expired yesterday (rcgen: OpenSSL 3.0's `req` cannot date one in the past).
fn put_expired_identity(hsm: &SoftHsm, id: &str) -> String {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).expect("RSA key");
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    params.distinguished_name.push(rcgen::DnType::CommonName, "Marie Ancienne");
    params.key_usages = vec![rcgen::KeyUsagePurpose::KeyEncipherment];
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::days(400);
    params.not_after = now - time::Duration::days(1);
    let cert = params.self_signed(&key).expect("self-signed");
    std::fs::write(hsm.file("old.pem"), cert.pem()).expect("write");
    std::fs::write(hsm.file("old.key"), key.serialize_pem()).expect("write");
    put_pem_identity(hsm, "old", id)
}

/// The token "Carte LuxTrust": an encryption certificate (c1), a signature-only one (5e), an expired encryption
/// one (0d), and a certificate without any key (ee). Returns the fingerprints (c1, 5e, 0d).
fn luxtrust_like_card(hsm: &SoftHsm) -> (String, String, String) {
    hsm.init_token(TOKEN);
    let enc = put_openssl_identity(hsm, "chiffrement", "Marie Carte", "keyEncipherment,dataEncipherment", "c1");
    let sig = put_openssl_identity(hsm, "signature", "Marie Signature", "digitalSignature,nonRepudiation", "5e");
    let old = put_expired_identity(hsm, "0d");
    // A certificate whose key is elsewhere: only the certificate object.
    openssl_identity(hsm, "sanscle", "Sans Cle", "keyEncipherment");
    openssl(hsm.dir.path(), &["x509", "-in", "sanscle.pem", "-outform", "DER", "-out", "sanscle.crt.der"]);
    hsm.import(TOKEN, &hsm.file("sanscle.crt.der"), "cert", "ee", "sanscle");
    (enc, sig, old)
}

fn row<'a>(rows: &'a [TokenCertRow], key_id: &str) -> &'a TokenCertRow {
    rows.iter().find(|r| r.key_id == key_id).unwrap_or_else(|| panic!("no certificate {key_id} in {rows:#?}"))
}

#[test]
fn cards_page_lists_each_token_certificate_with_role_and_key_and_offers_only_encryption_ones() {
    let hsm = SoftHsm::new();
    let home = Home::new();
    let (enc, sig, old) = luxtrust_like_card(&hsm);
    // A vendor module that is not installed: reported as a sentence, the SoftHSM2 token still listed.
    use_workstation(&home, &hsm, "/nonexistent/libgclib.so:");

    let view = api::token_certificates((), Lang::Fr).expect("token certificates");
    assert_eq!(view.problems.len(), 1, "{:#?}", view.problems);
    assert_eq!(view.problems[0].code, "token.module_missing");
    assert!(view.problems[0].message.contains("/nonexistent/libgclib.so"), "{}", view.problems[0].message);
    assert_eq!(view.tokens.len(), 1, "{view:#?}");
    let card = &view.tokens[0];
    assert_eq!(card.token.label, TOKEN);
    assert_eq!(card.token.pin_state, api::PinState::Ok);
    assert!(card.error.is_none(), "{:?}", card.error);
    let certs = &card.certificates;
    assert_eq!(certs.len(), 4, "{certs:#?}");

    let c1 = row(certs, "c1");
    assert_eq!(c1.certificate.holder, "Marie Carte");
    assert_eq!(c1.certificate.issuer_name, "Marie Carte", "self-signed: the issuer is the holder");
    assert_eq!(c1.certificate.sha256, enc, "same fingerprint as OpenSSL's");
    assert_eq!(c1.role, api::KeyRole::Encryption);
    assert!(c1.certificate.encryption_capable && c1.certificate.has_private_key && c1.bicle_capable);
    assert!((363..=365).contains(&c1.certificate.days_left), "{}", c1.certificate.days_left);
    assert_eq!(c1.object_label, "chiffrement");

    let s = row(certs, "5e");
    assert_eq!((s.certificate.holder.as_str(), s.role), ("Marie Signature", api::KeyRole::Signature));
    assert_eq!(s.certificate.sha256, sig);
    assert!(s.certificate.has_private_key, "its key is on the card");
    assert!(!s.certificate.encryption_capable && !s.bicle_capable, "no keyEncipherment: not a bi-clé");

    let o = row(certs, "0d");
    assert_eq!(o.certificate.sha256, old);
    assert_eq!(o.role, api::KeyRole::Encryption);
    assert!(o.certificate.days_left < 0, "expired: {}", o.certificate.days_left);
    assert!(!o.bicle_capable, "an expired certificate cannot decrypt new bids");

    let e = row(certs, "ee");
    assert!(!e.certificate.has_private_key && !e.bicle_capable, "no key on the card: {e:#?}");

    // The Bi-clés form's list is the portal module's workstation listing: only the encryption certificate with
    // its key on the card, named after the card.
    let offered = api::portal_bicle_candidates((), Lang::Fr).expect("candidates");
    assert_eq!(offered.len(), 1, "{offered:#?}");
    assert_eq!(offered[0].sha256, enc);
    assert_eq!(offered[0].source, "token");
    assert_eq!(offered[0].token.as_deref(), Some(TOKEN));
    assert_eq!(offered[0].holder, "Marie Carte");
    assert_eq!(offered[0].days_left, c1.certificate.days_left);

    // An English window gets the module problem in English.
    let en = api::token_certificates((), Lang::En).expect("en");
    assert!(!en.problems[0].message.contains("introuvable"), "{:?}", en.problems);
}

#[test]
fn bicle_add_registers_a_card_certificate_with_the_sandbox_portal_public_part_only() {
    let hsm = SoftHsm::new();
    let home = Home::new();
    let (enc, sig, old) = luxtrust_like_card(&hsm);
    use_workstation(&home, &hsm, "");
    let sb = Sandbox::start();

    // Pairing through the window's two commands, approved by script as the agent would on the portal page.
    let code =
        api::portal_pair_start(PairRequest { url: sb.url.clone(), device_name: Some("poste-carte".into()) }, Lang::Fr)
            .expect("pairing code");
    sb.approve(&code.user_code, "agent.carte");
    let state = api::portal_pair_finish((), Lang::Fr).expect("paired");
    assert!(state.paired, "{state:?}");

    let add = |sha256: &str, personal: bool, backup: bool| {
        api::portal_bicle_add(
            BicleAdd {
                generate: false,
                sha256: sha256.into(),
                designation: "Marie Carte 2026".into(),
                personal,
                backup,
            },
            Lang::Fr,
        )
    };

    // A signature-only card certificate is refused before anything is sent.
    let e = add(&sig, true, false).expect_err("signature certificate refused");
    assert_eq!(e.code, "portal.not_a_bicle", "{e:?}");
    assert!(e.message.contains("chiffrement de clé"), "{}", e.message);
    // An expired card certificate (still listed on the Cartes page) is refused: it could not decrypt new bids.
    let e = add(&old, true, false).expect_err("expired certificate refused");
    assert_eq!(e.code, "portal.certificate_expired", "{e:?}");
    assert!(e.message.contains("a expiré le"), "{}", e.message);
    // A certificate that is nowhere (card pulled out since the list was shown) says so.
    let e = add(&"ab".repeat(32), true, false).expect_err("absent certificate");
    assert_eq!(e.code, "portal.certificate_not_found", "{e:?}");
    assert!(e.message.contains("carte retirée"), "{}", e.message);
    // A malformed fingerprint is a request error, not a crash.
    assert!(add("pas-une-empreinte", true, false).is_err());
    assert_eq!(sb.count("bicles"), 0, "nothing registered by the refusals");

    // The card's encryption certificate, personal and backup in one go, with no PIN anywhere.
    let rows = add(&enc.to_uppercase(), true, true).expect("registered");
    assert_eq!(rows.len(), 2, "{rows:#?}");
    assert!(
        rows.iter().all(|r| r.sha256 == enc && r.status == api::BicleStatus::AConfirmer && r.cn == "Marie Carte"),
        "{rows:#?}"
    );
    let kinds: Vec<api::BicleKind> = rows.iter().map(|r| r.kind).collect();
    assert!(kinds.contains(&api::BicleKind::Personal) && kinds.contains(&api::BicleKind::Backup), "{kinds:?}");

    // What the portal stored is exactly the card's public certificate (re-read by OpenSSL), nothing else.
    let stored: Vec<(String, String)> = {
        let db = sb.sql();
        let mut st = db.prepare("SELECT sha256, certificate FROM bicles ORDER BY id").expect("query");
        st.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).expect("rows").map(|r| r.expect("row")).collect()
    };
    assert_eq!(stored.len(), 2);
    for (sha, pem) in &stored {
        assert_eq!(sha, &enc);
        assert!(pem.contains("BEGIN CERTIFICATE") && !pem.contains("PRIVATE KEY"), "{pem}");
        std::fs::write(hsm.file("stored.pem"), pem).expect("write");
        openssl(hsm.dir.path(), &["x509", "-in", "stored.pem", "-outform", "DER", "-out", "stored.der"]);
        assert_eq!(sha256_of(hsm.dir.path(), "stored.der"), enc);
    }

    // Once the agent confirms on the portal page, the window lists them as active.
    sb.confirm_all("agent.carte");
    let listed = api::portal_bicles((), Lang::Fr).expect("bi-clés");
    assert_eq!(listed.len(), 2);
    assert!(listed.iter().all(|r| r.status == api::BicleStatus::Actif && !r.expired), "{listed:#?}");

    // The card pulled out (SoftHSM2: the token deleted) after the list was shown: the window says so and sends
    // nothing; the Cartes page no longer shows the token.
    hsm.run("softhsm2-util", &["--delete-token", "--token", TOKEN]);
    let e = add(&enc, true, false).expect_err("card gone");
    assert_eq!(e.code, "portal.certificate_not_found", "{e:?}");
    assert_eq!(sb.count("bicles"), 2, "nothing more registered");
    let view = api::token_certificates((), Lang::Fr).expect("token certificates");
    assert!(view.tokens.iter().all(|t| t.token.label != TOKEN), "{view:#?}");
}

//! Certificate status online (`trousseau cert status`, the window's `cert_status`) against real services started
//! here: OpenSSL's OCSP responder (`openssl ocsp -index … -port`) and CRLs made by `openssl ca -gencrl`, served over
//! HTTP on loopback. Revoked, good, unknown, expired answers, responders the issuer did not authorise, a responder
//! that is down (the CRL answers) and both down (unreachable, never a silent pass).

use crate::support::pki::{free_port, status_ext, FileServer, KeyAlg, OcspResponder, Pki};
use crate::support::Home;
use serde_json::Value;
use std::path::PathBuf;

const EC: &[&str] = &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"];

/// A CA (RSA, so RSA signatures are checked) whose leaves name an OCSP responder and a CRL on loopback ports, a
/// delegated responder certificate (EC, id-kp-OCSPSigning), and the CA's database: `good` valid, `revoked` revoked
/// for key compromise, `unknown` never recorded (and naming no CRL).
struct Fixture {
    home: Home,
    ca: Pki,
    ocsp_port: u16,
    crl_port: u16,
}

impl Fixture {
    fn new() -> Fixture {
        let home = Home::new();
        let ca = Pki::new(&home.file("pki"), "/C=LU/O=Trousseau Test/CN=Status Test CA", KeyAlg::Rsa2048, 30);
        let ocsp_port = free_port();
        let crl_port = loop {
            let p = free_port();
            if p != ocsp_port {
                break p;
            }
        };
        let ocsp = format!("http://127.0.0.1:{ocsp_port}/");
        let crl = format!("http://127.0.0.1:{crl_port}/ca.crl");
        let both = status_ext(Some(&ocsp), Some(&crl));
        ca.issue("good", "/C=LU/O=Trousseau Test/CN=Alice Good", EC, &both, Some("0x1001"), 30);
        ca.issue("revoked", "/C=LU/O=Trousseau Test/CN=Bob Revoked", EC, &both, Some("0x1002"), 30);
        let ocsp_only = status_ext(Some(&ocsp), None);
        ca.issue("unknown", "/C=LU/O=Trousseau Test/CN=Carol Unknown", EC, &ocsp_only, Some("0x1003"), 30);
        let responder = "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=OCSPSigning\n";
        ca.issue("responder", "/C=LU/O=Trousseau Test/CN=Status Test OCSP", EC, responder, Some("0x2001"), 30);
        ca.mark_valid("good");
        ca.revoke("revoked", "keyCompromise");
        ca.gencrl("ca.crl", 24);
        Fixture { home, ca, ocsp_port, crl_port }
    }

    fn pem(&self, name: &str) -> PathBuf {
        self.ca.path(&format!("{name}.pem"))
    }

    /// The CA's OCSP responder signing with `rsigner`; its answers hold one day unless `extra` says otherwise.
    fn responder(&self, rsigner: &str, rkey: &str, extra: &[&str]) -> OcspResponder {
        let extra = if extra.is_empty() { &["-ndays", "1"][..] } else { extra };
        OcspResponder::start(&self.ca, self.ocsp_port, rsigner, rkey, extra)
    }

    /// Imports `NAME`'s .p12 into the NSS database while its authority cannot be reached (no responder, no CRL
    /// server yet): a revoked certificate is refused when the authority answers, so this is how one gets installed.
    fn install_while_unreachable(&self, name: &str) {
        let p12 = self.ca.p12(name, "Status-Test-p12!", &[]);
        let out = self
            .home
            .cli()
            .args(["p12", "import", "--password-env", "P12PW"])
            .arg(&p12)
            .env("P12PW", "Status-Test-p12!")
            .output()
            .expect("trousseau runs");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }

    fn crl_server(&self) -> FileServer {
        FileServer::start(&self.ca.dir, self.crl_port)
    }

    /// `trousseau cert status NAME.pem --issuer ca.pem --json` with the cache in `cache_home` → (exit code, JSON).
    fn status_in(&self, name: &str, cache_home: &str) -> (i32, Value) {
        let out = self
            .home
            .cli()
            .env("TROUSSEAU_HOME", self.home.file(cache_home))
            .args(["--json", "cert", "status"])
            .arg(self.pem(name))
            .arg("--issuer")
            .arg(self.pem("ca"))
            .output()
            .expect("trousseau runs");
        let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!("{e}: {}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
        });
        (out.status.code().unwrap_or(-1), json)
    }

    fn status(&self, name: &str) -> (i32, Value) {
        self.status_in(name, "home")
    }
}

fn codes(v: &Value) -> Vec<String> {
    v["problems"]
        .as_array()
        .map(|a| a.iter().map(|p| p["code"].as_str().unwrap_or("").to_string()).collect())
        .unwrap_or_default()
}

#[test]
fn ocsp_says_good_revoked_unknown_and_good_is_cached() {
    let f = Fixture::new();
    let _ocsp = f.responder("responder.pem", "responder.key", &[]);

    let (code, v) = f.status("good");
    assert_eq!((code, v["status"].as_str(), v["source"].as_str()), (0, Some("good"), Some("ocsp")), "{v}");
    assert!(v["next_update"].as_str().is_some_and(|t| t.ends_with('Z')), "{v}");
    assert!(v["checked_at"].as_str().is_some_and(|t| t.ends_with('Z')), "{v}");
    assert!(v["revoked_at"].is_null() && v["reason"].is_null(), "{v}");
    let (code, v) = f.status("good");
    assert_eq!((code, v["status"].as_str(), v["source"].as_str()), (0, Some("good"), Some("cache")), "{v}");

    let (code, v) = f.status("revoked");
    assert_eq!((code, v["status"].as_str(), v["source"].as_str()), (1, Some("revoked"), Some("ocsp")), "{v}");
    assert_eq!(v["reason"], "keyCompromise", "{v}");
    assert!(v["revoked_at"].as_str().is_some_and(|t| t.ends_with('Z')), "{v}");

    let (code, v) = f.status("unknown");
    assert_eq!((code, v["status"].as_str(), v["source"].as_str()), (1, Some("unknown"), Some("ocsp")), "{v}");

    // The issuer found in the file's bundle, without --issuer; the verdict in French words.
    let bundle = f.ca.path("bundle.pem");
    let text = [std::fs::read_to_string(f.pem("revoked")).unwrap(), std::fs::read_to_string(f.pem("ca")).unwrap()];
    std::fs::write(&bundle, text.concat()).unwrap();
    let out = f.home.cli().args(["cert", "status"]).arg(&bundle).output().expect("trousseau runs");
    let said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains("RÉVOQUÉ") && said.contains("clé compromise"), "{said}");

    // The window's face gives the same verdict.
    std::env::set_var("TROUSSEAU_HOME", f.home.file("api-home"));
    let req =
        trousseau::api::CertStatusRequest { target: f.pem("revoked").display().to_string(), issuer: Some(f.pem("ca")) };
    let r = trousseau::api::cert_status(req, trousseau::Lang::De).expect("cert_status");
    assert_eq!((r.status, r.reason.as_deref()), (trousseau::revocation::Status::Revoked, Some("keyCompromise")));
    assert!(r.message.contains("GESPERRT"), "{}", r.message);
}

#[test]
fn responder_down_falls_back_to_the_crl_then_unreachable() {
    let f = Fixture::new();
    let crl = f.crl_server();

    let (code, v) = f.status("revoked");
    assert_eq!((code, v["status"].as_str(), v["source"].as_str()), (1, Some("revoked"), Some("crl")), "{v}");
    assert_eq!(v["reason"], "keyCompromise", "{v}");
    assert_eq!(codes(&v), ["revocation.ocsp_unreachable"], "the failed responder is said: {v}");
    let (code, v) = f.status("good");
    assert_eq!((code, v["status"].as_str(), v["source"].as_str()), (0, Some("good"), Some("crl")), "{v}");

    drop(crl);
    let (code, v) = f.status_in("good", "fresh-home");
    assert_eq!((code, v["status"].as_str()), (1, Some("unreachable")), "{v}");
    assert!(v["source"].is_null(), "{v}");
    assert_eq!(codes(&v), ["revocation.ocsp_unreachable", "revocation.crl_unreachable"], "{v}");
}

#[test]
fn answers_from_responders_the_issuer_did_not_authorise_are_refused() {
    let f = Fixture::new();
    // A responder certificate from another CA, marked for OCSP signing.
    let other = Pki::new(&f.home.file("other"), "/C=LU/O=Elsewhere/CN=Other CA", KeyAlg::EcP256, 30);
    let ext = "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=OCSPSigning\n";
    other.issue("rogue", "/C=LU/O=Elsewhere/CN=Rogue OCSP", EC, ext, Some("0x3001"), 30);
    let (rogue, rogue_key) = (other.path("rogue.pem"), other.path("rogue.key"));
    {
        let _ocsp = f.responder(rogue.to_str().unwrap(), rogue_key.to_str().unwrap(), &[]);
        let (code, v) = f.status_in("revoked", "h1");
        assert_eq!((code, v["status"].as_str()), (1, Some("unreachable")), "{v}");
        assert_eq!(codes(&v)[0], "revocation.ocsp_not_authorized", "{v}");
    }
    // A certificate of the right CA without id-kp-OCSPSigning may not speak for it either.
    f.ca.issue("plain", "/C=LU/O=Trousseau Test/CN=Not A Responder", EC, &status_ext(None, None), Some("0x3002"), 30);
    {
        let _ocsp = f.responder("plain.pem", "plain.key", &[]);
        let _crl = f.crl_server();
        let (code, v) = f.status_in("revoked", "h2");
        assert_eq!((code, v["status"].as_str(), v["source"].as_str()), (1, Some("revoked"), Some("crl")), "{v}");
        assert_eq!(codes(&v), ["revocation.ocsp_not_authorized"], "{v}");
    }
    // The issuer's own answers with one bit of their signature changed on the way: a forged answer.
    {
        let upstream = free_port();
        let _ocsp = OcspResponder::start(&f.ca, upstream, "ca.pem", "ca.key", &["-ndays", "1", "-resp_no_certs"]);
        let _proxy = corrupting_proxy(f.ocsp_port, upstream);
        let (code, v) = f.status_in("good", "h4");
        assert_eq!((code, v["status"].as_str()), (1, Some("unreachable")), "{v}");
        assert_eq!(codes(&v), ["revocation.ocsp_bad_signature", "revocation.crl_unreachable"], "{v}");
    }
    // The issuer itself may answer; a certificate it did not issue is refused outright.
    {
        let _ocsp = f.responder("ca.pem", "ca.key", &[]);
        let (code, v) = f.status_in("good", "h3");
        assert_eq!((code, v["status"].as_str(), v["source"].as_str()), (0, Some("good"), Some("ocsp")), "{v}");
        let out = f
            .home
            .cli()
            .args(["--json", "cert", "status"])
            .arg(f.pem("good"))
            .arg("--issuer")
            .arg(&rogue)
            .output()
            .unwrap();
        assert_eq!(crate::support::json_error_code(&out), "revocation.issuer_mismatch");
    }
}

/// A loopback proxy on `port` that forwards each OCSP request to `upstream` and flips the last bit of the answer
/// (the end of the signature when the answer carries no certificates). Serves one request, then frees the port.
fn corrupting_proxy(port: u16, upstream: u16) -> std::thread::JoinHandle<()> {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind(("127.0.0.1", port)).expect("bind proxy");
    std::thread::spawn(move || {
        for client in listener.incoming().take(1) {
            let Ok(mut client) = client else { continue };
            let mut req = Vec::new();
            let mut buf = [0u8; 4096];
            // Headers, then as many body bytes as Content-Length says.
            let complete = |req: &[u8]| {
                let text = String::from_utf8_lossy(req).to_ascii_lowercase();
                let Some(end) = text.find("\r\n\r\n") else { return false };
                let len = text
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:").map(|v| v.trim().parse::<usize>().unwrap_or(0)))
                    .unwrap_or(0);
                req.len() >= end + 4 + len
            };
            while !complete(&req) {
                match client.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => req.extend_from_slice(&buf[..n]),
                }
            }
            let Ok(mut up) = std::net::TcpStream::connect(("127.0.0.1", upstream)) else { continue };
            let _ = up.write_all(&req);
            let mut resp = Vec::new();
            let _ = up.read_to_end(&mut resp);
            if let Some(last) = resp.last_mut() {
                *last ^= 1;
            }
            let _ = client.write_all(&resp);
        }
    })
}

#[test]
fn expired_answers_are_refused() {
    use trousseau::revocation::{check, Options, Status};
    let f = Fixture::new();
    f.ca.gencrl("ca.crl", 1);
    let _ocsp = f.responder("responder.pem", "responder.key", &["-nmin", "1"]);
    let _crl = f.crl_server();
    let read = |n: &str| trousseau::cert::read_file(&f.pem(n)).expect("cert").remove(0);
    let (good, ca) = (read("good"), read("ca"));
    let now = time::OffsetDateTime::now_utc();
    let opts = |now| Options { now, cache_dir: None, timeout: std::time::Duration::from_secs(5) };

    let fresh = check(&good, &ca, &opts(now)).expect("check");
    assert_eq!((fresh.status, fresh.problems.len()), (Status::Good, 0), "{fresh:?}");

    // Three hours later the OCSP answer (one minute) and the CRL (one hour) are out of date.
    let later = check(&good, &ca, &opts(now + time::Duration::hours(3))).expect("check");
    assert_eq!(later.status, Status::Unreachable, "{later:?}");
    let codes: Vec<_> = later.problems.iter().map(trousseau::Coded::code).collect();
    assert_eq!(codes, ["revocation.ocsp_stale", "revocation.crl_stale"]);
}

#[test]
fn a_certificate_without_status_service_is_unknown_not_good() {
    let f = Fixture::new();
    f.ca.issue("bare", "/C=LU/O=Trousseau Test/CN=Dan Bare", EC, &status_ext(None, None), Some("0x1004"), 30);
    let (code, v) = f.status("bare");
    assert_eq!((code, v["status"].as_str()), (1, Some("unknown")), "{v}");
    assert_eq!(codes(&v), ["revocation.no_service"], "{v}");
}

#[test]
fn a_store_certificate_named_by_its_fingerprint_finds_its_issuer_in_the_store() {
    let f = Fixture::new();
    crate::support::nss::create_db(&f.home.file("nssdb"));
    // installed while its authority cannot be reached (a revoked certificate is refused when it can)
    f.install_while_unreachable("revoked");
    let _ocsp = f.responder("responder.pem", "responder.key", &[]);
    let sha256 = f.ca.sha256("revoked");
    let out = f.home.cli().args(["--json", "cert", "status", &sha256]).output().unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
    });
    assert_eq!(
        (out.status.code(), v["status"].as_str(), v["reason"].as_str()),
        (Some(1), Some("revoked"), Some("keyCompromise")),
        "{v}"
    );

    // A fingerprint the store does not hold, and a certificate whose issuer is nowhere to be found.
    let out = f.home.cli().args(["--json", "cert", "status", &"ab".repeat(32)]).output().unwrap();
    assert_eq!(crate::support::json_error_code(&out), "revocation.target_not_found");
    let out = f
        .home
        .cli()
        .args(["--json", "cert", "status"])
        .arg(f.pem("good"))
        .env("TROUSSEAU_NSSDB", f.home.file("empty-nssdb"))
        .output()
        .unwrap();
    assert_eq!(crate::support::json_error_code(&out), "revocation.issuer_not_found");
}

/// Before use (issue 15): a revoked certificate's .p12 is not installed — the authority named in the file's chain
/// is asked first — while the good one installs; nothing of the revoked one reaches the NSS database.
#[test]
fn a_revoked_certificate_is_not_installed_from_a_p12() {
    let f = Fixture::new();
    let _ocsp = f.responder("responder.pem", "responder.key", &[]);
    crate::support::nss::create_db(&f.home.file("nssdb"));
    const PW: &str = "Motdepasse-Statut-1";
    let import = |name: &str| {
        let p12 = f.ca.p12(name, PW, &[]);
        let mut c = f.home.cli();
        c.args(["--json", "p12", "import", "--password-stdin"]).arg(p12);
        crate::support::run_with_stdin(c, format!("{PW}\n").as_bytes())
    };
    let out = import("revoked");
    assert_eq!(crate::support::json_error_code(&out), "store.revoked", "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("révoqué"), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(crate::support::nss::certutil_entries(&f.home.file("nssdb")).is_empty(), "nothing installed");
    let out = import("good");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!crate::support::nss::certutil_entries(&f.home.file("nssdb")).is_empty(), "the good one installed");
}

/// Before use (issue 15): a certificate its authority revoked is not registered as a bi-clé with the portal, from the
/// CLI (the window's registration goes through the same core call); nothing reaches the registry.
#[test]
fn a_revoked_certificate_is_not_registered_as_a_bicle() {
    let f = Fixture::new();
    let sb = crate::support::sandbox::Sandbox::start();
    crate::support::nss::create_db(&f.home.file("nssdb"));
    // installed while its authority cannot be reached, then the authority answers "revoked"
    f.install_while_unreachable("revoked");
    let _ocsp = f.responder("responder.pem", "responder.key", &[]);
    crate::support::sandbox::pair_cli(&f.home, &sb, "agent.statut", "poste-statut");
    let out = f
        .home
        .cli()
        .env("TROUSSEAU_PKCS11_SYSTEM", "0")
        .args([
            "--json",
            "portal",
            "keys",
            "add",
            "--name",
            "Bob 2026",
            "--personal",
            "--cert",
            &f.ca.sha256("revoked"),
        ])
        .output()
        .unwrap();
    assert_eq!(
        crate::support::json_error_code(&out),
        "portal.certificate_revoked",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(sb.count("bicles"), 0, "nothing registered");
}

//! The assistant side of the portal trust rules (issue 11, part 4), through both faces where both exist: a managed
//! portal list restricts pairing, a relayed request carries the portal's deadline over the real channel, designations
//! that would display as another name are refused before anything is generated or sent.

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use trousseau::portal::{self, ChannelEvent, Confirm, ConfirmRequest, RelayHandler, Session, SystemWorkstation};
use trousseau::Lang;

use crate::support::sandbox::{pair_in_memory, Sandbox};
use crate::support::{json_error_code, Home};

const AGENT: &str = "agent.test";

/// The administrator allows only https://pmp.example.lu: the local sandbox cannot be paired, from the CLI or from
/// the window, and nothing reaches it.
#[test]
fn a_managed_portal_list_restricts_pairing_from_both_faces() {
    let sb = Sandbox::start();
    let home = Home::new();
    let managed = home.file("portals.json");
    std::fs::write(&managed, r#"{"portals":[{"name":"PMP","url":"https://pmp.example.lu"}]}"#).unwrap();
    let out = home
        .cli()
        .env("TROUSSEAU_MANAGED_CONFIG", &managed)
        .args(["--json", "portal", "pair", &sb.url])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert_eq!(json_error_code(&out), "portal.not_allowed");
    // the window's command, in this process (nextest runs each test in its own process)
    std::env::set_var("TROUSSEAU_HOME", home.file("home"));
    std::env::set_var("TROUSSEAU_MANAGED_CONFIG", &managed);
    let err = trousseau::api::portal_pair_start(
        trousseau::api::PairRequest { url: sb.url.clone(), device_name: None },
        Lang::Fr,
    )
    .unwrap_err();
    assert_eq!(err.code, "portal.not_allowed");
    assert!(err.message.contains("administrateur"), "{}", err.message);
    assert_eq!(sb.count("device_codes"), 0, "no pairing request reached the portal");
}

/// Counts the questions; answers yes after `delay`.
struct SlowYes {
    delay: Duration,
    asked: std::sync::atomic::AtomicU32,
}
impl Confirm for SlowYes {
    fn confirm(&self, _: &ConfirmRequest) -> bool {
        self.asked.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        std::thread::sleep(self.delay);
        true
    }
}

/// A relayed "generate" confirmed after the portal stopped waiting creates no key; a designation with a
/// right-to-left override is refused before the user is even asked.
#[test]
fn a_late_yes_creates_no_key_and_a_disguised_designation_is_never_asked() {
    let sb = Sandbox::start_with(&["--relay-timeout", "2"]);
    let home = Home::new();
    crate::support::nss::create_db(&home.file("nssdb"));
    std::env::set_var("TROUSSEAU_HOME", home.file("home"));
    std::env::set_var("TROUSSEAU_NSSDB", home.file("nssdb"));
    std::env::set_var("TROUSSEAU_PKCS11_SYSTEM", "0");
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        let tokens = pair_in_memory(&sb, AGENT).await;
        let session = Arc::new(Session::in_memory(&sb.url, "PMP", tokens).unwrap());
        let confirm = Arc::new(SlowYes { delay: Duration::from_secs(4), asked: Default::default() });
        let handler = Arc::new(RelayHandler::new(
            Arc::new(SystemWorkstation { lang: Lang::Fr }),
            confirm.clone(),
            "PMP",
            Lang::Fr,
        ));
        let ch = portal::spawn_channel(Arc::clone(&session), Arc::clone(&handler), Default::default());
        assert!(ch.wait_for(Duration::from_secs(10), ChannelEvent::is_connected).await);
        let agent = crate::support::sandbox::Agent::login(&sb.url, AGENT).await;
        let (status, _) = agent.relay("generate_bicle", serde_json::json!({"designation": "Jean Dupont 2026"})).await;
        assert_ne!(status, 200, "the portal stopped waiting after 2 s");
        // the user says yes at 4 s: too late
        tokio::time::sleep(Duration::from_secs(4)).await;
        assert_eq!(confirm.asked.load(std::sync::atomic::Ordering::SeqCst), 1);
        assert_eq!(handler.executed(), 0, "nothing executed after the portal's deadline");
        assert_eq!(crate::support::nss::key_count(&home.file("nssdb")), 0, "no key created");
        let (_, body) =
            agent.relay("generate_bicle", serde_json::json!({"designation": "Jean \u{202E}6202 tnopuD"})).await;
        assert_eq!(confirm.asked.load(std::sync::atomic::Ordering::SeqCst), 1, "never asked: {body}");
        assert!(body.to_string().contains("portal.invalid_request"), "{body}");
        ch.stop().await;
    });
}

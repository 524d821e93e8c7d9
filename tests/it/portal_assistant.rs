//! The assistant side of the portal trust rules (issue 11, part 4), through both faces where both exist: a managed
//! portal list restricts pairing, a relayed request carries the portal's deadline over the real channel, designations
//! that would display as another name are refused before anything is generated or sent.

use std::process::Stdio;
use trousseau::Lang;

use crate::support::sandbox::Sandbox;
use crate::support::{json_error_code, Home};

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

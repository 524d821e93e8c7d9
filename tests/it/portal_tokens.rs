//! The pairing survives ordinary concurrent use (issue 11, part 1): the channel, the window's commands and other
//! processes (`trousseau portal keys list`, `trousseau portal status`) share the rotating portal tokens without ever
//! presenting a spent refresh token, which the portal would take for theft and answer by revoking the pairing.
//! Real sandbox portal with short-lived access tokens, real gnome-keyring, real CLI processes.

use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use trousseau::portal::{self, ChannelEvent, NeverConfirm, RelayHandler, Session, SystemWorkstation};
use trousseau::Lang;

use crate::support::sandbox::{pair_in_memory, Agent, Sandbox};
use crate::support::Home;

const AGENT: &str = "agent.test";

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime")
}

fn revoked_devices(sb: &Sandbox) -> i64 {
    sb.sql().query_row("SELECT COUNT(*) FROM devices WHERE revoked_at IS NOT NULL", [], |r| r.get(0)).unwrap()
}

fn used_refresh_tokens(sb: &Sandbox) -> i64 {
    sb.sql()
        .query_row("SELECT COUNT(*) FROM tokens WHERE kind='refresh' AND used_at IS NOT NULL", [], |r| r.get(0))
        .unwrap()
}

/// `trousseau portal pair` in `home`, approved by script.
fn pair(home: &Home, sb: &Sandbox) {
    crate::support::sandbox::pair_cli(home, sb, AGENT, "poste-test");
}

/// A CLI command in `home` that needs a valid access token (each run renews it: the sandbox's tokens live 1–2 s).
fn keys_list(home: &Home) -> std::process::Output {
    home.cli()
        .env("TROUSSEAU_PKCS11_SYSTEM", "0")
        .args(["--json", "portal", "keys", "list"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .expect("keys list")
}

struct Killed(std::process::Child);
impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn portal_run(home: &Home) -> Killed {
    Killed(
        home.cli()
            .env("TROUSSEAU_PKCS11_SYSTEM", "0")
            .args(["--json", "portal", "run"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("portal run"),
    )
}

/// The reproduction of the issue: `portal run`, then another shell's command renews (rotates) the tokens, then the
/// portal restarts: the channel must come back with the rotated pair, not its own spent copy.
#[test]
fn a_command_in_another_shell_does_not_make_the_channel_revoke_the_pairing() {
    let mut sb = Sandbox::start_with(&["--access-ttl", "2"]);
    let home = Home::new();
    pair(&home, &sb);
    let _run = portal_run(&home);
    let rt = rt();
    rt.block_on(async {
        let agent = Agent::login(&sb.url, AGENT).await;
        assert!(agent.wait_state("Connecté", Duration::from_secs(10)).await, "channel not up");
        tokio::time::sleep(Duration::from_secs(3)).await;
        let before = used_refresh_tokens(&sb);
        let out = keys_list(&home);
        assert!(out.status.success(), "keys list: {}", String::from_utf8_lossy(&out.stderr));
        assert!(used_refresh_tokens(&sb) > before, "the other shell's command renewed the tokens");
    });
    sb.stop();
    std::thread::sleep(Duration::from_secs(3));
    sb.restart();
    rt.block_on(async {
        let agent = Agent::login(&sb.url, AGENT).await;
        assert!(agent.wait_state("Connecté", Duration::from_secs(15)).await, "channel did not come back");
    });
    assert_eq!(revoked_devices(&sb), 0, "the pairing revoked itself");
    let out = keys_list(&home);
    assert!(out.status.success(), "still paired: {}", String::from_utf8_lossy(&out.stderr));
}

/// The same with the window's own functions: the desktop app's channel and its commands share one session, and a
/// CLI process beside it renews too; after the portal restarts everything still works.
#[test]
fn the_windows_commands_and_a_cli_beside_the_app_share_the_tokens() {
    let mut sb = Sandbox::start_with(&["--access-ttl", "2"]);
    let home = Home::new();
    pair(&home, &sb);
    // this test process plays the desktop app (nextest runs each test in its own process)
    std::env::set_var("TROUSSEAU_HOME", home.file("home"));
    std::env::set_var("TROUSSEAU_NSSDB", home.file("nssdb"));
    std::env::set_var("TROUSSEAU_PKCS11_SYSTEM", "0");
    let rt = rt();
    let session = Session::shared().expect("shared session");
    let handler = Arc::new(RelayHandler::new(
        Arc::new(SystemWorkstation { lang: Lang::Fr }),
        Arc::new(NeverConfirm),
        session.portal_name(),
        Lang::Fr,
    ));
    let ch = rt.block_on(async {
        let ch = portal::spawn_channel(Arc::clone(&session), handler, Default::default());
        assert!(ch.wait_for(Duration::from_secs(10), ChannelEvent::is_connected).await);
        ch
    });
    std::thread::sleep(Duration::from_secs(3));
    // the window lists bi-clés (renews through the shared session), then a shell renews again
    trousseau::api::portal_bicles((), Lang::Fr).expect("window: bi-clés");
    assert!(Arc::ptr_eq(&session, &Session::shared().unwrap()), "one session per process");
    std::thread::sleep(Duration::from_secs(3));
    let out = keys_list(&home);
    assert!(out.status.success(), "cli: {}", String::from_utf8_lossy(&out.stderr));
    sb.stop();
    std::thread::sleep(Duration::from_secs(3));
    sb.restart();
    rt.block_on(async {
        assert!(ch.wait_for(Duration::from_secs(15), ChannelEvent::is_connected).await, "channel did not come back");
    });
    trousseau::api::portal_bicles((), Lang::Fr).expect("window after the restart");
    assert_eq!(revoked_devices(&sb), 0, "the pairing revoked itself");
    rt.block_on(ch.stop());
}

/// Eight processes renewing at once, round after round, beside a running channel: never a revocation, and the
/// channel is "Connecté" at the end.
#[test]
fn eight_processes_renewing_at_once_never_revoke_the_pairing() {
    let sb = Sandbox::start_with(&["--access-ttl", "1"]);
    // 1,600 processes against one Secret Service: a keyring of its own, so the rest of the suite is not disturbed
    let keyring = crate::support::PrivateKeyring::start();
    let mut home = Home::new();
    home.bus = Some(keyring.bus.clone());
    pair(&home, &sb);
    let _run = portal_run(&home);
    let rounds: usize = std::env::var("TROUSSEAU_TEST_REFRESH_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(200);
    let started = Instant::now();
    let before = used_refresh_tokens(&sb);
    for round in 0..rounds {
        let children: Vec<_> = (0..8)
            .map(|_| {
                home.cli()
                    .args(["--json", "portal", "status"])
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .expect("status")
            })
            .collect();
        for c in children {
            let out = c.wait_with_output().expect("wait");
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
            assert_eq!(
                v["token_valid"],
                true,
                "round {round}: {} {}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        assert_eq!(revoked_devices(&sb), 0, "revoked at round {round}");
    }
    let renewals = used_refresh_tokens(&sb) - before;
    let rt = rt();
    rt.block_on(async {
        let agent = Agent::login(&sb.url, AGENT).await;
        assert!(agent.wait_state("Connecté", Duration::from_secs(10)).await, "channel not Connecté at the end");
    });
    println!(
        "concurrent refresh rounds survived: {rounds} (8 processes each, {renewals} renewals, {:.1} s)",
        started.elapsed().as_secs_f64()
    );
    assert!(renewals as usize >= rounds, "every round renewed the tokens ({renewals} renewals)");
}

/// A renewal whose answer is lost on the way back: the assistant sends the same refresh token again and the portal's
/// grace period answers the same pair; the pairing stays.
#[test]
fn a_lost_renewal_answer_recovers_without_the_user() {
    use tokio::io::AsyncReadExt;
    let sb = Sandbox::start_with(&["--access-ttl", "1"]);
    let rt = rt();
    rt.block_on(async {
        let tokens = pair_in_memory(&sb, AGENT).await;
        // a proxy that forwards the first connection's request whole, then drops the portal's answer
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let target = sb.port;
        tokio::spawn(async move {
            let mut n = 0;
            while let Ok((mut client, _)) = listener.accept().await {
                n += 1;
                let first = n == 1;
                tokio::spawn(async move {
                    let Ok(mut up) = tokio::net::TcpStream::connect(("127.0.0.1", target)).await else { return };
                    if first {
                        let mut buf = vec![0u8; 65536];
                        if let Ok(k) = client.read(&mut buf).await {
                            use tokio::io::AsyncWriteExt;
                            let _ = up.write_all(&buf[..k]).await;
                            // let the portal process it, then cut the client off without its answer
                            tokio::time::sleep(Duration::from_millis(500)).await;
                        }
                    } else {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut up).await;
                    }
                });
            }
        });
        tokio::time::sleep(Duration::from_millis(1200)).await;
        let session = Session::in_memory(&format!("http://127.0.0.1:{port}"), "PMP", tokens).unwrap();
        // the access token expired: the first request is the renewal, whose answer the proxy drops
        let list = session.list_bicles().await;
        assert!(list.is_ok(), "{list:?}");
        assert_eq!(revoked_devices(&sb), 0, "a lost answer cost the pairing");
        assert!(session.list_bicles().await.is_ok());
    });
}

//! Portal tests against the real reference portal (`trousseau-sandbox`) on loopback, a real NSS database, a SoftHSM2
//! token and the session's gnome-keyring (run inside scripts/in-session.sh). The sandbox's SQLite file is read
//! back with rusqlite; certificates are re-checked with OpenSSL and certutil.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use trousseau::portal::{
    self, AlwaysConfirm, BicleKind, ChannelEvent, ChannelHandle, ChannelOptions, Confirm, NeverConfirm, PortalError,
    RelayHandler, Session, SystemWorkstation, Tokens,
};
use trousseau::Lang;

use crate::support::nss;
use crate::support::pki::Pki;
use crate::support::sandbox::{pair_in_memory, Agent, Sandbox};
use crate::support::softhsm::{self, SoftHsm};
use crate::support::{json_ok as json_out, openssl, run_with_stdin, Home};

const AGENT: &str = "agent.test";
const PW: &str = "Motdepasse-Test-1";

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime")
}

/// A home whose NSS database holds `agent` (RSA, keyEncipherment) with its key, plus a PKI for more.
fn workstation() -> (Home, Pki) {
    let home = Home::new();
    nss::create_db(&home.file("nssdb"));
    let pki = Pki::test_root(&home.file("pki"), "LuxTrust Test CA");
    pki.leaf("agent", "Jean Dupont", "rsa", "keyEncipherment");
    pki.p12("agent", PW, &[]);
    let mut c = home.cli();
    c.args(["--json", "p12", "import", "--password-stdin"]).arg(pki.path("agent.p12"));
    json_out(&run_with_stdin(c, format!("{PW}\n").as_bytes()));
    (home, pki)
}

/// A SoftHSM2 token "Carte LuxTrust" holding `carte` (RSA, keyEncipherment) with its key pair.
fn card(pki: &Pki) -> SoftHsm {
    let hsm = SoftHsm::new();
    hsm.init_token("Carte LuxTrust");
    pki.leaf("carte", "Marie Carte", "rsa", "keyEncipherment");
    hsm.import_identity("Carte LuxTrust", &softhsm::der_files(&pki.dir, "carte"), "c1", "chiffrement");
    hsm
}

/// `openssl x509 -enddate` → RFC 3339 (the second implementation of not-after).
fn openssl_not_after(pki: &Pki, name: &str) -> String {
    let out = openssl(&pki.dir, &["x509", "-in", &format!("{name}.pem"), "-noout", "-enddate", "-dateopt", "iso_8601"]);
    // notAfter=2028-11-22 10:00:00Z
    let t = String::from_utf8_lossy(&out.stdout).trim().trim_start_matches("notAfter=").to_string();
    t.replacen(' ', "T", 1)
}

/// A French assistant's channel to the sandbox (portal "PMP") with `tokens`, relaying this workstation's
/// certificates and answering confirmations with `confirm`; it connects in the background.
fn relay_channel(
    sb: &Sandbox,
    tokens: Tokens,
    confirm: Arc<dyn Confirm>,
) -> (Arc<Session>, Arc<RelayHandler>, ChannelHandle) {
    let session = Arc::new(Session::in_memory(&sb.url, "PMP", tokens).unwrap());
    let handler = Arc::new(RelayHandler::new(Arc::new(SystemWorkstation { lang: Lang::Fr }), confirm, "PMP", Lang::Fr));
    let ch = portal::spawn_channel(Arc::clone(&session), Arc::clone(&handler), ChannelOptions::default());
    (session, handler, ch)
}

/// `trousseau portal pair` approved by script; returns once paired.
fn pair_cli(home: &Home, sb: &Sandbox) {
    crate::support::sandbox::pair_cli(home, sb, AGENT, "poste-test");
}

fn run_cli(home: &Home, hsm: Option<&SoftHsm>) -> Child {
    let mut c = home.cli();
    c.args(["--json", "portal", "run", "--yes"]).stdout(Stdio::null()).stderr(Stdio::null());
    match hsm {
        Some(h) => {
            h.env(&mut c);
        }
        None => {
            c.env("TROUSSEAU_PKCS11_SYSTEM", "0");
        }
    }
    c.spawn().expect("portal run")
}

struct Killed(Child);
impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn end_to_end_pair_connect_list_register_personal_and_backup() {
    let (home, pki) = workstation();
    let hsm = card(&pki);
    let sb = Sandbox::start();
    pair_cli(&home, &sb);

    let status = json_out(&home.cli().args(["--json", "portal", "status"]).output().unwrap());
    assert_eq!(status["paired"], true);
    assert_eq!(status["token_valid"], true);
    assert_eq!(status["agent"], AGENT);
    assert_eq!(sb.count("devices"), 1);

    let rt = rt();
    let agent = rt.block_on(Agent::login(&sb.url, AGENT));
    assert_eq!(rt.block_on(agent.state()), "Déconnecté");
    let page = rt.block_on(agent.page("/cles"));
    assert!(page.contains("Etat de Mon Assistant : <strong id=\"etat-assistant\" class=\"ko\">Déconnecté</strong>"));

    let run = Killed(run_cli(&home, Some(&hsm)));
    assert!(rt.block_on(agent.wait_state("Connecté", Duration::from_secs(15))), "page never said Connecté");
    assert!(rt.block_on(agent.page("/cles")).contains(">Connecté</strong>"));

    // page → portal → assistant: the workstation's encryption certificates (store and card), public data only
    let (st, reply) = rt.block_on(agent.relay("list_certificates", json!({})));
    assert_eq!(st, 200, "{reply}");
    assert_eq!(reply["ok"], true, "{reply}");
    let certs = reply["result"]["certificates"].as_array().expect("certificates").clone();
    let store_sha = pki.sha256("agent");
    let card_sha = pki.sha256("carte");
    let from_store = certs.iter().find(|c| c["sha256"] == store_sha.as_str()).expect("store certificate listed");
    assert_eq!(from_store["source"], "store");
    assert_eq!(from_store["subject_cn"], "Jean Dupont");
    let from_card = certs.iter().find(|c| c["sha256"] == card_sha.as_str()).expect("card certificate listed");
    assert_eq!(from_card["source"], "token");
    assert_eq!(from_card["token"], "Carte LuxTrust");
    assert!(!reply.to_string().contains("PRIVATE"), "no private data in the listing");

    // register the store certificate as personal + backup in one action
    let mut add = home.cli();
    add.args([
        "--json",
        "portal",
        "keys",
        "add",
        "--name",
        "Jean Dupont 2025",
        "--cert",
        &store_sha,
        "--personal",
        "--backup",
    ]);
    hsm.env(&mut add);
    let rows = json_out(&add.output().unwrap());
    assert_eq!(rows.as_array().unwrap().len(), 2);

    let db = sb.sql();
    let mut q =
        db.prepare("SELECT kind, cn, not_after, sha256, status, designation FROM bicles ORDER BY kind").unwrap();
    let stored: Vec<(String, String, String, String, String, String)> = q
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(stored.len(), 2);
    assert_eq!(stored[0].0, "backup");
    assert_eq!(stored[1].0, "personal");
    let not_after = openssl_not_after(&pki, "agent");
    for row in &stored {
        assert_eq!(row.1, "Jean Dupont");
        assert_eq!(row.2, not_after, "expiry as OpenSSL reads it");
        assert_eq!(row.3, store_sha);
        assert_eq!(row.4, "a_confirmer", "an assistant cannot activate a key alone");
        assert_eq!(row.5, "Jean Dupont 2025");
    }
    sb.confirm_all(AGENT);
    let active: i64 = db.query_row("SELECT COUNT(*) FROM bicles WHERE status = 'actif'", [], |r| r.get(0)).unwrap();
    assert_eq!(active, 2);
    let page = rt.block_on(agent.page("/cles"));
    assert!(page.contains("Gestion des bi-clés personnels") && page.contains("Gestion des bi-clés de secours"));
    assert!(page.contains("Jean Dupont 2025"));
    let date_fr = format!("{}/{}/{}", &not_after[8..10], &not_after[5..7], &not_after[..4]);
    assert!(page.contains(&date_fr), "expiry shown as {date_fr}");

    // the card's certificate as a second personal bi-clé
    let mut add = home.cli();
    add.args(["--json", "portal", "keys", "add", "--name", "Marie Carte 2025", "--cert", &card_sha, "--personal"]);
    hsm.env(&mut add);
    assert_eq!(json_out(&add.output().unwrap()).as_array().unwrap().len(), 1);

    // CLI listing: present on the workstation, not expired
    let mut list = home.cli();
    list.args(["--json", "portal", "keys", "list"]);
    hsm.env(&mut list);
    let listed = json_out(&list.output().unwrap());
    assert_eq!(listed.as_array().unwrap().len(), 3);
    assert!(listed.as_array().unwrap().iter().all(|r| r["present"] == true && r["expired"] == false));
    // the card is pulled (no token any more): its bi-clé is flagged, with the reminder about the old card
    let listed = json_out(
        &home.cli().env("TROUSSEAU_PKCS11_SYSTEM", "0").args(["--json", "portal", "keys", "list"]).output().unwrap(),
    );
    let card_row =
        listed.as_array().unwrap().iter().find(|r| r["sha256"] == card_sha.as_str()).expect("card row").clone();
    assert_eq!(card_row["present"], false);
    assert!(card_row["warnings"][0].as_str().unwrap().contains("carte"), "{card_row}");
    let status = json_out(&home.cli().args(["--json", "portal", "status"]).output().unwrap());
    assert_eq!(status["state"], "Connecté");

    // removal asked by the assistant waits for the agent, then the row is gone
    let backup_id: i64 = db.query_row("SELECT id FROM bicles WHERE kind = 'backup'", [], |r| r.get(0)).unwrap();
    let removed =
        json_out(&home.cli().args(["--json", "portal", "keys", "remove", &backup_id.to_string()]).output().unwrap());
    assert_eq!(removed["status"], "suppression_a_confirmer");
    assert_eq!(sb.count("bicles"), 3);
    sb.confirm_all(AGENT);
    assert_eq!(sb.count("bicles"), 2);

    // the assistant stops: the page says Déconnecté
    drop(run);
    assert!(rt.block_on(agent.wait_state("Déconnecté", Duration::from_secs(10))), "page still says Connecté");

    // unpair: revoked on the portal, forgotten here
    let out = home.cli().args(["--json", "portal", "unpair"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let revoked: i64 =
        db.query_row("SELECT COUNT(*) FROM devices WHERE revoked_at IS NOT NULL", [], |r| r.get(0)).unwrap();
    assert_eq!(revoked, 1);
    let out = home.cli().args(["--json", "portal", "keys", "list"]).output().unwrap();
    assert_eq!(crate::support::json_error_code(&out), "portal.not_paired");
}

#[test]
fn generate_from_the_page_puts_the_key_in_the_nss_db() {
    let (home, _pki) = workstation();
    let sb = Sandbox::start();
    pair_cli(&home, &sb);
    let rt = rt();
    let agent = rt.block_on(Agent::login(&sb.url, AGENT));
    let _run = Killed(run_cli(&home, None));
    assert!(rt.block_on(agent.wait_state("Connecté", Duration::from_secs(15))));
    let keys_before = nss::key_count(&home.file("nssdb"));

    let (st, reply) = rt.block_on(agent.relay("generate_bicle", json!({"designation": "Jean Dupont 2026"})));
    assert_eq!(st, 200, "{reply}");
    assert_eq!(reply["ok"], true, "{reply}");
    let pem = reply["result"]["certificate"].as_str().expect("pem").to_string();
    std::fs::write(home.file("new.pem"), &pem).unwrap();
    let text = openssl(home.path(), &["x509", "-in", "new.pem", "-noout", "-subject", "-ext", "keyUsage", "-text"]);
    let text = String::from_utf8_lossy(&text.stdout).to_string();
    assert!(text.contains("CN = Jean Dupont 2026") || text.contains("CN=Jean Dupont 2026"), "{text}");
    assert!(text.contains("Key Encipherment"), "{text}");
    assert!(text.contains("Public-Key: (2048 bit)"), "{text}");
    // certutil (second implementation) sees one more private key and the certificate
    assert_eq!(nss::key_count(&home.file("nssdb")), keys_before + 1);
    assert!(nss::certutil_list(&home.file("nssdb")).contains("Jean Dupont 2026"));

    // the page registers it as a backup bi-clé by the relayed request's id (never the PEM); the portal reads CN and
    // expiry from the certificate it kept. A generated key was never chosen from a list: it waits for confirmation.
    let relay = reply["id"].as_str().expect("relay id").to_string();
    let (st, body) = rt.block_on(
        agent
            .post("/agent/api/bicles", json!({"designation": "Jean Dupont 2026", "relay": relay, "kinds": ["backup"]})),
    );
    assert_eq!(st, 201, "{body}");
    let (id, kind, cn, status, device): (i64, String, String, String, Option<i64>) = sb
        .sql()
        .query_row("SELECT id, kind, cn, status, device_id FROM bicles", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .unwrap();
    assert_eq!((kind.as_str(), cn.as_str(), status.as_str()), ("backup", "Jean Dupont 2026", "a_confirmer"));
    assert_eq!(device, Some(reply["assistant"]["id"].as_i64().unwrap()), "the row names the device that answered");
    let (st, body) = rt.block_on(agent.post(&format!("/agent/api/bicles/{id}/confirmer-ajout"), json!(null)));
    assert_eq!(st, 200, "{body}");
    let status: String = sb.sql().query_row("SELECT status FROM bicles", [], |r| r.get(0)).unwrap();
    assert_eq!(status, "actif");

    // the CLI's own generate path: confirmed by --yes, installed, registered "à confirmer"
    let out = home
        .cli()
        .env("TROUSSEAU_PKCS11_SYSTEM", "0")
        .args(["--json", "portal", "keys", "add", "--name", "Jean Dupont 2027", "--generate", "--yes", "--personal"])
        .output()
        .unwrap();
    let rows = json_out(&out);
    assert_eq!(rows[0]["cn"], "Jean Dupont 2027");
    assert_eq!(rows[0]["status"], "a_confirmer");
    assert_eq!(nss::key_count(&home.file("nssdb")), keys_before + 2);
    // without --yes and without a terminal, nothing is generated
    let out = home
        .cli()
        .env("TROUSSEAU_PKCS11_SYSTEM", "0")
        .args(["--json", "portal", "keys", "add", "--name", "Jean Dupont 2028", "--generate", "--personal"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert_eq!(nss::key_count(&home.file("nssdb")), keys_before + 2);
    assert_eq!(sb.count("bicles"), 2);
}

#[test]
fn reconnects_by_itself_after_sandbox_restart() {
    let mut sb = Sandbox::start();
    let rt = rt();
    rt.block_on(async {
        let tokens = pair_in_memory(&sb, AGENT).await;
        let (_, _, ch) = relay_channel(&sb, tokens, Arc::new(NeverConfirm));
        let mut events = ch.subscribe();
        assert!(ch.wait_for(Duration::from_secs(10), ChannelEvent::is_connected).await);
        let agent = Agent::login(&sb.url, AGENT).await;
        assert!(agent.wait_state("Connecté", Duration::from_secs(5)).await);

        sb.stop();
        assert!(ch.wait_for(Duration::from_secs(10), |e| matches!(e, ChannelEvent::Disconnected { .. })).await);
        sb.restart();
        let t = std::time::Instant::now();
        assert!(ch.wait_for(Duration::from_secs(10), ChannelEvent::is_connected).await, "did not reconnect");
        assert!(t.elapsed() < Duration::from_secs(3), "reconnected in {:?}", t.elapsed());
        let agent = Agent::login(&sb.url, AGENT).await;
        assert!(agent.wait_state("Connecté", Duration::from_secs(5)).await);
        // the transitions were published for the tray
        let mut seen = Vec::new();
        while let Ok(e) = events.try_recv() {
            seen.push(e);
        }
        assert!(seen.iter().any(|e| matches!(e, ChannelEvent::Disconnected { .. })));
        assert_eq!(seen.last().map(|e| e.label(Lang::Fr)), Some("Connecté — PMP".to_string()));
        ch.stop().await;
        assert!(agent.wait_state("Déconnecté", Duration::from_secs(5)).await);
    });
}

#[test]
fn revoked_on_the_portal_stops_the_channel_and_says_pair_again() {
    let sb = Sandbox::start_with(&["--heartbeat-timeout", "3"]);
    let rt = rt();
    rt.block_on(async {
        let tokens = pair_in_memory(&sb, AGENT).await;
        let (session, _, ch) = relay_channel(&sb, tokens, Arc::new(NeverConfirm));
        assert!(ch.wait_for(Duration::from_secs(10), ChannelEvent::is_connected).await);
        sb.revoke(AGENT);
        assert!(ch.wait_for(Duration::from_secs(15), |e| *e == ChannelEvent::Revoked).await, "channel not stopped");
        let err = session.list_bicles().await.unwrap_err();
        assert!(matches!(err, PortalError::TokenRejected), "{err:?}");
        assert!(trousseau::Coded::message(&err, Lang::Fr).contains("trousseau portal pair"));
    });
}

#[test]
fn expired_access_token_is_refreshed_and_a_replayed_refresh_token_revokes_the_pairing() {
    // no grace period here: any replay revokes (the grace rules have their own test)
    let sb = Sandbox::start_with(&["--access-ttl", "1", "--refresh-grace", "0"]);
    let rt = rt();
    rt.block_on(async {
        let tokens = pair_in_memory(&sb, AGENT).await;
        let stolen = tokens.clone();
        let session = Session::in_memory(&sb.url, "PMP", tokens).unwrap();
        tokio::time::sleep(Duration::from_millis(1500)).await;
        // expired access token: refreshed (rotated) transparently
        assert!(session.list_bicles().await.unwrap().is_empty());
        assert!(session.list_bicles().await.is_ok());
        let used: i64 = sb
            .sql()
            .query_row("SELECT COUNT(*) FROM tokens WHERE kind='refresh' AND used_at IS NOT NULL", [], |r| r.get(0))
            .unwrap();
        assert!(used >= 1, "refresh tokens rotate");
        // someone replays the original (already used) refresh token: the whole pairing is revoked
        let thief = Session::in_memory(&sb.url, "PMP", stolen).unwrap();
        assert!(matches!(thief.refresh().await, Err(PortalError::TokenRejected)));
        assert!(matches!(session.refresh().await, Err(PortalError::TokenRejected)));
        let revoked: i64 =
            sb.sql().query_row("SELECT COUNT(*) FROM devices WHERE revoked_at IS NOT NULL", [], |r| r.get(0)).unwrap();
        assert_eq!(revoked, 1);
        let notes: String =
            sb.sql().query_row("SELECT group_concat(text) FROM notifications", [], |r| r.get(0)).unwrap();
        assert!(notes.contains("réutilisé"), "{notes}");
    });
}

/// A TCP proxy in front of the sandbox that misbehaves on chosen connections.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Fault {
    Pass,
    /// Forward only this many bytes of the request, then cut both sides.
    CutRequest(usize),
    /// Forward the whole request, then drop the answer and close.
    DropResponse,
}

async fn proxy(target: u16, plan: Vec<Fault>) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut n = 0usize;
        while let Ok((mut client, _)) = listener.accept().await {
            let fault = plan.get(n).copied().unwrap_or(*plan.last().unwrap_or(&Fault::Pass));
            n += 1;
            tokio::spawn(async move {
                let Ok(mut up) = tokio::net::TcpStream::connect(("127.0.0.1", target)).await else { return };
                match fault {
                    Fault::Pass => {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut up).await;
                    }
                    Fault::CutRequest(limit) => {
                        let mut buf = vec![0u8; limit];
                        let mut got = 0;
                        while got < limit {
                            match client.read(&mut buf[got..]).await {
                                Ok(0) | Err(_) => break,
                                Ok(k) => got += k,
                            }
                        }
                        let _ = up.write_all(&buf[..got]).await;
                        // both sides cut mid-request
                    }
                    Fault::DropResponse => {
                        let (mut cr, _cw) = client.split();
                        let (_ur, mut uw) = up.split();
                        let _ =
                            tokio::time::timeout(Duration::from_millis(700), tokio::io::copy(&mut cr, &mut uw)).await;
                    }
                }
            });
        }
    });
    port
}

#[test]
fn network_error_mid_registration_leaves_nothing_half_registered() {
    let (home, pki) = workstation();
    let _ = home;
    let cert = trousseau::cert::read_file(&pki.path("agent.pem")).unwrap().remove(0);
    let sb = Sandbox::start();
    let rt = rt();
    rt.block_on(async {
        let tokens = pair_in_memory(&sb, AGENT).await;
        let kinds = [BicleKind::Personal, BicleKind::Backup];
        let rows = || sb.count("bicles");

        // every attempt cut mid-request: an error, and nothing stored
        let p = proxy(sb.port, vec![Fault::CutRequest(300)]).await;
        let s = Session::in_memory(&format!("http://127.0.0.1:{p}"), "PMP", tokens.clone()).unwrap();
        let err = s.add_bicles("Jean Dupont 2025", &cert, &kinds).await.unwrap_err();
        assert!(matches!(err, PortalError::Unreachable { .. }), "{err:?}");
        assert_eq!(rows(), 0, "a cut request registers nothing");

        // the first attempt is cut, the retry goes through: exactly the two rows
        let p = proxy(sb.port, vec![Fault::CutRequest(400), Fault::Pass]).await;
        let s = Session::in_memory(&format!("http://127.0.0.1:{p}"), "PMP", tokens.clone()).unwrap();
        let added = s.add_bicles("Jean Dupont 2025", &cert, &kinds).await.unwrap();
        assert_eq!(added.len(), 2);
        assert_eq!(rows(), 2);

        // the portal commits but the answer is lost: the retry (same idempotency key) does not register twice
        pki.leaf("autre", "Paul Autre", "rsa", "keyEncipherment");
        let cert2 = trousseau::cert::read_file(&pki.path("autre.pem")).unwrap().remove(0);
        let p = proxy(sb.port, vec![Fault::DropResponse, Fault::Pass]).await;
        let s = Session::in_memory(&format!("http://127.0.0.1:{p}"), "PMP", tokens.clone()).unwrap();
        let added = s.add_bicles("Paul Autre 2025", &cert2, &kinds).await.unwrap();
        assert_eq!(added.len(), 2);
        assert_eq!(rows(), 4, "no duplicate after a lost answer");
        let pairs: i64 =
            sb.sql().query_row("SELECT COUNT(DISTINCT sha256 || kind) FROM bicles", [], |r| r.get(0)).unwrap();
        assert_eq!(pairs, 4);
    });
}

#[test]
fn relayed_request_for_a_vanished_certificate_is_refused_clearly() {
    let (home, pki) = workstation();
    let sha = pki.sha256("agent");
    std::env::set_var("TROUSSEAU_NSSDB", home.file("nssdb"));
    std::env::set_var("TROUSSEAU_PKCS11_SYSTEM", "0");
    std::env::set_var("TROUSSEAU_HOME", home.file("home"));
    let sb = Sandbox::start();
    let rt = rt();
    rt.block_on(async {
        let tokens = pair_in_memory(&sb, AGENT).await;
        let (_, _, ch) = relay_channel(&sb, tokens, Arc::new(AlwaysConfirm));
        assert!(ch.wait_for(Duration::from_secs(10), ChannelEvent::is_connected).await);
        let agent = Agent::login(&sb.url, AGENT).await;
        let (_, listed) = agent.relay("list_certificates", json!({})).await;
        assert!(listed.to_string().contains(&sha), "{listed}");

        // the certificate and its key disappear from the store (card pulled, user deleted it)
        let db = format!("sql:{}", home.file("nssdb").display());
        let nick = nss::certutil_entries(&home.file("nssdb"))
            .into_iter()
            .find(|(n, _)| n.contains("agent") || n.contains("Jean"))
            .map(|(n, _)| n)
            .expect("nickname");
        let st = Command::new("certutil").args(["-F", "-d", &db, "-n", &nick]).stdin(Stdio::null()).output().unwrap();
        if !st.status.success() {
            let st = Command::new("certutil").args(["-D", "-d", &db, "-n", &nick]).output().unwrap();
            assert!(st.status.success(), "{}", String::from_utf8_lossy(&st.stderr));
        }
        let (st, reply) = agent.relay("get_certificate", json!({"sha256": sha})).await;
        assert_eq!(st, 200);
        assert_eq!(reply["ok"], false);
        assert_eq!(reply["error"]["code"], "portal.certificate_not_found");
        assert!(reply["error"]["message"].as_str().unwrap().contains("n'est plus sur ce poste"));
        ch.stop().await;
    });
    // the CLI refuses the same way, and nothing reaches the registry
    let mut c = home.cli();
    c.args(["--json", "portal", "keys", "add", "--name", "X 2025", "--cert", &sha, "--personal"]);
    let out = c.output().unwrap();
    assert!(!out.status.success());
    assert_eq!(sb.count("bicles"), 0);
}

#[test]
fn keys_add_needs_a_kind_and_plain_http_is_refused_off_loopback() {
    let home = Home::new();
    let out = home.cli().args(["--json", "portal", "pair", "http://pmp.example.lu"]).output().unwrap();
    assert_eq!(crate::support::json_error_code(&out), "portal.insecure_url");
    let out =
        home.cli().args(["--json", "portal", "keys", "add", "--name", "A B 2025", "--generate"]).output().unwrap();
    assert!(!out.status.success());
    // managed configuration wins over the user's
    let managed = home.file("managed.json");
    std::fs::write(&managed, r#"{"portals":[{"name":"PMP Luxembourg","url":"https://pmp.example.lu"}]}"#).unwrap();
    let out =
        home.cli().env("TROUSSEAU_MANAGED_CONFIG", &managed).args(["--json", "portal", "portals"]).output().unwrap();
    let v = json_out(&out);
    assert_eq!(v["managed"], true);
    assert_eq!(v["portals"][0]["name"], "PMP Luxembourg");
    std::fs::write(&managed, r#"{"portals":[{"name":"X","url":"http://pmp.example.lu"}]}"#).unwrap();
    let out =
        home.cli().env("TROUSSEAU_MANAGED_CONFIG", &managed).args(["--json", "portal", "portals"]).output().unwrap();
    assert_eq!(crate::support::json_error_code(&out), "portal.config");
    // the user's list, as the desktop settings write it
    let out = home
        .cli()
        .env("TROUSSEAU_MANAGED_CONFIG", home.file("none.json"))
        .args(["--json", "portal", "portals"])
        .output()
        .unwrap();
    assert_eq!(json_out(&out)["managed"], false);
    std::fs::create_dir_all(home.file("home/config")).unwrap();
    std::fs::write(
        home.file("home/config/portals.json"),
        r#"{"portals":[{"name":"Recette","url":"https://recette.example.lu"}]}"#,
    )
    .unwrap();
    let out = home
        .cli()
        .env("TROUSSEAU_MANAGED_CONFIG", home.file("none.json"))
        .args(["--json", "portal", "portals"])
        .output()
        .unwrap();
    assert_eq!(json_out(&out)["portals"][0]["name"], "Recette");
    std::fs::remove_file(home.file("home/config/portals.json")).unwrap();
    // default: the local sandbox
    let out = home
        .cli()
        .env("TROUSSEAU_MANAGED_CONFIG", home.file("none.json"))
        .args(["--json", "portal", "portals"])
        .output()
        .unwrap();
    assert!(json_out(&out)["portals"][0]["url"].as_str().unwrap().starts_with("http://127.0.0.1"));
    let _ = softhsm::module;
}

// ---------------------------------------------------------------------------------------------------------------
// Abuse matrix: every case must be refused and execute nothing (no relayed operation, no registry row).

async fn ws_attempt(url: &str, headers: &[(&str, String)]) -> Result<(), u16> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut req = format!("{}/api/v1/channel", url.replace("http://", "ws://")).into_client_request().unwrap();
    for (k, v) in headers {
        req.headers_mut().insert(reqwest::header::HeaderName::from_bytes(k.as_bytes()).unwrap(), v.parse().unwrap());
    }
    match tokio_tungstenite::connect_async(req).await {
        Ok(_) => Ok(()),
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => Err(r.status().as_u16()),
        Err(e) => panic!("unexpected {e}"),
    }
}

/// Sends one message on an authenticated channel; returns true when the portal closed the channel.
async fn ws_send_closes(url: &str, token: &str, msg: tokio_tungstenite::tungstenite::Message) -> bool {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut req = format!("{}/api/v1/channel", url.replace("http://", "ws://")).into_client_request().unwrap();
    req.headers_mut().insert("authorization", format!("Bearer {token}").parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.expect("connect");
    let _hello = ws.next().await;
    if ws.send(msg).await.is_err() {
        return true;
    }
    let r = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match ws.next().await {
                None | Some(Err(_)) | Some(Ok(tokio_tungstenite::tungstenite::Message::Close(_))) => return true,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    r.unwrap_or(false)
}

#[test]
fn abuse_matrix_channel_registry_pairing_and_relay() {
    use tokio_tungstenite::tungstenite::Message;
    let (_home, pki) = workstation();
    pki.leaf("signonly", "Sig Only", "rsa", "nonRepudiation");
    let good_pem = std::fs::read_to_string(pki.path("agent.pem")).unwrap();
    let sig_pem = std::fs::read_to_string(pki.path("signonly.pem")).unwrap();
    let sb = Sandbox::start_with(&["--access-ttl", "2"]);
    let rt = rt();
    let mut cases = 0;
    rt.block_on(async {
        let tokens = pair_in_memory(&sb, AGENT).await;
        let victim = pair_in_memory(&sb, "agent.victime").await;
        // a paired assistant that would execute requests, but never gets a valid one
        let (session, handler, ch) = relay_channel(&sb, tokens.clone(), Arc::new(NeverConfirm));
        assert!(ch.wait_for(Duration::from_secs(10), ChannelEvent::is_connected).await);
        let at = tokens.access_token.clone();
        let rt_tok = tokens.refresh_token.clone();

        // --- channel handshake: missing/forged/misused tokens, browser origins
        let bad_auth: Vec<Vec<(&str, String)>> = vec![
            vec![],
            vec![("authorization", "Bearer".into())],
            vec![("authorization", "Bearer ".into())],
            vec![("authorization", "Bearer sbx_at_forged".into())],
            vec![("authorization", format!("Basic {at}"))],
            vec![("authorization", format!("bearer{at}"))],
            vec![("authorization", format!("Bearer {rt_tok}"))],
            vec![("authorization", format!("Bearer {}x", at))],
            vec![("authorization", format!("Bearer {}", "A".repeat(4000)))],
            vec![("authorization", format!("Bearer {at}")), ("origin", "https://evil.example".into())],
            vec![("authorization", format!("Bearer {at}")), ("origin", "null".into())],
            vec![("authorization", format!("Bearer {at}")), ("origin", sb.url.clone())],
        ];
        for h in &bad_auth {
            let r = ws_attempt(&sb.url, h).await;
            assert!(matches!(r, Err(401) | Err(403)), "channel accepted {h:?}: {r:?}");
            cases += 1;
        }

        // --- messages on an authenticated channel: oversized, malformed, forged replies
        let t = session.access_token().await.unwrap().to_string();
        let bad_msgs = vec![
            Message::text("x".repeat(1024 * 1024)),
            Message::text("{not json"),
            Message::text("[]"),
            Message::text(r#"{"type":"request","id":"1","op":"list_certificates","params":{}}"#),
            Message::text(r#"{"type":"reply","id":"does-not-exist","ok":true,"result":{}}"#),
            Message::text(r#"{"type":"reply","id":"x","ok":true,"result":{},"extra":1}"#),
            Message::text(r#"{"type":"admin"}"#),
            Message::binary(vec![0u8; 16]),
        ];
        for m in bad_msgs {
            assert!(ws_send_closes(&sb.url, &t, m).await, "channel kept a bad message open");
            cases += 1;
        }

        // --- registry API: bad tokens, bad bodies
        let http = reqwest::Client::new();
        let bicles = format!("{}/api/v1/bicles", sb.url);
        let body = json!({"designation": "X Y 2025", "certificate": good_pem, "kinds": ["personal"]});
        for auth in ["".to_string(), "Bearer nope".into(), format!("Bearer {rt_tok}"), format!("Basic {t}")] {
            let mut r = http.post(&bicles).json(&body);
            if !auth.is_empty() {
                r = r.header("authorization", auth);
            }
            let r = r.send().await.unwrap();
            assert_eq!(r.status().as_u16(), 401);
            assert_eq!(r.headers()["content-type"], "application/problem+json");
            cases += 1;
        }
        let bad_bodies: Vec<(Vec<u8>, u16)> = vec![
            (b"{bad".to_vec(), 400),
            (vec![b' '; 200 * 1024], 413),
            (json!({"designation": "X", "certificate": "AAAA", "kinds": ["personal"]}).to_string().into_bytes(), 422),
            (json!({"designation": "X", "certificate": sig_pem, "kinds": ["personal"]}).to_string().into_bytes(), 422),
            (json!({"designation": "X", "certificate": good_pem, "kinds": []}).to_string().into_bytes(), 422),
            (json!({"designation": "X", "certificate": good_pem, "kinds": ["admin"]}).to_string().into_bytes(), 422),
            (
                json!({"designation": "X\u{7}", "certificate": good_pem, "kinds": ["backup"]}).to_string().into_bytes(),
                422,
            ),
            (
                json!({"designation": "X".repeat(500), "certificate": good_pem, "kinds": ["backup"]})
                    .to_string()
                    .into_bytes(),
                422,
            ),
            (
                json!({"designation": "X", "certificate": good_pem, "kinds": ["backup"], "status": "actif"})
                    .to_string()
                    .into_bytes(),
                400,
            ),
            (json!({"designation": "X", "kinds": ["backup"]}).to_string().into_bytes(), 400),
        ];
        // One connection per case: the server closes the connection that carried the oversized body, and a pooled
        // client could reuse it for the next case.
        let fresh = reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap();
        for (b, want) in bad_bodies {
            let sent =
                fresh.post(&bicles).bearer_auth(&t).header("content-type", "application/json").body(b).send().await;
            match sent {
                Ok(r) => assert_eq!(r.status().as_u16(), want),
                // The server may answer 413 and close while the client is still uploading the 200 KiB: the
                // connection is then reset before the answer is read. Refused all the same (the registry is checked
                // unchanged below).
                Err(e) if want == 413 && e.is_request() => {}
                Err(e) => panic!("bad body (expected {want}): {e:?}"),
            }
            cases += 1;
        }
        // removing the victim's bi-clé with our token: not found (agents are isolated)
        let r = http.delete(format!("{bicles}/1")).bearer_auth(&t).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 404);
        cases += 1;

        // --- expired access token (ttl 2 s), used raw
        tokio::time::sleep(Duration::from_millis(2500)).await;
        let r = http.get(&bicles).bearer_auth(&victim.access_token).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 401, "expired access token refused");
        cases += 1;
        assert!(matches!(
            ws_attempt(&sb.url, &[("authorization", format!("Bearer {}", victim.access_token))]).await,
            Err(401)
        ));
        cases += 1;

        // --- pairing: replayed device code, phishing code approved twice, wrong client
        let auth = portal::start_pairing(&sb.url, "attaquant").await.unwrap();
        sb.approve(&auth.user_code, AGENT);
        let _ = portal::complete_pairing(&auth).await.unwrap();
        assert!(portal::complete_pairing(&auth).await.is_err(), "device code is single use");
        cases += 1;
        let again = std::process::Command::new(crate::support::sandbox::bin())
            .args(["approve", &auth.user_code, "--agent", AGENT, "--db"])
            .arg(&sb.db)
            .output()
            .unwrap();
        assert!(!again.status.success(), "a used code cannot be approved again");
        cases += 1;
        let r = http
            .post(format!("{}/oauth/token", sb.url))
            .form(&[("client_id", "other"), ("grant_type", "refresh_token"), ("refresh_token", &victim.refresh_token)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 401);
        cases += 1;
        let r = http
            .post(format!("{}/oauth/token", sb.url))
            .form(&[("client_id", "trousseau"), ("grant_type", "password"), ("username", AGENT)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 400);
        cases += 1;

        // --- brute force of user codes on the approval page (RFC 8628 §5.1): ten wrong codes, then even the right
        // code is no longer checked
        let target = portal::start_pairing(&sb.url, "cible").await.unwrap();
        let brute = Agent::login(&sb.url, "agent.brute").await;
        for i in 0..10 {
            let html = brute.page(&format!("/appairage?code=BBBB-BB{:02}", i)).await;
            assert!(html.contains("Code inconnu"), "wrong code {i}");
            cases += 1;
        }
        let html = brute.page(&format!("/appairage?code={}", target.user_code)).await;
        assert!(html.contains("trop-essais") && !html.contains("Approuver"), "attempts not limited");
        cases += 1;
        let r = http
            .post(format!("{}/appairage", sb.url))
            .header("cookie", &brute.cookie)
            .form(&[("csrf", brute.csrf.as_str()), ("code", target.user_code.as_str()), ("decision", "approuver")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 429);
        cases += 1;
        let status: String = sb
            .sql()
            .query_row("SELECT status FROM device_codes WHERE user_code = ?1", [&target.user_code], |r| r.get(0))
            .unwrap();
        assert_eq!(status, "pending", "the brute-forced code was not approved");

        // --- the agent's page API: no session, no CSRF, foreign origin, unknown op, declined generation
        let agent = Agent::login(&sb.url, AGENT).await;
        let relais = format!("{}/agent/api/relais", sb.url);
        let op = json!({"op": "list_certificates", "params": {}});
        let r = http.post(&relais).json(&op).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 401);
        cases += 1;
        let r = http.post(&relais).header("cookie", &agent.cookie).json(&op).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 403, "no CSRF token");
        cases += 1;
        let r = http
            .post(&relais)
            .header("cookie", &agent.cookie)
            .header("x-csrf-token", "forged")
            .json(&op)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 403);
        cases += 1;
        let r = http
            .post(&relais)
            .header("cookie", &agent.cookie)
            .header("x-csrf-token", &agent.csrf)
            .header("origin", "https://evil.example")
            .json(&op)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 403, "cross-origin page");
        cases += 1;
        for (o, p) in [
            ("delete_everything", json!({})),
            ("get_certificate", json!({"sha256": "zz"})),
            ("get_certificate", json!({"sha256": "../../etc/passwd"})),
            ("generate_bicle", json!({"designation": ""})),
            ("generate_bicle", json!({"designation": "X".repeat(200)})),
            ("generate_bicle", json!({"designation": "Paul Pirate 2025"})),
        ] {
            let (st, reply) = agent.relay(o, p).await;
            assert!(st == 400 || reply["ok"] == false, "{o}: {st} {reply}");
            cases += 1;
        }
        let (_, reply) = agent.relay("generate_bicle", json!({"designation": "Paul Pirate 2025"})).await;
        assert_eq!(reply["error"]["code"], "portal.declined");
        cases += 1;
        assert_eq!(handler.executed(), 0, "no relayed operation executed");

        ch.stop().await;
    });
    assert!(cases >= 50, "{cases} cases");
    assert_eq!(sb.count("bicles"), 0, "no registry row from any abuse case");
    eprintln!("abuse cases tried and refused: {cases} (channel, registry, pairing, relay)");
}

#[test]
fn approval_page_warns_when_the_pairing_comes_from_another_address() {
    // device-code phishing (RFC 8628 §5.4): the attacker starts the pairing from their machine (here 127.0.0.2)
    // and lures the agent into approving it from their browser (127.0.0.1)
    let sb = Sandbox::start();
    let rt = rt();
    rt.block_on(async {
        let attacker =
            reqwest::Client::builder().local_address("127.0.0.2".parse::<std::net::IpAddr>().unwrap()).build().unwrap();
        let v: Value = attacker
            .post(format!("{}/oauth/device_authorization", sb.url))
            .form(&[("client_id", "trousseau"), ("client_name", "PC-BUREAU-12"), ("client_os", "windows x86_64")])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let code = v["user_code"].as_str().unwrap();
        assert_eq!(v["expires_in"], 600, "codes expire within 10 minutes");
        let agent = Agent::login(&sb.url, AGENT).await;
        let html = agent.page(&format!("/appairage?code={code}")).await;
        assert!(html.contains("PC-BUREAU-12") && html.contains("windows x86_64"), "name and OS shown");
        assert!(html.contains("Attention : cette demande vient de l'adresse 127.0.0.2"), "address warning: {html}");
        assert!(html.contains("127.0.0.1"), "browser address shown");
        assert!(html.contains("Demandé le"));
        // the same flow from the same address: no warning
        let auth = portal::start_pairing(&sb.url, "poste-test").await.unwrap();
        let html = agent.page(&format!("/appairage?code={}", auth.user_code)).await;
        assert!(!html.contains("Attention : cette demande vient"), "no warning for the same address");
    });
}

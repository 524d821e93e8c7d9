//! The reference portal's own promises (issue 11), tested against the real `trousseau-sandbox` with scripted and
//! hostile assistants on its channel: the refresh grace period, relayed answers bound to their request and to the
//! agent's selection (phishing and forged-registration cases), and the hardened pages (Host allowlist, CSRF on
//! every form, same-origin redirects, Secure cookies, purge of expired rows). Each abuse case must be refused and
//! change nothing; the count is printed as "abuse cases tried and refused".

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use trousseau::portal::{self, Session, Tokens};

use crate::support::pki::Pki;
use crate::support::sandbox::{login_form, Agent, Sandbox};

const AGENT: &str = "agent.test";

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime")
}

async fn pair_as(sb: &Sandbox, agent: &str, device_name: &str) -> Tokens {
    let auth = portal::start_pairing(&sb.url, device_name).await.expect("device authorization");
    sb.approve(&auth.user_code, agent);
    portal::complete_pairing(&auth).await.expect("tokens")
}

async fn device_id(sb: &Sandbox, access_token: &str) -> i64 {
    let v: Value = reqwest::Client::new()
        .get(format!("{}/api/v1/me", sb.url))
        .bearer_auth(access_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["device_id"].as_i64().expect("device_id")
}

async fn refresh_raw(sb: &Sandbox, refresh: &str) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(format!("{}/oauth/token", sb.url))
        .form(&[("client_id", "trousseau"), ("grant_type", "refresh_token"), ("refresh_token", refresh)])
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

fn revoked(sb: &Sandbox, device: i64) -> bool {
    sb.sql().query_row("SELECT revoked_at IS NOT NULL FROM devices WHERE id = ?1", [device], |r| r.get(0)).unwrap()
}

#[test]
fn refresh_grace_answers_the_same_pair_once_then_any_reuse_revokes_the_pairing() {
    let sb = Sandbox::start_with(&["--refresh-grace", "2"]);
    let rt = rt();
    rt.block_on(async {
        // a lost answer: the previous token comes back once within the grace period and gets the SAME pair
        let t0 = pair_as(&sb, AGENT, "poste-1").await;
        let dev = device_id(&sb, &t0.access_token).await;
        let (st, first) = refresh_raw(&sb, &t0.refresh_token).await;
        assert_eq!(st, 200, "{first}");
        let (st, again) = refresh_raw(&sb, &t0.refresh_token).await;
        assert_eq!(st, 200, "the immediately previous token within the grace period: {again}");
        assert_eq!(again["access_token"], first["access_token"], "same access token");
        assert_eq!(again["refresh_token"], first["refresh_token"], "same refresh token");
        assert!(!revoked(&sb, dev));
        assert_eq!(device_id(&sb, first["access_token"].as_str().unwrap()).await, dev, "the pair works");
        // the database holds no token in clear, not even the sealed successor
        let dump: String = sb
            .sql()
            .query_row(
                "SELECT group_concat(hash || coalesce(successor_hash, '') || coalesce(successor_sealed, ''), '|') FROM tokens",
                [],
                |r| r.get(0),
            )
            .unwrap();
        for secret in [&t0.access_token, &t0.refresh_token] {
            assert!(!dump.contains(secret.as_str()));
        }
        for secret in [&first["access_token"], &first["refresh_token"]] {
            assert!(!dump.contains(secret.as_str().unwrap()), "token in clear in the database");
        }
        // a second replay: theft, the whole pairing is revoked
        let (st, body) = refresh_raw(&sb, &t0.refresh_token).await;
        assert_eq!((st, body["error"].as_str()), (400, Some("invalid_grant")), "{body}");
        assert!(revoked(&sb, dev), "second replay revokes");
        let (st, _) = refresh_raw(&sb, first["refresh_token"].as_str().unwrap()).await;
        assert_eq!(st, 400, "the successor dies with the pairing");

        // an older token (its successor already rotated): revoked even within the grace period
        let t0 = pair_as(&sb, AGENT, "poste-2").await;
        let dev = device_id(&sb, &t0.access_token).await;
        let (_, p1) = refresh_raw(&sb, &t0.refresh_token).await;
        let (st, _) = refresh_raw(&sb, p1["refresh_token"].as_str().unwrap()).await;
        assert_eq!(st, 200);
        let (st, _) = refresh_raw(&sb, &t0.refresh_token).await;
        assert_eq!(st, 400);
        assert!(revoked(&sb, dev), "an older token revokes");

        // after the grace period: revoked
        let t0 = pair_as(&sb, AGENT, "poste-3").await;
        let dev = device_id(&sb, &t0.access_token).await;
        let (st, _) = refresh_raw(&sb, &t0.refresh_token).await;
        assert_eq!(st, 200);
        tokio::time::sleep(Duration::from_millis(3200)).await;
        let (st, _) = refresh_raw(&sb, &t0.refresh_token).await;
        assert_eq!(st, 400);
        assert!(revoked(&sb, dev), "a replay after the grace period revokes");
        // sealed successors do not outlive the grace period (purged on pairing, and every minute)
        let _ = pair_as(&sb, AGENT, "poste-4").await;
        let sealed: i64 = sb
            .sql()
            .query_row("SELECT COUNT(*) FROM tokens WHERE successor_sealed IS NOT NULL", [], |r| r.get(0))
            .unwrap();
        assert_eq!(sealed, 0, "sealed successor pairs kept past the grace period");

        // the real client: its refresh answer is lost on the way back; it retries with the same token and keeps
        // the pairing
        let t0 = pair_as(&sb, AGENT, "poste-5").await;
        let dev = device_id(&sb, &t0.access_token).await;
        let p = lossy_proxy(sb.port).await;
        let s = Session::in_memory(&format!("http://127.0.0.1:{p}"), "PMP", t0.clone()).unwrap();
        // the client sends the same refresh token again by itself (src/portal/client.rs, refresh_request)
        s.refresh().await.expect("the retry with the previous token gets the same pair");
        assert!(s.list_bicles().await.is_ok());
        assert!(!revoked(&sb, dev), "a lost refresh answer does not cost the pairing");
    });
}

/// A proxy whose first connection forwards the request but drops the answer; later connections pass.
async fn lossy_proxy(target: u16) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut n = 0;
        while let Ok((mut client, _)) = listener.accept().await {
            n += 1;
            let first = n == 1;
            tokio::spawn(async move {
                let Ok(mut up) = tokio::net::TcpStream::connect(("127.0.0.1", target)).await else { return };
                if first {
                    let (mut cr, _cw) = client.split();
                    let (_ur, mut uw) = up.split();
                    let _ = tokio::time::timeout(Duration::from_millis(700), tokio::io::copy(&mut cr, &mut uw)).await;
                } else {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut up).await;
                }
            });
        }
    });
    port
}

// ---------------------------------------------------------------------------------------------------------------
// Scripted assistants: real channels to the portal whose answers the test decides (honest, lying, or silent).

type Policy = Arc<dyn Fn(&str, &Value) -> Option<Value> + Send + Sync>;

struct Scripted {
    /// Requests the assistant received (`{"id","op","params"}`).
    requests: mpsc::UnboundedReceiver<Value>,
    /// Raw text messages to send on the channel.
    out: mpsc::UnboundedSender<String>,
    closed: tokio::sync::watch::Receiver<bool>,
}

impl Scripted {
    async fn connect(sb: &Sandbox, token: &str, policy: Policy) -> Scripted {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut req = format!("ws://127.0.0.1:{}/api/v1/channel", sb.port).into_client_request().unwrap();
        req.headers_mut().insert("authorization", format!("Bearer {token}").parse().unwrap());
        let (mut ws, _) = tokio_tungstenite::connect_async(req).await.expect("channel");
        let _hello = ws.next().await;
        let (rtx, requests) = mpsc::unbounded_channel();
        let (out, mut orx) = mpsc::unbounded_channel::<String>();
        let (ctx, closed) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    m = ws.next() => match m {
                        Some(Ok(Message::Text(t))) => {
                            let v: Value = serde_json::from_str(t.as_str()).unwrap_or(Value::Null);
                            if v["type"] == "request" {
                                let _ = rtx.send(v.clone());
                                if let Some(mut reply) = policy(v["op"].as_str().unwrap_or(""), &v["params"]) {
                                    reply["type"] = json!("reply");
                                    reply["id"] = v["id"].clone();
                                    if ws.send(Message::text(reply.to_string())).await.is_err() { break; }
                                }
                            }
                        }
                        Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                        Some(Ok(_)) => {}
                    },
                    o = orx.recv() => match o {
                        Some(text) => { if ws.send(Message::text(text)).await.is_err() { break; } }
                        None => break,
                    },
                }
            }
            let _ = ctx.send(true);
        });
        Scripted { requests, out, closed }
    }

    async fn wait_closed(&mut self, timeout: Duration) -> bool {
        tokio::time::timeout(timeout, self.closed.wait_for(|c| *c)).await.is_ok()
    }
}

/// One certificate of the fixtures PKI, as an assistant lists it and answers it.
#[derive(Clone)]
struct Cert {
    sha: String,
    pem: String,
    cn: String,
}

impl Cert {
    fn new(pki: &Pki, name: &str, cn: &str) -> Cert {
        pki.leaf(name, cn, "rsa", "keyEncipherment");
        Cert {
            sha: pki.sha256(name),
            pem: std::fs::read_to_string(pki.path(&format!("{name}.pem"))).unwrap(),
            cn: cn.into(),
        }
    }
    fn listed(&self) -> Value {
        json!({"sha256": self.sha, "subject": format!("CN={}", self.cn), "subject_cn": self.cn, "issuer": "CN=LuxTrust Test CA",
               "issuer_cn": "LuxTrust Test CA", "serial": "01", "not_after": "2030-01-01T00:00:00Z", "source": "store"})
    }
    fn answer(&self) -> Value {
        json!({"ok": true, "result": {"sha256": self.sha, "certificate": self.pem}})
    }
}

/// An honest assistant holding `certs`; get_certificate for `hold` is left unanswered (the test answers it).
fn honest(certs: Vec<Cert>, hold: Option<String>) -> Policy {
    Arc::new(move |op, params| match op {
        "list_certificates" => {
            Some(json!({"ok": true, "result": {"certificates": certs.iter().map(Cert::listed).collect::<Vec<_>>()}}))
        }
        "get_certificate" => {
            let sha = params["sha256"].as_str().unwrap_or("");
            if hold.as_deref() == Some(sha) {
                return None;
            }
            Some(certs.iter().find(|c| c.sha == sha).map(Cert::answer).unwrap_or_else(
                || json!({"ok": false, "error": {"code": "portal.certificate_not_found", "message": "absent"}}),
            ))
        }
        _ => Some(json!({"ok": false, "error": {"code": "portal.declined", "message": "refusé"}})),
    })
}

/// A phished assistant: lists the victim's certificate, but answers with its own for anything but `honest_for`;
/// generates "new" bi-clés that are its own.
fn phished(lure: Cert, own: Cert, honest_for: Option<Cert>) -> Policy {
    Arc::new(move |op, params| match op {
        "list_certificates" => Some(json!({"ok": true, "result": {"certificates": [lure.listed()]}})),
        "get_certificate" => match &honest_for {
            Some(c) if params["sha256"] == c.sha.as_str() => Some(c.answer()),
            _ => Some(own.answer()),
        },
        "generate_bicle" => Some(own.answer()),
        _ => None,
    })
}

async fn etat(agent: &Agent) -> Value {
    agent
        .http
        .get(format!("{}/agent/api/etat", agent.base))
        .header("cookie", &agent.cookie)
        .header("x-csrf-token", &agent.csrf)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn wait_etat(agent: &Agent, what: &str, f: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..100 {
        let e = etat(agent).await;
        if f(&e) {
            return e;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("page state never became: {what}: {}", etat(agent).await);
}

fn status_of(sb: &Sandbox, id: i64) -> String {
    sb.sql().query_row("SELECT status FROM bicles WHERE id = ?1", [id], |r| r.get(0)).unwrap()
}

#[test]
fn relay_binding_abuse_matrix_phishing_and_forged_registration() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::test_root(dir.path(), "LuxTrust Test CA");
    let mine = Cert::new(&pki, "mine", "Jean Dupont");
    let second = Cert::new(&pki, "second", "Jean Dupont Carte");
    let evil = Cert::new(&pki, "evil", "Jean Dupont");
    let sb = Sandbox::start();
    let rt = rt();
    let mut cases = 0;
    rt.block_on(async {
        let ta = pair_as(&sb, AGENT, "poste-agent").await;
        let tb = pair_as(&sb, AGENT, "poste-pirate").await;
        let other = pair_as(&sb, "agent.autre", "poste-autre").await;
        let (id_a, id_b, id_other) = (
            device_id(&sb, &ta.access_token).await,
            device_id(&sb, &tb.access_token).await,
            device_id(&sb, &other.access_token).await,
        );
        let agent = Agent::login(&sb.url, AGENT).await;
        let e = etat(&agent).await;
        assert_eq!(e["label"], "Déconnecté");
        assert_eq!(e["assistants"].as_array().unwrap().len(), 2, "both paired assistants shown: {e}");

        // --- the honest path: the only assistant online answers; chosen from its own list → active, device named
        let mut a = Scripted::connect(&sb, &ta.access_token, honest(vec![mine.clone(), second.clone()], Some("cd".repeat(32))))
            .await;
        let e = wait_etat(&agent, "Connecté", |e| e["label"] == "Connecté").await;
        assert_eq!(e["answering"], id_a);
        let (st, list) = agent.relay("list_certificates", json!({})).await;
        assert_eq!((st, list["assistant"]["id"].as_i64()), (200, Some(id_a)), "{list}");
        let (st, got) = agent.relay("get_certificate", json!({"sha256": mine.sha})).await;
        assert_eq!(st, 200, "{got}");
        let relay = got["id"].as_str().unwrap().to_string();
        let (st, added) = agent
            .post("/agent/api/bicles", json!({"designation": "Jean Dupont 2025", "relay": relay, "kinds": ["personal"]}))
            .await;
        assert_eq!(st, 201, "{added}");
        let row = &added["bicles"][0];
        assert_eq!(row["status"], "actif", "chosen on the page from the same assistant's list");
        assert_eq!(row["device_id"], id_a);
        assert_eq!(row["device_name"], "poste-agent", "the row names the device that answered");
        let active_id = row["id"].as_i64().unwrap();

        // --- forged registrations from the page
        let post = |body: Value| agent.post("/agent/api/bicles", body);
        let refused: Vec<(&str, Value, u16, &str)> = vec![
            ("replayed relay id", json!({"designation": "X 2025", "relay": relay, "kinds": ["backup"]}), 409, "relay.used"),
            (
                "PEM posted by the page",
                json!({"designation": "X 2025", "certificate": evil.pem, "kinds": ["backup"]}),
                422,
                "bicle.certificate_from_page",
            ),
            (
                "PEM posted beside a valid-looking relay id",
                json!({"designation": "X 2025", "relay": relay, "certificate": evil.pem, "kinds": ["backup"]}),
                422,
                "bicle.certificate_from_page",
            ),
            ("no relay id", json!({"designation": "X 2025", "kinds": ["backup"]}), 400, "relay.missing"),
            ("forged relay id", json!({"designation": "X 2025", "relay": "0".repeat(32), "kinds": ["backup"]}), 404, "relay.unknown"),
            (
                "relay id of a listing",
                json!({"designation": "X 2025", "relay": list["id"], "kinds": ["backup"]}),
                422,
                "relay.no_certificate",
            ),
        ];
        for (what, body, want, code) in refused {
            let (st, r) = post(body).await;
            assert_eq!((st, r["code"].as_str()), (want, Some(code)), "{what}: {r}");
            cases += 1;
        }
        // a relay id of another agent
        let other_agent = Agent::login(&sb.url, "agent.autre").await;
        let (st, r) = other_agent
            .post("/agent/api/bicles", json!({"designation": "X 2025", "relay": got["id"], "kinds": ["backup"]}))
            .await;
        assert_eq!((st, r["code"].as_str()), (404, Some("relay.unknown")), "another agent's relay id: {r}");
        cases += 1;
        // a failed answer's relay id
        let (st, missing) = agent.relay("get_certificate", json!({"sha256": "ab".repeat(32)})).await;
        assert_eq!((st, missing["ok"].as_bool()), (200, Some(false)), "{missing}");
        let (st, r) = post(json!({"designation": "X 2025", "relay": missing["id"], "kinds": ["backup"]})).await;
        assert_eq!((st, r["code"].as_str()), (422, Some("relay.no_certificate")), "failed answer: {r}");
        cases += 1;
        // choosing an assistant of another agent
        let (st, r) = agent.post("/agent/api/assistant", json!({"id": id_other})).await;
        assert_eq!((st, r["code"].as_str()), (404, Some("assistant.unknown")), "{r}");
        cases += 1;

        // --- a second assistant online: the page shows both, and asks which one answers
        let mut b = Scripted::connect(&sb, &tb.access_token, phished(mine.clone(), evil.clone(), Some(second.clone()))).await;
        let e = wait_etat(&agent, "two online", |e| e["choice_needed"] == true).await;
        assert_ne!(e["label"], "Connecté", "Connecté must name one answering assistant: {e}");
        let shown = e["assistants"].as_array().unwrap();
        assert!(shown.iter().all(|a| a["connected"] == true && a["addr"] == "127.0.0.1" && a["last_seen"].is_i64()), "{e}");
        let (st, r) = agent.relay("list_certificates", json!({})).await;
        assert_eq!((st, r["code"].as_str()), (409, Some("assistant.choose")), "relayed to whichever assistant: {r}");
        cases += 1;
        let (st, e) = agent.post("/agent/api/assistant", json!({"id": id_a})).await;
        assert_eq!((st, e["answering"].as_i64(), e["label"].as_str()), (200, Some(id_a), Some("Connecté")), "{e}");
        // a page still showing B as the answering assistant
        let (st, r) = agent.post("/agent/api/relais", json!({"op": "list_certificates", "params": {}, "assistant": id_b})).await;
        assert_eq!((st, r["code"].as_str()), (409, Some("assistant.changed")), "{r}");
        cases += 1;

        // --- assistant B answers a request meant for A: refused, B's channel closed, A's answer is the one kept
        let held = "cd".repeat(32);
        let pending = {
            let agent = Agent { base: agent.base.clone(), cookie: agent.cookie.clone(), csrf: agent.csrf.clone(), http: agent.http.clone() };
            let held = held.clone();
            tokio::spawn(async move { agent.relay("get_certificate", json!({"sha256": held})).await })
        };
        let mut req = a.requests.recv().await.unwrap();
        while req["op"] != "get_certificate" || req["params"]["sha256"] != held.as_str() {
            req = a.requests.recv().await.unwrap();
        }
        let forged = json!({"type": "reply", "id": req["id"], "ok": true, "result": {"sha256": held, "certificate": evil.pem}});
        b.out.send(forged.to_string()).unwrap();
        assert!(b.wait_closed(Duration::from_secs(5)).await, "B's forged reply was accepted");
        cases += 1;
        a.out
            .send(json!({"type": "reply", "id": req["id"], "ok": false, "error": {"code": "portal.certificate_not_found", "message": "absent"}}).to_string())
            .unwrap();
        let (st, r) = pending.await.unwrap();
        assert_eq!((st, r["ok"].as_bool(), r["assistant"]["id"].as_i64()), (200, Some(false), Some(id_a)), "{r}");

        // --- the agent is lured into choosing the phished assistant B
        let _b = Scripted::connect(&sb, &tb.access_token, phished(mine.clone(), evil.clone(), Some(second.clone()))).await;
        wait_etat(&agent, "B online", |e| e["assistants"].as_array().unwrap().iter().all(|a| a["connected"] == true)).await;
        let (st, e) = agent.post("/agent/api/assistant", json!({"id": id_b})).await;
        assert_eq!((st, e["answering"].as_i64()), (200, Some(id_b)));
        // B lists the victim's certificate; the agent selects it; B answers with its own: refused
        let (_, blist) = agent.relay("list_certificates", json!({})).await;
        assert_eq!(blist["result"]["certificates"][0]["sha256"], mine.sha.as_str());
        let (st, r) = agent.relay("get_certificate", json!({"sha256": mine.sha})).await;
        assert_eq!((st, r["code"].as_str()), (422, Some("relay.certificate_mismatch")), "{r}");
        cases += 1;
        let mismatch_relays: i64 = sb
            .sql()
            .query_row("SELECT COUNT(*) FROM relays WHERE op = 'get_certificate' AND device_id = ?1 AND ok = 0 AND certificate IS NULL", [id_b], |r| r.get(0))
            .unwrap();
        assert_eq!(mismatch_relays, 1, "the refused answer is kept as refused, without its certificate");
        // a "new" bi-clé generated by B is B's own key: never active without the agent's confirmation
        let (st, g) = agent.relay("generate_bicle", json!({"designation": "Jean Dupont 2026"})).await;
        assert_eq!(st, 200, "{g}");
        let (st, added) = post(json!({"designation": "Jean Dupont 2026", "relay": g["id"], "kinds": ["backup"]})).await;
        assert_eq!(st, 201, "{added}");
        assert_eq!(added["bicles"][0]["status"], "a_confirmer", "a generated key supplied by an assistant waits");
        assert_eq!(added["bicles"][0]["device_name"], "poste-pirate");
        let pending_id = added["bicles"][0]["id"].as_i64().unwrap();
        cases += 1;
        // a certificate listed by A but fetched from B (B answers it honestly): not from B's own list → waits
        let (st, r) = agent.relay("get_certificate", json!({"sha256": second.sha})).await;
        assert_eq!(st, 200, "{r}");
        let (st, added) = post(json!({"designation": "Jean Carte 2025", "relay": r["id"], "kinds": ["personal"]})).await;
        assert_eq!(st, 201, "{added}");
        assert_eq!(added["bicles"][0]["status"], "a_confirmer", "chosen from another assistant's list");
        cases += 1;

        // --- confirmation: the row shows issuer, SHA-256 prefix and device; add and removal are distinct actions
        let html = agent.page("/cles").await;
        let prefix = evil.sha[..4].to_uppercase();
        assert!(html.contains("LuxTrust Test CA") && html.contains(&prefix) && html.contains("poste-pirate"), "{html}");
        assert!(html.contains("data-action=\"confirmer-ajout\"") && !html.contains("onclick"), "{html}");
        let (st, r) = agent.post(&format!("/agent/api/bicles/{pending_id}/confirmer-suppression"), Value::Null).await;
        assert_eq!((st, r["code"].as_str()), (409, Some("bicle.nothing_to_confirm")), "removal action on an addition: {r}");
        cases += 1;
        let r = reqwest::Client::new()
            .delete(format!("{}/api/v1/bicles/{active_id}", sb.url))
            .bearer_auth(&ta.access_token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        assert_eq!(status_of(&sb, active_id), "suppression_a_confirmer");
        let (st, r) = agent.post(&format!("/agent/api/bicles/{active_id}/confirmer-ajout"), Value::Null).await;
        assert_eq!((st, r["code"].as_str()), (409, Some("bicle.nothing_to_confirm")), "add action on a removal: {r}");
        assert_eq!(status_of(&sb, active_id), "suppression_a_confirmer");
        cases += 1;
        let (st, _) = agent.post(&format!("/agent/api/bicles/{pending_id}/confirmer-ajout"), Value::Null).await;
        assert_eq!(st, 200);
        assert_eq!(status_of(&sb, pending_id), "actif", "the agent's explicit confirmation activates it");

        // --- "Connecté" follows the answering assistant, not merely any: A chosen, only B online
        let (st, _) = agent.post("/agent/api/assistant", json!({"id": id_a})).await;
        assert_eq!(st, 200);
        drop(a);
        let e = wait_etat(&agent, "A offline", |e| {
            e["assistants"].as_array().unwrap().iter().any(|x| x["id"] == id_a && x["connected"] == false)
        })
        .await;
        assert_eq!(e["label"], "Déconnecté", "only a non-answering assistant is online: {e}");
        let (st, r) = agent.relay("list_certificates", json!({})).await;
        assert_eq!((st, r["code"].as_str()), (409, Some("assistant.disconnected")), "not relayed to B: {r}");
        cases += 1;

        // nothing B supplied became active by itself, and the evil certificate never matched a selection
        let from_b_active: i64 = sb
            .sql()
            .query_row("SELECT COUNT(*) FROM bicles WHERE device_id = ?1 AND status = 'actif' AND id != ?2", [id_b, pending_id], |r| r.get(0))
            .unwrap();
        assert_eq!(from_b_active, 0);
        let notes: String = sb.sql().query_row("SELECT group_concat(text, ' | ') FROM notifications", [], |r| r.get(0)).unwrap();
        assert!(notes.contains("certificat différent"), "the agent is told about the mismatch: {notes}");
    });
    eprintln!("abuse cases tried and refused: {cases} (relay binding: phishing and forged registration)");
    assert!(cases >= 17, "{cases}");
}

#[test]
fn pages_refuse_foreign_hosts_forged_forms_open_redirects_and_keep_nothing_expired() {
    let sb = Sandbox::start_with(&["--allowed-host", "portail.test:443"]);
    let rt = rt();
    let mut cases = 0;
    rt.block_on(async {
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        // --- DNS rebinding: a foreign Host gets 421 on every route; the listen address, loopback names and the
        // configured host are served
        for path in ["/login", "/cles", "/oauth/token", "/api/v1/channel", "/agent/api/etat", "/healthz", "/static/portail.js"] {
            for host in ["evil.example", &format!("evil.example:{}", sb.port), "127.0.0.1.evil.example", "portail.test"] {
                let r = http.get(format!("{}{path}", sb.url)).header("host", host).send().await.unwrap();
                assert_eq!(r.status().as_u16(), 421, "{path} with Host {host}");
                cases += 1;
            }
        }
        for host in [format!("127.0.0.1:{}", sb.port), format!("localhost:{}", sb.port), format!("[::1]:{}", sb.port), "portail.test:443".into()] {
            let r = http.get(format!("{}/login", sb.url)).header("host", &host).send().await.unwrap();
            assert_eq!(r.status().as_u16(), 200, "Host {host}");
        }

        // --- every page carries a CSP without 'unsafe-inline', and no inline script or handler
        let agent = Agent::login(&sb.url, AGENT).await;
        for path in ["/login", "/cles", "/cles/ajouter", "/appairage", "/appairage?code=BCDF-GHJK"] {
            let r = http.get(format!("{}{path}", sb.url)).header("cookie", &agent.cookie).send().await.unwrap();
            let csp = r.headers().get("content-security-policy").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
            assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"), "{path}: {csp}");
            let html = r.text().await.unwrap();
            assert!(!html.contains("<script>") && !html.contains("onclick") && !html.contains("<style>"), "{path}");
        }
        let js = http.get(format!("{}/static/portail.js", sb.url)).send().await.unwrap().text().await.unwrap();
        assert!(!js.contains(".innerHTML"), "the page script uses innerHTML");

        // --- login CSRF: no token, a token without its cookie, a token of another form
        let (csrf, cookie) = login_form(&http, &sb.url).await;
        let (csrf2, _) = login_form(&http, &sb.url).await;
        for (what, form_csrf, with_cookie) in
            [("no token", "", true), ("no cookie", csrf.as_str(), false), ("another form's token", csrf2.as_str(), true)]
        {
            let mut r = http.post(format!("{}/login", sb.url)).form(&[("login", "agent.force"), ("csrf", form_csrf)]);
            if with_cookie {
                r = r.header("cookie", &cookie);
            }
            let r = r.send().await.unwrap();
            assert_eq!(r.status().as_u16(), 403, "login without CSRF ({what})");
            assert!(r.headers().get("set-cookie").is_none_or(|c| !c.to_str().unwrap().contains("sbx_session=")));
            cases += 1;
        }
        // logout and pairing decisions without the session's token
        for (path, form) in [("/logout", vec![("csrf", "forged")]), ("/appairage", vec![("csrf", "forged"), ("code", "BCDF-GHJK"), ("decision", "approuver")])] {
            let r = http.post(format!("{}{path}", sb.url)).header("cookie", &agent.cookie).form(&form).send().await.unwrap();
            assert_eq!(r.status().as_u16(), 403, "{path} without CSRF");
            cases += 1;
        }
        assert_eq!(agent.state().await, "Déconnecté", "the session survived the forged logout");

        // --- open redirects: `next` only to same-origin paths
        for next in ["/\t/evil.example", "/\n/evil.example", "//evil", "/\\evil", "\\\\evil", "https://evil", "http:evil", " /x"] {
            let (csrf, cookie) = login_form(&http, &sb.url).await;
            let r = http
                .post(format!("{}/login", sb.url))
                .header("cookie", &cookie)
                .form(&[("login", "agent.redir"), ("csrf", csrf.as_str()), ("next", next)])
                .send()
                .await
                .unwrap();
            assert_eq!(r.headers()["location"], "/cles", "next={next:?}");
            cases += 1;
            let html = http.get(format!("{}/login", sb.url)).query(&[("next", next)]).send().await.unwrap().text().await.unwrap();
            assert!(html.contains("name=\"next\" value=\"/cles\""), "login page kept next={next:?}");
        }
        let (csrf, cookie) = login_form(&http, &sb.url).await;
        let r = http
            .post(format!("{}/login", sb.url))
            .header("cookie", &cookie)
            .form(&[("login", "agent.redir"), ("csrf", csrf.as_str()), ("next", "/appairage?code=BCDF-GHJK")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.headers()["location"], "/appairage?code=BCDF-GHJK", "a same-origin path is kept");
        // cookies over plain http: not Secure (the browser would drop them)
        assert!(r.headers().get_all("set-cookie").iter().all(|c| !c.to_str().unwrap().contains("Secure")));

        // --- expired sessions, device codes and relays are purged
        let db = sb.sql();
        db.execute("INSERT INTO sessions(token_hash, agent_id, csrf, created_at, expires_at) VALUES ('old', 1, 'x', 0, 1)", []).unwrap();
        db.execute(
            "INSERT INTO device_codes(device_code_hash, user_code, client_name, client_os, client_addr, created_at, expires_at)
             VALUES ('old', 'ZZZZ-ZZZZ', 'n', 'o', '127.0.0.1', 0, 1)",
            [],
        )
        .unwrap();
        let _ = Agent::login(&sb.url, "agent.purge").await;
        let left: i64 = db
            .query_row("SELECT (SELECT COUNT(*) FROM sessions WHERE expires_at <= CAST(strftime('%s','now') AS INTEGER)) + (SELECT COUNT(*) FROM device_codes WHERE expires_at <= CAST(strftime('%s','now') AS INTEGER))", [], |r| r.get(0))
            .unwrap();
        assert_eq!(left, 0, "expired sessions and device codes purged");
    });
    // cookies are Secure when the portal is served over https (behind a TLS proxy)
    let sb = Sandbox::start_with(&["--public-url", "https://portail.test"]);
    rt.block_on(async {
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let r = http.get(format!("{}/login", sb.url)).header("host", "portail.test").send().await.unwrap();
        assert!(r.headers()["set-cookie"].to_str().unwrap().contains("; Secure"));
        let (csrf, cookie) = login_form(&http, &sb.url).await;
        let r = http
            .post(format!("{}/login", sb.url))
            .header("cookie", &cookie)
            .form(&[("login", "agent.tls"), ("csrf", csrf.as_str())])
            .send()
            .await
            .unwrap();
        let set: Vec<String> =
            r.headers().get_all("set-cookie").iter().map(|c| c.to_str().unwrap().to_string()).collect();
        assert!(set.iter().any(|c| c.starts_with("sbx_session=") && c.contains("; Secure")), "{set:?}");
        // the agent API accepts the public origin only
        let session =
            set.iter().find(|c| c.starts_with("sbx_session=")).unwrap().split(';').next().unwrap().to_string();
        let html =
            http.get(format!("{}/cles", sb.url)).header("cookie", &session).send().await.unwrap().text().await.unwrap();
        let token =
            html.split("name=\"csrf-token\" content=\"").nth(1).and_then(|s| s.split('"').next()).unwrap().to_string();
        for (origin, want) in
            [(format!("http://127.0.0.1:{}", sb.port), 403), ("https://portail.test".to_string(), 200)]
        {
            let r = http
                .get(format!("{}/agent/api/etat", sb.url))
                .header("cookie", &session)
                .header("x-csrf-token", &token)
                .header("origin", &origin)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), want, "Origin {origin}");
        }
        cases += 1;
    });
    eprintln!("abuse cases tried and refused: {cases} (pages: Host, CSRF, redirects, origin)");
}

//! Shared server state: the database, the live assistant channels (what "Connecté" is computed from), the relayed
//! requests waiting for their reply, and the RFC 9457 problem type every route answers errors with.

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

use crate::db;

pub struct Config {
    pub portal_name: String,
    pub access_ttl: i64,
    pub refresh_ttl: i64,
    /// Seconds during which the immediately previous refresh token is answered once more with the same pair.
    pub refresh_grace: i64,
    /// Host header values accepted besides loopback names (the public host behind a proxy, ...).
    pub allowed_hosts: Vec<String>,
    /// The address the listener is bound to (its `ip:port` is always an accepted Host).
    pub listen: std::net::SocketAddr,
    /// The origin pages are served from (`http://127.0.0.1:8750`, or `https://pmp.example.lu` behind a TLS proxy):
    /// cookies are `Secure` when it is https, and the agent API accepts this Origin only.
    pub public_origin: Option<String>,
    pub code_ttl: i64,
    pub poll_interval: i64,
    pub heartbeat_timeout: Duration,
    pub heartbeat_interval: u64,
    /// How long a relayed "generate" waits for the user's confirmation in the assistant.
    pub relay_timeout: Duration,
}

/// One live assistant channel.
pub struct Channel {
    pub conn_id: u64,
    pub device_id: i64,
    pub tx: mpsc::Sender<String>,
}

struct Pending {
    device_id: i64,
    reply: oneshot::Sender<Value>,
}

pub struct Inner {
    db: Mutex<Connection>,
    pub cfg: Config,
    channels: Mutex<HashMap<i64, Vec<Channel>>>,
    pending: Mutex<HashMap<String, Pending>>,
    next_conn: AtomicU64,
    /// Channel messages refused (malformed, oversized, forged replies); for the abuse tests and the health page.
    pub rejected: AtomicU64,
    /// Wrong user codes typed per agent (unix times), to stop brute force of pairing codes (RFC 8628 §5.1).
    wrong_codes: Mutex<HashMap<i64, Vec<i64>>>,
}

/// Wrong user codes an agent may type within ten minutes before the pairing page stops checking codes.
pub const MAX_WRONG_CODES: usize = 10;

pub type AppState = Arc<Inner>;

pub fn new_state(conn: Connection, cfg: Config) -> AppState {
    Arc::new(Inner {
        db: Mutex::new(conn),
        cfg,
        channels: Mutex::new(HashMap::new()),
        pending: Mutex::new(HashMap::new()),
        next_conn: AtomicU64::new(1),
        rejected: AtomicU64::new(0),
        wrong_codes: Mutex::new(HashMap::new()),
    })
}

impl Inner {
    pub fn db(&self) -> MutexGuard<'_, Connection> {
        self.db.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Deletes everything expired ([`db::purge_expired`]); errors are logged, never fatal.
    pub fn purge(&self) {
        if let Err(e) = db::purge_expired(&self.db(), self.cfg.refresh_grace) {
            tracing::warn!("purge of expired rows failed: {e}");
        }
    }

    /// True when the agent typed too many wrong codes in the last ten minutes.
    pub fn code_attempts_exhausted(&self, agent_id: i64) -> bool {
        let mut m = self.wrong_codes.lock().unwrap_or_else(|p| p.into_inner());
        let v = m.entry(agent_id).or_default();
        let now = db::now();
        v.retain(|t| now - t < 600);
        v.len() >= MAX_WRONG_CODES
    }

    pub fn record_wrong_code(&self, agent_id: i64) {
        self.wrong_codes.lock().unwrap_or_else(|p| p.into_inner()).entry(agent_id).or_default().push(db::now());
    }

    fn channels(&self) -> MutexGuard<'_, HashMap<i64, Vec<Channel>>> {
        self.channels.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn pending(&self) -> MutexGuard<'_, HashMap<String, Pending>> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn register_channel(&self, agent_id: i64, device_id: i64, tx: mpsc::Sender<String>) -> u64 {
        let conn_id = self.next_conn.fetch_add(1, Ordering::Relaxed);
        self.channels().entry(agent_id).or_default().push(Channel { conn_id, device_id, tx });
        conn_id
    }

    pub fn unregister_channel(&self, agent_id: i64, conn_id: u64) {
        let mut map = self.channels();
        if let Some(v) = map.get_mut(&agent_id) {
            v.retain(|c| c.conn_id != conn_id);
            if v.is_empty() {
                map.remove(&agent_id);
            }
        }
    }

    /// Drops the channels of a revoked device, or of all the agent's devices with `None` (their tasks see the
    /// sender gone and close the socket). The agent's other assistants stay connected.
    pub fn drop_device_channels(&self, agent_id: i64, device_id: Option<i64>) {
        let mut map = self.channels();
        if let Some(v) = map.get_mut(&agent_id) {
            v.retain(|c| device_id.is_some_and(|d| c.device_id != d));
            if v.is_empty() {
                map.remove(&agent_id);
            }
        }
    }

    /// Ids of the agent's assistants with a live channel.
    pub fn live_devices(&self, agent_id: i64) -> Vec<i64> {
        let mut v: Vec<i64> =
            self.channels().get(&agent_id).map(|v| v.iter().map(|c| c.device_id).collect()).unwrap_or_default();
        v.sort_unstable();
        v.dedup();
        v
    }

    pub fn total_channels(&self) -> usize {
        self.channels().values().map(|v| v.len()).sum()
    }

    /// Sends request `id` to the assistant `device_id` of the agent (its most recent channel) and waits for its
    /// reply. Only that assistant can answer it ([`Inner::deliver`]).
    pub async fn relay(
        &self,
        agent_id: i64,
        device_id: i64,
        id: &str,
        op: &str,
        params: Value,
        timeout: Duration,
    ) -> Result<Value, Problem> {
        let tx = {
            let map = self.channels();
            let ch = map.get(&agent_id).and_then(|v| v.iter().rev().find(|c| c.device_id == device_id)).ok_or_else(
                || {
                    Problem::new(
                        StatusCode::CONFLICT,
                        "assistant.disconnected",
                        "L'assistant choisi est déconnecté : démarrez Trousseau sur ce poste, ou choisissez un autre assistant, puis réessayez.",
                    )
                },
            )?;
            ch.tx.clone()
        };
        let (rtx, rrx) = oneshot::channel();
        self.pending().insert(id.to_string(), Pending { device_id, reply: rtx });
        // the assistant executes nothing once the portal stopped waiting (a late "yes" creates no key)
        let timeout_ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
        let msg =
            json!({ "type": "request", "id": id, "op": op, "params": params, "timeout_ms": timeout_ms }).to_string();
        if tx.try_send(msg).is_err() {
            self.pending().remove(id);
            return Err(Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "assistant.busy",
                "Votre assistant ne répond pas : réessayez dans un instant.",
            ));
        }
        match tokio::time::timeout(timeout, rrx).await {
            Ok(Ok(v)) => Ok(v),
            _ => {
                self.pending().remove(id);
                Err(Problem::new(
                    StatusCode::GATEWAY_TIMEOUT,
                    "assistant.timeout",
                    "Votre assistant n'a pas répondu à temps : vérifiez qu'il est démarré, puis réessayez.",
                ))
            }
        }
    }

    /// Delivers a reply from `device_id`. A reply to an unknown request, or to one sent to another assistant, is
    /// refused (forged reply).
    pub fn deliver(&self, device_id: i64, id: &str, reply: Value) -> bool {
        let mut p = self.pending();
        match p.get(id) {
            Some(pending) if pending.device_id == device_id => {
                if let Some(pending) = p.remove(id) {
                    let _ = pending.reply.send(reply);
                }
                true
            }
            _ => false,
        }
    }
}

pub fn random_token(bytes: usize) -> String {
    use base64::Engine;
    let mut b = vec![0u8; bytes];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut b);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

pub fn random_hex(bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut b);
    hex::encode(b)
}

/// An error as RFC 9457 `application/problem+json`, with our stable `code` as an extension member.
#[derive(Debug)]
pub struct Problem {
    pub status: StatusCode,
    pub code: &'static str,
    pub detail: String,
}

impl Problem {
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Problem {
        Problem { status, code, detail: detail.into() }
    }
    pub fn unauthorized() -> Problem {
        Problem::new(
            StatusCode::UNAUTHORIZED,
            "auth.invalid_token",
            "Jeton absent, expiré ou révoqué : associez de nouveau l'assistant (trousseau portal pair).",
        )
    }
    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::BAD_REQUEST, code, detail)
    }
    pub fn internal(e: impl std::fmt::Display) -> Problem {
        tracing::error!("internal error: {e}");
        Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server.internal",
            "Erreur interne du portail : réessayez plus tard.",
        )
    }
}

impl From<rusqlite::Error> for Problem {
    fn from(e: rusqlite::Error) -> Self {
        Problem::internal(e)
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let body = json!({
            "type": format!("https://trousseau.invalid/problems/{}", self.code),
            "title": self.status.canonical_reason().unwrap_or("Error"),
            "status": self.status.as_u16(),
            "detail": self.detail,
            "code": self.code,
        });
        let mut r = (self.status, body.to_string()).into_response();
        r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        if self.status == StatusCode::UNAUTHORIZED {
            r.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer error=\"invalid_token\""));
        }
        r
    }
}

/// The assistant behind a valid access token.
#[derive(Debug, Clone)]
pub struct Device {
    pub device_id: i64,
    pub agent_id: i64,
    pub name: String,
    pub agent_login: String,
}

/// Strict bearer authentication: a known, unexpired access token of a device that is not revoked.
pub fn bearer(state: &Inner, headers: &HeaderMap) -> Result<Device, Problem> {
    let value = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).ok_or_else(Problem::unauthorized)?;
    let token = value.strip_prefix("Bearer ").ok_or_else(Problem::unauthorized)?.trim();
    if token.is_empty() || token.len() > 200 {
        return Err(Problem::unauthorized());
    }
    let conn = state.db();
    let row = conn
        .query_row(
            "SELECT d.id, d.agent_id, d.name, a.login FROM tokens t JOIN devices d ON d.id = t.device_id
             JOIN agents a ON a.id = d.agent_id
             WHERE t.hash = ?1 AND t.kind = 'access' AND t.expires_at > ?2 AND d.revoked_at IS NULL",
            params![db::hash(token), db::now()],
            |r| Ok(Device { device_id: r.get(0)?, agent_id: r.get(1)?, name: r.get(2)?, agent_login: r.get(3)? }),
        )
        .optional()?;
    row.ok_or_else(Problem::unauthorized)
}

pub fn device_revoked(state: &Inner, device_id: i64) -> bool {
    let conn = state.db();
    conn.query_row("SELECT revoked_at IS NOT NULL FROM devices WHERE id = ?1", [device_id], |r| r.get::<_, bool>(0))
        .unwrap_or(true)
}

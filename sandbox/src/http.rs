//! Routes: OAuth 2.0 device pairing (RFC 8628) and revocation (RFC 7009), the assistant API (bearer tokens: channel
//! and registry), and the agent's JSON API used by the pages (session cookie + CSRF token + same origin).

use axum::extract::rejection::{FormRejection, JsonRejection};
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use rusqlite::{params, Connection, OptionalExtension};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::sync::mpsc;

use crate::db;
use crate::pages::{self, Session};
use crate::state::{bearer, device_revoked, random_token, AppState, Device, Problem};

/// Largest request body and largest channel message accepted (bytes).
pub const MAX_BODY: usize = 64 * 1024;

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(health))
        .route("/oauth/device_authorization", post(device_authorization))
        .route("/oauth/token", post(token))
        .route("/oauth/revoke", post(revoke))
        .route("/api/v1/me", get(me))
        .route("/api/v1/channel", get(channel))
        .route("/api/v1/bicles", get(list_bicles_route::<Assistant>).post(assistant_add_bicles))
        .route("/api/v1/bicles/{id}", axum::routing::delete(delete_bicle_api))
        .route("/agent/api/etat", get(agent_state))
        .route("/agent/api/assistant", post(agent_choose_assistant))
        .route("/agent/api/bicles", get(list_bicles_route::<AgentPage>).post(agent_add_bicles))
        .route("/agent/api/bicles/{id}/confirmer-ajout", post(agent_confirm_add))
        .route("/agent/api/bicles/{id}/confirmer-suppression", post(agent_confirm_removal))
        .route("/agent/api/bicles/{id}/supprimer", post(agent_delete))
        .route("/agent/api/bicles/{id}/modifier", post(agent_rename))
        .route("/agent/api/relais", post(agent_relay))
        .route("/agent/api/revoquer", post(agent_revoke))
        .merge(pages::routes())
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(axum::middleware::from_fn_with_state(state.clone(), pages::host_guard))
        .layer(axum::middleware::from_fn(pages::security_headers))
        .with_state(state)
}

async fn health(State(st): State<AppState>) -> Json<Value> {
    Json(json!({
        "status": "ok",
        "portal": st.cfg.portal_name,
        "channels": st.total_channels(),
        "rejected_messages": st.rejected.load(std::sync::atomic::Ordering::Relaxed),
    }))
}

// ---------------------------------------------------------------------------------------------------------------
// OAuth 2.0 (errors in RFC 6749 §5.2 form, as OAuth clients expect)

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (status, Json(json!({ "error": error, "error_description": description }))).into_response()
}

const USER_CODE_ALPHABET: &[u8] = b"BCDFGHJKLMNPQRSTVWXZ";

fn user_code() -> String {
    use rand::Rng;
    let mut rng = rand::rngs::OsRng;
    let c: String = (0..8).map(|_| USER_CODE_ALPHABET[rng.gen_range(0..USER_CODE_ALPHABET.len())] as char).collect();
    format!("{}-{}", &c[..4], &c[4..])
}

fn clean_label(s: Option<&String>, max: usize) -> String {
    let s: String = s.map(|s| s.chars().filter(|c| !c.is_control()).take(max).collect()).unwrap_or_default();
    if s.trim().is_empty() {
        "(inconnu)".into()
    } else {
        s
    }
}

async fn device_authorization(
    State(st): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    form: Result<Form<HashMap<String, String>>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "form-encoded body expected");
    };
    if form.get("client_id").map(String::as_str) != Some("trousseau") {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "unknown client_id");
    }
    let name = clean_label(form.get("client_name"), 80);
    let os = clean_label(form.get("client_os"), 80);
    let device_code = random_token(32);
    let now = db::now();
    st.purge();
    let conn = st.db();
    let mut code = user_code();
    for _ in 0..5 {
        let taken: bool = conn
            .query_row("SELECT EXISTS(SELECT 1 FROM device_codes WHERE user_code = ?1)", [&code], |r| r.get(0))
            .unwrap_or(true);
        if !taken {
            break;
        }
        code = user_code();
    }
    if let Err(e) = conn.execute(
        "INSERT INTO device_codes(device_code_hash, user_code, client_name, client_os, client_addr, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![db::hash(&device_code), code, name, os, addr.ip().to_string(), now, now + st.cfg.code_ttl],
    ) {
        return Problem::internal(e).into_response();
    }
    let base = pages::page_origin(&st, &headers);
    Json(json!({
        "device_code": device_code,
        "user_code": code,
        "verification_uri": format!("{base}/appairage"),
        "verification_uri_complete": format!("{base}/appairage?code={code}"),
        "expires_in": st.cfg.code_ttl,
        "interval": st.cfg.poll_interval,
    }))
    .into_response()
}

/// A freshly issued token pair, in clear only for the answer (the database keeps their hashes).
struct Issued {
    access: String,
    refresh: String,
    access_expires_at: i64,
}

impl Issued {
    fn body(&self) -> Value {
        json!({
            "access_token": self.access,
            "token_type": "Bearer",
            "expires_in": (self.access_expires_at - db::now()).max(0),
            "refresh_token": self.refresh,
            "scope": "assistant",
        })
    }
}

fn issue_tokens(conn: &Connection, cfg: &crate::state::Config, device_id: i64) -> rusqlite::Result<Issued> {
    let access = format!("sbx_at_{}", random_token(32));
    let refresh = format!("sbx_rt_{}", random_token(32));
    let now = db::now();
    conn.execute(
        "INSERT INTO tokens(hash, device_id, kind, expires_at) VALUES (?1, ?2, 'access', ?3)",
        params![db::hash(&access), device_id, now + cfg.access_ttl],
    )?;
    conn.execute(
        "INSERT INTO tokens(hash, device_id, kind, expires_at) VALUES (?1, ?2, 'refresh', ?3)",
        params![db::hash(&refresh), device_id, now + cfg.refresh_ttl],
    )?;
    Ok(Issued { access, refresh, access_expires_at: now + cfg.access_ttl })
}

async fn token(State(st): State<AppState>, form: Result<Form<HashMap<String, String>>, FormRejection>) -> Response {
    let Ok(Form(form)) = form else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "form-encoded body expected");
    };
    if form.get("client_id").map(String::as_str) != Some("trousseau") {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "unknown client_id");
    }
    let result = match form.get("grant_type").map(String::as_str) {
        Some("urn:ietf:params:oauth:grant-type:device_code") => device_grant(&st, form.get("device_code")),
        Some("refresh_token") => refresh_grant(&st, form.get("refresh_token")),
        _ => Ok(oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type", "unsupported grant_type")),
    };
    result.unwrap_or_else(|e| Problem::internal(e).into_response())
}

fn device_grant(st: &AppState, device_code: Option<&String>) -> rusqlite::Result<Response> {
    let Some(device_code) = device_code else {
        return Ok(oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "device_code missing"));
    };
    let mut conn = st.db();
    let tx = conn.transaction()?;
    let row = tx
        .query_row(
            "SELECT id, status, expires_at, last_poll, agent_id, client_name, client_os, client_addr FROM device_codes WHERE device_code_hash = ?1",
            [db::hash(device_code)],
            |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, Option<i64>>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, String>(6)?,
                    r.get::<_, String>(7)?,
                ))
            },
        )
        .optional()?;
    let Some((id, status, expires_at, last_poll, agent_id, name, os, addr)) = row else {
        return Ok(oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "unknown device_code"));
    };
    let now_ms = (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64;
    if status == "used" {
        return Ok(oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "device_code already used"));
    }
    if expires_at <= db::now() {
        return Ok(oauth_error(StatusCode::BAD_REQUEST, "expired_token", "device_code expired"));
    }
    if status == "denied" {
        return Ok(oauth_error(StatusCode::BAD_REQUEST, "access_denied", "the agent refused the pairing"));
    }
    if status == "pending" {
        let too_fast = now_ms - last_poll < st.cfg.poll_interval * 1000 / 2;
        tx.execute("UPDATE device_codes SET last_poll = ?2 WHERE id = ?1", params![id, now_ms])?;
        tx.commit()?;
        return Ok(if too_fast {
            oauth_error(StatusCode::BAD_REQUEST, "slow_down", "poll less often")
        } else {
            oauth_error(StatusCode::BAD_REQUEST, "authorization_pending", "waiting for the agent's approval")
        });
    }
    // approved: single use
    let Some(agent_id) = agent_id else {
        return Ok(oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "no agent"));
    };
    tx.execute("UPDATE device_codes SET status = 'used' WHERE id = ?1", [id])?;
    tx.execute(
        "INSERT INTO devices(agent_id, name, os, addr, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![agent_id, name, os, addr, db::now()],
    )?;
    let device_id = tx.last_insert_rowid();
    let body = issue_tokens(&tx, &st.cfg, device_id)?.body();
    db::audit(&tx, "pairing.completed", &device_id.to_string());
    db::notify(&tx, agent_id, &format!("Nouvel assistant associé : {name} ({os}, {addr})"));
    tx.commit()?;
    Ok(Json(body).into_response())
}

/// The key that seals the successor of a refresh token: derived from the token itself, which the database only
/// holds hashed (a different derivation), so a copy of the database does not yield live tokens.
fn successor_key(refresh: &str) -> [u8; 32] {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    h.update(b"trousseau-sandbox refresh successor v1\0");
    h.update(refresh.as_bytes());
    h.finalize().into()
}

fn seal_successor(refresh: &str, pair: &Issued) -> Option<String> {
    use aes_gcm::aead::{Aead, KeyInit};
    use base64::Engine;
    let cipher = aes_gcm::Aes256Gcm::new(&successor_key(refresh).into());
    let mut nonce = [0u8; 12];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut nonce);
    let plain = json!({ "a": pair.access, "r": pair.refresh, "e": pair.access_expires_at }).to_string();
    let sealed = cipher.encrypt(&nonce.into(), plain.as_bytes()).ok()?;
    let mut out = nonce.to_vec();
    out.extend_from_slice(&sealed);
    Some(base64::engine::general_purpose::STANDARD.encode(out))
}

/// Opens a sealed successor; None when it does not open with this token or does not match `successor_hash`.
fn open_successor(refresh: &str, sealed: &str, successor_hash: &str) -> Option<Issued> {
    use aes_gcm::aead::{Aead, KeyInit};
    use base64::Engine;
    let raw = base64::engine::general_purpose::STANDARD.decode(sealed).ok()?;
    if raw.len() < 12 {
        return None;
    }
    let (nonce, ct) = raw.split_at(12);
    let cipher = aes_gcm::Aes256Gcm::new(&successor_key(refresh).into());
    let plain = cipher.decrypt(aes_gcm::Nonce::from_slice(nonce), ct).ok()?;
    let v: Value = serde_json::from_slice(&plain).ok()?;
    let pair = Issued {
        access: v["a"].as_str()?.to_string(),
        refresh: v["r"].as_str()?.to_string(),
        access_expires_at: v["e"].as_i64()?,
    };
    (db::hash(&pair.refresh) == successor_hash).then_some(pair)
}

/// Refresh token rotation with reuse detection and a grace period (docs/portal-api.yaml, "Refresh grace"):
/// - a valid unused refresh token is exchanged for a new pair; the used token keeps the new pair sealed under a key
///   derived from itself, for `refresh_grace` seconds;
/// - the immediately previous token (its successor not used yet), presented again within the grace period, gets the
///   same pair once more — a refresh whose answer was lost does not cost the pairing;
/// - any other reuse (a second replay, after the grace period, or an older token) revokes the whole pairing.
fn refresh_grant(st: &AppState, refresh: Option<&String>) -> rusqlite::Result<Response> {
    let Some(refresh) = refresh else {
        return Ok(oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "refresh_token missing"));
    };
    let mut conn = st.db();
    let tx = conn.transaction()?;
    let row = tx
        .query_row(
            "SELECT t.device_id, t.expires_at, t.used_at, d.revoked_at, d.agent_id, t.successor_hash, t.successor_sealed,
                    t.grace_replayed
             FROM tokens t JOIN devices d ON d.id = t.device_id
             WHERE t.hash = ?1 AND t.kind = 'refresh'",
            [db::hash(refresh)],
            |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, Option<i64>>(2)?,
                    r.get::<_, Option<i64>>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, Option<String>>(5)?,
                    r.get::<_, Option<String>>(6)?,
                    r.get::<_, i64>(7)?,
                ))
            },
        )
        .optional()?;
    let Some((device_id, expires_at, used_at, revoked_at, agent_id, successor_hash, sealed, grace_replayed)) = row
    else {
        return Ok(oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "unknown refresh token"));
    };
    let now = db::now();
    if revoked_at.is_some() || expires_at <= now {
        return Ok(oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "refresh token revoked or expired"));
    }
    if let Some(used_at) = used_at {
        // The immediately previous token: its successor has not been used (nor revoked) yet.
        let successor_unused = match &successor_hash {
            Some(h) => tx
                .query_row(
                    "SELECT used_at IS NULL FROM tokens WHERE hash = ?1 AND kind = 'refresh' AND expires_at > ?2",
                    params![h, now],
                    |r| r.get::<_, bool>(0),
                )
                .optional()?
                .unwrap_or(false),
            None => false,
        };
        let in_grace = now - used_at <= st.cfg.refresh_grace && grace_replayed == 0;
        if in_grace && successor_unused {
            let pair = match (&sealed, &successor_hash) {
                (Some(sealed), Some(h)) => open_successor(refresh, sealed, h),
                _ => None,
            };
            if let Some(pair) = pair {
                // Answered once: the sealed pair is no longer needed.
                tx.execute(
                    "UPDATE tokens SET grace_replayed = 1, successor_sealed = NULL WHERE hash = ?1",
                    [db::hash(refresh)],
                )?;
                db::audit(&tx, "refresh.grace_replay", &device_id.to_string());
                tx.commit()?;
                return Ok(Json(pair.body()).into_response());
            }
        }
        // A rotated refresh token came back outside the grace rule: someone holds a copy. Revoke the whole pairing.
        tx.execute("UPDATE devices SET revoked_at = ?2 WHERE id = ?1", params![device_id, now])?;
        tx.execute("UPDATE tokens SET successor_sealed = NULL WHERE device_id = ?1", [device_id])?;
        db::audit(&tx, "refresh.replay", &device_id.to_string());
        db::notify(&tx, agent_id, "Un jeton de l'assistant a été réutilisé : l'assistant a été révoqué par sécurité.");
        tx.commit()?;
        st.drop_device_channels(agent_id, Some(device_id));
        return Ok(oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "refresh token reused: pairing revoked"));
    }
    let pair = issue_tokens(&tx, &st.cfg, device_id)?;
    let sealed = seal_successor(refresh, &pair);
    tx.execute(
        "UPDATE tokens SET used_at = ?2, successor_hash = ?3, successor_sealed = ?4 WHERE hash = ?1",
        params![db::hash(refresh), now, db::hash(&pair.refresh), sealed],
    )?;
    tx.commit()?;
    Ok(Json(pair.body()).into_response())
}

/// RFC 7009: revoking any token of a pairing revokes the pairing. Always 200.
async fn revoke(State(st): State<AppState>, form: Result<Form<HashMap<String, String>>, FormRejection>) -> Response {
    let Ok(Form(form)) = form else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "form-encoded body expected");
    };
    if let Some(tok) = form.get("token") {
        let conn = st.db();
        let device: Option<(i64, i64)> = conn
            .query_row(
                "SELECT d.id, d.agent_id FROM tokens t JOIN devices d ON d.id = t.device_id WHERE t.hash = ?1",
                [db::hash(tok)],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .ok()
            .flatten();
        if let Some((device_id, agent_id)) = device {
            let _ = conn.execute(
                "UPDATE devices SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
                params![device_id, db::now()],
            );
            db::audit(&conn, "device.revoked", &device_id.to_string());
            drop(conn);
            st.drop_device_channels(agent_id, Some(device_id));
        }
    }
    StatusCode::OK.into_response()
}

// ---------------------------------------------------------------------------------------------------------------
// Assistant API (bearer)

async fn me(State(st): State<AppState>, headers: HeaderMap) -> Result<Json<Value>, Problem> {
    let d = bearer(&st, &headers)?;
    Ok(Json(json!({
        "portal": st.cfg.portal_name,
        "agent": d.agent_login,
        "device_id": d.device_id,
        "device_name": d.name,
    })))
}

/// The assistant channel. Assistants never send `Origin`; a request carrying one comes from a browser page and is
/// refused (cross-site WebSocket hijacking).
async fn channel(State(st): State<AppState>, headers: HeaderMap, ws: WebSocketUpgrade) -> Result<Response, Problem> {
    if headers.contains_key(header::ORIGIN) {
        return Err(Problem::new(
            StatusCode::FORBIDDEN,
            "channel.origin",
            "Le canal de l'assistant n'accepte pas les requêtes de pages web.",
        ));
    }
    let device = bearer(&st, &headers)?;
    Ok(ws.max_message_size(MAX_BODY).max_frame_size(MAX_BODY).on_upgrade(move |socket| run_channel(st, device, socket)))
}

async fn run_channel(st: AppState, device: Device, mut socket: WebSocket) {
    let (tx, mut rx) = mpsc::channel::<String>(256);
    let hello = json!({
        "type": "hello",
        "portal": st.cfg.portal_name,
        "agent": device.agent_login,
        "device_id": device.device_id,
        "heartbeat_interval": st.cfg.heartbeat_interval,
    });
    if socket.send(Message::Text(hello.to_string().into())).await.is_err() {
        return;
    }
    let conn_id = st.register_channel(device.agent_id, device.device_id, tx);
    seen(&st, device.device_id);
    let mut last_written = tokio::time::Instant::now();
    let timeout = st.cfg.heartbeat_timeout;
    let mut check = tokio::time::interval(Duration::from_secs(st.cfg.heartbeat_interval.max(1)));
    let mut last_seen = tokio::time::Instant::now();
    loop {
        tokio::select! {
            out = rx.recv() => match out {
                Some(text) => {
                    if socket.send(Message::Text(text.into())).await.is_err() { break; }
                }
                None => break, // revoked: the registry dropped our sender
            },
            msg = socket.recv() => {
                let Some(Ok(msg)) = msg else { break };
                last_seen = tokio::time::Instant::now();
                // "last seen" for the agent's page, written at most every 5 s
                if last_written.elapsed() >= Duration::from_secs(5) {
                    seen(&st, device.device_id);
                    last_written = last_seen;
                }
                match msg {
                    Message::Text(text) => {
                        if !handle_channel_message(&st, &device, text.as_str(), &mut socket).await {
                            st.rejected.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            let _ = socket.send(Message::Close(Some(axum::extract::ws::CloseFrame {
                                code: 1008,
                                reason: "message refused".into(),
                            }))).await;
                            break;
                        }
                    }
                    Message::Binary(_) => {
                        st.rejected.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        break;
                    }
                    Message::Ping(_) | Message::Pong(_) => {}
                    Message::Close(_) => break,
                }
            }
            _ = check.tick() => {
                if last_seen.elapsed() > timeout || device_revoked(&st, device.device_id) {
                    break;
                }
            }
        }
    }
    st.unregister_channel(device.agent_id, conn_id);
    seen(&st, device.device_id);
}

/// Records that the assistant was seen now (shown as "vu pour la dernière fois" on the agent's page).
fn seen(st: &AppState, device_id: i64) {
    let _ = st.db().execute("UPDATE devices SET last_seen = ?2 WHERE id = ?1", params![device_id, db::now()]);
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum FromAssistant {
    Heartbeat,
    Reply {
        id: String,
        ok: bool,
        #[serde(default)]
        result: Option<Value>,
        #[serde(default)]
        error: Option<Value>,
    },
}

/// Returns false when the message must be refused (the channel is then closed).
async fn handle_channel_message(st: &AppState, device: &Device, text: &str, socket: &mut WebSocket) -> bool {
    let Ok(msg) = serde_json::from_str::<FromAssistant>(text) else {
        return false;
    };
    match msg {
        FromAssistant::Heartbeat => {
            let _ = socket.send(Message::Text(json!({"type": "heartbeat_ack"}).to_string().into())).await;
            true
        }
        FromAssistant::Reply { id, ok, result, error } => {
            let reply = json!({ "ok": ok, "result": result, "error": error });
            st.deliver(device.device_id, &id, reply)
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Bi-clé registry

/// What the portal itself reads from a submitted certificate (never trusted from the client).
pub struct CertFacts {
    pub cn: String,
    pub issuer: String,
    pub serial: String,
    pub not_after: String,
    pub sha256: String,
    pub pem: String,
}

pub fn parse_certificate(text: &str) -> Result<CertFacts, Problem> {
    use base64::Engine;
    use sha2::Digest;
    let bad = |d: &str| Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "bicle.bad_certificate", d.to_string());
    let der = if text.contains("-----BEGIN") {
        pem::parse(text).map_err(|_| bad("Certificat PEM illisible."))?.into_contents()
    } else {
        base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map_err(|_| bad("Certificat illisible : PEM ou DER en base64 attendu."))?
    };
    let (_, cert) = x509_parser::parse_x509_certificate(&der).map_err(|_| bad("Ce n'est pas un certificat X.509."))?;
    // Issuer and serial exactly as the core reports them (RFC 4514 issuer, OpenSSL's serial), never a second format.
    let core = trousseau::cert::parse_der(&der).map_err(|_| bad("Ce n'est pas un certificat X.509."))?;
    let ku = cert.key_usage().map_err(|_| bad("Extension keyUsage illisible."))?;
    if let Some(ku) = ku {
        if !ku.value.key_encipherment() {
            return Err(bad("Ce certificat ne permet pas le chiffrement (keyEncipherment absent)."));
        }
    }
    let not_after = cert.validity().not_after.to_datetime();
    if not_after <= time::OffsetDateTime::now_utc() {
        return Err(bad("Ce certificat a expiré : choisissez un bi-clé valide."));
    }
    let cn =
        cert.subject().iter_common_name().next().and_then(|c| c.as_str().ok()).map(str::to_string).unwrap_or_default();
    let fmt = time::format_description::well_known::Rfc3339;
    Ok(CertFacts {
        cn,
        issuer: core.issuer,
        serial: core.serial,
        not_after: not_after.to_offset(time::UtcOffset::UTC).format(&fmt).unwrap_or_default(),
        sha256: hex::encode(sha2::Sha256::digest(&der)),
        pem: pem::encode_config(
            &pem::Pem::new("CERTIFICATE", der.clone()),
            pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
        ),
    })
}

/// What the assistant API adds: the assistant sends the certificate itself (it waits for the agent's confirmation).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddBicles {
    pub designation: String,
    pub certificate: String,
    pub kinds: Vec<String>,
}

/// What the agent's page adds: the id of a relayed request whose certificate the portal kept, never a certificate.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PageAdd {
    designation: String,
    #[serde(default)]
    relay: Option<String>,
    kinds: Vec<String>,
    /// Refused with a clear message when present (a page never posts a certificate it received).
    #[serde(default)]
    certificate: Option<Value>,
}

/// A bi-clé's designation ("Prénom Nom 2025"), trimmed: 1 to 100 characters, no control character.
fn valid_designation(d: &str) -> bool {
    !d.is_empty() && d.chars().count() <= 100 && !d.chars().any(char::is_control)
}

fn validate_add(designation: &str, kinds_in: &[String]) -> Result<Vec<&'static str>, Problem> {
    let d = designation.trim();
    if !valid_designation(d) {
        return Err(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "bicle.bad_designation",
            "Désignation invalide : 1 à 100 caractères, par exemple « Prénom Nom 2025 ».",
        ));
    }
    let mut kinds = Vec::new();
    for k in kinds_in {
        let k = match k.as_str() {
            "personal" => "personal",
            "backup" => "backup",
            _ => {
                return Err(Problem::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "bicle.bad_kind",
                    "Type de bi-clé inconnu : « personal » ou « backup ».",
                ))
            }
        };
        if !kinds.contains(&k) {
            kinds.push(k);
        }
    }
    if kinds.is_empty() {
        return Err(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "bicle.no_kind",
            "Indiquez au moins un type : personnel et/ou de secours.",
        ));
    }
    Ok(kinds)
}

const ROW_COLUMNS: &str = "b.id, b.kind, b.designation, b.cn, b.issuer, b.serial, b.not_after, b.sha256, b.status,
    b.certificate, b.added_by, b.device_id, d.name";

fn row_json(r: &rusqlite::Row<'_>) -> rusqlite::Result<Value> {
    Ok(json!({
        "id": r.get::<_, i64>(0)?,
        "kind": r.get::<_, String>(1)?,
        "designation": r.get::<_, String>(2)?,
        "cn": r.get::<_, String>(3)?,
        "issuer": r.get::<_, String>(4)?,
        "serial": r.get::<_, String>(5)?,
        "not_after": r.get::<_, String>(6)?,
        "sha256": r.get::<_, String>(7)?,
        "status": r.get::<_, String>(8)?,
        "certificate": r.get::<_, String>(9)?,
        "added_by": r.get::<_, String>(10)?,
        "device_id": r.get::<_, Option<i64>>(11)?,
        "device_name": r.get::<_, Option<String>>(12)?,
    }))
}

pub fn list_bicles(conn: &Connection, agent_id: i64) -> Result<Vec<Value>, Problem> {
    let mut st = conn.prepare(&format!(
        "SELECT {ROW_COLUMNS} FROM bicles b LEFT JOIN devices d ON d.id = b.device_id WHERE b.agent_id = ?1 ORDER BY b.id"
    ))?;
    let rows = st.query_map([agent_id], row_json)?.collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// One registration: who asks, for which agent, and how the rows start.
pub struct Registration<'a> {
    pub agent_id: i64,
    pub designation: &'a str,
    pub kinds: Vec<&'static str>,
    pub facts: CertFacts,
    pub status: &'static str,
    pub added_by: String,
    /// The assistant that supplied the certificate (named on the confirmation row).
    pub device_id: Option<i64>,
    pub idempotency: Option<&'a str>,
    /// The relayed request the certificate came from: marked used in the same transaction (single use).
    pub relay_hash: Option<String>,
}

/// Inserts one row per kind in a single transaction: all or nothing.
pub fn insert_bicles(conn: &mut Connection, reg: Registration<'_>) -> Result<Value, Problem> {
    let Registration { agent_id, designation, kinds, facts, status, added_by, device_id, idempotency, relay_hash } =
        reg;
    let designation = designation.trim();
    let tx = conn.transaction()?;
    if let (Some(key), Some(dev)) = (idempotency, device_id) {
        let prev: Option<String> = tx
            .query_row("SELECT response FROM idempotency WHERE device_id = ?1 AND key = ?2", params![dev, key], |r| {
                r.get(0)
            })
            .optional()?;
        if let Some(prev) = prev {
            return serde_json::from_str(&prev).map_err(Problem::internal);
        }
    }
    if let Some(h) = &relay_hash {
        let n =
            tx.execute("UPDATE relays SET used_at = ?2 WHERE id_hash = ?1 AND used_at IS NULL", params![h, db::now()])?;
        if n != 1 {
            return Err(relay_used());
        }
    }
    let mut ids = Vec::new();
    for kind in &kinds {
        let exists: bool = tx.query_row(
            "SELECT EXISTS(SELECT 1 FROM bicles WHERE agent_id = ?1 AND kind = ?2 AND sha256 = ?3)",
            params![agent_id, kind, facts.sha256],
            |r| r.get(0),
        )?;
        if exists {
            return Err(Problem::new(
                StatusCode::CONFLICT,
                "bicle.exists",
                format!("Ce certificat est déjà enregistré comme bi-clé {}.", kind_fr(kind)),
            ));
        }
        tx.execute(
            "INSERT INTO bicles(agent_id, kind, designation, cn, issuer, serial, not_after, sha256, certificate, status, added_by, device_id, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            params![
                agent_id,
                kind,
                designation,
                facts.cn,
                facts.issuer,
                facts.serial,
                facts.not_after,
                facts.sha256,
                facts.pem,
                status,
                added_by,
                device_id,
                db::now()
            ],
        )?;
        ids.push(tx.last_insert_rowid());
        db::notify(
            &tx,
            agent_id,
            &format!(
                "Bi-clé {} « {designation} » ajouté par {added_by}{}",
                kind_fr(kind),
                if status == "a_confirmer" { " : à confirmer" } else { "" }
            ),
        );
    }
    let mut st = tx.prepare(&format!(
        "SELECT {ROW_COLUMNS} FROM bicles b LEFT JOIN devices d ON d.id = b.device_id WHERE b.id = ?1"
    ))?;
    let mut rows = Vec::new();
    for id in &ids {
        rows.push(st.query_row([id], row_json)?);
    }
    drop(st);
    let body = json!({ "bicles": rows });
    if let (Some(key), Some(dev)) = (idempotency, device_id) {
        tx.execute(
            "INSERT INTO idempotency(device_id, key, response) VALUES (?1, ?2, ?3)",
            params![dev, key, body.to_string()],
        )?;
    }
    db::audit(&tx, "bicle.added", &format!("{ids:?} by {added_by}"));
    tx.commit()?;
    Ok(body)
}

fn kind_fr(kind: &str) -> &'static str {
    if kind == "backup" {
        "de secours"
    } else {
        "personnel"
    }
}

fn parse_json<T: serde::de::DeserializeOwned>(body: Result<Json<T>, JsonRejection>) -> Result<T, Problem> {
    body.map(|Json(v)| v).map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Problem::new(StatusCode::PAYLOAD_TOO_LARGE, "request.too_large", "Requête trop volumineuse.")
        } else {
            Problem::bad_request("request.malformed", format!("Requête JSON invalide : {}", e.body_text()))
        }
    })
}

/// Who lists bi-clés: the paired assistant (bearer token) or the logged-in agent on the portal page (session).
enum Caller {
    Assistant(Device),
    Agent(Session),
}

impl Caller {
    fn agent_id(&self) -> i64 {
        match self {
            Caller::Assistant(d) => d.agent_id,
            Caller::Agent(s) => s.agent_id,
        }
    }
}

/// How a route authenticates its [`Caller`]: one list implementation serves both APIs.
trait Guard {
    fn caller(st: &AppState, headers: &HeaderMap) -> Result<Caller, Problem>;
}

/// The assistant API: bearer token.
struct Assistant;

impl Guard for Assistant {
    fn caller(st: &AppState, headers: &HeaderMap) -> Result<Caller, Problem> {
        bearer(st, headers).map(Caller::Assistant)
    }
}

/// The agent API behind the portal pages: session cookie, CSRF header, same origin.
struct AgentPage;

impl Guard for AgentPage {
    fn caller(st: &AppState, headers: &HeaderMap) -> Result<Caller, Problem> {
        agent_guard(st, headers).map(Caller::Agent)
    }
}

async fn list_bicles_route<G: Guard>(State(st): State<AppState>, headers: HeaderMap) -> Result<Json<Value>, Problem> {
    let caller = G::caller(&st, &headers)?;
    let conn = st.db();
    Ok(Json(json!({ "bicles": list_bicles(&conn, caller.agent_id())? })))
}

/// The assistant adds a certificate it holds: always "à confirmer" by the agent on the portal page.
async fn assistant_add_bicles(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<AddBicles>, JsonRejection>,
) -> Result<Response, Problem> {
    let d = bearer(&st, &headers)?;
    let req = parse_json(body)?;
    let key = headers.get("idempotency-key").and_then(|v| v.to_str().ok()).map(str::to_string);
    if key.as_ref().is_some_and(|k| k.is_empty() || k.len() > 100) {
        return Err(Problem::bad_request("request.idempotency_key", "Idempotency-Key invalide (1 à 100 caractères)."));
    }
    let kinds = validate_add(&req.designation, &req.kinds)?;
    let facts = parse_certificate(&req.certificate)?;
    let mut conn = st.db();
    let body = insert_bicles(
        &mut conn,
        Registration {
            agent_id: d.agent_id,
            designation: &req.designation,
            kinds,
            facts,
            status: "a_confirmer",
            added_by: format!("l'assistant {}", d.name),
            device_id: Some(d.device_id),
            idempotency: key.as_deref(),
            relay_hash: None,
        },
    )?;
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

fn relay_used() -> Problem {
    Problem::new(
        StatusCode::CONFLICT,
        "relay.used",
        "Cette réponse de l'assistant a déjà servi : recommencez l'ajout depuis le début.",
    )
}

/// The agent registers the certificate of a relayed request (`relay`: its id). The certificate is the one the portal
/// kept from the assistant's answer, already checked against the agent's selection; it is active at once only when
/// the agent chose it on this page from the same assistant's own list, otherwise it waits for confirmation.
async fn agent_add_bicles(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<PageAdd>, JsonRejection>,
) -> Result<Response, Problem> {
    let s = agent_guard(&st, &headers)?;
    let req = parse_json(body)?;
    if req.certificate.is_some() {
        return Err(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "bicle.certificate_from_page",
            "Le portail n'accepte pas de certificat envoyé par la page : choisissez le bi-clé via votre assistant.",
        ));
    }
    let Some(relay_id) = req.relay.as_deref().filter(|r| !r.is_empty() && r.len() <= 64) else {
        return Err(Problem::bad_request(
            "relay.missing",
            "Indiquez la demande faite à l'assistant (relay) : choisissez le bi-clé via votre assistant.",
        ));
    };
    let kinds = validate_add(&req.designation, &req.kinds)?;
    let relay_hash = db::hash(relay_id);
    let row = {
        let conn = st.db();
        conn.query_row(
            "SELECT r.op, r.ok, r.certificate, r.used_at, r.expires_at, r.from_list, r.device_id, d.name
             FROM relays r JOIN devices d ON d.id = r.device_id WHERE r.id_hash = ?1 AND r.agent_id = ?2",
            params![relay_hash, s.agent_id],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, Option<bool>>(1)?,
                    r.get::<_, Option<String>>(2)?,
                    r.get::<_, Option<i64>>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, bool>(5)?,
                    r.get::<_, i64>(6)?,
                    r.get::<_, String>(7)?,
                ))
            },
        )
        .optional()?
    };
    let Some((op, ok, certificate, used_at, expires_at, from_list, device_id, device_name)) = row else {
        return Err(Problem::new(
            StatusCode::NOT_FOUND,
            "relay.unknown",
            "Demande à l'assistant inconnue : recommencez l'ajout depuis le début.",
        ));
    };
    if used_at.is_some() {
        return Err(relay_used());
    }
    if expires_at <= db::now() {
        return Err(Problem::new(
            StatusCode::GONE,
            "relay.expired",
            "La réponse de l'assistant a expiré : recommencez l'ajout depuis le début.",
        ));
    }
    let certificate = match (op.as_str(), ok, certificate) {
        ("get_certificate" | "generate_bicle", Some(true), Some(c)) => c,
        _ => {
            return Err(Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "relay.no_certificate",
                "Cette demande à l'assistant n'a pas fourni de certificat à enregistrer.",
            ))
        }
    };
    let facts = parse_certificate(&certificate)?;
    let status = if op == "get_certificate" && from_list { "actif" } else { "a_confirmer" };
    let mut conn = st.db();
    let body = insert_bicles(
        &mut conn,
        Registration {
            agent_id: s.agent_id,
            designation: &req.designation,
            kinds,
            facts,
            status,
            added_by: format!("l'agent {} via l'assistant {device_name}", s.login),
            device_id: Some(device_id),
            idempotency: None,
            relay_hash: Some(relay_hash),
        },
    )?;
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

async fn delete_bicle_api(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Result<Json<Value>, Problem> {
    let d = bearer(&st, &headers)?;
    let conn = st.db();
    let status: Option<String> = conn
        .query_row("SELECT status FROM bicles WHERE id = ?1 AND agent_id = ?2", params![id, d.agent_id], |r| r.get(0))
        .optional()?;
    let new_status = match status.as_deref() {
        None => {
            return Err(Problem::new(
                StatusCode::NOT_FOUND,
                "bicle.not_found",
                "Ce bi-clé n'existe pas sur le portail.",
            ))
        }
        // never activated: withdrawing it is harmless
        Some("a_confirmer") => {
            conn.execute("DELETE FROM bicles WHERE id = ?1", [id])?;
            "supprime"
        }
        Some(_) => {
            conn.execute("UPDATE bicles SET status = 'suppression_a_confirmer' WHERE id = ?1", [id])?;
            "suppression_a_confirmer"
        }
    };
    db::notify(&conn, d.agent_id, &format!("Suppression du bi-clé {id} demandée par l'assistant {}", d.name));
    db::audit(&conn, "bicle.remove", &id.to_string());
    Ok(Json(json!({ "id": id, "status": new_status })))
}

// ---------------------------------------------------------------------------------------------------------------
// Agent API (pages): session cookie, CSRF header, same origin

fn agent_guard(st: &AppState, headers: &HeaderMap) -> Result<Session, Problem> {
    let s = pages::session(st, headers).ok_or_else(|| {
        Problem::new(StatusCode::UNAUTHORIZED, "session.required", "Session expirée : reconnectez-vous au portail.")
    })?;
    if let Some(origin) = headers.get(header::ORIGIN) {
        if origin.to_str().ok() != Some(&pages::page_origin(st, headers)) {
            return Err(Problem::new(StatusCode::FORBIDDEN, "session.origin", "Requête d'une autre origine refusée."));
        }
    }
    let csrf = headers.get("x-csrf-token").and_then(|v| v.to_str().ok()).unwrap_or("");
    if csrf.is_empty() || csrf != s.csrf {
        return Err(Problem::new(StatusCode::FORBIDDEN, "session.csrf", "Jeton anti-CSRF manquant ou invalide."));
    }
    Ok(s)
}

/// The assistant that answers the agent's page: the one the agent chose (if still paired), else the only one
/// online. None when the agent has several online and chose none (the page asks to choose).
pub fn answering(st: &AppState, agent_id: i64) -> Option<i64> {
    let chosen: Option<i64> = st
        .db()
        .query_row(
            "SELECT d.id FROM agents a JOIN devices d ON d.id = a.relay_device_id
             WHERE a.id = ?1 AND d.revoked_at IS NULL",
            [agent_id],
            |r| r.get(0),
        )
        .optional()
        .ok()
        .flatten();
    if chosen.is_some() {
        return chosen;
    }
    match st.live_devices(agent_id).as_slice() {
        [only] => Some(*only),
        _ => None,
    }
}

/// The agent's assistants as the page shows them: every paired (not revoked) device with its name, system,
/// address, last seen, whether it is online and whether it is the one that answers. "Connecté" means the answering
/// assistant is online — not merely any of them.
pub fn assistants_view(st: &AppState, agent_id: i64) -> Value {
    let live = st.live_devices(agent_id);
    let answering = answering(st, agent_id);
    let now = db::now();
    let rows: Vec<(i64, String, String, String, Option<i64>)> = {
        let conn = st.db();
        let mut out = Vec::new();
        if let Ok(mut q) = conn.prepare(
            "SELECT id, name, os, addr, last_seen FROM devices WHERE agent_id = ?1 AND revoked_at IS NULL ORDER BY id",
        ) {
            if let Ok(it) = q.query_map([agent_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))) {
                out.extend(it.flatten());
            }
        }
        out
    };
    let list: Vec<Value> = rows
        .iter()
        .map(|(id, name, os, addr, last_seen)| {
            let online = live.contains(id);
            json!({
                "id": id,
                "name": name,
                "os": os,
                "addr": addr,
                "last_seen": if online { Some(now) } else { *last_seen },
                "connected": online,
                "answering": answering == Some(*id),
            })
        })
        .collect();
    let connected = answering.is_some_and(|a| live.contains(&a));
    json!({
        "connected": connected,
        "label": if connected { "Connecté" } else { "Déconnecté" },
        "answering": answering,
        "choice_needed": answering.is_none() && live.len() > 1,
        "assistants": list,
    })
}

async fn agent_state(State(st): State<AppState>, headers: HeaderMap) -> Result<Json<Value>, Problem> {
    let s = agent_guard(&st, &headers)?;
    Ok(Json(assistants_view(&st, s.agent_id)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChooseAssistant {
    id: i64,
}

/// The agent picks the assistant that answers the page (one of their paired, not revoked assistants).
async fn agent_choose_assistant(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<ChooseAssistant>, JsonRejection>,
) -> Result<Json<Value>, Problem> {
    let s = agent_guard(&st, &headers)?;
    let r = parse_json(body)?;
    {
        let conn = st.db();
        let n = conn.execute(
            "UPDATE agents SET relay_device_id = ?2 WHERE id = ?1
             AND EXISTS(SELECT 1 FROM devices WHERE id = ?2 AND agent_id = ?1 AND revoked_at IS NULL)",
            params![s.agent_id, r.id],
        )?;
        if n == 0 {
            return Err(Problem::new(
                StatusCode::NOT_FOUND,
                "assistant.unknown",
                "Cet assistant n'est pas associé à votre compte.",
            ));
        }
        db::audit(&conn, "assistant.chosen", &format!("agent {} device {}", s.agent_id, r.id));
    }
    Ok(Json(assistants_view(&st, s.agent_id)))
}

/// Confirms a pending addition (`ajout`) or a pending removal (`suppression`): two distinct actions, each refused
/// for a row in the other state, so a click meant for one can never perform the other.
async fn agent_confirm(st: &AppState, headers: &HeaderMap, id: i64, expected: &str) -> Result<Json<Value>, Problem> {
    let s = agent_guard(st, headers)?;
    let conn = st.db();
    let status: Option<String> = conn
        .query_row("SELECT status FROM bicles WHERE id = ?1 AND agent_id = ?2", params![id, s.agent_id], |r| r.get(0))
        .optional()?;
    if status.as_deref() != Some(expected) {
        return Err(Problem::new(
            StatusCode::CONFLICT,
            "bicle.nothing_to_confirm",
            if expected == "a_confirmer" {
                "Aucun ajout à confirmer pour ce bi-clé."
            } else {
                "Aucune suppression à confirmer pour ce bi-clé."
            },
        ));
    }
    if db::confirm_bicle(&conn, s.agent_id, id).map_err(Problem::internal)? {
        Ok(Json(json!({ "id": id, "confirmed": if expected == "a_confirmer" { "ajout" } else { "suppression" } })))
    } else {
        Err(Problem::new(StatusCode::NOT_FOUND, "bicle.nothing_to_confirm", "Rien à confirmer pour ce bi-clé."))
    }
}

async fn agent_confirm_add(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Result<Json<Value>, Problem> {
    agent_confirm(&st, &headers, id, "a_confirmer").await
}

async fn agent_confirm_removal(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Result<Json<Value>, Problem> {
    agent_confirm(&st, &headers, id, "suppression_a_confirmer").await
}

async fn agent_delete(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Result<Json<Value>, Problem> {
    let s = agent_guard(&st, &headers)?;
    let conn = st.db();
    let n = conn.execute("DELETE FROM bicles WHERE id = ?1 AND agent_id = ?2", params![id, s.agent_id])?;
    if n == 0 {
        return Err(Problem::new(StatusCode::NOT_FOUND, "bicle.not_found", "Ce bi-clé n'existe pas."));
    }
    db::audit(&conn, "bicle.deleted", &id.to_string());
    Ok(Json(json!({ "id": id, "deleted": true })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Rename {
    designation: String,
}

async fn agent_rename(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    body: Result<Json<Rename>, JsonRejection>,
) -> Result<Json<Value>, Problem> {
    let s = agent_guard(&st, &headers)?;
    let r = parse_json(body)?;
    let d = r.designation.trim();
    if !valid_designation(d) {
        return Err(Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "bicle.bad_designation", "Désignation invalide."));
    }
    let conn = st.db();
    let n =
        conn.execute("UPDATE bicles SET designation = ?3 WHERE id = ?1 AND agent_id = ?2", params![id, s.agent_id, d])?;
    if n == 0 {
        return Err(Problem::new(StatusCode::NOT_FOUND, "bicle.not_found", "Ce bi-clé n'existe pas."));
    }
    Ok(Json(json!({ "id": id, "designation": d })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RelayReq {
    op: String,
    #[serde(default)]
    params: Value,
    /// The assistant the page shows as answering; refused when it is no longer the one that answers.
    #[serde(default)]
    assistant: Option<i64>,
}

/// A lowercase 64-hex SHA-256, or None.
fn sha256_param(v: &Value) -> Option<String> {
    let s = v.as_str()?.trim().to_ascii_lowercase();
    (s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())).then_some(s)
}

/// Page → portal → assistant. The request goes to the assistant that answers for the agent; the portal keeps the
/// answer under the request id (returned as `id`), and the page later refers to that id to register the
/// certificate. For `get_certificate`, a certificate whose SHA-256 differs from the one asked for is refused here.
async fn agent_relay(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<RelayReq>, JsonRejection>,
) -> Result<Json<Value>, Problem> {
    let s = agent_guard(&st, &headers)?;
    let r = parse_json(body)?;
    let timeout = match r.op.as_str() {
        "list_certificates" | "get_certificate" => Duration::from_secs(20),
        // waits for the user's confirmation in the assistant's window
        "generate_bicle" => st.cfg.relay_timeout,
        _ => return Err(Problem::bad_request("relay.unknown_op", "Opération inconnue.")),
    };
    let Some(device_id) = answering(&st, s.agent_id) else {
        let several = st.live_devices(s.agent_id).len() > 1;
        return Err(Problem::new(
            StatusCode::CONFLICT,
            if several { "assistant.choose" } else { "assistant.disconnected" },
            if several {
                "Plusieurs assistants sont en ligne : choisissez celui qui répond, puis réessayez."
            } else {
                "Votre assistant est déconnecté : démarrez Trousseau sur votre poste puis réessayez."
            },
        ));
    };
    if r.assistant.is_some_and(|a| a != device_id) {
        return Err(Problem::new(
            StatusCode::CONFLICT,
            "assistant.changed",
            "L'assistant qui répond a changé : rechargez la page et vérifiez l'assistant choisi.",
        ));
    }
    let (selected, from_list) = if r.op == "get_certificate" {
        let Some(sha) = sha256_param(&r.params["sha256"]) else {
            return Err(Problem::bad_request(
                "relay.bad_sha256",
                "Empreinte SHA-256 invalide (64 caractères hexadécimaux).",
            ));
        };
        // chosen from this same assistant's own list, answered recently?
        let conn = st.db();
        let mut listed = false;
        if let Ok(mut q) = conn.prepare(
            "SELECT offered FROM relays WHERE agent_id = ?1 AND device_id = ?2 AND op = 'list_certificates' AND ok = 1
             AND expires_at > ?3 AND offered IS NOT NULL",
        ) {
            if let Ok(it) = q.query_map(params![s.agent_id, device_id, db::now()], |r| r.get::<_, String>(0)) {
                listed = it
                    .flatten()
                    .any(|o| serde_json::from_str::<Vec<String>>(&o).map(|v| v.contains(&sha)).unwrap_or(false));
            }
        }
        (Some(sha), listed)
    } else {
        (None, false)
    };
    let params = match &selected {
        Some(sha) => json!({ "sha256": sha }),
        None => r.params,
    };
    let id = crate::state::random_hex(16);
    let now = db::now();
    st.db().execute(
        "INSERT INTO relays(id_hash, agent_id, device_id, op, selected_sha256, from_list, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![db::hash(&id), s.agent_id, device_id, r.op, selected, from_list, now, now + db::RELAY_TTL],
    )?;
    let reply = st.relay(s.agent_id, device_id, &id, &r.op, params, timeout).await?;
    let ok = reply["ok"] == true;
    let mut offered: Option<String> = None;
    let mut certificate: Option<String> = None;
    let mut refused: Option<Problem> = None;
    if ok {
        match r.op.as_str() {
            "list_certificates" => {
                let shas: Vec<String> = reply["result"]["certificates"]
                    .as_array()
                    .map(|a| a.iter().filter_map(|c| sha256_param(&c["sha256"])).collect())
                    .unwrap_or_default();
                offered = Some(serde_json::to_string(&shas).map_err(Problem::internal)?);
            }
            _ => match reply["result"]["certificate"].as_str().map(parse_certificate) {
                Some(Ok(facts)) => {
                    if selected.as_ref().is_some_and(|sel| *sel != facts.sha256) {
                        refused = Some(Problem::new(
                            StatusCode::UNPROCESSABLE_ENTITY,
                            "relay.certificate_mismatch",
                            "L'assistant a renvoyé un autre certificat que celui que vous avez choisi : rien n'a été enregistré. Vérifiez l'assistant associé à votre compte.",
                        ));
                    } else {
                        certificate = Some(facts.pem);
                    }
                }
                Some(Err(p)) => refused = Some(p),
                None => {
                    refused = Some(Problem::new(
                        StatusCode::BAD_GATEWAY,
                        "relay.no_certificate",
                        "L'assistant n'a pas renvoyé de certificat.",
                    ))
                }
            },
        }
    }
    let stored_ok = ok && refused.is_none();
    {
        let conn = st.db();
        conn.execute(
            "UPDATE relays SET answered_at = ?2, ok = ?3, offered = ?4, certificate = ?5 WHERE id_hash = ?1",
            params![db::hash(&id), db::now(), stored_ok, offered, certificate],
        )?;
        if let Some(p) = &refused {
            db::audit(&conn, "relay.refused", &format!("device {device_id}: {}", p.code));
        }
        if refused.as_ref().is_some_and(|p| p.code == "relay.certificate_mismatch") {
            db::notify(
                &conn,
                s.agent_id,
                "Un assistant a renvoyé un certificat différent de celui choisi : rien n'a été enregistré.",
            );
        }
    }
    if let Some(p) = refused {
        return Err(p);
    }
    let device_name: String =
        st.db().query_row("SELECT name FROM devices WHERE id = ?1", [device_id], |r| r.get(0)).unwrap_or_default();
    Ok(Json(json!({
        "id": id,
        "assistant": { "id": device_id, "name": device_name },
        "ok": reply["ok"],
        "result": reply["result"],
        "error": reply["error"],
    })))
}

async fn agent_revoke(State(st): State<AppState>, headers: HeaderMap) -> Result<Json<Value>, Problem> {
    let s = agent_guard(&st, &headers)?;
    let n = {
        let conn = st.db();
        db::revoke_devices(&conn, s.agent_id).map_err(Problem::internal)?
    };
    st.drop_device_channels(s.agent_id, None);
    Ok(Json(json!({ "revoked": n })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair() -> Issued {
        Issued { access: "sbx_at_a".into(), refresh: "sbx_rt_b".into(), access_expires_at: 42 }
    }

    #[test]
    fn a_sealed_successor_opens_only_with_the_token_it_replaced() {
        let sealed = seal_successor("sbx_rt_old", &pair()).expect("sealed");
        assert!(!sealed.contains("sbx_rt_b") && !sealed.contains("sbx_at_a"), "sealed pair in clear");
        let opened = open_successor("sbx_rt_old", &sealed, &db::hash("sbx_rt_b")).expect("opens");
        assert_eq!(
            (opened.access.as_str(), opened.refresh.as_str(), opened.access_expires_at),
            ("sbx_at_a", "sbx_rt_b", 42)
        );
        // another token, a tampered seal, or a successor hash that does not match: nothing
        assert!(open_successor("sbx_rt_other", &sealed, &db::hash("sbx_rt_b")).is_none());
        assert!(open_successor("sbx_rt_old", &sealed, &db::hash("sbx_rt_c")).is_none());
        let mut tampered = sealed.into_bytes();
        let last = tampered.len() - 3;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).unwrap_or_default();
        assert!(open_successor("sbx_rt_old", &tampered, &db::hash("sbx_rt_b")).is_none());
        assert!(open_successor("sbx_rt_old", "AAAA", &db::hash("sbx_rt_b")).is_none());
    }

    #[test]
    fn issuer_and_serial_are_reported_as_the_core_reports_them() {
        let pem = include_str!("../../tests/fixtures/fixture-leaf.pem");
        let facts = parse_certificate(pem).unwrap_or_else(|e| panic!("{}", e.detail));
        // `openssl x509 -noout -issuer -serial -nameopt RFC2253` on the fixture
        assert_eq!(facts.issuer, "CN=Fixture CA,O=Trousseau Fixtures,C=LU");
        assert_eq!(facts.serial, "0a0b0c");
        let core = &trousseau::cert::read_certificates(pem.as_bytes()).unwrap()[0];
        assert_eq!((facts.issuer.as_str(), facts.serial.as_str()), (core.issuer.as_str(), core.serial.as_str()));
    }

    #[test]
    fn only_64_hex_digits_are_a_fingerprint() {
        assert_eq!(sha256_param(&json!("AB".repeat(32))), Some("ab".repeat(32)));
        for bad in [json!("ab"), json!("../../etc/passwd"), json!("zz".repeat(32)), json!(12), json!(null)] {
            assert_eq!(sha256_param(&bad), None, "{bad}");
        }
    }
}

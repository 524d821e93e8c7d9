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
        .route("/api/v1/bicles", get(list_bicles_route::<Assistant>).post(add_bicles_route::<Assistant>))
        .route("/api/v1/bicles/{id}", axum::routing::delete(delete_bicle_api))
        .route("/agent/api/etat", get(agent_state))
        .route("/agent/api/bicles", get(list_bicles_route::<AgentPage>).post(add_bicles_route::<AgentPage>))
        .route("/agent/api/bicles/{id}/confirmer", post(agent_confirm))
        .route("/agent/api/bicles/{id}/supprimer", post(agent_delete))
        .route("/agent/api/bicles/{id}/modifier", post(agent_rename))
        .route("/agent/api/relais", post(agent_relay))
        .route("/agent/api/revoquer", post(agent_revoke))
        .merge(pages::routes())
        .layer(DefaultBodyLimit::max(MAX_BODY))
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

fn origin_base(headers: &HeaderMap) -> String {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("127.0.0.1");
    format!("http://{host}")
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
    let base = origin_base(&headers);
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

fn issue_tokens(conn: &Connection, cfg: &crate::state::Config, device_id: i64) -> rusqlite::Result<Value> {
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
    Ok(json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": cfg.access_ttl,
        "refresh_token": refresh,
        "scope": "assistant",
    }))
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
    let body = issue_tokens(&tx, &st.cfg, device_id)?;
    db::audit(&tx, "pairing.completed", &device_id.to_string());
    db::notify(&tx, agent_id, &format!("Nouvel assistant associé : {name} ({os}, {addr})"));
    tx.commit()?;
    Ok(Json(body).into_response())
}

fn refresh_grant(st: &AppState, refresh: Option<&String>) -> rusqlite::Result<Response> {
    let Some(refresh) = refresh else {
        return Ok(oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "refresh_token missing"));
    };
    let mut conn = st.db();
    let tx = conn.transaction()?;
    let row = tx
        .query_row(
            "SELECT t.device_id, t.expires_at, t.used_at, d.revoked_at, d.agent_id FROM tokens t JOIN devices d ON d.id = t.device_id
             WHERE t.hash = ?1 AND t.kind = 'refresh'",
            [db::hash(refresh)],
            |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, Option<i64>>(2)?,
                    r.get::<_, Option<i64>>(3)?,
                    r.get::<_, i64>(4)?,
                ))
            },
        )
        .optional()?;
    let Some((device_id, expires_at, used_at, revoked_at, agent_id)) = row else {
        return Ok(oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "unknown refresh token"));
    };
    if revoked_at.is_some() || expires_at <= db::now() {
        return Ok(oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "refresh token revoked or expired"));
    }
    if used_at.is_some() {
        // A rotated refresh token came back: someone holds a copy. Revoke the whole pairing.
        tx.execute("UPDATE devices SET revoked_at = ?2 WHERE id = ?1", params![device_id, db::now()])?;
        db::audit(&tx, "refresh.replay", &device_id.to_string());
        db::notify(&tx, agent_id, "Un jeton de l'assistant a été réutilisé : l'assistant a été révoqué par sécurité.");
        tx.commit()?;
        st.drop_device_channels(agent_id);
        return Ok(oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "refresh token reused: pairing revoked"));
    }
    tx.execute("UPDATE tokens SET used_at = ?2 WHERE hash = ?1", params![db::hash(refresh), db::now()])?;
    let body = issue_tokens(&tx, &st.cfg, device_id)?;
    tx.commit()?;
    Ok(Json(body).into_response())
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
            st.drop_device_channels(agent_id);
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
    let conn_id = st.register_channel(device.agent_id, device.device_id, device.name.clone(), tx);
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
        issuer: cert.issuer().to_string(),
        serial: cert.raw_serial_as_string().replace(':', "").to_ascii_lowercase(),
        not_after: not_after.to_offset(time::UtcOffset::UTC).format(&fmt).unwrap_or_default(),
        sha256: hex::encode(sha2::Sha256::digest(&der)),
        pem: pem::encode_config(
            &pem::Pem::new("CERTIFICATE", der.clone()),
            pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
        ),
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddBicles {
    pub designation: String,
    pub certificate: String,
    pub kinds: Vec<String>,
}

/// A bi-clé's designation ("Prénom Nom 2025"), trimmed: 1 to 100 characters, no control character.
fn valid_designation(d: &str) -> bool {
    !d.is_empty() && d.chars().count() <= 100 && !d.chars().any(char::is_control)
}

fn validate_add(req: &AddBicles) -> Result<Vec<&'static str>, Problem> {
    let d = req.designation.trim();
    if !valid_designation(d) {
        return Err(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "bicle.bad_designation",
            "Désignation invalide : 1 à 100 caractères, par exemple « Prénom Nom 2025 ».",
        ));
    }
    let mut kinds = Vec::new();
    for k in &req.kinds {
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
    }))
}

pub fn list_bicles(conn: &Connection, agent_id: i64) -> Result<Vec<Value>, Problem> {
    let mut st = conn.prepare(
        "SELECT id, kind, designation, cn, issuer, serial, not_after, sha256, status, certificate FROM bicles
         WHERE agent_id = ?1 ORDER BY id",
    )?;
    let rows = st.query_map([agent_id], row_json)?.collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Inserts one row per kind in a single transaction: all or nothing.
pub fn insert_bicles(
    conn: &mut Connection,
    agent_id: i64,
    req: &AddBicles,
    status: &str,
    added_by: &str,
    device_id: Option<i64>,
    idempotency: Option<&str>,
) -> Result<Value, Problem> {
    let kinds = validate_add(req)?;
    let facts = parse_certificate(&req.certificate)?;
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
                req.designation.trim(),
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
                "Bi-clé {} « {} » ajouté par {added_by}{}",
                kind_fr(kind),
                req.designation.trim(),
                if status == "a_confirmer" { " : à confirmer" } else { "" }
            ),
        );
    }
    let mut st = tx.prepare(
        "SELECT id, kind, designation, cn, issuer, serial, not_after, sha256, status, certificate FROM bicles WHERE id = ?1",
    )?;
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

/// Who lists or adds bi-clés: the paired assistant (bearer token; what it adds waits for the agent's confirmation
/// on the portal page) or the logged-in agent on that page (session; what the agent adds is active at once).
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

/// How a route authenticates its [`Caller`]: one list and one add implementation serve both APIs.
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

async fn add_bicles_route<G: Guard>(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<AddBicles>, JsonRejection>,
) -> Result<Response, Problem> {
    let caller = G::caller(&st, &headers)?;
    let req = parse_json(body)?;
    let (status, added_by, device_id, key) = match &caller {
        Caller::Assistant(d) => {
            let key = headers.get("idempotency-key").and_then(|v| v.to_str().ok()).map(str::to_string);
            if key.as_ref().is_some_and(|k| k.is_empty() || k.len() > 100) {
                return Err(Problem::bad_request(
                    "request.idempotency_key",
                    "Idempotency-Key invalide (1 à 100 caractères).",
                ));
            }
            ("a_confirmer", format!("l'assistant {}", d.name), Some(d.device_id), key)
        }
        Caller::Agent(s) => ("actif", format!("l'agent {}", s.login), None, None),
    };
    let mut conn = st.db();
    let body = insert_bicles(&mut conn, caller.agent_id(), &req, status, &added_by, device_id, key.as_deref())?;
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
        let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("");
        if origin.to_str().ok() != Some(&format!("http://{host}")) {
            return Err(Problem::new(StatusCode::FORBIDDEN, "session.origin", "Requête d'une autre origine refusée."));
        }
    }
    let csrf = headers.get("x-csrf-token").and_then(|v| v.to_str().ok()).unwrap_or("");
    if csrf.is_empty() || csrf != s.csrf {
        return Err(Problem::new(StatusCode::FORBIDDEN, "session.csrf", "Jeton anti-CSRF manquant ou invalide."));
    }
    Ok(s)
}

async fn agent_state(State(st): State<AppState>, headers: HeaderMap) -> Result<Json<Value>, Problem> {
    let s = agent_guard(&st, &headers)?;
    let live = st.live(s.agent_id);
    Ok(Json(json!({
        "connected": !live.is_empty(),
        "label": if live.is_empty() { "Déconnecté" } else { "Connecté" },
        "assistants": live.iter().map(|(n, since)| json!({"name": n, "since": since})).collect::<Vec<_>>(),
    })))
}

async fn agent_confirm(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Result<Json<Value>, Problem> {
    let s = agent_guard(&st, &headers)?;
    let conn = st.db();
    if db::confirm_bicle(&conn, s.agent_id, id).map_err(Problem::internal)? {
        Ok(Json(json!({ "id": id, "confirmed": true })))
    } else {
        Err(Problem::new(StatusCode::NOT_FOUND, "bicle.nothing_to_confirm", "Rien à confirmer pour ce bi-clé."))
    }
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
}

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
        "generate_bicle" => Duration::from_secs(180),
        _ => return Err(Problem::bad_request("relay.unknown_op", "Opération inconnue.")),
    };
    let reply = st.relay(s.agent_id, &r.op, r.params, timeout).await?;
    Ok(Json(reply))
}

async fn agent_revoke(State(st): State<AppState>, headers: HeaderMap) -> Result<Json<Value>, Problem> {
    let s = agent_guard(&st, &headers)?;
    let n = {
        let conn = st.db();
        db::revoke_devices(&conn, s.agent_id).map_err(Problem::internal)?
    };
    st.drop_device_channels(s.agent_id);
    Ok(Json(json!({ "revoked": n })))
}

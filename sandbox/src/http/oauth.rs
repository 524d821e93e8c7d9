//! OAuth 2.0, errors in RFC 6749 §5.2 form as OAuth clients expect: the device authorization grant (RFC 8628),
//! token refresh with a grace period for the replaced pair, revocation (RFC 7009).

use super::*;

/// An OAuth error body (RFC 6749 §5.2).
#[derive(Serialize)]
pub(super) struct OAuthError<'a> {
    error: &'a str,
    error_description: &'a str,
}

pub(super) fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (status, Json(OAuthError { error, error_description: description })).into_response()
}

pub(super) const USER_CODE_ALPHABET: &[u8] = b"BCDFGHJKLMNPQRSTVWXZ";

pub(super) fn user_code() -> String {
    use rand::Rng;
    let mut rng = rand::rngs::OsRng;
    let c: String = (0..8).map(|_| USER_CODE_ALPHABET[rng.gen_range(0..USER_CODE_ALPHABET.len())] as char).collect();
    format!("{}-{}", &c[..4], &c[4..])
}

pub(super) fn clean_label(s: Option<&String>, max: usize) -> String {
    let s: String = s.map(|s| s.chars().filter(|c| !c.is_control()).take(max).collect()).unwrap_or_default();
    if s.trim().is_empty() {
        "(inconnu)".into()
    } else {
        s
    }
}

pub(super) async fn device_authorization(
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
        if !db::user_code_taken(&conn, &code) {
            break;
        }
        code = user_code();
    }
    let new = db::NewDeviceCode {
        device_code_hash: &db::hash(&device_code),
        user_code: &code,
        client_name: &name,
        client_os: &os,
        client_addr: &addr.ip().to_string(),
        created_at: now,
        expires_at: now + st.cfg.code_ttl,
    };
    if let Err(e) = db::insert_device_code(&conn, &new) {
        return Problem::internal(e).into_response();
    }
    let base = pages::page_origin(&st, &headers);
    Json(DeviceAuthorization {
        verification_uri: format!("{base}/appairage"),
        verification_uri_complete: format!("{base}/appairage?code={code}"),
        device_code,
        user_code: code,
        expires_in: st.cfg.code_ttl,
        interval: st.cfg.poll_interval,
    })
    .into_response()
}

/// The device authorization response (RFC 8628 §3.2).
#[derive(Serialize)]
pub(super) struct DeviceAuthorization {
    device_code: String,
    user_code: String,
    verification_uri: String,
    verification_uri_complete: String,
    expires_in: i64,
    interval: i64,
}

/// A freshly issued token pair, in clear only for the answer (the database keeps their hashes).
pub(super) struct Issued {
    pub(super) access: String,
    pub(super) refresh: String,
    pub(super) access_expires_at: i64,
}

/// The token response (RFC 6749 §5.1).
#[derive(Serialize)]
pub(super) struct TokenResponse<'a> {
    access_token: &'a str,
    token_type: &'static str,
    expires_in: i64,
    refresh_token: &'a str,
    scope: &'static str,
}

impl Issued {
    fn body(&self) -> TokenResponse<'_> {
        TokenResponse {
            access_token: &self.access,
            token_type: "Bearer",
            expires_in: (self.access_expires_at - db::now()).max(0),
            refresh_token: &self.refresh,
            scope: "assistant",
        }
    }
}

pub(super) fn issue_tokens(conn: &Connection, cfg: &crate::state::Config, device_id: i64) -> rusqlite::Result<Issued> {
    let access = format!("sbx_at_{}", random_token(32));
    let refresh = format!("sbx_rt_{}", random_token(32));
    let now = db::now();
    db::insert_token(conn, &db::hash(&access), device_id, db::TokenKind::Access, now + cfg.access_ttl)?;
    db::insert_token(conn, &db::hash(&refresh), device_id, db::TokenKind::Refresh, now + cfg.refresh_ttl)?;
    Ok(Issued { access, refresh, access_expires_at: now + cfg.access_ttl })
}

pub(super) async fn token(
    State(st): State<AppState>,
    form: Result<Form<HashMap<String, String>>, FormRejection>,
) -> Response {
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

pub(super) fn device_grant(st: &AppState, device_code: Option<&String>) -> rusqlite::Result<Response> {
    let Some(device_code) = device_code else {
        return Ok(oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "device_code missing"));
    };
    let mut conn = st.db();
    let tx = conn.transaction()?;
    let row = db::device_code_by_hash(&tx, &db::hash(device_code))?;
    let Some(db::DeviceCodeRow {
        id,
        status,
        expires_at,
        last_poll,
        agent_id,
        client_name: name,
        client_os: os,
        client_addr: addr,
    }) = row
    else {
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
        db::set_device_code_last_poll(&tx, id, now_ms)?;
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
    db::mark_device_code_used(&tx, id)?;
    let device_id = db::insert_device(&tx, agent_id, &name, &os, &addr, db::now())?;
    let issued = issue_tokens(&tx, &st.cfg, device_id)?;
    db::audit(&tx, "pairing.completed", &device_id.to_string());
    db::notify(&tx, agent_id, &format!("Nouvel assistant associé : {name} ({os}, {addr})"));
    tx.commit()?;
    Ok(Json(issued.body()).into_response())
}

/// The key that seals the successor of a refresh token: derived from the token itself, which the database only
/// holds hashed (a different derivation), so a copy of the database does not yield live tokens.
pub(super) fn successor_key(refresh: &str) -> [u8; 32] {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    h.update(b"trousseau-sandbox refresh successor v1\0");
    h.update(refresh.as_bytes());
    h.finalize().into()
}

pub(super) fn seal_successor(refresh: &str, pair: &Issued) -> Option<String> {
    use aes_gcm::aead::{Aead, KeyInit};
    use base64::Engine;
    let cipher = aes_gcm::Aes256Gcm::new(&successor_key(refresh).into());
    let mut nonce = [0u8; 12];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut nonce);
    let plain = serde_json::to_string(&SealedPair {
        a: pair.access.clone(),
        r: pair.refresh.clone(),
        e: pair.access_expires_at,
    })
    .ok()?;
    let sealed = cipher.encrypt(&nonce.into(), plain.as_bytes()).ok()?;
    let mut out = nonce.to_vec();
    out.extend_from_slice(&sealed);
    Some(base64::engine::general_purpose::STANDARD.encode(out))
}

/// The plaintext of a sealed successor pair (stored, never on the wire).
#[derive(Serialize, Deserialize)]
pub(super) struct SealedPair {
    a: String,
    r: String,
    e: i64,
}

/// Opens a sealed successor; None when it does not open with this token or does not match `successor_hash`.
pub(super) fn open_successor(refresh: &str, sealed: &str, successor_hash: &str) -> Option<Issued> {
    use aes_gcm::aead::{Aead, KeyInit};
    use base64::Engine;
    let raw = base64::engine::general_purpose::STANDARD.decode(sealed).ok()?;
    if raw.len() < 12 {
        return None;
    }
    let (nonce, ct) = raw.split_at(12);
    let cipher = aes_gcm::Aes256Gcm::new(&successor_key(refresh).into());
    let plain = cipher.decrypt(aes_gcm::Nonce::from_slice(nonce), ct).ok()?;
    let v: SealedPair = serde_json::from_slice(&plain).ok()?;
    let pair = Issued { access: v.a, refresh: v.r, access_expires_at: v.e };
    (db::hash(&pair.refresh) == successor_hash).then_some(pair)
}

/// Refresh token rotation with reuse detection and a grace period (docs/portal-api.yaml, "Refresh grace"):
/// - a valid unused refresh token is exchanged for a new pair; the used token keeps the new pair sealed under a key
///   derived from itself, for `refresh_grace` seconds;
/// - the immediately previous token (its successor not used yet), presented again within the grace period, gets the
///   same pair once more — a refresh whose answer was lost does not cost the pairing;
/// - any other reuse (a second replay, after the grace period, or an older token) revokes the whole pairing.
pub(super) fn refresh_grant(st: &AppState, refresh: Option<&String>) -> rusqlite::Result<Response> {
    let Some(refresh) = refresh else {
        return Ok(oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "refresh_token missing"));
    };
    let mut conn = st.db();
    let tx = conn.transaction()?;
    let row = db::refresh_token_by_hash(&tx, &db::hash(refresh))?;
    let Some(db::RefreshRow {
        device_id,
        expires_at,
        used_at,
        revoked_at,
        agent_id,
        successor_hash,
        successor_sealed: sealed,
        grace_replayed,
    }) = row
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
            Some(h) => db::refresh_token_unused(&tx, h, now)?,
            None => false,
        };
        let in_grace = now - used_at <= st.cfg.refresh_grace && !grace_replayed;
        if in_grace && successor_unused {
            let pair = match (&sealed, &successor_hash) {
                (Some(sealed), Some(h)) => open_successor(refresh, sealed, h),
                _ => None,
            };
            if let Some(pair) = pair {
                // Answered once: the sealed pair is no longer needed.
                db::spend_grace_replay(&tx, &db::hash(refresh))?;
                db::audit(&tx, "refresh.grace_replay", &device_id.to_string());
                tx.commit()?;
                return Ok(Json(pair.body()).into_response());
            }
        }
        // A rotated refresh token came back outside the grace rule: someone holds a copy. Revoke the whole pairing.
        db::revoke_device_for_replay(&tx, device_id, now)?;
        db::audit(&tx, "refresh.replay", &device_id.to_string());
        db::notify(&tx, agent_id, "Un jeton de l'assistant a été réutilisé : l'assistant a été révoqué par sécurité.");
        tx.commit()?;
        st.drop_device_channels(agent_id, Some(device_id));
        return Ok(oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "refresh token reused: pairing revoked"));
    }
    let pair = issue_tokens(&tx, &st.cfg, device_id)?;
    let sealed = seal_successor(refresh, &pair);
    db::mark_refresh_used(&tx, &db::hash(refresh), now, &db::hash(&pair.refresh), sealed.as_deref())?;
    tx.commit()?;
    Ok(Json(pair.body()).into_response())
}

/// RFC 7009: revoking any token of a pairing revokes the pairing. Always 200.
pub(super) async fn revoke(
    State(st): State<AppState>,
    form: Result<Form<HashMap<String, String>>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "form-encoded body expected");
    };
    if let Some(tok) = form.get("token") {
        let conn = st.db();
        let device = db::device_of_token(&conn, &db::hash(tok)).ok().flatten();
        if let Some((device_id, agent_id)) = device {
            let _ = db::revoke_device(&conn, device_id, db::now());
            db::audit(&conn, "device.revoked", &device_id.to_string());
            drop(conn);
            st.drop_device_channels(agent_id, Some(device_id));
        }
    }
    StatusCode::OK.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair() -> Issued {
        Issued { access: "sbx_at_a".into(), refresh: "sbx_rt_b".into(), access_expires_at: 42 }
    }

    #[test]
    fn token_and_error_bodies_are_on_the_wire_as_before() {
        let p = Issued { access_expires_at: db::now() + 60, ..pair() };
        let body = serde_json::to_value(p.body()).unwrap_or_default();
        assert_eq!(body["expires_in"].as_i64().map(|e| (59..=60).contains(&e)), Some(true));
        assert_eq!(
            body,
            json!({"access_token":"sbx_at_a","token_type":"Bearer","expires_in":body["expires_in"],
                   "refresh_token":"sbx_rt_b","scope":"assistant"})
        );
        let e = serde_json::to_value(OAuthError { error: "slow_down", error_description: "poll less often" });
        assert_eq!(e.unwrap_or_default(), json!({"error":"slow_down","error_description":"poll less often"}));
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
}

//! Agent API (pages): session cookie, CSRF header, same origin.

use super::*;

pub(super) fn agent_guard(st: &AppState, headers: &HeaderMap) -> Result<Session, Problem> {
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
    let chosen = db::chosen_relay_device(&st.db(), agent_id).ok().flatten();
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
pub fn assistants_view(st: &AppState, agent_id: i64) -> AssistantsView {
    let live = st.live_devices(agent_id);
    let answering = answering(st, agent_id);
    let now = db::now();
    let rows = db::paired_devices(&st.db(), agent_id).unwrap_or_default();
    let assistants: Vec<AssistantView> = rows
        .into_iter()
        .map(|d| {
            let online = live.contains(&d.id);
            AssistantView {
                id: d.id,
                name: d.name,
                os: d.os,
                addr: d.addr,
                last_seen: if online { Some(now) } else { d.last_seen },
                connected: online,
                answering: answering == Some(d.id),
            }
        })
        .collect();
    let connected = answering.is_some_and(|a| live.contains(&a));
    AssistantsView {
        connected,
        label: if connected { "Connecté" } else { "Déconnecté" },
        answering,
        choice_needed: answering.is_none() && live.len() > 1,
        assistants,
    }
}

/// The agent's assistants as `/agent/api/etat` answers (docs/portal-api.yaml).
#[derive(Serialize)]
pub struct AssistantsView {
    pub connected: bool,
    pub label: &'static str,
    /// null when no assistant answers
    pub answering: Option<i64>,
    pub choice_needed: bool,
    pub assistants: Vec<AssistantView>,
}

/// One paired assistant in [`AssistantsView`].
#[derive(Serialize)]
pub struct AssistantView {
    pub id: i64,
    pub name: String,
    pub os: String,
    pub addr: String,
    /// null when never seen
    pub last_seen: Option<i64>,
    pub connected: bool,
    pub answering: bool,
}

pub(super) async fn agent_state(
    State(st): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<AssistantsView>, Problem> {
    let s = agent_guard(&st, &headers)?;
    Ok(Json(assistants_view(&st, s.agent_id)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ChooseAssistant {
    pub(super) id: i64,
}

/// The agent picks the assistant that answers the page (one of their paired, not revoked assistants).
pub(super) async fn agent_choose_assistant(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<ChooseAssistant>, JsonRejection>,
) -> Result<Json<AssistantsView>, Problem> {
    let s = agent_guard(&st, &headers)?;
    let r = parse_json(body)?;
    {
        let conn = st.db();
        if !db::choose_relay_device(&conn, s.agent_id, r.id)? {
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
pub(super) async fn agent_confirm(
    st: &AppState,
    headers: &HeaderMap,
    id: i64,
    expected: &str,
) -> Result<Json<Confirmed>, Problem> {
    let s = agent_guard(st, headers)?;
    let conn = st.db();
    let status = db::bicle_status(&conn, id, s.agent_id)?;
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
        Ok(Json(Confirmed { id, confirmed: if expected == "a_confirmer" { "ajout" } else { "suppression" } }))
    } else {
        Err(Problem::new(StatusCode::NOT_FOUND, "bicle.nothing_to_confirm", "Rien à confirmer pour ce bi-clé."))
    }
}

/// The answer to a confirmation: which action was confirmed (`ajout` or `suppression`).
#[derive(Serialize)]
pub(super) struct Confirmed {
    id: i64,
    confirmed: &'static str,
}

pub(super) async fn agent_confirm_add(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Result<Json<Confirmed>, Problem> {
    agent_confirm(&st, &headers, id, "a_confirmer").await
}

pub(super) async fn agent_confirm_removal(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Result<Json<Confirmed>, Problem> {
    agent_confirm(&st, &headers, id, "suppression_a_confirmer").await
}

pub(super) async fn agent_delete(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Result<Json<Deleted>, Problem> {
    let s = agent_guard(&st, &headers)?;
    let conn = st.db();
    if !db::delete_agent_bicle(&conn, id, s.agent_id)? {
        return Err(Problem::new(StatusCode::NOT_FOUND, "bicle.not_found", "Ce bi-clé n'existe pas."));
    }
    db::audit(&conn, "bicle.deleted", &id.to_string());
    Ok(Json(Deleted { id, deleted: true }))
}

#[derive(Serialize)]
pub(super) struct Deleted {
    id: i64,
    deleted: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Rename {
    pub(super) designation: String,
}

pub(super) async fn agent_rename(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    body: Result<Json<Rename>, JsonRejection>,
) -> Result<Json<Renamed>, Problem> {
    let s = agent_guard(&st, &headers)?;
    let r = parse_json(body)?;
    let d = r.designation.trim();
    if !valid_designation(d) {
        return Err(Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "bicle.bad_designation", "Désignation invalide."));
    }
    let conn = st.db();
    if !db::rename_bicle(&conn, id, s.agent_id, d)? {
        return Err(Problem::new(StatusCode::NOT_FOUND, "bicle.not_found", "Ce bi-clé n'existe pas."));
    }
    Ok(Json(Renamed { id, designation: d.to_string() }))
}

#[derive(Serialize)]
pub(super) struct Renamed {
    id: i64,
    designation: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RelayReq {
    pub(super) op: String,
    /// Free-form: each operation has its own parameters, passed to the assistant as they are (only
    /// `get_certificate`'s `sha256` is read here, and then re-sent alone).
    #[serde(default)]
    pub(super) params: Value,
    /// The assistant the page shows as answering; refused when it is no longer the one that answers.
    #[serde(default)]
    pub(super) assistant: Option<i64>,
}

/// A lowercase 64-hex SHA-256, or None.
pub(super) fn sha256_param(v: &Value) -> Option<String> {
    let s = v.as_str()?.trim().to_ascii_lowercase();
    (s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())).then_some(s)
}

/// Page → portal → assistant. The request goes to the assistant that answers for the agent; the portal keeps the
/// answer under the request id (returned as `id`), and the page later refers to that id to register the
/// certificate. For `get_certificate`, a certificate whose SHA-256 differs from the one asked for is refused here.
pub(super) async fn agent_relay(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<RelayReq>, JsonRejection>,
) -> Result<Json<RelayAnswer>, Problem> {
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
        let listed = db::offered_lists(&conn, s.agent_id, device_id, db::now())
            .unwrap_or_default()
            .iter()
            .any(|o| serde_json::from_str::<Vec<String>>(o).map(|v| v.contains(&sha)).unwrap_or(false));
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
    db::insert_relay(
        &st.db(),
        &db::NewRelay {
            id_hash: &db::hash(&id),
            agent_id: s.agent_id,
            device_id,
            op: &r.op,
            selected_sha256: selected.as_deref(),
            from_list,
            created_at: now,
            expires_at: now + db::RELAY_TTL,
        },
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
        db::answer_relay(&conn, &db::hash(&id), db::now(), stored_ok, offered.as_deref(), certificate.as_deref())?;
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
    let device_name = db::device_name(&st.db(), device_id).unwrap_or_default();
    Ok(Json(RelayAnswer {
        id,
        assistant: RelayAssistant { id: device_id, name: device_name },
        ok: reply["ok"].clone(),
        result: reply["result"].clone(),
        error: reply["error"].clone(),
    }))
}

/// The answer to a relayed request.
#[derive(Serialize)]
pub(super) struct RelayAnswer {
    id: String,
    assistant: RelayAssistant,
    /// The assistant's reply, passed through as the channel delivered it: `ok` (a boolean), and `result` / `error`
    /// (free-form: each operation has its own result, each assistant its own error details; null when absent).
    ok: Value,
    result: Value,
    error: Value,
}

#[derive(Serialize)]
pub(super) struct RelayAssistant {
    id: i64,
    name: String,
}

pub(super) async fn agent_revoke(State(st): State<AppState>, headers: HeaderMap) -> Result<Json<Revoked>, Problem> {
    let s = agent_guard(&st, &headers)?;
    let n = {
        let conn = st.db();
        db::revoke_devices(&conn, s.agent_id).map_err(Problem::internal)?
    };
    st.drop_device_channels(s.agent_id, None);
    Ok(Json(Revoked { revoked: n }))
}

#[derive(Serialize)]
pub(super) struct Revoked {
    revoked: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_64_hex_digits_are_a_fingerprint() {
        assert_eq!(sha256_param(&json!("AB".repeat(32))), Some("ab".repeat(32)));
        for bad in [json!("ab"), json!("../../etc/passwd"), json!("zz".repeat(32)), json!(12), json!(null)] {
            assert_eq!(sha256_param(&bad), None, "{bad}");
        }
    }
}

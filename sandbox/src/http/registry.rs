//! Bi-clé registry: the certificate facts the portal reads itself, the bi-clé rows, and the registry routes
//! shared by the assistant API and the agent pages.

use super::*;

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
pub(super) struct PageAdd {
    pub(super) designation: String,
    #[serde(default)]
    pub(super) relay: Option<String>,
    pub(super) kinds: Vec<String>,
    /// Refused with a clear message when present (a page never posts a certificate it received).
    // Any JSON at all: only its presence matters.
    #[serde(default)]
    pub(super) certificate: Option<Value>,
}

/// A bi-clé's designation ("Prénom Nom 2025"), trimmed: 1 to 100 characters, no control character.
pub(super) fn valid_designation(d: &str) -> bool {
    !d.is_empty() && d.chars().count() <= 100 && !d.chars().any(char::is_control)
}

pub(super) fn validate_add(designation: &str, kinds_in: &[String]) -> Result<Vec<&'static str>, Problem> {
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

/// A list of bi-clés, as every registry route answers (docs/portal-api.yaml).
#[derive(Serialize, Deserialize)]
pub struct Bicles {
    pub bicles: Vec<db::BicleRow>,
}

pub fn list_bicles(conn: &Connection, agent_id: i64) -> Result<Vec<db::BicleRow>, Problem> {
    Ok(db::bicles_of_agent(conn, agent_id)?)
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
pub fn insert_bicles(conn: &mut Connection, reg: Registration<'_>) -> Result<Bicles, Problem> {
    let Registration { agent_id, designation, kinds, facts, status, added_by, device_id, idempotency, relay_hash } =
        reg;
    let designation = designation.trim();
    let tx = conn.transaction()?;
    if let (Some(key), Some(dev)) = (idempotency, device_id) {
        let prev = db::idempotent_response(&tx, dev, key)?;
        if let Some(prev) = prev {
            return serde_json::from_str(&prev).map_err(Problem::internal);
        }
    }
    if let Some(h) = &relay_hash {
        if !db::use_relay(&tx, h, db::now())? {
            return Err(relay_used());
        }
    }
    let mut ids = Vec::new();
    for kind in &kinds {
        if db::bicle_exists(&tx, agent_id, kind, &facts.sha256)? {
            return Err(Problem::new(
                StatusCode::CONFLICT,
                "bicle.exists",
                format!("Ce certificat est déjà enregistré comme bi-clé {}.", kind_fr(kind)),
            ));
        }
        let id = db::insert_bicle(
            &tx,
            &db::NewBicle {
                agent_id,
                kind,
                designation,
                cn: &facts.cn,
                issuer: &facts.issuer,
                serial: &facts.serial,
                not_after: &facts.not_after,
                sha256: &facts.sha256,
                certificate: &facts.pem,
                status,
                added_by: &added_by,
                device_id,
                created_at: db::now(),
            },
        )?;
        ids.push(id);
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
    let body = Bicles { bicles: db::bicles_by_ids(&tx, &ids)? };
    if let (Some(key), Some(dev)) = (idempotency, device_id) {
        let response = serde_json::to_string(&body).map_err(Problem::internal)?;
        db::store_idempotent_response(&tx, dev, key, &response)?;
    }
    db::audit(&tx, "bicle.added", &format!("{ids:?} by {added_by}"));
    tx.commit()?;
    Ok(body)
}

pub(super) fn kind_fr(kind: &str) -> &'static str {
    if kind == "backup" {
        "de secours"
    } else {
        "personnel"
    }
}

pub(super) fn parse_json<T: serde::de::DeserializeOwned>(body: Result<Json<T>, JsonRejection>) -> Result<T, Problem> {
    body.map(|Json(v)| v).map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Problem::new(StatusCode::PAYLOAD_TOO_LARGE, "request.too_large", "Requête trop volumineuse.")
        } else {
            Problem::bad_request("request.malformed", format!("Requête JSON invalide : {}", e.body_text()))
        }
    })
}

/// Who lists bi-clés: the paired assistant (bearer token) or the logged-in agent on the portal page (session).
pub(super) enum Caller {
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
pub(super) trait Guard {
    fn caller(st: &AppState, headers: &HeaderMap) -> Result<Caller, Problem>;
}

/// The assistant API: bearer token.
pub(super) struct Assistant;

impl Guard for Assistant {
    fn caller(st: &AppState, headers: &HeaderMap) -> Result<Caller, Problem> {
        bearer(st, headers).map(Caller::Assistant)
    }
}

/// The agent API behind the portal pages: session cookie, CSRF header, same origin.
pub(super) struct AgentPage;

impl Guard for AgentPage {
    fn caller(st: &AppState, headers: &HeaderMap) -> Result<Caller, Problem> {
        agent_guard(st, headers).map(Caller::Agent)
    }
}

pub(super) async fn list_bicles_route<G: Guard>(
    State(st): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Bicles>, Problem> {
    let caller = G::caller(&st, &headers)?;
    let conn = st.db();
    Ok(Json(Bicles { bicles: list_bicles(&conn, caller.agent_id())? }))
}

/// The assistant adds a certificate it holds: always "à confirmer" by the agent on the portal page.
pub(super) async fn assistant_add_bicles(
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

pub(super) fn relay_used() -> Problem {
    Problem::new(
        StatusCode::CONFLICT,
        "relay.used",
        "Cette réponse de l'assistant a déjà servi : recommencez l'ajout depuis le début.",
    )
}

/// The agent registers the certificate of a relayed request (`relay`: its id). The certificate is the one the portal
/// kept from the assistant's answer, already checked against the agent's selection; it is active at once only when
/// the agent chose it on this page from the same assistant's own list, otherwise it waits for confirmation.
pub(super) async fn agent_add_bicles(
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
    let row = db::relay_of_agent(&st.db(), &relay_hash, s.agent_id)?;
    let Some(db::RelayRow { op, ok, certificate, used_at, expires_at, from_list, device_id, device_name }) = row else {
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

pub(super) async fn delete_bicle_api(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Result<Json<RemovalStatus>, Problem> {
    let d = bearer(&st, &headers)?;
    let conn = st.db();
    let status = db::bicle_status(&conn, id, d.agent_id)?;
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
            db::delete_bicle(&conn, id)?;
            "supprime"
        }
        Some(_) => {
            db::request_bicle_removal(&conn, id)?;
            "suppression_a_confirmer"
        }
    };
    db::notify(&conn, d.agent_id, &format!("Suppression du bi-clé {id} demandée par l'assistant {}", d.name));
    db::audit(&conn, "bicle.remove", &id.to_string());
    Ok(Json(RemovalStatus { id, status: new_status }))
}

/// The answer to an assistant's removal request.
#[derive(Serialize)]
pub(super) struct RemovalStatus {
    id: i64,
    status: &'static str,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuer_and_serial_are_reported_as_the_core_reports_them() {
        let pem = include_str!("../../../tests/fixtures/fixture-leaf.pem");
        let facts = parse_certificate(pem).unwrap_or_else(|e| panic!("{}", e.detail));
        // `openssl x509 -noout -issuer -serial -nameopt RFC2253` on the fixture
        assert_eq!(facts.issuer, "CN=Fixture CA,O=Trousseau Fixtures,C=LU");
        assert_eq!(facts.serial, "0a0b0c");
        let core = &trousseau::cert::read_certificates(pem.as_bytes()).unwrap()[0];
        assert_eq!((facts.issuer.as_str(), facts.serial.as_str()), (core.issuer.as_str(), core.serial.as_str()));
    }
}

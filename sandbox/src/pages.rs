//! The agent's pages, in French, modelled on the portal's screens: test-agent login, "Clés de chiffrement" with the
//! personal and backup tables and the assistant's live state, the "Ajouter un bi-clé" wizard, and the pairing page
//! where the agent checks and approves a device code.

use axum::extract::{ConnectInfo, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Router};
use rusqlite::{params, OptionalExtension};
use serde::Deserialize;
use std::collections::HashMap;
use std::net::SocketAddr;

use crate::db;
use crate::state::{random_token, AppState};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/cles") }))
        .route("/login", get(login_page).post(login))
        .route("/logout", axum::routing::post(logout))
        .route("/cles", get(keys_page))
        .route("/cles/ajouter", get(add_page))
        .route("/appairage", get(pairing_page).post(pairing_decide))
        .route("/static/portail.js", get(|| async { static_file("text/javascript; charset=utf-8", PORTAL_JS) }))
        .route("/static/portail.css", get(|| async { static_file("text/css; charset=utf-8", PORTAL_CSS) }))
}

/// The pages' only script and style sheet: served by the sandbox itself, so the Content-Security-Policy needs no
/// `'unsafe-inline'`.
const PORTAL_JS: &str = include_str!("../static/portail.js");
const PORTAL_CSS: &str = include_str!("../static/portail.css");

fn static_file(content_type: &'static str, body: &'static str) -> Response {
    let mut r = body.into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

/// Every response: scripts, styles, connections and form targets from this portal only, no inline script or
/// style, no framing; the browser does not guess content types nor send the page address elsewhere.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; \
form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

pub async fn security_headers(req: Request, next: Next) -> Response {
    let mut r = next.run(req).await;
    let h = r.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    r
}

/// True when `host` (a Host header value) names this portal: the listen address, a loopback name at any port (a
/// loopback name cannot be made to point at an attacker, and local proxies and tunnels keep working), or one of the
/// configured hosts. Anything else is a foreign name — typically DNS rebinding — and gets 421.
pub fn host_allowed(st: &AppState, host: &str) -> bool {
    let host = host.trim().to_ascii_lowercase();
    if host.is_empty() || host.len() > 255 || !host.bytes().all(|b| b.is_ascii_graphic()) {
        return false;
    }
    if host == st.cfg.listen.to_string() || st.cfg.allowed_hosts.contains(&host) {
        return true;
    }
    let name = match host.rsplit_once(':') {
        // "[::1]:8750", "127.0.0.1:8750", "localhost:8750" (a bare "[::1]" has its colons inside the brackets)
        Some((name, port)) if !name.is_empty() && !port.contains(']') && port.bytes().all(|b| b.is_ascii_digit()) => {
            name
        }
        _ => host.as_str(),
    };
    matches!(name, "127.0.0.1" | "localhost" | "[::1]")
}

pub async fn host_guard(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let host = req.headers().get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("");
    if !host_allowed(&st, host) {
        tracing::warn!("request refused: foreign Host {host:?}");
        return (
            StatusCode::MISDIRECTED_REQUEST,
            "Ce portail ne répond pas à ce nom d'hôte (421) : utilisez son adresse habituelle.",
        )
            .into_response();
    }
    next.run(req).await
}

/// The origin the pages are served from: the configured public origin, else `http://` + the (allowed) Host.
pub fn page_origin(st: &AppState, headers: &HeaderMap) -> String {
    if let Some(o) = &st.cfg.public_origin {
        return o.clone();
    }
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("127.0.0.1");
    format!("http://{}", host.to_ascii_lowercase())
}

/// `https://PMP.example.lu/` → `https://pmp.example.lu` (scheme and authority only).
pub fn parse_origin(url: &str) -> anyhow::Result<String> {
    let url = url.trim().trim_end_matches('/');
    let (scheme, rest) = url.split_once("://").ok_or_else(|| anyhow::anyhow!("--public-url: {url}: no scheme"))?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "https" && scheme != "http" {
        anyhow::bail!("--public-url must be an http(s) URL, got {url}");
    }
    if rest.is_empty() || rest.contains(['/', '?', '#', '@', '\\']) || !rest.bytes().all(|b| b.is_ascii_graphic()) {
        anyhow::bail!("--public-url must be scheme://host[:port] with no path, got {url}");
    }
    Ok(format!("{scheme}://{}", rest.to_ascii_lowercase()))
}

/// Session cookies carry `Secure` when the pages are served over https.
fn secure_attr(st: &AppState) -> &'static str {
    if st.cfg.public_origin.as_deref().is_some_and(|o| o.starts_with("https://")) {
        "; Secure"
    } else {
        ""
    }
}

pub struct Session {
    pub agent_id: i64,
    pub login: String,
    pub csrf: String,
}

const COOKIE: &str = "sbx_session";

pub fn session(st: &AppState, headers: &HeaderMap) -> Option<Session> {
    let token = cookie_value(headers, COOKIE)?;
    let conn = st.db();
    conn.query_row(
        "SELECT s.agent_id, a.login, s.csrf FROM sessions s JOIN agents a ON a.id = s.agent_id
         WHERE s.token_hash = ?1 AND s.expires_at > ?2",
        params![db::hash(token), db::now()],
        |r| Ok(Session { agent_id: r.get(0)?, login: r.get(1)?, csrf: r.get(2)? }),
    )
    .optional()
    .ok()
    .flatten()
}

pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// `2026-12-31T...` → `31/12/2026`.
fn date_fr(rfc3339: &str) -> String {
    let d = rfc3339.get(..10).unwrap_or(rfc3339);
    let p: Vec<&str> = d.split('-').collect();
    if p.len() == 3 {
        format!("{}/{}/{}", p[2], p[1], p[0])
    } else {
        d.to_string()
    }
}

/// The page frame. No inline script or style: `/static/portail.js` reads `data-page` on `<body>` and builds
/// everything dynamic with `textContent`/`createElement`.
fn layout(page: &str, title: &str, session: Option<&Session>, body: &str) -> Html<String> {
    let (csrf, who) = match session {
        Some(s) => (
            esc(&s.csrf),
            format!(
                r#"<span>Agent : <strong>{}</strong></span>
<form method="post" action="/logout" class="inline"><input type="hidden" name="csrf" value="{}"><button type="submit">Se déconnecter</button></form>"#,
                esc(&s.login),
                esc(&s.csrf)
            ),
        ),
        None => (String::new(), String::new()),
    };
    let title = esc(title);
    Html(format!(
        r#"<!doctype html>
<html lang="fr"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="csrf-token" content="{csrf}">
<title>{title} — Portail des marchés publics (bac à sable)</title>
<link rel="stylesheet" href="/static/portail.css">
<script src="/static/portail.js" defer></script>
</head>
<body data-page="{page}"><header><strong>Portail des marchés publics</strong> <span>(bac à sable Trousseau)</span>
<nav><a href="/cles">Clés de chiffrement</a> · <a href="/appairage">Associer un assistant</a></nav>{who}</header>
<main id="contenu">{body}</main>
</body></html>"#
    ))
}

/// "Etat de Mon Assistant" (the answering assistant online or not) and the agent's assistants, filled and kept
/// current by the script.
fn etat_html(st: &AppState, agent_id: i64) -> String {
    let connected = crate::http::assistants_view(st, agent_id).connected;
    format!(
        r#"<p class="etat" role="status" aria-live="polite">Etat de Mon Assistant : <strong id="etat-assistant" class="{}">{}</strong></p>
<section aria-labelledby="assistants-titre"><h2 id="assistants-titre">Mes assistants</h2>
<p id="assistants-choix" class="warn" hidden></p>
<div id="assistants"></div></section>"#,
        if connected { "ok" } else { "ko" },
        if connected { "Connecté" } else { "Déconnecté" }
    )
}

fn to_login(next: &str) -> Response {
    let q: String = next
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'/' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    Redirect::to(&format!("/login?next={q}")).into_response()
}

#[derive(Deserialize)]
struct LoginQuery {
    next: Option<String>,
}

const LOGIN_CSRF_COOKIE: &str = "sbx_login_csrf";

fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    let cookies = headers.get(header::COOKIE)?.to_str().ok()?;
    cookies.split(';').filter_map(|c| c.trim().strip_prefix(name)?.strip_prefix('=')).next()
}

/// The login form carries a CSRF token bound to a cookie set with the form (double submit): a login forced by
/// another site (login CSRF) has neither.
async fn login_page(State(st): State<AppState>, Query(q): Query<LoginQuery>) -> Response {
    let next = safe_next(q.next.as_deref());
    let csrf = random_token(24);
    let mut r = layout(
        "login",
        "Connexion",
        None,
        &format!(
            r#"<h1>Connexion d'un agent de test</h1>
<form method="post" action="/login">
<input type="hidden" name="csrf" value="{}">
<input type="hidden" name="next" value="{}">
<p><label for="login">Identifiant de l'agent</label><br><input id="login" name="login" required maxlength="64" autocomplete="username"></p>
<p><button type="submit">Se connecter</button></p>
</form>
<p>Bac à sable : tout identifiant crée un agent de test.</p>"#,
            esc(&csrf),
            esc(&next)
        ),
    )
    .into_response();
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{LOGIN_CSRF_COOKIE}={csrf}; HttpOnly; SameSite=Strict; Path=/login; Max-Age=3600{}",
        secure_attr(&st)
    )) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

/// Only same-origin paths are accepted as redirect targets: `/` then not a second `/` or `\`, and no control
/// character, space or backslash anywhere (browsers drop tabs and newlines from URLs, so `/\t/evil.example` would
/// become `//evil.example`).
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.len() <= 512
                && n.starts_with('/')
                && !n.starts_with("//")
                && n.bytes().all(|b| b.is_ascii_graphic() && b != b'\\') =>
        {
            n.to_string()
        }
        _ => "/cles".to_string(),
    }
}

async fn login(State(st): State<AppState>, headers: HeaderMap, Form(form): Form<HashMap<String, String>>) -> Response {
    let sent = form.get("csrf").map(String::as_str).unwrap_or("");
    if sent.is_empty() || cookie_value(&headers, LOGIN_CSRF_COOKIE) != Some(sent) {
        return (StatusCode::FORBIDDEN, "Jeton anti-CSRF manquant ou invalide : rechargez la page de connexion.")
            .into_response();
    }
    st.purge();
    let login = form.get("login").map(|s| s.trim().to_string()).unwrap_or_default();
    let conn = st.db();
    let Ok(agent_id) = db::agent_id(&conn, &login) else {
        return (StatusCode::BAD_REQUEST, "Identifiant invalide (1 à 64 caractères).").into_response();
    };
    let token = random_token(32);
    let csrf = random_token(24);
    if conn
        .execute(
            "INSERT INTO sessions(token_hash, agent_id, csrf, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![db::hash(&token), agent_id, csrf, db::now(), db::now() + 8 * 3600],
        )
        .is_err()
    {
        return (StatusCode::INTERNAL_SERVER_ERROR, "Erreur interne").into_response();
    }
    let mut r = Redirect::to(&safe_next(form.get("next").map(String::as_str))).into_response();
    let secure = secure_attr(&st);
    if let Ok(v) = HeaderValue::from_str(&format!("{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/{secure}")) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("{LOGIN_CSRF_COOKIE}=; Max-Age=0; Path=/login{secure}")) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

async fn logout(State(st): State<AppState>, headers: HeaderMap, Form(form): Form<HashMap<String, String>>) -> Response {
    let Some(s) = session(&st, &headers) else { return Redirect::to("/login").into_response() };
    if form.get("csrf") != Some(&s.csrf) {
        return (StatusCode::FORBIDDEN, "Jeton anti-CSRF invalide.").into_response();
    }
    {
        let conn = st.db();
        let _ = conn.execute("DELETE FROM sessions WHERE agent_id = ?1 AND csrf = ?2", params![s.agent_id, s.csrf]);
    }
    let mut r = Redirect::to("/login").into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("{COOKIE}=; Max-Age=0; Path=/{}", secure_attr(&st))) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

/// First 16 hex digits of a SHA-256, grouped by four: what the confirmation shows to compare with the assistant.
fn sha_prefix(sha: &str) -> String {
    let p: Vec<String> = sha.as_bytes().chunks(4).take(4).map(|c| String::from_utf8_lossy(c).to_uppercase()).collect();
    format!("{}…", p.join(" "))
}

async fn keys_page(State(st): State<AppState>, headers: HeaderMap) -> Response {
    let Some(s) = session(&st, &headers) else { return to_login("/cles") };
    let conn = st.db();
    let rows = crate::http::list_bicles(&conn, s.agent_id).unwrap_or_default();
    let mut notes = String::new();
    if let Ok(mut q) = conn.prepare("SELECT text FROM notifications WHERE agent_id = ?1 ORDER BY id DESC LIMIT 5") {
        if let Ok(it) = q.query_map([s.agent_id], |r| r.get::<_, String>(0)) {
            for t in it.flatten() {
                notes.push_str(&format!("<li>{}</li>", esc(&t)));
            }
        }
    }
    drop(conn);
    let table = |kind: &str| {
        let mut t = String::from(
            "<table><thead><tr><th scope=col>Nom du bi-clé</th><th scope=col>Champ CN</th><th scope=col>Date d'expiration</th><th scope=col>Statut</th><th scope=col>Modifier</th><th scope=col>Supprimer</th></tr></thead><tbody>",
        );
        let mut n = 0;
        for r in rows.iter().filter(|r| r.kind == kind) {
            n += 1;
            let id = r.id;
            let status = r.status.as_str();
            let issuer = esc(&r.issuer);
            let sha = esc(&sha_prefix(&r.sha256));
            let device = esc(r.device_name.as_deref().unwrap_or("(aucun assistant)"));
            let details = format!(
                r#"<br><small>Émetteur : <span class="emetteur">{issuer}</span><br>SHA-256 : <span class="empreinte">{sha}</span><br>Ajouté par l'assistant : <span class="appareil">{device}</span></small>"#
            );
            let status_html = match status {
                "actif" => "Actif".to_string(),
                "a_confirmer" => format!(
                    r#"<strong>À confirmer</strong>{details}<br><button type="button" data-action="confirmer-ajout" data-id="{id}">Confirmer l'ajout…</button>"#
                ),
                _ => format!(
                    r#"<strong>Suppression à confirmer</strong>{details}<br><button type="button" data-action="confirmer-suppression" data-id="{id}">Confirmer la suppression…</button>"#
                ),
            };
            let name = esc(&r.designation);
            t.push_str(&format!(
                r#"<tr data-id="{id}" data-status="{}"><td class="designation">{name}</td><td>{}</td><td>{}</td><td>{status_html}</td>
<td><button type="button" data-action="modifier" data-id="{id}" aria-label="Modifier {name}">Modifier</button></td>
<td><button type="button" data-action="supprimer" data-id="{id}" aria-label="Supprimer {name}">Supprimer</button></td></tr>"#,
                esc(status),
                esc(&r.cn),
                esc(&date_fr(&r.not_after)),
            ));
        }
        if n == 0 {
            t.push_str("<tr><td colspan=6>Aucun bi-clé.</td></tr>");
        }
        t.push_str("</tbody></table>");
        t
    };
    let body = format!(
        r#"<h1>Clés de chiffrement</h1>
{etat}
<p><a href="/cles/ajouter">Ajouter un bi-clé</a></p>
<div id="message" role="alert"></div>
<h2>Gestion des bi-clés personnels</h2>
{personal}
<h2>Gestion des bi-clés de secours</h2>
{backup}
<p>Les marchés chiffrés avec un ancien bi-clé s'ouvrent avec l'ancienne carte : gardez-la tant que ces marchés ne sont pas ouverts.</p>
<h2>Notifications</h2><ul id="notifications">{notes}</ul>
<p><button type="button" data-action="revoquer">Révoquer mes assistants</button></p>
<dialog id="confirmation" aria-labelledby="confirmation-titre">
<h2 id="confirmation-titre"></h2>
<p id="confirmation-texte"></p>
<dl><dt>Bi-clé</dt><dd id="confirmation-nom"></dd><dt>Émetteur</dt><dd id="confirmation-emetteur"></dd>
<dt>SHA-256</dt><dd id="confirmation-empreinte"></dd><dt>Ajouté par l'assistant</dt><dd id="confirmation-appareil"></dd></dl>
<p><button type="button" id="confirmation-oui"></button> <button type="button" id="confirmation-non">Annuler</button></p>
</dialog>"#,
        etat = etat_html(&st, s.agent_id),
        personal = table("personal"),
        backup = table("backup"),
    );
    layout("cles", "Clés de chiffrement", Some(&s), &body).into_response()
}

async fn add_page(State(st): State<AppState>, headers: HeaderMap) -> Response {
    let Some(s) = session(&st, &headers) else { return to_login("/cles/ajouter") };
    let body = format!(
        r#"<h1>Ajouter un bi-clé</h1>
{etat}
<p class="steps" aria-label="Étapes"><span id="s1" class="current">1</span> — <span id="s2">2</span> — <span id="s3">3</span></p>
<div id="message" role="alert"></div>
<section id="etape1"><h2>1. Désignation</h2>
<p><label for="designation">Désignation du bi-clé</label><br><input id="designation" placeholder="Prénom Nom AAAA" maxlength="100" required></p>
<p><input type="checkbox" id="secours"> <label for="secours">Définir comme bi-clé de secours</label></p>
<p><button type="button" id="suivant1">SUIVANT</button></p></section>
<section id="etape2" hidden><h2>2. Mode</h2>
<fieldset><legend>Comment obtenir le bi-clé ?</legend>
<p><input type="radio" name="mode" id="mode-generer" value="generer"> <label for="mode-generer">Générer un nouveau bi-clé sur mon poste</label></p>
<p><input type="radio" name="mode" id="mode-referencer" value="referencer" checked> <label for="mode-referencer">Référencer sur mon poste un bi-clé déjà existant</label></p>
</fieldset>
<p><button type="button" id="suivant2">SUIVANT</button></p></section>
<section id="etape3" hidden><h2>3. Bi-clé</h2>
<p id="repondant"></p>
<div id="liste"></div>
<p><button type="button" id="valider">SUIVANT</button></p></section>"#,
        etat = etat_html(&st, s.agent_id)
    );
    layout("ajouter", "Ajouter un bi-clé", Some(&s), &body).into_response()
}

#[derive(Deserialize)]
struct PairQuery {
    code: Option<String>,
}

async fn pairing_page(
    State(st): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(q): Query<PairQuery>,
) -> Response {
    let Some(s) = session(&st, &headers) else {
        let next = match &q.code {
            Some(c) => format!("/appairage?code={}", db::normalise_user_code(c)),
            None => "/appairage".into(),
        };
        return to_login(&next);
    };
    let form = r#"<form method="get" action="/appairage"><p><label for="code">Code affiché par l'assistant</label><br>
<input id="code" name="code" autocomplete="off" maxlength="12" required></p><p><button type="submit">Vérifier</button></p></form>"#;
    let body = match q.code.as_deref().map(db::normalise_user_code) {
        None => format!("<h1>Associer un assistant</h1>{form}"),
        Some(_) if st.code_attempts_exhausted(s.agent_id) => format!(
            "<h1>Associer un assistant</h1><p class=warn role=alert id=trop-essais>Trop de codes erronés : attendez 10 minutes avant de réessayer. Si vous n'avez pas lancé d'association, quelqu'un essaie peut-être de deviner un code.</p>{form}"
        ),
        Some(code) => {
            let conn = st.db();
            let row = conn
                .query_row(
                    "SELECT client_name, client_os, client_addr, created_at FROM device_codes
                     WHERE user_code = ?1 AND status = 'pending' AND expires_at > ?2",
                    params![code, db::now()],
                    |r| {
                        Ok((
                            r.get::<_, String>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, String>(2)?,
                            r.get::<_, i64>(3)?,
                        ))
                    },
                )
                .optional()
                .ok()
                .flatten();
            if row.is_none() {
                st.record_wrong_code(s.agent_id);
            }
            match row {
                None => format!(
                    "<h1>Associer un assistant</h1><p class=warn role=alert>Code inconnu, déjà utilisé ou expiré : relancez l'association depuis l'assistant.</p>{form}"
                ),
                Some((name, os, client_addr, created)) => {
                    let browser = addr.ip().to_string();
                    let warn = if browser != client_addr {
                        format!(
                            "<p class=warn role=alert>Attention : cette demande vient de l'adresse {} alors que votre navigateur est à l'adresse {}. Si vous n'avez pas lancé vous-même l'association sur ce poste, refusez : quelqu'un essaie peut-être d'obtenir l'accès à vos bi-clés.</p>",
                            esc(&client_addr),
                            esc(&browser)
                        )
                    } else {
                        String::new()
                    };
                    let when = time::OffsetDateTime::from_unix_timestamp(created)
                        .map(|t| {
                            format!(
                                "{:02}/{:02}/{} {:02}:{:02}:{:02} UTC",
                                t.day(),
                                u8::from(t.month()),
                                t.year(),
                                t.hour(),
                                t.minute(),
                                t.second()
                            )
                        })
                        .unwrap_or_default();
                    let ago = (db::now() - created).max(0) / 60;
                    format!(
                        r#"<h1>Associer un assistant</h1>
<p>N'approuvez que si vous venez de lancer l'association sur votre poste et que le code affiché par l'assistant est <strong>{code}</strong>.</p>
{warn}
<table><tbody>
<tr><th scope=row>Nom de l'assistant</th><td id="client-name">{}</td></tr>
<tr><th scope=row>Système</th><td id="client-os">{}</td></tr>
<tr><th scope=row>Adresse</th><td id="client-addr">{}</td></tr>
<tr><th scope=row>Demandé le</th><td id="client-time">{when} (il y a {ago} min)</td></tr>
</tbody></table>
<form method="post" action="/appairage">
<input type="hidden" name="csrf" value="{}"><input type="hidden" name="code" value="{code}">
<button type="submit" name="decision" value="approuver">Approuver</button>
<button type="submit" name="decision" value="refuser">Refuser</button>
</form>"#,
                        esc(&name),
                        esc(&os),
                        esc(&client_addr),
                        esc(&s.csrf),
                    )
                }
            }
        }
    };
    layout("appairage", "Associer un assistant", Some(&s), &body).into_response()
}

async fn pairing_decide(
    State(st): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let Some(s) = session(&st, &headers) else { return to_login("/appairage") };
    if form.get("csrf") != Some(&s.csrf) {
        return (StatusCode::FORBIDDEN, "Jeton anti-CSRF invalide.").into_response();
    }
    let code = form.get("code").cloned().unwrap_or_default();
    if st.code_attempts_exhausted(s.agent_id) {
        return (StatusCode::TOO_MANY_REQUESTS, "Trop de codes erronés : attendez 10 minutes.").into_response();
    }
    let conn = st.db();
    let text = match form.get("decision").map(String::as_str) {
        Some("approuver") => match db::approve(&conn, &code, s.agent_id) {
            Ok(true) => "Assistant associé. Il se connecte dans quelques secondes.",
            _ => {
                st.record_wrong_code(s.agent_id);
                "Code inconnu, déjà utilisé ou expiré : relancez l'association depuis l'assistant."
            }
        },
        _ => {
            let _ = db::deny(&conn, &code);
            "Association refusée."
        }
    };
    drop(conn);
    layout(
        "appairage",
        "Associer un assistant",
        Some(&s),
        &format!(r#"<h1>Associer un assistant</h1><p role="status">{text}</p><p><a href="/cles">Retour aux clés de chiffrement</a></p>"#),
    )
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_redirects_only_to_same_origin_paths() {
        for bad in [
            "/\t/evil.example",
            "/\n/evil.example",
            "//evil",
            "/\\evil",
            "\\/evil",
            "https://evil",
            "evil",
            "/ok/../\\x",
            "/a b",
            "",
        ] {
            assert_eq!(safe_next(Some(bad)), "/cles", "{bad:?} accepted");
        }
        assert_eq!(safe_next(None), "/cles");
        assert_eq!(safe_next(Some("/appairage?code=BCDF-GHJK")), "/appairage?code=BCDF-GHJK");
    }

    #[test]
    fn public_url_is_reduced_to_its_origin() {
        assert_eq!(parse_origin("https://PMP.example.lu/").unwrap(), "https://pmp.example.lu");
        assert_eq!(parse_origin("http://127.0.0.1:8750").unwrap(), "http://127.0.0.1:8750");
        for bad in ["pmp.example.lu", "ftp://x", "https://x/path", "https://u@x", "https://"] {
            assert!(parse_origin(bad).is_err(), "{bad}");
        }
    }
}

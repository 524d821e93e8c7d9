//! The agent's pages, in French, modelled on the portal's screens: test-agent login, "Clés de chiffrement" with the
//! personal and backup tables and the assistant's live state, the "Ajouter un bi-clé" wizard, and the pairing page
//! where the agent checks and approves a device code.

use axum::extract::{ConnectInfo, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
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
}

pub struct Session {
    pub agent_id: i64,
    pub login: String,
    pub csrf: String,
}

const COOKIE: &str = "sbx_session";

pub fn session(st: &AppState, headers: &HeaderMap) -> Option<Session> {
    let cookies = headers.get(header::COOKIE)?.to_str().ok()?;
    let token = cookies.split(';').filter_map(|c| c.trim().strip_prefix("sbx_session=")).next()?;
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

fn layout(title: &str, session: Option<&Session>, body: &str) -> Html<String> {
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
    Html(format!(
        r#"<!doctype html>
<html lang="fr"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="csrf-token" content="{csrf}">
<title>{title} — Portail des marchés publics (bac à sable)</title>
<style>
body{{font-family:system-ui,sans-serif;margin:0;color:#1a1a1a;background:#fff;line-height:1.5}}
header{{background:#00325a;color:#fff;padding:.6rem 1.2rem;display:flex;gap:1rem;align-items:center;flex-wrap:wrap}}
header a{{color:#fff}} main{{padding:1rem 1.2rem;max-width:64rem}}
table{{border-collapse:collapse;width:100%;margin:.5rem 0 1.5rem}} th,td{{border:1px solid #767676;padding:.35rem .5rem;text-align:left}}
th{{background:#e8eef4}} .inline{{display:inline}} button,input[type=submit]{{font:inherit;padding:.3rem .8rem}}
.etat{{font-size:1.1rem;margin:.5rem 0 1rem}} .ok{{color:#0a6b2d}} .ko{{color:#a4000f}}
.warn{{background:#fff3cd;border:1px solid #8a6d00;padding:.6rem;margin:.8rem 0}}
.steps{{font-weight:bold;letter-spacing:.1rem}} .current{{text-decoration:underline}}
:focus{{outline:3px solid #0b5fff;outline-offset:2px}}
</style></head>
<body><header><strong>Portail des marchés publics</strong> <span>(bac à sable Trousseau)</span>
<nav><a href="/cles">Clés de chiffrement</a> · <a href="/appairage">Associer un assistant</a></nav>{who}</header>
<main id="contenu">{body}</main>
<script>
const CSRF = document.querySelector('meta[name=csrf-token]').content;
async function api(method, path, body) {{
  const r = await fetch(path, {{method, headers: {{'Content-Type':'application/json','X-CSRF-Token':CSRF}},
    body: body === undefined ? undefined : JSON.stringify(body)}});
  const j = await r.json().catch(() => ({{}}));
  if (!r.ok) throw new Error(j.detail || ('Erreur ' + r.status));
  return j;
}}
async function majEtat() {{
  const el = document.getElementById('etat-assistant');
  if (!el) return;
  try {{
    const e = await api('GET', '/agent/api/etat');
    el.textContent = e.label; el.className = e.connected ? 'ok' : 'ko';
  }} catch (_) {{ el.textContent = 'Déconnecté'; el.className = 'ko'; }}
}}
if (CSRF) {{ majEtat(); setInterval(majEtat, 1000); }}
</script>
</body></html>"#
    ))
}

fn etat_html(st: &AppState, agent_id: i64) -> String {
    let connected = !st.live(agent_id).is_empty();
    format!(
        r#"<p class="etat" role="status" aria-live="polite">Etat de Mon Assistant : <strong id="etat-assistant" class="{}">{}</strong></p>"#,
        if connected { "ok" } else { "ko" },
        if connected { "Connecté" } else { "Déconnecté" }
    )
}

fn to_login(next: &str) -> Response {
    Redirect::to(&format!("/login?next={}", next)).into_response()
}

#[derive(Deserialize)]
struct LoginQuery {
    next: Option<String>,
}

async fn login_page(Query(q): Query<LoginQuery>) -> Html<String> {
    let next = safe_next(q.next.as_deref());
    layout(
        "Connexion",
        None,
        &format!(
            r#"<h1>Connexion d'un agent de test</h1>
<form method="post" action="/login">
<input type="hidden" name="next" value="{}">
<p><label for="login">Identifiant de l'agent</label><br><input id="login" name="login" required maxlength="64" autocomplete="username"></p>
<p><button type="submit">Se connecter</button></p>
</form>
<p>Bac à sable : tout identifiant crée un agent de test.</p>"#,
            esc(&next)
        ),
    )
}

/// Only local paths are accepted as redirect targets.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.to_string(),
        _ => "/cles".to_string(),
    }
}

async fn login(State(st): State<AppState>, Form(form): Form<HashMap<String, String>>) -> Response {
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
    if let Ok(v) = HeaderValue::from_str(&format!("{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/")) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

async fn logout(State(st): State<AppState>, headers: HeaderMap, Form(form): Form<HashMap<String, String>>) -> Response {
    if let Some(s) = session(&st, &headers) {
        if form.get("csrf") == Some(&s.csrf) {
            let conn = st.db();
            let _ = conn.execute("DELETE FROM sessions WHERE agent_id = ?1 AND csrf = ?2", params![s.agent_id, s.csrf]);
        }
    }
    let mut r = Redirect::to("/login").into_response();
    r.headers_mut().insert(header::SET_COOKIE, HeaderValue::from_static("sbx_session=; Max-Age=0; Path=/"));
    r
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
        for r in rows.iter().filter(|r| r["kind"] == kind) {
            n += 1;
            let id = r["id"].as_i64().unwrap_or(0);
            let status = r["status"].as_str().unwrap_or("");
            let status_html = match status {
                "actif" => "Actif".to_string(),
                "a_confirmer" => {
                    format!(r#"À confirmer <button type="button" onclick="confirmer({id})">Confirmer l'ajout</button>"#)
                }
                _ => format!(
                    r#"Suppression à confirmer <button type="button" onclick="confirmer({id})">Confirmer la suppression</button>"#
                ),
            };
            let name = esc(r["designation"].as_str().unwrap_or(""));
            t.push_str(&format!(
                r#"<tr data-id="{id}"><td>{name}</td><td>{}</td><td>{}</td><td>{status_html}</td>
<td><button type="button" onclick="modifier({id})" aria-label="Modifier {name}">Modifier</button></td>
<td><button type="button" onclick="supprimer({id})" aria-label="Supprimer {name}">Supprimer</button></td></tr>"#,
                esc(r["cn"].as_str().unwrap_or("")),
                date_fr(r["not_after"].as_str().unwrap_or("")),
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
<h2>Gestion des bi-clés personnels</h2>
{personal}
<h2>Gestion des bi-clés de secours</h2>
{backup}
<p>Les marchés chiffrés avec un ancien bi-clé s'ouvrent avec l'ancienne carte : gardez-la tant que ces marchés ne sont pas ouverts.</p>
<h2>Notifications</h2><ul id="notifications">{notes}</ul>
<p><button type="button" onclick="revoquer()">Révoquer mes assistants</button></p>
<script>
async function confirmer(id) {{ try {{ await api('POST', '/agent/api/bicles/' + id + '/confirmer'); location.reload(); }} catch (e) {{ alert(e.message); }} }}
async function supprimer(id) {{ if (!confirm('Supprimer ce bi-clé ?')) return; try {{ await api('POST', '/agent/api/bicles/' + id + '/supprimer'); location.reload(); }} catch (e) {{ alert(e.message); }} }}
async function modifier(id) {{ const d = prompt('Nouvelle désignation (Prénom Nom AAAA)'); if (!d) return; try {{ await api('POST', '/agent/api/bicles/' + id + '/modifier', {{designation: d}}); location.reload(); }} catch (e) {{ alert(e.message); }} }}
async function revoquer() {{ if (!confirm('Révoquer tous vos assistants ?')) return; await api('POST', '/agent/api/revoquer'); location.reload(); }}
</script>"#,
        etat = etat_html(&st, s.agent_id),
        personal = table("personal"),
        backup = table("backup"),
    );
    layout("Clés de chiffrement", Some(&s), &body).into_response()
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
<div id="liste"></div>
<p><button type="button" id="valider">SUIVANT</button></p></section>
<script>
let certs = [];
function montrer(n) {{ for (const i of [1,2,3]) {{ document.getElementById('etape'+i).hidden = i !== n; document.getElementById('s'+i).className = i === n ? 'current' : ''; }} }}
function msg(t) {{ document.getElementById('message').textContent = t; }}
function kinds() {{ return [document.getElementById('secours').checked ? 'backup' : 'personal']; }}
document.getElementById('suivant1').onclick = () => {{
  if (!document.getElementById('designation').value.trim()) {{ msg('Indiquez une désignation, par exemple « Prénom Nom 2025 ».'); return; }}
  msg(''); montrer(2);
}};
document.getElementById('suivant2').onclick = async () => {{
  montrer(3);
  const liste = document.getElementById('liste');
  if (document.getElementById('mode-generer').checked) {{
    liste.innerHTML = '<p>Un nouveau bi-clé RSA 2048 sera créé sur votre poste et importé dans son magasin de certificats. Confirmez dans la fenêtre de Trousseau.</p>';
    return;
  }}
  liste.textContent = 'Recherche des bi-clés de votre poste…';
  try {{
    const r = await api('POST', '/agent/api/relais', {{op: 'list_certificates', params: {{}}}});
    if (!r.ok) throw new Error(r.error && r.error.message || 'Erreur de l\'assistant');
    certs = r.result.certificates || [];
    let h = '<table><caption>Bi-clés disponibles sur le poste</caption><thead><tr><th scope=col>Choix</th><th scope=col>Nom</th><th scope=col>Émetteur</th><th scope=col>Date d\'expiration</th></tr></thead><tbody>';
    certs.forEach((c, i) => {{
      const exp = (c.not_after || '').slice(0, 10).split('-').reverse().join('/');
      h += '<tr><td><input type="radio" name="cert" id="cert' + i + '" value="' + i + '"' + (i === 0 ? ' checked' : '') + '></td><td><label for="cert' + i + '"></label></td><td></td><td>' + exp + '</td></tr>';
    }});
    h += '</tbody></table>';
    liste.innerHTML = certs.length ? h : '<p>Aucun certificat de chiffrement sur ce poste.</p>';
    const rows = liste.querySelectorAll('tbody tr');
    certs.forEach((c, i) => {{ rows[i].children[1].firstChild.textContent = c.subject_cn || c.subject; rows[i].children[2].textContent = c.issuer_cn || c.issuer; }});
  }} catch (e) {{ liste.textContent = e.message; }}
}};
document.getElementById('valider').onclick = async () => {{
  const designation = document.getElementById('designation').value.trim();
  try {{
    let pem;
    if (document.getElementById('mode-generer').checked) {{
      msg('Confirmez la génération dans la fenêtre de Trousseau…');
      const r = await api('POST', '/agent/api/relais', {{op: 'generate_bicle', params: {{designation}}}});
      if (!r.ok) throw new Error(r.error && r.error.message || 'Génération refusée');
      pem = r.result.certificate;
    }} else {{
      const sel = document.querySelector('input[name=cert]:checked');
      if (!sel) {{ msg('Choisissez un bi-clé.'); return; }}
      const r = await api('POST', '/agent/api/relais', {{op: 'get_certificate', params: {{sha256: certs[+sel.value].sha256}}}});
      if (!r.ok) throw new Error(r.error && r.error.message || 'Certificat introuvable');
      pem = r.result.certificate;
    }}
    await api('POST', '/agent/api/bicles', {{designation, certificate: pem, kinds: kinds()}});
    msg('Bi-clé enregistré.');
    location.href = '/cles';
  }} catch (e) {{ msg(e.message); }}
}};
</script>"#,
        etat = etat_html(&st, s.agent_id)
    );
    layout("Ajouter un bi-clé", Some(&s), &body).into_response()
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
    layout("Associer un assistant", Some(&s), &body).into_response()
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
        "Associer un assistant",
        Some(&s),
        &format!(r#"<h1>Associer un assistant</h1><p role="status">{text}</p><p><a href="/cles">Retour aux clés de chiffrement</a></p>"#),
    )
    .into_response()
}

//! Routes: OAuth 2.0 device pairing (RFC 8628) and revocation (RFC 7009), the assistant API (bearer tokens: channel
//! and registry), and the agent's JSON API used by the pages (session cookie + CSRF token + same origin).

use axum::extract::rejection::{FormRejection, JsonRejection};
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use rusqlite::Connection;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::sync::mpsc;

use crate::db;
use crate::pages::{self, Session};
use crate::state::{bearer, device_revoked, random_token, AppState, Device, Problem};

mod agent;
mod channel;
mod oauth;
mod registry;

pub use self::agent::*;
use self::channel::*;
use self::oauth::*;
pub use self::registry::*;

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

/// The `/healthz` answer.
#[derive(Serialize)]
struct Health<'a> {
    status: &'static str,
    portal: &'a str,
    channels: usize,
    rejected_messages: u64,
}

async fn health(State(st): State<AppState>) -> Response {
    Json(Health {
        status: "ok",
        portal: &st.cfg.portal_name,
        channels: st.total_channels(),
        rejected_messages: st.rejected.load(std::sync::atomic::Ordering::Relaxed),
    })
    .into_response()
}

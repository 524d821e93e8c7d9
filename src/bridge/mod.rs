//! Optional loopback bridge for portal pages that call the assistant directly (off unless configured). The portal
//! channel is the normal path; the bridge exists for portals that cannot relay. Because any web page can try to
//! reach 127.0.0.1, every request must pass, in order:
//! 1. `Host` is a loopback name with our port (defeats DNS rebinding: `evil.example` resolving to 127.0.0.1);
//! 2. `Origin` is present and exactly one of the configured origins (no `*`, no `null`, no prefix match);
//! 3. only then are CORS and Chrome's Private/Local Network Access preflights answered;
//! 4. the request goes to the same [`RelayHandler`] as the portal channel, so generating a bi-clé still needs the
//!    user's confirmation in the assistant's window.

use axum::body::{to_bytes, Body};
use axum::http::{header, HeaderMap, HeaderValue, Method, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::Arc;

use crate::i18n::{Coded, Lang};
use crate::portal::{is_loopback_host, relay_deadline, BridgeConfig, RelayHandler, Via};

/// Largest request body accepted.
pub const MAX_BODY: usize = 64 * 1024;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BridgeError {
    #[error("cannot listen on 127.0.0.1:{port}: {source}")]
    Bind { port: u16, source: std::io::Error },
    #[error("bridge origin {origin:?} is not an exact origin")]
    BadOrigin { origin: String },
}

impl Coded for BridgeError {
    fn code(&self) -> &'static str {
        match self {
            BridgeError::Bind { .. } => "bridge.bind",
            BridgeError::BadOrigin { .. } => "bridge.bad_origin",
        }
    }
    fn message(&self, lang: Lang) -> String {
        match self {
            BridgeError::Bind { port, source } => lang.pick3(
                format!("Le pont local ne peut pas écouter sur 127.0.0.1:{port} ({source}) : un autre programme utilise ce port ; changez « bridge.port » dans la configuration."),
                format!("The local bridge cannot listen on 127.0.0.1:{port} ({source}): another program uses this port; change \"bridge.port\" in the configuration."),
                format!("Die lokale Brücke kann nicht auf 127.0.0.1:{port} lauschen ({source}): Ein anderes Programm verwendet diesen Port; ändern Sie „bridge.port“ in der Konfiguration."),
            ),
            BridgeError::BadOrigin { origin } => lang.pick3(
                format!("Origine « {origin} » refusée dans la configuration du pont : indiquez une origine exacte (https://hôte[:port]), sans « * »."),
                format!("Origin \"{origin}\" refused in the bridge configuration: give an exact origin (https://host[:port]), no \"*\"."),
                format!("Ursprung „{origin}“ in der Konfiguration der Brücke abgelehnt: Geben Sie einen genauen Ursprung an (https://host[:port]), ohne „*“."),
            ),
        }
    }
}

/// A running bridge.
pub struct BridgeHandle {
    addr: SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl BridgeHandle {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
    pub async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

struct Bridge {
    port: u16,
    origins: Vec<String>,
    handler: Arc<RelayHandler>,
    portal: String,
}

/// Starts the bridge on 127.0.0.1 (port 0 picks a free port: see [`BridgeHandle::addr`]).
pub async fn start(cfg: BridgeConfig, handler: Arc<RelayHandler>, portal: &str) -> Result<BridgeHandle, BridgeError> {
    for o in &cfg.allowed_origins {
        if !crate::portal::is_exact_origin(o) {
            return Err(BridgeError::BadOrigin { origin: o.clone() });
        }
    }
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", cfg.port))
        .await
        .map_err(|source| BridgeError::Bind { port: cfg.port, source })?;
    let addr = listener.local_addr().map_err(|source| BridgeError::Bind { port: cfg.port, source })?;
    let bridge =
        Arc::new(Bridge { port: addr.port(), origins: cfg.allowed_origins, handler, portal: portal.to_string() });
    let app = axum::Router::new().fallback(move |req: Request<Body>| {
        let b = Arc::clone(&bridge);
        async move { b.handle(req).await }
    });
    let (stop, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await;
    });
    Ok(BridgeHandle { addr, stop, task })
}

fn refuse(status: StatusCode, code: &str, message: &str) -> Response {
    (status, axum::Json(json!({"ok": false, "error": {"code": code, "message": message}}))).into_response()
}

impl Bridge {
    fn host_ok(&self, headers: &HeaderMap) -> bool {
        let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else { return false };
        let (name, port) = match host.rsplit_once(':') {
            Some((n, p)) if !n.is_empty() && !p.contains(']') => (n, p.parse::<u16>().ok()),
            _ => (host, None),
        };
        is_loopback_host(name) && port == Some(self.port)
    }

    fn origin<'a>(&self, headers: &'a HeaderMap) -> Option<&'a str> {
        let all: Vec<_> = headers.get_all(header::ORIGIN).iter().collect();
        if all.len() != 1 {
            return None;
        }
        let o = all[0].to_str().ok()?;
        self.origins.iter().any(|a| a == o).then_some(o)
    }

    async fn handle(&self, req: Request<Body>) -> Response {
        let headers = req.headers().clone();
        if !self.host_ok(&headers) {
            return refuse(StatusCode::MISDIRECTED_REQUEST, "bridge.host", "Host must be a loopback name");
        }
        let Some(origin) = self.origin(&headers) else {
            return refuse(StatusCode::FORBIDDEN, "bridge.origin", "Origin missing or not allowed");
        };
        let cors = |mut r: Response| {
            if let Ok(v) = HeaderValue::from_str(origin) {
                r.headers_mut().insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
            }
            r.headers_mut().insert(header::VARY, HeaderValue::from_static("Origin"));
            r
        };
        let method = req.method().clone();
        let path = req.uri().path().to_string();
        if method == Method::OPTIONS {
            let mut r = StatusCode::NO_CONTENT.into_response();
            let h = r.headers_mut();
            h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("GET, POST"));
            h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static("content-type"));
            h.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
            // Chrome's Private Network Access (and its successor, Local Network Access) preflights
            if headers.get("access-control-request-private-network").is_some() {
                h.insert("access-control-allow-private-network", HeaderValue::from_static("true"));
            }
            if headers.get("access-control-request-local-network").is_some() {
                h.insert("access-control-allow-local-network", HeaderValue::from_static("true"));
            }
            return cors(r);
        }
        match (method, path.as_str()) {
            (Method::GET, "/v1/status") => cors(
                axum::Json(
                    json!({"assistant": "trousseau", "version": env!("CARGO_PKG_VERSION"), "portal": self.portal}),
                )
                .into_response(),
            ),
            (Method::POST, "/v1/request") => {
                let json_ct = headers
                    .get(header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .map(|v| v.starts_with("application/json"))
                    .unwrap_or(false);
                if !json_ct {
                    return cors(refuse(
                        StatusCode::UNSUPPORTED_MEDIA_TYPE,
                        "bridge.content_type",
                        "application/json expected",
                    ));
                }
                let Ok(bytes) = to_bytes(req.into_body(), MAX_BODY).await else {
                    return cors(refuse(StatusCode::PAYLOAD_TOO_LARGE, "bridge.too_large", "request too large"));
                };
                let Ok(v) = serde_json::from_slice::<Value>(&bytes) else {
                    return cors(refuse(StatusCode::BAD_REQUEST, "bridge.malformed", "malformed JSON"));
                };
                let Some(op) = v["op"].as_str() else {
                    return cors(refuse(StatusCode::BAD_REQUEST, "bridge.malformed", "op missing"));
                };
                let params = v.get("params").cloned().unwrap_or(Value::Null);
                match self.handler.handle(op, &params, Via::Bridge(origin.to_string()), relay_deadline(None)).await {
                    Ok(result) => cors(axum::Json(json!({"ok": true, "result": result})).into_response()),
                    Err(e) => cors(
                        (StatusCode::UNPROCESSABLE_ENTITY, axum::Json(json!({"ok": false, "error": e})))
                            .into_response(),
                    ),
                }
            }
            _ => cors(refuse(StatusCode::NOT_FOUND, "bridge.not_found", "no such route")),
        }
    }
}

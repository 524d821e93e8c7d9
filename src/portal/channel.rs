//! The outbound channel: the assistant connects *out* to its portal (WebSocket over HTTPS, or plain HTTP for a
//! loopback sandbox), answers relayed requests, sends heartbeats, and reconnects with exponential backoff when the
//! portal goes away. Every state change is published: a `watch` holds the current state (what the tray shows),
//! a `broadcast` carries each transition.

use futures_util::{SinkExt, StreamExt};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, watch};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

use super::config::is_loopback_host;
use super::{PortalError, RelayHandler, Session, Via};
use crate::i18n::Lang;

/// The channel's state, as the tray and `portal status` show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ChannelEvent {
    Connecting,
    Connected {
        portal: String,
        agent: String,
    },
    Disconnected {
        reason: String,
        retry_in_ms: u64,
    },
    /// The portal no longer accepts this assistant: pair again. The channel stops.
    Revoked,
    Stopped,
}

impl ChannelEvent {
    pub fn is_connected(&self) -> bool {
        matches!(self, ChannelEvent::Connected { .. })
    }

    /// "Connecté — PMP" / "Déconnecté", in the user's language.
    pub fn label(&self, lang: Lang) -> String {
        match self {
            ChannelEvent::Connected { portal, .. } => lang.pick3(
                format!("Connecté — {portal}"),
                format!("Connected — {portal}"),
                format!("Verbunden — {portal}"),
            ),
            ChannelEvent::Revoked => lang.pick3(
                "Déconnecté — association révoquée",
                "Disconnected — pairing revoked",
                "Getrennt — Kopplung widerrufen",
            ),
            _ => lang.pick3("Déconnecté", "Disconnected", "Getrennt"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct ChannelOptions {
    pub backoff_min: Duration,
    /// Longest wait between attempts; `None`: 1 s for a loopback portal, 15 s otherwise.
    pub backoff_max: Option<Duration>,
}

impl Default for ChannelOptions {
    fn default() -> Self {
        ChannelOptions { backoff_min: Duration::from_millis(100), backoff_max: None }
    }
}

/// A running channel. Dropping it does not stop the task: call [`ChannelHandle::stop`].
pub struct ChannelHandle {
    state: watch::Receiver<ChannelEvent>,
    events: broadcast::Sender<ChannelEvent>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl ChannelHandle {
    /// The current state (changes are awaited with `changed()`).
    pub fn state(&self) -> watch::Receiver<ChannelEvent> {
        self.state.clone()
    }

    /// Every transition from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<ChannelEvent> {
        self.events.subscribe()
    }

    /// Waits until the state satisfies `f` or `timeout` passes; returns whether it did.
    pub async fn wait_for(&self, timeout: Duration, f: impl Fn(&ChannelEvent) -> bool) -> bool {
        let mut rx = self.state.clone();
        tokio::time::timeout(timeout, async {
            loop {
                if f(&rx.borrow_and_update()) {
                    return true;
                }
                if rx.changed().await.is_err() {
                    return false;
                }
            }
        })
        .await
        .unwrap_or(false)
    }

    /// Closes the channel cleanly and waits for the task to end.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

/// Starts the channel task on the current tokio runtime.
pub fn spawn_channel(session: Arc<Session>, handler: Arc<RelayHandler>, options: ChannelOptions) -> ChannelHandle {
    let (state_tx, state_rx) = watch::channel(ChannelEvent::Connecting);
    let (events, _) = broadcast::channel(64);
    let (stop_tx, stop_rx) = watch::channel(false);
    let publisher = Publisher { state: state_tx, events: events.clone() };
    let task = tokio::spawn(run(session, handler, options, publisher, stop_rx));
    ChannelHandle { state: state_rx, events, stop: stop_tx, task }
}

struct Publisher {
    state: watch::Sender<ChannelEvent>,
    events: broadcast::Sender<ChannelEvent>,
}

impl Publisher {
    fn publish(&self, e: ChannelEvent) {
        if *self.state.borrow() != e {
            let _ = self.events.send(e.clone());
            self.state.send_replace(e);
        }
    }
}

enum Ended {
    /// Was connected, then the connection ended.
    Dropped(String),
    /// Could not connect.
    Failed(String),
    Revoked,
    Stopped,
}

async fn run(
    session: Arc<Session>,
    handler: Arc<RelayHandler>,
    options: ChannelOptions,
    publisher: Publisher,
    mut stop: watch::Receiver<bool>,
) {
    let loopback =
        reqwest::Url::parse(session.base_url()).ok().and_then(|u| u.host_str().map(is_loopback_host)).unwrap_or(false);
    let max = options.backoff_max.unwrap_or(if loopback { Duration::from_secs(1) } else { Duration::from_secs(15) });
    let mut backoff = options.backoff_min;
    loop {
        if *stop.borrow() {
            break;
        }
        let reason = match connect_once(&session, &handler, &publisher, &mut stop).await {
            Ended::Stopped => break,
            Ended::Revoked => {
                publisher.publish(ChannelEvent::Revoked);
                return;
            }
            Ended::Dropped(r) => {
                backoff = options.backoff_min;
                r
            }
            Ended::Failed(r) => r,
        };
        // a little jitter so a thousand assistants do not come back in lockstep
        let jitter = Duration::from_millis(rand::random::<u64>() % (backoff.as_millis() as u64 / 4 + 1));
        let wait = backoff + jitter;
        publisher.publish(ChannelEvent::Disconnected { reason, retry_in_ms: wait.as_millis() as u64 });
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.changed() => break,
        }
        backoff = (backoff * 2).min(max);
    }
    publisher.publish(ChannelEvent::Stopped);
}

fn ws_url(base: &str) -> String {
    let url = if let Some(rest) = base.strip_prefix("https://") {
        format!("wss://{rest}")
    } else if let Some(rest) = base.strip_prefix("http://") {
        format!("ws://{rest}")
    } else {
        base.to_string()
    };
    format!("{url}/api/v1/channel")
}

async fn connect_once(
    session: &Arc<Session>,
    handler: &Arc<RelayHandler>,
    publisher: &Publisher,
    stop: &mut watch::Receiver<bool>,
) -> Ended {
    let token = match session.access_token().await {
        Ok(t) => t,
        Err(PortalError::TokenRejected) => return Ended::Revoked,
        Err(e) => return Ended::Failed(e.to_string()),
    };
    let mut req = match ws_url(session.base_url()).into_client_request() {
        Ok(r) => r,
        Err(e) => return Ended::Failed(e.to_string()),
    };
    match format!("Bearer {}", token.as_str()).parse() {
        Ok(v) => {
            req.headers_mut().insert("authorization", v);
        }
        Err(_) => return Ended::Failed("token is not a valid header".into()),
    }
    let connect = tokio_tungstenite::connect_async(req);
    let ws = tokio::select! {
        r = tokio::time::timeout(Duration::from_secs(10), connect) => r,
        _ = stop.changed() => return Ended::Stopped,
    };
    let ws = match ws {
        Err(_) => return Ended::Failed("connection timed out".into()),
        Ok(Err(tokio_tungstenite::tungstenite::Error::Http(resp))) if resp.status() == 401 => {
            // expired access token: refresh, or stop if the portal revoked us
            return match session.renew_rejected(&token).await {
                Ok(()) => Ended::Failed("token refreshed".into()),
                Err(PortalError::TokenRejected) => Ended::Revoked,
                Err(e) => Ended::Failed(e.to_string()),
            };
        }
        Ok(Err(e)) => return Ended::Failed(e.to_string()),
        Ok(Ok((ws, _))) => ws,
    };
    let (mut sink, mut stream) = ws.split();
    // the portal speaks first
    let hello = match tokio::time::timeout(Duration::from_secs(5), stream.next()).await {
        Ok(Some(Ok(Message::Text(t)))) => serde_json::from_str::<Value>(t.as_str()).unwrap_or(Value::Null),
        _ => return Ended::Failed("no hello from the portal".into()),
    };
    if hello["type"] != "hello" {
        return Ended::Failed("unexpected first message".into());
    }
    let heartbeat = Duration::from_secs(hello["heartbeat_interval"].as_u64().unwrap_or(10).clamp(1, 300));
    publisher.publish(ChannelEvent::Connected {
        portal: session.portal_name().to_string(),
        agent: hello["agent"].as_str().unwrap_or("").to_string(),
    });
    let (out_tx, mut out_rx) = mpsc::channel::<String>(64);
    let mut ticker = tokio::time::interval(heartbeat);
    ticker.tick().await;
    let mut last_seen = tokio::time::Instant::now();
    loop {
        tokio::select! {
            _ = stop.changed() => {
                let _ = sink.send(Message::Close(None)).await;
                return Ended::Stopped;
            }
            _ = ticker.tick() => {
                if last_seen.elapsed() > heartbeat * 3 {
                    return Ended::Dropped("heartbeat timeout".into());
                }
                if sink.send(Message::text(json!({"type": "heartbeat"}).to_string())).await.is_err() {
                    return Ended::Dropped("send failed".into());
                }
            }
            Some(out) = out_rx.recv() => {
                if sink.send(Message::text(out)).await.is_err() {
                    return Ended::Dropped("send failed".into());
                }
            }
            msg = stream.next() => {
                let msg = match msg {
                    Some(Ok(m)) => m,
                    Some(Err(e)) => return Ended::Dropped(e.to_string()),
                    None => return Ended::Dropped("closed by the portal".into()),
                };
                last_seen = tokio::time::Instant::now();
                match msg {
                    Message::Text(t) => {
                        if let Some((id, op, params, timeout_ms)) = parse_request(t.as_str()) {
                            let handler = Arc::clone(handler);
                            let out = out_tx.clone();
                            let deadline = super::relay::relay_deadline(timeout_ms);
                            tokio::spawn(async move {
                                let reply = match handler.handle(&op, &params, Via::Channel, deadline).await {
                                    Ok(result) => json!({"type": "reply", "id": id, "ok": true, "result": result}),
                                    Err(e) => json!({"type": "reply", "id": id, "ok": false, "error": e}),
                                };
                                let _ = out.send(reply.to_string()).await;
                            });
                        }
                    }
                    Message::Close(_) => return Ended::Dropped("closed by the portal".into()),
                    _ => {}
                }
            }
        }
    }
}

/// `{"type":"request","id","op","params","timeout_ms"?}` → (id, op, params, timeout_ms); anything else is ignored.
/// `timeout_ms` is how long the portal waits for the reply: nothing is executed after it.
fn parse_request(text: &str) -> Option<(String, String, Value, Option<u64>)> {
    let v: Value = serde_json::from_str(text).ok()?;
    if v["type"] != "request" {
        return None;
    }
    let id = v["id"].as_str().filter(|s| !s.is_empty() && s.len() <= 64)?.to_string();
    let op = v["op"].as_str().filter(|s| s.len() <= 64)?.to_string();
    Some((id, op, v.get("params").cloned().unwrap_or(Value::Null), v["timeout_ms"].as_u64()))
}

fn state_file() -> Option<std::path::PathBuf> {
    crate::paths::data_dir().ok().map(|d| d.join("portal-channel.json"))
}

/// Records the channel state of this process (`portal run`, the desktop app) so that other processes
/// (`trousseau status`, `portal status`) can show it. `None` removes the record (channel stopped).
pub fn publish_state(event: Option<&ChannelEvent>) {
    let Some(f) = state_file() else { return };
    match event {
        Some(ev) => {
            let text = json!({"pid": std::process::id(), "event": ev}).to_string();
            // Best effort: other processes then show the state they saw last.
            let _ = crate::fsutil::write_atomic(&f, text.as_bytes(), crate::fsutil::Access::Private);
        }
        None => {
            let _ = std::fs::remove_file(f);
        }
    }
}

/// The channel state last published by a process that is still running, if any.
pub fn published_state() -> Option<ChannelEvent> {
    let text = std::fs::read_to_string(state_file()?).ok()?;
    let v: Value = serde_json::from_str(&text).ok()?;
    let pid = v["pid"].as_u64()?;
    if cfg!(target_os = "linux") && !std::path::Path::new(&format!("/proc/{pid}")).exists() {
        return None;
    }
    serde_json::from_value(v["event"].clone()).ok()
}

#[cfg(test)]
mod tests {
    /// wss:// builds its rustls configuration (process crypto provider, native roots) without panicking: a TLS
    /// handshake against a plain TCP listener fails as an ordinary error.
    #[test]
    fn wss_fails_cleanly_against_a_non_tls_listener() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            use std::io::Write;
            if let Ok((mut s, _)) = listener.accept() {
                let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n");
            }
        });
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let r = rt.block_on(tokio_tungstenite::connect_async(format!("wss://127.0.0.1:{port}/api/v1/channel")));
        assert!(r.is_err());
    }
}

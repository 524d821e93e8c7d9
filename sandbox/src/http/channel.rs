//! Assistant API (bearer): who the assistant is (`/api/v1/me`) and its WebSocket channel.

use super::*;

/// The `/api/v1/me` answer.
#[derive(Serialize)]
pub(super) struct Me {
    portal: String,
    agent: String,
    device_id: i64,
    device_name: String,
}

pub(super) async fn me(State(st): State<AppState>, headers: HeaderMap) -> Result<Json<Me>, Problem> {
    let d = bearer(&st, &headers)?;
    Ok(Json(Me {
        portal: st.cfg.portal_name.clone(),
        agent: d.agent_login,
        device_id: d.device_id,
        device_name: d.name,
    }))
}

/// The first message on the channel.
#[derive(Serialize)]
#[serde(tag = "type", rename = "hello")]
pub(super) struct Hello<'a> {
    portal: &'a str,
    agent: &'a str,
    device_id: i64,
    heartbeat_interval: u64,
}

/// The assistant channel. Assistants never send `Origin`; a request carrying one comes from a browser page and is
/// refused (cross-site WebSocket hijacking).
pub(super) async fn channel(
    State(st): State<AppState>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Result<Response, Problem> {
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

pub(super) async fn run_channel(st: AppState, device: Device, mut socket: WebSocket) {
    let (tx, mut rx) = mpsc::channel::<String>(256);
    let hello = serde_json::to_string(&Hello {
        portal: &st.cfg.portal_name,
        agent: &device.agent_login,
        device_id: device.device_id,
        heartbeat_interval: st.cfg.heartbeat_interval,
    })
    .unwrap_or_default();
    if socket.send(Message::Text(hello.into())).await.is_err() {
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
pub(super) fn seen(st: &AppState, device_id: i64) {
    let _ = db::set_device_last_seen(&st.db(), device_id, db::now());
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub(super) enum FromAssistant {
    Heartbeat,
    Reply {
        id: String,
        ok: bool,
        // Free-form: the result of whatever operation was relayed, passed through to the page untouched.
        #[serde(default)]
        result: Option<Value>,
        // Free-form: the assistant's error object, passed through to the page untouched.
        #[serde(default)]
        error: Option<Value>,
    },
}

/// Returns false when the message must be refused (the channel is then closed).
pub(super) async fn handle_channel_message(st: &AppState, device: &Device, text: &str, socket: &mut WebSocket) -> bool {
    let Ok(msg) = serde_json::from_str::<FromAssistant>(text) else {
        return false;
    };
    match msg {
        FromAssistant::Heartbeat => {
            let _ = socket.send(Message::Text(r#"{"type":"heartbeat_ack"}"#.into())).await;
            true
        }
        FromAssistant::Reply { id, ok, result, error } => {
            let reply = json!({ "ok": ok, "result": result, "error": error });
            st.deliver(device.device_id, &id, reply)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hello_is_on_the_wire_as_documented() {
        let hello = Hello { portal: "P", agent: "a", device_id: 1, heartbeat_interval: 10 };
        assert_eq!(
            serde_json::to_value(&hello).unwrap_or_default(),
            json!({"type":"hello","portal":"P","agent":"a","device_id":1,"heartbeat_interval":10})
        );
    }
}

//! The loopback bridge: exact Origin allowlist, loopback Host only (DNS rebinding), Private/Local Network Access
//! preflight, and the same confirmation rule as the portal channel. Requests are written as raw HTTP so that the
//! hostile headers (Host, several Origins) go on the wire exactly as an attacker's page or a rebinding DNS name
//! would send them.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use trousseau::bridge;
use trousseau::portal::{BridgeConfig, NeverConfirm, RelayHandler, SystemWorkstation};
use trousseau::Lang;

use crate::support::{nss, Home};

const ORIGIN: &str = "https://pmp.example.lu";

/// Sends a raw request; returns (status, headers+body as text).
async fn raw(port: u16, request: String) -> (u16, String) {
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.expect("connect");
    s.write_all(request.as_bytes()).await.expect("write");
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut buf)).await;
    let text = String::from_utf8_lossy(&buf).to_string();
    let status = text.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    (status, text)
}

fn req(method: &str, path: &str, headers: &[String], body: &str) -> String {
    let mut r = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\n");
    for h in headers {
        r.push_str(h);
        r.push_str("\r\n");
    }
    if !body.is_empty() || method == "POST" {
        r.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    r.push_str("\r\n");
    r.push_str(body);
    r
}

fn setup() -> (Home, tokio::runtime::Runtime) {
    let home = Home::new();
    nss::create_db(&home.file("nssdb"));
    std::env::set_var("TROUSSEAU_NSSDB", home.file("nssdb"));
    std::env::set_var("TROUSSEAU_PKCS11_SYSTEM", "0");
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    (home, rt)
}

async fn start() -> (bridge::BridgeHandle, Arc<RelayHandler>) {
    let handler = Arc::new(RelayHandler::new(
        Arc::new(SystemWorkstation { lang: Lang::Fr }),
        Arc::new(NeverConfirm),
        "PMP",
        Lang::Fr,
    ));
    let b = bridge::start(BridgeConfig { port: 0, allowed_origins: vec![ORIGIN.into()] }, Arc::clone(&handler), "PMP")
        .await
        .expect("bridge");
    (b, handler)
}

#[test]
fn allowed_origin_gets_cors_preflight_and_answers() {
    let (_home, rt) = setup();
    rt.block_on(async {
        let (b, handler) = start().await;
        let port = b.addr().port();
        assert!(b.addr().ip().is_loopback());
        let host = format!("Host: 127.0.0.1:{port}");
        let (st, text) = raw(
            port,
            req(
                "OPTIONS",
                "/v1/request",
                &[
                    host.clone(),
                    format!("Origin: {ORIGIN}"),
                    "Access-Control-Request-Method: POST".into(),
                    "Access-Control-Request-Private-Network: true".into(),
                    "Access-Control-Request-Local-Network: true".into(),
                ],
                "",
            ),
        )
        .await;
        assert_eq!(st, 204, "{text}");
        let lower = text.to_ascii_lowercase();
        assert!(lower.contains(&format!("access-control-allow-origin: {ORIGIN}")));
        assert!(lower.contains("access-control-allow-private-network: true"));
        assert!(lower.contains("access-control-allow-local-network: true"));
        assert!(!lower.contains("access-control-allow-origin: *"));

        let (st, text) =
            raw(port, req("GET", "/v1/status", &[format!("Host: localhost:{port}"), format!("Origin: {ORIGIN}")], ""))
                .await;
        assert_eq!(st, 200, "{text}");
        assert!(text.contains("\"assistant\":\"trousseau\""));
        let body = r#"{"op":"list_certificates","params":{}}"#;
        let (st, text) = raw(
            port,
            req(
                "POST",
                "/v1/request",
                &[host.clone(), format!("Origin: {ORIGIN}"), "Content-Type: application/json".into()],
                body,
            ),
        )
        .await;
        assert_eq!(st, 200, "{text}");
        assert!(text.contains("\"ok\":true"));
        assert_eq!(handler.executed(), 1);
        b.stop().await;
    });
}

#[test]
fn abuse_matrix_origin_host_and_bodies_execute_nothing() {
    let (home, rt) = setup();
    let keys_before = nss::key_count(&home.file("nssdb"));
    let mut cases = 0;
    rt.block_on(async {
        let (b, handler) = start().await;
        let port = b.addr().port();
        let host = format!("Host: 127.0.0.1:{port}");
        let json_ct = "Content-Type: application/json".to_string();
        let list = r#"{"op":"list_certificates","params":{}}"#;
        let origins: Vec<Vec<String>> = vec![
            vec![],
            vec!["Origin: null".into()],
            vec!["Origin: https://evil.example".into()],
            vec![format!("Origin: {ORIGIN}/")],
            vec!["Origin: http://pmp.example.lu".into()],
            vec!["Origin: https://pmp.example.lu:8443".into()],
            vec!["Origin: https://PMP.example.lu".into()],
            vec!["Origin: https://pmp.example.lu.evil.example".into()],
            vec!["Origin: https://evil.pmp.example.lu".into()],
            vec!["Origin: *".into()],
            vec!["Origin: ".into()],
            vec![format!("Origin: {ORIGIN}"), "Origin: https://evil.example".into()],
            vec![format!("Origin: {ORIGIN} https://evil.example")],
        ];
        for o in &origins {
            for method in ["POST", "OPTIONS"] {
                let mut h = vec![host.clone(), json_ct.clone()];
                h.extend(o.iter().cloned());
                if method == "OPTIONS" {
                    h.push("Access-Control-Request-Private-Network: true".into());
                }
                let (st, text) =
                    raw(port, req(method, "/v1/request", &h, if method == "POST" { list } else { "" })).await;
                assert_eq!(st, 403, "{method} {o:?}: {text}");
                assert!(!text.to_ascii_lowercase().contains("access-control-allow"), "{o:?} got CORS headers");
                cases += 1;
            }
        }
        let hosts = vec![
            None,
            Some("Host: evil.example".to_string()),
            Some(format!("Host: evil.example:{port}")),
            Some(format!("Host: 127.0.0.1.evil.example:{port}")),
            Some(format!("Host: localhost.evil.example:{port}")),
            Some("Host: 127.0.0.1".to_string()),
            Some(format!("Host: 127.0.0.1:{}", port.wrapping_add(1))),
            Some(format!("Host: 10.0.0.1:{port}")),
            Some(format!("Host: 0.0.0.0:{port}")),
            Some(format!("Host: [::1]:{}", port.wrapping_add(1))),
        ];
        for h in &hosts {
            let mut hs = vec![format!("Origin: {ORIGIN}"), json_ct.clone()];
            if let Some(h) = h {
                hs.push(h.clone());
            }
            let (st, text) = raw(port, req("POST", "/v1/request", &hs, list)).await;
            assert!(st == 421 || st == 400, "{h:?}: {text}");
            cases += 1;
        }
        let ok = vec![host.clone(), format!("Origin: {ORIGIN}")];
        let bodies: Vec<(Vec<String>, String, u16)> = vec![
            (vec!["Content-Type: text/plain".into()], list.into(), 415),
            (vec![], list.into(), 415),
            (vec![json_ct.clone()], "x".repeat(200 * 1024), 413),
            (vec![json_ct.clone()], "{not json".into(), 400),
            (vec![json_ct.clone()], r#"{"params":{}}"#.into(), 400),
            (vec![json_ct.clone()], r#"{"op":"delete_everything"}"#.into(), 422),
            (vec![json_ct.clone()], r#"{"op":"get_certificate","params":{"sha256":"zz"}}"#.into(), 422),
            (vec![json_ct.clone()], r#"{"op":"list_certificates","params":[1]}"#.into(), 422),
            (vec![json_ct.clone()], r#"{"op":"generate_bicle","params":{"designation":""}}"#.into(), 422),
            (
                vec![json_ct.clone()],
                r#"{"op":"generate_bicle","params":{"designation":"Paul Pirate 2025"}}"#.into(),
                422,
            ),
        ];
        for (extra, body, want) in bodies {
            let mut h = ok.clone();
            h.extend(extra);
            let (st, text) = raw(port, req("POST", "/v1/request", &h, &body)).await;
            assert_eq!(st, want, "{text}");
            cases += 1;
        }
        let (st, _) = raw(port, req("GET", "/v1/admin", &ok, "")).await;
        assert_eq!(st, 404);
        cases += 1;
        assert_eq!(handler.executed(), 0, "no operation executed");
        b.stop().await;

        // configuration that would open the bridge to everyone is refused
        for bad in ["*", "null", "https://pmp.example.lu/", "pmp.example.lu"] {
            let h = Arc::new(RelayHandler::new(
                Arc::new(SystemWorkstation { lang: Lang::Fr }),
                Arc::new(NeverConfirm),
                "PMP",
                Lang::Fr,
            ));
            let r = bridge::start(BridgeConfig { port: 0, allowed_origins: vec![bad.into()] }, h, "PMP").await;
            assert!(r.is_err(), "{bad} accepted");
            cases += 1;
        }
    });
    assert_eq!(nss::key_count(&home.file("nssdb")), keys_before, "no key generated");
    assert!(cases >= 50, "{cases}");
    eprintln!("bridge abuse matrix: {cases} cases refused");
}

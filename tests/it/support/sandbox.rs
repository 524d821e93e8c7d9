//! The reference portal (`trousseau-sandbox`) for the portal and bridge tests: started on a free loopback port with
//! its own SQLite file, stopped and restarted on the same port and database for the fault tests, and driven as the
//! agent would (login, pairing approval, relayed requests) through its own HTTP interface.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Path of the `trousseau-sandbox` binary (built beside `trousseau`; built on demand when a test filter skipped it).
pub fn bin() -> PathBuf {
    let dir = super::bin().parent().expect("target dir").to_path_buf();
    let path = dir.join("trousseau-sandbox");
    if !path.exists() {
        let st = Command::new(env!("CARGO"))
            .args(["build", "--locked", "-p", "trousseau-sandbox"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("cargo build trousseau-sandbox");
        assert!(st.success(), "cannot build trousseau-sandbox");
    }
    path
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

pub struct Sandbox {
    pub dir: tempfile::TempDir,
    pub db: PathBuf,
    pub port: u16,
    pub url: String,
    args: Vec<String>,
    child: Option<Child>,
    started: bool,
}

impl Sandbox {
    pub fn start() -> Sandbox {
        Sandbox::start_with(&[])
    }

    /// Starts with extra `serve` arguments (e.g. `["--access-ttl", "2"]`).
    pub fn start_with(args: &[&str]) -> Sandbox {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("portal.sqlite");
        let port = free_port();
        let mut s = Sandbox {
            dir,
            db,
            port,
            url: format!("http://127.0.0.1:{port}"),
            args: args.iter().map(|s| s.to_string()).collect(),
            child: None,
            started: false,
        };
        s.spawn();
        s
    }

    fn spawn(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let mut child = Command::new(bin())
                .args(["serve", "--listen", &format!("127.0.0.1:{}", self.port), "--db"])
                .arg(&self.db)
                .args(["--name", "PMP bac à sable"])
                .args(&self.args)
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn trousseau-sandbox");
            let mut line = String::new();
            let _ = BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line);
            if line.starts_with("listening on") {
                self.child = Some(child);
                self.started = true;
                return;
            }
            // port taken: by another test before our first start (take a new one), or still held by the previous
            // process of a restart (retry briefly)
            let _ = child.kill();
            let _ = child.wait();
            if !self.started {
                self.port = free_port();
                self.url = format!("http://127.0.0.1:{}", self.port);
            }
            assert!(Instant::now() < deadline, "sandbox did not start on port {}", self.port);
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Same port, same database.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    fn script(&self, args: &[&str]) -> std::process::Output {
        let out = Command::new(bin()).args(args).arg("--db").arg(&self.db).output().expect("sandbox script");
        assert!(out.status.success(), "trousseau-sandbox {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        out
    }

    pub fn approve(&self, user_code: &str, agent: &str) {
        self.script(&["approve", user_code, "--agent", agent]);
    }

    pub fn confirm_all(&self, agent: &str) {
        self.script(&["confirm", "--all", "--agent", agent]);
    }

    pub fn revoke(&self, agent: &str) {
        self.script(&["revoke", "--agent", agent]);
    }

    /// The sandbox's database, read with rusqlite (the second implementation of what the portal stored).
    pub fn sql(&self) -> rusqlite::Connection {
        let c = rusqlite::Connection::open(&self.db).expect("open sandbox db");
        c.busy_timeout(Duration::from_secs(5)).expect("busy timeout");
        c
    }

    pub fn count(&self, table: &str) -> i64 {
        self.sql().query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0)).expect("count")
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A logged-in agent in the sandbox's pages (session cookie + CSRF token), as the browser would be.
pub struct Agent {
    pub base: String,
    pub cookie: String,
    pub csrf: String,
    pub http: reqwest::Client,
}

impl Agent {
    pub async fn login(base: &str, login: &str) -> Agent {
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
        // the login form's CSRF token and its cookie (double submit), as the browser gets them
        let (form_csrf, csrf_cookie) = login_form(&http, base).await;
        let r = http
            .post(format!("{base}/login"))
            .header("cookie", &csrf_cookie)
            .form(&[("login", login), ("csrf", form_csrf.as_str())])
            .send()
            .await
            .expect("login");
        let cookie = r
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(|v| v.split(';').next())
            .find(|c| c.starts_with("sbx_session="))
            .expect("session cookie")
            .to_string();
        let page = http.get(format!("{base}/cles")).header("cookie", &cookie).send().await.expect("page");
        let html = page.text().await.expect("html");
        let csrf = html
            .split("name=\"csrf-token\" content=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .expect("csrf meta")
            .to_string();
        Agent { base: base.to_string(), cookie, csrf, http }
    }

    pub async fn page(&self, path: &str) -> String {
        self.http
            .get(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .send()
            .await
            .expect("page")
            .text()
            .await
            .expect("html")
    }

    /// "Connecté" / "Déconnecté" as the page's script reads it.
    pub async fn state(&self) -> String {
        let v: serde_json::Value = self
            .http
            .get(format!("{}/agent/api/etat", self.base))
            .header("cookie", &self.cookie)
            .header("x-csrf-token", &self.csrf)
            .send()
            .await
            .expect("etat")
            .json()
            .await
            .expect("json");
        v["label"].as_str().unwrap_or("").to_string()
    }

    pub async fn wait_state(&self, want: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self.state().await == want {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    }

    /// POST to the agent API; returns (status, body).
    pub async fn post(&self, path: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .header("x-csrf-token", &self.csrf)
            .json(&body)
            .send()
            .await
            .expect("post");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(serde_json::Value::Null))
    }

    /// A relayed request page → portal → assistant; returns the assistant's reply `{ok, result, error}`.
    pub async fn relay(&self, op: &str, params: serde_json::Value) -> (u16, serde_json::Value) {
        self.post("/agent/api/relais", serde_json::json!({"op": op, "params": params})).await
    }
}

/// GET /login: (the form's CSRF token, the `name=value` of the cookie it is bound to).
pub async fn login_form(http: &reqwest::Client, base: &str) -> (String, String) {
    let r = http.get(format!("{base}/login")).send().await.expect("login page");
    let cookie = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .find(|c| c.starts_with("sbx_login_csrf="))
        .expect("login CSRF cookie")
        .to_string();
    let html = r.text().await.expect("html");
    let csrf = html
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("login form CSRF field")
        .to_string();
    (csrf, cookie)
}

/// Pairs through the protocol directly (no keyring): device code, approval by script, tokens.
pub async fn pair_in_memory(sb: &Sandbox, agent: &str) -> trousseau::portal::Tokens {
    let auth = trousseau::portal::start_pairing(&sb.url, "poste-test").await.expect("device authorization");
    sb.approve(&auth.user_code, agent);
    trousseau::portal::complete_pairing(&auth).await.expect("tokens")
}

/// `trousseau portal pair` in `home`'s CLI, approved by script for `agent`; returns once paired.
pub fn pair_cli(home: &super::Home, sb: &Sandbox, agent: &str, device: &str) {
    use std::io::{BufRead, BufReader, Read};
    let mut child = home
        .cli()
        .args(["--json", "portal", "pair", &sb.url, "--device-name", device])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("pair");
    let mut reader = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    reader.read_line(&mut line).expect("first line");
    let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
    let code = v["user_code"].as_str().expect("user_code");
    assert!(v["verification_uri"].as_str().unwrap_or_default().starts_with(&sb.url));
    sb.approve(code, agent);
    let mut rest = String::new();
    reader.read_to_string(&mut rest).expect("rest");
    let out = child.wait_with_output().expect("wait");
    assert!(rest.contains("\"paired\":true"), "{rest}");
    assert!(out.status.success(), "pair failed: {}", String::from_utf8_lossy(&out.stderr));
}

//! Pairing (RFC 8628 device authorization), tokens (OS keyring, refreshed before they expire, rotated by the
//! portal) and the bi-clé registry client.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::time::Duration;
use zeroize::Zeroizing;

use super::config::check_url;
use super::PortalError;
use crate::cert::Certificate;

const CLIENT_ID: &str = "trousseau";

/// The pair of tokens a paired assistant holds. Never written to a file.
#[derive(Clone, Serialize, Deserialize)]
pub struct Tokens {
    pub access_token: String,
    pub refresh_token: String,
    /// Unix time at which the access token expires.
    pub expires_at: i64,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens").field("expires_at", &self.expires_at).finish_non_exhaustive()
    }
}

impl Drop for Tokens {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        self.access_token.zeroize();
        self.refresh_token.zeroize();
    }
}

/// Non-secret facts about the current pairing (`<config>/portal-pairing.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Pairing {
    pub name: String,
    pub url: String,
    pub agent: Option<String>,
    pub device_name: String,
    pub paired_at: String,
}

/// What the portal answered to a device authorization request: show `user_code` and `verification_uri`.
#[derive(Clone, Deserialize)]
pub struct DeviceAuthorization {
    #[serde(skip)]
    pub portal_url: String,
    #[serde(skip)]
    pub device_name: String,
    device_code: String,
    pub user_code: String,
    pub verification_uri: String,
    #[serde(default)]
    pub verification_uri_complete: Option<String>,
    pub expires_in: u64,
    #[serde(default = "default_interval")]
    pub interval: u64,
}

fn default_interval() -> u64 {
    5
}

impl std::fmt::Debug for DeviceAuthorization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceAuthorization").field("user_code", &self.user_code).finish_non_exhaustive()
    }
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(30))
        .user_agent(concat!("trousseau/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_default()
}

fn unreachable(url: &str, e: reqwest::Error) -> PortalError {
    PortalError::Unreachable { url: url.to_string(), detail: without_url(&e) }
}

fn without_url(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    if let Some(u) = e.url() {
        s = s.replace(&format!(" ({u})"), "").replace(u.as_str(), "");
    }
    let mut src = std::error::Error::source(e);
    while let Some(inner) = src {
        s.push_str(&format!(": {inner}"));
        src = inner.source();
    }
    s
}

/// Asks the portal for a device code. `device_name` is what the agent will see on the approval page.
pub async fn start_pairing(url: &str, device_name: &str) -> Result<DeviceAuthorization, PortalError> {
    let base = check_url(url)?;
    let os = format!("{} {}", std::env::consts::OS, std::env::consts::ARCH);
    let r = http()
        .post(format!("{base}/oauth/device_authorization"))
        .form(&[("client_id", CLIENT_ID), ("client_name", device_name), ("client_os", os.as_str())])
        .send()
        .await
        .map_err(|e| unreachable(&base, e))?;
    if !r.status().is_success() {
        return Err(server_error(r).await);
    }
    let mut d: DeviceAuthorization =
        r.json().await.map_err(|e| PortalError::Protocol { detail: format!("device authorization: {e}") })?;
    d.portal_url = base;
    d.device_name = device_name.to_string();
    Ok(d)
}

/// Polls the token endpoint until the agent approves (or refuses, or the code expires).
pub async fn complete_pairing(auth: &DeviceAuthorization) -> Result<Tokens, PortalError> {
    let client = http();
    let mut interval = auth.interval.max(1);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(auth.expires_in.min(900));
    loop {
        tokio::time::sleep(Duration::from_secs(interval)).await;
        if tokio::time::Instant::now() >= deadline {
            return Err(PortalError::PairingExpired);
        }
        let r = client
            .post(format!("{}/oauth/token", auth.portal_url))
            .form(&[
                ("client_id", CLIENT_ID),
                ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
                ("device_code", auth.device_code.as_str()),
            ])
            .send()
            .await;
        let r = match r {
            Ok(r) => r,
            // transient network trouble: keep polling until the code expires
            Err(_) => continue,
        };
        let status = r.status();
        let body: Value = r.json().await.unwrap_or(Value::Null);
        if status.is_success() {
            return tokens_from(&body);
        }
        match body["error"].as_str() {
            Some("authorization_pending") => {}
            Some("slow_down") => interval += 5,
            Some("access_denied") => return Err(PortalError::PairingDenied),
            Some("expired_token") => return Err(PortalError::PairingExpired),
            other => {
                return Err(PortalError::Server {
                    status: status.as_u16(),
                    code: other.unwrap_or("unknown").to_string(),
                    detail: body["error_description"].as_str().unwrap_or("").to_string(),
                })
            }
        }
    }
}

fn tokens_from(body: &Value) -> Result<Tokens, PortalError> {
    let get = |k: &str| {
        body[k].as_str().map(str::to_string).ok_or_else(|| PortalError::Protocol { detail: format!("token: no {k}") })
    };
    Ok(Tokens {
        access_token: get("access_token")?,
        refresh_token: get("refresh_token")?,
        expires_at: now() + body["expires_in"].as_i64().unwrap_or(300),
    })
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

async fn server_error(r: reqwest::Response) -> PortalError {
    let status = r.status().as_u16();
    let body: Value = r.json().await.unwrap_or(Value::Null);
    if status == 401 {
        return PortalError::TokenRejected;
    }
    PortalError::Server {
        status,
        code: body["code"].as_str().or(body["error"].as_str()).unwrap_or("unknown").to_string(),
        detail: body["detail"].as_str().or(body["error_description"].as_str()).unwrap_or("").to_string(),
    }
}

/// `personal` or `backup` ("de secours"): each kind is its own registry row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BicleKind {
    Personal,
    Backup,
}

impl BicleKind {
    pub fn as_str(self) -> &'static str {
        match self {
            BicleKind::Personal => "personal",
            BicleKind::Backup => "backup",
        }
    }
}

/// A registry row as the portal returns it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Bicle {
    pub id: i64,
    pub kind: BicleKind,
    pub designation: String,
    pub cn: String,
    pub issuer: String,
    pub serial: String,
    pub not_after: String,
    pub sha256: String,
    /// `actif`, `a_confirmer` (added by an assistant, waiting for the agent) or `suppression_a_confirmer`.
    pub status: String,
    #[serde(default)]
    pub certificate: String,
}

enum Persist {
    Keyring(String),
    Memory,
}

/// A paired assistant's authenticated connection to its portal.
pub struct Session {
    http: reqwest::Client,
    base: String,
    name: String,
    tokens: tokio::sync::Mutex<Tokens>,
    persist: Persist,
}

fn keyring_account(base: &str) -> String {
    format!("portal-tokens:{base}")
}

fn pairing_file() -> Result<PathBuf, PortalError> {
    Ok(crate::paths::config_dir()
        .map_err(|e| PortalError::Config { path: "config".into(), detail: e.to_string() })?
        .join("portal-pairing.json"))
}

/// The current pairing, if any.
pub fn current_pairing() -> Result<Option<Pairing>, PortalError> {
    let path = pairing_file()?;
    match std::fs::read_to_string(&path) {
        Ok(t) => serde_json::from_str(&t)
            .map(Some)
            .map_err(|e| PortalError::Config { path: path.display().to_string(), detail: e.to_string() }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(PortalError::Io { path: path.display().to_string(), source: e }),
    }
}

impl Session {
    /// A session whose tokens stay in memory (benchmarks, tests of the protocol itself).
    pub fn in_memory(url: &str, name: &str, tokens: Tokens) -> Result<Session, PortalError> {
        Ok(Session {
            http: http(),
            base: check_url(url)?,
            name: name.to_string(),
            tokens: tokio::sync::Mutex::new(tokens),
            persist: Persist::Memory,
        })
    }

    /// Finishes a pairing: tokens to the OS keyring, the non-secret facts to the configuration directory.
    pub async fn save_pairing(auth: &DeviceAuthorization, name: &str, tokens: Tokens) -> Result<Session, PortalError> {
        // one pairing at a time: the tokens of a previous portal are forgotten
        if let Some(previous) = current_pairing()? {
            if previous.url != auth.portal_url {
                crate::secrets::delete(&keyring_account(&previous.url))?;
            }
        }
        let account = keyring_account(&auth.portal_url);
        crate::secrets::set_text(&account, &Zeroizing::new(serde_json::to_string(&tokens).unwrap_or_default()))?;
        let s = Session {
            http: http(),
            base: auth.portal_url.clone(),
            name: name.to_string(),
            tokens: tokio::sync::Mutex::new(tokens),
            persist: Persist::Keyring(account),
        };
        let agent = s.me().await.ok().and_then(|m| m["agent"].as_str().map(str::to_string));
        let pairing = Pairing {
            name: name.to_string(),
            url: auth.portal_url.clone(),
            agent,
            device_name: auth.device_name.clone(),
            paired_at: crate::cert::rfc3339_z::format(&time::OffsetDateTime::now_utc()),
        };
        let path = pairing_file()?;
        let text = serde_json::to_string_pretty(&pairing).unwrap_or_default();
        crate::fsutil::write_atomic(&path, text.as_bytes(), crate::fsutil::Access::Private)
            .map_err(|e| PortalError::Io { path: path.display().to_string(), source: e.into() })?;
        Ok(s)
    }

    /// The session of the current pairing (tokens from the OS keyring).
    pub fn load() -> Result<Session, PortalError> {
        let p = current_pairing()?.ok_or(PortalError::NotPaired)?;
        let account = keyring_account(&p.url);
        let text = crate::secrets::get_text(&account)?.ok_or(PortalError::NotPaired)?;
        let tokens: Tokens =
            serde_json::from_str(&text).map_err(|e| PortalError::Protocol { detail: format!("stored tokens: {e}") })?;
        Ok(Session {
            http: http(),
            base: check_url(&p.url)?,
            name: p.name,
            tokens: tokio::sync::Mutex::new(tokens),
            persist: Persist::Keyring(account),
        })
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    pub fn portal_name(&self) -> &str {
        &self.name
    }

    /// A valid access token, refreshed first when it expires within 30 seconds.
    pub async fn access_token(&self) -> Result<Zeroizing<String>, PortalError> {
        let mut t = self.tokens.lock().await;
        if t.expires_at - now() < 30 {
            self.refresh_locked(&mut t).await?;
        }
        Ok(Zeroizing::new(t.access_token.clone()))
    }

    /// Forces a refresh (the portal rotates the refresh token; the new pair replaces the old one in the keyring).
    pub async fn refresh(&self) -> Result<(), PortalError> {
        let mut t = self.tokens.lock().await;
        self.refresh_locked(&mut t).await
    }

    async fn refresh_locked(&self, t: &mut Tokens) -> Result<(), PortalError> {
        let r = self
            .http
            .post(format!("{}/oauth/token", self.base))
            .form(&[
                ("client_id", CLIENT_ID),
                ("grant_type", "refresh_token"),
                ("refresh_token", t.refresh_token.as_str()),
            ])
            .send()
            .await
            .map_err(|e| unreachable(&self.base, e))?;
        let status = r.status();
        let body: Value = r.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            return Err(match body["error"].as_str() {
                Some("invalid_grant") | Some("invalid_client") => PortalError::TokenRejected,
                other => PortalError::Server {
                    status: status.as_u16(),
                    code: other.unwrap_or("unknown").into(),
                    detail: body["error_description"].as_str().unwrap_or("").into(),
                },
            });
        }
        let fresh = tokens_from(&body)?;
        if let Persist::Keyring(account) = &self.persist {
            crate::secrets::set_text(account, &Zeroizing::new(serde_json::to_string(&fresh).unwrap_or_default()))?;
        }
        *t = fresh;
        Ok(())
    }

    /// Sends a bearer request; on 401 refreshes once and retries.
    async fn send(
        &self,
        build: impl Fn(&reqwest::Client, &str) -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, PortalError> {
        let token = self.access_token().await?;
        let r = build(&self.http, &token).send().await.map_err(|e| unreachable(&self.base, e))?;
        if r.status() != reqwest::StatusCode::UNAUTHORIZED {
            return Ok(r);
        }
        self.refresh().await?;
        let token = self.access_token().await?;
        let r = build(&self.http, &token).send().await.map_err(|e| unreachable(&self.base, e))?;
        if r.status() == reqwest::StatusCode::UNAUTHORIZED {
            return Err(PortalError::TokenRejected);
        }
        Ok(r)
    }

    async fn json(&self, r: reqwest::Response) -> Result<Value, PortalError> {
        if !r.status().is_success() {
            return Err(server_error(r).await);
        }
        r.json().await.map_err(|e| PortalError::Protocol { detail: e.to_string() })
    }

    /// Who the portal thinks we are (`portal`, `agent`, `device_id`, `device_name`).
    pub async fn me(&self) -> Result<Value, PortalError> {
        let url = format!("{}/api/v1/me", self.base);
        let r = self.send(|c, t| c.get(&url).bearer_auth(t)).await?;
        self.json(r).await
    }

    /// The agent's registered bi-clés.
    pub async fn list_bicles(&self) -> Result<Vec<Bicle>, PortalError> {
        let url = format!("{}/api/v1/bicles", self.base);
        let r = self.send(|c, t| c.get(&url).bearer_auth(t)).await?;
        let v = self.json(r).await?;
        serde_json::from_value(v["bicles"].clone()).map_err(|e| PortalError::Protocol { detail: e.to_string() })
    }

    /// Registers `cert` under each of `kinds` in one all-or-nothing request. The rows start "à confirmer": the
    /// agent activates them on the portal. Network failures are retried with the same idempotency key, so a lost
    /// answer never registers twice.
    pub async fn add_bicles(
        &self,
        designation: &str,
        cert: &Certificate,
        kinds: &[BicleKind],
    ) -> Result<Vec<Bicle>, PortalError> {
        if kinds.is_empty() {
            return Err(PortalError::InvalidRequest { detail: "--personal and/or --backup".into() });
        }
        // An expired key pair could not decrypt new bids: refused before anything is sent (window and CLI alike).
        if cert.not_after <= time::OffsetDateTime::now_utc() {
            return Err(PortalError::CertificateExpired {
                sha256: cert.sha256.clone(),
                not_after: cert.not_after.date(),
            });
        }
        let url = format!("{}/api/v1/bicles", self.base);
        let key = {
            let mut b = [0u8; 16];
            rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut b);
            hex::encode(b)
        };
        let body = json!({
            "designation": designation,
            "certificate": cert.to_pem(),
            "kinds": kinds.iter().map(|k| k.as_str()).collect::<Vec<_>>(),
        });
        let mut last = None;
        for attempt in 0..3u64 {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(300 * attempt)).await;
            }
            match self.send(|c, t| c.post(&url).bearer_auth(t).header("Idempotency-Key", &key).json(&body)).await {
                Ok(r) => {
                    let v = self.json(r).await?;
                    return serde_json::from_value(v["bicles"].clone())
                        .map_err(|e| PortalError::Protocol { detail: e.to_string() });
                }
                Err(e @ PortalError::Unreachable { .. }) => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or(PortalError::Unreachable { url: self.base.clone(), detail: "no answer".into() }))
    }

    /// Asks the portal to remove a bi-clé (an active one waits for the agent's confirmation). Returns the new
    /// status (`supprime` or `suppression_a_confirmer`).
    pub async fn remove_bicle(&self, id: i64) -> Result<String, PortalError> {
        let url = format!("{}/api/v1/bicles/{id}", self.base);
        let r = self.send(|c, t| c.delete(&url).bearer_auth(t)).await?;
        let v = self.json(r).await?;
        Ok(v["status"].as_str().unwrap_or("").to_string())
    }

    /// Revokes the pairing on the portal (RFC 7009) and forgets it here: keyring entry and pairing file.
    /// The local part is done even when the portal cannot be reached; that is reported afterwards.
    pub async fn unpair(&self) -> Result<(), PortalError> {
        let refresh = self.tokens.lock().await.refresh_token.clone();
        let remote = self
            .http
            .post(format!("{}/oauth/revoke", self.base))
            .form(&[("client_id", CLIENT_ID), ("token", refresh.as_str())])
            .send()
            .await;
        if let Persist::Keyring(account) = &self.persist {
            crate::secrets::delete(account)?;
            let path = pairing_file()?;
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(PortalError::Io { path: path.display().to_string(), source: e }),
            }
        }
        remote.map(|_| ()).map_err(|e| unreachable(&self.base, e))
    }
}

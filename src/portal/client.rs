//! Pairing (RFC 8628 device authorization), tokens (OS keyring, refreshed before they expire, rotated by the
//! portal) and the bi-clé registry client.
//!
//! Size: the token session (renewal under the lock file, keyring re-read, lost-answer retries) and the calls that
//! use it are one protocol and are read together; the last ~10 % are its tests.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::time::Duration;
use zeroize::Zeroizing;

use super::config::check_url;
use super::PortalError;
use crate::cert::Certificate;

const CLIENT_ID: &str = "trousseau";

/// Longest access-token lifetime believed from a portal (a day); anything longer is clamped.
const MAX_ACCESS_TTL: i64 = 24 * 3600;
/// An access token is renewed when it expires within this many seconds.
const RENEW_MARGIN: i64 = 30;
/// Longest polling interval believed from a portal during pairing.
const MAX_POLL_INTERVAL: u64 = 60;
/// Longest pairing wait (RFC 8628 codes expire within 10 minutes here; a portal cannot ask for more than 15).
const MAX_PAIRING_WAIT: u64 = 900;

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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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

/// The name the agent sees on the approval page: the one given (trimmed) unless blank, else this computer's host
/// name (`gethostname`: Linux, macOS and Windows alike), else "poste". Both the window and the CLI pair with it.
pub fn device_name(given: Option<&str>) -> String {
    given
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(String::from)
        .or_else(|| {
            let host = gethostname::gethostname();
            let host = host.to_string_lossy().trim().to_string();
            (!host.is_empty()).then_some(host)
        })
        .unwrap_or_else(|| "poste".into())
}

/// Asks the portal for a device code. `device_name` is what the agent will see on the approval page. When the
/// administrator's managed list is in force, only its portals can be paired.
pub async fn start_pairing(url: &str, device_name: &str) -> Result<DeviceAuthorization, PortalError> {
    let base = check_url(url)?;
    let cfg = super::load_config()?;
    if cfg.managed && cfg.find(&base).is_none() {
        return Err(PortalError::NotAllowed { url: base });
    }
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
    let mut interval = auth.interval.clamp(1, MAX_POLL_INTERVAL);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(auth.expires_in.min(MAX_PAIRING_WAIT));
    loop {
        // never sleep past the code's expiry, whatever interval the portal asks for
        let wake = (tokio::time::Instant::now() + Duration::from_secs(interval)).min(deadline);
        tokio::time::sleep_until(wake).await;
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
            Some("slow_down") => interval = (interval + 5).min(MAX_POLL_INTERVAL),
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
        // a hostile or broken portal cannot make the expiry overflow or lie far into the future
        expires_at: now().saturating_add(body["expires_in"].as_i64().unwrap_or(300).clamp(0, MAX_ACCESS_TTL)),
    })
}

/// The same pairing (a new pairing with the same portal has another date, and other tokens).
fn same_pairing(a: &Pairing, b: &Pairing) -> bool {
    a.url == b.url && a.paired_at == b.paired_at && a.device_name == b.device_name
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
///
/// The portal rotates the refresh token on every use and treats the reuse of an old one as theft (it revokes the
/// pairing), so the tokens are kept with care:
/// - one session per process ([`Session::shared`]), used by the channel and by every command, so two parts of one
///   process never hold two copies;
/// - across processes (the desktop app, `portal run`, `trousseau status`… all at once), renewal happens under an
///   exclusive lock file, after re-reading the tokens in the OS keyring: a process whose copy is stale adopts the
///   newer pair instead of presenting its spent refresh token;
/// - the new pair goes to memory first, then to the keyring; a failed keyring write is retried at the next use;
/// - a renewal whose answer was lost is sent again with the same refresh token: the portal answers the same new
///   pair within its grace period (docs/portal-api.yaml).
pub struct Session {
    http: reqwest::Client,
    base: String,
    name: String,
    /// The pairing this session belongs to (`None` for in-memory sessions).
    pairing: Option<Pairing>,
    tokens: tokio::sync::Mutex<Tokens>,
    persist: Persist,
    /// Memory holds a pair the keyring does not have yet (its write failed).
    unsaved: std::sync::atomic::AtomicBool,
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

/// Resolves when the current pairing is no longer `current`: made, replaced or removed by any process (the CLI
/// while the desktop app runs, or the other way round). Reads the small pairing file once a second.
pub async fn pairing_changed(current: Option<Pairing>) {
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        // a file being replaced reads as an error for an instant: not a change
        let Ok(now) = current_pairing() else { continue };
        let same = match (&current, &now) {
            (Some(a), Some(b)) => same_pairing(a, b),
            (None, None) => true,
            _ => false,
        };
        if !same {
            return;
        }
    }
}

/// The process's one session (see [`Session::shared`]).
static SHARED: std::sync::Mutex<Option<std::sync::Arc<Session>>> = std::sync::Mutex::new(None);

fn shared_slot() -> std::sync::MutexGuard<'static, Option<std::sync::Arc<Session>>> {
    SHARED.lock().unwrap_or_else(|e| e.into_inner())
}

fn stored_tokens(account: &str) -> Result<Option<Tokens>, PortalError> {
    match crate::secrets::get_text(account)? {
        None => Ok(None),
        Some(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| PortalError::Protocol { detail: format!("stored tokens: {e}") }),
    }
}

fn store_tokens(account: &str, tokens: &Tokens) -> Result<(), PortalError> {
    let text = Zeroizing::new(serde_json::to_string(tokens).unwrap_or_default());
    crate::secrets::set_text(account, &text)?;
    Ok(())
}

/// Holds the cross-process token lock (`<data>/portal-tokens.lock`) until dropped.
struct TokenLock(#[allow(dead_code)] std::fs::File);

async fn lock_tokens() -> Result<TokenLock, PortalError> {
    let dir =
        crate::paths::data_dir().map_err(|e| PortalError::Config { path: "data".into(), detail: e.to_string() })?;
    let path = dir.join("portal-tokens.lock");
    let io = |source| PortalError::Io { path: path.display().to_string(), source };
    let file = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&path).map_err(io)?;
    // blocking wait for the other process's renewal (seconds at most: its requests have timeouts)
    let file = tokio::task::spawn_blocking(move || fs4::fs_std::FileExt::lock_exclusive(&file).map(|()| file))
        .await
        .map_err(|e| io(std::io::Error::other(e.to_string())))?
        .map_err(io)?;
    Ok(TokenLock(file))
}

impl Session {
    /// A session whose tokens stay in memory (benchmarks, tests of the protocol itself).
    pub fn in_memory(url: &str, name: &str, tokens: Tokens) -> Result<Session, PortalError> {
        Ok(Session {
            http: http(),
            base: check_url(url)?,
            name: name.to_string(),
            pairing: None,
            tokens: tokio::sync::Mutex::new(tokens),
            persist: Persist::Memory,
            unsaved: Default::default(),
        })
    }

    /// Finishes a pairing: tokens to the OS keyring, the non-secret facts to the configuration directory. The new
    /// session becomes this process's shared one.
    pub async fn save_pairing(
        auth: &DeviceAuthorization,
        name: &str,
        tokens: Tokens,
    ) -> Result<std::sync::Arc<Session>, PortalError> {
        // one pairing at a time: the tokens of a previous portal are forgotten
        if let Some(previous) = current_pairing()? {
            if previous.url != auth.portal_url {
                crate::secrets::delete(&keyring_account(&previous.url))?;
            }
        }
        let account = keyring_account(&auth.portal_url);
        {
            let _lock = lock_tokens().await?;
            store_tokens(&account, &tokens)?;
        }
        let mut s = Session {
            http: http(),
            base: auth.portal_url.clone(),
            name: name.to_string(),
            pairing: None,
            tokens: tokio::sync::Mutex::new(tokens),
            persist: Persist::Keyring(account),
            unsaved: Default::default(),
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
        s.pairing = Some(pairing);
        let s = std::sync::Arc::new(s);
        *shared_slot() = Some(std::sync::Arc::clone(&s));
        Ok(s)
    }

    /// This process's session for the current pairing: the same one for the channel and every command, so no two
    /// parts of the process hold separate copies of the rotating tokens. A pairing made, replaced or removed by
    /// another process is noticed here (the pairing file is read each time).
    pub fn shared() -> Result<std::sync::Arc<Session>, PortalError> {
        let p = current_pairing()?;
        let mut slot = shared_slot();
        let Some(p) = p else {
            *slot = None;
            return Err(PortalError::NotPaired);
        };
        if let Some(s) = slot.as_ref() {
            if s.pairing.as_ref().is_some_and(|q| same_pairing(q, &p)) {
                return Ok(std::sync::Arc::clone(s));
            }
        }
        let s = std::sync::Arc::new(Session::load_pairing(p)?);
        *slot = Some(std::sync::Arc::clone(&s));
        Ok(s)
    }

    /// Forgets this process's shared session (after `unpair`, or in tests that switch pairings).
    pub fn forget_shared() {
        *shared_slot() = None;
    }

    fn load_pairing(p: Pairing) -> Result<Session, PortalError> {
        let account = keyring_account(&p.url);
        let tokens = stored_tokens(&account)?.ok_or(PortalError::NotPaired)?;
        Ok(Session {
            http: http(),
            base: check_url(&p.url)?,
            name: p.name.clone(),
            pairing: Some(p),
            tokens: tokio::sync::Mutex::new(tokens),
            persist: Persist::Keyring(account),
            unsaved: Default::default(),
        })
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    pub fn portal_name(&self) -> &str {
        &self.name
    }

    /// The pairing this session belongs to (`None` for in-memory sessions).
    pub fn pairing(&self) -> Option<&Pairing> {
        self.pairing.as_ref()
    }

    /// A valid access token, renewed first when it expires within 30 seconds.
    pub async fn access_token(&self) -> Result<Zeroizing<String>, PortalError> {
        let mut t = self.tokens.lock().await;
        if t.expires_at - now() < RENEW_MARGIN {
            self.renew_locked(&mut t, None).await?;
        } else if self.unsaved.load(std::sync::atomic::Ordering::SeqCst) {
            self.save_unsaved(&t).await;
        }
        Ok(Zeroizing::new(t.access_token.clone()))
    }

    /// Renews the tokens because the portal refused `rejected` (an access token this session handed out). When
    /// another task or process has renewed since, its pair is taken instead of a second renewal.
    pub async fn renew_rejected(&self, rejected: &str) -> Result<(), PortalError> {
        let mut t = self.tokens.lock().await;
        if t.access_token != rejected {
            return Ok(());
        }
        self.renew_locked(&mut t, Some(rejected)).await
    }

    /// Forces a renewal of the current access token (tests, diagnostics).
    pub async fn refresh(&self) -> Result<(), PortalError> {
        let current = Zeroizing::new(self.tokens.lock().await.access_token.clone());
        self.renew_rejected(&current).await
    }

    async fn save_unsaved(&self, t: &Tokens) {
        let Persist::Keyring(account) = &self.persist else { return };
        let Ok(_lock) = lock_tokens().await else { return };
        if store_tokens(account, t).is_ok() {
            self.unsaved.store(false, std::sync::atomic::Ordering::SeqCst);
        }
    }

    async fn renew_locked(&self, t: &mut Tokens, rejected: Option<&str>) -> Result<(), PortalError> {
        let Persist::Keyring(account) = &self.persist else {
            *t = self.refresh_request(&t.refresh_token).await?;
            return Ok(());
        };
        let _lock = lock_tokens().await?;
        if self.unsaved.load(std::sync::atomic::Ordering::SeqCst) {
            // ours is the newest pair: the keyring's is the one we already spent
            if store_tokens(account, t).is_ok() {
                self.unsaved.store(false, std::sync::atomic::Ordering::SeqCst);
            }
        } else {
            match stored_tokens(account)? {
                // unpaired meanwhile by another process
                None => return Err(PortalError::NotPaired),
                Some(stored) if stored.refresh_token != t.refresh_token => {
                    // another process renewed (or paired again): adopt its pair rather than spend ours again
                    let usable = match rejected {
                        Some(r) => stored.access_token != r && stored.expires_at > now(),
                        None => stored.expires_at - now() >= RENEW_MARGIN,
                    };
                    *t = stored;
                    if usable {
                        return Ok(());
                    }
                }
                Some(_) => {}
            }
        }
        let fresh = self.refresh_request(&t.refresh_token).await?;
        // memory first: even if the keyring write fails, this process goes on with the pair the portal issued
        *t = fresh;
        if let Err(e) = store_tokens(account, t) {
            tracing::warn!(code = crate::i18n::Coded::code(&e), "portal tokens kept in memory; keyring write failed");
            self.unsaved.store(true, std::sync::atomic::Ordering::SeqCst);
        }
        Ok(())
    }

    /// One refresh-token grant. A transport failure may have lost the answer after the portal rotated the tokens:
    /// the same refresh token is sent again (the portal's grace period answers the same pair) a few times, within
    /// seconds, before giving up.
    async fn refresh_request(&self, refresh_token: &str) -> Result<Tokens, PortalError> {
        let mut attempt = 0u32;
        loop {
            let sent = self
                .http
                .post(format!("{}/oauth/token", self.base))
                .form(&[("client_id", CLIENT_ID), ("grant_type", "refresh_token"), ("refresh_token", refresh_token)])
                .send()
                .await;
            let r = match sent {
                Ok(r) => r,
                Err(e) if attempt < 3 => {
                    tracing::debug!("portal token renewal: no answer ({}), sending it again", without_url(&e));
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(250 << attempt)).await;
                    continue;
                }
                Err(e) => return Err(unreachable(&self.base, e)),
            };
            let status = r.status();
            let body = match r.bytes().await {
                Ok(b) => b,
                Err(_) if attempt < 3 => {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(250 << attempt)).await;
                    continue;
                }
                Err(e) => return Err(unreachable(&self.base, e)),
            };
            let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
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
            return tokens_from(&body);
        }
    }

    /// Sends a bearer request; on 401 renews once and retries.
    async fn send(
        &self,
        build: impl Fn(&reqwest::Client, &str) -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, PortalError> {
        let token = self.access_token().await?;
        let r = build(&self.http, &token).send().await.map_err(|e| unreachable(&self.base, e))?;
        if r.status() != reqwest::StatusCode::UNAUTHORIZED {
            return Ok(r);
        }
        self.renew_rejected(&token).await?;
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
            return Err(PortalError::NoKind);
        }
        let designation = super::relay::check_designation(designation)?;
        // An expired key pair could not decrypt new bids: refused before anything is sent (window and CLI alike).
        if cert.not_after <= time::OffsetDateTime::now_utc() {
            return Err(PortalError::CertificateExpired {
                sha256: cert.sha256.clone(),
                not_after: cert.not_after.date(),
            });
        }
        // A revoked certificate could not serve: asked of its authority when one is at hand (an unreachable one
        // does not stop the registration).
        #[cfg(feature = "revocation")]
        if let Some(o) = crate::revocation::before_use_async(cert, &[]).await {
            if o.status == crate::revocation::Status::Revoked {
                return Err(PortalError::CertificateRevoked {
                    sha256: cert.sha256.clone(),
                    revoked_at: o.revoked_at.map(|t| t.date()),
                });
            }
        }
        let url = format!("{}/api/v1/bicles", self.base);
        let key = {
            let mut b = [0u8; 16];
            rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut b);
            hex::encode(b)
        };
        let body = json!({
            "designation": designation.as_str(),
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
        let refresh = Zeroizing::new(self.tokens.lock().await.refresh_token.clone());
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
            Session::forget_shared();
        }
        remote.map(|_| ()).map_err(|e| unreachable(&self.base, e))
    }
}

#[cfg(test)]
mod device_name_tests {
    #[test]
    fn the_name_given_wins_unless_blank_then_the_host_name() {
        assert_eq!(super::device_name(Some("  Poste de Jeanne ")), "Poste de Jeanne");
        let host = gethostname::gethostname().to_string_lossy().trim().to_string();
        let expected = if host.is_empty() { "poste".to_string() } else { host };
        assert_eq!(super::device_name(Some("   ")), expected);
        assert_eq!(super::device_name(None), expected);
    }
}

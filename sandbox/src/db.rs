//! The sandbox's SQLite database: schema migrations (`PRAGMA user_version`), and the few helpers shared by the
//! server and the scripting commands (`approve`, `confirm`, `revoke`). The database is the single source of truth:
//! a pairing approved by `trousseau-sandbox approve` in another process is seen by the running server at once.

use anyhow::Context;
use rusqlite::{params, Connection, OptionalExtension};
use sha2::{Digest, Sha256};
use std::path::Path;

/// Each entry moves the schema one version up; never edit a released entry, append a new one.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE agents (
  id INTEGER PRIMARY KEY,
  login TEXT NOT NULL UNIQUE,
  display_name TEXT NOT NULL
);
CREATE TABLE sessions (
  token_hash TEXT PRIMARY KEY,
  agent_id INTEGER NOT NULL REFERENCES agents(id),
  csrf TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE TABLE device_codes (
  id INTEGER PRIMARY KEY,
  device_code_hash TEXT NOT NULL UNIQUE,
  user_code TEXT NOT NULL UNIQUE,
  client_name TEXT NOT NULL,
  client_os TEXT NOT NULL,
  client_addr TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending','approved','denied','used')),
  agent_id INTEGER REFERENCES agents(id),
  last_poll INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE devices (
  id INTEGER PRIMARY KEY,
  agent_id INTEGER NOT NULL REFERENCES agents(id),
  name TEXT NOT NULL,
  os TEXT NOT NULL,
  addr TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  revoked_at INTEGER
);
CREATE TABLE tokens (
  hash TEXT PRIMARY KEY,
  device_id INTEGER NOT NULL REFERENCES devices(id),
  kind TEXT NOT NULL CHECK (kind IN ('access','refresh')),
  expires_at INTEGER NOT NULL,
  used_at INTEGER
);
CREATE TABLE bicles (
  id INTEGER PRIMARY KEY,
  agent_id INTEGER NOT NULL REFERENCES agents(id),
  kind TEXT NOT NULL CHECK (kind IN ('personal','backup')),
  designation TEXT NOT NULL,
  cn TEXT NOT NULL,
  issuer TEXT NOT NULL,
  serial TEXT NOT NULL,
  not_after TEXT NOT NULL,
  sha256 TEXT NOT NULL,
  certificate TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('a_confirmer','actif','suppression_a_confirmer')),
  added_by TEXT NOT NULL,
  device_id INTEGER REFERENCES devices(id),
  created_at INTEGER NOT NULL,
  UNIQUE (agent_id, kind, sha256)
);
CREATE TABLE idempotency (
  device_id INTEGER NOT NULL,
  key TEXT NOT NULL,
  response TEXT NOT NULL,
  PRIMARY KEY (device_id, key)
);
CREATE TABLE notifications (
  id INTEGER PRIMARY KEY,
  agent_id INTEGER NOT NULL REFERENCES agents(id),
  created_at INTEGER NOT NULL,
  text TEXT NOT NULL
);
CREATE TABLE audit (
  id INTEGER PRIMARY KEY,
  at INTEGER NOT NULL,
  event TEXT NOT NULL,
  detail TEXT NOT NULL
);
"#,
    r#"
-- Refresh grace (issue 11): a used refresh token remembers the pair it was exchanged for, sealed with a key derived
-- from the token itself (the database alone cannot open it), so that the immediately previous token can be answered
-- once more with the same pair within the grace period.
ALTER TABLE tokens ADD COLUMN successor_hash TEXT;
ALTER TABLE tokens ADD COLUMN successor_sealed TEXT;
ALTER TABLE tokens ADD COLUMN grace_replayed INTEGER NOT NULL DEFAULT 0;
-- Relay binding (issue 11): which assistant answers for the agent, when each was last seen, and every relayed
-- request with what its assistant answered, kept under the request id (stored hashed).
ALTER TABLE devices ADD COLUMN last_seen INTEGER;
ALTER TABLE agents ADD COLUMN relay_device_id INTEGER REFERENCES devices(id);
CREATE TABLE relays (
  id_hash TEXT PRIMARY KEY,
  agent_id INTEGER NOT NULL REFERENCES agents(id),
  device_id INTEGER NOT NULL REFERENCES devices(id),
  op TEXT NOT NULL,
  selected_sha256 TEXT,
  from_list INTEGER NOT NULL DEFAULT 0,
  offered TEXT,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  answered_at INTEGER,
  ok INTEGER,
  certificate TEXT,
  used_at INTEGER
);
CREATE INDEX relays_agent ON relays(agent_id, device_id, op);
"#,
];

/// Opens (creating if needed) and migrates the database.
pub fn open(path: &Path) -> anyhow::Result<Connection> {
    let mut conn = Connection::open(path).with_context(|| format!("cannot open database {}", path.display()))?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    migrate(&mut conn)?;
    Ok(conn)
}

fn migrate(conn: &mut Connection) -> anyhow::Result<()> {
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if version as usize > MIGRATIONS.len() {
        anyhow::bail!("database schema version {version} is newer than this sandbox ({})", MIGRATIONS.len());
    }
    for (i, m) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(m).with_context(|| format!("migration {}", i + 1))?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
    }
    Ok(())
}

pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// Lowercase hex SHA-256 of a secret (tokens and codes are stored hashed only).
pub fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

pub fn audit(conn: &Connection, event: &str, detail: &str) {
    let _ = conn.execute("INSERT INTO audit(at, event, detail) VALUES (?1, ?2, ?3)", params![now(), event, detail]);
}

/// The agent with this login, created on first use (test agents: any login is accepted by the sandbox).
pub fn agent_id(conn: &Connection, login: &str) -> anyhow::Result<i64> {
    let login = login.trim();
    if login.is_empty() || login.len() > 64 {
        anyhow::bail!("agent login must be 1 to 64 characters");
    }
    if let Some(id) =
        conn.query_row("SELECT id FROM agents WHERE login = ?1", [login], |r| r.get::<_, i64>(0)).optional()?
    {
        return Ok(id);
    }
    conn.execute("INSERT INTO agents(login, display_name) VALUES (?1, ?1)", [login])?;
    Ok(conn.last_insert_rowid())
}

/// Normalises a user code as typed (`bcdf-ghjk`, `BCDFGHJK`) to the stored `BCDF-GHJK` form.
pub fn normalise_user_code(code: &str) -> String {
    let letters: String = code.chars().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_uppercase()).collect();
    if letters.len() == 8 {
        format!("{}-{}", &letters[..4], &letters[4..])
    } else {
        letters
    }
}

/// Approves a pending, unexpired user code for `agent_id`. Returns false when the code is unknown, used or
/// expired (single-use codes).
pub fn approve(conn: &Connection, user_code: &str, agent_id: i64) -> anyhow::Result<bool> {
    let code = normalise_user_code(user_code);
    let n = conn.execute(
        "UPDATE device_codes SET status = 'approved', agent_id = ?2 WHERE user_code = ?1 AND status = 'pending' AND expires_at > ?3",
        params![code, agent_id, now()],
    )?;
    if n == 1 {
        audit(conn, "pairing.approved", &code);
    }
    Ok(n == 1)
}

/// Denies a pending user code.
pub fn deny(conn: &Connection, user_code: &str) -> anyhow::Result<bool> {
    let code = normalise_user_code(user_code);
    let n =
        conn.execute("UPDATE device_codes SET status = 'denied' WHERE user_code = ?1 AND status = 'pending'", [code])?;
    Ok(n == 1)
}

/// Confirms one pending bi-clé (addition becomes active; removal deletes the row). Returns false when the id is
/// not pending for this agent.
pub fn confirm_bicle(conn: &Connection, agent_id: i64, id: i64) -> anyhow::Result<bool> {
    let status: Option<String> = conn
        .query_row("SELECT status FROM bicles WHERE id = ?1 AND agent_id = ?2", params![id, agent_id], |r| r.get(0))
        .optional()?;
    let done = match status.as_deref() {
        Some("a_confirmer") => conn.execute("UPDATE bicles SET status = 'actif' WHERE id = ?1", [id])? == 1,
        Some("suppression_a_confirmer") => conn.execute("DELETE FROM bicles WHERE id = ?1", [id])? == 1,
        _ => false,
    };
    if done {
        audit(conn, "bicle.confirmed", &id.to_string());
    }
    Ok(done)
}

/// Revokes every assistant of an agent (all their tokens stop working at once).
pub fn revoke_devices(conn: &Connection, agent_id: i64) -> anyhow::Result<usize> {
    let n = conn.execute(
        "UPDATE devices SET revoked_at = ?2 WHERE agent_id = ?1 AND revoked_at IS NULL",
        params![agent_id, now()],
    )?;
    audit(conn, "devices.revoked", &agent_id.to_string());
    Ok(n)
}

pub fn notify(conn: &Connection, agent_id: i64, text: &str) {
    let _ = conn.execute(
        "INSERT INTO notifications(agent_id, created_at, text) VALUES (?1, ?2, ?3)",
        params![agent_id, now(), text],
    );
}

/// How long a relayed request's answer can be referred to by the page (seconds).
pub const RELAY_TTL: i64 = 600;

/// Deletes what has expired: sessions, device codes, relayed answers, access tokens, refresh tokens past their
/// lifetime, and sealed successor pairs past the grace period. Run on a timer by the server and on login and
/// pairing, so that nothing expired lingers even when the timer has not run yet. Returns the rows deleted.
pub fn purge_expired(conn: &Connection, refresh_grace: i64) -> rusqlite::Result<usize> {
    let now = now();
    let mut n = conn.execute("DELETE FROM sessions WHERE expires_at <= ?1", [now])?;
    n += conn.execute("DELETE FROM device_codes WHERE expires_at <= ?1", [now])?;
    n += conn.execute("DELETE FROM relays WHERE expires_at <= ?1", [now])?;
    n += conn.execute("DELETE FROM tokens WHERE expires_at <= ?1", [now])?;
    conn.execute(
        "UPDATE tokens SET successor_sealed = NULL WHERE successor_sealed IS NOT NULL AND used_at <= ?1",
        [now - refresh_grace],
    )?;
    Ok(n)
}

// ---------------------------------------------------------------------------------------------------------------
// Queries of the HTTP handlers. Each function is one statement; the handlers that need several in one transaction
// open it themselves and pass the transaction (a `Transaction` derefs to `Connection`), so the statements, their
// order and their atomicity are exactly the handler's.

/// Whether a user code is already held by a device code (on error: taken, so that another code is drawn).
pub fn user_code_taken(conn: &Connection, user_code: &str) -> bool {
    conn.query_row("SELECT EXISTS(SELECT 1 FROM device_codes WHERE user_code = ?1)", [user_code], |r| r.get(0))
        .unwrap_or(true)
}

/// A pairing request as the device authorization endpoint records it.
pub struct NewDeviceCode<'a> {
    pub device_code_hash: &'a str,
    pub user_code: &'a str,
    pub client_name: &'a str,
    pub client_os: &'a str,
    pub client_addr: &'a str,
    pub created_at: i64,
    pub expires_at: i64,
}

pub fn insert_device_code(conn: &Connection, c: &NewDeviceCode) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO device_codes(device_code_hash, user_code, client_name, client_os, client_addr, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            c.device_code_hash,
            c.user_code,
            c.client_name,
            c.client_os,
            c.client_addr,
            c.created_at,
            c.expires_at
        ],
    )?;
    Ok(())
}

/// A device code as the token endpoint polls it.
pub struct DeviceCodeRow {
    pub id: i64,
    pub status: String,
    pub expires_at: i64,
    pub last_poll: i64,
    pub agent_id: Option<i64>,
    pub client_name: String,
    pub client_os: String,
    pub client_addr: String,
}

pub fn device_code_by_hash(conn: &Connection, device_code_hash: &str) -> rusqlite::Result<Option<DeviceCodeRow>> {
    conn.query_row(
        "SELECT id, status, expires_at, last_poll, agent_id, client_name, client_os, client_addr FROM device_codes WHERE device_code_hash = ?1",
        [device_code_hash],
        |r| {
            Ok(DeviceCodeRow {
                id: r.get(0)?,
                status: r.get(1)?,
                expires_at: r.get(2)?,
                last_poll: r.get(3)?,
                agent_id: r.get(4)?,
                client_name: r.get(5)?,
                client_os: r.get(6)?,
                client_addr: r.get(7)?,
            })
        },
    )
    .optional()
}

pub fn set_device_code_last_poll(conn: &Connection, id: i64, now_ms: i64) -> rusqlite::Result<()> {
    conn.execute("UPDATE device_codes SET last_poll = ?2 WHERE id = ?1", params![id, now_ms])?;
    Ok(())
}

pub fn mark_device_code_used(conn: &Connection, id: i64) -> rusqlite::Result<()> {
    conn.execute("UPDATE device_codes SET status = 'used' WHERE id = ?1", [id])?;
    Ok(())
}

/// Records a newly paired assistant; returns its id.
pub fn insert_device(
    conn: &Connection,
    agent_id: i64,
    name: &str,
    os: &str,
    addr: &str,
    created_at: i64,
) -> rusqlite::Result<i64> {
    conn.execute(
        "INSERT INTO devices(agent_id, name, os, addr, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![agent_id, name, os, addr, created_at],
    )?;
    Ok(conn.last_insert_rowid())
}

/// The two kinds of token.
#[derive(Clone, Copy)]
pub enum TokenKind {
    Access,
    Refresh,
}

/// Stores a token (hashed).
pub fn insert_token(
    conn: &Connection,
    hash: &str,
    device_id: i64,
    kind: TokenKind,
    expires_at: i64,
) -> rusqlite::Result<()> {
    let sql = match kind {
        TokenKind::Access => "INSERT INTO tokens(hash, device_id, kind, expires_at) VALUES (?1, ?2, 'access', ?3)",
        TokenKind::Refresh => "INSERT INTO tokens(hash, device_id, kind, expires_at) VALUES (?1, ?2, 'refresh', ?3)",
    };
    conn.execute(sql, params![hash, device_id, expires_at])?;
    Ok(())
}

/// A refresh token with its pairing, as the refresh grant reads it.
pub struct RefreshRow {
    pub device_id: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub agent_id: i64,
    pub successor_hash: Option<String>,
    pub successor_sealed: Option<String>,
    pub grace_replayed: bool,
}

pub fn refresh_token_by_hash(conn: &Connection, hash: &str) -> rusqlite::Result<Option<RefreshRow>> {
    conn.query_row(
        "SELECT t.device_id, t.expires_at, t.used_at, d.revoked_at, d.agent_id, t.successor_hash, t.successor_sealed,
                t.grace_replayed
         FROM tokens t JOIN devices d ON d.id = t.device_id
         WHERE t.hash = ?1 AND t.kind = 'refresh'",
        [hash],
        |r| {
            Ok(RefreshRow {
                device_id: r.get(0)?,
                expires_at: r.get(1)?,
                used_at: r.get(2)?,
                revoked_at: r.get(3)?,
                agent_id: r.get(4)?,
                successor_hash: r.get(5)?,
                successor_sealed: r.get(6)?,
                grace_replayed: r.get::<_, i64>(7)? != 0,
            })
        },
    )
    .optional()
}

/// Whether the refresh token with this hash exists, is unexpired at `now` and has not been used.
pub fn refresh_token_unused(conn: &Connection, hash: &str, now: i64) -> rusqlite::Result<bool> {
    Ok(conn
        .query_row(
            "SELECT used_at IS NULL FROM tokens WHERE hash = ?1 AND kind = 'refresh' AND expires_at > ?2",
            params![hash, now],
            |r| r.get::<_, bool>(0),
        )
        .optional()?
        .unwrap_or(false))
}

/// Marks a refresh token's grace replay as spent and forgets its sealed successor.
pub fn spend_grace_replay(conn: &Connection, hash: &str) -> rusqlite::Result<()> {
    conn.execute("UPDATE tokens SET grace_replayed = 1, successor_sealed = NULL WHERE hash = ?1", [hash])?;
    Ok(())
}

/// Revokes one assistant (unconditionally: the refresh-replay path) and forgets every sealed successor it had.
pub fn revoke_device_for_replay(conn: &Connection, device_id: i64, now: i64) -> rusqlite::Result<()> {
    conn.execute("UPDATE devices SET revoked_at = ?2 WHERE id = ?1", params![device_id, now])?;
    conn.execute("UPDATE tokens SET successor_sealed = NULL WHERE device_id = ?1", [device_id])?;
    Ok(())
}

/// Marks a refresh token used, remembering the pair it was exchanged for.
pub fn mark_refresh_used(
    conn: &Connection,
    hash: &str,
    now: i64,
    successor_hash: &str,
    successor_sealed: Option<&str>,
) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE tokens SET used_at = ?2, successor_hash = ?3, successor_sealed = ?4 WHERE hash = ?1",
        params![hash, now, successor_hash, successor_sealed],
    )?;
    Ok(())
}

/// The assistant (device id, agent id) holding the token with this hash, whatever its kind.
pub fn device_of_token(conn: &Connection, hash: &str) -> rusqlite::Result<Option<(i64, i64)>> {
    conn.query_row(
        "SELECT d.id, d.agent_id FROM tokens t JOIN devices d ON d.id = t.device_id WHERE t.hash = ?1",
        [hash],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .optional()
}

/// Revokes one assistant unless it already is.
pub fn revoke_device(conn: &Connection, device_id: i64, now: i64) -> rusqlite::Result<()> {
    conn.execute("UPDATE devices SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL", params![device_id, now])?;
    Ok(())
}

/// Records when an assistant was last seen.
pub fn set_device_last_seen(conn: &Connection, device_id: i64, now: i64) -> rusqlite::Result<()> {
    conn.execute("UPDATE devices SET last_seen = ?2 WHERE id = ?1", params![device_id, now])?;
    Ok(())
}

/// A bi-clé as the registry APIs answer it (docs/portal-api.yaml, `Bicle`).
#[derive(serde::Serialize, serde::Deserialize)]
pub struct BicleRow {
    pub id: i64,
    pub kind: String,
    pub designation: String,
    pub cn: String,
    pub issuer: String,
    pub serial: String,
    pub not_after: String,
    pub sha256: String,
    pub status: String,
    pub certificate: String,
    pub added_by: String,
    pub device_id: Option<i64>,
    pub device_name: Option<String>,
}

const BICLE_COLUMNS: &str = "b.id, b.kind, b.designation, b.cn, b.issuer, b.serial, b.not_after, b.sha256, b.status,
    b.certificate, b.added_by, b.device_id, d.name";

fn bicle_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<BicleRow> {
    Ok(BicleRow {
        id: r.get(0)?,
        kind: r.get(1)?,
        designation: r.get(2)?,
        cn: r.get(3)?,
        issuer: r.get(4)?,
        serial: r.get(5)?,
        not_after: r.get(6)?,
        sha256: r.get(7)?,
        status: r.get(8)?,
        certificate: r.get(9)?,
        added_by: r.get(10)?,
        device_id: r.get(11)?,
        device_name: r.get(12)?,
    })
}

/// Every bi-clé of an agent, oldest first.
pub fn bicles_of_agent(conn: &Connection, agent_id: i64) -> rusqlite::Result<Vec<BicleRow>> {
    let mut st = conn.prepare(&format!(
        "SELECT {BICLE_COLUMNS} FROM bicles b LEFT JOIN devices d ON d.id = b.device_id WHERE b.agent_id = ?1 ORDER BY b.id"
    ))?;
    let rows = st.query_map([agent_id], bicle_row)?.collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// The bi-clés with these ids, in this order.
pub fn bicles_by_ids(conn: &Connection, ids: &[i64]) -> rusqlite::Result<Vec<BicleRow>> {
    let mut st = conn.prepare(&format!(
        "SELECT {BICLE_COLUMNS} FROM bicles b LEFT JOIN devices d ON d.id = b.device_id WHERE b.id = ?1"
    ))?;
    let mut rows = Vec::new();
    for id in ids {
        rows.push(st.query_row([id], bicle_row)?);
    }
    Ok(rows)
}

/// The response recorded for an assistant's idempotency key, if any.
pub fn idempotent_response(conn: &Connection, device_id: i64, key: &str) -> rusqlite::Result<Option<String>> {
    conn.query_row("SELECT response FROM idempotency WHERE device_id = ?1 AND key = ?2", params![device_id, key], |r| {
        r.get(0)
    })
    .optional()
}

pub fn store_idempotent_response(conn: &Connection, device_id: i64, key: &str, response: &str) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO idempotency(device_id, key, response) VALUES (?1, ?2, ?3)",
        params![device_id, key, response],
    )?;
    Ok(())
}

/// Marks a relayed answer used; false when it already was (or does not exist).
pub fn use_relay(conn: &Connection, id_hash: &str, now: i64) -> rusqlite::Result<bool> {
    Ok(conn.execute("UPDATE relays SET used_at = ?2 WHERE id_hash = ?1 AND used_at IS NULL", params![id_hash, now])?
        == 1)
}

pub fn bicle_exists(conn: &Connection, agent_id: i64, kind: &str, sha256: &str) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT EXISTS(SELECT 1 FROM bicles WHERE agent_id = ?1 AND kind = ?2 AND sha256 = ?3)",
        params![agent_id, kind, sha256],
        |r| r.get(0),
    )
}

/// One bi-clé row to insert.
pub struct NewBicle<'a> {
    pub agent_id: i64,
    pub kind: &'a str,
    pub designation: &'a str,
    pub cn: &'a str,
    pub issuer: &'a str,
    pub serial: &'a str,
    pub not_after: &'a str,
    pub sha256: &'a str,
    pub certificate: &'a str,
    pub status: &'a str,
    pub added_by: &'a str,
    pub device_id: Option<i64>,
    pub created_at: i64,
}

/// Inserts a bi-clé; returns its id.
pub fn insert_bicle(conn: &Connection, b: &NewBicle) -> rusqlite::Result<i64> {
    conn.execute(
        "INSERT INTO bicles(agent_id, kind, designation, cn, issuer, serial, not_after, sha256, certificate, status, added_by, device_id, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
        params![
            b.agent_id,
            b.kind,
            b.designation,
            b.cn,
            b.issuer,
            b.serial,
            b.not_after,
            b.sha256,
            b.certificate,
            b.status,
            b.added_by,
            b.device_id,
            b.created_at
        ],
    )?;
    Ok(conn.last_insert_rowid())
}

/// A relayed request of an agent, with the assistant that answered it.
pub struct RelayRow {
    pub op: String,
    pub ok: Option<bool>,
    pub certificate: Option<String>,
    pub used_at: Option<i64>,
    pub expires_at: i64,
    pub from_list: bool,
    pub device_id: i64,
    pub device_name: String,
}

pub fn relay_of_agent(conn: &Connection, id_hash: &str, agent_id: i64) -> rusqlite::Result<Option<RelayRow>> {
    conn.query_row(
        "SELECT r.op, r.ok, r.certificate, r.used_at, r.expires_at, r.from_list, r.device_id, d.name
         FROM relays r JOIN devices d ON d.id = r.device_id WHERE r.id_hash = ?1 AND r.agent_id = ?2",
        params![id_hash, agent_id],
        |r| {
            Ok(RelayRow {
                op: r.get(0)?,
                ok: r.get(1)?,
                certificate: r.get(2)?,
                used_at: r.get(3)?,
                expires_at: r.get(4)?,
                from_list: r.get(5)?,
                device_id: r.get(6)?,
                device_name: r.get(7)?,
            })
        },
    )
    .optional()
}

/// The status of an agent's bi-clé, None when it has no such bi-clé.
pub fn bicle_status(conn: &Connection, id: i64, agent_id: i64) -> rusqlite::Result<Option<String>> {
    conn.query_row("SELECT status FROM bicles WHERE id = ?1 AND agent_id = ?2", params![id, agent_id], |r| r.get(0))
        .optional()
}

pub fn delete_bicle(conn: &Connection, id: i64) -> rusqlite::Result<()> {
    conn.execute("DELETE FROM bicles WHERE id = ?1", [id])?;
    Ok(())
}

pub fn request_bicle_removal(conn: &Connection, id: i64) -> rusqlite::Result<()> {
    conn.execute("UPDATE bicles SET status = 'suppression_a_confirmer' WHERE id = ?1", [id])?;
    Ok(())
}

/// Deletes an agent's bi-clé; false when the agent has no such bi-clé.
pub fn delete_agent_bicle(conn: &Connection, id: i64, agent_id: i64) -> rusqlite::Result<bool> {
    Ok(conn.execute("DELETE FROM bicles WHERE id = ?1 AND agent_id = ?2", params![id, agent_id])? != 0)
}

/// Renames an agent's bi-clé; false when the agent has no such bi-clé.
pub fn rename_bicle(conn: &Connection, id: i64, agent_id: i64, designation: &str) -> rusqlite::Result<bool> {
    Ok(conn.execute(
        "UPDATE bicles SET designation = ?3 WHERE id = ?1 AND agent_id = ?2",
        params![id, agent_id, designation],
    )? != 0)
}

/// The assistant the agent chose to answer the page, if still paired.
pub fn chosen_relay_device(conn: &Connection, agent_id: i64) -> rusqlite::Result<Option<i64>> {
    conn.query_row(
        "SELECT d.id FROM agents a JOIN devices d ON d.id = a.relay_device_id
         WHERE a.id = ?1 AND d.revoked_at IS NULL",
        [agent_id],
        |r| r.get(0),
    )
    .optional()
}

/// A paired (not revoked) assistant.
pub struct PairedDevice {
    pub id: i64,
    pub name: String,
    pub os: String,
    pub addr: String,
    pub last_seen: Option<i64>,
}

/// An agent's paired assistants, oldest first. Rows that do not read are skipped.
pub fn paired_devices(conn: &Connection, agent_id: i64) -> rusqlite::Result<Vec<PairedDevice>> {
    let mut q = conn.prepare(
        "SELECT id, name, os, addr, last_seen FROM devices WHERE agent_id = ?1 AND revoked_at IS NULL ORDER BY id",
    )?;
    let it = q.query_map([agent_id], |r| {
        Ok(PairedDevice { id: r.get(0)?, name: r.get(1)?, os: r.get(2)?, addr: r.get(3)?, last_seen: r.get(4)? })
    })?;
    Ok(it.flatten().collect())
}

/// Makes one of the agent's paired assistants the one that answers; false when it is not one of them.
pub fn choose_relay_device(conn: &Connection, agent_id: i64, device_id: i64) -> rusqlite::Result<bool> {
    Ok(conn.execute(
        "UPDATE agents SET relay_device_id = ?2 WHERE id = ?1
         AND EXISTS(SELECT 1 FROM devices WHERE id = ?2 AND agent_id = ?1 AND revoked_at IS NULL)",
        params![agent_id, device_id],
    )? != 0)
}

/// The fingerprint lists (JSON arrays) an assistant offered to an agent in still-valid successful listings.
/// Rows that do not read are skipped.
pub fn offered_lists(conn: &Connection, agent_id: i64, device_id: i64, now: i64) -> rusqlite::Result<Vec<String>> {
    let mut q = conn.prepare(
        "SELECT offered FROM relays WHERE agent_id = ?1 AND device_id = ?2 AND op = 'list_certificates' AND ok = 1
             AND expires_at > ?3 AND offered IS NOT NULL",
    )?;
    let it = q.query_map(params![agent_id, device_id, now], |r| r.get::<_, String>(0))?;
    Ok(it.flatten().collect())
}

/// A relayed request as it is sent.
pub struct NewRelay<'a> {
    pub id_hash: &'a str,
    pub agent_id: i64,
    pub device_id: i64,
    pub op: &'a str,
    pub selected_sha256: Option<&'a str>,
    pub from_list: bool,
    pub created_at: i64,
    pub expires_at: i64,
}

pub fn insert_relay(conn: &Connection, r: &NewRelay) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO relays(id_hash, agent_id, device_id, op, selected_sha256, from_list, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![r.id_hash, r.agent_id, r.device_id, r.op, r.selected_sha256, r.from_list, r.created_at, r.expires_at],
    )?;
    Ok(())
}

/// Records what the assistant answered to a relayed request.
pub fn answer_relay(
    conn: &Connection,
    id_hash: &str,
    now: i64,
    ok: bool,
    offered: Option<&str>,
    certificate: Option<&str>,
) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE relays SET answered_at = ?2, ok = ?3, offered = ?4, certificate = ?5 WHERE id_hash = ?1",
        params![id_hash, now, ok, offered, certificate],
    )?;
    Ok(())
}

pub fn device_name(conn: &Connection, device_id: i64) -> rusqlite::Result<String> {
    conn.query_row("SELECT name FROM devices WHERE id = ?1", [device_id], |r| r.get(0))
}

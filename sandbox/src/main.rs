//! `trousseau-sandbox` — the reference procurement portal that Trousseau's tests and demos run against. It
//! implements the portal side of `docs/portal-api.yaml`: RFC 8628 device pairing, the assistant channel
//! (WebSocket), relayed requests from the agent's page to the assistant, and the bi-clé registry; plus French pages
//! modelled on the real portal's screens. Data lives in one SQLite file and survives restarts.
//!
//! Scripting commands act on the same database as a running server: `approve` confirms a pairing code, `confirm`
//! activates bi-clés added by an assistant ("à confirmer"), `revoke` revokes an agent's assistants.

mod db;
mod http;
mod pages;
mod state;

use anyhow::Context;
use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(name = "trousseau-sandbox", version, about = "Portail de référence pour Trousseau (bac à sable)")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Serve the portal (pages, OAuth device pairing, assistant channel, registry)
    Serve {
        /// Address to listen on (loopback by default)
        #[arg(long, default_value = "127.0.0.1:8750")]
        listen: SocketAddr,
        /// SQLite database file (created and migrated if needed)
        #[arg(long)]
        db: PathBuf,
        /// Name the portal gives itself (shown by the assistant)
        #[arg(long, default_value = "Portail des marchés publics (bac à sable)")]
        name: String,
        /// Lifetime of access tokens, in seconds (short-lived by design)
        #[arg(long, default_value_t = 600)]
        access_ttl: i64,
        /// Lifetime of pairing codes, in seconds (at most 600)
        #[arg(long, default_value_t = 600)]
        code_ttl: i64,
        /// Minimum interval between token polls, in seconds
        #[arg(long, default_value_t = 1)]
        poll_interval: i64,
        /// Seconds without any message after which an assistant channel is considered dead
        #[arg(long, default_value_t = 30)]
        heartbeat_timeout: u64,
        /// Seconds during which the immediately previous refresh token is answered once more with the same pair (a
        /// lost refresh answer does not cost the pairing); 0 turns the grace off
        #[arg(long, default_value_t = 30)]
        refresh_grace: i64,
        /// Host header value accepted besides the listen address and loopback names (repeatable), e.g. the public
        /// host name behind a reverse proxy; any other Host gets 421 (DNS rebinding)
        #[arg(long = "allowed-host")]
        allowed_hosts: Vec<String>,
        /// Public URL of the portal when served behind a TLS proxy (https://pmp.example.lu): session cookies are then
        /// `Secure`, its host is accepted and the agent API accepts this Origin only
        #[arg(long)]
        public_url: Option<String>,
        /// Seconds the portal waits for the user's answer to a relayed "generate a new bi-clé" (sent to the
        /// assistant as the request's `timeout_ms`: it executes nothing after it)
        #[arg(long, default_value_t = 180)]
        relay_timeout: u64,
    },
    /// Approve a pairing code for an agent, as the agent would on the pairing page
    Approve {
        user_code: String,
        #[arg(long)]
        agent: String,
        #[arg(long)]
        db: PathBuf,
    },
    /// Confirm bi-clés waiting for the agent's confirmation (additions and removals made by an assistant)
    Confirm {
        /// Bi-clé id (omit with --all)
        id: Option<i64>,
        #[arg(long)]
        all: bool,
        #[arg(long)]
        agent: String,
        #[arg(long)]
        db: PathBuf,
    },
    /// Revoke every assistant paired by an agent
    Revoke {
        #[arg(long)]
        agent: String,
        #[arg(long)]
        db: PathBuf,
    },
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SANDBOX_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let cli = Cli::parse();
    match cli.command {
        Command::Serve {
            listen,
            db,
            name,
            access_ttl,
            code_ttl,
            poll_interval,
            heartbeat_timeout,
            refresh_grace,
            allowed_hosts,
            public_url,
            relay_timeout,
        } => {
            if !(1..=600).contains(&code_ttl) {
                anyhow::bail!("--code-ttl must be between 1 and 600 seconds (RFC 8628 codes are short-lived)");
            }
            if !(0..=300).contains(&refresh_grace) {
                anyhow::bail!("--refresh-grace must be between 0 and 300 seconds (a short grace period)");
            }
            let public_origin = public_url.as_deref().map(pages::parse_origin).transpose()?;
            let mut allowed_hosts: Vec<String> = allowed_hosts.iter().map(|h| h.trim().to_ascii_lowercase()).collect();
            if let Some(o) = &public_origin {
                if let Some(h) = o.split("://").nth(1) {
                    allowed_hosts.push(h.to_string());
                }
            }
            let conn = db::open(&db)?;
            let mut cfg = state::Config {
                portal_name: name,
                access_ttl: access_ttl.max(1),
                refresh_ttl: 30 * 24 * 3600,
                refresh_grace,
                allowed_hosts,
                listen,
                public_origin,
                code_ttl,
                poll_interval: poll_interval.max(0),
                heartbeat_timeout: std::time::Duration::from_secs(heartbeat_timeout.max(1)),
                heartbeat_interval: (heartbeat_timeout / 3).max(1),
                relay_timeout: std::time::Duration::from_secs(relay_timeout.clamp(1, 600)),
            };
            let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind(listen)
                    .await
                    .with_context(|| format!("cannot listen on {listen}"))?;
                let local = listener.local_addr()?;
                cfg.listen = local;
                let state = state::new_state(conn, cfg);
                // expired sessions, device codes, relayed answers and tokens are purged every minute (and on
                // login and pairing)
                let purger = state.clone();
                tokio::spawn(async move {
                    let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
                    loop {
                        tick.tick().await;
                        purger.purge();
                    }
                });
                let app = http::router(state);
                // The test support and scripts wait for this line.
                println!("listening on http://{local}");
                use std::io::Write;
                let _ = std::io::stdout().flush();
                axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
                    .with_graceful_shutdown(async {
                        let _ = tokio::signal::ctrl_c().await;
                    })
                    .await?;
                anyhow::Ok(())
            })
        }
        Command::Approve { user_code, agent, db } => {
            let conn = db::open(&db)?;
            let agent_id = db::agent_id(&conn, &agent)?;
            if db::approve(&conn, &user_code, agent_id)? {
                println!("code {} approuvé pour {agent}", db::normalise_user_code(&user_code));
                Ok(())
            } else {
                anyhow::bail!("code inconnu, déjà utilisé ou expiré / unknown, used or expired code: {user_code}")
            }
        }
        Command::Confirm { id, all, agent, db } => {
            let conn = db::open(&db)?;
            let agent_id = db::agent_id(&conn, &agent)?;
            let ids: Vec<i64> = match (id, all) {
                (Some(id), false) => vec![id],
                (None, true) => {
                    let mut st = conn.prepare(
                        "SELECT id FROM bicles WHERE agent_id = ?1 AND status IN ('a_confirmer','suppression_a_confirmer') ORDER BY id",
                    )?;
                    let rows = st.query_map([agent_id], |r| r.get(0))?.collect::<Result<Vec<i64>, _>>()?;
                    rows
                }
                _ => anyhow::bail!("give either a bi-clé id or --all"),
            };
            for id in ids {
                if db::confirm_bicle(&conn, agent_id, id)? {
                    println!("bi-clé {id} confirmé");
                } else {
                    anyhow::bail!("bi-clé {id} : rien à confirmer / nothing to confirm");
                }
            }
            Ok(())
        }
        Command::Revoke { agent, db } => {
            let conn = db::open(&db)?;
            let agent_id = db::agent_id(&conn, &agent)?;
            let n = db::revoke_devices(&conn, agent_id)?;
            println!("{n} assistant(s) révoqué(s)");
            Ok(())
        }
    }
}

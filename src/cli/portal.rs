//! `trousseau portal` — pairing with a procurement portal, the Connecté channel, and the bi-clé registry.

use serde_json::json;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use super::{CliError, Ctx};
use trousseau::portal::{
    self, AlwaysConfirm, BicleKind, ChannelEvent, Confirm, ConfirmRequest, PortalError, RelayHandler, Session,
    SystemWorkstation, Workstation,
};
use trousseau::Lang;

#[derive(clap::Subcommand, Debug)]
pub enum Cmd {
    /// Pair this assistant with a portal (device code to confirm on the portal page)
    Pair {
        /// Portal address (https://…, or http://127.0.0.1:PORT for the local sandbox)
        url: String,
        /// Name this computer shows on the portal's approval page (default: the host name)
        #[arg(long)]
        device_name: Option<String>,
    },
    /// Pairing and channel state
    Status,
    /// Keep the channel up (portal page shows "Connecté") and answer the page's requests
    Run {
        /// Confirm every request without asking (scripts and demos only)
        #[arg(long)]
        yes: bool,
    },
    /// Bi-clés registered on the portal
    #[command(subcommand)]
    Keys(KeysCmd),
    /// Revoke the pairing on the portal and forget its tokens
    Unpair,
    /// Configured portals (administrator's managed file, user's file, or the local sandbox)
    Portals,
}

#[derive(clap::Subcommand, Debug)]
pub enum KeysCmd {
    /// List the registered bi-clés, with warnings (expired, card no longer present)
    List,
    /// Register a bi-clé as personal and/or backup (each kind its own row)
    Add {
        /// Designation, e.g. "Prénom Nom 2025"
        #[arg(long)]
        name: String,
        /// SHA-256 of a certificate of this workstation (store or card)
        #[arg(long, conflicts_with = "generate", required_unless_present = "generate")]
        cert: Option<String>,
        /// Generate a new RSA-2048 bi-clé and install it in the certificate store
        #[arg(long)]
        generate: bool,
        #[arg(long)]
        personal: bool,
        #[arg(long)]
        backup: bool,
        /// Do not ask before generating (scripts)
        #[arg(long)]
        yes: bool,
    },
    /// Ask the portal to remove a bi-clé (the agent confirms on the portal)
    Remove { id: i64 },
    /// The backup-key drill: a test envelope addressed to every registered bi-clé, opened with each key this
    /// workstation holds (only the list request goes to the portal)
    Drill {
        #[command(flatten)]
        pin: super::tokens::PinArgs,
    },
}

fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| CliError::new("cli.runtime", format!("tokio: {e}")))
}

/// Asks on the terminal (never reads stdin when it is not a terminal: then the answer is no).
struct TerminalConfirm {
    lang: Lang,
}

impl Confirm for TerminalConfirm {
    fn confirm(&self, request: &ConfirmRequest) -> bool {
        use std::io::IsTerminal;
        if !std::io::stdin().is_terminal() {
            note!(
                "{}",
                self.lang.pick3(
                    "Demande refusée : aucun terminal pour la confirmer (utilisez la fenêtre de Trousseau).",
                    "Request declined: no terminal to confirm it (use the Trousseau window).",
                    "Anfrage abgelehnt: kein Terminal zur Bestätigung (verwenden Sie das Fenster von Trousseau)."
                )
            );
            return false;
        }
        super::ask_yes(&Ctx { json: false, lang: self.lang }, &request.question(self.lang))
    }
}

pub fn run(cmd: Cmd, ctx: &Ctx) -> Result<(), CliError> {
    match cmd {
        Cmd::Pair { url, device_name } => pair(&url, device_name, ctx),
        Cmd::Status => status(ctx),
        Cmd::Run { yes } => run_channel(yes, ctx),
        Cmd::Keys(k) => keys(k, ctx),
        Cmd::Unpair => {
            let rt = runtime()?;
            let session = Session::shared()?;
            let name = session.portal_name().to_string();
            let r = rt.block_on(session.unpair());
            if ctx.json {
                ctx.print_json(&json!({"unpaired": true, "portal": name, "portal_revoked": r.is_ok()}))?;
            } else {
                outln!(
                    "{}",
                    ctx.lang.pick3(
                        format!("Association avec « {name} » supprimée."),
                        format!("Pairing with \"{name}\" removed."),
                        format!("Kopplung mit „{name}“ aufgehoben.")
                    )
                )?;
            }
            r.map_err(CliError::from)
        }
        Cmd::Portals => {
            let cfg = portal::load_config()?;
            if ctx.json {
                ctx.print_json(&cfg)
            } else {
                for p in &cfg.portals {
                    outln!("{}  {}", p.name, p.url)?;
                }
                if cfg.managed {
                    outln!(
                        "{}",
                        ctx.lang.pick3(
                            "(liste gérée par votre administrateur)",
                            "(list managed by your administrator)",
                            "(Liste von Ihrem Administrator verwaltet)"
                        )
                    )?;
                }
                Ok(())
            }
        }
    }
}

fn pair(url: &str, device_name: Option<String>, ctx: &Ctx) -> Result<(), CliError> {
    let rt = runtime()?;
    rt.block_on(async {
        let pairing = portal::begin_pairing(url, device_name.as_deref()).await?;
        let (auth, name, device_name) = (&pairing.auth, &pairing.name, &pairing.auth.device_name);
        let link = auth.verification_uri_complete.clone().unwrap_or_else(|| auth.verification_uri.clone());
        let mut out = std::io::stdout();
        if ctx.json {
            // The window's pairing code, field for field.
            let code = trousseau::api::pair_code(auth, device_name.clone());
            let _ = writeln!(out, "{}", serde_json::to_string(&code).unwrap_or_default());
        } else {
            let _ = writeln!(
                out,
                "{}",
                ctx.lang.pick3(
                    format!("Code d'association : {}\nOuvrez {} dans votre navigateur, connectez-vous et vérifiez que le portail affiche le même code, le nom « {} » et votre adresse.\nEn attente de votre confirmation (10 minutes au plus)…", auth.user_code, link, device_name),
                    format!("Pairing code: {}\nOpen {} in your browser, log in and check that the portal shows the same code, the name \"{}\" and your address.\nWaiting for your confirmation (10 minutes at most)…", auth.user_code, link, device_name),
                    format!("Kopplungscode: {}\nÖffnen Sie {} in Ihrem Browser, melden Sie sich an und prüfen Sie, dass das Portal denselben Code, den Namen „{}“ und Ihre Adresse anzeigt.\nWarten auf Ihre Bestätigung (höchstens 10 Minuten)…", auth.user_code, link, device_name),
                )
            );
        }
        let _ = out.flush();
        pairing.finish().await?;
        if ctx.json {
            // The window's portal state once paired (`portal_pair_finish`).
            let state = trousseau::api::PortalState { name: Some(name.clone()), url: Some(pairing.base.clone()), paired: true, connected: false };
            let _ = writeln!(out, "{}", serde_json::to_string(&state).unwrap_or_default());
        } else {
            let _ = writeln!(out, "{}", ctx.lang.pick3(format!("Assistant associé à « {name} »."), format!("Assistant paired with \"{name}\"."), format!("Assistent mit „{name}“ gekoppelt.")));
        }
        Ok::<(), PortalError>(())
    })?;
    Ok(())
}

fn status(ctx: &Ctx) -> Result<(), CliError> {
    let pairing = portal::current_pairing()?;
    let Some(p) = pairing else {
        if ctx.json {
            return ctx.print_json(&json!({"paired": false, "state": "Déconnecté"}));
        }
        outln!(
            "{}",
            ctx.lang.pick3(
                "Aucun portail associé (trousseau portal pair ADRESSE).",
                "No portal paired (trousseau portal pair ADDRESS).",
                "Kein Portal gekoppelt (trousseau portal pair ADRESSE)."
            )
        )?;
        return Ok(());
    };
    let rt = runtime()?;
    let check = rt.block_on(async {
        let s = Session::shared()?;
        tokio::time::timeout(Duration::from_secs(10), s.me())
            .await
            .unwrap_or(Err(PortalError::Unreachable { url: p.url.clone(), detail: "timeout".into() }))
    });
    // the channel's state as `portal run` (or the desktop app) last published it, if that process still runs
    let connected = portal::published_state().map(|e| e.is_connected()).unwrap_or(false);
    let (token_ok, error) = match &check {
        Ok(_) => (true, None),
        Err(e) => (false, Some(trousseau::ErrorReport::from_coded(e, ctx.lang))),
    };
    if ctx.json {
        return ctx.print_json(&json!({
            "paired": true,
            "portal": p.name,
            "url": p.url,
            "agent": p.agent,
            "device_name": p.device_name,
            "paired_at": p.paired_at,
            "token_valid": token_ok,
            "channel": if connected { "connected" } else { "disconnected" },
            "state": if connected { "Connecté" } else { "Déconnecté" },
            "error": error,
        }));
    }
    outln!("{} — {}", p.name, p.url)?;
    outln!("{} {}", ctx.lang.pick3("Agent :", "Agent:", "Sachbearbeiter:"), p.agent.unwrap_or_default())?;
    let state = if connected {
        ChannelEvent::Connected { portal: p.name.clone(), agent: String::new() }
    } else {
        ChannelEvent::Stopped
    };
    outln!("{}", state.label(ctx.lang))?;
    if let Some(e) = error {
        outln!("{} ({})", e.message, e.code)?;
    }
    Ok(())
}

/// Resolves when the process is asked to stop (SIGTERM on Unix; Ctrl-C is handled separately).
async fn terminated() {
    #[cfg(unix)]
    {
        if let Ok(mut term) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            term.recv().await;
            return;
        }
    }
    std::future::pending::<()>().await
}

fn run_channel(yes: bool, ctx: &Ctx) -> Result<(), CliError> {
    let rt = runtime()?;
    let session = Session::shared()?;
    let confirm: Arc<dyn Confirm> = if yes {
        note!(
            "{}",
            ctx.lang.pick3(
                "ATTENTION : --yes confirme automatiquement toute demande du portail, y compris la création de bi-clés. Réservé aux scripts et démonstrations.",
                "WARNING: --yes confirms every portal request automatically, including creating bi-clés. For scripts and demos only.",
                "ACHTUNG: --yes bestätigt jede Anfrage des Portals automatisch, auch das Erstellen von Schlüsselpaaren (bi-clés). Nur für Skripte und Vorführungen.")
        );
        Arc::new(AlwaysConfirm)
    } else {
        Arc::new(TerminalConfirm { lang: ctx.lang })
    };
    let workstation: Arc<dyn Workstation> = Arc::new(SystemWorkstation { lang: ctx.lang });
    let cfg = portal::load_config()?;
    rt.block_on(async {
        let term = terminated();
        tokio::pin!(term);
        let mut session = session;
        loop {
            let handler = Arc::new(RelayHandler::new(
                Arc::clone(&workstation),
                Arc::clone(&confirm),
                session.portal_name(),
                ctx.lang,
            ));
            let bridge = match &cfg.bridge {
                Some(b) => Some(
                    trousseau::bridge::start(b.clone(), Arc::clone(&handler), session.portal_name())
                        .await
                        .map_err(CliError::from)?,
                ),
                None => None,
            };
            let channel = portal::spawn_channel(Arc::clone(&session), Arc::clone(&handler), Default::default());
            let mut state = channel.state();
            // a pairing made, replaced or removed by another process (the window, another shell) is followed here
            let changed = portal::pairing_changed(session.pairing().cloned());
            tokio::pin!(changed);
            let mut repaired = false;
            loop {
                let ev = state.borrow_and_update().clone();
                portal::publish_state(Some(&ev));
                if ctx.json {
                    let _ = writeln!(std::io::stdout(), "{}", json!({"event": ev, "label": ev.label(ctx.lang)}));
                } else {
                    note!("{}", ev.label(ctx.lang));
                }
                let _ = std::io::stdout().flush();
                if ev == ChannelEvent::Revoked {
                    break;
                }
                tokio::select! {
                    r = state.changed() => if r.is_err() { break },
                    _ = tokio::signal::ctrl_c() => break,
                    _ = &mut term => break,
                    _ = &mut changed => { repaired = true; break },
                }
            }
            let revoked = *state.borrow() == ChannelEvent::Revoked;
            channel.stop().await;
            if let Some(b) = bridge {
                b.stop().await;
            }
            if repaired {
                match Session::shared() {
                    Ok(s) => {
                        session = s;
                        continue;
                    }
                    Err(e) => {
                        portal::publish_state(None);
                        return Err(CliError::from(e));
                    }
                }
            }
            portal::publish_state(None);
            if revoked {
                return Err(CliError::from(PortalError::TokenRejected));
            }
            return Ok(());
        }
    })
}

fn keys(cmd: KeysCmd, ctx: &Ctx) -> Result<(), CliError> {
    let rt = runtime()?;
    let session = Session::shared()?;
    match cmd {
        KeysCmd::List => {
            let bicles = rt.block_on(session.list_bicles())?;
            let ws = SystemWorkstation { lang: ctx.lang };
            let present: Vec<String> = ws.list().map(|l| l.into_iter().map(|c| c.sha256).collect()).unwrap_or_default();
            let now = time::OffsetDateTime::now_utc();
            let rows: Vec<serde_json::Value> = bicles
                .iter()
                .map(|b| {
                    let expired = time::OffsetDateTime::parse(&b.not_after, &time::format_description::well_known::Rfc3339)
                        .map(|t| t <= now)
                        .unwrap_or(false);
                    let here = present.contains(&b.sha256);
                    let mut warnings = Vec::new();
                    if expired {
                        warnings.push(ctx.lang.pick3(
                            "Ce bi-clé a expiré : ajoutez-en un nouveau. Les marchés chiffrés avec lui s'ouvrent encore avec l'ancienne carte : gardez-la.",
                            "This bi-clé expired: add a new one. Tenders encrypted with it still open with the old card: keep it.",
                            "Dieses Schlüsselpaar (bi-clé) ist abgelaufen: fügen Sie ein neues hinzu. Damit verschlüsselte Angebote lassen sich weiterhin mit der alten Karte öffnen: bewahren Sie sie auf.",
                        ));
                    }
                    if !here {
                        warnings.push(ctx.lang.pick3(
                            "Ce bi-clé n'est pas sur ce poste (carte absente ?) : les marchés chiffrés avec lui s'ouvrent avec la carte qui le porte.",
                            "This bi-clé is not on this workstation (card absent?): tenders encrypted with it open with the card that holds it.",
                            "Dieses Schlüsselpaar (bi-clé) ist nicht auf diesem Arbeitsplatz (Karte nicht eingesteckt?): damit verschlüsselte Angebote lassen sich mit der Karte öffnen, die es enthält.",
                        ));
                    }
                    let mut v = serde_json::to_value(b).unwrap_or_default();
                    v["expired"] = json!(expired);
                    v["present"] = json!(here);
                    v["warnings"] = json!(warnings);
                    if let Some(o) = v.as_object_mut() {
                        o.remove("certificate");
                    }
                    v
                })
                .collect();
            if ctx.json {
                return ctx.print_json(&rows);
            }
            for r in &rows {
                outln!(
                    "{:>4}  {:<9} {:<24} CN={}  {}  [{}]",
                    r["id"],
                    if r["kind"] == "backup" {
                        ctx.lang.pick3("secours", "backup", "Ersatz")
                    } else {
                        ctx.lang.pick3("personnel", "personal", "persönlich")
                    },
                    r["designation"].as_str().unwrap_or(""),
                    r["cn"].as_str().unwrap_or(""),
                    r["not_after"].as_str().unwrap_or(""),
                    r["status"].as_str().unwrap_or("")
                )?;
                for w in r["warnings"].as_array().into_iter().flatten() {
                    outln!("      ! {}", w.as_str().unwrap_or(""))?;
                }
            }
            Ok(())
        }
        KeysCmd::Add { name, cert, generate, personal, backup, yes } => {
            let kinds = portal::bicle_kinds(personal, backup)?;
            let ws = SystemWorkstation { lang: ctx.lang };
            let source = if generate {
                let req = ConfirmRequest {
                    portal: session.portal_name().to_string(),
                    action: "generate_bicle".into(),
                    designation: name.clone(),
                    via: portal::Via::Cli,
                };
                let ok = yes || TerminalConfirm { lang: ctx.lang }.confirm(&req);
                if !ok {
                    return Err(PortalError::Declined.into());
                }
                portal::BicleSource::Generate { designation: &name }
            } else {
                portal::BicleSource::Existing { sha256: cert.as_deref().unwrap_or("") }
            };
            let certificate = portal::bicle_certificate(&ws, source)?;
            let rows = rt.block_on(session.add_bicles(&name, &certificate, &kinds))?;
            if ctx.json {
                return ctx.print_json(&rows);
            }
            for r in &rows {
                outln!(
                    "{}",
                    ctx.lang.pick3(
                        format!(
                            "Bi-clé {} « {} » enregistré (n° {}) : confirmez-le sur le portail.",
                            if r.kind == BicleKind::Backup { "de secours" } else { "personnel" },
                            r.designation,
                            r.id
                        ),
                        format!(
                            "{} bi-clé \"{}\" registered (#{}): confirm it on the portal.",
                            if r.kind == BicleKind::Backup { "Backup" } else { "Personal" },
                            r.designation,
                            r.id
                        ),
                        format!(
                            "{}Schlüsselpaar (bi-clé) „{}“ registriert (Nr. {}): bestätigen Sie es auf dem Portal.",
                            if r.kind == BicleKind::Backup { "Ersatz-" } else { "Persönliches " },
                            r.designation,
                            r.id
                        ),
                    )
                )?;
            }
            Ok(())
        }
        KeysCmd::Drill { pin } => {
            use trousseau::envelope::drill::Outcome;
            let bicles = rt.block_on(session.list_bicles())?;
            let mut source = pin.source(ctx);
            let report = trousseau::envelope::drill::run(&bicles, &mut source, ctx.lang)?;
            if ctx.json {
                ctx.print_json(&report)?;
            } else {
                let l = ctx.lang;
                for r in &report.rows {
                    let kind = if r.kind == BicleKind::Backup {
                        l.pick3("secours", "backup", "Ersatz")
                    } else {
                        l.pick3("personnel", "personal", "persönlich")
                    };
                    let verdict = match r.outcome {
                        Outcome::Opens => l.pick3("s'ouvre sur ce poste", "opens on this workstation", "lässt sich auf diesem Arbeitsplatz öffnen"),
                        Outcome::KeyAbsent => l.pick3(
                            "clé absente : insérez la carte qui porte ce bi-clé, ou faites l'exercice sur le poste qui l'a",
                            "key not here: insert the card holding this bi-clé, or run the drill on the workstation that has it",
                            "Schlüssel nicht hier: Stecken Sie die Karte mit diesem Schlüsselpaar ein oder führen Sie die Übung auf dem Arbeitsplatz mit dem Schlüssel aus",
                        ),
                        Outcome::Expired => l.pick3("expiré : enregistrez-en un nouveau", "expired: register a new one", "abgelaufen: Registrieren Sie ein neues"),
                        Outcome::RemovedOnPortal => l.pick3("retiré sur le portail", "removed on the portal", "auf dem Portal entfernt"),
                        Outcome::Failed => l.pick3("échec du test", "test failed", "Test fehlgeschlagen"),
                    };
                    outln!("{:>4}  {:<10} {:<28} {verdict}", r.id, kind, r.designation)?;
                    if let Some(e) = &r.error {
                        outln!("      ! {} ({})", e.message, e.code)?;
                    }
                }
            }
            if report.summary.all_open {
                Ok(())
            } else {
                Err(CliError::new(
                    "portal.drill_incomplete",
                    ctx.lang.pick3(
                        format!("{} bi-clé(s) sur {} s'ouvrent sur ce poste : voyez le détail ci-dessus.", report.summary.opened, report.summary.bicles),
                        format!("{} of {} bi-clé(s) open on this workstation: see the details above.", report.summary.opened, report.summary.bicles),
                        format!("{} von {} Schlüsselpaar(en) lassen sich auf diesem Arbeitsplatz öffnen: siehe Einzelheiten oben.", report.summary.opened, report.summary.bicles),
                    ),
                ))
            }
        }
        KeysCmd::Remove { id } => {
            let status = rt.block_on(session.remove_bicle(id))?;
            if ctx.json {
                return ctx.print_json(&json!({"id": id, "status": status}));
            }
            outln!(
                "{}",
                if status == "supprime" {
                    ctx.lang.pick3(
                        format!("Bi-clé {id} retiré."),
                        format!("Bi-clé {id} withdrawn."),
                        format!("Schlüsselpaar (bi-clé) {id} entfernt."),
                    )
                } else {
                    ctx.lang.pick3(
                        format!("Suppression du bi-clé {id} demandée : confirmez-la sur le portail."),
                        format!("Removal of bi-clé {id} requested: confirm it on the portal."),
                        format!(
                            "Entfernen des Schlüsselpaars (bi-clé) {id} angefordert: bestätigen Sie es auf dem Portal."
                        ),
                    )
                }
            )?;
            Ok(())
        }
    }
}

//! `trousseau tokens` and `trousseau token certs|login`: PKCS#11 modules, tokens with their PIN state, the
//! certificates on a token, and a PIN check. The PIN comes from a prompt, standard input or an environment
//! variable — never from an argument.
//!
//! Size: the CLI face of `tokens`, `token certs|keys|login` and `token pin change|unblock` (prompts, sources of
//! each code, the pad reader's case); it only translates, the checks are in `src/token/` and `src/pin_guard.rs`.

use super::{CliError, Ctx, PasswordArgs};
use serde::Serialize;
use std::io::IsTerminal;
use trousseau::token::{self, Discovery, ModuleProblem, Pin, Token, TokenCertificate};
use trousseau::Coded;

#[derive(clap::Args, Debug)]
pub struct Args {}

#[derive(clap::Subcommand, Debug)]
pub enum TokenCmd {
    /// Certificates on a token (or on every token), with their key id and role
    Certs {
        /// Token label (as `trousseau tokens` shows it); every token when absent
        #[arg(long)]
        token: Option<String>,
        /// Log in first, so that private objects hidden before the PIN are seen too
        #[arg(long)]
        login: bool,
        #[command(flatten)]
        pin: PinArgs,
    },
    /// Private keys on a token (needs the PIN): id, label, algorithm, size, what they can do
    Keys {
        /// Token label
        #[arg(long)]
        token: String,
        #[command(flatten)]
        pin: PinArgs,
    },
    /// Checks the PIN of a token (logs in, then out)
    Login {
        /// Token label
        #[arg(long)]
        token: String,
        #[command(flatten)]
        pin: PinArgs,
    },
    /// Change or unblock the card's PIN
    #[command(subcommand)]
    Pin(PinCmd),
}

/// `trousseau token pin change|unblock`: secrets from a prompt, an environment variable or stdin (one of them at
/// most from stdin), never from an argument.
#[derive(clap::Subcommand, Debug)]
pub enum PinCmd {
    /// Change the PIN (the current PIN is needed; retries left are shown first)
    Change {
        #[arg(long)]
        token: String,
        #[command(flatten)]
        pin: PinArgs,
        #[command(flatten)]
        new_pin: NewPinArgs,
        /// Go on even when the PIN is on its final try (a wrong current PIN then locks the card)
        #[arg(long)]
        yes: bool,
    },
    /// Unblock (reset) the PIN with the card's unblocking code (PUK / SO PIN)
    Unblock {
        #[arg(long)]
        token: String,
        /// Read the unblocking code from standard input
        #[arg(long, conflicts_with_all = ["puk_env", "new_pin_stdin"])]
        puk_stdin: bool,
        /// Read the unblocking code from this environment variable
        #[arg(long, value_name = "VAR")]
        puk_env: Option<String>,
        #[command(flatten)]
        new_pin: NewPinArgs,
    },
}

/// Where the new PIN comes from (prompted twice when interactive).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct NewPinArgs {
    /// Read the new PIN from standard input
    #[arg(long, conflicts_with = "new_pin_env")]
    pub new_pin_stdin: bool,
    /// Read the new PIN from this environment variable
    #[arg(long, value_name = "VAR")]
    pub new_pin_env: Option<String>,
}

impl NewPinArgs {
    /// The new PIN, and its second entry when typed at a prompt.
    /// Whether a source for the new PIN was given on the command line.
    fn given(&self) -> bool {
        self.new_pin_stdin || self.new_pin_env.is_some()
    }

    fn read(&self, ctx: &Ctx, label: &str) -> Result<(Pin, Option<Pin>), CliError> {
        let prompt = [
            format!("Nouveau code PIN de « {label} »"),
            format!("New PIN of \"{label}\""),
            format!("Neue PIN von „{label}“"),
        ];
        let pw = PasswordArgs { password_stdin: self.new_pin_stdin, password_env: self.new_pin_env.clone() };
        if self.new_pin_stdin || self.new_pin_env.is_some() {
            return Ok((Pin::new(pw.read(ctx, [&prompt[0], &prompt[1], &prompt[2]])?), None));
        }
        let first = pw.read(ctx, [&prompt[0], &prompt[1], &prompt[2]])?;
        let again =
            pw.read(ctx, ["Confirmez le nouveau code PIN", "Confirm the new PIN", "Bestätigen Sie die neue PIN"])?;
        Ok((Pin::new(first), Some(Pin::new(again))))
    }
}

/// Retries left, on stderr, before a prompt (the user knows what a wrong entry costs).
fn show_pin_state(t: &Token) {
    note!("{} — {}", t.label, t.pin.message);
}

fn run_pin(c: PinCmd, ctx: &Ctx) -> Result<(), CliError> {
    let l = ctx.lang;
    let discovery = token::discover();
    match c {
        PinCmd::Change { token: label, pin, new_pin, yes } => {
            if pin.pin_stdin && new_pin.new_pin_stdin {
                return Err(CliError::new(
                    "cli.stdin_twice",
                    l.pick3(
                        "Un seul code peut venir de l'entrée standard : donnez l'autre par --pin-env ou --new-pin-env.",
                        "Only one code can come from standard input: give the other with --pin-env or --new-pin-env.",
                        "Nur ein Code kann von der Standardeingabe kommen: Geben Sie den anderen mit --pin-env oder --new-pin-env an.",
                    ),
                ));
            }
            let t = token::find_token(&discovery, &label, l)?;
            show_pin_state(&t);
            // The final try is confirmed with --yes, or at the terminal (asked only on the final try).
            let confirmed = yes || (t.pin.state == token::PinState::FinalTry && confirm_final_try(ctx));
            trousseau::pin_guard::may_change_pin(&t, confirmed)?;
            if t.uses_pin_pad(pin.given() || new_pin.given()) {
                note!(
                    "{}",
                    l.pick3(
                        format!(
                            "Saisissez le code PIN actuel puis le nouveau sur le clavier du lecteur de « {} ».",
                            t.label
                        ),
                        format!(
                            "Type the current PIN, then the new one, on the keypad of the reader of \"{}\".",
                            t.label
                        ),
                        format!(
                            "Geben Sie die aktuelle und dann die neue PIN auf der Tastatur des Lesers von „{}“ ein.",
                            t.label
                        ),
                    )
                );
                token::change_pin_on_pad(&t)?;
            } else {
                let old = pin.read(ctx, &t.label)?;
                let (new, again) = new_pin.read(ctx, &t.label)?;
                token::change_pin(&t, old, new, again)?;
            }
            if ctx.json {
                return ctx.print_json(&serde_json::json!({"token": t.label, "changed": true}));
            }
            outln!("{}", l.pick3("Code PIN changé.", "PIN changed.", "PIN geändert."))?;
            Ok(())
        }
        PinCmd::Unblock { token: label, puk_stdin, puk_env, new_pin } => {
            let t = token::find_token(&discovery, &label, l)?;
            show_pin_state(&t);
            if t.uses_pin_pad(puk_stdin || puk_env.is_some() || new_pin.given()) {
                note!(
                    "{}",
                    l.pick3(
                        format!("Saisissez le code de déblocage (PUK) puis le nouveau code PIN sur le clavier du lecteur de « {} ».", t.label),
                        format!("Type the unblocking code (PUK), then the new PIN, on the keypad of the reader of \"{}\".", t.label),
                        format!("Geben Sie den Entsperrcode (PUK) und dann die neue PIN auf der Tastatur des Lesers von „{}“ ein.", t.label),
                    )
                );
                token::unblock_pin_on_pad(&t)?;
            } else {
                let prompt = [
                    format!("Code de déblocage (PUK) de « {} »", t.label),
                    format!("Unblocking code (PUK) of \"{}\"", t.label),
                    format!("Entsperrcode (PUK) von „{}“", t.label),
                ];
                let puk = PasswordArgs { password_stdin: puk_stdin, password_env: puk_env }
                    .read(ctx, [&prompt[0], &prompt[1], &prompt[2]])?;
                let (new, again) = new_pin.read(ctx, &t.label)?;
                token::unblock_pin(&t, Pin::new(puk), new, again)?;
            }
            if ctx.json {
                return ctx.print_json(&serde_json::json!({"token": t.label, "unblocked": true}));
            }
            outln!(
                "{}",
                l.pick3(
                    "Code PIN débloqué : utilisez le nouveau code PIN.",
                    "PIN unblocked: use the new PIN.",
                    "PIN entsperrt: Verwenden Sie die neue PIN."
                )
            )?;
            Ok(())
        }
    }
}

/// Asks on the terminal whether to use the final try (no terminal: no).
fn confirm_final_try(ctx: &Ctx) -> bool {
    super::ask_yes(
        ctx,
        &ctx.lang.pick3(
            "Il ne reste qu'un essai avant le blocage de la carte. Continuer ?",
            "One try left before the card locks. Go on?",
            "Nur noch ein Versuch, bevor die Karte gesperrt wird. Fortfahren?",
        ),
    )
}

/// How a PIN reaches the CLI: prompt (default), `--pin-stdin`, or `--pin-env VAR`. Never as an argument.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct PinArgs {
    /// Read the PIN from standard input (first line)
    #[arg(long, conflicts_with = "pin_env")]
    pub pin_stdin: bool,
    /// Read the PIN from this environment variable
    #[arg(long, value_name = "VAR")]
    pub pin_env: Option<String>,
}

impl PinArgs {
    /// Whether a PIN source was given on the command line.
    pub fn given(&self) -> bool {
        self.pin_stdin || self.pin_env.is_some()
    }

    /// Logs in to `t`: on a reader with a PIN pad (and no PIN given here) the PIN is typed on the reader;
    /// otherwise it is read (prompt, stdin or environment) and moved into a [`Pin`].
    pub fn login(&self, ctx: &Ctx, t: &Token) -> Result<token::TokenSession, CliError> {
        if t.uses_pin_pad(self.given()) {
            pad_note(ctx, t);
            return Ok(token::login_protected(t)?);
        }
        let p = self.read(ctx, &t.label)?;
        Ok(token::login(t, p)?)
    }

    /// The PIN source the core asks when a key is on a card (envelopes, the backup-key drill): the reader's PIN pad
    /// when it has one and no PIN was given here, else the prompt, stdin or environment.
    pub fn source<'a>(
        &'a self,
        ctx: &'a Ctx,
    ) -> impl FnMut(&Token) -> Result<Option<Pin>, trousseau::envelope::EnvelopeError> + 'a {
        move |t: &Token| {
            if t.uses_pin_pad(self.given()) {
                pad_note(ctx, t);
                return Ok(None);
            }
            self.read(ctx, &t.label).map(Some).map_err(|e| trousseau::envelope::EnvelopeError::Pin {
                detail: match e {
                    CliError::Report(r) => r.message,
                    CliError::ClosedOutput => String::new(),
                },
            })
        }
    }

    /// Reads the PIN for `label` and moves it into a [`Pin`].
    pub fn read(&self, ctx: &Ctx, label: &str) -> Result<Pin, CliError> {
        if !self.given() && !std::io::stdin().is_terminal() {
            return Err(CliError::new(
                "cli.no_terminal",
                ctx.lang.pick3(
                    "Aucun terminal pour demander le code PIN : utilisez --pin-stdin ou --pin-env VARIABLE.",
                    "No terminal to ask for the PIN: use --pin-stdin or --pin-env VARIABLE.",
                    "Kein Terminal für die PIN-Abfrage: verwenden Sie --pin-stdin oder --pin-env VARIABLE.",
                ),
            ));
        }
        let pw = PasswordArgs { password_stdin: self.pin_stdin, password_env: self.pin_env.clone() };
        let prompt = [format!("Code PIN de « {label} »"), format!("PIN of \"{label}\""), format!("PIN von „{label}“")];
        let text = pw.read(ctx, [&prompt[0], &prompt[1], &prompt[2]])?;
        Ok(Pin::new(text))
    }
}

fn problems_out(problems: &[ModuleProblem], ctx: &Ctx) -> Vec<token::ModuleProblemReport> {
    problems.iter().map(|p| p.report(ctx.lang)).collect()
}

#[derive(Serialize)]
struct TokensOut<'a> {
    modules: &'a [token::Module],
    problems: Vec<token::ModuleProblemReport>,
    tokens: &'a [Token],
}

pub fn run(_a: Args, ctx: &Ctx) -> Result<(), CliError> {
    let discovery = token::discover();
    let list = token::list_tokens(&discovery, ctx.lang);
    let mut problems = discovery.problems.clone();
    problems.extend(list.problems.iter().cloned());
    if ctx.json {
        return ctx.print_json(&TokensOut {
            modules: &discovery.modules,
            problems: problems_out(&problems, ctx),
            tokens: &list.tokens,
        });
    }
    let l = ctx.lang;
    outln!("{}", l.pick3("Modules PKCS#11 :", "PKCS#11 modules:", "PKCS#11-Module:"))?;
    if discovery.modules.is_empty() {
        outln!("  {}", l.pick3("(aucun)", "(none)", "(keine)"))?;
    }
    for m in &discovery.modules {
        outln!("  {} ({} {}) — {}", m.manufacturer, m.description, m.library_version, m.path.display())?;
    }
    if !problems.is_empty() {
        outln!("{}", l.pick3("Modules inutilisables :", "Unusable modules:", "Nicht verwendbare Module:"))?;
        for p in &problems {
            outln!("  {} : {} ({})", p.path.display(), p.error.message(l), p.error.code())?;
        }
    }
    outln!("{}", l.pick3("Cartes et jetons :", "Cards and tokens:", "Karten und Token:"))?;
    if list.tokens.is_empty() {
        outln!(
            "  {}",
            l.pick3("(aucun : insérez une carte)", "(none: insert a card)", "(keine: stecken Sie eine Karte ein)")
        )?;
    }
    for t in &list.tokens {
        outln!("  « {} » — {} {} n° {} ({})", t.label, t.manufacturer, t.model, t.serial, t.slot_description)?;
        outln!("      {}", t.pin.message)?;
    }
    Ok(())
}

/// Discovers modules and finds the token labelled `label`.
pub fn find(ctx: &Ctx, label: &str) -> Result<(Discovery, Token), CliError> {
    let discovery = token::discover();
    let t = token::find_token(&discovery, label, ctx.lang)?;
    Ok((discovery, t))
}

#[derive(Serialize)]
struct LoginOut<'a> {
    token: &'a str,
    logged_in: bool,
    pin: &'a token::PinStatus,
}

pub fn run_token(c: TokenCmd, ctx: &Ctx) -> Result<(), CliError> {
    match c {
        TokenCmd::Pin(p) => run_pin(p, ctx),
        TokenCmd::Certs { token: label, login, pin } => {
            let discovery = token::discover();
            let tokens: Vec<Token> = match &label {
                Some(l) => vec![token::find_token(&discovery, l, ctx.lang)?],
                None => token::list_tokens(&discovery, ctx.lang).tokens,
            };
            let mut all: Vec<TokenCertificate> = Vec::new();
            // Every token is read even when one fails (a crashed vendor module, a card pulled out): the others
            // are listed, and the command still ends in error so that a script knows the list is partial.
            let mut failed: Option<CliError> = None;
            for t in &tokens {
                let read = if login || pin.given() {
                    pin.login(ctx, t).and_then(|session| Ok(session.certificates()?))
                } else {
                    token::certificates(t).map_err(CliError::from)
                };
                match read {
                    Ok(certs) => all.extend(certs),
                    Err(e) if label.is_none() && !(login || pin.given()) => {
                        // The first failure ends the command; later ones are said as they come.
                        match (&failed, &e) {
                            (Some(_), CliError::Report(r)) => note!("« {} » : {} ({})", t.label, r.message, r.code),
                            _ => failed = Some(e),
                        }
                    }
                    Err(e) => return Err(e),
                }
            }
            if ctx.json {
                ctx.print_json(&all)?;
                return failed.map_or(Ok(()), Err);
            }
            if all.is_empty() {
                outln!(
                    "{}",
                    ctx.lang.pick3(
                        "Aucun certificat sur la carte.",
                        "No certificate on the card.",
                        "Kein Zertifikat auf der Karte."
                    )
                )?;
            }
            for c in &all {
                let name = c.certificate.subject_cn.clone().unwrap_or_else(|| c.certificate.subject.clone());
                let issuer = c.certificate.issuer_cn.clone().unwrap_or_else(|| c.certificate.issuer.clone());
                outln!("« {} » — {} ({})", c.token, name, issuer)?;
                outln!(
                    "    id {} · {:?} · {} {} · {}",
                    c.key_id,
                    c.role,
                    ctx.lang.pick3("expire le", "expires", "läuft ab am"),
                    trousseau::cert::rfc3339_z::format(&c.certificate.not_after),
                    if c.has_private_key {
                        ctx.lang.pick3(
                            "clé privée sur la carte",
                            "private key on the card",
                            "privater Schlüssel auf der Karte",
                        )
                    } else {
                        ctx.lang.pick3("sans clé privée", "no private key", "ohne privaten Schlüssel")
                    }
                )?;
            }
            failed.map_or(Ok(()), Err)
        }
        TokenCmd::Keys { token: label, pin } => {
            let (_d, t) = find(ctx, &label)?;
            let session = pin.login(ctx, &t)?;
            let keys = session.keys()?;
            if ctx.json {
                return ctx.print_json(&keys);
            }
            if keys.is_empty() {
                outln!(
                    "{}",
                    ctx.lang.pick3(
                        "Aucune clé privée sur la carte.",
                        "No private key on the card.",
                        "Kein privater Schlüssel auf der Karte."
                    )
                )?;
            }
            for k in &keys {
                let bits = k.bits.map(|b| format!(" {b} bits")).unwrap_or_default();
                outln!("id {} — « {} » {:?}{bits}", k.key_id, k.label, k.algorithm)?;
            }
            Ok(())
        }
        TokenCmd::Login { token: label, pin } => {
            let (_d, t) = find(ctx, &label)?;
            let session = pin.login(ctx, &t)?;
            drop(session);
            // The flags change with a successful login (a "count low" state is cleared): read them again.
            let now = token::module_tokens(&t.module, ctx.lang)
                .ok()
                .and_then(|v| v.into_iter().find(|x| x.label == t.label && x.serial == t.serial))
                .map(|x| x.pin)
                .unwrap_or_else(|| t.pin.clone());
            if ctx.json {
                return ctx.print_json(&LoginOut { token: &t.label, logged_in: true, pin: &now });
            }
            outln!(
                "{}",
                ctx.lang.pick3(
                    format!("Code PIN correct pour « {} ».", t.label),
                    format!("PIN correct for \"{}\".", t.label),
                    format!("PIN für „{}“ korrekt.", t.label)
                )
            )?;
            Ok(())
        }
    }
}

/// `csr new --token LABEL [--key-id HEX] [--generate-on-token]`: the request is signed on the token, with a key
/// that stays there (no vault entry). With `--generate-on-token` a new RSA-2048 pair is created on the token first
/// (with `--key-id` as its CKA_ID when given). The destination was checked by the caller.
#[cfg(feature = "software-keys")]
#[allow(clippy::too_many_arguments)] // the parsed arguments of `csr new --token`, passed through
pub fn csr_on_token(
    ctx: &Ctx,
    label: &str,
    key_id: Option<&str>,
    generate: bool,
    pin: &PinArgs,
    spec: &trousseau::csr::RequestSpec,
    out: &std::path::Path,
    force: bool,
) -> Result<(), CliError> {
    use trousseau::csr;
    let id = match key_id {
        Some(h) => Some(hex::decode(h.trim().trim_start_matches("0x").replace(':', "")).map_err(|_| {
            CliError::new(
                "csr.arguments",
                ctx.lang.pick3(
                    format!("--key-id attend un identifiant hexadécimal (par ex. 01 ou a1b2), pas « {h} »."),
                    format!("--key-id expects a hexadecimal id (e.g. 01 or a1b2), not \"{h}\"."),
                    format!("--key-id erwartet eine hexadezimale Kennung (z. B. 01 oder a1b2), nicht „{h}“."),
                ),
            )
        })?),
        None => None,
    };
    if id.is_none() && !generate {
        return Err(CliError::new(
            "csr.arguments",
            ctx.lang.pick3(
                "Avec --token, indiquez la clé de la carte (--key-id, voir « trousseau token keys ») ou créez-en une avec --generate-on-token.",
                "With --token, name the card's key (--key-id, see \"trousseau token keys\") or create one with --generate-on-token.",
                "Geben Sie mit --token den Schlüssel der Karte an (--key-id, siehe „trousseau token keys“) oder erstellen Sie einen mit --generate-on-token.",
            ),
        ));
    }
    let abs = csr::check_output(out, force)?;
    let (_d, t) = find(ctx, label)?;
    let session = pin.login(ctx, &t)?;
    let id = if generate {
        session.generate_rsa_2048(&format!("Trousseau {}", spec.subject_string()), id.as_deref())?
    } else {
        id.unwrap_or_default()
    };
    let key = session.signing_key(&id)?;
    let pem = match csr::build_request(spec, &key) {
        Ok(pem) => pem,
        // rcgen only says "remote key error": report what the token said.
        Err(e) => return Err(key.take_error().map(CliError::from).unwrap_or_else(|| CliError::from(e))),
    };
    trousseau::fsutil::write(&abs, pem.as_bytes(), trousseau::fsutil::Access::Public, force).map_err(|e| {
        CliError::new(
            "csr.write",
            ctx.lang.pick3(
                format!(
                    "Impossible d'écrire {} ({e}). La clé reste sur la carte (id {}) : recommencez avec --key-id.",
                    abs.display(),
                    hex::encode(&id)
                ),
                format!(
                    "Cannot write {} ({e}). The key stays on the card (id {}): start again with --key-id.",
                    abs.display(),
                    hex::encode(&id)
                ),
                format!(
                    "{} kann nicht geschrieben werden ({e}). Der Schlüssel bleibt auf der Karte (Kennung {}): beginnen Sie erneut mit --key-id.",
                    abs.display(),
                    hex::encode(&id)
                ),
            ),
        )
    })?;
    #[derive(Serialize)]
    struct Out<'a> {
        out: &'a std::path::Path,
        subject: String,
        profile: &'static str,
        token: &'a str,
        key_id: String,
        generated: bool,
        on_token: bool,
    }
    let o = Out {
        out: &abs,
        subject: spec.subject_string(),
        profile: spec.profile_name(),
        token: &t.label,
        key_id: hex::encode(&id),
        generated: generate,
        on_token: true,
    };
    if ctx.json {
        return ctx.print_json(&o);
    }
    outln!(
        "{}",
        ctx.lang.pick3(
            format!("Demande créée : {}", abs.display()),
            format!("Request created: {}", abs.display()),
            format!("Zertifikatsanforderung erstellt: {}", abs.display())
        )
    )?;
    outln!("  {} {}", ctx.lang.pick3("Sujet :", "Subject:", "Antragsteller:"), o.subject)?;
    outln!(
        "  {}",
        ctx.lang.pick3(
            format!(
                "Signée sur la carte « {} » avec la clé {} ; la clé privée ne quitte pas la carte.",
                t.label, o.key_id
            ),
            format!("Signed on the card \"{}\" with key {}; the private key never leaves the card.", t.label, o.key_id),
            format!(
                "Auf der Karte „{}“ mit dem Schlüssel {} signiert; der private Schlüssel verlässt die Karte nie.",
                t.label, o.key_id
            ),
        )
    )?;
    Ok(())
}

#[cfg(all(test, feature = "software-keys"))]
mod tests {
    use super::*;
    use crate::cli::test_support::{assert_german, de_en};

    #[test]
    fn card_key_argument_errors_in_german() {
        let spec = trousseau::csr::RequestSpec::generic("CN=Test", Vec::new()).expect("subject");
        let out = std::path::Path::new("never-written.csr");
        let pin = PinArgs::default();
        let (de, en) = de_en(|ctx| csr_on_token(ctx, "Carte", Some("zz"), false, &pin, &spec, out, false).err());
        assert_eq!(de.code, "csr.arguments");
        assert_german(&de.message, &en.message);
        assert!(de.message.contains("„zz“"), "{}", de.message);
        let (de, en) = de_en(|ctx| csr_on_token(ctx, "Carte", None, false, &pin, &spec, out, false).err());
        assert_german(&de.message, &en.message);
        assert!(!out.exists());
    }

    #[test]
    fn missing_pin_variable_in_german() {
        let pin = PinArgs { pin_stdin: false, pin_env: Some("TROUSSEAU_TEST_NO_SUCH_PIN_VAR_3C8".into()) };
        let (de, en) = de_en(|ctx| pin.read(ctx, "Carte").err());
        assert_eq!(de.code, "cli.password_env_missing");
        assert_german(&de.message, &en.message);
    }
}

/// Tells the user to type the PIN of `t` on the reader's keypad (login, envelopes, the drill).
fn pad_note(ctx: &Ctx, t: &Token) {
    note!(
        "{}",
        ctx.lang.pick3(
            format!("Saisissez le code PIN de « {} » sur le clavier du lecteur.", t.label),
            format!("Type the PIN of \"{}\" on the reader's keypad.", t.label),
            format!("Geben Sie die PIN von „{}“ auf der Tastatur des Kartenlesers ein.", t.label),
        )
    );
}

//! `trousseau store …` and `trousseau p12 import`: the operating system's certificate store from the command line.

use std::path::{Path, PathBuf};

use serde::Serialize;
use trousseau::store::{self, CertStore, ExportEncryption, ImportReport, StoredCertificate};

use super::{CliError, Ctx, PasswordArgs};

/// Which store to work on (Linux: the NSS shared database unless a Firefox profile is chosen).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct Target {
    /// Work on this Firefox profile's certificates (name or folder, see `trousseau store profiles`) instead of the
    /// shared database (~/.pki/nssdb)
    #[arg(long, value_name = "PROFILE")]
    pub firefox: Option<String>,
    /// The store's primary password (Firefox profiles or NSS databases protected by one), read from this
    /// environment variable
    #[arg(long, value_name = "VAR")]
    pub store_password_env: Option<String>,
}

impl Target {
    fn open(&self, ctx: &Ctx) -> Result<Box<dyn CertStore>, CliError> {
        let mut st = match &self.firefox {
            None => store::open_default()?,
            Some(wanted) => open_firefox(wanted, ctx)?,
        };
        if let Some(var) = &self.store_password_env {
            let pw = zeroize::Zeroizing::new(std::env::var(var).map_err(|_| {
                CliError::new(
                    "cli.password_env_missing",
                    ctx.lang.pick3(
                        format!("La variable d'environnement {var} n'existe pas : définissez-la avec le mot de passe principal."),
                        format!("The environment variable {var} is not set: set it to the primary password."),
                        format!("Die Umgebungsvariable {var} ist nicht gesetzt: setzen Sie sie auf das Hauptpasswort."),
                    ),
                )
            })?);
            st.unlock(&pw)?;
        }
        Ok(st)
    }
}

#[cfg(target_os = "linux")]
fn open_firefox(wanted: &str, ctx: &Ctx) -> Result<Box<dyn CertStore>, CliError> {
    let profiles = store::firefox_profiles();
    let found = profiles.iter().find(|p| p.name == wanted || p.path == Path::new(wanted));
    match found {
        Some(p) => Ok(store::open_nss(&p.path)?),
        None => Err(CliError::new(
            "store.profile_not_found",
            ctx.lang.pick3(
                format!("Aucun profil Firefox « {wanted} » avec des certificats : voyez la liste avec « trousseau store profiles »."),
                format!("No Firefox profile \"{wanted}\" with certificates: see the list with \"trousseau store profiles\"."),
                format!("Kein Firefox-Profil „{wanted}“ mit Zertifikaten: die Liste zeigt „trousseau store profiles“."),
            ),
        )),
    }
}

#[cfg(not(target_os = "linux"))]
fn open_firefox(_wanted: &str, ctx: &Ctx) -> Result<Box<dyn CertStore>, CliError> {
    Err(CliError::new(
        "store.unsupported",
        ctx.lang.pick3(
            "Sur ce système, Firefox utilise le magasin de certificats du système : --firefox est inutile.",
            "On this system Firefox uses the system certificate store: --firefox is not needed.",
            "Auf diesem System verwendet Firefox den Zertifikatsspeicher des Systems: --firefox ist nicht nötig.",
        ),
    ))
}

#[derive(clap::Subcommand, Debug)]
pub enum Cmd {
    /// List the certificates of the store
    List {
        /// Only certificates whose private key is in the store or on a card
        #[arg(long)]
        with_key: bool,
        /// Only certificates usable as encryption bi-clés (key encipherment, private key present, not expired)
        #[arg(long)]
        encryption_capable: bool,
        #[command(flatten)]
        target: Target,
    },
    /// Export a certificate with its private key and chain to a password-protected .p12
    Export {
        /// SHA-256 fingerprint of the certificate (see `trousseau store list`)
        sha256: String,
        /// The .p12 file to write (an existing file is kept unless --force)
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Replace the file if it exists
        #[arg(long)]
        force: bool,
        /// 3DES / SHA-1 protection for old importers (older macOS, Windows Server 2016, some Android)
        #[arg(long)]
        legacy: bool,
        /// Password rules to enforce
        #[arg(long, value_enum)]
        policy: Option<trousseau::password::Policy>,
        #[command(flatten)]
        password: PasswordArgs,
        #[command(flatten)]
        target: Target,
    },
    /// Remove a certificate (and its private key, unless another certificate uses it)
    Remove {
        /// SHA-256 fingerprint of the certificate
        sha256: String,
        /// Also forget its revocation code kept in the keyring (asked at the terminal otherwise; scripts keep it)
        #[arg(long)]
        forget_revocation_code: bool,
        #[command(flatten)]
        target: Target,
    },
    /// Install an authority (CA) certificate as trusted
    ImportCa {
        /// Certificate file (PEM, DER or PKCS#7)
        file: PathBuf,
        #[command(flatten)]
        target: Target,
    },
    /// Make a smartcard's certificates visible to browsers: register its PKCS#11 module in the store
    RegisterModule {
        /// The module library; default: the card middleware found on this computer
        #[arg(long, value_name = "PATH")]
        module: Option<PathBuf>,
        /// Name to register it under (default: from the library's file name)
        #[arg(long)]
        name: Option<String>,
        /// Unregister instead
        #[arg(long)]
        remove: bool,
        #[command(flatten)]
        target: Target,
    },
    /// Firefox profiles that have a certificate store (Linux)
    Profiles,
}

pub fn run(cmd: Cmd, ctx: &Ctx) -> Result<(), CliError> {
    match cmd {
        Cmd::List { with_key, encryption_capable, target } => list(&target, with_key, encryption_capable, ctx),
        Cmd::Export { sha256, out, force, legacy, policy, password, target } => {
            export(&target, &sha256, &out, force, legacy, policy, &password, ctx)
        }
        Cmd::Remove { sha256, forget_revocation_code, target } => remove(&target, &sha256, forget_revocation_code, ctx),
        Cmd::ImportCa { file, target } => import_ca(&target, &file, ctx),
        Cmd::RegisterModule { module, name, remove, target } => register(&target, module, name, remove, ctx),
        Cmd::Profiles => profiles(ctx),
    }
}

fn list(target: &Target, with_key: bool, encryption_capable: bool, ctx: &Ctx) -> Result<(), CliError> {
    let mut st = target.open(ctx)?;
    let mut certs = if encryption_capable { store::encryption_capable(st.as_mut())? } else { st.list()? };
    if with_key {
        certs.retain(|c| c.has_private_key);
    }
    certs.sort_by(|a, b| a.certificate.subject.cmp(&b.certificate.subject));
    if ctx.json {
        return ctx.print_json(&certs);
    }
    if certs.is_empty() {
        outln!("{}", ctx.lang.pick3("Aucun certificat.", "No certificate.", "Kein Zertifikat."))?;
        return Ok(());
    }
    outln!("{}", st.location())?;
    let now = time::OffsetDateTime::now_utc();
    for c in &certs {
        print_cert(c, now, ctx)?;
    }
    Ok(())
}

fn print_cert(c: &StoredCertificate, now: time::OffsetDateTime, ctx: &Ctx) -> Result<(), CliError> {
    let cert = &c.certificate;
    let name = cert.subject_cn.clone().unwrap_or_else(|| cert.subject.clone());
    let issuer = cert.issuer_cn.clone().unwrap_or_else(|| cert.issuer.clone());
    let days = (cert.not_after - now).whole_days();
    let expiry = if days < 0 {
        ctx.lang.pick3("expiré".to_string(), "expired".to_string(), "abgelaufen".to_string())
    } else {
        let d = ctx.lang.date(cert.not_after.date());
        ctx.lang.pick3(
            format!("expire le {d} (dans {days} j)"),
            format!("expires {d} (in {days} days)"),
            format!("läuft am {d} ab (in {days} Tagen)"),
        )
    };
    let mut marks = Vec::new();
    if c.has_private_key {
        marks.push(if c.on_token {
            ctx.lang.pick3("clé sur carte à puce", "key on smartcard", "Schlüssel auf Chipkarte")
        } else {
            ctx.lang.pick3("clé privée", "private key", "privater Schlüssel")
        });
    }
    if cert.encryption_capable && c.has_private_key {
        marks.push(ctx.lang.pick3("chiffrement", "encryption", "Verschlüsselung"));
    }
    if c.trusted {
        marks.push(ctx.lang.pick3(
            "autorité de confiance",
            "trusted authority",
            "vertrauenswürdige Zertifizierungsstelle",
        ));
    }
    outln!(
        "- {name} — {issuer} — {expiry}{}",
        if marks.is_empty() { String::new() } else { format!(" [{}]", marks.join(", ")) }
    )?;
    outln!("  SHA-256 {}", cert.sha256)?;
    Ok(())
}

#[allow(clippy::too_many_arguments)] // the parsed arguments of `store export`, passed through
fn export(
    target: &Target,
    sha256: &str,
    out: &Path,
    force: bool,
    legacy: bool,
    policy: Option<trousseau::password::Policy>,
    password: &PasswordArgs,
    ctx: &Ctx,
) -> Result<(), CliError> {
    let mut st = target.open(ctx)?;
    // Fail early (before asking for a password) if the certificate or its key is missing.
    let found = store::exportable(st.as_mut(), sha256)?;
    let pw = password
        .read_new(ctx, ["Mot de passe du fichier .p12", "Password for the .p12 file", "Passwort für die .p12-Datei"])?;
    let encryption = if legacy { ExportEncryption::Legacy } else { ExportEncryption::Modern };
    let done = store::export_checked(
        st.as_mut(),
        &store::Export { sha256: &found.certificate.sha256, password: &pw, policy, encryption, out, force },
    )?;
    let (written, strength) = (done.certificates, done.strength);
    if ctx.json {
        #[derive(Serialize)]
        struct Out<'a> {
            file: &'a Path,
            sha256: &'a str,
            certificates: usize,
            encryption: &'static str,
            policy: Option<trousseau::password::Policy>,
            strength: trousseau::password::Strength,
        }
        return ctx.print_json(&Out {
            file: out,
            sha256: &done.sha256,
            certificates: written,
            encryption: if legacy { "legacy" } else { "modern" },
            policy,
            strength,
        });
    }
    outln!(
        "{}",
        ctx.lang.pick3(
            format!("Exporté dans {} : le certificat, sa clé privée et {} certificat(s) de la chaîne (solidité du mot de passe : {}/4).", out.display(), written.saturating_sub(1), strength.score),
            format!("Exported to {}: the certificate, its private key and {} chain certificate(s) (password strength: {}/4).", out.display(), written.saturating_sub(1), strength.score),
            format!("Exportiert nach {}: das Zertifikat, sein privater Schlüssel und {} Zertifikat(e) der Kette (Passwortstärke: {}/4).", out.display(), written.saturating_sub(1), strength.score),
        )
    )?;
    Ok(())
}

fn remove(target: &Target, sha256: &str, forget_code: bool, ctx: &Ctx) -> Result<(), CliError> {
    let mut st = target.open(ctx)?;
    let removed = st.remove(sha256)?;
    // The revocation code outlives the certificate unless the user says otherwise: it may still be needed to
    // revoke a copy installed elsewhere.
    let c = &removed.certificate;
    let kept = trousseau::secrets::revocation_code(&c.issuer, &c.serial).ok().flatten().is_some();
    let forget = kept
        && (forget_code
            || super::ask_yes(
                ctx,
                &ctx.lang.pick3(
                    "Un code de révocation est gardé pour ce certificat : l'oublier aussi ?",
                    "A revocation code is kept for this certificate: forget it too?",
                    "Für dieses Zertifikat ist ein Sperrcode aufbewahrt: Ihn auch vergessen?",
                ),
            ));
    if forget {
        trousseau::secrets::forget_revocation_code(&c.issuer, &c.serial)?;
    }
    if ctx.json {
        let mut v = serde_json::to_value(&removed).unwrap_or_default();
        v["revocation_code"] = serde_json::json!(match (kept, forget) {
            (false, _) => "none",
            (true, true) => "forgotten",
            (true, false) => "kept",
        });
        return ctx.print_json(&v);
    }
    outln!(
        "{}",
        ctx.lang.pick3(
            format!("Certificat retiré de {} : {}", st.location(), removed.certificate.subject),
            format!("Certificate removed from {}: {}", st.location(), removed.certificate.subject),
            format!("Zertifikat aus {} entfernt: {}", st.location(), removed.certificate.subject),
        )
    )?;
    Ok(())
}

fn import_ca(target: &Target, file: &Path, ctx: &Ctx) -> Result<(), CliError> {
    let mut st = target.open(ctx)?;
    let reports = store::install_ca_file(st.as_mut(), file)?;
    if ctx.json {
        return ctx.print_json(&reports);
    }
    for r in &reports {
        print_report(r, ctx)?;
    }
    Ok(())
}

fn register(
    target: &Target,
    module: Option<PathBuf>,
    name: Option<String>,
    remove: bool,
    ctx: &Ctx,
) -> Result<(), CliError> {
    let mut st = target.open(ctx)?;
    let modules: Vec<PathBuf> = match module {
        Some(m) => vec![m],
        None => middleware_modules(),
    };
    if modules.is_empty() && !(remove && name.is_some()) {
        return Err(CliError::new(
            "store.no_module",
            ctx.lang.pick3(
                "Aucun logiciel de carte (module PKCS#11) trouvé sur cet ordinateur : installez celui de votre carte (LuxTrust, CPS…) ou indiquez-le avec --module CHEMIN.",
                "No card software (PKCS#11 module) found on this computer: install your card's (LuxTrust, CPS…) or give it with --module PATH.",
                "Keine Kartensoftware (PKCS#11-Modul) auf diesem Computer gefunden: installieren Sie die Ihrer Karte (LuxTrust, CPS…) oder geben Sie sie mit --module PFAD an.",
            ),
        ));
    }
    let names: Vec<(String, PathBuf)> = if modules.is_empty() {
        name.iter().map(|n| (n.clone(), PathBuf::new())).collect()
    } else {
        modules.iter().map(|m| (name.clone().unwrap_or_else(|| module_name(m)), m.clone())).collect()
    };
    #[derive(Serialize)]
    struct Done {
        name: String,
        library: PathBuf,
        registered: bool,
        changed: bool,
    }
    let mut done = Vec::new();
    for (n, lib) in names {
        if remove {
            let changed = st.unregister_module(&n)?;
            done.push(Done { name: n, library: lib, registered: false, changed });
        } else {
            let before = st.modules()?;
            let m = st.register_module(&n, &lib)?;
            let changed = !before.contains(&m);
            done.push(Done { name: m.name, library: m.library, registered: true, changed });
        }
    }
    if ctx.json {
        return ctx.print_json(&done);
    }
    for d in &done {
        let text = match (d.registered, d.changed) {
            (true, true) => ctx.lang.pick3(
                format!("Module « {} » ({}) enregistré dans {} : redémarrez le navigateur pour voir les certificats de la carte.", d.name, d.library.display(), st.location()),
                format!("Module \"{}\" ({}) registered in {}: restart the browser to see the card's certificates.", d.name, d.library.display(), st.location()),
                format!("Modul „{}“ ({}) in {} registriert: starten Sie den Browser neu, um die Zertifikate der Karte zu sehen.", d.name, d.library.display(), st.location()),
            ),
            (true, false) => ctx.lang.pick3(
                format!("Module « {} » déjà enregistré dans {}.", d.name, st.location()),
                format!("Module \"{}\" already registered in {}.", d.name, st.location()),
                format!("Modul „{}“ ist in {} bereits registriert.", d.name, st.location()),
            ),
            (false, true) => ctx.lang.pick3(
                format!("Module « {} » retiré de {}.", d.name, st.location()),
                format!("Module \"{}\" removed from {}.", d.name, st.location()),
                format!("Modul „{}“ aus {} entfernt.", d.name, st.location()),
            ),
            (false, false) => ctx.lang.pick3(
                format!("Module « {} » n'était pas enregistré dans {}.", d.name, st.location()),
                format!("Module \"{}\" was not registered in {}.", d.name, st.location()),
                format!("Modul „{}“ war in {} nicht registriert.", d.name, st.location()),
            ),
        };
        outln!("{text}")?;
    }
    Ok(())
}

/// Card middleware found by token discovery (environment, configuration, known install paths), not the generic
/// p11-kit entries which browsers get through p11-kit already.
fn middleware_modules() -> Vec<PathBuf> {
    use trousseau::token::{candidates, DiscoveryOptions, ModuleSource};
    candidates(&DiscoveryOptions::from_env())
        .into_iter()
        .filter(|c| !matches!(c.source, ModuleSource::P11Kit(_)) && c.path.exists())
        .map(|c| c.path)
        .collect()
}

/// `libgclib.so` → `Trousseau gclib`.
fn module_name(path: &Path) -> String {
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let stem = stem.strip_prefix("lib").unwrap_or(&stem).to_string();
    format!("Trousseau {stem}")
}

fn profiles(ctx: &Ctx) -> Result<(), CliError> {
    #[cfg(target_os = "linux")]
    let found = store::firefox_profiles();
    #[cfg(not(target_os = "linux"))]
    let found: Vec<serde_json::Value> = Vec::new();
    if ctx.json {
        return ctx.print_json(&found);
    }
    #[cfg(target_os = "linux")]
    for p in &found {
        outln!("- {} ({}){}", p.name, p.path.display(), if p.default { " *" } else { "" })?;
    }
    if found.is_empty() {
        outln!(
            "{}",
            ctx.lang.pick3(
                "Aucun profil Firefox trouvé.",
                "No Firefox profile found.",
                "Kein Firefox-Profil gefunden."
            )
        )?;
    }
    Ok(())
}

fn print_report(r: &ImportReport, ctx: &Ctx) -> Result<(), CliError> {
    if r.already_present {
        outln!(
            "{}",
            ctx.lang.pick3(
                format!("Déjà présent dans {} : rien n'a été ajouté (SHA-256 {}).", r.store, r.sha256),
                format!("Already in {}: nothing was added (SHA-256 {}).", r.store, r.sha256),
                format!("Bereits in {} vorhanden: nichts wurde hinzugefügt (SHA-256 {}).", r.store, r.sha256),
            )
        )?;
        return Ok(());
    }
    outln!(
        "{}",
        ctx.lang.pick3(
            format!("Installé dans {} :", r.store),
            format!("Installed in {}:", r.store),
            format!("Installiert in {}:", r.store)
        )
    )?;
    for i in &r.items {
        let what = match i.kind {
            "private_key" => ctx.lang.pick3("clé privée", "private key", "privater Schlüssel"),
            "certificate" => ctx.lang.pick3("certificat", "certificate", "Zertifikat"),
            _ => ctx.lang.pick3("autorité", "authority", "Zertifizierungsstelle"),
        };
        let state = if i.already_present {
            ctx.lang.pick3(" (déjà présent)", " (already there)", " (bereits vorhanden)")
        } else {
            String::new()
        };
        outln!("- {what} : {}{state}", i.subject)?;
    }
    Ok(())
}

/// `trousseau p12 import FILE` (declared in p12.rs, implemented here with the store).
#[derive(clap::Args, Debug)]
pub struct P12ImportArgs {
    /// The .p12/.pfx file
    pub file: PathBuf,
    #[command(flatten)]
    pub password: PasswordArgs,
    #[command(flatten)]
    pub target: Target,
}

pub fn run_p12_import(a: P12ImportArgs, ctx: &Ctx) -> Result<(), CliError> {
    // The file must be readable before a password is asked for.
    let bytes = store::read_pkcs12_file(&a.file)?;
    let pw = a
        .password
        .read(ctx, ["Mot de passe du fichier .p12", "Password of the .p12 file", "Passwort der .p12-Datei"])?;
    // The store loads on a thread (read-only, it creates nothing) while the file is decrypted and checked; nothing
    // is written before the whole file has been checked, so a bad file or password changes nothing.
    let target = a.target.clone();
    let c = *ctx;
    let warm = std::thread::spawn(move || -> Result<Box<dyn CertStore>, CliError> {
        let mut st = target.open(&c)?;
        st.prepare()?;
        Ok(st)
    });
    let identity = store::pkcs12_identity(&bytes, &pw);
    drop(pw);
    let joined = warm.join();
    let identity = identity?;
    let mut st = joined.map_err(|_| {
        CliError::new(
            "store.open",
            ctx.lang.pick3(
                "Ouverture du magasin interrompue.",
                "Opening the store was interrupted.",
                "Das Öffnen des Zertifikatsspeichers wurde unterbrochen.",
            ),
        )
    })??;
    let report = st.install_identity(&identity)?;
    if ctx.json {
        return ctx.print_json(&report);
    }
    print_report(&report, ctx)?;
    Ok(())
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use crate::cli::test_support::{assert_german, de_en};

    #[test]
    fn unknown_firefox_profile_in_german() {
        let (de, en) = de_en(|ctx| open_firefox("trousseau-no-such-profile-9d2", ctx).err());
        assert_eq!(de.code, "store.profile_not_found");
        assert_german(&de.message, &en.message);
        assert!(de.message.contains("„trousseau-no-such-profile-9d2“"), "{}", de.message);
    }
}

//! Browser registration of the card's module (NSS databases of Chromium and Firefox) and the OS store.

use super::*;

#[cfg(target_os = "linux")]
pub(super) fn same_library(a: &Path, b: &Path) -> bool {
    let canon = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    canon(a) == canon(b)
}

#[cfg(target_os = "linux")]
pub(super) fn browser_registration(modules: &[PathBuf], lang: Lang) -> Check {
    let id = "browser.registration";
    if modules.is_empty() {
        return check(
            id,
            CheckStatus::Skip,
            lang.pick3(
                "Aucun jeton : pas de module à enregistrer dans les navigateurs.",
                "No token: no module to register in the browsers.",
                "Kein Token: kein Modul in den Browsern zu registrieren.",
            ),
            None,
        );
    }
    // Chromium (and Chrome) read ~/.pki/nssdb; each Firefox profile has its own database.
    let mut databases: Vec<(String, PathBuf)> = Vec::new();
    if let Ok(dir) = crate::store::nss_default_dir() {
        if dir.join("cert9.db").exists() {
            databases.push(("Chromium / Chrome".to_string(), dir));
        }
    }
    for p in crate::store::firefox_profiles() {
        databases.push((format!("Firefox « {} »", p.name), p.path));
    }
    if databases.is_empty() {
        return check(
            id,
            CheckStatus::Skip,
            lang.pick3(
                "Aucun navigateur utilisant NSS (Firefox, Chromium) n'a encore de base de certificats sur ce compte.",
                "No NSS browser (Firefox, Chromium) has a certificate database on this account yet.",
                "Kein NSS-Browser (Firefox, Chromium) hat auf diesem Konto bereits eine Zertifikatsdatenbank.",
            ),
            None,
        );
    }
    let mut missing = Vec::new();
    let mut present = Vec::new();
    for (name, dir) in &databases {
        let registered = crate::store::open_nss(dir).and_then(|mut s| s.modules()).unwrap_or_default();
        for m in modules {
            let label = format!("{name} ← {}", module_name(m));
            if registered.iter().any(|r| same_library(&r.library, m)) {
                present.push(label);
            } else {
                missing.push((label, name.clone(), dir.clone(), m.clone()));
            }
        }
    }
    if missing.is_empty() {
        return check(
            id,
            CheckStatus::Ok,
            lang.pick3(
                format!("Module(s) enregistré(s) : {}.", present.join(", ")),
                format!("Module(s) registered: {}.", present.join(", ")),
                format!("Registrierte(s) Modul(e): {}.", present.join(", ")),
            ),
            None,
        );
    }
    let list: Vec<&str> = missing.iter().map(|(l, ..)| l.as_str()).collect();
    let list = list.join(", ");
    let commands: Vec<String> = missing
        .iter()
        .map(|(_, name, _, m)| {
            let target = if name.starts_with("Firefox") {
                format!(" --firefox \"{}\"", name.trim_start_matches("Firefox « ").trim_end_matches(" »"))
            } else {
                String::new()
            };
            format!("trousseau store register-module --module {}{target}", m.display())
        })
        .collect();
    let commands = commands.join(" ; ");
    check(
        id,
        CheckStatus::Warn,
        lang.pick3(
            format!(
                "Le module de la carte n'est pas enregistré dans : {list}. Ces navigateurs ne verront pas la carte."
            ),
            format!("The card's module is not registered in: {list}. These browsers will not see the card."),
            format!("Das Modul der Karte ist nicht registriert in: {list}. Diese Browser sehen die Karte nicht."),
        ),
        Some(lang.pick3(
            format!("Fermez le navigateur puis enregistrez le module : {commands}"),
            format!("Close the browser, then register the module: {commands}"),
            format!("Schließen Sie den Browser und registrieren Sie dann das Modul: {commands}"),
        )),
    )
}

#[cfg(not(target_os = "linux"))]
pub(super) fn browser_registration(_modules: &[PathBuf], lang: Lang) -> Check {
    check(
        "browser.registration",
        CheckStatus::Skip,
        lang.pick3(
            "Sur ce système, les navigateurs utilisent le magasin du système : rien à enregistrer.",
            "On this system the browsers use the system store: nothing to register.",
            "Auf diesem System verwenden die Browser den Speicher des Systems: nichts zu registrieren.",
        ),
        None,
    )
}

pub(super) fn os_store(f: &mut Findings, lang: Lang) -> Check {
    let id = "store.os";
    let listed = crate::store::open_default().and_then(|mut s| {
        let location = s.location();
        s.list().map(|l| (location, l))
    });
    match listed {
        Ok((location, list)) => {
            let now = OffsetDateTime::now_utc();
            let with_key = list.iter().filter(|c| c.has_private_key).count();
            let expired = list.iter().filter(|c| c.has_private_key && c.certificate.days_until_expiry(now) < 0).count();
            for c in &list {
                f.personal.extend(c.certificate.subject_cn.clone());
                f.personal.push(c.certificate.subject.clone());
                f.personal.push(c.certificate.serial.clone());
                f.personal.extend(c.nickname.clone());
            }
            let n = list.len();
            let message = lang.pick3(
                format!("Magasin de certificats lisible ({location}) : {n} certificat(s), dont {with_key} avec clé privée."),
                format!("Certificate store readable ({location}): {n} certificate(s), {with_key} with a private key."),
                format!("Zertifikatsspeicher lesbar ({location}): {n} Zertifikat(e), davon {with_key} mit privatem Schlüssel."),
            );
            if expired > 0 {
                check(
                    id,
                    CheckStatus::Warn,
                    format!(
                        "{message} {}",
                        lang.pick3(
                            format!("{expired} certificat(s) personnel(s) expiré(s)."),
                            format!("{expired} personal certificate(s) expired."),
                            format!("{expired} persönliche(s) Zertifikat(e) abgelaufen."),
                        )
                    ),
                    Some(lang.pick3(
                        "Retirez les certificats expirés (trousseau store remove SHA256) pour qu'ils ne soient plus proposés.",
                        "Remove the expired certificates (trousseau store remove SHA256) so they are no longer offered.",
                        "Entfernen Sie die abgelaufenen Zertifikate (trousseau store remove SHA256), damit sie nicht mehr angeboten werden.",
                    )),
                )
            } else {
                check(id, CheckStatus::Ok, message, None)
            }
        }
        Err(e) => check(
            id,
            CheckStatus::Fail,
            e.message(lang),
            Some(lang.pick3(
                "Fermez les navigateurs qui pourraient bloquer le magasin, puis relancez le diagnostic ; si cela persiste, contactez votre support avec le paquet de diagnostic (trousseau doctor --bundle).",
                "Close the browsers that could lock the store, then run the diagnosis again; if it persists, contact your support with the support bundle (trousseau doctor --bundle).",
                "Schließen Sie Browser, die den Speicher sperren könnten, und führen Sie die Diagnose erneut aus; wenn es bleibt, wenden Sie sich mit dem Support-Paket (trousseau doctor --bundle) an Ihren Support.",
            )),
        ),
    }
}

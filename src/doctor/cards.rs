//! PC/SC service, readers, the card identified by its ATR, and the card's software (middleware).

use super::*;

/// pcsc-lite's socket (Linux), where the service listens when it runs.
pub(super) fn pcsc_socket() -> Option<PathBuf> {
    if !cfg!(target_os = "linux") {
        return None;
    }
    Some(std::env::var_os("PCSCLITE_CSOCK_NAME").map(PathBuf::from).unwrap_or_else(|| "/run/pcscd/pcscd.comm".into()))
}

pub(super) fn pcsc_service(lang: Lang, f: &mut Findings) -> Check {
    let id = "pcsc.service";
    match card::list() {
        Ok(readers) => {
            f.readers = readers;
            check(
                id,
                CheckStatus::Ok,
                lang.pick3(
                    "Le service des cartes à puce fonctionne et répond.",
                    "The smart card service is running and answers.",
                    "Der Chipkartendienst läuft und antwortet.",
                ),
                None,
            )
        }
        Err(CardError::ServiceUnavailable { .. }) => {
            let socket = pcsc_socket();
            let listening = socket.as_deref().is_some_and(Path::exists);
            let message = if listening {
                lang.pick3(
                    "Le service des cartes à puce (pcscd) est lancé mais ne répond pas.",
                    "The smart card service (pcscd) is started but does not answer.",
                    "Der Chipkartendienst (pcscd) ist gestartet, antwortet aber nicht.",
                )
            } else {
                lang.pick3(
                    "Le service des cartes à puce ne fonctionne pas : aucun lecteur ni aucune carte ne peut être vu.",
                    "The smart card service is not running: no reader or card can be seen.",
                    "Der Chipkartendienst läuft nicht: Kein Lesegerät und keine Karte ist sichtbar.",
                )
            };
            let fix = if cfg!(windows) {
                lang.pick3(
                    "Branchez le lecteur (Windows démarre le service « Carte à puce » quand un lecteur est branché) ; sinon démarrez ce service dans « Services ».",
                    "Plug in the reader (Windows starts the “Smart Card” service when a reader is connected); otherwise start that service in “Services”.",
                    "Schließen Sie das Lesegerät an (Windows startet den Dienst „Smartcard“, sobald ein Lesegerät angeschlossen ist); sonst starten Sie diesen Dienst unter „Dienste“.",
                )
            } else if listening {
                lang.pick3(
                    "Redémarrez le service : « sudo systemctl restart pcscd », puis relancez le diagnostic.",
                    "Restart the service: “sudo systemctl restart pcscd”, then run the diagnosis again.",
                    "Starten Sie den Dienst neu: „sudo systemctl restart pcscd“, dann die Diagnose erneut ausführen.",
                )
            } else {
                lang.pick3(
                    "Installez et démarrez pcscd : « sudo apt install pcscd » puis « sudo systemctl enable --now pcscd.socket ».",
                    "Install and start pcscd: “sudo apt install pcscd” then “sudo systemctl enable --now pcscd.socket”.",
                    "Installieren und starten Sie pcscd: „sudo apt install pcscd“, dann „sudo systemctl enable --now pcscd.socket“.",
                )
            };
            check(id, CheckStatus::Fail, message, Some(fix))
        }
        Err(e) => check(
            id,
            CheckStatus::Fail,
            e.message(lang),
            Some(lang.pick3(
                "Débranchez puis rebranchez le lecteur, puis relancez le diagnostic.",
                "Unplug and plug in the reader again, then run the diagnosis again.",
                "Ziehen Sie das Lesegerät ab und stecken Sie es wieder ein, dann die Diagnose erneut ausführen.",
            )),
        ),
    }
}

pub(super) fn readers(f: &Findings, lang: Lang) -> Check {
    let id = "pcsc.readers";
    if f.readers.is_empty() {
        return check(
            id,
            CheckStatus::Fail,
            lang.pick3("Aucun lecteur de cartes n'est branché.", "No card reader is connected.", "Kein Kartenlesegerät ist angeschlossen."),
            Some(lang.pick3(
                "Branchez le lecteur de cartes (sur un autre port USB si besoin), puis relancez le diagnostic.",
                "Plug in the card reader (into another USB port if needed), then run the diagnosis again.",
                "Schließen Sie das Kartenlesegerät an (bei Bedarf an einem anderen USB-Anschluss), dann die Diagnose erneut ausführen.",
            )),
        );
    }
    let names: Vec<&str> = f.readers.iter().map(|r| r.reader.as_str()).collect();
    let n = names.len();
    let names = names.join(", ");
    check(
        id,
        CheckStatus::Ok,
        lang.pick3(
            format!("{n} lecteur(s) : {names}."),
            format!("{n} reader(s): {names}."),
            format!("{n} Lesegerät(e): {names}."),
        ),
        None,
    )
}

pub(super) fn card_present(cards: &[(String, card::CardInfo)], lang: Lang) -> Check {
    let id = "card.present";
    let Some((reader, info)) = cards.first() else {
        return check(
            id,
            CheckStatus::Warn,
            lang.pick3("Aucune carte n'est insérée.", "No card is inserted.", "Keine Karte ist eingesteckt."),
            Some(lang.pick3(
                "Insérez votre carte (puce vers le haut, côté contacts en premier), puis relancez le diagnostic.",
                "Insert your card (chip up, contacts first), then run the diagnosis again.",
                "Stecken Sie Ihre Karte ein (Chip nach oben, Kontakte zuerst), dann die Diagnose erneut ausführen.",
            )),
        );
    };
    if info.family == Family::Unknown {
        let atr = &info.atr;
        return check(
            id,
            CheckStatus::Warn,
            lang.pick3(
                format!("Une carte est insérée dans « {reader} » mais Trousseau ne la reconnaît pas (ATR {atr})."),
                format!("A card is inserted in « {reader} » but Trousseau does not recognise it (ATR {atr})."),
                format!("In „{reader}“ steckt eine Karte, die Trousseau nicht erkennt (ATR {atr})."),
            ),
            Some(lang.pick3(
                "Vérifiez que c'est bien votre carte LuxTrust ou CPS et qu'elle est insérée dans le bon sens ; sinon transmettez l'ATR à votre support.",
                "Check that it is your LuxTrust or CPS card and that it is inserted the right way; otherwise give the ATR to your support.",
                "Prüfen Sie, ob es Ihre LuxTrust- oder CPS-Karte ist und richtig herum steckt; sonst geben Sie die ATR an Ihren Support weiter.",
            )),
        );
    }
    let name = info.name;
    check(
        id,
        CheckStatus::Ok,
        lang.pick3(
            format!("Carte reconnue dans « {reader} » : {name}."),
            format!("Card recognised in « {reader} »: {name}."),
            format!("Karte in „{reader}“ erkannt: {name}."),
        ),
        None,
    )
}

/// The card's software: its name and where it comes from, in `lang`.
pub(super) fn middleware(family: Family, lang: Lang) -> Option<(String, String)> {
    match family {
        Family::Cps3 | Family::Cps4 => Some((
            "Cryptolib CPS".to_string(),
            lang.pick3(
                "Installez « Cryptolib CPS » depuis le site de l'Agence du Numérique en Santé (esante.gouv.fr, espace CPS, « Cryptolib CPS »), ou demandez-le à votre service informatique.",
                "Install “Cryptolib CPS” from the French digital health agency's site (esante.gouv.fr, CPS section, “Cryptolib CPS”), or ask your IT department.",
                "Installieren Sie „Cryptolib CPS“ von der Website der französischen Agentur für digitale Gesundheit (esante.gouv.fr, Bereich CPS, „Cryptolib CPS“) oder fragen Sie Ihre IT-Abteilung.",
            ),
        )),
        Family::LuxTrust | Family::LuxEid => Some((
            lang.pick3("le middleware LuxTrust", "the LuxTrust middleware", "die LuxTrust-Middleware"),
            lang.pick3(
                "Installez le middleware LuxTrust (Gemalto Classic Client / Thales IDPrime) depuis luxtrust.lu (Assistance, « Middleware »), ou demandez-le à votre service informatique.",
                "Install the LuxTrust middleware (Gemalto Classic Client / Thales IDPrime) from luxtrust.lu (Support, “Middleware”), or ask your IT department.",
                "Installieren Sie die LuxTrust-Middleware (Gemalto Classic Client / Thales IDPrime) von luxtrust.lu (Support, „Middleware“) oder fragen Sie Ihre IT-Abteilung.",
            ),
        )),
        _ => None,
    }
}

/// Whether a module named in the ATR table (absolute path, `%VAR%` path or bare file name) is on this computer.
pub(super) fn module_installed(name: &str) -> Option<PathBuf> {
    let expanded = expand_env(name);
    let p = Path::new(&expanded);
    if p.is_absolute() || expanded.contains(std::path::MAIN_SEPARATOR) {
        return p.exists().then(|| p.to_path_buf());
    }
    let dirs: &[&str] = if cfg!(windows) {
        &[r"C:\Windows\System32"]
    } else {
        &[
            "/usr/lib",
            "/usr/lib64",
            "/usr/local/lib",
            "/usr/lib/x86_64-linux-gnu",
            "/usr/lib/x86_64-linux-gnu/pkcs11",
            "/usr/lib/pkcs11",
        ]
    };
    dirs.iter().map(|d| Path::new(d).join(&expanded)).find(|c| c.exists())
}

pub(super) fn expand_env(s: &str) -> String {
    let mut out = s.to_string();
    for var in ["ProgramFiles", "SystemRoot"] {
        if let Some(v) = std::env::var_os(var) {
            out = out.replace(&format!("%{var}%"), &v.to_string_lossy());
        }
    }
    out
}

/// Where a recognised card's own software (its vendor's PKCS#11 module, not the OpenSC fallback) stands here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CardSoftware {
    Installed(PathBuf),
    /// Known for this card family but not installed: its certificates cannot be read.
    Missing,
    /// No particular software is known for this card.
    Unknown,
}

/// Looks for the card's own software on this computer (a few file checks).
pub fn card_software(info: &card::CardInfo) -> CardSoftware {
    let specific: Vec<&str> = info.modules.iter().copied().filter(|m| !m.contains("opensc")).collect();
    match specific.iter().find_map(|m| module_installed(m)) {
        Some(path) => CardSoftware::Installed(path),
        None if middleware(info.family, Lang::Fr).is_some() => CardSoftware::Missing,
        None => CardSoftware::Unknown,
    }
}

/// When the card's software is missing: what is wrong and where the software comes from, in `lang` (the doctor's
/// `card.module` verdict, and the window's card listing).
pub fn software_missing(info: &card::CardInfo, lang: Lang) -> Option<(String, String)> {
    if card_software(info) != CardSoftware::Missing {
        return None;
    }
    let (software, origin) = middleware(info.family, lang)?;
    let card = info.name;
    Some((
        lang.pick3(
            format!("La carte est reconnue ({card}) mais son logiciel, {software}, n'est pas installé : ses certificats ne peuvent pas être lus."),
            format!("The card is recognised ({card}) but its software, {software}, is not installed: its certificates cannot be read."),
            format!("Die Karte wird erkannt ({card}), aber ihre Software, {software}, ist nicht installiert: Ihre Zertifikate können nicht gelesen werden."),
        ),
        origin,
    ))
}

pub(super) fn card_module(cards: &[(String, card::CardInfo)], lang: Lang) -> Check {
    let id = "card.module";
    let Some((_, info)) = cards.iter().find(|(_, c)| c.family != Family::Unknown) else {
        return check(
            id,
            CheckStatus::Skip,
            lang.pick3(
                "Aucune carte reconnue : le logiciel de carte nécessaire ne peut pas être déterminé.",
                "No recognised card: the card software needed cannot be determined.",
                "Keine erkannte Karte: Die nötige Kartensoftware kann nicht bestimmt werden.",
            ),
            None,
        );
    };
    match card_software(info) {
        CardSoftware::Installed(path) => check(
            id,
            CheckStatus::Ok,
            lang.pick3(
                format!("Le logiciel de la carte est installé ({}).", path.display()),
                format!("The card's software is installed ({}).", path.display()),
                format!("Die Software der Karte ist installiert ({}).", path.display()),
            ),
            None,
        ),
        CardSoftware::Missing => match software_missing(info, lang) {
            Some((message, fix)) => check(id, CheckStatus::Fail, message, Some(fix)),
            None => skip(id, lang),
        },
        CardSoftware::Unknown => skip(id, lang),
    }
}

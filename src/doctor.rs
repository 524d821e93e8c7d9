//! The workstation doctor (`trousseau doctor`, the window's "Diagnostic" page): the chain a card certificate goes
//! through — PC/SC service → readers → card identified by its ATR → the card's PKCS#11 module → token and PIN →
//! certificates → browsers → OS store → portal → clock — checked link by link, in that order, each with its verdict
//! and what to do, in the user's language. A link that cannot be judged because an earlier one failed is `skip`.
//!
//! The support bundle (`trousseau doctor --bundle FILE`) packs the verdicts with versions, the module list and the
//! app's recent log lines, with personal data replaced (names, serial numbers, e-mail addresses, the user's name
//! and home directory). Secrets are never read here: PINs are not asked, keyring entries are not opened.

use crate::card::{self, atr::Family, CardError, ReaderState};
use crate::i18n::{Coded, Lang};
use crate::token::{self, PinState, Token};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use time::OffsetDateTime;
use ts_rs::TS;

/// A link's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
#[ts(rename = "CheckStatus")]
pub enum CheckStatus {
    Ok,
    Warn,
    Fail,
    /// Not judged: an earlier link failed, or there is nothing to check.
    Skip,
}

/// One link of the chain.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, TS)]
pub struct Check {
    /// Stable identifier (`pcsc.service`, `card.module`…).
    pub id: String,
    pub status: CheckStatus,
    /// What was found, in the user's language.
    pub message: String,
    /// What to do, in the user's language (`null` when nothing is to be done).
    pub fix: Option<String>,
}

/// Every link, in chain order.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, TS)]
pub struct DoctorReport {
    pub checks: Vec<Check>,
}

impl DoctorReport {
    /// The check with this id.
    pub fn get(&self, id: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.id == id)
    }

    /// No link failed.
    pub fn healthy(&self) -> bool {
        !self.checks.iter().any(|c| c.status == CheckStatus::Fail)
    }
}

/// The chain's ids, in order.
pub const CHECK_IDS: [&str; 12] = [
    "pcsc.service",
    "pcsc.readers",
    "card.present",
    "card.module",
    "token.visible",
    "token.pin",
    "token.certificates",
    "browser.registration",
    "store.os",
    "portal.pairing",
    "portal.channel",
    "clock",
];

fn check(id: &str, status: CheckStatus, message: String, fix: Option<String>) -> Check {
    Check { id: id.to_string(), status, message, fix }
}

fn skip(id: &str, lang: Lang) -> Check {
    check(
        id,
        CheckStatus::Skip,
        lang.pick3(
            "Non vérifié : un maillon précédent de la chaîne pose problème.",
            "Not checked: an earlier link of the chain has a problem.",
            "Nicht geprüft: Ein früheres Glied der Kette hat ein Problem.",
        ),
        None,
    )
}

/// What the chain found, kept for the later links and the support bundle.
#[derive(Default)]
struct Findings {
    readers: Vec<ReaderState>,
    tokens: Vec<Token>,
    /// Modules that show a token, for the browser registration.
    token_modules: Vec<PathBuf>,
    /// Names and serial numbers met on the way (redacted from the bundle).
    personal: Vec<String>,
    /// The paired portal's address: its clock is the reference for ours.
    portal_url: Option<String>,
}

/// Runs every check, in chain order.
pub fn run(lang: Lang) -> DoctorReport {
    run_collecting(lang).0
}

fn run_collecting(lang: Lang) -> (DoctorReport, Findings) {
    let mut f = Findings::default();
    let mut checks = Vec::new();

    // 1. PC/SC service, 2. readers.
    let service = pcsc_service(lang, &mut f);
    let service_ok = service.status == CheckStatus::Ok;
    checks.push(service);
    let readers_ok = if service_ok {
        let c = readers(&f, lang);
        let ok = c.status == CheckStatus::Ok;
        checks.push(c);
        ok
    } else {
        checks.push(skip("pcsc.readers", lang));
        false
    };

    // 3. Card present and identified, 4. its module.
    let cards: Vec<(String, card::CardInfo)> =
        f.readers.iter().filter_map(|r| r.card.clone().map(|c| (r.reader.clone(), c))).collect();
    if readers_ok {
        checks.push(card_present(&cards, lang));
        checks.push(card_module(&cards, lang));
    } else {
        checks.push(skip("card.present", lang));
        checks.push(skip("card.module", lang));
    }

    // 5. Tokens through the modules, 6. PIN, 7. certificates.
    let discovery = token::discover();
    let listing = token::list_tokens(&discovery, lang);
    f.tokens = listing.tokens;
    for t in &f.tokens {
        if !f.token_modules.contains(&t.module) {
            f.token_modules.push(t.module.clone());
        }
        f.personal.extend([t.label.clone(), t.serial.clone()]);
    }
    let problems: Vec<String> =
        discovery.problems.iter().chain(listing.problems.iter()).map(|p| p.report(lang).message).collect();
    checks.push(token_visible(&f.tokens, &cards, &problems, lang));
    checks.push(token_pin(&f.tokens, lang));
    checks.push(token_certificates(&mut f, lang));

    // 8. Browsers, 9. OS store.
    checks.push(browser_registration(&f.token_modules, lang));
    checks.push(os_store(&mut f, lang));

    // 10. Portal pairing, 11. live channel.
    let (pairing, channel) = portal_checks(&mut f, lang);
    checks.push(pairing);
    checks.push(channel);

    // 12. The clock.
    let reference = f.portal_url.as_deref().and_then(portal_time);
    checks.push(clock(reference, lang));
    (DoctorReport { checks }, f)
}

// ---------------------------------------------------------------------------------------------------------------
// PC/SC

/// pcsc-lite's socket (Linux), where the service listens when it runs.
fn pcsc_socket() -> Option<PathBuf> {
    if !cfg!(target_os = "linux") {
        return None;
    }
    Some(std::env::var_os("PCSCLITE_CSOCK_NAME").map(PathBuf::from).unwrap_or_else(|| "/run/pcscd/pcscd.comm".into()))
}

fn pcsc_service(lang: Lang, f: &mut Findings) -> Check {
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

fn readers(f: &Findings, lang: Lang) -> Check {
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

fn card_present(cards: &[(String, card::CardInfo)], lang: Lang) -> Check {
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
fn middleware(family: Family, lang: Lang) -> Option<(String, String)> {
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
fn module_installed(name: &str) -> Option<PathBuf> {
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

fn expand_env(s: &str) -> String {
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

fn card_module(cards: &[(String, card::CardInfo)], lang: Lang) -> Check {
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

// ---------------------------------------------------------------------------------------------------------------
// Tokens

fn token_visible(tokens: &[Token], cards: &[(String, card::CardInfo)], problems: &[String], lang: Lang) -> Check {
    let id = "token.visible";
    let detail = if problems.is_empty() { String::new() } else { format!(" ({})", problems.join(" ; ")) };
    if tokens.is_empty() {
        let (status, message, fix) = if cards.is_empty() {
            (
                CheckStatus::Skip,
                lang.pick3(
                    format!("Aucun jeton : aucune carte n'est insérée et aucun autre jeton n'est visible{detail}."),
                    format!("No token: no card is inserted and no other token is visible{detail}."),
                    format!("Kein Token: Keine Karte steckt und kein anderes Token ist sichtbar{detail}."),
                ),
                None,
            )
        } else {
            (
                CheckStatus::Fail,
                lang.pick3(
                    format!("La carte est insérée mais aucun module PKCS#11 ne la montre{detail}."),
                    format!("The card is inserted but no PKCS#11 module shows it{detail}."),
                    format!("Die Karte steckt, aber kein PKCS#11-Modul zeigt sie an{detail}."),
                ),
                Some(lang.pick3(
                    "Installez le logiciel de la carte (voir ci-dessus), retirez et réinsérez la carte, puis relancez le diagnostic.",
                    "Install the card's software (see above), remove and insert the card again, then run the diagnosis again.",
                    "Installieren Sie die Software der Karte (siehe oben), ziehen Sie die Karte ab und stecken Sie sie erneut ein, dann die Diagnose erneut ausführen.",
                )),
            )
        };
        return check(id, status, message, fix);
    }
    let list: Vec<String> = tokens.iter().map(|t| format!("« {} » ({})", t.label, module_name(&t.module))).collect();
    let list = list.join(", ");
    let status = if problems.is_empty() { CheckStatus::Ok } else { CheckStatus::Warn };
    check(
        id,
        status,
        lang.pick3(format!("Jeton(s) visible(s) : {list}{detail}."), format!("Visible token(s): {list}{detail}."), format!("Sichtbare(s) Token: {list}{detail}.")),
        (status == CheckStatus::Warn).then(|| {
            lang.pick3(
                "Un des modules installés ne fonctionne pas : réinstallez le logiciel concerné ou retirez-le de la configuration.",
                "One of the installed modules does not work: reinstall that software or remove it from the configuration.",
                "Eines der installierten Module funktioniert nicht: Installieren Sie die betreffende Software neu oder entfernen Sie sie aus der Konfiguration.",
            )
        }),
    )
}

fn module_name(p: &Path) -> String {
    p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| p.display().to_string())
}

fn token_pin(tokens: &[Token], lang: Lang) -> Check {
    let id = "token.pin";
    if tokens.is_empty() {
        return check(
            id,
            CheckStatus::Skip,
            lang.pick3(
                "Aucun jeton : pas de code PIN à vérifier.",
                "No token: no PIN to check.",
                "Kein Token: keine PIN zu prüfen.",
            ),
            None,
        );
    }
    let Some(worst) = tokens.iter().max_by_key(|t| match t.pin.state {
        PinState::Locked => 4,
        PinState::FinalTry => 3,
        PinState::NotInitialized => 2,
        PinState::CountLow => 1,
        PinState::Ok => 0,
    }) else {
        return skip(id, lang);
    };
    let label = &worst.label;
    let message = format!("« {label} » : {}", worst.pin.message);
    match worst.pin.state {
        PinState::Ok if !worst.pin.to_be_changed => check(id, CheckStatus::Ok, message, None),
        PinState::Ok | PinState::CountLow => check(
            id,
            CheckStatus::Warn,
            message,
            Some(lang.pick3(
                "Saisissez le code PIN avec soin à la prochaine utilisation ; en cas de doute, retrouvez-le avant d'essayer.",
                "Enter the PIN carefully next time; if in doubt, find it before trying.",
                "Geben Sie die PIN beim nächsten Mal sorgfältig ein; im Zweifel suchen Sie sie heraus, bevor Sie es versuchen.",
            )),
        ),
        PinState::FinalTry | PinState::Locked | PinState::NotInitialized => check(
            id,
            CheckStatus::Fail,
            message,
            Some(lang.pick3(
                "Débloquez la carte avec son code PUK, ou contactez l'autorité qui l'a délivrée (LuxTrust, ANS pour la CPS).",
                "Unblock the card with its PUK, or contact the authority that issued it (LuxTrust, ANS for the CPS).",
                "Entsperren Sie die Karte mit ihrer PUK oder wenden Sie sich an die ausstellende Stelle (LuxTrust, ANS für die CPS).",
            )),
        ),
    }
}

fn token_certificates(f: &mut Findings, lang: Lang) -> Check {
    let id = "token.certificates";
    if f.tokens.is_empty() {
        return check(
            id,
            CheckStatus::Skip,
            lang.pick3(
                "Aucun jeton : pas de certificat à vérifier.",
                "No token: no certificate to check.",
                "Kein Token: kein Zertifikat zu prüfen.",
            ),
            None,
        );
    }
    let now = OffsetDateTime::now_utc();
    let mut count = 0usize;
    let mut soonest: Option<(i64, String)> = None;
    let mut unreadable = Vec::new();
    for t in &f.tokens {
        match token::certificates(t) {
            Ok(certs) => {
                for c in certs {
                    count += 1;
                    f.personal.extend(c.certificate.subject_cn.clone());
                    f.personal.push(c.certificate.subject.clone());
                    f.personal.push(c.certificate.serial.clone());
                    let days = c.certificate.days_until_expiry(now);
                    if soonest.as_ref().is_none_or(|(d, _)| days < *d) {
                        soonest = Some((days, c.certificate.display_name()));
                    }
                }
            }
            Err(e) => unreadable.push(format!("« {} » : {}", t.label, e.message(lang))),
        }
    }
    let renew = || {
        lang.pick3(
            "Demandez le renouvellement du certificat à l'autorité qui l'a délivré (LuxTrust, IGC-Santé).",
            "Ask the authority that issued the certificate to renew it (LuxTrust, IGC-Santé).",
            "Beantragen Sie die Erneuerung des Zertifikats bei der ausstellenden Stelle (LuxTrust, IGC-Santé).",
        )
    };
    match soonest {
        None if unreadable.is_empty() => check(
            id,
            CheckStatus::Warn,
            lang.pick3(
                "Aucun certificat sur le(s) jeton(s).",
                "No certificate on the token(s).",
                "Kein Zertifikat auf dem Token bzw. den Token.",
            ),
            Some(lang.pick3(
                "Si la carte devrait porter un certificat, contactez l'autorité qui l'a délivrée.",
                "If the card should carry a certificate, contact the authority that issued it.",
                "Sollte die Karte ein Zertifikat tragen, wenden Sie sich an die ausstellende Stelle.",
            )),
        ),
        None => check(id, CheckStatus::Fail, unreadable.join(" ; "), None),
        Some((days, name)) if days < 0 => check(
            id,
            CheckStatus::Fail,
            lang.pick3(
                format!("{count} certificat(s) ; « {name} » a expiré il y a {} jour(s).", -days),
                format!("{count} certificate(s); « {name} » expired {} day(s) ago.", -days),
                format!("{count} Zertifikat(e); „{name}“ ist seit {} Tag(en) abgelaufen.", -days),
            ),
            Some(renew()),
        ),
        Some((days, name)) if days <= i64::from(crate::api::EXPIRY_WARNING_DAYS) => check(
            id,
            CheckStatus::Warn,
            lang.pick3(
                format!("{count} certificat(s) ; « {name} » expire dans {days} jour(s)."),
                format!("{count} certificate(s); « {name} » expires in {days} day(s)."),
                format!("{count} Zertifikat(e); „{name}“ läuft in {days} Tag(en) ab."),
            ),
            Some(renew()),
        ),
        Some((days, _)) => check(
            id,
            CheckStatus::Ok,
            lang.pick3(
                format!("{count} certificat(s), le premier à expirer dans {days} jours."),
                format!("{count} certificate(s), the first expiring in {days} days."),
                format!("{count} Zertifikat(e), das erste läuft in {days} Tagen ab."),
            ),
            None,
        ),
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Browsers and the OS store

#[cfg(target_os = "linux")]
fn same_library(a: &Path, b: &Path) -> bool {
    let canon = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    canon(a) == canon(b)
}

#[cfg(target_os = "linux")]
fn browser_registration(modules: &[PathBuf], lang: Lang) -> Check {
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
fn browser_registration(_modules: &[PathBuf], lang: Lang) -> Check {
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

fn os_store(f: &mut Findings, lang: Lang) -> Check {
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

// ---------------------------------------------------------------------------------------------------------------
// Portal

#[cfg(feature = "portal")]
fn portal_checks(f: &mut Findings, lang: Lang) -> (Check, Check) {
    use crate::portal::ChannelEvent;
    let pairing = match crate::portal::current_pairing() {
        Ok(Some(p)) => p,
        Ok(None) => return (
            check(
                "portal.pairing",
                CheckStatus::Skip,
                lang.pick3(
                    "Trousseau n'est associé à aucun portail (utile seulement pour le portail des marchés publics).",
                    "Trousseau is not paired with any portal (only needed for the public procurement portal).",
                    "Trousseau ist mit keinem Portal gekoppelt (nur für das Vergabeportal nötig).",
                ),
                Some(lang.pick3(
                    "Pour utiliser le portail : trousseau portal pair, ou la page Portail de la fenêtre.",
                    "To use the portal: trousseau portal pair, or the Portal page of the window.",
                    "Um das Portal zu nutzen: trousseau portal pair oder die Seite Portal im Fenster.",
                )),
            ),
            check(
                "portal.channel",
                CheckStatus::Skip,
                lang.pick3(
                    "Pas d'association : pas de canal avec un portail à vérifier.",
                    "Not paired: no portal channel to check.",
                    "Nicht gekoppelt: kein Portalkanal zu prüfen.",
                ),
                None,
            ),
        ),
        Err(e) => {
            return (
                check(
                    "portal.pairing",
                    CheckStatus::Fail,
                    e.message(lang),
                    Some(lang.pick3(
                        "Associez Trousseau à nouveau au portail : trousseau portal pair.",
                        "Pair Trousseau with the portal again: trousseau portal pair.",
                        "Koppeln Sie Trousseau erneut mit dem Portal: trousseau portal pair.",
                    )),
                ),
                skip("portal.channel", lang),
            )
        }
    };
    f.portal_url = Some(pairing.url.clone());
    f.personal.extend(pairing.agent.clone());
    f.personal.push(pairing.device_name.clone());
    let name = &pairing.name;
    let paired = check(
        "portal.pairing",
        CheckStatus::Ok,
        lang.pick3(
            format!("Associé au portail « {name} »."),
            format!("Paired with the portal « {name} »."),
            format!("Mit dem Portal „{name}“ gekoppelt."),
        ),
        None,
    );
    let channel = match crate::portal::published_state() {
        Some(ChannelEvent::Connected { .. }) => check(
            "portal.channel",
            CheckStatus::Ok,
            lang.pick3(
                format!("Connecté à « {name} » : le portail affiche « Connecté »."),
                format!("Connected to « {name} »: the portal shows “Connecté”."),
                format!("Mit „{name}“ verbunden: Das Portal zeigt „Connecté“."),
            ),
            None,
        ),
        Some(ChannelEvent::Revoked) => check(
            "portal.channel",
            CheckStatus::Fail,
            lang.pick3(
                "Le portail n'accepte plus ce poste (association retirée).",
                "The portal no longer accepts this workstation (pairing removed).",
                "Das Portal akzeptiert diesen Arbeitsplatz nicht mehr (Kopplung entfernt).",
            ),
            Some(lang.pick3(
                "Associez Trousseau à nouveau : trousseau portal pair.",
                "Pair Trousseau again: trousseau portal pair.",
                "Koppeln Sie Trousseau erneut: trousseau portal pair.",
            )),
        ),
        Some(ChannelEvent::Disconnected { reason, .. }) => check(
            "portal.channel",
            CheckStatus::Fail,
            lang.pick3(
                format!("Déconnecté du portail ({reason}) ; Trousseau réessaie."),
                format!("Disconnected from the portal ({reason}); Trousseau is retrying."),
                format!("Vom Portal getrennt ({reason}); Trousseau versucht es erneut."),
            ),
            Some(lang.pick3(
                "Vérifiez la connexion Internet ; si le portail reste « Déconnecté », redémarrez Trousseau.",
                "Check the Internet connection; if the portal stays “Déconnecté”, restart Trousseau.",
                "Prüfen Sie die Internetverbindung; bleibt das Portal „Déconnecté“, starten Sie Trousseau neu.",
            )),
        ),
        Some(ChannelEvent::Connecting) => check(
            "portal.channel",
            CheckStatus::Warn,
            lang.pick3(
                "Connexion au portail en cours.",
                "Connecting to the portal.",
                "Verbindung zum Portal wird hergestellt.",
            ),
            Some(lang.pick3(
                "Attendez quelques secondes puis relancez le diagnostic.",
                "Wait a few seconds, then run the diagnosis again.",
                "Warten Sie einige Sekunden und führen Sie die Diagnose erneut aus.",
            )),
        ),
        Some(ChannelEvent::Stopped) | None => check(
            "portal.channel",
            CheckStatus::Warn,
            lang.pick3(
                "Trousseau n'est pas lancé : le portail affiche « Déconnecté ».",
                "Trousseau is not running: the portal shows “Déconnecté”.",
                "Trousseau läuft nicht: Das Portal zeigt „Déconnecté“.",
            ),
            Some(lang.pick3(
                "Lancez l'application Trousseau (elle reste dans la barre des tâches) avant d'aller sur le portail.",
                "Start the Trousseau app (it stays in the tray) before going to the portal.",
                "Starten Sie die Trousseau-App (sie bleibt im Infobereich), bevor Sie das Portal öffnen.",
            )),
        ),
    };
    (paired, channel)
}

#[cfg(not(feature = "portal"))]
fn portal_checks(_f: &mut Findings, lang: Lang) -> (Check, Check) {
    let none = || {
        lang.pick3(
            "Cette version de Trousseau n'inclut pas le portail.",
            "This build of Trousseau does not include the portal.",
            "Diese Trousseau-Version enthält das Portal nicht.",
        )
    };
    (check("portal.pairing", CheckStatus::Skip, none(), None), check("portal.channel", CheckStatus::Skip, none(), None))
}

// ---------------------------------------------------------------------------------------------------------------
// Clock

/// The earliest date this build can run at: a clock before it is certainly wrong.
const CLOCK_FLOOR: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z

/// The time the portal's web server gives in its `Date` header (HTTP-date, second precision).
#[cfg(feature = "portal")]
fn portal_time(url: &str) -> Option<OffsetDateTime> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
    rt.block_on(async {
        let http = reqwest::Client::builder().timeout(std::time::Duration::from_secs(5)).build().ok()?;
        let resp = http.get(url).send().await.ok()?;
        let date = resp.headers().get("date")?.to_str().ok()?.to_string();
        OffsetDateTime::parse(&date, &time::format_description::well_known::Rfc2822).ok()
    })
}

#[cfg(not(feature = "portal"))]
fn portal_time(_url: &str) -> Option<OffsetDateTime> {
    None
}

/// Clock difference from the portal beyond which certificate dates are judged wrongly.
const CLOCK_SKEW_MAX: i64 = 300;

fn clock(reference: Option<OffsetDateTime>, lang: Lang) -> Check {
    let id = "clock";
    let now = OffsetDateTime::now_utc();
    let fix = || {
        lang.pick3(
            "Réglez la date et l'heure de l'ordinateur (réglage automatique par Internet) : les certificats sont jugés valides ou expirés d'après elles.",
            "Set the computer's date and time (automatic setting from the Internet): certificates are judged valid or expired by them.",
            "Stellen Sie Datum und Uhrzeit des Computers ein (automatisch über das Internet): Danach werden Zertifikate als gültig oder abgelaufen beurteilt.",
        )
    };
    if now.unix_timestamp() < CLOCK_FLOOR {
        let date = lang.date(now.date());
        return check(
            id,
            CheckStatus::Fail,
            lang.pick3(
                format!("L'horloge de l'ordinateur indique le {date} : c'est impossible, elle est fausse."),
                format!("The computer's clock says {date}: that is impossible, it is wrong."),
                format!("Die Uhr des Computers zeigt den {date}: Das ist unmöglich, sie geht falsch."),
            ),
            Some(fix()),
        );
    }
    if let Some(portal) = reference {
        let skew = (now - portal).whole_seconds();
        let minutes = skew.abs() / 60;
        if skew.abs() > CLOCK_SKEW_MAX {
            let (fr, en, de) = if skew > 0 { ("en avance", "ahead", "vor") } else { ("en retard", "behind", "nach") };
            return check(
                id,
                CheckStatus::Fail,
                lang.pick3(
                    format!("L'horloge de l'ordinateur est {fr} de {minutes} minute(s) sur celle du portail."),
                    format!("The computer's clock is {minutes} minute(s) {en} the portal's."),
                    format!("Die Uhr des Computers geht gegenüber der des Portals {minutes} Minute(n) {de}."),
                ),
                Some(fix()),
            );
        }
        return check(
            id,
            CheckStatus::Ok,
            lang.pick3(
                "L'horloge de l'ordinateur est à l'heure du portail.",
                "The computer's clock agrees with the portal's.",
                "Die Uhr des Computers stimmt mit der des Portals überein.",
            ),
            None,
        );
    }
    match ntp_synchronized() {
        Some(false) => check(
            id,
            CheckStatus::Warn,
            lang.pick3(
                "L'horloge de l'ordinateur n'est pas synchronisée automatiquement : elle peut dériver.",
                "The computer's clock is not synchronised automatically: it may drift.",
                "Die Uhr des Computers wird nicht automatisch synchronisiert: Sie kann abweichen.",
            ),
            Some(fix()),
        ),
        _ => check(
            id,
            CheckStatus::Ok,
            lang.pick3(
                "L'horloge de l'ordinateur est plausible.",
                "The computer's clock is plausible.",
                "Die Uhr des Computers ist plausibel.",
            ),
            None,
        ),
    }
}

/// systemd's view of time synchronisation (`timedatectl`), where it exists.
fn ntp_synchronized() -> Option<bool> {
    if !cfg!(target_os = "linux") {
        return None;
    }
    let out = crate::child::command("timedatectl")
        .args(["show", "-p", "NTPSynchronized", "--value"])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    match String::from_utf8_lossy(&out.stdout).trim() {
        "yes" => Some(true),
        "no" => Some(false),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Support bundle

/// Why the support bundle could not be written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DoctorError {
    #[error("{path} already exists")]
    Exists { path: PathBuf },
    #[error("cannot write {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

impl Coded for DoctorError {
    fn code(&self) -> &'static str {
        match self {
            DoctorError::Exists { .. } => "doctor.bundle_exists",
            DoctorError::Io { .. } => "doctor.bundle_io",
        }
    }

    fn message(&self, lang: Lang) -> String {
        match self {
            DoctorError::Exists { path } => lang.pick3(
                format!("Le fichier {} existe déjà : il n'est pas remplacé. Choisissez un autre nom.", path.display()),
                format!("The file {} already exists: it is not replaced. Choose another name.", path.display()),
                format!(
                    "Die Datei {} existiert bereits: Sie wird nicht ersetzt. Wählen Sie einen anderen Namen.",
                    path.display()
                ),
            ),
            DoctorError::Io { path, source } => lang.pick3(
                format!("Impossible d'écrire {} ({source}) : vérifiez le dossier et l'espace disque.", path.display()),
                format!("Cannot write {} ({source}): check the folder and the disk space.", path.display()),
                format!(
                    "{} kann nicht geschrieben werden ({source}): Prüfen Sie den Ordner und den Speicherplatz.",
                    path.display()
                ),
            ),
        }
    }
}

/// What the support bundle holds (all personal data already replaced).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Bundle {
    pub created_at: String,
    pub versions: Versions,
    pub doctor: DoctorReport,
    /// Modules found, with the problems of those that failed.
    pub modules: Vec<String>,
    /// The app's last log lines.
    pub log: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Versions {
    pub trousseau: String,
    pub os: String,
    pub arch: String,
}

/// Runs the doctor and writes the support bundle (JSON) to `path`, never over an existing file. Returns the
/// report.
pub fn write_bundle(path: &Path, lang: Lang) -> Result<DoctorReport, DoctorError> {
    if path.exists() {
        return Err(DoctorError::Exists { path: path.to_path_buf() });
    }
    let (report, findings) = run_collecting(lang);
    let discovery = token::discover();
    let mut modules: Vec<String> = discovery
        .modules
        .iter()
        .map(|m| format!("{} — {} {} ({})", m.path.display(), m.manufacturer, m.library_version, m.description))
        .collect();
    modules.extend(discovery.problems.iter().map(|p| format!("{} — {}", p.path.display(), p.report(lang).code)));
    let bundle = Bundle {
        created_at: crate::cert::rfc3339_z::format(&OffsetDateTime::now_utc()),
        versions: Versions {
            trousseau: env!("CARGO_PKG_VERSION").to_string(),
            os: os_name(),
            arch: std::env::consts::ARCH.to_string(),
        },
        doctor: report.clone(),
        modules,
        log: recent_log_lines(200),
    };
    let text = serde_json::to_string_pretty(&bundle).unwrap_or_default();
    let text = redact(&text, &findings.personal);
    write_new(path, text.as_bytes())?;
    Ok(report)
}

fn os_name() -> String {
    std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|t| t.lines().find_map(|l| l.strip_prefix("PRETTY_NAME=").map(|v| v.trim_matches('"').to_string())))
        .unwrap_or_else(|| std::env::consts::OS.to_string())
}

/// The desktop app's log files (tauri-plugin-log writes `<data>/lu.trousseau.desktop/logs/*.log`): the last
/// `max` lines, oldest first.
fn recent_log_lines(max: usize) -> Vec<String> {
    let mut dirs = Vec::new();
    if let Some(d) = directories::BaseDirs::new() {
        dirs.push(d.data_local_dir().join("lu.trousseau.desktop").join("logs"));
        dirs.push(d.data_dir().join("lu.trousseau.desktop").join("logs"));
    }
    if let Ok(d) = crate::paths::data_dir() {
        dirs.push(d.join("logs"));
    }
    let mut files: Vec<(std::time::SystemTime, PathBuf)> = dirs
        .iter()
        .filter_map(|d| std::fs::read_dir(d).ok())
        .flatten()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "log"))
        .map(|e| (e.metadata().and_then(|m| m.modified()).unwrap_or(std::time::UNIX_EPOCH), e.path()))
        .collect();
    files.sort();
    files.dedup_by(|a, b| a.1 == b.1);
    let mut lines: Vec<String> = Vec::new();
    for (_, f) in files {
        if let Ok(bytes) = std::fs::read(&f) {
            lines.extend(String::from_utf8_lossy(&bytes).lines().map(str::to_string));
        }
    }
    let skip = lines.len().saturating_sub(max);
    lines.split_off(skip)
}

/// Replaces personal data in `text`: the `personal` strings met during the checks (names, subjects, serials,
/// token labels), the user's home directory and login name, and e-mail addresses.
pub fn redact(text: &str, personal: &[String]) -> String {
    let mut out = text.to_string();
    let mut items: Vec<(String, &str)> = Vec::new();
    if let Some(home) = std::env::var_os("HOME").filter(|h| h.len() > 1) {
        items.push((home.to_string_lossy().into_owned(), "~"));
    }
    for p in personal {
        let p = p.trim();
        // Very short strings ("01", "A") would blank unrelated text: serials that short are not identifying.
        if p.chars().count() >= 3 {
            items.push((p.to_string(), "[redacted]"));
            // RFC 4514 escapes and JSON escapes of the same text.
            items.push((crate::asn1::rfc4514::escape(p), "[redacted]"));
            if let Ok(j) = serde_json::to_string(p) {
                items.push((j.trim_matches('"').to_string(), "[redacted]"));
            }
        }
    }
    for var in ["USER", "LOGNAME", "USERNAME"] {
        if let Some(u) = std::env::var_os(var).filter(|u| u.len() >= 3) {
            items.push((u.to_string_lossy().into_owned(), "[user]"));
        }
    }
    // Longest first, so a subject is replaced whole before its CN alone.
    items.sort_by_key(|i| std::cmp::Reverse(i.0.len()));
    items.dedup_by(|a, b| a.0 == b.0);
    for (from, to) in items {
        if !from.is_empty() {
            out = out.replace(&from, to);
        }
    }
    redact_emails(&out)
}

fn redact_emails(text: &str) -> String {
    let is_part = |c: char| c.is_alphanumeric() || "._%+-".contains(c);
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '@' && i > 0 && is_part(chars[i - 1]) && chars.get(i + 1).is_some_and(|c| is_part(*c)) {
            // Drop the local part already written, and skip the domain.
            while out.chars().last().is_some_and(is_part) {
                out.pop();
            }
            out.push_str("[email]");
            i += 1;
            while i < chars.len() && (is_part(chars[i])) {
                i += 1;
            }
            continue;
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

/// Writes `bytes` to a new file at `path`: a temporary file in the same folder, synced, then linked to its name
/// (which fails if the name exists), so an existing file is never replaced and a half-written bundle never appears.
fn write_new(path: &Path, bytes: &[u8]) -> Result<(), DoctorError> {
    use std::io::Write;
    let io = |source| DoctorError::Io { path: path.to_path_buf(), source };
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
    tmp.write_all(bytes).map_err(io)?;
    tmp.as_file().sync_all().map_err(io)?;
    match tmp.persist_noclobber(path) {
        Ok(_) => Ok(()),
        Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => {
            Err(DoctorError::Exists { path: path.to_path_buf() })
        }
        Err(e) => Err(io(e.error)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_removes_names_serials_emails_and_home() {
        std::env::set_var("HOME", "/home/jdupont");
        let text =
            r#"{"m":"Jeanne Dupont (CN=Jeanne Dupont,O=Org) 0a1b2c3d /home/jdupont/x jeanne.dupont@example.lu"}"#;
        let out = redact(text, &["Jeanne Dupont".into(), "0a1b2c3d".into()]);
        assert!(!out.contains("Jeanne") && !out.contains("0a1b2c3d") && !out.contains("jdupont"), "{out}");
        assert!(!out.contains("example.lu") && out.contains("[email]"), "{out}");
        assert!(out.contains("~/x"), "{out}");
    }

    #[test]
    fn clock_against_the_portal() {
        let now = OffsetDateTime::now_utc();
        assert_eq!(clock(Some(now - time::Duration::seconds(30)), Lang::Fr).status, CheckStatus::Ok);
        let c = clock(Some(now - time::Duration::minutes(20)), Lang::Fr);
        assert_eq!(c.status, CheckStatus::Fail);
        assert!(c.message.contains("en avance de 20 minute(s)"), "{}", c.message);
        let http =
            OffsetDateTime::parse("Fri, 04 Dec 2026 12:58:06 GMT", &time::format_description::well_known::Rfc2822);
        assert!(http.is_ok(), "{http:?}");
    }

    #[test]
    fn german_bundle_errors() {
        crate::i18n::assert_german(&DoctorError::Exists { path: "/tmp/b.json".into() });
    }
}

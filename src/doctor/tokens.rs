//! Tokens through their modules: visible, PIN state, certificates and their expiry.

use super::*;

pub(super) fn token_visible(
    tokens: &[Token],
    cards: &[(String, card::CardInfo)],
    problems: &[String],
    lang: Lang,
) -> Check {
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

pub(super) fn module_name(p: &Path) -> String {
    p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| p.display().to_string())
}

pub(super) fn token_pin(tokens: &[Token], lang: Lang) -> Check {
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

pub(super) fn token_certificates(f: &mut Findings, lang: Lang) -> Check {
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

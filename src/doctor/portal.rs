//! Portal pairing and the live channel.

use super::*;

#[cfg(feature = "portal")]
pub(super) fn portal_checks(f: &mut Findings, lang: Lang) -> (Check, Check) {
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
pub(super) fn portal_checks(_f: &mut Findings, lang: Lang) -> (Check, Check) {
    let none = || {
        lang.pick3(
            "Cette version de Trousseau n'inclut pas le portail.",
            "This build of Trousseau does not include the portal.",
            "Diese Trousseau-Version enthält das Portal nicht.",
        )
    };
    (check("portal.pairing", CheckStatus::Skip, none(), None), check("portal.channel", CheckStatus::Skip, none(), None))
}

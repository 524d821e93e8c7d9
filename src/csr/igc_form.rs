//! The IGC-Santé request form, field by field: which fields an offer and usage ask for, and what is wrong with each
//! one, in the user's language. The window asks the core (`csr_igc_check`) instead of keeping its own copy of the
//! rules; [`super::igc_sante::check`] remains the final word when the request is made.

use super::igc_sante::{Input, Offer, Usage};
use crate::i18n::Lang;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// A field of the form (`email` is the one e-mail address; `fqdns` the server names, 1 to 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
#[ts(rename = "IgcField")]
pub enum Field {
    Cn,
    Sn,
    Gn,
    Title,
    Ou,
    O,
    St,
    Email,
    Upn,
    Fqdns,
}

/// What is wrong with one field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(rename = "IgcProblem")]
pub struct Problem {
    pub field: Field,
    /// What to do, in the user's language.
    pub message: String,
}

/// The fields the form asks for, in order. With an INSi choice (ORG/SERV) the cn is that choice, not typed.
pub fn fields(offer: Offer, usage: Usage, insi: bool) -> Vec<Field> {
    let mut f = if insi && !offer.is_person() { vec![] } else { vec![Field::Cn] };
    if offer.is_person() {
        f.extend([Field::Sn, Field::Gn, Field::Title]);
    }
    if offer.has_structure() {
        f.extend([Field::Ou, Field::O, Field::St]);
    }
    match usage {
        Usage::CONF | Usage::SIGN | Usage::SMIME => f.push(Field::Email),
        Usage::AUTH => f.push(Field::Upn),
        Usage::SSL_SERV => f.push(Field::Fqdns),
        Usage::AUTH_CLI => {}
    }
    f
}

fn is_email(s: &str) -> bool {
    // something@domain.tld: one @, no spaces, a dot inside the domain (as the form has always accepted).
    let ok = |p: &str| !p.is_empty() && !p.chars().any(|c| c.is_whitespace() || c == '@');
    let Some((local, domain)) = s.split_once('@') else { return false };
    ok(local) && ok(domain) && domain.char_indices().any(|(i, c)| c == '.' && i > 0 && i + 1 < domain.len())
}

fn is_fqdn(s: &str) -> bool {
    let labels: Vec<&str> = s.split('.').collect();
    s.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|l| {
            (1..=63).contains(&l.len())
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
}

/// What is wrong with each field of `input` (offer and usage as the form sends them), in `lang`, in the form's
/// order; empty when the request can be built. Unknown offers or usages have no fields to check: the request
/// itself names them ([`super::igc_sante::check`]).
pub fn problems(input: &Input, lang: Lang) -> Vec<Problem> {
    let (Some(offer), Some(usage)) = (Offer::parse(&input.offer), Usage::parse(&input.usage)) else {
        return Vec::new();
    };
    let service = !offer.is_person();
    let mut out: Vec<Problem> = Vec::new();
    let mut set = |field: Field, message: String| match out.iter_mut().find(|p| p.field == field) {
        Some(p) => p.message = message,
        None => out.push(Problem { field, message }),
    };
    if input.insi.is_some() && !service {
        // Core rule "insi_offer".
        set(
            Field::Cn,
            lang.pick3(
                format!("Le service INSi concerne les offres ORG et SERV, pas {}.", offer.as_str()),
                format!("The INSi service belongs to the ORG and SERV offers, not {}.", offer.as_str()),
                format!("Der INSi-Dienst gehört zu den Angeboten ORG und SERV, nicht zu {}.", offer.as_str()),
            ),
        );
    }
    let text = |o: &Option<String>| o.as_deref().unwrap_or("").trim().to_string();
    for field in fields(offer, usage, input.insi.is_some()) {
        let value = match field {
            Field::Cn => text(&input.cn),
            Field::Sn => text(&input.sn),
            Field::Gn => text(&input.gn),
            Field::Title => text(&input.title),
            Field::Ou => text(&input.ou),
            Field::O => text(&input.o),
            Field::St => text(&input.st),
            Field::Email => input.emails.first().map(|e| e.trim().to_string()).unwrap_or_default(),
            Field::Upn => text(&input.upn),
            Field::Fqdns => {
                input.fqdns.iter().map(|f| f.trim()).filter(|f| !f.is_empty()).collect::<Vec<_>>().join(" ")
            }
        };
        if value.is_empty() {
            set(
                field,
                lang.pick3(
                    "Ce champ est obligatoire : remplissez-le.",
                    "This field is required: fill it in.",
                    "Dies ist ein Pflichtfeld: Bitte füllen Sie es aus.",
                ),
            );
            continue;
        }
        if field == Field::Cn
            && service
            && value.to_ascii_lowercase().starts_with("insi")
            && value != "INSI-AUTO"
            && value != "INSI-MANU"
        {
            // Core rule "insi_cn".
            set(field, lang.pick3(
                "Pour l'INSi, le service applicatif doit être exactement INSI-AUTO ou INSI-MANU : choisissez « Service INSi » ci-dessus.",
                "For INSi the application service must be exactly INSI-AUTO or INSI-MANU: choose “INSi service” above.",
                "Für INSi muss der Anwendungsdienst genau INSI-AUTO oder INSI-MANU heißen: Wählen Sie oben „INSi-Dienst“.",
            ));
        }
        if field == Field::Cn && !service && !value.chars().all(|c| c.is_ascii_alphanumeric() || c == '/' || c == '-') {
            // Core rule "national_id".
            set(field, lang.pick3(
                "L'identifiant national (RPPS/ADELI) s'écrit en chiffres et lettres, sans espace, par exemple 810012345678.",
                "The national id (RPPS/ADELI) is written in digits and letters, without spaces, e.g. 810012345678.",
                "Die nationale Kennung (RPPS/ADELI) besteht aus Ziffern und Buchstaben ohne Leerzeichen, zum Beispiel 810012345678.",
            ));
        }
        if field == Field::St && !super::igc_sante::is_department(&value) {
            set(
                field,
                lang.pick3(
                    "Écrivez le département suivi de son numéro entre parenthèses, par exemple « Paris (75) ».",
                    "Write the département followed by its number in brackets, e.g. “Paris (75)”.",
                    "Geben Sie das Département mit seiner Nummer in Klammern an, zum Beispiel „Paris (75)“.",
                ),
            );
        }
        if field == Field::Email && !is_email(&value) {
            set(
                field,
                lang.pick3(
                    "Cette adresse électronique n'est pas valide : vérifiez-la (exemple : prenom.nom@exemple.fr).",
                    "This e-mail address is not valid: check it (e.g. first.last@example.org).",
                    "Diese E-Mail-Adresse ist ungültig: Bitte prüfen Sie sie (Beispiel: vorname.nachname@beispiel.de).",
                ),
            );
        }
        if field == Field::Fqdns {
            let names: Vec<&str> = value.split_whitespace().collect();
            if names.is_empty() || names.len() > 5 {
                set(
                    field,
                    lang.pick3(
                        "Indiquez de 1 à 5 noms de serveur, un par ligne.",
                        "Give 1 to 5 server names, one per line.",
                        "Geben Sie 1 bis 5 Servernamen an, einen pro Zeile.",
                    ),
                );
            } else if !names.iter().all(|n| is_fqdn(n)) {
                set(
                    field,
                    lang.pick3(
                        "Un nom de serveur n'est pas valide (exemple : serveur.exemple.fr).",
                        "A server name is not valid (e.g. server.example.org).",
                        "Ein Servername ist ungültig (Beispiel: server.beispiel.de).",
                    ),
                );
            }
        }
        if !matches!(field, Field::Fqdns | Field::Email | Field::Upn)
            && value.chars().any(|c| matches!(c, ',' | '+' | '=' | '<' | '>' | '#' | ';' | '"' | '\\'))
        {
            set(
                field,
                lang.pick3(
                    "Évitez les caractères , + = < > # ; \" \\ dans ce champ.",
                    "Avoid the characters , + = < > # ; \" \\ in this field.",
                    "Vermeiden Sie die Zeichen , + = < > # ; \" \\ in diesem Feld.",
                ),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    //! The rules the window's form used to carry (ui/src/igc.ts), now asked of the core.
    use super::*;

    fn input(offer: &str, usage: &str, v: &[(&str, &str)]) -> Input {
        let get = |k: &str| v.iter().find(|(f, _)| *f == k).map(|(_, x)| x.to_string());
        Input {
            offer: offer.into(),
            usage: usage.into(),
            cn: get("cn"),
            sn: get("sn"),
            gn: get("gn"),
            title: get("title"),
            ou: get("ou"),
            o: get("o"),
            st: get("st"),
            emails: get("email").into_iter().collect(),
            upn: get("upn"),
            fqdns: get("fqdns").map(|f| f.split_whitespace().map(String::from).collect()).unwrap_or_default(),
            insi: None,
        }
    }

    fn problem(p: &[Problem], f: Field) -> Option<&str> {
        p.iter().find(|x| x.field == f).map(|x| x.message.as_str())
    }

    #[test]
    fn fields_follow_offer_and_usage() {
        use Field::*;
        assert_eq!(fields(Offer::PS, Usage::AUTH, false), [Cn, Sn, Gn, Title, Upn]);
        assert_eq!(fields(Offer::PRO, Usage::CONF, false), [Cn, Sn, Gn, Title, Ou, O, St, Email]);
        assert_eq!(fields(Offer::SERV, Usage::SSL_SERV, false), [Cn, Ou, O, St, Fqdns]);
        assert_eq!(fields(Offer::ORG, Usage::AUTH_CLI, true), [Ou, O, St]);
    }

    #[test]
    fn departement_insi_names_and_one_to_five_fqdns() {
        let base = [
            ("cn", "INSI-AUTO"),
            ("ou", "123456789"),
            ("o", "Clinique"),
            ("st", "Paris (75)"),
            ("fqdns", "a.exemple.fr"),
        ];
        assert!(problems(&input("SERV", "SSL_SERV", &base), Lang::Fr).is_empty());
        let with = |k: &'static str, v: &'static str| {
            let mut b = base.to_vec();
            b.retain(|(f, _)| *f != k);
            b.push((k, v));
            b
        };
        let p = problems(&input("SERV", "SSL_SERV", &with("st", "Paris")), Lang::Fr);
        assert!(problem(&p, Field::St).unwrap().contains("Paris (75)"));
        let p =
            problems(&input("ORG", "SIGN", &[with("cn", "INSI-auto"), vec![("email", "a@b.fr")]].concat()), Lang::Fr);
        assert!(problem(&p, Field::Cn).unwrap().contains("INSI-AUTO ou INSI-MANU"), "{p:?}");
        let p = problems(&input("SERV", "SSL_SERV", &with("fqdns", "a.fr b.fr c.fr d.fr e.fr f.fr")), Lang::Fr);
        assert!(problem(&p, Field::Fqdns).unwrap().contains("1 à 5"));
        let p = problems(&input("SERV", "SSL_SERV", &with("fqdns", "pas un nom")), Lang::Fr);
        assert!(problem(&p, Field::Fqdns).is_some());
        let p = problems(&input("ORG", "AUTH_CLI", &with("cn", "INSI-AUT")), Lang::En);
        assert!(problem(&p, Field::Cn).unwrap().contains("exactly INSI-AUTO or INSI-MANU"));
        for near in ["INSI-AUT", "insi-auto", "INSI", "INSI-MANUEL"] {
            let p = problems(&input("ORG", "AUTH_CLI", &with("cn", near)), Lang::De);
            assert!(problem(&p, Field::Cn).unwrap().contains("genau INSI-AUTO oder INSI-MANU"), "{near}");
        }
    }

    #[test]
    fn every_field_required_and_no_dn_metacharacters() {
        let p = problems(
            &input(
                "PS",
                "CONF",
                &[
                    ("cn", "810001234567"),
                    ("sn", "Dupont"),
                    ("gn", "Jean,"),
                    ("title", ""),
                    ("email", "jean@exemple.fr"),
                ],
            ),
            Lang::Fr,
        );
        assert!(problem(&p, Field::Title).unwrap().contains("obligatoire"));
        assert!(problem(&p, Field::Gn).unwrap().contains("caractères"));
        assert!(problem(&p, Field::Email).is_none());
        let p = problems(&input("PS", "CONF", &[("email", "pas une adresse")]), Lang::Fr);
        assert!(problem(&p, Field::Email).unwrap().contains("pas valide"));
        let p = problems(&input("PS", "AUTH", &[("cn", "81 0001")]), Lang::Fr);
        assert!(problem(&p, Field::Cn).unwrap().contains("RPPS/ADELI"));
        let mut i = input("PS", "AUTH", &[("cn", "810001234567")]);
        i.insi = Some(super::super::igc_sante::Insi::Auto);
        assert!(problem(&problems(&i, Lang::Fr), Field::Cn).unwrap().contains("ORG et SERV"));
    }

    #[test]
    fn insi_choice_free_names_and_german() {
        let org = [("ou", "123456789"), ("o", "Clinique"), ("st", "Paris (75)")];
        let with = |cn: &'static str| [org.to_vec(), vec![("cn", cn)]].concat();
        assert!(problems(&input("ORG", "AUTH_CLI", &with("INSI-AUTO")), Lang::Fr).is_empty());
        assert!(problems(&input("ORG", "AUTH_CLI", &with("Portail patients")), Lang::Fr).is_empty());
        let mut choice = input("ORG", "AUTH_CLI", &org);
        choice.insi = Some(super::super::igc_sante::Insi::Manu);
        assert!(problems(&choice, Lang::Fr).is_empty(), "with the INSi choice the cn is not asked for");
        let p = problems(&input("ORG", "AUTH_CLI", &org), Lang::Fr);
        assert!(problem(&p, Field::Cn).unwrap().contains("obligatoire"));

        let base = [("cn", "Portail"), ("ou", "1"), ("o", "Cl,inique"), ("st", "Paris"), ("fqdns", "pas un nom")];
        let de = problems(&input("SERV", "SSL_SERV", &base), Lang::De);
        assert_eq!(
            problem(&de, Field::St),
            Some("Geben Sie das Département mit seiner Nummer in Klammern an, zum Beispiel „Paris (75)“.")
        );
        assert!(problem(&de, Field::Fqdns).unwrap().contains("Servername ist ungültig"));
        assert!(problem(&de, Field::O).unwrap().starts_with("Vermeiden Sie die Zeichen"));
        let de = problems(&input("PS", "AUTH", &[("cn", "810001234567")]), Lang::De);
        assert_eq!(problem(&de, Field::Upn), Some("Dies ist ein Pflichtfeld: Bitte füllen Sie es aus."));
        let org_sign = [("cn", "INSI-auto"), ("ou", "1"), ("o", "C"), ("st", "Paris (75)"), ("email", "x")];
        let de = problems(&input("ORG", "SIGN", &org_sign), Lang::De);
        assert!(problem(&de, Field::Cn).unwrap().contains("genau INSI-AUTO oder INSI-MANU"));
        assert!(problem(&de, Field::Email).unwrap().contains("E-Mail-Adresse ist ungültig"));
    }
}

//! The IGC-Santé software-certificate request rules (platform user guide, see DESIGN.md "Domain facts").
//!
//! Offers and usages: PS {AUTH, SIGN, CONF}, PRO {AUTH, SIGN, CONF}, ORG {AUTH_CLI, SIGN, CONF},
//! SERV {SSL_SERV, SMIME, SIGN, CONF}. Subject: PS/PRO `cn` = national id, `sn`, `gn`, `title` (profession);
//! PRO/ORG/SERV add `ou` = structure id, `o` = raison sociale, `st` = "Département (NN)", `c` = FR; ORG/SERV
//! `cn` = application service (INSi: exactly `INSI-AUTO` or `INSI-MANU`). SAN: e-mail for CONF/SIGN/SMIME, UPN
//! for AUTH, 1 to 5 FQDNs for SSL_SERV. Every rule that a request breaks is named in the refusal, and a refused
//! request creates nothing (the check runs before any key is generated).

use super::dn::{AttrType, Subject};
use super::{CsrError, SanRequest};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// An IGC-Santé offer (`IgcOffer` on the wire: the request's `offer` is one of these names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[ts(rename = "IgcOffer")]
pub enum Offer {
    PS,
    PRO,
    ORG,
    SERV,
}

/// An IGC-Santé usage (`IgcUsage` on the wire: the request's `usage` is one of these names; S/MIME as the window
/// writes it, which [`Usage::parse`] reads).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[ts(rename = "IgcUsage")]
#[allow(non_camel_case_types)]
pub enum Usage {
    AUTH,
    AUTH_CLI,
    SIGN,
    CONF,
    #[ts(rename = "S/MIME")]
    SMIME,
    SSL_SERV,
}

/// INSi application service name (`INSI-AUTO` / `INSI-MANU`), the ORG/SERV common name the INSi teleservice
/// requires; the window and the command surface send it as that exact string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(rename = "IgcInsi")]
pub enum Insi {
    #[serde(rename = "INSI-AUTO")]
    Auto,
    #[serde(rename = "INSI-MANU")]
    Manu,
}

impl Insi {
    pub fn cn(self) -> &'static str {
        match self {
            Insi::Auto => "INSI-AUTO",
            Insi::Manu => "INSI-MANU",
        }
    }
}

impl Offer {
    pub const ALL: [Offer; 4] = [Offer::PS, Offer::PRO, Offer::ORG, Offer::SERV];

    pub fn parse(s: &str) -> Option<Offer> {
        match s.trim().to_ascii_uppercase().as_str() {
            "PS" => Some(Offer::PS),
            "PRO" => Some(Offer::PRO),
            "ORG" => Some(Offer::ORG),
            "SERV" => Some(Offer::SERV),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Offer::PS => "PS",
            Offer::PRO => "PRO",
            Offer::ORG => "ORG",
            Offer::SERV => "SERV",
        }
    }

    pub fn usages(self) -> &'static [Usage] {
        match self {
            Offer::PS | Offer::PRO => &[Usage::AUTH, Usage::SIGN, Usage::CONF],
            Offer::ORG => &[Usage::AUTH_CLI, Usage::SIGN, Usage::CONF],
            Offer::SERV => &[Usage::SSL_SERV, Usage::SMIME, Usage::SIGN, Usage::CONF],
        }
    }

    /// A person (PS, PRO) rather than an organisation or a service (ORG, SERV).
    pub fn is_person(self) -> bool {
        matches!(self, Offer::PS | Offer::PRO)
    }

    /// Carries the structure fields ou/o/st/c.
    pub fn has_structure(self) -> bool {
        !matches!(self, Offer::PS)
    }

    pub fn label(self, lang: crate::Lang) -> String {
        match self {
            Offer::PS => lang.pick3("Professionnel de santé", "Health professional", "Gesundheitsfachkraft"),
            Offer::PRO => lang.pick3(
                "Professionnel d'une structure",
                "Professional of an organisation",
                "Fachkraft einer Einrichtung",
            ),
            Offer::ORG => lang.pick3(
                "Organisation (personne morale)",
                "Organisation (legal entity)",
                "Organisation (juristische Person)",
            ),
            Offer::SERV => lang.pick3("Serveur applicatif", "Application server", "Anwendungsserver"),
        }
    }
}

impl Usage {
    pub const ALL: [Usage; 6] = [Usage::AUTH, Usage::AUTH_CLI, Usage::SIGN, Usage::CONF, Usage::SMIME, Usage::SSL_SERV];

    pub fn parse(s: &str) -> Option<Usage> {
        match s.trim().to_ascii_uppercase().replace(['-', '/'], "_").as_str() {
            "AUTH" => Some(Usage::AUTH),
            "AUTH_CLI" => Some(Usage::AUTH_CLI),
            "SIGN" => Some(Usage::SIGN),
            "CONF" => Some(Usage::CONF),
            "SMIME" | "S_MIME" => Some(Usage::SMIME),
            "SSL_SERV" => Some(Usage::SSL_SERV),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Usage::AUTH => "AUTH",
            Usage::AUTH_CLI => "AUTH_CLI",
            Usage::SIGN => "SIGN",
            Usage::CONF => "CONF",
            Usage::SMIME => "SMIME",
            Usage::SSL_SERV => "SSL_SERV",
        }
    }

    pub fn label(self, lang: crate::Lang) -> String {
        match self {
            Usage::AUTH => lang.pick3("Authentification", "Authentication", "Authentifizierung"),
            Usage::AUTH_CLI => {
                lang.pick3("Authentification client", "Client authentication", "Client-Authentifizierung")
            }
            Usage::SIGN => lang.pick3("Signature", "Signature", "Signatur"),
            Usage::CONF => lang.pick3(
                "Confidentialité (chiffrement)",
                "Confidentiality (encryption)",
                "Vertraulichkeit (Verschlüsselung)",
            ),
            Usage::SMIME => {
                lang.pick3("Messagerie sécurisée (S/MIME)", "Secure e-mail (S/MIME)", "Sichere E-Mail (S/MIME)")
            }
            Usage::SSL_SERV => lang.pick3("Serveur SSL/TLS", "SSL/TLS server", "SSL/TLS-Server"),
        }
    }

    /// The SAN kind this usage requires.
    pub fn san_kind(self) -> Option<&'static str> {
        match self {
            Usage::CONF | Usage::SIGN | Usage::SMIME => Some("email"),
            Usage::AUTH => Some("upn"),
            Usage::SSL_SERV => Some("dns"),
            Usage::AUTH_CLI => None,
        }
    }
}

/// What the user typed for an IGC-Santé request: the one definition of the request's fields, shared by the CLI
/// (`csr new --profile igc-sante`) and the window (`api::IgcRequest`, TypeScript `IgcInput`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, TS)]
#[ts(rename = "IgcInput")]
pub struct Input {
    #[ts(as = "Offer")]
    pub offer: String,
    #[ts(as = "Usage")]
    pub usage: String,
    pub cn: Option<String>,
    pub sn: Option<String>,
    pub gn: Option<String>,
    pub title: Option<String>,
    pub ou: Option<String>,
    pub o: Option<String>,
    pub st: Option<String>,
    pub emails: Vec<String>,
    pub upn: Option<String>,
    pub fqdns: Vec<String>,
    /// ORG/SERV only: the INSi service, whose common name is then exactly `INSI-AUTO` or `INSI-MANU` (leave `cn`
    /// empty or equal to it).
    pub insi: Option<Insi>,
}

/// A validated IGC-Santé request.
#[derive(Debug, Clone)]
pub struct Checked {
    pub offer: Offer,
    pub usage: Usage,
    pub subject: Subject,
    pub sans: Vec<SanRequest>,
}

fn rule(rule: &'static str, fr: String, en: String, de: String) -> CsrError {
    CsrError::Rule { rule, fr, en, de }
}

pub(super) fn is_department(st: &str) -> bool {
    // "Nom (NN)": 2 digits, 2A/2B (Corse) or 3 digits (outre-mer), after a non-empty name.
    let Some(open) = st.rfind(" (") else { return false };
    let name = st[..open].trim();
    let Some(code) = st[open + 2..].strip_suffix(')') else { return false };
    let ok_code = (code.len() == 2 && code.chars().all(|c| c.is_ascii_digit()))
        || code == "2A"
        || code == "2B"
        || (code.len() == 3 && code.chars().all(|c| c.is_ascii_digit()));
    !name.is_empty() && ok_code
}

/// Checks `input` against the IGC-Santé rules; returns the subject (DER order) and SANs to request.
pub fn check(input: &Input) -> Result<Checked, CsrError> {
    let offer = Offer::parse(&input.offer).ok_or_else(|| {
        rule(
            "offer",
            format!("offre IGC-Santé inconnue « {} » : choisissez PS, PRO, ORG ou SERV", input.offer),
            format!("unknown IGC-Santé offer \"{}\": choose PS, PRO, ORG or SERV", input.offer),
            format!("unbekanntes IGC-Santé-Angebot „{}“: Wählen Sie PS, PRO, ORG oder SERV", input.offer),
        )
    })?;
    let usage = Usage::parse(&input.usage).ok_or_else(|| {
        rule(
            "usage",
            format!("usage IGC-Santé inconnu « {} » : AUTH, AUTH_CLI, SIGN, CONF, SMIME ou SSL_SERV", input.usage),
            format!("unknown IGC-Santé usage \"{}\": AUTH, AUTH_CLI, SIGN, CONF, SMIME or SSL_SERV", input.usage),
            format!(
                "unbekannte IGC-Santé-Verwendung „{}“: AUTH, AUTH_CLI, SIGN, CONF, SMIME oder SSL_SERV",
                input.usage
            ),
        )
    })?;
    if !offer.usages().contains(&usage) {
        let allowed = offer.usages().iter().map(|u| u.as_str()).collect::<Vec<_>>().join(", ");
        return Err(rule(
            "usage_for_offer",
            format!(
                "l'offre {} ne propose pas l'usage {} (usages possibles : {allowed})",
                offer.as_str(),
                usage.as_str()
            ),
            format!(
                "the {} offer does not provide the {} usage (possible usages: {allowed})",
                offer.as_str(),
                usage.as_str()
            ),
            format!(
                "das Angebot {} bietet die Verwendung {} nicht an (mögliche Verwendungen: {allowed})",
                offer.as_str(),
                usage.as_str()
            ),
        ));
    }
    let given = |v: &Option<String>| v.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string);
    let missing = |field: &str, what_fr: &str, what_en: &str, what_de: &str| {
        rule(
            "required_field",
            format!("l'offre {} exige --{field} ({what_fr})", offer.as_str()),
            format!("the {} offer requires --{field} ({what_en})", offer.as_str()),
            format!("das Angebot {} verlangt --{field} ({what_de})", offer.as_str()),
        )
    };
    let forbidden = |field: &str| {
        rule(
            "field_not_allowed",
            format!("l'offre {} ne prend pas --{field}", offer.as_str()),
            format!("the {} offer does not take --{field}", offer.as_str()),
            format!("das Angebot {} akzeptiert --{field} nicht", offer.as_str()),
        )
    };

    // Common name: national id for people, service name for ORG/SERV (INSi exactly INSI-AUTO / INSI-MANU).
    let cn = if offer.is_person() {
        if input.insi.is_some() {
            return Err(rule(
                "insi_offer",
                format!("le service INSi (--insi) concerne les offres ORG et SERV, pas {}", offer.as_str()),
                format!("the INSi service (--insi) belongs to the ORG and SERV offers, not {}", offer.as_str()),
                format!("der INSi-Dienst (--insi) gehört zu den Angeboten ORG und SERV, nicht zu {}", offer.as_str()),
            ));
        }
        let cn = given(&input.cn).ok_or_else(|| {
            missing(
                "cn",
                "l'identifiant national du professionnel (RPPS/ADELI)",
                "the professional's national id (RPPS/ADELI)",
                "die nationale Kennung der Fachkraft (RPPS/ADELI)",
            )
        })?;
        if cn.chars().any(char::is_whitespace) || !cn.chars().all(|c| c.is_ascii_alphanumeric() || "/-".contains(c)) {
            return Err(rule(
                "national_id",
                format!("le cn doit être l'identifiant national (chiffres et lettres, sans espace), pas « {cn} »"),
                format!("the cn must be the national id (digits and letters, no space), not \"{cn}\""),
                format!(
                    "der cn muss die nationale Kennung sein (Ziffern und Buchstaben, ohne Leerzeichen), nicht „{cn}“"
                ),
            ));
        }
        cn
    } else {
        let cn = match (input.insi, given(&input.cn)) {
            (Some(i), None) => i.cn().to_string(),
            (Some(i), Some(c)) if c == i.cn() => c,
            (Some(i), Some(c)) => {
                return Err(rule(
                    "insi_cn",
                    format!("avec --insi le cn vaut exactement {} ; retirez --cn « {c} »", i.cn()),
                    format!("with --insi the cn is exactly {}; remove --cn \"{c}\"", i.cn()),
                    format!("mit --insi lautet der cn genau {}; entfernen Sie --cn „{c}“", i.cn()),
                ))
            }
            (None, Some(c)) => c,
            (None, None) => {
                return Err(missing(
                    "cn",
                    "le nom du service applicatif",
                    "the application service name",
                    "der Name des Anwendungsdienstes",
                ));
            }
        };
        let upper = cn.to_ascii_uppercase();
        if upper.starts_with("INSI") && cn != "INSI-AUTO" && cn != "INSI-MANU" {
            return Err(rule(
                "insi_cn",
                format!("un certificat INSi a pour cn exactement INSI-AUTO ou INSI-MANU, pas « {cn} »"),
                format!("an INSi certificate has the cn exactly INSI-AUTO or INSI-MANU, not \"{cn}\""),
                format!("ein INSi-Zertifikat hat als cn genau INSI-AUTO oder INSI-MANU, nicht „{cn}“"),
            ));
        }
        cn
    };

    let mut subject = Subject::new();
    if offer.has_structure() {
        subject.push(AttrType::Country, "FR")?;
        let st = given(&input.st)
            .ok_or_else(|| missing("st", "« Département (NN) »", "\"Département (NN)\"", "„Département (NN)“"))?;
        if !is_department(&st) {
            return Err(rule(
                "department",
                format!("--st doit être de la forme « Département (NN) », par exemple « Paris (75) » ou « Corse-du-Sud (2A) », pas « {st} »"),
                format!("--st must read \"Département (NN)\", for example \"Paris (75)\" or \"Corse-du-Sud (2A)\", not \"{st}\""),
                format!("--st muss die Form „Département (NN)“ haben, zum Beispiel „Paris (75)“ oder „Corse-du-Sud (2A)“, nicht „{st}“"),
            ));
        }
        subject.push(AttrType::State, &st)?;
        let o = given(&input.o).ok_or_else(|| {
            missing(
                "o",
                "la raison sociale de la structure",
                "the organisation's legal name",
                "der Firmenname der Einrichtung",
            )
        })?;
        subject.push(AttrType::Organization, &o)?;
        let ou = given(&input.ou).ok_or_else(|| {
            missing("ou", "l'identifiant de la structure", "the organisation's id", "die Kennung der Einrichtung")
        })?;
        subject.push(AttrType::OrgUnit, &ou)?;
    } else {
        for (field, v) in [("st", &input.st), ("o", &input.o), ("ou", &input.ou)] {
            if given(v).is_some() {
                return Err(forbidden(field));
            }
        }
    }
    if offer.is_person() {
        let title =
            given(&input.title).ok_or_else(|| missing("title", "la profession", "the profession", "der Beruf"))?;
        subject.push(AttrType::Title, &title)?;
        let sn = given(&input.sn).ok_or_else(|| missing("sn", "le nom de famille", "the surname", "der Nachname"))?;
        subject.push(AttrType::Surname, &sn)?;
        let gn = given(&input.gn).ok_or_else(|| missing("gn", "le prénom", "the given name", "der Vorname"))?;
        subject.push(AttrType::GivenName, &gn)?;
    } else {
        for (field, v) in [("title", &input.title), ("sn", &input.sn), ("gn", &input.gn)] {
            if given(v).is_some() {
                return Err(forbidden(field));
            }
        }
    }
    subject.push(AttrType::CommonName, &cn)?;

    // Subject alternative names: exactly the kind the usage needs.
    let emails: Vec<String> = input.emails.iter().map(|e| e.trim().to_string()).filter(|e| !e.is_empty()).collect();
    let upn = given(&input.upn);
    let fqdns: Vec<String> = input.fqdns.iter().map(|e| e.trim().to_string()).filter(|e| !e.is_empty()).collect();
    let kind = usage.san_kind();
    let not_for_usage = |field: &str| {
        rule(
            "san_for_usage",
            format!("l'usage {} ne prend pas --{field}", usage.as_str()),
            format!("the {} usage does not take --{field}", usage.as_str()),
            format!("die Verwendung {} akzeptiert --{field} nicht", usage.as_str()),
        )
    };
    if kind != Some("email") && !emails.is_empty() {
        return Err(not_for_usage("email"));
    }
    if kind != Some("upn") && upn.is_some() {
        return Err(not_for_usage("upn"));
    }
    if kind != Some("dns") && !fqdns.is_empty() {
        return Err(not_for_usage("fqdn"));
    }
    let mut sans = Vec::new();
    match kind {
        Some("email") => {
            if emails.len() != 1 {
                return Err(rule(
                    "san_email",
                    format!("l'usage {} exige une adresse électronique, une seule (--email)", usage.as_str()),
                    format!("the {} usage requires one e-mail address, exactly one (--email)", usage.as_str()),
                    format!("die Verwendung {} verlangt genau eine E-Mail-Adresse (--email)", usage.as_str()),
                ));
            }
            sans.push(SanRequest::email(&emails[0])?);
        }
        Some("upn") => {
            let upn = upn.ok_or_else(|| {
                rule(
                    "san_upn",
                    "l'usage AUTH exige un UPN (--upn), l'identifiant de connexion, par exemple jean.dupont@hopital.fr"
                        .to_string(),
                    "the AUTH usage requires a UPN (--upn), the logon name, for example jean.dupont@hopital.fr"
                        .to_string(),
                    "die Verwendung AUTH verlangt einen UPN (--upn), den Anmeldenamen, zum Beispiel jean.dupont@hopital.fr"
                        .to_string(),
                )
            })?;
            sans.push(SanRequest::upn(&upn)?);
        }
        Some(_) => {
            if fqdns.is_empty() || fqdns.len() > 5 {
                return Err(rule(
                    "san_fqdn_count",
                    format!("l'usage SSL_SERV exige de 1 à 5 noms de serveur (--fqdn), {} donné(s)", fqdns.len()),
                    format!("the SSL_SERV usage requires 1 to 5 server names (--fqdn), {} given", fqdns.len()),
                    format!("die Verwendung SSL_SERV verlangt 1 bis 5 Servernamen (--fqdn), {} angegeben", fqdns.len()),
                ));
            }
            for f in &fqdns {
                if f.starts_with("*.") {
                    return Err(rule(
                        "san_fqdn",
                        format!("IGC-Santé n'émet pas de certificat générique : « {f} » doit être un nom complet"),
                        format!("IGC-Santé issues no wildcard certificate: \"{f}\" must be a full name"),
                        format!("IGC-Santé stellt keine Platzhalter-Zertifikate (Wildcard) aus: „{f}“ muss ein vollständiger Name sein"),
                    ));
                }
                sans.push(SanRequest::dns(f)?);
            }
        }
        None => {}
    }
    Ok(Checked { offer, usage, subject, sans })
}

/// The offers and usages, for the window and `csr profiles --json`.
#[derive(Debug, Clone, Serialize)]
pub struct OfferInfo {
    pub id: &'static str,
    pub label: String,
    pub usages: Vec<UsageInfo>,
    /// Subject fields the offer requires (besides the SAN of the usage).
    pub fields: Vec<&'static str>,
}

#[derive(Debug, Clone, Serialize)]
pub struct UsageInfo {
    pub id: &'static str,
    pub label: String,
    /// `email`, `upn`, `dns` (1 to 5) or none.
    pub san: Option<&'static str>,
}

pub fn offers(lang: crate::Lang) -> Vec<OfferInfo> {
    Offer::ALL
        .iter()
        .map(|o| OfferInfo {
            id: o.as_str(),
            label: o.label(lang),
            usages: o
                .usages()
                .iter()
                .map(|u| UsageInfo { id: u.as_str(), label: u.label(lang), san: u.san_kind() })
                .collect(),
            fields: match o {
                Offer::PS => vec!["cn", "sn", "gn", "title"],
                Offer::PRO => vec!["cn", "sn", "gn", "title", "ou", "o", "st"],
                Offer::ORG | Offer::SERV => vec!["cn|insi", "ou", "o", "st"],
            },
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::assert_german;
    use crate::i18n::{Coded, Lang};

    #[test]
    fn german_messages() {
        let mut i = ps_auth();
        i.sn = None;
        let e = check(&i).unwrap_err();
        assert_german(&e);
        assert_eq!(
            e.message(Lang::De),
            "Anforderung abgelehnt (IGC-Santé-Regel „required_field“): das Angebot PS verlangt --sn (der Nachname). \
             Es wurde nichts erstellt."
        );
        let mut i = ps_auth();
        i.upn = None;
        assert_german(&check(&i).unwrap_err());
        assert_german(&Subject::parse_rfc4514("CN=a,CN=b").unwrap_err());
        assert_eq!(Usage::SIGN.label(Lang::De), "Signatur");
    }

    fn ps_auth() -> Input {
        Input {
            offer: "PS".into(),
            usage: "AUTH".into(),
            cn: Some("810001234567".into()),
            sn: Some("Dupont".into()),
            gn: Some("Jeanne".into()),
            title: Some("Médecin".into()),
            upn: Some("jeanne.dupont@hopital.fr".into()),
            ..Input::default()
        }
    }

    #[test]
    fn departments() {
        for ok in ["Paris (75)", "Corse-du-Sud (2A)", "Guadeloupe (971)", "Ain (01)"] {
            assert!(is_department(ok), "{ok}");
        }
        for bad in ["Paris", "(75)", "Paris 75", "Paris (7)", "Paris (2C)", "Paris (75"] {
            assert!(!is_department(bad), "{bad}");
        }
    }

    #[test]
    fn ps_auth_subject() {
        let c = check(&ps_auth()).unwrap();
        assert_eq!(c.subject.to_rfc4514(), "CN=810001234567,GN=Jeanne,SN=Dupont,title=M\\C3\\A9decin");
        assert_eq!(c.sans.len(), 1);
    }

    #[test]
    fn refusals_name_their_rule() {
        let mut i = ps_auth();
        i.usage = "SSL_SERV".into();
        assert!(matches!(check(&i), Err(CsrError::Rule { rule: "usage_for_offer", .. })));
        let mut i = ps_auth();
        i.upn = None;
        assert!(matches!(check(&i), Err(CsrError::Rule { rule: "san_upn", .. })));
        let mut i = ps_auth();
        i.insi = Some(Insi::Auto);
        assert!(matches!(check(&i), Err(CsrError::Rule { rule: "insi_offer", .. })));
        let serv = Input {
            offer: "SERV".into(),
            usage: "SSL_SERV".into(),
            cn: Some("Portail".into()),
            ou: Some("123456789".into()),
            o: Some("Clinique".into()),
            st: Some("Paris (75)".into()),
            fqdns: (0..6).map(|n| format!("h{n}.example.fr")).collect(),
            ..Input::default()
        };
        assert!(matches!(check(&serv), Err(CsrError::Rule { rule: "san_fqdn_count", .. })));
        let mut ok = serv.clone();
        ok.fqdns.truncate(5);
        assert_eq!(check(&ok).unwrap().sans.len(), 5);
        let mut insi = serv.clone();
        insi.offer = "ORG".into();
        insi.usage = "AUTH_CLI".into();
        insi.fqdns.clear();
        insi.cn = Some("INSI-AUTOMATIQUE".into());
        assert!(matches!(check(&insi), Err(CsrError::Rule { rule: "insi_cn", .. })));
        insi.cn = None;
        insi.insi = Some(Insi::Manu);
        assert_eq!(check(&insi).unwrap().subject.get(&AttrType::CommonName), Some("INSI-MANU"));
    }
}

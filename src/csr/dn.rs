//! Distinguished names for requests: our own small model (one value per attribute type, DER order), an RFC 4514
//! parser for the generic profile and an RFC 4514 printer.
//!
//! RFC 4514 strings list RDNs most specific first (`CN=…,O=…,C=LU`) while the DER lists them most general first,
//! so parsing reverses the order. rcgen's `DistinguishedName` holds one value per attribute type and one
//! attribute per RDN: a repeated type or a multi-valued RDN (`+`) cannot be built and is refused with a clear
//! error instead of being silently merged.

use super::CsrError;
use crate::asn1::rfc4514;

/// An attribute type of a subject.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AttrType {
    Country,
    State,
    Locality,
    Street,
    Organization,
    OrgUnit,
    CommonName,
    Surname,
    GivenName,
    Title,
    SerialNumber,
    OrganizationIdentifier,
    Email,
    DomainComponent,
    UserId,
    /// Any other type, by dotted OID.
    Oid(Vec<u64>),
}

impl AttrType {
    /// Short name as OpenSSL prints it with `-nameopt RFC2253`, or the dotted OID.
    pub fn short_name(&self) -> String {
        match self {
            AttrType::Country => "C".into(),
            AttrType::State => "ST".into(),
            AttrType::Locality => "L".into(),
            AttrType::Street => "street".into(),
            AttrType::Organization => "O".into(),
            AttrType::OrgUnit => "OU".into(),
            AttrType::CommonName => "CN".into(),
            AttrType::Surname => "SN".into(),
            AttrType::GivenName => "GN".into(),
            AttrType::Title => "title".into(),
            AttrType::SerialNumber => "serialNumber".into(),
            AttrType::OrganizationIdentifier => "organizationIdentifier".into(),
            AttrType::Email => "emailAddress".into(),
            AttrType::DomainComponent => "DC".into(),
            AttrType::UserId => "UID".into(),
            AttrType::Oid(arcs) => arcs.iter().map(u64::to_string).collect::<Vec<_>>().join("."),
        }
    }

    /// The OID arcs.
    pub fn oid(&self) -> Vec<u64> {
        match self {
            AttrType::Country => vec![2, 5, 4, 6],
            AttrType::State => vec![2, 5, 4, 8],
            AttrType::Locality => vec![2, 5, 4, 7],
            AttrType::Street => vec![2, 5, 4, 9],
            AttrType::Organization => vec![2, 5, 4, 10],
            AttrType::OrgUnit => vec![2, 5, 4, 11],
            AttrType::CommonName => vec![2, 5, 4, 3],
            AttrType::Surname => vec![2, 5, 4, 4],
            AttrType::GivenName => vec![2, 5, 4, 42],
            AttrType::Title => vec![2, 5, 4, 12],
            AttrType::SerialNumber => vec![2, 5, 4, 5],
            AttrType::OrganizationIdentifier => vec![2, 5, 4, 97],
            AttrType::Email => vec![1, 2, 840, 113549, 1, 9, 1],
            AttrType::DomainComponent => vec![0, 9, 2342, 19200300, 100, 1, 25],
            AttrType::UserId => vec![0, 9, 2342, 19200300, 100, 1, 1],
            AttrType::Oid(a) => a.clone(),
        }
    }

    /// Parses a type as written in an RFC 4514 string (case-insensitive short names, `OID.` prefix or dotted OID).
    pub fn parse(s: &str) -> Option<AttrType> {
        let t = s.trim();
        let lower = t.to_ascii_lowercase();
        let named = match lower.as_str() {
            "c" | "countryname" => AttrType::Country,
            "st" | "s" | "stateorprovincename" => AttrType::State,
            "l" | "localityname" => AttrType::Locality,
            "street" | "streetaddress" => AttrType::Street,
            "o" | "organizationname" => AttrType::Organization,
            "ou" | "organizationalunitname" => AttrType::OrgUnit,
            "cn" | "commonname" => AttrType::CommonName,
            "sn" | "surname" => AttrType::Surname,
            "gn" | "g" | "givenname" => AttrType::GivenName,
            "title" | "t" => AttrType::Title,
            "serialnumber" => AttrType::SerialNumber,
            "organizationidentifier" => AttrType::OrganizationIdentifier,
            "emailaddress" | "email" | "e" => AttrType::Email,
            "dc" | "domaincomponent" => AttrType::DomainComponent,
            "uid" | "userid" => AttrType::UserId,
            _ => {
                let dotted = lower.strip_prefix("oid.").unwrap_or(&lower);
                let arcs: Option<Vec<u64>> = dotted.split('.').map(|a| a.parse::<u64>().ok()).collect();
                let arcs = arcs.filter(|a| a.len() >= 2 && a[0] <= 2)?;
                // Known OIDs get their named variant, so duplicates are detected whatever the spelling.
                for known in [
                    AttrType::Country,
                    AttrType::State,
                    AttrType::Locality,
                    AttrType::Street,
                    AttrType::Organization,
                    AttrType::OrgUnit,
                    AttrType::CommonName,
                    AttrType::Surname,
                    AttrType::GivenName,
                    AttrType::Title,
                    AttrType::SerialNumber,
                    AttrType::OrganizationIdentifier,
                    AttrType::Email,
                    AttrType::DomainComponent,
                    AttrType::UserId,
                ] {
                    if known.oid() == arcs {
                        return Some(known);
                    }
                }
                AttrType::Oid(arcs)
            }
        };
        Some(named)
    }

    /// Upper bound on the value length (X.520 upper bounds), in characters.
    fn max_len(&self) -> usize {
        match self {
            AttrType::Country => 2,
            AttrType::SerialNumber | AttrType::CommonName | AttrType::Organization | AttrType::OrgUnit => 64,
            AttrType::Title => 64,
            AttrType::State | AttrType::Locality | AttrType::Street => 128,
            AttrType::Email => 255,
            _ => 256,
        }
    }
}

/// One attribute of a subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attr {
    pub kind: AttrType,
    pub value: String,
}

/// A subject: attributes in DER order (most general first), at most one per type, one per RDN.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Subject {
    attrs: Vec<Attr>,
}

impl Subject {
    pub fn new() -> Subject {
        Subject::default()
    }

    /// Appends an attribute (DER order: call with the most general first). Refuses a repeated type, an empty or
    /// over-long value, and a country that is not two letters.
    pub fn push(&mut self, kind: AttrType, value: &str) -> Result<(), CsrError> {
        self.push_exact(kind, value.trim())
    }

    /// [`Subject::push`] without trimming: the RFC 4514 parser has already dropped the unescaped spaces around a
    /// value and keeps the escaped ones (`\ `), as RFC 4514 §2.4 says.
    fn push_exact(&mut self, kind: AttrType, value: &str) -> Result<(), CsrError> {
        let name = kind.short_name();
        if self.attrs.iter().any(|a| a.kind == kind) {
            return Err(CsrError::subject(
                format!("l'attribut {name} apparaît deux fois ; une demande ne peut en porter qu'un de chaque type"),
                format!("the attribute {name} appears twice; a request can carry only one of each type"),
                format!(
                    "das Attribut {name} kommt zweimal vor; eine Anforderung kann nur eines von jedem Typ enthalten"
                ),
            ));
        }
        if value.is_empty() {
            return Err(CsrError::subject(
                format!("l'attribut {name} est vide"),
                format!("the attribute {name} is empty"),
                format!("das Attribut {name} ist leer"),
            ));
        }
        let max = kind.max_len();
        if value.chars().count() > max {
            return Err(CsrError::subject(
                format!("l'attribut {name} dépasse {max} caractères"),
                format!("the attribute {name} is longer than {max} characters"),
                format!("das Attribut {name} ist länger als {max} Zeichen"),
            ));
        }
        if value.chars().any(char::is_control) {
            return Err(CsrError::subject(
                format!("l'attribut {name} contient un caractère de contrôle"),
                format!("the attribute {name} contains a control character"),
                format!("das Attribut {name} enthält ein Steuerzeichen"),
            ));
        }
        let value = match kind {
            AttrType::Country => {
                if !value.chars().all(|c| c.is_ascii_alphabetic()) || value.len() != 2 {
                    return Err(CsrError::subject(
                        format!("le pays (C) doit être un code de deux lettres (FR, LU…), pas « {value} »"),
                        format!("the country (C) must be a two-letter code (FR, LU…), not \"{value}\""),
                        format!("das Land (C) muss ein Code aus zwei Buchstaben sein (FR, LU…), nicht „{value}“"),
                    ));
                }
                value.to_ascii_uppercase()
            }
            AttrType::Email | AttrType::DomainComponent if !value.is_ascii() => {
                return Err(CsrError::subject(
                    format!("l'attribut {name} ne peut contenir que des caractères ASCII"),
                    format!("the attribute {name} can only hold ASCII characters"),
                    format!("das Attribut {name} darf nur ASCII-Zeichen enthalten"),
                ))
            }
            _ => value.to_string(),
        };
        self.attrs.push(Attr { kind, value });
        Ok(())
    }

    /// Attributes in DER order.
    pub fn attrs(&self) -> &[Attr] {
        &self.attrs
    }

    pub fn get(&self, kind: &AttrType) -> Option<&str> {
        self.attrs.iter().find(|a| &a.kind == kind).map(|a| a.value.as_str())
    }

    pub fn is_empty(&self) -> bool {
        self.attrs.is_empty()
    }

    /// RFC 4514 string, most specific RDN first (as `openssl … -nameopt RFC2253` prints it).
    pub fn to_rfc4514(&self) -> String {
        self.attrs
            .iter()
            .rev()
            .map(|a| format!("{}={}", a.kind.short_name(), rfc4514::escape(&a.value)))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Parses an RFC 4514 string (`CN=Agent,O=Org,C=LU`), reversing it into DER order. Refuses multi-valued RDNs
    /// (`+`), repeated types, hex-encoded (`#…`) values, unknown types and malformed escapes.
    pub fn parse_rfc4514(s: &str) -> Result<Subject, CsrError> {
        if s.trim().is_empty() {
            return Err(CsrError::subject(
                "le sujet est vide".to_string(),
                "the subject is empty".to_string(),
                "der Antragsteller (Subject) ist leer".to_string(),
            ));
        }
        let mut rdns: Vec<(String, String)> = Vec::new();
        let mut cur_type = String::new();
        let mut cur_val: Vec<u8> = Vec::new();
        let mut in_value = false;
        // Length of `cur_val` up to its last escaped byte: trailing spaces before that are kept (`\ `).
        let mut protected = 0usize;
        let bytes = s.as_bytes();
        let mut i = 0;
        let finish = |t: &mut String, v: &mut Vec<u8>, protected: usize, rdns: &mut Vec<(String, String)>| {
            let mut end = v.len();
            while end > protected && v[end - 1] == b' ' {
                end -= 1;
            }
            let value = String::from_utf8(v[..end].to_vec()).map_err(|_| {
                CsrError::subject(
                    "une valeur échappée (\\XX) n'est pas de l'UTF-8 valide".to_string(),
                    "an escaped value (\\XX) is not valid UTF-8".to_string(),
                    "ein maskierter Wert (\\XX) ist kein gültiges UTF-8".to_string(),
                )
            })?;
            rdns.push((t.trim().to_string(), value));
            t.clear();
            v.clear();
            Ok::<(), CsrError>(())
        };
        while i < bytes.len() {
            let c = bytes[i];
            if !in_value {
                match c {
                    b'=' => {
                        in_value = true;
                        // Skip spaces after '='.
                        while i + 1 < bytes.len() && bytes[i + 1] == b' ' {
                            i += 1;
                        }
                        if i + 1 < bytes.len() && bytes[i + 1] == b'#' {
                            return Err(CsrError::subject(
                                format!(
                                    "la valeur de {} est encodée en hexadécimal (#…) ; donnez-la en texte",
                                    cur_type.trim()
                                ),
                                format!("the value of {} is hex-encoded (#…); give it as text", cur_type.trim()),
                                format!(
                                    "der Wert von {} ist hexadezimal kodiert (#…); geben Sie ihn als Text an",
                                    cur_type.trim()
                                ),
                            ));
                        }
                    }
                    b',' | b'+' | b';' => {
                        return Err(CsrError::subject(
                            format!("« {} » n'est pas de la forme TYPE=valeur", cur_type.trim()),
                            format!("\"{}\" is not of the form TYPE=value", cur_type.trim()),
                            format!("„{}“ hat nicht die Form TYP=Wert", cur_type.trim()),
                        ))
                    }
                    _ => cur_type.push(c as char),
                }
                i += 1;
                continue;
            }
            match c {
                b'\\' => {
                    let Some(&n) = bytes.get(i + 1) else {
                        return Err(CsrError::subject(
                            "le sujet se termine par une barre oblique inverse isolée".to_string(),
                            "the subject ends with a lone backslash".to_string(),
                            "der Antragsteller (Subject) endet mit einem einzelnen Backslash".to_string(),
                        ));
                    };
                    if n.is_ascii_hexdigit() {
                        let h = bytes.get(i + 2).filter(|b| b.is_ascii_hexdigit()).ok_or_else(|| {
                            CsrError::subject(
                                "échappement hexadécimal incomplet (\\XX attendu)".to_string(),
                                "incomplete hex escape (\\XX expected)".to_string(),
                                "unvollständige Hexadezimal-Maskierung (\\XX erwartet)".to_string(),
                            )
                        })?;
                        let byte = u8::from_str_radix(&format!("{}{}", n as char, *h as char), 16).unwrap_or(b'?');
                        cur_val.push(byte);
                        i += 3;
                    } else {
                        cur_val.push(n);
                        i += 2;
                    }
                    protected = cur_val.len();
                    continue;
                }
                b'+' => {
                    return Err(CsrError::subject(
                        "un RDN à plusieurs valeurs (« + ») ne peut pas être construit : écrivez chaque attribut séparé par une virgule, ou échappez le + (\\+)".to_string(),
                        "a multi-valued RDN (\"+\") cannot be built: separate each attribute with a comma, or escape the + (\\+)".to_string(),
                        "ein mehrwertiger RDN („+“) kann nicht erstellt werden: Trennen Sie jedes Attribut durch ein Komma oder maskieren Sie das + (\\+)".to_string(),
                    ))
                }
                b',' | b';' => {
                    finish(&mut cur_type, &mut cur_val, protected, &mut rdns)?;
                    in_value = false;
                    protected = 0;
                    // Skip spaces after the separator.
                    while i + 1 < bytes.len() && bytes[i + 1] == b' ' {
                        i += 1;
                    }
                }
                b'"' => {
                    return Err(CsrError::subject(
                        "les guillemets ne sont pas acceptés dans le sujet : échappez les caractères spéciaux avec \\".to_string(),
                        "quotes are not accepted in the subject: escape special characters with \\".to_string(),
                        "Anführungszeichen sind im Antragsteller (Subject) nicht erlaubt: Maskieren Sie Sonderzeichen mit \\".to_string(),
                    ))
                }
                _ => cur_val.push(c),
            }
            i += 1;
        }
        if !in_value {
            return Err(CsrError::subject(
                format!("« {} » n'est pas de la forme TYPE=valeur", cur_type.trim()),
                format!("\"{}\" is not of the form TYPE=value", cur_type.trim()),
                format!("„{}“ hat nicht die Form TYP=Wert", cur_type.trim()),
            ));
        }
        finish(&mut cur_type, &mut cur_val, protected, &mut rdns)?;
        let mut subject = Subject::new();
        for (t, v) in rdns.into_iter().rev() {
            let kind = AttrType::parse(&t).ok_or_else(|| {
                CsrError::subject(
                    format!("type d'attribut inconnu « {t} » (CN, O, OU, C, ST, L, SN, GN, title, serialNumber, emailAddress, DC, UID ou un OID)"),
                    format!("unknown attribute type \"{t}\" (CN, O, OU, C, ST, L, SN, GN, title, serialNumber, emailAddress, DC, UID or an OID)"),
                    format!("unbekannter Attributtyp „{t}“ (CN, O, OU, C, ST, L, SN, GN, title, serialNumber, emailAddress, DC, UID oder eine OID)"),
                )
            })?;
            subject.push_exact(kind, &v)?;
        }
        Ok(subject)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_reverses() {
        let s = Subject::parse_rfc4514("CN=Contract Test,O=Test,C=LU").unwrap();
        let kinds: Vec<_> = s.attrs().iter().map(|a| a.kind.short_name()).collect();
        assert_eq!(kinds, ["C", "O", "CN"]);
        assert_eq!(s.to_rfc4514(), "CN=Contract Test,O=Test,C=LU");
    }

    #[test]
    fn escapes_and_spaces() {
        let s =
            Subject::parse_rfc4514("CN=Dupont\\, Jean , O = A\\+B, C=lu, 2.5.4.4=Dupont, GN=Jean, OU=\\C3\\A9t\\E9")
                .unwrap_err();
        assert!(s.to_string().contains("UTF-8"), "{s}");
        let s = Subject::parse_rfc4514(
            "CN=Dupont\\, Jean , O = A\\+B, C=lu, 2.5.4.4=Dupont, GN=Jean, OU=\\C3\\A9t\\C3\\A9",
        )
        .unwrap();
        assert_eq!(s.get(&AttrType::CommonName), Some("Dupont, Jean"));
        assert_eq!(s.get(&AttrType::Organization), Some("A+B"));
        assert_eq!(s.get(&AttrType::Country), Some("LU"));
        assert_eq!(s.get(&AttrType::Surname), Some("Dupont"));
        assert_eq!(s.get(&AttrType::OrgUnit), Some("été"));
        assert_eq!(s.to_rfc4514(), "CN=Dupont\\, Jean,O=A\\+B,C=LU,SN=Dupont,GN=Jean,OU=\\C3\\A9t\\C3\\A9");
    }

    #[test]
    fn refuses_what_cannot_be_built() {
        for bad in
            ["CN=A+O=B", "CN=A,CN=B", "CN=A,2.5.4.3=B", "CN=#0403414243", "CN", "X-Foo=1", "C=LUX", "CN=", "CN=\"q\""]
        {
            assert!(Subject::parse_rfc4514(bad).is_err(), "{bad} must be refused");
        }
    }
}

//! Names as OpenSSL prints them: RFC 4514 strings (`-nameopt RFC2253`, escaping in `asn1::rfc4514`), OpenSSL's
//! short attribute names, attribute text in each ASN.1 string type, and the first common name for display.

use super::*;

pub(super) fn first_cn(name: &X509Name<'_>) -> Option<String> {
    // The most specific CN: the last one in encoding order.
    name.iter_common_name()
        .last()
        .map(|a| attribute_text(a.attr_value().tag().0, a.attr_value().data).unwrap_or_default())
}

/// Text of a directory string by its universal tag number; `None` for a type that is not a string.
pub(super) fn attribute_text(tag: u32, data: &[u8]) -> Option<String> {
    match tag {
        // UTF8String, NumericString, PrintableString, IA5String, VisibleString, GraphicString
        12 | 18 | 19 | 22 | 26 | 25 => Some(String::from_utf8_lossy(data).into_owned()),
        // TeletexString: read as Latin-1, as OpenSSL does
        20 => Some(data.iter().map(|b| char::from(*b)).collect()),
        // BMPString (UTF-16BE)
        30 => {
            if data.len() % 2 != 0 {
                return None;
            }
            let units: Vec<u16> = data.chunks(2).map(|c| u16::from_be_bytes([c[0], c[1]])).collect();
            Some(String::from_utf16_lossy(&units))
        }
        // UniversalString (UTF-32BE)
        28 => {
            if data.len() % 4 != 0 {
                return None;
            }
            Some(
                data.chunks(4)
                    .map(|c| char::from_u32(u32::from_be_bytes([c[0], c[1], c[2], c[3]])).unwrap_or('\u{fffd}'))
                    .collect(),
            )
        }
        _ => None,
    }
}

/// OpenSSL's short names for attribute types (`openssl x509 -nameopt RFC2253`).
pub(super) fn attribute_short_name(dotted: &str) -> Option<&'static str> {
    Some(match dotted {
        "2.5.4.3" => "CN",
        "2.5.4.4" => "SN",
        "2.5.4.5" => "serialNumber",
        "2.5.4.6" => "C",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.9" => "street",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "2.5.4.12" => "title",
        "2.5.4.13" => "description",
        "2.5.4.15" => "businessCategory",
        "2.5.4.16" => "postalAddress",
        "2.5.4.17" => "postalCode",
        "2.5.4.18" => "postOfficeBox",
        "2.5.4.20" => "telephoneNumber",
        "2.5.4.41" => "name",
        "2.5.4.42" => "GN",
        "2.5.4.43" => "initials",
        "2.5.4.44" => "generationQualifier",
        "2.5.4.45" => "x500UniqueIdentifier",
        "2.5.4.46" => "dnQualifier",
        "2.5.4.65" => "pseudonym",
        "2.5.4.72" => "role",
        "2.5.4.97" => "organizationIdentifier",
        "2.5.4.14" => "searchGuide",
        "2.5.4.19" => "physicalDeliveryOfficeName",
        "2.5.4.21" => "telexNumber",
        "2.5.4.23" => "facsimileTelephoneNumber",
        "2.5.4.24" => "x121Address",
        "2.5.4.25" => "internationaliSDNNumber",
        "2.5.4.26" => "registeredAddress",
        "2.5.4.27" => "destinationIndicator",
        "2.5.4.28" => "preferredDeliveryMethod",
        "2.5.4.49" => "distinguishedName",
        "2.5.4.51" => "houseIdentifier",
        "2.5.4.54" => "dmdName",
        "1.2.840.113549.1.9.8" => "unstructuredAddress",
        "0.9.2342.19200300.100.1.3" => "mail",
        "1.2.840.113549.1.9.1" => "emailAddress",
        "1.2.840.113549.1.9.2" => "unstructuredName",
        "0.9.2342.19200300.100.1.1" => "UID",
        "0.9.2342.19200300.100.1.25" => "DC",
        "1.3.6.1.4.1.311.60.2.1.1" => "jurisdictionL",
        "1.3.6.1.4.1.311.60.2.1.2" => "jurisdictionST",
        "1.3.6.1.4.1.311.60.2.1.3" => "jurisdictionC",
        _ => return None,
    })
}

/// RFC 4514 string of a name: most specific RDN first, multi-valued RDNs joined with `+`, values escaped;
/// unknown attribute types as dotted OIDs with the value's DER in `#hex`; the same string as
/// `openssl x509 -nameopt RFC2253` prints.
pub(crate) fn rfc4514(name: &X509Name<'_>) -> String {
    let rdns: Vec<String> = name
        .iter_rdn()
        .map(|rdn| {
            // OpenSSL prints the whole attribute list reversed, inside multi-valued RDNs too.
            let attributes: Vec<_> = rdn.iter().collect();
            attributes
                .into_iter()
                .rev()
                .map(|atv| {
                    let dotted = oid_string(atv.attr_type().as_bytes());
                    let any = atv.attr_value();
                    match (attribute_short_name(&dotted), attribute_text(any.tag().0, any.data)) {
                        (Some(short), Some(text)) => format!("{short}={}", escape_rfc4514(&text)),
                        (short, _) => {
                            let mut der = ber::header_bytes(
                                any.class() as u8,
                                any.header.is_constructed(),
                                any.tag().0,
                                any.data.len(),
                            );
                            der.extend_from_slice(any.data);
                            format!("{}=#{}", short.map(str::to_string).unwrap_or(dotted), hex::encode_upper(der))
                        }
                    }
                })
                .collect::<Vec<_>>()
                .join("+")
        })
        .collect();
    rdns.into_iter().rev().collect::<Vec<_>>().join(",")
}

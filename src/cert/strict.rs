//! The checks OpenSSL makes and x509-parser does not: the exact RFC 5280 skeleton tags and names whose text converts
//! to UTF-8. A certificate OpenSSL refuses is refused here too, with the same outcome on the fuzz corpus.

use super::*;

/// The RFC 5280 skeleton with the exact tags OpenSSL's decoder expects (x509-parser lets some wrong tags through).
pub(super) fn skeleton_ok(cert: &ber::Obj<'_>) -> Option<()> {
    let tags = |o: &ber::Obj<'_>| o.children(1).ok().map(|c| c.iter().map(|x| x.tag).collect::<Vec<u8>>());
    let top = cert.children(1).ok()?;
    if cert.tag != 0x30 || top.len() != 3 || top[0].tag != 0x30 || top[1].tag != 0x30 || top[2].tag != 0x03 {
        return None;
    }
    let tbs = top[0].children(2).ok()?;
    let mut i = usize::from(tbs.first()?.tag == 0xa0);
    let field = |i: usize, tag: u8| tbs.get(i).filter(|o| o.tag == tag);
    field(i, 0x02)?; // serialNumber
    let alg = field(i + 1, 0x30)?;
    if alg.children(3).ok()?.first()?.tag != 0x06 {
        return None;
    }
    let names = [field(i + 2, 0x30)?, field(i + 4, 0x30)?];
    let validity = tags(field(i + 3, 0x30)?)?;
    if validity.len() != 2 || validity.iter().any(|t| *t != 0x17 && *t != 0x18) {
        return None;
    }
    let spki = tags(field(i + 5, 0x30)?)?;
    if spki != [0x30, 0x03] {
        return None;
    }
    for name in names {
        for rdn in name.children(3).ok()? {
            if rdn.tag != 0x31 {
                return None;
            }
            for atv in rdn.children(4).ok()? {
                if atv.tag != 0x30 || tags(&atv)?.first() != Some(&0x06) {
                    return None;
                }
            }
        }
    }
    i += 6;
    // issuerUniqueID [1], subjectUniqueID [2], extensions [3], in order.
    for (tag, primitive_or_constructed) in [(0x81u8, 0xa1u8), (0x82, 0xa2)] {
        if tbs.get(i).is_some_and(|o| o.tag == tag || o.tag == primitive_or_constructed) {
            i += 1;
        }
    }
    if let Some(ext) = tbs.get(i) {
        if ext.tag != 0xa3 || i + 1 != tbs.len() {
            return None;
        }
        let list = ext.children(3).ok()?;
        if list.len() != 1 || list[0].tag != 0x30 {
            return None;
        }
        for e in list[0].children(4).ok()? {
            let t = tags(&e)?;
            if e.tag != 0x30 || !(t == [0x06, 0x04] || t == [0x06, 0x01, 0x04]) {
                return None;
            }
        }
    }
    Some(())
}

/// Whether every UTF8String, BMPString and UniversalString of a name decodes (OpenSSL's canonical form needs it).
/// Also refuses the universal types OpenSSL's DirectoryString decoder rejects (BOOLEAN, INTEGER, NULL, OID, times,
/// Videotex/Graphic/Visible/General strings…), checked one by one against OpenSSL 3 (tests/fixtures/odd/name_tag_*).
pub(super) fn names_convertible(name: &X509Name<'_>) -> bool {
    name.iter_attributes().all(|a| {
        let value = a.attr_value();
        let data = value.data;
        if value.class() == x509_parser::der_parser::asn1_rs::Class::Universal && !value.header.is_constructed() {
            match value.tag().0 {
                1 | 2 | 4 | 5 | 6 | 10 | 16 | 17 | 21 | 23 | 24 | 25 | 26 | 27 => return false,
                3 if data.first().is_none_or(|unused| *unused > 7) => return false,
                _ => {}
            }
        }
        match value.tag().0 {
            12 => std::str::from_utf8(data).is_ok(),
            30 => data.len() % 2 == 0,
            28 => {
                data.len() % 4 == 0
                    && data.chunks(4).all(|c| char::from_u32(u32::from_be_bytes([c[0], c[1], c[2], c[3]])).is_some())
            }
            _ => true,
        }
    })
}

//! Card identification by ATR (Answer To Reset).
//!
//! A smartcard says little about itself before a PKCS#11 module talks to it, but its ATR is enough to tell a
//! LuxTrust card from a CPS card and to pick the module to try first. The table below holds exact ATRs and masked
//! ones (a mask byte `00` ignores that position, as in pcsc-tools' `smartcard_list.txt` and Windows' Calais
//! database). Sources: pcsc-tools, OpenSC, Web eID (see DESIGN.md, "Domain facts").

use serde::{Serialize, Serializer};

/// The family a card belongs to; it decides the PKCS#11 module(s) to try.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Family {
    /// LuxTrust smartcard (Gemalto/Thales IDPrime, Classic Client).
    LuxTrust,
    /// Luxembourg identity card carrying a LuxTrust certificate.
    LuxEid,
    /// French health professional card, 3rd generation (also used in Luxembourg).
    Cps3,
    /// French health professional card, 4th generation.
    Cps4,
    /// A card this table does not know.
    Unknown,
}

impl Family {
    /// The stable identifier used in JSON: `luxtrust`, `lux-eid`, `cps3`, `cps4`, `unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            Family::LuxTrust => "luxtrust",
            Family::LuxEid => "lux-eid",
            Family::Cps3 => "cps3",
            Family::Cps4 => "cps4",
            Family::Unknown => "unknown",
        }
    }
}

impl std::fmt::Display for Family {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Family {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// What Trousseau knows about a card from its ATR.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CardInfo {
    /// The card's family (`unknown` when the ATR is not in the table).
    pub family: Family,
    /// A display name, e.g. "LuxTrust (Gemalto IDPrime 940)"; "Carte non reconnue" for unknown cards.
    pub name: &'static str,
    /// The ATR as uppercase hex without spaces.
    pub atr: String,
    /// PKCS#11 modules to try for this card on this operating system, most specific first (file names or
    /// absolute paths; the token module resolves bare names in the system's library directories).
    pub modules: Vec<&'static str>,
}

/// One row of the table: an ATR pattern and an optional mask (same length; `None` means exact match).
struct Entry {
    pattern: &'static str,
    mask: Option<&'static str>,
    family: Family,
    name: &'static str,
}

const TABLE: &[Entry] = &[
    Entry {
        pattern: "3B 7F 96 00 00 80 31 80 65 B0 85 05 00 11 12 0F FF 82 90 00",
        mask: None,
        family: Family::LuxTrust,
        name: "LuxTrust (Gemalto IDPrime 940)",
    },
    Entry {
        pattern: "3B 7D 94 00 00 80 31 80 65 B0 83 11 00 C8 83 00 90 00",
        mask: None,
        family: Family::LuxTrust,
        name: "LuxTrust (Gemalto Classic)",
    },
    Entry {
        pattern: "3B 6D 00 00 80 31 80 65 B0 83 02 04 7E 83 00 90 00",
        mask: None,
        family: Family::LuxTrust,
        name: "LuxTrust (Gemalto Classic)",
    },
    Entry {
        pattern: "3B 8F 80 01 80 31 80 65 B0 85 03 00 EF 12 0F FF 82 90 00 73",
        mask: None,
        family: Family::LuxEid,
        name: "Carte d'identité luxembourgeoise (eID, certificat LuxTrust)",
    },
    Entry {
        pattern: "3B AC 00 40 2A 00 12 25 00 64 80 00 03 10 00 90 00",
        mask: Some("FF 00 00 00 00 FF FF FF FF FF FF 00 00 00 FF FF FF"),
        family: Family::Cps3,
        name: "CPS3 (Carte de Professionnel de Santé)",
    },
    Entry {
        pattern: "3B 8F 80 01 00 31 B8 64 04 B0 EC C1 73 94 01 80 82 90 00 0E",
        mask: None,
        family: Family::Cps3,
        name: "CPS3 sans contact (Carte de Professionnel de Santé)",
    },
    Entry {
        pattern: "3B 9B 18 80 01 00 12 25 00 64 80 00 04 01 00 90 44",
        mask: None,
        family: Family::Cps4,
        name: "CPS4 (Carte de Professionnel de Santé)",
    },
    Entry {
        pattern: "3B 9B 18 80 01 00 12 25 00 64 80 04 01 00 00 90 44",
        mask: None,
        family: Family::Cps4,
        name: "CPS4 (Carte de Professionnel de Santé)",
    },
    Entry {
        pattern: "3B DC 18 FF 00 00 12 25 00 64 80 00 04 01 00 90 00",
        mask: None,
        family: Family::Cps4,
        name: "CPS4 (Carte de Professionnel de Santé)",
    },
];

/// The display name of cards absent from the table.
pub const UNKNOWN_NAME: &str = "Carte non reconnue";

/// Identifies a card from its raw ATR. Never fails: cards absent from the table come back as
/// [`Family::Unknown`] with their ATR, so the user still sees what is in the reader.
pub fn identify(atr: &[u8]) -> CardInfo {
    // Exact ATRs first: the CPS3 mask also covers the CPS4 ATR `3B DC 18 FF 00 00 12 25 00 64 80 00 04 01 00 90 00`.
    let hit = TABLE
        .iter()
        .find(|e| e.mask.is_none() && matches(e, atr))
        .or_else(|| TABLE.iter().find(|e| e.mask.is_some() && matches(e, atr)));
    let (family, name) = match hit {
        Some(e) => (e.family, e.name),
        None => (Family::Unknown, UNKNOWN_NAME),
    };
    CardInfo { family, name, atr: to_hex(atr), modules: modules_for(family) }
}

/// Uppercase hex without separators, e.g. `3B7F96…`.
pub fn to_hex(bytes: &[u8]) -> String {
    hex::encode_upper(bytes)
}

/// Parses an ATR written in hex, with or without spaces or colons (`3B 7F 96…`, `3b:7f:96…`).
pub fn parse_hex(text: &str) -> Option<Vec<u8>> {
    let compact: String = text.chars().filter(|c| !c.is_whitespace() && *c != ':').collect();
    hex::decode(compact).ok()
}

fn matches(entry: &Entry, atr: &[u8]) -> bool {
    let Some(pattern) = parse_hex(entry.pattern) else { return false };
    if pattern.len() != atr.len() {
        return false;
    }
    match entry.mask.and_then(parse_hex) {
        Some(mask) if mask.len() == pattern.len() => {
            pattern.iter().zip(&mask).zip(atr).all(|((p, m), a)| p & m == a & m)
        }
        Some(_) => false,
        None => pattern == atr,
    }
}

/// PKCS#11 modules worth trying for a family on the operating system this binary runs on.
pub fn modules_for(family: Family) -> Vec<&'static str> {
    let opensc = if cfg!(windows) {
        "opensc-pkcs11.dll"
    } else if cfg!(target_os = "macos") {
        "/Library/OpenSC/lib/opensc-pkcs11.so"
    } else {
        "opensc-pkcs11.so"
    };
    match family {
        Family::LuxTrust | Family::LuxEid => {
            let mut v = if cfg!(windows) {
                vec![r"%ProgramFiles%\Gemalto\Classic Client\BIN\gclib.dll", "eTPKCS11.dll"]
            } else if cfg!(target_os = "macos") {
                vec![
                    "/Library/Frameworks/Pkcs11ClassicClient.framework/Versions/A/Pkcs11ClassicClient/libgclib.dylib",
                    "/Library/Frameworks/eToken.framework/Versions/A/libIDPrimePKCS11.dylib",
                ]
            } else {
                vec!["/usr/lib/pkcs11/libgclib.so", "libIDPrimePKCS11.so"]
            };
            v.push(opensc);
            v
        }
        Family::Cps3 | Family::Cps4 => {
            if cfg!(windows) {
                vec![r"%SystemRoot%\System32\cps3_pkcs11_w64.dll"]
            } else if cfg!(target_os = "macos") {
                vec!["/usr/local/lib/libcps3_pkcs11_osx.dylib"]
            } else {
                vec!["/opt/santesocial/CPS/lib/libcps3_pkcs11_lux.so"]
            }
        }
        Family::Unknown => vec![opensc],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(hex: &str) -> CardInfo {
        identify(&parse_hex(hex).expect("hex"))
    }

    #[test]
    fn every_table_row_is_well_formed() {
        for e in TABLE {
            let p = parse_hex(e.pattern).expect("pattern hex");
            if let Some(m) = e.mask {
                assert_eq!(parse_hex(m).expect("mask hex").len(), p.len(), "{}", e.pattern);
            }
            assert_eq!(identify(&p).family, e.family, "{}", e.pattern);
        }
    }

    #[test]
    fn luxtrust_and_eid_exact() {
        let c = id("3B 7F 96 00 00 80 31 80 65 B0 85 05 00 11 12 0F FF 82 90 00");
        assert_eq!(c.family, Family::LuxTrust);
        assert_eq!(c.atr, "3B7F96000080318065B085050011120FFF829000");
        assert_eq!(id("3B 7D 94 00 00 80 31 80 65 B0 83 11 00 C8 83 00 90 00").family, Family::LuxTrust);
        assert_eq!(id("3B 6D 00 00 80 31 80 65 B0 83 02 04 7E 83 00 90 00").family, Family::LuxTrust);
        assert_eq!(id("3B 8F 80 01 80 31 80 65 B0 85 03 00 EF 12 0F FF 82 90 00 73").family, Family::LuxEid);
    }

    #[test]
    fn cps3_masked_matches_variants_only_within_the_mask() {
        assert_eq!(id("3B AC 00 40 2A 00 12 25 00 64 80 00 03 10 00 90 00").family, Family::Cps3);
        // Bytes under a 00 mask may change (TA1, serial-dependent bytes)…
        assert_eq!(id("3B AC 11 22 33 00 12 25 00 64 80 AA BB CC 00 90 00").family, Family::Cps3);
        // …but not those under FF.
        assert_eq!(id("3B AC 00 40 2A 01 12 25 00 64 80 00 03 10 00 90 00").family, Family::Unknown);
        assert_eq!(id("3B AC 00 40 2A 00 12 25 00 64 80 00 03 10 00 90 01").family, Family::Unknown);
        // Length differs → no match.
        assert_eq!(id("3B AC 00 40 2A 00 12 25 00 64 80 00 03 10 00 90").family, Family::Unknown);
        assert_eq!(id("3B 8F 80 01 00 31 B8 64 04 B0 EC C1 73 94 01 80 82 90 00 0E").family, Family::Cps3);
    }

    #[test]
    fn exact_cps4_wins_over_the_overlapping_cps3_mask() {
        // The CPS3 mask alone would take this CPS4 ATR for a CPS3 (same length, same bytes under FF).
        let cps3 = TABLE.iter().find(|e| e.mask.is_some()).expect("masked row");
        let cps4 = parse_hex("3B DC 18 FF 00 00 12 25 00 64 80 00 04 01 00 90 00").expect("hex");
        assert!(matches(cps3, &cps4));
        assert_eq!(identify(&cps4).family, Family::Cps4);
    }

    #[test]
    fn cps4_variants() {
        for a in [
            "3B 9B 18 80 01 00 12 25 00 64 80 00 04 01 00 90 44",
            "3B 9B 18 80 01 00 12 25 00 64 80 04 01 00 00 90 44",
            "3B DC 18 FF 00 00 12 25 00 64 80 00 04 01 00 90 00",
        ] {
            let c = id(a);
            assert_eq!(c.family, Family::Cps4, "{a}");
            assert!(c.modules.iter().any(|m| m.contains("cps3_pkcs11")), "{:?}", c.modules);
        }
    }

    #[test]
    fn unknown_card_keeps_its_atr() {
        let c = id("3B 02 14 50");
        assert_eq!(c.family, Family::Unknown);
        assert_eq!(c.name, UNKNOWN_NAME);
        assert_eq!(c.atr, "3B021450");
        assert_eq!(identify(&[]).family, Family::Unknown);
        assert_eq!(serde_json::to_value(&c).expect("json")["family"], "unknown");
    }

    #[test]
    fn families_serialise_to_stable_names() {
        let names: Vec<_> =
            [Family::LuxTrust, Family::LuxEid, Family::Cps3, Family::Cps4, Family::Unknown].map(|f| f.as_str()).into();
        assert_eq!(names, ["luxtrust", "lux-eid", "cps3", "cps4", "unknown"]);
    }

    #[test]
    fn parse_hex_accepts_common_spellings() {
        assert_eq!(parse_hex("3b:7f 96"), Some(vec![0x3B, 0x7F, 0x96]));
        assert_eq!(parse_hex("3B7"), None);
        assert_eq!(parse_hex("zz"), None);
    }
}

//! RFC 4514 distinguished-name strings, one rule for the whole application: certificates (`cert`), CSR subjects
//! (`csr::dn`), envelope recipients and the vault's pending requests print and read names through here.
//!
//! The escaping is OpenSSL's `-nameopt RFC2253`, byte for byte (the CLI JSON contract, tested against
//! `openssl x509 -subject -nameopt RFC2253`): RFC 4514 §2.4 requires `"+,;<>\\`, a leading `#` or space, a
//! trailing space and NUL to be escaped; OpenSSL also escapes the other control characters and every non-ASCII UTF-8
//! byte (`\C3\A9` for `é`), which RFC 4514 allows, so the string is plain ASCII. [`unescape_utf8`] and
//! [`unescape`] turn it back into text for display.

/// RFC 4514 §2.4 escaping, byte for byte as `openssl x509 -nameopt RFC2253` does it: the special characters
/// `"+,;<>\\`, a leading `#` or space, a trailing space, control characters and every non-ASCII UTF-8 byte
/// (`\C3\A9` for `é`) are escaped. The result is plain ASCII; [`unescape_utf8`] turns it back into text
/// for display.
pub fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let bytes = value.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'"' | b'+' | b',' | b';' | b'<' | b'>' | b'\\' => {
                out.push('\\');
                out.push(char::from(b));
            }
            b'#' if i == 0 => out.push_str("\\#"),
            b' ' if i == 0 || i + 1 == bytes.len() => out.push_str("\\ "),
            b if !(0x20..0x7f).contains(&b) => out.push_str(&format!("\\{b:02X}")),
            b => out.push(char::from(b)),
        }
    }
    out
}

/// Turns the `\XX` escapes of non-ASCII bytes back into UTF-8 text (for display only; other escapes stay).
pub fn unescape_utf8(escaped: &str) -> String {
    let bytes = escaped.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 2 < bytes.len() {
            if let Some(b) = std::str::from_utf8(&bytes[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                if b >= 0x80 {
                    out.push(b);
                    i += 3;
                    continue;
                }
            }
        }
        if bytes[i] == b'\\' && i + 1 < bytes.len() {
            out.extend_from_slice(&bytes[i..i + 2]);
            i += 2;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// An RFC 4514 value as text: `\\XX` UTF-8 bytes decoded, `\\,` and the other escaped characters kept bare.
pub fn unescape(value: &str) -> String {
    let hex_decoded = unescape_utf8(value);
    let mut out = String::with_capacity(hex_decoded.len());
    let mut chars = hex_decoded.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.extend(chars.next()),
            c => out.push(c),
        }
    }
    out
}

/// Splits an RFC 4514 string on its unescaped commas.
pub fn split_rdns(subject: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut start, mut escaped) = (0, false);
    for (i, c) in subject.char_indices() {
        match c {
            '\\' if !escaped => escaped = true,
            ',' if !escaped => {
                out.push(&subject[start..i]);
                start = i + 1;
            }
            _ => escaped = false,
        }
    }
    out.push(&subject[start..]);
    out
}

/// The first value of attribute `name` (short name, case-insensitive) in an RFC 4514 string, as text; multi-valued
/// RDNs are not split (a `+` stays in the value).
pub fn attribute(name_string: &str, name: &str) -> Option<String> {
    split_rdns(name_string).into_iter().find_map(|rdn| {
        let (k, v) = rdn.split_once('=')?;
        k.trim().eq_ignore_ascii_case(name).then(|| unescape(v.trim()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_matches_openssl() {
        assert_eq!(escape("#a, b "), "\\#a\\, b\\ ");
        assert_eq!(escape("Zoé"), "Zo\\C3\\A9");
        assert_eq!(escape("a\u{1}b"), "a\\01b");
        assert_eq!(escape("a\0b"), "a\\00b");
        assert_eq!(escape(" "), "\\ ");
        assert_eq!(unescape("Dupont\\, Zo\\C3\\A9"), "Dupont, Zoé");
        assert_eq!(split_rdns("CN=a\\,b,O=c"), ["CN=a\\,b", "O=c"]);
        assert_eq!(attribute("CN=a\\,b,gn=Zo\\C3\\A9", "GN").as_deref(), Some("Zoé"));
    }
}

//! The one BER/DER reader of the application (definite and indefinite lengths, high tag numbers), with the few
//! DER writing helpers the key and name code needs. Used for PKCS#7 bags, PKCS#12 files (NSS and Windows write BER
//! with indefinite lengths), small extension values, PKCS#8 keys and NSS's unwrapped keys.
//!
//! Why not der-parser's BER mode: this reader returns borrowed `raw`/`content` slices with indefinite-length
//! content delimited (what the PKCS#12 MAC and the re-encoded certificate bags need), classifies failures as
//! truncated / invalid / too deep (the `pkcs12.truncated` vs `pkcs12.corrupted` codes and the fuzz corpus depend on
//! it) and is depth-limited; der-parser 10 gives a tree of owned `BerObject`s whose errors are nom's
//! `Incomplete`/`Error` and would change those codes. Depth-limited; never panics on any input.

/// Nesting depth beyond which input is refused.
pub const MAX_DEPTH: usize = 48;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BerError {
    #[error("truncated")]
    Truncated,
    #[error("invalid encoding")]
    Invalid,
    #[error("nested too deeply")]
    TooDeep,
}

/// One TLV. `tag` is the first identifier octet (class, constructed bit and low tag number).
#[derive(Debug, Clone, Copy)]
pub struct Obj<'a> {
    pub tag: u8,
    /// Tag number (high-tag-number form decoded).
    pub number: u32,
    pub constructed: bool,
    /// Content octets (for indefinite lengths, without the end-of-contents marker).
    pub content: &'a [u8],
    /// The whole encoding, header and end-of-contents included.
    pub raw: &'a [u8],
}

impl<'a> Obj<'a> {
    pub fn tag_number(&self) -> u32 {
        self.number
    }

    /// The contents of a constructed value as TLVs.
    pub fn children(&self, depth: usize) -> Result<Vec<Obj<'a>>, BerError> {
        if !self.constructed {
            return Err(BerError::Invalid);
        }
        let mut out = Vec::new();
        let mut rest = self.content;
        while !rest.is_empty() {
            let (obj, r) = read(rest, depth + 1)?;
            out.push(obj);
            rest = r;
        }
        Ok(out)
    }
}

/// Reads the identifier and length octets: (header length, Some(content length) or None if indefinite).
pub fn header(input: &[u8]) -> Result<(usize, Option<usize>), BerError> {
    let (_, _, tag_len) = tag(input)?;
    let l0 = *input.get(tag_len).ok_or(BerError::Truncated)?;
    let mut pos = tag_len + 1;
    let len = if l0 < 0x80 {
        Some(usize::from(l0))
    } else if l0 == 0x80 {
        None
    } else {
        let n = usize::from(l0 & 0x7f);
        if n > 4 || l0 == 0xff {
            return Err(BerError::Invalid);
        }
        let bytes = input.get(pos..pos + n).ok_or(BerError::Truncated)?;
        pos += n;
        Some(bytes.iter().fold(0usize, |acc, b| (acc << 8) | usize::from(*b)))
    };
    Ok((pos, len))
}

fn tag(input: &[u8]) -> Result<(u8, u32, usize), BerError> {
    let first = *input.first().ok_or(BerError::Truncated)?;
    if first & 0x1f != 0x1f {
        return Ok((first, u32::from(first & 0x1f), 1));
    }
    let mut number: u32 = 0;
    for (i, b) in input.iter().enumerate().skip(1) {
        if i > 5 {
            return Err(BerError::Invalid);
        }
        number = (number << 7) | u32::from(b & 0x7f);
        if b & 0x80 == 0 {
            return Ok((first, number, i + 1));
        }
    }
    Err(BerError::Truncated)
}

/// Reads one TLV at the start of `input`; returns it and the bytes after it.
pub fn read(input: &[u8], depth: usize) -> Result<(Obj<'_>, &[u8]), BerError> {
    if depth > MAX_DEPTH {
        return Err(BerError::TooDeep);
    }
    let (first, number, _) = tag(input)?;
    let constructed = first & 0x20 != 0;
    let (hlen, len) = header(input)?;
    match len {
        Some(len) => {
            let end = hlen.checked_add(len).ok_or(BerError::Invalid)?;
            if end > input.len() {
                return Err(BerError::Truncated);
            }
            let obj = Obj { tag: first, number, constructed, content: &input[hlen..end], raw: &input[..end] };
            Ok((obj, &input[end..]))
        }
        None => {
            if !constructed {
                return Err(BerError::Invalid);
            }
            let mut pos = hlen;
            loop {
                let rest = input.get(pos..).ok_or(BerError::Truncated)?;
                if rest.len() < 2 {
                    return Err(BerError::Truncated);
                }
                if rest[0] == 0 && rest[1] == 0 {
                    let obj =
                        Obj { tag: first, number, constructed, content: &input[hlen..pos], raw: &input[..pos + 2] };
                    return Ok((obj, &input[pos + 2..]));
                }
                let (child, _) = read(rest, depth + 1)?;
                pos += child.raw.len();
            }
        }
    }
}

/// Whether every constructed value under `obj` is exactly filled by well-formed children (what OpenSSL's
/// template decoder insists on; x509-parser is laxer in places, e.g. inside names).
pub fn well_formed(obj: &Obj<'_>, depth: usize) -> bool {
    if obj.tag == 0x06 {
        // OBJECT IDENTIFIER: not empty, no sub-identifier starting with 0x80, last octet ends an arc.
        let c = obj.content;
        let starts_ok = c.iter().enumerate().all(|(i, b)| *b != 0x80 || (i > 0 && c[i - 1] & 0x80 != 0));
        return !c.is_empty() && c[c.len() - 1] & 0x80 == 0 && starts_ok;
    }
    if !obj.constructed {
        return true;
    }
    match obj.children(depth) {
        Ok(children) => children.iter().all(|c| well_formed(c, depth + 1)),
        Err(_) => false,
    }
}

/// DER identifier and length octets for a value of `len` content bytes.
pub fn header_bytes(class: u8, constructed: bool, number: u32, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(8);
    let first = (class << 6) | if constructed { 0x20 } else { 0 };
    if number < 31 {
        out.push(first | number as u8);
    } else {
        out.push(first | 0x1f);
        let mut groups = Vec::new();
        let mut n = number;
        loop {
            groups.push((n & 0x7f) as u8);
            n >>= 7;
            if n == 0 {
                break;
            }
        }
        for (i, g) in groups.iter().rev().enumerate() {
            out.push(if i + 1 < groups.len() { g | 0x80 } else { *g });
        }
    }
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len() - 1);
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out
}

/// DER identifier and length octets followed by `content`, appended to `out` (universal or context tags below 31).
pub fn push_tlv(tag: u8, content: &[u8], out: &mut Vec<u8>) {
    out.push(tag);
    push_length(content.len(), out);
    out.extend_from_slice(content);
}

/// DER length octets.
pub fn push_length(len: usize, out: &mut Vec<u8>) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len.to_be_bytes().into_iter().skip_while(|b| *b == 0).collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend_from_slice(&bytes);
    }
}

/// Whether `bytes` are exactly one SEQUENCE (nothing before or after it).
pub fn is_one_sequence(bytes: &[u8]) -> bool {
    matches!(read(bytes, 0), Ok((o, rest)) if o.tag == 0x30 && rest.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_lengths_are_refused() {
        for input in [
            &[0x30, 0x84, 0xff, 0xff, 0xff, 0xff][..],
            &[0x30, 0x80],
            &[0x30, 0x80, 0x30, 0x80],
            &[0x1f],
            &[0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0x00],
        ] {
            assert!(read(input, 0).is_err());
        }
        let deep: Vec<u8> = std::iter::repeat_n([0x30u8, 0x80], 100).flatten().collect();
        assert_eq!(read(&deep, 0).unwrap_err(), BerError::TooDeep);
    }

    #[test]
    fn tlv_lengths() {
        let mut out = Vec::new();
        push_tlv(0x02, &[1], &mut out);
        assert_eq!(out, [2, 1, 1]);
        let mut out = Vec::new();
        push_tlv(0x02, &[0u8; 200], &mut out);
        assert_eq!(out[..3], [2, 0x81, 200]);
        assert_eq!(header_bytes(0, false, 2, 200), [2, 0x81, 200]);
        assert!(is_one_sequence(&[0x30, 0x03, 0x02, 0x01, 0x00]));
        assert!(!is_one_sequence(&[0x30, 0x03, 0x02, 0x01, 0x00, 0x00]));
        assert!(!is_one_sequence(&[0x30, 0x04, 0x02, 0x01, 0x00]));
    }
}

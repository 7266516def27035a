//! The subset of BER (X.690) that LDAP (RFC 4511 5.1) uses: one-byte tags
//! (LDAP's highest is [APPLICATION 25]), definite lengths, primitive
//! INTEGER/ENUMERATED/BOOLEAN/OCTET STRING and constructed SEQUENCE/SET.
//! Written here rather than taken from a crate: this is ~150 lines, and the
//! BER crates either pull in code generation (rasn) or a full LDAP stack
//! with build-time GSSAPI (ldap3); see docs/directory.md.
//!
//! The decoder borrows from its input, never allocates per element, and
//! every length is checked against the bytes actually present.

use super::DirectoryError;

pub const BOOLEAN: u8 = 0x01;
pub const INTEGER: u8 = 0x02;
pub const OCTET_STRING: u8 = 0x04;
pub const ENUMERATED: u8 = 0x0a;
pub const SEQUENCE: u8 = 0x30;
pub const SET: u8 = 0x31;

/// `[APPLICATION n]`, constructed or primitive.
pub const fn application(n: u8, constructed: bool) -> u8 {
    0x40 | if constructed { 0x20 } else { 0 } | n
}

/// `[n]` (context-specific), constructed or primitive.
pub const fn context(n: u8, constructed: bool) -> u8 {
    0x80 | if constructed { 0x20 } else { 0 } | n
}

fn malformed(what: &'static str) -> DirectoryError {
    DirectoryError::Malformed(what)
}

/// Append `tag`, the definite length of `content`, and `content`.
pub fn put(out: &mut Vec<u8>, tag: u8, content: &[u8]) {
    out.push(tag);
    put_length(out, content.len());
    out.extend_from_slice(content);
}

/// One TLV as a new vector.
pub fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 6);
    put(&mut out, tag, content);
    out
}

fn put_length(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
        return;
    }
    let bytes = (len as u64).to_be_bytes();
    let skip = bytes.iter().take_while(|&&b| b == 0).count();
    out.push(0x80 | (8 - skip) as u8);
    out.extend_from_slice(&bytes[skip..]);
}

/// The minimal two's-complement content octets of `value`.
pub fn integer_content(value: i64) -> Vec<u8> {
    let bytes = value.to_be_bytes();
    let mut start = 0;
    // Drop leading bytes that only repeat the sign of the next one.
    while start < 7 {
        let (b, next) = (bytes[start], bytes[start + 1]);
        if (b == 0 && next & 0x80 == 0) || (b == 0xff && next & 0x80 != 0) {
            start += 1;
        } else {
            break;
        }
    }
    bytes[start..].to_vec()
}

pub fn integer(tag: u8, value: i64) -> Vec<u8> {
    tlv(tag, &integer_content(value))
}

pub fn boolean(value: bool) -> Vec<u8> {
    tlv(BOOLEAN, &[if value { 0xff } else { 0 }])
}

/// A TLV borrowed from the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tlv<'a> {
    pub tag: u8,
    pub content: &'a [u8],
}

impl<'a> Tlv<'a> {
    /// The elements inside a constructed value.
    pub fn reader(&self) -> Reader<'a> {
        Reader::new(self.content)
    }

    pub fn expect(self, tag: u8, what: &'static str) -> Result<Tlv<'a>, DirectoryError> {
        if self.tag == tag {
            Ok(self)
        } else {
            Err(malformed(what))
        }
    }

    /// INTEGER/ENUMERATED content as i64 (longer values are refused).
    pub fn int(&self) -> Result<i64, DirectoryError> {
        let c = self.content;
        if c.is_empty() || c.len() > 8 {
            return Err(malformed("an integer of 1 to 8 bytes"));
        }
        let mut value: i64 = if c[0] & 0x80 != 0 { -1 } else { 0 };
        for &b in c {
            value = (value << 8) | i64::from(b);
        }
        Ok(value)
    }
}

/// Reads consecutive TLVs from a byte slice.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Reader { rest: bytes }
    }

    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// The tag of the next element, without consuming it.
    pub fn peek_tag(&self) -> Option<u8> {
        self.rest.first().copied()
    }

    pub fn next_tlv(&mut self) -> Result<Tlv<'a>, DirectoryError> {
        let (tlv, used) = split(self.rest)?;
        self.rest = &self.rest[used..];
        Ok(tlv)
    }

    /// The next element, which must have `tag`.
    pub fn take(&mut self, tag: u8, what: &'static str) -> Result<Tlv<'a>, DirectoryError> {
        self.next_tlv()?.expect(tag, what)
    }
}

/// The header of a TLV at the start of `bytes`: (tag, header length,
/// content length), or None when more bytes are needed to tell.
pub fn header(bytes: &[u8]) -> Result<Option<(u8, usize, usize)>, DirectoryError> {
    let [tag, first, ..] = *bytes else {
        return Ok(None);
    };
    if tag & 0x1f == 0x1f {
        return Err(malformed("a one-byte tag (LDAP uses no others)"));
    }
    if first < 0x80 {
        return Ok(Some((tag, 2, usize::from(first))));
    }
    let count = usize::from(first & 0x7f);
    // 0x80 is the indefinite length, which LDAP forbids (RFC 4511 5.1);
    // more than 4 length bytes is more than any message we accept.
    if count == 0 || count > 4 {
        return Err(malformed("a definite length of at most 4 bytes"));
    }
    let Some(len_bytes) = bytes.get(2..2 + count) else {
        return Ok(None);
    };
    let len = len_bytes
        .iter()
        .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
    Ok(Some((tag, 2 + count, len)))
}

fn split(bytes: &[u8]) -> Result<(Tlv<'_>, usize), DirectoryError> {
    let (tag, head, len) = header(bytes)?.ok_or_else(|| malformed("a complete element"))?;
    let end = head
        .checked_add(len)
        .filter(|&end| end <= bytes.len())
        .ok_or_else(|| malformed("an element no longer than its container"))?;
    Ok((
        Tlv {
            tag,
            content: &bytes[head..end],
        },
        end,
    ))
}

/// Exactly one TLV filling `bytes`.
pub fn single(bytes: &[u8]) -> Result<Tlv<'_>, DirectoryError> {
    let (tlv, used) = split(bytes)?;
    if used != bytes.len() {
        return Err(malformed("nothing after the message"));
    }
    Ok(tlv)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn lengths_and_integers() {
        assert_eq!(tlv(OCTET_STRING, &[1; 3]), [4, 3, 1, 1, 1]);
        assert_eq!(&tlv(OCTET_STRING, &[0; 200])[..3], [4, 0x81, 200]);
        assert_eq!(&tlv(OCTET_STRING, &[0; 300])[..4], [4, 0x82, 1, 44]);
        assert_eq!(integer(INTEGER, 0), [2, 1, 0]);
        assert_eq!(integer(INTEGER, 128), [2, 2, 0, 128]);
        assert_eq!(integer(INTEGER, -1), [2, 1, 0xff]);
        assert_eq!(
            integer(INTEGER, 2_147_483_647),
            [2, 4, 0x7f, 0xff, 0xff, 0xff]
        );
        assert!(header(&[0x30, 0x80]).is_err(), "indefinite length");
        assert!(header(&[0x1f, 1]).is_err(), "multi-byte tag");
        assert_eq!(header(&[0x30, 0x82, 1]).unwrap(), None);
        assert!(single(&[4, 5, 1]).is_err());
    }

    proptest! {
        #[test]
        fn integers_round_trip(value: i64) {
            let bytes = integer(INTEGER, value);
            prop_assert_eq!(single(&bytes).unwrap().int().unwrap(), value);
        }

        #[test]
        fn octets_round_trip(content in proptest::collection::vec(any::<u8>(), 0..70_000)) {
            let bytes = tlv(OCTET_STRING, &content);
            let got = single(&bytes).unwrap();
            prop_assert_eq!(got.content, &content[..]);
        }

        #[test]
        fn reader_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let mut reader = Reader::new(&bytes);
            while let Ok(tlv) = reader.next_tlv() {
                let _ = tlv.int();
                let _ = tlv.reader().next_tlv();
            }
        }
    }
}

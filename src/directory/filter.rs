//! LDAP search filters from their text form (RFC 4515) to BER (RFC 4511
//! 4.5.1.7), for `--ldap-filter` and the filters lingerscan builds itself.
//! Nesting is bounded so a hostile or mistyped filter cannot exhaust the stack.

use super::ber::{self, OCTET_STRING, SEQUENCE, context};

const MAX_DEPTH: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("LDAP filter '{filter}': {why} (at byte {at})")]
pub struct FilterError {
    pub filter: String,
    pub why: &'static str,
    pub at: usize,
}

/// Encode the RFC 4515 filter `text` (surrounding parentheses optional).
pub fn encode(text: &str) -> Result<Vec<u8>, FilterError> {
    let trimmed = text.trim();
    let owned;
    let source = if trimmed.starts_with('(') {
        trimmed
    } else {
        owned = format!("({trimmed})");
        &owned
    };
    let mut parser = Parser {
        bytes: source.as_bytes(),
        at: 0,
    };
    let out = parser.filter(0).map_err(|(why, at)| FilterError {
        filter: text.to_string(),
        why,
        at,
    })?;
    if parser.at != parser.bytes.len() {
        return Err(FilterError {
            filter: text.to_string(),
            why: "text after the filter",
            at: parser.at,
        });
    }
    Ok(out)
}

/// `text` with the characters RFC 4515 reserves escaped, for values put
/// into filters built here (account names, SIDs).
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '*' | '(' | ')' | '\\' | '\0' => out.push_str(&format!("\\{:02x}", c as u32)),
            _ => out.push(c),
        }
    }
    out
}

/// Bytes as a filter value of `\XX` escapes (binary attributes: objectSid).
pub fn escape_bytes(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("\\{b:02x}")).collect()
}

type Failure = (&'static str, usize);

struct Parser<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn eat(&mut self, byte: u8, why: &'static str) -> Result<(), Failure> {
        if self.peek() == Some(byte) {
            self.at += 1;
            Ok(())
        } else {
            Err((why, self.at))
        }
    }

    fn filter(&mut self, depth: usize) -> Result<Vec<u8>, Failure> {
        if depth > MAX_DEPTH {
            return Err(("nested too deeply", self.at));
        }
        self.eat(b'(', "'(' expected")?;
        let out = match self.peek() {
            Some(b'&') => self.list(0, depth)?,
            Some(b'|') => self.list(1, depth)?,
            Some(b'!') => {
                self.at += 1;
                ber::tlv(context(2, true), &self.filter(depth + 1)?)
            }
            _ => self.item()?,
        };
        self.eat(b')', "')' expected")?;
        Ok(out)
    }

    fn list(&mut self, n: u8, depth: usize) -> Result<Vec<u8>, Failure> {
        self.at += 1;
        let mut content = Vec::new();
        while self.peek() == Some(b'(') {
            content.extend(self.filter(depth + 1)?);
        }
        if content.is_empty() {
            return Err(("an empty '&' or '|'", self.at));
        }
        Ok(ber::tlv(context(n, true), &content))
    }

    /// The text up to the operator: an attribute, maybe with `:dn:rule`.
    fn item(&mut self) -> Result<Vec<u8>, Failure> {
        let start = self.at;
        while let Some(b) = self.peek() {
            if matches!(b, b'=' | b'~' | b'<' | b'>' | b'(' | b')') {
                break;
            }
            self.at += 1;
        }
        let attribute = &self.bytes[start..self.at];
        let op = match (self.peek(), self.bytes.get(self.at + 1)) {
            (Some(b'='), _) => 3,
            (Some(b'>'), Some(b'=')) => 5,
            (Some(b'<'), Some(b'=')) => 6,
            (Some(b'~'), Some(b'=')) => 8,
            _ => return Err(("an operator (=, >=, <=, ~=) expected", self.at)),
        };
        self.at += if op == 3 { 1 } else { 2 };
        let raw_start = self.at;
        while let Some(b) = self.peek() {
            if b == b')' || b == b'(' {
                break;
            }
            self.at += 1;
        }
        let raw = &self.bytes[raw_start..self.at];
        if attribute.contains(&b':') {
            if op != 3 {
                return Err(("an extensible match takes ':='", start));
            }
            return extensible(attribute, raw, start);
        }
        if attribute.is_empty() {
            return Err(("an attribute name expected", start));
        }
        let mut pair = ber::tlv(OCTET_STRING, attribute);
        if op == 3 && raw == b"*" {
            return Ok(ber::tlv(context(7, false), attribute));
        }
        if op == 3 && raw.contains(&b'*') {
            let mut parts = Vec::new();
            let pieces: Vec<&[u8]> = raw.split(|&b| b == b'*').collect();
            let last = pieces.len() - 1;
            for (i, piece) in pieces.iter().enumerate() {
                if piece.is_empty() {
                    continue;
                }
                let tag = if i == 0 {
                    0
                } else if i == last {
                    2
                } else {
                    1
                };
                ber::put(
                    &mut parts,
                    context(tag, false),
                    &unescape(piece, raw_start)?,
                );
            }
            ber::put(&mut pair, SEQUENCE, &parts);
            return Ok(ber::tlv(context(4, true), &pair));
        }
        ber::put(&mut pair, OCTET_STRING, &unescape(raw, raw_start)?);
        Ok(ber::tlv(context(op, true), &pair))
    }
}

/// `attr:dn:rule:=value`, `attr:rule:=value`, `:rule:=value` (RFC 4515 3).
fn extensible(left: &[u8], raw: &[u8], at: usize) -> Result<Vec<u8>, Failure> {
    // The item parser stopped at '=' so `left` ends with ':'.
    let left = left
        .strip_suffix(b":")
        .ok_or(("an extensible match ends its left side with ':'", at))?;
    let mut parts = left.split(|&b| b == b':');
    let attribute = parts.next().unwrap_or_default();
    let mut dn = false;
    let mut rule: &[u8] = &[];
    for part in parts {
        if part.eq_ignore_ascii_case(b"dn") {
            dn = true;
        } else if rule.is_empty() && !part.is_empty() {
            rule = part;
        } else {
            return Err(("a malformed extensible match", at));
        }
    }
    if attribute.is_empty() && rule.is_empty() {
        return Err(("an extensible match needs an attribute or a rule", at));
    }
    let mut content = Vec::new();
    if !rule.is_empty() {
        ber::put(&mut content, context(1, false), rule);
    }
    if !attribute.is_empty() {
        ber::put(&mut content, context(2, false), attribute);
    }
    ber::put(&mut content, context(3, false), &unescape(raw, at)?);
    if dn {
        ber::put(&mut content, context(4, false), &[0xff]);
    }
    Ok(ber::tlv(context(9, true), &content))
}

/// A value with `\XX` escapes decoded.
fn unescape(raw: &[u8], at: usize) -> Result<Vec<u8>, Failure> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'\\' {
            let hex = raw
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or(("'\\' must be followed by two hex digits", at + i))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(raw[i]);
            i += 1;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_encodings() {
        // (objectClass=*) is [7] "objectClass".
        assert_eq!(
            encode("(objectClass=*)").unwrap(),
            ber::tlv(0x87, b"objectClass")
        );
        assert_eq!(
            encode("objectClass=*").unwrap(),
            ber::tlv(0x87, b"objectClass")
        );
        // (cn=a\2ab) is [3] { "cn", "a*b" }.
        let mut eq = ber::tlv(OCTET_STRING, b"cn");
        ber::put(&mut eq, OCTET_STRING, b"a*b");
        assert_eq!(encode("(cn=a\\2ab)").unwrap(), ber::tlv(0xa3, &eq));
        let and = encode("(&(objectCategory=computer)(!(cn=x*)))").unwrap();
        assert_eq!(and[0], 0xa0);
        let bit = encode("(userAccountControl:1.2.840.113556.1.4.803:=2)").unwrap();
        assert_eq!(bit[0], 0xa9);
        assert!(encode("(cn>=b)").is_ok());
        assert!(encode("(|(a=1)(b=2))").is_ok());
    }

    #[test]
    fn mistakes_are_errors() {
        for bad in [
            "(",
            "(cn=x",
            "(&)",
            "(cn=x))",
            "(=x)",
            "(cn=\\zz)",
            "(cn<x)",
        ] {
            assert!(encode(bad).is_err(), "{bad}");
        }
        let deep = format!("{}(cn=x){}", "(!".repeat(100), ")".repeat(100));
        assert!(encode(&deep).is_err());
    }

    #[test]
    fn escaping() {
        assert_eq!(escape("a*(b)\\"), "a\\2a\\28b\\29\\5c");
        assert_eq!(escape_bytes(&[1, 0xab]), "\\01\\ab");
    }

    proptest! {
        #[test]
        fn escaped_values_survive(value in "\\PC{0,40}") {
            let filter = format!("(cn={})", escape(&value));
            let encoded = encode(&filter).unwrap();
            let mut eq = ber::tlv(OCTET_STRING, b"cn");
            ber::put(&mut eq, OCTET_STRING, value.as_bytes());
            prop_assert_eq!(encoded, ber::tlv(0xa3, &eq));
        }

        #[test]
        fn never_panics(text in "[()&|!=*a-c:\\\\0-9<>~]{0,40}") {
            let _ = encode(&text);
        }
    }
}

//! LDAPv3 messages (RFC 4511 4): the requests lingerscan sends, encoded,
//! and the responses it reads, decoded. Pure functions, no I/O: the
//! decoders are what the fuzz target and the property tests exercise.

use super::DirectoryError;
use super::ber::{
    self, ENUMERATED, INTEGER, OCTET_STRING, Reader, SEQUENCE, SET, Tlv, application, context,
};

/// Simple Paged Results (RFC 2696), which AD needs past its MaxPageSize.
pub const PAGED_RESULTS: &str = "1.2.840.113556.1.4.319";
/// LDAP_SERVER_SHOW_DELETED_OID: deleted objects are returned too.
pub const SHOW_DELETED: &str = "1.2.840.113556.1.4.417";

const BIND_REQUEST: u8 = application(0, true);
const BIND_RESPONSE: u8 = application(1, true);
const UNBIND_REQUEST: u8 = application(2, false);
const SEARCH_REQUEST: u8 = application(3, true);
const SEARCH_ENTRY: u8 = application(4, true);
const SEARCH_DONE: u8 = application(5, true);
const SEARCH_REFERENCE: u8 = application(19, true);
const EXTENDED_RESPONSE: u8 = application(24, true);
const CONTROLS: u8 = context(0, true);
const SASL: u8 = context(3, true);
const SERVER_SASL_CREDS: u8 = context(7, false);

/// resultCode values used by name (RFC 4511 4.1.9).
pub const SUCCESS: u32 = 0;
pub const SASL_BIND_IN_PROGRESS: u32 = 14;
pub const NO_SUCH_OBJECT: u32 = 32;

/// One control of a request.
#[derive(Debug, Clone)]
pub struct Control {
    pub oid: &'static str,
    pub critical: bool,
    pub value: Option<Vec<u8>>,
}

impl Control {
    /// The paged-results control asking for `size` entries after `cookie`.
    pub fn paged(size: u32, cookie: &[u8]) -> Control {
        let mut value = ber::integer(INTEGER, i64::from(size));
        ber::put(&mut value, OCTET_STRING, cookie);
        Control {
            oid: PAGED_RESULTS,
            critical: true,
            value: Some(ber::tlv(SEQUENCE, &value)),
        }
    }

    pub fn show_deleted() -> Control {
        Control {
            oid: SHOW_DELETED,
            critical: true,
            value: None,
        }
    }

    fn encode(&self) -> Vec<u8> {
        let mut out = ber::tlv(OCTET_STRING, self.oid.as_bytes());
        if self.critical {
            out.extend(ber::boolean(true));
        }
        if let Some(value) = &self.value {
            ber::put(&mut out, OCTET_STRING, value);
        }
        ber::tlv(SEQUENCE, &out)
    }
}

fn envelope(id: i32, op: &[u8], controls: &[Control]) -> Vec<u8> {
    let mut body = ber::integer(INTEGER, i64::from(id));
    body.extend_from_slice(op);
    if !controls.is_empty() {
        let all: Vec<u8> = controls.iter().flat_map(Control::encode).collect();
        ber::put(&mut body, CONTROLS, &all);
    }
    ber::tlv(SEQUENCE, &body)
}

/// BindRequest, SASL `mechanism` with `credentials` (RFC 4511 4.2).
pub fn sasl_bind(id: i32, mechanism: &str, credentials: &[u8]) -> Vec<u8> {
    let mut sasl = ber::tlv(OCTET_STRING, mechanism.as_bytes());
    ber::put(&mut sasl, OCTET_STRING, credentials);
    let mut op = ber::integer(INTEGER, 3);
    ber::put(&mut op, OCTET_STRING, b"");
    ber::put(&mut op, SASL, &sasl);
    envelope(id, &ber::tlv(BIND_REQUEST, &op), &[])
}

pub fn unbind(id: i32) -> Vec<u8> {
    envelope(id, &ber::tlv(UNBIND_REQUEST, &[]), &[])
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Base = 0,
    OneLevel = 1,
    Subtree = 2,
}

/// A search: `filter` is already encoded (see [`super::filter`]).
pub struct Search<'a> {
    pub base: &'a str,
    pub scope: Scope,
    pub filter: &'a [u8],
    pub attributes: &'a [&'a str],
}

pub fn search(id: i32, search: &Search<'_>, controls: &[Control]) -> Vec<u8> {
    let mut op = ber::tlv(OCTET_STRING, search.base.as_bytes());
    op.extend(ber::integer(ENUMERATED, search.scope as i64));
    op.extend(ber::integer(ENUMERATED, 0)); // neverDerefAliases
    op.extend(ber::integer(INTEGER, 0)); // no size limit: paging bounds it
    op.extend(ber::integer(INTEGER, 0)); // no time limit: our deadline does
    op.extend(ber::boolean(false));
    op.extend_from_slice(search.filter);
    let attributes: Vec<u8> = search
        .attributes
        .iter()
        .flat_map(|a| ber::tlv(OCTET_STRING, a.as_bytes()))
        .collect();
    ber::put(&mut op, SEQUENCE, &attributes);
    envelope(id, &ber::tlv(SEARCH_REQUEST, &op), controls)
}

/// LDAPResult (RFC 4511 4.1.9), without referrals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LdapResult {
    pub code: u32,
    pub matched_dn: String,
    pub message: String,
}

/// One attribute of an entry and its values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    pub name: String,
    pub values: Vec<Vec<u8>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub dn: String,
    pub attributes: Vec<Attribute>,
}

impl Entry {
    /// The values of `name` (attribute names compare case-insensitively).
    pub fn values(&self, name: &str) -> &[Vec<u8>] {
        self.attributes
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
            .map_or(&[], |a| &a.values)
    }

    /// The first value of `name` as text.
    pub fn text(&self, name: &str) -> Option<String> {
        self.values(name)
            .first()
            .map(|v| String::from_utf8_lossy(v).into_owned())
    }

    /// The first value of `name` as a decimal integer (AD's INTEGER and
    /// Large-Integer syntaxes are decimal text).
    pub fn integer(&self, name: &str) -> Option<i64> {
        std::str::from_utf8(self.values(name).first()?)
            .ok()?
            .trim()
            .parse()
            .ok()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    Bind {
        result: LdapResult,
        server_credentials: Option<Vec<u8>>,
    },
    Entry(Entry),
    /// A continuation reference (another server's part of the tree): not followed.
    Reference,
    Done {
        result: LdapResult,
        /// The paged-results cookie; empty or absent when this was the last page.
        cookie: Option<Vec<u8>>,
    },
    /// The Notice of Disconnection (RFC 4511 4.4.1) or another extended response.
    Extended(LdapResult),
}

/// The messageID and protocol operation of one complete LDAPMessage.
pub fn parse(bytes: &[u8]) -> Result<(i32, Response), DirectoryError> {
    let message = ber::single(bytes)?.expect(SEQUENCE, "an LDAPMessage SEQUENCE")?;
    let mut fields = message.reader();
    let id = fields.take(INTEGER, "a messageID")?.int()?;
    let id = i32::try_from(id).map_err(|_| DirectoryError::Malformed("a messageID in range"))?;
    let op = fields.next_tlv()?;
    let controls = match fields.peek_tag() {
        Some(CONTROLS) => Some(fields.next_tlv()?),
        _ => None,
    };
    let mut body = op.reader();
    let response = match op.tag {
        BIND_RESPONSE => {
            let result = result(&mut body)?;
            let mut server_credentials = None;
            while !body.is_empty() {
                let tlv = body.next_tlv()?;
                if tlv.tag == SERVER_SASL_CREDS {
                    server_credentials = Some(tlv.content.to_vec());
                }
            }
            Response::Bind {
                result,
                server_credentials,
            }
        }
        SEARCH_ENTRY => Response::Entry(entry(&mut body)?),
        SEARCH_REFERENCE => Response::Reference,
        SEARCH_DONE => Response::Done {
            result: result(&mut body)?,
            cookie: controls.map(paged_cookie).transpose()?.flatten(),
        },
        EXTENDED_RESPONSE => Response::Extended(result(&mut body)?),
        _ => {
            return Err(DirectoryError::Malformed(
                "a response this client asked for",
            ));
        }
    };
    Ok((id, response))
}

fn text(tlv: Tlv<'_>) -> String {
    String::from_utf8_lossy(tlv.content).into_owned()
}

fn result(body: &mut Reader<'_>) -> Result<LdapResult, DirectoryError> {
    let code = body.take(ENUMERATED, "a resultCode")?.int()?;
    let code = u32::try_from(code).map_err(|_| DirectoryError::Malformed("a resultCode"))?;
    let matched_dn = text(body.take(OCTET_STRING, "a matchedDN")?);
    let message = text(body.take(OCTET_STRING, "a diagnosticMessage")?);
    Ok(LdapResult {
        code,
        matched_dn,
        message,
    })
}

fn entry(body: &mut Reader<'_>) -> Result<Entry, DirectoryError> {
    let dn = text(body.take(OCTET_STRING, "an objectName")?);
    let mut list = body.take(SEQUENCE, "an attribute list")?.reader();
    let mut attributes = Vec::new();
    while !list.is_empty() {
        let mut attribute = list.take(SEQUENCE, "a PartialAttribute")?.reader();
        let name = text(attribute.take(OCTET_STRING, "an attribute type")?);
        let mut set = attribute.take(SET, "a SET of values")?.reader();
        let mut values = Vec::new();
        while !set.is_empty() {
            values.push(
                set.take(OCTET_STRING, "an attribute value")?
                    .content
                    .to_vec(),
            );
        }
        attributes.push(Attribute { name, values });
    }
    Ok(Entry { dn, attributes })
}

/// The cookie of the paged-results control among `controls`, if present.
fn paged_cookie(controls: Tlv<'_>) -> Result<Option<Vec<u8>>, DirectoryError> {
    let mut list = controls.reader();
    while !list.is_empty() {
        let mut control = list.take(SEQUENCE, "a Control")?.reader();
        let oid = control.take(OCTET_STRING, "a controlType")?;
        let mut value = None;
        while !control.is_empty() {
            let tlv = control.next_tlv()?;
            if tlv.tag == OCTET_STRING {
                value = Some(tlv.content);
            }
        }
        if oid.content != PAGED_RESULTS.as_bytes() {
            continue;
        }
        let value = value.ok_or(DirectoryError::Malformed("a paged-results value"))?;
        let mut fields = ber::single(value)?
            .expect(SEQUENCE, "a paged-results SEQUENCE")?
            .reader();
        fields.take(INTEGER, "a paged-results size")?;
        let cookie = fields.take(OCTET_STRING, "a paged-results cookie")?;
        return Ok(Some(cookie.content.to_vec()));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn done(code: u32, cookie: Option<&[u8]>) -> Vec<u8> {
        let mut op = ber::integer(ENUMERATED, i64::from(code));
        ber::put(&mut op, OCTET_STRING, b"");
        ber::put(&mut op, OCTET_STRING, b"fine");
        let op = ber::tlv(SEARCH_DONE, &op);
        let controls: Vec<Control> = cookie.map(|c| Control::paged(0, c)).into_iter().collect();
        envelope(7, &op, &controls)
    }

    fn entry_bytes(dn: &str, attributes: &[(&str, &[&str])]) -> Vec<u8> {
        let mut list = Vec::new();
        for (name, values) in attributes {
            let mut attribute = ber::tlv(OCTET_STRING, name.as_bytes());
            let set: Vec<u8> = values
                .iter()
                .flat_map(|v| ber::tlv(OCTET_STRING, v.as_bytes()))
                .collect();
            ber::put(&mut attribute, SET, &set);
            ber::put(&mut list, SEQUENCE, &attribute);
        }
        let mut op = ber::tlv(OCTET_STRING, dn.as_bytes());
        ber::put(&mut op, SEQUENCE, &list);
        envelope(2, &ber::tlv(SEARCH_ENTRY, &op), &[])
    }

    #[test]
    fn search_done_carries_the_cookie() {
        let (id, response) = parse(&done(0, Some(b"abc"))).unwrap();
        assert_eq!(id, 7);
        let Response::Done { result, cookie } = response else {
            panic!("not Done");
        };
        assert_eq!(result.code, SUCCESS);
        assert_eq!(result.message, "fine");
        assert_eq!(cookie.as_deref(), Some(&b"abc"[..]));
        let (_, last) = parse(&done(0, None)).unwrap();
        assert!(matches!(last, Response::Done { cookie: None, .. }));
    }

    #[test]
    fn entries_decode() {
        let bytes = entry_bytes(
            "CN=PC1,CN=Computers,DC=samdom,DC=test",
            &[
                ("dNSHostName", &["pc1.samdom.test"]),
                ("userAccountControl", &["4098"]),
            ],
        );
        let (_, Response::Entry(entry)) = parse(&bytes).unwrap() else {
            panic!("not an entry");
        };
        assert_eq!(
            entry.text("dnshostname").as_deref(),
            Some("pc1.samdom.test")
        );
        assert_eq!(entry.integer("userAccountControl"), Some(4098));
        assert_eq!(entry.integer("missing"), None);
    }

    #[test]
    fn requests_are_well_formed() {
        let bind = sasl_bind(1, "GSSAPI", b"token");
        assert_eq!(bind[0], SEQUENCE);
        let tlv = ber::single(&bind).unwrap();
        let mut r = tlv.reader();
        assert_eq!(r.take(INTEGER, "id").unwrap().int().unwrap(), 1);
        assert_eq!(r.next_tlv().unwrap().tag, BIND_REQUEST);
        let filter = ber::tlv(0x87, b"objectClass");
        let request = search(
            3,
            &Search {
                base: "DC=x",
                scope: Scope::Subtree,
                filter: &filter,
                attributes: &["cn"],
            },
            &[Control::paged(500, b"")],
        );
        assert!(ber::single(&request).is_ok());
        assert_eq!(unbind(9), [0x30, 5, 2, 1, 9, 0x42, 0]);
    }

    proptest! {
        #[test]
        fn entries_round_trip(
            dn in "[a-zA-Z=,]{0,40}",
            values in proptest::collection::vec("[ -~]{0,300}", 0..20),
        ) {
            let refs: Vec<&str> = values.iter().map(String::as_str).collect();
            let bytes = entry_bytes(&dn, &[("member", &refs)]);
            let (_, Response::Entry(entry)) = parse(&bytes).unwrap() else {
                panic!("not an entry");
            };
            prop_assert_eq!(&entry.dn, &dn);
            let got: Vec<String> = entry.values("member").iter()
                .map(|v| String::from_utf8(v.clone()).unwrap()).collect();
            prop_assert_eq!(got, values);
        }

        #[test]
        fn truncated_messages_are_errors(cut in 0usize..40) {
            let bytes = done(0, Some(b"cookie"));
            let cut = cut.min(bytes.len() - 1);
            prop_assert!(parse(&bytes[..cut]).is_err());
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = parse(&bytes);
        }
    }
}

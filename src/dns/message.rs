//! DNS messages (RFC 1035) without I/O: a query for SRV, A or AAAA
//! records, and the checks and decoding of its answer. The wire format
//! itself is `simple-dns` (docs/directory.md says why); this module adds
//! what lingerscan needs on top: the answer must be to our question (ID,
//! QR bit, the question echoed), record counts are bounded before
//! anything is parsed, and only names made of host-name characters come
//! out (a name from the network ends up on a terminal and in Kerberos
//! names).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use simple_dns::rdata::RData;
use simple_dns::{CLASS, Name, OPCODE, Packet, PacketFlag, QCLASS, QTYPE, Question, RCODE, TYPE};

use super::{DnsError, MAX_RECORDS_PER_SECTION, MAX_TCP_MESSAGE, MAX_UDP_MESSAGE};

/// The DNS header's size: ID, flags and four counts.
const HEADER_LEN: usize = 12;
/// CNAMEs followed from the question's name to its addresses.
const MAX_ALIAS_HOPS: usize = 8;

/// The record types discovery asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordKind {
    Srv,
    A,
    Aaaa,
}

impl RecordKind {
    fn wire_type(self) -> TYPE {
        match self {
            RecordKind::Srv => TYPE::SRV,
            RecordKind::A => TYPE::A,
            RecordKind::Aaaa => TYPE::AAAA,
        }
    }
}

/// One question to one server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub id: u16,
    /// Without the trailing dot.
    pub name: String,
    pub kind: RecordKind,
}

/// One SRV record (RFC 2782).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SrvRecord {
    pub priority: u16,
    pub weight: u16,
    pub port: u16,
    /// The host, lower-case, without the trailing dot.
    pub target: String,
}

/// What an answer to a [`Query`] says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Answer {
    /// NXDOMAIN: the name does not exist (an empty answer otherwise).
    pub no_such_name: bool,
    /// SRV records owned by the question's name (SRV queries).
    pub srv: Vec<SrvRecord>,
    /// Addresses by owner name (lower-case): for SRV queries those the
    /// server added in the Additional section, for A/AAAA queries the
    /// answer's (CNAMEs from the question's name followed).
    pub addresses: Vec<(String, IpAddr)>,
    /// Records left out: not host-name characters, the wrong class, or
    /// owned by another name.
    pub ignored: usize,
}

/// An answer, or "ask again over TCP".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded {
    Answer(Answer),
    Truncated,
}

impl Query {
    /// The query's bytes: recursion desired, and over UDP an EDNS0 OPT
    /// record offering [`MAX_UDP_MESSAGE`] bytes.
    pub fn encode(&self, with_edns: bool) -> Result<Vec<u8>, DnsError> {
        let bad_name = |detail: String| DnsError::BadName {
            name: self.name.clone(),
            detail,
        };
        if self.name.is_empty() || self.name.len() > 253 {
            return Err(bad_name("a name of 1 to 253 characters".into()));
        }
        if !self.name.split('.').all(is_host_label) {
            return Err(bad_name(
                "labels of letters, digits, '-' and '_', 1 to 63 each".into(),
            ));
        }
        let name = Name::new(&self.name).map_err(|e| bad_name(e.to_string()))?;
        let mut packet = Packet::new_query(self.id);
        packet.set_flags(PacketFlag::RECURSION_DESIRED);
        packet.questions.push(Question::new(
            name,
            QTYPE::TYPE(self.kind.wire_type()),
            QCLASS::CLASS(CLASS::IN),
            false,
        ));
        if with_edns {
            *packet.opt_mut() = Some(simple_dns::rdata::OPT {
                opt_codes: Vec::new(),
                udp_packet_size: MAX_UDP_MESSAGE as u16,
                version: 0,
            });
        }
        packet
            .build_bytes_vec()
            .map_err(|e| bad_name(e.to_string()))
    }
}

/// Check that `bytes` answer `query`, and decode them.
///
/// [`DnsError::Mismatch`] means "not for us" (wrong ID, not a response,
/// another question): over UDP the caller keeps waiting. A truncated
/// answer (TC) is [`Decoded::Truncated`] once its ID and QR bit match,
/// whatever follows (it may be cut anywhere).
pub fn decode_response(bytes: &[u8], query: &Query) -> Result<Decoded, DnsError> {
    if bytes.len() > MAX_TCP_MESSAGE {
        return Err(DnsError::Malformed(format!(
            "{} bytes, over the limit of {MAX_TCP_MESSAGE}",
            bytes.len()
        )));
    }
    let Some(header) = bytes.get(..HEADER_LEN) else {
        return Err(DnsError::Malformed(format!(
            "{} bytes, shorter than a DNS header",
            bytes.len()
        )));
    };
    let word = |at: usize| u16::from_be_bytes([header[at], header[at + 1]]);
    if word(0) != query.id {
        return Err(DnsError::Mismatch("another message ID"));
    }
    let flags = word(2);
    if flags & PacketFlag::RESPONSE.bits() == 0 {
        return Err(DnsError::Mismatch("a query, not a response"));
    }
    if flags & PacketFlag::TRUNCATION.bits() != 0 {
        return Ok(Decoded::Truncated);
    }
    for count in [word(4), word(6), word(8), word(10)] {
        if count > MAX_RECORDS_PER_SECTION {
            return Err(DnsError::TooManyRecords {
                count,
                max: MAX_RECORDS_PER_SECTION,
            });
        }
    }
    if word(4) != 1 {
        return Err(DnsError::Mismatch("not exactly one question echoed"));
    }
    let packet = Packet::parse(bytes).map_err(|e| DnsError::Malformed(e.to_string()))?;
    let echoed = packet
        .questions
        .first()
        .ok_or(DnsError::Mismatch("no question echoed"))?;
    if !same_name(&echoed.qname, &query.name)
        || echoed.qtype != QTYPE::TYPE(query.kind.wire_type())
        || echoed.qclass != QCLASS::CLASS(CLASS::IN)
    {
        return Err(DnsError::Mismatch("another question echoed"));
    }
    if packet.opcode() != OPCODE::StandardQuery {
        return Err(DnsError::Mismatch("another opcode"));
    }
    let mut answer = Answer::default();
    match packet.rcode() {
        RCODE::NoError => {}
        RCODE::NameError => {
            answer.no_such_name = true;
            return Ok(Decoded::Answer(answer));
        }
        RCODE::ServerFailure => return Err(DnsError::ServerError("SERVFAIL")),
        RCODE::Refused => return Err(DnsError::ServerError("REFUSED")),
        RCODE::FormatError => return Err(DnsError::ServerError("FORMERR")),
        RCODE::NotImplemented => return Err(DnsError::ServerError("NOTIMP")),
        _ => return Err(DnsError::ServerError("an unexpected response code")),
    }
    match query.kind {
        RecordKind::Srv => {
            for record in &packet.answers {
                match &record.rdata {
                    RData::SRV(srv)
                        if record.class == CLASS::IN && same_name(&record.name, &query.name) =>
                    {
                        match host_name(&srv.target) {
                            Some(target) => answer.srv.push(SrvRecord {
                                priority: srv.priority,
                                weight: srv.weight,
                                port: srv.port,
                                target,
                            }),
                            None => answer.ignored += 1,
                        }
                    }
                    _ => answer.ignored += 1,
                }
            }
            collect_addresses(&packet.additional_records, None, &mut answer);
        }
        RecordKind::A | RecordKind::Aaaa => {
            let aliases = alias_chain(&packet.answers, &query.name);
            collect_addresses(&packet.answers, Some(&aliases), &mut answer);
        }
    }
    Ok(Decoded::Answer(answer))
}

/// The question's name and the CNAME targets reached from it.
fn alias_chain(records: &[simple_dns::ResourceRecord<'_>], name: &str) -> Vec<String> {
    let mut chain = vec![name.to_ascii_lowercase()];
    for _ in 0..MAX_ALIAS_HOPS {
        let Some(last) = chain.last() else { break };
        let next = records.iter().find_map(|record| match &record.rdata {
            RData::CNAME(alias) if same_name(&record.name, last) => host_name(&alias.0),
            _ => None,
        });
        match next {
            Some(next) if !chain.contains(&next) => chain.push(next),
            _ => break,
        }
    }
    chain
}

/// A and AAAA records of class IN whose owner is a host name (and, when
/// `owners` is given, one of them).
fn collect_addresses(
    records: &[simple_dns::ResourceRecord<'_>],
    owners: Option<&[String]>,
    answer: &mut Answer,
) {
    for record in records {
        let address = match &record.rdata {
            RData::A(a) => IpAddr::V4(Ipv4Addr::from(a.address)),
            RData::AAAA(aaaa) => IpAddr::V6(Ipv6Addr::from(aaaa.address)),
            // The alias records themselves are expected in an address answer.
            RData::CNAME(_) if owners.is_some() => continue,
            _ if owners.is_none() => continue,
            _ => {
                answer.ignored += 1;
                continue;
            }
        };
        let owner = host_name(&record.name);
        match owner {
            Some(owner)
                if record.class == CLASS::IN
                    && owners.is_none_or(|owners| owners.contains(&owner)) =>
            {
                answer.addresses.push((owner, address));
            }
            _ => answer.ignored += 1,
        }
    }
}

/// A label as host names and service names (`_ldap`) have them.
pub fn is_host_label(label: &str) -> bool {
    (1..=63).contains(&label.len())
        && label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The name as lower-case text when every label is host-name characters
/// (the root name, an SRV target of ".", means "no such service": None).
fn host_name(name: &Name<'_>) -> Option<String> {
    let mut text = String::new();
    for label in name.as_bytes() {
        let label = std::str::from_utf8(label).ok()?;
        if !is_host_label(label) {
            return None;
        }
        if !text.is_empty() {
            text.push('.');
        }
        text.push_str(&label.to_ascii_lowercase());
    }
    (!text.is_empty() && text.len() <= 253).then_some(text)
}

fn same_name(name: &Name<'_>, text: &str) -> bool {
    let text = text.strip_suffix('.').unwrap_or(text);
    let mut expected = text.split('.').filter(|l| !l.is_empty());
    for label in name.as_bytes() {
        match expected.next() {
            Some(want) if want.as_bytes().eq_ignore_ascii_case(label) => {}
            _ => return false,
        }
    }
    expected.next().is_none()
}

/// An answer built as a server would send it (tests, fuzzing seeds, the
/// hostile test server): `srv` in the Answer section for an SRV query
/// (else `addresses` there), `additional` addresses in Additional.
pub fn build_answer(
    query: &Query,
    srv: &[SrvRecord],
    addresses: &[(String, IpAddr)],
    additional: &[(String, IpAddr)],
) -> Result<Vec<u8>, DnsError> {
    let bad = |e: simple_dns::SimpleDnsError| DnsError::BadName {
        name: query.name.clone(),
        detail: e.to_string(),
    };
    let mut packet = Packet::new_reply(query.id);
    packet.set_flags(PacketFlag::RECURSION_DESIRED | PacketFlag::AUTHORITATIVE_ANSWER);
    let owner = Name::new(&query.name).map_err(bad)?;
    packet.questions.push(Question::new(
        owner.clone(),
        QTYPE::TYPE(query.kind.wire_type()),
        QCLASS::CLASS(CLASS::IN),
        false,
    ));
    for record in srv {
        let target = Name::new(&record.target).map_err(bad)?;
        packet.answers.push(simple_dns::ResourceRecord::new(
            owner.clone(),
            CLASS::IN,
            900,
            RData::SRV(simple_dns::rdata::SRV {
                priority: record.priority,
                weight: record.weight,
                port: record.port,
                target,
            }),
        ));
    }
    for address in addresses {
        packet.answers.push(address_record(address).map_err(bad)?);
    }
    for address in additional {
        packet
            .additional_records
            .push(address_record(address).map_err(bad)?);
    }
    packet.build_bytes_vec_compressed().map_err(bad)
}

fn address_record(
    (name, ip): &(String, IpAddr),
) -> Result<simple_dns::ResourceRecord<'_>, simple_dns::SimpleDnsError> {
    let rdata = match ip {
        IpAddr::V4(v4) => RData::A(simple_dns::rdata::A::from(*v4)),
        IpAddr::V6(v6) => RData::AAAA(simple_dns::rdata::AAAA::from(*v6)),
    };
    Name::new(name).map(|owner| simple_dns::ResourceRecord::new(owner, CLASS::IN, 900, rdata))
}

#[cfg(test)]
#[path = "message_tests.rs"]
mod tests;

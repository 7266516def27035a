//! Finding the domain's DCs through DNS SRV records (`--ldap` without
//! `--dc`): `_ldap._tcp.dc._msdcs.DOMAIN`, else `_ldap._tcp.DOMAIN`.
//!
//! Layers: [`message`] encodes queries and checks and decodes answers
//! (pure, no I/O; property-tested and fuzzed), [`srv_order`] orders SRV
//! records as RFC 2782 says, [`resolv_conf`] reads `nameserver` lines,
//! [`transport`] asks one server (UDP, one retry, TCP when truncated), and
//! [`discover`] puts them together under one deadline.
//!
//! Everything a DNS server sends is taken as hostile: messages are bounded
//! (UDP 4,096 bytes with EDNS0, TCP 64 KiB by its 2-byte length), so are
//! record counts, names (255 bytes; compression pointers must point
//! backwards, so a loop cannot be followed forever), and the time.

pub mod discover;
pub mod message;
pub mod resolv_conf;
pub mod srv_order;
pub mod transport;

use std::net::SocketAddr;

pub use discover::{Discovery, DomainController, discover_domain_controllers};
pub use message::{Answer, Query, RecordKind, SrvRecord};

/// The largest UDP answer taken, and the EDNS0 payload size offered.
pub const MAX_UDP_MESSAGE: usize = 4096;
/// The largest TCP answer (its 2-byte length cannot say more).
pub const MAX_TCP_MESSAGE: usize = 65_535;
/// Records one section may hold: AD's SRV sets are a few dozen at most.
pub const MAX_RECORDS_PER_SECTION: u16 = 512;
/// The standard DNS port.
pub const DNS_PORT: u16 = 53;

#[derive(Debug, thiserror::Error)]
pub enum DnsError {
    /// Not an answer to our question: the transport ignores it and waits
    /// on (a stray or spoofed datagram), or fails the TCP exchange.
    #[error("DNS: an answer that does not match the question ({0})")]
    Mismatch(&'static str),
    #[error("DNS: malformed answer: {0}")]
    Malformed(String),
    #[error("DNS: the answer has {count} records in one section, over the limit of {max}")]
    TooManyRecords { count: u16, max: u16 },
    #[error("DNS: the server answered {0}")]
    ServerError(&'static str),
    #[error("DNS: the server answered with the truncated bit set over TCP")]
    TruncatedOverTcp,
    #[error("DNS: cannot encode the query for '{name}': {detail}")]
    BadName { name: String, detail: String },
    #[error("DNS: {during} {server}: {source}")]
    Io {
        during: &'static str,
        server: SocketAddr,
        source: std::io::Error,
    },
    #[error("DNS: no answer from {server} in time{}", timeout_detail(*.over_tcp, *.dropped))]
    Timeout {
        server: SocketAddr,
        /// Waiting over TCP, after a truncated UDP answer.
        over_tcp: bool,
        /// Datagrams that were not the answer (wrong ID, not a response,
        /// another question, too large), dropped while waiting.
        dropped: usize,
    },
    #[error("DNS: the time for finding the domain controllers ran out")]
    DeadlinePassed,
}

fn timeout_detail(over_tcp: bool, dropped: usize) -> String {
    let mut detail = String::new();
    if over_tcp {
        detail.push_str(" over TCP, after a truncated UDP answer");
    }
    if dropped > 0 {
        detail.push_str(&format!(
            " ({dropped} datagrams that did not answer the question were dropped: another \
             message ID, not a response, another question, or too large)"
        ));
    }
    detail
}

//! The domain's DCs from DNS: the SRV records of
//! `_ldap._tcp.dc._msdcs.DOMAIN` (what Windows' DC locator asks, [MS-ADTS]
//! 6.3.6), else `_ldap._tcp.DOMAIN`, ordered as RFC 2782 says; a target's
//! addresses from the answer's Additional section, else A (then AAAA)
//! queries, resolved only when the caller gets to that target. The DNS
//! servers are asked in order: the first to answer decides (an empty
//! answer or NXDOMAIN is an answer; silence, a network error or a
//! malformed message moves on to the next server). One deadline bounds it
//! all.

use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use super::message::{Answer, Query, RecordKind, SrvRecord, is_host_label};
use super::srv_order::{self, SplitMix64};
use super::transport::{self, Carried};
use super::{DnsError, resolv_conf};

#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    #[error("'{0}' is not a DNS domain name (give --realm as the AD domain, e.g. CONTOSO.COM)")]
    BadDomain(String),
    #[error(
        "no DNS server to ask: give --dns-server ADDR[:PORT], or --dc ADDR \
         ({} names none)",
        resolv_conf::PATH
    )]
    NoServers,
    #[error(
        "no DNS server answered for {name}: {}; give --dns-server ADDR (a DNS server of \
         the domain) or --dc ADDR",
        list(.failures)
    )]
    NoAnswer {
        name: String,
        failures: Vec<(SocketAddr, DnsError)>,
    },
    #[error(
        "{server} knows no domain controllers: no SRV records for {}; check --realm, \
         or give --dc ADDR",
        .names.join(" nor ")
    )]
    NoRecords {
        server: SocketAddr,
        names: Vec<String>,
    },
    #[error("the DNS server answered no address for {target}: {}", list(.failures))]
    NoAddress {
        target: String,
        failures: Vec<(SocketAddr, DnsError)>,
    },
    #[error(
        "the time for finding the domain controllers ran out: {}; give --dc ADDR, \
         --dns-server ADDR (a DNS server of the domain), or a longer --timeout",
        list(.0)
    )]
    DeadlinePassed(Vec<(SocketAddr, DnsError)>),
}

fn list(failures: &[(SocketAddr, DnsError)]) -> String {
    let mut text = String::new();
    for (index, (server, error)) in failures.iter().enumerate() {
        if index > 0 {
            text.push_str("; ");
        }
        let _ = write!(text, "{server}: {error}");
    }
    if text.is_empty() {
        text.push_str("no server was asked");
    }
    text
}

/// The SRV names asked, in order.
pub fn service_names(domain: &str) -> [String; 2] {
    [
        format!("_ldap._tcp.dc._msdcs.{domain}"),
        format!("_ldap._tcp.{domain}"),
    ]
}

/// A DC as the SRV records name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainController {
    pub name: String,
    pub port: u16,
    pub priority: u16,
    pub weight: u16,
}

/// What the SRV query found.
#[derive(Debug, Clone)]
pub struct Discovery {
    pub domain: String,
    /// The SRV name that had records.
    pub service: String,
    /// The DNS server that answered it.
    pub dns_server: SocketAddr,
    pub carried: Carried,
    /// In the order to try them (RFC 2782).
    pub controllers: Vec<DomainController>,
    /// Addresses the SRV answer carried in its Additional section.
    additional: Vec<(String, IpAddr)>,
    /// The servers, in order, for the address queries.
    servers: Vec<SocketAddr>,
}

/// `SAMDOM.TEST` → `samdom.test`, checked as a DNS name.
pub fn domain_name(realm: &str) -> Result<String, DiscoveryError> {
    let domain = realm.trim().trim_end_matches('.').to_ascii_lowercase();
    let valid = domain.len() <= 200 && domain.contains('.') && domain.split('.').all(is_host_label);
    if !valid {
        return Err(DiscoveryError::BadDomain(realm.to_string()));
    }
    Ok(domain)
}

fn query_id(random: &mut SplitMix64) -> u16 {
    let mut id = [0u8; 2];
    match getrandom::fill(&mut id) {
        Ok(()) => u16::from_be_bytes(id),
        Err(_) => random.next_u64() as u16,
    }
}

/// Ask the servers in order until one answers `name`.
fn ask(
    servers: &[SocketAddr],
    name: &str,
    kind: RecordKind,
    deadline: Instant,
    random: &mut SplitMix64,
) -> Result<(Answer, SocketAddr, Carried), Vec<(SocketAddr, DnsError)>> {
    let mut failures = Vec::new();
    for &server in servers {
        let query = Query {
            id: query_id(random),
            name: name.to_string(),
            kind,
        };
        match transport::exchange(server, &query, deadline) {
            Ok((answer, carried)) => return Ok((answer, server, carried)),
            Err(DnsError::DeadlinePassed) => {
                failures.push((server, DnsError::DeadlinePassed));
                break;
            }
            Err(error) => failures.push((server, error)),
        }
    }
    Err(failures)
}

/// Every server was silent (or not answering in time) and the time is up.
fn ran_out(failures: &[(SocketAddr, DnsError)], deadline: Instant) -> bool {
    Instant::now() >= deadline
        && failures
            .iter()
            .all(|(_, e)| matches!(e, DnsError::DeadlinePassed | DnsError::Timeout { .. }))
}

/// The DCs of `domain` (a DNS name, see [`domain_name`]), by `deadline`.
pub fn discover_domain_controllers(
    domain: &str,
    servers: &[SocketAddr],
    deadline: Instant,
    random: &mut SplitMix64,
) -> Result<Discovery, DiscoveryError> {
    if servers.is_empty() {
        return Err(DiscoveryError::NoServers);
    }
    let names = service_names(domain);
    let mut asked = Vec::new();
    let mut last_server = servers[0];
    for name in &names {
        let (answer, server, carried) = match ask(servers, name, RecordKind::Srv, deadline, random)
        {
            Ok(found) => found,
            Err(failures) if ran_out(&failures, deadline) => {
                return Err(DiscoveryError::DeadlinePassed(failures));
            }
            Err(failures) => {
                return Err(DiscoveryError::NoAnswer {
                    name: name.clone(),
                    failures,
                });
            }
        };
        asked.push(name.clone());
        last_server = server;
        if answer.srv.is_empty() {
            continue;
        }
        let controllers = srv_order::order(answer.srv, random)
            .into_iter()
            .map(
                |SrvRecord {
                     priority,
                     weight,
                     port,
                     target,
                 }| DomainController {
                    name: target,
                    port,
                    priority,
                    weight,
                },
            )
            .collect();
        // The server that answered is asked first for the addresses.
        let mut ordered = vec![server];
        ordered.extend(servers.iter().filter(|s| **s != server));
        return Ok(Discovery {
            domain: domain.to_string(),
            service: name.clone(),
            dns_server: server,
            carried,
            controllers,
            additional: answer.addresses,
            servers: ordered,
        });
    }
    Err(DiscoveryError::NoRecords {
        server: last_server,
        names: asked,
    })
}

impl Discovery {
    /// The addresses of `controller`: from the SRV answer's Additional
    /// section, else an A query, else an AAAA query.
    pub fn addresses(
        &self,
        controller: &DomainController,
        deadline: Instant,
        random: &mut SplitMix64,
    ) -> Result<Vec<IpAddr>, DiscoveryError> {
        let known: Vec<IpAddr> = self
            .additional
            .iter()
            .filter(|(owner, _)| *owner == controller.name)
            .map(|(_, ip)| *ip)
            .collect();
        if !known.is_empty() {
            return Ok(known);
        }
        let mut failures = Vec::new();
        for kind in [RecordKind::A, RecordKind::Aaaa] {
            match ask(&self.servers, &controller.name, kind, deadline, random) {
                Ok((answer, _, _)) => {
                    let mut found: Vec<IpAddr> =
                        answer.addresses.iter().map(|(_, ip)| *ip).collect();
                    found.dedup();
                    if !found.is_empty() {
                        return Ok(found);
                    }
                }
                Err(more) if ran_out(&more, deadline) => {
                    return Err(DiscoveryError::DeadlinePassed(more));
                }
                Err(more) => failures.extend(more),
            }
        }
        Err(DiscoveryError::NoAddress {
            target: controller.name.clone(),
            failures,
        })
    }
}

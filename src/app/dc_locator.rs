//! `--ldap` without `--dc`: the domain's DCs from DNS SRV records, tried
//! in RFC 2782 order until one answers LDAP (an anonymous rootDSE read).
//! The DC found then stands where `--dc` would: the LDAP server, the KDC
//! of the private krb5.conf, and the directory of the account states.

use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::cli::TargetArgs;
use lingerscan::directory::{self, Server};
use lingerscan::dns::discover::{self, Discovery, DomainController};
use lingerscan::dns::srv_order::SplitMix64;
use lingerscan::dns::{resolv_conf, transport::Carried};
use lingerscan::report::sanitize::for_terminal;

/// One DC's LDAP check may take this long past its connect.
const PROBE_ANSWER_TIME: Duration = Duration::from_secs(3);
/// DCs (SRV targets) tried before giving up: a domain lists a few dozen
/// at most, and each costs up to the connect timeout.
const MAX_CONTROLLERS_TRIED: usize = 16;

/// The target arguments with the DC found through DNS in place of --dc,
/// or None when there is nothing to find (no --ldap, or --dc given).
pub fn locate(target: &TargetArgs, quiet: bool) -> Result<Option<TargetArgs>> {
    if !target.directory.ldap || target.remote.dc.is_some() {
        return Ok(None);
    }
    let start = Instant::now();
    let deadline = start + target.timeout;
    let remote = &target.remote;
    let (realm, realm_source) = if let Some(realm) = &remote.realm {
        (realm.clone(), "--realm")
    } else if let Some((_, realm)) = remote.username.as_deref().and_then(|u| u.rsplit_once('@')) {
        (realm.to_string(), "--username")
    } else {
        bail!(
            "--ldap without --dc looks the domain's DCs up in DNS, and needs the domain: \
             give --realm (e.g. --realm CONTOSO.COM) or --username user@REALM, or name the \
             DC with --dc ADDR"
        );
    };
    let domain = discover::domain_name(&realm)?;
    let (servers, servers_source) = if target.directory.dns_server.is_empty() {
        let servers = resolv_conf::system_nameservers()
            .with_context(|| format!("reading {} (or give --dns-server)", resolv_conf::PATH))?;
        (servers, resolv_conf::PATH)
    } else {
        (target.directory.dns_server.clone(), "--dns-server")
    };
    let mut random = SplitMix64::from_entropy();
    let discovery = discover::discover_domain_controllers(&domain, &servers, deadline, &mut random)
        .with_context(|| format!("finding the DCs of {domain} through DNS"))?;
    let mut tried = String::new();
    for (index, controller) in discovery
        .controllers
        .iter()
        .take(MAX_CONTROLLERS_TRIED)
        .enumerate()
    {
        let addresses = match addresses(target, &discovery, controller, deadline, &mut random) {
            Ok(addresses) => addresses,
            Err(error) => {
                let _ = write!(tried, "\n  {}: {error:#}", for_terminal(&controller.name));
                continue;
            }
        };
        for address in addresses {
            match answers_ldap(target, address, controller.port, deadline) {
                Ok(()) => {
                    if !quiet {
                        eprintln!(
                            "{}",
                            found_message(
                                &discovery,
                                controller,
                                address,
                                (realm_source, servers_source),
                                index,
                                start.elapsed()
                            )
                        );
                    }
                    return Ok(Some(with_dc(target, &discovery, controller, address)));
                }
                Err(error) => {
                    let _ = write!(
                        tried,
                        "\n  {} ({}): {error:#}",
                        for_terminal(&controller.name),
                        SocketAddr::new(address, controller.port)
                    );
                }
            }
            if Instant::now() >= deadline {
                break;
            }
        }
        if Instant::now() >= deadline {
            let _ = write!(tried, "\n  (the time ran out: --timeout)");
            break;
        }
    }
    bail!(
        "no DC of {domain} found through DNS ({} at {}) answered LDAP:{tried}\n\
         give --dc ADDR to name one",
        discovery.service,
        discovery.dns_server
    )
}

/// A `--resolve` mapping for the DC's name first, else what DNS says.
fn addresses(
    target: &TargetArgs,
    discovery: &Discovery,
    controller: &DomainController,
    deadline: Instant,
    random: &mut SplitMix64,
) -> Result<Vec<IpAddr>> {
    let mapped: Vec<IpAddr> = target
        .remote
        .resolve
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case(&controller.name))
        .map(|(_, ip)| *ip)
        .collect();
    if !mapped.is_empty() {
        return Ok(mapped);
    }
    Ok(discovery.addresses(controller, deadline, random)?)
}

/// An anonymous rootDSE read: the DC is there and speaks LDAP.
fn answers_ldap(target: &TargetArgs, address: IpAddr, port: u16, deadline: Instant) -> Result<()> {
    let left = deadline.saturating_duration_since(Instant::now());
    anyhow::ensure!(!left.is_zero(), "the time ran out (--timeout)");
    let connect_timeout = target.connect_timeout.min(left);
    let server = Server {
        dc: address.to_string(),
        port,
        resolve: Vec::new(),
        timeout: (connect_timeout + PROBE_ANSWER_TIME).min(left),
        connect_timeout,
        max_entries: 1,
    };
    directory::read_root_dse(&server)?;
    Ok(())
}

fn ordinal(index: usize) -> String {
    let n = index + 1;
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

fn found_message(
    discovery: &Discovery,
    controller: &DomainController,
    address: IpAddr,
    (realm_source, servers_source): (&str, &str),
    index: usize,
    took: Duration,
) -> String {
    let carried = match discovery.carried {
        Carried::Udp => "UDP",
        Carried::Tcp => "TCP after a truncated UDP answer",
    };
    for_terminal(&format!(
        "--ldap: DC {name} ({at}) found through DNS: SRV {service} from {server} ({carried}; \
         the domain from {realm_source}, the DNS server from {servers_source}); priority \
         {priority}, weight {weight}, the {nth} of {count} in RFC 2782 order; {ms} ms",
        name = controller.name,
        at = SocketAddr::new(address, controller.port),
        service = discovery.service,
        server = discovery.dns_server,
        priority = controller.priority,
        weight = controller.weight,
        nth = ordinal(index),
        count = discovery.controllers.len(),
        ms = took.as_millis(),
    ))
    .into_owned()
}

/// The target arguments as if `--dc ADDRESS --realm DOMAIN` had been
/// given (and `--resolve NAME=ADDRESS`, so a scan of the DC by its name
/// reaches it).
fn with_dc(
    target: &TargetArgs,
    discovery: &Discovery,
    controller: &DomainController,
    address: IpAddr,
) -> TargetArgs {
    let mut located = target.clone();
    located.remote.dc = Some(address.to_string());
    if located.remote.realm.is_none() {
        located.remote.realm = Some(discovery.domain.to_uppercase());
    }
    if !located
        .remote
        .resolve
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case(&controller.name))
    {
        located
            .remote
            .resolve
            .push((controller.name.clone(), address));
    }
    located.directory.ldap_port = Some(controller.port);
    located
}

#[cfg(test)]
mod tests {
    use super::ordinal;

    #[test]
    fn ordinals() {
        let words: Vec<String> = [0, 1, 2, 3, 10, 11, 20]
            .iter()
            .map(|&i| ordinal(i))
            .collect();
        assert_eq!(words, ["1st", "2nd", "3rd", "4th", "11th", "12th", "21st"]);
    }
}

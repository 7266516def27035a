//! `--ldap` without `--dc`: the domain's DCs found through DNS SRV records.
//!
//! - Against the Samba AD DC fixture, whose internal DNS server serves the
//!   domain's zone on 127.0.0.200:53: what lingerscan's decoder reads is
//!   what `dig` (BIND's independent implementation) reads, and `targets
//!   --ldap --realm R --dns-server 127.0.0.200` lists what `--dc` lists,
//!   and a scan finds the DC, uses it as KDC and scans it by its name.
//! - Against hostile DNS stubs on 127.0.0.202 (threads of this test,
//!   stopped on drop): a compression loop, answers with the wrong ID, a
//!   truncated answer whose TCP side stalls, silence. Discovery fails
//!   within its deadline with advice, never hangs or panics.

#![cfg(unix)]

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::process::{Command, Output};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use lingerscan::dns::discover::{self, discover_domain_controllers};
use lingerscan::dns::message::{Query, RecordKind, SrvRecord};
use lingerscan::dns::srv_order::SplitMix64;
use lingerscan::dns::transport;
use serde_json::Value;
use support::PeerThreads;
use support::samba_dc::{self, ADDRESS, HOST, REALM, SambaDc, lingerscan};

const DNS_SERVER: &str = "127.0.0.200:53";
const STUB_ADDRESS: &str = "127.0.0.202";

fn dc_ready(test: &str, programs: &[&str]) -> Option<&'static SambaDc> {
    let mut needed = samba_dc::PROGRAMS.to_vec();
    needed.extend_from_slice(programs);
    if !support::require(test, true, &needed) {
        return None;
    }
    Some(SambaDc::get())
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn names(out: &Output) -> Vec<String> {
    assert!(out.status.success(), "lingerscan failed: {}", stderr(out));
    let listing: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    samba_dc::computer_names(&listing)
}

/// `dig +short` SRV lines (`0 100 389 dc1.samdom.test.`) as records.
fn dig_srv(name: &str, tcp: bool) -> Vec<SrvRecord> {
    let mut command = Command::new("dig");
    command.args(["+short", "+time=2", "+tries=1", "-p", "53"]);
    if tcp {
        command.arg("+tcp");
    }
    let out = command
        .arg(format!("@{ADDRESS}"))
        .args(["SRV", name])
        .output()
        .expect("run dig");
    assert!(
        out.status.success(),
        "dig: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut records: Vec<SrvRecord> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            assert_eq!(fields.len(), 4, "dig line {line:?}");
            SrvRecord {
                priority: fields[0].parse().expect("priority"),
                weight: fields[1].parse().expect("weight"),
                port: fields[2].parse().expect("port"),
                target: fields[3].trim_end_matches('.').to_lowercase(),
            }
        })
        .collect();
    records.sort_by(|a, b| a.target.cmp(&b.target));
    records
}

fn ours(name: &str, kind: RecordKind) -> lingerscan::dns::Answer {
    let query = Query {
        id: 0x5a5a,
        name: name.to_string(),
        kind,
    };
    let server: SocketAddr = DNS_SERVER.parse().expect("address");
    let (answer, _) = transport::exchange(server, &query, Instant::now() + Duration::from_secs(5))
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    answer
}

#[test]
fn srv_answers_read_as_dig_reads_them() {
    let Some(_dc) = dc_ready("srv_answers_read_as_dig_reads_them", &["dig"]) else {
        return;
    };
    let domain = REALM.to_lowercase();
    for name in discover::service_names(&domain) {
        let mut srv = ours(&name, RecordKind::Srv).srv;
        srv.sort_by(|a, b| a.target.cmp(&b.target));
        assert!(!srv.is_empty(), "no SRV records for {name}");
        assert_eq!(srv, dig_srv(&name, false), "{name} over UDP");
        assert_eq!(srv, dig_srv(&name, true), "{name}: dig over TCP");
    }
    let address = ours(HOST, RecordKind::A).addresses;
    assert_eq!(address, [(HOST.to_string(), ADDRESS.parse().expect("ip"))]);
    // A name the zone does not hold: NXDOMAIN, not an error.
    let missing = ours(
        &format!("_ldap._tcp.nosuchsite._sites.{domain}"),
        RecordKind::Srv,
    );
    assert!(missing.no_such_name && missing.srv.is_empty());

    let started = Instant::now();
    let servers = [DNS_SERVER.parse().expect("address")];
    let mut random = SplitMix64::new(1);
    let deadline = Instant::now() + Duration::from_secs(5);
    let found =
        discover_domain_controllers(&domain, &servers, deadline, &mut random).expect("discovery");
    let addresses = found
        .addresses(&found.controllers[0], deadline, &mut random)
        .expect("addresses");
    eprintln!(
        "discovery (SRV and A) took {:?}: {found:?} {addresses:?}",
        started.elapsed()
    );
    assert_eq!(found.service, format!("_ldap._tcp.dc._msdcs.{domain}"));
    assert_eq!(found.controllers[0].name, HOST);
    assert_eq!(found.controllers[0].port, 389);
    assert_eq!(
        addresses,
        [ADDRESS.parse::<std::net::IpAddr>().expect("ip")]
    );
}

#[test]
fn ldap_through_dns_lists_what_dc_lists_and_scans_the_dc() {
    let Some(dc) = dc_ready("ldap_through_dns_lists_what_dc_lists_and_scans_the_dc", &[]) else {
        return;
    };
    let tmp = tempfile::tempdir().expect("temp dir");
    let ccache = dc.kinit_admin(&tmp.path().join("ccache"));
    let env = [("KRB5CCNAME", ccache.as_str())];
    let by_dc = lingerscan(&["targets", "--ldap", "--dc", ADDRESS, "-f", "json"], &env);
    let started = Instant::now();
    let through_dns = lingerscan(
        &[
            "targets",
            "--ldap",
            "--realm",
            REALM,
            "--dns-server",
            ADDRESS,
            "-f",
            "json",
        ],
        &env,
    );
    let took = started.elapsed();
    let said = stderr(&through_dns);
    assert_eq!(names(&through_dns), names(&by_dc));
    assert!(names(&by_dc).contains(&HOST.to_string()));
    eprintln!("targets --ldap through DNS took {took:?}; it said: {said}");
    assert!(
        said.contains(&format!("DC {HOST} ({ADDRESS}:389) found through DNS"))
            && said.contains("_ldap._tcp.dc._msdcs.samdom.test"),
        "{said}"
    );
    // The realm from --username user@REALM (the ticket cache still logs on).
    let from_user = lingerscan(
        &[
            "targets",
            "--ldap",
            "--username",
            &format!("administrator@{REALM}"),
            "--dns-server",
            &format!("{ADDRESS}:53"),
            "-f",
            "json",
        ],
        &env,
    );
    assert_eq!(names(&from_user), names(&by_dc));
    // A scan: the DC found is the KDC (the private krb5.conf) and the DC
    // listed is scanned by its name over SMB with Kerberos.
    let out = lingerscan(
        &[
            "--ldap",
            "--realm",
            REALM,
            "--dns-server",
            ADDRESS,
            "--search-base",
            "OU=Domain Controllers,DC=samdom,DC=test",
            "-f",
            "json",
            "--timeout",
            "30s",
        ],
        &env,
    );
    dc.assert_scanned(&out);
}

#[test]
fn ldap_without_dc_or_domain_says_what_to_give() {
    let out = lingerscan(&["targets", "--ldap", "--dns-server", STUB_ADDRESS], &[]);
    assert_eq!(out.status.code(), Some(2));
    let said = stderr(&out);
    assert!(said.contains("--realm") && said.contains("--dc"), "{said}");
    let out = lingerscan(&["targets", "--ldap", "--realm", "nodots"], &[]);
    assert!(
        stderr(&out).contains("not a DNS domain name"),
        "{}",
        stderr(&out)
    );
}

/// How a hostile stub answers.
#[derive(Clone, Copy, Debug)]
enum Hostility {
    /// Each answer's owner name is a compression pointer to itself.
    CompressionLoop,
    /// Answers with another ID (and a query instead of a response).
    WrongId,
    /// TC set over UDP; over TCP a length of 1,000 and 10 bytes, then nothing.
    TruncatedThenStall,
    /// Reads and never answers.
    Silence,
    /// FORMERR to a query with EDNS0 (an additional record), else one SRV
    /// record `0 100 389 dc9.samdom.test`: a server from before RFC 6891.
    NoEdns,
}

/// The end of the question in a query: the name's labels, then type and class.
fn question_end(query: &[u8]) -> Option<usize> {
    let mut at = 12;
    loop {
        let len = usize::from(*query.get(at)?);
        at += 1 + len;
        if len == 0 {
            return Some(at + 4).filter(|end| *end <= query.len());
        }
    }
}

fn hostile_answer(query: &[u8], how: Hostility) -> Option<Vec<u8>> {
    let end = question_end(query)?;
    let mut answer = query[..end].to_vec();
    // QR, RD, RA; one question; nothing else yet.
    answer[2..12].copy_from_slice(&[0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0]);
    match how {
        Hostility::CompressionLoop => {
            answer[7] = 1;
            let at = answer.len();
            answer.extend_from_slice(&[0xc0 | (at >> 8) as u8, at as u8]);
            answer.extend_from_slice(&[0, 33, 0, 1, 0, 0, 0, 60, 0, 8, 0, 0, 0, 100, 1, 0x85]);
            answer.extend_from_slice(&[0xc0 | (at >> 8) as u8, at as u8]);
        }
        Hostility::WrongId => {
            answer[0] ^= 0xff;
        }
        Hostility::TruncatedThenStall => answer[2] |= 0x02,
        Hostility::Silence => return None,
        Hostility::NoEdns if query[11] != 0 => answer[3] |= 1,
        Hostility::NoEdns => {
            answer[7] = 1;
            let target = b"\x03dc9\x06samdom\x04test\x00";
            answer.extend_from_slice(&[0xc0, 12, 0, 33, 0, 1, 0, 0, 3, 0x84, 0]);
            answer.push(6 + target.len() as u8);
            answer.extend_from_slice(&[0, 0, 0, 100, 1, 0x85]);
            answer.extend_from_slice(target);
        }
    }
    Some(answer)
}

/// A DNS stub on 127.0.0.202:`port` (UDP, and TCP for the truncated
/// case): threads of this test, stopped and joined on drop.
fn hostile_dns(port: u16, how: Hostility) -> PeerThreads {
    let address: SocketAddr = format!("{STUB_ADDRESS}:{port}").parse().expect("address");
    let socket = UdpSocket::bind(address).expect("bind the hostile UDP stub");
    socket
        .set_read_timeout(Some(Duration::from_millis(50)))
        .expect("timeout");
    let mut peers = PeerThreads::default();
    peers.spawn(move |stop| {
        let mut buffer = [0u8; 4096];
        while !stop.load(Ordering::Relaxed) {
            let Ok((n, from)) = socket.recv_from(&mut buffer) else {
                continue;
            };
            if let Some(answer) = hostile_answer(&buffer[..n], how) {
                // Again and again: a flood of wrong answers must not
                // keep the client waiting past its deadline either.
                for _ in 0..20 {
                    let _ = socket.send_to(&answer, from);
                }
            }
        }
    });
    if matches!(how, Hostility::TruncatedThenStall) {
        let listener = TcpListener::bind(address).expect("bind the hostile TCP stub");
        listener.set_nonblocking(true).expect("nonblocking");
        peers.spawn(move |stop| {
            let mut held = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((mut stream, _)) => {
                        let _ = stream.set_nonblocking(false);
                        let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
                        let mut query = [0u8; 512];
                        let _ = stream.read(&mut query);
                        let _ = stream.write_all(&[0x03, 0xe8, 0x12, 0x34, 0x81, 0x80, 0, 1]);
                        let _ = stream.write_all(&[0, 0]);
                        held.push(stream);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
    }
    peers
}

#[test]
fn hostile_dns_servers_fail_cleanly_within_the_deadline() {
    let cases = [
        (5353, Hostility::CompressionLoop, "malformed answer"),
        (
            5354,
            Hostility::WrongId,
            "did not answer the question were dropped",
        ),
        (5355, Hostility::TruncatedThenStall, "in time over TCP"),
        (
            5356,
            Hostility::Silence,
            "no answer from 127.0.0.202:5356 in time",
        ),
    ];
    let stubs: Vec<PeerThreads> = cases
        .iter()
        .map(|(port, how, _)| hostile_dns(*port, *how))
        .collect();
    let limit = Duration::from_secs(3);
    let runs: Vec<_> = cases
        .iter()
        .map(|(port, how, expected)| {
            let server = format!("{STUB_ADDRESS}:{port}");
            let started = Instant::now();
            let out = lingerscan(
                &[
                    "targets",
                    "--ldap",
                    "--realm",
                    REALM,
                    "--dns-server",
                    &server,
                    "--timeout",
                    "3s",
                ],
                &[],
            );
            (*how, *expected, started.elapsed(), out)
        })
        .collect();
    drop(stubs);
    for (how, expected, took, out) in runs {
        let said = stderr(&out);
        eprintln!("{how:?}: {took:?}: {said}");
        assert_eq!(out.status.code(), Some(2), "{how:?}: {said}");
        assert!(!said.contains("panicked"), "{how:?}: {said}");
        assert!(
            took < limit + Duration::from_secs(2),
            "{how:?} took {took:?}"
        );
        assert!(said.contains(expected), "{how:?}: {said}");
        assert!(said.contains("--dc ADDR"), "{how:?}: no advice: {said}");
    }
}

#[test]
fn a_hostile_first_server_gives_way_to_the_next() {
    let Some(_dc) = dc_ready("a_hostile_first_server_gives_way_to_the_next", &[]) else {
        return;
    };
    let _stub = hostile_dns(5357, Hostility::CompressionLoop);
    let servers = [
        format!("{STUB_ADDRESS}:5357").parse().expect("address"),
        DNS_SERVER.parse().expect("address"),
    ];
    let deadline = Instant::now() + Duration::from_secs(5);
    let found =
        discover_domain_controllers("samdom.test", &servers, deadline, &mut SplitMix64::new(3))
            .expect("the second server answers");
    assert_eq!(found.dns_server, servers[1]);
    assert_eq!(found.controllers[0].name, HOST);
}

#[test]
fn a_server_without_edns_is_asked_again_without_it() {
    let _stub = hostile_dns(5358, Hostility::NoEdns);
    let servers = [format!("{STUB_ADDRESS}:5358").parse().expect("address")];
    let deadline = Instant::now() + Duration::from_secs(5);
    let found =
        discover_domain_controllers("samdom.test", &servers, deadline, &mut SplitMix64::new(5))
            .expect("the answer without EDNS0");
    assert_eq!(found.controllers.len(), 1);
    assert_eq!(found.controllers[0].name, "dc9.samdom.test");
    assert_eq!(found.controllers[0].port, 389);
}

//! A fleet scan through the CLI binary against 22 real smbd instances on
//! distinct loopback addresses (one port, 14800), some holding SMB sessions
//! and utmp records, plus closed ports and silent listeners (they accept and
//! never answer). Owns 127.0.0.100-160 and ports 14800-14999.
#![cfg(target_os = "linux")]

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::PeerThreads;
use support::samba::remote as samba;
use support::samba::{HeldSession, SambaServer};

const PORT: u16 = 14800;
const LIVE: std::ops::RangeInclusive<u8> = 100..=121;
const CLOSED: std::ops::RangeInclusive<u8> = 130..=133;
const SILENT: std::ops::RangeInclusive<u8> = 140..=143;
/// The fleet's per-host limit.
const TIMEOUT_SECS: u64 = 5;
/// Reaching a server that speaks SMB (TCP connect and its NEGOTIATE
/// answer): silent hosts must cost this, no more.
const CONNECT_TIMEOUT_SECS: u64 = 1;

fn ip(last: u8) -> String {
    format!("127.0.0.{last}")
}

fn lingerscan(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_lingerscan"))
        .env("LINGERSCAN_NO_HISTORY", "1")
        .args(args)
        .args(["--port", &PORT.to_string()])
        .args([
            "--username",
            &format!("{}\\{}", samba::WORKGROUP, samba::ADMIN_USER),
        ])
        .env("LINGERSCAN_PASSWORD", samba::ADMIN_PASSWORD)
        .env("NO_COLOR", "1")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run lingerscan");
    if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(input).expect("stdin");
    }
    child.wait_with_output().expect("lingerscan output")
}

fn analyze(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_lingerscan"))
        .env("LINGERSCAN_NO_HISTORY", "1")
        .arg("analyze")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run lingerscan analyze");
    if let Some(mut pipe) = child.stdin.take() {
        pipe.write_all(stdin).expect("stdin");
    }
    child.wait_with_output().expect("analyze output")
}

/// Listeners that accept connections and never say a word, until dropped.
fn silent_listeners(addresses: impl Iterator<Item = String>) -> PeerThreads {
    let mut peers = PeerThreads::default();
    for address in addresses {
        let listener = TcpListener::bind((address.as_str(), PORT)).expect("bind silent");
        listener.set_nonblocking(true).expect("nonblocking");
        peers.spawn(move |stop| {
            let mut held: Vec<TcpStream> = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => held.push(stream),
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
    }
    peers
}

/// The live servers, started in parallel; every third with utmp records of
/// users who are gone, every fourth with an SMB session held open.
fn start_servers() -> Vec<SambaServer> {
    std::thread::scope(|scope| {
        let starting: Vec<_> = LIVE
            .map(|last| {
                scope.spawn(move || {
                    let mut options = samba::options(Ipv4Addr::new(127, 0, 0, last), PORT);
                    if last % 3 == 0 {
                        options = options
                            .utmp_entry(&format!("ghost{last}"), "pts/7", "10.9.9.9")
                            .utmp_entry("alice", "pts/8", "10.9.9.8");
                    }
                    SambaServer::start(&options)
                })
            })
            .collect();
        // A start that panicked panics here; the servers already up are
        // dropped (stopped by pid) on the way out.
        starting
            .into_iter()
            .map(|handle| {
                handle
                    .join()
                    .unwrap_or_else(|e| std::panic::resume_unwind(e))
            })
            .collect()
    })
}

/// What must agree between a fleet's line and a one-host scan: the verdicts
/// (the scanner's own connection is left out by the analysis) and the users
/// with their counts (not row indices: the server lists the scanner's own
/// session, a new one each scan, in any order).
fn facts(host: &Value) -> (BTreeSet<String>, BTreeSet<String>) {
    let analysis = &host["analysis"];
    let findings = analysis["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            format!(
                "{} {} {} {}",
                f["verdict"], f["kind"], f["user"], f["session_id"]
            )
        })
        .collect();
    let users = analysis["users"]
        .as_array()
        .expect("users")
        .iter()
        .map(|u| {
            let mut u = u.clone();
            if let Some(fields) = u.as_object_mut() {
                fields.retain(|key, _| !key.ends_with("_rows"));
            }
            u.to_string()
        })
        .collect();
    (findings, users)
}

fn lines(output: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(output)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect()
}

fn failure_kind(host: &Value) -> String {
    host["analysis"]["failed_sources"]
        .as_array()
        .expect("failed sources")
        .iter()
        .find(|f| f["source"] == "workstation_users")
        .map(|f| {
            f["failure"]["kind"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .unwrap_or_default()
}

#[test]
fn fleet_of_real_smbd_closed_and_silent_hosts() {
    if !support::require(
        "fleet_of_real_smbd_closed_and_silent_hosts",
        true,
        &["smbd", "smbclient", "smbpasswd", "net", "unshare"],
    ) {
        return;
    }
    for last in CLOSED {
        assert!(
            TcpStream::connect_timeout(
                &(Ipv4Addr::new(127, 0, 0, last), PORT).into(),
                Duration::from_millis(300)
            )
            .is_err(),
            "something listens on {}:{PORT}",
            ip(last)
        );
    }
    let servers = start_servers();
    let _silent = silent_listeners(SILENT.map(ip));
    let _sessions: Vec<HeldSession> = servers
        .iter()
        .filter(|s| s.address.octets()[3] % 4 == 0)
        .map(|s| s.hold_session(&samba::plain()))
        .collect();

    // One-host scans of every live server (this also starts each server's
    // samba-dcerpcd, so the fleet meets warm servers).
    let single: BTreeMap<String, Value> = std::thread::scope(|scope| {
        let runs: Vec<_> = LIVE
            .map(|last| {
                scope.spawn(move || {
                    let out = lingerscan(
                        &["--host", &ip(last), "-f", "json", "--timeout", "20s"],
                        None,
                    );
                    let doc: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
                        panic!("{e}: {}", String::from_utf8_lossy(&out.stderr))
                    });
                    (ip(last), doc["hosts"][0].clone())
                })
            })
            .collect();
        runs.into_iter()
            .map(|r| r.join().expect("single scan"))
            .collect()
    });
    for (host, report) in &single {
        assert_eq!(
            report["analysis"]["failed_sources"].as_array().map(|f| f
                .iter()
                // Samba serves no Terminal Services pipe: not_supported there.
                .filter(|f| f["failure"]["kind"] != "not_supported")
                .count()),
            Some(0),
            "{host}: {report}"
        );
    }

    let dir = tempfile::tempdir().expect("temp dir");
    let list = dir.path().join("hosts.txt");
    std::fs::write(
        &list,
        format!(
            "# the lab\n127.0.0.{}-{}\n127.0.0.{}-{} # closed\n127.0.0.{}-{}\n127.0.0.100\n127.0.0.101 # again\n",
            LIVE.start(),
            LIVE.end(),
            CLOSED.start(),
            CLOSED.end(),
            SILENT.start(),
            SILENT.end()
        ),
    )
    .expect("hosts file");
    let list = list.to_str().expect("utf-8 path");
    let expected: BTreeSet<String> = LIVE.chain(CLOSED).chain(SILENT).map(ip).collect();
    let timeout = format!("{TIMEOUT_SECS}s");
    let connect_timeout = format!("{CONNECT_TIMEOUT_SECS}s");
    let common = [
        "--hosts-file",
        list,
        "--timeout",
        &timeout,
        "--connect-timeout",
        &connect_timeout,
        "--concurrency",
        "16",
    ];

    // The text report: the summary first, failed hosts with their reason,
    // silent ones (TCP accepted, SMB never answered) cut at the connect
    // timeout without holding up the others.
    let started = Instant::now();
    let text_run = lingerscan(&common, None);
    let took = started.elapsed();
    let text = String::from_utf8_lossy(&text_run.stdout);
    assert_eq!(
        text_run.status.code(),
        Some(2),
        "undecided (remote sources) and failed hosts: {text}\n{}",
        String::from_utf8_lossy(&text_run.stderr)
    );
    assert!(
        text_run.stderr.is_empty(),
        "stderr is not a terminal: {}",
        String::from_utf8_lossy(&text_run.stderr)
    );
    assert!(
        text.starts_with("=====") && text.contains("FLEET SUMMARY"),
        "{text}"
    );
    // 30 hosts, 4 silent at 16 at once: one connect timeout plus the live
    // work, not four, and well under the per-host timeout.
    assert!(
        took < Duration::from_secs(TIMEOUT_SECS + 3),
        "the fleet took {took:?}"
    );
    for last in SILENT {
        let row = text
            .lines()
            .find(|l| l.starts_with(&format!("{} ", ip(last))))
            .unwrap_or_else(|| panic!("no row for {}: {text}", ip(last)));
        assert!(row.contains("FAILED") && row.contains("timed out"), "{row}");
        let secs: f64 = row
            .split_whitespace()
            .find_map(|cell| cell.strip_suffix('s')?.parse().ok())
            .expect("time column");
        assert!(
            secs >= CONNECT_TIMEOUT_SECS as f64 - 0.2 && secs < CONNECT_TIMEOUT_SECS as f64 + 1.0,
            "{row}"
        );
    }
    for last in CLOSED {
        let row = text
            .lines()
            .find(|l| l.starts_with(&format!("{} ", ip(last))))
            .unwrap_or_else(|| panic!("no row for {}", ip(last)));
        assert!(
            row.contains("FAILED") && row.contains("connection refused"),
            "{row}"
        );
    }
    assert!(text.contains("30 host(s)"), "{text}");
    assert!(
        text.contains(&format!("{} failed", CLOSED.count() + SILENT.count())),
        "{text}"
    );

    // Three shards in parallel, NDJSON: valid lines that concatenate into the
    // whole list, each host once.
    let shards: Vec<Output> = std::thread::scope(|scope| {
        let runs: Vec<_> = ["1/3", "2/3", "3/3"]
            .into_iter()
            .map(|shard| {
                let common = &common;
                scope.spawn(move || {
                    let mut args = common.to_vec();
                    args.extend(["--shard", shard, "-f", "ndjson"]);
                    lingerscan(&args, None)
                })
            })
            .collect();
        runs.into_iter().map(|r| r.join().expect("shard")).collect()
    });
    let mut joined = Vec::new();
    for shard in &shards {
        assert_eq!(
            shard.status.code(),
            Some(2),
            "{}",
            String::from_utf8_lossy(&shard.stderr)
        );
        joined.extend_from_slice(&shard.stdout);
    }
    let hosts = lines(&joined);
    let names: Vec<String> = hosts
        .iter()
        .map(|h| h["host"].as_str().expect("host").to_string())
        .collect();
    assert_eq!(names.len(), expected.len(), "{names:?}");
    assert_eq!(names.iter().cloned().collect::<BTreeSet<_>>(), expected);

    for host in &hosts {
        let name = host["host"].as_str().unwrap_or_default();
        let last: u8 = name
            .rsplit('.')
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        if LIVE.contains(&last) {
            assert_eq!(
                host["outcome"], "undecided",
                "{name}: remote sources cannot rule out"
            );
            assert_eq!(
                facts(host),
                facts(&single[name]),
                "{name}: fleet and one-host scans differ"
            );
        } else if CLOSED.contains(&last) {
            assert_eq!(failure_kind(host), "unreachable", "{host}");
        } else {
            assert_eq!(failure_kind(host), "timeout", "{host}");
        }
    }
    // The users the servers hold are in the fleet's findings.
    let ghosts = hosts
        .iter()
        .filter(|h| h.to_string().contains("ghost1"))
        .count();
    assert!(ghosts >= 5, "utmp users missing from the fleet's findings");
    let plain = hosts
        .iter()
        .filter(|h| {
            h["analysis"]["findings"]
                .to_string()
                .contains(samba::PLAIN_USER)
        })
        .count();
    assert!(
        plain >= 5,
        "held SMB sessions missing from the fleet's findings"
    );

    // analyze reads the concatenated shards as one fleet.
    let again = analyze(&["-", "-f", "json"], &joined);
    assert_eq!(
        again.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    let doc: Value = serde_json::from_slice(&again.stdout).expect("one JSON document");
    assert_eq!(doc["hosts"].as_array().map(Vec::len), Some(expected.len()));
    assert_eq!(doc["summary"]["failed"], CLOSED.count() + SILENT.count());
}

/// Lingering on any host wins over failed hosts: exit code 1. This machine
/// (its utmp file a private one holding a login whose process is gone)
/// beside closed ports.
#[test]
fn lingering_anywhere_wins_over_failed_hosts() {
    if !support::require("lingering_anywhere_wins_over_failed_hosts", true, &[]) {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let utmp = dir.path().join("utmp");
    let logind = dir.path().join("logind");
    std::fs::create_dir_all(&logind).expect("logind dir");
    // A login whose process does not exist (a pid past any pid_max).
    std::fs::write(&utmp, b"").expect("utmp");
    support::glibc_utmp::write_login(
        &utmp,
        "ghost",
        "pts/9",
        (i32::MAX - 1) as u32,
        jiff::Timestamp::from_second(1_700_000_000).expect("time"),
        "10.9.9.9",
    );
    let out = lingerscan(
        &[
            "-H",
            ".",
            "-H",
            "127.0.0.150-151",
            "--utmp-file",
            utmp.to_str().unwrap_or_default(),
            "--logind-dir",
            logind.to_str().unwrap_or_default(),
            "--smbstatus",
            "/nonexistent/smbstatus",
            "-f",
            "ndjson",
        ],
        None,
    );
    let hosts = lines(&out.stdout);
    assert_eq!(hosts.len(), 3, "{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        hosts.iter().any(|h| h["outcome"] == "lingering"),
        "{hosts:?}"
    );
    assert_eq!(out.status.code(), Some(1));
}

/// `--ndjson-out FILE`: the text report on standard output and, in FILE,
/// one valid NDJSON line per host, which `analyze` reads back. This machine
/// beside two closed ports (no smbd needed).
#[test]
fn ndjson_out_tees_the_stream_beside_the_text_report() {
    if !support::require(
        "ndjson_out_tees_the_stream_beside_the_text_report",
        true,
        &[],
    ) {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("fleet.ndjson");
    let out = lingerscan(
        &[
            "-H",
            ".",
            "-H",
            "127.0.0.152-153",
            "--smbstatus",
            "/nonexistent/smbstatus",
            "--ndjson-out",
            file.to_str().unwrap_or_default(),
        ],
        None,
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("FLEET SUMMARY"),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let written = std::fs::read(&file).expect("the NDJSON file");
    let hosts = lines(&written);
    assert_eq!(hosts.len(), 3, "{}", String::from_utf8_lossy(&written));
    let names: BTreeSet<String> = hosts
        .iter()
        .map(|h| h["host"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(names.len(), 3, "{names:?}");
    assert!(
        names.contains(&ip(152)) && names.contains(&ip(153)),
        "{names:?}"
    );
    let again = analyze(&["-", "-f", "ndjson"], &written);
    assert_eq!(
        lines(&again.stdout).len(),
        3,
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    assert_eq!(again.status.code(), out.status.code());
}

/// A wrong password against a fleet: after `--fail-limit` hosts refuse it,
/// no new host is started (each refusal is a failed logon that counts
/// toward the account's lockout). One real smbd answers on eight addresses.
#[test]
fn a_wrong_password_stops_the_fleet_at_the_fail_limit() {
    if !support::require(
        "a_wrong_password_stops_the_fleet_at_the_fail_limit",
        true,
        &["smbd"],
    ) {
        return;
    }
    const FAIL_PORT: u16 = 14801;
    let addresses: Vec<String> = (150..=157).map(ip).collect();
    let interfaces: Vec<String> = addresses.iter().map(|a| format!("{a}/8")).collect();
    let options = samba::options(Ipv4Addr::new(127, 0, 0, 150), FAIL_PORT)
        .global(&format!("interfaces = {}\nutmp = no", interfaces.join(" ")));
    let _server = SambaServer::start(&options);
    let run = |limit: &str| {
        Command::new(env!("CARGO_BIN_EXE_lingerscan"))
            .env("LINGERSCAN_NO_HISTORY", "1")
            .args(["-H", "127.0.0.150-157", "--port", &FAIL_PORT.to_string()])
            .args(["--concurrency", "1", "--fail-limit", limit, "-f", "text"])
            .args([
                "--username",
                &format!("{}\\{}", samba::WORKGROUP, samba::ADMIN_USER),
            ])
            .env("LINGERSCAN_PASSWORD", "not-the-password")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .output()
            .expect("run lingerscan")
    };
    let limited = run("2");
    let text = String::from_utf8_lossy(&limited.stdout);
    assert!(
        text.contains("hosts refused the credentials (--fail-limit)"),
        "{text}"
    );
    let refused = text.matches("logon failure").count();
    assert!(
        (2..=3).contains(&refused),
        "at most one more host after the limit: {text}"
    );
    assert_eq!(limited.status.code(), Some(2));
    let unlimited = run("0");
    let text = String::from_utf8_lossy(&unlimited.stdout);
    assert!(!text.contains("--fail-limit"), "{text}");
    assert!(text.contains("8 host(s)"), "{text}");
}

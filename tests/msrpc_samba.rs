//! The remote collector against a real Samba smbd on loopback, compared with
//! impacket as an independent client. Each test owns one 127.0.0.2x-3x address
//! and port (range 14500-14549).
#![cfg(target_os = "linux")]

mod support;

use std::net::TcpListener;
use std::process::Command;
use std::time::{Duration, Instant};

use lingerscan::collect::msrpc::smb2::{DIALECT_202, DIALECT_210};
use lingerscan::collect::msrpc::{
    Credentials, Password, RemoteOptions, collect_remote, collect_remote_with,
};
use lingerscan::collect::{CollectError, CollectOptions, collect};
use lingerscan::model::{
    CoverageResult, FailureKind, HostSnapshot, Observed, Platform, SourceFailure,
};
use serde_json::Value;
use support::samba::SambaServer;
use support::samba::remote as samba;

fn creds(user: &str, password: &str) -> Credentials {
    Credentials::parse(
        &format!("{}\\{user}", samba::WORKGROUP),
        Password::new(password.into()),
    )
    .unwrap()
}

/// A server as these tests need it (support::samba::remote), plus `extra_global` lines.
fn start(ip: &str, port: u16, extra_global: &str) -> SambaServer {
    let mut options = samba::options(ip.parse().expect("IPv4 loopback address"), port);
    if !extra_global.is_empty() {
        options = options.global(extra_global);
    }
    SambaServer::start(&options)
}

fn admin() -> Credentials {
    creds(samba::ADMIN_USER, samba::ADMIN_PASSWORD)
}

/// impacket's answer for the same two queries, as JSON (tests/impacket/reference_scan.py).
fn impacket(server: &SambaServer, user: &str, password: &str) -> Value {
    samba::impacket_reference_scan(server, user, password)
        .unwrap_or_else(|e| panic!("impacket failed: {e}"))
}

/// Both remote sources, which must have failed.
fn both_failures(snap: &HostSnapshot) -> [&SourceFailure; 2] {
    fn must_fail<'a>(source: &str, failure: Option<&'a SourceFailure>) -> &'a SourceFailure {
        failure.unwrap_or_else(|| panic!("{source} must fail"))
    }
    [
        must_fail("workstation_users", snap.workstation_users.failure()),
        must_fail("smb_sessions", snap.smb_sessions.failure()),
    ]
}

fn rows<T: Clone>(observed: &Observed<Vec<T>>) -> Vec<T> {
    match observed {
        Observed::Ok { rows } => rows.clone(),
        Observed::Failed(f) => panic!("source failed: {f}"),
    }
}

/// (user, logon_domain, oth_domains, logon_server), sorted.
fn our_users(snap: &HostSnapshot) -> Vec<Vec<String>> {
    let mut out: Vec<_> = rows(&snap.workstation_users)
        .into_iter()
        .map(|u| vec![u.user, u.logon_domain, u.other_domains, u.logon_server])
        .collect();
    out.sort();
    out
}

fn their_users(json: &Value) -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = json["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            row.as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap().to_string())
                .collect()
        })
        .collect();
    out.sort();
    out
}

/// (client, user, open files, guest), sorted.
fn our_sessions(snap: &HostSnapshot) -> Vec<(String, String, u64, bool)> {
    let mut out: Vec<_> = rows(&snap.smb_sessions)
        .into_iter()
        .map(|s| {
            (
                s.client,
                s.user.unwrap_or_default(),
                u64::from(s.open_files.unwrap()),
                s.is_guest.unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

fn their_sessions(json: &Value) -> Vec<(String, String, u64, bool)> {
    let mut out: Vec<_> = json["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            (
                row[0].as_str().unwrap().to_string(),
                row[1].as_str().unwrap().to_string(),
                row[2].as_u64().unwrap(),
                row[4].as_u64().unwrap() & 1 != 0,
            )
        })
        .collect();
    out.sort();
    out
}

/// Equal lists, with a short message (the lists can hold hundreds of rows).
fn assert_same<T: PartialEq + std::fmt::Debug>(ours: &[T], theirs: &[T]) {
    let first_difference = ours.iter().zip(theirs).position(|(a, b)| a != b);
    assert!(
        ours.len() == theirs.len() && first_difference.is_none(),
        "lingerscan {} rows, impacket {} rows; first difference at {first_difference:?}: {:?} vs {:?}",
        ours.len(),
        theirs.len(),
        first_difference.map(|i| &ours[i]),
        first_difference.map(|i| &theirs[i]),
    );
}

fn note_fragments(snap: &HostSnapshot, call: &str) -> usize {
    let note = snap
        .notes
        .iter()
        .find(|n| n.contains(call))
        .expect("note for call");
    let start = note.find('(').unwrap() + 1;
    note[start..].split(' ').next().unwrap().parse().unwrap()
}

#[test]
fn admin_sees_the_same_users_and_sessions_as_impacket() {
    let server = start("127.0.0.21", 14511, "");
    server.add_utmp(&[("alice", "pts/3", "10.1.1.1"), ("bob", "pts/4", "10.1.1.2")]);
    let _first = server.hold_session(&samba::plain());
    let _second = server.hold_session(&samba::plain());

    let snap = collect_remote(&server.ip(), server.port, &admin(), Duration::from_secs(10));
    assert_eq!(snap.collector, "msrpc");
    assert_eq!(snap.platform, Platform::Unknown);
    assert_eq!(snap.host, "127.0.0.21");
    assert_eq!(
        snap.logon_sessions.failure().map(|f| f.kind),
        Some(FailureKind::NotSupported)
    );
    // Samba serves no Terminal Services pipe: "could not look", never "nobody"
    // (not_available would read as an empty list and make listed users linger).
    for source in [
        &snap.processes.failure(),
        &snap.interactive_sessions.failure(),
    ] {
        let failure = source.expect("no TSTS on Samba");
        assert_eq!(failure.kind, FailureKind::NotSupported, "{failure}");
        assert!(
            failure
                .message
                .contains("Samba implements no Terminal Services"),
            "{failure}"
        );
    }
    // Samba answered NetrSessionEnum at level 1, as only Samba does: the
    // Terminal Services pipes are not asked for (each absent pipe costs
    // smbd a samba-dcerpcd lookup), and the coverage table says why.
    let skipped: Vec<&str> = snap
        .coverage
        .iter()
        .filter(|e| e.result == CoverageResult::NotTried)
        .filter(|e| e.detail.as_deref().is_some_and(|d| d.contains("Samba")))
        .map(|e| e.pipe.as_str())
        .collect();
    assert_eq!(
        skipped,
        [
            r"\pipe\LSM_API_service",
            r"\pipe\Ctx_WinStation_API_service"
        ],
        "{:?}",
        snap.coverage
    );
    let users = our_users(&snap);
    let names: Vec<&str> = users.iter().map(|u| u[0].as_str()).collect();
    for expected in ["alice", "bob", samba::PLAIN_USER, samba::ADMIN_USER] {
        assert!(
            names.contains(&expected),
            "{expected} missing from {names:?}"
        );
    }
    let sessions = our_sessions(&snap);
    assert_eq!(
        sessions.iter().filter(|s| s.1 == samba::PLAIN_USER).count(),
        2,
        "{sessions:?}"
    );

    // impacket, run after us, adds its own session; compare with that accounted for.
    let theirs = impacket(&server, samba::ADMIN_USER, samba::ADMIN_PASSWORD);
    assert_same(&our_users(&snap), &their_users(&theirs));
    // impacket's own session shows in its answer: drop it before comparing.
    let mut their_sessions = their_sessions(&theirs);
    if let Some(i) = their_sessions.iter().position(|s| s.1 == samba::ADMIN_USER) {
        their_sessions.remove(i);
    }
    let ours_without_self: Vec<_> = sessions
        .iter()
        .filter(|s| s.1 != samba::ADMIN_USER)
        .cloned()
        .collect();
    let theirs_without_self: Vec<_> = their_sessions
        .into_iter()
        .filter(|s| s.1 != samba::ADMIN_USER)
        .collect();
    assert_same(&ours_without_self, &theirs_without_self);
}

#[test]
fn responses_larger_than_one_fragment_are_reassembled() {
    let server = start("127.0.0.24", 14514, "");
    let names: Vec<String> = (0..400)
        .map(|i| format!("user{i:04}-with-a-long-name"))
        .collect();
    let entries: Vec<(&str, &str, &str)> = names
        .iter()
        .map(|n| (n.as_str(), "pts/9", "10.9.9.9"))
        .collect();
    server.add_utmp(&entries);
    let options = RemoteOptions {
        port: server.port,
        max_frag: 1432,
        ..RemoteOptions::default()
    };
    let snap = collect_remote_with(&server.ip(), &admin(), &options);
    let users = our_users(&snap);
    for name in &names {
        assert!(users.iter().any(|u| &u[0] == name), "{name} missing");
    }
    let fragments = note_fragments(&snap, "NetrWkstaUserEnum");
    assert!(
        fragments > 10,
        "expected many fragments, got {fragments}: {:?}",
        snap.notes
    );
    let theirs = impacket(&server, samba::ADMIN_USER, samba::ADMIN_PASSWORD);
    assert_same(&users, &their_users(&theirs));
}

#[test]
fn plain_user_is_denied_both_sources() {
    let server = start("127.0.0.25", 14515, "");
    server.add_utmp(&[("alice", "pts/3", "10.1.1.1")]);
    let snap = collect_remote(
        &server.ip(),
        server.port,
        &creds(samba::PLAIN_USER, samba::PLAIN_PASSWORD),
        Duration::from_secs(10),
    );
    for failure in both_failures(&snap) {
        assert_eq!(failure.kind, FailureKind::AccessDenied, "{failure}");
        assert_eq!(failure.code, Some(5), "{failure}");
    }
    // The coverage table names each shut door and what decides it.
    let doors: Vec<(&str, CoverageResult, bool)> = snap
        .coverage
        .iter()
        .take(2)
        .map(|e| (e.method.as_str(), e.result, e.setting.is_some()))
        .collect();
    assert_eq!(
        doors,
        [
            (
                "wkssvc NetrWkstaUserEnum",
                CoverageResult::AccessDenied,
                true
            ),
            ("srvsvc NetrSessionEnum", CoverageResult::AccessDenied, true),
        ]
    );
    assert!(
        snap.coverage[1]
            .setting
            .as_deref()
            .unwrap()
            .contains("SrvsvcSessionInfo")
    );
}

#[test]
fn wrong_password_is_a_logon_failure() {
    let server = start("127.0.0.26", 14516, "");
    let snap = collect_remote(
        &server.ip(),
        server.port,
        &creds(samba::ADMIN_USER, "not-the-password"),
        Duration::from_secs(10),
    );
    for failure in both_failures(&snap) {
        assert_eq!(failure.kind, FailureKind::LogonFailure, "{failure}");
        assert_eq!(failure.code, Some(0xC000_006D), "{failure}");
        assert!(!failure.message.contains("not-the-password"));
    }
}

#[test]
fn guest_only_logon_is_refused_as_a_logon_failure() {
    // With "map to guest = bad user" an unknown account gets a guest session.
    let server = start("127.0.0.20", 14503, "map to guest = bad user");
    let snap = collect_remote(
        &server.ip(),
        server.port,
        &creds("nosuchuser", "whatever"),
        Duration::from_secs(10),
    );
    for failure in both_failures(&snap) {
        assert_eq!(failure.kind, FailureKind::LogonFailure, "{failure}");
        assert!(failure.message.contains("guest"), "{failure}");
    }
}

#[test]
fn refused_connection_says_refused_and_names_the_port() {
    // A port that was free a moment ago: bound, then released.
    let port = TcpListener::bind("127.0.0.22:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let snap = collect_remote("127.0.0.22", port, &admin(), Duration::from_secs(5));
    for failure in both_failures(&snap) {
        assert_eq!(failure.kind, FailureKind::Unreachable);
        assert!(
            failure.message.contains(&format!(
                "connection refused (nothing listening on port {port})"
            )),
            "{failure}"
        );
        assert!(!failure.message.contains("nreachable"), "{failure}");
        assert_eq!(failure.code, Some(111), "ECONNREFUSED: {failure}");
    }
    // Nothing was logged on: no session of the scan's own to set aside.
    assert_eq!(snap.scan_connection, None);
}

/// A listener that accepts one connection and holds it 4 s, never answering.
fn silent_listener(address: &str) -> std::thread::JoinHandle<()> {
    let listener = TcpListener::bind(address).unwrap();
    std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        std::thread::sleep(Duration::from_secs(4));
        drop(stream);
    })
}

#[test]
fn silent_listener_times_out_within_the_timeout() {
    let holder = silent_listener("127.0.0.23:14521");
    let timeout = Duration::from_millis(1500);
    let start = Instant::now();
    let snap = collect_remote("127.0.0.23", 14521, &admin(), timeout);
    let elapsed = start.elapsed();
    assert!(
        elapsed >= timeout,
        "returned before the timeout: {elapsed:?}"
    );
    assert!(
        elapsed < timeout + Duration::from_millis(500),
        "overran the timeout: {elapsed:?}"
    );
    for failure in both_failures(&snap) {
        assert_eq!(failure.kind, FailureKind::Timeout);
    }
    holder.join().unwrap();
}

/// A host that accepts TCP and never answers NEGOTIATE (a hung server, a
/// proxy holding the port) costs the connect timeout, not the whole scan's
/// time limit: the connect timeout covers reaching a server that speaks
/// SMB, as curl's covers the TLS handshake.
#[test]
fn silent_listener_costs_the_connect_timeout_when_one_is_set() {
    let holder = silent_listener("127.0.0.23:14522");
    let connect_timeout = Duration::from_millis(600);
    let start = Instant::now();
    let snap = collect_remote_with(
        "127.0.0.23",
        &admin(),
        &RemoteOptions {
            port: 14522,
            timeout: Duration::from_secs(3),
            connect_timeout: Some(connect_timeout),
            ..RemoteOptions::default()
        },
    );
    let elapsed = start.elapsed();
    assert!(
        elapsed >= connect_timeout && elapsed < connect_timeout + Duration::from_millis(400),
        "a silent server cost {elapsed:?}, not the connect timeout"
    );
    for failure in both_failures(&snap) {
        assert_eq!(failure.kind, FailureKind::Timeout);
        assert!(failure.message.contains("negotiat"), "{failure}");
    }
    holder.join().unwrap();
}

#[test]
fn smb2_and_smb3_signing_dialects_with_mandatory_signing() {
    // 2.0.2 only when asked for: the default minimum is 2.1.
    for (i, (max_protocol, dialect, min_dialect)) in [
        ("SMB2_02", "2.0.2", DIALECT_202),
        ("SMB2_10", "2.1.0", DIALECT_210),
        ("SMB3_02", "3.0.2", DIALECT_210),
    ]
    .into_iter()
    .enumerate()
    {
        let port = 14530 + i as u16;
        let ip = format!("127.0.0.{}", 27);
        let server = start(
            &ip,
            port,
            &format!("server max protocol = {max_protocol}\nserver signing = mandatory"),
        );
        server.add_utmp(&[("carol", "pts/1", "10.2.2.2")]);
        let options = RemoteOptions {
            port,
            min_dialect,
            ..RemoteOptions::default()
        };
        let snap = collect_remote_with(&server.ip(), &admin(), &options);
        assert!(
            snap.notes[0].contains(&format!("dialect {dialect}")),
            "{:?}",
            snap.notes
        );
        assert!(
            our_users(&snap).iter().any(|u| u[0] == "carol"),
            "{max_protocol}: {:?}",
            snap.workstation_users
        );
        assert!(
            snap.smb_sessions.is_ok(),
            "{max_protocol}: {:?}",
            snap.smb_sessions
        );
        let scan = snap.scan_connection.as_ref().expect("scan connection");
        assert_eq!(scan.dialect.as_deref(), Some(dialect));
        assert!(scan.signed && !scan.encrypted, "{scan:?}");
        if max_protocol == "SMB2_02" {
            // The default minimum refuses this server, and says why.
            let snap = collect_remote(&server.ip(), port, &admin(), Duration::from_secs(10));
            for failure in both_failures(&snap) {
                assert_eq!(failure.kind, FailureKind::NotSupported, "{failure}");
                assert!(failure.message.contains("--min-dialect"), "{failure}");
            }
        }
    }
}

#[test]
fn collect_dispatches_remote_hosts_to_msrpc() {
    let server = start("127.0.0.28", 14540, "");
    server.add_utmp(&[("dave", "pts/2", "10.3.3.3")]);
    let mut options = CollectOptions {
        host: Some(server.ip()),
        port: server.port,
        ..CollectOptions::default()
    };
    assert!(matches!(
        collect(&options),
        Err(CollectError::NoCredentials { .. })
    ));
    options.credentials = Some(admin());
    let snap = collect(&options).unwrap();
    assert_eq!(snap.collector, "msrpc");
    assert!(our_users(&snap).iter().any(|u| u[0] == "dave"));
}

#[test]
fn cli_remote_scan_takes_the_password_from_the_environment_and_never_prints_it() {
    let server = start("127.0.0.29", 14547, "");
    server.add_utmp(&[("erin", "pts/5", "10.4.4.4")]);
    let _held = server.hold_session(&samba::plain());
    let ip = server.ip();
    let account = format!("{}\\{}", samba::WORKGROUP, samba::ADMIN_USER);
    let port = server.port.to_string();
    let run = |extra: &[&str], password: &str| {
        let mut args = vec!["scan", "--host", ip.as_str(), "--port", port.as_str()];
        args.extend_from_slice(&["--username", account.as_str(), "--timeout", "10s"]);
        args.extend_from_slice(extra);
        Command::new(env!("CARGO_BIN_EXE_lingerscan"))
            .env("LINGERSCAN_NO_HISTORY", "1")
            .args(&args)
            .env("LINGERSCAN_PASSWORD", password)
            .env("NO_COLOR", "1")
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    };
    let out = run(&["--user", "erin"], samba::ADMIN_PASSWORD);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("Query mode: Remote (MS-RPC over SMB)"),
        "{stdout}"
    );
    assert!(stdout.contains("Sessions matching 'erin'"), "{stdout}");
    // Logon sessions and processes cannot be read over these pipes: section 5
    // gives the script's unconfirmed LINGERING with its warning, the findings
    // stay INCONCLUSIVE, and the exit status is 2.
    assert!(
        stdout.contains("LINGERING USER STATE DETECTED for erin")
            && stdout.contains("IMPORTANT: Section 2 and/or Section 3")
            && stdout.contains("INCONCLUSIVE"),
        "{stdout}"
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(!stdout.contains(samba::ADMIN_PASSWORD));

    let json = run(
        &["--format", "json", "--include-snapshot"],
        samba::ADMIN_PASSWORD,
    );
    let doc: Value = serde_json::from_slice(&json.stdout).unwrap();
    let smb = doc["hosts"][0]["snapshot"]["smb_sessions"]["rows"]
        .as_array()
        .unwrap();
    assert!(
        smb.iter().any(|s| s["user"] == samba::PLAIN_USER),
        "{smb:?}"
    );

    let denied = run(&[], "wrong-password");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&denied.stdout),
        String::from_utf8_lossy(&denied.stderr)
    );
    assert!(text.contains("logon failure"), "{text}");
    assert!(!text.contains("wrong-password"));
    assert_eq!(denied.status.code(), Some(2));
}

#[test]
fn fixture_with_private_run_serves_its_own_utmp_and_stops_every_daemon() {
    let server = start("127.0.0.31", 14549, "");
    let held = server.hold_session(&samba::plain());
    // smbd (utmp = yes) wrote the session's record to the fixture's file: its /run.
    let utmp = std::fs::read(server.utmp_path()).unwrap();
    let record_of_session = utmp.chunks_exact(384).any(|record| {
        u32::from_le_bytes(record[4..8].try_into().unwrap()) == held.server_pid
            && record[44..76].starts_with(samba::PLAIN_USER.as_bytes())
    });
    assert!(
        record_of_session,
        "no utmp record for smbd child {} in {}",
        held.server_pid,
        server.utmp_path().display()
    );
    // A query starts samba-dcerpcd and its rpcd_* workers on demand.
    let snap = collect_remote(&server.ip(), server.port, &admin(), Duration::from_secs(10));
    assert!(
        our_users(&snap).iter().any(|u| u[0] == samba::PLAIN_USER),
        "{:?}",
        snap.workstation_users
    );
    let dcerpcd: u32 = std::fs::read_to_string(server.dir.path().join("pid/samba-dcerpcd.pid"))
        .expect("samba-dcerpcd pid file")
        .trim()
        .parse()
        .unwrap();
    let mut daemons = vec![server.smbd_pid(), held.server_pid, dcerpcd];
    daemons.extend(support::children_of(dcerpcd));
    assert!(daemons.len() > 3, "no rpcd_* workers under samba-dcerpcd");
    assert!(daemons.iter().all(|&pid| support::alive(pid)));
    drop(held);
    drop(server);
    assert!(
        support::wait_until(Duration::from_secs(5), || daemons
            .iter()
            .all(|&pid| !support::alive(pid))),
        "survived the fixture: {:?}",
        daemons
            .iter()
            .filter(|&&pid| support::alive(pid))
            .collect::<Vec<_>>()
    );
}

/// The rows of `snap` for the SMB session of `user`, as (client, active, idle).
fn session_times(snap: &HostSnapshot, user: &str) -> Vec<(String, Option<u64>, Option<u64>)> {
    rows(&snap.smb_sessions)
        .into_iter()
        .filter(|s| s.user.as_deref() == Some(user))
        .map(|s| (s.client, s.active_secs, s.idle_secs))
        .collect()
}

/// Samba 4.17's NetrSessionEnum level 1 (source3/rpc_server/srvsvc/srv_srvsvc_nt.c,
/// init_srv_sess_info_1): `time` is now - session creation, `idle_time` is a
/// constant 0, whatever the client did. smbstatus --json (status_json.c,
/// traverse_sessionid_json) has no session time at all in 4.17.
#[test]
fn samba_reports_session_age_but_never_idle_time() {
    let server = start("127.0.0.33", 14541, "");
    let _held = server.hold_session(&samba::plain());
    let idle_for = Duration::from_secs(4);
    std::thread::sleep(idle_for);

    let snap = collect_remote(&server.ip(), server.port, &admin(), Duration::from_secs(10));
    let held = session_times(&snap, samba::PLAIN_USER);
    eprintln!("lingerscan plain-user session (client, active, idle): {held:?}");
    let [(_, active, idle)] = held.as_slice() else {
        panic!("one plain-user session expected: {held:?}");
    };
    let active = active.expect("Samba reports the session's age");
    // Samba rounds the creation time to the nearest second (nt_time_to_unix)
    // but truncates now (time(NULL)): its age can be one second short.
    assert!(
        (idle_for.as_secs() - 1..60).contains(&active),
        "age {active} s after idling {idle_for:?}"
    );
    assert_eq!(*idle, None, "Samba's idle_time 0 must read as unknown");
    assert!(
        snap.notes
            .iter()
            .any(|n| n.contains("idle time") && n.contains("unknown")),
        "{:?}",
        snap.notes
    );

    // impacket, independently: the raw values on the wire.
    let theirs = impacket(&server, samba::ADMIN_USER, samba::ADMIN_PASSWORD);
    let raw: Vec<&Value> = theirs["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|row| row[1] == samba::PLAIN_USER)
        .collect();
    eprintln!(
        "impacket rows [cname, user, opens, idle_time, flags, time]: {}",
        theirs["sessions"]
    );
    assert_eq!(raw.len(), 1, "{theirs}");
    assert_eq!(raw[0][3], 0, "Samba sends sesi1_idle_time 0: {theirs}");
    let their_time = raw[0][5].as_u64().unwrap();
    assert!(
        their_time >= active && their_time < active + 30,
        "impacket sesi1_time {their_time} vs ours {active}"
    );

    // smbstatus --json: in 4.17 a session carries no time, a tree connect its connected_at.
    let status = server.status();
    let session = status["sessions"]
        .as_object()
        .unwrap()
        .values()
        .find(|s| s["username"] == samba::PLAIN_USER)
        .expect("smbstatus lists the session");
    eprintln!(
        "smbstatus {} session keys: {:?}",
        status["version"],
        session.as_object().unwrap().keys().collect::<Vec<_>>()
    );
    if status["version"]
        .as_str()
        .is_some_and(|v| v.starts_with("4.17"))
    {
        for key in ["creation_time", "auth_time", "expiration_time", "idle_time"] {
            assert!(session.get(key).is_none(), "{key} in 4.17: {session}");
        }
    }
}

/// The scan's own SMB session is in its own answer, under the account it
/// logged on as and at exactly `scan_connection.client_address`; with
/// `utmp = yes` Samba also lists it as a workstation user.
#[test]
fn scan_connection_matches_the_scans_own_session_row() {
    let server = start("127.0.0.34", 14542, "");
    let _held = server.hold_session(&samba::plain());
    let before = jiff::Timestamp::now();
    let snap = collect_remote(&server.ip(), server.port, &admin(), Duration::from_secs(10));
    let after = jiff::Timestamp::now();
    let scan = snap
        .scan_connection
        .clone()
        .expect("scan_connection filled");
    eprintln!("scan_connection: {scan:?}");
    assert_eq!(scan.user, samba::ADMIN_USER);
    assert_eq!(scan.domain.as_deref(), Some(samba::WORKGROUP));
    let closed = scan.closed_at.expect("closed_at");
    assert!(before <= scan.opened_at && scan.opened_at <= closed && closed <= after);
    let address = scan.client_address.clone().expect("client_address");
    // Samba names the client by its bare address (default `hostname lookups = no`).
    assert!(address.parse::<std::net::Ipv4Addr>().is_ok(), "{address}");

    let own = session_times(&snap, samba::ADMIN_USER);
    eprintln!("own session rows (client, active, idle): {own:?}");
    assert_eq!(own.len(), 1, "{own:?}");
    assert_eq!(own[0].0, address);
    // The held session is another user's, and stays someone else's.
    assert!(session_times(&snap, samba::PLAIN_USER).len() == 1);

    // NetrWkstaUserEnum from utmp: smbd's USER_PROCESS record for this very session.
    let own_users: Vec<Vec<String>> = our_users(&snap)
        .into_iter()
        .filter(|u| u[0] == samba::ADMIN_USER)
        .collect();
    eprintln!("own wkssvc rows [user, logon_domain, oth_domains, logon_server]: {own_users:?}");
    assert_eq!(own_users.len(), 1, "{own_users:?}");

    // The analysis sets both rows aside as this scan, judges the held session,
    // and the text report says so once.
    let analysis = lingerscan::analyze::analyze(
        &snap,
        &lingerscan::analyze::AnalyzeOptions::for_snapshot(&snap),
    );
    let own_sources: Vec<String> = analysis
        .own_connection
        .iter()
        .map(|e| format!("{}:{}", e.source, e.rows.len()))
        .collect();
    assert_eq!(
        own_sources,
        ["smb_sessions:1", "workstation_users:1"],
        "{analysis:#?}"
    );
    assert!(
        !analysis
            .findings
            .iter()
            .any(|f| f.user.eq_ignore_ascii_case(samba::ADMIN_USER)
                || f.user
                    .to_ascii_lowercase()
                    .ends_with(&format!("\\{}", samba::ADMIN_USER))),
        "{:#?}",
        analysis.findings
    );
    assert!(
        analysis
            .findings
            .iter()
            .any(|f| f.user.to_ascii_lowercase().contains(samba::PLAIN_USER)),
        "the held session is still judged: {:#?}",
        analysis.findings
    );
    let text = lingerscan::report::text::render(&snap, &analysis, Default::default());
    assert_eq!(
        text.matches("This scan's own connection").count(),
        1,
        "{text}"
    );

    // After the scan the session is gone again: only the held one remains.
    let later = collect_remote(&server.ip(), server.port, &admin(), Duration::from_secs(10));
    assert_eq!(session_times(&later, samba::ADMIN_USER).len(), 1);
}

/// Samba serves NetrSessionEnum at levels 0 and 1 only: the first host of a
/// run learns that (two refused levels), the next host of the same kind
/// (same NTLM Version) starts at level 1 and reads the same rows.
#[test]
fn the_next_samba_host_of_a_run_starts_at_the_level_samba_serves() {
    let server = start("127.0.0.35", 14543, "");
    let _held = server.hold_session(&samba::plain());
    let options = RemoteOptions {
        port: server.port,
        timeout: Duration::from_secs(10),
        ..RemoteOptions::default()
    };
    let level_note = |snap: &HostSnapshot| {
        snap.notes
            .iter()
            .find(|n| n.contains("NetrSessionEnum level"))
            .cloned()
            .unwrap_or_default()
    };
    let first = collect_remote_with(&server.ip(), &admin(), &options);
    let first_note = level_note(&first);
    assert!(
        first_note.contains("level 1") && !first_note.contains("started there"),
        "{first_note}"
    );
    let second = collect_remote_with(&server.ip(), &admin(), &options);
    let second_note = level_note(&second);
    assert!(
        second_note.contains("level 1") && second_note.contains("started there"),
        "{second_note}"
    );
    let plain = |snap: &HostSnapshot| session_times(snap, samba::PLAIN_USER).len();
    assert_eq!((plain(&first), plain(&second)), (1, 1));
    // A run of its own learns afresh.
    let fresh = collect_remote_with(
        &server.ip(),
        &admin(),
        &RemoteOptions {
            levels: Default::default(),
            ..options.clone()
        },
    );
    assert!(!level_note(&fresh).contains("started there"));
}

//! The logind reader on a runtime tree laid out the way systemd-logind lays
//! it out (tests/support/logind.rs, modelled on `session_save()`,
//! `user_save_internal()`, `seat_save()` and `session_create_fifo()`): live
//! session FIFOs must not block a scan, and entries logind does not write are
//! skipped one at a time.
#![cfg(target_os = "linux")]

mod support;

use std::collections::BTreeSet;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use lingerscan::collect::linux::logind;
use lingerscan::collect::{CollectOptions, LinuxPaths, collect};
use lingerscan::model::HostSnapshot;
use support::logind::{LogindTree, SessionSpec};

/// Without the fix a scan blocks until the FIFO writers go (an hour): give
/// up long before that, so a regression fails instead of hanging the run.
const GIVE_UP: Duration = Duration::from_secs(20);

fn options(logind_dir: &Path) -> CollectOptions {
    CollectOptions {
        linux: LinuxPaths {
            utmp: logind_dir.join("no-utmp"),
            logind_dir: logind_dir.to_path_buf(),
            smbstatus: "/nonexistent/smbstatus".into(),
            ..LinuxPaths::default()
        },
        ..CollectOptions::default()
    }
}

/// A library scan on a thread, with its duration.
fn timed_scan(logind_dir: &Path) -> (HostSnapshot, Duration) {
    let options = options(logind_dir);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let start = Instant::now();
        let snapshot = collect(&options);
        let _ = tx.send((snapshot, start.elapsed()));
    });
    let (snapshot, took) = rx
        .recv_timeout(GIVE_UP)
        .expect("the scan blocked on the logind tree");
    (snapshot.expect("local collector"), took)
}

fn session_ids(snapshot: &HostSnapshot) -> BTreeSet<String> {
    snapshot
        .logon_sessions
        .rows()
        .expect("logind source readable")
        .iter()
        .map(|s| s.logon_id.clone())
        .collect()
}

fn ids(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// Four sessions of two users, on a seat and over ssh, in every state.
fn busy_tree(root: &Path) -> LogindTree {
    let mut tree = LogindTree::new(root);
    tree.add_user(1000, "alice", "active");
    tree.add_user(1001, "bob", "online");
    tree.add_session(&SessionSpec::new("3", 1000, "alice"));
    let mut console = SessionSpec::new("c1", 1000, "alice");
    console.seat = Some("seat0".into());
    console.tty = Some("tty2".into());
    console.remote_host = None;
    console.service = Some("login".into());
    tree.add_session(&console);
    let mut closing = SessionSpec::new("5", 1001, "bob");
    closing.state = "closing".into();
    tree.add_session(&closing);
    let mut opening = SessionSpec::new("6", 1001, "bob");
    opening.state = "opening".into();
    tree.add_session(&opening);
    tree
}

#[test]
fn library_scan_with_live_session_fifos_returns_at_once_with_every_session() {
    let dir = tempfile::tempdir().unwrap();
    let tree = busy_tree(dir.path());
    for id in ["3", "c1", "5", "6"] {
        let pid = tree.session_process(id).expect("a writer per session");
        assert!(support::alive(pid), "session {id}'s FIFO writer runs");
    }
    let (snapshot, took) = timed_scan(tree.dir());
    println!("library scan with 4 live session FIFOs took {took:?}");
    assert!(took < Duration::from_secs(1), "took {took:?}");
    assert_eq!(session_ids(&snapshot), ids(&["3", "5", "6", "c1"]));
    let state = logind::read(tree.dir()).unwrap();
    assert!(state.skipped.is_empty(), "{:?}", state.skipped);
    assert!(state.seats_present);
}

#[test]
fn binary_scan_with_live_session_fifos_returns_at_once_with_every_session() {
    let dir = tempfile::tempdir().unwrap();
    let tree = busy_tree(dir.path());
    let start = Instant::now();
    let child = Command::new(env!("CARGO_BIN_EXE_lingerscan"))
        .env("LINGERSCAN_NO_HISTORY", "1")
        .args(["--format", "json", "--include-snapshot", "--logind-dir"])
        .arg(tree.dir())
        .arg("--utmp-file")
        .arg(dir.path().join("no-utmp"))
        .args(["--smbstatus", "/nonexistent/smbstatus"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("run lingerscan");
    let pid = child.id();
    // Read the output on a thread: a report bigger than the pipe buffer
    // must not look like a hang.
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let Ok(output) = rx.recv_timeout(GIVE_UP) else {
        support::signal(pid, "KILL");
        panic!("lingerscan blocked on the logind tree");
    };
    let output = output.expect("lingerscan output");
    let took = start.elapsed();
    println!("lingerscan binary with 4 live session FIFOs took {took:?}");
    assert!(took < Duration::from_secs(1), "took {took:?}");
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON report");
    let rows = report["hosts"][0]["snapshot"]["logon_sessions"]["rows"]
        .as_array()
        .unwrap_or_else(|| panic!("logon_sessions rows in {report:#}"));
    let found: BTreeSet<String> = rows
        .iter()
        .map(|r| r["logon_id"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(found, ids(&["3", "5", "6", "c1"]));
}

/// A FIFO with a session-like name and a live writer: what a real session's
/// FIFO would look like if it were misnamed, or a trap left for scanners.
struct StrayFifo {
    _reader: std::fs::File,
    _writer: std::fs::File,
}

fn stray_fifo(path: &Path) -> StrayFifo {
    support::logind::mkfifo(path, 0o600);
    let reader = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .unwrap();
    let writer = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    StrayFifo {
        _reader: reader,
        _writer: writer,
    }
}

#[test]
fn entries_logind_does_not_write_are_skipped_and_sessions_still_read() {
    let dir = tempfile::tempdir().unwrap();
    let tree = busy_tree(dir.path());
    let sessions = tree.dir().join("sessions");
    std::fs::create_dir(sessions.join("9")).unwrap();
    let _fifo = stray_fifo(&sessions.join("8"));
    std::os::unix::fs::symlink("3", sessions.join("10")).unwrap();
    std::fs::write(sessions.join("11"), vec![b'#'; logind::MAX_STATE_FILE + 1]).unwrap();
    std::fs::write(sessions.join("session-12"), "UID=0\n").unwrap();
    // What a crashed fopen_temporary() leaves: normal, not noted.
    std::fs::write(sessions.join(".#3xYz12a"), "UID=1000\n").unwrap();
    std::fs::create_dir(tree.dir().join("users/1002")).unwrap();

    let (snapshot, took) = timed_scan(tree.dir());
    println!("scan with junk entries took {took:?}");
    assert!(took < Duration::from_secs(1), "took {took:?}");
    assert_eq!(session_ids(&snapshot), ids(&["3", "5", "6", "c1"]));

    let state = logind::read(tree.dir()).unwrap();
    let notes: BTreeSet<&str> = state.skipped.iter().map(String::as_str).collect();
    let expected: BTreeSet<&str> = [
        "sessions/8: a FIFO, not a regular file; skipped",
        "sessions/9: a directory, not a regular file; skipped",
        "sessions/10: a symbolic link, not a regular file; skipped",
        "sessions/11: larger than 65536 bytes; skipped",
        "sessions/session-12: name is not a session id (letters and digits); skipped",
        "users/1002: a directory, not a regular file; skipped",
    ]
    .into();
    assert_eq!(notes, expected);
    assert_eq!(state.users.len(), 2);
}

#[test]
fn device_node_in_sessions_is_skipped_unopened() {
    if !support::require(
        "device_node_in_sessions_is_skipped_unopened",
        true,
        &["mknod"],
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let tree = busy_tree(dir.path());
    let device = tree.dir().join("sessions/13");
    // 1:5 is /dev/zero: reading it would never end.
    support::run("mknod", &[device.to_str().unwrap(), "c", "1", "5"]);
    let (snapshot, took) = timed_scan(tree.dir());
    assert!(took < Duration::from_secs(1), "took {took:?}");
    assert_eq!(session_ids(&snapshot), ids(&["3", "5", "6", "c1"]));
    let state = logind::read(tree.dir()).unwrap();
    assert_eq!(
        state.skipped,
        ["sessions/13: a character device, not a regular file; skipped"]
    );
}

/// Every field `session_save()` writes comes back as written, escapes undone.
#[test]
fn session_file_as_session_save_writes_it_parses_field_by_field() {
    let dir = tempfile::tempdir().unwrap();
    let mut tree = LogindTree::new(dir.path());
    tree.add_user(1000, "alice", "active");
    let remote_host = "host\twith \"odd\" ünï\\name";
    let spec = SessionSpec {
        id: "12".into(),
        uid: 1000,
        user: Some("alice".into()),
        state: "closing".into(),
        class: "user".into(),
        kind: "x11".into(),
        tty: Some("tty7".into()),
        seat: Some("seat0".into()),
        remote_host: Some(remote_host.into()),
        service: Some("gdm-password".into()),
        leader: Some(4242),
        audit: Some(12),
        realtime: Timestamp::from_microsecond(1_700_000_000_123_456).unwrap(),
    };
    tree.add_session(&spec);

    let text = std::fs::read_to_string(tree.dir().join("sessions/12")).unwrap();
    assert!(text.starts_with("# This is private data. Do not parse.\n"));
    assert!(
        text.contains("REMOTE_HOST=host\\twith \\\"odd\\\" \\xc3\\xbcn\\xc3\\xaf\\\\name\n"),
        "{text}"
    );
    let keys: Vec<&str> = text
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once('=').map(|(k, _)| k))
        .collect();
    assert_eq!(
        keys,
        [
            "UID",
            "USER",
            "ACTIVE",
            "IS_DISPLAY",
            "STATE",
            "REMOTE",
            "LEADER_FD_SAVED",
            "TYPE",
            "ORIGINAL_TYPE",
            "CLASS",
            "SCOPE",
            "FIFO",
            "SEAT",
            "TTY",
            "TTY_VALIDITY",
            "REMOTE_HOST",
            "SERVICE",
            "VTNR",
            "LEADER",
            "AUDIT",
            "REALTIME",
            "MONOTONIC",
        ]
    );
    let mode = std::os::unix::fs::MetadataExt::mode(
        &std::fs::metadata(tree.dir().join("sessions/12")).unwrap(),
    );
    assert_eq!(mode & 0o777, 0o644);

    let state = logind::read(tree.dir()).unwrap();
    assert_eq!(state.sessions.len(), 1);
    let session = &state.sessions[0];
    assert_eq!(session.seat(), Some("seat0"));
    let row = session.to_logon_session(&state.users);
    assert_eq!(row.logon_id, "12");
    assert_eq!(row.uid, Some(1000));
    assert_eq!(row.user.as_deref(), Some("alice"));
    assert_eq!(row.state.as_deref(), Some("closing"));
    assert_eq!(row.tty.as_deref(), Some("tty7"));
    assert_eq!(row.remote_host.as_deref(), Some(remote_host));
    assert_eq!(row.service.as_deref(), Some("gdm-password"));
    assert_eq!(row.leader_pid, Some(4242));
    assert_eq!(row.audit_session, Some(12));
    assert_eq!(
        row.start_time.map(|t| t.as_microsecond()),
        Some(1_700_000_000_123_456)
    );
    assert_eq!(row.session_type.as_deref(), Some("x11/user"));

    let seat0 = std::fs::read_to_string(tree.dir().join("seats/seat0")).unwrap();
    assert!(
        seat0.contains("IS_SEAT0=1\n") && seat0.contains("SESSIONS=12\nUIDS=1000\n"),
        "{seat0}"
    );
    let user = std::fs::read_to_string(tree.dir().join("users/1000")).unwrap();
    assert!(
        user.contains("NAME=alice\n") && user.contains("SESSIONS=12\n"),
        "{user}"
    );
}

#[test]
fn user_name_comes_from_users_file_when_the_session_has_none() {
    let dir = tempfile::tempdir().unwrap();
    let mut tree = LogindTree::new(dir.path());
    tree.add_user(1005, "carol", "lingering");
    let mut spec = SessionSpec::new("4", 1005, "unused");
    spec.user = None;
    tree.add_session(&spec);
    let state = logind::read(tree.dir()).unwrap();
    let row = state.sessions[0].to_logon_session(&state.users);
    assert_eq!(row.user.as_deref(), Some("carol"));
    assert_eq!(state.users[0].state.as_deref(), Some("lingering"));
}

#[test]
fn seats_directory_tells_a_running_logind_tree_from_a_leftover_one() {
    let running = tempfile::tempdir().unwrap();
    let tree = LogindTree::new(running.path());
    assert!(tree.dir().join("seats/seat0").is_file());
    assert!(logind::read(tree.dir()).unwrap().seats_present);

    let leftover = tempfile::tempdir().unwrap();
    let mut old = LogindTree::without_seats(leftover.path());
    old.add_session(&SessionSpec::new("2", 1000, "alice"));
    let state = logind::read(old.dir()).unwrap();
    assert!(!state.seats_present);
    assert_eq!(state.sessions.len(), 1);
}

#[test]
fn dropping_the_tree_ends_the_session_processes() {
    let dir = tempfile::tempdir().unwrap();
    let mut tree = LogindTree::new(dir.path());
    tree.add_session(&SessionSpec::new("3", 1000, "alice"));
    let pid = tree.session_process("3").unwrap();
    assert!(support::alive(pid));
    drop(tree);
    assert!(!support::alive(pid));
}

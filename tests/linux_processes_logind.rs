//! The Linux collector's process and logind sources against real processes.
#![cfg(target_os = "linux")]

mod support;

use std::process::Command;
use std::time::Duration;

use lingerscan::collect::{CollectOptions, LinuxPaths, collect};
use lingerscan::model::{HostSnapshot, InteractiveState};

fn scan_with(logind_dir: &std::path::Path) -> HostSnapshot {
    let options = CollectOptions {
        linux: LinuxPaths {
            utmp: logind_dir.join("no-utmp"),
            logind_dir: logind_dir.to_path_buf(),
            smbstatus: "/nonexistent/smbstatus".into(),
            ..LinuxPaths::default()
        },
        ..CollectOptions::default()
    };
    collect(&options).expect("local collector")
}

#[test]
fn processes_of_another_user_carry_loginuid_and_one_audit_session() {
    if !support::require(
        "processes_of_another_user_carry_loginuid_and_one_audit_session",
        true,
        &["setpriv", "useradd"],
    ) {
        return;
    }
    let (uid, gid) = support::ensure_user("lsproc");
    let mut procs = support::Processes::default();
    // As root, set the login uid (which also opens a new audit session), then
    // become the user; the shell leaves two sleeps in that audit session.
    let script = format!(
        "echo {uid} > /proc/self/loginuid && exec setpriv --reuid {uid} --regid {gid} --clear-groups \
         sh -c 'sleep 300 & exec sleep 300'"
    );
    let leader = procs.spawn(Command::new("sh").arg("-c").arg(script));
    let mut child = None;
    assert!(
        support::wait_until(Duration::from_secs(10), || {
            child = support::children_of(leader).first().copied();
            child.is_some()
                && std::fs::read_to_string(format!("/proc/{leader}/comm"))
                    .is_ok_and(|c| c.trim() == "sleep")
        }),
        "the test processes did not start"
    );
    let child = child.unwrap_or_default();
    procs.adopt(child);

    let logind = tempfile::tempdir().unwrap();
    let snapshot = scan_with(logind.path());
    let rows = snapshot.processes.rows().expect("processes readable");
    let find = |pid: u32| {
        rows.iter()
            .find(|p| p.pid == pid)
            .unwrap_or_else(|| panic!("pid {pid} missing"))
    };
    let (a, b) = (find(leader), find(child));
    for row in [a, b] {
        assert_eq!(row.name, "sleep");
        assert_eq!(row.uid, Some(uid));
        assert_eq!(row.user.as_deref(), Some("lsproc"));
        assert_eq!(row.loginuid, Some(uid));
        assert!(row.audit_session.is_some(), "{row:?}");
        assert!(row.start_time.is_some());
        assert_eq!(row.access_error, None);
    }
    assert_eq!(a.audit_session, b.audit_session);
    assert_eq!(b.ppid, Some(leader));
    // Our own process has a different (or no) audit session.
    let me = find(std::process::id());
    assert_ne!(me.audit_session, a.audit_session);
    let started = a.start_time.unwrap();
    let age = jiff::Timestamp::now().duration_since(started).as_secs_f64();
    assert!(
        (-2.0..60.0).contains(&age),
        "start time {started} is {age}s ago"
    );
}

#[test]
fn logind_files_active_and_closing_sessions_with_leftover_process() {
    let mut procs = support::Processes::default();
    let active_leader = procs.sleeper();
    let leftover = procs.sleeper();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("sessions")).unwrap();
    // A running logind always has seat0 (logind.c manager_startup, seat_save()).
    std::fs::create_dir_all(root.join("seats")).unwrap();
    std::fs::create_dir_all(root.join("users")).unwrap();
    std::fs::create_dir_all(root.join("linger")).unwrap();
    std::fs::write(root.join("sessions/7"), format!(
        "# This is private data. Do not parse.\nUID=0\nUSER=root\nACTIVE=1\nSTATE=active\nREMOTE=0\nTYPE=tty\n\
         CLASS=user\nSCOPE=session-7.scope\nTTY=tty1\nSEAT=seat0\nSERVICE=login\nLEADER={active_leader}\nAUDIT=7\n\
         REALTIME=1700000000000000\n"
    )).unwrap();
    std::fs::write(root.join("sessions/8"), format!(
        "UID=0\nUSER=root\nACTIVE=0\nSTATE=closing\nREMOTE=1\nTYPE=tty\nCLASS=user\nSCOPE=session-8.scope\n\
         TTY=pts/8\nREMOTE_HOST=client\\x2dhost\nSERVICE=sshd\nLEADER={leftover}\nAUDIT=8\nREALTIME=1700000100000000\n"
    )).unwrap();
    std::fs::write(root.join("sessions/.#8tmp"), "STATE=garbage\n").unwrap();
    std::fs::write(
        root.join("users/0"),
        "NAME=root\nSTATE=active\nSESSIONS=\"7 8\"\n",
    )
    .unwrap();
    std::fs::write(root.join("linger/lsalice"), "").unwrap();

    let snapshot = scan_with(root);
    let sessions = snapshot
        .logon_sessions
        .rows()
        .expect("logind files readable");
    assert_eq!(sessions.len(), 2, "{sessions:?}");
    let (s7, s8) = (&sessions[0], &sessions[1]);
    assert_eq!(
        (s7.logon_id.as_str(), s7.state.as_deref(), s7.leader_pid),
        ("7", Some("active"), Some(active_leader))
    );
    assert_eq!(s7.session_type.as_deref(), Some("tty/user"));
    assert_eq!(
        (s8.logon_id.as_str(), s8.state.as_deref(), s8.leader_pid),
        ("8", Some("closing"), Some(leftover))
    );
    assert_eq!(s8.remote_host.as_deref(), Some("client-host"));
    assert_eq!(s8.service.as_deref(), Some("sshd"));
    assert_eq!(s8.audit_session, Some(8));
    assert_eq!(s8.user.as_deref(), Some("root"));
    assert_eq!(s8.start_time.map(|t| t.as_second()), Some(1_700_000_100));

    // The closing session's leader is a live process in the process list.
    let procs_rows = snapshot.processes.rows().expect("processes");
    assert!(
        procs_rows
            .iter()
            .any(|p| p.pid == leftover && p.name == "sleep")
    );

    let interactive = snapshot.interactive_sessions.rows().expect("interactive");
    let i7 = interactive
        .iter()
        .find(|i| i.session_id == "7")
        .expect("session 7 interactive");
    let i8 = interactive
        .iter()
        .find(|i| i.session_id == "8")
        .expect("session 8 interactive");
    assert_eq!(
        (i7.state, i7.station.as_deref()),
        (InteractiveState::Active, Some("tty1"))
    );
    assert_eq!(
        (i8.state, i8.pid),
        (InteractiveState::Disconnected, Some(leftover))
    );
    assert!(
        snapshot
            .notes
            .iter()
            .any(|n| n.contains("linger") && n.contains("lsalice")),
        "{:?}",
        snapshot.notes
    );
}

/// The binary on real processes and logind files: a closing session whose
/// leader still runs → CLOSING; a closing session whose leader is gone →
/// LEAKED_LOGON; an active one with its leader → ACTIVE; exit code 1.
#[test]
fn binary_judges_closing_and_leaked_logind_sessions() {
    let mut procs = support::Processes::default();
    let active_leader = procs.sleeper();
    let leftover = procs.sleeper();
    let gone = procs.sleeper();
    procs.end(gone);
    assert!(!std::path::Path::new(&format!("/proc/{gone}")).exists());
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("sessions")).unwrap();
    // A running logind always has seat0 (logind.c manager_startup, seat_save()).
    std::fs::create_dir_all(root.join("seats")).unwrap();
    // logind stamps REALTIME when it creates the session, after its leader started.
    let realtime = jiff::Timestamp::now().as_microsecond();
    let session = |id: u32, state: &str, leader: u32| {
        format!(
            "UID=0\nUSER=root\nSTATE={state}\nREMOTE=1\nTYPE=tty\nCLASS=user\nSCOPE=session-{id}.scope\n\
             SERVICE=sshd\nLEADER={leader}\nREALTIME={realtime}\n"
        )
    };
    std::fs::write(
        root.join("sessions/41"),
        session(41, "active", active_leader),
    )
    .unwrap();
    std::fs::write(root.join("sessions/42"), session(42, "closing", leftover)).unwrap();
    std::fs::write(root.join("sessions/43"), session(43, "closing", gone)).unwrap();

    let output = Command::new(env!("CARGO_BIN_EXE_lingerscan"))
        .env("LINGERSCAN_NO_HISTORY", "1")
        .args(["--user", "root", "--format", "json"])
        .arg("--logind-dir")
        .arg(root)
        .arg("--utmp-file")
        .arg(root.join("no-utmp"))
        .args(["--smbstatus", "/nonexistent/smbstatus"])
        .output()
        .expect("run lingerscan");
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON report");
    let verdict_of = |id: &str| {
        report["hosts"][0]["analysis"]["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["kind"] == "logon_session" && f["session_id"] == id)
            .map(|f| f["verdict"].as_str().unwrap_or_default().to_string())
    };
    assert_eq!(verdict_of("41").as_deref(), Some("ACTIVE"));
    assert_eq!(verdict_of("42").as_deref(), Some("CLOSING"));
    assert_eq!(verdict_of("43").as_deref(), Some("LEAKED_LOGON"));
    assert_eq!(output.status.code(), Some(1));
}

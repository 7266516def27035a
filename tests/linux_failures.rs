//! Each Linux source failing on its own leaves the others working, with the reason reported.
#![cfg(target_os = "linux")]

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use lingerscan::collect::linux::utmp::{self, UtmpRecord};
use lingerscan::collect::{CollectOptions, LinuxPaths, collect};
use lingerscan::model::{FailureKind, HostSnapshot};

/// Fake smbstatus programs, all written before any test of this binary starts
/// a process (an executable still open for writing in a forked child fails
/// with "text file busy").
fn scripts() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, body: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        };
        write(
            "exit1",
            "echo 'boom: cannot open the lock database' >&2\nexit 1",
        );
        write("garbage", "echo 'this is not json'");
        // What Samba 4.17's smbstatus does for a non-root user.
        write(
            "notroot",
            "echo '{\"timestamp\": \"x\"}'\necho 'smbstatus only works as root!' >&2\nexit 1",
        );
        let pids = dir.path().join("pids");
        write(
            "hang",
            &format!(
                "echo $$ > {0}\nsleep 60 &\necho $! >> {0}\nwait",
                pids.display()
            ),
        );
        write(
            "empty",
            r#"echo '{"sessions": {}, "tcons": {}, "open_files": {}}'"#,
        );
        // Prints its answer and exits, but leaves a child holding stdout.
        let held = dir.path().join("held-pid");
        write(
            "leaves_a_child",
            &format!(
                r#"echo '{{"sessions": {{}}, "tcons": {{}}, "open_files": {{}}}}'
sleep 60 &
echo $! > {0}
exit 0"#,
                held.display()
            ),
        );
        // Endless output.
        write("endless", "exec yes '{\"sessions\":'");
        dir
    })
    .path()
}

fn script(name: &str) -> PathBuf {
    scripts().join(name)
}

/// Options where every source works: an empty utmp, logind files, the real
/// /proc, and an smbstatus that reports no sessions.
fn working(dir: &Path) -> CollectOptions {
    let utmp_path = dir.join("utmp");
    if !utmp_path.exists() {
        let record = UtmpRecord {
            kind: utmp::USER_PROCESS,
            pid: std::process::id() as i32,
            line: "pts/42".into(),
            user: "someone".into(),
            ..UtmpRecord::default()
        };
        std::fs::write(&utmp_path, utmp::encode(&record)).unwrap();
        std::fs::create_dir_all(dir.join("logind/sessions")).unwrap();
        // A running logind always has seat0 (logind.c manager_startup, seat_save()).
        std::fs::create_dir_all(dir.join("logind/seats")).unwrap();
        std::fs::write(
            dir.join("logind/sessions/3"),
            "USER=someone\nSTATE=active\n",
        )
        .unwrap();
    }
    CollectOptions {
        timeout: Duration::from_secs(10),
        linux: LinuxPaths {
            utmp: utmp_path,
            logind_dir: dir.join("logind"),
            smbstatus: script("empty"),
            ..LinuxPaths::default()
        },
        ..CollectOptions::default()
    }
}

fn failure(
    snapshot: &HostSnapshot,
    source: lingerscan::model::Source,
) -> (FailureKind, String, Option<i64>) {
    let f = snapshot
        .failure_of(source)
        .unwrap_or_else(|| panic!("{source} should have failed"));
    (f.kind, f.message.clone(), f.code)
}

fn assert_ok_except(snapshot: &HostSnapshot, failed: &[lingerscan::model::Source]) {
    for source in lingerscan::model::Source::ALL {
        let is_failed = snapshot.failure_of(source).is_some();
        assert_eq!(
            is_failed,
            failed.contains(&source),
            "{source}: {:?}",
            snapshot.failure_of(source)
        );
    }
    assert!(
        snapshot
            .processes
            .rows()
            .is_some_and(|r| r.iter().any(|p| p.pid == std::process::id()))
    );
}

use lingerscan::model::Source::*;

#[test]
fn baseline_everything_works() {
    let dir = tempfile::tempdir().unwrap();
    let snapshot = collect(&working(dir.path())).unwrap();
    assert_ok_except(&snapshot, &[]);
    assert_eq!(
        snapshot.workstation_users.rows().unwrap()[0].pid_alive,
        Some(true)
    );
}

#[test]
fn missing_utmp_is_not_available() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = working(dir.path());
    options.linux.utmp = dir.path().join("absent");
    let snapshot = collect(&options).unwrap();
    assert_ok_except(&snapshot, &[WorkstationUsers]);
    let (kind, message, _) = failure(&snapshot, WorkstationUsers);
    assert_eq!(kind, FailureKind::NotAvailable);
    assert!(message.contains("absent"), "{message}");
    // Interactive sessions still come from logind.
    assert_eq!(snapshot.interactive_sessions.rows().map(Vec::len), Some(0));
}

#[test]
fn corrupt_utmp_is_a_parse_error() {
    let dir = tempfile::tempdir().unwrap();
    let options = working(dir.path());
    let mut bytes = std::fs::read(&options.linux.utmp).unwrap();
    bytes.extend_from_slice(&[0x41; 100]);
    std::fs::write(&options.linux.utmp, bytes).unwrap();
    let snapshot = collect(&options).unwrap();
    assert_ok_except(&snapshot, &[WorkstationUsers]);
    let (kind, message, _) = failure(&snapshot, WorkstationUsers);
    assert_eq!(kind, FailureKind::ParseError);
    assert!(message.contains("484 bytes"), "{message}");
}

#[test]
fn garbage_record_type_is_a_parse_error() {
    let dir = tempfile::tempdir().unwrap();
    let options = working(dir.path());
    std::fs::write(&options.linux.utmp, [0x7fu8; 384]).unwrap();
    let snapshot = collect(&options).unwrap();
    assert_eq!(
        failure(&snapshot, WorkstationUsers).0,
        FailureKind::ParseError
    );
}

#[test]
fn missing_logind_is_not_available_and_utmp_still_gives_terminals() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = working(dir.path());
    options.linux.logind_dir = dir.path().join("no-logind");
    let snapshot = collect(&options).unwrap();
    assert_ok_except(&snapshot, &[LogonSessions]);
    assert_eq!(
        failure(&snapshot, LogonSessions).0,
        FailureKind::NotAvailable
    );
    let terminals = snapshot.interactive_sessions.rows().unwrap();
    assert_eq!(terminals.len(), 1);
    assert_eq!(terminals[0].station.as_deref(), Some("pts/42"));
}

#[test]
fn logind_and_utmp_both_missing_fail_interactive_too() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = working(dir.path());
    options.linux.logind_dir = dir.path().join("no-logind");
    options.linux.utmp = dir.path().join("no-utmp");
    let snapshot = collect(&options).unwrap();
    assert_ok_except(
        &snapshot,
        &[LogonSessions, WorkstationUsers, InteractiveSessions],
    );
    assert_eq!(
        failure(&snapshot, InteractiveSessions).0,
        FailureKind::NotAvailable
    );
}

#[test]
fn smbstatus_absent_is_not_available() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = working(dir.path());
    options.linux.smbstatus = dir.path().join("no/such/smbstatus");
    let snapshot = collect(&options).unwrap();
    assert_ok_except(&snapshot, &[SmbSessions]);
    let (kind, message, code) = failure(&snapshot, SmbSessions);
    assert_eq!(kind, FailureKind::NotAvailable);
    assert_eq!(code, Some(2)); // ENOENT
    assert!(message.contains("smbstatus"), "{message}");
}

#[test]
fn smbstatus_exiting_non_zero_is_other_with_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = working(dir.path());
    options.linux.smbstatus = script("exit1");
    let snapshot = collect(&options).unwrap();
    assert_ok_except(&snapshot, &[SmbSessions]);
    let (kind, message, code) = failure(&snapshot, SmbSessions);
    assert_eq!((kind, code), (FailureKind::Other, Some(1)));
    assert!(
        message.contains("boom: cannot open the lock database"),
        "{message}"
    );
}

#[test]
fn smbstatus_refusing_a_non_root_user_is_access_denied() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = working(dir.path());
    options.linux.smbstatus = script("notroot");
    let snapshot = collect(&options).unwrap();
    assert_ok_except(&snapshot, &[SmbSessions]);
    let (kind, message, _) = failure(&snapshot, SmbSessions);
    assert_eq!(kind, FailureKind::AccessDenied);
    assert!(message.contains("only works as root"), "{message}");
}

#[test]
fn smbstatus_printing_garbage_is_a_parse_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = working(dir.path());
    options.linux.smbstatus = script("garbage");
    let snapshot = collect(&options).unwrap();
    assert_ok_except(&snapshot, &[SmbSessions]);
    let (kind, message, _) = failure(&snapshot, SmbSessions);
    assert_eq!(kind, FailureKind::ParseError);
    assert!(message.contains("this is not json"), "{message}");
}

#[test]
fn hanging_smbstatus_times_out_and_is_killed_with_its_children() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = working(dir.path());
    options.linux.smbstatus = script("hang");
    options.timeout = Duration::from_millis(700);
    let started = Instant::now();
    let snapshot = collect(&options).unwrap();
    let took = started.elapsed();
    assert_ok_except(&snapshot, &[SmbSessions]);
    assert_eq!(failure(&snapshot, SmbSessions).0, FailureKind::Timeout);
    assert!(took < Duration::from_secs(5), "collect took {took:?}");
    let pids: Vec<u32> = std::fs::read_to_string(scripts().join("pids"))
        .unwrap()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect();
    assert_eq!(pids.len(), 2, "the script and its sleep");
    assert!(
        support::wait_until(Duration::from_secs(5), || pids
            .iter()
            .all(|&p| !support::alive(p))),
        "smbstatus or its child survived the timeout"
    );
}

#[test]
fn a_child_left_holding_smbstatus_output_does_not_hold_the_scan() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = working(dir.path());
    options.linux.smbstatus = script("leaves_a_child");
    options.timeout = Duration::from_secs(5);
    let started = Instant::now();
    let snapshot = collect(&options).unwrap();
    let took = started.elapsed();
    eprintln!("smbstatus that leaves a child: scan took {took:?}");
    assert_ok_except(&snapshot, &[]);
    assert!(took < Duration::from_secs(2), "collect took {took:?}");
    let held: u32 = std::fs::read_to_string(scripts().join("held-pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(
        support::wait_until(Duration::from_secs(5), || !support::alive(held)),
        "the left-over child {held} survived"
    );
}

#[test]
fn endless_smbstatus_output_is_cut_at_its_cap() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = working(dir.path());
    options.linux.smbstatus = script("endless");
    options.timeout = Duration::from_secs(20);
    let started = Instant::now();
    let snapshot = collect(&options).unwrap();
    let took = started.elapsed();
    eprintln!("endless smbstatus output: failed after {took:?}");
    let (kind, message, _) = failure(&snapshot, SmbSessions);
    assert_eq!(kind, FailureKind::ParseError, "{message}");
    assert!(message.contains("more than 64 MiB"), "{message}");
    assert!(took < Duration::from_secs(10), "took {took:?}");
}

/// A fake /proc: one complete process, one whose status cannot be read,
/// one with a damaged stat, one that vanished, and non-process entries.
fn fake_proc(root: &Path) {
    let write = |rel: &str, text: &str| {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write("stat", "cpu  1 2 3\nbtime 1700000000\nprocesses 5\n");
    let stat = |pid: u32, comm: &str| {
        format!(
            "{pid} ({comm}) S 1 {pid} {pid} 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 250 1000 10 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n"
        )
    };
    write("100/stat", &stat(100, "my (odd) name"));
    write("100/status", "Name:\tx\nUid:\t0\t0\t0\t0\n");
    write("100/loginuid", "1000");
    write("100/sessionid", "5");
    write(
        "100/cgroup",
        "0::/user.slice/user-1000.slice/session-5.scope\n",
    );
    write("200/stat", &stat(200, "locked"));
    std::fs::create_dir_all(root.join("200/status")).unwrap(); // reading it fails: EISDIR
    write("200/loginuid", "4294967295");
    write("300/stat", "garbage");
    // A process that exited between listing and reading: its files are gone.
    std::fs::create_dir_all(root.join("400")).unwrap();
    write("self/stat", "not a pid directory");
    write("sys/kernel/hostname", "x");
}

#[test]
fn unreadable_proc_entries_become_rows_with_access_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = working(dir.path());
    let proc_dir = dir.path().join("proc");
    fake_proc(&proc_dir);
    options.linux.proc_dir = proc_dir;
    let snapshot = collect(&options).unwrap();
    let rows = snapshot
        .processes
        .rows()
        .expect("the fake /proc is readable");
    assert_eq!(
        rows.iter().map(|r| r.pid).collect::<Vec<_>>(),
        [100, 200, 300]
    );
    let good = &rows[0];
    assert_eq!(good.name, "my (odd) name");
    assert_eq!((good.uid, good.user.as_deref()), (Some(0), Some("root")));
    assert_eq!(
        (good.loginuid, good.audit_session, good.logon_id.as_deref()),
        (Some(1000), Some(5), Some("5"))
    );
    assert_eq!(good.ppid, Some(1));
    let ticks = lingerscan::collect::linux::sys::clock_ticks_per_second() as f64;
    let expected = 1_700_000_000.0 + 250.0 / ticks;
    assert!((good.start_time.unwrap().as_millisecond() as f64 / 1000.0 - expected).abs() < 0.01);
    assert_eq!(good.access_error, None);

    let locked = &rows[1];
    assert_eq!(locked.name, "locked");
    assert!(
        locked
            .access_error
            .as_deref()
            .is_some_and(|e| e.starts_with("status:")),
        "{locked:?}"
    );
    assert_eq!(locked.loginuid, None);
    assert!(
        rows[2]
            .access_error
            .as_deref()
            .is_some_and(|e| e.contains("stat"))
    );
    assert!(
        snapshot
            .notes
            .iter()
            .any(|n| n.contains("2 processes could not be read")),
        "{:?}",
        snapshot.notes
    );
    // Other sources are unaffected.
    assert!(
        snapshot.workstation_users.is_ok()
            && snapshot.logon_sessions.is_ok()
            && snapshot.smb_sessions.is_ok()
    );
}

#[test]
fn missing_proc_is_not_available() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = working(dir.path());
    options.linux.proc_dir = dir.path().join("no-proc");
    let snapshot = collect(&options).unwrap();
    assert_eq!(failure(&snapshot, Processes).0, FailureKind::NotAvailable);
    assert!(snapshot.workstation_users.is_ok() && snapshot.smb_sessions.is_ok());
}

/// The default smbstatus (not named by the caller) with the fake /proc: no
/// smbd there, so smbstatus is not run and the source says why.
fn gated(dir: &Path, extra_smbd: bool) -> HostSnapshot {
    let mut options = working(dir);
    options.linux.smbstatus = LinuxPaths::default().smbstatus;
    assert!(!options.linux.smbstatus_requested());
    let proc_dir = dir.join("proc");
    fake_proc(&proc_dir);
    if extra_smbd {
        std::fs::create_dir_all(proc_dir.join("500")).unwrap();
        std::fs::write(
            proc_dir.join("500/stat"),
            "500 (smbd) S 1 500 500 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 250 1000 10 0 0 0 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n",
        )
        .unwrap();
        std::fs::write(
            proc_dir.join("500/status"),
            "Name:\tsmbd\nUid:\t0\t0\t0\t0\n",
        )
        .unwrap();
    }
    options.linux.proc_dir = proc_dir;
    collect(&options).unwrap()
}

#[test]
fn without_an_smbd_process_smbstatus_is_not_run_and_the_source_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let snapshot = gated(dir.path(), false);
    let (kind, message, code) = failure(&snapshot, SmbSessions);
    assert_eq!(kind, FailureKind::NotAvailable);
    assert_eq!(code, None);
    assert!(message.contains("no smbd process"), "{message}");
    // "Not available" is trusted silence: it leaves no question open.
    let analysis = lingerscan::analyze::analyze(
        &snapshot,
        &lingerscan::analyze::AnalyzeOptions::for_snapshot(&snapshot),
    );
    assert!(
        analysis
            .failed_sources
            .iter()
            .all(|f| f.source != SmbSessions || f.failure.kind == FailureKind::NotAvailable)
    );
    eprintln!("scan without smbstatus took {:?}", started.elapsed());
}

#[test]
fn an_smbd_process_makes_the_default_smbstatus_run() {
    let dir = tempfile::tempdir().unwrap();
    let snapshot = gated(dir.path(), true);
    // Whatever smbstatus answers here (sessions, not installed, not root),
    // it was asked: the source does not carry the "no smbd" reason.
    if let Some(failure) = snapshot.smb_sessions.failure() {
        assert!(!failure.message.contains("no smbd process"), "{failure:?}");
    }
}

#[test]
fn a_named_smbstatus_runs_even_without_smbd() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = working(dir.path());
    assert!(options.linux.smbstatus_requested());
    let proc_dir = dir.path().join("proc");
    fake_proc(&proc_dir);
    options.linux.proc_dir = proc_dir;
    let snapshot = collect(&options).unwrap();
    assert_eq!(snapshot.smb_sessions.rows().map(Vec::len), Some(0));
}

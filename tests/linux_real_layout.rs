//! Verdicts on a host laid out the way real Linux hosts are (issue 8):
//! utmp records written by glibc's own `pututxline()` (support/glibc_utmp.rs),
//! logind trees as systemd's `session_save()` writes them with live `.ref`
//! FIFOs (support/logind.rs), and real processes of other users started with
//! `setpriv`, some with a real audit session (root writes
//! `/proc/self/loginuid` before exec, as pam_loginuid does).
#![cfg(target_os = "linux")]

mod support;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};
use serde_json::Value;
use support::glibc_utmp::write_login;
use support::logind::{LogindTree, SessionSpec};

struct Scan {
    report: Value,
    code: Option<i32>,
    took: Duration,
}

impl Scan {
    fn host(&self) -> &Value {
        &self.report["hosts"][0]
    }

    fn findings(&self) -> Vec<&Value> {
        self.host()["analysis"]["findings"]
            .as_array()
            .map(|a| a.iter().collect())
            .unwrap_or_default()
    }

    /// Findings that cite a row of `source` for which `pick` holds.
    fn findings_citing(&self, source: &str, pick: impl Fn(&Value) -> bool) -> Vec<&Value> {
        let rows = self.host()["snapshot"][source]["rows"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        self.findings()
            .into_iter()
            .filter(|f| {
                f["evidence"].as_array().into_iter().flatten().any(|e| {
                    e["source"] == source
                        && e["rows"].as_array().into_iter().flatten().any(|r| {
                            r.as_u64()
                                .and_then(|r| rows.get(r as usize))
                                .is_some_and(&pick)
                        })
                })
            })
            .collect()
    }

    fn finding(&self, kind: &str, session: &str) -> &Value {
        self.findings()
            .into_iter()
            .find(|f| f["kind"] == kind && f["session_id"] == session)
            .unwrap_or_else(|| panic!("no {kind} {session} in {:#?}", self.findings()))
    }
}

/// The binary, as a user runs it, on this machine's /proc and the given utmp and logind tree.
fn scan(utmp: &Path, logind: &Path, extra: &[&str]) -> Scan {
    let started = Instant::now();
    let output = Command::new(env!("CARGO_BIN_EXE_lingerscan"))
        .env("LINGERSCAN_NO_HISTORY", "1")
        .args([
            "--format",
            "json",
            "--include-snapshot",
            "--smbstatus",
            "/nonexistent/smbstatus",
        ])
        .arg("--utmp-file")
        .arg(utmp)
        .arg("--logind-dir")
        .arg(logind)
        .args(extra)
        .output()
        .expect("run lingerscan");
    let took = started.elapsed();
    let report = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    });
    Scan {
        report,
        code: output.status.code(),
        took,
    }
}

/// A `sleep` running as `uid`; with `audit`, in a new audit session of that
/// uid (its login uid set first, as pam_loginuid does at login).
fn sleeper_as(procs: &mut support::Processes, uid: u32, gid: u32, audit: bool) -> u32 {
    let login = if audit {
        format!("echo {uid} > /proc/self/loginuid && ")
    } else {
        String::new()
    };
    procs.sleeper_as(uid, gid, &login)
}

fn ago(secs: i64) -> Timestamp {
    Timestamp::now() - SignedDuration::from_secs(secs)
}

fn reason(finding: &Value) -> &str {
    finding["reason"].as_str().unwrap_or_default()
}

#[test]
fn a_utmp_pid_reused_by_another_user_is_stale_and_not_filed_under_that_user() {
    if !support::require(
        "utmp_pid_reused_by_another_user",
        true,
        &["setpriv", "useradd"],
    ) {
        return;
    }
    let (alice, _) = support::ensure_user("lsreuse_a");
    let (bob, bob_gid) = support::ensure_user("lsreuse_b");
    let mut procs = support::Processes::default();
    // bob's process now holds the pid that alice's login had an hour ago;
    // it has an audit session of its own, so an all-users scan without
    // logind groups it as bob's login.
    let bobs = sleeper_as(&mut procs, bob, bob_gid, true);
    let dir = tempfile::tempdir().unwrap();
    let utmp = dir.path().join("utmp");
    write_login(&utmp, "lsreuse_a", "pts/71", bobs, ago(3600), "192.0.2.71");
    let logind = LogindTree::without_seats(&dir.path().join("logind"));

    let scan = scan(&utmp, logind.dir(), &[]);
    let stale = scan.finding("utmp_entry", "pts/71");
    assert_eq!(stale["verdict"], "STALE_UTMP", "{stale:#}");
    assert_eq!(stale["user"], "lsreuse_a");
    assert!(
        reason(stale).contains("reused") && reason(stale).contains("lsreuse_b"),
        "{stale:#}"
    );
    // Only alice's finding cites the record; bob's login does not.
    let citing = scan.findings_citing("workstation_users", |w| w["user"] == "lsreuse_a");
    assert_eq!(citing.len(), 1, "{citing:#?}");
    let bobs_login = scan
        .findings()
        .into_iter()
        .find(|f| f["kind"] == "audit_session" && f["user"] == "lsreuse_b")
        .expect("bob's audit session");
    assert!(
        !bobs_login["evidence"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["source"] == "workstation_users"),
        "{bobs_login:#}"
    );
    assert_eq!(scan.code, Some(1));
    let _ = alice;
}

#[test]
fn the_same_users_process_started_after_the_login_is_a_reused_pid() {
    if !support::require("same_user_reused_pid", true, &["setpriv", "useradd"]) {
        return;
    }
    let (uid, gid) = support::ensure_user("lsreuse_c");
    let mut procs = support::Processes::default();
    let later = sleeper_as(&mut procs, uid, gid, false);
    let dir = tempfile::tempdir().unwrap();
    let utmp = dir.path().join("utmp");
    write_login(&utmp, "lsreuse_c", "pts/72", later, ago(3600), "");
    let logind = LogindTree::new(&dir.path().join("logind"));

    let scan = scan(&utmp, logind.dir(), &["--user", "lsreuse_c"]);
    let stale = scan.finding("utmp_entry", "pts/72");
    assert_eq!(stale["verdict"], "STALE_UTMP", "{stale:#}");
    assert!(reason(stale).contains("after the login"), "{stale:#}");
}

#[test]
fn a_live_login_without_logind_is_one_finding_citing_all_its_records() {
    if !support::require("live_login_one_finding", true, &["setpriv", "useradd"]) {
        return;
    }
    let (uid, gid) = support::ensure_user("lslive_a");
    let mut procs = support::Processes::default();
    let shell = sleeper_as(&mut procs, uid, gid, true);
    let dir = tempfile::tempdir().unwrap();
    let utmp = dir.path().join("utmp");
    // sshd and login write utmp after the session's process started.
    write_login(
        &utmp,
        "lslive_a",
        "pts/73",
        shell,
        Timestamp::now(),
        "192.0.2.73",
    );
    let logind = LogindTree::without_seats(&dir.path().join("logind"));

    let scan = scan(&utmp, logind.dir(), &["--user", "lslive_a"]);
    let findings = scan.findings();
    assert_eq!(findings.len(), 1, "one login, one finding: {findings:#?}");
    let login = findings[0];
    assert_eq!(
        (login["kind"].as_str(), login["verdict"].as_str()),
        (Some("audit_session"), Some("ACTIVE"))
    );
    let sources: Vec<&str> = login["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["source"].as_str())
        .collect();
    for source in ["processes", "workstation_users", "interactive_sessions"] {
        assert!(sources.contains(&source), "{source} missing from {login:#}");
    }
    assert_eq!(scan.code, Some(0), "{:#}", scan.report);
}

#[test]
fn a_stale_utmp_record_is_one_finding_not_also_an_inconclusive_terminal() {
    if !support::require("stale_utmp_one_finding", true, &[]) {
        return;
    }
    let mut procs = support::Processes::default();
    let gone = procs.sleeper();
    procs.end(gone);
    let dir = tempfile::tempdir().unwrap();
    let utmp = dir.path().join("utmp");
    write_login(&utmp, "root", "pts/74", gone, ago(600), "192.0.2.74");
    let logind = LogindTree::new(&dir.path().join("logind"));

    let scan = scan(&utmp, logind.dir(), &["--user", "root"]);
    let on_line: Vec<&Value> = scan
        .findings()
        .into_iter()
        .filter(|f| f["session_id"] == "pts/74")
        .collect();
    assert_eq!(on_line.len(), 1, "{on_line:#?}");
    assert_eq!(on_line[0]["verdict"], "STALE_UTMP");
    assert!(
        on_line[0]["evidence"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["source"] == "interactive_sessions"),
        "the terminal row is cited, not judged again: {:#}",
        on_line[0]
    );
    assert!(
        !scan
            .findings()
            .iter()
            .any(|f| f["verdict"] == "INCONCLUSIVE")
    );
}

#[test]
fn logind_sessions_are_judged_by_their_processes_before_their_state() {
    if !support::require("logind_processes_first", true, &["setpriv", "useradd"]) {
        return;
    }
    let (alice, _) = support::ensure_user("lslogind_a");
    let (bob, bob_gid) = support::ensure_user("lslogind_b");
    let mut procs = support::Processes::default();
    let gone = procs.sleeper();
    procs.end(gone);
    let bobs = sleeper_as(&mut procs, bob, bob_gid, false);
    let dir = tempfile::tempdir().unwrap();
    let mut tree = LogindTree::new(&dir.path().join("logind"));
    tree.add_user(alice, "lslogind_a", "active");
    let session = |id: &str, state: &str, leader: u32| {
        let mut s = SessionSpec::new(id, alice, "lslogind_a");
        s.state = state.into();
        s.leader = Some(leader);
        s.realtime = ago(60);
        s
    };
    tree.add_session(&session("20", "active", gone));
    let mut seat = session("21", "online", gone);
    seat.tty = None;
    seat.seat = Some("seat0".into());
    seat.kind = "x11".into();
    seat.remote_host = None;
    seat.service = Some("gdm-password".into());
    tree.add_session(&seat);
    tree.add_session(&session("22", "opening", gone));
    tree.add_session(&session("23", "active", bobs));
    let mut nameless = session("24", "active", gone);
    nameless.user = None;
    tree.add_session(&nameless);

    let scan = scan(
        &dir.path().join("no-utmp"),
        tree.dir(),
        &["--max-idle", "1h"],
    );
    let verdict = |id: &str| scan.finding("logon_session", id);
    let tty = verdict("20");
    assert_eq!(
        tty["verdict"], "LEAKED_LOGON",
        "pts/20 with nothing left: {tty:#}"
    );
    assert!(
        reason(tty).contains("leader") && reason(tty).contains("gone"),
        "{tty:#}"
    );
    assert_eq!(
        verdict("21")["verdict"],
        "LEAKED_LOGON",
        "online seat0 with nothing left"
    );
    let opening = verdict("22");
    assert_eq!(
        (opening["verdict"].as_str(), opening["lingering"].as_bool()),
        (Some("ACTIVE"), Some(false))
    );
    assert!(reason(opening).contains("opening"), "{opening:#}");
    let reused = verdict("23");
    assert_eq!(reused["verdict"], "LEAKED_LOGON", "{reused:#}");
    assert!(reason(reused).contains("lslogind_b"), "{reused:#}");
    assert!(!reason(reused).contains("process(es) remain"), "{reused:#}");
    assert_eq!(
        verdict("24")["user"],
        "lslogind_a",
        "USER= missing: named from UID="
    );
    assert_eq!(scan.code, Some(1));
}

#[test]
fn leftover_logind_files_without_logind_fall_back_to_audit_sessions() {
    if !support::require("leftover_logind_files", true, &["setpriv", "useradd"]) {
        return;
    }
    let (uid, gid) = support::ensure_user("lsleft_a");
    let mut procs = support::Processes::default();
    let shell = sleeper_as(&mut procs, uid, gid, true);
    let dir = tempfile::tempdir().unwrap();
    let mut tree = LogindTree::without_seats(&dir.path().join("logind"));
    let mut leftover = SessionSpec::new("30", uid, "lsleft_a");
    leftover.leader = Some(shell);
    tree.add_session(&leftover);

    let scan = scan(
        &dir.path().join("no-utmp"),
        tree.dir(),
        &["--user", "lsleft_a"],
    );
    let logons = &scan.host()["snapshot"]["logon_sessions"];
    assert_eq!(logons["status"], "failed", "{logons:#}");
    assert_eq!(logons["kind"], "not_available");
    assert!(
        logons["message"]
            .as_str()
            .unwrap_or_default()
            .contains("not running"),
        "{logons:#}"
    );
    let login = scan
        .findings()
        .into_iter()
        .find(|f| f["kind"] == "audit_session")
        .unwrap_or_else(|| panic!("grouped by audit session: {:#?}", scan.findings()));
    assert_eq!(login["verdict"], "ACTIVE");
    assert!(
        scan.host()["snapshot"]["processes"]["rows"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["pid"] == shell)
    );
}

#[test]
fn a_local_source_that_blocks_is_cut_at_the_timeout_and_the_rest_is_reported() {
    if !support::require("blocked_local_source", true, &[]) {
        return;
    }
    // A process directory whose stat file is a FIFO nobody writes: opening it
    // blocks forever, as a read on a hung filesystem would.
    let dir = tempfile::tempdir().unwrap();
    let proc_dir = dir.path().join("proc");
    std::fs::create_dir_all(proc_dir.join("1")).unwrap();
    std::fs::write(proc_dir.join("stat"), "btime 1700000000\n").unwrap();
    support::logind::mkfifo(&proc_dir.join("1/stat"), 0o600);
    let utmp = dir.path().join("utmp");
    write_login(&utmp, "root", "pts/75", 1, ago(60), "");
    let logind = LogindTree::new(&dir.path().join("logind"));

    let started = Instant::now();
    let scan = scan(
        &utmp,
        logind.dir(),
        &["--proc-dir", proc_dir.to_str().unwrap(), "--timeout", "1s"],
    );
    eprintln!("scan with a blocked /proc took {:?}", scan.took);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    let processes = &scan.host()["snapshot"]["processes"];
    assert_eq!(
        (processes["status"].as_str(), processes["kind"].as_str()),
        (Some("failed"), Some("timeout")),
        "{processes:#}"
    );
    assert_eq!(scan.host()["snapshot"]["workstation_users"]["status"], "ok");
    assert_eq!(scan.host()["snapshot"]["logon_sessions"]["status"], "ok");
    assert_eq!(scan.code, Some(2), "undecided, never clean or lingering");
}

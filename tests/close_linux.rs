//! `lingerscan close` on this machine: a stale utmp record marked dead as
//! glibc's logout() does (read back by glibc's getutxent), the live one left
//! alone, a dry run that changes nothing, and the leftover process of a
//! closing logind session ended (SIGTERM, then SIGKILL) while an active
//! session's process lives on. Every run writes its history to a temp dir.
#![cfg(target_os = "linux")]

mod support;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use support::close::{actions, text};
use support::glibc_utmp::{read_all, write_login};
use support::logind::LogindTree;

const USER_PROCESS: i16 = 7;
const DEAD_PROCESS: i16 = 8;

fn ago(secs: i64) -> Timestamp {
    Timestamp::now() - SignedDuration::from_secs(secs)
}

struct Files {
    dir: tempfile::TempDir,
}

impl Files {
    fn new() -> Files {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("wtmp"), b"").unwrap();
        std::fs::create_dir_all(dir.path().join("logind")).unwrap();
        Files { dir }
    }
    fn path(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(name)
    }
}

/// `lingerscan close` on this machine with the test's files; stdin is not a terminal.
fn close(files: &Files, logind: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lingerscan"))
        .arg("close")
        .arg("--utmp-file")
        .arg(files.path("utmp"))
        .arg("--wtmp-file")
        .arg(files.path("wtmp"))
        .arg("--logind-dir")
        .arg(logind)
        .args(["--smbstatus", "/nonexistent/smbstatus"])
        .arg("--db")
        .arg(files.path("history.sqlite"))
        .args(extra)
        .stdin(Stdio::null())
        .output()
        .expect("run lingerscan")
}

#[test]
fn a_stale_utmp_record_is_marked_dead_and_logged_and_the_live_one_is_left() {
    if !support::require("close_stale_utmp", true, &[]) {
        return;
    }
    let mut procs = support::Processes::default();
    let gone = procs.sleeper();
    procs.end(gone);
    let live = procs.sleeper();
    let files = Files::new();
    let utmp = files.path("utmp");
    write_login(&utmp, "root", "pts/81", gone, ago(600), "192.0.2.81");
    // The live login: after its process started, as login(1) writes it.
    std::thread::sleep(Duration::from_millis(50));
    write_login(
        &utmp,
        "root",
        "pts/82",
        live,
        Timestamp::now(),
        "192.0.2.82",
    );
    let logind = files.path("logind");
    let before = (
        std::fs::read(&utmp).unwrap(),
        std::fs::read(files.path("wtmp")).unwrap(),
    );

    // Dry run (no --yes, no terminal): the plan, and not a byte changed.
    let dry = close(&files, &logind, &["--verdict", "STALE_UTMP"]);
    let shown = text(&dry);
    assert_eq!(dry.status.code(), Some(0), "{shown}");
    assert!(
        shown.contains("pts/81") && shown.contains("Dry run"),
        "{shown}"
    );
    assert!(
        !shown.contains("pts/82"),
        "the live login is not in the plan: {shown}"
    );
    let after_dry = (
        std::fs::read(&utmp).unwrap(),
        std::fs::read(files.path("wtmp")).unwrap(),
    );
    assert!(before == after_dry, "a dry run changed utmp or wtmp");
    assert!(actions(&files.path("history.sqlite")).is_empty());

    let done = close(&files, &logind, &["--verdict", "STALE_UTMP", "--yes"]);
    let shown = text(&done);
    assert_eq!(done.status.code(), Some(0), "{shown}");
    assert!(shown.contains("re-scan: gone"), "{shown}");

    let records = read_all(&utmp);
    let stale = records.iter().find(|r| r.line == "pts/81").expect("pts/81");
    assert_eq!(stale.kind, DEAD_PROCESS, "{records:?}");
    assert_eq!((stale.user.as_str(), stale.host.as_str()), ("", ""));
    assert_eq!(
        stale.pid,
        i32::try_from(gone).unwrap(),
        "logout() keeps ut_pid"
    );
    let kept = records.iter().find(|r| r.line == "pts/82").expect("pts/82");
    assert_eq!(kept.kind, USER_PROCESS);
    assert_eq!(kept.user, "root");
    assert_eq!(kept.host, "192.0.2.82");

    let wtmp = read_all(&files.path("wtmp"));
    assert_eq!(wtmp.len(), 1, "{wtmp:?}");
    assert_eq!(wtmp[0].kind, DEAD_PROCESS);
    assert_eq!(wtmp[0].line, "pts/81");
    assert_eq!(wtmp[0].user, "");

    let recorded = actions(&files.path("history.sqlite"));
    assert_eq!(recorded.len(), 1, "{recorded:#?}");
    assert_eq!(recorded[0]["outcome"], "done");
    assert_eq!(recorded[0]["checked"], "gone");
    assert_eq!(recorded[0]["actor"], "root");
    assert_eq!(recorded[0]["verdict"], "STALE_UTMP");
    assert_eq!(recorded[0]["session_id"], "pts/81");
}

#[test]
fn a_utmp_record_whose_process_lives_is_never_written() {
    if !support::require("close_live_utmp_refused", true, &[]) {
        return;
    }
    let mut procs = support::Processes::default();
    let live = procs.sleeper();
    let files = Files::new();
    let utmp = files.path("utmp");
    std::thread::sleep(Duration::from_millis(50));
    let login = Timestamp::now();
    write_login(&utmp, "root", "pts/83", live, login, "");
    let before = std::fs::read(&utmp).unwrap();
    // As if a scan had (wrongly, or before a new login) called it stale:
    // the re-check under the lock refuses.
    let login = read_all(&utmp)
        .into_iter()
        .find(|r| r.line == "pts/83")
        .map(|_| {
            lingerscan::collect::linux::utmp::read(&utmp)
                .unwrap()
                .into_iter()
                .find(|r| r.line == "pts/83")
                .unwrap()
                .login_time()
        })
        .unwrap();
    let result = lingerscan::close::utmp::mark_dead(
        &lingerscan::close::utmp::Paths {
            utmp: &utmp,
            wtmp: &files.path("wtmp"),
            proc_dir: Path::new("/proc"),
        },
        &lingerscan::close::utmp::Expected {
            line: "pts/83",
            pid: live,
            user: "root",
            login_time: login,
        },
    );
    assert!(
        matches!(result, Err(lingerscan::close::CloseError::Refused(_))),
        "{result:?}"
    );
    assert_eq!(std::fs::read(&utmp).unwrap(), before);
    assert!(std::fs::read(files.path("wtmp")).unwrap().is_empty());
}

/// A `sleep` as `uid` that ignores SIGTERM when `stubborn` (an ignored
/// signal stays ignored across exec), so that only SIGKILL ends it.
fn sleeper_as(procs: &mut support::Processes, uid: u32, gid: u32, stubborn: bool) -> u32 {
    procs.sleeper_as(uid, gid, if stubborn { "trap '' TERM; " } else { "" })
}

#[test]
fn the_leftover_process_of_a_closing_session_is_ended_and_an_active_one_lives() {
    if !support::require("close_leftover_processes", true, &["setpriv", "useradd"]) {
        return;
    }
    let (uid, gid) = support::ensure_user("lsclose");
    let mut procs = support::Processes::default();
    let leftover = sleeper_as(&mut procs, uid, gid, true);
    let active = sleeper_as(&mut procs, uid, gid, false);
    let files = Files::new();
    let mut tree = LogindTree::new(&files.path("logind-tree"));
    let mut closing = support::logind::SessionSpec::new("52", uid, "lsclose");
    closing.state = "closing".into();
    closing.leader = Some(leftover);
    tree.add_session(&closing);
    let mut open = support::logind::SessionSpec::new("53", uid, "lsclose");
    open.leader = Some(active);
    tree.add_session(&open);

    let dry = close(
        &files,
        tree.dir(),
        &["--user", "lsclose", "--verdict", "CLOSING"],
    );
    let shown = text(&dry);
    assert_eq!(dry.status.code(), Some(0), "{shown}");
    assert!(shown.contains(&leftover.to_string()), "{shown}");
    assert!(support::alive(leftover), "a dry run signalled a process");

    let done = close(
        &files,
        tree.dir(),
        &[
            "--user",
            "lsclose",
            "--verdict",
            "CLOSING",
            "--yes",
            "--grace",
            "500ms",
        ],
    );
    let shown = text(&done);
    assert_eq!(done.status.code(), Some(0), "{shown}");
    assert!(
        !support::alive(leftover),
        "the leftover process still runs: {shown}"
    );
    assert!(
        support::alive(active),
        "the active session's process was ended"
    );
    assert!(
        shown.contains("SIGKILL to 1"),
        "it ignored SIGTERM: {shown}"
    );
    let recorded = actions(&files.path("history.sqlite"));
    assert_eq!(recorded.len(), 1, "{recorded:#?}");
    assert_eq!(recorded[0]["outcome"], "done");
    assert_eq!(recorded[0]["session_id"], "52");
}

//! `lingerscan close` ends a leaked logind session with `TerminateSession`
//! on the system D-Bus. The test machine runs no systemd, so the bus is a
//! private `dbus-daemon` (pointed at with `DBUS_SYSTEM_BUS_ADDRESS`, as
//! any D-Bus client honours) and logind a stand-in written in Python
//! (python3-dbus) that records each call on its stdout and removes the
//! session's file as logind would. Every run writes its history to a temp dir.
#![cfg(target_os = "linux")]

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use support::close::{actions, text};
use support::dbus::{PYTHON, PrivateBus};
use support::logind::{LogindTree, SessionSpec};

const STAND_IN: &str = r#"
import os, sys
import dbus, dbus.service, dbus.mainloop.glib
from gi.repository import GLib

address, logind_dir = sys.argv[1], sys.argv[2]
dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)
bus = dbus.bus.BusConnection(address)

class Manager(dbus.service.Object):
    @dbus.service.method("org.freedesktop.login1.Manager", in_signature="s", out_signature="")
    def TerminateSession(self, session_id):
        print("TERMINATE", session_id, flush=True)
        # logind removes the session's state file when it is gone.
        try:
            os.unlink(os.path.join(logind_dir, "sessions", session_id))
        except FileNotFoundError:
            raise dbus.exceptions.DBusException(
                "No session '%s' known" % session_id,
                name="org.freedesktop.login1.NoSuchSession")

name = dbus.service.BusName("org.freedesktop.login1", bus)
Manager(bus, "/org/freedesktop/login1")
print("READY", flush=True)
GLib.MainLoop().run()
"#;

/// The private bus with the stand-in logind on it.
fn start_bus(dir: &Path, logind_dir: &Path) -> PrivateBus {
    PrivateBus::start(dir, STAND_IN, &[logind_dir.to_str().expect("utf-8 path")])
}

struct Files {
    dir: tempfile::TempDir,
}

impl Files {
    fn new() -> Files {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("wtmp"), b"").unwrap();
        std::fs::write(dir.path().join("utmp"), b"").unwrap();
        Files { dir }
    }
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

fn close(files: &Files, logind: &Path, bus: &str, extra: &[&str]) -> Output {
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
        .env("DBUS_SYSTEM_BUS_ADDRESS", bus)
        .stdin(Stdio::null())
        .output()
        .expect("run lingerscan")
}

/// Two sessions of root: 61 leaked (no process, its leader gone), 62 with
/// its leader alive. Only 61 is to be terminated.
fn fixture(files: &Files, procs: &mut support::Processes) -> LogindTree {
    let gone = procs.sleeper();
    procs.end(gone);
    let live = procs.sleeper();
    let mut tree = LogindTree::new(&files.path("logind"));
    let mut leaked = SessionSpec::new("61", 0, "root");
    leaked.leader = Some(gone);
    tree.add_session(&leaked);
    let mut open = SessionSpec::new("62", 0, "root");
    open.leader = Some(live);
    tree.add_session(&open);
    tree
}

#[test]
fn a_leaked_logind_session_is_terminated_over_dbus_and_a_dry_run_calls_nothing() {
    if !support::require("close_logind_terminate", true, &["dbus-daemon", PYTHON]) {
        return;
    }
    let files = Files::new();
    let mut procs = support::Processes::default();
    let tree = fixture(&files, &mut procs);
    let bus = start_bus(files.dir.path(), tree.dir());

    let dry = close(
        &files,
        tree.dir(),
        &bus.address,
        &["--verdict", "LEAKED_LOGON"],
    );
    let shown = text(&dry);
    assert_eq!(dry.status.code(), Some(0), "{shown}");
    assert!(
        shown.contains("terminate the logind session 61") && shown.contains("Dry run"),
        "{shown}"
    );
    assert!(
        !shown.contains("session 62"),
        "the live session is not in the plan: {shown}"
    );
    assert_eq!(bus.calls(), Vec::<String>::new(), "a dry run called logind");
    assert!(actions(&files.path("history.sqlite")).is_empty());

    let done = close(
        &files,
        tree.dir(),
        &bus.address,
        &["--verdict", "LEAKED_LOGON", "--yes"],
    );
    let shown = text(&done);
    assert_eq!(done.status.code(), Some(0), "{shown}");
    assert_eq!(bus.calls(), vec!["TERMINATE 61".to_string()], "{shown}");
    assert!(shown.contains("re-scan: gone"), "{shown}");
    assert!(tree.dir().join("sessions/62").exists());

    let recorded = actions(&files.path("history.sqlite"));
    assert_eq!(recorded.len(), 1, "{recorded:#?}");
    assert_eq!(recorded[0]["outcome"], "done");
    assert_eq!(recorded[0]["checked"], "gone");
    assert_eq!(recorded[0]["verdict"], "LEAKED_LOGON");
    assert_eq!(recorded[0]["session_id"], "61");
}

#[test]
fn without_a_reachable_bus_the_action_fails_and_says_why() {
    if !support::require("close_logind_no_bus", true, &[]) {
        return;
    }
    let files = Files::new();
    let mut procs = support::Processes::default();
    let tree = fixture(&files, &mut procs);
    let nowhere = format!("unix:path={}", files.path("no-bus.sock").display());
    let done = close(
        &files,
        tree.dir(),
        &nowhere,
        &["--verdict", "LEAKED_LOGON", "--yes"],
    );
    let shown = text(&done);
    assert!(shown.contains("cannot be reached"), "{shown}");
    assert!(
        tree.dir().join("sessions/61").exists(),
        "nothing else happened"
    );
    let recorded = actions(&files.path("history.sqlite"));
    assert_eq!(recorded.len(), 1, "{recorded:#?}");
    assert_eq!(recorded[0]["outcome"], "failed");
}

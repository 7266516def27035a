//! `lingerscan close` ends a leaked logind session with `TerminateSession`
//! on the system D-Bus. The test machine runs no systemd, so the bus is a
//! private `dbus-daemon` (pointed at with `DBUS_SYSTEM_BUS_ADDRESS`, as
//! any D-Bus client honours) and logind a stand-in written in Python
//! (python3-dbus) that records each call on its stdout and removes the
//! session's file as logind would. Every run writes its history to a temp dir.
#![cfg(target_os = "linux")]

mod support;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::Duration;

use serde_json::Value;
use support::logind::{LogindTree, SessionSpec};

/// The stand-in needs the system python's `dbus` and `gi` (Debian's
/// python3-dbus, python3-gi): a venv's python has neither.
const PYTHON: &str = "/usr/bin/python3";

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

/// A child killed (by its own pid) and reaped on drop.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The private bus and the stand-in logind on it. Dropped in reverse order
/// of fields: the service first, then the bus.
struct TestBus {
    address: String,
    lines: Receiver<String>,
    _service: Killed,
    _daemon: Killed,
}

impl TestBus {
    fn start(dir: &Path, logind_dir: &Path) -> TestBus {
        let socket = dir.join("bus.sock");
        let config = dir.join("bus.conf");
        std::fs::write(
            &config,
            format!(
                r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <listen>unix:path={}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
"#,
                socket.display()
            ),
        )
        .unwrap();
        let daemon = Killed(
            Command::new("dbus-daemon")
                .arg(format!("--config-file={}", config.display()))
                .args(["--print-address", "--nofork"])
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("start dbus-daemon"),
        );
        assert!(
            support::wait_until(Duration::from_secs(10), || socket.exists()),
            "dbus-daemon did not listen on {}",
            socket.display()
        );
        let address = format!("unix:path={}", socket.display());
        let mut service = Killed(
            Command::new(PYTHON)
                .args(["-c", STAND_IN, &address])
                .arg(logind_dir)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("start the stand-in logind"),
        );
        let stdout = service.0.stdout.take().expect("piped stdout");
        let (send, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        let ready = lines.recv_timeout(Duration::from_secs(20));
        assert_eq!(
            ready.as_deref(),
            Ok("READY"),
            "the stand-in logind did not start"
        );
        TestBus {
            address,
            lines,
            _service: service,
            _daemon: daemon,
        }
    }

    /// Every call recorded so far (the stand-in answers before it returns,
    /// and lingerscan waits for the answer, so they are all in by now).
    fn calls(&self) -> Vec<String> {
        let mut calls = Vec::new();
        while let Ok(line) = self.lines.recv_timeout(Duration::from_millis(300)) {
            calls.push(line);
        }
        calls
    }
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

fn text(output: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn actions(files: &Files) -> Vec<Value> {
    let output = Command::new(env!("CARGO_BIN_EXE_lingerscan"))
        .args(["history", "--actions", "-f", "json", "--db"])
        .arg(files.path("history.sqlite"))
        .output()
        .expect("run lingerscan history");
    let doc: Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(&output)));
    doc["actions"].as_array().cloned().unwrap_or_default()
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
    let bus = TestBus::start(files.dir.path(), tree.dir());

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
    assert!(actions(&files).is_empty());

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

    let recorded = actions(&files);
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
    let recorded = actions(&files);
    assert_eq!(recorded.len(), 1, "{recorded:#?}");
    assert_eq!(recorded[0]["outcome"], "failed");
}

//! The local scan reads logind's sessions over the system D-Bus where the
//! bus answers, and its files otherwise. The test machine runs no systemd:
//! the bus is a private `dbus-daemon` (found through
//! `DBUS_SYSTEM_BUS_ADDRESS`, as every D-Bus client finds it) and logind a
//! stand-in written in Python (python3-dbus) answering `ListSessions` and
//! `Properties.GetAll` for the sessions the test gives it.
#![cfg(target_os = "linux")]

mod support;

use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::{Value, json};

use support::dbus::{PYTHON, PrivateBus};

/// Sessions come as JSON in argv[2]: id → properties, typed as logind types them.
const STAND_IN: &str = r#"
import json, sys
import dbus, dbus.service, dbus.mainloop.glib
from gi.repository import GLib

address, sessions = sys.argv[1], json.loads(sys.argv[2])
dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)
bus = dbus.bus.BusConnection(address)
BASE = "/org/freedesktop/login1"

def path_of(sid):
    return BASE + "/session/_3" + sid if sid[0].isdigit() else BASE + "/session/" + sid

def props(sid, p):
    return dbus.Dictionary({
        "Id": dbus.String(sid),
        "Name": dbus.String(p["name"]),
        "User": dbus.Struct((dbus.UInt32(p["uid"]), dbus.ObjectPath(BASE + "/user/_%d" % p["uid"])), signature="uo"),
        "State": dbus.String(p["state"]),
        "Leader": dbus.UInt32(p["leader"]),
        "TTY": dbus.String(p["tty"]),
        "Seat": dbus.Struct((dbus.String(""), dbus.ObjectPath("/")), signature="so"),
        "Remote": dbus.Boolean(True),
        "RemoteHost": dbus.String(p["remote_host"]),
        "Service": dbus.String(p["service"]),
        "Type": dbus.String("tty"),
        "Class": dbus.String("user"),
        "Timestamp": dbus.UInt64(1700000000123456),
        "Scope": dbus.String("session-%s.scope" % sid),
        "Active": dbus.Boolean(p["state"] == "active"),
    }, signature="sv")

class Manager(dbus.service.Object):
    @dbus.service.method("org.freedesktop.login1.Manager", in_signature="", out_signature="a(susso)")
    def ListSessions(self):
        return [(sid, dbus.UInt32(p["uid"]), p["name"], "", dbus.ObjectPath(path_of(sid)))
                for sid, p in sorted(sessions.items())]

class Session(dbus.service.Object):
    def __init__(self, sid, p):
        dbus.service.Object.__init__(self, bus, path_of(sid))
        self.sid, self.p = sid, p
    @dbus.service.method("org.freedesktop.DBus.Properties", in_signature="s", out_signature="a{sv}")
    def GetAll(self, interface):
        return props(self.sid, self.p)

name = dbus.service.BusName("org.freedesktop.login1", bus)
Manager(bus, BASE)
objects = [Session(sid, p) for sid, p in sessions.items()]
print("READY", flush=True)
GLib.MainLoop().run()
"#;

/// The private bus with the stand-in logind serving `sessions` on it.
fn start_bus(dir: &Path, sessions: &Value) -> PrivateBus {
    PrivateBus::start(dir, STAND_IN, &[&sessions.to_string()])
}

/// A local scan as JSON with its snapshot; `extra` adds arguments.
fn scan(dir: &Path, bus: &str, extra: &[&str]) -> Value {
    let utmp = dir.join("utmp");
    std::fs::write(&utmp, b"").unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_lingerscan"))
        .env("LINGERSCAN_NO_HISTORY", "1")
        .env("DBUS_SYSTEM_BUS_ADDRESS", bus)
        .env_remove("LINGERSCAN_LOGIND_SOURCE")
        .args(["--format", "json", "--include-snapshot", "--timeout", "20s"])
        .arg("--utmp-file")
        .arg(&utmp)
        .args(["--smbstatus", "/nonexistent/smbstatus"])
        .args(extra)
        .stdin(Stdio::null())
        .output()
        .expect("run lingerscan");
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "no JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

fn notes(report: &Value) -> Vec<String> {
    report["hosts"][0]["snapshot"]["notes"]
        .as_array()
        .map(|n| {
            n.iter()
                .filter_map(|s| s.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

fn logon_row<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["hosts"][0]["snapshot"]["logon_sessions"]["rows"]
        .as_array()
        .and_then(|rows| rows.iter().find(|r| r["logon_id"] == id))
        .unwrap_or_else(|| panic!("no logon session {id}: {report:#}"))
}

/// Session 71: active, its leader a live process of the test; 72: closing,
/// its leader gone.
fn two_sessions(procs: &mut support::Processes) -> (Value, u32, u32) {
    let live = procs.sleeper();
    let gone = procs.sleeper();
    procs.end(gone);
    let sessions = json!({
        "71": {"name": "root", "uid": 0, "state": "active", "leader": live,
               "tty": "pts/7", "remote_host": "192.0.2.71", "service": "sshd"},
        "72": {"name": "root", "uid": 0, "state": "closing", "leader": gone,
               "tty": "", "remote_host": "192.0.2.72", "service": "login"},
    });
    (sessions, live, gone)
}

#[test]
fn a_scan_reads_logind_over_dbus_where_the_bus_answers() {
    if !support::require("logind_dbus_scan", false, &["dbus-daemon", PYTHON]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut procs = support::Processes::default();
    let (sessions, live, gone) = two_sessions(&mut procs);
    let bus = start_bus(dir.path(), &sessions);

    // The default --logind-dir: this machine's logind, so the bus is asked.
    let report = scan(dir.path(), &bus.address, &[]);
    let notes = notes(&report);
    assert!(
        notes
            .iter()
            .any(|n| n.starts_with("logind: 2 session(s) read over D-Bus")
                && n.contains(&bus.address)),
        "{notes:#?}"
    );
    let active = logon_row(&report, "71");
    assert_eq!(active["state"], "active");
    assert_eq!(active["leader_pid"], live);
    assert_eq!(active["tty"], "pts/7");
    assert_eq!(active["remote_host"], "192.0.2.71");
    assert_eq!(active["service"], "sshd");
    assert_eq!(active["uid"], 0);
    assert_eq!(active["session_type"], "tty/user");
    let closing = logon_row(&report, "72");
    assert_eq!(closing["state"], "closing");
    assert_eq!(closing["leader_pid"], gone);
    assert_eq!(closing["remote_host"], "192.0.2.72");
    assert_eq!(closing["service"], "login");
    assert!(closing.get("tty").is_none_or(Value::is_null), "{closing}");
}

#[test]
fn without_a_bus_the_files_are_read_and_the_note_says_why() {
    if !support::require("logind_dbus_fallback", false, &[]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let nowhere = format!("unix:path={}", dir.path().join("no-bus.sock").display());
    let report = scan(dir.path(), &nowhere, &[]);
    let first = notes(&report);
    assert!(
        first.iter().any(|n| n
            .starts_with("logind: sessions read from its files, not D-Bus: the system D-Bus")
            && n.contains("cannot be reached")),
        "{first:#?}"
    );

    // A copied tree is never compared with this machine's bus by default.
    let copied = dir.path().join("logind");
    std::fs::create_dir_all(copied.join("sessions")).unwrap();
    let report = scan(
        dir.path(),
        &nowhere,
        &["--logind-dir", copied.to_str().unwrap()],
    );
    assert!(
        notes(&report).iter().any(|n| n.contains("--logind-dir")),
        "{report:#}"
    );
}

#[test]
fn forced_dbus_notes_where_the_files_disagree() {
    if !support::require("logind_dbus_disagree", false, &["dbus-daemon", PYTHON]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut procs = support::Processes::default();
    let (sessions, _, _) = two_sessions(&mut procs);
    let bus = start_bus(dir.path(), &sessions);
    let files = dir.path().join("logind");
    std::fs::create_dir_all(files.join("sessions")).unwrap();
    std::fs::write(
        files.join("sessions/71"),
        "UID=0\nUSER=root\nSTATE=active\n",
    )
    .unwrap();
    std::fs::write(
        files.join("sessions/73"),
        "UID=0\nUSER=root\nSTATE=active\n",
    )
    .unwrap();

    let report = scan(
        dir.path(),
        &bus.address,
        &[
            "--logind-source",
            "dbus",
            "--logind-dir",
            files.to_str().unwrap(),
        ],
    );
    let notes = notes(&report);
    assert!(
        notes.iter().any(|n| n.contains("disagree")
            && n.contains("only on the bus: [72]")
            && n.contains("only in the files: [73]")),
        "{notes:#?}"
    );
    logon_row(&report, "72");
}

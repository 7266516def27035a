//! [MS-TSTS] against an independent implementation: impacket's SMB server
//! forwarding `\pipe\LSM_API_service` and `\pipe\Ctx_WinStation_API_service`
//! to impacket's DCE/RPC server, answering with impacket's tsts.py
//! structures (tests/impacket/tsts_server.py). lingerscan must read what
//! impacket's own tstool.py reads from the same server (qwinsta, tasklist),
//! and its requests must be what impacket encodes for the same calls.
//! Loopback addresses 127.0.0.180-189, ports 14970-14989.
#![cfg(unix)]

mod support;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};

use lingerscan::collect::msrpc::tsts::{logoff, processes, sessions};
use serde_json::Value;
use support::tsts::{IMPACKET_DIALECT, PASSWORD, Server, USER, python, root};

const ALICE: &str = "S-1-5-21-1004336348-1177238915-682003330-1105";
const BOB: &str = "S-1-5-21-1004336348-1177238915-682003330-1106";

/// impacket's tstool.py ACTION against this server: its stdout.
fn tstool(server: &Server, python: &Path, action: &str) -> String {
    let venv_bin = Path::new(root()).join("target/impacket-venv/bin");
    let out = Command::new(python)
        .arg(format!("{}/tests/impacket/tstool_plain.py", root()))
        .arg(venv_bin.join("tstool.py"))
        .arg(format!("CORP/{USER}:{PASSWORD}@{}", server.ip))
        .arg(action)
        .env("SMB_PORT", server.port.to_string())
        .stdin(Stdio::null())
        .output()
        .expect("run tstool.py");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success() && !stdout.contains("[-]"),
        "tstool {action} failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// `lingerscan scan` against this server: the host's snapshot.
fn scan(server: &Server) -> Value {
    scan_host(server, &["--include-snapshot"]).1["hosts"][0]["snapshot"].clone()
}

/// qwinsta's table: (id, session name, state, DOMAIN\user), columns cut
/// where the header's words start (a blank name or user leaves a gap).
fn qwinsta_rows(text: &str) -> BTreeSet<(String, String, String, String)> {
    let mut lines = text.lines().skip_while(|l| !l.starts_with("SESSIONNAME"));
    let header = lines.next().expect("qwinsta header");
    let at = |word: &str| header.find(word).expect("column");
    let (name, user, id, state, desktop) = (
        at("SESSIONNAME"),
        at("USERNAME"),
        at(" ID") + 1,
        at("STATE"),
        at("Desktop"),
    );
    lines
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let cut = |from: usize, to: usize| l.get(from..to).unwrap_or("").trim().to_string();
            (
                cut(id, state),
                cut(name, user),
                cut(state, desktop),
                cut(user, id),
            )
        })
        .collect()
}

/// tasklist's table: (pid, image, session, SID), tstool's names for
/// well-known SIDs turned back into SIDs.
fn tasklist_rows(text: &str) -> BTreeSet<(u64, String, u64, String)> {
    text.lines()
        .skip_while(|l| !l.starts_with("Image Name"))
        .skip(2)
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let sid = match f[3] {
                "SYSTEM" => "S-1-5-18",
                other => other,
            };
            (
                f[1].parse().unwrap(),
                f[0].to_string(),
                f[2].parse().unwrap(),
                sid.to_string(),
            )
        })
        .collect()
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or("").to_string()
}

#[test]
fn lingerscan_reads_what_tstool_reads() {
    let Some(python) = python() else { return };
    let server = Server::start(&python, "windows", "127.0.0.180", 14970);
    let qwinsta = qwinsta_rows(&tstool(&server, &python, "qwinsta"));
    let tasklist = tasklist_rows(&tstool(&server, &python, "tasklist"));
    assert_eq!(qwinsta.len(), 5, "{qwinsta:?}");
    assert_eq!(tasklist.len(), 6, "{tasklist:?}");

    let snapshot = scan(&server);
    let sessions = &snapshot["interactive_sessions"];
    assert_eq!(sessions["status"], "ok", "{sessions}");
    let ours: BTreeSet<_> = sessions["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let user = match (s["domain"].as_str(), s["user"].as_str()) {
                (Some(domain), Some(user)) => format!("{domain}\\{user}"),
                _ => String::new(),
            };
            (
                text(&s["session_id"]),
                text(&s["station"]),
                text(&s["state"]),
                user,
            )
        })
        .collect();
    assert_eq!(ours, qwinsta);

    let processes = &snapshot["processes"];
    assert_eq!(processes["status"], "ok", "{processes}");
    let ours: BTreeSet<_> = processes["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            assert!(
                p.get("user").is_none(),
                "owners are named by LSA, not here: {p}"
            );
            (
                p["pid"].as_u64().unwrap(),
                text(&p["name"]),
                p["terminal_session_id"].as_u64().unwrap(),
                text(&p["sid"]),
            )
        })
        .collect();
    assert_eq!(ours, tasklist);
    assert_eq!(ours.iter().filter(|p| p.3 == ALICE).count(), 3);
    assert_eq!(ours.iter().filter(|p| p.3 == BOB).count(), 1);

    // Idle times: alice typed 30 s ago, bob was disconnected 3 h ago.
    let row = |id: &str| {
        sessions["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["session_id"] == id)
            .cloned()
            .unwrap()
    };
    let idle = |id| row(id)["idle_secs"].as_u64().expect("idle time");
    assert!((30..200).contains(&idle("1")), "{}", row("1"));
    assert!(
        (3 * 3600..3 * 3600 + 200).contains(&idle("2")),
        "{}",
        row("2")
    );
    assert!(row("2")["logon_time"].is_string());

    let coverage = snapshot["coverage"].as_array().unwrap();
    for method in [&processes::CALL_NAME, &sessions::ENUM_CALL] {
        let entry = coverage
            .iter()
            .find(|e| text(&e["method"]).contains(*method))
            .unwrap_or_else(|| panic!("no coverage entry for {method}: {coverage:?}"));
        assert_eq!(entry["result"], "ok", "{entry}");
    }
}

#[test]
fn access_denied_names_the_setting_on_each_pipe() {
    let Some(python) = python() else { return };
    let server = Server::start(&python, "denied", "127.0.0.181", 14971);
    let snapshot = scan(&server);
    for source in ["interactive_sessions", "processes"] {
        let failed = &snapshot[source];
        assert_eq!(failed["status"], "failed", "{source}: {failed}");
        assert_eq!(failed["kind"], "access_denied", "{source}: {failed}");
    }
    let coverage = snapshot["coverage"].as_array().unwrap();
    for (pipe, setting) in [
        (r"\pipe\LSM_API_service", "AllowRemoteRPC"),
        (r"\pipe\Ctx_WinStation_API_service", "only administrators"),
    ] {
        let entry = coverage
            .iter()
            .find(|e| e["pipe"] == pipe)
            .unwrap_or_else(|| panic!("no coverage entry for {pipe}: {coverage:?}"));
        assert_eq!(entry["result"], "access_denied", "{entry}");
        assert_eq!(entry["code"], 5, "{entry}");
        assert!(text(&entry["setting"]).contains(setting), "{entry}");
        assert!(
            text(&entry["setting"]).contains("Allow users to connect remotely"),
            "{entry}"
        );
    }
}

/// `lingerscan scan` of the whole simulated Windows host (mode `host`) with
/// extra arguments: its exit code and JSON report.
fn scan_host(server: &Server, extra: &[&str]) -> (Option<i32>, Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_lingerscan"))
        .env("LINGERSCAN_NO_HISTORY", "1")
        .args([
            "scan",
            "--host",
            server.ip,
            "--port",
            &server.port.to_string(),
        ])
        .args(["--min-dialect", IMPACKET_DIALECT])
        .args(["--username", &format!("CORP\\{USER}"), "-f", "json"])
        .args(extra)
        .env("LINGERSCAN_PASSWORD", PASSWORD)
        .stdin(Stdio::null())
        .output()
        .expect("run lingerscan");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|err| {
        panic!(
            "lingerscan printed no JSON ({err}): {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code(), report)
}

#[test]
fn a_remote_windows_host_gets_verdicts_from_terminal_services_hives_and_names() {
    let Some(python) = python() else { return };
    // wkssvc lists alice (console, 3 processes), bob (disconnected 3 h, one
    // process) and carol (nothing); HKU holds alice's, bob's and dave's hives.
    let server = Server::start(&python, "host", "127.0.0.182", 14972);
    let (code, report) = scan_host(&server, &["--max-idle", "1h"]);
    let host = &report["hosts"][0];
    let users: BTreeSet<(String, String)> = host["analysis"]["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| (text(&u["user"]), text(&u["state"])))
        .collect();
    let expected: BTreeSet<(String, String)> = [
        ("CORP\\alice", "ACTIVE"),
        ("CORP\\bob", "ACTIVE"),
        ("CORP\\carol", "LINGERING"),
    ]
    .into_iter()
    .map(|(u, s)| (u.to_string(), s.to_string()))
    .collect();
    assert_eq!(users, expected, "{host}");
    let findings: BTreeSet<(String, String, bool)> = host["analysis"]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                text(&f["user"]),
                text(&f["verdict"]),
                f["lingering"] == true,
            )
        })
        .collect();
    for wanted in [
        ("CORP\\alice", "ACTIVE", false),
        // Past --max-idle 1h.
        ("CORP\\bob", "DISCONNECTED", true),
        ("CORP\\carol", "STALE_WKSTA", true),
        // A hive nothing holds: no process, no session.
        ("CORP\\dave", "LEAKED_PROFILE", true),
    ] {
        let wanted = (wanted.0.to_string(), wanted.1.to_string(), wanted.2);
        assert!(findings.contains(&wanted), "{wanted:?} not in {findings:?}");
    }
    // alice's hive is held by her processes: no profile finding for her.
    assert!(
        !findings
            .iter()
            .any(|f| f.0 == "CORP\\alice" && f.1 == "LEAKED_PROFILE")
    );
    assert_eq!(code, Some(1), "something lingers: exit 1");
    // Every door answered, the logon sessions aside (no such call over MS-RPC).
    let coverage = host["coverage"].as_array().unwrap();
    assert_eq!(coverage.len(), 6, "{coverage:?}");
    assert!(coverage.iter().all(|e| e["result"] == "ok"), "{coverage:?}");

    // Only bob, whose disconnected session is within a day: nothing lingers.
    let (code, report) = scan_host(&server, &["--user", "CORP\\bob"]);
    assert_eq!(code, Some(0), "{report}");
    let bob = &report["hosts"][0]["analysis"];
    assert_eq!(bob["users"][0]["state"], "ACTIVE", "{bob}");
}

/// impacket's encoding of each request we send, as hex lines.
const IMPACKET_REQUESTS: &str = r#"
import struct, sys
from impacket.dcerpc.v5 import tsts
raw = bytes.fromhex(sys.argv[1])
def handle(call, field):
    call[field]["context_handle_attributes"] = struct.unpack_from("<I", raw)[0]
    call[field]["context_handle_uuid"] = raw[4:]
r = tsts.RpcOpenEnum(); print(r.getData().hex())
r = tsts.RpcGetEnumResult(); handle(r, "hEnum"); r["Level"] = 1; print(r.getData().hex())
r = tsts.RpcCloseEnum(); handle(r, "phEnum"); print(r.getData().hex())
r = tsts.RpcGetSessionInformationEx(); r["SessionId"] = 65536; r["Level"] = 1; print(r.getData().hex())
r = tsts.RpcWinStationOpenServer(); print(r.getData().hex())
r = tsts.RpcWinStationGetAllProcesses(); handle(r, "hServer"); r["Level"] = 0
r["pNumberOfProcesses"] = 0x8000; print(r.getData().hex())
r = tsts.RpcOpenSession(); r["SessionId"] = 2; print(r.getData().hex())
r = tsts.RpcLogoff(); handle(r, "hSession"); print(r.getData().hex())
r = tsts.RpcCloseSession(); handle(r, "phSession"); print(r.getData().hex())
"#;

#[test]
fn requests_are_what_impacket_encodes() {
    let Some(python) = python() else { return };
    let handle: [u8; 20] = std::array::from_fn(|i| (i * 7 + 1) as u8);
    let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
    let out = Command::new(python)
        .args(["-c", IMPACKET_REQUESTS, &hex(&handle)])
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let theirs: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    // impacket marshals 20 zero bytes for the implicit `handle_t hBinding`
    // of RpcOpenEnum and RpcWinStationOpenServer; the IDL puts nothing on
    // the wire (MS-RPCE: a primitive binding handle is not marshalled), so
    // ours are empty, and Windows reads nothing past what the IDL says.
    let binding_placeholder = "00".repeat(20);
    // RpcOpenSession's binding handle comes after SessionId in impacket's
    // structure: its placeholder trails the id.
    let open_session = logoff::encode_open_session(2);
    assert_eq!(
        theirs.get(6),
        Some(&format!("{}{binding_placeholder}", hex(&open_session)))
    );
    let theirs = [&theirs[..6], &theirs[7..]].concat();
    let ours = [
        (sessions::encode_open_enum(), true),
        (sessions::encode_get_enum_result(&handle, 1), false),
        (sessions::encode_close_enum(&handle), false),
        (sessions::encode_get_session_information_ex(65536, 1), false),
        (processes::encode_open_server(), true),
        (processes::encode_get_all_processes(&handle, 0), false),
        (logoff::encode_session_handle(&handle), false),
        (logoff::encode_session_handle(&handle), false),
    ];
    assert_eq!(theirs.len(), ours.len(), "{theirs:?}");
    for ((ours, implicit_binding), theirs) in ours.iter().zip(&theirs) {
        if *implicit_binding {
            assert!(ours.is_empty());
            assert_eq!(theirs, &binding_placeholder);
        } else {
            assert_eq!(&hex(ours), theirs);
        }
    }
}

//! `lingerscan close` on a disconnected RDP session, from Linux over
//! [MS-TSTS] (RpcOpenSession, RpcLogoff, RpcCloseSession), against
//! impacket's SMB and DCE/RPC servers answering with impacket's structures
//! (tests/impacket/tsts_server.py, mode "host": a whole Windows host). The
//! server prints "LOGOFF <id>" for each logoff and drops the session.
//! Loopback addresses 127.0.0.186-189, ports 14976-14979; every run writes
//! its history to a temp dir.
#![cfg(unix)]

mod support;

use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::Value;
use support::close::{actions, text};
use support::tsts::{IMPACKET_DIALECT, PASSWORD, Server, USER, python};

/// `lingerscan ARGS` against `server` (a whole host), recording into `db`.
fn lingerscan(server: &Server, db: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lingerscan"))
        .args(args)
        .args(["--host", server.ip, "--port", &server.port.to_string()])
        .args(["--min-dialect", IMPACKET_DIALECT])
        .args(["--username", &format!("CORP\\{USER}"), "--max-idle", "1h"])
        .arg("--db")
        .arg(db)
        .env("LINGERSCAN_PASSWORD", PASSWORD)
        .stdin(Stdio::null())
        .output()
        .expect("run lingerscan")
}

/// The DISCONNECTED findings of a scan: (session id, user).
fn disconnected(server: &Server, db: &Path) -> Vec<(String, String)> {
    let out = lingerscan(server, db, &["scan", "-f", "json"]);
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("no JSON ({e}): {}", text(&out)));
    report["hosts"][0]["analysis"]["findings"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter(|f| f["verdict"] == "DISCONNECTED" && f["lingering"] == true)
        .map(|f| {
            (
                f["session_id"].as_str().unwrap_or_default().to_string(),
                f["user"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

#[test]
fn bobs_disconnected_session_is_logged_off_and_gone_on_the_rescan() {
    let Some(python) = python() else { return };
    let server = Server::start(&python, "host", "127.0.0.186", 14976);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("history.sqlite");

    let before = disconnected(&server, &db);
    assert!(
        before
            .iter()
            .any(|(id, user)| id == "2" && user.ends_with("bob")),
        "{before:?}"
    );

    let dry = lingerscan(&server, &db, &["close", "--verdict", "DISCONNECTED"]);
    let shown = text(&dry);
    assert_eq!(dry.status.code(), Some(0), "{shown}");
    assert!(
        shown.contains("log off the disconnected session 2 of bob") && shown.contains("Dry run"),
        "{shown}"
    );
    assert_eq!(
        server.printed(),
        Vec::<String>::new(),
        "a dry run logged off"
    );
    assert!(actions(&db).is_empty());

    let done = lingerscan(
        &server,
        &db,
        &["close", "--verdict", "DISCONNECTED", "--yes"],
    );
    let shown = text(&done);
    assert_eq!(done.status.code(), Some(0), "{shown}");
    assert_eq!(server.printed(), vec!["LOGOFF 2".to_string()], "{shown}");
    assert!(shown.contains("re-scan: gone"), "{shown}");

    let recorded = actions(&db);
    let logoff: Vec<&Value> = recorded.iter().filter(|a| a["session_id"] == "2").collect();
    assert_eq!(logoff.len(), 1, "{recorded:#?}");
    assert_eq!(logoff[0]["outcome"], "done");
    assert_eq!(logoff[0]["checked"], "gone");

    let after = disconnected(&server, &db);
    assert!(!after.iter().any(|(id, _)| id == "2"), "{after:?}");
}

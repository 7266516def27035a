//! `lingerscan close` on a disconnected RDP session, from Linux over
//! [MS-TSTS] (RpcOpenSession, RpcLogoff, RpcCloseSession), against
//! impacket's SMB and DCE/RPC servers answering with impacket's structures
//! (tests/impacket/tsts_server.py, mode "host": a whole Windows host). The
//! server prints "LOGOFF <id>" for each logoff and drops the session.
//! Loopback addresses 127.0.0.186-189, ports 14976-14979; every run writes
//! its history to a temp dir.
#![cfg(unix)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::Duration;

use serde_json::Value;

const USER: &str = "tester";
const PASSWORD: &str = "Tsts-pass!9";
/// impacket's SMB server speaks SMB 2.0.2 and 2.1 only.
const IMPACKET_DIALECT: &str = "2.0.2";

fn root() -> &'static str {
    env!("CARGO_MANIFEST_DIR")
}

fn python() -> Option<PathBuf> {
    let python = Path::new(root()).join("target/impacket-venv/bin/python");
    if python.exists() {
        Some(python)
    } else {
        eprintln!(
            "SKIPPED: impacket venv missing ({}): run scripts/setup.d/40-impacket.sh",
            python.display()
        );
        None
    }
}

/// The server, killed by its pid and reaped when the test ends, even on
/// failure; its stdout lines (after READY) arrive on `lines`.
struct Server {
    child: Child,
    _stdin: ChildStdin,
    lines: Receiver<String>,
    ip: &'static str,
    port: u16,
}

impl Server {
    fn start(python: &Path, ip: &'static str, port: u16) -> Server {
        let mut child = Command::new(python)
            .arg(format!("{}/tests/impacket/tsts_server.py", root()))
            .args([ip, &port.to_string(), "host", USER, PASSWORD])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the TSTS server");
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = child.stdout.take().expect("piped stdout");
        let (send, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        let server = Server {
            child,
            _stdin: stdin,
            lines,
            ip,
            port,
        };
        let ready = server
            .lines
            .recv_timeout(Duration::from_secs(60))
            .expect("TSTS server ready within 60 s");
        assert!(ready.starts_with("READY"), "TSTS server said {ready:?}");
        server
    }

    /// What the server printed since the last look (lingerscan has had its
    /// answers, so the lines are written by now).
    fn printed(&self) -> Vec<String> {
        let mut lines = Vec::new();
        while let Ok(line) = self.lines.recv_timeout(Duration::from_millis(300)) {
            lines.push(line);
        }
        lines
    }

    fn lingerscan(&self, db: &Path, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_lingerscan"))
            .args(args)
            .args(["--host", self.ip, "--port", &self.port.to_string()])
            .args(["--min-dialect", IMPACKET_DIALECT])
            .args(["--username", &format!("CORP\\{USER}"), "--max-idle", "1h"])
            .arg("--db")
            .arg(db)
            .env("LINGERSCAN_PASSWORD", PASSWORD)
            .stdin(Stdio::null())
            .output()
            .expect("run lingerscan")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn text(output: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The DISCONNECTED findings of a scan: (session id, user).
fn disconnected(server: &Server, db: &Path) -> Vec<(String, String)> {
    let out = server.lingerscan(db, &["scan", "-f", "json"]);
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

fn actions(db: &Path) -> Vec<Value> {
    let output = Command::new(env!("CARGO_BIN_EXE_lingerscan"))
        .args(["history", "--actions", "-f", "json", "--db"])
        .arg(db)
        .output()
        .expect("run lingerscan history");
    let doc: Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(&output)));
    doc["actions"].as_array().cloned().unwrap_or_default()
}

#[test]
fn bobs_disconnected_session_is_logged_off_and_gone_on_the_rescan() {
    let Some(python) = python() else { return };
    let server = Server::start(&python, "127.0.0.186", 14976);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("history.sqlite");

    let before = disconnected(&server, &db);
    assert!(
        before
            .iter()
            .any(|(id, user)| id == "2" && user.ends_with("bob")),
        "{before:?}"
    );

    let dry = server.lingerscan(&db, &["close", "--verdict", "DISCONNECTED"]);
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

    let done = server.lingerscan(&db, &["close", "--verdict", "DISCONNECTED", "--yes"]);
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

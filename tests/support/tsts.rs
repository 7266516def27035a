//! tests/impacket/tsts_server.py for the tests: impacket's SMB and DCE/RPC
//! servers answering [MS-TSTS] (and, in mode "host", the rest of a Windows
//! host) with impacket's own structures. Killed by its pid and reaped on
//! drop, even when a test fails; its stdout lines after READY arrive on
//! `lines`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::Duration;

pub const USER: &str = "tester";
pub const PASSWORD: &str = "Tsts-pass!9";
/// impacket's SMB server speaks SMB 2.0.2 and 2.1 only.
pub const IMPACKET_DIALECT: &str = "2.0.2";

pub fn root() -> &'static str {
    env!("CARGO_MANIFEST_DIR")
}

/// The venv's python, or None (and a message saying why the test skips).
pub fn python() -> Option<PathBuf> {
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

pub struct Server {
    child: Child,
    _stdin: ChildStdin,
    pub lines: Receiver<String>,
    pub ip: &'static str,
    pub port: u16,
}

impl Server {
    pub fn start(python: &Path, mode: &str, ip: &'static str, port: u16) -> Server {
        let mut child = Command::new(python)
            .arg(format!("{}/tests/impacket/tsts_server.py", root()))
            .args([ip, &port.to_string(), mode, USER, PASSWORD])
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
    pub fn printed(&self) -> Vec<String> {
        let mut lines = Vec::new();
        while let Ok(line) = self.lines.recv_timeout(Duration::from_millis(300)) {
            lines.push(line);
        }
        lines
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

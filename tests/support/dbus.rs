//! A private D-Bus for tests: a `dbus-daemon` on a socket in a temp dir
//! (clients reach it through `DBUS_SYSTEM_BUS_ADDRESS`), and a stand-in
//! service written in Python (python3-dbus) whose stdout lines the test
//! reads. Both are killed by their own pid and reaped on drop, the service
//! first.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::Duration;

/// The stand-ins need the system python's `dbus` and `gi` (Debian's
/// python3-dbus, python3-gi): a venv's python has neither.
pub const PYTHON: &str = "/usr/bin/python3";

/// A child killed (by its own pid) and reaped on drop.
pub struct Killed(pub Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The bus and the stand-in on it; fields drop in order: the service, then the bus.
pub struct PrivateBus {
    pub address: String,
    pub lines: Receiver<String>,
    _service: Killed,
    _daemon: Killed,
}

impl PrivateBus {
    /// Start the bus in `dir` and `python -c SCRIPT ADDRESS ARGS...` on it;
    /// returns once the script printed `READY`.
    pub fn start(dir: &Path, script: &str, args: &[&str]) -> PrivateBus {
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
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
"#,
                socket.display()
            ),
        )
        .expect("write the bus configuration");
        let daemon = Killed(
            Command::new("dbus-daemon")
                .arg(format!("--config-file={}", config.display()))
                .arg("--nofork")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("start dbus-daemon"),
        );
        assert!(
            super::wait_until(Duration::from_secs(10), || socket.exists()),
            "dbus-daemon did not listen on {}",
            socket.display()
        );
        let address = format!("unix:path={}", socket.display());
        let mut service = Killed(
            Command::new(PYTHON)
                .args(["-c", script, &address])
                .args(args)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("start the stand-in service"),
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
        assert_eq!(ready.as_deref(), Ok("READY"), "the stand-in did not start");
        PrivateBus {
            address,
            lines,
            _service: service,
            _daemon: daemon,
        }
    }

    /// The lines the stand-in printed since the last call (it answers
    /// before it returns, and callers wait for the answer).
    pub fn calls(&self) -> Vec<String> {
        let mut calls = Vec::new();
        while let Ok(line) = self.lines.recv_timeout(Duration::from_millis(300)) {
            calls.push(line);
        }
        calls
    }
}

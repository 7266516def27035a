//! SMB sessions held open by `smbclient`, and what `smbstatus` says of them.

use std::io::Write;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::Duration;

use super::options::SambaUser;
use super::{SambaServer, run, wait_until, which};

impl SambaServer {
    /// `smbstatus --json` for this server.
    pub fn status(&self) -> serde_json::Value {
        let text = run(
            "smbstatus",
            &["-s", self.conf.to_str().unwrap_or_default(), "--json"],
        );
        serde_json::from_str(&text).expect("smbstatus JSON")
    }

    /// The serving smbd children's pids for `user`'s sessions, as smbstatus lists them.
    pub fn session_pids(&self, user: &str) -> Vec<u32> {
        let status = self.status();
        let Some(sessions) = status["sessions"].as_object() else {
            return Vec::new();
        };
        sessions
            .values()
            .filter(|s| s["username"] == user)
            .filter_map(|s| s["server_id"]["pid"].as_str()?.parse().ok())
            .collect()
    }

    /// The serving smbd child's pid for `user`'s session, if smbstatus lists one.
    pub fn session_pid(&self, user: &str) -> Option<u32> {
        self.session_pids(user).first().copied()
    }

    /// Open an SMB session as `user` and keep it open until the returned guard
    /// drops. Returns once smbstatus lists it (a session of `user` that was not
    /// there before, so a user can hold several).
    pub fn hold_session(&self, user: &SambaUser) -> HeldSession {
        let before = self.session_pids(&user.name);
        let mut child = Command::new(which("smbclient").expect("smbclient installed"))
            .arg(self.unc())
            .args([
                "-p",
                &self.port.to_string(),
                "-s",
                self.conf.to_str().unwrap_or_default(),
            ])
            .arg("-U")
            .arg(format!(
                "{}\\{}%{}",
                self.workgroup, user.name, user.password
            ))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start smbclient");
        let stdin = child.stdin.take();
        let mut held = HeldSession {
            child,
            stdin,
            server_pid: 0,
        };
        wait_until(Duration::from_secs(20), || {
            let new = self
                .session_pids(&user.name)
                .into_iter()
                .find(|pid| !before.contains(pid));
            if let Some(pid) = new {
                held.server_pid = pid;
                return true;
            }
            // smbclient gave up (wrong password, no server): stop waiting.
            held.child.try_wait().ok().flatten().is_some()
        });
        assert!(
            held.server_pid != 0,
            "no SMB session for {} appeared; smbd log:\n{}",
            user.name,
            self.log_tail()
        );
        held
    }
}

/// An smbclient session held open by keeping its stdin open; Drop ends it.
pub struct HeldSession {
    child: Child,
    stdin: Option<ChildStdin>,
    /// The smbd child serving this session.
    pub server_pid: u32,
}

impl HeldSession {
    /// Send one smbclient command (for example `open hello.txt` to hold a file open).
    pub fn command(&mut self, line: &str) {
        if let Some(stdin) = &mut self.stdin {
            let _ = writeln!(stdin, "{line}");
            let _ = stdin.flush();
        }
    }

    pub fn client_pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for HeldSession {
    fn drop(&mut self) {
        drop(self.stdin.take()); // EOF: smbclient logs off and exits
        if !wait_until(Duration::from_secs(3), || {
            self.child.try_wait().ok().flatten().is_some()
        }) {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

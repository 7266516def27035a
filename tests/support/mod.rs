//! Harness shared by the integration tests: environment checks, users,
//! processes that are killed by pid when the test ends (even on failure).
#![allow(dead_code)] // each test binary uses a different part of this

pub mod close;
pub mod dbus;
pub mod glibc_utmp;
pub mod logind;
pub mod samba;
pub mod samba_dc;
pub mod samba_dc_directory;
pub mod tsts;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A test's fake peers (silent listeners, hostile stubs): threads that
/// serve until told to stop, told and joined when this is dropped, so they
/// end with the test even when it fails.
#[derive(Default)]
pub struct PeerThreads {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl PeerThreads {
    /// Runs `serve` on a thread of its own; it gets the stop flag and must
    /// check it often (non-blocking or short-timeout I/O).
    pub fn spawn(&mut self, serve: impl FnOnce(&AtomicBool) + Send + 'static) {
        let stop = self.stop.clone();
        self.threads.push(std::thread::spawn(move || serve(&stop)));
    }
}

impl Drop for PeerThreads {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

/// Whether a test that needs root and the given programs can run here.
/// Missing requirements: a loud skip message, except in CI (`CI=true`),
/// where the test fails instead, so CI never silently proves nothing.
pub fn require(test: &str, need_root: bool, programs: &[&str]) -> bool {
    let mut missing = Vec::new();
    if need_root && !is_root() {
        missing.push("root".to_string());
    }
    for program in programs {
        if which(program).is_none() {
            missing.push(format!("`{program}`"));
        }
    }
    if missing.is_empty() {
        return true;
    }
    let message = format!(
        "{test} needs {} (install with scripts/setup.sh)",
        missing.join(", ")
    );
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{message}; in CI this is a failure, not a skip");
    }
    eprintln!("\n!!!!!!!! SKIPPED {message} !!!!!!!!\n");
    false
}

pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false)
}

/// The path of a program on PATH (also the sbin directories, where Samba's daemons live).
pub fn which(program: &str) -> Option<std::path::PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    path.split(':')
        .chain(["/usr/sbin", "/sbin", "/usr/local/sbin"])
        .map(|dir| Path::new(dir).join(program))
        .find(|p| p.is_file())
}

/// Run a command, returning its stdout; panics with its stderr on failure.
pub fn run(program: &str, args: &[&str]) -> String {
    let output = Command::new(which(program).unwrap_or_else(|| program.into()))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    assert!(
        output.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Make sure a local system user exists (no home, no shell); returns (uid, gid).
pub fn ensure_user(name: &str) -> (u32, u32) {
    let exists = Command::new("id")
        .arg("-u")
        .arg(name)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if !exists.is_ok_and(|s| s.success()) {
        let mut useradd = Command::new(which("useradd").unwrap_or_else(|| "useradd".into()));
        if !name.is_ascii() {
            // Debian's useradd refuses names outside its portable set
            // (`ußer1`) unless told not to check.
            useradd.arg("--badname");
        }
        let status = useradd
            .args(["-M", "-U", "-s", "/usr/sbin/nologin", name])
            .status()
            .expect("useradd");
        // Another test may have created it in the meantime (exit 9: already exists).
        assert!(
            status.success() || status.code() == Some(9),
            "useradd {name} failed: {status}"
        );
    }
    let uid = run("id", &["-u", name]).trim().parse().expect("uid");
    let gid = run("id", &["-g", name]).trim().parse().expect("gid");
    (uid, gid)
}

/// Poll `condition` until it holds or `timeout` passes.
pub fn wait_until(timeout: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    loop {
        if condition() {
            return true;
        }
        if start.elapsed() >= timeout {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Is `pid` a live (non-zombie) process?
pub fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with(['Z', 'X'])),
        Err(_) => false,
    }
}

/// Parent pid of `pid`, from /proc.
pub fn ppid_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')?
        .1
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Children of `pid`, from /proc.
pub fn children_of(pid: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&p| ppid_of(p) == Some(pid))
        .collect()
}

/// Send a signal to one pid (only pids this test started).
pub fn signal(pid: u32, sig: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .stderr(Stdio::null())
        .status();
}

/// Processes started by a test: SIGKILLed by pid and reaped when dropped.
#[derive(Default)]
pub struct Processes {
    children: Vec<Child>,
    /// Pids that are not our direct children (grandchildren we know by pid).
    others: Vec<u32>,
}

impl Processes {
    pub fn spawn(&mut self, command: &mut Command) -> u32 {
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {command:?}: {e}"));
        let pid = child.id();
        self.children.push(child);
        pid
    }

    /// Also kill this (non-child) pid on drop.
    pub fn adopt(&mut self, pid: u32) {
        self.others.push(pid);
    }

    /// Kill one of our children and reap it, so that no zombie stays in /proc.
    pub fn end(&mut self, pid: u32) {
        if let Some(i) = self.children.iter().position(|c| c.id() == pid) {
            let mut child = self.children.swap_remove(i);
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// A `sleep` that lasts the test.
    pub fn sleeper(&mut self) -> u32 {
        self.spawn(Command::new("sleep").arg("300"))
    }

    /// A `sleep` running as `uid`/`gid` (setpriv), once it is that uid;
    /// `prefix` is shell run first as root (e.g. setting the login uid, or
    /// trapping SIGTERM).
    #[allow(dead_code)] // not every test binary needs another user's process
    pub fn sleeper_as(&mut self, uid: u32, gid: u32, prefix: &str) -> u32 {
        let script =
            format!("{prefix}exec setpriv --reuid {uid} --regid {gid} --clear-groups sleep 300");
        let pid = self.spawn(Command::new("sh").arg("-c").arg(script));
        assert!(
            wait_until(Duration::from_secs(10), || {
                std::fs::read_to_string(format!("/proc/{pid}/status")).is_ok_and(|s| {
                    s.lines().any(|l| {
                        l.starts_with("Uid:")
                            && l.split_whitespace().nth(1) == Some(&uid.to_string())
                    })
                })
            }),
            "process {pid} did not become uid {uid}"
        );
        pid
    }
}

impl Drop for Processes {
    fn drop(&mut self) {
        for &pid in &self.others {
            signal(pid, "KILL");
        }
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

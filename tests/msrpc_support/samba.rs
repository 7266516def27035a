//! A private Samba `smbd` on a loopback address and port, for integration tests.
//!
//! Conventions (shared/DESIGN.md): private smb.conf, `setsid smbd --foreground
//! --no-process-group -s CONF`, PID kept and stopped by PID on Drop, and
//! `samba-dcerpcd` (started on demand by smbd) stopped via its pid file.
//! smbd runs in its own mount namespace where `/run` is the fixture's
//! directory, so the utmp file Samba reads for NetrWkstaUserEnum (and writes
//! with `utmp = yes`) is the fixture's, not the machine's.
#![allow(dead_code)]

use std::io::Write;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const ADMIN_USER: &str = "lsmsadmin";
pub const ADMIN_PASSWORD: &str = "Adm1n-pass!";
pub const PLAIN_USER: &str = "lsmsplain";
pub const PLAIN_PASSWORD: &str = "Pla1n-pass!";
const ADMIN_GROUP: &str = "lsmsadmins";
pub const WORKGROUP: &str = "LSMSRPC";

static UNIX_ACCOUNTS: Mutex<bool> = Mutex::new(false);

fn run(cmd: &mut Command) -> std::process::Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

fn run_ok(cmd: &mut Command) {
    let out = run(cmd);
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The Unix accounts Samba maps the test users to (created once per machine).
fn ensure_unix_accounts() {
    let mut done = UNIX_ACCOUNTS.lock().unwrap_or_else(|e| e.into_inner());
    if *done {
        return;
    }
    let exists = |db: &str, name: &str| {
        run(Command::new("getent").args([db, name]))
            .status
            .success()
    };
    if !exists("group", ADMIN_GROUP) {
        let _ = run(Command::new("groupadd").args(["-r", ADMIN_GROUP]));
    }
    for (user, admin) in [(ADMIN_USER, true), (PLAIN_USER, false)] {
        if !exists("passwd", user) {
            let mut cmd = Command::new("useradd");
            cmd.args(["-M", "-s", "/usr/sbin/nologin"]);
            if admin {
                cmd.args(["-G", ADMIN_GROUP]);
            }
            let _ = run(cmd.arg(user));
        }
    }
    assert!(
        exists("passwd", ADMIN_USER) && exists("passwd", PLAIN_USER),
        "cannot create test users"
    );
    *done = true;
}

/// One utmp USER_PROCESS record in glibc's x86_64 layout (384 bytes).
pub fn utmp_record(user: &str, line: &str, host: &str, pid: u32, time: u32) -> Vec<u8> {
    fn field(out: &mut Vec<u8>, text: &str, len: usize) {
        let mut bytes = text.as_bytes().to_vec();
        bytes.resize(len, 0);
        out.extend_from_slice(&bytes);
    }
    let mut rec = Vec::with_capacity(384);
    rec.extend_from_slice(&7i16.to_le_bytes()); // USER_PROCESS
    rec.extend_from_slice(&[0, 0]);
    rec.extend_from_slice(&pid.to_le_bytes());
    field(&mut rec, line, 32);
    field(&mut rec, &line[line.len().saturating_sub(4)..], 4);
    field(&mut rec, user, 32);
    field(&mut rec, host, 256);
    rec.extend_from_slice(&[0; 4]); // exit status
    rec.extend_from_slice(&0i32.to_le_bytes()); // session
    rec.extend_from_slice(&time.to_le_bytes());
    rec.extend_from_slice(&0i32.to_le_bytes());
    rec.extend_from_slice(&[0; 16]); // address
    rec.extend_from_slice(&[0; 20]);
    assert_eq!(rec.len(), 384);
    rec
}

pub struct Samba {
    pub ip: String,
    pub port: u16,
    dir: tempfile::TempDir,
    conf: PathBuf,
    smbd: Option<Child>,
    sessions: Vec<Child>,
    stdins: Vec<ChildStdin>,
    held_users: Vec<String>,
}

impl Samba {
    /// Start smbd on `ip:port` with an admin and a plain user.
    pub fn start(ip: &str, port: u16) -> Samba {
        Samba::start_with(ip, port, "")
    }

    /// Like [`Samba::start`] with extra `[global]` lines (e.g. `server max protocol = SMB2_10`).
    pub fn start_with(ip: &str, port: u16, extra_global: &str) -> Samba {
        ensure_unix_accounts();
        let dir = tempfile::Builder::new()
            .prefix("lingerscan-samba-")
            .tempdir()
            .expect("tempdir");
        let d = dir.path();
        for sub in [
            "private", "lock", "state", "cache", "pid", "ncalrpc", "run", "share", "log",
        ] {
            std::fs::create_dir_all(d.join(sub)).expect("mkdir");
        }
        std::fs::write(d.join("run/utmp"), b"").expect("utmp");
        let conf = d.join("smb.conf");
        let p = |sub: &str| d.join(sub).display().to_string();
        let text = format!(
            "[global]\n\
             netbios name = LSMSRPCSRV\n\
             workgroup = {WORKGROUP}\n\
             server role = standalone server\n\
             interfaces = {ip}/8\n\
             bind interfaces only = yes\n\
             smb ports = {port}\n\
             disable netbios = yes\n\
             server min protocol = SMB2_02\n\
             private dir = {private}\n\
             lock directory = {lock}\n\
             state directory = {state}\n\
             cache directory = {cache}\n\
             pid directory = {pid}\n\
             ncalrpc dir = {ncalrpc}\n\
             log file = {log}/log.%m\n\
             log level = 1\n\
             passdb backend = tdbsam:{private}/passdb.tdb\n\
             utmp = yes\n\
             load printers = no\n\
             printing = bsd\n\
             printcap name = /dev/null\n\
             disable spoolss = yes\n\
             map to guest = never\n\
             {extra_global}\n\
             [share]\n\
             path = {share}\n\
             read only = no\n",
            private = p("private"),
            lock = p("lock"),
            state = p("state"),
            cache = p("cache"),
            pid = p("pid"),
            ncalrpc = p("ncalrpc"),
            log = p("log"),
            share = p("share"),
        );
        std::fs::write(&conf, text).expect("smb.conf");
        for (user, password) in [(ADMIN_USER, ADMIN_PASSWORD), (PLAIN_USER, PLAIN_PASSWORD)] {
            let mut child = Command::new("smbpasswd")
                .args(["-c", conf.to_str().unwrap(), "-a", "-s", user])
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("smbpasswd");
            let mut stdin = child.stdin.take().unwrap();
            write!(stdin, "{password}\n{password}\n").unwrap();
            drop(stdin);
            let out = child.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "smbpasswd: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        run_ok(Command::new("net").args([
            "-s",
            conf.to_str().unwrap(),
            "groupmap",
            "add",
            "sid=S-1-5-32-544",
            &format!("unixgroup={ADMIN_GROUP}"),
            "type=builtin",
        ]));
        // unshare without --fork and sh's exec keep one PID: the one we kill.
        let script = format!(
            "mount --bind '{}' /run && exec smbd --foreground --no-process-group -s '{}'",
            p("run"),
            conf.display()
        );
        let smbd = Command::new("setsid")
            .args(["unshare", "-m", "sh", "-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start smbd");
        let mut samba = Samba {
            ip: ip.to_string(),
            port,
            dir,
            conf,
            smbd: Some(smbd),
            sessions: Vec::new(),
            stdins: Vec::new(),
            held_users: Vec::new(),
        };
        samba.wait_listening();
        samba
    }

    fn wait_listening(&mut self) {
        let start = Instant::now();
        let addr = format!("{}:{}", self.ip, self.port);
        while start.elapsed() < Duration::from_secs(30) {
            if let Some(Ok(Some(status))) = self.smbd.as_mut().map(Child::try_wait) {
                panic!("smbd exited early ({status}); log: {}", self.log());
            }
            if TcpStream::connect(&addr).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("smbd did not listen on {addr}; log: {}", self.log());
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("log/log.smbd")).unwrap_or_default()
    }

    pub fn conf(&self) -> &Path {
        &self.conf
    }

    /// Append USER_PROCESS records to the utmp file Samba reads.
    pub fn add_utmp(&self, records: &[(&str, &str, &str)]) {
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(self.dir.path().join("run/utmp"))
            .expect("open utmp");
        for (i, (user, line, host)) in records.iter().enumerate() {
            file.write_all(&utmp_record(
                user,
                line,
                host,
                40_000 + i as u32,
                1_700_000_000,
            ))
            .expect("write utmp");
        }
    }

    /// Keep an SMB session of `user` open (smbclient waiting on its stdin) until Drop.
    pub fn hold_session(&mut self, user: &str, password: &str) {
        let mut child = Command::new("smbclient")
            .args([
                &format!("//{}/share", self.ip),
                "-p",
                &self.port.to_string(),
                "-U",
                &format!("{WORKGROUP}\\{user}%{password}"),
                "-s",
                self.conf.to_str().unwrap(),
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("smbclient");
        let stdin = child.stdin.take().unwrap();
        self.stdins.push(stdin);
        self.sessions.push(child);
        self.held_users.push(user.to_string());
        // Wait until smbd lists the session.
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(20) {
            let out =
                run(Command::new("smbstatus").args(["-s", self.conf.to_str().unwrap(), "-b"]));
            let text = String::from_utf8_lossy(&out.stdout);
            if text.lines().filter(|l| l.contains(user)).count() >= self.sessions_of(user) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("session of {user} did not appear; log: {}", self.log());
    }

    fn sessions_of(&self, user: &str) -> usize {
        self.held_users.iter().filter(|u| *u == user).count()
    }
}

fn kill(pid: u32, signal: &str) {
    let _ = Command::new("kill")
        .args([signal, &pid.to_string()])
        .stderr(Stdio::null())
        .status();
}

impl Drop for Samba {
    fn drop(&mut self) {
        self.stdins.clear();
        for child in &mut self.sessions {
            kill(child.id(), "-TERM");
            let _ = child.wait();
        }
        if let Some(mut smbd) = self.smbd.take() {
            kill(smbd.id(), "-TERM");
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = smbd.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            if let Ok(None) = smbd.try_wait() {
                kill(smbd.id(), "-KILL");
                let _ = smbd.wait();
            }
        }
        // samba-dcerpcd and its rpcd_* workers outlive smbd. They are ours when
        // their command line names our private smb.conf (a unique temp path).
        let mut ours: Vec<u32> =
            std::fs::read_to_string(self.dir.path().join("pid/samba-dcerpcd.pid"))
                .ok()
                .and_then(|text| text.trim().parse().ok())
                .into_iter()
                .collect();
        ours.extend(pids_naming(&self.conf));
        stop_all(&ours);
    }
}

/// PIDs whose command line mentions `path`.
fn pids_naming(path: &Path) -> Vec<u32> {
    let needle = path.as_os_str().as_encoded_bytes();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|cmdline| cmdline.windows(needle.len()).any(|w| w == needle))
                .unwrap_or(false)
        })
        .collect()
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| {
            !stat
                .rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .starts_with('Z')
        })
        .unwrap_or(false)
}

/// TERM, wait up to 3 s, then KILL what is left.
fn stop_all(pids: &[u32]) {
    for &pid in pids {
        kill(pid, "-TERM");
    }
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline && pids.iter().any(|&pid| alive(pid)) {
        std::thread::sleep(Duration::from_millis(20));
    }
    for &pid in pids {
        if alive(pid) {
            kill(pid, "-KILL");
        }
    }
}

//! A systemd-logind runtime tree (`/run/systemd/{sessions,users,seats}`)
//! written the way logind writes it, with each session's `ID.ref` FIFO held
//! open by a live process as on a real host.
//!
//! Modelled on systemd's own writers, read at
//! `systemd/systemd@eae374e44e27aeba9a8b3eaa51c5f0e7e994032d` (the v256
//! generation: the last layout that still makes the session FIFO and writes
//! `LEADER_FD_SAVED=`): `session_save()` and `session_create_fifo()` in
//! `src/login/logind-session.c`, `user_save_internal()` in
//! `src/login/logind-user.c` and `seat_save()` in `src/login/logind-seat.c`
//! of the same generation (`fopen_temporary()` + `rename()`, mode 0644).
//! systemd v258 dropped the FIFO (the leader's pidfd replaced it; the
//! `FIFO=` key is only read there to unlink a legacy FIFO) and moved `USER=`
//! after `LEADER_FD_SAVED=`, written by `env_file_fputs_assignment()`; hosts
//! on v252–v257 (Debian 12, Ubuntu 24.04, RHEL 9/10) still have FIFOs.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use jiff::Timestamp;

/// One session as logind knows it; [`LogindTree::add_session`] writes it.
#[derive(Debug, Clone)]
pub struct SessionSpec {
    /// The file name; logind only makes ids `session_id_valid()` accepts.
    pub id: String,
    pub uid: u32,
    /// `USER=`. Every systemd version writes it (v256 in the first
    /// `fprintf`, v258 with `env_file_fputs_assignment()`, and a user record
    /// always has a name); `None` leaves the line out, to test readers that
    /// fall back to `users/UID`.
    pub user: Option<String>,
    /// `STATE=`: active, online, closing or opening.
    pub state: String,
    /// `CLASS=`: user, greeter, lock-screen, background, manager, …
    pub class: String,
    /// `TYPE=` (and `ORIGINAL_TYPE=`): tty, x11, wayland, mir, web, unspecified.
    pub kind: String,
    pub tty: Option<String>,
    pub seat: Option<String>,
    pub remote_host: Option<String>,
    /// `SERVICE=`: the PAM service (sshd, login, gdm-password …).
    pub service: Option<String>,
    pub leader: Option<u32>,
    pub audit: Option<u32>,
    /// `REALTIME=`: when the session started.
    pub realtime: Timestamp,
}

impl SessionSpec {
    /// An ssh login: `pts/ID` for a numeric id (else `pts/0`), from 192.0.2.10
    /// (TEST-NET-1), service sshd, class user, type tty, state active.
    pub fn new(id: &str, uid: u32, user: &str) -> SessionSpec {
        let pts = if id.bytes().all(|b| b.is_ascii_digit()) {
            id
        } else {
            "0"
        };
        SessionSpec {
            id: id.to_string(),
            uid,
            user: Some(user.to_string()),
            state: "active".into(),
            class: "user".into(),
            kind: "tty".into(),
            tty: Some(format!("pts/{pts}")),
            seat: None,
            remote_host: Some("192.0.2.10".into()),
            service: Some("sshd".into()),
            leader: None,
            audit: None,
            realtime: Timestamp::now(),
        }
    }

    fn graphical(&self) -> bool {
        matches!(self.kind.as_str(), "x11" | "wayland" | "mir")
    }

    /// `session_is_active()`: a session without a seat is always active; on
    /// a seat, the seat's foreground session is (here: the one in state active).
    fn is_active(&self) -> bool {
        self.seat.is_none() || self.state == "active"
    }

    /// The VT number of a `ttyN` session on seat0 (`VTNR=`), 0 otherwise.
    fn vtnr(&self) -> u32 {
        match (&self.seat, &self.tty) {
            (Some(seat), Some(tty)) if seat == "seat0" => tty
                .strip_prefix("tty")
                .and_then(|n| n.parse().ok())
                .unwrap_or(0),
            _ => 0,
        }
    }
}

#[derive(Debug, Clone)]
struct UserSpec {
    name: String,
    state: String,
    realtime: Timestamp,
}

/// A logind runtime tree under a test directory, playing logind: it holds
/// each session FIFO's read end, and a child process per session holds the
/// write end. Dropping it kills those children by pid and reaps them.
pub struct LogindTree {
    root: PathBuf,
    seats: bool,
    sessions: Vec<SessionSpec>,
    users: BTreeMap<u32, UserSpec>,
    /// logind's read ends (`session_create_fifo()`: O_RDONLY|O_NONBLOCK).
    fifo_readers: Vec<File>,
    /// The sessions' processes, each holding a FIFO's write end, by session id.
    writers: Vec<(String, Child)>,
    temp_counter: u32,
}

impl LogindTree {
    /// A running logind's tree: `sessions/`, `users/`, and `seats/seat0`,
    /// which logind writes at startup (`manager_startup()` instantiates seat0,
    /// `seat_start()` → `seat_save()`).
    pub fn new(root: &Path) -> LogindTree {
        let mut tree = LogindTree::without_seats(root);
        tree.seats = true;
        make_dir(&root.join("seats"));
        tree.save_seat0();
        tree
    }

    /// The leftover tree of a logind that is not running: no `seats/`.
    pub fn without_seats(root: &Path) -> LogindTree {
        make_dir(root);
        make_dir(&root.join("sessions"));
        make_dir(&root.join("users"));
        LogindTree {
            root: root.to_path_buf(),
            seats: false,
            sessions: Vec::new(),
            users: BTreeMap::new(),
            fifo_readers: Vec::new(),
            writers: Vec::new(),
            temp_counter: 0,
        }
    }

    /// Pass as `--logind-dir` / `LinuxPaths.logind_dir`.
    pub fn dir(&self) -> &Path {
        &self.root
    }

    /// The pid of the process holding session `id`'s FIFO write end.
    pub fn session_process(&self, id: &str) -> Option<u32> {
        self.writers
            .iter()
            .find(|(sid, _)| sid == id)
            .map(|(_, child)| child.id())
    }

    /// `sessions/ID.ref` with a live writer, then `sessions/ID`, then the
    /// user's and the seat's files, in the order logind saves them.
    pub fn add_session(&mut self, s: &SessionSpec) {
        self.create_fifo(&s.id);
        self.sessions.push(s.clone());
        let text = self.session_text(s);
        self.write_state_file("sessions", &s.id, &text);
        if self.users.contains_key(&s.uid) {
            self.save_user(s.uid);
        }
        if self.seats && s.seat.as_deref() == Some("seat0") {
            self.save_seat0();
        }
    }

    /// `users/UID` as `user_save_internal()` writes it.
    pub fn add_user(&mut self, uid: u32, name: &str, state: &str) {
        self.users.insert(
            uid,
            UserSpec {
                name: name.to_string(),
                state: state.to_string(),
                realtime: Timestamp::now(),
            },
        );
        self.save_user(uid);
    }

    /// `session_create_fifo()`: mkfifo 0600, logind opens the read end
    /// O_RDONLY|O_NONBLOCK, the write end goes to the session (here: the
    /// stdout of a `sleep`, which keeps it until it is killed).
    fn create_fifo(&mut self, id: &str) {
        let path = self.root.join("sessions").join(format!("{id}.ref"));
        mkfifo(&path, 0o600);
        let reader = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&path)
            .unwrap_or_else(|e| panic!("open read end of {}: {e}", path.display()));
        let writer = OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&path)
            .unwrap_or_else(|e| panic!("open write end of {}: {e}", path.display()));
        let child = Command::new("sleep")
            .arg("3600")
            .stdin(Stdio::null())
            .stdout(Stdio::from(writer))
            .stderr(Stdio::null())
            .spawn()
            .expect("start the session's process");
        self.fifo_readers.push(reader);
        self.writers.push((id.to_string(), child));
    }

    /// `session_save()`, key for key (see the module comment for the version).
    fn session_text(&self, s: &SessionSpec) -> String {
        let mut f = String::from("# This is private data. Do not parse.\n");
        let is_display = s.graphical() && s.class == "user";
        let _ = writeln!(f, "UID={}", s.uid);
        if let Some(user) = &s.user {
            let _ = writeln!(f, "USER={user}");
        }
        let _ = writeln!(f, "ACTIVE={}", i32::from(s.is_active()));
        let _ = writeln!(f, "IS_DISPLAY={}", i32::from(is_display));
        let _ = writeln!(f, "STATE={}", s.state);
        let _ = writeln!(f, "REMOTE={}", i32::from(s.remote_host.is_some()));
        let _ = writeln!(f, "LEADER_FD_SAVED={}", yes_no(s.leader.is_some()));
        let _ = writeln!(f, "TYPE={}", s.kind);
        let _ = writeln!(f, "ORIGINAL_TYPE={}", s.kind);
        let _ = writeln!(f, "CLASS={}", s.class);
        // Manager sessions run in user@.service, not a scope of their own.
        if !s.class.starts_with("manager") {
            let _ = writeln!(f, "SCOPE=session-{}.scope", s.id);
        }
        // An opening session is one whose scope job is still pending.
        if s.state == "opening" {
            let _ = writeln!(
                f,
                "SCOPE_JOB=/org/freedesktop/systemd1/job/{}",
                1000 + self.sessions.len()
            );
        }
        let fifo = self.root.join("sessions").join(format!("{}.ref", s.id));
        let _ = writeln!(f, "FIFO={}", fifo.display());
        if let Some(seat) = &s.seat {
            let _ = writeln!(f, "SEAT={seat}");
        }
        if let Some(tty) = &s.tty {
            let _ = writeln!(f, "TTY={tty}");
            // method_create_session(): a TTY passed in by pam_systemd.
            let _ = writeln!(f, "TTY_VALIDITY=from-pam");
        }
        if let Some(host) = &s.remote_host {
            let _ = writeln!(f, "REMOTE_HOST={}", cescape(host));
        }
        if let Some(service) = &s.service {
            let _ = writeln!(f, "SERVICE={}", cescape(service));
        }
        let vtnr = s.vtnr();
        if s.seat.as_deref() == Some("seat0") && vtnr > 0 {
            let _ = writeln!(f, "VTNR={vtnr}");
        }
        if vtnr == 0 {
            let _ = writeln!(f, "POSITION=0");
        }
        if let Some(leader) = s.leader {
            let _ = writeln!(f, "LEADER={leader}");
        }
        // audit_session_is_valid(): neither 0 nor (uint32_t) -1.
        if let Some(audit) = s.audit.filter(|&a| a != 0 && a != u32::MAX) {
            let _ = writeln!(f, "AUDIT={audit}");
        }
        let _ = writeln!(f, "REALTIME={}", s.realtime.as_microsecond());
        let _ = writeln!(f, "MONOTONIC={}", monotonic_usec());
        f
    }

    fn save_user(&mut self, uid: u32) {
        let Some(u) = self.users.get(&uid).cloned() else {
            return;
        };
        // logind keeps a user's sessions newest first (LIST_PREPEND).
        let sessions: Vec<&SessionSpec> = self
            .sessions
            .iter()
            .rev()
            .filter(|s| s.uid == uid)
            .collect();
        let mut f = String::from("# This is private data. Do not parse.\n");
        let _ = writeln!(f, "NAME={}", u.name);
        let _ = writeln!(f, "STATE={}", u.state);
        let _ = writeln!(f, "STOPPING={}", yes_no(u.state == "closing"));
        let _ = writeln!(f, "GC_MODE=by-any");
        let _ = writeln!(f, "RUNTIME=/run/user/{uid}");
        if let Some(display) = sessions.iter().find(|s| s.graphical() && s.class == "user") {
            let _ = writeln!(f, "DISPLAY={}", display.id);
        }
        let _ = writeln!(f, "REALTIME={}", u.realtime.as_microsecond());
        let _ = writeln!(f, "MONOTONIC={}", monotonic_usec());
        if !sessions.is_empty() {
            let ids = |keep: &dyn Fn(&SessionSpec) -> bool| {
                sessions
                    .iter()
                    .filter(|s| keep(s))
                    .map(|s| s.id.as_str())
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            let seats = |keep: &dyn Fn(&SessionSpec) -> bool| {
                sessions
                    .iter()
                    .filter(|s| keep(s))
                    .filter_map(|s| s.seat.as_deref())
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            let online = |s: &SessionSpec| s.state != "closing";
            let _ = writeln!(f, "SESSIONS={}", ids(&|_| true));
            let _ = writeln!(f, "SEATS={}", seats(&|_| true));
            let _ = writeln!(f, "ACTIVE_SESSIONS={}", ids(&|s| s.is_active()));
            let _ = writeln!(f, "ONLINE_SESSIONS={}", ids(&online));
            let _ = writeln!(f, "ACTIVE_SEATS={}", seats(&|s| s.is_active()));
            let _ = writeln!(f, "ONLINE_SEATS={}", seats(&online));
        }
        self.write_state_file("users", &uid.to_string(), &f);
    }

    /// `seat_save()` for seat0 on a machine with VTs and no graphics device.
    fn save_seat0(&mut self) {
        let on_seat: Vec<&SessionSpec> = self
            .sessions
            .iter()
            .rev()
            .filter(|s| s.seat.as_deref() == Some("seat0"))
            .collect();
        let mut f = String::from("# This is private data. Do not parse.\n");
        f.push_str("IS_SEAT0=1\nCAN_MULTI_SESSION=1\nCAN_TTY=1\nCAN_GRAPHICAL=0\n");
        if let Some(active) = on_seat.iter().find(|s| s.state == "active") {
            let _ = writeln!(f, "ACTIVE={}\nACTIVE_UID={}", active.id, active.uid);
        }
        if !on_seat.is_empty() {
            let ids: Vec<&str> = on_seat.iter().map(|s| s.id.as_str()).collect();
            let uids: Vec<String> = on_seat.iter().map(|s| s.uid.to_string()).collect();
            let _ = writeln!(f, "SESSIONS={}\nUIDS={}", ids.join(" "), uids.join(" "));
        }
        self.write_state_file("seats", "seat0", &f);
    }

    /// `fopen_temporary()` (`.#NAMEXXXXXX` beside the target), `fchmod(0644)`,
    /// write, then `rename()` into place, so a reader never sees half a file.
    fn write_state_file(&mut self, dir: &str, name: &str, text: &str) {
        self.temp_counter += 1;
        let dir = self.root.join(dir);
        let temp = dir.join(format!(".#{name}{:06}", self.temp_counter));
        std::fs::write(&temp, text).expect("write logind temporary file");
        std::fs::set_permissions(&temp, std::fs::Permissions::from_mode(0o644))
            .expect("chmod 0644");
        std::fs::rename(&temp, dir.join(name)).expect("rename into place");
    }
}

impl Drop for LogindTree {
    fn drop(&mut self) {
        for (_, child) in &mut self.writers {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn yes_no(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

/// systemd's `cescape()` (src/basic/escape.c): C escapes for the named
/// controls, quote and backslash; `\xNN` for other bytes below 0x20 or from
/// 0x7f up (so UTF-8 is written byte by byte).
pub fn cescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        match b {
            0x07 => out.push_str("\\a"),
            0x08 => out.push_str("\\b"),
            0x0c => out.push_str("\\f"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x0b => out.push_str("\\v"),
            b'\\' => out.push_str("\\\\"),
            b'"' => out.push_str("\\\""),
            b'\'' => out.push_str("\\'"),
            b if !(0x20..0x7f).contains(&b) => {
                let _ = write!(out, "\\x{b:02x}");
            }
            b => out.push(char::from(b)),
        }
    }
    out
}

/// CLOCK_MONOTONIC in µs, as `MONOTONIC=` holds it (from /proc/uptime,
/// which counts the same clock plus suspend; close enough for a fixture).
fn monotonic_usec() -> u64 {
    std::fs::read_to_string("/proc/uptime")
        .ok()
        .and_then(|t| t.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0, |secs| (secs * 1e6) as u64)
}

fn make_dir(path: &Path) {
    std::fs::create_dir_all(path).unwrap_or_else(|e| panic!("mkdir {}: {e}", path.display()));
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod 0755");
}

/// `mkfifo(3)`: std has no stable wrapper.
pub fn mkfifo(path: &Path, mode: libc::mode_t) {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).expect("path without NUL");
    // SAFETY: `c` is a valid NUL-terminated path for the duration of the call.
    let rc = unsafe { libc::mkfifo(c.as_ptr(), mode) };
    assert_eq!(
        rc,
        0,
        "mkfifo {}: {}",
        path.display(),
        std::io::Error::last_os_error()
    );
}

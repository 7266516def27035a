//! Processes from /proc: owner, login uid, audit session, logind session, start time.
//!
//! Speed matters (10,000 processes well under 50 ms), so each process costs
//! one directory open plus one open/read/close per file, all relative to the
//! pid directory (no path walks), into one reused buffer. Holding the pid
//! directory open also pins the process: if the pid is reused mid-scan,
//! reads fail instead of mixing two processes.
//!
//! The owner is the *real* uid (first field of `Uid:` in status): the account
//! that started the process, not a setuid program's borrowed identity. On
//! Linux 6.13+ it comes from a pidfd (`PIDFD_GET_INFO`), the same value
//! without the kernel formatting the whole status file (about half the cost
//! of a scan); elsewhere from status.
//!
//! Processes that vanish mid-scan are skipped. A process whose files cannot
//! be read for any other reason becomes a row with `access_error` set.

use std::collections::HashMap;
use std::ffi::CStr;
use std::io;
use std::path::Path;

use jiff::Timestamp;

use super::sys;
use crate::model::{ProcessRow, SourceFailure};

/// The fields of /proc/PID/stat that we use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcStat<'a> {
    pub pid: u32,
    /// The command name as the kernel keeps it (up to 15 bytes, any bytes but NUL).
    pub comm: &'a [u8],
    pub state: u8,
    pub ppid: u32,
    /// Field 9: the kernel's PF_* flags.
    pub flags: u64,
    /// Field 22: start time in clock ticks after boot.
    pub start_ticks: u64,
}

/// PF_KTHREAD: the process is a kernel thread.
const PF_KTHREAD: u64 = 0x0020_0000;

impl ProcStat<'_> {
    pub fn is_kernel_thread(&self) -> bool {
        self.flags & PF_KTHREAD != 0
    }
}

/// Parse /proc/PID/stat. The command name sits between the first `(` and
/// the *last* `)`, because it may itself contain spaces and parentheses.
pub fn parse_stat(text: &[u8]) -> Option<ProcStat<'_>> {
    let open = text.iter().position(|&b| b == b'(')?;
    let close = text.iter().rposition(|&b| b == b')')?;
    if close < open {
        return None;
    }
    let pid = parse_decimal(trim_ascii(&text[..open]))?;
    let comm = &text[open + 1..close];
    // After ") ": field 3 (state) onwards, space separated.
    let mut fields = text
        .get(close + 1..)?
        .split(|&b| b == b' ')
        .filter(|f| !f.is_empty());
    let state = *fields.next()?.first()?;
    let ppid = parse_decimal(fields.next()?)?;
    // Fields 5..=8 skipped, 9 is flags; 10..=21 skipped, 22 is start time.
    let flags = parse_decimal_u64(fields.nth(4)?)?;
    let start_ticks = parse_decimal_u64(fields.nth(12)?)?;
    Some(ProcStat {
        pid,
        comm,
        state,
        ppid,
        flags,
        start_ticks,
    })
}

fn trim_ascii(bytes: &[u8]) -> &[u8] {
    bytes.trim_ascii()
}

fn parse_decimal_u64(bytes: &[u8]) -> Option<u64> {
    let bytes = trim_ascii(bytes);
    if bytes.is_empty() || bytes.len() > 20 {
        return None;
    }
    bytes.iter().try_fold(0u64, |acc, &b| {
        if b.is_ascii_digit() {
            acc.checked_mul(10)?.checked_add(u64::from(b - b'0'))
        } else {
            None
        }
    })
}

fn parse_decimal(bytes: &[u8]) -> Option<u32> {
    u32::try_from(parse_decimal_u64(bytes)?).ok()
}

/// The real uid from /proc/PID/status (`Uid:\treal\teffective\tsaved\tfs`).
pub fn parse_status_uid(text: &[u8]) -> Option<u32> {
    let start = find(text, b"\nUid:")
        .map(|i| i + 5)
        .or_else(|| text.starts_with(b"Uid:").then_some(4))?;
    let rest = &text[start..];
    let rest = &rest[rest.iter().position(|b| !b.is_ascii_whitespace())?..];
    let end = rest
        .iter()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(rest.len());
    parse_decimal(&rest[..end])
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A /proc id file (loginuid, sessionid): 4294967295 means unset → None.
pub fn parse_id_file(text: &[u8]) -> Option<u32> {
    parse_decimal(text).filter(|&v| v != u32::MAX)
}

/// The logind session from /proc/PID/cgroup: a `session-N.scope` path
/// component in any hierarchy (v2 `0::`, or v1 `name=systemd`).
pub fn parse_cgroup_session(text: &[u8]) -> Option<&str> {
    text.split(|&b| b == b'\n').find_map(|line| {
        let path = line.splitn(3, |&b| b == b':').nth(2)?;
        std::str::from_utf8(path)
            .ok()?
            .split('/')
            .find_map(super::cgroup::session_of_scope)
    })
}

/// Boot time (`btime`, seconds since the epoch) from /proc/stat.
pub fn parse_btime(text: &[u8]) -> Option<u64> {
    let start = find(text, b"btime ")? + 6;
    let rest = &text[start..];
    let end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
    parse_decimal_u64(&rest[..end])
}

/// /etc/passwd text → uid → name. Malformed lines are skipped.
pub fn parse_passwd(text: &str) -> HashMap<u32, String> {
    let mut names = HashMap::new();
    for line in text.lines() {
        let mut fields = line.split(':');
        let (Some(name), Some(_), Some(uid)) = (fields.next(), fields.next(), fields.next()) else {
            continue;
        };
        if let Ok(uid) = uid.parse::<u32>() {
            // The first entry for a uid wins, as getpwuid does.
            names.entry(uid).or_insert_with(|| name.to_string());
        }
    }
    names
}

/// uid → user name: /etc/passwd first, NSS for the rest, each uid looked up once.
pub struct UserNames {
    names: HashMap<u32, Option<String>>,
}

impl UserNames {
    pub fn load() -> Self {
        let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
        UserNames {
            names: parse_passwd(&passwd)
                .into_iter()
                .map(|(k, v)| (k, Some(v)))
                .collect(),
        }
    }

    pub fn get(&mut self, uid: u32) -> Option<String> {
        self.names
            .entry(uid)
            .or_insert_with(|| sys::user_name_of(uid))
            .clone()
    }
}

/// The process vanished: skip it silently.
fn vanished(err: &io::Error) -> bool {
    matches!(err.raw_os_error(), Some(libc::ENOENT | libc::ESRCH))
}

struct Clock {
    btime: Option<u64>,
    ticks_per_second: u64,
}

impl Clock {
    fn start_time(&self, start_ticks: u64) -> Option<Timestamp> {
        let btime = i64::try_from(self.btime?).ok()?;
        let secs = i64::try_from(start_ticks / self.ticks_per_second).ok()?;
        let frac_ticks = start_ticks % self.ticks_per_second;
        let nanos = i32::try_from(frac_ticks * 1_000_000_000 / self.ticks_per_second).ok()?;
        Timestamp::new(btime.checked_add(secs)?, nanos).ok()
    }
}

/// A pid as a NUL-terminated decimal string, without allocating.
fn pid_cstr(pid: u32, buf: &mut [u8; 12]) -> &CStr {
    let mut digits = [0u8; 10];
    let mut n = pid;
    let mut len = 0;
    loop {
        digits[len] = b'0' + (n % 10) as u8;
        len += 1;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for i in 0..len {
        buf[i] = digits[len - 1 - i];
    }
    buf[len] = 0;
    // The buffer holds only ASCII digits followed by one NUL.
    CStr::from_bytes_with_nul(&buf[..=len]).unwrap_or(c"0")
}

/// Where each process's logind session comes from.
pub enum SessionSource {
    /// Read /proc/PID/cgroup for every process.
    PerProcess,
    /// pid → session id, read once from the cgroup tree (see [`super::cgroup`]).
    Tree(HashMap<u32, String>),
}

/// Below this many processes a second thread costs more than it saves.
const PARALLEL_THRESHOLD: usize = 512;

/// Scan every process under `proc_dir`.
pub fn scan(
    proc_dir: &Path,
    sessions: &SessionSource,
    users: &mut UserNames,
    notes: &mut Vec<String>,
) -> Result<Vec<ProcessRow>, SourceFailure> {
    let describe = || format!("process directory {}", proc_dir.display());
    let proc = std::fs::File::open(proc_dir).map_err(|e| super::io_failure(&e, &describe()))?;
    let mut pids: Vec<u32> = std::fs::read_dir(proc_dir)
        .map_err(|e| super::io_failure(&e, &describe()))?
        .filter_map(Result::ok)
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .collect();
    pids.sort_unstable();

    let mut buf = Vec::with_capacity(8192);
    let btime = match sys::read_at(&proc, c"stat", &mut buf) {
        Ok(()) => parse_btime(&buf),
        Err(_) => None,
    };
    if btime.is_none() {
        notes.push(format!(
            "{}/stat has no boot time: process start times are unknown",
            proc_dir.display()
        ));
    }
    let clock = Clock {
        btime,
        ticks_per_second: sys::clock_ticks_per_second(),
    };
    let read_cgroup = matches!(sessions, SessionSource::PerProcess);
    // pidfds name processes of our own /proc only; elsewhere (a copy, a test
    // directory) the owner comes from each status file.
    let use_pidfd = proc_dir == Path::new("/proc") && pidfd_works();
    let plan = Plan {
        read_cgroup,
        use_pidfd,
    };

    // The kernel work per process (generating stat/status) dominates, so
    // spread the pids over the available cores.
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    let mut rows = if threads > 1 && pids.len() >= PARALLEL_THRESHOLD {
        let chunk = pids.len().div_ceil(threads);
        std::thread::scope(|scope| {
            let workers: Vec<_> = pids
                .chunks(chunk)
                .map(|part| scope.spawn(|| scan_many(&proc, part, &clock, plan)))
                .collect();
            let mut rows = Vec::with_capacity(pids.len());
            for worker in workers {
                match worker.join() {
                    Ok(part) => rows.extend(part),
                    Err(_) => notes
                        .push("a /proc scanning thread panicked; its processes are missing".into()),
                }
            }
            rows
        })
    } else {
        scan_many(&proc, &pids, &clock, plan)
    };

    for row in &mut rows {
        row.user = row.uid.and_then(|uid| users.get(uid));
        if let SessionSource::Tree(map) = sessions {
            row.logon_id = map.get(&row.pid).cloned();
        }
    }
    let unreadable = rows.iter().filter(|r| r.access_error.is_some()).count();
    if unreadable > 0 {
        notes.push(format!(
            "{unreadable} processes could not be read completely (see access_error)"
        ));
    }
    Ok(rows)
}

/// What to read for each process.
#[derive(Clone, Copy)]
struct Plan {
    /// Read /proc/PID/cgroup (no cgroup tree available).
    read_cgroup: bool,
    /// Take the real uid from a pidfd (PIDFD_GET_INFO) instead of formatting status.
    use_pidfd: bool,
}

/// Whether PIDFD_GET_INFO works here (Linux 6.13+), tried on ourselves.
fn pidfd_works() -> bool {
    sys::pidfd_open(std::process::id()).is_ok_and(|fd| sys::pidfd_real_uid(&fd).is_ok())
}

fn scan_many(proc: &std::fs::File, pids: &[u32], clock: &Clock, plan: Plan) -> Vec<ProcessRow> {
    let mut buf = Vec::with_capacity(8192);
    pids.iter()
        .filter_map(|&pid| scan_one(proc, pid, clock, plan, &mut buf))
        .collect()
}

/// One process, or None when it vanished.
fn scan_one(
    proc: &std::fs::File,
    pid: u32,
    clock: &Clock,
    plan: Plan,
    buf: &mut Vec<u8>,
) -> Option<ProcessRow> {
    let mut row = ProcessRow {
        pid,
        ..ProcessRow::default()
    };
    let mut name_buf = [0u8; 12];
    let dir = match sys::open_at(proc, pid_cstr(pid, &mut name_buf), true) {
        Ok(dir) => dir,
        Err(e) if vanished(&e) => return None,
        Err(e) => {
            row.access_error = Some(format!("cannot open the process directory: {e}"));
            return Some(row);
        }
    };

    // Opened after the pid directory and before reading through it: if the
    // read below succeeds, the process was alive when the pidfd was made, so
    // the pidfd names this process and not a later one with the same number.
    let pidfd = if plan.use_pidfd {
        sys::pidfd_open(pid).ok()
    } else {
        None
    };
    match sys::read_at(&dir, c"stat", buf) {
        Ok(()) => match parse_stat(buf) {
            Some(stat) => {
                row.name = String::from_utf8_lossy(stat.comm).into_owned();
                row.ppid = Some(stat.ppid);
                row.start_time = clock.start_time(stat.start_ticks);
                if stat.is_kernel_thread() {
                    // Kernel threads are root's, with no login and no session: skip the rest.
                    row.uid = Some(0);
                    return Some(row);
                }
            }
            None => {
                row.access_error = Some("stat: unexpected format".to_string());
                return Some(row);
            }
        },
        Err(e) if vanished(&e) => return None,
        Err(e) => {
            row.access_error = Some(format!("stat: {e}"));
            return Some(row);
        }
    }

    row.uid = pidfd.and_then(|fd| sys::pidfd_real_uid(&fd).ok());
    if row.uid.is_none() {
        match sys::read_at(&dir, c"status", buf) {
            Ok(()) => {
                row.uid = parse_status_uid(buf);
                if row.uid.is_none() {
                    row.access_error = Some("status: no Uid line".to_string());
                }
            }
            Err(e) if vanished(&e) => return None,
            Err(e) => row.access_error = Some(format!("status: {e}")),
        }
    }

    // Absent files here mean a kernel without audit or cgroups, not a vanished process.
    match sys::read_at(&dir, c"loginuid", buf) {
        Ok(()) => row.loginuid = parse_id_file(buf),
        Err(e) if e.raw_os_error() == Some(libc::ESRCH) => return None,
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
        Err(e) => note_error(&mut row.access_error, c"loginuid", &e),
    }
    // The kernel gives a process an audit session exactly when its login uid
    // is set (both are set, cleared and inherited together), so an unset
    // login uid means an unset session: no need to read it.
    if row.loginuid.is_some() {
        match sys::read_at(&dir, c"sessionid", buf) {
            Ok(()) => row.audit_session = parse_id_file(buf),
            Err(e) if e.raw_os_error() == Some(libc::ESRCH) => return None,
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
            Err(e) => note_error(&mut row.access_error, c"sessionid", &e),
        }
    }
    if !plan.read_cgroup {
        return Some(row);
    }
    match sys::read_at(&dir, c"cgroup", buf) {
        Ok(()) => row.logon_id = parse_cgroup_session(buf).map(str::to_string),
        Err(e) if e.raw_os_error() == Some(libc::ESRCH) => return None,
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
        Err(e) => note_error(&mut row.access_error, c"cgroup", &e),
    }
    Some(row)
}

fn note_error(slot: &mut Option<String>, file: &CStr, err: &io::Error) {
    let text = format!("{}: {err}", file.to_string_lossy());
    match slot {
        Some(existing) => {
            existing.push_str("; ");
            existing.push_str(&text);
        }
        None => *slot = Some(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn stat_line(pid: u32, comm: &str, ppid: u32, start: u64) -> String {
        let mut fields = vec!["S".to_string(), ppid.to_string()];
        fields.extend((5..=21).map(|i| i.to_string()));
        fields.push(start.to_string());
        fields.extend(["100", "200"].map(String::from));
        format!("{pid} ({comm}) {}\n", fields.join(" "))
    }

    #[test]
    fn parses_real_stat_of_self() {
        let text = std::fs::read("/proc/self/stat").unwrap();
        let stat = parse_stat(&text).unwrap();
        assert_eq!(stat.pid, std::process::id());
        assert!(stat.ppid > 0);
        assert!(stat.start_ticks > 0);
    }

    #[test]
    fn comm_with_spaces_and_parens() {
        let text = stat_line(42, "a) (b c) x", 7, 12345);
        let stat = parse_stat(text.as_bytes()).unwrap();
        assert_eq!(stat.comm, b"a) (b c) x");
        assert_eq!(
            (stat.pid, stat.ppid, stat.start_ticks, stat.state),
            (42, 7, 12345, b'S')
        );
    }

    #[test]
    fn kernel_thread_flag() {
        let mut fields: Vec<String> = (5..=21).map(|i| i.to_string()).collect();
        fields[4] = (0x0020_0040u64).to_string(); // field 9: PF_KTHREAD | PF_FORKNOEXEC
        let text = format!("2 (kthreadd) S 0 {} 77 0 0\n", fields.join(" "));
        let stat = parse_stat(text.as_bytes()).unwrap();
        assert!(stat.is_kernel_thread());
        assert_eq!(stat.start_ticks, 77);
        let user = stat_line(5, "sleep", 1, 9);
        assert!(!parse_stat(user.as_bytes()).unwrap().is_kernel_thread());
    }

    #[test]
    fn truncated_stat_is_rejected() {
        assert_eq!(parse_stat(b"42 (x) S 1 2 3"), None);
        assert_eq!(parse_stat(b"42 x) S 1"), None);
        assert_eq!(parse_stat(b""), None);
        assert_eq!(parse_stat(b") 42 ("), None);
    }

    #[test]
    fn status_real_uid() {
        let text = b"Name:\tsleep\nUmask:\t0022\nState:\tS\nUid:\t1001\t0\t0\t0\nGid:\t1001\t1001\t1001\t1001\n";
        assert_eq!(parse_status_uid(text), Some(1001));
        assert_eq!(parse_status_uid(b"Uid:\t5\t5\t5\t5\n"), Some(5));
        assert_eq!(parse_status_uid(b"Name:\tx\n"), None);
        assert_eq!(parse_status_uid(b"Name:\tx\nUid:\t\n"), None);
    }

    #[test]
    fn id_files() {
        assert_eq!(parse_id_file(b"4242"), Some(4242));
        assert_eq!(parse_id_file(b"4294967295"), None);
        assert_eq!(parse_id_file(b"x"), None);
    }

    #[test]
    fn cgroup_sessions() {
        assert_eq!(
            parse_cgroup_session(b"0::/user.slice/user-1000.slice/session-3.scope\n"),
            Some("3")
        );
        assert_eq!(
            parse_cgroup_session(
                b"12:cpu:/\n1:name=systemd:/user.slice/user-0.slice/session-c12.scope\n0::/\n"
            ),
            Some("c12")
        );
        assert_eq!(
            parse_cgroup_session(b"0::/system.slice/sshd.service\n"),
            None
        );
        assert_eq!(
            parse_cgroup_session(b"0::/user.slice/session-.scope\n"),
            None
        );
    }

    #[test]
    fn btime_and_passwd() {
        assert_eq!(
            parse_btime(b"cpu  1 2 3\nintr 5\nbtime 1700000000\nprocesses 9\n"),
            Some(1_700_000_000)
        );
        assert_eq!(parse_btime(b"cpu 1\n"), None);
        let names = parse_passwd(
            "root:x:0:0:root:/root:/bin/bash\nbad line\nalice:x:1000:1000::/home/alice:/bin/sh\ndup:x:0:0::/:/bin/sh\n",
        );
        assert_eq!(names.get(&0).map(String::as_str), Some("root"));
        assert_eq!(names.get(&1000).map(String::as_str), Some("alice"));
        assert_eq!(names.len(), 2);
    }

    #[test]
    fn start_time_from_ticks() {
        let clock = Clock {
            btime: Some(1_700_000_000),
            ticks_per_second: 100,
        };
        assert_eq!(
            clock.start_time(250).unwrap().as_millisecond(),
            1_700_000_002_500
        );
        let unknown = Clock {
            btime: None,
            ticks_per_second: 100,
        };
        assert_eq!(unknown.start_time(250), None);
    }

    #[test]
    fn pidfd_and_status_agree_on_owners() {
        let proc = std::fs::File::open("/proc").unwrap();
        let pids: Vec<u32> = std::fs::read_dir("/proc")
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
            .collect();
        let clock = Clock {
            btime: None,
            ticks_per_second: 100,
        };
        let by_status = scan_many(
            &proc,
            &pids,
            &clock,
            Plan {
                read_cgroup: false,
                use_pidfd: false,
            },
        );
        let by_pidfd = scan_many(
            &proc,
            &pids,
            &clock,
            Plan {
                read_cgroup: false,
                use_pidfd: pidfd_works(),
            },
        );
        let owners = |rows: &[ProcessRow]| -> HashMap<u32, Option<u32>> {
            rows.iter().map(|r| (r.pid, r.uid)).collect()
        };
        let (a, b) = (owners(&by_status), owners(&by_pidfd));
        let common: Vec<u32> = a.keys().filter(|p| b.contains_key(p)).copied().collect();
        assert!(common.contains(&std::process::id()));
        for pid in common {
            assert_eq!(a[&pid], b[&pid], "owner of {pid}");
        }
    }

    #[test]
    fn pid_names() {
        let mut buf = [0u8; 12];
        assert_eq!(pid_cstr(0, &mut buf), c"0");
        assert_eq!(pid_cstr(4_294_967_295, &mut buf), c"4294967295");
        assert_eq!(pid_cstr(1234, &mut buf), c"1234");
    }

    proptest! {
        #[test]
        fn stat_roundtrip(pid in 1u32..4_000_000, comm in "[^\\x00\\n]{0,15}", ppid in 0u32..4_000_000, start in any::<u64>()) {
            let text = stat_line(pid, &comm, ppid, start);
            let stat = parse_stat(text.as_bytes()).unwrap();
            prop_assert_eq!(stat.comm, comm.as_bytes());
            prop_assert_eq!((stat.pid, stat.ppid, stat.start_ticks), (pid, ppid, start));
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = parse_stat(&bytes);
            let _ = parse_status_uid(&bytes);
            let _ = parse_id_file(&bytes);
            let _ = parse_cgroup_session(&bytes);
            let _ = parse_btime(&bytes);
        }
    }
}

//! Processes from /proc: owner, login uid, audit session, logind session, start time.
//!
//! Speed matters (target: 10,000 processes in under 50 ms), so each process costs
//! one directory open plus one open/read/close per file, all relative to the
//! pid directory (no path walks), into one reused buffer. Holding the pid
//! directory open also pins the process: if the pid is reused mid-scan,
//! reads fail instead of mixing two processes.
//!
//! The owner is the *real* uid (first field of `Uid:` in status): the account
//! that started the process, not a setuid program's borrowed identity. (The
//! owner of the /proc/PID directory, one `fstat`, would be cheaper, but the
//! kernel gives that directory the *effective* uid: `sudo` run by alice
//! would count as root's; see docs/linux-collector.md.) On
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

pub use super::procparse::{
    ProcStat, parse_btime, parse_cgroup_session, parse_id_file, parse_passwd, parse_stat,
    parse_status_uid,
};

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
                if stat.state == b'Z' {
                    // A zombie has exited: it holds nothing and keeps no login alive.
                    return None;
                }
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
}

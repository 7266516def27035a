//! A stale utmp record marked dead, as glibc's own logout path does it.
//!
//! Follows glibc (login/logout.c, login/logwtmp.c, login/utmp_file.c):
//! - `logout(line)`: find the USER_PROCESS record by `ut_line`, clear
//!   `ut_user` and `ut_host`, set `ut_tv` to now and `ut_type` to
//!   DEAD_PROCESS (pid, id, line and address stay), and write it back in
//!   place with `pututline`, which holds an `fcntl` F_WRLCK on the whole
//!   file while it writes (`try_file_lock`, waiting at most TIMEOUT = 10 s).
//! - `logwtmp(line, "", "")`: a zeroed record with `ut_pid = getpid()`,
//!   DEAD_PROCESS (the name is empty), the line, now; appended by
//!   `__libc_updwtmp` under the same kind of lock, after cutting a trailing
//!   partial record (`ftruncate` to a whole number of records), and cut
//!   back again if the write is short. Like glibc, a missing wtmp is not
//!   created.
//!
//! glibc waits for the lock with F_SETLKW and a SIGALRM; a multi-threaded
//! program should not own SIGALRM, so the same 10 s are spent retrying
//! F_SETLK. The locks are the same POSIX record locks glibc takes, so
//! glibc's readers and writers in other processes wait for ours.
//!
//! Unlike `logout()`, the record is read again under the lock and must be
//! the one the scan saw (same line, pid, user and login time), and its
//! process must be gone or reused (the analysis's rule,
//! [`crate::analyze::still_the_logins`]); otherwise nothing is written.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom};
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::{Duration, Instant};

use jiff::Timestamp;

use super::CloseError;
use crate::collect::linux::utmp::{
    self as format, DEAD_PROCESS, MAX_UTMP_FILE, RECORD_SIZE, USER_PROCESS, UtmpRecord,
};

/// glibc's TIMEOUT in utmp_file.c.
const LOCK_TIMEOUT: Duration = Duration::from_secs(10);

pub struct Paths<'a> {
    pub utmp: &'a Path,
    pub wtmp: &'a Path,
    pub proc_dir: &'a Path,
}

/// The record as the scan saw it.
pub struct Expected<'a> {
    pub line: &'a str,
    pub pid: u32,
    pub user: &'a str,
    pub login_time: Option<Timestamp>,
}

/// A whole-file POSIX write lock, released when dropped (before the file
/// is closed, as glibc's `file_unlock` does).
struct WriteLock<'a> {
    file: &'a File,
}

fn flock(kind: libc::c_short) -> libc::flock {
    // SAFETY: flock is plain integers; all-zero is "from offset 0, whole file".
    let mut lock: libc::flock = unsafe { std::mem::zeroed() };
    lock.l_type = kind;
    lock.l_whence = libc::SEEK_SET as libc::c_short;
    lock
}

impl<'a> WriteLock<'a> {
    fn take(file: &'a File, path: &Path) -> Result<Self, CloseError> {
        let started = Instant::now();
        loop {
            let lock = flock(libc::F_WRLCK as libc::c_short);
            // SAFETY: a valid descriptor and a pointer to a live flock struct.
            if unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETLK, &lock) } == 0 {
                return Ok(WriteLock { file });
            }
            let error = std::io::Error::last_os_error();
            let busy = matches!(error.raw_os_error(), Some(libc::EACCES | libc::EAGAIN));
            if !busy {
                return Err(CloseError::io(path, error));
            }
            if started.elapsed() >= LOCK_TIMEOUT {
                return Err(CloseError::Failed(format!(
                    "{}: another program held its lock for {}s",
                    path.display(),
                    LOCK_TIMEOUT.as_secs()
                )));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for WriteLock<'_> {
    fn drop(&mut self) {
        let lock = flock(libc::F_UNLCK as libc::c_short);
        // SAFETY: as in `take`; unlocking cannot fail in a way we could act on.
        unsafe { libc::fcntl(self.file.as_raw_fd(), libc::F_SETLK, &lock) };
    }
}

/// Now as `ut_tv` holds it (seconds as 32 bits, as glibc stores them).
fn now_tv() -> (u32, i32) {
    let now = Timestamp::now();
    (
        u32::try_from(now.as_second()).unwrap_or(u32::MAX),
        now.subsec_microsecond(),
    )
}

/// Mark the record `expected` describes DEAD_PROCESS and log the logout in wtmp.
pub fn mark_dead(paths: &Paths<'_>, expected: &Expected<'_>) -> Result<String, CloseError> {
    let utmp = paths.utmp;
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(utmp)
        .map_err(|e| CloseError::io(utmp, e))?;
    let lock = WriteLock::take(&file, utmp)?;
    let mut bytes = Vec::new();
    (&file)
        .take(MAX_UTMP_FILE as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| CloseError::io(utmp, e))?;
    if bytes.len() > MAX_UTMP_FILE {
        return Err(CloseError::Failed(format!(
            "{} is too large",
            utmp.display()
        )));
    }
    let records = format::decode(&bytes).map_err(|e| CloseError::Failed(e.to_string()))?;
    let Some((index, record)) = records
        .iter()
        .enumerate()
        .find(|(_, r)| r.kind == USER_PROCESS && r.line == expected.line)
    else {
        return Err(CloseError::Refused(format!(
            "utmp no longer lists a login on {}",
            expected.line
        )));
    };
    let same = u32::try_from(record.pid).ok() == Some(expected.pid)
        && record.user == expected.user
        && record.login_time() == expected.login_time;
    if !same {
        return Err(CloseError::Refused(format!(
            "the utmp record of {} changed since the scan (a new login?)",
            expected.line
        )));
    }
    if let Some(process) = super::process::read_process(paths.proc_dir, expected.pid) {
        match crate::analyze::still_the_logins(expected.user, expected.login_time, &process) {
            Some(false) => {}
            Some(true) => {
                return Err(CloseError::Refused(format!(
                    "process {} of {} is alive",
                    expected.pid, expected.line
                )));
            }
            None => {
                return Err(CloseError::Refused(format!(
                    "process {} exists and whether it is the login's cannot be told",
                    expected.pid
                )));
            }
        }
    }
    // logout(): clear who and from where, now, DEAD_PROCESS.
    let (tv_sec, tv_usec) = now_tv();
    let dead = UtmpRecord {
        kind: DEAD_PROCESS,
        user: String::new(),
        host: String::new(),
        tv_sec,
        tv_usec,
        ..record.clone()
    };
    let offset = (index * RECORD_SIZE) as u64;
    file.write_all_at(&format::encode(&dead), offset)
        .map_err(|e| CloseError::io(utmp, e))?;
    // The write is on disk for every reader once it returns; glibc's
    // pututline does no more (no fsync) either.
    drop(lock);
    let wtmp_note = match append_wtmp(paths.wtmp, expected.line, tv_sec, tv_usec) {
        Ok(()) => format!("logout logged in {}", paths.wtmp.display()),
        Err(e) => format!("logout not logged in wtmp: {e}"),
    };
    Ok(format!(
        "utmp record of {} marked DEAD_PROCESS; {wtmp_note}",
        expected.line
    ))
}

/// `logwtmp(line, "", "")` → `__libc_updwtmp`.
fn append_wtmp(path: &Path, line: &str, tv_sec: u32, tv_usec: i32) -> Result<(), CloseError> {
    // O_WRONLY, no O_CREAT: as glibc, a host without wtmp gets none.
    let file = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| CloseError::io(path, e))?;
    let _lock = WriteLock::take(&file, path)?;
    let end = (&file)
        .seek(SeekFrom::End(0))
        .map_err(|e| CloseError::io(path, e))?;
    let whole = end - end % RECORD_SIZE as u64;
    if whole != end {
        file.set_len(whole).map_err(|e| CloseError::io(path, e))?;
    }
    let record = UtmpRecord {
        kind: DEAD_PROCESS,
        pid: i32::try_from(std::process::id()).unwrap_or(i32::MAX),
        line: line.to_string(),
        tv_sec,
        tv_usec,
        ..UtmpRecord::default()
    };
    if let Err(e) = file.write_all_at(&format::encode(&record), whole) {
        // A short write would leave a partial record: cut it, as glibc does.
        let _ = file.set_len(whole);
        return Err(CloseError::io(path, e));
    }
    Ok(())
}

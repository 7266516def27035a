//! Leftover processes: SIGTERM, then SIGKILL after a grace period, each
//! signal sent only to the process that was seen (same pid, start time and
//! owner), checked just before the signal.
//!
//! The check and the signal go through a pidfd where the kernel has them
//! (Linux 5.3): the pidfd is opened first and the process checked after,
//! so a match means the pidfd holds that very process and the signal
//! cannot reach a successor that reused the pid. Without pidfds, `kill`
//! right after the check (a window of microseconds, as procps' `kill` has).

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;
use std::time::{Duration, Instant};

use jiff::Timestamp;

use super::{CloseError, SeenProcess};
use crate::collect::linux::procparse::{
    parse_btime, parse_id_file, parse_passwd, parse_stat, parse_status_uid,
};
use crate::collect::linux::sys::clock_ticks_per_second;
use crate::model::ProcessRow;

/// A process as /proc shows it now; None when there is none (or a zombie,
/// which has already ended and only waits for its parent).
pub fn read_process(proc_dir: &Path, pid: u32) -> Option<ProcessRow> {
    let dir = proc_dir.join(pid.to_string());
    let stat_text = std::fs::read(dir.join("stat")).ok()?;
    let stat = parse_stat(&stat_text)?;
    if matches!(stat.state, b'Z' | b'X') {
        return None;
    }
    let btime = std::fs::read(proc_dir.join("stat"))
        .ok()
        .and_then(|t| parse_btime(&t));
    let uid = std::fs::read(dir.join("status"))
        .ok()
        .and_then(|t| parse_status_uid(&t));
    let user = uid.and_then(|uid| {
        std::fs::read_to_string("/etc/passwd")
            .ok()
            .and_then(|t| parse_passwd(&t).remove(&uid))
    });
    Some(ProcessRow {
        pid,
        name: String::from_utf8_lossy(stat.comm).into_owned(),
        user,
        uid,
        start_time: btime.and_then(|b| start_time(b, stat.start_ticks)),
        loginuid: std::fs::read(dir.join("loginuid"))
            .ok()
            .and_then(|t| parse_id_file(&t)),
        ..ProcessRow::default()
    })
}

/// Boot time plus clock ticks, as the collector computes it (so a start
/// time read now equals the one in the scan's snapshot).
fn start_time(btime: u64, ticks: u64) -> Option<Timestamp> {
    let per_second = clock_ticks_per_second();
    let secs = i64::try_from(btime.checked_add(ticks / per_second)?).ok()?;
    let nanos = i32::try_from((ticks % per_second) * 1_000_000_000 / per_second).ok()?;
    Timestamp::new(secs, nanos).ok()
}

/// Is the process at `seen.pid` still the one that was seen?
fn still_same(proc_dir: &Path, seen: &SeenProcess) -> bool {
    read_process(proc_dir, seen.pid)
        .is_some_and(|now| now.start_time == Some(seen.start_time) && now.uid == Some(seen.uid))
}

/// `pidfd_open(2)`; None where the kernel has no pidfds (or the pid is gone).
fn pidfd_open(pid: u32) -> Option<OwnedFd> {
    let pid = libc::pid_t::try_from(pid).ok()?;
    // SAFETY: pidfd_open takes a pid and flags and returns a new file
    // descriptor or -1; no memory is passed.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    let fd = i32::try_from(fd).ok().filter(|&fd| fd >= 0)?;
    // SAFETY: the kernel just returned this descriptor to us; nothing else owns it.
    Some(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `pidfd_send_signal(2)`.
fn pidfd_signal(fd: &OwnedFd, signal: i32) -> std::io::Result<()> {
    // SAFETY: a valid pidfd, a signal number, no siginfo (NULL), no flags.
    let r = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            fd.as_raw_fd(),
            signal,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// `kill(2)`.
fn kill(pid: u32, signal: i32) -> std::io::Result<()> {
    let pid = libc::pid_t::try_from(pid).map_err(|_| std::io::Error::other("pid out of range"))?;
    // SAFETY: kill takes two integers; no memory is passed.
    if unsafe { libc::kill(pid, signal) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// What one signal did.
#[derive(Debug, PartialEq, Eq)]
enum Sent {
    Sent,
    /// The process is gone, or another one has its pid now: nothing sent.
    NotThere,
}

/// Check, then signal: through a pidfd when possible.
fn signal_if_same(proc_dir: &Path, seen: &SeenProcess, signal: i32) -> std::io::Result<Sent> {
    let fd = pidfd_open(seen.pid);
    if !still_same(proc_dir, seen) {
        return Ok(Sent::NotThere);
    }
    let sent = match &fd {
        Some(fd) => pidfd_signal(fd, signal),
        None => kill(seen.pid, signal),
    };
    match sent {
        Ok(()) => Ok(Sent::Sent),
        // It ended between the check and the signal.
        Err(e) if e.raw_os_error() == Some(libc::ESRCH) => Ok(Sent::NotThere),
        Err(e) => Err(e),
    }
}

/// End `processes`: SIGTERM to each, up to `grace` for them to go, then
/// SIGKILL to those still there (each checked again first).
pub fn end(
    proc_dir: &Path,
    processes: &[SeenProcess],
    grace: Duration,
) -> Result<String, CloseError> {
    let mut errors = Vec::new();
    let mut termed = Vec::new();
    for p in processes {
        match signal_if_same(proc_dir, p, libc::SIGTERM) {
            Ok(Sent::Sent) => termed.push(p),
            Ok(Sent::NotThere) => {}
            Err(e) => errors.push(format!("SIGTERM to {}: {e}", p.pid)),
        }
    }
    let started = Instant::now();
    while termed.iter().any(|p| still_same(proc_dir, p)) && started.elapsed() < grace {
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut killed = 0;
    for p in &termed {
        match signal_if_same(proc_dir, p, libc::SIGKILL) {
            Ok(Sent::Sent) => killed += 1,
            Ok(Sent::NotThere) => {}
            Err(e) => errors.push(format!("SIGKILL to {}: {e}", p.pid)),
        }
    }
    // SIGKILL is not refused, but the process leaves /proc only when the
    // kernel is done with it: a moment's wait before the re-scan.
    let deadline = Instant::now() + Duration::from_secs(5);
    while termed.iter().any(|p| still_same(proc_dir, p)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    if !errors.is_empty() {
        return Err(CloseError::Failed(errors.join("; ")));
    }
    Ok(format!(
        "SIGTERM to {}, SIGKILL to {killed} after the grace period",
        termed.len()
    ))
}

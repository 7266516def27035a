//! The local Linux collector (`linux-local`): utmp, systemd-logind, /proc and smbstatus.
//!
//! Each source is read on its own; one failing leaves the others intact.
//! smbstatus (an external process, mostly waiting) runs on a second thread
//! while /proc is scanned, but only where Samba could answer: when the
//! caller named a Samba (`--smbstatus`, `--smb-conf`) or smbd's pid file
//! names a live process; otherwise after the scan, and only if the process
//! list shows an smbd. Without one the source is "not available", saying
//! why: loading Samba's libraries to learn that nothing is served costs
//! ~50 ms and 20 MB, ten times the rest of a quiet host's scan.
//!
//! Interactive sessions come from logind sessions with a tty or seat, plus
//! utmp USER_PROCESS entries on terminals logind does not already cover.
//! Samba's `smb/N` utmp lines are not terminals (they are SMB sessions, a
//! source of their own) and are left out. A utmp-only row is Active while its
//! login process lives and Down once it is gone.

pub mod cgroup;
pub mod logind;
pub mod logind_dbus;
pub mod procfs;
pub mod procparse;
pub mod samba;
pub mod sys;
pub mod utmp;

use std::collections::HashSet;
use std::path::Path;
use std::time::Instant;

use jiff::Timestamp;

use super::CollectOptions;
use super::deadline::with_deadline;
use crate::model::{
    FailureKind, HostSnapshot, InteractiveSession, InteractiveState, Observed, Platform,
    ProcessRow, SourceFailure, WorkstationUser,
};

/// Name of this collector in snapshots.
pub const COLLECTOR: &str = "linux-local";

/// An I/O error reading `what` as a source failure: missing → NotAvailable,
/// permission → AccessDenied, anything else → Other (errno kept as the code).
pub(crate) fn io_failure(err: &std::io::Error, what: &str) -> SourceFailure {
    let kind = match err.kind() {
        std::io::ErrorKind::NotFound => FailureKind::NotAvailable,
        std::io::ErrorKind::PermissionDenied => FailureKind::AccessDenied,
        _ => FailureKind::Other,
    };
    SourceFailure::new(
        kind,
        err.raw_os_error().map(i64::from),
        format!("cannot read {what}: {err}"),
    )
}

/// Collect a snapshot of this machine, every source bounded by `options.timeout`.
///
/// utmp and logind's files are read first and /proc after them, so a login
/// process named in a record and still alive is in the process list: whether
/// a record's process lives is then read off that list (zombies excluded),
/// the same moment for every record.
pub fn collect_local(options: &CollectOptions) -> HostSnapshot {
    let deadline = Instant::now() + options.timeout;
    let paths = options.linux.clone();
    let mut snapshot = HostSnapshot::empty(sys::hostname(), Platform::Linux, COLLECTOR);
    let timeout = options.timeout;

    let start_smbstatus = |paths: &super::LinuxPaths| {
        let paths = paths.clone();
        with_deadline(
            deadline,
            "smbstatus",
            move || samba::collect(&paths, timeout),
            timed_out("smbstatus", timeout),
        )
    };
    // smbstatus is asked only where Samba could answer: when the caller
    // named a Samba, or smbd runs. Its pid file lets a Samba server start
    // smbstatus now, beside the other sources; otherwise the process list
    // read below decides.
    let early = paths.smbstatus_requested()
        || (paths.proc_dir == Path::new("/proc") && samba::smbd_pid_file_alive());
    let smb_early = early.then(|| start_smbstatus(&paths));
    let utmp_path = paths.utmp.clone();
    let utmp_records = with_deadline(
        deadline,
        "utmp",
        move || utmp::read(&utmp_path),
        timed_out("reading utmp", timeout),
    );
    // The bus is asked beside the files: both are cheap, and the files are
    // wanted either way (users, lingering, the fallback, the comparison).
    let bus_wanted = logind_dbus::bus_wanted(&paths);
    let logind_bus = bus_wanted.is_ok().then(|| {
        with_deadline(
            deadline,
            "logind-dbus",
            move || logind_dbus::read(deadline).map_err(|e| logind_dbus::failure(&e)),
            timed_out("reading systemd-logind over D-Bus", timeout),
        )
    });
    let logind_dir = paths.logind_dir.clone();
    let logind_state = with_deadline(
        deadline,
        "logind",
        move || logind::read(&logind_dir),
        timed_out("reading systemd-logind's files", timeout),
    );
    let utmp_records = utmp_records();
    let (logind_state, logind_via_bus) = logind_dbus::combine(
        logind_bus.map(|wait| wait()),
        bus_wanted.err(),
        paths.logind_source,
        logind_state(),
        &mut snapshot.notes,
    );

    let proc_dir = paths.proc_dir.clone();
    let scan = with_deadline(
        deadline,
        "proc",
        move || {
            let mut users = procfs::UserNames::load();
            let mut notes = Vec::new();
            let sessions = session_source(&proc_dir);
            let rows = procfs::scan(&proc_dir, &sessions, &mut users, &mut notes);
            Ok((rows, users, notes))
        },
        timed_out("scanning processes", timeout),
    );
    let (processes, mut users) = match scan() {
        Ok((rows, users, notes)) => {
            snapshot.notes.extend(notes);
            (rows, users)
        }
        Err(failure) => (Err(failure), procfs::UserNames::load()),
    };
    let now = Timestamp::now();

    let live_pids: Option<HashSet<u32>> = processes
        .as_ref()
        .ok()
        .map(|rows| rows.iter().map(|p| p.pid).collect());
    let pid_alive = |pid: u32| match &live_pids {
        Some(pids) => Some(pids.contains(&pid)),
        None => login_process_alive(pid),
    };
    snapshot.workstation_users = utmp_records
        .as_ref()
        .map(|records| utmp::workstation_users(records, pid_alive))
        .map_err(Clone::clone)
        .into();

    let logind_state = logind_state.and_then(|state| {
        // logind answering on the bus is running, whatever its files say.
        if logind_via_bus || logind_running(&state, processes.as_ref().ok()) {
            Ok(state)
        } else {
            Err(logind_not_running(&paths.logind_dir, &state))
        }
    });
    if let Ok(state) = &logind_state {
        snapshot.notes.extend(state.skipped.iter().cloned());
    }
    snapshot.logon_sessions = logind_state
        .as_ref()
        .map(|state| {
            state
                .sessions
                .iter()
                .map(|s| {
                    let mut row = s.to_logon_session(&state.users);
                    if row.user.is_none() {
                        row.user = row.uid.and_then(|uid| users.get(uid));
                    }
                    row
                })
                .collect()
        })
        .map_err(Clone::clone)
        .into();
    let mut interactive = interactive_sessions(
        snapshot.workstation_users.rows().map(Vec::as_slice),
        snapshot.workstation_users.failure(),
        &logind_state,
        |tty| idle_secs_of_tty(tty, now),
    );
    if let (Observed::Ok { rows }, Some(logons)) =
        (&mut interactive, snapshot.logon_sessions.rows())
    {
        // A session file without USER= names its user only by uid.
        for row in rows.iter_mut().filter(|r| r.user.is_none()) {
            row.user = logons
                .iter()
                .find(|l| l.logon_id == row.session_id)
                .and_then(|l| l.user.clone());
        }
    }
    snapshot.interactive_sessions = interactive;
    snapshot.processes = processes.into();
    if let Ok(state) = &logind_state {
        note_lingering(&paths.logind_dir, Some(state), &mut snapshot.notes);
    }

    let smb = match smb_early {
        Some(wait) => wait(),
        None => match samba::smbd_absent(snapshot.processes.rows().map(Vec::as_slice)) {
            Some(reason) => Err(reason),
            None => start_smbstatus(&paths)(),
        },
    };
    snapshot.smb_sessions = match smb {
        Ok(result) => {
            snapshot.notes.extend(result.notes);
            Observed::ok(result.sessions)
        }
        Err(failure) => Observed::Failed(failure),
    };
    snapshot.directory_accounts = if own_records(&paths) {
        // NSS may ask a network service (LDAP, SSSD, winbind): within the deadline.
        let mut probe = HostSnapshot::empty("", Platform::Linux, COLLECTOR);
        probe.logon_sessions = snapshot.logon_sessions.clone();
        probe.workstation_users = snapshot.workstation_users.clone();
        with_deadline(
            deadline,
            "nss",
            move || Ok(super::accounts::from_nss(&probe)),
            timed_out("looking accounts up through NSS", timeout),
        )()
        .unwrap_or_else(Observed::Failed)
    } else {
        Observed::failed(
            FailureKind::NotSupported,
            None,
            "utmp or logind files other than this machine's own were read: this machine's \
             NSS says nothing about their accounts",
        )
    };
    snapshot.collected_at = Timestamp::now();
    snapshot
}

/// Whether utmp and logind are this machine's own (the defaults), whose
/// accounts this machine's NSS answers for.
fn own_records(paths: &super::LinuxPaths) -> bool {
    let defaults = super::LinuxPaths::default();
    paths.utmp == defaults.utmp && paths.logind_dir == defaults.logind_dir
}

/// The failure of a source that overran the scan's time limit.
fn timed_out<T>(
    what: &'static str,
    timeout: std::time::Duration,
) -> impl FnOnce(String) -> Result<T, SourceFailure> {
    move |why| {
        Err(SourceFailure::new(
            FailureKind::Timeout,
            None,
            format!("{what}: {why} ({} s, --timeout)", timeout.as_secs_f64()),
        ))
    }
}

/// Whether a utmp login process is alive when the process list could not be
/// read: it exists (`kill(pid, 0)`) and is not a zombie (a dead process its
/// parent has not reaped yet).
fn login_process_alive(pid: u32) -> Option<bool> {
    let exists = sys::pid_alive(pid)?;
    if !exists {
        return Some(false);
    }
    let zombie = std::fs::read(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|text| procfs::parse_stat(&text).map(|s| s.state == b'Z'))
        .unwrap_or(false);
    Some(!zombie)
}

/// logind is running when it has instantiated its seats (it always creates
/// seat0 at start-up) or its process is alive. Its session files outlive it
/// on a /run that was not cleaned (a container, a stopped logind).
fn logind_running(state: &logind::LogindState, processes: Option<&Vec<ProcessRow>>) -> bool {
    if state.seats_present {
        return true;
    }
    match processes {
        Some(rows) => rows.iter().any(|p| p.name == "systemd-logind"),
        // Without a process list the files are the best evidence there is.
        None => true,
    }
}

fn logind_not_running(logind_dir: &Path, state: &logind::LogindState) -> SourceFailure {
    SourceFailure::new(
        FailureKind::NotAvailable,
        None,
        format!(
            "systemd-logind is not running (no {}/seats and no systemd-logind process): \
             its {} leftover session file(s) are ignored and processes are grouped by \
             audit session instead",
            logind_dir.display(),
            state.sessions.len()
        ),
    )
}

/// For the real /proc, logind session membership comes from the cgroup tree
/// (cheap); for any other proc directory, or without a cgroup hierarchy,
/// from each process's cgroup file.
fn session_source(proc_dir: &Path) -> procfs::SessionSource {
    if proc_dir != Path::new("/proc") {
        return procfs::SessionSource::PerProcess;
    }
    match cgroup::find_hierarchy(Path::new("/sys/fs/cgroup")) {
        Some(hierarchy) => procfs::SessionSource::Tree(cgroup::session_members(&hierarchy)),
        None => procfs::SessionSource::PerProcess,
    }
}

/// Interactive rows from logind (tty/seat sessions) and utmp (other terminals).
/// Fails only when both logind and utmp failed.
fn interactive_sessions(
    utmp_users: Option<&[WorkstationUser]>,
    utmp_failure: Option<&SourceFailure>,
    logind_state: &Result<logind::LogindState, SourceFailure>,
    idle_of_tty: impl Fn(&str) -> Option<u64>,
) -> Observed<Vec<InteractiveSession>> {
    let mut rows: Vec<InteractiveSession> = match logind_state {
        Ok(state) => state
            .sessions
            .iter()
            .filter_map(|s| s.to_interactive(&state.users, &idle_of_tty))
            .collect(),
        Err(_) => Vec::new(),
    };
    if let Some(users) = utmp_users {
        let covered: Vec<String> = rows.iter().filter_map(|r| r.station.clone()).collect();
        for u in users {
            let Some(tty) = u.tty.as_deref() else {
                continue;
            };
            if tty.starts_with("smb/") || covered.iter().any(|c| c == tty) {
                continue;
            }
            rows.push(InteractiveSession {
                session_id: tty.to_string(),
                station: Some(tty.to_string()),
                user: Some(u.user.clone()),
                state: match u.pid_alive {
                    Some(true) => InteractiveState::Active,
                    Some(false) => InteractiveState::Down,
                    None => InteractiveState::Unknown,
                },
                client_name: u.remote_host.clone(),
                logon_time: u.login_time,
                idle_secs: idle_of_tty(tty),
                pid: u.pid,
                ..InteractiveSession::default()
            });
        }
    }
    match (logind_state, utmp_failure) {
        (Err(logind), Some(utmp)) => Observed::Failed(SourceFailure::new(
            if logind.kind == utmp.kind {
                logind.kind
            } else {
                FailureKind::Other
            },
            None,
            format!(
                "no terminal evidence: logind: {}; utmp: {}",
                logind.message, utmp.message
            ),
        )),
        _ => Observed::ok(rows),
    }
}

/// Seconds since a terminal last had input: now minus the atime of its device, as `w` does.
fn idle_secs_of_tty(tty: &str, now: Timestamp) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    let tty = tty.strip_prefix("/dev/").unwrap_or(tty);
    if tty.is_empty() || tty.split('/').any(|part| part == ".." || part.is_empty()) {
        return None;
    }
    let meta = std::fs::metadata(Path::new("/dev").join(tty)).ok()?;
    u64::try_from(now.as_second().checked_sub(meta.atime())?).ok()
}

/// Note users with linger enabled, and logind users in the `lingering` state:
/// their processes are meant to outlive their logins.
fn note_lingering(logind_dir: &Path, state: Option<&logind::LogindState>, notes: &mut Vec<String>) {
    let mut names = logind::lingering_users(&logind::linger_dir_for(logind_dir));
    if let Some(state) = state {
        for user in &state.users {
            if user.state.as_deref() == Some("lingering") {
                names.push(user.name.clone().unwrap_or_else(|| user.uid.to_string()));
            }
        }
    }
    names.sort();
    names.dedup();
    if !names.is_empty() {
        notes.push(format!(
            "systemd linger is enabled for: {} (their user services run without a login by design)",
            names.join(", ")
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utmp_user(user: &str, tty: &str, alive: Option<bool>) -> WorkstationUser {
        WorkstationUser {
            user: user.into(),
            tty: Some(tty.into()),
            pid: Some(10),
            pid_alive: alive,
            ..WorkstationUser::default()
        }
    }

    #[test]
    fn utmp_terminals_join_logind_sessions_without_duplicates() {
        let state = Ok(logind::LogindState {
            sessions: vec![logind::parse_session(
                "4",
                "USER=alice\nTTY=pts/0\nSTATE=active\n",
            )],
            users: vec![],
            ..logind::LogindState::default()
        });
        let users = [
            utmp_user("alice", "pts/0", Some(true)),
            utmp_user("bob", "pts/1", Some(false)),
            utmp_user("carol", "smb/99", Some(true)),
        ];
        let rows = interactive_sessions(Some(&users), None, &state, |_| Some(5));
        let rows = rows.rows().unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(
            (rows[0].session_id.as_str(), rows[0].state),
            ("4", InteractiveState::Active)
        );
        assert_eq!(
            (rows[1].session_id.as_str(), rows[1].state),
            ("pts/1", InteractiveState::Down)
        );
        assert_eq!(rows[1].idle_secs, Some(5));
    }

    #[test]
    fn interactive_fails_only_when_both_sources_fail() {
        let na = SourceFailure::new(FailureKind::NotAvailable, None, "x");
        let rows = interactive_sessions(None, Some(&na), &Err(na.clone()), |_| None);
        assert_eq!(
            rows.failure().map(|f| f.kind),
            Some(FailureKind::NotAvailable)
        );
        let rows = interactive_sessions(Some(&[]), None, &Err(na.clone()), |_| None);
        assert_eq!(rows.rows().map(Vec::len), Some(0));
    }

    #[test]
    fn zombies_are_not_alive() {
        // A child that exits and is not yet reaped is a zombie.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        let became_zombie = (0..500).any(|_| {
            std::thread::sleep(std::time::Duration::from_millis(2));
            login_process_alive(pid) == Some(false)
        });
        assert_eq!(sys::pid_alive(pid), Some(true), "still exists until reaped");
        child.wait().unwrap();
        assert!(became_zombie);
        assert_eq!(login_process_alive(pid), Some(false));
        assert_eq!(login_process_alive(std::process::id()), Some(true));
    }

    #[test]
    fn tty_idle_rejects_odd_paths() {
        let now = Timestamp::now();
        assert_eq!(idle_secs_of_tty("../etc/passwd", now), None);
        assert_eq!(idle_secs_of_tty("", now), None);
        assert!(idle_secs_of_tty("null", now).is_some());
    }
}

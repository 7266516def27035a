//! Is a login record's process still that login's process?
//!
//! utmp records and logind sessions name a process (`ut_pid`, `LEADER`).
//! On a long-running host the stale records are exactly the ones whose pids
//! the kernel has handed out again, so "a process with that pid exists" is
//! not enough. A pid still belongs to the login only when the process there
//! is owned by the login's user (or by root: `login`, `sshd`'s session
//! process and Samba's `smbd` children run as root) and started no later
//! than the login itself. A process that started after the login cannot be
//! the one that logged in, whoever owns it.

use jiff::{SignedDuration, Timestamp};

use super::index::SnapshotIndex;
use crate::identity::eq_ignore_case;
use crate::model::{HostSnapshot, ProcessRow, WorkstationUser};

/// Slack between a process's start time and a login time. /proc start
/// times are the boot time (whole seconds) plus clock ticks, and the login
/// time was read from a wall clock that NTP may have stepped since.
pub(super) const CLOCK_SLACK: SignedDuration = SignedDuration::from_secs(2);

/// What a login record says about its process.
#[derive(Debug, Clone, Copy)]
pub(super) struct LoginRecord<'a> {
    pub pid: u32,
    pub user: Option<&'a str>,
    pub uid: Option<u32>,
    /// The login time (utmp `ut_tv`, logind `REALTIME`).
    pub since: Option<Timestamp>,
    /// The collector's own look at the pid (utmp `pid_alive`), used only when
    /// the process list itself could not be read.
    pub alive_hint: Option<bool>,
}

impl<'a> LoginRecord<'a> {
    /// A utmp record's login: its `ut_pid` as of its `ut_tv` (None without a pid).
    pub fn of_utmp(entry: &'a WorkstationUser) -> Option<Self> {
        Some(LoginRecord {
            pid: entry.pid?,
            user: Some(entry.user.as_str()),
            uid: None,
            since: entry.login_time,
            alive_hint: entry.pid_alive,
        })
    }
}

/// The state of a login record's process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum LoginProcess {
    /// The login's process lives (its row in `processes`, when listed).
    Alive(Option<u32>),
    /// No process has that pid.
    Gone,
    /// A process has that pid, but it is not the login's.
    Reused { row: u32, why: String },
    /// The process may exist, but whether it is the login's could not be checked.
    Unverified(String),
}

impl LoginProcess {
    pub fn is_alive(&self) -> bool {
        matches!(self, LoginProcess::Alive(_))
    }
}

pub(super) fn check(
    snapshot: &HostSnapshot,
    index: &SnapshotIndex<'_>,
    record: &LoginRecord<'_>,
) -> LoginProcess {
    let pid = record.pid;
    let Some(processes) = snapshot.processes.rows() else {
        return match record.alive_hint {
            Some(false) => LoginProcess::Gone,
            _ => LoginProcess::Unverified(format!(
                "process {pid} may exist, but the process list could not be read to check \
                 its owner and start time"
            )),
        };
    };
    let Some(&row) = index.login_pid_rows.get(&pid) else {
        return match record.alive_hint {
            Some(true) => LoginProcess::Unverified(format!(
                "process {pid} existed when utmp was read but is missing from the process list"
            )),
            _ => LoginProcess::Gone,
        };
    };
    let process = &processes[row as usize];
    judge(record, process, row)
}

fn judge(record: &LoginRecord<'_>, process: &ProcessRow, row: u32) -> LoginProcess {
    let pid = record.pid;
    let owner = owner_of(process);
    if let (Some(started), Some(since)) = (process.start_time, record.since)
        && started > since + CLOCK_SLACK
    {
        return LoginProcess::Reused {
            row,
            why: format!(
                "PID {pid} was reused: it is now {owner}'s `{}`, started {} after the login",
                process.name,
                super::human_duration(started.duration_since(since).as_secs().unsigned_abs())
            ),
        };
    }
    match owned_by_login(record, process) {
        Some(true) => {}
        Some(false) => {
            return LoginProcess::Reused {
                row,
                why: format!(
                    "PID {pid} was reused: it now belongs to {owner} (`{}`)",
                    process.name
                ),
            };
        }
        None => {
            return LoginProcess::Unverified(format!(
                "process {pid} (`{}`) exists, but its owner could not be read",
                process.name
            ));
        }
    }
    // Without both times a reuse by the same user cannot be told apart; the
    // owner is then the best fact there is.
    LoginProcess::Alive(Some(row))
}

/// For clean-up, the same rule on a process read just now: Some(true) when
/// `process` (at a login record's pid) is still the login of `user` at
/// `since`, Some(false) when that pid was reused, None when it cannot be told.
pub fn still_the_logins(
    user: &str,
    since: Option<Timestamp>,
    process: &ProcessRow,
) -> Option<bool> {
    let record = LoginRecord {
        pid: process.pid,
        user: Some(user),
        uid: None,
        since,
        alive_hint: None,
    };
    match judge(&record, process, 0) {
        LoginProcess::Alive(_) => Some(true),
        LoginProcess::Reused { .. } | LoginProcess::Gone => Some(false),
        LoginProcess::Unverified(_) => None,
    }
}

/// Some(true): the user's, or root's (login services); Some(false): another
/// user's; None: the owner is unknown.
fn owned_by_login(record: &LoginRecord<'_>, process: &ProcessRow) -> Option<bool> {
    if process.uid == Some(0) || process.user.as_deref() == Some("root") {
        return Some(true);
    }
    if let (Some(want), Some(uid)) = (record.uid, process.uid) {
        return Some(want == uid || process.loginuid == Some(want));
    }
    match (record.user, process.user.as_deref()) {
        (Some(want), Some(have)) => Some(eq_ignore_case(want, have)),
        _ => None,
    }
}

fn owner_of(process: &ProcessRow) -> String {
    match (&process.user, process.uid) {
        (Some(user), _) => user.clone(),
        (None, Some(uid)) => format!("uid {uid}"),
        (None, None) => "an unknown user".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + secs).unwrap()
    }

    fn process(user: &str, uid: u32, started: i64) -> ProcessRow {
        ProcessRow {
            pid: 500,
            name: "sleep".into(),
            user: Some(user.into()),
            uid: Some(uid),
            start_time: Some(at(started)),
            ..ProcessRow::default()
        }
    }

    fn record(user: &str, uid: Option<u32>, since: i64) -> LoginRecord<'_> {
        LoginRecord {
            pid: 500,
            user: Some(user),
            uid,
            since: Some(at(since)),
            alive_hint: None,
        }
    }

    #[test]
    fn own_process_started_before_the_login_is_alive() {
        let verdict = judge(
            &record("alice", Some(1000), 10),
            &process("alice", 1000, 9),
            3,
        );
        assert_eq!(verdict, LoginProcess::Alive(Some(3)));
    }

    #[test]
    fn root_login_services_count_as_the_logins() {
        let verdict = judge(&record("alice", None, 10), &process("root", 0, 5), 3);
        assert!(verdict.is_alive());
    }

    #[test]
    fn another_users_process_is_a_reused_pid() {
        let verdict = judge(
            &record("alice", Some(1000), 10),
            &process("bob", 1001, 5),
            3,
        );
        let LoginProcess::Reused { why, .. } = verdict else {
            panic!("{verdict:?}")
        };
        assert!(why.contains("bob"), "{why}");
    }

    #[test]
    fn a_process_started_after_the_login_is_a_reused_pid_even_for_the_same_user() {
        let verdict = judge(
            &record("alice", Some(1000), 10),
            &process("alice", 1000, 3610),
            3,
        );
        let LoginProcess::Reused { why, .. } = verdict else {
            panic!("{verdict:?}")
        };
        assert!(why.contains("1h 0m after the login"), "{why}");
    }

    #[test]
    fn clock_granularity_is_allowed() {
        let verdict = judge(
            &record("alice", Some(1000), 10),
            &process("alice", 1000, 11),
            3,
        );
        assert!(verdict.is_alive(), "{verdict:?}");
        let verdict = judge(
            &record("alice", Some(1000), 10),
            &process("alice", 1000, 13),
            3,
        );
        assert!(
            matches!(verdict, LoginProcess::Reused { .. }),
            "{verdict:?}"
        );
    }

    #[test]
    fn unknown_owner_is_unverified() {
        let mut p = process("x", 1, 5);
        p.user = None;
        p.uid = None;
        let verdict = judge(&record("alice", Some(1000), 10), &p, 3);
        assert!(
            matches!(verdict, LoginProcess::Unverified(_)),
            "{verdict:?}"
        );
    }

    #[test]
    fn login_uid_ties_a_process_to_its_login() {
        let mut p = process("svc", 1002, 5);
        p.loginuid = Some(1000);
        assert!(judge(&record("alice", Some(1000), 10), &p, 3).is_alive());
    }
}

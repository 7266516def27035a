//! Guarded clean-up (`lingerscan close`): from a host's analysis, one
//! action per lingering finding the user selected, planned from the
//! finding's evidence, and the code that carries each one out.
//!
//! The rules every part keeps: nothing is changed unless asked (the caller
//! decides whether to act at all); INCONCLUSIVE and ACTIVE findings, and
//! findings not (yet) lingering, are never planned; every action re-checks,
//! just before it changes anything, that what it is about to end is still
//! not alive (the utmp record's process, each process's pid and start
//! time), and refuses otherwise.

#[cfg(target_os = "linux")]
pub mod logind;
pub mod plan;
#[cfg(target_os = "linux")]
pub mod process;
pub mod rdp;
pub mod smb;
#[cfg(target_os = "linux")]
pub mod utmp;

use std::path::PathBuf;
use std::time::Duration;

use jiff::Timestamp;
use serde::Serialize;

use crate::analyze::Verdict;
use crate::collect::CollectOptions;
use crate::history::FindingKey;

pub use plan::{Selection, plan};

#[derive(Debug, thiserror::Error)]
pub enum CloseError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    Failed(String),
    #[error("not supported here: {0}")]
    Unsupported(String),
}

impl CloseError {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        CloseError::Io {
            path: path.into(),
            source,
        }
    }
}

/// A process as it was seen: ending it is allowed only while the process
/// with that pid is still this one (same start time and owner).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SeenProcess {
    pub pid: u32,
    pub name: String,
    pub uid: u32,
    pub start_time: Timestamp,
}

/// What to do about one finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// Mark the USER_PROCESS record of `line` DEAD_PROCESS and log the
    /// logout in wtmp (glibc's `logout()` + `logwtmp()`).
    MarkUtmpDead {
        line: String,
        pid: u32,
        user: String,
        login_time: Option<Timestamp>,
    },
    /// SIGTERM, then SIGKILL after the grace period, to these processes.
    EndProcesses {
        user: String,
        processes: Vec<SeenProcess>,
    },
    /// logind `TerminateSession` over the system D-Bus, for a session with
    /// no process left.
    TerminateLogindSession {
        id: String,
        user: String,
        /// The session's uid and leader as seen: re-checked before the call.
        uid: Option<u32>,
        leader: Option<u32>,
    },
    /// Log off a disconnected RDP/console session: [MS-TSTS] RpcLogoff
    /// (from Linux) or WTSLogoffSession (on Windows).
    LogoffSession {
        session_id: u32,
        /// The session's user as listed (no domain): re-checked before.
        user: String,
    },
    /// srvsvc NetrSessionDel (from Linux) or NetSessionDel (on Windows).
    DeleteSmbSession {
        /// As the server listed it (`\\IP` or `IP`).
        client: String,
        /// The user name as NetrSessionDel takes it (no domain).
        user: String,
    },
    /// Nothing this lingerscan can do about it; `why` says so.
    Nothing { why: String },
}

impl Action {
    /// The action in words (the plan, the history's `action` column).
    pub fn describe(&self) -> String {
        match self {
            Action::MarkUtmpDead { line, pid, .. } => format!(
                "mark the utmp record of {line} (pid {pid}) dead and log the logout in wtmp"
            ),
            Action::EndProcesses { user, processes } => {
                let pids: Vec<String> = processes
                    .iter()
                    .map(|p| format!("{} ({})", p.pid, p.name))
                    .collect();
                format!(
                    "end {} process(es) of {user}: SIGTERM, then SIGKILL after the grace period: {}",
                    processes.len(),
                    pids.join(", ")
                )
            }
            Action::TerminateLogindSession { id, user, .. } => format!(
                "terminate the logind session {id} of {user} (TerminateSession over the system D-Bus)"
            ),
            Action::LogoffSession { session_id, user } => format!(
                "log off the disconnected session {session_id} of {user} (RpcLogoff / WTSLogoffSession)"
            ),
            Action::DeleteSmbSession { client, user } => {
                format!("delete the SMB session of {user} from {client} (NetrSessionDel)")
            }
            Action::Nothing { why } => format!("nothing: {why}"),
        }
    }

    pub fn is_nothing(&self) -> bool {
        matches!(self, Action::Nothing { .. })
    }
}

/// One line of the plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Planned {
    pub host: String,
    /// The host is this machine (local actions are possible).
    #[serde(skip)]
    pub local: bool,
    pub id: String,
    #[serde(flatten)]
    pub key: FindingKey,
    pub reason: String,
    pub action: Action,
}

/// How an action ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Done,
    /// A re-check just before acting found it alive (or changed): left alone.
    Refused,
    Failed,
    /// Nothing to do (no action for this kind of finding).
    Skipped,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Done => "done",
            Outcome::Refused => "refused",
            Outcome::Failed => "failed",
            Outcome::Skipped => "skipped",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ActionResult {
    pub outcome: Outcome,
    /// What happened, or why not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl ActionResult {
    fn from(result: Result<String, CloseError>) -> Self {
        match result {
            Ok(detail) => ActionResult {
                outcome: Outcome::Done,
                detail: Some(detail),
            },
            Err(CloseError::Refused(why)) => ActionResult {
                outcome: Outcome::Refused,
                detail: Some(why),
            },
            Err(error) => ActionResult {
                outcome: Outcome::Failed,
                detail: Some(error.to_string()),
            },
        }
    }
}

/// Where and how actions act.
#[derive(Debug, Clone)]
pub struct Context {
    /// The scan's options: utmp and /proc paths, and for remote hosts the
    /// credentials and connection settings.
    pub collect: CollectOptions,
    /// wtmp, where a utmp logout is logged.
    pub wtmp: PathBuf,
    /// Between SIGTERM and SIGKILL.
    pub grace: Duration,
}

/// Carry out one planned action.
pub fn execute(planned: &Planned, context: &Context) -> ActionResult {
    let result = match &planned.action {
        Action::Nothing { why } => {
            return ActionResult {
                outcome: Outcome::Skipped,
                detail: Some(why.clone()),
            };
        }
        Action::MarkUtmpDead {
            line,
            pid,
            user,
            login_time,
        } => mark_utmp_dead(context, line, *pid, user, *login_time),
        Action::EndProcesses { processes, .. } => end_processes(context, processes),
        Action::TerminateLogindSession {
            id, uid, leader, ..
        } => terminate_logind(context, id, *uid, *leader),
        Action::LogoffSession { session_id, user } => {
            let host = (!planned.local).then_some(planned.host.as_str());
            rdp::logoff(host, &context.collect, *session_id, user)
        }
        Action::DeleteSmbSession { client, user } => {
            let host = (!planned.local).then_some(planned.host.as_str());
            smb::delete_session(host, &context.collect, client, user)
        }
    };
    ActionResult::from(result)
}

#[cfg(target_os = "linux")]
fn mark_utmp_dead(
    context: &Context,
    line: &str,
    pid: u32,
    user: &str,
    login_time: Option<Timestamp>,
) -> Result<String, CloseError> {
    utmp::mark_dead(
        &utmp::Paths {
            utmp: &context.collect.linux.utmp,
            wtmp: &context.wtmp,
            proc_dir: &context.collect.linux.proc_dir,
        },
        &utmp::Expected {
            line,
            pid,
            user,
            login_time,
        },
    )
}

#[cfg(not(target_os = "linux"))]
fn mark_utmp_dead(
    _: &Context,
    _: &str,
    _: u32,
    _: &str,
    _: Option<Timestamp>,
) -> Result<String, CloseError> {
    Err(CloseError::Unsupported("utmp exists on Linux only".into()))
}

#[cfg(target_os = "linux")]
fn end_processes(context: &Context, processes: &[SeenProcess]) -> Result<String, CloseError> {
    process::end(&context.collect.linux.proc_dir, processes, context.grace)
}

#[cfg(not(target_os = "linux"))]
fn end_processes(_: &Context, _: &[SeenProcess]) -> Result<String, CloseError> {
    Err(CloseError::Unsupported(
        "ending processes is done on Linux only".into(),
    ))
}

#[cfg(target_os = "linux")]
fn terminate_logind(
    context: &Context,
    id: &str,
    uid: Option<u32>,
    leader: Option<u32>,
) -> Result<String, CloseError> {
    logind::terminate(
        &logind::Paths {
            logind_dir: &context.collect.linux.logind_dir,
            proc_dir: &context.collect.linux.proc_dir,
        },
        &logind::Expected { id, uid, leader },
    )
}

#[cfg(not(target_os = "linux"))]
fn terminate_logind(
    _: &Context,
    _: &str,
    _: Option<u32>,
    _: Option<u32>,
) -> Result<String, CloseError> {
    Err(CloseError::Unsupported(
        "logind exists on Linux only".into(),
    ))
}

/// " on HOST" for an action's outcome (nothing for this machine).
fn on_host(host: Option<&str>) -> String {
    host.map(|h| format!(" on {h}")).unwrap_or_default()
}

/// The account an action on `host` logs on with (the scan's own).
#[cfg(not(windows))]
fn remote_credentials<'a>(
    options: &'a CollectOptions,
    host: &str,
) -> Result<&'a crate::collect::msrpc::Credentials, CloseError> {
    options.credentials.as_ref().ok_or_else(|| {
        CloseError::Failed(format!("no account to log on to {host} with (--username)"))
    })
}

/// Whether a finding may be closed at all: lingering by its verdict and
/// idle time, not held back by `--min-age`, and never INCONCLUSIVE or ACTIVE.
pub fn closable(finding: &crate::analyze::Finding) -> bool {
    finding.lingering
        && !finding.watching()
        && !matches!(finding.verdict, Verdict::Active | Verdict::Inconclusive)
}

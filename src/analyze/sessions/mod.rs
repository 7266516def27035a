//! One finding per session record, with its evidence.
//!
//! Order of attribution: logon sessions first (they link processes,
//! interactive sessions, utmp records and SMB sessions); then, when logind
//! is absent, processes grouped by audit session; then whatever records
//! nothing above explained (utmp entries, workstation-list users,
//! interactive sessions, SMB sessions).

use foldhash::{HashMap, HashMapExt};

mod unexplained;

use unexplained::{
    audit_session_findings, interactive_findings, smb_findings, utmp_findings,
    workstation_user_findings,
};

use super::index::SnapshotIndex;
use super::{AnalyzeOptions, Evidence, Finding, SessionKind, Verdict, rules_out};
use crate::identity::{TargetUser, display_account, eq_ignore_case, is_set_aside};
use crate::model::{HostSnapshot, InteractiveSession, InteractiveState, LogonSession, Source};

/// Which interactive, utmp and SMB rows a finding has already explained.
struct Covered {
    interactive: Vec<bool>,
    workstation: Vec<bool>,
    smb: Vec<bool>,
}

struct Ctx<'a> {
    snapshot: &'a HostSnapshot,
    index: &'a SnapshotIndex<'a>,
    options: &'a AnalyzeOptions,
    utmp_by_pid: HashMap<u32, Vec<u32>>,
    smb_by_pid: HashMap<u32, Vec<u32>>,
}

impl Ctx<'_> {
    fn wanted(&self, domain: Option<&str>, user: &str) -> bool {
        self.options
            .target
            .as_ref()
            .is_none_or(|t| t.matches(domain, user))
    }

    fn idle_past_limit(&self, idle_secs: Option<u64>) -> bool {
        idle_secs.is_some_and(|idle| idle > self.options.max_idle.as_secs())
    }
}

fn evidence(source: Source, rows: Vec<u32>) -> Option<Evidence> {
    (!rows.is_empty()).then_some(Evidence { source, rows })
}

fn failed_names(sources: &[(Source, bool)]) -> String {
    let names: Vec<&str> = sources
        .iter()
        .filter(|(_, ok)| !ok)
        .map(|(s, _)| s.name())
        .collect();
    names.join(", ")
}

pub(super) fn session_findings(
    snapshot: &HostSnapshot,
    index: &SnapshotIndex<'_>,
    options: &AnalyzeOptions,
) -> Vec<Finding> {
    let workstation = snapshot.workstation_users.rows_or_empty();
    let smb = snapshot.smb_sessions.rows_or_empty();
    let mut utmp_by_pid: HashMap<u32, Vec<u32>> = HashMap::new();
    for (row, w) in workstation.iter().enumerate() {
        if let Some(pid) = w.pid {
            utmp_by_pid.entry(pid).or_default().push(row as u32);
        }
    }
    let mut smb_by_pid: HashMap<u32, Vec<u32>> = HashMap::new();
    for (row, s) in smb.iter().enumerate() {
        if let Some(pid) = s.server_pid {
            smb_by_pid.entry(pid).or_default().push(row as u32);
        }
    }
    let ctx = Ctx {
        snapshot,
        index,
        options,
        utmp_by_pid,
        smb_by_pid,
    };
    let mut covered = Covered {
        interactive: vec![false; snapshot.interactive_sessions.rows_or_empty().len()],
        workstation: vec![false; workstation.len()],
        smb: vec![false; smb.len()],
    };
    let mut findings = Vec::new();
    for (row, logon) in snapshot.logon_sessions.rows_or_empty().iter().enumerate() {
        if let Some(f) = logon_finding(&ctx, row as u32, logon, &mut covered) {
            findings.push(f);
        }
    }
    if !snapshot.logon_sessions.is_ok() {
        findings.extend(audit_session_findings(&ctx, &mut covered));
    }
    findings.extend(utmp_findings(&ctx, &mut covered));
    findings.extend(workstation_user_findings(&ctx));
    findings.extend(interactive_findings(&ctx, &covered));
    findings.extend(smb_findings(&ctx, &covered));
    findings
}

/// The interactive row that belongs to a logon session: same id (logind), or
/// the same terminal-services session (Windows), for the same user.
fn linked_interactive(ctx: &Ctx<'_>, logon: &LogonSession) -> Option<u32> {
    let interactive = ctx.snapshot.interactive_sessions.rows_or_empty();
    let same_user = |row: u32| {
        let i = &interactive[row as usize];
        match (i.user.as_deref(), logon.user.as_deref()) {
            (Some(a), Some(b)) => eq_ignore_case(a, b),
            _ => false,
        }
    };
    let by_logon_id = ctx
        .index
        .interactive_by_id
        .get(logon.logon_id.as_str())
        .copied();
    let by_terminal = logon.terminal_session_id.and_then(|t| {
        ctx.index
            .interactive_by_id
            .get(t.to_string().as_str())
            .copied()
    });
    by_logon_id
        .filter(|&r| same_user(r))
        .or(by_terminal.filter(|&r| same_user(r)))
}

/// Could an unreadable process belong to this account? Only if its owner is unknown or the same.
fn unattributed_could_belong(ctx: &Ctx<'_>, domain: Option<&str>, user: &str) -> bool {
    let processes = ctx.snapshot.processes.rows_or_empty();
    let owner = TargetUser {
        domain: domain.map(str::to_string),
        user: user.to_string(),
    };
    ctx.index.unattributed_procs.iter().any(|&row| {
        processes[row as usize]
            .user
            .as_deref()
            .is_none_or(|account| owner.matches_account(account))
    })
}

fn logon_finding(
    ctx: &Ctx<'_>,
    row: u32,
    logon: &LogonSession,
    covered: &mut Covered,
) -> Option<Finding> {
    let user = logon.user.as_deref().unwrap_or_default();
    let domain = logon.domain.as_deref();
    if is_set_aside(domain, user) || !ctx.wanted(domain, user) {
        return None;
    }
    let mut procs = ctx
        .index
        .procs_by_logon
        .get(logon.logon_id.as_str())
        .cloned()
        .unwrap_or_default();
    if procs.is_empty()
        && let Some(audit) = logon.audit_session
    {
        procs = ctx
            .index
            .procs_by_audit
            .get(&audit)
            .cloned()
            .unwrap_or_default();
    }
    // The session's leader process, while it lives, is a process of the session
    // even when its cgroup or audit id could not tie it there.
    if let Some(&leader) = logon
        .leader_pid
        .and_then(|pid| ctx.index.leader_rows.get(&pid))
        && !procs.contains(&leader)
    {
        procs.push(leader);
    }
    let mut utmp_rows = Vec::new();
    if let Some(rows) = logon.leader_pid.and_then(|pid| ctx.utmp_by_pid.get(&pid)) {
        for &r in rows {
            covered.workstation[r as usize] = true;
            utmp_rows.push(r);
        }
    }
    let interactive_row = linked_interactive(ctx, logon);
    if let Some(r) = interactive_row {
        covered.interactive[r as usize] = true;
    }
    let interactive = ctx.snapshot.interactive_sessions.rows_or_empty();
    let mut finding = Finding {
        verdict: Verdict::Active,
        lingering: false,
        kind: SessionKind::LogonSession,
        session_id: logon.logon_id.clone(),
        user: display_account(domain, user),
        reason: String::new(),
        idle_secs: None,
        since: logon.start_time,
        evidence: Vec::new(),
    };
    let n = procs.len();
    let closing = logon.state.as_deref() == Some("closing");
    let processes_known =
        rules_out(&ctx.snapshot.processes) && !unattributed_could_belong(ctx, domain, user);
    if closing {
        if n > 0 {
            finding.verdict = Verdict::Closing;
            finding.lingering = true;
            finding.reason = format!("logind session is closing but {n} process(es) remain in it");
        } else if processes_known {
            finding.verdict = Verdict::LeakedLogon;
            finding.lingering = true;
            finding.reason = "logind session is closing and holds no process".to_string();
        } else {
            finding.verdict = Verdict::Inconclusive;
            finding.reason =
                "logind session is closing; the process list could not be read".to_string();
        }
    } else if let Some(r) = interactive_row {
        let session = &interactive[r as usize];
        let known = ctx.snapshot.processes.is_ok().then_some(n);
        apply_interactive_state(ctx, &mut finding, session, known);
    } else if n > 0 {
        finding.reason = format!("{n} process(es) run in this logon session");
    } else {
        let smb_rows: Vec<u32> = if ctx.snapshot.smb_sessions.is_ok() {
            let target = TargetUser {
                domain: None,
                user: user.to_string(),
            };
            ctx.index.smb_of(&target).collect()
        } else {
            Vec::new()
        };
        if !smb_rows.is_empty() {
            finding.reason = format!(
                "no process, but {} SMB session(s) of this user hold it",
                smb_rows.len()
            );
            finding
                .evidence
                .extend(evidence(Source::SmbSessions, smb_rows));
        } else {
            let checks = [
                (Source::Processes, processes_known),
                (
                    Source::InteractiveSessions,
                    rules_out(&ctx.snapshot.interactive_sessions),
                ),
                (Source::SmbSessions, rules_out(&ctx.snapshot.smb_sessions)),
            ];
            if checks.iter().all(|(_, ok)| *ok) {
                finding.verdict = Verdict::LeakedLogon;
                finding.lingering = true;
                finding.reason =
                    "logon session has no process, no interactive session and no SMB session"
                        .to_string();
            } else {
                finding.verdict = Verdict::Inconclusive;
                finding.reason = format!(
                    "no process seen, but these sources could not be read fully: {}",
                    failed_names(&checks)
                );
            }
        }
    }
    finding.evidence.insert(
        0,
        Evidence {
            source: Source::LogonSessions,
            rows: vec![row],
        },
    );
    finding.evidence.extend(evidence(Source::Processes, procs));
    if let Some(r) = interactive_row {
        finding.evidence.push(Evidence {
            source: Source::InteractiveSessions,
            rows: vec![r],
        });
    }
    finding
        .evidence
        .extend(evidence(Source::WorkstationUsers, utmp_rows));
    Some(finding)
}

/// Set the verdict from an interactive session's state.
fn apply_interactive_state(
    ctx: &Ctx<'_>,
    finding: &mut Finding,
    session: &InteractiveSession,
    processes: Option<usize>,
) {
    let procs = processes
        .map(|n| format!(", {n} process(es)"))
        .unwrap_or_default();
    let station = session.station.as_deref().unwrap_or(&session.session_id);
    finding.idle_secs = session.idle_secs;
    match session.state {
        InteractiveState::Disconnected => {
            finding.verdict = Verdict::Disconnected;
            finding.lingering = ctx.idle_past_limit(session.idle_secs);
            finding.reason = match session.idle_secs {
                Some(idle) if finding.lingering => format!(
                    "{station} disconnected, idle {} (over --max-idle {}){procs}",
                    human_duration(idle),
                    human_duration(ctx.options.max_idle.as_secs())
                ),
                Some(idle) => format!(
                    "{station} disconnected, idle {}{procs}",
                    human_duration(idle)
                ),
                None => format!("{station} disconnected, idle time unknown{procs}"),
            };
        }
        InteractiveState::Active
        | InteractiveState::Connected
        | InteractiveState::ConnectQuery
        | InteractiveState::Shadow => {
            finding.verdict = Verdict::Active;
            finding.reason = format!("{station} is {}{procs}", session.state);
        }
        other => {
            finding.verdict = Verdict::Inconclusive;
            finding.reason = format!("{station} is in state {other}{procs}");
        }
    }
}

/// `3d 4h`, `2h 5m`, `42s`: compact, for reasons and tables.
pub fn human_duration(secs: u64) -> String {
    let (d, h, m, s) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) => format!("{m}m {s}s"),
        (0, _, _) => format!("{h}h {m}m"),
        _ => format!("{d}d {h}h"),
    }
}

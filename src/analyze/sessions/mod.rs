//! One finding per session record, with its evidence.
//!
//! Order of attribution: logon sessions first (they link processes,
//! interactive sessions, utmp records and SMB sessions); then, when logind
//! is absent, processes grouped by audit session; then whatever records
//! nothing above explained (utmp entries, workstation-list users,
//! interactive sessions, SMB sessions).

use foldhash::{HashMap, HashMapExt};
use jiff::{SignedDuration, Timestamp};

mod unexplained;

use unexplained::{
    audit_session_findings, interactive_findings, smb_findings, utmp_findings,
    workstation_user_findings,
};

use super::index::SnapshotIndex;
use super::login_process::{self, LoginProcess, LoginRecord};
use super::own_connection::OwnRows;
use super::{AnalyzeOptions, Evidence, Finding, SessionKind, Verdict, rules_out};
use crate::identity::{TargetUser, display_account, eq_ignore_case, is_set_aside};
use crate::model::{
    HostSnapshot, InteractiveSession, InteractiveState, LogonSession, Platform, Source,
};

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
    utmp_by_tty: HashMap<&'a str, Vec<u32>>,
    smb_by_pid: HashMap<u32, Vec<u32>>,
    /// Interactive rows by terminal, to find the row a utmp record produced.
    interactive_by_station: HashMap<&'a str, Vec<u32>>,
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

    /// How a utmp record's login process stands.
    fn utmp_login(&self, row: u32) -> Option<LoginProcess> {
        let entry = self
            .snapshot
            .workstation_users
            .rows_or_empty()
            .get(row as usize)?;
        let record = LoginRecord {
            pid: entry.pid?,
            user: Some(entry.user.as_str()),
            uid: None,
            since: entry.login_time,
            alive_hint: entry.pid_alive,
        };
        Some(login_process::check(self.snapshot, self.index, &record))
    }

    /// The interactive rows a utmp record produced (same terminal and pid), not yet covered.
    fn interactive_of_utmp(&self, row: u32, covered: &mut Covered) -> Vec<u32> {
        let entry = &self.snapshot.workstation_users.rows_or_empty()[row as usize];
        let interactive = self.snapshot.interactive_sessions.rows_or_empty();
        let Some(tty) = entry.tty.as_deref() else {
            return Vec::new();
        };
        let mut rows = Vec::new();
        for &r in self.interactive_by_station.get(tty).into_iter().flatten() {
            let session = &interactive[r as usize];
            if !covered.interactive[r as usize]
                && session.pid == entry.pid
                && session
                    .user
                    .as_deref()
                    .is_some_and(|u| eq_ignore_case(u, &entry.user))
            {
                covered.interactive[r as usize] = true;
                rows.push(r);
            }
        }
        rows
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
    own: &OwnRows,
) -> Vec<Finding> {
    let workstation = snapshot.workstation_users.rows_or_empty();
    let smb = snapshot.smb_sessions.rows_or_empty();
    let mut utmp_by_pid: HashMap<u32, Vec<u32>> = HashMap::new();
    let mut utmp_by_tty: HashMap<&str, Vec<u32>> = HashMap::new();
    for (row, w) in workstation.iter().enumerate() {
        if let Some(pid) = w.pid {
            utmp_by_pid.entry(pid).or_default().push(row as u32);
            if let Some(tty) = w.tty.as_deref() {
                utmp_by_tty.entry(tty).or_default().push(row as u32);
            }
        }
    }
    let mut smb_by_pid: HashMap<u32, Vec<u32>> = HashMap::new();
    for (row, s) in smb.iter().enumerate() {
        if let Some(pid) = s.server_pid {
            smb_by_pid.entry(pid).or_default().push(row as u32);
        }
    }
    let mut interactive_by_station: HashMap<&str, Vec<u32>> = HashMap::new();
    for (row, i) in snapshot
        .interactive_sessions
        .rows_or_empty()
        .iter()
        .enumerate()
    {
        if let Some(station) = i.station.as_deref() {
            interactive_by_station
                .entry(station)
                .or_default()
                .push(row as u32);
        }
    }
    let ctx = Ctx {
        snapshot,
        index,
        options,
        utmp_by_pid,
        utmp_by_tty,
        smb_by_pid,
        interactive_by_station,
    };
    let mut covered = Covered {
        interactive: vec![false; snapshot.interactive_sessions.rows_or_empty().len()],
        workstation: vec![false; workstation.len()],
        smb: vec![false; smb.len()],
    };
    for &r in &own.smb {
        covered.smb[r as usize] = true;
    }
    for &r in &own.workstation {
        covered.workstation[r as usize] = true;
    }
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
    findings.extend(workstation_user_findings(&ctx, &covered));
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

/// The utmp records of the same login as a logind session: the record's
/// process is the session's leader or one of its processes, or the record is
/// on the session's terminal; always the same user, and written around the
/// session's start (a pid or pts number reused by a later login is not the
/// same login).
fn linked_utmp(ctx: &Ctx<'_>, logon: &LogonSession, procs: &[u32], covered: &Covered) -> Vec<u32> {
    let workstation = ctx.snapshot.workstation_users.rows_or_empty();
    if workstation.is_empty() {
        return Vec::new();
    }
    let processes = ctx.snapshot.processes.rows_or_empty();
    let mut candidates: Vec<u32> = Vec::new();
    let mut add = |rows: Option<&Vec<u32>>| candidates.extend(rows.into_iter().flatten());
    if let Some(pid) = logon.leader_pid {
        add(ctx.utmp_by_pid.get(&pid));
    }
    for &p in procs {
        add(ctx.utmp_by_pid.get(&processes[p as usize].pid));
    }
    if let Some(tty) = logon.tty.as_deref() {
        add(ctx.utmp_by_tty.get(tty));
    }
    candidates.sort_unstable();
    candidates.dedup();
    candidates.retain(|&r| {
        let entry = &workstation[r as usize];
        !covered.workstation[r as usize]
            && logon
                .user
                .as_deref()
                .is_some_and(|u| eq_ignore_case(u, &entry.user))
            && same_login_time(entry.login_time, logon.start_time)
    });
    candidates
}

/// A utmp record is written a little after logind registers the session
/// (pam_systemd runs first, then the login program writes utmp; pam_systemd
/// may wait for the user's service manager to start).
fn same_login_time(utmp: Option<Timestamp>, session_start: Option<Timestamp>) -> bool {
    match (utmp, session_start) {
        (Some(u), Some(s)) => {
            u >= s - login_process::CLOCK_SLACK - SignedDuration::from_secs(3)
                && u <= s + SignedDuration::from_secs(120)
        }
        _ => true,
    }
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

/// The processes of a logon session: by LUID / logind id, else by audit
/// session; plus the logind leader while it is still the session's own
/// process (its cgroup or audit id may not tie it there).
fn logon_processes(ctx: &Ctx<'_>, logon: &LogonSession) -> (Vec<u32>, Option<LoginProcess>) {
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
    let leader = logon.leader_pid.map(|pid| {
        login_process::check(
            ctx.snapshot,
            ctx.index,
            &LoginRecord {
                pid,
                user: logon.user.as_deref(),
                uid: logon.uid,
                since: logon.start_time,
                alive_hint: None,
            },
        )
    });
    if let Some(LoginProcess::Alive(Some(row))) = leader
        && !procs.contains(&row)
    {
        procs.push(row);
    }
    (procs, leader)
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
    let (procs, leader) = logon_processes(ctx, logon);
    let utmp_rows = linked_utmp(ctx, logon, &procs, covered);
    let mut interactive_rows = Vec::new();
    let interactive_row = linked_interactive(ctx, logon);
    if let Some(r) = interactive_row {
        covered.interactive[r as usize] = true;
        interactive_rows.push(r);
    }
    for &r in &utmp_rows {
        covered.workstation[r as usize] = true;
        interactive_rows.extend(ctx.interactive_of_utmp(r, covered));
    }
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
    let smb_rows = if ctx.snapshot.platform == Platform::Linux {
        decide_logind(
            ctx,
            &mut finding,
            logon,
            &procs,
            leader.as_ref(),
            interactive_row,
        )
    } else {
        decide_lsa(ctx, &mut finding, logon, &procs, interactive_row)
    };
    finding.evidence.push(Evidence {
        source: Source::LogonSessions,
        rows: vec![row],
    });
    finding.evidence.extend(evidence(Source::Processes, procs));
    finding
        .evidence
        .extend(evidence(Source::InteractiveSessions, interactive_rows));
    finding
        .evidence
        .extend(evidence(Source::WorkstationUsers, utmp_rows));
    finding
        .evidence
        .extend(evidence(Source::SmbSessions, smb_rows));
    Some(finding)
}

/// SMB sessions of the logon's user, which keep a logon with no process in use.
fn smb_of_user(ctx: &Ctx<'_>, user: &str) -> Vec<u32> {
    if !ctx.snapshot.smb_sessions.is_ok() {
        return Vec::new();
    }
    let target = TargetUser {
        domain: None,
        user: user.to_string(),
    };
    ctx.index.smb_of(&target).collect()
}

/// The sources a "no process left" verdict rests on.
fn leak_checks(ctx: &Ctx<'_>, logon: &LogonSession) -> [(Source, bool); 3] {
    let user = logon.user.as_deref().unwrap_or_default();
    [
        (
            Source::Processes,
            rules_out(&ctx.snapshot.processes)
                && !unattributed_could_belong(ctx, logon.domain.as_deref(), user),
        ),
        (
            Source::InteractiveSessions,
            rules_out(&ctx.snapshot.interactive_sessions),
        ),
        (Source::SmbSessions, rules_out(&ctx.snapshot.smb_sessions)),
    ]
}

/// A systemd-logind session: processes decide first. A session with no
/// process and a dead (or reused) leader is leaked whatever its STATE says;
/// the state only refines a session that still has processes. Returns the
/// SMB rows that explain a session without processes.
fn decide_logind(
    ctx: &Ctx<'_>,
    finding: &mut Finding,
    logon: &LogonSession,
    procs: &[u32],
    leader: Option<&LoginProcess>,
    interactive_row: Option<u32>,
) -> Vec<u32> {
    let n = procs.len();
    let state = logon.state.as_deref().unwrap_or("unknown");
    let where_ = logon
        .tty
        .as_deref()
        .map(|t| format!(" on {t}"))
        .unwrap_or_default();
    if state == "opening" {
        finding.reason = format!("login in progress (logind state opening){where_}");
        return Vec::new();
    }
    if n > 0 {
        if state == "closing" {
            finding.verdict = Verdict::Closing;
            finding.lingering = true;
            finding.reason = format!("logind session is closing but {n} process(es) remain in it");
        } else if let Some(r) = interactive_row {
            let session = &ctx.snapshot.interactive_sessions.rows_or_empty()[r as usize];
            apply_interactive_state(ctx, finding, session, Some(n));
        } else {
            finding.reason = format!("{n} process(es) run in this logon session");
        }
        return Vec::new();
    }
    let smb_rows = smb_of_user(ctx, logon.user.as_deref().unwrap_or_default());
    if !smb_rows.is_empty() {
        finding.reason = format!(
            "no process, but {} SMB session(s) of this user hold it",
            smb_rows.len()
        );
        return smb_rows;
    }
    let leader_text = match leader {
        Some(LoginProcess::Gone) => logon
            .leader_pid
            .map(|pid| format!("; its leader {pid} is gone"))
            .unwrap_or_default(),
        Some(LoginProcess::Reused { why, .. }) => format!("; its leader is gone ({why})"),
        _ => String::new(),
    };
    if let Some(LoginProcess::Unverified(why)) = leader {
        finding.verdict = Verdict::Inconclusive;
        finding.reason = format!("logind session ({state}){where_} has no process left, but {why}");
        return Vec::new();
    }
    let checks = leak_checks(ctx, logon);
    if checks.iter().all(|(_, ok)| *ok) {
        finding.verdict = Verdict::LeakedLogon;
        finding.lingering = true;
        finding.reason = format!("logind session ({state}){where_} holds no process{leader_text}");
    } else {
        finding.verdict = Verdict::Inconclusive;
        finding.reason = format!(
            "logind session ({state}){where_}: no process seen, but these sources could not be read fully: {}",
            failed_names(&checks)
        );
    }
    Vec::new()
}

/// A Windows logon session (LSA/WMI). An interactive (WTS) session decides
/// by its state: a logon's user processes may run under the linked
/// (elevated) logon of a split token, so a WTS session with no process in
/// this LUID is not a leak.
fn decide_lsa(
    ctx: &Ctx<'_>,
    finding: &mut Finding,
    logon: &LogonSession,
    procs: &[u32],
    interactive_row: Option<u32>,
) -> Vec<u32> {
    let n = procs.len();
    if let Some(r) = interactive_row {
        let session = &ctx.snapshot.interactive_sessions.rows_or_empty()[r as usize];
        let known = ctx.snapshot.processes.is_ok().then_some(n);
        apply_interactive_state(ctx, finding, session, known);
        return Vec::new();
    }
    if n > 0 {
        finding.reason = format!("{n} process(es) run in this logon session");
        return Vec::new();
    }
    let smb_rows = smb_of_user(ctx, logon.user.as_deref().unwrap_or_default());
    if !smb_rows.is_empty() {
        finding.reason = format!(
            "no process, but {} SMB session(s) of this user hold it",
            smb_rows.len()
        );
        return smb_rows;
    }
    let checks = leak_checks(ctx, logon);
    if checks.iter().all(|(_, ok)| *ok) {
        finding.verdict = Verdict::LeakedLogon;
        finding.lingering = true;
        finding.reason =
            "logon session has no process, no interactive session and no SMB session".to_string();
    } else {
        finding.verdict = Verdict::Inconclusive;
        finding.reason = format!(
            "no process seen, but these sources could not be read fully: {}",
            failed_names(&checks)
        );
    }
    Vec::new()
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

/// A note for SMB sessions whose idleness could not be judged because the
/// host gives no idle time (Samba never does): every SMB row a finding
/// cites, whether as its own finding or as the session a live smbd serves.
pub(super) fn idle_notes(
    snapshot: &HostSnapshot,
    findings: &[Finding],
    options: &AnalyzeOptions,
) -> Vec<String> {
    let smb = snapshot.smb_sessions.rows_or_empty();
    let mut unknown: Vec<u32> = findings
        .iter()
        .flat_map(|f| &f.evidence)
        .filter(|e| e.source == Source::SmbSessions)
        .flat_map(|e| e.rows.iter().copied())
        .filter(|&r| smb.get(r as usize).is_some_and(|s| s.idle_secs.is_none()))
        .collect();
    unknown.sort_unstable();
    unknown.dedup();
    if unknown.is_empty() {
        return Vec::new();
    }
    let server = if snapshot.platform == Platform::Linux {
        "Samba does not report how long a session has been idle"
    } else {
        "the host did not report how long they have been idle"
    };
    vec![format!(
        "{} SMB session(s) could not be judged against --max-idle {}: {server}",
        unknown.len(),
        human_duration(options.max_idle.as_secs())
    )]
}

//! Logon sessions (Windows LSA/WMI, systemd-logind): the records they tie
//! together (processes, the login's utmp record and terminal row, SMB
//! sessions) and their verdict.

use jiff::{SignedDuration, Timestamp};

use super::{Covered, Ctx, apply_interactive_state, evidence, failed_names};
use crate::analyze::login_process::{self, LoginProcess, LoginRecord};
use crate::analyze::{Evidence, Finding, SessionKind, Verdict, rules_out};
use crate::identity::{TargetUser, display_account, eq_ignore_case, is_set_aside};
use crate::model::{LogonSession, Platform, Source};

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
    let mut digits = [0u8; 10];
    let by_terminal = logon.terminal_session_id.and_then(|t| {
        ctx.index
            .interactive_by_id
            .get(decimal(t, &mut digits))
            .copied()
    });
    by_logon_id
        .filter(|&r| same_user(r))
        .or(by_terminal.filter(|&r| same_user(r)))
}

/// `n` in decimal, written into `out` (one per logon session: no allocation).
fn decimal(mut n: u32, out: &mut [u8; 10]) -> &str {
    let mut start = out.len();
    loop {
        start -= 1;
        out[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    // Only ASCII digits were written.
    std::str::from_utf8(&out[start..]).unwrap_or_default()
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
    // Only when some record has a pid: each process read here is a random
    // read into the whole process table.
    if !ctx.utmp_by_pid.is_empty() {
        for &p in procs {
            add(ctx.utmp_by_pid.get(&processes[p as usize].pid));
        }
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
    let owner = TargetUser::account(domain, user);
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
fn logon_processes(
    ctx: &Ctx<'_>,
    row: u32,
    logon: &LogonSession,
) -> (Vec<u32>, Option<LoginProcess>) {
    let group = ctx.logon_groups.get(row as usize).copied().flatten();
    let mut procs = group
        .map_or(&[][..], |g| ctx.index.procs_by_logon.rows_of(g))
        .to_vec();
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

pub(super) fn logon_finding(
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
    let (procs, leader) = logon_processes(ctx, row, logon);
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
        history: None,
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
    ctx.index.smb_of(None, user).collect()
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
    let leader_text = match leader {
        Some(LoginProcess::Gone) => logon
            .leader_pid
            .map(|pid| format!("; its leader {pid} is gone"))
            .unwrap_or_default(),
        Some(LoginProcess::Reused { why, .. }) => format!("; its leader is gone ({why})"),
        _ => String::new(),
    };
    let unverified = match leader {
        Some(LoginProcess::Unverified(why)) => Some(why.as_str()),
        _ => None,
    };
    let subject = format!("logind session ({state}){where_}");
    let leaked = format!("{subject} holds no process{leader_text}");
    no_process_left(ctx, finding, logon, unverified, &subject, leaked)
}

/// A logon session with no process: an SMB session of its user keeps it in
/// use; otherwise it leaked, once every source that could show a holder was
/// read and the login's own process is known to be gone. Returns the SMB rows
/// that explain it.
fn no_process_left(
    ctx: &Ctx<'_>,
    finding: &mut Finding,
    logon: &LogonSession,
    unverified: Option<&str>,
    subject: &str,
    leaked_reason: String,
) -> Vec<u32> {
    let smb_rows = smb_of_user(ctx, logon.user.as_deref().unwrap_or_default());
    if !smb_rows.is_empty() {
        finding.reason = format!(
            "no process, but {} SMB session(s) of this user hold it",
            smb_rows.len()
        );
        return smb_rows;
    }
    if let Some(why) = unverified {
        finding.verdict = Verdict::Inconclusive;
        finding.reason = format!("{subject} has no process left, but {why}");
        return Vec::new();
    }
    let checks = leak_checks(ctx, logon);
    if checks.iter().all(|(_, ok)| *ok) {
        finding.verdict = Verdict::LeakedLogon;
        finding.lingering = true;
        finding.reason = leaked_reason;
    } else {
        finding.verdict = Verdict::Inconclusive;
        finding.reason = format!(
            "{subject}: no process seen, but these sources could not be read fully: {}",
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
    no_process_left(
        ctx,
        finding,
        logon,
        None,
        "logon session",
        "logon session has no process, no interactive session and no SMB session".to_string(),
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn decimal_matches_to_string() {
        let mut out = [0u8; 10];
        for n in [0, 7, 10, 12_345, u32::MAX] {
            assert_eq!(super::decimal(n, &mut out), n.to_string());
        }
    }
}

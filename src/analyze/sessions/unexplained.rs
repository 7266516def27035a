//! Records no logon session explained: processes grouped by audit session,
//! utmp entries, workstation-list users, interactive and SMB sessions.

use std::collections::BTreeMap;

use super::{Covered, Ctx, apply_interactive_state, evidence, failed_names, human_duration};
use crate::analyze::keygroups::Keys;
use crate::analyze::login_process::LoginProcess;
use crate::analyze::users::interactive_sessions_of;
use crate::analyze::{Evidence, Finding, SessionKind, Verdict, logons_out_of_reach, rules_out};
use crate::identity::{
    TargetUser, display_account, is_set_aside, split_account, write_account_key,
};
use crate::model::{Observed, Source, WorkstationUser};

/// Linux without logind: processes sharing an audit session id form a logon.
pub(super) fn audit_session_findings(ctx: &Ctx<'_>, covered: &mut Covered) -> Vec<Finding> {
    let processes = ctx.snapshot.processes.rows_or_empty();
    let groups: BTreeMap<u32, &Vec<u32>> = ctx
        .index
        .procs_by_audit
        .iter()
        .map(|(k, v)| (*k, v))
        .collect();
    let mut findings = Vec::new();
    for (audit, rows) in groups {
        let login_owner = rows
            .iter()
            .map(|&r| &processes[r as usize])
            .find(|p| p.loginuid.is_some() && p.loginuid == p.uid)
            .or_else(|| rows.first().map(|&r| &processes[r as usize]));
        let Some(user) = login_owner.and_then(|p| p.user.as_deref()) else {
            continue;
        };
        let (domain, name) = split_account(user);
        if is_set_aside(domain, name) || !ctx.wanted(domain, name) {
            continue;
        }
        // A utmp record joins the group only while its login process is still
        // that login's: a reused pid would file another user's record here.
        let mut utmp_rows = Vec::new();
        let mut interactive_rows = Vec::new();
        for &r in rows.iter() {
            for &w in ctx
                .utmp_by_pid
                .get(&processes[r as usize].pid)
                .into_iter()
                .flatten()
            {
                let entry = &ctx.snapshot.workstation_users.rows_or_empty()[w as usize];
                let same_user = split_account(user).1.eq_ignore_ascii_case(&entry.user);
                if covered.workstation[w as usize]
                    || !same_user
                    || !ctx.utmp_login(w).is_some_and(|l| l.is_alive())
                {
                    continue;
                }
                covered.workstation[w as usize] = true;
                utmp_rows.push(w);
                interactive_rows.extend(ctx.interactive_of_utmp(w, covered));
            }
        }
        let mut evidence_rows = vec![Evidence {
            source: Source::Processes,
            rows: rows.clone(),
        }];
        evidence_rows.extend(evidence(Source::InteractiveSessions, interactive_rows));
        evidence_rows.extend(evidence(Source::WorkstationUsers, utmp_rows));
        findings.push(Finding {
            verdict: Verdict::Active,
            lingering: false,
            kind: SessionKind::AuditSession,
            session_id: audit.to_string(),
            user: user.to_string(),
            reason: format!("{} process(es) share audit session {audit}", rows.len()),
            idle_secs: None,
            since: None,
            history: None,
            evidence: evidence_rows,
        });
    }
    findings
}

pub(super) fn utmp_findings(ctx: &Ctx<'_>, covered: &mut Covered) -> Vec<Finding> {
    let rows = ctx.snapshot.workstation_users.rows_or_empty();
    let mut findings = Vec::new();
    for (row, entry) in rows.iter().enumerate() {
        let Some(pid) = entry.pid else { continue };
        if covered.workstation[row]
            || is_set_aside(None, &entry.user)
            || !ctx.wanted(None, &entry.user)
        {
            continue;
        }
        covered.workstation[row] = true;
        let line = entry.tty.clone().unwrap_or_else(|| format!("pid {pid}"));
        let interactive_rows = ctx.interactive_of_utmp(row as u32, covered);
        let mut finding = Finding {
            verdict: Verdict::Active,
            lingering: false,
            kind: SessionKind::UtmpEntry,
            session_id: line.clone(),
            user: entry.user.clone(),
            reason: String::new(),
            idle_secs: None,
            since: entry.login_time,
            history: None,
            evidence: vec![Evidence {
                source: Source::WorkstationUsers,
                rows: vec![row as u32],
            }],
        };
        match ctx.utmp_login(row as u32) {
            Some(LoginProcess::Gone) => {
                finding.verdict = Verdict::StaleUtmp;
                finding.lingering = true;
                finding.reason = format!("utmp still lists {line}, but its process {pid} is gone");
            }
            Some(LoginProcess::Reused { why, .. }) => {
                finding.verdict = Verdict::StaleUtmp;
                finding.lingering = true;
                finding.reason =
                    format!("utmp still lists {line}, but its login process is gone: {why}");
            }
            Some(LoginProcess::Alive(process_row)) => {
                let smb_rows = ctx.smb_by_pid.get(&pid).cloned().unwrap_or_default();
                for &s in &smb_rows {
                    covered.smb[s as usize] = true;
                }
                finding.reason = if smb_rows.is_empty() {
                    format!("login process {pid} of {line} is alive")
                } else {
                    format!("login process {pid} of {line} is alive and serves an SMB session")
                };
                finding.evidence.extend(evidence(
                    Source::Processes,
                    process_row.into_iter().collect(),
                ));
                finding
                    .evidence
                    .extend(evidence(Source::SmbSessions, smb_rows));
            }
            Some(LoginProcess::Unverified(why)) => {
                finding.verdict = Verdict::Inconclusive;
                finding.reason = format!("utmp lists {line}: {why}");
            }
            None => continue,
        }
        if let Some(&first) = interactive_rows.first() {
            finding.idle_secs = ctx.idle_now(
                ctx.snapshot.interactive_sessions.rows_or_empty()[first as usize].idle_secs,
            );
        }
        finding
            .evidence
            .extend(evidence(Source::InteractiveSessions, interactive_rows));
        findings.push(finding);
    }
    findings
}

/// The script's rule, per user, for workstation-list rows that carry no process id
/// (NetWkstaUserEnum): listed, but no logon session and no process → STALE_WKSTA.
pub(super) fn workstation_user_findings(ctx: &Ctx<'_>, covered: &Covered) -> Vec<Finding> {
    let rows = ctx.snapshot.workstation_users.rows_or_empty();
    // Rows by account key, the key built in one reused buffer and copied
    // once per account; the groups are put in key order once at the end.
    let mut keys = Keys::default();
    let mut groups: Vec<(&WorkstationUser, Vec<u32>)> = Vec::new();
    let mut key = String::new();
    for (row, entry) in rows.iter().enumerate() {
        if entry.pid.is_some() || covered.workstation[row] {
            continue;
        }
        let domain = Some(entry.logon_domain.as_str()).filter(|d| !d.is_empty());
        if is_set_aside(domain, &entry.user) || !ctx.wanted(domain, &entry.user) {
            continue;
        }
        write_account_key(&mut key, domain, &entry.user);
        let id = keys.id(&key) as usize;
        if id == groups.len() {
            groups.push((entry, Vec::new()));
        }
        groups[id].1.push(row as u32);
    }
    let mut order: Vec<u32> = (0..groups.len() as u32).collect();
    // Keys are distinct: an unstable sort gives the one order there is.
    order.sort_unstable_by(|&a, &b| keys.bytes_of(a).cmp(keys.bytes_of(b)));
    let accounts = order.len();
    let mut groups: Vec<Option<(&WorkstationUser, Vec<u32>)>> =
        groups.into_iter().map(Some).collect();
    let groups = order
        .into_iter()
        .filter_map(|id| groups.get_mut(id as usize).and_then(Option::take));
    // At most one finding per group: reserved, not regrown and copied.
    let mut findings = Vec::with_capacity(accounts);
    // Over MS-RPC an interactive session stands in for the logon session
    // that cannot be read (see `logons_out_of_reach`): a host-wide fact.
    let by_processes = logons_out_of_reach(ctx.snapshot);
    for (first, wk_rows) in groups {
        let domain = Some(first.logon_domain.as_str()).filter(|d| !d.is_empty());
        let has_logon = ctx.index.has_logon(domain, &first.user)
            || (by_processes
                && interactive_sessions_of(
                    ctx.snapshot,
                    &TargetUser::account(domain, &first.user),
                ) > 0);
        if has_logon || ctx.index.has_process(domain, &first.user) {
            continue;
        }
        let account = TargetUser::account(domain, &first.user);
        let checks = [
            (
                Source::LogonSessions,
                by_processes || rules_out(&ctx.snapshot.logon_sessions),
            ),
            (Source::Processes, rules_out(&ctx.snapshot.processes)),
        ];
        let all_seen = checks.iter().all(|(_, ok)| *ok);
        let n = wk_rows.len();
        let none_of = if by_processes {
            "no process and no interactive session (logon sessions cannot be read over MS-RPC)"
        } else {
            "no logon session and no process"
        };
        findings.push(Finding {
            verdict: if all_seen {
                Verdict::StaleWksta
            } else {
                Verdict::Inconclusive
            },
            lingering: all_seen,
            kind: SessionKind::WorkstationUser,
            session_id: account.display(),
            user: display_account(domain, &first.user),
            reason: if all_seen {
                format!("listed {n} time(s) by the workstation service, but {none_of}")
            } else {
                format!(
                    "listed {n} time(s) by the workstation service; could not check {}",
                    failed_names(&checks)
                )
            },
            idle_secs: None,
            since: None,
            history: None,
            evidence: vec![Evidence {
                source: Source::WorkstationUsers,
                rows: wk_rows,
            }],
        });
    }
    findings
}

pub(super) fn interactive_findings(ctx: &Ctx<'_>, covered: &Covered) -> Vec<Finding> {
    let rows = match &ctx.snapshot.interactive_sessions {
        Observed::Ok { rows } => rows,
        Observed::Failed(_) => return Vec::new(),
    };
    let mut findings = Vec::new();
    for (row, session) in rows.iter().enumerate() {
        let Some(user) = session.user.as_deref().filter(|u| !u.is_empty()) else {
            continue;
        };
        let domain = session.domain.as_deref();
        if covered.interactive[row] || is_set_aside(domain, user) || !ctx.wanted(domain, user) {
            continue;
        }
        let mut finding = Finding {
            verdict: Verdict::Active,
            lingering: false,
            kind: SessionKind::InteractiveSession,
            session_id: session.session_id.clone(),
            user: display_account(domain, user),
            reason: String::new(),
            idle_secs: None,
            since: session.logon_time,
            history: None,
            evidence: vec![Evidence {
                source: Source::InteractiveSessions,
                rows: vec![row as u32],
            }],
        };
        apply_interactive_state(ctx, &mut finding, session, None);
        findings.push(finding);
    }
    findings
}

pub(super) fn smb_findings(ctx: &Ctx<'_>, covered: &Covered) -> Vec<Finding> {
    let rows = ctx.snapshot.smb_sessions.rows_or_empty();
    let mut findings = Vec::new();
    for (row, session) in rows.iter().enumerate() {
        let Some(user) = session.user.as_deref().filter(|u| !u.is_empty()) else {
            continue;
        };
        let domain = session.domain.as_deref();
        if covered.smb[row] || is_set_aside(domain, user) || !ctx.wanted(domain, user) {
            continue;
        }
        let idle = ctx.idle_now(session.idle_secs);
        let lingering = ctx.idle_past_limit(idle);
        let reason = match idle {
            Some(idle) if lingering => format!(
                "SMB session from {} idle {} (over --max-idle {})",
                session.client,
                human_duration(idle),
                human_duration(ctx.options.max_idle.as_secs())
            ),
            Some(idle) => format!(
                "SMB session from {}, idle {}",
                session.client,
                human_duration(idle)
            ),
            None => format!(
                "SMB session from {} (idle time unknown: the server does not report it)",
                session.client
            ),
        };
        findings.push(Finding {
            verdict: if lingering {
                Verdict::IdleSmb
            } else {
                Verdict::Active
            },
            lingering,
            kind: SessionKind::SmbSession,
            session_id: session
                .session_id
                .clone()
                .unwrap_or_else(|| session.client.clone()),
            user: display_account(domain, user),
            reason,
            idle_secs: idle,
            since: session.connected_at,
            history: None,
            evidence: vec![Evidence {
                source: Source::SmbSessions,
                rows: vec![row as u32],
            }],
        });
    }
    findings
}

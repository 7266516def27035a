//! The script's user-level rule (its section 5) and the counts of its
//! sections 2-4, as Get-LingeringSessions.ps1 computes them.
//!
//! - Matching is the script's
//!   ([`ScriptIdentity`](crate::identity::ScriptIdentity)): by account name
//!   only, never by domain.
//! - The gate: only a user NetWkstaUserEnum lists (machine-account rows
//!   dropped) can be ACTIVE or LINGERING (Get-LingeringSessions.ps1:461-467);
//!   anyone else is NOT LOGGED ON ("Nothing to analyze", 501-504), whatever
//!   the other sources say or whether they could be read.
//! - A listed user with no logon session and no process lingers (472); one
//!   with either is active (491). SMB is informational (470, 485, 496).
//! - Sections 2-4 count every matching row, `NAME$` accounts included; only
//!   NetWkstaUserEnum rows of `NAME$` accounts are dropped (313, 463).
//! - A logon-session or process query that failed counts 0 and, for a
//!   lingering user, adds the script's "IMPORTANT" warning (479-484).
//!
//! Two documented differences: a NetWkstaUserEnum that could not be read
//! gives INCONCLUSIVE (the script would find nothing to analyse), and
//! malformed targets are refused before this runs. lingerscan's stricter,
//! domain-aware view is the per-session findings; where it answers
//! differently for a user, [`super::user_contrast`] says so in one line.
//!
//! Without a target, every account a login source shows is assessed as if
//! it had been given as the script's target.

use foldhash::HashSet;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::index::SnapshotIndex;
use super::keygroups::{KeyBatch, Keys};
use super::login_process::{self, LoginProcess, LoginRecord};
use super::own_connection::OwnRows;
use super::script_index::{IdentityKeys, ScriptIndex};
use super::{AnalyzeOptions, Finding, rules_out, user_contrast};
use crate::identity::{
    ScriptIdentity, TargetUser, is_script_machine_row, is_set_aside, write_account_key,
};
use crate::model::{HostSnapshot, Platform, Source};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum UserState {
    /// Listed by the workstation service, no logon session, no process.
    Lingering,
    /// Listed by the workstation service, with a logon session or a process.
    Active,
    /// Not listed by the workstation service: the script has nothing to analyse.
    NotPresent,
    /// The workstation service's list could not be read (lingerscan's one
    /// difference in verdict: the script would say there is nothing to analyse).
    Inconclusive,
}

/// The script's warnings that bear on this result, in the order it prints them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ScriptWarning {
    /// "NetWkstaUserEnum failed: …" (Get-LingeringSessions.ps1:131-141).
    WorkstationListFailed,
    /// "Error getting logon sessions: …" (350-353).
    LogonSessionsFailed,
    /// "Remote process enumeration failed …" (390-393) or "Error getting processes: …" (404-406).
    ProcessesFailed,
    /// "SMB session query skipped or failed …" (431-432) or "Error getting SMB sessions: …" (444-445).
    SmbSessionsFailed,
    /// "IMPORTANT: Section 2 and/or Section 3 did not complete successfully …"
    /// (479-484): a lingering result that rests on a failed query.
    ChecksIncomplete,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct UserAssessment {
    pub user: String,
    pub state: UserState,
    /// The user's NetWkstaUserEnum rows as the script selects them (machine-account rows dropped).
    pub workstation_rows: Vec<u32>,
    /// The script's counts: matching rows of sections 2, 3 and 4 (0 when the query failed).
    pub logon_sessions: usize,
    pub processes: usize,
    pub smb_sessions: usize,
    /// Linux only: live utmp login processes (sshd, smbd) not already among
    /// `processes`; they keep a utmp-listed user active as a process would.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub login_processes: usize,
    /// The rows behind the counts (indices into the snapshot's sources).
    pub logon_rows: Vec<u32>,
    pub process_rows: Vec<u32>,
    pub smb_rows: Vec<u32>,
    /// Sources the rule reads that failed (workstation list, logon sessions, processes).
    pub unchecked: Vec<Source>,
    pub warnings: Vec<ScriptWarning>,
    /// Where the per-session findings answer differently for this user, why (one sentence).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub findings_differ: Option<String>,
    /// Logon sessions cannot be read over this protocol (a remote scan over
    /// MS-RPC: LSA logon sessions need WMI), but processes and interactive
    /// sessions were read: the rule was decided on those, and an interactive
    /// session of the user counted as a logon session. The script's warning
    /// is still given; the result is not left unconfirmed because of it.
    #[serde(default, skip_serializing_if = "is_false")]
    pub decided_without_logons: bool,
    /// Interactive sessions counted in place of logon sessions (see above).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub interactive_sessions: usize,
}

fn is_false(value: &bool) -> bool {
    !*value
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl UserAssessment {
    /// A lingering result the script itself says not to trust yet.
    pub fn unconfirmed(&self) -> bool {
        self.warnings.contains(&ScriptWarning::ChecksIncomplete) && !self.decided_without_logons
    }
}

/// What the user-level rule needs before the session findings exist: the
/// accounts to judge and the script's indexes. Built apart so that it can
/// be built while the session findings are (see [`super::analyze`]).
pub(super) struct Prepared<'i> {
    accounts: Vec<TargetUser>,
    script: ScriptIndex<'i>,
}

pub(super) fn prepare<'i>(
    snapshot: &HostSnapshot,
    index: &'i SnapshotIndex<'_>,
    options: &AnalyzeOptions,
    own: &OwnRows,
) -> Prepared<'i> {
    Prepared {
        accounts: match &options.target {
            Some(target) => vec![target.clone()],
            None => accounts_on_host(snapshot, own),
        },
        script: ScriptIndex::build(snapshot, index, own),
    }
}

pub(super) fn assess_users(
    snapshot: &HostSnapshot,
    index: &SnapshotIndex<'_>,
    prepared: Prepared<'_>,
    findings: &[Finding],
) -> Vec<UserAssessment> {
    let Prepared { accounts, script } = prepared;
    let findings = user_contrast::FindingsByName::build(findings);
    // Accounts are judged a block at a time: the block's lookups in the
    // shared key tables (script keys, finding names) are made together, so
    // that at a million processes their cache misses overlap.
    let assess_part = |part: &[TargetUser], users: &mut Vec<UserAssessment>| {
        for block in part.chunks(ASSESSED_TOGETHER) {
            let identities: Vec<ScriptIdentity> =
                block.iter().map(TargetUser::script_identity).collect();
            let keys = script.identity_keys(&identities);
            let named = findings.names_of(block);
            for ((account, ids), name) in block.iter().zip(&keys).zip(named) {
                let mut user = assess(snapshot, index, &script, account, ids);
                user.findings_differ =
                    user_contrast::explain(snapshot, account, &user, &findings, name);
                users.push(user);
            }
        }
    };
    let assess_all = |part: &[TargetUser]| {
        let mut users = Vec::with_capacity(part.len());
        assess_part(part, &mut users);
        users
    };
    // Each account is judged on its own from shared, read-only indexes, so
    // a large host's accounts are split over the cores; the order is kept.
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
    if threads < 2 || accounts.len() < PARALLEL_ACCOUNTS {
        return assess_all(&accounts);
    }
    let chunk = accounts.len().div_ceil(threads);
    let mut parts = accounts.chunks(chunk);
    let Some(first) = parts.next() else {
        return Vec::new();
    };
    std::thread::scope(|scope| {
        let others: Vec<_> = parts
            .map(|part| (part, scope.spawn(|| assess_all(part))))
            .collect();
        // This thread judges the first part straight into the whole list,
        // sized for every account: the others' parts are then appended
        // without the list ever being regrown or copied whole.
        let mut users = Vec::with_capacity(accounts.len());
        assess_part(first, &mut users);
        for (part, handle) in others {
            match handle.join() {
                Ok(mut done) => users.append(&mut done),
                // A panic in a worker is a bug; judging its accounts here
                // reproduces it on this thread with its message.
                Err(_) => assess_part(part, &mut users),
            }
        }
        users
    })
}

/// Accounts whose key lookups are made together (see [`assess_users`]).
const ASSESSED_TOGETHER: usize = 32;

/// Below this many accounts, a second thread costs more than it saves.
const PARALLEL_ACCOUNTS: usize = 2_000;

/// Every account a login source shows (not processes alone, which would
/// list every daemon), with domain-less duplicates folded into the
/// domain-qualified account of the same name. NetWkstaUserEnum accounts are
/// all kept but `NAME$` rows (the script drops only those); the other
/// sources leave out machine accounts and service identities, which the
/// gate would call not logged on anyway.
fn accounts_on_host<'s>(snapshot: &'s HostSnapshot, own: &OwnRows) -> Vec<TargetUser> {
    // Each account once: its key (`domain\user` or `user`, lower-cased),
    // where the user part starts in the key, and the account as first seen.
    // The key map holds short keys in its slots and numbers, not accounts.
    let mut seen = Keys::default();
    // At most one account per row: reserved, not grown (untouched capacity
    // costs no page; each regrowth of tens of thousands of accounts copies
    // them into fresh memory).
    let rows = snapshot.workstation_users.rows_or_empty().len()
        + snapshot.logon_sessions.rows_or_empty().len()
        + snapshot.interactive_sessions.rows_or_empty().len()
        + snapshot.smb_sessions.rows_or_empty().len();
    let mut accounts: Vec<(usize, TargetUser)> = Vec::with_capacity(rows);
    let mut key = String::new();
    // Keys are numbered a batch at a time (their table misses overlapped);
    // an account is new when its number is the next one.
    let mut batch = KeyBatch::new();
    let mut numbered = |(user_start, domain, user): (usize, Option<&'s str>, &'s str), id: u32| {
        if id as usize == accounts.len() {
            accounts.push((user_start, TargetUser::account(domain, user)));
        }
    };
    // Consecutive rows often name the same account (one user's sessions).
    let mut previous: Option<(Option<&'s str>, &'s str, bool)> = None;
    let mut add = |domain: Option<&'s str>, user: &'s str, listed: bool| {
        let domain = domain.map(str::trim).filter(|d| !d.is_empty());
        let user = user.trim();
        if previous.is_some_and(|p| p == (domain, user, listed)) {
            return;
        }
        let skip = if listed {
            user.is_empty() || is_script_machine_row(user)
        } else {
            is_set_aside(domain, user)
        };
        if skip {
            return;
        }
        // Most rows repeat an account already seen: build its key in a reused buffer.
        let user_start = write_account_key(&mut key, domain, user);
        batch.push(&mut seen, &key, (user_start, domain, user), &mut numbered);
        previous = Some((domain, user, listed));
    };
    for (row, w) in snapshot
        .workstation_users
        .rows_or_empty()
        .iter()
        .enumerate()
    {
        if !own.workstation.contains(&(row as u32)) {
            add(Some(&w.logon_domain), &w.user, true);
        }
    }
    for l in snapshot.logon_sessions.rows_or_empty() {
        if let Some(user) = &l.user {
            add(l.domain.as_deref(), user, false);
        }
    }
    for i in snapshot.interactive_sessions.rows_or_empty() {
        if let Some(user) = &i.user {
            add(i.domain.as_deref(), user, false);
        }
    }
    for (row, s) in snapshot.smb_sessions.rows_or_empty().iter().enumerate() {
        if let Some(user) = &s.user
            && !own.smb.contains(&(row as u32))
        {
            add(s.domain.as_deref(), user, false);
        }
    }
    batch.flush(&mut seen, &mut numbered);
    // A domain-less account is folded into a qualified one of the same name:
    // the user part of a qualified key is that name, lower-cased as the
    // domain-less key is. Keys are read from the key map's own table of
    // texts (short ones inline, side by side), not from scattered strings.
    let qualified: HashSet<&str> = accounts
        .iter()
        .enumerate()
        .filter(|(_, (start, t))| t.domain.is_some() && *start > 0)
        .filter_map(|(i, (start, _))| seen.text_of(i as u32).get(*start..))
        .collect();
    let mut kept: Vec<u32> = accounts
        .iter()
        .enumerate()
        .filter(|(i, (_, t))| t.domain.is_some() || !qualified.contains(seen.text_of(*i as u32)))
        .map(|(i, _)| i as u32)
        .collect();
    drop(qualified);
    // Keys are distinct, so the order is total and an unstable sort is exact.
    kept.sort_unstable_by(|&a, &b| seen.bytes_of(a).cmp(seen.bytes_of(b)));
    let mut slots: Vec<Option<TargetUser>> = accounts.into_iter().map(|(_, t)| Some(t)).collect();
    kept.into_iter()
        .filter_map(|i| slots.get_mut(i as usize).and_then(Option::take))
        .collect()
}

fn assess(
    snapshot: &HostSnapshot,
    index: &SnapshotIndex<'_>,
    script: &ScriptIndex<'_>,
    account: &TargetUser,
    ids: &IdentityKeys,
) -> UserAssessment {
    // A failed query leaves the script's list empty (its initial `@()`,
    // lines 280-283); a source the host does not have is empty too.
    let rows_if = |ok: bool, rows: Vec<u32>| if ok { rows } else { Vec::new() };
    let wksta_ok = rules_out(&snapshot.workstation_users);
    let logon_ok = rules_out(&snapshot.logon_sessions);
    let process_ok = rules_out(&snapshot.processes);
    let smb_ok = rules_out(&snapshot.smb_sessions);
    let workstation_rows = rows_if(wksta_ok, script.workstation.matching(ids, false));
    let logon_rows = rows_if(logon_ok, script.logons.matching(ids, false));
    let process_rows = rows_if(process_ok, script.processes.matching(ids, !script.local));
    let smb_rows = rows_if(smb_ok, script.smb.matching(ids, false));
    let login_processes = if snapshot.platform == Platform::Linux {
        live_login_processes(snapshot, index, &workstation_rows, &process_rows)
    } else {
        0
    };

    let mut warnings: Vec<ScriptWarning> = [
        (wksta_ok, ScriptWarning::WorkstationListFailed),
        (logon_ok, ScriptWarning::LogonSessionsFailed),
        (process_ok, ScriptWarning::ProcessesFailed),
        (smb_ok, ScriptWarning::SmbSessionsFailed),
    ]
    .into_iter()
    .filter(|(ok, _)| !ok)
    .map(|(_, w)| w)
    .collect();
    let unchecked: Vec<Source> = [
        (wksta_ok, Source::WorkstationUsers),
        (logon_ok, Source::LogonSessions),
        (process_ok, Source::Processes),
    ]
    .into_iter()
    .filter(|(ok, _)| !ok)
    .map(|(_, s)| s)
    .collect();

    // Over MS-RPC no logon session can be read at all (not refused: there
    // is no such call), while processes and terminal sessions can. Then the
    // rule is decided on those, as the script would decide it with WMI
    // unreadable, but without leaving every answer unconfirmed.
    let decided_without_logons = super::logons_out_of_reach(snapshot);
    let interactive_sessions = if decided_without_logons {
        interactive_sessions_of(snapshot, account)
    } else {
        0
    };
    let has_logon = !logon_rows.is_empty() || interactive_sessions > 0;
    let has_process = !process_rows.is_empty() || login_processes > 0;
    let state = if !wksta_ok {
        UserState::Inconclusive
    } else if workstation_rows.is_empty() {
        UserState::NotPresent
    } else if !has_logon && !has_process {
        if !logon_ok || !process_ok {
            warnings.push(ScriptWarning::ChecksIncomplete);
        }
        UserState::Lingering
    } else {
        UserState::Active
    };
    UserAssessment {
        user: account.display(),
        state,
        logon_sessions: logon_rows.len(),
        processes: process_rows.len(),
        smb_sessions: smb_rows.len(),
        login_processes,
        workstation_rows,
        logon_rows,
        process_rows,
        smb_rows,
        unchecked,
        warnings,
        findings_differ: None,
        decided_without_logons,
        interactive_sessions,
    }
}

/// The user's interactive sessions (by account, domain-aware).
pub(super) fn interactive_sessions_of(snapshot: &HostSnapshot, account: &TargetUser) -> usize {
    snapshot
        .interactive_sessions
        .rows_or_empty()
        .iter()
        .filter(|i| {
            i.user
                .as_deref()
                .is_some_and(|u| !u.is_empty() && account.matches(i.domain.as_deref(), u))
        })
        .count()
}

/// On Linux a live utmp login process is a process of that login even when
/// it runs as root (sshd, smbd), so it counts like one; a pid reused since
/// the login does not, and one already counted by name is not counted twice.
fn live_login_processes(
    snapshot: &HostSnapshot,
    index: &SnapshotIndex<'_>,
    workstation_rows: &[u32],
    process_rows: &[u32],
) -> usize {
    let workstation = snapshot.workstation_users.rows_or_empty();
    workstation_rows
        .iter()
        .filter_map(|&r| workstation.get(r as usize))
        .filter(|entry| {
            LoginRecord::of_utmp(entry).is_some_and(|record| {
                match login_process::check(snapshot, index, &record) {
                    LoginProcess::Alive(Some(row)) => process_rows.binary_search(&row).is_err(),
                    LoginProcess::Alive(None) => true,
                    _ => false,
                }
            })
        })
        .count()
}

#[cfg(test)]
mod tests {
    use crate::analyze::{AnalyzeOptions, Outcome, UserState, Verdict, analyze};
    use crate::collect::msrpc::COLLECTOR_NAME;
    use crate::model::{
        FailureKind, HostSnapshot, InteractiveSession, InteractiveState, Observed, Platform,
        ProcessRow, WorkstationUser,
    };

    /// A remote scan over MS-RPC with terminal services readable: alice is
    /// listed with nothing, bob runs a process, carol has an RDP session.
    fn remote() -> HostSnapshot {
        let mut s = HostSnapshot::empty("srv", Platform::Windows, COLLECTOR_NAME);
        let listed = |user: &str| WorkstationUser {
            user: user.to_string(),
            logon_domain: "CONTOSO".to_string(),
            ..WorkstationUser::default()
        };
        s.workstation_users = Observed::ok(vec![listed("alice"), listed("bob"), listed("carol")]);
        s.logon_sessions = Observed::failed(FailureKind::NotSupported, None, "not over MS-RPC");
        s.processes = Observed::ok(vec![ProcessRow {
            pid: 7,
            name: "excel.exe".into(),
            user: Some("CONTOSO\\bob".into()),
            ..ProcessRow::default()
        }]);
        s.interactive_sessions = Observed::ok(vec![InteractiveSession {
            session_id: "3".into(),
            user: Some("carol".into()),
            domain: Some("CONTOSO".into()),
            state: InteractiveState::Active,
            ..InteractiveSession::default()
        }]);
        s
    }

    fn states(s: &HostSnapshot) -> (Vec<(String, UserState, bool)>, Outcome) {
        let analysis = analyze(s, &AnalyzeOptions::for_snapshot(s));
        let users = analysis
            .users
            .iter()
            .map(|u| (u.user.clone(), u.state, u.unconfirmed()))
            .collect();
        (users, analysis.outcome())
    }

    #[test]
    fn processes_and_terminal_sessions_decide_when_logons_are_out_of_reach() {
        let (users, outcome) = states(&remote());
        assert_eq!(
            users,
            [
                ("CONTOSO\\alice".to_string(), UserState::Lingering, false),
                ("CONTOSO\\bob".to_string(), UserState::Active, false),
                ("CONTOSO\\carol".to_string(), UserState::Active, false),
            ]
        );
        assert_eq!(outcome, Outcome::Lingering);
        // The per-session findings agree: alice's listing is stale, carol's
        // terminal session explains hers, bob's process his.
        let s = remote();
        let analysis = analyze(&s, &AnalyzeOptions::for_snapshot(&s));
        let findings: Vec<(&str, Verdict)> = analysis
            .findings
            .iter()
            .map(|f| (f.user.as_str(), f.verdict))
            .collect();
        assert_eq!(
            findings,
            [
                ("CONTOSO\\alice", Verdict::StaleWksta),
                ("CONTOSO\\carol", Verdict::Active),
            ]
        );
        assert!(
            analysis.findings[0]
                .reason
                .contains("cannot be read over MS-RPC")
        );
    }

    #[test]
    fn without_processes_nothing_is_confirmed() {
        let mut s = remote();
        s.processes = Observed::failed(FailureKind::AccessDenied, Some(5), "denied");
        let (users, outcome) = states(&s);
        assert!(
            users
                .iter()
                .all(|(_, state, unconfirmed)| { *state != UserState::Lingering || *unconfirmed })
        );
        assert_eq!(outcome, Outcome::Undecided);
        // A logon-session query that was refused (not absent from the
        // protocol) still leaves the answer unconfirmed, as the script warns.
        let mut s = remote();
        s.logon_sessions = Observed::failed(FailureKind::AccessDenied, Some(5), "denied");
        assert_eq!(states(&s).1, Outcome::Undecided);
    }
}

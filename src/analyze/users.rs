//! The script's user-level rule (its section 5), kept as its own result:
//! a user listed by the workstation service with no logon session and no
//! process lingers; any logon session or process makes the user active.
//! SMB sessions are informational only, as in the script.

use foldhash::{HashMap, HashMapExt};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::index::SnapshotIndex;
use super::login_process::{self, LoginRecord};
use super::own_connection::OwnRows;
use super::{AnalyzeOptions, rules_out};
use crate::identity::{TargetUser, is_set_aside, write_account_key};
use crate::model::{HostSnapshot, Source};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum UserState {
    /// Listed by the workstation service, no logon session, no process.
    Lingering,
    /// Has a logon session or a process.
    Active,
    /// Not listed by the workstation service, and nothing else either: not logged on.
    NotPresent,
    /// A source the rule needs could not be read.
    Inconclusive,
    /// A machine account (`NAME$`) or a well-known service identity, named as
    /// the target: set aside, as the script sets them aside, and not judged.
    SetAside,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct UserAssessment {
    pub user: String,
    pub state: UserState,
    /// Matching rows of the workstation-user list (machine accounts excluded).
    pub workstation_rows: Vec<u32>,
    /// Counts per source; None when that source could not be read.
    pub logon_sessions: Option<usize>,
    pub processes: Option<usize>,
    pub smb_sessions: Option<usize>,
    /// Sources the rule needed that failed (the script's "checks were incomplete" warning).
    pub unchecked: Vec<Source>,
}

pub(super) fn assess_users(
    snapshot: &HostSnapshot,
    index: &SnapshotIndex<'_>,
    options: &AnalyzeOptions,
    own: &OwnRows,
) -> Vec<UserAssessment> {
    let accounts = match &options.target {
        Some(target) => vec![target.clone()],
        None => accounts_on_host(snapshot, own),
    };
    accounts
        .iter()
        .map(|a| assess(snapshot, index, a, own))
        .collect()
}

/// Every human account seen by a login source (not processes alone, which
/// would list every daemon), with domain-less duplicates folded into the
/// domain-qualified account of the same name.
fn accounts_on_host(snapshot: &HostSnapshot, own: &OwnRows) -> Vec<TargetUser> {
    let mut seen: HashMap<String, TargetUser> = HashMap::new();
    let mut key = String::new();
    let mut add = |domain: Option<&str>, user: &str| {
        let domain = domain.map(str::trim).filter(|d| !d.is_empty());
        let user = user.trim();
        // Most rows repeat an account already seen: build its key in a reused buffer.
        write_account_key(&mut key, domain, user);
        if seen.contains_key(&key) || is_set_aside(domain, user) {
            return;
        }
        seen.insert(
            key.clone(),
            TargetUser {
                domain: domain.map(str::to_string),
                user: user.to_string(),
            },
        );
    };
    for (row, w) in snapshot
        .workstation_users
        .rows_or_empty()
        .iter()
        .enumerate()
    {
        if !own.workstation.contains(&(row as u32)) {
            add(Some(&w.logon_domain), &w.user);
        }
    }
    for l in snapshot.logon_sessions.rows_or_empty() {
        if let Some(user) = &l.user {
            add(l.domain.as_deref(), user);
        }
    }
    for i in snapshot.interactive_sessions.rows_or_empty() {
        if let Some(user) = &i.user {
            add(i.domain.as_deref(), user);
        }
    }
    for (row, s) in snapshot.smb_sessions.rows_or_empty().iter().enumerate() {
        if let Some(user) = &s.user
            && !own.smb.contains(&(row as u32))
        {
            add(s.domain.as_deref(), user);
        }
    }
    let qualified: std::collections::HashSet<String> = seen
        .values()
        .filter(|t| t.domain.is_some())
        .map(|t| t.user.to_lowercase())
        .collect();
    let mut accounts: Vec<(String, TargetUser)> = seen
        .into_iter()
        .filter(|(_, t)| t.domain.is_some() || !qualified.contains(&t.user.to_lowercase()))
        .collect();
    accounts.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    accounts.into_iter().map(|(_, t)| t).collect()
}

fn assess(
    snapshot: &HostSnapshot,
    index: &SnapshotIndex<'_>,
    account: &TargetUser,
    own: &OwnRows,
) -> UserAssessment {
    if is_set_aside(account.domain.as_deref(), &account.user) {
        return UserAssessment {
            user: account.display(),
            state: UserState::SetAside,
            workstation_rows: Vec::new(),
            logon_sessions: None,
            processes: None,
            smb_sessions: None,
            unchecked: Vec::new(),
        };
    }
    let workstation = snapshot.workstation_users.rows_or_empty();
    let mut workstation_rows: Vec<u32> = index
        .workstation_of(account)
        .filter(|&r| {
            !is_set_aside(None, &workstation[r as usize].user) && !own.workstation.contains(&r)
        })
        .collect();
    workstation_rows.sort_unstable();
    let count_if = |ok: bool, n: usize| ok.then_some(n);
    let logon_sessions = count_if(
        rules_out(&snapshot.logon_sessions),
        index.logons_of(account).count(),
    );
    // On Linux a live utmp login process is a process of that login even when
    // it runs as root (sshd, smbd), so it counts like one; a pid reused since
    // the login does not.
    let live_login_processes = workstation_rows
        .iter()
        .filter(|&&r| {
            let entry = &workstation[r as usize];
            entry.pid.is_some_and(|pid| {
                let record = LoginRecord {
                    pid,
                    user: Some(&entry.user),
                    uid: None,
                    since: entry.login_time,
                    alive_hint: entry.pid_alive,
                };
                login_process::check(snapshot, index, &record).is_alive()
            })
        })
        .count();
    let process_count = count_if(
        rules_out(&snapshot.processes),
        index.processes_of(account).count() + live_login_processes,
    );
    let smb_sessions = count_if(
        rules_out(&snapshot.smb_sessions),
        index
            .smb_of(account)
            .filter(|r| !own.smb.contains(r))
            .count(),
    );
    let unchecked: Vec<Source> = [
        (
            Source::WorkstationUsers,
            rules_out(&snapshot.workstation_users),
        ),
        (Source::LogonSessions, logon_sessions.is_some()),
        (Source::Processes, process_count.is_some()),
    ]
    .into_iter()
    .filter(|(_, ok)| !ok)
    .map(|(s, _)| s)
    .collect();
    let active = logon_sessions.unwrap_or(0) > 0 || process_count.unwrap_or(0) > 0;
    let state = if active {
        UserState::Active
    } else if !unchecked.is_empty() {
        UserState::Inconclusive
    } else if workstation_rows.is_empty() {
        UserState::NotPresent
    } else {
        UserState::Lingering
    };
    UserAssessment {
        user: account.display(),
        state,
        workstation_rows,
        logon_sessions,
        processes: process_count,
        smb_sessions,
        unchecked,
    }
}

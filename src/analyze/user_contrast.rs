//! Where the script's user-level result and lingerscan's per-session
//! findings answer differently for one user, the reason in one sentence.
//!
//! The findings match domains and judge each session on its own evidence;
//! the script matches account names only and looks at nothing once
//! NetWkstaUserEnum does not list the user. Both stay as they are; this
//! only names the gap, so a reader is not left with two contradicting
//! answers and no explanation.

use std::collections::BTreeMap;

use super::keygroups::{KeyGroups, KeyGroupsBuilder, TextList};
use super::users::{UserAssessment, UserState};
use super::{Finding, Verdict};
use crate::identity::{TargetUser, display_account, is_machine_account, split_account};
use crate::model::{HostSnapshot, Platform};

/// At most this many sessions are named in the sentence.
const NAMED: usize = 4;

/// Findings grouped by their account's name, case-folded as
/// [`crate::identity::eq_ignore_case`] compares: a user's findings are then
/// found without scanning every finding for every user (which made the
/// analysis quadratic in the number of users).
pub(super) struct FindingsByName<'a> {
    findings: &'a [Finding],
    by_name: KeyGroups,
}

/// The key under which two names are equal exactly when `eq_ignore_case`
/// says so, into `out` (cleared first).
fn write_name_key(name: &str, out: &mut String) {
    out.clear();
    if name.is_ascii() {
        out.push_str(name);
        out.make_ascii_lowercase();
    } else {
        out.extend(name.chars().flat_map(char::to_lowercase));
    }
}

impl<'a> FindingsByName<'a> {
    pub fn build(findings: &'a [Finding]) -> Self {
        let mut by_name = KeyGroupsBuilder::with_capacity(findings.len());
        let mut key = String::new();
        for (i, f) in findings.iter().enumerate() {
            let (_, name) = split_account(f.user.trim());
            write_name_key(name, &mut key);
            by_name.add(&key, i as u32);
        }
        FindingsByName {
            findings,
            by_name: by_name.finish(),
        }
    }

    /// Each account's name as numbered here (None when no finding has
    /// it), the accounts' lookups made together.
    pub fn names_of(&self, accounts: &[TargetUser]) -> Vec<Option<u32>> {
        let (mut keys, mut key) = (TextList::default(), String::new());
        for account in accounts {
            write_name_key(&account.user, &mut key);
            keys.push(&key);
        }
        self.by_name.ids_of_all(keys.iter())
    }

    /// The findings `account.matches_account` accepts, in their order;
    /// `name` is the account's from [`FindingsByName::names_of`].
    fn of(&self, account: &TargetUser, name: Option<u32>) -> Vec<&'a Finding> {
        self.by_name
            .rows_of(name)
            .iter()
            .map(|&i| &self.findings[i as usize])
            .filter(|f| account.matches_account(&f.user))
            .collect()
    }
}

pub(super) fn explain(
    snapshot: &HostSnapshot,
    account: &TargetUser,
    user: &UserAssessment,
    findings: &FindingsByName<'_>,
    name: Option<u32>,
) -> Option<String> {
    let mine: Vec<&Finding> = findings.of(account, name);
    let lingering: Vec<&Finding> = mine.iter().copied().filter(|f| f.lingering).collect();
    let inconclusive = mine.iter().any(|f| f.verdict == Verdict::Inconclusive);
    let live = mine
        .iter()
        .any(|f| !f.lingering && f.verdict != Verdict::Inconclusive);
    let name = account.display();
    let list = if snapshot.platform == Platform::Linux {
        "utmp"
    } else {
        "NetWkstaUserEnum"
    };
    // Only the sentences below that name other accounts' rows need them:
    // counting them walks every row the script counted for this user.
    let needs_others = match user.state {
        UserState::Active => !live,
        UserState::Lingering => lingering.is_empty() && !user.unconfirmed(),
        UserState::NotPresent | UserState::Inconclusive => false,
    };
    let others = if needs_others {
        counted_by_name_only(snapshot, account, user)
    } else {
        String::new()
    };
    let by_name = |what: &str| {
        format!(
            "the script counts {others} for {name} because it compares only the account name \
             (Get-LingeringSessions.ps1:195-210); the session findings {what}."
        )
    };
    match user.state {
        // Rows of another account made the script's ACTIVE: that is the reason to give.
        UserState::Active if !live && !others.is_empty() && !lingering.is_empty() => {
            Some(by_name(&format!(
                "match domains, see no live session of this account, and find {} lingering",
                named(&lingering)
            )))
        }
        UserState::Active if !lingering.is_empty() => Some(format!(
            "This user-level result is the script's rule (is the user logged on at all?); \
             the session findings judge each session, and {} of this user's linger: {}.",
            lingering.len(),
            named(&lingering)
        )),
        UserState::Active if !live && !others.is_empty() => Some(by_name(
            "match domains and see no live session of this account",
        )),
        UserState::Active if !live => Some(format!(
            "The session findings see no live session of {name}{}.",
            if inconclusive {
                " (a source they need could not be read)"
            } else {
                ""
            }
        )),
        UserState::Lingering if user.unconfirmed() && lingering.is_empty() => Some(
            "The session findings call this INCONCLUSIVE: a source the decision needs could not \
             be read, and lingerscan does not call a session lingering on missing evidence; the \
             script does, with its warning."
                .to_string(),
        ),
        UserState::Lingering if lingering.is_empty() && !others.is_empty() => Some(by_name(
            "match domains and find nothing of this account that lingers",
        )),
        UserState::NotPresent if !mine.is_empty() => Some(format!(
            "The session findings see {} session(s) of {name} ({}); the script looks no further \
             when {list} does not list the user (Get-LingeringSessions.ps1:461-467, 501-504).",
            mine.len(),
            named(&mine)
        )),
        UserState::NotPresent
            if is_machine_account(&account.user)
                && user.logon_sessions + user.processes + user.smb_sessions > 0 =>
        {
            Some(format!(
                "The script drops `NAME$` rows from {list} (Get-LingeringSessions.ps1:313, 463), \
                 so a machine or managed service account is never listed, yet sections 2-4 \
                 count its rows; the session findings set such accounts aside."
            ))
        }
        UserState::Inconclusive => Some(format!(
            "The script would print \"Nothing to analyze\" here (Get-LingeringSessions.ps1:501-504); \
             lingerscan does not take a {list} list it could not read for an empty one \
             (a documented difference)."
        )),
        _ => None,
    }
}

/// "CONTOSO\ALICE's 1 logon session(s) and 3 process(es)": rows the script
/// counted for the user that domain-aware matching gives to another account.
fn counted_by_name_only(
    snapshot: &HostSnapshot,
    account: &TargetUser,
    user: &UserAssessment,
) -> String {
    // Per account: NetWkstaUserEnum rows, logon sessions, processes, SMB sessions.
    let mut per_account: BTreeMap<String, [usize; 4]> = BTreeMap::new();
    let mut count = |who: &str, kind: usize| {
        if !account.matches_account(who) {
            match per_account.get_mut(who) {
                Some(counts) => counts[kind] += 1,
                None => {
                    let mut counts = [0; 4];
                    counts[kind] = 1;
                    per_account.insert(who.to_string(), counts);
                }
            }
        }
    };
    let wksta = snapshot.workstation_users.rows_or_empty();
    for w in user
        .workstation_rows
        .iter()
        .filter_map(|&r| wksta.get(r as usize))
    {
        count(&display_account(Some(&w.logon_domain), &w.user), 0);
    }
    let logons = snapshot.logon_sessions.rows_or_empty();
    for l in user
        .logon_rows
        .iter()
        .filter_map(|&r| logons.get(r as usize))
    {
        if let Some(u) = &l.user {
            count(&display_account(l.domain.as_deref(), u), 1);
        }
    }
    let processes = snapshot.processes.rows_or_empty();
    for p in user
        .process_rows
        .iter()
        .filter_map(|&r| processes.get(r as usize))
    {
        if let Some(u) = &p.user {
            count(u, 2);
        }
    }
    let smb = snapshot.smb_sessions.rows_or_empty();
    for s in user.smb_rows.iter().filter_map(|&r| smb.get(r as usize)) {
        if let Some(u) = &s.user {
            count(&display_account(s.domain.as_deref(), u), 3);
        }
    }
    let list_rows = if snapshot.platform == Platform::Linux {
        "utmp record(s)"
    } else {
        "NetWkstaUserEnum row(s)"
    };
    let words = [
        list_rows,
        "logon session(s)",
        "process(es)",
        "SMB session(s)",
    ];
    per_account
        .into_iter()
        .map(|(who, counts)| {
            let parts: Vec<String> = counts
                .iter()
                .zip(words)
                .filter(|(n, _)| **n > 0)
                .map(|(n, w)| format!("{n} {w}"))
                .collect();
            format!("{who}'s {}", parts.join(" and "))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// "LEAKED_LOGON 9, ACTIVE 4" (at most [`NAMED`], then how many more).
fn named(findings: &[&Finding]) -> String {
    let mut text: Vec<String> = findings
        .iter()
        .take(NAMED)
        .map(|f| format!("{} {}", f.verdict, f.session_id))
        .collect();
    if findings.len() > NAMED {
        text.push(format!("and {} more", findings.len() - NAMED));
    }
    text.join(", ")
}

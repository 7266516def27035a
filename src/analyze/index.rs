//! Lookup tables over a snapshot, built once so that correlation stays linear.

use foldhash::{HashMap, HashMapExt};
use std::borrow::Cow;

use crate::identity::{TargetUser, domains_equal, split_account};
use crate::model::HostSnapshot;

/// Rows of one source grouped by lower-case account name (without domain).
#[derive(Default)]
pub(super) struct AccountIndex {
    by_name: HashMap<Box<str>, Vec<u32>>,
}

impl AccountIndex {
    fn build<'a>(accounts: impl Iterator<Item = Option<&'a str>>) -> Self {
        let mut by_name: HashMap<Box<str>, Vec<u32>> = HashMap::new();
        for (row, account) in accounts.enumerate() {
            let Some(account) = account else { continue };
            let (_, user) = split_account(account);
            if user.is_empty() {
                continue;
            }
            let key = lower(user);
            // Look up before inserting so that only the first row of an account allocates a key.
            match by_name.get_mut(key.as_ref()) {
                Some(rows) => rows.push(row as u32),
                None => {
                    by_name.insert(key.into(), vec![row as u32]);
                }
            }
        }
        AccountIndex { by_name }
    }

    /// Rows whose account matches `target`; `domain_of` gives a row's domain, if it has one.
    fn matching<'s, 'd>(
        &'s self,
        target: &'s TargetUser,
        domain_of: impl Fn(u32) -> Option<&'d str> + 's,
    ) -> impl Iterator<Item = u32> + 's {
        self.by_name
            .get(lower(&target.user).as_ref())
            .map(|rows| rows.as_slice())
            .unwrap_or_default()
            .iter()
            .copied()
            .filter(
                move |&row| match (&target.domain, domain_of(row).filter(|d| !d.is_empty())) {
                    (Some(want), Some(have)) => domains_equal(want, have),
                    _ => true,
                },
            )
    }
}

/// Lower-case without allocating when the name already is (the common case).
fn lower(name: &str) -> Cow<'_, str> {
    if name
        .bytes()
        .any(|b| b.is_ascii_uppercase() || !b.is_ascii())
    {
        Cow::Owned(name.to_lowercase())
    } else {
        Cow::Borrowed(name)
    }
}

pub(super) struct SnapshotIndex<'a> {
    snapshot: &'a HostSnapshot,
    /// Process rows by the logon session (LUID / logind id) they belong to.
    pub procs_by_logon: HashMap<&'a str, Vec<u32>>,
    /// Process rows by Linux audit session id.
    pub procs_by_audit: HashMap<u32, Vec<u32>>,
    /// Process rows by pid, only for the pids login records name (logind
    /// leaders, utmp login processes): few, so cheap even with a million processes.
    pub login_pid_rows: HashMap<u32, u32>,
    /// Processes whose logon could not be read (token not opened), so they may belong anywhere.
    pub unattributed_procs: Vec<u32>,
    procs_by_user: AccountIndex,
    logons_by_user: AccountIndex,
    smb_by_user: AccountIndex,
    /// Interactive rows by session id.
    pub interactive_by_id: HashMap<&'a str, u32>,
}

impl<'a> SnapshotIndex<'a> {
    pub fn build(snapshot: &'a HostSnapshot) -> Self {
        let processes = snapshot.processes.rows_or_empty();
        let mut procs_by_logon: HashMap<&str, Vec<u32>> = HashMap::new();
        let mut procs_by_audit: HashMap<u32, Vec<u32>> = HashMap::new();
        let mut unattributed_procs = Vec::new();
        for (row, process) in processes.iter().enumerate() {
            let row = row as u32;
            match &process.logon_id {
                Some(logon) => procs_by_logon.entry(logon.as_str()).or_default().push(row),
                None if process.access_error.is_some() => unattributed_procs.push(row),
                None => {}
            }
            if let Some(audit) = process.audit_session {
                procs_by_audit.entry(audit).or_default().push(row);
            }
        }
        let logons = snapshot.logon_sessions.rows_or_empty();
        let mut login_pid_rows: HashMap<u32, u32> = logons
            .iter()
            .filter_map(|l| l.leader_pid)
            .chain(
                snapshot
                    .workstation_users
                    .rows_or_empty()
                    .iter()
                    .filter_map(|w| w.pid),
            )
            .map(|pid| (pid, u32::MAX))
            .collect();
        if !login_pid_rows.is_empty() {
            for (row, process) in processes.iter().enumerate() {
                if let Some(slot) = login_pid_rows.get_mut(&process.pid) {
                    *slot = row as u32;
                }
            }
            login_pid_rows.retain(|_, row| *row != u32::MAX);
        }
        let smb = snapshot.smb_sessions.rows_or_empty();
        SnapshotIndex {
            snapshot,
            procs_by_logon,
            procs_by_audit,
            login_pid_rows,
            unattributed_procs,
            procs_by_user: AccountIndex::build(processes.iter().map(|p| p.user.as_deref())),
            logons_by_user: AccountIndex::build(logons.iter().map(|l| l.user.as_deref())),
            smb_by_user: AccountIndex::build(smb.iter().map(|s| s.user.as_deref())),
            interactive_by_id: snapshot
                .interactive_sessions
                .rows_or_empty()
                .iter()
                .enumerate()
                .map(|(row, s)| (s.session_id.as_str(), row as u32))
                .collect(),
        }
    }
}

/// Rows of each source that belong to an account (domain-aware, case-insensitive).
impl<'a> SnapshotIndex<'a> {
    pub fn logons_of<'s>(&'s self, account: &'s TargetUser) -> impl Iterator<Item = u32> + 's {
        let rows = self.snapshot.logon_sessions.rows_or_empty();
        self.logons_by_user
            .matching(account, move |r| rows[r as usize].domain.as_deref())
    }

    pub fn processes_of<'s>(&'s self, account: &'s TargetUser) -> impl Iterator<Item = u32> + 's {
        let rows = self.snapshot.processes.rows_or_empty();
        self.procs_by_user.matching(account, move |r| {
            rows[r as usize]
                .user
                .as_deref()
                .and_then(|u| split_account(u).0)
        })
    }

    pub fn smb_of<'s>(&'s self, account: &'s TargetUser) -> impl Iterator<Item = u32> + 's {
        let rows = self.snapshot.smb_sessions.rows_or_empty();
        self.smb_by_user
            .matching(account, move |r| rows[r as usize].domain.as_deref())
    }
}

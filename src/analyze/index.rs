//! Lookup tables over a snapshot, built once so that correlation stays linear.

use foldhash::{HashMap, HashMapExt};
use std::borrow::Cow;

use super::keygroups::{BATCH, KeyGroups, KeyGroupsBuilder, Keys};
use crate::identity::{domains_equal, split_account};
use crate::model::HostSnapshot;

/// Rows of one source grouped by lower-case account name (without domain).
pub(super) struct AccountIndex {
    by_name: KeyGroups,
}

impl AccountIndex {
    fn build<'a>(accounts: impl Iterator<Item = Option<&'a str>>) -> Self {
        let mut by_name = KeyGroupsBuilder::with_capacity(accounts.size_hint().0);
        for (row, account) in accounts.enumerate() {
            let Some(account) = account else { continue };
            let (_, user) = split_account(account);
            if user.is_empty() {
                continue;
            }
            by_name.add(&lower(user), row as u32);
        }
        AccountIndex {
            by_name: by_name.finish(),
        }
    }

    /// An index of groups rather than rows: the groups' exact account
    /// strings, numbered in order (a [`Grouped`]'s keys). One key is
    /// computed per distinct account, and no row is copied.
    fn of_group_keys<'a>(keys: impl Iterator<Item = &'a str>) -> Self {
        let mut by_name = KeyGroupsBuilder::default();
        for (id, account) in keys.enumerate() {
            let (_, user) = split_account(account);
            if user.is_empty() {
                continue;
            }
            by_name.add(&lower(user), id as u32);
        }
        AccountIndex {
            by_name: by_name.finish(),
        }
    }

    /// Rows (or groups) whose account matches the account `domain\user`
    /// (as [`crate::identity::TargetUser::account`] would, without building one); `domain_of`
    /// gives a row's domain, if it has one.
    fn matching<'s, 'd>(
        &'s self,
        domain: Option<&'s str>,
        user: &str,
        domain_of: impl Fn(u32) -> Option<&'d str> + 's,
    ) -> impl Iterator<Item = u32> + 's {
        self.by_name
            .get(lower(user).as_ref())
            .iter()
            .copied()
            .filter(
                move |&row| match (domain, domain_of(row).filter(|d| !d.is_empty())) {
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

/// Rows grouped by a string key, all groups in one array (compressed rows):
/// building it touches each row once, sequentially, instead of pushing
/// every row into one of tens of thousands of small vectors scattered over
/// memory, which at a million rows cost more in cache misses than the rest
/// of the analysis.
pub(super) struct Grouped<'a> {
    /// Keys copied, not borrowed: a short key sits in its table slot, where
    /// comparing a probed key with a borrowed one would read some far-away
    /// row's memory (a cache miss per row at a million rows).
    ids: Keys,
    /// Group `g` is `rows[starts[g]..starts[g + 1]]`, rows ascending.
    starts: Vec<u32>,
    rows: Vec<u32>,
    keys: Vec<&'a str>,
}

/// Builds a [`Grouped`] one row at a time, so that several can be filled
/// in one pass over the rows. Keys are numbered a batch at a time
/// ([`Keys::ids_of`]), which at a million rows hides most of the table's
/// cache misses.
struct GroupedBuilder<'a> {
    ids: Keys,
    keys: Vec<&'a str>,
    counts: Vec<u32>,
    group_of: Vec<u32>,
    /// Rows added but not yet numbered (`group_of` has NO_GROUP for them):
    /// the keys borrowed, not copied as a [`super::keygroups::KeyBatch`]
    /// copies them (that costs 8 % of a million-process analysis's CPU).
    pending: [&'a str; BATCH],
    /// Their rows.
    pending_rows: [u32; BATCH],
    waiting: usize,
    /// Consecutive rows often share a key (a process tree): no hashing then.
    previous: Option<(&'a str, u32)>,
}

const NO_GROUP: u32 = u32::MAX;

impl<'a> GroupedBuilder<'a> {
    fn with_capacity(rows: usize) -> Self {
        GroupedBuilder {
            ids: Keys::default(),
            keys: Vec::new(),
            counts: Vec::new(),
            group_of: Vec::with_capacity(rows),
            pending: [""; BATCH],
            pending_rows: [0; BATCH],
            waiting: 0,
            previous: None,
        }
    }

    /// The next row's key (rows are added in order, from 0).
    fn add(&mut self, key: Option<&'a str>) {
        let row = self.group_of.len() as u32;
        self.group_of.push(NO_GROUP);
        let Some(key) = key else { return };
        if let Some((k, id)) = self.previous
            && k == key
            && self.waiting == 0
        {
            self.counts[id as usize] += 1;
            self.group_of[row as usize] = id;
            return;
        }
        self.pending[self.waiting] = key;
        self.pending_rows[self.waiting] = row;
        self.waiting += 1;
        self.previous = None;
        if self.waiting == BATCH {
            self.number_pending();
        }
    }

    /// Numbers the waiting rows' keys, in row order.
    fn number_pending(&mut self) {
        let waiting = std::mem::take(&mut self.waiting);
        let mut ids = [0u32; BATCH];
        self.ids.ids_of(&self.pending[..waiting], &mut ids);
        for ((&key, &row), &id) in self
            .pending
            .iter()
            .zip(&self.pending_rows)
            .zip(&ids)
            .take(waiting)
        {
            if id as usize == self.keys.len() {
                self.keys.push(key);
                self.counts.push(0);
            }
            self.counts[id as usize] += 1;
            self.group_of[row as usize] = id;
            self.previous = Some((key, id));
        }
    }

    fn finish(mut self) -> Grouped<'a> {
        self.number_pending();
        let GroupedBuilder {
            ids,
            keys,
            mut counts,
            group_of,
            ..
        } = self;
        let mut starts = Vec::with_capacity(counts.len() + 1);
        let mut total = 0u32;
        starts.push(0);
        for count in &counts {
            total += count;
            starts.push(total);
        }
        // The counts become each group's next free slot.
        let groups = counts.len();
        counts.copy_from_slice(&starts[..groups]);
        let mut rows = vec![0u32; total as usize];
        for (row, &id) in group_of.iter().enumerate() {
            if id != NO_GROUP {
                let slot = &mut counts[id as usize];
                rows[*slot as usize] = row as u32;
                *slot += 1;
            }
        }
        Grouped {
            ids,
            starts,
            rows,
            keys,
        }
    }
}

impl<'a> Grouped<'a> {
    /// Each key's group (None when none has it), in order: for a loop
    /// that asks for many keys, which then overlap their cache misses.
    pub fn ids_of_all<'t>(&self, keys: impl IntoIterator<Item = &'t str>) -> Vec<Option<u32>> {
        self.ids.get_all(keys)
    }

    fn group(&self, id: usize) -> &[u32] {
        &self.rows[self.starts[id] as usize..self.starts[id + 1] as usize]
    }

    /// The rows of group `id` (numbered in the order keys were first seen).
    pub fn rows_of(&self, id: u32) -> &[u32] {
        if id as usize + 1 < self.starts.len() {
            self.group(id as usize)
        } else {
            &[]
        }
    }

    /// The key of group `id`.
    pub fn key_of(&self, id: u32) -> &'a str {
        self.keys.get(id as usize).copied().unwrap_or_default()
    }

    /// Every key, in the order first seen (group ids 0, 1, ...).
    pub fn keys(&self) -> impl Iterator<Item = &'a str> + '_ {
        self.keys.iter().copied()
    }
}

pub(super) struct SnapshotIndex<'a> {
    snapshot: &'a HostSnapshot,
    /// Process rows by the logon session (LUID / logind id) they belong to.
    pub procs_by_logon: Grouped<'a>,
    /// Process rows by Linux audit session id.
    pub procs_by_audit: HashMap<u32, Vec<u32>>,
    /// Process rows by pid, only for the pids login records name (logind
    /// leaders, utmp login processes): few, so cheap even with a million processes.
    pub login_pid_rows: HashMap<u32, u32>,
    /// Process rows by their exact owner string (`DOMAIN\\user`), in row
    /// order: a million processes have a few thousand owners, so per-owner
    /// work (case folding, key building) is done once per owner.
    pub procs_by_owner: Grouped<'a>,
    /// Processes whose logon could not be read (token not opened), so they may belong anywhere.
    pub unattributed_procs: Vec<u32>,
    /// Groups of [`SnapshotIndex::procs_by_owner`] by user name.
    procs_by_user: AccountIndex,
    logons_by_user: AccountIndex,
    smb_by_user: AccountIndex,
    /// Interactive rows by session id.
    pub interactive_by_id: HashMap<&'a str, u32>,
}

impl<'a> SnapshotIndex<'a> {
    pub fn build(snapshot: &'a HostSnapshot) -> Self {
        let processes = snapshot.processes.rows_or_empty();
        let by_logon = || {
            let mut by_logon = GroupedBuilder::with_capacity(processes.len());
            for process in processes {
                by_logon.add(process.logon_id.as_deref());
            }
            by_logon.finish()
        };
        let the_rest = || {
            let mut by_owner = GroupedBuilder::with_capacity(processes.len());
            let mut procs_by_audit: HashMap<u32, Vec<u32>> = HashMap::new();
            let mut unattributed_procs = Vec::new();
            for (row, process) in processes.iter().enumerate() {
                let row = row as u32;
                by_owner.add(process.user.as_deref());
                if process.logon_id.is_none() && process.access_error.is_some() {
                    unattributed_procs.push(row);
                }
                if let Some(audit) = process.audit_session {
                    procs_by_audit.entry(audit).or_default().push(row);
                }
            }
            (by_owner.finish(), procs_by_audit, unattributed_procs)
        };
        // The groupings are independent: on a large host one is built on a
        // second core while this thread makes the others.
        let (procs_by_logon, (procs_by_owner, procs_by_audit, unattributed_procs)) =
            if processes.len() < super::PARALLEL_ROWS {
                (by_logon(), the_rest())
            } else {
                std::thread::scope(|scope| {
                    let helper = scope.spawn(by_logon);
                    let rest = the_rest();
                    // A panic there is a bug; grouping again here reproduces it with its message.
                    (helper.join().unwrap_or_else(|_| by_logon()), rest)
                })
            };
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
            procs_by_user: AccountIndex::of_group_keys(procs_by_owner.keys()),
            procs_by_owner,
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

/// Rows of each source that belong to an account (domain-aware,
/// case-insensitive), the account given as its parts: these run once per
/// listed user, and a [`crate::identity::TargetUser`] would cost three strings each time.
impl<'a> SnapshotIndex<'a> {
    /// Whether any logon session belongs to the account.
    pub fn has_logon(&self, domain: Option<&str>, user: &str) -> bool {
        let rows = self.snapshot.logon_sessions.rows_or_empty();
        self.logons_by_user
            .matching(domain, user, move |r| rows[r as usize].domain.as_deref())
            .next()
            .is_some()
    }

    /// Whether any process belongs to the account.
    pub fn has_process(&self, domain: Option<&str>, user: &str) -> bool {
        // Every row of an owner group has the group's account string, so
        // its domain; groups are never empty.
        let owners = &self.procs_by_owner;
        self.procs_by_user
            .matching(domain, user, move |g| split_account(owners.key_of(g)).0)
            .next()
            .is_some()
    }

    /// The SMB sessions of the account, in row order.
    pub fn smb_of<'s>(
        &'s self,
        domain: Option<&'s str>,
        user: &str,
    ) -> impl Iterator<Item = u32> + 's {
        let rows = self.snapshot.smb_sessions.rows_or_empty();
        self.smb_by_user
            .matching(domain, user, move |r| rows[r as usize].domain.as_deref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Batched grouping (with its shortcut for a row whose key repeats
        /// the previous row's) gives each key its rows in order, groups
        /// numbered by first appearance, and leaves out rows without a key.
        #[test]
        fn grouped_matches_a_plain_grouping(
            keys in prop::collection::vec(prop::option::weighted(0.9, "[a-d]{1,2}"), 0..200),
        ) {
            let mut builder = GroupedBuilder::with_capacity(keys.len());
            for key in &keys {
                builder.add(key.as_deref());
            }
            let grouped = builder.finish();
            let mut first_seen: Vec<&str> = Vec::new();
            for key in keys.iter().flatten() {
                if !first_seen.contains(&key.as_str()) {
                    first_seen.push(key);
                }
            }
            prop_assert_eq!(grouped.keys().collect::<Vec<_>>(), first_seen.clone());
            for (id, key) in first_seen.iter().enumerate() {
                let rows: Vec<u32> = (0..keys.len() as u32)
                    .filter(|&r| keys[r as usize].as_deref() == Some(*key))
                    .collect();
                prop_assert_eq!(grouped.ids_of_all([*key]), vec![Some(id as u32)]);
                prop_assert_eq!(grouped.rows_of(id as u32), rows.as_slice());
                prop_assert_eq!(grouped.key_of(id as u32), *key);
            }
            prop_assert_eq!(grouped.ids_of_all(["zz"]), vec![None]);
        }
    }
}

//! The candidate strings Get-LingeringSessions.ps1 compares with its
//! target, per source, indexed by the script's keys (see
//! [`crate::identity::ScriptIdentity`]) for the user-level rule in
//! [`super::users`].

use super::index::{Grouped, SnapshotIndex};
use super::keygroups::{KeyBatch, Keys, RowGroups};
use super::own_connection::OwnRows;
use crate::identity::{ScriptIdentity, ScriptKeys, is_script_machine_row};
use crate::model::HostSnapshot;

/// Rows of one source by the script's keys of their candidate string, the
/// keys numbered by the dictionary all sources share (see [`ScriptIndex`]).
pub(super) struct KeyIndex<'i> {
    whole: RowGroups,
    last: RowGroups,
    /// When set, the index holds groups of these rather than rows (see [`PendingKeyIndex::of_groups`]).
    groups: Option<&'i Grouped<'i>>,
}

/// A [`KeyIndex`] being built: (key number, row or group) pairs, kept until
/// the shared dictionary holds every source's keys.
struct PendingKeyIndex<'i> {
    whole: Vec<(u32, u32)>,
    last: Vec<(u32, u32)>,
    groups: Option<&'i Grouped<'i>>,
}

impl<'i> PendingKeyIndex<'i> {
    /// `write_candidate(row, out)` writes row `row`'s candidate string into
    /// `out` (empty) and says whether it has one the script can match: one
    /// reused buffer, not a string allocated and freed per row.
    fn of_rows(
        keys: &mut Keys,
        rows: usize,
        mut write_candidate: impl FnMut(usize, &mut String) -> bool,
    ) -> Self {
        let mut pending = PendingKeyIndex {
            whole: Vec::with_capacity(rows),
            last: Vec::with_capacity(rows),
            groups: None,
        };
        let mut candidate = String::new();
        let mut key = String::new();
        let mut batch = KeyBatch::new();
        for row in 0..rows {
            candidate.clear();
            if write_candidate(row, &mut candidate) {
                pending.add(keys, &mut batch, &candidate, row as u32, &mut key);
            }
        }
        pending.finish_batch(keys, &mut batch);
        pending
    }

    /// The same index over rows already grouped by their exact candidate
    /// string: keys are computed once per distinct candidate, and the index
    /// holds group numbers, not the rows (a million processes are not copied).
    fn of_groups(keys: &mut Keys, grouped: &'i Grouped<'i>) -> Self {
        let mut pending = PendingKeyIndex {
            whole: Vec::new(),
            last: Vec::new(),
            groups: Some(grouped),
        };
        let mut key = String::new();
        let mut batch = KeyBatch::new();
        for (id, candidate) in grouped.keys().enumerate() {
            pending.add(keys, &mut batch, candidate, id as u32, &mut key);
        }
        pending.finish_batch(keys, &mut batch);
        pending
    }

    /// `member`'s candidate under its keys, numbered when `batch` fills
    /// (then in the order added); `key` is a reused buffer.
    fn add(
        &mut self,
        keys: &mut Keys,
        batch: &mut KeyBatch<(Part, u32)>,
        candidate: &str,
        member: u32,
        key: &mut String,
    ) {
        // A blank candidate never matches (Test-IdentityMatch line 201;
        // the remote filter's `-not $_.UserName`, line 378, lets blanks
        // through, but no valid target equals a blank string).
        if candidate.trim().is_empty() {
            return;
        }
        let mut numbered = self.numbered();
        if let Some(start) = ScriptKeys::write(candidate, key) {
            batch.push(keys, &key[start..], (Part::Last, member), &mut numbered);
        }
        batch.push(keys, key, (Part::Whole, member), &mut numbered);
    }

    /// Files a numbered key under its part.
    fn numbered(&mut self) -> impl FnMut((Part, u32), u32) + '_ {
        |(part, member), id| match part {
            Part::Whole => self.whole.push((id, member)),
            Part::Last => self.last.push((id, member)),
        }
    }

    fn finish_batch(&mut self, keys: &mut Keys, batch: &mut KeyBatch<(Part, u32)>) {
        batch.flush(keys, &mut self.numbered());
    }

    /// `keys`: how many numbers the shared dictionary gave out.
    fn finish(self, keys: usize) -> KeyIndex<'i> {
        KeyIndex {
            whole: RowGroups::of_members(&self.whole, keys),
            last: RowGroups::of_members(&self.last, keys),
            groups: self.groups,
        }
    }
}

/// Which of a candidate's keys: the whole candidate or its last part.
#[derive(Clone, Copy)]
enum Part {
    Whole,
    Last,
}

/// An identity's lookup keys (see [`ScriptIdentity::lookup_keys`]) as
/// numbers of the shared dictionary, looked up once for every source; None
/// when no source has the key.
pub(super) struct IdentityKeys {
    trimmed: Option<u32>,
    raw: Option<u32>,
    sam: Option<u32>,
}

impl KeyIndex<'_> {
    /// Rows whose candidate the script accepts for `identity`, in row order.
    pub fn matching(&self, identity: &IdentityKeys, remote_process: bool) -> Vec<u32> {
        let first = if remote_process {
            identity.raw
        } else {
            identity.trimmed
        };
        let second = identity.sam;
        let groups = [
            self.whole.get(first),
            // The same key twice would only list its rows twice (equal
            // numbers are equal texts: the dictionary numbers each once).
            if second == first {
                &[]
            } else {
                self.whole.get(second)
            },
            self.last.get(identity.sam),
        ];
        let mut rows: Vec<u32> = Vec::new();
        match self.groups {
            None => {
                rows.reserve(groups.iter().map(|g| g.len()).sum());
                for group in groups {
                    rows.extend_from_slice(group);
                }
            }
            Some(grouped) => {
                // Sized first: the list is kept (the user's process rows),
                // and growing it would leave a trail of freed blocks.
                let groups = groups.iter().flat_map(|g| g.iter());
                rows.reserve(groups.clone().map(|&id| grouped.rows_of(id).len()).sum());
                for &id in groups {
                    rows.extend_from_slice(grouped.rows_of(id));
                }
            }
        }
        rows.sort_unstable();
        rows.dedup();
        rows
    }
}

/// The candidate strings the script would compare, per source, indexed.
/// Every source's keys are numbered by one dictionary: an account's keys
/// are looked up once, not once per source (four tables of tens of
/// thousands of keys each were each a cache miss per lookup at a million
/// processes), and the sources' groups are arrays by number.
pub(super) struct ScriptIndex<'i> {
    keys: Keys,
    pub workstation: KeyIndex<'i>,
    pub logons: KeyIndex<'i>,
    pub processes: KeyIndex<'i>,
    pub smb: KeyIndex<'i>,
    /// Processes were listed on the host itself (Get-Process), not sent a filter over WinRM.
    pub local: bool,
}

impl<'i> ScriptIndex<'i> {
    pub fn build(snapshot: &HostSnapshot, index: &'i SnapshotIndex<'_>, own: &OwnRows) -> Self {
        let workstation = snapshot.workstation_users.rows_or_empty();
        let logons = snapshot.logon_sessions.rows_or_empty();
        let smb = snapshot.smb_sessions.rows_or_empty();
        let mut keys = Keys::default();
        // FullName is `LogonDomain\Username`, or Username when the domain is
        // empty (lines 118-122); `NAME$` rows are dropped (313, 463). The
        // scan's own row is not the host's state and is left out.
        let by_workstation = PendingKeyIndex::of_rows(&mut keys, workstation.len(), |row, out| {
            let w = &workstation[row];
            if is_script_machine_row(&w.user) || own.workstation.contains(&(row as u32)) {
                return false;
            }
            push_account(out, Some(&w.logon_domain), &w.user);
            true
        });
        // Win32_Account's `Domain\Name` (line 236), always with the
        // backslash; a session with no resolvable account has no candidate.
        let by_logon = PendingKeyIndex::of_rows(&mut keys, logons.len(), |row, out| {
            let l = &logons[row];
            let Some(user) = &l.user else { return false };
            out.push_str(l.domain.as_deref().unwrap_or_default());
            out.push('\\');
            out.push_str(user);
            true
        });
        // Get-Process's UserName, `DOMAIN\user` (lines 369, 377-388).
        let by_process = PendingKeyIndex::of_groups(&mut keys, &index.procs_by_owner);
        // Get-SmbSession's ClientUserName (lines 423, 430), as the row names it.
        let by_smb = PendingKeyIndex::of_rows(&mut keys, smb.len(), |row, out| {
            let s = &smb[row];
            let Some(user) = s.user.as_deref() else {
                return false;
            };
            if own.smb.contains(&(row as u32)) {
                return false;
            }
            push_account(out, s.domain.as_deref(), user);
            true
        });
        let count = keys.len();
        ScriptIndex {
            keys,
            workstation: by_workstation.finish(count),
            logons: by_logon.finish(count),
            processes: by_process.finish(count),
            smb: by_smb.finish(count),
            local: snapshot.collector.ends_with("-local"),
        }
    }

    /// Each identity's lookup keys, looked up once for every source, the
    /// whole list's lookups a batch at a time (see [`Keys::get_all`]).
    pub fn identity_keys(&self, identities: &[ScriptIdentity]) -> Vec<IdentityKeys> {
        // Per identity: the trimmed key, the raw key, the SAM key.
        let texts = identities.iter().flat_map(|identity| {
            let ([trimmed, sam], _) = identity.lookup_keys(false);
            let ([raw, _], _) = identity.lookup_keys(true);
            [trimmed, raw, sam]
        });
        let ids = self.keys.get_all(texts);
        ids.chunks_exact(3)
            .map(|ids| IdentityKeys {
                trimmed: ids[0],
                raw: ids[1],
                sam: ids[2],
            })
            .collect()
    }
}

/// [`crate::identity::display_account`] appended to `out`.
fn push_account(out: &mut String, domain: Option<&str>, user: &str) {
    if let Some(domain) = domain.filter(|d| !d.is_empty()) {
        out.push_str(domain);
        out.push('\\');
    }
    out.push_str(user);
}

//! Toolhelp process entries (PROCESSENTRY32W) and the per-process facts read
//! from each process token, combined into `ProcessRow`s.

use jiff::Timestamp;

use super::wide::fixed_wide;
use crate::model::ProcessRow;

/// `PROCESSENTRY32W`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ProcessEntry32 {
    pub size: u32,
    pub usage: u32,
    pub process_id: u32,
    pub default_heap_id: usize,
    pub module_id: u32,
    pub threads: u32,
    pub parent_process_id: u32,
    pub pri_class_base: i32,
    pub flags: u32,
    pub exe_file: [u16; 260],
}

impl ProcessEntry32 {
    /// An entry with `size` set, as Process32FirstW requires.
    pub fn zeroed() -> Self {
        ProcessEntry32 {
            size: u32::try_from(std::mem::size_of::<Self>()).unwrap_or(0),
            usage: 0,
            process_id: 0,
            default_heap_id: 0,
            module_id: 0,
            threads: 0,
            parent_process_id: 0,
            pri_class_base: 0,
            flags: 0,
            exe_file: [0; 260],
        }
    }
}

/// What could be learned about a process beyond its Toolhelp entry.
/// Each part is optional: a process may refuse its token but still tell
/// its session id, and so on.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProcessFacts {
    /// `DOMAIN\name` of the token's user.
    pub user: Option<String>,
    pub sid: Option<String>,
    /// TokenStatistics.AuthenticationId as a decimal u64.
    pub logon_id: Option<String>,
    pub terminal_session_id: Option<u32>,
    pub start_time: Option<Timestamp>,
    /// Why the owner/logon could not be read, if so.
    pub access_error: Option<String>,
}

pub fn process_row(entry: &ProcessEntry32, facts: ProcessFacts) -> ProcessRow {
    ProcessRow {
        pid: entry.process_id,
        name: fixed_wide(&entry.exe_file),
        user: facts.user,
        sid: facts.sid,
        logon_id: facts.logon_id,
        terminal_session_id: facts.terminal_session_id,
        start_time: facts.start_time,
        // The System Idle Process (pid 0) names itself as its parent.
        ppid: (entry.process_id != 0).then_some(entry.parent_process_id),
        access_error: facts.access_error,
        ..ProcessRow::default()
    }
}

/// `DOMAIN\name`, or just `name` when there is no domain.
pub fn account_name(domain: &str, name: &str) -> String {
    if domain.is_empty() {
        name.to_string()
    } else {
        format!("{domain}\\{name}")
    }
}

/// The snapshot note about processes whose token could not be read.
pub fn access_note(rows: &[ProcessRow]) -> Option<String> {
    let denied = rows.iter().filter(|r| r.access_error.is_some()).count();
    (denied > 0).then(|| {
        format!(
            "processes: owner and logon session unknown for {denied} of {} processes \
             (could not open them; run elevated to read all)",
            rows.len()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(pid: u32, ppid: u32, name: &str) -> ProcessEntry32 {
        let mut e = ProcessEntry32::zeroed();
        e.process_id = pid;
        e.parent_process_id = ppid;
        for (slot, unit) in e.exe_file.iter_mut().zip(name.encode_utf16()) {
            *slot = unit;
        }
        e
    }

    #[test]
    fn row_carries_entry_and_facts() {
        let facts = ProcessFacts {
            user: Some(account_name("CONTOSO", "alice")),
            sid: Some("S-1-5-21-1-2-3-1104".into()),
            logon_id: Some("4660".into()),
            terminal_session_id: Some(2),
            start_time: None,
            access_error: None,
        };
        let row = process_row(&entry(4242, 600, "explorer.exe"), facts);
        assert_eq!(
            (row.pid, row.ppid, row.name.as_str()),
            (4242, Some(600), "explorer.exe")
        );
        assert_eq!(row.user.as_deref(), Some(r"CONTOSO\alice"));
        assert_eq!(row.logon_id.as_deref(), Some("4660"));
        assert_eq!(row.uid, None);
    }

    #[test]
    fn idle_process_has_no_parent() {
        assert_eq!(
            process_row(&entry(0, 0, "[System Process]"), ProcessFacts::default()).ppid,
            None
        );
    }

    #[test]
    fn note_counts_unreadable_processes_only_when_there_are_some() {
        let ok = process_row(&entry(1, 0, "a"), ProcessFacts::default());
        let denied = process_row(
            &entry(2, 0, "b"),
            ProcessFacts {
                access_error: Some("OpenProcess: access denied (5)".into()),
                ..Default::default()
            },
        );
        assert_eq!(access_note(std::slice::from_ref(&ok)), None);
        let note = access_note(&[ok, denied]).unwrap();
        assert!(note.contains("1 of 2 processes"), "{note}");
    }

    #[test]
    fn account_without_domain_is_bare() {
        assert_eq!(account_name("", "SYSTEM"), "SYSTEM");
        assert_eq!(
            account_name("NT AUTHORITY", "SYSTEM"),
            r"NT AUTHORITY\SYSTEM"
        );
    }
}

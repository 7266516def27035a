//! Windows collectors: native APIs for this machine, and NetAPI / WTS / WMI
//! for a remote Windows host.
//!
//! Each source is a function returning `Observed<…>`; the FFI and buffer
//! ownership live here, the decoding in `collect::windows_decode` (portable
//! and tested on any OS).

pub mod lsa;
pub mod netapi;
pub mod process;
pub mod profiles;
pub mod wmi;
pub mod wts;

use std::time::{Duration, Instant};

use jiff::Timestamp;
use windows_sys::Win32::System::SystemInformation::{
    COMPUTER_NAME_FORMAT, ComputerNameNetBIOS, ComputerNamePhysicalDnsFullyQualified,
    ComputerNamePhysicalDnsHostname, GetComputerNameExW,
};

use super::CollectOptions;
use super::deadline::with_deadline;
use crate::collect::windows_decode::wide::fixed_wide;
use crate::model::{FailureKind, HostSnapshot, Observed, Platform, SourceFailure};

fn computer_name(format: COMPUTER_NAME_FORMAT) -> Option<String> {
    let mut buffer = vec![0u16; 256];
    let mut len = buffer.len() as u32;
    // SAFETY: `buffer` holds `len` units; `len` is a valid in/out pointer.
    let ok = unsafe { GetComputerNameExW(format, buffer.as_mut_ptr(), &mut len) };
    let name = fixed_wide(&buffer[..(len as usize).min(buffer.len())]);
    (ok != 0 && !name.is_empty()).then_some(name)
}

/// This computer's host name.
pub fn local_host_name() -> String {
    computer_name(ComputerNamePhysicalDnsHostname)
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .unwrap_or_else(|| "localhost".to_string())
}

/// Does `host` name this machine? (`.`, `localhost`, or its NetBIOS, DNS
/// host or DNS fully qualified name, in any case.) Such a target is scanned
/// with the local APIs, which see more than the remote ones (LSA, not WMI).
pub fn names_this_machine(host: &str) -> bool {
    let host = host.trim_start_matches('\\').trim_end_matches('.');
    if host.is_empty() || host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    [
        ComputerNameNetBIOS,
        ComputerNamePhysicalDnsHostname,
        ComputerNamePhysicalDnsFullyQualified,
    ]
    .into_iter()
    .filter_map(computer_name)
    .any(|name| host.eq_ignore_ascii_case(&name))
}

/// Scan this machine with the native APIs.
pub fn collect_local(_options: &CollectOptions) -> HostSnapshot {
    let mut snapshot = HostSnapshot::empty(local_host_name(), Platform::Windows, "windows-local");
    snapshot.collected_at = Timestamp::now();
    let mut notes = Vec::new();
    if !process::enable_debug_privilege() {
        notes.push(
            "SeDebugPrivilege is not available: processes of other users may be unreadable"
                .to_string(),
        );
    }
    snapshot.workstation_users = netapi::workstation_users(None);
    snapshot.logon_sessions = lsa::logon_sessions(&mut notes);
    snapshot.processes = process::processes(&mut notes);
    snapshot.smb_sessions = netapi::smb_sessions(None, &mut notes);
    snapshot.interactive_sessions = wts::interactive_sessions(None);
    snapshot.loaded_profiles = profiles::loaded_profiles(None);
    if let Some(note) = implausible_lsa_note(&snapshot) {
        notes.push(note);
    }
    snapshot.notes = notes;
    snapshot
}

/// Every process runs in some logon session, so an LSA that lists none while
/// processes run is not telling the truth (Wine's LSA is such a stub). The
/// source stays "ok" (LSA did answer) but the reader is told.
fn implausible_lsa_note(snapshot: &HostSnapshot) -> Option<String> {
    let lsa_empty = snapshot.logon_sessions.rows().is_some_and(Vec::is_empty);
    let processes = snapshot.processes.rows().map_or(0, Vec::len);
    (lsa_empty && processes > 0).then(|| {
        format!(
            "logon_sessions: LSA listed no logon sessions although {processes} processes run; \
             its answer is not plausible (a stubbed LSA, as under Wine)"
        )
    })
}

fn timed_out<T>(what: &str, host: &str, why: String) -> (Observed<T>, Vec<String>) {
    let failure = SourceFailure::new(
        FailureKind::Timeout,
        None,
        format!("{what} on {host}: {why}"),
    );
    (Observed::Failed(failure), Vec::new())
}

/// Scan a remote Windows host: NetAPI and WTS over `\\host` (SMB/RPC),
/// logon sessions and processes over WMI (DCOM). The sources run
/// concurrently, each bounded by `options.timeout`.
pub fn collect_remote(host: &str, options: &CollectOptions) -> HostSnapshot {
    let host = host.trim_start_matches('\\').to_string();
    let mut snapshot = HostSnapshot::empty(host.clone(), Platform::Windows, "windows-remote");
    let deadline = Instant::now() + options.timeout.max(Duration::from_millis(100));
    let (h1, h2, h3, h4, h5) = (
        host.clone(),
        host.clone(),
        host.clone(),
        host.clone(),
        host.clone(),
    );
    let wksta = with_deadline(
        deadline,
        "wksta",
        move || (netapi::workstation_users(Some(&h1)), Vec::new()),
        |why| timed_out("NetWkstaUserEnum", &host, why),
    );
    let smb = with_deadline(
        deadline,
        "smb",
        move || {
            let mut notes = Vec::new();
            (netapi::smb_sessions(Some(&h2), &mut notes), notes)
        },
        |why| timed_out("NetSessionEnum", &host, why),
    );
    let wts = with_deadline(
        deadline,
        "wts",
        move || (wts::interactive_sessions(Some(&h3)), Vec::new()),
        |why| timed_out("WTSEnumerateSessions", &host, why),
    );
    let hives = with_deadline(
        deadline,
        "hives",
        move || (profiles::loaded_profiles(Some(&h5)), Vec::new()),
        |why| timed_out("RegConnectRegistryW(HKEY_USERS)", &host, why),
    );
    let wmi = with_deadline(
        deadline,
        "wmi",
        move || {
            let sources = wmi::query_host(Some(&h4));
            (sources.logon_sessions, sources.processes, sources.notes)
        },
        |why| {
            let (logons, _) = timed_out("WMI", &host, why.clone());
            let (processes, _) = timed_out("WMI", &host, why);
            (logons, processes, Vec::new())
        },
    );
    let mut notes = Vec::new();
    snapshot.workstation_users = take_notes(&mut notes, wksta());
    snapshot.smb_sessions = take_notes(&mut notes, smb());
    snapshot.interactive_sessions = take_notes(&mut notes, wts());
    snapshot.loaded_profiles = take_notes(&mut notes, hives());
    let (logons, processes, mut wmi_notes) = wmi();
    snapshot.logon_sessions = logons;
    snapshot.processes = processes;
    notes.append(&mut wmi_notes);
    snapshot.notes = notes;
    snapshot
}

fn take_notes<T>(
    notes: &mut Vec<String>,
    (observed, mut more): (Observed<T>, Vec<String>),
) -> Observed<T> {
    notes.append(&mut more);
    observed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_machine_is_recognised_by_its_names_only() {
        assert!(names_this_machine("."));
        assert!(names_this_machine("localhost"));
        assert!(names_this_machine(r"\\localhost"));
        let own = local_host_name();
        assert!(names_this_machine(&own.to_uppercase()), "{own}");
        if let Some(netbios) = computer_name(ComputerNameNetBIOS) {
            assert!(names_this_machine(&netbios.to_lowercase()), "{netbios}");
        }
        assert!(!names_this_machine("127.0.0.2"));
        assert!(!names_this_machine(&format!("{own}-other")));
    }
}

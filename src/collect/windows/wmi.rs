//! Remote logon sessions and processes through WMI (DCOM).
//!
//! Not implemented yet: the sources are reported as failed ("not
//! supported") with the reason, so the analysis says INCONCLUSIVE instead of
//! guessing. See docs/windows.md.

use crate::model::{FailureKind, LogonSession, Observed, ProcessRow, SourceFailure};

fn not_implemented(what: &str, host: &str) -> SourceFailure {
    SourceFailure::new(
        FailureKind::NotSupported,
        None,
        format!(
            "{what} of remote host {host}: WMI (Win32_LogonSession / Win32_LoggedOnUser / \
             Win32_Process + Win32_SessionProcess) is not implemented in this version; \
             run lingerscan on {host} itself for this source"
        ),
    )
}

pub fn remote_logon_sessions(host: &str) -> Observed<Vec<LogonSession>> {
    Observed::Failed(not_implemented("logon sessions", host))
}

pub fn remote_processes(host: &str) -> Observed<Vec<ProcessRow>> {
    Observed::Failed(not_implemented("processes", host))
}

//! Logon sessions and processes through WMI (DCOM), for remote hosts.
//!
//! Four queries, one per class (Win32_LogonSession, Win32_LoggedOnUser,
//! Win32_Process, Win32_SessionProcess), joined by
//! `windows_decode::wmi::join_answers` — not an ASSOCIATORS OF query per
//! session as the PowerShell script does. The connection uses the caller's
//! credentials (Kerberos/NTLM through DCOM), like `Get-CimInstance
//! -ComputerName` does.

use std::collections::HashMap;

use wmi::{Variant, WMIConnection, WMIError};

use crate::collect::windows_decode::errors::hresult_failure;
use crate::collect::windows_decode::wmi::{
    WmiAnswers, WmiAssociation, WmiLogonSession, WmiProcess, join_answers,
};
use crate::model::{FailureKind, LogonSession, Observed, ProcessRow, SourceFailure};

type Row = HashMap<String, Variant>;

/// What the WMI sources of one host came to.
pub struct WmiSources {
    pub logon_sessions: Observed<Vec<LogonSession>>,
    pub processes: Observed<Vec<ProcessRow>>,
    pub notes: Vec<String>,
}

fn failure(error: &WMIError, call: &str, target: &str) -> SourceFailure {
    match error {
        WMIError::HResultError { hres } => hresult_failure(*hres, call, target),
        other => SourceFailure::new(
            FailureKind::ParseError,
            None,
            format!("{call} on {target}: {other}"),
        ),
    }
}

/// WMI property names are case-insensitive (Wine answers `ProcessID`).
fn property<'a>(row: &'a Row, key: &str) -> Option<&'a Variant> {
    row.get(key).or_else(|| {
        row.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

fn text(row: &Row, key: &str) -> Option<String> {
    match property(row, key)? {
        Variant::String(s) => Some(s.clone()),
        Variant::UI4(n) => Some(n.to_string()),
        Variant::I4(n) => Some(n.to_string()),
        Variant::UI8(n) => Some(n.to_string()),
        Variant::I8(n) => Some(n.to_string()),
        _ => None,
    }
}

fn number(row: &Row, key: &str) -> Option<u32> {
    match property(row, key)? {
        Variant::UI4(n) => Some(*n),
        Variant::UI2(n) => Some(u32::from(*n)),
        Variant::UI1(n) => Some(u32::from(*n)),
        Variant::I4(n) => u32::try_from(*n).ok(),
        Variant::I2(n) => u32::try_from(*n).ok(),
        Variant::UI8(n) => u32::try_from(*n).ok(),
        Variant::I8(n) => u32::try_from(*n).ok(),
        Variant::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn associations(rows: Vec<Row>) -> Vec<WmiAssociation> {
    rows.iter()
        .filter_map(|r| {
            Some(WmiAssociation {
                antecedent: text(r, "Antecedent")?,
                dependent: text(r, "Dependent")?,
            })
        })
        .collect()
}

/// Query the WMI sources of `host` (None: this machine).
pub fn query_host(host: Option<&str>) -> WmiSources {
    let target = host.map_or_else(|| "this machine".to_string(), str::to_string);
    let namespace = match host {
        Some(h) => format!(r"\\{}\ROOT\CIMV2", h.trim_start_matches('\\')),
        None => r"ROOT\CIMV2".to_string(),
    };
    let connection = match WMIConnection::with_namespace_path(&namespace) {
        Ok(connection) => connection,
        Err(error) => {
            let f = failure(&error, "WMI connect", &target);
            return WmiSources {
                logon_sessions: Observed::Failed(f.clone()),
                processes: Observed::Failed(f),
                notes: Vec::new(),
            };
        }
    };
    let query = |wql: &str| connection.raw_query::<Row>(wql);
    let sessions = query(
        "SELECT LogonId, LogonType, AuthenticationPackage, StartTime FROM Win32_LogonSession",
    );
    let logged_on = query("SELECT Antecedent, Dependent FROM Win32_LoggedOnUser");
    let processes = query(
        "SELECT ProcessId, ParentProcessId, Name, SessionId, CreationDate FROM Win32_Process",
    );
    let session_processes = query("SELECT Antecedent, Dependent FROM Win32_SessionProcess");

    let mut notes = Vec::new();
    let mut association =
        |result: Result<Vec<Row>, WMIError>, class: &str, missing: &str| match result {
            Ok(rows) => Some(associations(rows)),
            Err(error) => {
                notes.push(format!(
                    "{class}: {} — {missing}",
                    failure(&error, "WMI query", &target)
                ));
                None
            }
        };
    let answers = WmiAnswers {
        logon_sessions: sessions
            .as_ref()
            .map(|rows| {
                rows.iter()
                    .filter_map(|r| {
                        Some(WmiLogonSession {
                            logon_id: text(r, "LogonId")?,
                            logon_type: number(r, "LogonType"),
                            auth_package: text(r, "AuthenticationPackage"),
                            start_time: text(r, "StartTime"),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default(),
        logged_on_users: association(
            logged_on,
            "Win32_LoggedOnUser",
            "logon sessions have no user",
        ),
        processes: processes
            .as_ref()
            .map(|rows| {
                rows.iter()
                    .filter_map(|r| {
                        Some(WmiProcess {
                            pid: number(r, "ProcessId")?,
                            ppid: number(r, "ParentProcessId"),
                            name: text(r, "Name").unwrap_or_default(),
                            session_id: number(r, "SessionId"),
                            creation_date: text(r, "CreationDate"),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default(),
        session_processes: association(
            session_processes,
            "Win32_SessionProcess",
            "processes have no logon session",
        ),
    };
    let (session_rows, process_rows) = join_answers(&answers);
    WmiSources {
        logon_sessions: match sessions {
            Ok(_) => Observed::ok(session_rows),
            Err(error) => Observed::Failed(failure(&error, "WMI Win32_LogonSession", &target)),
        },
        processes: match processes {
            Ok(_) => Observed::ok(process_rows),
            Err(error) => Observed::Failed(failure(&error, "WMI Win32_Process", &target)),
        },
        notes,
    }
}

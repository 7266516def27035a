//! [MS-TSTS] Terminal Services over the scan's SMB connection: the
//! interactive sessions (TermSrvEnumeration + TermSrvSession on
//! `\pipe\LSM_API_service`) and every process with its session and owner
//! SID (LegacyApi on `\pipe\Ctx_WinStation_API_service`). See
//! docs/remote.md, "Terminal services".

pub mod logoff;
pub mod processes;
pub mod sessions;

use std::cell::RefCell;
use std::time::Instant;

use jiff::Timestamp;

use crate::model::{
    FailureKind, HostSnapshot, InteractiveSession, Observed, ProcessRow, SourceFailure,
};

use super::coverage::Method;
use super::error::RemoteError;
use super::smb_client::SmbClient;
use super::{RemoteOptions, RpcPipe, bind_pipe, open_and_bind, with_pipe};

/// An RPC context handle (MS-RPCE 2.2.4.10): attributes and a GUID.
pub const CONTEXT_HANDLE_LEN: usize = 20;
pub type ContextHandle = [u8; CONTEXT_HANDLE_LEN];

/// ERROR_CTX_WINSTATION_NOT_FOUND: the session ended between the list and
/// the question about it (or the caller may not see it).
pub const ERROR_CTX_WINSTATION_NOT_FOUND: u32 = 7022;
/// WINSTATIONSTATECLASS State_Listen: a listener holds no user.
const STATE_LISTEN: u32 = 6;

pub const TSTS_SESSIONS: Method = Method {
    name: "TSTS RpcGetEnumResult + RpcGetSessionInformationEx",
    pipe: r"\pipe\LSM_API_service",
    access_setting: "remote Terminal Services RPC: the AllowRemoteRPC value (HKLM\\SYSTEM\\\
        CurrentControlSet\\Control\\Terminal Server, 0 by default on client editions) and \
        the policy \"Allow users to connect remotely by using Remote Desktop Services\" \
        (fDenyTSConnections); the RDP-Tcp WinStation permissions decide who may query \
        sessions (administrators by default)",
    service_setting: "the Local Session Manager / Remote Desktop Services (TermService) \
        is stopped or does not serve remote callers",
};

pub const TSTS_PROCESSES: Method = Method {
    name: "TSTS RpcWinStationGetAllProcesses",
    pipe: r"\pipe\Ctx_WinStation_API_service",
    access_setting: "RpcWinStationGetAllProcesses answers only administrators; remote \
        Terminal Services RPC also needs AllowRemoteRPC=1 (HKLM\\SYSTEM\\CurrentControlSet\\\
        Control\\Terminal Server) and the policy \"Allow users to connect remotely by using \
        Remote Desktop Services\"",
    service_setting: "the Remote Desktop Services service (TermService) is stopped: it \
        serves \\pipe\\Ctx_WinStation_API_service",
};

/// A host without the Terminal Services pipes (Samba, or TermService
/// stopped) still has processes and may have sessions: the pipe's absence
/// says nothing about them. "Not available" would read as "none here" and
/// let a listed user look lingering, so the source is "not supported" on
/// that host: it could not be looked at.
fn absent_is_unknown(mut failure: SourceFailure) -> SourceFailure {
    if failure.kind == FailureKind::NotAvailable {
        failure.kind = FailureKind::NotSupported;
        failure.message.push_str(
            " (the host does not serve this pipe: not Windows, or Remote Desktop Services \
             is stopped; its processes and sessions could not be read this way)",
        );
    }
    failure
}

/// A server that answered NetrSessionEnum as only Samba does: it serves no
/// Terminal Services, so the pipes are not asked for. Processes and
/// sessions could not be looked at (never "none"), and the coverage table
/// says why the doors were not tried.
pub fn not_on_samba(snapshot: &mut HostSnapshot) {
    const WHY: &str = "not tried: the server answered NetrSessionEnum at level 1, as only \
        Samba does, and Samba implements no Terminal Services (MS-TSTS)";
    let failure = |call: &str| {
        SourceFailure::new(
            FailureKind::NotSupported,
            None,
            format!("{call}: {WHY}; its processes and sessions cannot be read over MS-RPC"),
        )
    };
    snapshot.interactive_sessions = Observed::Failed(failure(sessions::ENUM_CALL));
    snapshot.processes = Observed::Failed(failure(processes::CALL_NAME));
    snapshot.coverage.push(TSTS_SESSIONS.not_tried(WHY));
    snapshot.coverage.push(TSTS_PROCESSES.not_tried(WHY));
}

/// Read interactive sessions and processes over `client` into `snapshot`,
/// with one coverage record each. Called once per host, on the IPC$ tree.
pub fn collect(
    client: &RefCell<SmbClient>,
    options: &RemoteOptions,
    deadline: Instant,
    snapshot: &mut HostSnapshot,
) {
    // Three pipes (LSM's two interfaces need one bind each) opened, then
    // bound, in two round trips.
    let interfaces = [
        &sessions::ENUMERATION,
        &sessions::SESSION,
        &processes::LEGACY,
    ];
    let mut bound = open_and_bind(&mut client.borrow_mut(), &interfaces, options.max_frag)
        .into_iter()
        .zip(interfaces);
    let mut next = || {
        bound.next().map_or_else(
            || {
                Err(RemoteError::Timeout {
                    during: "opening pipes",
                })
            },
            |(pipe, interface)| bind_pipe(client, pipe, interface, options.max_frag),
        )
    };
    let (enum_pipe, session_pipe, legacy_pipe) = (next(), next(), next());
    let sessions = read_sessions(client, enum_pipe, session_pipe, options.max_rows, deadline);
    let processes = read_processes(client, legacy_pipe, options.max_rows);

    let mut sessions_entry = TSTS_SESSIONS.entry(&sessions);
    let mut processes_entry = TSTS_PROCESSES.entry(&processes);
    let (mut sessions, mut processes) = (
        sessions.map_err(|err| absent_is_unknown(err.to_failure(sessions::ENUM_CALL))),
        processes.map_err(|err| absent_is_unknown(err.to_failure(processes::CALL_NAME))),
    );
    // One failed integrity check makes the connection suspect: nothing read
    // over it is kept.
    if let Some(err) = client.borrow().integrity_failure() {
        sessions_entry = TSTS_SESSIONS.failed(&err);
        processes_entry = TSTS_PROCESSES.failed(&err);
        sessions = Err(err.to_failure(sessions::ENUM_CALL));
        processes = Err(err.to_failure(processes::CALL_NAME));
    }
    if let Ok((_, Some(note))) = &sessions {
        snapshot.notes.push(note.clone());
    }
    snapshot.interactive_sessions = Observed::from(sessions.map(|(rows, _)| rows));
    snapshot.processes = Observed::from(processes);
    snapshot.coverage.push(sessions_entry);
    snapshot.coverage.push(processes_entry);
}

/// The session list, then each session's detail on the second pipe. A
/// session that ended in between keeps its row without detail (and a note
/// says so); any other failure fails the source, since sessions without
/// their users would hide who is there.
fn read_sessions(
    client: &RefCell<SmbClient>,
    enum_pipe: RpcPipe<'_>,
    session_pipe: RpcPipe<'_>,
    max_rows: usize,
    deadline: Instant,
) -> Result<(Vec<InteractiveSession>, Option<String>), RemoteError> {
    let listed = with_pipe(client, enum_pipe, |rpc| {
        let handle = sessions::decode_open_enum(
            &rpc.call(sessions::OPNUM_OPEN_ENUM, &sessions::encode_open_enum())?,
        )?;
        let rows = rpc
            .call(
                sessions::OPNUM_GET_ENUM_RESULT,
                &sessions::encode_get_enum_result(&handle, 1),
            )
            .and_then(|stub| sessions::decode_get_enum_result(&stub, max_rows));
        // The handle is freed whatever the list gave; a close that fails
        // changes nothing read. A timed-out connection cannot close anything.
        if !matches!(rows, Err(RemoteError::Timeout { .. })) {
            let _ = rpc
                .call(
                    sessions::OPNUM_CLOSE_ENUM,
                    &sessions::encode_close_enum(&handle),
                )
                .and_then(|stub| sessions::decode_close_enum(&stub));
        }
        rows
    });
    let rows = match listed {
        Ok((rows, _)) => rows,
        Err(err) => {
            // Only closes the second pipe.
            let _ = with_pipe(client, session_pipe, |_| Ok(()));
            return Err(err);
        }
    };
    let (details, _) = with_pipe(client, session_pipe, |rpc| {
        let mut details = Vec::with_capacity(rows.len());
        for row in &rows {
            if row.state == STATE_LISTEN {
                details.push(None);
                continue;
            }
            if Instant::now() >= deadline {
                return Err(RemoteError::Timeout {
                    during: "reading session details",
                });
            }
            let detail = rpc
                .call(
                    sessions::OPNUM_GET_SESSION_INFORMATION_EX,
                    &sessions::encode_get_session_information_ex(row.session_id, 1),
                )
                .and_then(|stub| sessions::decode_get_session_information_ex(&stub));
            match detail {
                Ok(detail) => details.push(Some(detail)),
                Err(RemoteError::Win32 { code, .. }) if code == ERROR_CTX_WINSTATION_NOT_FOUND => {
                    details.push(None);
                }
                Err(err) => return Err(err),
            }
        }
        Ok(details)
    })?;
    let missing: Vec<String> = rows
        .iter()
        .zip(&details)
        .filter(|(row, detail)| detail.is_none() && row.state != STATE_LISTEN)
        .map(|(row, _)| row.session_id.to_string())
        .collect();
    let note = (!missing.is_empty()).then(|| {
        format!(
            "msrpc: {} found no session {} (ended after the list was taken): their user is unknown",
            sessions::INFO_CALL,
            missing.join(", ")
        )
    });
    let now = Timestamp::now();
    let sessions = rows
        .into_iter()
        .zip(details)
        .map(|(row, detail)| sessions::to_session(row, detail.as_ref(), now))
        .collect();
    Ok((sessions, note))
}

fn read_processes(
    client: &RefCell<SmbClient>,
    legacy_pipe: RpcPipe<'_>,
    max_rows: usize,
) -> Result<Vec<ProcessRow>, RemoteError> {
    with_pipe(client, legacy_pipe, |rpc| {
        let handle = processes::decode_open_server(&rpc.call(
            processes::OPNUM_OPEN_SERVER,
            &processes::encode_open_server(),
        )?)?;
        // Level 0 is the only level (MS-TSTS 3.7.4.1.22). The server handle
        // is not closed: it dies with the pipe, as with tstool.
        let stub = rpc.call(
            processes::OPNUM_GET_ALL_PROCESSES,
            &processes::encode_get_all_processes(&handle, 0),
        )?;
        processes::decode_get_all_processes(&stub, max_rows)
    })
    .map(|(rows, _)| rows.into_iter().map(processes::to_process).collect())
}

/// An HRESULT: success when the severity bit is clear. HRESULT_FROM_WIN32
/// codes (0x8007xxxx) become their Win32 error, which the failure kind and
/// coverage record recognise (access denied in particular).
pub fn check_hresult(call: &'static str, hresult: u32) -> Result<(), RemoteError> {
    if hresult & 0x8000_0000 == 0 {
        return Ok(());
    }
    let code = if hresult >> 16 == 0x8007 {
        hresult & 0xFFFF
    } else {
        hresult
    };
    Err(RemoteError::Win32 { call, code })
}

/// A fixed WCHAR array: the text up to its first NUL.
pub fn fixed_wide(bytes: &[u8]) -> String {
    let units: Vec<u16> = bytes
        .chunks_exact(2)
        .map(|pair| u16::from_le_bytes([pair[0], pair[1]]))
        .take_while(|&unit| unit != 0)
        .collect();
    String::from_utf16_lossy(&units)
}

fn limit(what: String) -> RemoteError {
    RemoteError::Limit { limit: what }
}

#[cfg(test)]
mod tests;

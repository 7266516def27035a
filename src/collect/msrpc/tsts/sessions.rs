//! [MS-TSTS] on `\pipe\LSM_API_service`: TermSrvEnumeration (RpcOpenEnum,
//! RpcGetEnumResult level 1, RpcCloseEnum) lists the sessions, and
//! TermSrvSession RpcGetSessionInformationEx level 1 gives each one's user,
//! domain, state and times. These are the calls impacket's `tstool.py
//! qwinsta` makes (and what `qwinsta /server` makes on Windows 8+), so the
//! two can be compared against one server.
//!
//! Requests: the `handle_t hBinding` that opens some of these methods is an
//! implicit binding handle, never marshalled (MS-RPCE 2.2.4.10); impacket
//! sends 20 zero bytes in its place, which Windows ignores as trailing data.
//! Ours follow the IDL, so RpcOpenEnum's stub is empty.

use jiff::Timestamp;

use crate::collect::windows_decode::time::filetime_to_timestamp;
use crate::collect::windows_decode::wts::connect_state;
use crate::model::{InteractiveSession, InteractiveState};

use super::super::dcerpc::{Interface, SyntaxId, uuid};
use super::super::error::RemoteError;
use super::super::ndr::{NdrReader, NdrWriter};
use super::super::wire::DecodeError;
use super::{CONTEXT_HANDLE_LEN, ContextHandle, check_hresult, fixed_wide, limit};

pub const ENUMERATION: Interface = Interface {
    name: "LSM_API_service",
    syntax: SyntaxId {
        uuid: uuid("88143fd0-c28d-4b2b-8fef-8d882f6a9390"),
        major: 1,
        minor: 0,
    },
};

pub const SESSION: Interface = Interface {
    name: "LSM_API_service",
    syntax: SyntaxId {
        uuid: uuid("484809d6-4239-471b-b5bc-61df8c23ac48"),
        major: 1,
        minor: 0,
    },
};

pub const OPNUM_OPEN_ENUM: u16 = 0;
pub const OPNUM_CLOSE_ENUM: u16 = 1;
pub const OPNUM_GET_ENUM_RESULT: u16 = 5;
pub const OPNUM_GET_SESSION_INFORMATION_EX: u16 = 17;
pub const ENUM_CALL: &str = "RpcGetEnumResult";
pub const INFO_CALL: &str = "RpcGetSessionInformationEx";

/// SESSIONENUM_LEVEL1 (MS-TSTS 2.2.2.4.1.1) `Name`: WCHAR[33].
const ENUM_NAME_UNITS: usize = 33;
/// LSM_SESSIONINFO_EX_LEVEL1 (2.2.2.11): SessionName[33], DomainName[18], UserName[21].
const INFO_NAME_UNITS: usize = 33;
const INFO_DOMAIN_UNITS: usize = 18;
const INFO_USER_UNITS: usize = 21;
/// Level, union tag, SessionId, State and the name: the least one element takes.
const MIN_ENUM_ELEMENT: usize = 16 + 2 * ENUM_NAME_UNITS;

/// FILETIME of 2000-01-01: an earlier "time" is not a point in time. Windows
/// has been seen answering LastInputTime as a few hours after 1601 (impacket's
/// own notes on RpcGetSessionInformationEx), which is no instant at all.
const PLAUSIBLE_FILETIME: i64 = 125_911_584_000_000_000;

/// One SESSIONENUM_LEVEL1 row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnumRow {
    pub session_id: u32,
    /// WINSTATIONSTATECLASS.
    pub state: u32,
    pub name: String,
}

/// LSM_SESSIONINFO_EX_LEVEL1: what RpcGetSessionInformationEx says of a session.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionDetail {
    pub state: u32,
    /// SESSIONFLAGS: locked (0), unlocked (1), unknown (0xFFFFFFFF).
    pub flags: u32,
    pub station: String,
    pub domain: String,
    pub user: String,
    /// FILETIMEs.
    pub connect_time: i64,
    pub disconnect_time: i64,
    pub logon_time: i64,
    pub last_input_time: i64,
}

pub fn encode_open_enum() -> Vec<u8> {
    Vec::new()
}

pub fn encode_close_enum(handle: &ContextHandle) -> Vec<u8> {
    let mut w = NdrWriter::new();
    w.bytes(handle);
    w.into_bytes()
}

pub fn encode_get_enum_result(handle: &ContextHandle, level: u32) -> Vec<u8> {
    let mut w = NdrWriter::new();
    w.bytes(handle);
    w.u32(level);
    w.into_bytes()
}

pub fn encode_get_session_information_ex(session_id: u32, level: u32) -> Vec<u8> {
    let mut w = NdrWriter::new();
    w.u32(session_id);
    w.u32(level);
    w.into_bytes()
}

/// RpcOpenEnum's answer: the enumeration handle, then an HRESULT.
pub fn decode_open_enum(stub: &[u8]) -> Result<ContextHandle, RemoteError> {
    let mut r = NdrReader::new(stub, "RpcOpenEnum reply");
    let handle = read_handle(&mut r)?;
    check_hresult("RpcOpenEnum", r.u32()?)?;
    Ok(handle)
}

/// RpcCloseEnum's answer: the (zeroed) handle, then an HRESULT.
pub fn decode_close_enum(stub: &[u8]) -> Result<(), RemoteError> {
    let mut r = NdrReader::new(stub, "RpcCloseEnum reply");
    read_handle(&mut r)?;
    check_hresult("RpcCloseEnum", r.u32()?)
}

pub(super) fn read_handle(r: &mut NdrReader<'_>) -> Result<ContextHandle, DecodeError> {
    r.align(4)?;
    let mut handle = [0u8; CONTEXT_HANDLE_LEN];
    handle.copy_from_slice(r.bytes(CONTEXT_HANDLE_LEN)?);
    Ok(handle)
}

/// RpcGetEnumResult level 1: a unique pointer to a conformant array of
/// `{Level, [switch_is(Level)] union {SESSIONENUM_LEVEL1}}`, then pEntries and
/// an HRESULT. More than `max_rows` rows is a failure, not a shorter list.
pub fn decode_get_enum_result(stub: &[u8], max_rows: usize) -> Result<Vec<EnumRow>, RemoteError> {
    let mut r = NdrReader::new(stub, "RpcGetEnumResult reply");
    let mut rows = Vec::new();
    let present = r.pointer()? != 0;
    if present {
        let count = r.count(MIN_ENUM_ELEMENT)?;
        if count > max_rows {
            return Err(limit(format!(
                "{max_rows} sessions (the host listed {count})"
            )));
        }
        rows.reserve(count);
        for _ in 0..count {
            // Each element is aligned on its own: a level 1 arm is 82 bytes.
            r.align(4)?;
            let level = r.u32()?;
            let tag = r.u32()?;
            if level != 1 || tag != 1 {
                return Err(r
                    .error(format!(
                        "session of level {level} (union tag {tag}), asked for 1"
                    ))
                    .into());
            }
            let session_id = r.u32()?;
            let state = r.u32()?;
            let name = fixed_wide(r.bytes(2 * ENUM_NAME_UNITS)?);
            rows.push(EnumRow {
                session_id,
                state,
                name,
            });
        }
    }
    let entries = r.u32()?;
    check_hresult(ENUM_CALL, r.u32()?)?;
    if present && entries as usize != rows.len() {
        return Err(r
            .error(format!("pEntries {entries} but {} sessions", rows.len()))
            .into());
    }
    Ok(rows)
}

/// RpcGetSessionInformationEx level 1: a pointer to the union (tag, then
/// LSM_SESSIONINFO_EX_LEVEL1), then an HRESULT.
pub fn decode_get_session_information_ex(stub: &[u8]) -> Result<SessionDetail, RemoteError> {
    let mut r = NdrReader::new(stub, "RpcGetSessionInformationEx reply");
    if r.pointer()? == 0 {
        let status = r.u32()?;
        check_hresult(INFO_CALL, status)?;
        return Err(r.error("no session information and no error").into());
    }
    let tag = r.u32()?;
    if tag != 1 {
        return Err(r
            .error(format!("information of level {tag}, asked for 1"))
            .into());
    }
    // The arm holds hypers: it is 8-aligned.
    r.align(8)?;
    let state = r.u32()?;
    let flags = r.u32()?;
    let station = fixed_wide(r.bytes(2 * INFO_NAME_UNITS)?);
    let domain = fixed_wide(r.bytes(2 * INFO_DOMAIN_UNITS)?);
    let user = fixed_wide(r.bytes(2 * INFO_USER_UNITS)?);
    let mut time = || r.u64().map(|t| t as i64);
    let (connect_time, disconnect_time, logon_time, last_input_time) =
        (time()?, time()?, time()?, time()?);
    let _protocol_data_size = r.u32()?;
    if r.pointer()? != 0 {
        // The protocol's own blob (TS_CHAR: conformance, bytes): not used.
        let size = r.count(1)?;
        r.bytes(size)?;
    }
    check_hresult(INFO_CALL, r.u32()?)?;
    Ok(SessionDetail {
        state,
        flags,
        station,
        domain,
        user,
        connect_time,
        disconnect_time,
        logon_time,
        last_input_time,
    })
}

fn non_empty(text: &str) -> Option<String> {
    Some(text).filter(|t| !t.is_empty()).map(str::to_string)
}

fn plausible(ticks: i64) -> Option<i64> {
    (ticks >= PLAUSIBLE_FILETIME).then_some(ticks)
}

/// A session as the model holds it. The state is the enumeration's (what
/// qwinsta shows); the detail adds user, domain and times. Idle time, as the
/// Windows build computes it from WTSINFO: since the later of disconnect and
/// last input for a disconnected session, since the last input otherwise,
/// measured against `now` (RpcGetSessionInformationEx has no CurrentTime).
pub fn to_session(
    row: EnumRow,
    detail: Option<&SessionDetail>,
    now: Timestamp,
) -> InteractiveSession {
    let state = connect_state(i32::try_from(row.state).unwrap_or(-1));
    let mut session = InteractiveSession {
        session_id: row.session_id.to_string(),
        station: non_empty(&row.name),
        state,
        ..InteractiveSession::default()
    };
    let Some(detail) = detail else {
        return session;
    };
    session.user = non_empty(&detail.user);
    session.domain = non_empty(&detail.domain);
    if session.station.is_none() {
        session.station = non_empty(&detail.station);
    }
    session.logon_time = plausible(detail.logon_time).and_then(filetime_to_timestamp);
    let last_input = plausible(detail.last_input_time);
    let last_activity = if state == InteractiveState::Disconnected {
        plausible(detail.disconnect_time).max(last_input)
    } else {
        last_input
    };
    session.idle_secs = last_activity
        .and_then(filetime_to_timestamp)
        .and_then(|at| u64::try_from(now.as_second() - at.as_second()).ok());
    session
}

//! [MS-TSTS] LegacyApi on `\pipe\Ctx_WinStation_API_service`:
//! RpcWinStationOpenServer, RpcWinStationGetAllProcesses (level 0) and
//! RpcWinStationCloseServer, as `tasklist /s` and impacket's `tstool.py
//! tasklist` use them. Every process comes with its session id and the
//! binary SID of its owner.
//!
//! LegacyApi methods return a BOOLEAN (one byte, last in the stub) and put
//! the NTSTATUS of a failure in `pResult`.

use crate::collect::windows_decode::time::filetime_to_timestamp;
use crate::model::ProcessRow;

use super::super::dcerpc::{Interface, SyntaxId, uuid};
use super::super::error::{RemoteError, WERR_ACCESS_DENIED};
use super::super::ndr::{NdrReader, NdrWriter};
use super::super::sid::Sid;
use super::super::wire::Reader;
use super::sessions::read_handle;
use super::{ContextHandle, limit};

pub const LEGACY: Interface = Interface {
    name: "Ctx_WinStation_API_service",
    syntax: SyntaxId {
        uuid: uuid("5ca4a760-ebb1-11cf-8611-00a0245420ed"),
        major: 1,
        minor: 0,
    },
};

pub const OPNUM_OPEN_SERVER: u16 = 0;
pub const OPNUM_CLOSE_SERVER: u16 = 1;
pub const OPNUM_GET_ALL_PROCESSES: u16 = 43;
pub const CALL_NAME: &str = "RpcWinStationGetAllProcesses";

/// BOUNDED_ULONG's range (MS-TSTS 2.2.1.17): the most a server may return.
pub const MAX_PROCESSES: u32 = 0x8000;
pub const STATUS_ACCESS_DENIED: u32 = 0xC000_0022;

/// TS_SYS_PROCESS_INFORMATION (2.2.2.15.1) in NDR: 136 bytes, 8-aligned.
const PROCESS_INFO_LEN: usize = 136;
/// TS_ALL_PROCESSES_INFO: pTsProcessInfo, SizeOfSid, pSid.
const ALL_PROCESSES_ELEMENT: usize = 12;

/// One process as TS_SYS_PROCESS_INFORMATION and its SID give it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessEntry {
    pub pid: u32,
    pub ppid: u32,
    pub session_id: u32,
    pub name: String,
    /// FILETIME.
    pub create_time: i64,
    pub sid: Option<Sid>,
}

pub fn encode_open_server() -> Vec<u8> {
    Vec::new()
}

pub fn encode_close_server(handle: &ContextHandle) -> Vec<u8> {
    let mut w = NdrWriter::new();
    w.bytes(handle);
    w.into_bytes()
}

/// hServer, Level, then `[in, out] BOUNDED_ULONG* pNumberOfProcesses` (a
/// reference pointer: only its value travels), offered at the maximum.
pub fn encode_get_all_processes(handle: &ContextHandle, level: u32) -> Vec<u8> {
    let mut w = NdrWriter::new();
    w.bytes(handle);
    w.u32(level);
    w.u32(MAX_PROCESSES);
    w.into_bytes()
}

/// A LegacyApi BOOLEAN result: FALSE carries its NTSTATUS in pResult. Access
/// denied becomes the Win32 code the coverage record and the failure kind
/// recognise; other codes are kept as they are.
fn check_boolean(call: &'static str, ok: u8, result: u32) -> Result<(), RemoteError> {
    if ok != 0 {
        return Ok(());
    }
    let code = if result == STATUS_ACCESS_DENIED {
        WERR_ACCESS_DENIED
    } else {
        result
    };
    Err(RemoteError::Win32 { call, code })
}

/// RpcWinStationOpenServer: pResult, phServer, BOOLEAN.
pub fn decode_open_server(stub: &[u8]) -> Result<ContextHandle, RemoteError> {
    let mut r = NdrReader::new(stub, "RpcWinStationOpenServer reply");
    let result = r.u32()?;
    let handle = read_handle(&mut r)?;
    check_boolean("RpcWinStationOpenServer", r.u8()?, result)?;
    Ok(handle)
}

/// RpcWinStationCloseServer: pResult, BOOLEAN.
pub fn decode_close_server(stub: &[u8]) -> Result<(), RemoteError> {
    let mut r = NdrReader::new(stub, "RpcWinStationCloseServer reply");
    let result = r.u32()?;
    check_boolean("RpcWinStationCloseServer", r.u8()?, result)
}

/// RpcWinStationGetAllProcesses: pResult, pNumberOfProcesses, then a unique
/// pointer to a conformant array of TS_ALL_PROCESSES_INFO whose referents
/// follow it element by element (the process structure with its deferred
/// image name, then the SID as a conformant byte array), then the BOOLEAN.
pub fn decode_get_all_processes(
    stub: &[u8],
    max_rows: usize,
) -> Result<Vec<ProcessEntry>, RemoteError> {
    let mut r = NdrReader::new(stub, "RpcWinStationGetAllProcesses reply");
    let result = r.u32()?;
    let _number = r.u32()?;
    let mut rows = Vec::new();
    if r.pointer()? != 0 {
        let count = r.count(ALL_PROCESSES_ELEMENT)?;
        if count > max_rows {
            return Err(limit(format!(
                "{max_rows} processes (the host listed {count})"
            )));
        }
        // The fixed parts are read in place; count * 12 bytes are known to be there.
        let array = r.position();
        r.bytes(count * ALL_PROCESSES_ELEMENT)?;
        rows.reserve(count);
        for i in 0..count {
            let mut element = Reader::new(stub, "TS_ALL_PROCESSES_INFO");
            element.seek(array + i * ALL_PROCESSES_ELEMENT)?;
            let info_ptr = element.u32()?;
            let _size_of_sid = element.u32()?;
            let sid_ptr = element.u32()?;
            let process = if info_ptr != 0 {
                Some(read_process(&mut r)?)
            } else {
                None
            };
            let sid = if sid_ptr != 0 {
                read_sid(&mut r)?
            } else {
                None
            };
            if let Some(mut process) = process {
                process.sid = sid;
                rows.push(process);
            }
        }
    }
    let ok = r.u8()?;
    check_boolean(CALL_NAME, ok, result)?;
    Ok(rows)
}

/// TS_SYS_PROCESS_INFORMATION and its deferred ImageName buffer.
fn read_process(r: &mut NdrReader<'_>) -> Result<ProcessEntry, RemoteError> {
    r.align(8)?;
    let fixed = r.bytes(PROCESS_INFO_LEN)?;
    let at = |offset: usize| -> Result<u32, RemoteError> {
        let mut f = Reader::new(fixed, "TS_SYS_PROCESS_INFORMATION");
        f.seek(offset)?;
        Ok(f.u32()?)
    };
    let create_time = {
        let mut f = Reader::new(fixed, "TS_SYS_PROCESS_INFORMATION");
        f.seek(32)?;
        f.u64()? as i64
    };
    // ImageName: Length, MaximumLength (u16 each) at 56, Buffer at 60.
    let buffer = at(60)?;
    let name = if buffer != 0 {
        // MS-TSTS sizes the buffer by MaximumLength and Length in the IDL but
        // Windows counts it in characters like any conformant varying
        // string; what arrived is what is used, NULs at the end dropped.
        r.wide_string()?
    } else {
        String::new()
    };
    Ok(ProcessEntry {
        pid: at(68)?,
        ppid: at(72)?,
        session_id: at(80)?,
        name,
        create_time,
        sid: None,
    })
}

/// The SID referent: a conformant byte array holding a binary SID (empty: none).
fn read_sid(r: &mut NdrReader<'_>) -> Result<Option<Sid>, RemoteError> {
    let size = r.count(1)?;
    let bytes = r.bytes(size)?;
    if bytes.is_empty() {
        return Ok(None);
    }
    let (sid, used) = Sid::from_bytes(bytes)?;
    if used != bytes.len() {
        return Err(r
            .error(format!("a SID of {used} bytes in {} bytes", bytes.len()))
            .into());
    }
    Ok(Some(sid))
}

/// A process as the model holds it: the owner as a SID, named later by LSA.
pub fn to_process(entry: ProcessEntry) -> ProcessRow {
    ProcessRow {
        pid: entry.pid,
        name: entry.name,
        sid: entry.sid.map(|sid| sid.to_string()),
        terminal_session_id: Some(entry.session_id),
        ppid: Some(entry.ppid),
        start_time: filetime_to_timestamp(entry.create_time),
        ..ProcessRow::default()
    }
}

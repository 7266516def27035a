//! [MS-TSTS] TermSrvSession on `\pipe\LSM_API_service`: RpcOpenSession
//! (opnum 0), RpcLogoff (opnum 4) and RpcCloseSession (opnum 1), the calls
//! impacket's `tstool.py logoff` makes (and `logoff /server` on Windows 8+).
//! The LegacyApi's RpcWinStationReset would do too, but it is the older
//! interface, and the TermSrvSession one is the interface the scan already
//! binds to read the sessions.

use super::super::error::RemoteError;
use super::super::ndr::{NdrReader, NdrWriter};
use super::sessions::read_handle;
use super::{ContextHandle, check_hresult};

pub const OPNUM_OPEN_SESSION: u16 = 0;
pub const OPNUM_CLOSE_SESSION: u16 = 1;
pub const OPNUM_LOGOFF: u16 = 4;
pub const OPEN_CALL: &str = "RpcOpenSession";
pub const LOGOFF_CALL: &str = "RpcLogoff";

/// RpcOpenSession: `[in] handle_t hBinding, [in] ULONG SessionId, [out]
/// SESSION_HANDLE* phSession`. The binding handle is implicit, never
/// marshalled (see the sessions module): the stub is the id alone.
pub fn encode_open_session(session_id: u32) -> Vec<u8> {
    let mut w = NdrWriter::new();
    w.u32(session_id);
    w.into_bytes()
}

/// RpcLogoff and RpcCloseSession: the session handle alone.
pub fn encode_session_handle(handle: &ContextHandle) -> Vec<u8> {
    let mut w = NdrWriter::new();
    w.bytes(handle);
    w.into_bytes()
}

/// RpcOpenSession's answer: the session handle, then an HRESULT.
pub fn decode_open_session(stub: &[u8]) -> Result<ContextHandle, RemoteError> {
    let mut r = NdrReader::new(stub, "RpcOpenSession reply");
    let handle = read_handle(&mut r)?;
    check_hresult(OPEN_CALL, r.u32()?)?;
    Ok(handle)
}

/// RpcLogoff's answer: an HRESULT. Windows has been seen answering
/// 0x10000000 for a logoff that happened (impacket's notes on hRpcLogoff):
/// a success code, as its severity bit is clear.
pub fn decode_logoff(stub: &[u8]) -> Result<(), RemoteError> {
    let mut r = NdrReader::new(stub, "RpcLogoff reply");
    check_hresult(LOGOFF_CALL, r.u32()?)
}

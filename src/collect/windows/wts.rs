//! Terminal-services sessions (console and RDP), local or through
//! WTSOpenServerW for a remote host. WTS memory and server handles are
//! released by Drop guards.

use std::mem::size_of;
use std::ptr::null_mut;

use windows_sys::Win32::Foundation::{GetLastError, HANDLE, SetLastError};
use windows_sys::Win32::System::RemoteDesktop::{
    WTS_CLIENT_ADDRESS, WTS_CURRENT_SERVER_HANDLE, WTS_INFO_CLASS, WTS_SESSION_INFO_1W,
    WTS_SESSION_INFOW, WTSClientAddress, WTSClientName, WTSCloseServer, WTSEnumerateSessionsExW,
    WTSEnumerateSessionsW, WTSFreeMemory, WTSFreeMemoryExW, WTSINFOW, WTSOpenServerW,
    WTSQuerySessionInformationW, WTSSessionInfo, WTSTypeSessionInfoLevel1,
};

use crate::collect::windows_decode::RawEntries;
use crate::collect::windows_decode::errors::{
    ERROR_CALL_NOT_IMPLEMENTED, ERROR_INVALID_FUNCTION, ERROR_INVALID_PARAMETER,
    ERROR_NOT_SUPPORTED, win32_failure,
};
use crate::collect::windows_decode::wide::{non_empty, read_wide_cstr, to_wide_nul};
use crate::collect::windows_decode::wts::{
    WtsClientAddress, WtsInfo, WtsSessionInfo, WtsSessionInfo1, apply_session_info,
    decode_client_address, decode_sessions, decode_sessions_ex,
};
use crate::model::{InteractiveSession, InteractiveState, Observed};

const _: () = {
    assert!(size_of::<WtsSessionInfo1>() == size_of::<WTS_SESSION_INFO_1W>());
    assert!(size_of::<WtsSessionInfo>() == size_of::<WTS_SESSION_INFOW>());
    assert!(size_of::<WtsInfo>() == size_of::<WTSINFOW>());
    assert!(size_of::<WtsClientAddress>() == size_of::<WTS_CLIENT_ADDRESS>());
};

fn last_error() -> u32 {
    // SAFETY: reads the calling thread's last-error value.
    unsafe { GetLastError() }
}

/// Clear the thread's last error before a call: stubs (Wine's
/// WTSEnumerateSessionsExW) fail without setting one, and a stale value
/// from an earlier call would be reported as this call's reason.
fn clear_last_error() {
    // SAFETY: sets the calling thread's last-error value; no pointers.
    unsafe { SetLastError(0) }
}

/// The error of a call that returned FALSE; 0 means it gave no reason.
fn failure_code() -> u32 {
    last_error()
}

/// The RD session host to ask: this machine, or one opened with WTSOpenServerW.
struct WtsServer {
    handle: HANDLE,
    opened: bool,
}

impl WtsServer {
    fn open(host: Option<&str>) -> Self {
        match host {
            None => WtsServer {
                handle: WTS_CURRENT_SERVER_HANDLE,
                opened: false,
            },
            Some(host) => {
                let name = to_wide_nul(host.trim_start_matches('\\'));
                // SAFETY: `name` is NUL-terminated. WTSOpenServerW does not
                // fail here for unreachable hosts: the later calls do.
                let handle = unsafe { WTSOpenServerW(name.as_ptr()) };
                WtsServer {
                    handle,
                    opened: !handle.is_null(),
                }
            }
        }
    }
}

impl Drop for WtsServer {
    fn drop(&mut self) {
        if self.opened {
            // SAFETY: a handle from WTSOpenServerW, closed once.
            unsafe { WTSCloseServer(self.handle) };
        }
    }
}

/// Memory from WTSEnumerateSessionsExW; freed with WTSFreeMemoryExW.
struct WtsSessionsEx {
    ptr: *mut WTS_SESSION_INFO_1W,
    count: u32,
}

impl Drop for WtsSessionsEx {
    fn drop(&mut self) {
        if !self.ptr.is_null() {
            // SAFETY: the array WTSEnumerateSessionsExW returned, with its count; freed once.
            unsafe {
                WTSFreeMemoryExW(
                    WTSTypeSessionInfoLevel1,
                    self.ptr.cast_const().cast(),
                    self.count,
                )
            };
        }
    }
}

/// Memory from WTSEnumerateSessionsW / WTSQuerySessionInformationW; freed with WTSFreeMemory.
struct WtsMemory(*mut core::ffi::c_void);

impl Drop for WtsMemory {
    fn drop(&mut self) {
        if !self.0.is_null() {
            // SAFETY: memory a WTS function allocated; freed once.
            unsafe { WTSFreeMemory(self.0) };
        }
    }
}

/// The raw bytes of one WTSQuerySessionInformationW answer, or None.
fn query(server: &WtsServer, session_id: u32, class: WTS_INFO_CLASS) -> Option<(WtsMemory, usize)> {
    let mut buffer = null_mut();
    let mut bytes = 0u32;
    // SAFETY: valid out-pointers; the server handle is live.
    let ok = unsafe {
        WTSQuerySessionInformationW(server.handle, session_id, class, &mut buffer, &mut bytes)
    };
    let memory = WtsMemory(buffer.cast());
    (ok != 0 && !memory.0.is_null()).then_some((memory, bytes as usize))
}

/// A fixed-size structure answer, if the OS returned at least its size.
fn query_struct<T: Copy>(server: &WtsServer, session_id: u32, class: WTS_INFO_CLASS) -> Option<T> {
    let (memory, bytes) = query(server, session_id, class)?;
    // SAFETY: the buffer holds at least size_of::<T>() bytes of the documented
    // structure (checked); read unaligned so no alignment is assumed.
    (bytes >= size_of::<T>()).then(|| unsafe { memory.0.cast::<T>().read_unaligned() })
}

fn query_string(server: &WtsServer, session_id: u32, class: WTS_INFO_CLASS) -> Option<String> {
    let (memory, _) = query(server, session_id, class)?;
    // SAFETY: string classes return a NUL-terminated UTF-16 string.
    non_empty(unsafe { read_wide_cstr(memory.0.cast::<u16>().cast_const()) })
}

fn enumerate_ex(server: &WtsServer) -> Result<Vec<InteractiveSession>, u32> {
    let mut level = 1u32;
    let mut ptr = null_mut();
    let mut count = 0u32;
    clear_last_error();
    // SAFETY: valid out-pointers; level 1 asks for WTS_SESSION_INFO_1W.
    let ok = unsafe { WTSEnumerateSessionsExW(server.handle, &mut level, 0, &mut ptr, &mut count) };
    let memory = WtsSessionsEx { ptr, count };
    if ok == 0 {
        return Err(failure_code());
    }
    // SAFETY: `count` WTS_SESSION_INFO_1W (mirrored) with strings in the
    // same allocation, alive until `memory` drops.
    let view = unsafe {
        RawEntries::from_raw(
            memory.ptr.cast::<WtsSessionInfo1>().cast_const(),
            count as usize,
        )
    };
    Ok(decode_sessions_ex(view))
}

fn enumerate_classic(server: &WtsServer) -> Result<Vec<InteractiveSession>, u32> {
    let mut ptr: *mut WTS_SESSION_INFOW = null_mut();
    let mut count = 0u32;
    clear_last_error();
    // SAFETY: valid out-pointers; reserved 0 and version 1 as documented.
    let ok = unsafe { WTSEnumerateSessionsW(server.handle, 0, 1, &mut ptr, &mut count) };
    let memory = WtsMemory(ptr.cast());
    if ok == 0 {
        return Err(failure_code());
    }
    // SAFETY: `count` WTS_SESSION_INFOW (mirrored), alive until `memory` drops.
    let view = unsafe {
        RawEntries::from_raw(
            memory.0.cast::<WtsSessionInfo>().cast_const(),
            count as usize,
        )
    };
    Ok(decode_sessions(view))
}

/// Interactive sessions with state, user, logon time, idle time and client.
pub fn interactive_sessions(host: Option<&str>) -> Observed<Vec<InteractiveSession>> {
    let server = WtsServer::open(host);
    let target = super::netapi::target_name(host);
    let mut sessions = match enumerate_ex(&server) {
        Ok(sessions) => sessions,
        // Older hosts lack the Ex call, and Wine's is a stub that fails
        // without giving a reason (0): fall back to the classic call.
        Err(
            0
            | ERROR_CALL_NOT_IMPLEMENTED
            | ERROR_INVALID_FUNCTION
            | ERROR_NOT_SUPPORTED
            | ERROR_INVALID_PARAMETER,
        ) => match enumerate_classic(&server) {
            Ok(sessions) => sessions,
            Err(code) => {
                return Observed::Failed(win32_failure(code, "WTSEnumerateSessionsW", &target));
            }
        },
        Err(code) => {
            return Observed::Failed(win32_failure(code, "WTSEnumerateSessionsExW", &target));
        }
    };
    for session in &mut sessions {
        // Listeners (RDP-Tcp) are not sessions anybody is logged on to.
        if session.state == InteractiveState::Listen {
            continue;
        }
        let Ok(id) = session.session_id.parse::<u32>() else {
            continue;
        };
        if let Some(info) = query_struct::<WtsInfo>(&server, id, WTSSessionInfo) {
            apply_session_info(session, &info);
        }
        if session.client_name.is_none() {
            session.client_name = query_string(&server, id, WTSClientName);
        }
        if let Some(address) = query_struct::<WtsClientAddress>(&server, id, WTSClientAddress) {
            session.client_address = decode_client_address(&address);
        }
    }
    Observed::ok(sessions)
}

/// What a logoff did: done, or refused by the re-check (and why).
pub enum Logoff {
    LoggedOff,
    Refused(String),
}

/// Log off `session_id` on `host` (None: this machine) with
/// WTSLogoffSession, waiting for the logoff to finish, once the session is
/// seen still disconnected and still `user`'s (a session id is reused as
/// soon as its session ends). Err is the Win32 error of a failed call.
pub fn logoff(host: Option<&str>, session_id: u32, user: &str) -> Result<Logoff, u32> {
    use windows_sys::Win32::System::RemoteDesktop::{
        WTSConnectState, WTSDisconnected, WTSLogoffSession, WTSUserName,
    };
    let server = WtsServer::open(host);
    clear_last_error();
    let Some(state) = query_struct::<i32>(&server, session_id, WTSConnectState) else {
        return match last_error() {
            // ERROR_FILE_NOT_FOUND / ERROR_CTX_WINSTATION_NOT_FOUND: no such session.
            2 | 7022 => Ok(Logoff::Refused(format!(
                "session {session_id} is gone already"
            ))),
            code => Err(code),
        };
    };
    if state != WTSDisconnected {
        return Ok(Logoff::Refused(format!(
            "session {session_id} is no longer disconnected (state {state}): left alone"
        )));
    }
    let now = query_string(&server, session_id, WTSUserName).unwrap_or_default();
    if !crate::identity::eq_ignore_case(&now, user) {
        return Ok(Logoff::Refused(format!(
            "session {session_id} is now {now:?}'s, not {user}'s: left alone"
        )));
    }
    clear_last_error();
    // SAFETY: a live server handle (or the current-server pseudo handle);
    // no pointers. bWait TRUE: returns once the session is logged off, so
    // the re-scan that follows sees it gone.
    let ok = unsafe { WTSLogoffSession(server.handle, session_id, 1) };
    if ok == 0 {
        return Err(failure_code());
    }
    Ok(Logoff::LoggedOff)
}

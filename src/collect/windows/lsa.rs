//! Local logon sessions: LsaEnumerateLogonSessions + LsaGetLogonSessionData.
//! Every buffer LSA returns is freed by [`LsaBuffer`]'s Drop.

use std::mem::{align_of, offset_of, size_of};
use std::ptr::null_mut;

use windows_sys::Win32::Foundation::{LUID, NTSTATUS};
use windows_sys::Win32::Security::Authentication::Identity::{
    LsaEnumerateLogonSessions, LsaFreeReturnBuffer, LsaGetLogonSessionData, LsaNtStatusToWinError,
    SECURITY_LOGON_SESSION_DATA,
};

use crate::collect::windows_decode::RawEntries;
use crate::collect::windows_decode::errors::{ERROR_ACCESS_DENIED, win32_failure};
use crate::collect::windows_decode::lsa::{LogonSessionData, Luid, decode_logon_sessions};
use crate::model::{LogonSession, Observed};

const _: () = {
    assert!(size_of::<Luid>() == size_of::<LUID>());
    assert!(align_of::<LogonSessionData>() == align_of::<SECURITY_LOGON_SESSION_DATA>());
    assert!(size_of::<LogonSessionData>() <= size_of::<SECURITY_LOGON_SESSION_DATA>());
    assert!(offset_of!(LogonSessionData, sid) == offset_of!(SECURITY_LOGON_SESSION_DATA, Sid));
    assert!(offset_of!(LogonSessionData, upn) == offset_of!(SECURITY_LOGON_SESSION_DATA, Upn));
};

/// A buffer returned by an LSA function; freed with LsaFreeReturnBuffer on drop.
struct LsaBuffer<T>(*mut T);

impl<T> Drop for LsaBuffer<T> {
    fn drop(&mut self) {
        if !self.0.is_null() {
            // SAFETY: the pointer was returned by an LSA function that
            // documents LsaFreeReturnBuffer as its deallocator; freed once.
            unsafe { LsaFreeReturnBuffer(self.0.cast_const().cast()) };
        }
    }
}

fn nt_to_win32(status: NTSTATUS) -> u32 {
    // SAFETY: a pure conversion function without pointers.
    unsafe { LsaNtStatusToWinError(status) }
}

/// Every logon session on this machine, with its user and logon facts.
/// Sessions that end between enumeration and query are skipped (with a note);
/// if none of the sessions can be read for lack of rights, the source fails.
pub fn logon_sessions(notes: &mut Vec<String>) -> Observed<Vec<LogonSession>> {
    let mut count = 0u32;
    let mut list: *mut LUID = null_mut();
    // SAFETY: both out-pointers are valid for the call.
    let status = unsafe { LsaEnumerateLogonSessions(&mut count, &mut list) };
    let list = LsaBuffer(list);
    if status != 0 {
        let mut failure = win32_failure(
            nt_to_win32(status),
            "LsaEnumerateLogonSessions",
            "this machine",
        );
        failure
            .message
            .push_str(&format!(" [NTSTATUS 0x{:08X}]", status as u32));
        return Observed::Failed(failure);
    }
    let luids: &[LUID] = if list.0.is_null() || count == 0 {
        &[]
    } else {
        // SAFETY: LSA returned `count` LUIDs at `list`, alive while `list` is.
        unsafe { std::slice::from_raw_parts(list.0, count as usize) }
    };

    let mut rows = Vec::with_capacity(luids.len());
    let mut unreadable = Vec::new();
    for luid in luids {
        let mut data: *mut SECURITY_LOGON_SESSION_DATA = null_mut();
        // SAFETY: `luid` is a valid LUID; `data` is a valid out-pointer.
        let status = unsafe { LsaGetLogonSessionData(luid, &mut data) };
        let data = LsaBuffer(data);
        if status != 0 || data.0.is_null() {
            unreadable.push(nt_to_win32(status));
            continue;
        }
        // SAFETY: LSA returned one SECURITY_LOGON_SESSION_DATA (whose leading
        // fields `LogonSessionData` mirrors) with its strings and SID in the
        // same allocation, alive until `data` drops after decoding.
        let view =
            unsafe { RawEntries::from_raw(data.0.cast::<LogonSessionData>().cast_const(), 1) };
        rows.extend(decode_logon_sessions(view));
    }
    if rows.is_empty()
        && !unreadable.is_empty()
        && unreadable.iter().all(|&c| c == ERROR_ACCESS_DENIED)
    {
        return Observed::Failed(win32_failure(
            ERROR_ACCESS_DENIED,
            "LsaGetLogonSessionData",
            "this machine",
        ));
    }
    if !unreadable.is_empty() {
        notes.push(format!(
            "logon_sessions: {} of {} logon sessions could not be read (ended meanwhile, or access denied)",
            unreadable.len(),
            luids.len()
        ));
    }
    Observed::ok(rows)
}

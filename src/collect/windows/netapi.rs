//! NetWkstaUserEnum (level 1) and NetSessionEnum (502 → 10 → 1 → 0), local
//! or against `\\host`. Buffers are freed by [`NetApiBuffer`]'s Drop.

use std::mem::{align_of, size_of};
use std::ptr::{null, null_mut};

use windows_sys::Win32::NetworkManagement::NetManagement::{
    MAX_PREFERRED_LENGTH, NetApiBufferFree, NetWkstaUserEnum, WKSTA_USER_INFO_1,
};
use windows_sys::Win32::Storage::FileSystem::{
    NetSessionEnum, SESSION_INFO_0, SESSION_INFO_1, SESSION_INFO_10, SESSION_INFO_502,
};

use crate::collect::windows_decode::RawEntries;
use crate::collect::windows_decode::errors::{ERROR_MORE_DATA, ERROR_SUCCESS, win32_failure};
use crate::collect::windows_decode::netapi::{
    SessionInfo0, SessionInfo1, SessionInfo10, SessionInfo502, WkstaUserInfo1, decode_sessions_0,
    decode_sessions_1, decode_sessions_10, decode_sessions_502, decode_wksta_users,
};
use crate::collect::windows_decode::paging::{
    PageEnd, PagingError, SESSION_LEVELS, collect_pages, with_level_fallback,
};
use crate::collect::windows_decode::wide::to_wide_nul;
use crate::model::{FailureKind, Observed, SmbSession, SourceFailure, WorkstationUser};

// The mirrors the decoders read must have exactly the Win32 layouts.
const _: () = {
    assert!(size_of::<WkstaUserInfo1>() == size_of::<WKSTA_USER_INFO_1>());
    assert!(align_of::<WkstaUserInfo1>() == align_of::<WKSTA_USER_INFO_1>());
    assert!(size_of::<SessionInfo502>() == size_of::<SESSION_INFO_502>());
    assert!(size_of::<SessionInfo10>() == size_of::<SESSION_INFO_10>());
    assert!(size_of::<SessionInfo1>() == size_of::<SESSION_INFO_1>());
    assert!(size_of::<SessionInfo0>() == size_of::<SESSION_INFO_0>());
};

/// A buffer allocated by a NetXxx API; freed with NetApiBufferFree on drop.
struct NetApiBuffer(*mut u8);

impl Drop for NetApiBuffer {
    fn drop(&mut self) {
        if !self.0.is_null() {
            // SAFETY: the pointer came from a NetXxx API, which allocates with
            // NetApiBufferAllocate, and is freed exactly once here.
            unsafe { NetApiBufferFree(self.0.cast()) };
        }
    }
}

/// `\\host` as NetAPI wants it, NUL-terminated; None for this machine.
fn unc_server(host: Option<&str>) -> Option<Vec<u16>> {
    host.map(|h| to_wide_nul(&format!(r"\\{}", h.trim_start_matches('\\'))))
}

pub(crate) fn target_name(host: Option<&str>) -> String {
    host.map_or_else(
        || "this machine".to_string(),
        |h| format!(r"\\{}", h.trim_start_matches('\\')),
    )
}

/// One NetXxxEnum call: fills buffer, entries read, and resume handle; returns the status.
type EnumCall<'a> = dyn FnMut(&mut *mut u8, &mut u32, &mut u32) -> u32 + 'a;

/// Page through a NetXxxEnum API whose entries are `M`, decoding each page
/// while its buffer is alive.
fn enumerate<M, R>(
    call: &mut EnumCall<'_>,
    decode: fn(RawEntries<'_, M>) -> Vec<R>,
) -> Result<Vec<R>, PagingError<u32>> {
    collect_pages(|resume| {
        let mut buffer = null_mut();
        let mut read = 0u32;
        let status = call(&mut buffer, &mut read, resume);
        let buffer = NetApiBuffer(buffer);
        match status {
            ERROR_SUCCESS | ERROR_MORE_DATA => {
                let count = usize::try_from(read).unwrap_or(0);
                // SAFETY: on success or more-data the API returned `read`
                // structures of the requested level (M mirrors it) whose
                // strings point into the same buffer, which `buffer` keeps
                // alive until after decoding. A NULL buffer gives no entries.
                let view =
                    unsafe { RawEntries::from_raw(buffer.0.cast::<M>().cast_const(), count) };
                let end = if status == ERROR_SUCCESS {
                    PageEnd::Complete
                } else {
                    PageEnd::MoreData
                };
                Ok((decode(view), end))
            }
            code => Err(code),
        }
    })
}

fn paging_failure(error: PagingError<u32>, call: &str, target: &str) -> SourceFailure {
    match error {
        PagingError::Fetch(code) => win32_failure(code, call, target),
        PagingError::NoProgress { pages } => SourceFailure::new(
            FailureKind::Other,
            Some(i64::from(ERROR_MORE_DATA)),
            format!(
                "{call} on {target}: kept answering 'more data' without progress after {pages} pages"
            ),
        ),
        PagingError::TooManyPages { pages } => SourceFailure::new(
            FailureKind::Other,
            None,
            format!("{call} on {target}: gave up after {pages} pages"),
        ),
    }
}

/// Users the workstation service lists as logged on (interactive, service and batch logons).
pub fn workstation_users(host: Option<&str>) -> Observed<Vec<WorkstationUser>> {
    let server = unc_server(host);
    let server_ptr = server.as_ref().map_or(null(), |s| s.as_ptr());
    let mut call = |buffer: &mut *mut u8, read: &mut u32, resume: &mut u32| {
        let mut total = 0u32;
        // SAFETY: every pointer is valid for the call; `server_ptr` is null
        // or a NUL-terminated string that outlives it.
        unsafe {
            NetWkstaUserEnum(
                server_ptr,
                1,
                buffer,
                MAX_PREFERRED_LENGTH,
                read,
                &mut total,
                resume,
            )
        }
    };
    enumerate::<WkstaUserInfo1, _>(&mut call, decode_wksta_users)
        .map_err(|e| paging_failure(e, "NetWkstaUserEnum", &target_name(host)))
        .into()
}

fn sessions_at_level(
    server_ptr: *const u16,
    level: u32,
) -> Result<Vec<SmbSession>, PagingError<u32>> {
    let mut call = |buffer: &mut *mut u8, read: &mut u32, resume: &mut u32| {
        let mut total = 0u32;
        // SAFETY: as in `workstation_users`; client and user filters are NULL (all sessions).
        unsafe {
            NetSessionEnum(
                server_ptr,
                null(),
                null(),
                level,
                buffer,
                MAX_PREFERRED_LENGTH,
                read,
                &mut total,
                resume,
            )
        }
    };
    match level {
        502 => enumerate::<SessionInfo502, _>(&mut call, decode_sessions_502),
        10 => enumerate::<SessionInfo10, _>(&mut call, decode_sessions_10),
        1 => enumerate::<SessionInfo1, _>(&mut call, decode_sessions_1),
        _ => enumerate::<SessionInfo0, _>(&mut call, decode_sessions_0),
    }
}

/// SMB sessions the server service holds, at the richest level the caller may read.
/// A note says which level was used when richer ones were refused.
pub fn smb_sessions(host: Option<&str>, notes: &mut Vec<String>) -> Observed<Vec<SmbSession>> {
    let server = unc_server(host);
    let server_ptr = server.as_ref().map_or(null(), |s| s.as_ptr());
    let target = target_name(host);
    let mut other_failure = None;
    let outcome = with_level_fallback(&SESSION_LEVELS, |level| {
        sessions_at_level(server_ptr, level).map_err(|e| match e {
            PagingError::Fetch(code) => code,
            other => {
                other_failure = Some(paging_failure(other, "NetSessionEnum", &target));
                0
            }
        })
    });
    match outcome {
        Ok(outcome) => {
            if !outcome.refused.is_empty() {
                let refused: Vec<String> = outcome
                    .refused
                    .iter()
                    .map(|(l, c)| format!("{l} (error {c})"))
                    .collect();
                notes.push(format!(
                    "smb_sessions: NetSessionEnum level {} used; refused: {}",
                    outcome.level,
                    refused.join(", ")
                ));
            }
            Observed::ok(outcome.rows)
        }
        Err(code) => Observed::Failed(
            other_failure.unwrap_or_else(|| win32_failure(code, "NetSessionEnum", &target)),
        ),
    }
}

//! Every process (Toolhelp snapshot) with its owner, logon session (the
//! token's AuthenticationId), terminal session and start time.

use std::collections::HashMap;
use std::mem::size_of;
use std::os::windows::io::{AsRawHandle, FromRawHandle, OwnedHandle};
use std::ptr::{null, null_mut};

use windows_sys::Win32::Foundation::{FILETIME, GetLastError, HANDLE, INVALID_HANDLE_VALUE, LUID};
use windows_sys::Win32::Security::{
    AdjustTokenPrivileges, GetTokenInformation, LUID_AND_ATTRIBUTES, LookupAccountSidW,
    LookupPrivilegeValueW, SE_PRIVILEGE_ENABLED, SID_NAME_USE, TOKEN_ADJUST_PRIVILEGES,
    TOKEN_PRIVILEGES, TOKEN_QUERY, TOKEN_STATISTICS, TOKEN_USER, TokenStatistics, TokenUser,
};
use windows_sys::Win32::System::Diagnostics::ToolHelp::{
    CreateToolhelp32Snapshot, PROCESSENTRY32W, Process32FirstW, Process32NextW, TH32CS_SNAPPROCESS,
};
use windows_sys::Win32::System::RemoteDesktop::ProcessIdToSessionId;
use windows_sys::Win32::System::Threading::{
    GetCurrentProcess, GetProcessTimes, OpenProcess, OpenProcessToken,
    PROCESS_QUERY_LIMITED_INFORMATION,
};

use crate::collect::windows_decode::errors::{
    ERROR_INSUFFICIENT_BUFFER, ERROR_NO_MORE_FILES, ERROR_NOT_ALL_ASSIGNED, describe_win32,
    win32_failure,
};
use crate::collect::windows_decode::lsa::Luid;
use crate::collect::windows_decode::process::{
    ProcessEntry32, ProcessFacts, access_note, account_name, process_row,
};
use crate::collect::windows_decode::sid::read_sid_string;
use crate::collect::windows_decode::time::filetime_parts_to_timestamp;
use crate::collect::windows_decode::wide::{fixed_wide, to_wide_nul};
use crate::model::{Observed, ProcessRow};

const _: () = {
    assert!(size_of::<ProcessEntry32>() == size_of::<PROCESSENTRY32W>());
    assert!(size_of::<Luid>() == size_of::<LUID>());
};

fn last_error() -> u32 {
    // SAFETY: reads the calling thread's last-error value; no pointers.
    unsafe { GetLastError() }
}

/// A handle a Win32 call returned, or the last error if it returned `invalid`.
fn owned_handle(raw: HANDLE, invalid: HANDLE) -> Result<OwnedHandle, u32> {
    if raw == invalid || raw.is_null() {
        return Err(last_error());
    }
    // SAFETY: `raw` is a fresh, valid handle this code owns and closes once (on drop).
    Ok(unsafe { OwnedHandle::from_raw_handle(raw) })
}

fn explain(call: &str, code: u32) -> String {
    format!("{call}: {} (error {code})", describe_win32(code).1)
}

/// Try to enable SeDebugPrivilege so that other users' processes can be
/// opened. Returns whether it is now enabled; failing is not an error.
pub fn enable_debug_privilege() -> bool {
    let mut token = null_mut();
    // SAFETY: GetCurrentProcess returns a pseudo-handle; `token` is a valid out-pointer.
    let opened = unsafe {
        OpenProcessToken(
            GetCurrentProcess(),
            TOKEN_ADJUST_PRIVILEGES | TOKEN_QUERY,
            &mut token,
        )
    };
    if opened == 0 {
        return false;
    }
    let Ok(token) = owned_handle(token, INVALID_HANDLE_VALUE) else {
        return false;
    };
    let name = to_wide_nul("SeDebugPrivilege");
    let mut luid = LUID {
        LowPart: 0,
        HighPart: 0,
    };
    // SAFETY: `name` is NUL-terminated; `luid` is a valid out-pointer.
    if unsafe { LookupPrivilegeValueW(null(), name.as_ptr(), &mut luid) } == 0 {
        return false;
    }
    let privileges = TOKEN_PRIVILEGES {
        PrivilegeCount: 1,
        Privileges: [LUID_AND_ATTRIBUTES {
            Luid: luid,
            Attributes: SE_PRIVILEGE_ENABLED,
        }],
    };
    // SAFETY: `privileges` is a valid TOKEN_PRIVILEGES with one entry; no previous state requested.
    let adjusted = unsafe {
        AdjustTokenPrivileges(
            token.as_raw_handle(),
            0,
            &privileges,
            0,
            null_mut(),
            null_mut(),
        )
    };
    // AdjustTokenPrivileges "succeeds" without assigning a privilege the token lacks.
    adjusted != 0 && last_error() != ERROR_NOT_ALL_ASSIGNED
}

/// Read a variable-length token information class into an 8-byte-aligned buffer.
fn token_info(token: &OwnedHandle, class: i32) -> Result<Vec<u64>, u32> {
    let mut needed = 0u32;
    // SAFETY: a size query: null buffer of length 0, valid out-pointer.
    unsafe { GetTokenInformation(token.as_raw_handle(), class, null_mut(), 0, &mut needed) };
    if needed == 0 {
        return Err(last_error());
    }
    let mut buffer = vec![0u64; (needed as usize).div_ceil(8)];
    // SAFETY: `buffer` has room for `needed` bytes and is suitably aligned.
    let ok = unsafe {
        GetTokenInformation(
            token.as_raw_handle(),
            class,
            buffer.as_mut_ptr().cast(),
            needed,
            &mut needed,
        )
    };
    if ok == 0 {
        Err(last_error())
    } else {
        Ok(buffer)
    }
}

/// `DOMAIN\name` for a SID, looked up once per SID.
struct AccountNames {
    by_sid: HashMap<String, Option<String>>,
}

impl AccountNames {
    fn lookup(&mut self, sid_text: &str, sid: *mut core::ffi::c_void) -> Option<String> {
        if let Some(known) = self.by_sid.get(sid_text) {
            return known.clone();
        }
        let name = lookup_account(sid);
        self.by_sid.insert(sid_text.to_string(), name.clone());
        name
    }
}

fn lookup_account(sid: *mut core::ffi::c_void) -> Option<String> {
    let (mut name_len, mut domain_len) = (256u32, 256u32);
    for _ in 0..2 {
        let mut name = vec![0u16; name_len as usize];
        let mut domain = vec![0u16; domain_len as usize];
        let mut use_kind: SID_NAME_USE = 0;
        // SAFETY: buffers are as long as the lengths passed; `sid` is a valid
        // SID inside a live token-information buffer.
        let ok = unsafe {
            LookupAccountSidW(
                null(),
                sid,
                name.as_mut_ptr(),
                &mut name_len,
                domain.as_mut_ptr(),
                &mut domain_len,
                &mut use_kind,
            )
        };
        if ok != 0 {
            return Some(account_name(&fixed_wide(&domain), &fixed_wide(&name)));
        }
        if last_error() != ERROR_INSUFFICIENT_BUFFER {
            return None;
        }
    }
    None
}

/// Owner, logon LUID and start time of one process; each part independent.
fn process_facts(pid: u32, names: &mut AccountNames) -> ProcessFacts {
    let mut facts = ProcessFacts::default();
    let mut session = 0u32;
    // SAFETY: `session` is a valid out-pointer.
    if unsafe { ProcessIdToSessionId(pid, &mut session) } != 0 {
        facts.terminal_session_id = Some(session);
    }
    // SAFETY: no pointers; a null result is handled.
    let raw = unsafe { OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, 0, pid) };
    let process = match owned_handle(raw, null_mut()) {
        Ok(handle) => handle,
        Err(code) => {
            facts.access_error = Some(explain("OpenProcess", code));
            return facts;
        }
    };
    let zero = FILETIME {
        dwLowDateTime: 0,
        dwHighDateTime: 0,
    };
    let (mut created, mut exited, mut kernel, mut user) = (zero, zero, zero, zero);
    // SAFETY: four valid FILETIME out-pointers and a live process handle.
    if unsafe {
        GetProcessTimes(
            process.as_raw_handle(),
            &mut created,
            &mut exited,
            &mut kernel,
            &mut user,
        )
    } != 0
    {
        facts.start_time =
            filetime_parts_to_timestamp(created.dwLowDateTime, created.dwHighDateTime);
    }
    let mut token = null_mut();
    // SAFETY: live process handle, valid out-pointer.
    if unsafe { OpenProcessToken(process.as_raw_handle(), TOKEN_QUERY, &mut token) } == 0 {
        facts.access_error = Some(explain("OpenProcessToken", last_error()));
        return facts;
    }
    let token = match owned_handle(token, INVALID_HANDLE_VALUE) {
        Ok(token) => token,
        Err(code) => {
            facts.access_error = Some(explain("OpenProcessToken", code));
            return facts;
        }
    };
    match token_info(&token, TokenUser) {
        Ok(buffer) => {
            // SAFETY: GetTokenInformation(TokenUser) filled `buffer` with a
            // TOKEN_USER whose SID pointer points into `buffer` itself.
            let sid_ptr = unsafe { (*buffer.as_ptr().cast::<TOKEN_USER>()).User.Sid };
            // SAFETY: as above; the SID is complete and alive with `buffer`.
            if let Some(sid_text) = unsafe { read_sid_string(sid_ptr.cast_const().cast()) } {
                facts.user = names.lookup(&sid_text, sid_ptr);
                facts.sid = Some(sid_text);
            }
        }
        Err(code) => facts.access_error = Some(explain("GetTokenInformation(TokenUser)", code)),
    }
    // SAFETY: TOKEN_STATISTICS is plain data; all-zero is a valid value.
    let mut stats: TOKEN_STATISTICS = unsafe { std::mem::zeroed() };
    let mut len = 0u32;
    let size = size_of::<TOKEN_STATISTICS>() as u32;
    // SAFETY: `stats` has room for `size` bytes.
    let ok = unsafe {
        GetTokenInformation(
            token.as_raw_handle(),
            TokenStatistics,
            (&raw mut stats).cast(),
            size,
            &mut len,
        )
    };
    if ok != 0 {
        let luid = Luid {
            low_part: stats.AuthenticationId.LowPart,
            high_part: stats.AuthenticationId.HighPart,
        };
        facts.logon_id = Some(luid.to_decimal());
    } else if facts.access_error.is_none() {
        facts.access_error = Some(explain(
            "GetTokenInformation(TokenStatistics)",
            last_error(),
        ));
    }
    facts
}

/// Entries per worker below which threads cost more than they save.
const ENTRIES_PER_WORKER: usize = 64;

/// Read each process's token facts, split over the available cores: each
/// process costs a handful of kernel calls, and 10,000 processes are common
/// on terminal servers. Each worker keeps its own SID → name cache.
fn rows_in_parallel(entries: &[ProcessEntry32]) -> Vec<ProcessRow> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let workers = cores.min(entries.len().div_ceil(ENTRIES_PER_WORKER)).max(1);
    let chunk_len = entries.len().div_ceil(workers).max(1);
    let read_chunk = |chunk: &[ProcessEntry32]| {
        let mut names = AccountNames {
            by_sid: HashMap::new(),
        };
        chunk
            .iter()
            .map(|entry| process_row(entry, process_facts(entry.process_id, &mut names)))
            .collect::<Vec<_>>()
    };
    if workers == 1 {
        return read_chunk(entries);
    }
    std::thread::scope(|scope| {
        let handles: Vec<_> = entries
            .chunks(chunk_len)
            .map(|chunk| (chunk, scope.spawn(move || read_chunk(chunk))))
            .collect();
        handles
            .into_iter()
            // A worker that panicked (it should not) is redone on this thread.
            .flat_map(|(chunk, handle)| handle.join().unwrap_or_else(|_| read_chunk(chunk)))
            .collect()
    })
}

/// Every process on this machine. Processes that cannot be opened stay in
/// the list with `access_error` set, and a note counts them.
pub fn processes(notes: &mut Vec<String>) -> Observed<Vec<ProcessRow>> {
    // SAFETY: no pointers; an invalid handle is handled.
    let raw = unsafe { CreateToolhelp32Snapshot(TH32CS_SNAPPROCESS, 0) };
    let snapshot = match owned_handle(raw, INVALID_HANDLE_VALUE) {
        Ok(handle) => handle,
        Err(code) => {
            return Observed::Failed(win32_failure(
                code,
                "CreateToolhelp32Snapshot",
                "this machine",
            ));
        }
    };
    let mut entries = Vec::new();
    let mut entry = ProcessEntry32::zeroed();
    // SAFETY: `entry` mirrors PROCESSENTRY32W (asserted above) with dwSize set.
    let mut more =
        unsafe { Process32FirstW(snapshot.as_raw_handle(), (&raw mut entry).cast()) } != 0;
    if !more {
        let code = last_error();
        if code != ERROR_NO_MORE_FILES {
            return Observed::Failed(win32_failure(code, "Process32FirstW", "this machine"));
        }
    }
    while more {
        entries.push(entry);
        // SAFETY: as for Process32FirstW.
        more = unsafe { Process32NextW(snapshot.as_raw_handle(), (&raw mut entry).cast()) } != 0;
    }
    drop(snapshot);
    let rows = rows_in_parallel(&entries);
    if let Some(note) = access_note(&rows) {
        notes.push(note);
    }
    Observed::ok(rows)
}

//! utmp records written by glibc itself: `utmpxname()` + `pututxline()`,
//! the calls login(1), sshd and Samba's `sys_utmp_update()` make, so the
//! bytes on disk are glibc's, not a copy of our own decoder's idea of them.

use std::ffi::CString;
use std::path::Path;
use std::sync::Mutex;

use jiff::Timestamp;

/// `utmpxname()` sets process-wide state: one writer at a time.
static GLIBC_UTMP: Mutex<()> = Mutex::new(());

fn fill(field: &mut [libc::c_char], text: &str) {
    for (slot, byte) in field.iter_mut().zip(text.bytes()) {
        *slot = byte as libc::c_char;
    }
}

/// Write (or replace, as glibc matches by `ut_id`) a USER_PROCESS record in
/// the utmp file at `path`, which is created if missing.
pub fn write_login(path: &Path, user: &str, line: &str, pid: u32, login: Timestamp, host: &str) {
    if !path.exists() {
        std::fs::write(path, b"").expect("create utmp");
    }
    let _guard = GLIBC_UTMP.lock().unwrap_or_else(|e| e.into_inner());
    let file = CString::new(path.as_os_str().as_encoded_bytes()).expect("utmp path");
    // SAFETY: a zeroed utmpx is a valid empty record (all integers and byte arrays).
    let mut record: libc::utmpx = unsafe { std::mem::zeroed() };
    record.ut_type = libc::USER_PROCESS;
    record.ut_pid = i32::try_from(pid).expect("pid");
    fill(&mut record.ut_line, line);
    // login(1) and sshd take ut_id from the end of the line ("pts/7" → "s/7").
    fill(&mut record.ut_id, &line[line.len().saturating_sub(4)..]);
    fill(&mut record.ut_user, user);
    fill(&mut record.ut_host, host);
    record.ut_tv.tv_sec = i32::try_from(login.as_second()).expect("time before 2038");
    record.ut_tv.tv_usec = login.subsec_microsecond();
    // SAFETY: `file` is a NUL-terminated path that outlives the calls; the
    // record is fully initialised; the mutex keeps other writers out of
    // glibc's process-wide utmp state meanwhile.
    let written = unsafe {
        assert_eq!(libc::utmpxname(file.as_ptr()), 0, "utmpxname");
        libc::setutxent();
        let written = libc::pututxline(&record);
        libc::endutxent();
        written
    };
    assert!(
        !written.is_null(),
        "pututxline failed for {}",
        path.display()
    );
}

/// One record as glibc's `getutxent()` returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Read {
    pub kind: i16,
    pub pid: i32,
    pub line: String,
    pub user: String,
    pub host: String,
}

fn text(field: &[libc::c_char]) -> String {
    let bytes: Vec<u8> = field
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Every record of the utmp/wtmp file at `path`, read by glibc.
pub fn read_all(path: &Path) -> Vec<Read> {
    let _guard = GLIBC_UTMP.lock().unwrap_or_else(|e| e.into_inner());
    let file = CString::new(path.as_os_str().as_encoded_bytes()).expect("utmp path");
    let mut out = Vec::new();
    // SAFETY: as in write_login; each returned pointer is read before the
    // next call, which may reuse glibc's static buffer.
    unsafe {
        assert_eq!(libc::utmpxname(file.as_ptr()), 0, "utmpxname");
        libc::setutxent();
        loop {
            let record = libc::getutxent();
            if record.is_null() {
                break;
            }
            let r = &*record;
            out.push(Read {
                kind: r.ut_type,
                pid: r.ut_pid,
                line: text(&r.ut_line),
                user: text(&r.ut_user),
                host: text(&r.ut_host),
            });
        }
        libc::endutxent();
    }
    out
}

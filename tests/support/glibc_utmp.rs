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

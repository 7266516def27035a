//! utmp records built byte by byte, for the files smbd and the collectors read.

use std::io::Write;
use std::path::Path;

use super::options::UtmpEntry;

/// Size of `struct utmpx` in glibc's x86_64 layout.
const RECORD_SIZE: usize = 384;

/// One utmp USER_PROCESS record in glibc's x86_64 layout (384 bytes).
fn utmp_record(user: &str, line: &str, host: &str, pid: u32, time: u32) -> Vec<u8> {
    fn field(out: &mut Vec<u8>, bytes: &[u8], len: usize) {
        let mut bytes = bytes.to_vec();
        bytes.resize(len, 0);
        out.extend_from_slice(&bytes);
    }
    let line = line.as_bytes();
    let mut rec = Vec::with_capacity(RECORD_SIZE);
    rec.extend_from_slice(&7i16.to_le_bytes()); // USER_PROCESS
    rec.extend_from_slice(&[0, 0]);
    rec.extend_from_slice(&pid.to_le_bytes());
    field(&mut rec, line, 32);
    field(&mut rec, &line[line.len().saturating_sub(4)..], 4); // ut_id: the line's end
    field(&mut rec, user.as_bytes(), 32);
    field(&mut rec, host.as_bytes(), 256);
    rec.extend_from_slice(&[0; 4]); // exit status
    rec.extend_from_slice(&0i32.to_le_bytes()); // session
    rec.extend_from_slice(&time.to_le_bytes());
    rec.extend_from_slice(&0i32.to_le_bytes());
    rec.extend_from_slice(&[0; 16]); // address
    rec.extend_from_slice(&[0; 20]);
    assert_eq!(rec.len(), RECORD_SIZE);
    rec
}

/// Append USER_PROCESS records to `path`: pids 40000, 40001, … (no such
/// processes are expected to matter), all logged in at the same fixed time.
pub(super) fn append(path: &Path, entries: &[UtmpEntry]) {
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .expect("open utmp");
    for (i, entry) in entries.iter().enumerate() {
        let pid = 40_000 + u32::try_from(i).expect("entry count");
        file.write_all(&utmp_record(
            &entry.user,
            &entry.line,
            &entry.host,
            pid,
            1_700_000_000,
        ))
        .expect("write utmp");
    }
}

//! utmp: the glibc x86_64 `struct utmp` record format, decoded directly.
//!
//! Layout (384 bytes, little-endian): `ut_type` i16 + 2 pad, `ut_pid` i32,
//! `ut_line[32]`, `ut_id[4]`, `ut_user[32]`, `ut_host[256]`, `ut_exit`
//! {i16 termination, i16 exit}, `ut_session` i32, `ut_tv` {i32 sec, i32 usec},
//! `ut_addr_v6[4]` (i32 each), 20 unused bytes.
//!
//! Strictness, decided here: a file whose length is not a multiple of 384,
//! or a record whose `ut_type` is outside 0..=9, is a [`UtmpError`] for the
//! whole file. Writers (glibc `pututline`) write whole records under a lock,
//! so a trailing partial record means the file is truncated or is not this
//! format at all (musl, 32-bit, BSD); decoding it would turn garbage into
//! "logged-on users". glibc's own reader silently drops a trailing partial
//! record; we prefer "could not look" over a possibly-wrong answer.
//!
//! `ut_tv.tv_sec` is read as an unsigned 32-bit count, which postpones the
//! 2038 wrap to 2106 (glibc stores it as int32 for 32-bit compatibility).

use std::path::Path;

use jiff::Timestamp;

use super::sys::ReadFileError;
use crate::model::{FailureKind, SourceFailure, WorkstationUser};

/// Size of one glibc x86_64 utmp record.
pub const RECORD_SIZE: usize = 384;

/// `ut_type` of a normal process (a logged-in user).
pub const USER_PROCESS: i16 = 7;
/// `ut_type` of a terminated process (a logout).
pub const DEAD_PROCESS: i16 = 8;
/// Highest `ut_type` glibc defines (ACCOUNTING).
const MAX_TYPE: i16 = 9;

const LINE: std::ops::Range<usize> = 8..40;
const ID: std::ops::Range<usize> = 40..44;
const USER: std::ops::Range<usize> = 44..76;
const HOST: std::ops::Range<usize> = 76..332;

/// One decoded utmp record. Text fields are NUL-padded in the file and kept
/// here exactly (lossy UTF-8), without trusting them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UtmpRecord {
    pub kind: i16,
    pub pid: i32,
    pub line: String,
    pub id: [u8; 4],
    pub user: String,
    pub host: String,
    pub exit_termination: i16,
    pub exit_status: i16,
    pub session: i32,
    pub tv_sec: u32,
    pub tv_usec: i32,
    pub addr_v6: [u32; 4],
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UtmpError {
    #[error(
        "utmp is {len} bytes, not a whole number of {RECORD_SIZE}-byte records \
         ({trailing} trailing bytes): truncated, or not the glibc x86_64 format"
    )]
    PartialRecord { len: usize, trailing: usize },
    #[error(
        "utmp record {index} has type {kind}, outside 0..=9: not the glibc x86_64 format, or corrupt"
    )]
    BadType { index: usize, kind: i16 },
}

impl UtmpRecord {
    /// The login time, if the stored seconds/microseconds make one.
    pub fn login_time(&self) -> Option<Timestamp> {
        let nanos = self
            .tv_usec
            .checked_mul(1000)
            .filter(|n| (0..1_000_000_000).contains(n))?;
        Timestamp::new(i64::from(self.tv_sec), nanos).ok()
    }

    /// The remote host: `ut_host` when set, else the stored address when it is not zero.
    pub fn remote_host(&self) -> Option<String> {
        if !self.host.is_empty() {
            return Some(self.host.clone());
        }
        // The address is stored in network byte order, so its bytes in the
        // file are the address bytes in order.
        let a = self.addr_v6;
        match a {
            [0, 0, 0, 0] => None,
            [v4, 0, 0, 0] => Some(std::net::Ipv4Addr::from(v4.to_le_bytes()).to_string()),
            _ => {
                let mut bytes = [0u8; 16];
                for (chunk, word) in bytes.chunks_exact_mut(4).zip(a) {
                    chunk.copy_from_slice(&word.to_le_bytes());
                }
                Some(std::net::Ipv6Addr::from(bytes).to_string())
            }
        }
    }
}

fn i16_at(b: &[u8], at: usize) -> i16 {
    i16::from_le_bytes([b[at], b[at + 1]])
}

fn i32_at(b: &[u8], at: usize) -> i32 {
    i32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// A NUL-padded (not necessarily NUL-terminated) C string field.
fn c_field(field: &[u8]) -> String {
    let end = field.iter().position(|&c| c == 0).unwrap_or(field.len());
    String::from_utf8_lossy(&field[..end]).into_owned()
}

/// Decode one 384-byte record. `record` must be exactly [`RECORD_SIZE`] bytes.
fn decode_record(record: &[u8]) -> UtmpRecord {
    let mut id = [0u8; 4];
    id.copy_from_slice(&record[ID]);
    UtmpRecord {
        kind: i16_at(record, 0),
        pid: i32_at(record, 4),
        line: c_field(&record[LINE]),
        id,
        user: c_field(&record[USER]),
        host: c_field(&record[HOST]),
        exit_termination: i16_at(record, 332),
        exit_status: i16_at(record, 334),
        session: i32_at(record, 336),
        tv_sec: u32_at(record, 340),
        tv_usec: i32_at(record, 344),
        addr_v6: [
            u32_at(record, 348),
            u32_at(record, 352),
            u32_at(record, 356),
            u32_at(record, 360),
        ],
    }
}

/// Decode a whole utmp file. Pure: no I/O.
pub fn decode(bytes: &[u8]) -> Result<Vec<UtmpRecord>, UtmpError> {
    let trailing = bytes.len() % RECORD_SIZE;
    if trailing != 0 {
        return Err(UtmpError::PartialRecord {
            len: bytes.len(),
            trailing,
        });
    }
    bytes
        .chunks_exact(RECORD_SIZE)
        .enumerate()
        .map(|(index, chunk)| {
            let record = decode_record(chunk);
            if (0..=MAX_TYPE).contains(&record.kind) {
                Ok(record)
            } else {
                Err(UtmpError::BadType {
                    index,
                    kind: record.kind,
                })
            }
        })
        .collect()
}

fn put_c_field(out: &mut [u8], text: &str) {
    let n = text.len().min(out.len());
    out[..n].copy_from_slice(&text.as_bytes()[..n]);
}

/// Encode a record in the same layout (tests and fixtures write real utmp files with this).
/// Text longer than its field is cut, as glibc's writers do.
pub fn encode(record: &UtmpRecord) -> [u8; RECORD_SIZE] {
    let mut out = [0u8; RECORD_SIZE];
    out[0..2].copy_from_slice(&record.kind.to_le_bytes());
    out[4..8].copy_from_slice(&record.pid.to_le_bytes());
    put_c_field(&mut out[LINE], &record.line);
    out[ID].copy_from_slice(&record.id);
    put_c_field(&mut out[USER], &record.user);
    put_c_field(&mut out[HOST], &record.host);
    out[332..334].copy_from_slice(&record.exit_termination.to_le_bytes());
    out[334..336].copy_from_slice(&record.exit_status.to_le_bytes());
    out[336..340].copy_from_slice(&record.session.to_le_bytes());
    out[340..344].copy_from_slice(&record.tv_sec.to_le_bytes());
    out[344..348].copy_from_slice(&record.tv_usec.to_le_bytes());
    for (i, word) in record.addr_v6.iter().enumerate() {
        out[348 + 4 * i..352 + 4 * i].copy_from_slice(&word.to_le_bytes());
    }
    out
}

/// The USER_PROCESS records as workstation users. `pid_alive` answers
/// whether a pid is alive (injected so this stays pure).
pub fn workstation_users(
    records: &[UtmpRecord],
    pid_alive: impl Fn(u32) -> Option<bool>,
) -> Vec<WorkstationUser> {
    records
        .iter()
        .filter(|r| r.kind == USER_PROCESS)
        .map(|r| {
            let pid = u32::try_from(r.pid).ok().filter(|&p| p > 0);
            WorkstationUser {
                user: r.user.clone(),
                logon_domain: String::new(),
                tty: Some(r.line.clone()).filter(|l| !l.is_empty()),
                remote_host: r.remote_host(),
                pid,
                pid_alive: pid.and_then(&pid_alive),
                login_time: r.login_time(),
                ..WorkstationUser::default()
            }
        })
        .collect()
}

/// No real utmp comes near this (170,000 records); a bigger file is not one.
pub const MAX_UTMP_FILE: usize = 64 << 20;

/// Read and decode the utmp file at `path`.
///
/// The final symlink is followed (admins pass paths like `/var/run/utmp`,
/// and `/var/run` is a symlink), but only a regular file is read: a FIFO or
/// device given as `--utmp-file` fails this source at once instead of
/// blocking the scan.
pub fn read(path: &Path) -> Result<Vec<UtmpRecord>, SourceFailure> {
    let bytes = super::sys::read_regular_file(path, MAX_UTMP_FILE, true).map_err(|e| match e {
        ReadFileError::Io(e) => super::io_failure(&e, &format!("utmp file {}", path.display())),
        ReadFileError::NotRegular { kind } => SourceFailure::new(
            FailureKind::Other,
            None,
            format!(
                "utmp file {} is {kind}, not a regular file: not read (it could block or never end)",
                path.display()
            ),
        ),
        ReadFileError::TooLarge { max_len } => SourceFailure::new(
            FailureKind::ParseError,
            None,
            format!(
                "utmp file {} is larger than {} MiB: not a utmp file",
                path.display(),
                max_len >> 20
            ),
        ),
    })?;
    decode(&bytes).map_err(|e| {
        SourceFailure::new(
            FailureKind::ParseError,
            None,
            format!("{}: {e}", path.display()),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn user_record(user: &str, line: &str, pid: i32) -> UtmpRecord {
        UtmpRecord {
            kind: USER_PROCESS,
            pid,
            line: line.into(),
            id: *b"ab12",
            user: user.into(),
            host: "10.1.2.3".into(),
            tv_sec: 1_700_000_000,
            tv_usec: 250_000,
            ..UtmpRecord::default()
        }
    }

    #[test]
    fn field_offsets_match_glibc() {
        let bytes = encode(&user_record("alice", "pts/3", 4242));
        assert_eq!(&bytes[0..2], &7i16.to_le_bytes());
        assert_eq!(&bytes[4..8], &4242i32.to_le_bytes());
        assert_eq!(&bytes[8..13], b"pts/3");
        assert_eq!(&bytes[40..44], b"ab12");
        assert_eq!(&bytes[44..49], b"alice");
        assert_eq!(&bytes[76..84], b"10.1.2.3");
        assert_eq!(&bytes[340..344], &1_700_000_000u32.to_le_bytes());
    }

    #[test]
    fn user_process_becomes_workstation_user() {
        let mut file = Vec::new();
        file.extend_from_slice(&encode(&UtmpRecord {
            kind: 2,
            line: "~".into(),
            user: "reboot".into(),
            ..UtmpRecord::default()
        }));
        file.extend_from_slice(&encode(&user_record("alice", "pts/3", 4242)));
        file.extend_from_slice(&encode(&UtmpRecord {
            kind: DEAD_PROCESS,
            pid: 17,
            line: "pts/4".into(),
            ..UtmpRecord::default()
        }));
        let records = decode(&file).unwrap();
        assert_eq!(records.len(), 3);
        let users = workstation_users(&records, |pid| Some(pid == 4242));
        assert_eq!(users.len(), 1);
        let alice = &users[0];
        assert_eq!(alice.user, "alice");
        assert_eq!(alice.tty.as_deref(), Some("pts/3"));
        assert_eq!(alice.remote_host.as_deref(), Some("10.1.2.3"));
        assert_eq!(alice.pid, Some(4242));
        assert_eq!(alice.pid_alive, Some(true));
        assert_eq!(
            alice.login_time.unwrap().as_millisecond(),
            1_700_000_000_250
        );
    }

    #[test]
    fn full_width_fields_without_nul_are_read_whole() {
        let long_user = "u".repeat(40);
        let bytes = encode(&user_record(&long_user, "pts/1", 1));
        let records = decode(&bytes).unwrap();
        assert_eq!(records[0].user, "u".repeat(32));
    }

    #[test]
    fn address_used_when_host_is_empty() {
        let mut r = user_record("bob", "pts/0", 5);
        r.host.clear();
        r.addr_v6 = [u32::from_le_bytes([192, 0, 2, 7]), 0, 0, 0];
        assert_eq!(r.remote_host().as_deref(), Some("192.0.2.7"));
        r.addr_v6 = [0; 4];
        assert_eq!(r.remote_host(), None);
    }

    #[test]
    fn zero_or_negative_pid_is_not_checked() {
        let records = [
            user_record("carol", "pts/2", 0),
            user_record("dave", "pts/5", -3),
        ];
        let users = workstation_users(&records, |_| panic!("must not check pid <= 0"));
        assert!(
            users
                .iter()
                .all(|u| u.pid.is_none() && u.pid_alive.is_none())
        );
    }

    #[test]
    fn partial_trailing_record_is_an_error() {
        let mut bytes = encode(&user_record("alice", "pts/3", 1)).to_vec();
        bytes.extend_from_slice(&[0u8; 100]);
        assert_eq!(
            decode(&bytes),
            Err(UtmpError::PartialRecord {
                len: 484,
                trailing: 100
            })
        );
    }

    #[test]
    fn garbage_type_is_an_error() {
        let mut bytes = encode(&user_record("alice", "pts/3", 1)).to_vec();
        bytes.extend_from_slice(&encode(&user_record("x", "y", 2)));
        bytes[RECORD_SIZE..RECORD_SIZE + 2].copy_from_slice(&0x4141i16.to_le_bytes());
        assert_eq!(
            decode(&bytes),
            Err(UtmpError::BadType {
                index: 1,
                kind: 0x4141
            })
        );
    }

    #[test]
    fn fifo_or_device_as_utmp_fails_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("utmp");
        let status = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(status.success());
        for path in [fifo, std::path::PathBuf::from("/dev/zero")] {
            let (tx, rx) = std::sync::mpsc::channel();
            let p = path.clone();
            std::thread::spawn(move || {
                let _ = tx.send(read(&p));
            });
            let failure = rx
                .recv_timeout(std::time::Duration::from_secs(1))
                .expect("utmp read blocked")
                .expect_err("not a regular file");
            assert_eq!(failure.kind, FailureKind::Other, "{path:?}");
            assert!(
                failure.message.contains("not a regular file"),
                "{}",
                failure.message
            );
        }
    }

    #[test]
    fn utmp_through_a_symlink_is_read() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("utmp"),
            encode(&user_record("alice", "pts/3", 1)),
        )
        .unwrap();
        std::os::unix::fs::symlink(dir.path(), dir.path().join("run")).unwrap();
        let records = read(&dir.path().join("run/utmp")).unwrap();
        assert_eq!(records[0].user, "alice");
        let link = dir.path().join("utmp-link");
        std::os::unix::fs::symlink("utmp", &link).unwrap();
        assert_eq!(read(&link).unwrap().len(), 1);
        let missing = read(&dir.path().join("none")).unwrap_err();
        assert_eq!(missing.kind, FailureKind::NotAvailable);
    }

    #[test]
    fn empty_file_has_no_records() {
        assert_eq!(decode(&[]), Ok(vec![]));
    }

    fn field_text(max: usize) -> impl Strategy<Value = String> {
        proptest::collection::vec(1u8..=0x7f, 0..=max).prop_map(|b| String::from_utf8(b).unwrap())
    }

    prop_compose! {
        fn any_record()(
            kind in 0i16..=9, pid in any::<i32>(), line in field_text(32), id in any::<[u8; 4]>(),
            user in field_text(32), host in field_text(256), exit_termination in any::<i16>(),
            exit_status in any::<i16>(), session in any::<i32>(), tv_sec in any::<u32>(),
            tv_usec in any::<i32>(), addr_v6 in any::<[u32; 4]>(),
        ) -> UtmpRecord {
            UtmpRecord { kind, pid, line, id, user, host, exit_termination, exit_status, session, tv_sec, tv_usec, addr_v6 }
        }
    }

    proptest! {
        #[test]
        fn encode_decode_roundtrip(records in proptest::collection::vec(any_record(), 0..8)) {
            let bytes: Vec<u8> = records.iter().flat_map(encode).collect();
            prop_assert_eq!(decode(&bytes).unwrap(), records);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2000)) {
            if let Ok(records) = decode(&bytes) {
                prop_assert_eq!(records.len() * RECORD_SIZE, bytes.len());
                let users = workstation_users(&records, |_| None);
                prop_assert!(users.len() <= records.len());
                for r in &records { let _ = r.login_time(); let _ = r.remote_host(); }
            }
        }
    }
}

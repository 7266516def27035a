//! Listing and reading logind's state directories without trusting them.
//!
//! `/run/systemd/sessions/` holds more than session files: before systemd
//! v258 each session also has an `ID.ref` FIFO whose write end the session's
//! processes hold until logout (`session_create_fifo()`), and an open or read
//! of it blocks until then. Other programs, or an admin, may leave anything
//! else there. So each entry is judged by its name (only names logind itself
//! writes) and its directory-entry type (never following a symlink) before it
//! is opened, and the open itself refuses anything that is not a regular file
//! ([`sys::read_regular_file`]), which also covers an entry swapped between
//! listing and opening.

use std::fs::FileType;
use std::io::ErrorKind;
use std::os::unix::fs::FileTypeExt;
use std::path::Path;

use super::super::io_failure;
use super::super::sys::{self, FileKind, ReadFileError};
use crate::model::SourceFailure;

/// logind's files are under 2 KiB; anything past this is not one of them.
pub const MAX_STATE_FILE: usize = 64 << 10;

/// Which names a state directory may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Names {
    /// `sessions/ID` (and the `ID.ref` FIFOs, skipped).
    Sessions,
    /// `users/UID`.
    Users,
}

/// systemd's `session_id_valid()` (src/login/login-util.c, earlier
/// src/shared/login-shared.c): not empty, ASCII letters and digits only.
/// logind refuses to create a session with any other id, so any other name
/// in `sessions/` is not one of its session files.
pub fn session_id_valid(id: &str) -> bool {
    !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// A `users/` file name as logind writes it (`"/run/systemd/users/" UID_FMT`
/// in `user_new()`): plain decimal without sign or leading zeros, and never
/// `(uid_t) -1`, which `uid_is_valid()` rejects.
pub fn uid_file_name(name: &str) -> Option<u32> {
    let canonical = !name.is_empty()
        && name.bytes().all(|b| b.is_ascii_digit())
        && (name == "0" || !name.starts_with('0'));
    if !canonical {
        return None;
    }
    name.parse().ok().filter(|&uid| uid != u32::MAX)
}

fn kind_of(file_type: FileType) -> FileKind {
    if file_type.is_dir() {
        FileKind::Directory
    } else if file_type.is_symlink() {
        FileKind::Symlink
    } else if file_type.is_fifo() {
        FileKind::Fifo
    } else if file_type.is_char_device() {
        FileKind::CharDevice
    } else if file_type.is_block_device() {
        FileKind::BlockDevice
    } else if file_type.is_socket() {
        FileKind::Socket
    } else {
        FileKind::Unknown
    }
}

/// Read the state files of `dir` (shown as `label` in notes) as (name, text),
/// sorted by name. Missing directory → Ok(None).
///
/// An entry that is not a logind state file is left unread with a short note
/// in `skipped`, one at a time, except the ones logind makes itself and that
/// are normal (`ID.ref` FIFOs, `.#…` temporaries renamed into place when
/// complete). Files that vanish between listing and reading are skipped
/// silently (logind removes them as sessions end). The source fails when the
/// directory cannot be listed or a session-named regular file cannot be read:
/// a hidden session could change a verdict.
pub(super) fn read_state_dir(
    dir: &Path,
    label: &str,
    names: Names,
    skipped: &mut Vec<String>,
) -> Result<Option<Vec<(String, String)>>, SourceFailure> {
    let listing_failure =
        |e: &std::io::Error| io_failure(e, &format!("logind directory {}", dir.display()));
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(listing_failure(&e)),
    };
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| listing_failure(&e))?;
        let os_name = entry.file_name();
        let Some(name) = os_name.to_str() else {
            skipped.push(format!(
                "{label}/{}: name is not UTF-8, not a logind file; skipped",
                os_name.to_string_lossy()
            ));
            continue;
        };
        if name.starts_with(".#") {
            continue;
        }
        // From the directory entry (d_type), or lstat: never follows a symlink.
        let file_type = match entry.file_type() {
            Ok(t) => t,
            Err(e) if e.kind() == ErrorKind::NotFound => continue,
            Err(e) => return Err(io_failure(&e, &format!("logind file {label}/{name}"))),
        };
        let name_ok = match names {
            Names::Sessions => {
                let is_session_fifo =
                    name.strip_suffix(".ref").is_some_and(session_id_valid) && file_type.is_fifo();
                if is_session_fifo {
                    continue;
                }
                session_id_valid(name)
            }
            Names::Users => uid_file_name(name).is_some(),
        };
        if !name_ok {
            let expected = match names {
                Names::Sessions => "a session id (letters and digits)",
                Names::Users => "a uid",
            };
            skipped.push(format!("{label}/{name}: name is not {expected}; skipped"));
            continue;
        }
        if !file_type.is_file() {
            skipped.push(format!(
                "{label}/{name}: {}, not a regular file; skipped",
                kind_of(file_type)
            ));
            continue;
        }
        match sys::read_regular_file(&entry.path(), MAX_STATE_FILE, false) {
            Ok(bytes) => files.push((
                name.to_string(),
                String::from_utf8_lossy(&bytes).into_owned(),
            )),
            Err(ReadFileError::Io(e)) if e.kind() == ErrorKind::NotFound => continue,
            Err(ReadFileError::Io(e)) => {
                return Err(io_failure(
                    &e,
                    &format!("logind file {}", entry.path().display()),
                ));
            }
            Err(e @ (ReadFileError::NotRegular { .. } | ReadFileError::TooLarge { .. })) => {
                skipped.push(format!("{label}/{name}: {e}; skipped"));
            }
        }
    }
    files.sort();
    Ok(Some(files))
}

#[cfg(test)]
mod tests {
    use super::super::read;
    use super::*;
    use proptest::prelude::*;
    use std::process::Command;

    fn mkfifo(path: &Path) {
        let status = Command::new("mkfifo").arg(path).status().unwrap();
        assert!(status.success());
    }

    const SESSION: &str =
        "# This is private data. Do not parse.\nUID=1000\nUSER=alice\nSTATE=active\n";

    #[test]
    fn odd_entries_are_skipped_one_at_a_time_and_sessions_still_read() {
        let root = tempfile::tempdir().unwrap();
        let sessions = root.path().join("sessions");
        let users = root.path().join("users");
        std::fs::create_dir_all(sessions.join("4")).unwrap();
        std::fs::create_dir_all(users.join("1001")).unwrap();
        std::fs::write(sessions.join("3"), SESSION).unwrap();
        std::fs::write(sessions.join("c2"), "UID=0\nUSER=root\n").unwrap();
        mkfifo(&sessions.join("3.ref"));
        mkfifo(&sessions.join("5"));
        std::fs::write(sessions.join(".#3Ab12x"), "UID=1000\n").unwrap();
        std::os::unix::fs::symlink("3", sessions.join("6")).unwrap();
        std::fs::write(sessions.join("7"), vec![b'#'; MAX_STATE_FILE + 1]).unwrap();
        std::fs::write(sessions.join("bad-name"), SESSION).unwrap();
        std::fs::write(users.join("1000"), "NAME=alice\nSTATE=active\n").unwrap();
        std::fs::write(users.join("0012"), "NAME=x\n").unwrap();
        std::fs::write(users.join("abc"), "NAME=y\n").unwrap();

        let (tx, rx) = std::sync::mpsc::channel();
        let dir = root.path().to_path_buf();
        std::thread::spawn(move || {
            let _ = tx.send(read(&dir));
        });
        let state = rx
            .recv_timeout(std::time::Duration::from_secs(1))
            .expect("reading the logind tree blocked")
            .expect("the logind tree is readable");

        let ids: Vec<&str> = state.sessions.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, ["3", "c2"]);
        assert_eq!(state.sessions[0].uid(), Some(1000));
        assert_eq!(state.users.len(), 1);
        assert_eq!(state.users[0].name.as_deref(), Some("alice"));
        let mut notes = state.skipped.clone();
        notes.sort();
        assert_eq!(
            notes,
            [
                "sessions/4: a directory, not a regular file; skipped",
                "sessions/5: a FIFO, not a regular file; skipped",
                "sessions/6: a symbolic link, not a regular file; skipped",
                "sessions/7: larger than 65536 bytes; skipped",
                "sessions/bad-name: name is not a session id (letters and digits); skipped",
                "users/0012: name is not a uid; skipped",
                "users/1001: a directory, not a regular file; skipped",
                "users/abc: name is not a uid; skipped",
            ]
        );
        assert!(!state.seats_present);
        std::fs::create_dir(root.path().join("seats")).unwrap();
        assert!(read(root.path()).unwrap().seats_present);
    }

    #[test]
    fn names_follow_systemd() {
        assert!(session_id_valid("3"));
        assert!(session_id_valid("c12"));
        assert!(session_id_valid("Ab9"));
        for bad in ["", "3.ref", "c-1", "é", ".#3", "3 ", "../3"] {
            assert!(!session_id_valid(bad), "{bad:?}");
        }
        assert_eq!(uid_file_name("0"), Some(0));
        assert_eq!(uid_file_name("1000"), Some(1000));
        for bad in ["", "+5", "007", "-1", "4294967295", "4294967296", "1e3"] {
            assert_eq!(uid_file_name(bad), None, "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn uid_names_roundtrip(uid in 0u32..u32::MAX) {
            prop_assert_eq!(uid_file_name(&uid.to_string()), Some(uid));
            let padded = format!("0{uid}");
            prop_assert_eq!(uid_file_name(&padded), None);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        /// Every regular file with a session-id name is read; every other
        /// name is skipped with a note, except logind's `.#` temporaries.
        #[test]
        fn every_session_named_file_is_read_and_every_other_noted(
            names in proptest::collection::btree_set("[A-Za-z0-9]{1,5}|[a-z0-9.#_-]{1,6}", 0..12)
        ) {
            let names: Vec<String> = names.into_iter().filter(|n| n != "." && n != "..").collect();
            let root = tempfile::tempdir().unwrap();
            let sessions = root.path().join("sessions");
            std::fs::create_dir(&sessions).unwrap();
            for name in &names {
                std::fs::write(sessions.join(name), format!("UID=1\nSERVICE={name}\n")).unwrap();
            }
            let state = read(root.path()).unwrap();
            let mut read_ids: Vec<String> = state.sessions.iter().map(|s| s.id.clone()).collect();
            read_ids.sort();
            let mut valid: Vec<String> = names.iter().filter(|n| session_id_valid(n)).cloned().collect();
            valid.sort();
            prop_assert_eq!(read_ids, valid);
            for s in &state.sessions {
                prop_assert_eq!(s.fields.get("SERVICE"), Some(&s.id));
            }
            let noted = names.iter().filter(|n| !session_id_valid(n) && !n.starts_with(".#")).count();
            prop_assert_eq!(state.skipped.len(), noted);
        }
    }
}

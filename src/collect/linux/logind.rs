//! systemd-logind state read from its runtime files.
//!
//! logind writes one env-style file per session (`sessions/ID`) and per user
//! (`users/UID`): `KEY=VALUE` lines whose values may be C-escaped and/or
//! quoted. Parsing is pure ([`parse_env`]); the reading is separate.
//!
//! The files carry the same facts as D-Bus and work without a running bus,
//! inside containers and against a copied `/run/systemd` directory; where
//! the bus answers, [`super::logind_dbus`] reads it instead.
//!
//! Interactive state, decided here (logind → WTS vocabulary):
//! `active` → Active; `online` → Disconnected (logged in on a seat but not in
//! the foreground: the Linux twin of a fast-user-switched Windows session);
//! `closing` → Disconnected (the login has ended but the session still holds
//! processes); anything else → Unknown.

mod files;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use jiff::Timestamp;

use crate::model::{
    FailureKind, InteractiveSession, InteractiveState, LogonSession, SourceFailure,
};
use files::Names;
pub use files::{MAX_STATE_FILE, session_id_valid, uid_file_name};

/// One logind session file: its id (the file name) and its fields.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LogindSession {
    pub id: String,
    pub fields: HashMap<String, String>,
}

/// One logind user file (`users/UID`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LogindUser {
    pub uid: u32,
    pub name: Option<String>,
    pub state: Option<String>,
}

/// Everything read from a logind directory.
#[derive(Debug, Clone, Default)]
pub struct LogindState {
    pub sessions: Vec<LogindSession>,
    pub users: Vec<LogindUser>,
    /// One short note per entry of `sessions/` or `users/` that was left
    /// unread because logind does not write such a thing there (a
    /// subdirectory, a stray FIFO, a symlink, a device, an oversized file, a
    /// foreign name). Not for `ID.ref` FIFOs and `.#…` temporaries: those are
    /// logind's own.
    pub skipped: Vec<String>,
    /// Whether `<logind_dir>/seats/` exists. A running logind always
    /// instantiates `seat0` and writes `seats/seat0` (`manager_startup()` →
    /// `seat_start()` → `seat_save()`), and sd-login's own `logind_running()`
    /// tests exactly this directory; a tree without it is leftover state.
    /// Whether that means "logind is running" is the caller's decision.
    pub seats_present: bool,
}

/// Parse env-file text into (key, value) pairs, in order. Blank lines,
/// comments and lines without `=` are skipped; values are unquoted and
/// unescaped. Never fails: a damaged line costs only that line.
pub fn parse_env(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|line| {
            let line = line.trim_start();
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                return None;
            }
            let (key, value) = line.split_once('=')?;
            let key = key.trim();
            if key.is_empty() {
                return None;
            }
            Some((key.to_string(), unescape_value(value.trim_end())))
        })
        .collect()
}

/// Undo the quoting and C escaping systemd applies to env-file values.
pub fn unescape_value(raw: &str) -> String {
    let (body, quote) = match raw.as_bytes() {
        [q @ (b'"' | b'\''), .., last] if last == q && raw.len() >= 2 => {
            (&raw[1..raw.len() - 1], Some(*q))
        }
        _ => (raw, None),
    };
    if quote == Some(b'\'') {
        // Single quotes: literal, as in the shell.
        return body.to_string();
    }
    let mut out = String::with_capacity(body.len());
    let mut bytes: Vec<u8> = Vec::new();
    let mut chars = body.chars().peekable();
    // Escapes may spell raw bytes (\xc3\xa9); collect them and decode lossily.
    let flush = |bytes: &mut Vec<u8>, out: &mut String| {
        if !bytes.is_empty() {
            out.push_str(&String::from_utf8_lossy(bytes));
            bytes.clear();
        }
    };
    while let Some(c) = chars.next() {
        if c != '\\' {
            flush(&mut bytes, &mut out);
            out.push(c);
            continue;
        }
        let Some(e) = chars.next() else {
            flush(&mut bytes, &mut out);
            out.push('\\');
            break;
        };
        let simple = match e {
            'n' => Some('\n'),
            't' => Some('\t'),
            'r' => Some('\r'),
            'a' => Some('\u{7}'),
            'b' => Some('\u{8}'),
            'f' => Some('\u{c}'),
            'v' => Some('\u{b}'),
            's' => Some(' '),
            '\\' | '"' | '\'' | '$' | '`' | '?' => Some(e),
            _ => None,
        };
        if let Some(s) = simple {
            flush(&mut bytes, &mut out);
            out.push(s);
        } else if e == 'x' {
            let hex: String = std::iter::from_fn(|| chars.next_if(char::is_ascii_hexdigit))
                .take(2)
                .collect();
            match u8::from_str_radix(&hex, 16) {
                Ok(b) => bytes.push(b),
                Err(_) => {
                    flush(&mut bytes, &mut out);
                    out.push_str("\\x");
                    out.push_str(&hex);
                }
            }
        } else if ('0'..='7').contains(&e) {
            let mut value = u32::from(e) - u32::from('0');
            for _ in 0..2 {
                match chars.next_if(|c| ('0'..='7').contains(c)) {
                    Some(d) => value = value * 8 + (u32::from(d) - u32::from('0')),
                    None => break,
                }
            }
            bytes.push((value & 0xff) as u8);
        } else {
            // Unknown escape: keep it as written.
            flush(&mut bytes, &mut out);
            out.push('\\');
            out.push(e);
        }
    }
    flush(&mut bytes, &mut out);
    out
}

/// Parse one session file.
pub fn parse_session(id: &str, text: &str) -> LogindSession {
    LogindSession {
        id: id.to_string(),
        fields: parse_env(text).into_iter().collect(),
    }
}

/// Parse one user file named by its uid.
pub fn parse_user(uid: u32, text: &str) -> LogindUser {
    let fields: HashMap<String, String> = parse_env(text).into_iter().collect();
    LogindUser {
        uid,
        name: fields.get("NAME").cloned(),
        state: fields.get("STATE").cloned(),
    }
}

impl LogindSession {
    fn get(&self, key: &str) -> Option<&str> {
        self.fields
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    fn number<T: std::str::FromStr>(&self, key: &str) -> Option<T> {
        self.get(key)?.trim().parse().ok()
    }

    pub fn uid(&self) -> Option<u32> {
        self.number("UID")
    }

    pub fn state(&self) -> Option<&str> {
        self.get("STATE")
    }

    pub fn tty(&self) -> Option<&str> {
        self.get("TTY")
    }

    pub fn seat(&self) -> Option<&str> {
        self.get("SEAT")
    }

    pub fn leader(&self) -> Option<u32> {
        self.number::<u32>("LEADER").filter(|&p| p > 0)
    }

    /// REALTIME: microseconds since the epoch.
    pub fn start_time(&self) -> Option<Timestamp> {
        let micros: i64 = self.number("REALTIME")?;
        Timestamp::from_microsecond(micros).ok()
    }

    /// USER, else the name logind recorded for the session's uid.
    pub fn user_name(&self, users: &[LogindUser]) -> Option<String> {
        self.get("USER").map(str::to_string).or_else(|| {
            let uid = self.uid()?;
            users.iter().find(|u| u.uid == uid)?.name.clone()
        })
    }

    pub fn to_logon_session(&self, users: &[LogindUser]) -> LogonSession {
        let session_type = match (self.get("TYPE"), self.get("CLASS")) {
            (Some(t), Some(c)) => Some(format!("{t}/{c}")),
            (Some(t), None) => Some(t.to_string()),
            (None, Some(c)) => Some(format!("/{c}")),
            (None, None) => None,
        };
        LogonSession {
            logon_id: self.id.clone(),
            user: self.user_name(users),
            uid: self.uid(),
            session_type,
            state: self.state().map(str::to_string),
            remote_host: self.get("REMOTE_HOST").map(str::to_string),
            tty: self.tty().map(str::to_string),
            service: self.get("SERVICE").map(str::to_string),
            leader_pid: self.leader(),
            audit_session: self.number::<u32>("AUDIT").filter(|&a| a != u32::MAX),
            start_time: self.start_time(),
            ..LogonSession::default()
        }
    }

    /// An interactive row when the session has a terminal or a seat.
    /// `idle_of_tty` gives seconds since last input on a tty (from its atime).
    pub fn to_interactive(
        &self,
        users: &[LogindUser],
        idle_of_tty: impl Fn(&str) -> Option<u64>,
    ) -> Option<InteractiveSession> {
        let station = self.tty().or(self.seat())?;
        Some(InteractiveSession {
            session_id: self.id.clone(),
            station: Some(station.to_string()),
            user: self.user_name(users),
            state: interactive_state(self.state()),
            client_name: self.get("REMOTE_HOST").map(str::to_string),
            logon_time: self.start_time(),
            idle_secs: self.tty().and_then(idle_of_tty),
            pid: self.leader(),
            ..InteractiveSession::default()
        })
    }
}

/// logind session state → interactive state (see the module comment for why).
pub fn interactive_state(state: Option<&str>) -> InteractiveState {
    match state {
        Some("active") => InteractiveState::Active,
        Some("online" | "closing") => InteractiveState::Disconnected,
        _ => InteractiveState::Unknown,
    }
}

/// Read `sessions/` and `users/` under `logind_dir`. Neither present → NotAvailable.
///
/// Only names logind itself writes are read, and only regular files
/// ([`files`] says why and how); every other entry is skipped with a note in
/// [`LogindState::skipped`].
pub fn read(logind_dir: &Path) -> Result<LogindState, SourceFailure> {
    let mut skipped = Vec::new();
    let sessions = files::read_state_dir(
        &logind_dir.join("sessions"),
        "sessions",
        Names::Sessions,
        &mut skipped,
    )?;
    let users = files::read_state_dir(
        &logind_dir.join("users"),
        "users",
        Names::Users,
        &mut skipped,
    )?;
    if sessions.is_none() && users.is_none() {
        return Err(SourceFailure::new(
            FailureKind::NotAvailable,
            None,
            format!(
                "no systemd-logind state under {} (no sessions/ or users/): logind is not running here",
                logind_dir.display()
            ),
        ));
    }
    let mut sessions: Vec<LogindSession> = sessions
        .unwrap_or_default()
        .iter()
        .map(|(id, text)| parse_session(id, text))
        .collect();
    sessions.sort_by(|a, b| natural_key(&a.id).cmp(&natural_key(&b.id)));
    let users = users
        .unwrap_or_default()
        .iter()
        .filter_map(|(name, text)| Some(parse_user(uid_file_name(name)?, text)))
        .collect();
    Ok(LogindState {
        sessions,
        users,
        skipped,
        seats_present: matches!(logind_dir.join("seats").try_exists(), Ok(true)),
    })
}

/// Sort session ids numerically where they are numbers (`2` before `10`), `c1`-style after.
pub(super) fn natural_key(id: &str) -> (u64, &str) {
    (id.parse().unwrap_or(u64::MAX), id)
}

/// Where systemd keeps linger flags for a given logind runtime directory:
/// the real `/var/lib/systemd/linger` for the real `/run/systemd`, and
/// `<dir>/linger` for any other directory (tests, copied state).
pub fn linger_dir_for(logind_dir: &Path) -> PathBuf {
    if logind_dir == Path::new("/run/systemd") {
        PathBuf::from("/var/lib/systemd/linger")
    } else {
        logind_dir.join("linger")
    }
}

/// Users with linger enabled (one empty file per user name). Missing directory: none.
pub fn lingering_users(linger_dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(linger_dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect();
    names.sort();
    names
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SESSION_3: &str = "# This is private data. Do not parse.\n\
        UID=1000\nUSER=alice\nACTIVE=1\nIS_DISPLAY=0\nSTATE=active\nREMOTE=1\nTYPE=tty\nCLASS=user\n\
        SCOPE=session-3.scope\nFIFO=/run/systemd/sessions/3.ref\nTTY=pts/0\nREMOTE_HOST=192.0.2.5\n\
        SERVICE=sshd\nLEADER=1234\nAUDIT=3\nREALTIME=1700000000123456\nMONOTONIC=123\n";

    #[test]
    fn session_file_becomes_logon_session() {
        let s = parse_session("3", SESSION_3).to_logon_session(&[]);
        assert_eq!(s.logon_id, "3");
        assert_eq!(s.user.as_deref(), Some("alice"));
        assert_eq!(s.uid, Some(1000));
        assert_eq!(s.session_type.as_deref(), Some("tty/user"));
        assert_eq!(s.state.as_deref(), Some("active"));
        assert_eq!(s.remote_host.as_deref(), Some("192.0.2.5"));
        assert_eq!(s.tty.as_deref(), Some("pts/0"));
        assert_eq!(s.service.as_deref(), Some("sshd"));
        assert_eq!(s.leader_pid, Some(1234));
        assert_eq!(s.audit_session, Some(3));
        assert_eq!(
            s.start_time.unwrap().as_microsecond(),
            1_700_000_000_123_456
        );
    }

    #[test]
    fn interactive_row_needs_tty_or_seat() {
        let with_tty = parse_session("3", SESSION_3);
        let row = with_tty
            .to_interactive(&[], |tty| (tty == "pts/0").then_some(42))
            .unwrap();
        assert_eq!(row.session_id, "3");
        assert_eq!(row.station.as_deref(), Some("pts/0"));
        assert_eq!(row.state, InteractiveState::Active);
        assert_eq!(row.idle_secs, Some(42));
        assert_eq!(row.pid, Some(1234));
        assert_eq!(row.client_name.as_deref(), Some("192.0.2.5"));

        let seat = parse_session("c2", "USER=bob\nSEAT=seat0\nSTATE=online\n");
        let row = seat.to_interactive(&[], |_| Some(1)).unwrap();
        assert_eq!(row.station.as_deref(), Some("seat0"));
        assert_eq!(row.state, InteractiveState::Disconnected);
        assert_eq!(row.idle_secs, None);

        let neither = parse_session("9", "USER=svc\nSTATE=active\nCLASS=background\n");
        assert!(neither.to_interactive(&[], |_| None).is_none());
    }

    #[test]
    fn user_name_falls_back_to_users_file() {
        let users = [parse_user(1001, "NAME=carol\nSTATE=closing\n")];
        let s = parse_session("5", "UID=1001\nSTATE=closing\n").to_logon_session(&users);
        assert_eq!(s.user.as_deref(), Some("carol"));
        assert_eq!(users[0].state.as_deref(), Some("closing"));
    }

    #[test]
    fn state_mapping() {
        assert_eq!(interactive_state(Some("active")), InteractiveState::Active);
        assert_eq!(
            interactive_state(Some("online")),
            InteractiveState::Disconnected
        );
        assert_eq!(
            interactive_state(Some("closing")),
            InteractiveState::Disconnected
        );
        assert_eq!(interactive_state(Some("weird")), InteractiveState::Unknown);
        assert_eq!(interactive_state(None), InteractiveState::Unknown);
    }

    #[test]
    fn values_are_unescaped() {
        assert_eq!(unescape_value(r"host\x20name"), "host name");
        assert_eq!(unescape_value(r#""quoted \"value\"""#), "quoted \"value\"");
        assert_eq!(unescape_value(r"'lit\x20eral'"), r"lit\x20eral");
        assert_eq!(unescape_value(r"caf\xc3\xa9"), "café");
        assert_eq!(unescape_value(r"oct\101"), "octA");
        assert_eq!(unescape_value(r"tab\there"), "tab\there");
        assert_eq!(unescape_value(r"trailing\"), "trailing\\");
        assert_eq!(unescape_value(r"bad\xZZ"), r"bad\xZZ");
        assert_eq!(unescape_value(r"\q"), r"\q");
    }

    #[test]
    fn unset_and_bad_numbers_are_none() {
        let s = parse_session("1", "UID=abc\nLEADER=0\nAUDIT=4294967295\nREALTIME=-\n")
            .to_logon_session(&[]);
        assert_eq!(
            (s.uid, s.leader_pid, s.audit_session, s.start_time),
            (None, None, None, None)
        );
    }

    #[test]
    fn env_parser_skips_junk_lines() {
        let pairs = parse_env("\n# c\n; c\nnoequals\n=novalue\nA=1\n  B = two \n");
        assert_eq!(
            pairs,
            vec![("A".into(), "1".into()), ("B".into(), " two".into())]
        );
    }

    #[test]
    fn numeric_session_ids_sort_numerically() {
        let mut ids = vec!["10", "c1", "2"];
        ids.sort_by(|a, b| natural_key(a).cmp(&natural_key(b)));
        assert_eq!(ids, ["2", "10", "c1"]);
    }

    fn escape(value: &str) -> String {
        let mut out = String::new();
        for c in value.chars() {
            match c {
                '\\' => out.push_str(r"\\"),
                '"' => out.push_str("\\\""),
                '\n' => out.push_str(r"\n"),
                c if c.is_ascii_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
                c => out.push(c),
            }
        }
        out
    }

    proptest! {
        #[test]
        fn escaped_values_roundtrip(key in "[A-Z_]{1,12}", value in "\\PC{0,40}") {
            let text = format!("{key}=\"{}\"\n", escape(&value));
            let pairs = parse_env(&text);
            // Leading/trailing whitespace inside quotes survives because the quotes protect it.
            prop_assert_eq!(pairs, vec![(key, value)]);
        }

        #[test]
        fn arbitrary_text_never_panics(text in "\\PC{0,300}", id in "[a-z0-9]{1,4}") {
            let session = parse_session(&id, &text);
            let row = session.to_logon_session(&[]);
            prop_assert_eq!(row.logon_id, id);
            let _ = session.to_interactive(&[], |_| None);
            let _ = unescape_value(&text);
        }
    }
}

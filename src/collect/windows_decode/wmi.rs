//! WMI answers (Win32_LogonSession, Win32_LoggedOnUser, Win32_Process,
//! Win32_SessionProcess) into logon sessions and processes.
//!
//! One query per class, then a join here: the associations name their ends
//! by WMI object paths such as
//! `\\SRV01\root\cimv2:Win32_Account.Domain="CONTOSO",Name="alice"`, which
//! [`parse_object_path`] reads. This is what Get-LingeringSessions.ps1 does
//! with an ASSOCIATORS OF query per session, in four round trips instead of
//! one per session.

use std::collections::HashMap;

use jiff::Timestamp;
use jiff::tz::Offset;

use crate::model::{LogonSession, ProcessRow};

/// A WMI object path: the class and its key properties.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectPath {
    pub class: String,
    pub keys: Vec<(String, String)>,
}

impl ObjectPath {
    pub fn key(&self, name: &str) -> Option<&str> {
        self.keys
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Parse `[\\server\namespace:]Class.Key1="v",Key2=5` (or `Class=@` for singletons).
/// Quoted values may contain `\"` and `\\` escapes and any other character.
pub fn parse_object_path(path: &str) -> Option<ObjectPath> {
    // The namespace part ends at the first ':' outside quotes; class names have no quotes.
    let rel = match path.find(':') {
        Some(colon) if !path[..colon].contains('"') => &path[colon + 1..],
        _ => path,
    };
    let (class, mut rest) = match rel.find(['.', '=']) {
        Some(i) => (&rel[..i], &rel[i..]),
        None => (rel, ""),
    };
    let class = class.trim();
    if class.is_empty() || !class.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return None;
    }
    let mut keys = Vec::new();
    if let Some(singleton) = rest.strip_prefix('=') {
        return (singleton == "@").then(|| ObjectPath {
            class: class.to_string(),
            keys,
        });
    }
    if let Some(r) = rest.strip_prefix('.') {
        rest = r;
        loop {
            let eq = rest.find('=')?;
            let name = rest[..eq].trim();
            if name.is_empty() {
                return None;
            }
            let (value, after) = parse_value(&rest[eq + 1..])?;
            keys.push((name.to_string(), value));
            match after.strip_prefix(',') {
                Some(next) => rest = next,
                None if after.is_empty() => break,
                None => return None,
            }
        }
    }
    Some(ObjectPath {
        class: class.to_string(),
        keys,
    })
}

/// A quoted string with escapes, or a bare token up to the next ','.
fn parse_value(text: &str) -> Option<(String, &str)> {
    if let Some(quoted) = text.strip_prefix('"') {
        let mut value = String::new();
        let mut chars = quoted.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => return Some((value, &quoted[i + 1..])),
                '\\' => value.push(chars.next()?.1),
                c => value.push(c),
            }
        }
        None
    } else {
        let end = text.find(',').unwrap_or(text.len());
        let token = text[..end].trim();
        (!token.is_empty()).then(|| (token.to_string(), &text[end..]))
    }
}

/// Parse a CIM DATETIME, `yyyymmddHHMMSS.mmmmmmsUUU` (UUU: minutes east of
/// UTC, sign `s`). Fields WMI does not know are `*`; those give `None`.
pub fn parse_cim_datetime(text: &str) -> Option<Timestamp> {
    let b = text.as_bytes();
    if b.len() != 25 || b[14] != b'.' || !(b[21] == b'+' || b[21] == b'-') {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<i32> {
        let s = text.get(range)?;
        if !s.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        s.parse().ok()
    };
    let year = i16::try_from(num(0..4)?).ok()?;
    let month = i8::try_from(num(4..6)?).ok()?;
    let day = i8::try_from(num(6..8)?).ok()?;
    let hour = i8::try_from(num(8..10)?).ok()?;
    let minute = i8::try_from(num(10..12)?).ok()?;
    let second = i8::try_from(num(12..14)?).ok()?;
    let micros = num(15..21)?;
    let offset_minutes = num(22..25)? * if b[21] == b'-' { -1 } else { 1 };
    let civil =
        jiff::civil::DateTime::new(year, month, day, hour, minute, second, micros * 1000).ok()?;
    let offset = Offset::from_seconds(offset_minutes * 60).ok()?;
    offset.to_timestamp(civil).ok()
}

/// One Win32_LogonSession instance.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WmiLogonSession {
    pub logon_id: String,
    pub logon_type: Option<u32>,
    pub auth_package: Option<String>,
    /// CIM DATETIME text.
    pub start_time: Option<String>,
}

/// One Win32_Process instance.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WmiProcess {
    pub pid: u32,
    pub ppid: Option<u32>,
    pub name: String,
    pub session_id: Option<u32>,
    /// CIM DATETIME text.
    pub creation_date: Option<String>,
}

/// One association instance (Win32_LoggedOnUser, Win32_SessionProcess): two object paths.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WmiAssociation {
    pub antecedent: String,
    pub dependent: String,
}

/// The four answers; an association that could not be read is `None`
/// (the rows are still reported, without what it would have added).
#[derive(Debug, Clone, Default)]
pub struct WmiAnswers {
    pub logon_sessions: Vec<WmiLogonSession>,
    pub logged_on_users: Option<Vec<WmiAssociation>>,
    pub processes: Vec<WmiProcess>,
    pub session_processes: Option<Vec<WmiAssociation>>,
}

/// (domain, name) of each logon session id, from Win32_LoggedOnUser.
fn accounts_by_logon(assocs: &[WmiAssociation]) -> HashMap<String, (String, String)> {
    let mut map = HashMap::new();
    for assoc in assocs {
        let (Some(account), Some(session)) = (
            parse_object_path(&assoc.antecedent),
            parse_object_path(&assoc.dependent),
        ) else {
            continue;
        };
        let (Some(logon_id), Some(name)) = (session.key("LogonId"), account.key("Name")) else {
            continue;
        };
        let domain = account.key("Domain").unwrap_or_default();
        map.insert(logon_id.to_string(), (domain.to_string(), name.to_string()));
    }
    map
}

/// Logon session id of each process handle (pid), from Win32_SessionProcess.
fn logon_by_pid(assocs: &[WmiAssociation]) -> HashMap<u32, String> {
    let mut map = HashMap::new();
    for assoc in assocs {
        let (Some(session), Some(process)) = (
            parse_object_path(&assoc.antecedent),
            parse_object_path(&assoc.dependent),
        ) else {
            continue;
        };
        let (Some(logon_id), Some(pid)) = (
            session.key("LogonId"),
            process.key("Handle").and_then(|h| h.parse().ok()),
        ) else {
            continue;
        };
        map.insert(pid, logon_id.to_string());
    }
    map
}

/// Join the four answers into model rows.
pub fn join_answers(answers: &WmiAnswers) -> (Vec<LogonSession>, Vec<ProcessRow>) {
    let accounts = answers
        .logged_on_users
        .as_deref()
        .map(accounts_by_logon)
        .unwrap_or_default();
    let sessions = answers
        .logon_sessions
        .iter()
        .map(|s| {
            let account = accounts.get(&s.logon_id);
            LogonSession {
                logon_id: s.logon_id.clone(),
                user: account.map(|(_, name)| name.clone()),
                domain: account
                    .map(|(domain, _)| domain.clone())
                    .filter(|d| !d.is_empty()),
                logon_type: s.logon_type,
                auth_package: s.auth_package.clone().filter(|p| !p.is_empty()),
                start_time: s.start_time.as_deref().and_then(parse_cim_datetime),
                ..LogonSession::default()
            }
        })
        .collect();
    let logons = answers
        .session_processes
        .as_deref()
        .map(logon_by_pid)
        .unwrap_or_default();
    let processes = answers
        .processes
        .iter()
        .map(|p| {
            let logon_id = logons.get(&p.pid).cloned();
            let user = logon_id
                .as_ref()
                .and_then(|id| accounts.get(id))
                .map(|(domain, name)| super::process::account_name(domain, name));
            ProcessRow {
                pid: p.pid,
                name: p.name.clone(),
                user,
                logon_id,
                terminal_session_id: p.session_id,
                start_time: p.creation_date.as_deref().and_then(parse_cim_datetime),
                ppid: p.ppid,
                ..ProcessRow::default()
            }
        })
        .collect();
    (sessions, processes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn object_paths_with_namespace_quotes_and_escapes() {
        let p =
            parse_object_path(r#"\\SRV01\root\cimv2:Win32_Account.Domain="CONTOSO",Name="alice""#)
                .unwrap();
        assert_eq!(p.class, "Win32_Account");
        assert_eq!(p.key("domain"), Some("CONTOSO"));
        assert_eq!(p.key("Name"), Some("alice"));
        let p = parse_object_path(r#"Win32_Process.Handle="4242""#).unwrap();
        assert_eq!(p.key("Handle"), Some("4242"));
        let p = parse_object_path(r#"Win32_X.Name="a\"b,c\\d:e",Id=5"#).unwrap();
        assert_eq!(p.key("Name"), Some(r#"a"b,c\d:e"#));
        assert_eq!(p.key("Id"), Some("5"));
        let p = parse_object_path("Win32_OperatingSystem=@").unwrap();
        assert!(p.keys.is_empty());
    }

    #[test]
    fn malformed_paths_are_rejected() {
        for bad in [
            "",
            ":",
            r#"Win32_A.Name="unterminated"#,
            r#"Win32_A.="x""#,
            r#"Win32_A.Name="a"junk"#,
            "Bad Class.X=1",
            "W=x",
        ] {
            assert_eq!(parse_object_path(bad), None, "{bad}");
        }
    }

    #[test]
    fn cim_datetimes() {
        assert_eq!(
            parse_cim_datetime("20240102030405.500000+060"),
            Some("2024-01-02T02:04:05.5Z".parse().unwrap())
        );
        assert_eq!(
            parse_cim_datetime("20240102030405.000000-300"),
            Some("2024-01-02T08:04:05Z".parse().unwrap())
        );
        assert_eq!(parse_cim_datetime("2024010203****.******+000"), None);
        assert_eq!(parse_cim_datetime("20241302030405.000000+000"), None);
        assert_eq!(parse_cim_datetime(""), None);
    }

    fn assoc(a: &str, d: &str) -> WmiAssociation {
        WmiAssociation {
            antecedent: a.into(),
            dependent: d.into(),
        }
    }

    #[test]
    fn join_links_accounts_sessions_and_processes() {
        let answers = WmiAnswers {
            logon_sessions: vec![
                WmiLogonSession {
                    logon_id: "999".into(),
                    logon_type: Some(0),
                    auth_package: Some("NTLM".into()),
                    start_time: None,
                },
                WmiLogonSession {
                    logon_id: "4660".into(),
                    logon_type: Some(10),
                    auth_package: Some("Kerberos".into()),
                    start_time: Some("20240101000000.000000+000".into()),
                },
                WmiLogonSession {
                    logon_id: "7777".into(),
                    logon_type: Some(3),
                    auth_package: None,
                    start_time: None,
                },
            ],
            logged_on_users: Some(vec![
                assoc(
                    r#"\\SRV\root\cimv2:Win32_SystemAccount.Domain="NT AUTHORITY",Name="SYSTEM""#,
                    r#"\\SRV\root\cimv2:Win32_LogonSession.LogonId="999""#,
                ),
                assoc(
                    r#"\\SRV\root\cimv2:Win32_Account.Domain="CONTOSO",Name="alice""#,
                    r#"\\SRV\root\cimv2:Win32_LogonSession.LogonId="4660""#,
                ),
                assoc("garbage", "more garbage"),
            ]),
            processes: vec![
                WmiProcess {
                    pid: 500,
                    ppid: Some(4),
                    name: "explorer.exe".into(),
                    session_id: Some(2),
                    creation_date: None,
                },
                WmiProcess {
                    pid: 600,
                    ppid: None,
                    name: "orphan.exe".into(),
                    session_id: None,
                    creation_date: None,
                },
            ],
            session_processes: Some(vec![assoc(
                r#"\\SRV\root\cimv2:Win32_LogonSession.LogonId="4660""#,
                r#"\\SRV\root\cimv2:Win32_Process.Handle="500""#,
            )]),
        };
        let (sessions, processes) = join_answers(&answers);
        assert_eq!(sessions.len(), 3);
        assert_eq!(
            (sessions[0].domain.as_deref(), sessions[0].user.as_deref()),
            (Some("NT AUTHORITY"), Some("SYSTEM"))
        );
        assert_eq!(sessions[1].user.as_deref(), Some("alice"));
        assert_eq!(
            sessions[1].start_time,
            Some("2024-01-01T00:00:00Z".parse().unwrap())
        );
        assert_eq!(
            (sessions[2].user.as_ref(), sessions[2].auth_package.as_ref()),
            (None, None)
        );
        assert_eq!(processes[0].user.as_deref(), Some(r"CONTOSO\alice"));
        assert_eq!(processes[0].logon_id.as_deref(), Some("4660"));
        assert_eq!(processes[0].terminal_session_id, Some(2));
        assert_eq!(
            (processes[1].user.as_ref(), processes[1].logon_id.as_ref()),
            (None, None)
        );
    }

    #[test]
    fn missing_associations_leave_rows_without_owner() {
        let answers = WmiAnswers {
            logon_sessions: vec![WmiLogonSession {
                logon_id: "1".into(),
                ..Default::default()
            }],
            processes: vec![WmiProcess {
                pid: 1,
                name: "a".into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        let (sessions, processes) = join_answers(&answers);
        assert_eq!(sessions[0].user, None);
        assert_eq!(processes[0].logon_id, None);
    }

    proptest! {
        #[test]
        fn object_path_parser_never_panics(s in "\\PC{0,80}") {
            let _ = parse_object_path(&s);
        }

        #[test]
        fn quoted_values_round_trip(class in "[A-Za-z_][A-Za-z0-9_]{0,20}", value in "\\PC{0,30}") {
            let escaped = value.replace('\\', "\\\\").replace('"', "\\\"");
            let path = format!(r#"\\H\root\cimv2:{class}.Name="{escaped}",Id=7"#);
            let parsed = parse_object_path(&path).unwrap();
            prop_assert_eq!(&parsed.class, &class);
            prop_assert_eq!(parsed.key("Name"), Some(value.as_str()));
            prop_assert_eq!(parsed.key("Id"), Some("7"));
        }

        #[test]
        fn cim_datetime_never_panics(s in "[0-9+*.-]{0,30}") {
            let _ = parse_cim_datetime(&s);
        }

        #[test]
        fn cim_datetime_matches_jiff(secs in 0i64..4_000_000_000, offset in -720i32..=720) {
            let ts = Timestamp::from_second(secs).unwrap();
            let civil = Offset::from_seconds(offset * 60).unwrap().to_datetime(ts);
            let sign = if offset < 0 { '-' } else { '+' };
            let text = format!("{}.000000{sign}{:03}", civil.strftime("%Y%m%d%H%M%S"), offset.abs());
            prop_assert_eq!(parse_cim_datetime(&text), Some(ts));
        }
    }
}

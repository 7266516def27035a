//! Tests of smbstatus JSON parsing, on output captured from Samba 4.17 and on
//! JSON built to the shape of source3/utils/status_json.c.

use super::*;
use proptest::prelude::*;

const ONE_SESSION: &str = include_str!("../../../tests/fixtures/smbstatus/one_session.json");
const OPEN_FILE: &str = include_str!("../../../tests/fixtures/smbstatus/open_file.json");

#[test]
fn real_samba_417_session() {
    let sessions = parse_status_json(ONE_SESSION).unwrap();
    assert_eq!(sessions.len(), 1);
    let s = &sessions[0];
    assert_eq!(s.session_id.as_deref(), Some("3977921652"));
    assert_eq!(s.user.as_deref(), Some("lsuser1"));
    assert_eq!(s.domain, None);
    assert_eq!(s.client, "127.0.0.1");
    assert_eq!(s.dialect.as_deref(), Some("SMB3_11"));
    assert_eq!(s.encryption.as_deref(), Some("none"));
    assert_eq!(s.signing.as_deref(), Some("AES-128-GMAC (partial)"));
    assert_eq!(s.shares, ["share"]);
    assert_eq!(s.server_pid, Some(8450));
    assert_eq!(s.open_files, Some(0));
    assert_eq!(
        s.connected_at.unwrap().to_string(),
        "2026-11-25T11:16:15.873208Z"
    );
    // 4.17 gives a session no time of its own and nobody an idle time.
    assert_eq!((s.active_secs, s.idle_secs), (None, None));
}

/// A session as Samba 4.20's traverse_sessionid_json (source3/utils/status_json.c)
/// prints it: creation/expiration/auth times via nttime_to_timeval + timeval_str_buf.
fn session_420(creation: serde_json::Value, auth: serde_json::Value, timestamp: &str) -> String {
    serde_json::json!({
        "timestamp": timestamp, "version": "4.20.0",
        "sessions": {"11": {
            "session_id": "11", "server_id": {"pid": "4242", "task_id": "0", "vnn": "4294967295"},
            "uid": 1001, "gid": 1001, "username": "alice", "groupname": "alice",
            "creation_time": creation,
            "expiration_time": "30828-09-14T02:48:05.477580+00:00",
            "auth_time": auth,
            "remote_machine": "127.0.0.1", "hostname": "ipv4:127.0.0.1:40000",
            "session_dialect": "SMB3_11",
        }},
        "tcons": {"5": {"session_id": "11", "service": "share",
                        "connected_at": "2026-11-25T11:16:16.000001+00:00"}},
    })
    .to_string()
}

#[test]
fn samba_420_creation_time_gives_the_session_age() {
    let text = session_420(
        "2026-11-25T11:16:15.873208+00:00".into(),
        "2026-11-25T11:16:15.900000+00:00".into(),
        "2026-11-25T11:18:17.880898+0000",
    );
    let s = &parse_status_json(&text).unwrap()[0];
    assert_eq!(s.active_secs, Some(122));
    assert_eq!(s.idle_secs, None);
    assert_eq!(
        s.connected_at.unwrap().to_string(),
        "2026-11-25T11:16:16.000001Z"
    );
}

#[test]
fn minus_one_and_impossible_times_are_unknown() {
    let now = "2026-11-25T11:18:17.880898+0000";
    for creation in [
        serde_json::json!(-1),
        serde_json::json!("-1"),
        serde_json::json!(4294967295u64),
        serde_json::json!(null),
        serde_json::json!({}),
        // NTTIME 0 through nttime_to_timeval: no usable moment.
        serde_json::json!("1601-01-01T00:00:00.000000+00:00"),
        serde_json::json!("1970-01-01T00:00:00.000000+00:00"),
        // The infinite NTTIME, year 30828: beyond any timestamp.
        serde_json::json!("30828-09-14T02:48:05.477580+00:00"),
        // Created after smbstatus looked: a clock step, not a negative age.
        serde_json::json!("2026-11-25T11:20:00.000000+00:00"),
    ] {
        let text = session_420(creation.clone(), serde_json::json!("-1"), now);
        let sessions = parse_status_json(&text).unwrap();
        assert_eq!(sessions.len(), 1, "{creation}");
        assert_eq!(sessions[0].active_secs, None, "{creation}");
        let json = serde_json::to_string(&sessions).unwrap();
        assert!(
            !json.contains("active_secs") && !json.contains("idle_secs"),
            "{json}"
        );
    }
    // Without smbstatus's own timestamp there is no "now" to measure against.
    let text = session_420("2026-11-25T11:16:15+00:00".into(), "x".into(), "-1");
    assert_eq!(parse_status_json(&text).unwrap()[0].active_secs, None);
    // A tree connect with a nonsense time keeps its share, without a time.
    let text = r#"{"sessions": {"1": {"session_id": "1", "username": "u"}},
        "tcons": {"2": {"session_id": "1", "service": "s", "connected_at": -1}}}"#;
    let s = &parse_status_json(text).unwrap()[0];
    assert_eq!(
        (s.shares.as_slice(), s.connected_at),
        (&["s".to_string()][..], None)
    );
}

#[test]
fn open_files_are_counted_per_server_pid() {
    let sessions = parse_status_json(OPEN_FILE).unwrap();
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].server_pid, Some(9078));
    assert_eq!(sessions[0].open_files, Some(1));
}

#[test]
fn no_sessions_and_missing_tables() {
    let text =
        r#"{"timestamp": "x", "version": "4.17", "smb_conf": "/c", "sessions": {}, "tcons": {}}"#;
    assert_eq!(parse_status_json(text).unwrap(), vec![]);
}

#[test]
fn winbind_user_and_numeric_ids() {
    let text = r#"{"sessions": {"7": {"session_id": 7, "server_id": {"pid": 100},
        "username": "CONTOSO\\alice", "remote_machine": "", "hostname": "ipv4:192.0.2.1:5000"}},
        "tcons": {"1": {"session_id": "7", "service": "b", "connected_at": "2024-01-01T00:00:05+00:00"},
                  "2": {"session_id": "7", "service": "a", "connected_at": "2024-01-01T00:00:01+00:00"},
                  "3": {"session_id": "8", "service": "z"}}}"#;
    let s = &parse_status_json(text).unwrap()[0];
    assert_eq!(
        (s.domain.as_deref(), s.user.as_deref()),
        (Some("CONTOSO"), Some("alice"))
    );
    assert_eq!(s.client, "ipv4:192.0.2.1:5000");
    assert_eq!(s.server_pid, Some(100));
    assert_eq!(s.shares, ["a", "b"]);
    assert_eq!(s.connected_at.unwrap().to_string(), "2024-01-01T00:00:01Z");
    assert_eq!(
        (s.encryption.as_deref(), s.signing.as_deref()),
        (None, None)
    );
}

#[test]
fn not_smbstatus_output_is_an_error() {
    assert!(parse_status_json("").is_err());
    assert!(parse_status_json("{}").is_err());
    assert!(parse_status_json("[1,2]").is_err());
    assert!(parse_status_json(r#"{"sessions": []}"#).is_err());
}

#[test]
fn excerpts_are_bounded() {
    assert_eq!(excerpt("  \n"), "(no output)");
    assert_eq!(excerpt("é".repeat(1000).as_str()).chars().count(), 401);
}

proptest! {
    #[test]
    fn built_sessions_roundtrip(
        entries in proptest::collection::vec(("[a-z]{1,8}", 1u32..100_000, "[a-z]{1,6}", 0u32..5), 0..6)
    ) {
        let mut sessions = serde_json::Map::new();
        let mut tcons = serde_json::Map::new();
        let mut files = serde_json::Map::new();
        for (i, (user, pid, share, opens)) in entries.iter().enumerate() {
            let pid = pid * 10 + i as u32; // distinct pids
            sessions.insert(i.to_string(), serde_json::json!({
                "session_id": i.to_string(), "server_id": {"pid": pid.to_string()},
                "username": user, "remote_machine": "m", "session_dialect": "SMB3_11",
            }));
            tcons.insert(format!("t{i}"), serde_json::json!({"session_id": i.to_string(), "service": share}));
            let opens: serde_json::Map<_, _> = (0..*opens)
                .map(|k| (format!("{pid}/{k}"), serde_json::json!({"server_id": {"pid": pid.to_string()}})))
                .collect();
            files.insert(format!("/f{i}"), serde_json::json!({"opens": opens}));
        }
        let text = serde_json::json!({"sessions": sessions, "tcons": tcons, "open_files": files}).to_string();
        let parsed = parse_status_json(&text).unwrap();
        prop_assert_eq!(parsed.len(), entries.len());
        for s in &parsed {
            let i: usize = s.session_id.as_deref().unwrap().parse().unwrap();
            let (user, _, share, opens) = &entries[i];
            prop_assert_eq!(s.user.as_deref(), Some(user.as_str()));
            prop_assert_eq!(&s.shares, &vec![share.clone()]);
            prop_assert_eq!(s.open_files, Some(*opens));
        }
    }

    /// Session age from any pair of instants Samba could print: the
    /// difference when both are real and in order, otherwise unknown.
    #[test]
    fn session_age_is_the_difference_or_unknown(
        created in -20_000_000_000i64..20_000_000_000,
        age in -100_000i64..100_000_000,
        micros in 0u32..1_000_000,
    ) {
        let at = |secs: i64| {
            Timestamp::from_second(secs).ok().map(|t| {
                // timeval_str_buf(.., true, true, ..): microseconds and "+00:00".
                format!("{}.{micros:06}+00:00", t.strftime("%Y-%m-%dT%H:%M:%S"))
            })
        };
        let (Some(creation), Some(now)) = (at(created), at(created + age)) else {
            return Ok(());
        };
        let text = session_420(creation.into(), serde_json::json!(null), &now);
        let s = &parse_status_json(&text).unwrap()[0];
        let after_epoch = created > 0 || (created == 0 && micros > 0);
        let expected = (after_epoch && age >= 0).then_some(age as u64);
        prop_assert_eq!(s.active_secs, expected);
        prop_assert_eq!(s.idle_secs, None);
    }

    #[test]
    fn arbitrary_time_values_never_lose_the_session(value in any::<i64>(), text in "\\PC{0,40}") {
        for creation in [serde_json::json!(value), serde_json::json!(text.clone()), serde_json::json!(value.to_string())] {
            let json = session_420(creation, serde_json::json!(value), &text);
            let sessions = parse_status_json(&json).unwrap();
            prop_assert_eq!(sessions.len(), 1);
            prop_assert!(sessions[0].active_secs.is_none_or(|a| a < 1 << 40));
        }
    }

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,300}") {
        let _ = parse_status_json(&text);
    }
}

/// JSON lets an object repeat a key; smbstatus's own writer (jansson's
/// json_object_set) never does, so a repeat means odd or hostile output:
/// both sessions are kept and judged, and a note says so.
#[test]
fn a_repeated_session_id_keeps_both_sessions_and_is_noted() {
    let text = r#"{"sessions": {
        "7": {"session_id": "7", "server_id": {"pid": "100"}, "username": "alice", "remote_machine": "10.0.0.1"},
        "7": {"session_id": "7", "server_id": {"pid": "101"}, "username": "bob", "remote_machine": "10.0.0.2"}
    }, "tcons": {"1": {"session_id": "7", "service": "data"}}}"#;
    let sessions = parse_status_json(text).unwrap();
    let users: Vec<_> = sessions.iter().map(|s| s.user.as_deref()).collect();
    assert_eq!(users, [Some("alice"), Some("bob")]);
    assert!(sessions.iter().all(|s| s.shares == ["data"]));
    assert_eq!(
        duplicate_notes(&sessions),
        ["smbstatus listed session id 7 2 times; each entry is kept and judged"]
    );
    assert!(duplicate_notes(&sessions[..1]).is_empty());
}

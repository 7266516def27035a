use super::processes::*;
use super::sessions::*;
use super::*;
use crate::collect::msrpc::ndr::NdrWriter;
use crate::collect::msrpc::sid::Sid;
use crate::model::InteractiveState;
use proptest::prelude::*;

const HANDLE: ContextHandle = [7; CONTEXT_HANDLE_LEN];

fn wide_fixed(w: &mut NdrWriter, text: &str, units: usize) {
    let mut raw: Vec<u16> = text.encode_utf16().take(units - 1).collect();
    raw.resize(units, 0);
    for unit in raw {
        w.bytes(&unit.to_le_bytes());
    }
}

/// RpcGetEnumResult's reply as Windows (and impacket) lays it out.
fn enum_reply(rows: &[EnumRow], status: u32) -> Vec<u8> {
    let mut w = NdrWriter::new();
    w.pointer(true);
    w.u32(rows.len() as u32);
    for row in rows {
        w.u32(1);
        w.u32(1);
        w.u32(row.session_id);
        w.u32(row.state);
        wide_fixed(&mut w, &row.name, 33);
    }
    w.u32(rows.len() as u32);
    w.u32(status);
    w.into_bytes()
}

fn info_reply(d: &SessionDetail, protocol: &[u8]) -> Vec<u8> {
    let mut w = NdrWriter::new();
    w.pointer(true);
    w.u32(1);
    w.align(8);
    w.u32(d.state);
    w.u32(d.flags);
    wide_fixed(&mut w, &d.station, 33);
    wide_fixed(&mut w, &d.domain, 18);
    wide_fixed(&mut w, &d.user, 21);
    for t in [
        d.connect_time,
        d.disconnect_time,
        d.logon_time,
        d.last_input_time,
    ] {
        w.u64(t as u64);
    }
    w.u32(protocol.len() as u32);
    w.pointer(!protocol.is_empty());
    if !protocol.is_empty() {
        w.u32(protocol.len() as u32);
        w.bytes(protocol);
    }
    w.u32(0);
    w.into_bytes()
}

fn processes_reply(rows: &[ProcessEntry], ok: bool) -> Vec<u8> {
    let mut w = NdrWriter::new();
    w.u32(if ok { 0 } else { STATUS_ACCESS_DENIED });
    w.u32(rows.len() as u32);
    w.pointer(ok);
    if ok {
        w.u32(rows.len() as u32);
        for row in rows {
            w.pointer(true);
            w.u32(row.sid.as_ref().map_or(0, |s| s.binary_len() as u32));
            w.pointer(row.sid.is_some());
        }
        for row in rows {
            w.align(8);
            w.u32(0); // NextEntryOffset
            w.u32(3); // NumberOfThreads
            for _ in 0..3 {
                w.u64(0);
            }
            w.u64(row.create_time as u64);
            w.u64(0);
            w.u64(0);
            let bytes = (row.name.encode_utf16().count() * 2) as u16;
            w.u16(bytes);
            w.u16(bytes + 2);
            w.pointer(true);
            w.u32(8); // BasePriority
            w.u32(row.pid);
            w.u32(row.ppid);
            w.u32(100); // HandleCount
            w.u32(row.session_id);
            for _ in 0..13 {
                w.u32(0);
            }
            w.wide_string(&row.name);
            if let Some(sid) = &row.sid {
                w.u32(sid.binary_len() as u32);
                w.bytes(&sid.to_bytes());
            }
        }
    }
    w.u8(u8::from(ok));
    w.into_bytes()
}

fn alice() -> Sid {
    "S-1-5-21-1-2-3-1105".parse().unwrap()
}

#[test]
fn requests_follow_the_idl() {
    assert!(encode_open_enum().is_empty());
    assert!(encode_open_server().is_empty());
    let mut expected = HANDLE.to_vec();
    expected.extend_from_slice(&1u32.to_le_bytes());
    assert_eq!(encode_get_enum_result(&HANDLE, 1), expected);
    assert_eq!(encode_close_enum(&HANDLE), HANDLE.to_vec());
    assert_eq!(
        encode_get_session_information_ex(2, 1),
        [2, 0, 0, 0, 1, 0, 0, 0]
    );
    let mut expected = HANDLE.to_vec();
    expected.extend_from_slice(&[0, 0, 0, 0, 0, 0x80, 0, 0]);
    assert_eq!(encode_get_all_processes(&HANDLE, 0), expected);
}

#[test]
fn hresults_and_booleans_become_the_errors_coverage_knows() {
    assert!(check_hresult("X", 0).is_ok());
    assert!(check_hresult("X", 1).is_ok());
    let denied = check_hresult("X", 0x8007_0005).unwrap_err();
    assert_eq!(denied.kind(), crate::model::FailureKind::AccessDenied);
    let gone = check_hresult("X", 0x8007_1B6E).unwrap_err();
    assert!(matches!(
        gone,
        RemoteError::Win32 {
            code: ERROR_CTX_WINSTATION_NOT_FOUND,
            ..
        }
    ));
    let reply = processes_reply(&[], false);
    let err = decode_get_all_processes(&reply, 10).unwrap_err();
    assert_eq!(err.kind(), crate::model::FailureKind::AccessDenied);
}

#[test]
fn a_session_list_decodes_and_too_many_is_a_failure() {
    let rows = vec![
        EnumRow {
            session_id: 1,
            state: 0,
            name: "Console".into(),
        },
        EnumRow {
            session_id: 2,
            state: 4,
            name: "RDP-Tcp#0".into(),
        },
    ];
    let reply = enum_reply(&rows, 0);
    assert_eq!(decode_get_enum_result(&reply, 10).unwrap(), rows);
    assert!(matches!(
        decode_get_enum_result(&reply, 1),
        Err(RemoteError::Limit { .. })
    ));
    let denied = enum_reply(&[], 0x8007_0005);
    assert_eq!(
        decode_get_enum_result(&denied, 10).unwrap_err().kind(),
        crate::model::FailureKind::AccessDenied
    );
    // A count the stub cannot hold is refused before anything is reserved.
    let mut huge = reply.clone();
    huge[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(matches!(
        decode_get_enum_result(&huge, usize::MAX),
        Err(RemoteError::Decode(_))
    ));
}

#[test]
fn session_detail_gives_user_times_and_idle() {
    let now: Timestamp = "2026-12-01T12:00:00Z".parse().unwrap();
    let ft = |t: Timestamp| (t.as_second() + 11_644_473_600) * 10_000_000;
    let detail = SessionDetail {
        state: 4,
        flags: 1,
        station: "RDP-Tcp#0".into(),
        domain: "CORP".into(),
        user: "bob".into(),
        connect_time: ft(now) - 5 * 3600 * 10_000_000,
        disconnect_time: ft(now) - 3 * 3600 * 10_000_000,
        logon_time: ft(now) - 5 * 3600 * 10_000_000,
        last_input_time: ft(now) - 4 * 3600 * 10_000_000,
    };
    let reply = info_reply(&detail, b"proto");
    assert_eq!(decode_get_session_information_ex(&reply).unwrap(), detail);
    let row = EnumRow {
        session_id: 2,
        state: 4,
        name: "RDP-Tcp#0".into(),
    };
    let session = to_session(row.clone(), Some(&detail), now);
    assert_eq!(session.state, InteractiveState::Disconnected);
    assert_eq!(
        (session.user.as_deref(), session.domain.as_deref()),
        (Some("bob"), Some("CORP"))
    );
    // Disconnected: idle since the later of disconnect and last input.
    assert_eq!(session.idle_secs, Some(3 * 3600));
    // A LastInputTime a few hours after 1601 is no instant: idle unknown.
    let active = SessionDetail {
        state: 0,
        last_input_time: 84_540_000_000,
        ..detail
    };
    let row = EnumRow { state: 0, ..row };
    assert_eq!(to_session(row, Some(&active), now).idle_secs, None);
}

#[test]
fn processes_decode_with_their_sids() {
    let rows = vec![
        ProcessEntry {
            pid: 4,
            ppid: 0,
            session_id: 0,
            name: "System".into(),
            create_time: 0,
            sid: Some("S-1-5-18".parse().unwrap()),
        },
        ProcessEntry {
            pid: 3312,
            ppid: 612,
            session_id: 1,
            name: "explorer.exe".into(),
            create_time: 0,
            sid: Some(alice()),
        },
        ProcessEntry {
            pid: 9,
            ppid: 4,
            session_id: 1,
            name: "nosid.exe".into(),
            create_time: 0,
            sid: None,
        },
    ];
    let reply = processes_reply(&rows, true);
    assert_eq!(decode_get_all_processes(&reply, 10).unwrap(), rows);
    assert!(matches!(
        decode_get_all_processes(&reply, 2),
        Err(RemoteError::Limit { .. })
    ));
    let row = to_process(rows[1].clone());
    assert_eq!(row.sid.as_deref(), Some("S-1-5-21-1-2-3-1105"));
    assert_eq!(
        (row.pid, row.terminal_session_id, row.user),
        (3312, Some(1), None)
    );
}

fn sid_strategy() -> impl Strategy<Value = Option<Sid>> {
    proptest::option::of(
        (
            any::<u8>(),
            0u64..1 << 48,
            proptest::collection::vec(any::<u32>(), 0..15),
        )
            .prop_map(|(revision, authority, sub_authorities)| Sid {
                revision,
                authority,
                sub_authorities,
            }),
    )
}

proptest! {
    #[test]
    fn any_session_list_round_trips(rows in proptest::collection::vec(
        (any::<u32>(), 0u32..12, "[a-zA-Z0-9#-]{0,32}"), 0..20)) {
        let rows: Vec<EnumRow> = rows.into_iter().map(|(session_id, state, name)| EnumRow { session_id, state, name }).collect();
        prop_assert_eq!(decode_get_enum_result(&enum_reply(&rows, 0), 100).unwrap(), rows);
    }

    #[test]
    fn any_process_list_round_trips(rows in proptest::collection::vec(
        (any::<u32>(), any::<u32>(), any::<u32>(), "[^\u{0}]{0,40}", 0i64..i64::MAX, sid_strategy()), 0..12)) {
        let rows: Vec<ProcessEntry> = rows.into_iter().map(|(pid, ppid, session_id, name, create_time, sid)|
            ProcessEntry { pid, ppid, session_id, name, create_time, sid }).collect();
        prop_assert_eq!(decode_get_all_processes(&processes_reply(&rows, true), 100).unwrap(), rows);
    }

    #[test]
    fn decoders_never_panic_on_any_bytes(stub in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = decode_open_enum(&stub);
        let _ = decode_close_enum(&stub);
        let _ = decode_get_enum_result(&stub, 1000);
        let _ = decode_get_session_information_ex(&stub);
        let _ = decode_open_server(&stub);
        let _ = decode_close_server(&stub);
        let _ = decode_get_all_processes(&stub, 1000);
    }

    #[test]
    fn truncated_replies_are_errors_not_panics(cut in 0usize..400) {
        let rows = vec![ProcessEntry { pid: 1, ppid: 0, session_id: 1, name: "a.exe".into(), create_time: 0, sid: Some(alice()) }];
        let reply = processes_reply(&rows, true);
        if cut < reply.len() {
            prop_assert!(decode_get_all_processes(&reply[..cut], 10).is_err());
        }
    }
}

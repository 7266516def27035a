//! From Win32-shaped buffers to verdicts, on any OS: the buffers a Windows
//! server would return (built in owned memory) go through the same decoders
//! the Windows collector uses, into a snapshot, into the analysis.

use lingerscan::analyze::{AnalyzeOptions, Outcome, Verdict, analyze};
use lingerscan::collect::windows_decode::RawEntries;
use lingerscan::collect::windows_decode::arena::WideArena;
use lingerscan::collect::windows_decode::lsa::{LogonSessionData, Luid, decode_logon_sessions};
use lingerscan::collect::windows_decode::netapi::{WkstaUserInfo1, decode_wksta_users};
use lingerscan::collect::windows_decode::process::{ProcessEntry32, ProcessFacts, process_row};
use lingerscan::collect::windows_decode::sid::sid_bytes;
use lingerscan::collect::windows_decode::wide::CountedWide;
use lingerscan::collect::windows_decode::wts::{
    WtsInfo, WtsSessionInfo1, apply_session_info, decode_sessions_ex,
};
use lingerscan::model::{HostSnapshot, Observed, Platform};

const TICKS_PER_SECOND: i64 = 10_000_000;
/// 2024-01-01T00:00:00Z as FILETIME ticks.
const NOW_TICKS: i64 = 133_485_408_000_000_000;

fn wksta(arena: &mut WideArena, user: &str) -> WkstaUserInfo1 {
    WkstaUserInfo1 {
        username: arena.ptr(Some(user)),
        logon_domain: arena.ptr(Some("CONTOSO")),
        oth_domains: arena.ptr(None),
        logon_server: arena.ptr(Some("DC01")),
    }
}

fn logon(
    arena: &mut WideArena,
    luid: u32,
    user: &str,
    logon_type: u32,
    rid: u32,
) -> LogonSessionData {
    LogonSessionData {
        size: u32::try_from(size_of::<LogonSessionData>()).unwrap(),
        logon_id: Luid {
            low_part: luid,
            high_part: 0,
        },
        user_name: arena.counted(Some(user)),
        logon_domain: arena.counted(Some("CONTOSO")),
        authentication_package: arena.counted(Some("Kerberos")),
        logon_type,
        session: 2,
        sid: arena.bytes(Some(sid_bytes(5, &[21, 1, 2, 3, rid]))),
        logon_time: NOW_TICKS - 7200 * TICKS_PER_SECOND,
        logon_server: arena.counted(Some("DC01")),
        dns_domain_name: CountedWide::EMPTY,
        upn: CountedWide::EMPTY,
    }
}

fn wts_session(arena: &mut WideArena, id: u32, state: i32, user: &str) -> WtsSessionInfo1 {
    WtsSessionInfo1 {
        exec_env_id: id,
        state,
        session_id: id,
        session_name: arena.ptr(Some(if state == 0 { "RDP-Tcp#1" } else { "" })),
        host_name: arena.ptr(Some("WS7")),
        user_name: arena.ptr(Some(user)),
        domain_name: arena.ptr(Some("CONTOSO")),
        farm_name: arena.ptr(None),
    }
}

fn wts_info(state: i32, idle_secs: i64) -> WtsInfo {
    WtsInfo {
        state,
        disconnect_time: if state == 4 {
            NOW_TICKS - idle_secs * TICKS_PER_SECOND
        } else {
            0
        },
        last_input_time: NOW_TICKS - idle_secs * TICKS_PER_SECOND,
        logon_time: NOW_TICKS - 10 * 86_400 * TICKS_PER_SECOND,
        current_time: NOW_TICKS,
        ..WtsInfo::default()
    }
}

fn explorer(pid: u32) -> ProcessEntry32 {
    let mut entry = ProcessEntry32::zeroed();
    entry.process_id = pid;
    entry.parent_process_id = 600;
    for (slot, unit) in entry.exe_file.iter_mut().zip("explorer.exe".encode_utf16()) {
        *slot = unit;
    }
    entry
}

/// alice: listed by the workstation service only. bob: RDP session with
/// processes. carol: a network logon with nothing else. dave: an RDP
/// session disconnected three days ago.
fn snapshot() -> HostSnapshot {
    let mut arena = WideArena::new();
    let wksta_entries = [
        wksta(&mut arena, "alice"),
        wksta(&mut arena, "bob"),
        wksta(&mut arena, "SRV01$"),
    ];
    let logon_entries = [
        logon(&mut arena, 0x1234, "bob", 10, 1104),
        logon(&mut arena, 0x2000, "carol", 3, 1105),
        logon(&mut arena, 0x3000, "dave", 10, 1106),
    ];
    let wts_entries = [
        wts_session(&mut arena, 2, 0, "bob"),
        wts_session(&mut arena, 3, 4, "dave"),
    ];
    // SAFETY: every pointer points into `arena`, alive until the end of this function.
    let (users, logons, mut interactive) = unsafe {
        (
            decode_wksta_users(RawEntries::new(&wksta_entries)),
            decode_logon_sessions(RawEntries::new(&logon_entries)),
            decode_sessions_ex(RawEntries::new(&wts_entries)),
        )
    };
    apply_session_info(&mut interactive[0], &wts_info(0, 30));
    apply_session_info(&mut interactive[1], &wts_info(4, 3 * 86_400));
    let bob = ProcessFacts {
        user: Some(r"CONTOSO\bob".into()),
        sid: Some("S-1-5-21-1-2-3-1104".into()),
        logon_id: Some(
            Luid {
                low_part: 0x1234,
                high_part: 0,
            }
            .to_decimal(),
        ),
        terminal_session_id: Some(2),
        ..ProcessFacts::default()
    };
    let dave = ProcessFacts {
        user: Some(r"CONTOSO\dave".into()),
        logon_id: Some(
            Luid {
                low_part: 0x3000,
                high_part: 0,
            }
            .to_decimal(),
        ),
        terminal_session_id: Some(3),
        ..ProcessFacts::default()
    };
    let mut snapshot = HostSnapshot::empty("SRV01", Platform::Windows, "windows-local");
    snapshot.collected_at = "2024-01-01T00:00:00Z".parse().unwrap();
    snapshot.workstation_users = Observed::ok(users);
    snapshot.logon_sessions = Observed::ok(logons);
    snapshot.processes = Observed::ok(vec![
        process_row(&explorer(4242), bob),
        process_row(&explorer(5252), dave),
    ]);
    snapshot.smb_sessions = Observed::ok(vec![]);
    snapshot.interactive_sessions = Observed::ok(interactive);
    snapshot
}

fn verdicts_of(analysis: &lingerscan::analyze::Analysis, user: &str) -> Vec<(Verdict, bool)> {
    analysis
        .findings
        .iter()
        .filter(|f| f.user.eq_ignore_ascii_case(user))
        .map(|f| (f.verdict, f.lingering))
        .collect()
}

#[test]
fn decoded_buffers_lead_to_the_expected_verdicts() {
    let snapshot = snapshot();
    let analysis = analyze(&snapshot, &AnalyzeOptions::for_snapshot(&snapshot));
    let alice = verdicts_of(&analysis, r"CONTOSO\alice");
    assert!(alice.contains(&(Verdict::StaleWksta, true)), "{alice:?}");
    let bob = verdicts_of(&analysis, r"CONTOSO\bob");
    assert!(
        !bob.is_empty()
            && bob
                .iter()
                .all(|&(v, lingering)| v == Verdict::Active && !lingering),
        "{bob:?}"
    );
    let carol = verdicts_of(&analysis, r"CONTOSO\carol");
    assert!(carol.contains(&(Verdict::LeakedLogon, true)), "{carol:?}");
    let dave = verdicts_of(&analysis, r"CONTOSO\dave");
    assert!(dave.contains(&(Verdict::Disconnected, true)), "{dave:?}");
    assert!(
        analysis.findings.iter().all(|f| !f.user.contains("SRV01$")),
        "machine accounts are set aside"
    );
    assert_eq!(analysis.outcome(), Outcome::Lingering);
}

#[test]
fn the_snapshot_survives_json() {
    let snapshot = snapshot();
    let json = serde_json::to_string(&snapshot).unwrap();
    assert_eq!(
        serde_json::from_str::<HostSnapshot>(&json).unwrap(),
        snapshot
    );
    assert!(json.contains(r#""logon_id":"4660""#), "{json}");
    assert!(json.contains(r#""sid":"S-1-5-21-1-2-3-1105""#));
}

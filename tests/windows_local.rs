//! The Windows collector against the real OS it runs on: Windows, or Wine
//! on Linux CI (`cargo test --target x86_64-pc-windows-gnu`, runner
//! scripts/wine/run.sh). Under Wine the known stubs are asserted exactly:
//! NetWkstaUserEnum answers 87, NetSessionEnum succeeds with a NULL buffer,
//! LSA lists no sessions, while processes and tokens are real.
#![cfg(windows)]

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use lingerscan::collect::windows::{collect_local, collect_remote};
use lingerscan::collect::{CollectOptions, collect};
use lingerscan::model::{FailureKind, HostSnapshot, Observed, Platform, ProcessRow, Source};
use windows_sys::Win32::Foundation::CloseHandle;
use windows_sys::Win32::System::LibraryLoader::{GetModuleHandleA, GetProcAddress};
use windows_sys::Win32::System::Threading::{
    CreateEventW, GetCurrentProcess, GetProcessHandleCount,
};

/// Tests that spawn processes and tests that check every process's name do
/// not overlap: a process caught while starting has no image name yet.
static PROCESS_LIFECYCLE: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Wine's ntdll exports `wine_get_version`; Windows' does not.
fn running_under_wine() -> bool {
    // SAFETY: NUL-terminated literals; ntdll is always loaded.
    unsafe {
        let ntdll = GetModuleHandleA(c"ntdll.dll".as_ptr().cast());
        !ntdll.is_null() && GetProcAddress(ntdll, c"wine_get_version".as_ptr().cast()).is_some()
    }
}

fn handle_count() -> u32 {
    let mut count = 0;
    // SAFETY: pseudo-handle of this process and a valid out-pointer.
    assert_ne!(
        unsafe { GetProcessHandleCount(GetCurrentProcess(), &mut count) },
        0
    );
    count
}

/// The value the next new handle gets. Handle slots are reused lowest
/// first, so leaked handles push it up even where GetProcessHandleCount is a
/// stub (Wine answers 0).
fn next_handle_value() -> usize {
    // SAFETY: an unnamed event with default security; closed right away.
    unsafe {
        let event = CreateEventW(std::ptr::null(), 1, 0, std::ptr::null());
        assert!(!event.is_null());
        let value = event as usize;
        CloseHandle(event);
        value
    }
}

fn processes(snapshot: &HostSnapshot) -> &[ProcessRow] {
    match &snapshot.processes {
        Observed::Ok { rows } => rows,
        Observed::Failed(f) => panic!("process source failed: {f}"),
    }
}

#[test]
fn local_scan_finds_this_process_with_owner_logon_and_start_time() {
    let _quiet = PROCESS_LIFECYCLE.lock().unwrap_or_else(|e| e.into_inner());
    let before = jiff::Timestamp::now();
    let snapshot = collect(&CollectOptions::default()).expect("a Windows collector exists");
    assert_eq!(snapshot.platform, Platform::Windows);
    assert_eq!(snapshot.collector, "windows-local");
    assert!(!snapshot.host.is_empty());

    let me = std::process::id();
    let rows = processes(&snapshot);
    let row = rows
        .iter()
        .find(|r| r.pid == me)
        .expect("the test process itself is listed");
    let exe = std::env::current_exe().unwrap();
    let exe_name = exe.file_name().unwrap().to_string_lossy();
    assert!(
        row.name.eq_ignore_ascii_case(&exe_name),
        "{} vs {exe_name}",
        row.name
    );
    assert_eq!(row.access_error, None);
    let user = row.user.as_deref().expect("own token owner is readable");
    assert!(user.contains('\\'), "owner should be DOMAIN\\name: {user}");
    assert!(
        row.sid.as_deref().unwrap().starts_with("S-1-5-"),
        "{:?}",
        row.sid
    );
    row.logon_id
        .as_deref()
        .unwrap()
        .parse::<u64>()
        .expect("decimal LUID");
    let started = row.start_time.expect("own start time");
    assert!(
        started <= before,
        "started {started} after the scan began {before}"
    );
    assert!(before.duration_since(started) < jiff::SignedDuration::from_hours(1));
    assert!(row.terminal_session_id.is_some());
    // Every process is listed with a name; none is dropped for lack of rights.
    assert!(rows.len() >= 2, "{rows:?}");
    let nameless: Vec<_> = rows
        .iter()
        .filter(|r| r.name.is_empty() && r.pid != 0)
        .collect();
    assert!(nameless.is_empty(), "{nameless:?}");
    // The JSON form round-trips.
    let json = serde_json::to_string(&snapshot).unwrap();
    assert_eq!(
        serde_json::from_str::<HostSnapshot>(&json).unwrap(),
        snapshot
    );
}

#[test]
fn this_users_loaded_hive_is_listed_named_and_explained_by_its_processes() {
    let snapshot = collect_local(&CollectOptions::default());
    let Observed::Ok { rows: hives } = &snapshot.loaded_profiles else {
        panic!("HKEY_USERS unreadable: {:?}", snapshot.loaded_profiles)
    };
    let me = processes(&snapshot)
        .iter()
        .find(|p| p.pid == std::process::id())
        .expect("this process is listed");
    let my_sid = me.sid.as_deref().expect("this process has an owner SID");
    // The hive of the account this test runs as is loaded (the registry of
    // a logged-on user), keyed by its SID and named as its processes are.
    let mine = hives
        .iter()
        .find(|h| h.sid == my_sid)
        .unwrap_or_else(|| panic!("no hive for {my_sid} in {hives:?}"));
    let named = format!(
        "{}\\{}",
        mine.domain.as_deref().unwrap_or_default(),
        mine.user.as_deref().unwrap_or_default()
    );
    assert_eq!(Some(named.as_str()), me.user.as_deref());
    assert!(
        hives.iter().all(|h| !h.sid.ends_with("_Classes")),
        "{hives:?}"
    );
    // Held by this very process: never reported as a leaked profile.
    let analysis = lingerscan::analyze::analyze(
        &snapshot,
        &lingerscan::analyze::AnalyzeOptions::for_snapshot(&snapshot),
    );
    assert!(
        !analysis.findings.iter().any(|f| f.session_id == my_sid),
        "{:?}",
        analysis.findings
    );
}

#[test]
fn a_child_process_is_seen_with_its_parent_and_the_same_owner() {
    let _spawning = PROCESS_LIFECYCLE.lock().unwrap_or_else(|e| e.into_inner());
    let mut child = Command::new("cmd.exe")
        .arg("/q")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("cmd.exe starts");
    let snapshot = collect_local(&CollectOptions::default());
    let rows = processes(&snapshot);
    let found = rows.iter().find(|r| r.pid == child.id()).cloned();
    let me = rows.iter().find(|r| r.pid == std::process::id()).cloned();
    // cmd reads commands from stdin: end it before asserting, so a failure leaves nothing behind.
    let _ = child
        .stdin
        .take()
        .map(|mut stdin| stdin.write_all(b"exit\r\n"));
    let status = child.wait().expect("cmd.exe exits");
    assert!(status.success());

    let found = found.expect("the child cmd.exe is listed");
    let me = me.expect("this process is listed");
    assert!(found.name.eq_ignore_ascii_case("cmd.exe"), "{}", found.name);
    assert_eq!(found.ppid, Some(std::process::id()));
    assert_eq!(found.sid, me.sid);
    assert_eq!(found.user, me.user);
    assert_eq!(found.logon_id, me.logon_id);
}

#[test]
fn stubbed_sources_are_reported_with_their_reasons_under_wine() {
    let snapshot = collect_local(&CollectOptions::default());
    if !running_under_wine() {
        // On real Windows every source answers, or fails with a code and a reason.
        for source in Source::ALL {
            if let Some(failure) = snapshot.failure_of(source) {
                assert!(
                    failure.code.is_some() && !failure.message.is_empty(),
                    "{source}: {failure}"
                );
            }
        }
        return;
    }
    let wksta = snapshot
        .workstation_users
        .failure()
        .expect("Wine's NetWkstaUserEnum fails");
    assert_eq!(
        (wksta.kind, wksta.code),
        (FailureKind::NotSupported, Some(87))
    );
    assert!(
        wksta
            .message
            .starts_with("NetWkstaUserEnum on this machine"),
        "{}",
        wksta.message
    );
    // Success with a NULL buffer is zero sessions, not a failure.
    assert_eq!(snapshot.smb_sessions, Observed::ok(vec![]));
    assert_eq!(snapshot.logon_sessions, Observed::ok(vec![]));
    assert!(
        snapshot
            .notes
            .iter()
            .any(|n| n.starts_with("logon_sessions: LSA listed no logon sessions")),
        "{:?}",
        snapshot.notes
    );
    assert!(
        snapshot.interactive_sessions.is_ok(),
        "{:?}",
        snapshot.interactive_sessions
    );
    // Wine's tokens all carry AuthenticationId 0.
    assert!(
        processes(&snapshot)
            .iter()
            .filter(|r| r.access_error.is_none())
            .all(|r| r.logon_id.as_deref() == Some("0"))
    );
}

#[test]
fn repeated_scans_leak_no_handles() {
    let _quiet = PROCESS_LIFECYCLE.lock().unwrap_or_else(|e| e.into_inner());
    // Warm up: one-time allocations (DLL loads, service connections).
    for _ in 0..3 {
        collect_local(&CollectOptions::default());
    }
    let (count_before, value_before) = (handle_count(), next_handle_value());
    for _ in 0..30 {
        collect_local(&CollectOptions::default());
    }
    let (count_after, value_after) = (handle_count(), next_handle_value());
    assert!(
        count_after <= count_before + 2,
        "handle count grew from {count_before} to {count_after} over 30 scans"
    );
    // Handle values step by 4; a leak of one handle per scan would add 120.
    assert!(
        value_after <= value_before + 4 * 8,
        "next handle value moved from {value_before:#x} to {value_after:#x} over 30 scans"
    );
}

#[test]
fn remote_scan_of_a_silent_loopback_host_fails_each_source_cleanly_in_time() {
    // 127.0.0.2 is loopback: on Wine CI nothing serves SMB/RPC there.
    let options = CollectOptions {
        host: Some("127.0.0.2".into()),
        timeout: Duration::from_secs(20),
        ..Default::default()
    };
    let start = Instant::now();
    let snapshot = collect_remote("127.0.0.2", &options);
    assert!(
        start.elapsed() < Duration::from_secs(25),
        "took {:?}",
        start.elapsed()
    );
    assert_eq!(snapshot.collector, "windows-remote");
    assert_eq!(snapshot.host, "127.0.0.2");
    if running_under_wine() {
        // Wine's WMI cannot reach another host over DCOM.
        for source in [Source::LogonSessions, Source::Processes] {
            let failure = snapshot
                .failure_of(source)
                .expect("WMI to 127.0.0.2 fails under Wine");
            assert_eq!(
                failure.kind,
                FailureKind::Unreachable,
                "{source}: {failure}"
            );
            assert_eq!(failure.code, Some(0x8004_1015), "{source}: {failure}");
            assert!(failure.message.contains("127.0.0.2"), "{failure}");
        }
    }
    if running_under_wine() {
        // Wine's NetWkstaUserEnum refuses remote servers as it refuses the
        // local one; its NetSessionEnum and WTS stubs ignore the server name.
        let wksta = snapshot
            .workstation_users
            .failure()
            .expect("Wine's NetWkstaUserEnum fails");
        assert_eq!(wksta.code, Some(87));
        assert!(wksta.message.contains(r"\\127.0.0.2"), "{}", wksta.message);
    }
    // The remote registry of a host that does not answer fails, never lists nothing.
    let hives = snapshot
        .loaded_profiles
        .failure()
        .expect("no registry answers on 127.0.0.2");
    assert_ne!(hives.kind, FailureKind::NotSupported, "{hives}");
    // Whatever answered, the snapshot serializes (no half-filled state).
    serde_json::to_string(&snapshot).unwrap();
}

#[test]
fn wmi_queries_of_this_machine_list_this_process_or_fail_with_a_reason() {
    let sources = lingerscan::collect::windows::wmi::query_host(None);
    let rows = match &sources.processes {
        Observed::Ok { rows } => rows,
        Observed::Failed(f) => panic!("WMI Win32_Process failed: {f}"),
    };
    let me = rows
        .iter()
        .find(|r| r.pid == std::process::id())
        .expect("WMI lists this process");
    assert!(
        me.name.to_ascii_lowercase().starts_with("windows_local"),
        "{}",
        me.name
    );
    assert!(
        rows.iter()
            .any(|r| r.name.eq_ignore_ascii_case("services.exe")),
        "{rows:?}"
    );
    if running_under_wine() {
        // Wine's WMI has the classes but, like its LSA, no logon sessions.
        assert_eq!(sources.logon_sessions, Observed::ok(vec![]));
    } else {
        assert!(me.start_time.is_some() && me.ppid.is_some(), "{me:?}");
        let logon = me
            .logon_id
            .as_deref()
            .expect("Win32_SessionProcess links this process");
        let sessions = sources
            .logon_sessions
            .rows()
            .expect("Win32_LogonSession readable");
        assert!(
            sessions.iter().any(|s| s.logon_id == logon),
            "{logon} not among {sessions:?}"
        );
    }
}

/// Child processes ended and reaped on drop, even when an assertion fails.
struct Children(Vec<std::process::Child>);

impl Drop for Children {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[test]
fn many_processes_are_all_listed_once_with_names_and_parents() {
    let _spawning = PROCESS_LIFECYCLE.lock().unwrap_or_else(|e| e.into_inner());
    // Enough processes that the token reads are split over several workers.
    let children = Children(
        (0..80)
            .map(|_| {
                Command::new("cmd.exe")
                    .arg("/q")
                    .stdin(Stdio::piped())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .expect("cmd.exe starts")
            })
            .collect(),
    );
    let snapshot = collect_local(&CollectOptions::default());
    let rows = processes(&snapshot);
    let mut pids: Vec<u32> = rows.iter().map(|r| r.pid).collect();
    pids.sort_unstable();
    pids.dedup();
    assert_eq!(pids.len(), rows.len(), "a process is listed twice");
    let me = rows
        .iter()
        .find(|r| r.pid == std::process::id())
        .expect("this process");
    for child in &children.0 {
        let row = rows
            .iter()
            .find(|r| r.pid == child.id())
            .expect("every child is listed");
        assert!(row.name.eq_ignore_ascii_case("cmd.exe"), "{row:?}");
        assert_eq!(row.ppid, Some(std::process::id()));
        assert_eq!((&row.sid, &row.logon_id), (&me.sid, &me.logon_id));
        assert!(row.start_time.is_some(), "{row:?}");
    }
}

//! The Linux collector against a real smbd with `utmp = yes`.
#![cfg(target_os = "linux")]

mod support;

use std::net::Ipv4Addr;
use std::time::Duration;

use lingerscan::collect::{CollectOptions, LinuxPaths, collect};
use lingerscan::model::HostSnapshot;
use support::samba::{SambaOptions, SambaServer, SambaUser};

fn scan(server: &SambaServer, logind_dir: &std::path::Path) -> HostSnapshot {
    let options = CollectOptions {
        timeout: Duration::from_secs(20),
        linux: LinuxPaths {
            utmp: server.utmp_path(),
            logind_dir: logind_dir.to_path_buf(),
            smb_conf: Some(server.conf_path().to_path_buf()),
            ..LinuxPaths::default()
        },
        ..CollectOptions::default()
    };
    collect(&options).expect("local collector")
}

#[test]
fn held_smb_session_then_killed_server_child_leaves_stale_utmp() {
    if !support::require(
        "held_smb_session_then_killed_server_child_leaves_stale_utmp",
        true,
        &["smbd", "smbclient", "smbstatus", "smbpasswd"],
    ) {
        return;
    }
    let alice = SambaUser::new("lsalice", "Linger-Pass-1");
    let server = SambaServer::start(
        &SambaOptions::new(Ipv4Addr::new(127, 0, 0, 11), 14451).user(alice.clone()),
    );
    let no_logind = tempfile::tempdir().unwrap();
    let mut session = server.hold_session(&alice);
    session.command("open hello.txt");
    let pid = session.server_pid;
    assert!(
        support::wait_until(Duration::from_secs(10), || {
            server.status()["open_files"]
                .as_object()
                .is_some_and(|f| !f.is_empty())
        }),
        "smbclient did not open hello.txt"
    );

    let snapshot = scan(&server, no_logind.path());
    assert_eq!(snapshot.collector, "linux-local");
    assert_eq!(snapshot.platform, lingerscan::model::Platform::Linux);
    let smb = snapshot.smb_sessions.rows().expect("smb sessions readable");
    let row = smb
        .iter()
        .find(|s| s.server_pid == Some(pid))
        .unwrap_or_else(|| panic!("no SMB row for pid {pid}: {smb:?}"));
    assert_eq!(row.user.as_deref(), Some("lsalice"));
    assert_eq!(row.shares, ["share"]);
    assert_eq!(row.open_files, Some(1));
    assert!(
        row.dialect.as_deref().is_some_and(|d| d.starts_with("SMB")),
        "{row:?}"
    );
    assert!(row.connected_at.is_some());
    // smbstatus (source3/utils/status_json.c) carries no idle time: unknown,
    // and said so once; 4.17 has no session creation time either.
    assert_eq!(row.idle_secs, None);
    if server.status()["version"]
        .as_str()
        .is_some_and(|v| v.starts_with("4.17"))
    {
        assert_eq!(row.active_secs, None, "{row:?}");
    }
    assert_eq!(
        snapshot
            .notes
            .iter()
            .filter(|n| n.contains("Samba does not report idle time"))
            .count(),
        1,
        "{:?}",
        snapshot.notes
    );

    let wks = snapshot.workstation_users.rows().expect("utmp readable");
    let entry = wks
        .iter()
        .find(|u| u.pid == Some(pid))
        .unwrap_or_else(|| panic!("no utmp row for pid {pid}: {wks:?}"));
    assert_eq!(entry.user, "lsalice");
    assert_eq!(entry.pid_alive, Some(true));
    assert!(
        entry.tty.as_deref().is_some_and(|t| t.starts_with("smb/")),
        "{entry:?}"
    );
    assert!(entry.login_time.is_some());
    // Samba's utmp lines are SMB sessions, not terminals.
    let interactive = snapshot
        .interactive_sessions
        .rows()
        .expect("interactive from utmp");
    assert!(
        interactive.iter().all(|i| i.pid != Some(pid)),
        "{interactive:?}"
    );
    // The serving smbd child is among the processes, owned by root (smbd changes only its effective uid).
    let procs = snapshot.processes.rows().expect("processes");
    assert!(
        procs
            .iter()
            .any(|p| p.pid == pid && p.name.starts_with("smbd")),
        "smbd child {pid} not in processes"
    );

    support::signal(pid, "KILL");
    assert!(
        support::wait_until(Duration::from_secs(10), || !std::path::Path::new(&format!(
            "/proc/{pid}"
        ))
        .exists()),
        "smbd child {pid} was not reaped"
    );

    let after = scan(&server, no_logind.path());
    let wks = after.workstation_users.rows().expect("utmp readable");
    let stale = wks
        .iter()
        .find(|u| u.pid == Some(pid))
        .expect("the utmp record outlives its process");
    assert_eq!(stale.user, "lsalice");
    assert_eq!(stale.pid_alive, Some(false));
    let smb = after.smb_sessions.rows().expect("smb sessions readable");
    assert!(
        smb.iter().all(|s| s.server_pid != Some(pid)),
        "smbstatus still lists the killed session: {smb:?}"
    );
    drop(session);
}

#[test]
fn smbstatus_with_no_server_running_is_an_empty_answer() {
    if !support::require(
        "smbstatus_with_no_server_running_is_an_empty_answer",
        false,
        &["smbstatus"],
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let lock = dir.path().join("lock");
    std::fs::create_dir(&lock).unwrap();
    let conf = dir.path().join("smb.conf");
    std::fs::write(&conf, format!(
        "[global]\nlock directory = {0}\nstate directory = {0}\ncache directory = {0}\nprivate dir = {0}\npid directory = {0}\n",
        lock.display()
    )).unwrap();
    let options = CollectOptions {
        linux: LinuxPaths {
            utmp: dir.path().join("no-utmp"),
            logind_dir: dir.path().to_path_buf(),
            smb_conf: Some(conf),
            ..LinuxPaths::default()
        },
        ..CollectOptions::default()
    };
    let snapshot = collect(&options).unwrap();
    assert_eq!(
        snapshot.smb_sessions.rows().map(Vec::len),
        Some(0),
        "{:?}",
        snapshot.smb_sessions
    );
    // No Samba sessions, nothing to say about their idle time.
    assert!(
        snapshot.notes.iter().all(|n| !n.contains("idle time")),
        "{:?}",
        snapshot.notes
    );
}

#[test]
fn fixture_maps_an_admin_group_and_cleans_up_after_itself() {
    if !support::require(
        "fixture_maps_an_admin_group_and_cleans_up_after_itself",
        true,
        &["smbd", "smbclient", "smbstatus", "smbpasswd", "net"],
    ) {
        return;
    }
    let admin = SambaUser::new("lsadmin", "Linger-Pass-3").admin();
    let mut options = SambaOptions::new(Ipv4Addr::new(127, 0, 0, 13), 14453).user(admin.clone());
    options.admin_group = Some("lsadmins".into());
    let server = SambaServer::start(&options);
    let conf = server.conf_path().to_str().unwrap().to_string();
    let mapping = support::run("net", &["-s", &conf, "groupmap", "list"]);
    assert!(
        mapping.contains("S-1-5-32-544") && mapping.contains("lsadmins"),
        "{mapping}"
    );
    assert!(
        support::run("id", &["-Gn", "lsadmin"])
            .split_whitespace()
            .any(|g| g == "lsadmins")
    );
    let session = server.hold_session(&admin);
    let (smbd, child) = (server.smbd_pid(), session.server_pid);
    assert!(support::alive(smbd) && support::alive(child));
    drop(session);
    drop(server);
    assert!(!support::alive(smbd), "smbd {smbd} survived the fixture");
    assert!(
        support::wait_until(Duration::from_secs(5), || !support::alive(child)),
        "smbd child {child} survived the fixture"
    );
}

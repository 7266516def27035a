//! End to end: the built `lingerscan` binary scanning this machine while a
//! real smbd (utmp = yes) serves a session: ACTIVE while it is held,
//! STALE_UTMP once its smbd child is killed with SIGKILL.
#![cfg(target_os = "linux")]

mod support;

use std::net::Ipv4Addr;
use std::process::Command;
use std::time::Duration;

use support::samba::{SambaOptions, SambaServer, SambaUser};

/// Run `lingerscan --user USER --format json` against the server's utmp and smb.conf.
fn lingerscan(
    server: &SambaServer,
    logind_dir: &std::path::Path,
    user: &str,
) -> (i32, serde_json::Value) {
    let output = Command::new(env!("CARGO_BIN_EXE_lingerscan"))
        .env("LINGERSCAN_NO_HISTORY", "1")
        .args(["--user", user, "--format", "json", "--timeout", "20s"])
        .arg("--utmp-file")
        .arg(server.utmp_path())
        .arg("--logind-dir")
        .arg(logind_dir)
        .arg("--smb-conf")
        .arg(server.conf_path())
        .output()
        .expect("run lingerscan");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let json = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "lingerscan printed no JSON ({e}): {stdout}\nstderr: {}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (output.status.code().unwrap_or(-1), json)
}

fn findings(report: &serde_json::Value) -> Vec<serde_json::Value> {
    report["hosts"][0]["analysis"]["findings"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[test]
fn binary_reports_active_then_stale_utmp() {
    if !support::require(
        "binary_reports_active_then_stale_utmp",
        true,
        &["smbd", "smbclient", "smbstatus", "smbpasswd"],
    ) {
        return;
    }
    let bob = SambaUser::new("lsbob", "Linger-Pass-2");
    let server = SambaServer::start(
        &SambaOptions::new(Ipv4Addr::new(127, 0, 0, 12), 14452).user(bob.clone()),
    );
    let no_logind = tempfile::tempdir().unwrap();
    let session = server.hold_session(&bob);
    let pid = session.server_pid;

    let (code, report) = lingerscan(&server, no_logind.path(), "lsbob");
    let found = findings(&report);
    let utmp = found
        .iter()
        .find(|f| {
            f["kind"] == "utmp_entry"
                && f["session_id"]
                    .as_str()
                    .is_some_and(|s| s.starts_with("smb/"))
        })
        .unwrap_or_else(|| panic!("no utmp finding while the session is held: {found:#?}"));
    assert_eq!(utmp["verdict"], "ACTIVE", "{utmp:#}");
    assert_eq!(utmp["user"], "lsbob");
    assert!(
        found.iter().all(|f| f["verdict"] != "STALE_UTMP"),
        "{found:#?}"
    );
    assert_eq!(report["outcome"], "clean", "exit {code}: {found:#?}");
    assert_eq!(code, 0);

    support::signal(pid, "KILL");
    assert!(support::wait_until(Duration::from_secs(10), || {
        !std::path::Path::new(&format!("/proc/{pid}")).exists()
    }));

    let (code, report) = lingerscan(&server, no_logind.path(), "lsbob");
    let found = findings(&report);
    let stale = found
        .iter()
        .find(|f| f["verdict"] == "STALE_UTMP")
        .unwrap_or_else(|| panic!("no STALE_UTMP after kill -9 of {pid}: {found:#?}"));
    assert_eq!(stale["user"], "lsbob");
    assert_eq!(stale["lingering"], true);
    assert!(
        stale["reason"]
            .as_str()
            .is_some_and(|r| r.contains(&pid.to_string())),
        "{stale:#}"
    );
    assert_eq!(report["outcome"], "lingering");
    assert_eq!(code, 1);
    drop(session);
}

//! The history against a real Samba: scans of a server while a user holds an
//! SMB session (Samba's `utmp = yes` lists the user to NetrWkstaUserEnum
//! while the session lasts), then after the session is released. `history`
//! and `diff` must show the user's finding first seen at the first scan,
//! still there at the third, and gone after the release.
//!
//! Loopback 127.0.0.164, port 14964. The database lives in a temporary
//! folder (`--db`), never under $HOME.
#![cfg(target_os = "linux")]

mod history_support;
mod support;

use std::path::Path;
use std::process::{Output, Stdio};
use std::time::Duration;

use history_support::{command, json};
use serde_json::Value;
use support::samba::SambaServer;
use support::samba::remote as samba;

/// The plain user's finding in a scan's report (its workstation-list row).
fn plain_finding(report: &Value) -> Option<Value> {
    report["hosts"][0]["analysis"]["findings"]
        .as_array()?
        .iter()
        .find(|f| {
            f["user"]
                .as_str()
                .is_some_and(|u| u.ends_with(samba::PLAIN_USER))
        })
        .cloned()
}

#[test]
fn a_held_samba_session_is_first_seen_still_there_then_gone() {
    if !support::require(
        "a_held_samba_session_is_first_seen_still_there_then_gone",
        true,
        &["smbd", "smbclient"],
    ) {
        return;
    }
    let server = SambaServer::start(&samba::options(
        "127.0.0.164".parse().expect("address"),
        14964,
    ));
    let home = tempfile::tempdir().expect("tempdir");
    let db = home.path().join("history.sqlite");
    let db = db.to_str().expect("utf-8 path");
    let ip = server.ip();
    let account = format!("{}\\{}", samba::WORKGROUP, samba::ADMIN_USER);
    let scan = || {
        let out = lingerscan(
            home.path(),
            &[
                "--host",
                &ip,
                "--port",
                "14964",
                "--username",
                &account,
                "--db",
                db,
                "-f",
                "json",
            ],
        );
        json(&out)
    };

    let held = server.hold_session(&samba::plain());
    let mut first_seen = None;
    for sighting in 1..=3u64 {
        let report = scan();
        let finding = plain_finding(&report)
            .unwrap_or_else(|| panic!("no finding for the held session's user: {report}"));
        assert_eq!(finding["sightings"], sighting, "{finding}");
        let first = finding["first_seen"].clone();
        assert!(first.is_string(), "{finding}");
        // The run started at the first scan and is not restarted by the later ones.
        assert_eq!(first_seen.get_or_insert(first.clone()), &first);
    }
    drop(held);
    assert!(
        support::wait_until(Duration::from_secs(20), || server
            .session_pids(samba::PLAIN_USER)
            .is_empty()),
        "the released session did not end"
    );
    let report = scan();
    assert!(plain_finding(&report).is_none(), "{report}");

    let diff = json(&lingerscan(
        home.path(),
        &["diff", "--db", db, "-f", "json"],
    ));
    let gone = diff["hosts"][0]["gone"].as_array().expect("gone list");
    assert!(
        gone.iter().any(|f| f["user"]
            .as_str()
            .is_some_and(|u| u.ends_with(samba::PLAIN_USER))),
        "{diff}"
    );
    let history = json(&lingerscan(
        home.path(),
        &["history", "--db", db, "--host", &ip, "-f", "json"],
    ));
    let run = history["runs"]
        .as_array()
        .expect("runs")
        .iter()
        .find(|r| {
            r["user"]
                .as_str()
                .is_some_and(|u| u.ends_with(samba::PLAIN_USER))
        })
        .unwrap_or_else(|| panic!("no run for the plain user: {history}"));
    assert_eq!(run["sightings"], 3, "{run}");
    assert_eq!(run["present"], false, "{run}");
    assert_eq!(Some(&run["first_seen"]), first_seen.as_ref(), "{run}");
}

#[test]
fn a_fleet_scan_and_a_single_scan_record_into_one_database_at_once() {
    if !support::require(
        "a_fleet_scan_and_a_single_scan_record_into_one_database_at_once",
        true,
        &["smbd"],
    ) {
        return;
    }
    let server = SambaServer::start(&samba::options(
        "127.0.0.165".parse().expect("address"),
        14965,
    ));
    let home = tempfile::tempdir().expect("tempdir");
    let db = home.path().join("history.sqlite");
    let db = db.to_str().expect("utf-8 path");
    let account = format!("{}\\{}", samba::WORKGROUP, samba::ADMIN_USER);
    let ip = server.ip();
    // The fleet: the Samba host, this machine (local) and a closed port on
    // another loopback address; the single scan: the Samba host alone.
    let run = |hosts: &[&str]| {
        let mut command = command(home.path());
        command
            .env("LINGERSCAN_PASSWORD", samba::ADMIN_PASSWORD)
            .args(["--port", "14965", "--username", &account, "--db", db])
            .args(["-f", "ndjson", "--timeout", "20s"]);
        for host in hosts {
            command.args(["--host", host]);
        }
        command
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start lingerscan")
    };
    let children = [
        run(&[&ip, "localhost", "127.0.0.166"]),
        run(&[&ip]),
        run(&[&ip]),
    ];
    for child in children {
        let out = child.wait_with_output().expect("wait");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("warning"), "{stderr}");
    }
    let scans = json(&lingerscan(
        home.path(),
        &["history", "--scans", "--db", db, "-f", "json"],
    ));
    let scans = scans["scans"].as_array().expect("scans").clone();
    // Every host of every run is one scan: 3 from the fleet, 1 + 1 single.
    assert_eq!(scans.len(), 5, "{scans:?}");
    let of_samba = scans.iter().filter(|s| s["host"] == ip.as_str()).count();
    assert_eq!(of_samba, 3, "{scans:?}");
}

/// `lingerscan ARGS` with the history on and the Samba admin's password.
fn lingerscan(home: &Path, args: &[&str]) -> Output {
    command(home)
        .env("LINGERSCAN_PASSWORD", samba::ADMIN_PASSWORD)
        .args(args)
        .output()
        .expect("run lingerscan")
}

//! The history end to end: `analyze --record` of snapshots taken a day
//! apart (a leaked logon present three times, then gone), then `history`,
//! `diff` and `--min-age` as of chosen moments (`--now`, no sleeping); and
//! two processes recording into one database at once.
//!
//! Every run names its database (`--db` in a temporary folder) and points
//! the data directory there too, so nothing is written under $HOME.

use std::path::Path;

mod history_support;

use history_support::{LEAKED, json, lingerscan, record_at_once, snapshot};
use serde_json::Value;

fn leaked_finding(report: &Value) -> Option<Value> {
    report["hosts"][0]["analysis"]["findings"]
        .as_array()?
        .iter()
        .find(|f| f["session_id"] == LEAKED)
        .cloned()
}

#[test]
fn three_sightings_then_gone_in_history_diff_and_min_age() {
    let dir = tempfile::tempdir().expect("tempdir");
    let home = dir.path();
    let db = home.join("db/history.sqlite");
    let db = db.to_str().expect("utf-8 path");
    let record = |file: &Path, extra: &[&str]| {
        let file = file.to_str().expect("utf-8 path");
        let mut args = vec!["analyze", file, "--record", "--db", db, "-f", "json"];
        args.extend_from_slice(extra);
        lingerscan(home, &args)
    };

    for day in 0..3 {
        let out = record(&snapshot(home, "FS01", day, true), &[]);
        assert_eq!(out.status.code(), Some(1), "{out:?}");
        let finding = leaked_finding(&json(&out)).expect("the leaked logon");
        assert_eq!(finding["first_seen"], "2025-10-10T10:30:00Z");
        assert_eq!(
            finding["last_seen"],
            format!("2025-10-{}T10:30:00Z", 10 + day)
        );
        assert_eq!(finding["sightings"], day + 1);
        assert_eq!(finding["lingering"], true);
    }
    let diff = json(&lingerscan(home, &["diff", "--db", db, "-f", "json"]));
    let host = &diff["hosts"][0];
    assert_eq!(host["still"][0]["session_id"], LEAKED, "{diff}");
    assert_eq!(host["new"].as_array().map(Vec::len), Some(0));

    // Day 3: gone.
    let out = record(&snapshot(home, "FS01", 3, false), &[]);
    assert!(leaked_finding(&json(&out)).is_none());
    let diff = json(&lingerscan(home, &["diff", "--db", db, "-f", "json"]));
    assert_eq!(diff["hosts"][0]["gone"][0]["session_id"], LEAKED, "{diff}");
    let text = lingerscan(home, &["diff", "--db", db]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("0 new, 1 gone, 0 still there"), "{text}");

    let history = json(&lingerscan(
        home,
        &["history", "--db", db, "--host", "fs01", "-f", "json"],
    ));
    let runs = history["runs"].as_array().expect("runs");
    let run = runs
        .iter()
        .find(|r| r["session_id"] == LEAKED)
        .expect("the leaked logon's run");
    assert_eq!(run["first_seen"], "2025-10-10T10:30:00Z");
    assert_eq!(run["last_seen"], "2025-10-12T10:30:00Z");
    assert_eq!(run["sightings"], 3);
    assert_eq!(run["present"], false);
    let by_user = json(&lingerscan(
        home,
        &["history", "--db", db, "--user", "bob", "-f", "json"],
    ));
    assert_eq!(by_user["runs"].as_array().map(Vec::len), Some(1));
    let text = lingerscan(home, &["history", "--db", db, "--user", "TESTDOMAIN\\bob"]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("gone") && text.contains("2025-10-10 10:30:00Z"),
        "{text}"
    );
    let scans = json(&lingerscan(
        home,
        &["history", "--scans", "--db", db, "-f", "json"],
    ));
    assert_eq!(scans["scans"].as_array().map(Vec::len), Some(4));

    // --min-age 36h on day 1's snapshot (recorded already: counted once):
    // first seen 25h before this --now, so new and watching, exit 0 …
    let day1 = snapshot(home, "FS01", 1, true);
    let out = record(
        &day1,
        &["--min-age", "36h", "--now", "2025-10-11T11:30:00Z"],
    );
    let finding = leaked_finding(&json(&out)).expect("the leaked logon");
    assert_eq!(
        (finding["watching"].clone(), finding["lingering"].clone()),
        (true.into(), false.into())
    );
    assert_eq!(finding["sightings"], 2);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // … and lingering 12 hours later.
    let out = record(
        &day1,
        &["--min-age", "36h", "--now", "2025-10-11T23:30:00Z"],
    );
    let finding = leaked_finding(&json(&out)).expect("the leaked logon");
    assert_eq!(finding.get("watching"), None);
    assert_eq!(finding["lingering"], true);
    assert_eq!(out.status.code(), Some(1));
    // The text report says which it is.
    let out = lingerscan(
        home,
        &[
            "analyze",
            day1.to_str().unwrap_or_default(),
            "--record",
            "--db",
            db,
            "--min-age",
            "36h",
            "--now",
            "2025-10-11T11:30:00Z",
            "--color",
            "never",
        ],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("new, watching: since 2025-10-10 10:30Z, seen 2 times"),
        "{text}"
    );

    // --keep prunes what is older than it (as of --now).
    let out = record(
        &snapshot(home, "FS01", 4, false),
        &["--keep", "2d", "--now", "2025-10-14T10:30:00Z"],
    );
    assert_eq!(out.status.code(), Some(0));
    let scans = json(&lingerscan(
        home,
        &["history", "--scans", "--db", db, "-f", "json"],
    ));
    assert_eq!(scans["scans"].as_array().map(Vec::len), Some(3), "{scans}");
    assert!(
        !home.join("lingerscan").exists(),
        "nothing written to the default database"
    );
}

#[test]
fn a_database_that_cannot_be_written_is_a_warning_not_a_failure() {
    let dir = tempfile::tempdir().expect("tempdir");
    let home = dir.path();
    let blocker = home.join("file");
    std::fs::write(&blocker, "not a folder").expect("write");
    let db = blocker.join("history.sqlite");
    let file = snapshot(home, "FS01", 0, true);
    let out = lingerscan(
        home,
        &[
            "analyze",
            file.to_str().unwrap_or_default(),
            "--record",
            "--db",
            db.to_str().unwrap_or_default(),
        ],
    );
    assert_eq!(out.status.code(), Some(1), "the exit code of the analysis");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("warning: no history for this run"),
        "{stderr}"
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("LEAKED_LOGON"));
    // A scan of this machine too: same exit code as without history.
    let plain = lingerscan(home, &["--no-history", "--timeout", "5s", "-f", "json"]);
    let broken = lingerscan(
        home,
        &[
            "--db",
            db.to_str().unwrap_or_default(),
            "--timeout",
            "5s",
            "-f",
            "json",
        ],
    );
    assert_eq!(plain.status.code(), broken.status.code());
    assert!(String::from_utf8_lossy(&broken.stderr).contains("warning: no history"));
}

#[test]
fn two_processes_recording_at_once_lose_no_scan() {
    let dir = tempfile::tempdir().expect("tempdir");
    let home = dir.path();
    let db = home.join("shared.sqlite");
    let db = db.to_str().expect("utf-8 path");
    // Two scanners, each its own hosts' days plus host "common" on alternate days.
    let files = |scanner: u32| -> Vec<String> {
        let mut files = Vec::new();
        for day in 0..15 {
            for host in 0..4 {
                let name = format!("s{scanner}-h{host}");
                files.push(snapshot(home, &name, day, day % 3 != 0));
            }
            if day % 2 == scanner {
                files.push(snapshot(home, "common", day, true));
            }
        }
        files.into_iter().map(|p| p.display().to_string()).collect()
    };
    record_at_once(home, &[files(0), files(1)], &["--db", db], &[]);
    let scans = json(&lingerscan(
        home,
        &["history", "--scans", "--db", db, "-f", "json"],
    ));
    let scans = scans["scans"].as_array().expect("scans").clone();
    assert_eq!(scans.len(), 2 * 15 * 4 + 15);
    // Every scan with its findings: the leaked logon on 2 days out of 3.
    let with_leak = scans.iter().filter(|s| s["findings"] == 1).count();
    assert_eq!(with_leak, 2 * 4 * 10 + 15, "{scans:?}");
    let common = json(&lingerscan(
        home,
        &["history", "--db", db, "--host", "common", "-f", "json"],
    ));
    let run = &common["runs"][0];
    assert_eq!(
        (run["sightings"].clone(), run["present"].clone()),
        (15.into(), true.into())
    );
}

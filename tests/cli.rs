//! The binary as a user runs it: exit codes, formats, and bad input.

use std::path::PathBuf;
use std::process::{Command, Output};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn lingerscan(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lingerscan"))
        .env("LINGERSCAN_NO_HISTORY", "1")
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn analyze(name: &str, extra: &[&str]) -> Output {
    let path = fixture(name);
    let mut args = vec!["analyze", path.to_str().unwrap()];
    args.extend_from_slice(extra);
    lingerscan(&args)
}

#[test]
fn exit_codes_follow_the_verdicts() {
    assert_eq!(
        analyze(
            "script_example.json",
            &["--user", "TESTDOMAIN\\Administrator"]
        )
        .status
        .code(),
        Some(0)
    );
    assert_eq!(
        analyze("lingering_wksta.json", &["--user", "alice"])
            .status
            .code(),
        Some(1)
    );
    assert_eq!(
        analyze("process_source_failed.json", &["--user", "alice"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(analyze("disconnected_rdp.json", &[]).status.code(), Some(1));
    assert_eq!(
        analyze("disconnected_rdp.json", &["--max-idle", "7d"])
            .status
            .code(),
        Some(0)
    );
}

#[test]
fn text_report_has_the_script_sections_and_counts() {
    let out = analyze(
        "script_example.json",
        &["--target-user", "TESTDOMAIN\\Administrator"],
    );
    let stdout = text(&out.stdout);
    for needle in [
        "LINGERING SESSION DETECTION REPORT",
        "SECTION 1: NetWkstaUserEnum - ALL SESSIONS",
        "Total sessions found: 13",
        "SECTION 2: Win32_LogonSession - ACTIVE LOGON SESSIONS",
        "Active logon sessions found: 1",
        "SECTION 3: PROCESSES - ACTIVE PROCESSES RUNNING AS USER",
        "Active processes found: 28",
        "SECTION 4: SMB SESSIONS - NETWORK FILE SHARING SESSIONS",
        "No SMB sessions found for 'TESTDOMAIN\\Administrator'",
        "SECTION 5: LINGERING SESSION ANALYSIS",
        "ACTIVE USER STATE (not lingering by this heuristic)",
        "NetWkstaUserEnum Sessions: 13 total",
        "Active Logon Sessions: 1",
        "Running Processes: 28",
        "SMB Sessions: 0",
    ] {
        assert!(stdout.contains(needle), "missing {needle:?} in:\n{stdout}");
    }
    assert!(!stdout.contains('\x1b'), "NO_COLOR must disable colour");
}

#[test]
fn lingering_report_carries_the_recommendation() {
    let stdout = text(&analyze("lingering_wksta.json", &["--user", "TESTDOMAIN\\alice"]).stdout);
    assert!(stdout.contains("LINGERING USER STATE DETECTED"));
    assert!(stdout.contains("Recommendation:"));
    assert!(stdout.contains("STALE_WKSTA"));
}

#[test]
fn failed_source_report_carries_the_warning() {
    let stdout = text(&analyze("process_source_failed.json", &["--user", "alice"]).stdout);
    assert!(stdout.contains("ERROR: The process list could not be read: access denied"));
    // The script's own warning for a lingering result that rests on a failed query.
    assert!(stdout.contains("IMPORTANT: Section 2 and/or Section 3 did not complete successfully"));
    assert!(stdout.contains("INCONCLUSIVE"));
}

#[test]
fn json_ndjson_and_csv_carry_the_same_findings() {
    let json: serde_json::Value =
        serde_json::from_slice(&analyze("linux_mixed.json", &["-f", "json"]).stdout).unwrap();
    assert_eq!(json["report_version"], 2);
    assert_eq!(json["outcome"], "lingering");
    let findings = json["hosts"][0]["analysis"]["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 5);
    // Without --include-snapshot: the cited rows, not the snapshot.
    assert!(json["hosts"][0].get("snapshot").is_none());
    let cited = &json["hosts"][0]["evidence_rows"];
    for finding in findings {
        for evidence in finding["evidence"].as_array().unwrap() {
            let source = evidence["source"].as_str().unwrap();
            for row in evidence["rows"].as_array().unwrap() {
                assert!(
                    cited[source]
                        .as_array()
                        .is_some_and(|rows| rows.iter().any(|r| &r["row"] == row)),
                    "{source} row {row} is cited but missing"
                );
            }
        }
    }
    let with: serde_json::Value = serde_json::from_slice(
        &analyze("linux_mixed.json", &["-f", "json", "--include-snapshot"]).stdout,
    )
    .unwrap();
    // A version 1 snapshot is reported as read, not rewritten.
    assert_eq!(with["hosts"][0]["snapshot"]["schema_version"], 1);
    assert_eq!(with["hosts"][0]["analysis"], json["hosts"][0]["analysis"]);

    let ndjson = text(&analyze("linux_mixed.json", &["-f", "ndjson"]).stdout);
    let lines: Vec<&str> = ndjson.lines().collect();
    assert_eq!(lines.len(), 1);
    let line: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(line["analysis"]["findings"].as_array().unwrap().len(), 5);

    let csv = text(&analyze("linux_mixed.json", &["-f", "csv"]).stdout);
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 5);
    let verdicts: Vec<&str> = rows.iter().map(|r| &r[1]).collect();
    assert!(verdicts.contains(&"STALE_UTMP") && verdicts.contains(&"CLOSING"));
}

#[test]
fn several_snapshots_in_one_run() {
    let a = fixture("script_example.json");
    let b = fixture("leaked_logon.json");
    let out = lingerscan(&[
        "analyze",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        "-f",
        "ndjson",
    ]);
    assert_eq!(text(&out.stdout).lines().count(), 2);
    assert_eq!(out.status.code(), Some(1), "lingering on any host wins");
}

#[test]
fn malformed_json_names_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.json");
    std::fs::write(&path, "{\n  \"schema_version\": 1,\n  \"host\": oops\n}\n").unwrap();
    let out = lingerscan(&["analyze", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("broken.json:3:"), "{stderr}");
    assert!(!stderr.contains("panicked"));
}

#[test]
fn unknown_schema_version_is_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("future.json");
    std::fs::write(&path, "{\"schema_version\": 99, \"host\": \"x\"}").unwrap();
    let out = lingerscan(&["analyze", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("schema_version 99 is not supported"));
}

#[test]
fn unreadable_or_missing_file_is_an_error_not_a_panic() {
    let out = lingerscan(&["analyze", "/nonexistent/snap.json"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("cannot read /nonexistent/snap.json"),
        "{stderr}"
    );
    let dir = tempfile::tempdir().unwrap();
    let out = lingerscan(&["analyze", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(!text(&out.stderr).contains("panicked"));
}

#[test]
fn empty_or_whitespace_user_is_refused() {
    for user in ["", "   ", "\\bob", "DOM\\"] {
        let out = analyze("script_example.json", &["--user", user]);
        assert_eq!(out.status.code(), Some(2), "user {user:?}");
        assert!(
            text(&out.stderr).contains("invalid --user"),
            "user {user:?}"
        );
    }
}

#[test]
fn hostile_names_do_not_reach_the_terminal_raw() {
    let mut snapshot: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("lingering_wksta.json")).unwrap())
            .unwrap();
    snapshot["workstation_users"]["rows"][1]["user"] = "ev\u{1b}]0;owned\u{7}il".into();
    snapshot["workstation_users"]["rows"][2]["user"] = "=HYPERLINK(\"x\")".into();
    snapshot["workstation_users"]["rows"][2]["logon_domain"] = "".into();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hostile.json");
    std::fs::write(&path, snapshot.to_string()).unwrap();
    let out = lingerscan(&["analyze", path.to_str().unwrap()]);
    assert!(!out.stdout.contains(&0x1b) && !out.stdout.contains(&0x07));
    assert!(text(&out.stdout).contains("ev\\u{1b}]0;owned\\u{7}il"));
    let csv = lingerscan(&["analyze", path.to_str().unwrap(), "-f", "csv"]);
    let csv = text(&csv.stdout);
    assert!(
        !csv.contains(",=HYPERLINK") && csv.contains("'=HYPERLINK"),
        "{csv}"
    );
}

#[test]
fn snapshot_schema_file_is_current() {
    let out = lingerscan(&["schema"]);
    assert_eq!(out.status.code(), Some(0));
    let committed = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/snapshot.schema.json"),
    )
    .unwrap();
    assert_eq!(
        text(&out.stdout),
        committed,
        "regenerate with: lingerscan schema > docs/snapshot.schema.json"
    );
}

#[test]
fn completions_and_man_page_are_generated() {
    let out = lingerscan(&["completions", "bash"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).contains("lingerscan"));
    let man = lingerscan(&["man"]);
    assert_eq!(man.status.code(), Some(0));
    assert!(text(&man.stdout).contains(".TH lingerscan"));
}

#[cfg(target_os = "linux")]
#[test]
fn snapshot_then_offline_analysis_of_this_machine() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("here.json");
    let out = lingerscan(&[
        "snapshot",
        "--out",
        path.to_str().unwrap(),
        "--smbstatus",
        "/nonexistent/smbstatus",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let snapshot: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(snapshot["collector"], "linux-local");
    // This test process is in the snapshot, with its name.
    let me = std::process::id();
    let rows = snapshot["processes"]["rows"].as_array().unwrap();
    assert!(rows.iter().any(|p| p["pid"] == me), "own pid {me} missing");
    let analysed = lingerscan(&[
        "analyze",
        path.to_str().unwrap(),
        "-f",
        "json",
        "--include-snapshot",
    ]);
    let report: serde_json::Value = serde_json::from_slice(&analysed.stdout).unwrap();
    assert_eq!(report["hosts"][0]["snapshot"], snapshot);
    assert!(matches!(analysed.status.code(), Some(0..=2)));
}

/// `analyze --now` moves every idle judgement: a session idle 3d 1h at
/// collection is idle 5d 1h two days later, past `--max-idle 4d`.
#[test]
fn analyze_now_moves_idle_judgements() {
    let fixture = fixture("disconnected_rdp.json");
    let fixture = fixture.to_str().unwrap_or_default();
    let run = |extra: &[&str]| {
        let mut args = vec!["analyze", fixture, "--max-idle", "4d", "--format", "csv"];
        args.extend_from_slice(extra);
        lingerscan(&args)
    };
    let then = run(&[]);
    assert_eq!(then.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&then.stdout).contains("idle 3d 1h,"));
    let later = run(&["--now", "2025-10-12T10:30:00Z"]);
    assert_eq!(later.status.code(), Some(1));
    let text = String::from_utf8_lossy(&later.stdout);
    assert!(
        text.contains("DISCONNECTED,true") && text.contains("idle 5d 1h (over --max-idle 4d 0h)"),
        "{text}"
    );
    let before = run(&["--now", "2025-10-01T00:00:00Z"]);
    assert_eq!(before.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&before.stderr).contains("before"));
}

/// `analyze` of fleet NDJSON: a line with its snapshot is judged again with
/// this run's options; a line without one is re-emitted as recorded, and a
/// re-judgement it cannot make is an error naming the line.
#[test]
fn analyze_reads_fleet_ndjson_with_and_without_snapshots() {
    let with = analyze(
        "disconnected_rdp.json",
        &["-f", "ndjson", "--include-snapshot"],
    );
    let line = text(&with.stdout);
    let mut recorded: serde_json::Value = serde_json::from_str(line.trim()).unwrap();
    recorded.as_object_mut().unwrap().remove("snapshot");
    let recorded = recorded.to_string();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fleet.ndjson");
    // Two shards' outputs, concatenated: one line with a snapshot, one without.
    std::fs::write(&path, format!("{}{recorded}\n", line)).unwrap();
    let file = path.to_str().unwrap();

    let out = lingerscan(&["analyze", file, "-f", "ndjson"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let lines: Vec<String> = text(&out.stdout).lines().map(String::from).collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[1], recorded, "re-emitted unchanged");

    // Judged again: the line with a snapshot follows --max-idle ...
    let out = lingerscan(&["analyze", file, "-f", "csv", "--max-idle", "7d"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("fleet.ndjson:2: host ") && stderr.contains("--max-idle"),
        "{stderr}"
    );
    // ... and the one without cannot be.
    let out = lingerscan(&["analyze", file, "--now", "2030-01-01T00:00:00Z"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--now needs the evidence"));

    // The fleet text report: the summary first.
    let out = lingerscan(&["analyze", file]);
    let report = text(&out.stdout);
    assert!(report.contains("FLEET SUMMARY"), "{report}");
    assert!(report.contains("recorded analysis"), "{report}");
}

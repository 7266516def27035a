//! Section 5, the section counts and the per-user JSON against an executable
//! model of Get-LingeringSessions.ps1 (tests/script_model/model.py, written
//! from the script), on generated Windows snapshots and on the issue's own
//! examples. python3 (standard library only) must be on PATH. The analysis
//! is the same code on every OS, so this runs on the Linux host only (the
//! Windows build's tests run under Wine, which has no python3).
#![cfg(unix)]

use std::path::{Path, PathBuf};
use std::process::Command;

use lingerscan::analyze::{Analysis, AnalyzeOptions, ScriptWarning, UserState, analyze};
use lingerscan::identity::TargetUser;
use lingerscan::model::{
    FailureKind, HostSnapshot, LogonSession, Observed, Platform, ProcessRow, SmbSession,
    WorkstationUser,
};
use lingerscan::snapshot_io;

fn model_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/script_model")
}

fn python() -> Command {
    let mut cmd = Command::new("python3");
    // No stale bytecode next to the sources, and no user site packages.
    cmd.env("PYTHONDONTWRITEBYTECODE", "1").arg("-s");
    cmd
}

/// The model's answer for a snapshot file: (verdict, warnings, counts).
fn model(path: &Path, target: &str) -> serde_json::Value {
    let out = python()
        .arg(model_dir().join("model.py"))
        .arg(path)
        .arg(target)
        .output()
        .expect("python3 must be installed to run the script model");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("model output")
}

#[test]
fn generated_snapshots_agree_with_the_script_model() {
    let workdir = tempfile::tempdir().expect("tempdir");
    // A fixed seed, so CI is reproducible; LINGERSCAN_SCRIPT_SEED explores others.
    let seed = std::env::var("LINGERSCAN_SCRIPT_SEED").unwrap_or_else(|_| "15".into());
    let cases = std::env::var("LINGERSCAN_SCRIPT_CASES").unwrap_or_else(|_| "1200".into());
    let out = python()
        .arg(model_dir().join("differential.py"))
        .args(["--lingerscan", env!("CARGO_BIN_EXE_lingerscan")])
        .args(["--seed", &seed, "--cases", &cases])
        .arg("--workdir")
        .arg(workdir.path())
        .output()
        .expect("python3 must be installed to run the script model");
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("(100.00%)"), "{stdout}");
}

#[test]
fn the_seed_example_gives_the_scripts_result() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/script_example.json");
    let want = model(&path, "TESTDOMAIN\\Administrator");
    assert_eq!(want["verdict"], "ACTIVE");
    assert_eq!(want["counts"]["wksta_total"], 13);
    assert_eq!(want["counts"]["wksta_rows"], 1);
    assert_eq!(want["counts"]["logon"], 1);
    assert_eq!(want["counts"]["processes"], 28);
    assert_eq!(want["counts"]["smb"], 0);
    let snapshot = snapshot_io::load(&path).expect("fixture");
    let user = &run(&snapshot, "TESTDOMAIN\\Administrator").users[0];
    assert_eq!(user.state, UserState::Active);
    assert_eq!(
        (
            user.workstation_rows.len(),
            user.logon_sessions,
            user.processes,
            user.smb_sessions
        ),
        (1, 1, 28, 0)
    );
    assert!(user.warnings.is_empty());
}

fn run(snapshot: &HostSnapshot, target: &str) -> Analysis {
    let mut options = AnalyzeOptions::for_snapshot(snapshot);
    options.target = Some(TargetUser::parse(target).expect("target"));
    analyze(snapshot, &options)
}

fn host() -> HostSnapshot {
    let mut s = HostSnapshot::empty("APP04", Platform::Windows, "windows-local");
    s.workstation_users = Observed::ok(Vec::new());
    s.logon_sessions = Observed::ok(Vec::new());
    s.processes = Observed::ok(Vec::new());
    s.smb_sessions = Observed::ok(Vec::new());
    s.interactive_sessions = Observed::ok(Vec::new());
    s
}

fn wksta(domain: &str, user: &str) -> WorkstationUser {
    WorkstationUser {
        user: user.into(),
        logon_domain: domain.into(),
        ..Default::default()
    }
}

fn logon(id: &str, domain: &str, user: &str) -> LogonSession {
    LogonSession {
        logon_id: id.into(),
        user: Some(user.into()),
        domain: Some(domain.into()),
        logon_type: Some(3),
        ..Default::default()
    }
}

fn process(pid: u32, owner: &str, logon_id: &str) -> ProcessRow {
    ProcessRow {
        pid,
        name: "cmd.exe".into(),
        user: Some(owner.into()),
        logon_id: Some(logon_id.into()),
        ..Default::default()
    }
}

/// The model agrees with lingerscan on this snapshot and target.
fn assert_model_agrees(snapshot: &HostSnapshot, target: &str, analysis: &Analysis) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("snap.json");
    snapshot_io::save(snapshot, &path).expect("save");
    let want = model(&path, target);
    let user = &analysis.users[0];
    let state = match want["verdict"].as_str() {
        Some("LINGERING") => UserState::Lingering,
        Some("ACTIVE") => UserState::Active,
        _ => UserState::NotPresent,
    };
    assert_eq!(user.state, state, "{want}");
    assert_eq!(want["counts"]["wksta_rows"], user.workstation_rows.len());
    assert_eq!(want["counts"]["logon"], user.logon_sessions);
    assert_eq!(want["counts"]["processes"], user.processes);
    assert_eq!(want["counts"]["smb"], user.smb_sessions);
}

#[test]
fn another_domains_logon_counts_for_the_same_name_and_says_so() {
    let mut s = host();
    s.workstation_users = Observed::ok(vec![wksta("FABRIKAM", "alice")]);
    s.logon_sessions = Observed::ok(vec![logon("4242", "CONTOSO", "ALICE")]);
    let analysis = run(&s, "FABRIKAM\\alice");
    assert_model_agrees(&s, "FABRIKAM\\alice", &analysis);
    let user = &analysis.users[0];
    assert_eq!(user.state, UserState::Active);
    let differ = user.findings_differ.as_deref().unwrap_or_default();
    assert!(
        differ.contains("counts CONTOSO\\ALICE's 1 logon session(s) for FABRIKAM\\alice")
            && differ.contains("compares only the account name"),
        "{differ}"
    );
}

#[test]
fn a_upn_target_matches_any_domain_by_its_sam_name() {
    let mut s = host();
    s.workstation_users = Observed::ok(vec![wksta("FABRIKAM", "dave")]);
    s.logon_sessions = Observed::ok(vec![logon("77", "FABRIKAM", "dave")]);
    s.processes = Observed::ok(vec![process(900, "FABRIKAM\\dave", "77")]);
    let analysis = run(&s, "dave@example.com");
    assert_model_agrees(&s, "dave@example.com", &analysis);
    assert_eq!(analysis.users[0].state, UserState::Active);
    // The findings match domains: example.com is not FABRIKAM.
    assert!(analysis.findings.is_empty());
    assert!(analysis.users[0].findings_differ.is_some());
}

#[test]
fn only_a_listed_user_can_be_active_or_lingering() {
    let mut s = host();
    s.logon_sessions = Observed::ok(vec![logon("77", "CONTOSO", "erin")]);
    s.processes = Observed::ok(vec![process(900, "CONTOSO\\erin", "77")]);
    let analysis = run(&s, "CONTOSO\\erin");
    assert_model_agrees(&s, "CONTOSO\\erin", &analysis);
    let user = &analysis.users[0];
    assert_eq!(user.state, UserState::NotPresent);
    // Sections 2 and 3 still count what they saw.
    assert_eq!((user.logon_sessions, user.processes), (1, 1));
}

#[test]
fn a_failed_source_does_not_matter_to_an_unlisted_user() {
    let mut s = host();
    s.processes = Observed::failed(FailureKind::AccessDenied, Some(5), "denied");
    let analysis = run(&s, "CONTOSO\\erin");
    let user = &analysis.users[0];
    assert_eq!(user.state, UserState::NotPresent);
    assert_eq!(user.warnings, vec![ScriptWarning::ProcessesFailed]);
}

#[test]
fn an_unreadable_list_is_inconclusive_with_the_scripts_warning() {
    let mut s = host();
    s.workstation_users = Observed::failed(FailureKind::AccessDenied, Some(5), "denied");
    let analysis = run(&s, "alice");
    let user = &analysis.users[0];
    assert_eq!(user.state, UserState::Inconclusive);
    assert_eq!(user.warnings, vec![ScriptWarning::WorkstationListFailed]);
}

#[test]
fn machine_account_rows_count_in_sections_2_and_3_but_never_list_the_target() {
    let mut s = host();
    s.workstation_users = Observed::ok(vec![wksta("CONTOSO", "APP04$")]);
    s.logon_sessions = Observed::ok(vec![logon("999", "CONTOSO", "APP04$")]);
    s.processes = Observed::ok(vec![process(4, "CONTOSO\\APP04$", "999")]);
    let analysis = run(&s, "APP04$");
    assert_model_agrees(&s, "APP04$", &analysis);
    let user = &analysis.users[0];
    assert_eq!(user.state, UserState::NotPresent);
    assert_eq!((user.logon_sessions, user.processes), (1, 1));
    let report = lingerscan::report::text::render(&s, &analysis, Default::default());
    assert!(
        report.contains("Active logon sessions found: 1"),
        "{report}"
    );
    assert!(report.contains("Active Logon Sessions: 1"), "{report}");
    assert!(report.contains("Running Processes: 1"), "{report}");
}

#[test]
fn a_upn_smb_row_counts_only_for_the_same_upn_and_is_shown_alike_everywhere() {
    let mut s = host();
    s.workstation_users = Observed::ok(vec![wksta("APP04", "carol")]);
    s.smb_sessions = Observed::ok(vec![SmbSession {
        client: "\\\\10.0.0.9".into(),
        user: Some("carol@app04.local".into()),
        ..Default::default()
    }]);
    for (target, smb) in [("APP04\\carol", 0), ("carol@app04.local", 1)] {
        let analysis = run(&s, target);
        assert_model_agrees(&s, target, &analysis);
        assert_eq!(analysis.users[0].smb_sessions, smb, "{target}");
        let report = lingerscan::report::text::render(&s, &analysis, Default::default());
        let has = if smb > 0 { "True" } else { "False" };
        assert!(
            report.contains(&format!("Has SMB session (informational): {has}"))
                && report.contains(&format!("SMB Sessions: {smb}")),
            "{report}"
        );
    }
}

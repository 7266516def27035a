//! Verdicts on snapshot fixtures (tests/fixtures/*.json), through the library.

use std::path::Path;
use std::time::Duration;

use lingerscan::analyze::{
    Analysis, AnalyzeOptions, Outcome, SessionKind, UserState, Verdict, analyze,
};
use lingerscan::identity::TargetUser;
use lingerscan::model::{HostSnapshot, Source};
use lingerscan::snapshot_io;

fn fixture(name: &str) -> HostSnapshot {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    snapshot_io::load(&path).unwrap()
}

fn run(snapshot: &HostSnapshot, target: Option<&str>) -> Analysis {
    let mut options = AnalyzeOptions::for_snapshot(snapshot);
    options.target = target.map(|t| TargetUser::parse(t).unwrap());
    analyze(snapshot, &options)
}

fn verdicts(analysis: &Analysis) -> Vec<(Verdict, String)> {
    let mut v: Vec<_> = analysis
        .findings
        .iter()
        .map(|f| (f.verdict, f.user.clone()))
        .collect();
    v.sort();
    v
}

#[test]
fn script_example_is_active() {
    let snapshot = fixture("script_example.json");
    let analysis = run(&snapshot, Some("TESTDOMAIN\\Administrator"));
    assert_eq!(analysis.users.len(), 1);
    let user = &analysis.users[0];
    assert_eq!(user.state, UserState::Active);
    assert_eq!(user.workstation_rows, vec![1]);
    assert_eq!(user.logon_sessions, 1);
    assert_eq!(user.processes, 28);
    assert_eq!(user.smb_sessions, 0);
    assert_eq!(
        verdicts(&analysis),
        vec![(Verdict::Active, "TESTDOMAIN\\Administrator".to_string())]
    );
    let finding = &analysis.findings[0];
    assert_eq!(finding.kind, SessionKind::LogonSession);
    assert_eq!(finding.session_id, "381678");
    assert_eq!(finding.evidence_count(Source::Processes), 28);
    assert_eq!(finding.evidence_count(Source::InteractiveSessions), 1);
    assert_eq!(analysis.outcome(), Outcome::Clean);
}

#[test]
fn script_example_without_target_sets_machine_and_service_accounts_aside() {
    let analysis = run(&fixture("script_example.json"), None);
    let users: Vec<&str> = analysis.users.iter().map(|u| u.user.as_str()).collect();
    assert_eq!(users, vec!["TESTDOMAIN\\Administrator"]);
    assert!(
        analysis
            .findings
            .iter()
            .all(|f| !f.user.contains('$') && !f.user.contains("DWM"))
    );
}

#[test]
fn upn_and_bare_targets_match_the_same_user() {
    let snapshot = fixture("script_example.json");
    for target in [
        "Administrator@testdomain.local",
        "administrator",
        "testdomain\\ADMINISTRATOR",
    ] {
        let analysis = run(&snapshot, Some(target));
        assert_eq!(analysis.users[0].state, UserState::Active, "{target}");
        assert_eq!(analysis.users[0].processes, 28, "{target}");
        assert_eq!(analysis.findings.len(), 1, "{target}");
    }
    // The script compares account names only (Get-LingeringSessions.ps1:195-210):
    // another domain's Administrator is the same user to its rule; the
    // session findings, which match domains, see nothing of OTHERDOM's.
    let other_domain = run(&snapshot, Some("OTHERDOM\\Administrator"));
    assert_eq!(other_domain.users[0].state, UserState::Active);
    assert!(other_domain.findings.is_empty());
    assert!(
        other_domain.users[0]
            .findings_differ
            .as_deref()
            .is_some_and(|d| d.contains("compares only the account name")),
        "{:?}",
        other_domain.users[0].findings_differ
    );
}

#[test]
fn listed_user_without_logon_or_process_is_stale_wksta() {
    let analysis = run(&fixture("lingering_wksta.json"), Some("TESTDOMAIN\\alice"));
    let user = &analysis.users[0];
    assert_eq!(user.state, UserState::Lingering);
    // Duplicate workstation rows are kept as evidence, one finding for the user.
    assert_eq!(user.workstation_rows, vec![1, 2]);
    assert_eq!(analysis.findings.len(), 1);
    let f = &analysis.findings[0];
    assert_eq!(f.verdict, Verdict::StaleWksta);
    assert!(f.lingering);
    assert_eq!(f.evidence_count(Source::WorkstationUsers), 2);
    assert_eq!(analysis.outcome(), Outcome::Lingering);
}

#[test]
fn logon_session_without_anything_is_leaked() {
    let analysis = run(&fixture("leaked_logon.json"), None);
    assert_eq!(
        verdicts(&analysis),
        vec![(Verdict::LeakedLogon, "TESTDOMAIN\\bob".to_string())]
    );
    assert!(analysis.findings[0].lingering);
    assert_eq!(analysis.outcome(), Outcome::Lingering);
}

#[test]
fn leaked_logon_becomes_inconclusive_when_processes_cannot_be_read() {
    let mut snapshot = fixture("leaked_logon.json");
    snapshot.processes = lingerscan::model::Observed::failed(
        lingerscan::model::FailureKind::AccessDenied,
        Some(5),
        "denied",
    );
    let analysis = run(&snapshot, None);
    assert_eq!(analysis.findings[0].verdict, Verdict::Inconclusive);
    assert!(!analysis.findings[0].lingering);
    assert_eq!(analysis.outcome(), Outcome::Undecided);
}

#[test]
fn leaked_logon_is_inconclusive_when_a_process_could_not_be_opened() {
    let mut snapshot = fixture("leaked_logon.json");
    if let lingerscan::model::Observed::Ok { rows } = &mut snapshot.processes {
        rows.push(lingerscan::model::ProcessRow {
            pid: 9999,
            name: "unknown.exe".into(),
            access_error: Some("access denied".into()),
            ..Default::default()
        });
    }
    let analysis = run(&snapshot, None);
    assert_eq!(analysis.findings[0].verdict, Verdict::Inconclusive);
}

#[test]
fn logon_held_by_smb_session_is_active() {
    let mut snapshot = fixture("leaked_logon.json");
    snapshot.smb_sessions = lingerscan::model::Observed::ok(vec![lingerscan::model::SmbSession {
        client: "10.1.1.1".into(),
        user: Some("bob".into()),
        idle_secs: Some(5),
        ..Default::default()
    }]);
    let analysis = run(&snapshot, Some("bob"));
    let logon = analysis
        .findings
        .iter()
        .find(|f| f.kind == SessionKind::LogonSession)
        .unwrap();
    assert_eq!(logon.verdict, Verdict::Active);
    assert_eq!(logon.evidence_count(Source::SmbSessions), 1);
}

#[test]
fn disconnected_rdp_lingers_only_past_max_idle() {
    let snapshot = fixture("disconnected_rdp.json");
    let analysis = run(&snapshot, None);
    let f = &analysis.findings[0];
    assert_eq!(f.verdict, Verdict::Disconnected);
    assert!(f.lingering);
    assert_eq!(f.idle_secs, Some(3 * 86_400 + 3600));
    assert_eq!(analysis.outcome(), Outcome::Lingering);

    let mut options = AnalyzeOptions::for_snapshot(&snapshot);
    options.max_idle = Duration::from_secs(7 * 86_400);
    let patient = analyze(&snapshot, &options);
    assert_eq!(patient.findings[0].verdict, Verdict::Disconnected);
    assert!(!patient.findings[0].lingering);
    assert_eq!(patient.outcome(), Outcome::Clean);
}

#[test]
fn failed_process_source_is_the_scripts_unconfirmed_lingering() {
    let analysis = run(
        &fixture("process_source_failed.json"),
        Some("TESTDOMAIN\\alice"),
    );
    let user = &analysis.users[0];
    // The script's section 5: LINGERING with its "IMPORTANT" warning
    // (Get-LingeringSessions.ps1:472-484); the findings stay INCONCLUSIVE
    // and the exit status says "could not decide".
    assert_eq!(user.state, UserState::Lingering);
    assert!(user.unconfirmed());
    assert_eq!(user.unchecked, vec![Source::Processes]);
    assert_eq!(user.processes, 0);
    assert_eq!(
        verdicts(&analysis),
        vec![(Verdict::Inconclusive, "TESTDOMAIN\\alice".to_string())]
    );
    assert_eq!(analysis.outcome(), Outcome::Undecided);
}

#[test]
fn linux_verdicts() {
    let analysis = run(&fixture("linux_mixed.json"), None);
    let got = verdicts(&analysis);
    assert_eq!(
        got,
        vec![
            (Verdict::Active, "dave".to_string()),
            (Verdict::Active, "frank".to_string()),
            (Verdict::LeakedLogon, "hank".to_string()),
            (Verdict::Closing, "gina".to_string()),
            (Verdict::StaleUtmp, "erin".to_string()),
        ]
    );
    // dave's utmp record is explained by his logind session (same leader pid), not reported twice.
    let dave = analysis.findings.iter().find(|f| f.user == "dave").unwrap();
    assert_eq!(dave.kind, SessionKind::LogonSession);
    assert_eq!(dave.evidence_count(Source::WorkstationUsers), 1);
    // frank's Samba utmp record carries the SMB session served by the same smbd.
    let frank = analysis
        .findings
        .iter()
        .find(|f| f.user == "frank")
        .unwrap();
    assert_eq!(frank.evidence_count(Source::SmbSessions), 1);
    let states: Vec<(String, UserState)> = analysis
        .users
        .iter()
        .map(|u| (u.user.clone(), u.state))
        .collect();
    assert!(states.contains(&("erin".to_string(), UserState::Lingering)));
    assert!(states.contains(&("frank".to_string(), UserState::Active)));
}

#[test]
fn audit_sessions_group_processes_when_logind_is_absent() {
    let mut snapshot = fixture("linux_mixed.json");
    snapshot.logon_sessions = lingerscan::model::Observed::failed(
        lingerscan::model::FailureKind::NotAvailable,
        None,
        "no logind",
    );
    let analysis = run(&snapshot, Some("dave"));
    let audit = analysis
        .findings
        .iter()
        .find(|f| f.kind == SessionKind::AuditSession)
        .unwrap();
    assert_eq!(audit.session_id, "4");
    assert_eq!(audit.verdict, Verdict::Active);
    assert_eq!(audit.evidence_count(Source::Processes), 2);
    // The utmp record's login process is in the group, so it is not reported again.
    assert!(
        analysis
            .findings
            .iter()
            .all(|f| f.kind != SessionKind::UtmpEntry)
    );
}

#[test]
fn idle_smb_session_past_max_idle() {
    let mut snapshot = fixture("leaked_logon.json");
    snapshot.smb_sessions = lingerscan::model::Observed::ok(vec![lingerscan::model::SmbSession {
        client: "\\\\10.1.1.9".into(),
        user: Some("ivan".into()),
        idle_secs: Some(2 * 86_400),
        ..Default::default()
    }]);
    let analysis = run(&snapshot, Some("ivan"));
    assert_eq!(analysis.findings.len(), 1);
    assert_eq!(analysis.findings[0].verdict, Verdict::IdleSmb);
    assert!(analysis.findings[0].lingering);
}

#[test]
fn remote_scan_without_logon_sessions_cannot_call_a_user_stale() {
    let mut snapshot = fixture("lingering_wksta.json");
    use lingerscan::model::{FailureKind, Observed};
    let reason = "not available over MS-RPC from Linux";
    snapshot.logon_sessions = Observed::failed(FailureKind::NotSupported, None, reason);
    snapshot.processes = Observed::failed(FailureKind::NotSupported, None, reason);
    snapshot.interactive_sessions = Observed::failed(FailureKind::NotSupported, None, reason);
    let analysis = run(&snapshot, Some("alice"));
    assert_eq!(analysis.findings[0].verdict, Verdict::Inconclusive);
    assert_eq!(analysis.users[0].state, UserState::Lingering);
    assert!(analysis.users[0].unconfirmed());
    assert_eq!(analysis.outcome(), Outcome::Undecided);
}

#[test]
fn nothing_lingers_only_when_every_source_was_read_or_is_absent() {
    use lingerscan::model::{FailureKind, Observed};
    let mut snapshot = fixture("script_example.json");
    snapshot.smb_sessions =
        Observed::failed(FailureKind::NotAvailable, None, "Samba is not installed");
    assert_eq!(run(&snapshot, None).outcome(), Outcome::Clean);
    snapshot.smb_sessions =
        Observed::failed(FailureKind::NotSupported, Some(87), "invalid parameter");
    assert_eq!(run(&snapshot, None).outcome(), Outcome::Undecided);
    snapshot.smb_sessions = Observed::failed(FailureKind::Timeout, None, "no answer");
    assert_eq!(run(&snapshot, None).outcome(), Outcome::Undecided);
}

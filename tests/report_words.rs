//! What the reports say when sources fail, when the target is set aside, on
//! Linux, and where one user's two results look contradictory (issue 8, §5
//! and §7). Built on the checked-in fixtures, altered the way real hosts
//! differ.

use std::path::Path;

use lingerscan::analyze::{AnalyzeOptions, analyze};
use lingerscan::identity::TargetUser;
use lingerscan::model::{FailureKind, HostSnapshot, Observed, SourceFailure};
use lingerscan::report::text::{TextOptions, render};
use lingerscan::snapshot_io;

fn fixture(name: &str) -> HostSnapshot {
    snapshot_io::load(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name),
    )
    .expect("fixture")
}

fn text(snapshot: &HostSnapshot, target: Option<&str>) -> String {
    let mut options = AnalyzeOptions::for_snapshot(snapshot);
    options.target = target.map(|t| TargetUser::parse(t).expect("target"));
    render(
        snapshot,
        &analyze(snapshot, &options),
        TextOptions::default(),
    )
}

/// A host with nothing listening on its SMB port: every source failed alike.
fn refused_host() -> HostSnapshot {
    HostSnapshot::unreadable(
        "SRV09",
        SourceFailure::new(
            FailureKind::Unreachable,
            Some(111),
            "connection refused (nothing listening on port 445)",
        ),
    )
}

fn failed<T>(kind: FailureKind, message: &str) -> Observed<T> {
    Observed::Failed(SourceFailure::new(kind, None, message))
}

#[test]
fn every_source_failed_says_nothing_could_be_read() {
    let s = refused_host();
    let report = text(&s, None);
    assert!(
        report.contains("Nothing could be read on this host"),
        "{report}"
    );
    assert!(!report.contains("No user accounts found"), "{report}");
    assert!(!report.contains("host unreachable"), "{report}");
    assert!(
        report.contains("unreachable: connection refused (nothing listening on port 445)"),
        "{report}"
    );
}

#[test]
fn a_remote_scan_from_linux_gets_the_real_next_step_not_run_elevated() {
    let mut s = fixture("lingering_wksta.json");
    s.collector = "msrpc".into();
    s.logon_sessions = failed(
        FailureKind::NotSupported,
        "not available over MS-RPC from Linux",
    );
    s.processes = failed(
        FailureKind::NotSupported,
        "not available over MS-RPC from Linux",
    );
    let report = text(&s, Some("TESTDOMAIN\\alice"));
    // The script's verdict, with its warning; the findings stay INCONCLUSIVE.
    assert!(report.contains("LINGERING USER STATE"), "{report}");
    assert!(
        report.contains("IMPORTANT: Section 2 and/or Section 3"),
        "{report}"
    );
    assert!(report.contains("INCONCLUSIVE"), "{report}");
    assert!(!report.contains("Run elevated"), "{report}");
    assert!(
        report.contains("cannot read logon sessions or processes"),
        "{report}"
    );
}

#[test]
fn access_denied_still_says_run_elevated() {
    let mut s = fixture("lingering_wksta.json");
    s.processes = failed(FailureKind::AccessDenied, "access is denied");
    let report = text(&s, Some("TESTDOMAIN\\alice"));
    assert!(report.contains("Run elevated"), "{report}");
}

#[test]
fn failed_and_absent_sources_are_listed_apart() {
    let mut s = fixture("lingering_wksta.json");
    s.processes = failed(FailureKind::AccessDenied, "access is denied");
    s.smb_sessions = failed(FailureKind::NotAvailable, "no Samba here");
    s.interactive_sessions = failed(FailureKind::NotSupported, "not over MS-RPC");
    let report = text(&s, None);
    let summary = &report[report.find("SUMMARY").expect("summary")..];
    let broken = summary
        .find("Sources that could not be read:")
        .expect("broken list");
    let absent = summary
        .find("Sources not available on this host or not supported by this scan:")
        .expect("absent list");
    let between = &summary[broken..absent];
    assert!(between.contains("processes: access denied"), "{summary}");
    assert!(
        !between.contains("smb_sessions") && !between.contains("interactive_sessions"),
        "{summary}"
    );
    let after = &summary[absent..];
    assert!(
        after.contains("smb_sessions: not available")
            && after.contains("interactive_sessions: not supported"),
        "{summary}"
    );
}

#[test]
fn a_machine_account_target_gets_the_scripts_result_and_counts() {
    let mut s = fixture("lingering_wksta.json");
    if let Observed::Ok { rows } = &mut s.workstation_users {
        let mut machine = rows[0].clone();
        machine.user = "WS01$".into();
        rows.push(machine);
    }
    if let Observed::Ok { rows } = &mut s.logon_sessions {
        rows.push(lingerscan::model::LogonSession {
            logon_id: "999".into(),
            user: Some("WS01$".into()),
            domain: Some("TESTDOMAIN".into()),
            logon_type: Some(0),
            ..Default::default()
        });
    }
    let report = text(&s, Some("WS01$"));
    // The script drops `NAME$` rows from NetWkstaUserEnum only
    // (Get-LingeringSessions.ps1:313, 463), so the target is never listed,
    // while section 2 and the summary count its logon session.
    assert!(report.contains("NOT LOGGED ON: WS01$"), "{report}");
    assert!(
        report.contains("Active logon sessions found: 1"),
        "{report}"
    );
    assert!(
        report.contains("Has WMI logon session: True (1 session(s))"),
        "{report}"
    );
    assert!(report.contains("Active Logon Sessions: 1"), "{report}");
    assert!(
        report.contains("a machine or managed service account is never listed"),
        "{report}"
    );
}

#[test]
fn linux_reports_use_linux_words() {
    let s = fixture("linux_mixed.json");
    let report = text(&s, None);
    assert!(!report.contains("Has WMI logon session"), "{report}");
    assert!(report.contains("Has logind session"), "{report}");
    assert!(
        !report.contains("cached credentials") && !report.contains("mapped drives"),
        "{report}"
    );
    let windows = text(&fixture("lingering_wksta.json"), Some("TESTDOMAIN\\alice"));
    assert!(windows.contains("Has WMI logon session"), "{windows}");
}

#[test]
fn a_user_the_script_does_not_list_but_with_a_leaked_session_gets_one_line_explaining_both() {
    // hank has a logind session and nothing in utmp: the script's gate says
    // not logged on (Get-LingeringSessions.ps1:467, 501-504); the findings
    // see the leaked session, and one line says why the two differ.
    let report = text(&fixture("linux_mixed.json"), Some("hank"));
    let section5 = &report
        [report.find("SECTION 5").expect("s5")..report.find("SESSION FINDINGS").expect("findings")];
    assert!(section5.contains("NOT LOGGED ON: hank"), "{section5}");
    assert!(
        section5.contains("the script looks no further when utmp does not list the user"),
        "{section5}"
    );
    assert!(section5.contains("LEAKED_LOGON 9"), "{section5}");
}

#[test]
fn an_active_user_with_a_lingering_session_gets_one_line_explaining_both() {
    let report = text(&fixture("disconnected_rdp.json"), None);
    let section5 = &report
        [report.find("SECTION 5").expect("s5")..report.find("SESSION FINDINGS").expect("findings")];
    assert!(section5.contains("ACTIVE USER STATE"), "{section5}");
    assert!(
        section5.contains("user-level result is the script's rule"),
        "{section5}"
    );
    assert!(section5.contains("DISCONNECTED 770001"), "{section5}");
}

#[test]
fn unknown_samba_idle_time_is_said_not_hidden() {
    let s = fixture("linux_mixed.json");
    let mut options = AnalyzeOptions::for_snapshot(&s);
    options.max_idle = std::time::Duration::from_secs(3600);
    let analysis = analyze(&s, &options);
    assert!(
        analysis
            .notes
            .iter()
            .any(|n| n.contains("could not be judged against --max-idle 1h")
                && n.contains("Samba does not report")),
        "{:?}",
        analysis.notes
    );
    let report = render(&s, &analysis, TextOptions::default());
    assert!(
        report.contains("Note: 1 SMB session(s) could not be judged"),
        "{report}"
    );
}

#[test]
fn csv_evidence_gives_row_indices() {
    let s = fixture("linux_mixed.json");
    let analysis = analyze(&s, &AnalyzeOptions::for_snapshot(&s));
    let csv = lingerscan::report::csv::document([&analysis]).expect("csv");
    let header = csv.lines().next().unwrap_or_default();
    assert!(header.contains("evidence_rows"), "{header}");
    assert!(
        csv.contains("logon_sessions[") && csv.contains("processes["),
        "{csv}"
    );
}

#[test]
fn a_host_without_findings_still_has_a_csv_row_saying_why() {
    let s = refused_host();
    let analysis = analyze(&s, &AnalyzeOptions::for_snapshot(&s));
    assert!(analysis.findings.is_empty());
    let csv = lingerscan::report::csv::document([&analysis]).expect("csv");
    let rows: Vec<&str> = csv.lines().skip(1).collect();
    assert_eq!(rows.len(), 1, "{csv}");
    assert!(
        rows[0].contains(",host,") && rows[0].contains("connection refused"),
        "{csv}"
    );
    assert!(rows[0].ends_with(",undecided"), "{csv}");
}

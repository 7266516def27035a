//! The text report, byte for byte, for each fixture (insta snapshots in tests/snapshots/).

use std::path::Path;

use lingerscan::analyze::{AnalyzeOptions, analyze};
use lingerscan::identity::TargetUser;
use lingerscan::report::text::{TextOptions, render};
use lingerscan::snapshot_io;

fn report(name: &str, target: Option<&str>) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    let snapshot = snapshot_io::load(&path).unwrap();
    let mut options = AnalyzeOptions::for_snapshot(&snapshot);
    options.target = target.map(|t| TargetUser::parse(t).unwrap());
    let analysis = analyze(&snapshot, &options);
    render(
        &snapshot,
        &analysis,
        TextOptions {
            color: false,
            offline: true,
        },
    )
}

#[test]
fn script_example_report() {
    insta::assert_snapshot!(report(
        "script_example.json",
        Some("TESTDOMAIN\\Administrator")
    ));
}

#[test]
fn lingering_report() {
    insta::assert_snapshot!(report("lingering_wksta.json", Some("TESTDOMAIN\\alice")));
}

#[test]
fn process_source_failed_report() {
    insta::assert_snapshot!(report("process_source_failed.json", Some("alice")));
}

#[test]
fn disconnected_report() {
    insta::assert_snapshot!(report("disconnected_rdp.json", None));
}

#[test]
fn leaked_logon_report() {
    insta::assert_snapshot!(report("leaked_logon.json", None));
}

#[test]
fn linux_report() {
    insta::assert_snapshot!(report("linux_mixed.json", None));
}

#[test]
fn colour_is_only_on_request() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/leaked_logon.json");
    let snapshot = snapshot_io::load(&path).unwrap();
    let analysis = analyze(&snapshot, &AnalyzeOptions::for_snapshot(&snapshot));
    let coloured = render(
        &snapshot,
        &analysis,
        TextOptions {
            color: true,
            offline: false,
        },
    );
    assert!(coloured.contains("\x1b[1;31mLEAKED_LOGON\x1b[0m"));
    let plain = render(
        &snapshot,
        &analysis,
        TextOptions {
            color: false,
            offline: false,
        },
    );
    assert!(!plain.contains('\x1b'));
}

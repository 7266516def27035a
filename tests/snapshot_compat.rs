//! Snapshots written by earlier versions load and analyse as they did.
//!
//! `tests/fixtures/*.json` and `tests/fixtures/compat/linux_local_v0.1.json`
//! (a real `lingerscan snapshot` of a Linux host, written by the binary of
//! commit d0e0b43, before snapshot parsing was rewritten) are loaded with
//! today's reader and analysed; each analysis must equal the one that
//! binary printed for the same file (`compat/NAME.analysis.json`, from its
//! `analyze -f json`). The same files with every source's `status` moved
//! after its rows (a hand-edited or re-serialized file) load the same.

use std::path::{Path, PathBuf};

use lingerscan::analyze::{AnalyzeOptions, analyze};
use lingerscan::identity::TargetUser;
use lingerscan::model::HostSnapshot;
use lingerscan::snapshot_io;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// (snapshot file, expected analysis file, target user)
const CASES: &[(&str, &str, Option<&str>)] = &[
    ("disconnected_rdp.json", "disconnected_rdp", None),
    ("leaked_logon.json", "leaked_logon", None),
    ("lingering_wksta.json", "lingering_wksta", None),
    (
        "lingering_wksta.json",
        "lingering_wksta.user_alice",
        Some("TESTDOMAIN\\alice"),
    ),
    ("linux_mixed.json", "linux_mixed", None),
    ("process_source_failed.json", "process_source_failed", None),
    ("script_example.json", "script_example", None),
    ("compat/linux_local_v0.1.json", "linux_local_v0.1", None),
];

fn analysis_of(snapshot: &HostSnapshot, user: Option<&str>) -> serde_json::Value {
    let mut options = AnalyzeOptions::for_snapshot(snapshot);
    options.target = user.map(|u| TargetUser::parse(u).unwrap());
    serde_json::to_value(analyze(snapshot, &options)).unwrap()
}

fn expected(name: &str) -> serde_json::Value {
    let path = fixtures().join(format!("compat/{name}.analysis.json"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

#[test]
fn snapshots_of_the_previous_version_analyse_identically() {
    for &(file, name, user) in CASES {
        let snapshot = snapshot_io::load(&fixtures().join(file))
            .unwrap_or_else(|e| panic!("{file} no longer loads: {e}"));
        assert_eq!(
            analysis_of(&snapshot, user),
            expected(name),
            "{file} ({name})"
        );
    }
}

#[test]
fn the_status_may_follow_the_rows() {
    let dir = tempfile::tempdir().unwrap();
    for &(file, _, _) in CASES {
        let original = snapshot_io::load(&fixtures().join(file)).unwrap();
        // serde_json's Value sorts object keys (no `preserve_order`): written
        // back, every `status` follows its `rows` (and `code`, `kind`, `message`).
        let value: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(fixtures().join(file)).unwrap()).unwrap();
        let moved = dir.path().join("moved.json");
        std::fs::write(&moved, serde_json::to_string(&value).unwrap()).unwrap();
        let text = std::fs::read_to_string(&moved).unwrap();
        assert!(
            !text.contains(r#"{"status":"#),
            "status still first in {file}"
        );
        assert_eq!(snapshot_io::load(&moved).unwrap(), original, "{file}");
    }
}

#[test]
fn written_snapshots_read_back_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    for &(file, _, _) in CASES {
        let snapshot = snapshot_io::load(&fixtures().join(file)).unwrap();
        let path = dir.path().join("again.json");
        snapshot_io::save(&snapshot, &path).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            snapshot_io::to_json(&snapshot),
            "save streams the same bytes as to_json"
        );
        assert_eq!(snapshot_io::load(&path).unwrap(), snapshot, "{file}");
    }
}

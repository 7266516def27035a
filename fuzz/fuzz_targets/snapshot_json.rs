#![no_main]
//! Snapshot files are outside data: parsing arbitrary text never panics, and
//! whatever parses can be analysed, rendered (text, CSV, JSON with and
//! without the snapshot) and written back unchanged.
use libfuzzer_sys::fuzz_target;
use lingerscan::analyze::{AnalyzeOptions, analyze};
use lingerscan::report::json::{HostReport, write_line};
use lingerscan::report::text::{TextOptions, render};
use lingerscan::snapshot_io;

fuzz_target!(|data: &[u8]| {
    let path = std::path::Path::new("fuzz.json");
    // The bytes as a file holds them: a BOM is dropped, bad UTF-8 is an error.
    let Ok(text) = snapshot_io::decode_text(data.to_vec(), path) else { return };
    if let Ok(snapshot) = snapshot_io::parse(&text, path) {
        let analysis = analyze(&snapshot, &AnalyzeOptions::for_snapshot(&snapshot));
        let report = render(&snapshot, &analysis, TextOptions::default());
        assert!(!report.contains('\x1b'));
        assert!(!report.contains('\u{202e}') && !report.contains('\u{200b}'));
        let _ = lingerscan::report::csv::document([&analysis]);
        for include_snapshot in [false, true] {
            let mut out = Vec::new();
            write_line(&mut out, &HostReport::new(&snapshot, &analysis, include_snapshot))
                .expect("a report of parsed data serializes");
            let _: serde_json::Value = serde_json::from_slice(&out).expect("the report is JSON");
        }
        let again = snapshot_io::parse(&snapshot_io::to_json(&snapshot), path).expect("round trip");
        assert_eq!(again, snapshot);
    }
});

//! CSV: one row per finding, cells neutralised against formula injection.
//! `evidence_rows` gives, per source, the row indices into the snapshot's
//! rows, as JSON does: `logon_sessions[0];processes[3,4]`.

use super::sanitize::for_csv;
use crate::analyze::Analysis;

pub const HEADER: [&str; 11] = [
    "host",
    "verdict",
    "lingering",
    "kind",
    "session_id",
    "user",
    "since",
    "idle_secs",
    "evidence_rows",
    "reason",
    "outcome",
];

/// The history's columns, after [`HEADER`], when history is on.
pub const HISTORY_HEADER: [&str; 4] = ["first_seen", "last_seen", "sightings", "watching"];

/// The history cells of each finding, in the order of [`rows`] (none for a
/// host without findings, whose one row gets empty cells).
pub fn history_cells(analysis: &Analysis) -> Vec<[String; 4]> {
    analysis
        .findings
        .iter()
        .map(|f| match f.history {
            Some(h) => [
                h.first_seen.to_string(),
                h.last_seen.to_string(),
                h.sightings.to_string(),
                h.watching.to_string(),
            ],
            None => Default::default(),
        })
        .collect()
}

/// Rows for one host (no header): one per finding, or, for a host with no
/// finding at all (nothing to judge, or a host that could not be read), one
/// row of kind `host` saying so, so that every scanned host appears.
pub fn rows(analysis: &Analysis) -> Vec<[String; 11]> {
    let outcome = format!("{:?}", analysis.outcome()).to_lowercase();
    if analysis.findings.is_empty() {
        let reason = if analysis.failed_sources.is_empty() {
            "no user session to judge".to_string()
        } else {
            let failed: Vec<String> = analysis
                .failed_sources
                .iter()
                .map(|f| format!("{}: {}: {}", f.source, f.failure.kind, f.failure.message))
                .collect();
            format!("no finding; sources not read: {}", failed.join("; "))
        };
        let row = [
            analysis.host.clone(),
            String::new(),
            "false".to_string(),
            "host".to_string(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            reason,
            outcome,
        ];
        return vec![row.map(|cell| for_csv(&cell).into_owned())];
    }
    analysis
        .findings
        .iter()
        .map(|f| {
            let kind = f.kind.as_str().to_string();
            let evidence: Vec<String> = f
                .evidence
                .iter()
                .map(|e| {
                    let rows: Vec<String> = e.rows.iter().map(u32::to_string).collect();
                    format!("{}[{}]", e.source, rows.join(","))
                })
                .collect();
            [
                analysis.host.clone(),
                f.verdict.as_str().to_string(),
                f.lingering.to_string(),
                kind,
                f.session_id.clone(),
                f.user.clone(),
                f.since.map(|t| t.to_string()).unwrap_or_default(),
                f.idle_secs.map(|n| n.to_string()).unwrap_or_default(),
                evidence.join(";"),
                f.reason.clone(),
                outcome.clone(),
            ]
            .map(|cell| for_csv(&cell).into_owned())
        })
        .collect()
}

/// A whole CSV document for several hosts.
pub fn document<'a>(
    analyses: impl IntoIterator<Item = &'a Analysis>,
) -> Result<String, ::csv::Error> {
    let mut writer = ::csv::Writer::from_writer(Vec::new());
    writer.write_record(HEADER)?;
    for analysis in analyses {
        for row in rows(analysis) {
            writer.write_record(&row)?;
        }
    }
    let bytes = writer.into_inner().map_err(|e| e.into_error())?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

//! JSON and NDJSON: the analysis of each host together with the snapshot that
//! its evidence indices point into.

use serde::Serialize;

use crate::analyze::{Analysis, Outcome};
use crate::model::HostSnapshot;

/// Version of the report layout (not the snapshot's, which has its own).
pub const REPORT_VERSION: u32 = 1;

#[derive(Serialize)]
pub struct HostReport<'a> {
    pub host: &'a str,
    pub outcome: Outcome,
    pub analysis: &'a Analysis,
    pub snapshot: &'a HostSnapshot,
}

impl<'a> HostReport<'a> {
    pub fn new(snapshot: &'a HostSnapshot, analysis: &'a Analysis) -> Self {
        HostReport {
            host: &analysis.host,
            outcome: analysis.outcome(),
            analysis,
            snapshot,
        }
    }
}

#[derive(Serialize)]
struct Document<'a> {
    report_version: u32,
    outcome: Outcome,
    hosts: &'a [HostReport<'a>],
}

/// One document for all hosts.
pub fn document(hosts: &[HostReport<'_>]) -> serde_json::Result<String> {
    let outcome = hosts
        .iter()
        .map(|h| h.outcome)
        .fold(Outcome::Clean, Outcome::combine);
    let mut text = serde_json::to_string_pretty(&Document {
        report_version: REPORT_VERSION,
        outcome,
        hosts,
    })?;
    text.push('\n');
    Ok(text)
}

/// One line for one host (NDJSON).
pub fn line(host: &HostReport<'_>) -> serde_json::Result<String> {
    let mut text = serde_json::to_string(host)?;
    text.push('\n');
    Ok(text)
}

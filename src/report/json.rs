//! JSON and NDJSON: the analysis of each host with the rows its evidence
//! cites, written to the output as it is produced.
//!
//! A report carries what the reader asked about: the analysis, and for each
//! source only the rows it cites (findings' evidence, the user-level
//! results' rows, the scan's own connection), each under its row number so
//! that every index in the analysis resolves. Failed sources are in the
//! analysis (`failed_sources`). `--include-snapshot` adds the whole
//! snapshot, for re-analysis later; the rows are then not repeated.
//!
//! Reports are serialized straight into a writer (the caller's buffered
//! standard output), never built as one string: a million-process host's
//! report would otherwise be held whole in memory before the first byte.

use std::io::Write;

use serde::Serialize;
use serde::ser::SerializeMap;

use crate::analyze::{Analysis, Outcome};
use crate::model::{CoverageEntry, HostSnapshot, Observed, Source};

/// Version of the report layout (not the snapshot's, which has its own).
/// 2: the snapshot only with `--include-snapshot`; `evidence_rows` instead.
pub const REPORT_VERSION: u32 = 2;

#[derive(Serialize)]
pub struct HostReport<'a> {
    pub host: &'a str,
    pub outcome: Outcome,
    pub analysis: &'a Analysis,
    /// The rows the analysis cites, per source (absent with the snapshot).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence_rows: Option<CitedRows<'a>>,
    /// Remote scans: each method tried and how it went (absent with the
    /// snapshot, which carries it).
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub coverage: &'a [CoverageEntry],
    /// The whole snapshot, when asked for (`--include-snapshot`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<&'a HostSnapshot>,
}

impl<'a> HostReport<'a> {
    pub fn new(snapshot: &'a HostSnapshot, analysis: &'a Analysis, include_snapshot: bool) -> Self {
        HostReport {
            host: &analysis.host,
            outcome: analysis.outcome(),
            analysis,
            evidence_rows: (!include_snapshot).then(|| CitedRows::of(snapshot, analysis)),
            coverage: if include_snapshot {
                &[]
            } else {
                &snapshot.coverage
            },
            snapshot: include_snapshot.then_some(snapshot),
        }
    }
}

/// Row numbers the analysis cites, per source, ascending and unique.
pub struct CitedRows<'a> {
    snapshot: &'a HostSnapshot,
    rows: [Vec<u32>; Source::EVERY.len()],
}

impl<'a> CitedRows<'a> {
    pub fn of(snapshot: &'a HostSnapshot, analysis: &Analysis) -> Self {
        let mut rows: [Vec<u32>; Source::EVERY.len()] = Default::default();
        let slot = |source: Source| Source::EVERY.iter().position(|&s| s == source).unwrap_or(0);
        let evidence = analysis
            .findings
            .iter()
            .flat_map(|f| &f.evidence)
            .chain(&analysis.own_connection);
        for e in evidence {
            rows[slot(e.source)].extend_from_slice(&e.rows);
        }
        for user in &analysis.users {
            rows[slot(Source::WorkstationUsers)].extend_from_slice(&user.workstation_rows);
            rows[slot(Source::LogonSessions)].extend_from_slice(&user.logon_rows);
            rows[slot(Source::Processes)].extend_from_slice(&user.process_rows);
            rows[slot(Source::SmbSessions)].extend_from_slice(&user.smb_rows);
        }
        for list in &mut rows {
            list.sort_unstable();
            list.dedup();
        }
        CitedRows { snapshot, rows }
    }

    /// The cited row numbers of `source`.
    pub fn rows(&self, source: Source) -> &[u32] {
        Source::EVERY
            .iter()
            .position(|&s| s == source)
            .map_or(&[], |i| &self.rows[i])
    }
}

/// A row under its number: `{"row": 12, "pid": ..., ...}`.
#[derive(Serialize)]
struct Numbered<'a, R> {
    row: u32,
    #[serde(flatten)]
    data: &'a R,
}

/// The cited rows of one source that answered, as a sequence.
struct SourceRows<'a, R> {
    all: &'a [R],
    cited: &'a [u32],
}

impl<R: Serialize> Serialize for SourceRows<'_, R> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.cited.iter().filter_map(|&row| {
            self.all
                .get(row as usize)
                .map(|data| Numbered { row, data })
        }))
    }
}

impl Serialize for CitedRows<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        fn entry<M: SerializeMap, R: Serialize>(
            map: &mut M,
            source: Source,
            observed: &Observed<Vec<R>>,
            cited: &[u32],
        ) -> Result<(), M::Error> {
            // A failed source has no rows to cite (its failure is in the analysis).
            match observed {
                Observed::Ok { rows } if !cited.is_empty() => map.serialize_entry(
                    source.name(),
                    &SourceRows {
                        all: rows.as_slice(),
                        cited,
                    },
                ),
                _ => Ok(()),
            }
        }
        let s = self.snapshot;
        let mut map = serializer.serialize_map(None)?;
        entry(
            &mut map,
            Source::WorkstationUsers,
            &s.workstation_users,
            self.rows(Source::WorkstationUsers),
        )?;
        entry(
            &mut map,
            Source::LogonSessions,
            &s.logon_sessions,
            self.rows(Source::LogonSessions),
        )?;
        entry(
            &mut map,
            Source::Processes,
            &s.processes,
            self.rows(Source::Processes),
        )?;
        entry(
            &mut map,
            Source::SmbSessions,
            &s.smb_sessions,
            self.rows(Source::SmbSessions),
        )?;
        entry(
            &mut map,
            Source::InteractiveSessions,
            &s.interactive_sessions,
            self.rows(Source::InteractiveSessions),
        )?;
        entry(
            &mut map,
            Source::LoadedProfiles,
            &s.loaded_profiles,
            self.rows(Source::LoadedProfiles),
        )?;
        entry(
            &mut map,
            Source::DirectoryAccounts,
            &s.directory_accounts,
            self.rows(Source::DirectoryAccounts),
        )?;
        map.end()
    }
}

/// The outcome of several hosts: lingering anywhere wins, then undecided.
pub fn combined_outcome(hosts: &[HostReport<'_>]) -> Outcome {
    hosts
        .iter()
        .map(|h| h.outcome)
        .fold(Outcome::Clean, Outcome::combine)
}

#[derive(Serialize)]
struct Document<'a> {
    report_version: u32,
    outcome: Outcome,
    hosts: &'a [HostReport<'a>],
}

/// One document for all hosts, written to `out` as it is serialized
/// (compact; `jq .` pretty-prints it).
pub fn write_document(
    out: &mut (impl Write + ?Sized),
    hosts: &[HostReport<'_>],
) -> serde_json::Result<()> {
    serde_json::to_writer(
        &mut *out,
        &Document {
            report_version: REPORT_VERSION,
            outcome: combined_outcome(hosts),
            hosts,
        },
    )?;
    out.write_all(b"\n").map_err(serde_json::Error::io)
}

/// One line for one host (NDJSON), written to `out`.
pub fn write_line(
    out: &mut (impl Write + ?Sized),
    host: &HostReport<'_>,
) -> serde_json::Result<()> {
    serde_json::to_writer(&mut *out, host)?;
    out.write_all(b"\n").map_err(serde_json::Error::io)
}

/// [`write_document`] into a string (tests, small reports).
pub fn document(hosts: &[HostReport<'_>]) -> serde_json::Result<String> {
    let mut out = Vec::new();
    write_document(&mut out, hosts)?;
    // serde_json writes UTF-8 only.
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// [`write_line`] into a string.
pub fn line(host: &HostReport<'_>) -> serde_json::Result<String> {
    let mut out = Vec::new();
    write_line(&mut out, host)?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::{AnalyzeOptions, analyze};
    use crate::synthetic::{Sizes, snapshot};

    fn report_value(include_snapshot: bool) -> (HostSnapshot, serde_json::Value) {
        let snap = snapshot(Sizes::scaled(200));
        let analysis = analyze(&snap, &AnalyzeOptions::for_snapshot(&snap));
        let text = line(&HostReport::new(&snap, &analysis, include_snapshot)).unwrap();
        (snap, serde_json::from_str(&text).unwrap())
    }

    #[test]
    fn every_row_the_analysis_cites_is_in_the_report_and_no_other() {
        let (snap, value) = report_value(false);
        assert!(value.get("snapshot").is_none());
        let cited = &value["evidence_rows"];
        let analysis: Analysis = serde_json::from_value(value["analysis"].clone()).unwrap();
        let mut wanted: std::collections::BTreeSet<(String, u64)> = Default::default();
        for e in analysis.findings.iter().flat_map(|f| &f.evidence) {
            wanted.extend(
                e.rows
                    .iter()
                    .map(|&r| (e.source.name().to_string(), u64::from(r))),
            );
        }
        for u in &analysis.users {
            wanted.extend(
                u.process_rows
                    .iter()
                    .map(|&r| ("processes".into(), u64::from(r))),
            );
            wanted.extend(
                u.workstation_rows
                    .iter()
                    .map(|&r| ("workstation_users".into(), u64::from(r))),
            );
        }
        let mut present: std::collections::BTreeSet<(String, u64)> = Default::default();
        for (source, rows) in cited.as_object().unwrap() {
            for row in rows.as_array().unwrap() {
                present.insert((source.clone(), row["row"].as_u64().unwrap()));
            }
        }
        assert!(!wanted.is_empty());
        assert_eq!(present, wanted);
        // Each row is the snapshot's row of that number.
        let first = &cited["processes"][0];
        let n = first["row"].as_u64().unwrap() as usize;
        let row = &snap.processes.rows().unwrap()[n];
        assert_eq!(first["pid"], row.pid);
        assert_eq!(first["name"], row.name.as_str());
    }

    #[test]
    fn the_snapshot_only_when_asked_for() {
        let (snap, value) = report_value(true);
        assert!(value.get("evidence_rows").is_none());
        let back: HostSnapshot = serde_json::from_value(value["snapshot"].clone()).unwrap();
        assert_eq!(back, snap);
    }
}

//! `history` and `diff` output: text tables, JSON (one document), NDJSON
//! (one line per row) and CSV.

use std::io::{self, Write};

use jiff::Timestamp;
use serde::Serialize;

use super::{FindingKey, HostDiff, Run, ScanRow};
use crate::report::Format;
use crate::report::sanitize::for_csv;
use crate::report::table::{Align, Table};

/// Times in text tables: to the second, UTC.
pub fn short_time(time: Timestamp) -> String {
    time.strftime("%Y-%m-%d %H:%M:%SZ").to_string()
}

fn json_doc<T: Serialize>(
    out: &mut dyn Write,
    key: &str,
    items: &[T],
    format: Format,
) -> io::Result<()> {
    if format == Format::Ndjson {
        for item in items {
            serde_json::to_writer(&mut *out, item)?;
            out.write_all(b"\n")?;
        }
        return Ok(());
    }
    let mut doc = serde_json::Map::new();
    doc.insert(
        key.to_string(),
        serde_json::to_value(items).map_err(io::Error::from)?,
    );
    serde_json::to_writer(&mut *out, &doc)?;
    out.write_all(b"\n")
}

fn csv_rows(out: &mut dyn Write, header: &[&str], rows: Vec<Vec<String>>) -> io::Result<()> {
    let mut writer = ::csv::Writer::from_writer(out);
    let error = |e: ::csv::Error| io::Error::other(e.to_string());
    writer.write_record(header).map_err(error)?;
    for row in rows {
        writer
            .write_record(row.iter().map(|c| for_csv(c).into_owned()))
            .map_err(error)?;
    }
    writer.flush()
}

fn login(time: Option<Timestamp>) -> String {
    time.map(short_time).unwrap_or_default()
}

/// Runs of findings (`lingerscan history`).
pub fn write_runs(out: &mut dyn Write, runs: &[Run], format: Format) -> io::Result<()> {
    match format {
        Format::Json | Format::Ndjson => json_doc(out, "runs", runs, format),
        Format::Csv => csv_rows(
            out,
            &[
                "host",
                "verdict",
                "kind",
                "session_id",
                "user",
                "login_time",
                "scope",
                "first_seen",
                "last_seen",
                "sightings",
                "present",
            ],
            runs.iter()
                .map(|r| {
                    vec![
                        r.host.clone(),
                        r.verdict.as_str().to_string(),
                        r.kind.as_str().to_string(),
                        r.session_id.clone(),
                        r.user.clone(),
                        r.login_time.map(|t| t.to_string()).unwrap_or_default(),
                        r.scope.clone(),
                        r.first_seen.to_string(),
                        r.last_seen.to_string(),
                        r.sightings.to_string(),
                        r.present.to_string(),
                    ]
                })
                .collect(),
        ),
        Format::Text => {
            if runs.is_empty() {
                return out.write_all(b"No findings in the history for this selection.\n");
            }
            let mut table = Table::new(&[
                ("Host", Align::Left),
                ("Verdict", Align::Left),
                ("Kind", Align::Left),
                ("Session", Align::Left),
                ("User", Align::Left),
                ("First seen", Align::Left),
                ("Last seen", Align::Left),
                ("Seen", Align::Right),
                ("Now", Align::Left),
            ]);
            for r in runs {
                let mut session = r.session_id.clone();
                if let Some(t) = r.login_time {
                    session.push_str(&format!(" (login {})", short_time(t)));
                }
                table.row(vec![
                    r.host.clone(),
                    r.verdict.as_str().to_string(),
                    r.kind.as_str().to_string(),
                    session,
                    if r.scope.is_empty() {
                        r.user.clone()
                    } else {
                        format!("{} [--user {}]", r.user, r.scope)
                    },
                    short_time(r.first_seen),
                    short_time(r.last_seen),
                    r.sightings.to_string(),
                    if r.present { "still there" } else { "gone" }.to_string(),
                ]);
            }
            out.write_all(table.render().as_bytes())
        }
    }
}

/// Recorded scans (`lingerscan history --scans`).
pub fn write_scans(out: &mut dyn Write, scans: &[ScanRow], format: Format) -> io::Result<()> {
    let cells = |s: &ScanRow, time: String| {
        vec![
            s.id.to_string(),
            s.host.clone(),
            time,
            s.outcome.clone(),
            s.findings.to_string(),
            s.origin.clone(),
            s.scope.clone(),
            s.failed_sources.join(" "),
        ]
    };
    match format {
        Format::Json | Format::Ndjson => json_doc(out, "scans", scans, format),
        Format::Csv => csv_rows(
            out,
            &[
                "id",
                "host",
                "scanned_at",
                "outcome",
                "findings",
                "origin",
                "scope",
                "failed_sources",
            ],
            scans
                .iter()
                .map(|s| cells(s, s.scanned_at.to_string()))
                .collect(),
        ),
        Format::Text => {
            if scans.is_empty() {
                return out.write_all(b"No scans in the history for this selection.\n");
            }
            let mut table = Table::new(&[
                ("Scan", Align::Right),
                ("Host", Align::Left),
                ("Scanned at", Align::Left),
                ("Outcome", Align::Left),
                ("Findings", Align::Right),
                ("Origin", Align::Left),
                ("Scope", Align::Left),
                ("Failed sources", Align::Left),
            ]);
            for s in scans {
                table.row(cells(s, short_time(s.scanned_at)));
            }
            out.write_all(table.render().as_bytes())
        }
    }
}

/// One finding of a diff as a CSV or table row.
fn diff_cells(host: &str, change: &str, key: &FindingKey) -> Vec<String> {
    vec![
        host.to_string(),
        change.to_string(),
        key.verdict.as_str().to_string(),
        key.kind.as_str().to_string(),
        key.session_id.clone(),
        key.user.clone(),
        login(key.login_time),
    ]
}

fn changes(diff: &HostDiff) -> impl Iterator<Item = (&'static str, &FindingKey)> {
    diff.new
        .iter()
        .map(|k| ("new", k))
        .chain(diff.gone.iter().map(|k| ("gone", k)))
        .chain(diff.still.iter().map(|k| ("still there", k)))
}

/// What changed per host (`lingerscan diff`).
pub fn write_diffs(out: &mut dyn Write, diffs: &[HostDiff], format: Format) -> io::Result<()> {
    match format {
        Format::Json | Format::Ndjson => json_doc(out, "hosts", diffs, format),
        Format::Csv => csv_rows(
            out,
            &[
                "host",
                "change",
                "verdict",
                "kind",
                "session_id",
                "user",
                "login_time",
            ],
            diffs
                .iter()
                .flat_map(|d| changes(d).map(|(change, key)| diff_cells(&d.host, change, key)))
                .collect(),
        ),
        Format::Text => {
            if diffs.is_empty() {
                return out.write_all(b"No scans in the history for this selection.\n");
            }
            for diff in diffs {
                let from = diff.from.as_ref().map_or_else(
                    || "no earlier scan".to_string(),
                    |f| format!("scan {} at {}", f.id, short_time(f.scanned_at)),
                );
                writeln!(
                    out,
                    "{}: {from} -> scan {} at {}: {} new, {} gone, {} still there",
                    crate::report::sanitize::for_terminal(&diff.host),
                    diff.to.id,
                    short_time(diff.to.scanned_at),
                    diff.new.len(),
                    diff.gone.len(),
                    diff.still.len()
                )?;
                if diff.new.len() + diff.gone.len() + diff.still.len() == 0 {
                    continue;
                }
                let mut table = Table::new(&[
                    ("Change", Align::Left),
                    ("Verdict", Align::Left),
                    ("Kind", Align::Left),
                    ("Session", Align::Left),
                    ("User", Align::Left),
                    ("Login", Align::Left),
                ]);
                for (change, key) in changes(diff) {
                    let mut cells = diff_cells(&diff.host, change, key);
                    cells.remove(0);
                    table.row(cells);
                }
                for line in table.render().lines() {
                    writeln!(out, "  {line}")?;
                }
            }
            Ok(())
        }
    }
}

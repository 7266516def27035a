//! The text format as a [`ReportSink`].
//!
//! One host (or a few snapshot files): each host's report as it comes, then
//! a line per host, as before fleets. A fleet: a summary table first (one
//! row per host, lingering first), then the full report of every host with
//! findings (every host with `--details`), in the table's order.
//!
//! The summary comes first but is known last, so the full reports wait: each
//! is written, as it completes, to an unlinked temporary file, and copied to
//! the output after the table. Memory holds only the summary rows (about
//! 200 bytes a host: 10,000 hosts ≈ 2 MB); the reports' size is bounded by
//! the disk, not by memory. NDJSON needs neither (it writes each host once).

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};

use super::super::sink::{FleetPlan, FleetSummary, HostEntry, HostSummary, ReportSink};
use super::super::table::{Align, Table};
use super::{TextOptions, host_line, render, render_recorded};

/// Where a host's full report sits in the spill file.
struct Spilled {
    offset: u64,
    len: u64,
}

pub struct TextSink<W: Write> {
    out: W,
    options: TextOptions,
    /// Full reports of every host, not only those with findings.
    details: bool,
    fleet: bool,
    /// One-host mode: the line per host for the closing list.
    lines: Vec<String>,
    /// Fleet mode: each host's summary and where its full report is.
    rows: Vec<(HostSummary, Option<Spilled>)>,
    spill: Option<File>,
    spill_len: u64,
}

impl<W: Write> TextSink<W> {
    pub fn new(out: W, options: TextOptions, details: bool) -> Self {
        TextSink {
            out,
            options,
            details,
            fleet: false,
            lines: Vec::new(),
            rows: Vec::new(),
            spill: None,
            spill_len: 0,
        }
    }

    fn full_report(&self, host: &HostEntry<'_>) -> String {
        match host.snapshot {
            Some(snapshot) => render(snapshot, host.analysis, self.options),
            None => render_recorded(host.analysis, self.options),
        }
    }

    fn spill(&mut self, report: &str) -> io::Result<Spilled> {
        let file = match &mut self.spill {
            Some(file) => file,
            None => self.spill.insert(tempfile::tempfile()?),
        };
        file.write_all(report.as_bytes())?;
        let spilled = Spilled {
            offset: self.spill_len,
            len: report.len() as u64,
        };
        self.spill_len += spilled.len;
        Ok(spilled)
    }

    fn copy_spilled(&mut self, spilled: &Spilled) -> io::Result<()> {
        let Some(file) = &mut self.spill else {
            return Ok(());
        };
        file.seek(SeekFrom::Start(spilled.offset))?;
        io::copy(&mut file.take(spilled.len), &mut self.out)?;
        Ok(())
    }
}

impl<W: Write> ReportSink for TextSink<W> {
    fn begin(&mut self, plan: &FleetPlan) -> io::Result<()> {
        self.fleet = plan.fleet;
        Ok(())
    }

    fn host(&mut self, host: &HostEntry<'_>) -> io::Result<bool> {
        if !self.fleet {
            let report = self.full_report(host);
            self.out.write_all(report.as_bytes())?;
            self.out.flush()?;
            self.lines.push(host_line(host.analysis));
            return Ok(true);
        }
        let spilled = if self.details || host.summary.has_findings() {
            let report = self.full_report(host);
            Some(self.spill(&report)?)
        } else {
            None
        };
        self.rows.push((host.summary.clone(), spilled));
        Ok(true)
    }

    fn finish(&mut self, summary: &FleetSummary) -> io::Result<()> {
        if !self.fleet {
            if self.lines.len() > 1 {
                write!(self.out, "\nHosts:\n  {}\n", self.lines.join("\n  "))?;
            }
            return self.out.flush();
        }
        let mut rows = std::mem::take(&mut self.rows);
        rows.sort_by(|(a, _), (b, _)| {
            (a.outcome, std::cmp::Reverse(a.lingering), &a.host).cmp(&(
                b.outcome,
                std::cmp::Reverse(b.lingering),
                &b.host,
            ))
        });
        self.out
            .write_all(summary_table(&rows, summary).as_bytes())?;
        for (_, spilled) in &rows {
            if let Some(spilled) = spilled {
                self.copy_spilled(spilled)?;
            }
        }
        self.out.flush()
    }
}

fn summary_table(rows: &[(HostSummary, Option<Spilled>)], summary: &FleetSummary) -> String {
    let rule = super::RULE;
    let mut out = format!("{rule}\nFLEET SUMMARY\n{rule}\n");
    let mut table = Table::new(&[
        ("Host", Align::Left),
        ("Outcome", Align::Left),
        ("Lingering", Align::Right),
        ("Inconclusive", Align::Right),
        ("SourcesFailed", Align::Right),
        ("Coverage", Align::Right),
        ("Time", Align::Right),
        ("Error", Align::Left),
    ]);
    for (host, _) in rows {
        table.row(vec![
            host.host.clone(),
            host.outcome.as_str().to_string(),
            host.lingering.to_string(),
            host.inconclusive.to_string(),
            host.sources_failed.to_string(),
            host.coverage
                .as_ref()
                .map_or_else(|| "-".to_string(), |c| c.cell()),
            format!("{:.2}s", host.elapsed.as_secs_f64()),
            host.error.clone().unwrap_or_default(),
        ]);
    }
    out.push_str(&table.render());
    out.push_str(&format!(
        "\n{} host(s) in {:.1}s: {} lingering, {} failed, {} undecided, {} clean",
        summary.hosts,
        summary.elapsed.as_secs_f64(),
        summary.lingering,
        summary.failed,
        summary.undecided,
        summary.clean
    ));
    let covered = summary.coverage_full + summary.coverage_partial + summary.coverage_none;
    if covered > 0 {
        out.push_str(&format!(
            "\nCoverage of {covered} remote host(s): {} every method answered, {} some, {} none",
            summary.coverage_full, summary.coverage_partial, summary.coverage_none
        ));
        let mut doors: Vec<(&String, &usize)> = summary.shut_doors.iter().collect();
        doors.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        for (door, hosts) in doors {
            out.push_str(&format!("\n  {door}: {hosts} host(s)"));
        }
    }
    if summary.fail_limit_reached {
        out.push_str(&format!(
            "; stopped after {} hosts refused the credentials (--fail-limit), to spare the account a lockout",
            summary.logon_failures
        ));
    }
    if summary.interrupted || summary.not_scanned > 0 {
        out.push_str(&format!(
            "; stopped early, {} target(s) not scanned",
            summary.not_scanned
        ));
    }
    out.push('\n');
    out
}

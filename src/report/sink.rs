//! Streaming output: every format is a [`ReportSink`] that is told when a
//! run begins, gets each host as it completes, and is told when the run
//! ends (ripgrep's `Sink` shape). Writes go straight to the writer given
//! (a buffered stdout), never into one string for the whole run; memory is
//! one host's report at a time, plus what a format must keep for its end
//! (the text format's summary rows, see [`super::text::fleet`]).

use std::io::{self, Write};
use std::time::Duration;

use serde::Serialize;
use serde_json::value::RawValue;

use super::json::{HostReport, REPORT_VERSION};
use crate::analyze::{Analysis, Outcome, Verdict};
use std::collections::BTreeMap;

use crate::model::{CoverageEntry, CoverageResult, FailureKind, HostSnapshot, Source};

/// How one host ended, for the fleet summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HostOutcome {
    /// Sorted first: what the run is for.
    Lingering,
    /// No source could be read (unreachable, timed out, logon refused...).
    Failed,
    /// Some source needed for a verdict could not be read.
    Undecided,
    Clean,
}

impl HostOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            HostOutcome::Lingering => "LINGERING",
            HostOutcome::Failed => "FAILED",
            HostOutcome::Undecided => "UNDECIDED",
            HostOutcome::Clean => "CLEAN",
        }
    }

    /// The exit-code contract: a failed host is one that could not be decided.
    pub fn outcome(self) -> Outcome {
        match self {
            HostOutcome::Lingering => Outcome::Lingering,
            HostOutcome::Failed | HostOutcome::Undecided => Outcome::Undecided,
            HostOutcome::Clean => Outcome::Clean,
        }
    }
}

/// What the fleet report keeps of one host: a few numbers and one message.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HostSummary {
    pub host: String,
    pub outcome: HostOutcome,
    pub lingering: usize,
    pub inconclusive: usize,
    /// Sources that failed (sources the collector does not offer at all not counted).
    pub sources_failed: usize,
    /// Wall time the host took (zero when read from a file).
    #[serde(rename = "elapsed_secs", serialize_with = "as_seconds")]
    pub elapsed: Duration,
    /// Why the host failed: the kind and message of its first failed source.
    pub error: Option<String>,
    /// That failure's kind, for tallies.
    pub error_kind: Option<FailureKind>,
    /// Remote scans: how many of the methods tried answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub coverage: Option<CoverageCount>,
}

/// Methods of a remote scan that answered, of those tried, and the doors
/// that were shut (`method: result`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CoverageCount {
    pub answered: usize,
    pub tried: usize,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub shut: Vec<String>,
}

impl CoverageCount {
    pub fn of(entries: &[CoverageEntry]) -> Option<CoverageCount> {
        let tried: Vec<&CoverageEntry> = entries
            .iter()
            .filter(|e| e.result != CoverageResult::NotTried)
            .collect();
        (!tried.is_empty()).then(|| CoverageCount {
            answered: tried
                .iter()
                .filter(|e| e.result == CoverageResult::Ok)
                .count(),
            tried: tried.len(),
            shut: tried
                .iter()
                .filter(|e| e.result != CoverageResult::Ok)
                .map(|e| format!("{}: {}", e.method, e.result))
                .collect(),
        })
    }

    /// `5/6`, for a table cell.
    pub fn cell(&self) -> String {
        format!("{}/{}", self.answered, self.tried)
    }
}

impl HostSummary {
    pub fn of(analysis: &Analysis, elapsed: Duration) -> HostSummary {
        let real_failures: Vec<_> = analysis
            .failed_sources
            .iter()
            .filter(|f| {
                !matches!(
                    f.failure.kind,
                    FailureKind::NotSupported | FailureKind::NotAvailable
                )
            })
            .collect();
        let all_failed = Source::ALL
            .iter()
            .all(|source| analysis.failed_sources.iter().any(|f| f.source == *source));
        let outcome = match analysis.outcome() {
            Outcome::Lingering => HostOutcome::Lingering,
            _ if all_failed && !real_failures.is_empty() => HostOutcome::Failed,
            Outcome::Undecided => HostOutcome::Undecided,
            Outcome::Clean => HostOutcome::Clean,
        };
        let first = real_failures.first().map(|f| &f.failure);
        HostSummary {
            host: analysis.host.clone(),
            outcome,
            lingering: analysis.lingering_count(),
            inconclusive: analysis
                .findings
                .iter()
                .filter(|f| f.verdict == Verdict::Inconclusive)
                .count(),
            sources_failed: real_failures.len(),
            elapsed,
            error: first.map(|f| format!("{}: {}", f.kind, f.message)),
            error_kind: first.map(|f| f.kind),
            coverage: None,
        }
    }

    /// The same summary with the coverage of the host's remote methods.
    pub fn with_coverage(mut self, entries: &[CoverageEntry]) -> HostSummary {
        self.coverage = CoverageCount::of(entries);
        self
    }

    /// Whether the host has anything to show in a full report.
    pub fn has_findings(&self) -> bool {
        self.lingering > 0 || self.inconclusive > 0 || self.outcome == HostOutcome::Lingering
    }
}

/// One completed host, as the sinks see it.
#[derive(Clone, Copy)]
pub struct HostEntry<'a> {
    pub summary: &'a HostSummary,
    pub analysis: &'a Analysis,
    /// The evidence, when this run collected or re-read it.
    pub snapshot: Option<&'a HostSnapshot>,
    /// The host's report exactly as recorded (re-emitted by `analyze` when
    /// it could not re-judge it): the machine formats write it unchanged.
    pub recorded: Option<&'a RawValue>,
}

/// What the run is about to do.
#[derive(Debug, Clone, Default)]
pub struct FleetPlan {
    /// Targets to scan (None: not known in advance, as when reading a file).
    pub total: Option<u128>,
    /// More than one host may come (the text format then leads with a summary).
    pub fleet: bool,
}

/// The whole run, for the end of a report.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct FleetSummary {
    pub hosts: usize,
    pub lingering: usize,
    pub failed: usize,
    pub undecided: usize,
    pub clean: usize,
    /// Targets planned but never started (Ctrl-C, a closed output).
    pub not_scanned: u128,
    pub interrupted: bool,
    /// Hosts that refused the credentials.
    pub logon_failures: usize,
    /// The run stopped starting hosts at `--fail-limit` logon failures.
    pub fail_limit_reached: bool,
    #[serde(rename = "elapsed_secs", serialize_with = "as_seconds")]
    pub elapsed: Duration,
    /// Remote hosts by coverage: every method answered, some, none.
    pub coverage_full: usize,
    pub coverage_partial: usize,
    pub coverage_none: usize,
    /// Hosts per shut door (`method: result`), most common first when shown.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub shut_doors: BTreeMap<String, usize>,
}

impl FleetSummary {
    pub fn add(&mut self, host: &HostSummary) {
        self.hosts += 1;
        if let Some(coverage) = &host.coverage {
            match coverage.answered {
                0 => self.coverage_none += 1,
                n if n == coverage.tried => self.coverage_full += 1,
                _ => self.coverage_partial += 1,
            }
            for door in &coverage.shut {
                *self.shut_doors.entry(door.clone()).or_default() += 1;
            }
        }
        match host.outcome {
            HostOutcome::Lingering => self.lingering += 1,
            HostOutcome::Failed => self.failed += 1,
            HostOutcome::Undecided => self.undecided += 1,
            HostOutcome::Clean => self.clean += 1,
        }
    }

    /// The exit-code contract over the fleet: lingering anywhere, else
    /// anything undecided or failed (or left unscanned), else clean.
    pub fn outcome(&self) -> Outcome {
        if self.lingering > 0 {
            Outcome::Lingering
        } else if self.failed + self.undecided > 0 || self.interrupted || self.not_scanned > 0 {
            Outcome::Undecided
        } else {
            Outcome::Clean
        }
    }
}

/// A report format, fed one host at a time.
pub trait ReportSink {
    fn begin(&mut self, plan: &FleetPlan) -> io::Result<()>;
    /// One host; `Ok(false)` asks the run to stop (nothing more is wanted).
    fn host(&mut self, host: &HostEntry<'_>) -> io::Result<bool>;
    fn finish(&mut self, summary: &FleetSummary) -> io::Result<()>;
}

/// Write one host's JSON: the recorded text, or its [`HostReport`] (the
/// whole snapshot in it only with `include_snapshot`).
fn write_host_json(
    out: &mut impl Write,
    host: &HostEntry<'_>,
    include_snapshot: bool,
) -> io::Result<()> {
    #[derive(Serialize)]
    struct AnalysisOnly<'a> {
        host: &'a str,
        outcome: Outcome,
        analysis: &'a Analysis,
    }
    match (host.recorded, host.snapshot) {
        (Some(raw), _) => out.write_all(raw.get().as_bytes()),
        (None, Some(snapshot)) => {
            let report = HostReport::new(snapshot, host.analysis, include_snapshot);
            serde_json::to_writer(&mut *out, &report).map_err(io::Error::from)
        }
        (None, None) => serde_json::to_writer(
            &mut *out,
            &AnalysisOnly {
                host: &host.analysis.host,
                outcome: host.analysis.outcome(),
                analysis: host.analysis,
            },
        )
        .map_err(io::Error::from),
    }
}

/// `ndjson`: one line per host in completion order, flushed as written, so
/// a reader (or `analyze`) sees each host as soon as it is done. The lines
/// of several runs (shards) concatenate into one valid stream.
pub struct NdjsonSink<W: Write> {
    out: W,
    include_snapshot: bool,
}

impl<W: Write> NdjsonSink<W> {
    pub fn new(out: W, include_snapshot: bool) -> Self {
        NdjsonSink {
            out,
            include_snapshot,
        }
    }
}

impl<W: Write> ReportSink for NdjsonSink<W> {
    fn begin(&mut self, _plan: &FleetPlan) -> io::Result<()> {
        Ok(())
    }

    fn host(&mut self, host: &HostEntry<'_>) -> io::Result<bool> {
        write_host_json(&mut self.out, host, self.include_snapshot)?;
        self.out.write_all(b"\n")?;
        self.out.flush()?;
        Ok(true)
    }

    fn finish(&mut self, _summary: &FleetSummary) -> io::Result<()> {
        self.out.flush()
    }
}

/// `json`: one document, opened in `begin` and closed in `finish`; the
/// hosts are written into it as they complete.
pub struct JsonSink<W: Write> {
    out: W,
    hosts: usize,
    outcome: Outcome,
    include_snapshot: bool,
}

impl<W: Write> JsonSink<W> {
    pub fn new(out: W, include_snapshot: bool) -> Self {
        JsonSink {
            out,
            hosts: 0,
            outcome: Outcome::Clean,
            include_snapshot,
        }
    }
}

impl<W: Write> ReportSink for JsonSink<W> {
    fn begin(&mut self, _plan: &FleetPlan) -> io::Result<()> {
        write!(
            self.out,
            "{{\"report_version\":{REPORT_VERSION},\"hosts\":["
        )
    }

    fn host(&mut self, host: &HostEntry<'_>) -> io::Result<bool> {
        self.out
            .write_all(if self.hosts == 0 { b"\n" } else { b",\n" })?;
        write_host_json(&mut self.out, host, self.include_snapshot)?;
        self.hosts += 1;
        self.outcome = self.outcome.combine(host.analysis.outcome());
        Ok(true)
    }

    fn finish(&mut self, summary: &FleetSummary) -> io::Result<()> {
        // The document's outcome is the hosts' verdicts combined, as before
        // fleets; the run's (which also counts hosts never scanned) is in
        // `summary`.
        self.out.write_all(b"\n],\"outcome\":")?;
        serde_json::to_writer(&mut self.out, &self.outcome)?;
        self.out.write_all(b",\"summary\":")?;
        serde_json::to_writer(&mut self.out, summary)?;
        self.out.write_all(b"}\n")?;
        self.out.flush()
    }
}

/// `csv`: one row per finding, each naming its host; the header first.
pub struct CsvSink<W: Write> {
    out: ::csv::Writer<W>,
    /// With the history's columns (`first_seen`, `last_seen`, `sightings`, `watching`) at the end.
    history: bool,
}

impl<W: Write> CsvSink<W> {
    pub fn new(out: W, history: bool) -> Self {
        CsvSink {
            out: ::csv::Writer::from_writer(out),
            history,
        }
    }
}

fn csv_error(error: ::csv::Error) -> io::Error {
    match error.into_kind() {
        ::csv::ErrorKind::Io(error) => error,
        other => io::Error::other(format!("{other:?}")),
    }
}

impl<W: Write> ReportSink for CsvSink<W> {
    fn begin(&mut self, _plan: &FleetPlan) -> io::Result<()> {
        let extra: &[&str] = if self.history {
            &super::csv::HISTORY_HEADER
        } else {
            &[]
        };
        self.out
            .write_record(super::csv::HEADER.iter().chain(extra))
            .map_err(csv_error)
    }

    fn host(&mut self, host: &HostEntry<'_>) -> io::Result<bool> {
        let mut history = super::csv::history_cells(host.analysis).into_iter();
        for row in super::csv::rows(host.analysis) {
            let extra = match (self.history, history.next()) {
                (true, Some(cells)) => cells.to_vec(),
                (true, None) => vec![String::new(); super::csv::HISTORY_HEADER.len()],
                (false, _) => Vec::new(),
            };
            self.out
                .write_record(row.iter().chain(&extra))
                .map_err(csv_error)?;
        }
        self.out.flush()?;
        Ok(true)
    }

    fn finish(&mut self, _summary: &FleetSummary) -> io::Result<()> {
        self.out.flush()
    }
}

/// Several sinks fed from one run (a report on stdout and an NDJSON file,
/// say). The run goes on while every sink wants more.
pub struct Tee<'a> {
    sinks: Vec<Box<dyn ReportSink + 'a>>,
}

impl<'a> Tee<'a> {
    pub fn new(sinks: Vec<Box<dyn ReportSink + 'a>>) -> Self {
        Tee { sinks }
    }
}

impl ReportSink for Tee<'_> {
    fn begin(&mut self, plan: &FleetPlan) -> io::Result<()> {
        self.sinks.iter_mut().try_for_each(|s| s.begin(plan))
    }

    fn host(&mut self, host: &HostEntry<'_>) -> io::Result<bool> {
        let mut more = true;
        for sink in &mut self.sinks {
            more &= sink.host(host)?;
        }
        Ok(more)
    }

    fn finish(&mut self, summary: &FleetSummary) -> io::Result<()> {
        self.sinks.iter_mut().try_for_each(|s| s.finish(summary))
    }
}

/// Durations in the machine formats: seconds, to the millisecond.
fn as_seconds<S: serde::Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_f64(duration.as_millis() as f64 / 1000.0)
}

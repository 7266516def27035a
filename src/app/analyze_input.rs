//! `lingerscan analyze`: snapshot files (from `snapshot`) and fleet NDJSON
//! (from `scan --format ndjson`, shards concatenated or not), read and
//! reported one host at a time, so memory is bounded by the largest host,
//! not by the number of files or lines.
//!
//! An NDJSON line that carries its snapshot is analysed again with this
//! run's `--user`, `--max-idle` and `--now`; one without (a report made
//! without `--include-snapshot`) is re-emitted as recorded, and asking to
//! judge it differently is an error that says why.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::value::RawValue;

use super::history::Recorder;
use super::{analyze_options, parse_target, sink, stdout};
use crate::cli::AnalyzeArgs;
use lingerscan::analyze::{self, Analysis, Outcome};
use lingerscan::identity::TargetUser;
use lingerscan::model::HostSnapshot;
use lingerscan::report::sink::{FleetPlan, FleetSummary, HostEntry, HostSummary, ReportSink};
use lingerscan::snapshot_io;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// One snapshot (pretty or compact JSON).
    Snapshot,
    /// One host report per line.
    Ndjson,
}

struct Input {
    path: PathBuf,
    reader: Box<dyn BufRead>,
    /// The first line, read to tell the kinds apart.
    first: Vec<u8>,
    kind: Kind,
}

/// Only whether a line has an `analysis`: decoded without building it.
#[derive(Deserialize)]
struct Probe {
    analysis: Option<IgnoredAny>,
}

/// A report line, its parts left as text until needed.
#[derive(Deserialize)]
struct Recorded<'a> {
    #[serde(borrow)]
    analysis: &'a RawValue,
    #[serde(borrow, default)]
    snapshot: Option<&'a RawValue>,
}

fn open(path: &Path) -> Result<Input> {
    let mut reader: Box<dyn BufRead> = if path.as_os_str() == "-" {
        Box::new(BufReader::new(std::io::stdin()))
    } else {
        let file = File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
        Box::new(BufReader::with_capacity(256 * 1024, file))
    };
    let mut first = Vec::new();
    reader
        .read_until(b'\n', &mut first)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let text = std::str::from_utf8(&first).unwrap_or_default();
    let text = text.trim_start_matches('\u{feff}').trim();
    let kind = match serde_json::from_str::<Probe>(text) {
        Ok(Probe { analysis: Some(_) }) => Kind::Ndjson,
        _ => Kind::Snapshot,
    };
    Ok(Input {
        path: path.to_path_buf(),
        reader,
        first,
        kind,
    })
}

pub fn run(args: &AnalyzeArgs) -> Result<Outcome> {
    let user = parse_target(&args.analysis)?;
    let mut inputs = Vec::with_capacity(args.files.len());
    for path in &args.files {
        inputs.push(open(path)?);
    }
    anyhow::ensure!(
        args.record || (args.store.min_age.is_none() && args.store.keep.is_none()),
        "--min-age and --keep work on the history: add --record"
    );
    let recorder = args
        .record
        .then(|| Recorder::open(&args.store, lingerscan::history::Origin::Analyze))
        .flatten();
    // A fleet's lines get the fleet report; snapshot files the report of old.
    let fleet = inputs.iter().any(|i| i.kind == Kind::Ndjson);
    let mut sink = sink(&args.analysis, stdout(), true, false, recorder.is_some());
    let mut summary = FleetSummary::default();
    let mut reader = Reader {
        args,
        user,
        sink: &mut *sink,
        summary: &mut summary,
        recorder: recorder.as_ref(),
    };
    let result = reader.all(inputs, fleet);
    drop(sink);
    if let Some(recorder) = recorder {
        recorder.finish(
            args.store.keep,
            args.now.unwrap_or_else(jiff::Timestamp::now),
        );
    }
    match result {
        Ok(()) => {}
        Err(error) if closed_output(&error) => return Ok(summary.outcome()),
        Err(error) => return Err(error),
    }
    Ok(summary.outcome())
}

fn closed_output(error: &anyhow::Error) -> bool {
    error
        .downcast_ref::<std::io::Error>()
        .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
}

struct Reader<'a, 's> {
    args: &'a AnalyzeArgs,
    user: Option<TargetUser>,
    sink: &'a mut (dyn ReportSink + 's),
    summary: &'a mut FleetSummary,
    recorder: Option<&'a Recorder>,
}

impl Reader<'_, '_> {
    fn all(&mut self, inputs: Vec<Input>, fleet: bool) -> Result<()> {
        self.sink.begin(&FleetPlan { total: None, fleet })?;
        for input in inputs {
            let more = match input.kind {
                Kind::Snapshot => self.snapshot_file(input)?,
                Kind::Ndjson => self.ndjson(input)?,
            };
            if !more {
                break;
            }
        }
        self.sink.finish(self.summary)?;
        Ok(())
    }

    fn snapshot_file(&mut self, mut input: Input) -> Result<bool> {
        let mut bytes = std::mem::take(&mut input.first);
        input
            .reader
            .read_to_end(&mut bytes)
            .with_context(|| format!("cannot read {}", input.path.display()))?;
        let text = snapshot_io::decode_text(bytes, &input.path)?;
        let snapshot = snapshot_io::parse(&text, &input.path)?;
        drop(text);
        self.judged(&input.path, &snapshot)
    }

    /// Analyse a snapshot with this run's settings, and report it.
    fn judged(&mut self, path: &Path, snapshot: &HostSnapshot) -> Result<bool> {
        if let Some(now) = self.args.now
            && now < snapshot.collected_at
        {
            bail!(
                "--now {now} is before {} was collected ({}): idle times cannot be judged backwards",
                path.display(),
                snapshot.collected_at
            );
        }
        let mut analysis = analyze::analyze(
            snapshot,
            &analyze_options(snapshot, &self.user, &self.args.analysis, self.args.now),
        );
        if let Some(recorder) = self.recorder {
            recorder.record(
                &mut analysis,
                self.args.now.unwrap_or(snapshot.collected_at),
            );
        }
        self.emit(&analysis, Some(snapshot), None)
    }

    fn emit(
        &mut self,
        analysis: &Analysis,
        snapshot: Option<&HostSnapshot>,
        recorded: Option<&RawValue>,
    ) -> Result<bool> {
        let summary = HostSummary::of(analysis, Duration::ZERO)
            .with_coverage(snapshot.map_or(&[], |s| s.coverage.as_slice()));
        self.summary.add(&summary);
        Ok(self.sink.host(&HostEntry {
            summary: &summary,
            analysis,
            snapshot,
            recorded,
        })?)
    }

    fn ndjson(&mut self, mut input: Input) -> Result<bool> {
        let mut line = std::mem::take(&mut input.first);
        let mut number = 1;
        loop {
            if !line.is_empty() && !self.line(&input.path, number, &line)? {
                return Ok(false);
            }
            line.clear();
            let read = input
                .reader
                .read_until(b'\n', &mut line)
                .with_context(|| format!("cannot read {}", input.path.display()))?;
            if read == 0 {
                return Ok(true);
            }
            number += 1;
        }
    }

    fn line(&mut self, path: &Path, number: usize, bytes: &[u8]) -> Result<bool> {
        let place = || format!("{}:{number}", path.display());
        let text = std::str::from_utf8(bytes)
            .with_context(|| format!("{}: not UTF-8", place()))?
            .trim_start_matches('\u{feff}')
            .trim();
        if text.is_empty() {
            return Ok(true);
        }
        let recorded: Recorded<'_> = serde_json::from_str(text)
            .with_context(|| format!("{}: not a host report line", place()))?;
        if let Some(raw) = recorded.snapshot.filter(|raw| raw.get() != "null") {
            let snapshot = snapshot_io::parse(raw.get(), path)
                .with_context(|| format!("{}: its snapshot", place()))?;
            return self.judged(path, &snapshot);
        }
        let mut analysis: Analysis = serde_json::from_str(recorded.analysis.get())
            .with_context(|| format!("{}: not a host analysis", place()))?;
        self.cannot_rejudge(&analysis)
            .map_err(|why| anyhow::anyhow!("{}: host {}: {why}", place(), analysis.host))?;
        // Recorded as it was judged then; the line itself is re-emitted as it was.
        if let Some(recorder) = self.recorder {
            let judged_at = analysis.collected_at;
            recorder.record(&mut analysis, judged_at);
        }
        let whole: &RawValue = serde_json::from_str(text)
            .with_context(|| format!("{}: not a host report line", place()))?;
        self.emit(&analysis, None, Some(whole))
    }

    /// Why a recorded analysis cannot be given this run's settings, if it cannot.
    fn cannot_rejudge(&self, analysis: &Analysis) -> Result<(), String> {
        let remedy = "the line was recorded without its snapshot (scan again with --include-snapshot), \
                      or leave the option out to re-emit the recorded analysis";
        if self.args.now.is_some() {
            return Err(format!(
                "--now needs the evidence to judge idle times again; {remedy}"
            ));
        }
        if let Some(max_idle) = self.args.analysis.max_idle
            && max_idle.as_secs() != analysis.max_idle_secs
        {
            return Err(format!(
                "--max-idle differs from the recorded {}s and needs the evidence; {remedy}",
                analysis.max_idle_secs
            ));
        }
        if let Some(user) = &self.user {
            let same = analysis
                .target
                .as_deref()
                .is_some_and(|t| t.eq_ignore_ascii_case(&user.display()));
            if !same {
                return Err(format!(
                    "--user {} differs from the recorded target ({}) and needs the evidence; {remedy}",
                    user.display(),
                    analysis.target.as_deref().unwrap_or("every user")
                ));
            }
        }
        Ok(())
    }
}

//! The history database at the command line: recording scans (never at
//! the cost of the scan: a database that cannot be written is a warning),
//! and the `history` and `diff` commands.

use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};
use jiff::Timestamp;

use super::stdout;
use crate::cli::{DiffArgs, HistoryArgs, StoreArgs};
use lingerscan::analyze::{Analysis, Outcome};
use lingerscan::history::{self, DiffQuery, HistoryQuery, Origin, ScanRecord, Store};
use lingerscan::report::sink::HostSummary;

/// The database `--db` names, else the default one.
fn db_path(db: Option<&PathBuf>) -> Option<PathBuf> {
    db.cloned().or_else(history::default_path)
}

/// Records each host as it is judged; shared by a fleet's workers.
pub(crate) struct Recorder {
    store: Mutex<Box<dyn Store>>,
    min_age: Option<Duration>,
    origin: Origin,
    failures: AtomicUsize,
}

impl Recorder {
    /// The database of `args`, or None (after a warning) when it cannot be
    /// opened: the scan goes on without history.
    pub(crate) fn open(args: &StoreArgs, origin: Origin) -> Option<Recorder> {
        let Some(path) = db_path(args.db.as_ref()) else {
            eprintln!(
                "warning: no history: no data directory (set XDG_DATA_HOME or HOME, or give --db)"
            );
            return None;
        };
        match history::open(&path) {
            Ok(store) => Some(Recorder {
                store: Mutex::new(store),
                min_age: args.min_age,
                origin,
                failures: AtomicUsize::new(0),
            }),
            Err(error) => {
                eprintln!(
                    "warning: no history for this run: {}: {error}",
                    history::display_location(&path)
                );
                None
            }
        }
    }

    /// Record one host's analysis and give its findings their history;
    /// `now` is the moment `--min-age` is judged at.
    pub(crate) fn record(&self, analysis: &mut Analysis, now: Timestamp) {
        let outcome = HostSummary::of(analysis, Duration::ZERO).outcome;
        let recorded = {
            // Poisoned only by a bug (a panic) in another host's recording:
            // the store is used on, and a transaction such a panic left open
            // makes the next ones fail as warnings, never the scan.
            let mut store = self.store.lock().unwrap_or_else(|e| e.into_inner());
            store.record(&ScanRecord {
                analysis,
                outcome,
                origin: self.origin,
            })
        };
        match recorded {
            Ok(histories) => history::annotate::apply(analysis, histories, self.min_age, now),
            Err(error) => {
                // The first failure in words; the rest counted at the end.
                if self.failures.fetch_add(1, Ordering::Relaxed) == 0 {
                    eprintln!(
                        "warning: {} not recorded in the history: {error}",
                        lingerscan::report::sanitize::for_terminal(&analysis.host)
                    );
                }
            }
        }
    }

    /// After the run: `--keep`, and how many hosts went unrecorded.
    pub(crate) fn finish(self, keep: Option<Duration>, now: Timestamp) {
        let failures = self.failures.load(Ordering::Relaxed);
        if failures > 1 {
            eprintln!("warning: {failures} hosts were not recorded in the history");
        }
        let Some(keep) = keep else { return };
        let mut store = self.store.into_inner().unwrap_or_else(|e| e.into_inner());
        if let Err(error) = store.prune(cutoff(now, keep)) {
            eprintln!("warning: --keep: old scans not pruned: {error}");
        }
    }
}

/// The database `close` records its actions in: it must open (an action
/// that could not be recorded is not taken).
pub(crate) fn action_store(args: &StoreArgs) -> Result<Box<dyn Store>> {
    let path = db_path(args.db.as_ref())
        .context("no data directory for the history (set XDG_DATA_HOME or HOME, or give --db)")?;
    history::open(&path)
        .with_context(|| format!("history database {}", history::display_location(&path)))
}

/// `now - keep`, saturating at the earliest time jiff knows.
fn cutoff(now: Timestamp, keep: Duration) -> Timestamp {
    jiff::SignedDuration::try_from(keep)
        .ok()
        .and_then(|d| now.checked_sub(d).ok())
        .unwrap_or(Timestamp::MIN)
}

/// Open the database for reading commands: it must exist.
fn open_existing(db: Option<&PathBuf>) -> Result<Box<dyn Store>> {
    let path =
        db_path(db).context("no data directory (set XDG_DATA_HOME or HOME, or give --db)")?;
    anyhow::ensure!(
        history::postgres_url(&path).is_some() || path.exists(),
        "no history database at {} (scans record one unless --no-history; or give --db)",
        path.display()
    );
    history::open(&path)
        .with_context(|| format!("history database {}", history::display_location(&path)))
}

pub(crate) fn history_command(args: &HistoryArgs) -> Result<Outcome> {
    let mut store = open_existing(args.db.as_ref())?;
    if let Some(keep) = args.keep {
        store
            .prune(cutoff(Timestamp::now(), keep))
            .context("--keep")?;
    }
    let query = HistoryQuery {
        host: args.host.clone(),
        user: args.user.clone(),
        since: args.since,
    };
    let mut out = stdout();
    let written = if args.actions {
        let actions = store.actions(&query)?;
        history::actions::write_actions(&mut out, &actions, args.format)
    } else if args.scans {
        let scans = store.scans(&query)?;
        history::report::write_scans(&mut out, &scans, args.format)
    } else {
        let runs = store.history(&query)?;
        history::report::write_runs(&mut out, &runs, args.format)
    };
    finish_output(written.and_then(|()| std::io::Write::flush(&mut out)))
}

pub(crate) fn diff_command(args: &DiffArgs) -> Result<Outcome> {
    let mut store = open_existing(args.db.as_ref())?;
    let diffs = store.diff(&DiffQuery {
        host: args.host.clone(),
        between: args.from.zip(args.to),
    })?;
    let mut out = stdout();
    let written = history::report::write_diffs(&mut out, &diffs, args.format);
    finish_output(written.and_then(|()| std::io::Write::flush(&mut out)))
}

/// A closed pipe (`| head`) is not an error.
fn finish_output(result: std::io::Result<()>) -> Result<Outcome> {
    match result {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(e).context("writing the report")
        }
        _ => Ok(Outcome::Clean),
    }
}

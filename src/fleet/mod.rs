//! Many hosts at once (ripgrep's parallel walk): scoped worker threads pull
//! targets from the lazy list, collect and analyse each host under its own
//! deadline, and send the result over a bounded channel to the one writer
//! (the calling thread), which alone feeds the [`ReportSink`] and the
//! progress display, so output never tears. A quit flag (Ctrl-C, a closed
//! output) stops workers from taking new hosts; hosts already running end
//! by their deadline and are still reported.
//!
//! Threads and blocking sockets, not an async runtime: the MS-RPC client is
//! blocking and bounded by its deadline, a worker costs one stack, and the
//! scan's time is spent waiting on peers, not on the CPU (docs/fleet.md has
//! the measurements). Memory is bounded by the concurrency: at most
//! `concurrency` hosts are being scanned and at most `concurrency` finished
//! ones wait in the channel; the writer keeps only what the sink keeps.

pub mod interrupt;
pub mod progress;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, mpsc};
use std::time::{Duration, Instant};

use crate::analyze::Analysis;
use crate::collect::{self, Collector};
use crate::model::{FailureKind, HostSnapshot, SourceFailure};
use crate::report::sink::{FleetPlan, FleetSummary, HostEntry, HostSummary, ReportSink};
use crate::targets::Target;

pub use progress::Progress;

/// `--concurrency` unless given: enough to hide most waiting on peers,
/// few enough threads to stay small (a worker is mostly an idle stack).
pub const DEFAULT_CONCURRENCY: usize = 64;

#[derive(Debug, Clone)]
pub struct FleetOptions {
    /// Hosts scanned at once.
    pub concurrency: usize,
    /// The whole of one host: connect, log on, every call.
    pub timeout: Duration,
    /// Report as a fleet (the text format leads with a summary); false for
    /// one host, whose report stays as it always was.
    pub fleet: bool,
    /// Stop starting hosts once this many refused the credentials
    /// (`--fail-limit`): each refusal is a failed logon counted against the
    /// account's lockout threshold.
    pub fail_limit: Option<usize>,
}

/// One finished host, on its way to the writer.
struct Done {
    snapshot: HostSnapshot,
    analysis: Analysis,
    summary: HostSummary,
}

/// Scan `targets` (`total` of them, when known) and report each through
/// `sink` as it completes. `judge` analyses a snapshot with the run's
/// settings; `stop` is checked before every new host (Ctrl-C sets it).
/// An error is the sink's (other than a closed pipe, which ends the run
/// quietly): host failures are in the summary, never an error.
#[allow(clippy::too_many_arguments)] // the run's parts, each used once
pub fn run(
    targets: impl Iterator<Item = Target> + Send,
    total: Option<u128>,
    collector: &dyn Collector,
    judge: &(dyn Fn(&HostSnapshot) -> Analysis + Sync),
    sink: &mut dyn ReportSink,
    progress: &mut dyn Progress,
    stop: &AtomicBool,
    options: &FleetOptions,
) -> std::io::Result<FleetSummary> {
    let started = Instant::now();
    let concurrency = options.concurrency.max(1);
    let plan = FleetPlan {
        total,
        fleet: options.fleet,
    };
    let mut summary = FleetSummary::default();
    if let Err(error) = sink.begin(&plan) {
        return quiet_if_closed(error, summary);
    }
    progress.start(total);
    let targets = Mutex::new(targets);
    // Bounded: a slow writer holds the workers back instead of letting
    // finished hosts pile up in memory.
    let (sender, receiver) = mpsc::sync_channel::<Done>(concurrency);
    let mut sink_error = None;
    // False once the sink wants no more (or failed): hosts still running are
    // then drained without being written.
    let mut writing = true;
    let mut told_stopping = false;
    std::thread::scope(|scope| {
        for index in 0..concurrency {
            let sender = sender.clone();
            let targets = &targets;
            let worker = move || work(targets, collector, judge, stop, options.timeout, &sender);
            let spawned = std::thread::Builder::new()
                .name(format!("lingerscan-fleet-{index}"))
                .spawn_scoped(scope, worker);
            if spawned.is_err() && index > 0 {
                // Fewer workers than asked (a thread limit): the run goes on slower.
                break;
            }
        }
        drop(sender);
        for done in receiver.iter() {
            summary.add(&done.summary);
            if done.summary.error_kind == Some(FailureKind::LogonFailure) {
                summary.logon_failures += 1;
                if options
                    .fail_limit
                    .is_some_and(|limit| summary.logon_failures >= limit)
                    && !stop.swap(true, Ordering::Relaxed)
                {
                    summary.fail_limit_reached = true;
                }
            }
            progress.host_done(&done.summary, &summary);
            if stop.load(Ordering::Relaxed) && !told_stopping {
                told_stopping = true;
                progress.stopping();
            }
            if !writing {
                continue;
            }
            let entry = HostEntry {
                summary: &done.summary,
                analysis: &done.analysis,
                snapshot: Some(&done.snapshot),
                recorded: None,
            };
            match sink.host(&entry) {
                Ok(true) => continue,
                Ok(false) => {}
                Err(error) => sink_error = Some(error),
            }
            writing = false;
            stop.store(true, Ordering::Relaxed);
        }
    });
    summary.interrupted = stop.load(Ordering::Relaxed);
    summary.not_scanned = total.map_or(0, |t| t.saturating_sub(summary.hosts as u128));
    summary.elapsed = started.elapsed();
    progress.finish(&summary);
    if let Some(error) = sink_error {
        return quiet_if_closed(error, summary);
    }
    match sink.finish(&summary) {
        Ok(()) => Ok(summary),
        Err(error) => quiet_if_closed(error, summary),
    }
}

/// A closed output (`| head`) ends the run without an error message.
fn quiet_if_closed(error: std::io::Error, summary: FleetSummary) -> std::io::Result<FleetSummary> {
    if error.kind() == std::io::ErrorKind::BrokenPipe {
        Ok(summary)
    } else {
        Err(error)
    }
}

/// One worker: take a host, scan it by its deadline, hand it over; until
/// the list ends, the writer goes away, or the run is stopped.
fn work(
    targets: &Mutex<impl Iterator<Item = Target>>,
    collector: &dyn Collector,
    judge: &(dyn Fn(&HostSnapshot) -> Analysis + Sync),
    stop: &AtomicBool,
    timeout: Duration,
    sender: &mpsc::SyncSender<Done>,
) {
    loop {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let next = targets.lock().unwrap_or_else(|e| e.into_inner()).next();
        let Some(target) = next else { return };
        let started = Instant::now();
        let deadline = started + timeout;
        let host = target.host();
        let as_collected = match &host {
            None => collect::Target::Local,
            Some(name) => collect::Target::Remote(name),
        };
        // A bug in one host's scan must not end the sweep: it fails that host.
        let scanned = catch_unwind(AssertUnwindSafe(|| {
            let snapshot = collector.collect(as_collected, deadline);
            let analysis = judge(&snapshot);
            (snapshot, analysis)
        }));
        let (snapshot, analysis) = scanned.unwrap_or_else(|_| {
            let snapshot = panicked(&target.to_string());
            let analysis = judge(&snapshot);
            (snapshot, analysis)
        });
        let summary =
            HostSummary::of(&analysis, started.elapsed()).with_coverage(&snapshot.coverage);
        if sender
            .send(Done {
                snapshot,
                analysis,
                summary,
            })
            .is_err()
        {
            return;
        }
    }
}

/// The snapshot of a host whose scan panicked: every source failed, saying so.
fn panicked(host: &str) -> HostSnapshot {
    HostSnapshot::unreadable(
        host,
        SourceFailure::new(
            FailureKind::Other,
            None,
            "the scan of this host stopped on an internal error (a bug: please report it)",
        ),
    )
}

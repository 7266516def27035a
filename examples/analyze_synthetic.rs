//! Analyse a synthetic snapshot of N processes R times and print the median
//! time (for profiling: `cargo run --release --example analyze_synthetic -- 1000000 5`;
//! a third argument analyses for that one user only). With the binary's
//! allocator settings, so that run once per process (`REPEAT` 1) it times
//! the analysis as `lingerscan analyze` runs it. `ANALYZE_FLOOR=1` also
//! times a pass that only reads the input, `ANALYZE_ALLOCATOR=default` runs
//! with mimalloc's own settings, `ANALYZE_DIGEST=1` prints a digest of the
//! analysis.

use std::time::Instant;

/// The binary's allocator and its settings, so that the figures are the binary's.
#[path = "../src/allocator.rs"]
mod allocator;
#[path = "common/timing.rs"]
mod timing;
use timing::{cpu_ms, read_floor};

use lingerscan::analyze::{AnalyzeOptions, analyze};
use lingerscan::synthetic::{Sizes, snapshot};

fn main() {
    // `ANALYZE_ALLOCATOR=default`: mimalloc as it comes (freed memory kept
    // mapped for a while, huge pages), to compare with the binary's settings.
    if std::env::var_os("ANALYZE_ALLOCATOR").is_none_or(|v| v != "default") {
        allocator::tune();
    }
    let mut args = std::env::args().skip(1);
    let processes = args.next().and_then(|n| n.parse().ok()).unwrap_or(100_000);
    let repeat: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(1).max(1);
    let target = args.next();
    let snap = snapshot(Sizes::scaled(processes));
    let mut options = AnalyzeOptions::for_snapshot(&snap);
    // A third argument: one target user (e.g. 'CONTOSO\user000042'), as `--user` does.
    options.target = target.and_then(|t| lingerscan::identity::TargetUser::parse(&t).ok());
    let mut times = Vec::with_capacity(repeat);
    let mut cpu = Vec::with_capacity(repeat);
    let mut last = None;
    for _ in 0..repeat {
        let (start, start_cpu) = (Instant::now(), cpu_ms());
        let analysis = analyze(&snap, &options);
        times.push(start.elapsed().as_secs_f64() * 1000.0);
        cpu.push(cpu_ms() - start_cpu);
        // Dropped outside the timing: freeing is the caller's cost, not the analysis's.
        last = Some(analysis);
    }
    if std::env::var_os("ANALYZE_DIGEST").is_some()
        && let Some(analysis) = &last
    {
        // To check that a change leaves every verdict and row as it was.
        use std::hash::{DefaultHasher, Hash, Hasher};
        let mut hasher = DefaultHasher::new();
        serde_json::to_string(analysis)
            .unwrap_or_default()
            .hash(&mut hasher);
        println!("analysis digest {:016x}", hasher.finish());
    }
    // `ANALYZE_FLOOR=1`: the same loop over one pass that only reads every
    // process's owner and logon id, for the scaling of reading the input.
    if std::env::var_os("ANALYZE_FLOOR").is_some() {
        let mut floors: Vec<f64> = (0..repeat).map(|_| read_floor(&snap).0).collect();
        floors.sort_by(f64::total_cmp);
        println!(
            "floor median {:.2} ms of {repeat}",
            floors[floors.len() / 2]
        );
    }
    times.sort_by(f64::total_cmp);
    cpu.sort_by(f64::total_cmp);
    let (findings, users) = last.map_or((0, 0), |a| (a.findings.len(), a.users.len()));
    println!(
        "{processes} processes: {findings} findings, {users} users; median {:.1} ms of {repeat} (min {:.1}, max {:.1}); CPU median {:.1} ms",
        times[times.len() / 2],
        times[0],
        times[times.len() - 1],
        cpu[cpu.len() / 2]
    );
}

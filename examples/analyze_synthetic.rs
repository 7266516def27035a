//! Analyse a synthetic snapshot of N processes once and print how long it took
//! (for profiling: `cargo run --release --example analyze_synthetic -- 1000000`).

use std::time::Instant;

use lingerscan::analyze::{AnalyzeOptions, analyze};
use lingerscan::synthetic::{Sizes, snapshot};

fn main() {
    let processes = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(100_000);
    let snap = snapshot(Sizes::scaled(processes));
    let options = AnalyzeOptions::for_snapshot(&snap);
    let start = Instant::now();
    let analysis = analyze(&snap, &options);
    let elapsed = start.elapsed();
    println!(
        "{processes} processes: {} findings, {} users in {:.1} ms",
        analysis.findings.len(),
        analysis.users.len(),
        elapsed.as_secs_f64() * 1000.0
    );
}

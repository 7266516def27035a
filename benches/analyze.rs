//! Analysis time against input size: 10k, 100k and 1M processes, with a tenth
//! as many logon sessions and workstation rows. Target: 1M in under 1 s.

use lingerscan::analyze::{AnalyzeOptions, analyze};
use lingerscan::synthetic::{Sizes, snapshot};

/// The binary's allocator and its settings, so that the figures are the binary's.
#[path = "../src/allocator.rs"]
mod allocator;

fn main() {
    allocator::tune();
    divan::main();
}

#[divan::bench(args = [10_000, 100_000, 1_000_000], sample_count = 5, sample_size = 1)]
fn analyze_all_users(bencher: divan::Bencher, processes: usize) {
    let snap = snapshot(Sizes::scaled(processes));
    let options = AnalyzeOptions::for_snapshot(&snap);
    bencher.bench_local(|| analyze(divan::black_box(&snap), &options));
}

#[divan::bench(args = [10_000, 100_000, 1_000_000], sample_count = 5, sample_size = 1)]
fn analyze_one_target(bencher: divan::Bencher, processes: usize) {
    let snap = snapshot(Sizes::scaled(processes));
    let mut options = AnalyzeOptions::for_snapshot(&snap);
    options.target = lingerscan::identity::TargetUser::parse("CONTOSO\\user000042").ok();
    bencher.bench_local(|| analyze(divan::black_box(&snap), &options));
}

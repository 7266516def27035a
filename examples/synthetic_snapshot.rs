//! Write a synthetic snapshot of N processes (a tenth as many logon sessions
//! and workstation rows) as a snapshot file, for whole-process benchmarks:
//! `cargo run --release --example synthetic_snapshot -- 1000000 /tmp/snap.json`.

use std::path::PathBuf;

use lingerscan::snapshot_io;
use lingerscan::synthetic::{Sizes, snapshot};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let processes: usize = args.next().map_or(Ok(100_000), |n| n.parse())?;
    let out = PathBuf::from(args.next().unwrap_or_else(|| "-".to_string()));
    snapshot_io::save(&snapshot(Sizes::scaled(processes)), &out)?;
    Ok(())
}

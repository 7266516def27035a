//! Time the phases of `lingerscan analyze -f json FILE` separately: read and
//! parse the snapshot, analyse it, write the report (to /dev/null):
//! `cargo run --release --example report_phases -- snap.json [--include-snapshot]`.
//!
//! `--floor` times, in place of the analysis, one pass that reads every
//! process's owner and logon id (`timing::read_floor`): to set the
//! analysis's scaling beside that of simply reading its input.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

/// The binary's allocator and its settings, so that the figures are the binary's.
#[path = "../src/allocator.rs"]
mod allocator;
#[path = "common/timing.rs"]
mod timing;
use timing::{cpu_ms, read_floor};

use lingerscan::analyze::{AnalyzeOptions, analyze};
use lingerscan::report::json::{HostReport, write_document};
use lingerscan::snapshot_io;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    allocator::tune();
    let mut args = std::env::args().skip(1);
    let path = PathBuf::from(args.next().ok_or("usage: report_phases SNAPSHOT")?);
    let flags: Vec<String> = args.collect();
    let include_snapshot = flags.iter().any(|a| a == "--include-snapshot");
    let floor = flags.iter().any(|a| a == "--floor");
    let start = Instant::now();
    let snapshot = snapshot_io::load(&path)?;
    let parsed = start.elapsed();
    if floor {
        let (ms, sum) = read_floor(&snapshot);
        println!("floor {ms:.2} ms (byte sum {sum})");
        return Ok(());
    }
    let cpu_before = cpu_ms();
    let analysis = analyze(&snapshot, &AnalyzeOptions::for_snapshot(&snapshot));
    let analysed = start.elapsed();
    let analysis_cpu = cpu_ms() - cpu_before;
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::fs::File::create("/dev/null")?);
    write_document(
        &mut out,
        &[HostReport::new(&snapshot, &analysis, include_snapshot)],
    )?;
    out.flush()?;
    let written = start.elapsed();
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
    println!(
        "parse {:.0} ms, analyse {:.1} ms (CPU {:.1} ms), write {:.0} ms, total {:.0} ms",
        ms(parsed),
        ms(analysed - parsed),
        analysis_cpu,
        ms(written - analysed),
        ms(written)
    );
    Ok(())
}

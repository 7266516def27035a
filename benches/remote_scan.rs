//! Remote scan of one Samba host on loopback, lingerscan vs impacket, side by side.
//!
//! Each scan: connect, negotiate, authenticate, IPC$, `\PIPE\wkssvc`
//! NetrWkstaUserEnum, `\PIPE\srvsvc` NetrSessionEnum, disconnect. impacket
//! does the same two queries over one SMB connection, timed inside Python (its
//! interpreter start-up and imports are not counted, in its favour).
//!
//! `cargo bench --bench remote_scan` measures; under `cargo test` it runs one
//! scan of each as a smoke test.

#[cfg(target_os = "linux")]
#[path = "../tests/support/mod.rs"]
mod support;

#[cfg(not(target_os = "linux"))]
fn main() {}

#[cfg(target_os = "linux")]
use std::net::Ipv4Addr;
#[cfg(target_os = "linux")]
use std::process::Command;
#[cfg(target_os = "linux")]
use std::time::{Duration, Instant};

#[cfg(target_os = "linux")]
use lingerscan::collect::msrpc::{Credentials, Password, collect_remote};
#[cfg(target_os = "linux")]
use support::samba::{SambaServer, remote as samba};

#[cfg(target_os = "linux")]
fn main() {
    let measuring = std::env::args().any(|a| a == "--bench");
    let iterations: u32 = if measuring { 20 } else { 1 };
    // 50 utmp users; smbd itself writes none (utmp = no), so every scan sees the same list.
    let options = (0..50).fold(
        samba::options(Ipv4Addr::new(127, 0, 0, 29), 14545).global("utmp = no\nlog level = 0"),
        |options, i| options.utmp_entry(&format!("benchuser{i:02}"), "pts/1", "10.0.0.1"),
    );
    let server = SambaServer::start(&options);
    let _held = server.hold_session(&samba::plain());
    let ip = server.ip();
    let creds = Credentials::parse(
        &format!("{}\\{}", samba::WORKGROUP, samba::ADMIN_USER),
        Password::new(samba::ADMIN_PASSWORD.into()),
    )
    .expect("credentials");

    // Warm up both sides (samba-dcerpcd starts on first use).
    let warm = collect_remote(&ip, server.port, &creds, Duration::from_secs(10));
    assert!(
        warm.workstation_users.is_ok() && warm.smb_sessions.is_ok(),
        "{warm:?}"
    );
    assert!(warm.workstation_users.rows_or_empty().len() >= 50);
    impacket(&server, 1);

    // Interleaved rounds so both sides see the same machine load; medians of the rounds.
    let rounds = if measuring { 7 } else { 1 };
    let (mut ours, mut theirs, mut our_cpu, mut their_cpu) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        let start = Instant::now();
        let cpu_start = process_cpu_seconds();
        for _ in 0..iterations {
            let snap = collect_remote(&ip, server.port, &creds, Duration::from_secs(10));
            assert!(snap.workstation_users.is_ok() && snap.smb_sessions.is_ok());
        }
        ours.push(start.elapsed().as_secs_f64() / f64::from(iterations));
        our_cpu.push((process_cpu_seconds() - cpu_start) / f64::from(iterations));
        let (wall, cpu) = impacket(&server, iterations);
        theirs.push(wall);
        their_cpu.push(cpu);
    }
    let (ours, theirs) = (median(&mut ours), median(&mut theirs));
    let (our_cpu, their_cpu) = (median(&mut our_cpu), median(&mut their_cpu));
    let ratio = theirs / ours;
    println!(
        "remote_scan wall: lingerscan {:.2} ms/scan, impacket {:.2} ms/scan, ratio {ratio:.1}x \
         (median of {rounds} rounds of {iterations} scans each; target >= 5x: {})",
        ours * 1e3,
        theirs * 1e3,
        if ratio >= 5.0 { "met" } else { "NOT met" }
    );
    println!(
        "remote_scan client CPU: lingerscan {:.3} ms/scan, impacket {:.2} ms/scan, ratio {:.0}x \
         (the rest of the wall time is smbd: fork per connection, authentication, RPC)",
        our_cpu * 1e3,
        their_cpu * 1e3,
        their_cpu / our_cpu.max(1e-9)
    );
}

/// CPU seconds this thread has run so far (/proc/thread-self/schedstat, nanoseconds).
/// The scans run on this thread (an IP address needs no resolver thread).
#[cfg(target_os = "linux")]
fn process_cpu_seconds() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|text| text.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |ns| ns / 1e9)
}

#[cfg(target_os = "linux")]
fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

#[cfg(target_os = "linux")]
/// impacket's wall and CPU seconds per scan over `repeat` scans.
fn impacket(server: &SambaServer, repeat: u32) -> (f64, f64) {
    let root = env!("CARGO_MANIFEST_DIR");
    let out = Command::new(format!("{root}/target/impacket-venv/bin/python"))
        .arg(format!("{root}/tests/impacket/reference_scan.py"))
        .args([
            &server.ip(),
            &server.port.to_string(),
            samba::WORKGROUP,
            samba::ADMIN_USER,
            &repeat.to_string(),
        ])
        .env("LINGERSCAN_PASSWORD", samba::ADMIN_PASSWORD)
        .output()
        .expect("impacket venv missing: run scripts/setup.d/40-impacket.sh");
    assert!(
        out.status.success(),
        "impacket: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("impacket JSON");
    (
        json["seconds_per_scan"].as_f64().expect("seconds_per_scan"),
        json["cpu_seconds_per_scan"]
            .as_f64()
            .expect("cpu_seconds_per_scan"),
    )
}

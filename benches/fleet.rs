//! A fleet of 1,000 targets, a tenth silent, swept by lingerscan and by
//! impacket (a Python thread pool, benches/fleet_impacket.py) at the same
//! concurrency, in paired rounds (FLEET_BENCH_ROUNDS, default 3) compared
//! by their medians; then peak memory at 1,000 and 10,000 targets.
//!
//! The live targets are four smbd instances, each listening on 225 loopback
//! addresses (`interfaces` lists them, `bind interfaces only = yes`), so 900
//! distinct addresses answer; 100 more are listeners that accept and never
//! answer; for the 10,000-target run, 9,000 addresses with nothing
//! listening (refused at once). Every address is in 127.149.0.0/16 and on
//! port 14900 (this worktree's ports).
//!
//! `cargo bench --bench fleet` (or benches/fleet.sh) measures and prints;
//! under `cargo test` it is skipped (it takes minutes).

#[cfg(target_os = "linux")]
#[path = "../tests/support/mod.rs"]
mod support;

#[cfg(not(target_os = "linux"))]
fn main() {}

#[cfg(target_os = "linux")]
use std::net::{Ipv4Addr, TcpListener};
#[cfg(target_os = "linux")]
use std::process::{Command, Stdio};
#[cfg(target_os = "linux")]
use std::time::{Duration, Instant};

#[cfg(target_os = "linux")]
use support::samba::{SambaServer, remote as samba};

#[cfg(target_os = "linux")]
const PORT: u16 = 14900;
#[cfg(target_os = "linux")]
const SERVERS: u8 = 4;
#[cfg(target_os = "linux")]
const PER_SERVER: u8 = 225;
#[cfg(target_os = "linux")]
const SILENT: u8 = 100;
#[cfg(target_os = "linux")]
const CONCURRENCY: usize = 64;
#[cfg(target_os = "linux")]
const TIMEOUT_SECS: u64 = 3;
/// The TCP connect and the server's NEGOTIATE answer: what a silent host
/// (TCP accepted, SMB never answered) costs each tool. Not 1 s: four smbd
/// forking for 64 clients on two shared cores sometimes take over a second
/// to answer NEGOTIATE when the machine is busy (7 of 900 hosts were cut
/// in one run at 1 s), and a cut host would be work skipped.
#[cfg(target_os = "linux")]
const CONNECT_TIMEOUT_SECS: u64 = 2;

/// Wall time, CPU time (user + system, all threads) and peak RSS of a child.
#[cfg(target_os = "linux")]
#[derive(Debug, Clone, Copy)]
struct Cost {
    wall: Duration,
    cpu: Duration,
    max_rss_kib: i64,
}

/// Run `command` to the end, its stdout to /dev/null, measured with wait4.
#[cfg(target_os = "linux")]
fn measure(command: &mut Command) -> (Cost, i32) {
    let started = Instant::now();
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start");
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: a zeroed rusage is a valid out-buffer; `pid` is our child,
    // reaped here (the Child handle is then forgotten, never waited again).
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        assert_eq!(libc::wait4(pid, &mut status, 0, &mut usage), pid, "wait4");
        usage
    };
    std::mem::forget(child);
    let time = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    (
        Cost {
            wall: started.elapsed(),
            cpu: time(usage.ru_utime) + time(usage.ru_stime),
            max_rss_kib: usage.ru_maxrss,
        },
        code,
    )
}

#[cfg(target_os = "linux")]
fn address(block: u8, host: u8) -> Ipv4Addr {
    Ipv4Addr::new(127, 149, block, host)
}

#[cfg(target_os = "linux")]
fn write_list(path: &std::path::Path, targets: &[Ipv4Addr]) {
    let text: String = targets.iter().map(|a| format!("{a}\n")).collect();
    std::fs::write(path, text).expect("targets file");
}

#[cfg(target_os = "linux")]
fn lingerscan(list: &std::path::Path, extra: &[&str]) -> Command {
    lingerscan_at(list, CONCURRENCY, extra)
}

#[cfg(target_os = "linux")]
fn lingerscan_at(list: &std::path::Path, concurrency: usize, extra: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_lingerscan"));
    command
        .env("LINGERSCAN_NO_HISTORY", "1")
        .arg("--hosts-file")
        .arg(list)
        .args(["--port", &PORT.to_string()])
        .args([
            "--username",
            &format!("{}\\{}", samba::WORKGROUP, samba::ADMIN_USER),
        ])
        .args(["--concurrency", &concurrency.to_string()])
        .args(["--timeout", &format!("{TIMEOUT_SECS}s")])
        .args(["--connect-timeout", &format!("{CONNECT_TIMEOUT_SECS}s")])
        .args(extra)
        .env("LINGERSCAN_PASSWORD", samba::ADMIN_PASSWORD);
    command
}

#[cfg(target_os = "linux")]
fn show(name: &str, cost: Cost) {
    println!(
        "{name:<44} wall {:>7.2}s  cpu {:>7.2}s  peak RSS {:>7.1} MiB",
        cost.wall.as_secs_f64(),
        cost.cpu.as_secs_f64(),
        cost.max_rss_kib as f64 / 1024.0
    );
}

/// The median of each measure taken apart (wall, CPU, RSS).
#[cfg(target_os = "linux")]
fn median(costs: &[Cost]) -> Cost {
    fn mid<T: Copy + Ord>(mut values: Vec<T>) -> T {
        values.sort_unstable();
        values[values.len() / 2]
    }
    Cost {
        wall: mid(costs.iter().map(|c| c.wall).collect()),
        cpu: mid(costs.iter().map(|c| c.cpu).collect()),
        max_rss_kib: mid(costs.iter().map(|c| c.max_rss_kib).collect()),
    }
}

#[cfg(target_os = "linux")]
fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("fleet: skipped under `cargo test` (run `cargo bench --bench fleet`)");
        return;
    }
    if !support::require(
        "fleet bench",
        true,
        &["smbd", "smbpasswd", "net", "unshare"],
    ) {
        return;
    }
    let root = env!("CARGO_MANIFEST_DIR");
    let python = format!("{root}/target/impacket-venv/bin/python");
    assert!(
        std::path::Path::new(&python).exists(),
        "impacket venv missing: run scripts/setup.d/40-impacket.sh"
    );

    // Four servers, 225 addresses each, started in parallel.
    let servers: Vec<SambaServer> = std::thread::scope(|scope| {
        let starting: Vec<_> = (0..SERVERS)
            .map(|block| {
                scope.spawn(move || {
                    let interfaces: Vec<String> = (1..=PER_SERVER)
                        .map(|h| format!("{}/8", address(block, h)))
                        .collect();
                    let options = samba::options(address(block, 1), PORT).global(&format!(
                        "interfaces = {}\nutmp = no\nlog level = 0\nmax log size = 0",
                        interfaces.join(" ")
                    ));
                    SambaServer::start(&options)
                })
            })
            .collect();
        starting
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    });
    // Silent: accepted by the kernel (the backlog), never read, never answered.
    let silent: Vec<TcpListener> = (1..=SILENT)
        .map(|h| TcpListener::bind((address(9, h), PORT)).expect("silent listener"))
        .collect();
    let live: Vec<Ipv4Addr> = (0..SERVERS)
        .flat_map(|block| (1..=PER_SERVER).map(move |h| address(block, h)))
        .collect();
    let silent_addresses: Vec<Ipv4Addr> = (1..=SILENT).map(|h| address(9, h)).collect();
    let dir = tempfile::tempdir().expect("temp dir");
    let list = |name: &str, targets: &[Ipv4Addr]| {
        let path = dir.path().join(name);
        write_list(&path, targets);
        path
    };
    let fleet: Vec<Ipv4Addr> = live.iter().chain(&silent_addresses).copied().collect();
    let fleet_list = list("fleet.txt", &fleet);
    // impacket's pool takes its hosts in file order: it gets them in the
    // order lingerscan scans them (targets::order), so both see the silent
    // block spread over the run.
    let spread_order: Vec<Ipv4Addr> = {
        let specs = fleet
            .iter()
            .map(|a| lingerscan::targets::Spec::V4(u32::from(*a), u32::from(*a)));
        let set =
            lingerscan::targets::TargetSet::new(specs, Vec::new(), |_| false).expect("target set");
        lingerscan::targets::order::spread(&set, 0, 1, set.len())
            .filter_map(|t| t.to_string().parse().ok())
            .collect()
    };
    assert_eq!(spread_order.len(), fleet.len());
    let impacket_list = list("fleet-spread.txt", &spread_order);
    let live_list = list("live.txt", &live);
    let silent_list = list("silent.txt", &silent_addresses);
    // 9,000 more with nothing listening: refused at once.
    let closed: Vec<Ipv4Addr> = (0..9_000u32)
        .map(|i| address(20 + (i / 250) as u8, (i % 250 + 1) as u8))
        .collect();
    let big: Vec<Ipv4Addr> = fleet.iter().chain(&closed).copied().collect();
    let big_list = list("fleet10k.txt", &big);

    // Warm up: every server's samba-dcerpcd started, both clients loaded.
    let warm: Vec<Ipv4Addr> = (0..SERVERS).map(|b| address(b, 1)).collect();
    let warm_list = list("warm.txt", &warm);
    let (_, code) = measure(&mut lingerscan(&warm_list, &["-f", "ndjson"]));
    assert_eq!(code, 2, "warm-up scan");

    // Where the live sweep's time goes: the servers' CPU (smbd, samba-dcerpcd
    // and workers) against the client's, on the same two cores.
    let server_cpu = || {
        let ticks: u64 = servers.iter().map(SambaServer::cpu_ticks).sum();
        // SAFETY: sysconf only reads a configuration value.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
        ticks as f64 / hz
    };
    // FLEET_BENCH_SWEEP=1,8,64: only the live sweep, at each concurrency
    // (where the live work goes as the concurrency grows).
    if let Ok(sweep) = std::env::var("FLEET_BENCH_SWEEP") {
        for concurrency in sweep
            .split(',')
            .filter_map(|c| c.trim().parse::<usize>().ok())
        {
            let before = server_cpu();
            let (cost, _) = measure(&mut lingerscan_at(
                &live_list,
                concurrency,
                &["-f", "ndjson"],
            ));
            show(
                &format!("lingerscan, 900 live, concurrency {concurrency}"),
                cost,
            );
            println!("  servers' CPU: {:.2}s", server_cpu() - before);
        }
        return;
    }
    println!(
        "fleet: {} targets ({} live on {SERVERS} smbd, {} silent), concurrency {CONCURRENCY}, timeout {TIMEOUT_SECS}s, connect timeout {CONNECT_TIMEOUT_SECS}s",
        fleet.len(),
        live.len(),
        silent_addresses.len()
    );
    let before = server_cpu();
    let (live_cost, _) = measure(&mut lingerscan(&live_list, &["-f", "ndjson"]));
    show("lingerscan, the 900 live only", live_cost);
    println!(
        "  servers' CPU for those 900 scans: {:.2}s (client {:.2}s)",
        server_cpu() - before,
        live_cost.cpu.as_secs_f64()
    );
    let (silent_cost, _) = measure(&mut lingerscan(&silent_list, &["-f", "ndjson"]));
    show("lingerscan, the 100 silent only", silent_cost);
    // Paired rounds (FLEET_BENCH_ROUNDS, default 3): lingerscan, then
    // impacket, round after round, so both meet the same machine; the
    // comparison is of the medians. impacket's time varies by a third
    // from run to run on this machine (its 64 threads on one GIL).
    let rounds: usize = std::env::var("FLEET_BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3)
        .max(1);
    let ndjson_out = dir.path().join("fleet.ndjson");
    let ndjson_out_arg = ndjson_out.to_str().expect("utf-8 temp path");
    let mut ours_rounds = Vec::with_capacity(rounds);
    let mut theirs_rounds = Vec::with_capacity(rounds);
    for round in 1..=rounds {
        let (ours, code) = measure(&mut lingerscan(
            &fleet_list,
            &["-f", "ndjson", "--ndjson-out", ndjson_out_arg],
        ));
        assert_eq!(code, 2);
        show(&format!("round {round}: lingerscan, 1,000 (ndjson)"), ours);
        // Every live host answered (none cut by the connect timeout under
        // the load), every silent one timed out: the same work as impacket's.
        let lines = std::fs::read_to_string(&ndjson_out).expect("read the NDJSON");
        let cut = lines
            .lines()
            .filter(|l| {
                l.contains("\"kind\":\"timeout\"") || l.contains("\"kind\":\"unreachable\"")
            })
            .count();
        println!(
            "  {} hosts reported, {cut} timed out or unreachable",
            lines.lines().count()
        );
        assert_eq!(cut, silent_addresses.len(), "a live host was cut");
        let before = server_cpu();
        let (theirs, code) = measure(
            Command::new(&python)
                .arg(format!("{root}/benches/fleet_impacket.py"))
                .arg(&impacket_list)
                .args([
                    &PORT.to_string(),
                    samba::WORKGROUP,
                    samba::ADMIN_USER,
                    &CONCURRENCY.to_string(),
                    &TIMEOUT_SECS.to_string(),
                    &CONNECT_TIMEOUT_SECS.to_string(),
                    &live.len().to_string(),
                ])
                .env("LINGERSCAN_PASSWORD", samba::ADMIN_PASSWORD),
        );
        assert_eq!(
            code, 0,
            "impacket sweep (3: not every live host answered it)"
        );
        show(&format!("round {round}: impacket pool, 1,000"), theirs);
        println!(
            "  servers' CPU for impacket's sweep: {:.2}s (client {:.2}s); this round {:.1}x faster, {:.1}x less CPU",
            server_cpu() - before,
            theirs.cpu.as_secs_f64(),
            theirs.wall.as_secs_f64() / ours.wall.as_secs_f64(),
            theirs.cpu.as_secs_f64() / ours.cpu.as_secs_f64().max(0.001)
        );
        ours_rounds.push(ours);
        theirs_rounds.push(theirs);
    }
    let ours = median(&ours_rounds);
    let theirs = median(&theirs_rounds);
    show("median: lingerscan, 1,000 targets", ours);
    show("median: impacket thread pool, 1,000", theirs);
    let (ours_text, _) = measure(&mut lingerscan(&fleet_list, &[]));
    show("lingerscan, 1,000 targets (text)", ours_text);

    // The model charges each silent host the whole --timeout; a
    // silent host costs the connect timeout (it never answers NEGOTIATE),
    // so the model is printed with both.
    let waves = (silent_addresses.len() as u64).div_ceil(CONCURRENCY as u64);
    for (what, per_silent) in [
        ("--timeout", TIMEOUT_SECS),
        ("--connect-timeout", CONNECT_TIMEOUT_SECS),
    ] {
        let expected = Duration::from_secs(waves * per_silent) + live_cost.wall;
        let ratio = ours.wall.as_secs_f64() / expected.as_secs_f64();
        println!(
            "expected ceil({} / {CONCURRENCY}) x {per_silent}s ({what}) + live work / concurrency ({:.2}s, the live-only sweep) = {:.2}s; measured {:.2}s ({:+.0}%)",
            silent_addresses.len(),
            live_cost.wall.as_secs_f64(),
            expected.as_secs_f64(),
            ours.wall.as_secs_f64(),
            (ratio - 1.0) * 100.0
        );
    }
    println!(
        "lingerscan vs impacket (medians of {rounds} paired rounds): {:.1}x faster, {:.1}x less CPU",
        theirs.wall.as_secs_f64() / ours.wall.as_secs_f64(),
        theirs.cpu.as_secs_f64() / ours.cpu.as_secs_f64().max(0.001)
    );

    let (big_cost, _) = measure(&mut lingerscan(&big_list, &["-f", "ndjson"]));
    show("lingerscan, 10,000 targets (ndjson)", big_cost);
    let (big_text, _) = measure(&mut lingerscan(&big_list, &[]));
    show("lingerscan, 10,000 targets (text)", big_text);
    println!(
        "peak RSS 1,000 -> 10,000 targets: {:.1} -> {:.1} MiB (ndjson), {:.1} -> {:.1} MiB (text)",
        ours.max_rss_kib as f64 / 1024.0,
        big_cost.max_rss_kib as f64 / 1024.0,
        ours_text.max_rss_kib as f64 / 1024.0,
        big_text.max_rss_kib as f64 / 1024.0
    );
    drop(silent);
    drop(servers);
}

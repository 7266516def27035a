//! "A remote scan that cannot be lied to": the remote collector against a
//! hostile server (tests/hostile/rpc_server.py: impacket's SMB server, with
//! real SMB2 signing and NTLMv2, forwarding `\PIPE\wkssvc` and `\PIPE\srvsvc`
//! to a DCE/RPC server that lies). Every case must end in a clean failure of
//! the right kind, within the deadline plus a little, in bounded memory.
//! Each test owns one address in 127.0.0.80-99 and one port in 14700-14799.
#![cfg(target_os = "linux")]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use lingerscan::collect::msrpc::{Credentials, Password, RemoteOptions, collect_remote_with};
use lingerscan::model::{FailureKind, HostSnapshot, SourceFailure};

const USER: &str = "alice";
const PASSWORD: &str = "H0stile-pass!";
/// What a scan may take past its deadline: the last exchange's teardown and
/// a loaded two-core machine.
const SLACK: Duration = Duration::from_millis(750);
/// Peak resident memory a CLI scan of a hostile host may reach.
const MAX_RSS_BYTES: u64 = 200 * 1024 * 1024;

/// The hostile server, stopped by its pid when the test ends, even on failure.
struct Hostile {
    child: Child,
    ip: &'static str,
    port: u16,
}

impl Hostile {
    fn start(scenario: &str, ip: &'static str, port: u16) -> Hostile {
        let root = env!("CARGO_MANIFEST_DIR");
        let python = format!("{root}/target/impacket-venv/bin/python");
        assert!(
            std::path::Path::new(&python).exists(),
            "impacket venv missing: run scripts/setup.d/40-impacket.sh"
        );
        let mut child = Command::new(python)
            .arg(format!("{root}/tests/hostile/rpc_server.py"))
            .args([ip, &port.to_string(), scenario, USER, PASSWORD])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the hostile server");
        let stdout = child.stdout.take().expect("piped stdout");
        let server = Hostile { child, ip, port };
        // READY comes once both listeners are bound; bounded, so a broken
        // server fails the test instead of hanging it.
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("hostile server ready within 60 s");
        assert!(line.starts_with("READY"), "hostile server said {line:?}");
        server
    }

    fn creds() -> Credentials {
        Credentials::parse(&format!("HOSTILE\\{USER}"), Password::new(PASSWORD.into())).unwrap()
    }

    /// An in-process scan with `options`: the snapshot and how long it took.
    fn scan(&self, options: RemoteOptions) -> (HostSnapshot, Duration) {
        let started = Instant::now();
        let snapshot = collect_remote_with(
            self.ip,
            &Hostile::creds(),
            &RemoteOptions {
                port: self.port,
                ..options
            },
        );
        (snapshot, started.elapsed())
    }
}

impl Drop for Hostile {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// impacket's SMB server speaks only SMB 2.0.2, below the default minimum.
const IMPACKET_DIALECT: &str = "2.0.2";

fn options(timeout: Duration) -> RemoteOptions {
    RemoteOptions {
        timeout,
        min_dialect: lingerscan::collect::msrpc::parse_dialect(IMPACKET_DIALECT)
            .unwrap_or_default(),
        ..RemoteOptions::default()
    }
}

/// Both remote sources' failures; the scan must have logged on first.
fn failures(snapshot: &HostSnapshot) -> [&SourceFailure; 2] {
    let notes = snapshot.notes.join("\n");
    assert!(
        notes.contains("authenticated as HOSTILE\\alice"),
        "no logon: {notes}"
    );
    fn must<'a>(name: &str, failure: Option<&'a SourceFailure>) -> &'a SourceFailure {
        failure.unwrap_or_else(|| panic!("{name} must fail"))
    }
    [
        must("workstation_users", snapshot.workstation_users.failure()),
        must("smb_sessions", snapshot.smb_sessions.failure()),
    ]
}

fn assert_failed(snapshot: &HostSnapshot, kind: FailureKind, words: &str) {
    for failure in failures(snapshot) {
        assert_eq!(failure.kind, kind, "{}", failure.message);
        assert!(failure.message.contains(words), "{}", failure.message);
    }
}

fn assert_within(took: Duration, limit: Duration) {
    assert!(took <= limit + SLACK, "took {took:?}, limit {limit:?}");
}

#[test]
fn endless_pages_end_at_the_row_limit_as_a_failure_not_a_short_list() {
    let server = Hostile::start("pages", "127.0.0.80", 14700);
    let timeout = Duration::from_secs(60);
    let (snapshot, took) = server.scan(RemoteOptions {
        max_rows: 20_000,
        ..options(timeout)
    });
    eprintln!("endless pages, --max-rows 20000: {took:?}");
    assert_failed(&snapshot, FailureKind::Other, "20000 rows (--max-rows)");
    assert!(snapshot.workstation_users.rows_or_empty().is_empty());
    assert!(took < Duration::from_secs(30), "{took:?}");
}

#[test]
fn endless_pages_end_at_the_byte_limit() {
    let server = Hostile::start("pages", "127.0.0.81", 14701);
    let (snapshot, took) = server.scan(RemoteOptions {
        max_bytes: 4 << 20,
        ..options(Duration::from_secs(60))
    });
    eprintln!("endless pages, 4 MiB of rows: {took:?}");
    assert_failed(&snapshot, FailureKind::Other, "4194304 bytes of rows");
    assert!(took < Duration::from_secs(30), "{took:?}");
}

#[test]
fn endless_pages_end_at_the_deadline() {
    let server = Hostile::start("pages", "127.0.0.82", 14702);
    let timeout = Duration::from_secs(1);
    let (snapshot, took) = server.scan(options(timeout));
    eprintln!("endless pages, 1 s timeout: {took:?}");
    assert_failed(&snapshot, FailureKind::Timeout, "time limit");
    assert_within(took, timeout);
}

#[test]
fn a_fragment_flood_ends_at_the_fragment_limit() {
    let server = Hostile::start("flood", "127.0.0.83", 14703);
    let timeout = Duration::from_secs(10);
    let (snapshot, took) = server.scan(options(timeout));
    eprintln!("fragment flood: {took:?}");
    assert_failed(
        &snapshot,
        FailureKind::Other,
        "16384 fragments per RPC response",
    );
    assert!(took < Duration::from_secs(5), "{took:?}");
}

#[test]
fn a_huge_response_ends_at_the_response_limit() {
    let server = Hostile::start("huge", "127.0.0.84", 14704);
    let timeout = Duration::from_secs(20);
    let (snapshot, took) = server.scan(options(timeout));
    eprintln!("huge response: {took:?}");
    assert_failed(&snapshot, FailureKind::Other, "16 MiB per RPC response");
    assert!(took < timeout, "{took:?}");
}

#[test]
fn silence_after_the_bind_ends_at_the_deadline() {
    let server = Hostile::start("silent", "127.0.0.85", 14705);
    let timeout = Duration::from_secs(1);
    let (snapshot, took) = server.scan(options(timeout));
    eprintln!("silent after bind_ack: {took:?}");
    assert_failed(&snapshot, FailureKind::Timeout, "time limit");
    assert_within(took, timeout);
}

/// What a finished CLI child used: wall time, peak resident bytes, exit code, stdout.
struct Run {
    took: Duration,
    max_rss: u64,
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Wait for `pid` and take its resource usage (ru_maxrss is its peak RSS).
fn wait_with_rusage(pid: u32) -> (i32, u64) {
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value of this plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `status` and `usage` are valid and writable for the call; pid
    // is our own unreaped child, so wait4 reaps exactly it.
    let reaped = unsafe { libc::wait4(pid as libc::pid_t, &mut status, 0, &mut usage) };
    assert_eq!(reaped, pid as libc::pid_t, "wait4 failed");
    (status, usage.ru_maxrss as u64 * 1024)
}

/// The lingerscan binary against `server`, and what it took.
fn cli(server: &Hostile, extra: &[&str], during: impl FnOnce(u32)) -> Run {
    let port = server.port.to_string();
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_lingerscan"))
        .env("LINGERSCAN_NO_HISTORY", "1")
        .args(["scan", "--host", server.ip, "--port", &port])
        .args(["--min-dialect", IMPACKET_DIALECT])
        .args([
            "--username",
            &format!("HOSTILE\\{USER}"),
            "--format",
            "json",
        ])
        .args(extra)
        .env("LINGERSCAN_PASSWORD", PASSWORD)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run lingerscan");
    let pid = child.id();
    // Both pipes drained while it runs, so a full pipe cannot stall it.
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let out = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut out, &mut text);
        text
    });
    let err = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut err, &mut text);
        text
    });
    during(pid);
    let (status, max_rss) = wait_with_rusage(pid);
    let took = started.elapsed();
    // Reaped by wait4 above: `child` must not be waited for again.
    std::mem::forget(child);
    Run {
        took,
        max_rss,
        code: libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status)),
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    }
}

/// The failed sources of the one host in a JSON report, as (kind, message).
fn json_failures(stdout: &str) -> Vec<(String, String)> {
    let report: serde_json::Value = serde_json::from_str(stdout).expect("JSON report");
    report["hosts"][0]["analysis"]["failed_sources"]
        .as_array()
        .expect("failed_sources")
        .iter()
        .filter(|f| {
            ["workstation_users", "smb_sessions"].contains(&f["source"].as_str().unwrap_or(""))
        })
        .map(|f| {
            (
                f["failure"]["kind"].as_str().unwrap_or("").to_string(),
                f["failure"]["message"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

fn check_cli(scenario: &str, run: &Run, kind: &str, words: &str, limit: Duration) {
    eprintln!(
        "CLI {scenario}: {:?}, peak RSS {:.1} MB, exit {:?}",
        run.took,
        run.max_rss as f64 / 1e6,
        run.code
    );
    assert_eq!(run.code, Some(2), "exit: {}", run.stderr);
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    let failures = json_failures(&run.stdout);
    assert_eq!(failures.len(), 2, "{failures:?}");
    for (got, message) in &failures {
        assert_eq!(got, kind, "{message}");
        assert!(message.contains(words), "{message}");
    }
    assert!(run.took <= limit + SLACK, "{scenario}: took {:?}", run.took);
    assert!(
        run.max_rss < MAX_RSS_BYTES,
        "{scenario}: peak RSS {}",
        run.max_rss
    );
}

#[test]
fn cli_scans_of_hostile_servers_end_in_time_and_in_bounded_memory() {
    let second = Duration::from_secs(1);
    let cases = [
        ("pages", "127.0.0.86", 14706, "timeout", "time limit"),
        (
            "flood",
            "127.0.0.87",
            14707,
            "other",
            "fragments per RPC response",
        ),
        ("silent", "127.0.0.88", 14708, "timeout", "time limit"),
    ];
    for (scenario, ip, port, kind, words) in cases {
        let server = Hostile::start(scenario, ip, port);
        let mut core_limit = None;
        let run = cli(&server, &["--timeout", "1s"], |pid| {
            if scenario == "silent" {
                // Mid-scan, past reading the password: core dumps are off.
                std::thread::sleep(Duration::from_millis(500));
                core_limit = std::fs::read_to_string(format!("/proc/{pid}/limits"))
                    .ok()
                    .and_then(|limits| {
                        limits
                            .lines()
                            .find(|l| l.starts_with("Max core file size"))
                            .map(|l| {
                                l.split_whitespace()
                                    .skip(4)
                                    .take(2)
                                    .collect::<Vec<_>>()
                                    .join(" ")
                            })
                    });
            }
        });
        check_cli(scenario, &run, kind, words, second);
        if scenario == "silent" {
            assert_eq!(
                core_limit.as_deref(),
                Some("0 0"),
                "core dumps still possible"
            );
        }
    }
}

/// The row limit from the command line, with a long timeout: memory stays
/// bounded by --max-rows, not by how long the server keeps paging.
#[test]
fn cli_max_rows_bounds_memory_of_an_endless_list() {
    let server = Hostile::start("pages", "127.0.0.89", 14709);
    let limit = Duration::from_secs(60);
    let run = cli(
        &server,
        &["--timeout", "60s", "--max-rows", "200000"],
        |_| {},
    );
    check_cli(
        "pages --max-rows 200000",
        &run,
        "other",
        "200000 rows (--max-rows)",
        limit,
    );
}

/// The password file as the CLI reads it: one others can read works but is
/// warned about on stderr (the scan itself goes to a closed port); one past
/// 64 KiB is refused before any connection.
#[test]
fn cli_password_file_readable_by_others_warns_and_a_huge_one_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pw");
    let run = |path: &std::path::Path| {
        Command::new(env!("CARGO_BIN_EXE_lingerscan"))
            .env("LINGERSCAN_NO_HISTORY", "1")
            .args(["scan", "--host", "127.0.0.91", "--port", "14711"])
            .args(["--username", "HOSTILE\\alice", "--timeout", "2s"])
            .arg("--password-file")
            .arg(path)
            .env_remove("LINGERSCAN_PASSWORD")
            .stdin(Stdio::null())
            .output()
            .expect("run lingerscan")
    };
    std::fs::write(&path, "S3cret!\n").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = run(&path);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stderr.contains("warning: the password file") && stderr.contains("0644"),
        "{stderr}"
    );
    assert!(stdout.contains("connection refused"), "{stdout}");
    assert!(!stdout.contains("S3cret") && !stderr.contains("S3cret"));
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = run(&path);
    assert!(!String::from_utf8_lossy(&out.stderr).contains("warning"));
    std::fs::write(&path, vec![b'x'; 70_000]).unwrap();
    let out = run(&path);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("larger than 65536 bytes"), "{stderr}");
}

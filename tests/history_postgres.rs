//! The shared history (`--db postgres://…`) against a real PostgreSQL that
//! this test starts: `initdb` into a temporary folder, `postgres` on a free
//! loopback port (as an unprivileged user when the test runs as root, as
//! PostgreSQL refuses root), stopped by its pid when the test ends, even on
//! failure. Two scanners record at once; then runs, diff and `--min-age`
//! work as with SQLite.
#![cfg(all(target_os = "linux", feature = "postgres"))]

mod history_support;
mod support;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use history_support::{LEAKED, json, lingerscan, record_at_once};

/// The unprivileged account PostgreSQL runs as when the test is root.
const PG_USER: &str = "lingerscan-pg";

/// The newest PostgreSQL server binaries Debian installed.
fn pg_bin() -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path().join("bin"))
        .filter(|bin| bin.join("initdb").is_file() && bin.join("postgres").is_file())
        .collect();
    dirs.sort_by_key(|d| {
        d.parent()
            .and_then(|v| v.file_name()?.to_str()?.parse::<u32>().ok())
            .unwrap_or(0)
    });
    dirs.pop()
}

/// A private PostgreSQL server; stopped (SIGINT: fast shutdown, then SIGKILL) by pid on drop.
struct Server {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Server {
    fn start(bin: &Path) -> Server {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().join("data");
        let as_user = |program: &Path| {
            let mut command;
            if support::is_root() {
                let (uid, gid) = support::ensure_user(PG_USER);
                std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).expect("chown");
                command = Command::new("setpriv");
                command
                    .args([format!("--reuid={uid}"), format!("--regid={gid}")])
                    .args(["--clear-groups", "--"])
                    .arg(program);
            } else {
                command = Command::new(program);
            }
            command
        };
        let init = as_user(&bin.join("initdb"))
            .arg("-D")
            .arg(&data)
            .args([
                "-U",
                "lingerscan",
                "--auth=trust",
                "--no-sync",
                "-E",
                "UTF8",
            ])
            .stdin(Stdio::null())
            .output()
            .expect("run initdb");
        assert!(
            init.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&init.stderr)
        );
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let log = std::fs::File::create(dir.path().join("postgres.log")).expect("log file");
        let child = as_user(&bin.join("postgres"))
            .arg("-D")
            .arg(&data)
            .arg("-k")
            .arg(dir.path())
            .args(["-h", "127.0.0.1", "-p", &port.to_string()])
            .args(["-c", "fsync=off"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start postgres");
        let url = format!("postgres://lingerscan@127.0.0.1:{port}/postgres");
        let server = Server {
            child,
            url,
            _dir: dir,
        };
        let ready = support::wait_until(Duration::from_secs(30), || {
            postgres::Client::connect(&server.url, postgres::NoTls).is_ok()
        });
        if !ready {
            let log = std::fs::read_to_string(server._dir.path().join("postgres.log"));
            panic!("postgres did not start: {log:?}");
        }
        server
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let pid = self.child.id();
        support::signal(pid, "INT");
        let stopped = support::wait_until(Duration::from_secs(15), || {
            matches!(self.child.try_wait(), Ok(Some(_)))
        });
        if !stopped {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[test]
fn two_scanners_share_one_postgresql_history() {
    let Some(bin) = pg_bin() else {
        let message = "history_postgres needs PostgreSQL's initdb and postgres under \
                       /usr/lib/postgresql/*/bin (install with scripts/setup.sh)";
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{message}; in CI this is a failure, not a skip");
        }
        eprintln!("\n!!!!!!!! SKIPPED {message} !!!!!!!!\n");
        return;
    };
    let server = Server::start(&bin);
    let home = tempfile::tempdir().expect("tempdir");
    let home = home.path();
    let db = server.url.as_str();

    // Two scanners at once: each its own hosts, and host "common" on alternate days.
    let files = |scanner: u32| -> Vec<String> {
        let mut files = Vec::new();
        for day in 0..10 {
            for host in 0..3 {
                files.push(snapshot(
                    home,
                    &format!("s{scanner}-h{host}"),
                    day,
                    day % 3 != 0,
                ));
            }
            if day % 2 == scanner {
                files.push(snapshot(home, "common", day, true));
            }
        }
        files
    };
    record_at_once(home, &[files(0), files(1)], &[], &[("LINGERSCAN_DB", db)]);
    let scans = json(&lingerscan(
        home,
        &["history", "--scans", "--db", db, "-f", "json"],
    ));
    let scans = scans["scans"].as_array().expect("scans").clone();
    assert_eq!(scans.len(), 2 * 10 * 3 + 10);
    let with_leak = scans.iter().filter(|s| s["findings"] == 1).count();
    assert_eq!(with_leak, 2 * 3 * 6 + 10);
    let common = json(&lingerscan(
        home,
        &["history", "--db", db, "--host", "common", "-f", "json"],
    ));
    assert_eq!(common["runs"][0]["sightings"], 10, "{common}");
    assert_eq!(common["runs"][0]["first_seen"], "2025-10-10T10:30:00Z");

    // Runs broken by the days without the leak: s0-h0 saw it on days 1-2, 4-5, 7-8.
    let runs = json(&lingerscan(
        home,
        &["history", "--db", db, "--host", "s0-h0", "-f", "json"],
    ));
    assert_eq!(runs["runs"].as_array().map(Vec::len), Some(3), "{runs}");
    assert_eq!(runs["runs"][2]["present"], false);
    let diff = json(&lingerscan(
        home,
        &["diff", "--db", db, "--host", "s0-h0", "-f", "json"],
    ));
    assert_eq!(diff["hosts"][0]["gone"][0]["session_id"], LEAKED, "{diff}");

    // --min-age across both scanners' records: "common" was first seen on
    // day 0 (scanner 0) and is seen again on day 9 (scanner 1).
    let day9 = snapshot(home, "common", 9, true);
    let young = lingerscan(
        home,
        &[
            "analyze",
            &day9,
            "--record",
            "--db",
            db,
            "--min-age",
            "10d",
            "--now",
            "2025-10-19T10:30:00Z",
            "-f",
            "json",
        ],
    );
    assert_eq!(young.status.code(), Some(0));
    let old = lingerscan(
        home,
        &[
            "analyze",
            &day9,
            "--record",
            "--db",
            db,
            "--min-age",
            "9d",
            "--now",
            "2025-10-19T10:30:00Z",
            "-f",
            "json",
        ],
    );
    assert_eq!(old.status.code(), Some(1));
    let finding = &json(&old)["hosts"][0]["analysis"]["findings"][0];
    assert_eq!(
        (finding["sightings"].clone(), finding["lingering"].clone()),
        (10.into(), true.into())
    );
}

/// The fixture on `day` as a path argument (see history_support::snapshot).
fn snapshot(dir: &Path, host: &str, day: u32, leaked: bool) -> String {
    history_support::snapshot(dir, host, day, leaked)
        .display()
        .to_string()
}

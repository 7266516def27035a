//! The history database at a year's size: 1,000 hosts scanned daily for
//! 365 days, a handful of findings per host-scan (two that linger all
//! year, a disconnected session replaced every five days, an idle SMB
//! session new each day), written in one transaction straight into the
//! schema. Then the time of `history --host`, `history --user`, `diff`
//! (one host, every host), recording one more scan, and the file's size.
//!
//! `cargo bench --bench history`; under `cargo test` a small database
//! (20 hosts × 30 days) checks the same steps quickly.

use std::time::{Duration, Instant};

use lingerscan::analyze::{Analysis, Finding, SessionKind, Verdict};
use lingerscan::history::key::account_key;
use lingerscan::history::sql::SqlStore;
use lingerscan::history::sqlite::SqliteConn;
use lingerscan::history::{DiffQuery, HistoryQuery, Origin, ScanRecord, Store};
use lingerscan::model::Platform;
use lingerscan::report::sink::HostOutcome;

const DAY: i64 = 86_400_000_000;
const START: i64 = 1_735_725_600_000_000; // 2025-01-01T10:00:00Z
const USERS: usize = 5_000;

struct Shape {
    hosts: usize,
    days: usize,
}

fn host(h: usize) -> String {
    format!("srv{h:04}.contoso.com")
}

fn user(h: usize, k: usize) -> String {
    format!("CONTOSO\\user{:04}", (h * 7 + k * 13) % USERS)
}

/// (verdict, kind, session, user, login time) of host `h`'s findings on `day`.
fn findings(h: usize, day: usize) -> Vec<(Verdict, SessionKind, String, String, i64)> {
    let week = day / 5;
    vec![
        (
            Verdict::LeakedLogon,
            SessionKind::LogonSession,
            format!("{}", 900_000 + h),
            user(h, 0),
            START - DAY,
        ),
        (
            Verdict::StaleWksta,
            SessionKind::WorkstationUser,
            user(h, 1),
            user(h, 1),
            0,
        ),
        (
            Verdict::Disconnected,
            SessionKind::InteractiveSession,
            format!("{}", 2 + week % 40),
            user(h, 2 + week % 3),
            START + week as i64 * 5 * DAY,
        ),
        (
            Verdict::IdleSmb,
            SessionKind::SmbSession,
            format!("10.{}.{}.{}", h / 250, h % 250, day % 250),
            user(h, 5 + day % 7),
            0,
        ),
    ]
}

/// Fill the schema directly, as the store would have (seq per host, one
/// finding row per key), in one transaction.
fn generate(conn: &mut rusqlite::Connection, shape: &Shape) -> rusqlite::Result<u64> {
    let tx = conn.transaction()?;
    let mut sightings = 0;
    {
        let mut host_stmt = tx.prepare("INSERT INTO host (id, name) VALUES (?1, ?2)")?;
        let mut scan_stmt = tx.prepare(
            "INSERT INTO scan (id, host_id, scope, scanned_at, recorded_at, outcome, origin, failed_sources, reachable, seq) \
             VALUES (?1, ?2, '', ?3, ?3, 'lingering', 'scan', '', 1, ?4)",
        )?;
        let mut finding_stmt = tx.prepare(
            "INSERT INTO finding (host_id, verdict, kind, session_id, user_name, account, login_time) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
             ON CONFLICT (host_id, verdict, kind, session_id, user_name, login_time) DO UPDATE SET account = excluded.account \
             RETURNING id",
        )?;
        let mut sighting_stmt = tx.prepare(
            "INSERT INTO sighting (finding_id, scan_id, lingering, idle_secs) VALUES (?1, ?2, 1, NULL)",
        )?;
        let mut scan_id = 0i64;
        for h in 0..shape.hosts {
            host_stmt.execute(rusqlite::params![h as i64 + 1, host(h)])?;
        }
        for day in 0..shape.days {
            for h in 0..shape.hosts {
                scan_id += 1;
                let at = START + day as i64 * DAY + h as i64 * 1_000_000;
                scan_stmt.execute(rusqlite::params![scan_id, h as i64 + 1, at, day as i64 + 1])?;
                for (verdict, kind, session, user, login) in findings(h, day) {
                    let id: i64 = finding_stmt.query_row(
                        rusqlite::params![
                            h as i64 + 1,
                            verdict.as_str(),
                            kind.as_str(),
                            session,
                            user,
                            account_key(&user),
                            login
                        ],
                        |r| r.get(0),
                    )?;
                    sighting_stmt.execute(rusqlite::params![id, scan_id])?;
                    sightings += 1;
                }
            }
        }
    }
    tx.commit()?;
    Ok(sightings)
}

/// The median of `runs` timings of `work`, and what its last run returned.
fn time<T>(runs: usize, mut work: impl FnMut() -> T) -> (Duration, T) {
    let mut times = Vec::with_capacity(runs);
    let mut last = None;
    for _ in 0..runs {
        let started = Instant::now();
        last = Some(work());
        times.push(started.elapsed());
    }
    times.sort();
    let value = last.unwrap_or_else(work);
    (times[times.len() / 2], value)
}

fn one_more_scan(shape: &Shape) -> Analysis {
    let h = 7;
    let collected_at = jiff::Timestamp::from_microsecond(START + shape.days as i64 * DAY)
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    Analysis {
        host: host(h),
        platform: Platform::Windows,
        collected_at,
        target: None,
        max_idle_secs: 86_400,
        findings: findings(h, shape.days)
            .into_iter()
            .map(|(verdict, kind, session_id, user, login)| Finding {
                verdict,
                lingering: true,
                kind,
                session_id,
                user,
                reason: String::new(),
                idle_secs: None,
                since: (login != 0)
                    .then(|| jiff::Timestamp::from_microsecond(login).ok())
                    .flatten(),
                evidence: Vec::new(),
                history: None,
            })
            .collect(),
        users: Vec::new(),
        failed_sources: Vec::new(),
        decided_without: Vec::new(),
        own_connection: Vec::new(),
        notes: Vec::new(),
    }
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let shape = if full {
        Shape {
            hosts: 1_000,
            days: 365,
        }
    } else {
        Shape {
            hosts: 20,
            days: 30,
        }
    };
    let dir = match tempfile::tempdir() {
        Ok(dir) => dir,
        Err(e) => panic!("temporary folder: {e}"),
    };
    let path = dir.path().join("history.sqlite");
    let mut conn = SqliteConn::open(&path).unwrap_or_else(|e| panic!("open: {e}"));
    let started = Instant::now();
    let sightings = generate(conn.connection(), &shape).unwrap_or_else(|e| panic!("generate: {e}"));
    let generated = started.elapsed();
    conn.connection()
        .execute_batch("PRAGMA wal_checkpoint(TRUNCATE); ANALYZE;")
        .unwrap_or_else(|e| panic!("checkpoint: {e}"));
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    println!(
        "history: {} hosts x {} daily scans = {} scans, {sightings} sightings, generated in {:.1?}; file {:.1} MB ({} bytes/sighting)",
        shape.hosts,
        shape.days,
        shape.hosts * shape.days,
        generated,
        size as f64 / 1e6,
        size / sightings.max(1)
    );

    let mut store = SqlStore::new(conn);
    let runs = if full { 5 } else { 1 };
    let query = |host: Option<String>, user: Option<String>| HistoryQuery {
        host,
        user,
        since: None,
    };
    let (t, rows) = time(runs, || {
        store.history(&query(Some(host(500 % shape.hosts)), None))
    });
    let rows = rows.unwrap_or_else(|e| panic!("history --host: {e}"));
    println!("  history --host H: {:>9.2?}  ({} runs)", t, rows.len());
    assert!(
        rows.iter()
            .any(|r| r.verdict == Verdict::LeakedLogon && r.sightings == shape.days as u64)
    );

    let wanted = user(3, 0);
    let (t, rows) = time(runs, || store.history(&query(None, Some(wanted.clone()))));
    let rows = rows.unwrap_or_else(|e| panic!("history --user: {e}"));
    println!("  history --user U: {:>9.2?}  ({} runs)", t, rows.len());
    assert!(!rows.is_empty());

    let (t, diffs) = time(runs, || {
        store.diff(&DiffQuery {
            host: Some(host(1)),
            between: None,
        })
    });
    let diffs = diffs.unwrap_or_else(|e| panic!("diff --host: {e}"));
    println!(
        "  diff --host H:    {:>9.2?}  ({} still there)",
        t,
        diffs[0].still.len()
    );

    let (t, diffs) = time(runs, || store.diff(&DiffQuery::default()));
    let diffs = diffs.unwrap_or_else(|e| panic!("diff: {e}"));
    println!("  diff (all hosts): {:>9.2?}  ({} hosts)", t, diffs.len());
    assert_eq!(diffs.len(), shape.hosts);

    let analysis = one_more_scan(&shape);
    let started = Instant::now();
    let recorded = store.record(&ScanRecord {
        analysis: &analysis,
        outcome: HostOutcome::Lingering,
        origin: Origin::Scan,
    });
    let t = started.elapsed();
    let recorded = recorded.unwrap_or_else(|e| panic!("record: {e}"));
    println!("  record one scan:  {:>9.2?}", t);
    assert_eq!(
        recorded[0].map(|h| h.sightings),
        Some(shape.days as u64 + 1)
    );
}

//! The store against an in-memory (and a file) SQLite database.

use jiff::Timestamp;

use super::sql::SqlStore;
use super::sqlite::SqliteConn;
use super::*;
use crate::analyze::{Analysis, Finding, SessionKind, Verdict};
use crate::model::{FailureKind, Platform, Source, SourceFailure};
use crate::report::sink::HostOutcome;

fn store() -> SqlStore<SqliteConn> {
    SqlStore::new(SqliteConn::in_memory().unwrap())
}

fn t(day: i64) -> Timestamp {
    Timestamp::from_second(1_760_000_000 + day * 86_400).unwrap()
}

fn finding(verdict: Verdict, session: &str, user: &str) -> Finding {
    Finding {
        verdict,
        lingering: verdict != Verdict::Active,
        kind: SessionKind::LogonSession,
        session_id: session.to_string(),
        user: user.to_string(),
        reason: String::new(),
        idle_secs: None,
        since: Some(t(-10)),
        evidence: Vec::new(),
        history: None,
    }
}

fn analysis(host: &str, day: i64, findings: Vec<Finding>) -> Analysis {
    Analysis {
        host: host.to_string(),
        platform: Platform::Windows,
        collected_at: t(day),
        target: None,
        max_idle_secs: 86_400,
        findings,
        users: Vec::new(),
        failed_sources: Vec::new(),
        decided_without: Vec::new(),
        own_connection: Vec::new(),
        notes: Vec::new(),
    }
}

fn record(store: &mut (impl Store + ?Sized), a: &Analysis) -> Vec<Option<FindingHistory>> {
    let outcome = if a.failed_sources.len() == Source::ALL.len() {
        HostOutcome::Failed
    } else {
        HostOutcome::Lingering
    };
    store
        .record(&ScanRecord {
            analysis: a,
            outcome,
            origin: Origin::Scan,
        })
        .unwrap()
}

fn leaked(session: &str) -> Finding {
    finding(Verdict::LeakedLogon, session, "CONTOSO\\alice")
}

fn unreachable(host: &str, day: i64) -> Analysis {
    let mut a = analysis(host, day, Vec::new());
    a.failed_sources = Source::ALL
        .iter()
        .map(|&source| crate::analyze::FailedSource {
            source,
            failure: SourceFailure::new(FailureKind::Unreachable, None, "down"),
        })
        .collect();
    a
}

#[test]
fn a_run_counts_from_its_first_sighting_and_restarts_after_a_gap() {
    let mut s = store();
    for day in 0..3 {
        let h = record(&mut s, &analysis("SRV", day, vec![leaked("1")]));
        let h = h[0].unwrap();
        assert_eq!(
            (h.first_seen, h.last_seen, h.sightings),
            (t(0), t(day), day as u64 + 1)
        );
    }
    record(&mut s, &analysis("srv", 3, vec![]));
    let h = record(&mut s, &analysis("srv", 4, vec![leaked("1")]))[0].unwrap();
    assert_eq!((h.first_seen, h.sightings), (t(4), 1));
    let runs = s.history(&HistoryQuery::default()).unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(
        (
            runs[0].first_seen,
            runs[0].last_seen,
            runs[0].sightings,
            runs[0].present
        ),
        (t(0), t(2), 3, false)
    );
    assert_eq!(
        (runs[1].first_seen, runs[1].sightings, runs[1].present),
        (t(4), 1, true)
    );
    assert_eq!(runs[0].host, "srv");
}

#[test]
fn a_host_that_could_not_be_read_neither_breaks_nor_extends_a_run() {
    let mut s = store();
    record(&mut s, &analysis("srv", 0, vec![leaked("1")]));
    assert_eq!(
        record(&mut s, &unreachable("srv", 1)),
        Vec::<Option<FindingHistory>>::new()
    );
    let h = record(&mut s, &analysis("srv", 2, vec![leaked("1")]))[0].unwrap();
    assert_eq!((h.first_seen, h.sightings), (t(0), 2));
    let scans = s.scans(&HistoryQuery::default()).unwrap();
    assert_eq!(scans.len(), 3);
    assert_eq!(scans[1].outcome, "failed");
    assert_eq!(scans[1].failed_sources.len(), 5);
}

#[test]
fn a_late_snapshot_takes_its_place_in_time() {
    let mut s = store();
    record(&mut s, &analysis("srv", 0, vec![leaked("1")]));
    record(&mut s, &analysis("srv", 2, vec![leaked("1")]));
    // Day 1 did not see it: the run is now broken in two.
    record(&mut s, &analysis("srv", 1, vec![]));
    let runs = s.history(&HistoryQuery::default()).unwrap();
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert_eq!((runs[1].first_seen, runs[1].sightings), (t(2), 1));
    // Recording again what is recorded adds nothing.
    let h = record(&mut s, &analysis("srv", 2, vec![leaked("1")]))[0].unwrap();
    assert_eq!((h.first_seen, h.sightings), (t(2), 1));
    assert_eq!(s.scans(&HistoryQuery::default()).unwrap().len(), 3);
}

#[test]
fn active_findings_are_not_kept_and_the_key_includes_verdict_and_login_time() {
    let mut s = store();
    let mut relogin = leaked("1");
    relogin.since = Some(t(-1));
    let h = record(
        &mut s,
        &analysis(
            "srv",
            0,
            vec![
                finding(Verdict::Active, "2", "bob"),
                leaked("1"),
                finding(Verdict::Disconnected, "1", "CONTOSO\\alice"),
                relogin,
            ],
        ),
    );
    assert!(h[0].is_none());
    assert!(h[1..].iter().all(Option::is_some));
    assert_eq!(s.history(&HistoryQuery::default()).unwrap().len(), 3);
}

#[test]
fn history_filters_by_host_user_and_time() {
    let mut s = store();
    record(&mut s, &analysis("a", 0, vec![leaked("1")]));
    record(
        &mut s,
        &analysis(
            "b",
            1,
            vec![finding(Verdict::StaleWksta, "x", "FABRIKAM\\Alice")],
        ),
    );
    record(
        &mut s,
        &analysis("b", 2, vec![finding(Verdict::StaleWksta, "y", "carol")]),
    );
    let q = |host: Option<&str>, user: Option<&str>, since: Option<Timestamp>| HistoryQuery {
        host: host.map(str::to_string),
        user: user.map(str::to_string),
        since,
    };
    assert_eq!(s.history(&q(Some("A"), None, None)).unwrap().len(), 1);
    assert_eq!(s.history(&q(None, Some("alice"), None)).unwrap().len(), 2);
    assert_eq!(
        s.history(&q(None, Some("contoso\\ALICE"), None))
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        s.history(&q(None, Some("alice@fabrikam.com"), None))
            .unwrap()
            .len(),
        2
    );
    assert_eq!(s.history(&q(None, None, Some(t(1)))).unwrap().len(), 2);
    assert_eq!(s.scans(&q(Some("b"), None, Some(t(2)))).unwrap().len(), 1);
    assert_eq!(s.scans(&q(None, Some("carol"), None)).unwrap().len(), 1);
}

#[test]
fn diff_shows_new_gone_and_still_there() {
    let mut s = store();
    record(&mut s, &analysis("srv", 0, vec![leaked("1"), leaked("2")]));
    record(&mut s, &analysis("srv", 1, vec![leaked("2"), leaked("3")]));
    record(&mut s, &analysis("one", 1, vec![leaked("9")]));
    let diffs = s.diff(&DiffQuery::default()).unwrap();
    assert_eq!(diffs.len(), 2);
    let one = &diffs[0];
    assert_eq!(
        (one.host.as_str(), one.from.is_none(), one.new.len()),
        ("one", true, 1)
    );
    let srv = &diffs[1];
    let ids = |keys: &[FindingKey]| {
        keys.iter()
            .map(|k| k.session_id.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        (ids(&srv.new), ids(&srv.gone), ids(&srv.still)),
        (
            vec!["3".to_string()],
            vec!["1".to_string()],
            vec!["2".to_string()]
        )
    );
    // Named scans: the first and the last of srv.
    let scans = s
        .scans(&HistoryQuery {
            host: Some("srv".into()),
            ..Default::default()
        })
        .unwrap();
    let named = s
        .diff(&DiffQuery {
            host: None,
            between: Some((scans[1].id, scans[0].id)),
        })
        .unwrap();
    assert_eq!(ids(&named[0].new), vec!["1".to_string()]);
    let other = s
        .scans(&HistoryQuery {
            host: Some("one".into()),
            ..Default::default()
        })
        .unwrap();
    assert!(matches!(
        s.diff(&DiffQuery {
            host: None,
            between: Some((scans[0].id, other[0].id))
        }),
        Err(HistoryError::Invalid(_))
    ));
    assert!(
        s.diff(&DiffQuery {
            host: None,
            between: Some((999, 1000))
        })
        .is_err()
    );
}

#[test]
fn prune_forgets_old_scans_and_their_findings() {
    let mut s = store();
    record(&mut s, &analysis("srv", 0, vec![leaked("1")]));
    record(&mut s, &analysis("srv", 5, vec![leaked("2")]));
    record(&mut s, &analysis("old", 0, vec![leaked("3")]));
    let pruned = s.prune(t(3)).unwrap();
    assert_eq!(
        pruned,
        Pruned {
            scans: 2,
            findings: 2
        }
    );
    let runs = s.history(&HistoryQuery::default()).unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].session_id, "2");
    // A new scan after a prune still continues the run.
    let h = record(&mut s, &analysis("srv", 6, vec![leaked("2")]))[0].unwrap();
    assert_eq!((h.first_seen, h.sightings), (t(5), 2));
}

#[test]
fn a_scan_of_one_user_does_not_break_the_runs_of_the_others() {
    let mut s = store();
    record(&mut s, &analysis("srv", 0, vec![leaked("1")]));
    let mut targeted = analysis("srv", 1, vec![finding(Verdict::LeakedLogon, "7", "bob")]);
    targeted.target = Some("bob".into());
    assert_eq!(record(&mut s, &targeted)[0].unwrap().sightings, 1);
    let h = record(&mut s, &analysis("srv", 2, vec![leaked("1")]))[0].unwrap();
    assert_eq!((h.first_seen, h.sightings), (t(0), 2));
}

#[test]
fn min_age_holds_back_young_findings() {
    let mut s = store();
    record(&mut s, &analysis("srv", 0, vec![leaked("1")]));
    let mut a = analysis("srv", 1, vec![leaked("1"), leaked("2")]);
    let histories = record(&mut s, &a);
    annotate::apply(
        &mut a,
        histories,
        Some(std::time::Duration::from_secs(86_400)),
        t(1),
    );
    assert!(a.findings[0].lingering && !a.findings[0].watching());
    assert!(!a.findings[1].lingering && a.findings[1].watching());
    assert_eq!(a.findings[1].history.unwrap().first_seen, t(1));
}

#[test]
fn a_database_from_a_newer_lingerscan_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub/h.sqlite");
    drop(open(&path).unwrap());
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch("PRAGMA user_version = 99").unwrap();
    drop(conn);
    assert!(matches!(
        open(&path),
        Err(HistoryError::TooNew { found: 99, .. })
    ));
}

#[test]
fn two_writers_on_one_file_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.sqlite");
    std::thread::scope(|scope| {
        for writer in 0..2 {
            let path = &path;
            scope.spawn(move || {
                let mut s = open(path).unwrap();
                for day in 0..40 {
                    let host = format!("h{}", day % 5);
                    let a = analysis(
                        &host,
                        day * 2 + writer,
                        vec![leaked(&format!("{writer}-{day}"))],
                    );
                    record(&mut *s, &a);
                }
            });
        }
    });
    let mut s = open(&path).unwrap();
    assert_eq!(s.scans(&HistoryQuery::default()).unwrap().len(), 80);
    assert_eq!(s.history(&HistoryQuery::default()).unwrap().len(), 80);
}

#[test]
fn actions_are_recorded_checked_and_listed_and_survive_prune() {
    let mut store = store();
    let action = crate::history::ActionRecord {
        id: None,
        acted_at: t(3),
        actor: "root".into(),
        host: "SRV".into(),
        finding_id: "0123456789ab".into(),
        verdict: "STALE_UTMP".into(),
        kind: "utmp_entry".into(),
        session_id: "pts/4".into(),
        user: "CONTOSO\\alice".into(),
        action: "mark utmp record dead".into(),
        outcome: "done".into(),
        error: None,
        checked: None,
    };
    let id = store.record_action(&action).unwrap();
    store.check_action(id, "gone").unwrap();
    store.prune(t(10)).unwrap();
    let listed = store
        .actions(&HistoryQuery {
            host: Some("srv".into()),
            user: Some("alice".into()),
            since: None,
        })
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, Some(id));
    assert_eq!(listed[0].host, "srv");
    assert_eq!(listed[0].checked.as_deref(), Some("gone"));
    assert_eq!(listed[0].acted_at, t(3));
    let other = store
        .actions(&HistoryQuery {
            user: Some("bob".into()),
            ..HistoryQuery::default()
        })
        .unwrap();
    assert!(other.is_empty());
}

#[test]
fn a_version_1_database_gains_the_action_table() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.sqlite");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(crate::history::schema::SQLITE[0])
        .unwrap();
    conn.execute_batch("PRAGMA user_version = 1").unwrap();
    drop(conn);
    let mut store = open(&path).unwrap();
    assert!(store.actions(&HistoryQuery::default()).unwrap().is_empty());
    let conn = rusqlite::Connection::open(&path).unwrap();
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 2);
}

//! The queries, once, over any SQL backend that offers a [`Conn`]. SQL is
//! written with `?N` placeholders and standard window functions.
//!
//! Runs: each reachable scan of a host gets `seq`, one more than the scan
//! before it among that host's reachable scans of the same scope (a
//! snapshot recorded late moves the later ones up one). A finding's sightings with consecutive `seq`
//! form one unbroken run, found with the gaps-and-islands trick: `seq`
//! minus the sighting's rank is constant along a run. A scan of a host
//! nothing could be read from gets no `seq`: it neither saw nor missed
//! anything, so it does not break a run.

use jiff::Timestamp;

use super::key::{FindingKey, account_key, host_key, login_time_to_db, micros, time_from_db};
use super::{
    DiffQuery, HistoryError, HistoryQuery, HostDiff, Pruned, Run, ScanRecord, ScanRow, Store,
};
use crate::analyze::{FindingHistory, Verdict};
use crate::report::sink::HostOutcome;

pub use super::conn::{Conn, Row, Value};
use super::conn::{count, int, key_at, opt_int, text};

pub struct SqlStore<C: Conn> {
    conn: C,
}

impl<C: Conn> SqlStore<C> {
    pub fn new(conn: C) -> Self {
        SqlStore { conn }
    }

    pub fn conn(&mut self) -> &mut C {
        &mut self.conn
    }

    fn in_transaction<T>(
        &mut self,
        body: impl FnOnce(&mut C) -> Result<T, HistoryError>,
    ) -> Result<T, HistoryError> {
        self.conn.begin_write()?;
        match body(&mut self.conn) {
            Ok(value) => {
                self.conn.commit()?;
                Ok(value)
            }
            Err(error) => {
                self.conn.rollback();
                Err(error)
            }
        }
    }

    /// Filters on finding `f` and host `h` for a query, and their values.
    fn finding_filter(query: &HistoryQuery, mut next: usize) -> (String, Vec<Value>) {
        let mut clauses = Vec::new();
        let mut values = Vec::new();
        if let Some(host) = &query.host {
            clauses.push(format!("h.name = ?{next}"));
            values.push(Value::Text(host_key(host)));
            next += 1;
        }
        if let Some(user) = &query.user {
            clauses.push(format!("f.account = ?{next}"));
            values.push(Value::Text(account_key(user)));
            next += 1;
            if user.contains('\\') {
                clauses.push(format!("lower(f.user_name) = ?{next}"));
                values.push(Value::Text(user.to_lowercase()));
            }
        }
        let filter = if clauses.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", clauses.join(" AND "))
        };
        (filter, values)
    }
}

fn record_in(
    conn: &mut impl Conn,
    scan: &ScanRecord<'_>,
) -> Result<Vec<Option<FindingHistory>>, HistoryError> {
    let analysis = scan.analysis;
    let host = host_key(&analysis.host);
    conn.execute(
        "INSERT INTO host (name) VALUES (?1) ON CONFLICT (name) DO NOTHING",
        &[host.as_str().into()],
    )?;
    let rows = conn.query(
        "SELECT id FROM host WHERE name = ?1",
        &[host.as_str().into()],
    )?;
    let host_id = rows
        .first()
        .map(|r| int(r, 0))
        .transpose()?
        .ok_or_else(|| HistoryError::Corrupt(format!("host {host} vanished")))?;
    if let Some(lock) = conn.lock_host() {
        conn.query(lock, &[host_id.into()])?;
    }
    let scope = scan.scope();
    let at = micros(analysis.collected_at);
    let reachable = scan.outcome != HostOutcome::Failed;
    let existing = conn.query(
        "SELECT id, seq FROM scan WHERE host_id = ?1 AND scope = ?2 AND scanned_at = ?3",
        &[host_id.into(), scope.as_str().into(), at.into()],
    )?;
    let (scan_id, seq) = match existing.first() {
        Some(row) => (int(row, 0)?, opt_int(row, 1)?),
        None => insert_scan(conn, scan, host_id, &scope, at, reachable)?,
    };
    let Some(seq) = seq else {
        return Ok(vec![None; analysis.findings.len()]);
    };
    let mut histories = Vec::with_capacity(analysis.findings.len());
    for finding in &analysis.findings {
        if finding.verdict == Verdict::Active {
            histories.push(None);
            continue;
        }
        let key = FindingKey::of(&analysis.host, finding);
        let finding_id = finding_id(conn, host_id, &key)?;
        conn.execute(
            "INSERT INTO sighting (finding_id, scan_id, lingering, idle_secs) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT (finding_id, scan_id) DO NOTHING",
            &[
                finding_id.into(),
                scan_id.into(),
                i64::from(finding.lingering).into(),
                finding
                    .idle_secs
                    .and_then(|s| i64::try_from(s).ok())
                    .map_or(Value::Null, Value::Int),
            ],
        )?;
        // The run that ends with this scan: the last island up to its seq.
        let run = conn.query(
            "SELECT min(t), max(t), count(*) FROM ( \
               SELECT s.scanned_at AS t, s.seq AS seq, \
                      s.seq - row_number() OVER (ORDER BY s.seq) AS island \
               FROM sighting g JOIN scan s ON s.id = g.scan_id \
               WHERE g.finding_id = ?1 AND s.scope = ?2 AND s.seq <= ?3 \
             ) x GROUP BY island ORDER BY max(seq) DESC LIMIT 1",
            &[finding_id.into(), scope.as_str().into(), seq.into()],
        )?;
        let row = run
            .first()
            .ok_or_else(|| HistoryError::Corrupt("a sighting just written is missing".into()))?;
        histories.push(Some(FindingHistory {
            first_seen: time_from_db(int(row, 0)?)?,
            last_seen: analysis.collected_at,
            sightings: count(row, 2)?,
            watching: false,
        }));
    }
    Ok(histories)
}

fn insert_scan(
    conn: &mut impl Conn,
    scan: &ScanRecord<'_>,
    host_id: i64,
    scope: &str,
    at: i64,
    reachable: bool,
) -> Result<(i64, Option<i64>), HistoryError> {
    let seq = if reachable {
        // After the scan before it (not "how many before it": a prune
        // leaves the numbers of the scans it keeps as they are).
        let before = conn.query(
            "SELECT max(seq) FROM scan WHERE host_id = ?1 AND scope = ?2 AND scanned_at < ?3",
            &[host_id.into(), scope.into(), at.into()],
        )?;
        let before = before
            .first()
            .map(|r| opt_int(r, 0))
            .transpose()?
            .flatten()
            .unwrap_or(0);
        // A snapshot older than scans already recorded: those move up one.
        conn.execute(
            "UPDATE scan SET seq = seq + 1 WHERE host_id = ?1 AND scope = ?2 AND seq IS NOT NULL AND scanned_at > ?3",
            &[host_id.into(), scope.into(), at.into()],
        )?;
        Some(before + 1)
    } else {
        None
    };
    let failed: Vec<String> = scan
        .analysis
        .failed_sources
        .iter()
        .map(|f| format!("{}:{}", f.source, f.failure.kind))
        .collect();
    let rows = conn.query(
        "INSERT INTO scan (host_id, scope, scanned_at, recorded_at, outcome, origin, failed_sources, reachable, seq) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) RETURNING id",
        &[
            host_id.into(),
            scope.into(),
            at.into(),
            micros(Timestamp::now()).into(),
            scan.outcome.as_str().to_lowercase().into(),
            scan.origin.as_str().into(),
            failed.join(",").into(),
            i64::from(reachable).into(),
            seq.map_or(Value::Null, Value::Int),
        ],
    )?;
    let id = rows
        .first()
        .map(|r| int(r, 0))
        .transpose()?
        .ok_or_else(|| HistoryError::Corrupt("no id for a new scan".into()))?;
    Ok((id, seq))
}

fn finding_id(conn: &mut impl Conn, host_id: i64, key: &FindingKey) -> Result<i64, HistoryError> {
    let values = [
        host_id.into(),
        key.verdict.as_str().into(),
        key.kind.as_str().into(),
        key.session_id.as_str().into(),
        key.user.as_str().into(),
        login_time_to_db(key.login_time).into(),
    ];
    let found = conn.query(
        "SELECT id FROM finding WHERE host_id = ?1 AND verdict = ?2 AND kind = ?3 \
         AND session_id = ?4 AND user_name = ?5 AND login_time = ?6",
        &values,
    )?;
    if let Some(row) = found.first() {
        return int(row, 0);
    }
    let mut with_account = values.to_vec();
    with_account.push(account_key(&key.user).into());
    let rows = conn.query(
        "INSERT INTO finding (host_id, verdict, kind, session_id, user_name, login_time, account) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING id",
        &with_account,
    )?;
    rows.first()
        .map(|r| int(r, 0))
        .transpose()?
        .ok_or_else(|| HistoryError::Corrupt("no id for a new finding".into()))
}

impl<C: Conn> Store for SqlStore<C> {
    fn record(
        &mut self,
        scan: &ScanRecord<'_>,
    ) -> Result<Vec<Option<FindingHistory>>, HistoryError> {
        self.in_transaction(|conn| record_in(conn, scan))
    }

    fn history(&mut self, query: &HistoryQuery) -> Result<Vec<Run>, HistoryError> {
        let (filter, mut values) = Self::finding_filter(query, 1);
        let since = match query.since {
            Some(t) => {
                values.push(micros(t).into());
                format!("WHERE i.last_seen >= ?{}", values.len())
            }
            None => String::new(),
        };
        let sql = format!(
            "WITH picked AS ( \
               SELECT f.id, f.host_id FROM finding f JOIN host h ON h.id = f.host_id {filter}), \
             runs AS ( \
               SELECT g.finding_id, s.scope, s.scanned_at AS t, s.seq, \
                      s.seq - row_number() OVER (PARTITION BY g.finding_id, s.scope ORDER BY s.seq) AS island \
               FROM sighting g JOIN scan s ON s.id = g.scan_id \
               WHERE g.finding_id IN (SELECT id FROM picked)), \
             islands AS ( \
               SELECT finding_id, scope, min(t) AS first_seen, max(t) AS last_seen, \
                      count(*) AS n, max(seq) AS last_seq \
               FROM runs GROUP BY finding_id, scope, island), \
             latest AS ( \
               SELECT host_id, scope, max(seq) AS seq FROM scan \
               WHERE host_id IN (SELECT host_id FROM picked) GROUP BY host_id, scope) \
             SELECT h.name, f.verdict, f.kind, f.session_id, f.user_name, f.login_time, \
                    i.scope, i.first_seen, i.last_seen, i.n, \
                    CASE WHEN i.last_seq = l.seq THEN 1 ELSE 0 END \
             FROM islands i JOIN finding f ON f.id = i.finding_id JOIN host h ON h.id = f.host_id \
             JOIN latest l ON l.host_id = f.host_id AND l.scope = i.scope \
             {since} \
             ORDER BY h.name, i.first_seen, f.user_name, f.session_id, f.verdict"
        );
        let rows = self.conn.query(&sql, &values)?;
        rows.iter()
            .map(|row| {
                let host = text(row, 0)?;
                let key = key_at(&host, row, 1)?;
                Ok(Run {
                    host,
                    verdict: key.verdict,
                    kind: key.kind,
                    session_id: key.session_id,
                    user: key.user,
                    login_time: key.login_time,
                    scope: text(row, 6)?,
                    first_seen: time_from_db(int(row, 7)?)?,
                    last_seen: time_from_db(int(row, 8)?)?,
                    sightings: count(row, 9)?,
                    present: int(row, 10)? == 1,
                })
            })
            .collect()
    }

    fn scans(&mut self, query: &HistoryQuery) -> Result<Vec<ScanRow>, HistoryError> {
        let mut clauses = Vec::new();
        let mut values: Vec<Value> = Vec::new();
        if let Some(host) = &query.host {
            values.push(Value::Text(host_key(host)));
            clauses.push(format!("h.name = ?{}", values.len()));
        }
        if let Some(since) = query.since {
            values.push(micros(since).into());
            clauses.push(format!("s.scanned_at >= ?{}", values.len()));
        }
        if let Some(user) = &query.user {
            values.push(Value::Text(account_key(user)));
            clauses.push(format!(
                "EXISTS (SELECT 1 FROM sighting g JOIN finding f ON f.id = g.finding_id \
                 WHERE g.scan_id = s.id AND f.account = ?{})",
                values.len()
            ));
        }
        let filter = if clauses.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", clauses.join(" AND "))
        };
        let sql = format!(
            "SELECT s.id, h.name, s.scanned_at, s.outcome, s.origin, s.scope, s.failed_sources, \
                    (SELECT count(*) FROM sighting g WHERE g.scan_id = s.id) \
             FROM scan s JOIN host h ON h.id = s.host_id {filter} \
             ORDER BY s.scanned_at, h.name, s.id"
        );
        let rows = self.conn.query(&sql, &values)?;
        rows.iter()
            .map(|row| {
                let failed = text(row, 6)?;
                Ok(ScanRow {
                    id: int(row, 0)?,
                    host: text(row, 1)?,
                    scanned_at: time_from_db(int(row, 2)?)?,
                    outcome: text(row, 3)?,
                    origin: text(row, 4)?,
                    scope: text(row, 5)?,
                    failed_sources: failed
                        .split(',')
                        .filter(|s| !s.is_empty())
                        .map(str::to_string)
                        .collect(),
                    findings: count(row, 7)?,
                })
            })
            .collect()
    }

    fn diff(&mut self, query: &DiffQuery) -> Result<Vec<HostDiff>, HistoryError> {
        super::diff::diff(&mut self.conn, query)
    }

    fn record_action(&mut self, action: &super::ActionRecord) -> Result<i64, HistoryError> {
        self.in_transaction(|conn| super::actions::insert(conn, action))
    }

    fn check_action(&mut self, id: i64, checked: &str) -> Result<(), HistoryError> {
        self.in_transaction(|conn| super::actions::set_checked(conn, id, checked))
    }

    fn actions(&mut self, query: &HistoryQuery) -> Result<Vec<super::ActionRecord>, HistoryError> {
        super::actions::list(&mut self.conn, query)
    }

    fn prune(&mut self, before: Timestamp) -> Result<Pruned, HistoryError> {
        let at: Value = micros(before).into();
        self.in_transaction(|conn| {
            conn.execute(
                "DELETE FROM sighting WHERE scan_id IN (SELECT id FROM scan WHERE scanned_at < ?1)",
                std::slice::from_ref(&at),
            )?;
            let scans = conn.execute("DELETE FROM scan WHERE scanned_at < ?1", &[at])?;
            let findings = conn.execute(
                "DELETE FROM finding WHERE NOT EXISTS \
                 (SELECT 1 FROM sighting g WHERE g.finding_id = finding.id)",
                &[],
            )?;
            conn.execute(
                "DELETE FROM host WHERE NOT EXISTS (SELECT 1 FROM scan s WHERE s.host_id = host.id) \
                 AND NOT EXISTS (SELECT 1 FROM finding f WHERE f.host_id = host.id)",
                &[],
            )?;
            Ok(Pruned { scans, findings })
        })
    }
}

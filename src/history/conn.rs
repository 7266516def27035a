//! What the queries need of a database ([`Conn`]), the values they bind
//! and read ([`Value`]), and reading stored rows back, checked.

use super::HistoryError;
use super::key::{FindingKey, kind_from_db, login_time_from_db, verdict_from_db};

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Text(String),
}

impl From<i64> for Value {
    fn from(n: i64) -> Self {
        Value::Int(n)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Text(s.to_string())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Text(s)
    }
}

pub type Row = Vec<Value>;

/// What the queries need of a database connection.
pub trait Conn: Send {
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, HistoryError>;
    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, HistoryError>;
    /// Start a transaction that will write, holding the write lock from now.
    fn begin_write(&mut self) -> Result<(), HistoryError>;
    fn commit(&mut self) -> Result<(), HistoryError>;
    fn rollback(&mut self);
    /// A statement run first in a host's write transaction (`?1` the host
    /// id) that keeps other writers of that host waiting; None where the
    /// write lock is already the whole database's (SQLite).
    fn lock_host(&self) -> Option<&'static str> {
        None
    }
}

pub(super) fn int(row: &Row, i: usize) -> Result<i64, HistoryError> {
    match row.get(i) {
        Some(Value::Int(n)) => Ok(*n),
        other => Err(HistoryError::Corrupt(format!(
            "expected a number, found {other:?}"
        ))),
    }
}

pub(super) fn opt_int(row: &Row, i: usize) -> Result<Option<i64>, HistoryError> {
    match row.get(i) {
        Some(Value::Null) => Ok(None),
        _ => int(row, i).map(Some),
    }
}

pub(super) fn text(row: &Row, i: usize) -> Result<String, HistoryError> {
    match row.get(i) {
        Some(Value::Text(s)) => Ok(s.clone()),
        other => Err(HistoryError::Corrupt(format!(
            "expected text, found {other:?}"
        ))),
    }
}

pub(super) fn count(row: &Row, i: usize) -> Result<u64, HistoryError> {
    let n = int(row, i)?;
    u64::try_from(n).map_err(|_| HistoryError::Corrupt(format!("negative count {n}")))
}

/// The finding's key columns at `at..at + 6`: verdict, kind, session, user, login time.
pub(super) fn key_at(host: &str, row: &Row, at: usize) -> Result<FindingKey, HistoryError> {
    Ok(FindingKey {
        host: host.to_string(),
        verdict: verdict_from_db(&text(row, at)?)?,
        kind: kind_from_db(&text(row, at + 1)?)?,
        session_id: text(row, at + 2)?,
        user: text(row, at + 3)?,
        login_time: login_time_from_db(int(row, at + 4)?)?,
    })
}

/// `?from, ?from+1, …` for `n` values.
pub(super) fn placeholders(from: usize, n: usize) -> String {
    (from..from + n)
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

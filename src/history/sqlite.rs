//! The SQLite backend: a [`Conn`] over one rusqlite connection (the
//! library bundled, no system SQLite needed).
//!
//! Several processes may write one file at once (a fleet scan and a second
//! scan): WAL lets readers go on while one writes, every write transaction
//! takes the write lock at its start (`BEGIN IMMEDIATE`, so two writers
//! never deadlock upgrading a read lock), and a writer that finds the lock
//! taken waits up to [`BUSY_TIMEOUT`] rather than failing.

use std::path::Path;
use std::time::{Duration, Instant};

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, ToSql};

use super::HistoryError;
use super::schema;
use super::sql::{Conn, Row, Value};

/// How long a writer waits for another one; a fleet's host is one short
/// transaction, so this is very generous.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(60);

pub struct SqliteConn {
    conn: Connection,
}

impl SqliteConn {
    /// Open (or create) the database and bring its schema up to date.
    pub fn open(path: &Path) -> Result<SqliteConn, HistoryError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| HistoryError::Create {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        let conn = Connection::open(path)?;
        Self::prepare(conn)
    }

    /// A private in-memory database (tests).
    pub fn in_memory() -> Result<SqliteConn, HistoryError> {
        Self::prepare(Connection::open_in_memory()?)
    }

    fn prepare(conn: Connection) -> Result<SqliteConn, HistoryError> {
        conn.busy_timeout(BUSY_TIMEOUT)?;
        // Switching a new file to WAL while another process opens it can
        // answer "busy" at once, without waiting (SQLite does not call the
        // busy handler there, to avoid a deadlock): those steps are retried.
        retry_busy(|| {
            let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0))?;
            if !mode.eq_ignore_ascii_case("wal") {
                let _now: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
            }
            Ok(())
        })?;
        // With WAL, NORMAL loses no transaction on a process crash, only
        // perhaps the last ones on a power loss, and saves an fsync each.
        conn.execute_batch("PRAGMA synchronous = NORMAL;")?;
        let mut this = SqliteConn { conn };
        retry_busy(|| this.migrate())?;
        Ok(this)
    }

    fn version(&self) -> Result<i64, HistoryError> {
        Ok(self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))?)
    }

    fn migrate(&mut self) -> Result<(), HistoryError> {
        let known = schema::SQLITE.len() as i64;
        let found = self.version()?;
        if found > known {
            return Err(HistoryError::TooNew { found, known });
        }
        if found == known {
            return Ok(());
        }
        // Under the write lock, the version read again: another process may
        // have migrated meanwhile.
        self.conn.execute_batch("BEGIN IMMEDIATE")?;
        let result = (|| {
            let found = self.version()?;
            for (index, step) in schema::SQLITE
                .iter()
                .enumerate()
                .skip(found.max(0) as usize)
            {
                self.conn.execute_batch(step)?;
                self.conn
                    .execute_batch(&format!("PRAGMA user_version = {}", index + 1))?;
            }
            Ok::<_, HistoryError>(())
        })();
        match result {
            Ok(()) => self.conn.execute_batch("COMMIT")?,
            Err(error) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                return Err(error);
            }
        }
        Ok(())
    }

    /// The connection itself (the benchmark fills a database in bulk).
    pub fn connection(&mut self) -> &mut Connection {
        &mut self.conn
    }
}

/// Run `step` again while SQLite answers "busy" without having waited, up
/// to [`BUSY_TIMEOUT`] in all.
fn retry_busy<T>(mut step: impl FnMut() -> Result<T, HistoryError>) -> Result<T, HistoryError> {
    let started = Instant::now();
    let mut pause = Duration::from_millis(5);
    loop {
        match step() {
            Err(HistoryError::Sqlite(rusqlite::Error::SqliteFailure(e, _)))
                if e.code == rusqlite::ErrorCode::DatabaseBusy
                    && started.elapsed() < BUSY_TIMEOUT =>
            {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(200));
            }
            other => return other,
        }
    }
}

impl ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Value::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            Value::Int(n) => ToSqlOutput::Borrowed(ValueRef::Integer(*n)),
            Value::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
        })
    }
}

fn params(values: &[Value]) -> Vec<&dyn ToSql> {
    values.iter().map(|v| v as &dyn ToSql).collect()
}

impl Conn for SqliteConn {
    fn execute(&mut self, sql: &str, values: &[Value]) -> Result<u64, HistoryError> {
        let mut statement = self.conn.prepare_cached(sql)?;
        Ok(statement.execute(params(values).as_slice())? as u64)
    }

    fn query(&mut self, sql: &str, values: &[Value]) -> Result<Vec<Row>, HistoryError> {
        let mut statement = self.conn.prepare_cached(sql)?;
        let columns = statement.column_count();
        let mut rows = statement.query(params(values).as_slice())?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let mut values = Vec::with_capacity(columns);
            for i in 0..columns {
                values.push(match row.get_ref(i)? {
                    ValueRef::Null => Value::Null,
                    ValueRef::Integer(n) => Value::Int(n),
                    ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
                    ValueRef::Real(r) => {
                        return Err(HistoryError::Corrupt(format!("unexpected real {r}")));
                    }
                    ValueRef::Blob(_) => {
                        return Err(HistoryError::Corrupt("unexpected blob".into()));
                    }
                });
            }
            out.push(values);
        }
        Ok(out)
    }

    fn begin_write(&mut self) -> Result<(), HistoryError> {
        // The busy handler waits here; the retry is for the cases it does not cover.
        retry_busy(|| Ok(self.conn.execute_batch("BEGIN IMMEDIATE")?))
    }

    fn commit(&mut self) -> Result<(), HistoryError> {
        Ok(self.conn.execute_batch("COMMIT")?)
    }

    fn rollback(&mut self) {
        // Nothing to do if it fails: the connection rolls back when dropped.
        let _ = self.conn.execute_batch("ROLLBACK");
    }
}

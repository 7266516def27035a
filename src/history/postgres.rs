//! The PostgreSQL backend (`--db postgres://…`): a [`Conn`] over the
//! synchronous `postgres` client, so that several scanners (sites, shards)
//! share one history. The queries are [`super::sql`]'s, the same as
//! SQLite's; only `?N` placeholders become `$N`.
//!
//! The schema version lives in a one-row table (PostgreSQL has no
//! `user_version`); migrations run under a transaction-scoped advisory
//! lock, so scanners starting at once migrate once. Writers of one host
//! are serialized by locking its `host` row ([`Conn::lock_host`]); writers
//! of different hosts do not wait for each other.

use postgres::types::{ToSql, Type};
use postgres::{Client, NoTls};

use super::HistoryError;
use super::schema;
use super::sql::{Conn, Row, Value};

/// Any number, the same in every lingerscan: the advisory lock of migrations.
const MIGRATION_LOCK: i64 = 0x6c69_6e67_6572;

pub struct PgConn {
    client: Client,
}

fn pg(error: postgres::Error) -> HistoryError {
    HistoryError::Postgres(error.to_string())
}

/// `?N` placeholders as PostgreSQL's `$N` (the queries have no `?` elsewhere).
fn dollar(sql: &str) -> String {
    sql.replace('?', "$")
}

impl PgConn {
    /// Connect (`postgres://user[:password]@host[:port]/database`) and bring
    /// the schema up to date.
    pub fn connect(url: &str) -> Result<PgConn, HistoryError> {
        let client = Client::connect(url, NoTls).map_err(pg)?;
        let mut this = PgConn { client };
        this.migrate()?;
        Ok(this)
    }

    fn migrate(&mut self) -> Result<(), HistoryError> {
        let known = schema::POSTGRES.len() as i64;
        let mut tx = self.client.transaction().map_err(pg)?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .map_err(pg)?;
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS lingerscan_schema (version BIGINT NOT NULL); \
             INSERT INTO lingerscan_schema (version) \
             SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM lingerscan_schema)",
        )
        .map_err(pg)?;
        let found: i64 = tx
            .query_one("SELECT max(version) FROM lingerscan_schema", &[])
            .map_err(pg)?
            .try_get(0)
            .map_err(pg)?;
        if found > known {
            return Err(HistoryError::TooNew { found, known });
        }
        for (index, step) in schema::POSTGRES
            .iter()
            .enumerate()
            .skip(found.max(0) as usize)
        {
            tx.batch_execute(step).map_err(pg)?;
            tx.execute(
                "UPDATE lingerscan_schema SET version = $1",
                &[&(index as i64 + 1)],
            )
            .map_err(pg)?;
        }
        tx.commit().map_err(pg)
    }
}

fn params(values: &[Value]) -> Vec<Box<dyn ToSql + Sync>> {
    values
        .iter()
        .map(|v| -> Box<dyn ToSql + Sync> {
            match v {
                Value::Null => Box::new(None::<i64>),
                Value::Int(n) => Box::new(*n),
                Value::Text(s) => Box::new(s.clone()),
            }
        })
        .collect()
}

fn value(row: &postgres::Row, i: usize) -> Result<Value, HistoryError> {
    let column = row
        .columns()
        .get(i)
        .ok_or_else(|| HistoryError::Corrupt(format!("no column {i}")))?;
    let ty = column.type_();
    let value = if *ty == Type::INT8 {
        row.try_get::<_, Option<i64>>(i).map(|v| v.map(Value::Int))
    } else if *ty == Type::INT4 {
        row.try_get::<_, Option<i32>>(i)
            .map(|v| v.map(|n| Value::Int(n.into())))
    } else if *ty == Type::INT2 {
        row.try_get::<_, Option<i16>>(i)
            .map(|v| v.map(|n| Value::Int(n.into())))
    } else if *ty == Type::TEXT || *ty == Type::VARCHAR {
        row.try_get::<_, Option<String>>(i)
            .map(|v| v.map(Value::Text))
    } else {
        return Err(HistoryError::Corrupt(format!(
            "column {} has type {ty}",
            column.name()
        )));
    };
    Ok(value.map_err(pg)?.unwrap_or(Value::Null))
}

impl Conn for PgConn {
    fn execute(&mut self, sql: &str, values: &[Value]) -> Result<u64, HistoryError> {
        let owned = params(values);
        let refs: Vec<&(dyn ToSql + Sync)> = owned.iter().map(|b| b.as_ref()).collect();
        self.client.execute(&dollar(sql), &refs).map_err(pg)
    }

    fn query(&mut self, sql: &str, values: &[Value]) -> Result<Vec<Row>, HistoryError> {
        let owned = params(values);
        let refs: Vec<&(dyn ToSql + Sync)> = owned.iter().map(|b| b.as_ref()).collect();
        let rows = self.client.query(&dollar(sql), &refs).map_err(pg)?;
        rows.iter()
            .map(|row| (0..row.len()).map(|i| value(row, i)).collect())
            .collect()
    }

    fn begin_write(&mut self) -> Result<(), HistoryError> {
        self.client.batch_execute("BEGIN").map_err(pg)
    }

    fn commit(&mut self) -> Result<(), HistoryError> {
        self.client.batch_execute("COMMIT").map_err(pg)
    }

    fn rollback(&mut self) {
        // A broken connection rolls back on its own.
        let _ = self.client.batch_execute("ROLLBACK");
    }

    fn lock_host(&self) -> Option<&'static str> {
        Some("SELECT id FROM host WHERE id = ?1 FOR UPDATE")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn placeholders_become_dollars() {
        assert_eq!(
            super::dollar("SELECT ?1 WHERE a = ?2"),
            "SELECT $1 WHERE a = $2"
        );
    }
}

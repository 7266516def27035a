//! What `lingerscan close` did: one row per action, written as soon as the
//! action returned (so a crash before the re-scan still leaves the record),
//! and completed with what the re-scan saw.

use std::io::{self, Write};

use jiff::Timestamp;
use serde::Serialize;

use super::conn::{Conn, Value, int, text};
use super::key::{account_key, host_key, micros, time_from_db};
use super::{HistoryError, HistoryQuery};
use crate::report::Format;
use crate::report::sanitize::for_csv;
use crate::report::table::{Align, Table};

/// One action and its result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ActionRecord {
    /// Its row (None before it is stored).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    pub acted_at: Timestamp,
    /// Who acted: the OS user for local actions, the account for remote ones.
    pub actor: String,
    pub host: String,
    /// The finding's id ([`super::FindingKey::id`]).
    pub finding_id: String,
    pub verdict: String,
    pub kind: String,
    pub session_id: String,
    pub user: String,
    /// What was done, in words.
    pub action: String,
    /// `done`, `failed` or `refused` (a re-check before acting said no).
    pub outcome: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// What the re-scan saw: `gone` or `still there` (None: not checked).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checked: Option<String>,
}

pub(super) fn insert(conn: &mut impl Conn, a: &ActionRecord) -> Result<i64, HistoryError> {
    let rows = conn.query(
        "INSERT INTO action (acted_at, actor, host, finding_id, verdict, kind, session_id, \
         user_name, action, outcome, error, checked) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) RETURNING id",
        &[
            micros(a.acted_at).into(),
            a.actor.as_str().into(),
            host_key(&a.host).into(),
            a.finding_id.as_str().into(),
            a.verdict.as_str().into(),
            a.kind.as_str().into(),
            a.session_id.as_str().into(),
            a.user.as_str().into(),
            a.action.as_str().into(),
            a.outcome.as_str().into(),
            a.error.clone().map_or(Value::Null, Value::Text),
            a.checked.clone().map_or(Value::Null, Value::Text),
        ],
    )?;
    rows.first()
        .map(|r| int(r, 0))
        .transpose()?
        .ok_or_else(|| HistoryError::Corrupt("no id for a new action".into()))
}

pub(super) fn set_checked(
    conn: &mut impl Conn,
    id: i64,
    checked: &str,
) -> Result<(), HistoryError> {
    conn.execute(
        "UPDATE action SET checked = ?1 WHERE id = ?2",
        &[checked.into(), id.into()],
    )?;
    Ok(())
}

fn opt_text(row: &[Value], i: usize) -> Result<Option<String>, HistoryError> {
    match row.get(i) {
        Some(Value::Null) => Ok(None),
        Some(Value::Text(s)) => Ok(Some(s.clone())),
        other => Err(HistoryError::Corrupt(format!(
            "column {i}: expected text, found {other:?}"
        ))),
    }
}

pub(super) fn list(
    conn: &mut impl Conn,
    query: &HistoryQuery,
) -> Result<Vec<ActionRecord>, HistoryError> {
    let mut clauses = Vec::new();
    let mut values: Vec<Value> = Vec::new();
    if let Some(host) = &query.host {
        values.push(host_key(host).into());
        clauses.push(format!("host = ?{}", values.len()));
    }
    if let Some(since) = query.since {
        values.push(micros(since).into());
        clauses.push(format!("acted_at >= ?{}", values.len()));
    }
    let filter = if clauses.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", clauses.join(" AND "))
    };
    let rows = conn.query(
        &format!(
            "SELECT id, acted_at, actor, host, finding_id, verdict, kind, session_id, user_name, \
             action, outcome, error, checked FROM action {filter} ORDER BY acted_at, id"
        ),
        &values,
    )?;
    let mut out = Vec::with_capacity(rows.len());
    for row in &rows {
        let record = ActionRecord {
            id: Some(int(row, 0)?),
            acted_at: time_from_db(int(row, 1)?)?,
            actor: text(row, 2)?,
            host: text(row, 3)?,
            finding_id: text(row, 4)?,
            verdict: text(row, 5)?,
            kind: text(row, 6)?,
            session_id: text(row, 7)?,
            user: text(row, 8)?,
            action: text(row, 9)?,
            outcome: text(row, 10)?,
            error: opt_text(row, 11)?,
            checked: opt_text(row, 12)?,
        };
        // The user filter as `history` has it: by account name, any domain.
        if let Some(user) = &query.user
            && account_key(&record.user) != account_key(user)
        {
            continue;
        }
        out.push(record);
    }
    Ok(out)
}

/// `lingerscan history --actions`.
pub fn write_actions(
    out: &mut dyn Write,
    actions: &[ActionRecord],
    format: Format,
) -> io::Result<()> {
    let cells = |a: &ActionRecord| {
        vec![
            super::report::short_time(a.acted_at),
            a.host.clone(),
            a.actor.clone(),
            a.verdict.clone(),
            a.session_id.clone(),
            a.user.clone(),
            a.finding_id.clone(),
            a.action.clone(),
            a.outcome.clone(),
            a.checked.clone().unwrap_or_default(),
            a.error.clone().unwrap_or_default(),
        ]
    };
    const HEADER: [&str; 11] = [
        "when", "host", "by", "verdict", "session", "user", "id", "action", "outcome", "checked",
        "error",
    ];
    match format {
        Format::Json => {
            let doc = serde_json::json!({ "actions": actions });
            serde_json::to_writer(&mut *out, &doc)?;
            out.write_all(b"\n")
        }
        Format::Ndjson => {
            for a in actions {
                serde_json::to_writer(&mut *out, a)?;
                out.write_all(b"\n")?;
            }
            Ok(())
        }
        Format::Csv => {
            let mut writer = ::csv::Writer::from_writer(out);
            let error = |e: ::csv::Error| io::Error::other(e.to_string());
            writer.write_record(HEADER).map_err(error)?;
            for a in actions {
                writer
                    .write_record(cells(a).iter().map(|c| for_csv(c).into_owned()))
                    .map_err(error)?;
            }
            writer.flush()
        }
        Format::Text => {
            if actions.is_empty() {
                return writeln!(out, "No clean-up actions recorded.");
            }
            let mut table = Table::new(&HEADER.map(|h| (h, Align::Left)));
            for a in actions {
                table.row(cells(a));
            }
            out.write_all(table.render().as_bytes())
        }
    }
}

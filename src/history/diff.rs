//! `diff`: what changed on a host between two of its scans.

use super::conn::{Conn, Value, int, key_at, placeholders, text};
use super::key::{host_key, time_from_db};
use super::{DiffQuery, HistoryError, HostDiff, ScanRef};

pub(super) fn diff(conn: &mut impl Conn, query: &DiffQuery) -> Result<Vec<HostDiff>, HistoryError> {
    let pairs = match query.between {
        Some((from, to)) => vec![named_pair(conn, from, to)?],
        None => last_pairs(conn, query.host.as_deref())?,
    };
    let mut diffs = Vec::with_capacity(pairs.len());
    for (host, from, to) in pairs {
        let ids: Vec<i64> = from.iter().map(|s| s.id).chain([to.id]).collect();
        let values: Vec<Value> = ids.iter().map(|&id| id.into()).collect();
        let sql = format!(
            "SELECT g.scan_id, f.verdict, f.kind, f.session_id, f.user_name, f.login_time \
             FROM sighting g JOIN finding f ON f.id = g.finding_id \
             WHERE g.scan_id IN ({})",
            placeholders(1, values.len())
        );
        let rows = conn.query(&sql, &values)?;
        let mut before = std::collections::BTreeSet::new();
        let mut after = std::collections::BTreeSet::new();
        for row in &rows {
            let key = key_at(&host, row, 1)?;
            if int(row, 0)? == to.id {
                after.insert(key);
            } else {
                before.insert(key);
            }
        }
        diffs.push(HostDiff {
            new: after.difference(&before).cloned().collect(),
            gone: before.difference(&after).cloned().collect(),
            still: after.intersection(&before).cloned().collect(),
            host,
            from,
            to,
        });
    }
    Ok(diffs)
}

/// Each host's last two reachable scans of every user (the newest second).
pub(super) fn last_pairs(
    conn: &mut impl Conn,
    host: Option<&str>,
) -> Result<Vec<(String, Option<ScanRef>, ScanRef)>, HistoryError> {
    let hosts = match host {
        Some(name) => conn.query(
            "SELECT id, name FROM host WHERE name = ?1",
            &[host_key(name).into()],
        )?,
        None => conn.query("SELECT id, name FROM host ORDER BY name", &[])?,
    };
    let mut pairs = Vec::new();
    for row in &hosts {
        let last = conn.query(
            "SELECT id, scanned_at FROM scan WHERE host_id = ?1 AND scope = '' AND seq IS NOT NULL \
             ORDER BY seq DESC LIMIT 2",
            &[int(row, 0)?.into()],
        )?;
        let refs = last
            .iter()
            .map(|r| {
                Ok(ScanRef {
                    id: int(r, 0)?,
                    scanned_at: time_from_db(int(r, 1)?)?,
                })
            })
            .collect::<Result<Vec<_>, HistoryError>>()?;
        let mut refs = refs.into_iter();
        if let Some(to) = refs.next() {
            pairs.push((text(row, 1)?, refs.next(), to));
        }
    }
    Ok(pairs)
}

pub(super) fn named_pair(
    conn: &mut impl Conn,
    from: i64,
    to: i64,
) -> Result<(String, Option<ScanRef>, ScanRef), HistoryError> {
    let mut scan = |id: i64| -> Result<(String, ScanRef), HistoryError> {
        let rows = conn.query(
            "SELECT h.name, s.scanned_at FROM scan s JOIN host h ON h.id = s.host_id WHERE s.id = ?1",
            &[id.into()],
        )?;
        let row = rows
            .first()
            .ok_or_else(|| HistoryError::Invalid(format!("no scan {id} in the history")))?;
        Ok((
            text(row, 0)?,
            ScanRef {
                id,
                scanned_at: time_from_db(int(row, 1)?)?,
            },
        ))
    };
    let (host_from, from) = scan(from)?;
    let (host_to, to) = scan(to)?;
    if host_from != host_to {
        return Err(HistoryError::Invalid(format!(
            "scan {} is of {host_from} and scan {} of {host_to}: a diff compares two scans of one host",
            from.id, to.id
        )));
    }
    Ok((host_to, Some(from), to))
}

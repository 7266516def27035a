//! The schema, as numbered migrations: migration N takes a database from
//! version N-1 to N. A released migration is never edited; a change is a
//! new one. The version is SQLite's `PRAGMA user_version`.
//!
//! Times are microseconds since the epoch (INTEGER). docs/history.md
//! describes the tables.

/// Version 1: hosts, scans, findings (by key) and sightings (a finding seen
/// by a scan).
const V1: &str = "
CREATE TABLE host (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
);
CREATE TABLE scan (
    id INTEGER PRIMARY KEY,
    host_id INTEGER NOT NULL REFERENCES host (id),
    scope TEXT NOT NULL,
    scanned_at INTEGER NOT NULL,
    recorded_at INTEGER NOT NULL,
    outcome TEXT NOT NULL,
    origin TEXT NOT NULL,
    failed_sources TEXT NOT NULL,
    reachable INTEGER NOT NULL,
    seq INTEGER,
    UNIQUE (host_id, scope, scanned_at)
);
CREATE INDEX scan_seq ON scan (host_id, scope, seq);
CREATE INDEX scan_time ON scan (scanned_at);
CREATE TABLE finding (
    id INTEGER PRIMARY KEY,
    host_id INTEGER NOT NULL REFERENCES host (id),
    verdict TEXT NOT NULL,
    kind TEXT NOT NULL,
    session_id TEXT NOT NULL,
    user_name TEXT NOT NULL,
    account TEXT NOT NULL,
    login_time INTEGER NOT NULL,
    UNIQUE (host_id, verdict, kind, session_id, user_name, login_time)
);
CREATE INDEX finding_account ON finding (account);
CREATE TABLE sighting (
    finding_id INTEGER NOT NULL REFERENCES finding (id),
    scan_id INTEGER NOT NULL REFERENCES scan (id),
    lingering INTEGER NOT NULL,
    idle_secs INTEGER,
    PRIMARY KEY (finding_id, scan_id)
) WITHOUT ROWID;
CREATE INDEX sighting_scan ON sighting (scan_id);
";

/// Every migration, in order; the database's version is how many it has had.
pub const SQLITE: &[&str] = &[V1];

//! Scan history: every scan's findings kept between runs, so a report can
//! say how long a finding has been there ("lingering since", "seen N
//! times"), `--min-age` can hold back findings seen only briefly, and
//! `history` / `diff` can show what changed.
//!
//! One [`Store`] trait, one implementation of its queries ([`sql::SqlStore`])
//! over a minimal connection trait ([`sql::Conn`]); the backend is the
//! connection (SQLite, [`sqlite`]). The schema and the finding key are
//! described in docs/history.md.

pub mod actions;
pub mod annotate;
mod conn;
mod diff;
pub mod key;
#[cfg(feature = "postgres")]
pub mod postgres;
pub mod report;
mod schema;
pub mod sql;
pub mod sqlite;
#[cfg(test)]
mod store_tests;

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use serde::Serialize;

use crate::analyze::{Analysis, FindingHistory, SessionKind, Verdict};
use crate::report::sink::HostOutcome;

pub use actions::ActionRecord;
pub use key::FindingKey;

#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("SQLite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("PostgreSQL: {0}")]
    Postgres(String),
    #[error(
        "the history database has schema version {found}, newer than this lingerscan knows ({known}): \
         a newer lingerscan wrote it; upgrade, or use another --db"
    )]
    TooNew { found: i64, known: i64 },
    #[error("the history database holds data this lingerscan cannot read: {0}")]
    Corrupt(String),
    #[error("cannot create {path}: {source}")]
    Create {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Invalid(String),
}

/// Where a scan's record came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Collected by this run (`scan`, fleets).
    Scan,
    /// A snapshot or report read by `analyze --record`.
    Analyze,
}

impl Origin {
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Scan => "scan",
            Origin::Analyze => "analyze",
        }
    }
}

/// One host's scan, to be recorded.
pub struct ScanRecord<'a> {
    pub analysis: &'a Analysis,
    pub outcome: HostOutcome,
    pub origin: Origin,
}

impl ScanRecord<'_> {
    /// The scope of a scan: which users it looked at (`--user`, lower-cased;
    /// empty for every user). Runs are counted among scans of one scope, so
    /// that a scan of one user does not break the runs of the others.
    pub fn scope(&self) -> String {
        self.analysis
            .target
            .as_deref()
            .map(str::to_lowercase)
            .unwrap_or_default()
    }
}

/// What `history` asks for; every filter optional.
#[derive(Debug, Clone, Default)]
pub struct HistoryQuery {
    pub host: Option<String>,
    /// `DOMAIN\user` matches that account; a bare `user` (or `user@domain`) matches the name in any domain.
    pub user: Option<String>,
    /// Only runs (or scans) seen at or after this moment.
    pub since: Option<Timestamp>,
}

/// One unbroken run of sightings of one finding.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Run {
    pub host: String,
    pub verdict: Verdict,
    pub kind: SessionKind,
    pub session_id: String,
    pub user: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub login_time: Option<Timestamp>,
    /// The `--user` of the scans this run was seen in (empty: every user).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub scope: String,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    pub sightings: u64,
    /// Seen by the host's latest scan of that scope (still there).
    pub present: bool,
}

/// One recorded scan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScanRow {
    pub id: i64,
    pub host: String,
    pub scanned_at: Timestamp,
    pub outcome: String,
    pub origin: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub scope: String,
    /// `source:kind` of each source that could not be read.
    pub failed_sources: Vec<String>,
    /// Findings recorded (every verdict but ACTIVE).
    pub findings: u64,
}

#[derive(Debug, Clone, Default)]
pub struct DiffQuery {
    pub host: Option<String>,
    /// Compare these two scans (ids from `history --scans`) instead of each host's last two.
    pub between: Option<(i64, i64)>,
}

/// A scan as a diff names it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScanRef {
    pub id: i64,
    pub scanned_at: Timestamp,
}

/// What changed on one host between two scans.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HostDiff {
    pub host: String,
    /// None: the host has one scan only, and all it holds is new.
    pub from: Option<ScanRef>,
    pub to: ScanRef,
    pub new: Vec<FindingKey>,
    pub gone: Vec<FindingKey>,
    pub still: Vec<FindingKey>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Pruned {
    pub scans: u64,
    pub findings: u64,
}

/// A history database.
pub trait Store: Send {
    /// Record one host's scan in one transaction; the history of each of
    /// its findings, in order (None for ACTIVE findings, which are not
    /// kept, and for every finding of a host nothing could be read from).
    /// Recording the same host, scope and moment again adds nothing.
    fn record(
        &mut self,
        scan: &ScanRecord<'_>,
    ) -> Result<Vec<Option<FindingHistory>>, HistoryError>;
    /// Unbroken runs of findings, per host and finding, oldest first.
    fn history(&mut self, query: &HistoryQuery) -> Result<Vec<Run>, HistoryError>;
    /// Recorded scans, oldest first.
    fn scans(&mut self, query: &HistoryQuery) -> Result<Vec<ScanRow>, HistoryError>;
    /// New, gone and still there, per host.
    fn diff(&mut self, query: &DiffQuery) -> Result<Vec<HostDiff>, HistoryError>;
    /// Forget scans from before `before`, and findings no scan saw since.
    /// Clean-up actions are kept: they are the audit trail.
    fn prune(&mut self, before: Timestamp) -> Result<Pruned, HistoryError>;
    /// Record what `close` did; returns the action's row id.
    fn record_action(&mut self, action: &ActionRecord) -> Result<i64, HistoryError>;
    /// What the re-scan after an action saw (`gone`, `still there`).
    fn check_action(&mut self, id: i64, checked: &str) -> Result<(), HistoryError>;
    /// Recorded actions, oldest first (`host`, `user`, `since` filter).
    fn actions(&mut self, query: &HistoryQuery) -> Result<Vec<ActionRecord>, HistoryError>;
}

/// Open the database at `path` (created, with its folder, when missing).
pub fn open(path: &Path) -> Result<Box<dyn Store>, HistoryError> {
    if let Some(url) = postgres_url(path) {
        return open_postgres(url);
    }
    Ok(Box::new(sql::SqlStore::new(sqlite::SqliteConn::open(
        path,
    )?)))
}

/// `--db postgres://…` (or `postgresql://…`): a server, not a file.
pub fn postgres_url(path: &Path) -> Option<&str> {
    path.to_str()
        .filter(|s| s.starts_with("postgres://") || s.starts_with("postgresql://"))
}

/// The database as messages name it: a URL's password masked.
pub fn display_location(path: &Path) -> String {
    let Some(url) = postgres_url(path) else {
        return path.display().to_string();
    };
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => {
            let user = &rest[..at];
            let user = user.split_once(':').map_or(user, |(name, _)| name);
            format!("{scheme}://{user}:***{}", &rest[at..])
        }
        None => url.to_string(),
    }
}

#[cfg(feature = "postgres")]
fn open_postgres(url: &str) -> Result<Box<dyn Store>, HistoryError> {
    Ok(Box::new(sql::SqlStore::new(postgres::PgConn::connect(
        url,
    )?)))
}

#[cfg(not(feature = "postgres"))]
fn open_postgres(_url: &str) -> Result<Box<dyn Store>, HistoryError> {
    Err(HistoryError::Invalid(
        "this lingerscan was built without PostgreSQL (feature `postgres`)".into(),
    ))
}

/// File name of the database in the data directory.
const FILE: &str = "history.sqlite";

/// The default database: `$XDG_DATA_HOME/lingerscan/history.sqlite` (else
/// `~/.local/share/lingerscan/…`) on Unix, `%LOCALAPPDATA%\lingerscan\…`
/// on Windows. None when the environment names no such folder.
pub fn default_path() -> Option<PathBuf> {
    default_path_in(|name| std::env::var_os(name), cfg!(windows))
}

/// [`default_path`] with the environment given (tests). Done by hand: the
/// rule is three variables, not worth a crate.
pub fn default_path_in(env: impl Fn(&str) -> Option<OsString>, windows: bool) -> Option<PathBuf> {
    // Relative values are ignored, as the XDG spec asks (has_root: a
    // Windows path without its drive still counts).
    let absolute = |name: &str| env(name).map(PathBuf::from).filter(|p| p.has_root());
    let base = if windows {
        absolute("LOCALAPPDATA")?
    } else {
        absolute("XDG_DATA_HOME").or_else(|| absolute("HOME").map(|h| h.join(".local/share")))?
    };
    Some(base.join("lingerscan").join(FILE))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<OsString> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| OsString::from(v))
        }
    }

    #[test]
    fn default_path_follows_xdg_then_home() {
        let p = default_path_in(env(&[("XDG_DATA_HOME", "/x"), ("HOME", "/h")]), false);
        assert_eq!(p, Some(PathBuf::from("/x/lingerscan/history.sqlite")));
        let p = default_path_in(env(&[("XDG_DATA_HOME", "rel"), ("HOME", "/h")]), false);
        assert_eq!(
            p,
            Some(PathBuf::from("/h/.local/share/lingerscan/history.sqlite"))
        );
        assert_eq!(default_path_in(env(&[]), false), None);
    }

    #[test]
    fn a_url_password_is_never_shown() {
        let shown = |s: &str| display_location(Path::new(s));
        assert_eq!(
            shown("postgres://scan:s3cret@db:5432/hist"),
            "postgres://scan:***@db:5432/hist"
        );
        assert_eq!(shown("postgresql://db/hist"), "postgresql://db/hist");
        assert_eq!(shown("/var/h.sqlite"), "/var/h.sqlite");
    }

    #[test]
    fn default_path_on_windows_is_local_app_data() {
        let p = default_path_in(env(&[("LOCALAPPDATA", "/l"), ("HOME", "/h")]), true);
        assert_eq!(p, Some(PathBuf::from("/l/lingerscan/history.sqlite")));
        assert_eq!(default_path_in(env(&[("HOME", "/h")]), true), None);
    }
}

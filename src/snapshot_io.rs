//! Reading and writing snapshot files, with errors that name the file and
//! the place in it.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::model::{HostSnapshot, SCHEMA_VERSION};

#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}:{column}: not a valid snapshot: {message}")]
    Invalid {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error(
        "{path}: snapshot schema_version {found} is not supported (this lingerscan reads version {SCHEMA_VERSION})"
    )]
    Version { path: PathBuf, found: u64 },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

#[derive(Deserialize)]
struct VersionProbe {
    schema_version: Option<u64>,
}

/// Parse snapshot JSON; `path` only names the source in errors.
pub fn parse(text: &str, path: &Path) -> Result<HostSnapshot, SnapshotError> {
    let invalid = |e: serde_json::Error| SnapshotError::Invalid {
        path: path.to_path_buf(),
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    };
    // Check the version first so that a future layout gets a clear message,
    // not a confusing complaint about some field.
    let probe: VersionProbe = serde_json::from_str(text).map_err(invalid)?;
    match probe.schema_version {
        Some(v) if v == u64::from(SCHEMA_VERSION) => {}
        Some(found) => {
            return Err(SnapshotError::Version {
                path: path.to_path_buf(),
                found,
            });
        }
        None => {
            return Err(SnapshotError::Invalid {
                path: path.to_path_buf(),
                line: 1,
                column: 1,
                message: "missing field `schema_version`".to_string(),
            });
        }
    }
    serde_json::from_str(text).map_err(invalid)
}

/// Read a snapshot file (`-` is standard input).
pub fn load(path: &Path) -> Result<HostSnapshot, SnapshotError> {
    let read_err = |source| SnapshotError::Read {
        path: path.to_path_buf(),
        source,
    };
    let text = if path.as_os_str() == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(read_err)?;
        text
    } else {
        std::fs::read_to_string(path).map_err(read_err)?
    };
    parse(&text, path)
}

/// Snapshot as pretty JSON.
pub fn to_json(snapshot: &HostSnapshot) -> String {
    // Serializing plain data with string keys cannot fail.
    let mut text = serde_json::to_string_pretty(snapshot).unwrap_or_default();
    text.push('\n');
    text
}

/// Write a snapshot file (`-` is standard output).
pub fn save(snapshot: &HostSnapshot, path: &Path) -> Result<(), SnapshotError> {
    let text = to_json(snapshot);
    let result = if path.as_os_str() == "-" {
        use std::io::Write;
        std::io::stdout().write_all(text.as_bytes())
    } else {
        std::fs::write(path, text)
    };
    result.map_err(|source| SnapshotError::Write {
        path: path.to_path_buf(),
        source,
    })
}

/// The JSON Schema of the snapshot format.
pub fn json_schema() -> String {
    let schema = schemars::schema_for!(HostSnapshot);
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}

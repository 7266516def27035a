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
    #[error("{path}:{line}:{column}: byte {offset} is not UTF-8 (snapshots are UTF-8 JSON)")]
    Encoding {
        path: PathBuf,
        offset: usize,
        line: usize,
        column: usize,
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
    let bytes = if path.as_os_str() == "-" {
        let mut bytes = Vec::new();
        std::io::stdin().read_to_end(&mut bytes).map_err(read_err)?;
        bytes
    } else {
        std::fs::read(path).map_err(read_err)?
    };
    parse(&decode_text(bytes, path)?, path)
}

/// The file's text: UTF-8, with a leading byte-order mark (as some Windows
/// editors write) dropped; anything else is an error that says where.
pub fn decode_text(mut bytes: Vec<u8>, path: &Path) -> Result<String, SnapshotError> {
    const BOM: &[u8] = b"\xef\xbb\xbf";
    if bytes.starts_with(BOM) {
        bytes.drain(..BOM.len());
    }
    String::from_utf8(bytes).map_err(|e| {
        let offset = e.utf8_error().valid_up_to();
        let before = &e.as_bytes()[..offset];
        let line_start = before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        SnapshotError::Encoding {
            path: path.to_path_buf(),
            offset,
            line: before.iter().filter(|&&b| b == b'\n').count() + 1,
            column: offset - line_start + 1,
        }
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_byte_order_mark_is_accepted() {
        let text = decode_text(b"\xef\xbb\xbf{}".to_vec(), Path::new("s.json")).unwrap();
        assert_eq!(text, "{}");
    }

    #[test]
    fn invalid_utf8_names_its_byte_line_and_column() {
        let err = decode_text(
            b"{\n  \"host\": \"a\xffb\"\n}".to_vec(),
            Path::new("s.json"),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "s.json:2:13: byte 14 is not UTF-8 (snapshots are UTF-8 JSON)"
        );
    }
}

//! Reading and writing snapshot files, with errors that name the file and
//! the place in it.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::model::{HostSnapshot, READABLE_SCHEMA_VERSIONS, SCHEMA_VERSION};

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
        "{path}: snapshot schema_version {found} is not supported (this lingerscan reads versions 1 to {SCHEMA_VERSION})"
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
///
/// One pass over the text: the version is checked on the parsed snapshot.
/// Only when the text does not parse is it read again, for its version
/// alone, so that a future layout gets a clear message rather than a
/// confusing complaint about some field.
pub fn parse(text: &str, path: &Path) -> Result<HostSnapshot, SnapshotError> {
    let invalid = |e: serde_json::Error| SnapshotError::Invalid {
        path: path.to_path_buf(),
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    };
    let version_error = |found: u64| SnapshotError::Version {
        path: path.to_path_buf(),
        found,
    };
    match serde_json::from_str::<HostSnapshot>(text) {
        Ok(snapshot) if READABLE_SCHEMA_VERSIONS.contains(&snapshot.schema_version) => Ok(snapshot),
        Ok(snapshot) => Err(version_error(u64::from(snapshot.schema_version))),
        Err(error) => {
            let probe: VersionProbe = serde_json::from_str(text).map_err(invalid)?;
            match probe.schema_version {
                Some(v)
                    if READABLE_SCHEMA_VERSIONS
                        .iter()
                        .any(|&known| u64::from(known) == v) =>
                {
                    Err(invalid(error))
                }
                Some(found) => Err(version_error(found)),
                None => Err(SnapshotError::Invalid {
                    path: path.to_path_buf(),
                    line: 1,
                    column: 1,
                    message: "missing field `schema_version`".to_string(),
                }),
            }
        }
    }
}

/// Read a snapshot file (`-` is standard input).
///
/// The whole text is read, then parsed: parsing from text is twice as fast
/// as parsing from a reader (which copies every string through a scratch
/// buffer), and the text is freed before the analysis starts.
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

/// Write a snapshot file (`-` is standard output), pretty JSON streamed
/// through a buffer (the same bytes as [`to_json`], never held whole).
pub fn save(snapshot: &HostSnapshot, path: &Path) -> Result<(), SnapshotError> {
    use std::io::Write;
    fn write_to(snapshot: &HostSnapshot, out: impl Write) -> std::io::Result<()> {
        let mut out = std::io::BufWriter::with_capacity(1 << 16, out);
        serde_json::to_writer_pretty(&mut out, snapshot)?;
        out.write_all(b"\n")?;
        out.flush()
    }
    let result = if path.as_os_str() == "-" {
        write_to(snapshot, std::io::stdout().lock())
    } else {
        std::fs::File::create(path).and_then(|file| write_to(snapshot, file))
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

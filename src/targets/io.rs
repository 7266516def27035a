//! Reading target lists from files and standard input; the parsing is in
//! [`super::parse`].

use std::io::BufRead;
use std::path::{Path, PathBuf};

use super::parse::{LineError, Spec, parse_line};

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Entry(#[from] LineError),
    #[error("standard input is read only once (`-` given twice)")]
    StdinTwice,
}

/// The entries of `path` (`-`: standard input), one per line.
pub fn read_list(path: &Path) -> Result<Vec<Spec>, ReadError> {
    let io = |source| ReadError::Io {
        path: path.to_path_buf(),
        source,
    };
    if path.as_os_str() == "-" {
        let stdin = std::io::stdin();
        return read_lines("<stdin>", stdin.lock()).map_err(|e| e.with_path(path));
    }
    let file = std::fs::File::open(path).map_err(io)?;
    read_lines(&path.display().to_string(), std::io::BufReader::new(file))
        .map_err(|e| e.with_path(path))
}

/// Each line read and parsed in turn: the file's text is never held whole.
fn read_lines(origin: &str, mut reader: impl BufRead) -> Result<Vec<Spec>, ReadError> {
    let mut specs = Vec::new();
    let mut line = String::new();
    let mut number = 0;
    loop {
        line.clear();
        let read = reader
            .read_line(&mut line)
            .map_err(|source| ReadError::Io {
                path: PathBuf::new(),
                source,
            })?;
        if read == 0 {
            return Ok(specs);
        }
        number += 1;
        // A byte-order mark, as Windows editors write, on the first line.
        let text = if number == 1 {
            line.trim_start_matches('\u{feff}')
        } else {
            &line
        };
        if let Some(spec) = parse_line(origin, number, text)? {
            specs.push(spec);
        }
    }
}

impl ReadError {
    fn with_path(self, path: &Path) -> ReadError {
        match self {
            ReadError::Io { source, .. } => ReadError::Io {
                path: path.to_path_buf(),
                source,
            },
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_with_comments_and_a_bad_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hosts.txt");
        std::fs::write(&path, "\u{feff}# servers\nsrv1\n10.0.0.0/30 # lab\n").unwrap();
        assert_eq!(read_list(&path).unwrap().len(), 2);
        std::fs::write(&path, "srv1\nsrv 2\n").unwrap();
        let err = read_list(&path).unwrap_err().to_string();
        assert!(err.contains("hosts.txt:2: 'srv 2'"), "{err}");
        let missing = read_list(&dir.path().join("none")).unwrap_err().to_string();
        assert!(missing.starts_with("cannot read "), "{missing}");
    }
}

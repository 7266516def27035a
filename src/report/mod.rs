//! Renderers. Text reproduces the script's report; the machine formats carry
//! the same facts (the analysis, and the snapshot its evidence points into).

pub mod csv;
pub mod json;
pub mod sanitize;
pub mod sink;
pub(crate) mod table;
pub mod text;

use clap::ValueEnum;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Format {
    /// The script's five sections and summary, plus per-session findings.
    #[default]
    Text,
    /// One JSON document for all hosts.
    Json,
    /// One JSON line per host, written as each host finishes.
    Ndjson,
    /// One row per finding.
    Csv,
}

//! What a run scans: `--host` (repeatable), `--hosts-file`, `--exclude`.
//!
//! [`parse`] turns text into entries (pure; fuzzed and property-tested),
//! [`set`] deduplicates them into a lazy [`TargetSet`], [`io`] reads the
//! files. Every entry is checked before any host is scanned, and a bad one
//! is an error naming where it was written.

pub mod io;
pub mod parse;
pub mod set;

pub use parse::{EntryError, LineError, Spec, parse_entry, parse_line, parse_list};
pub mod order;
pub use set::{MAX_TARGETS, SetError, SetIndex, Shard, Target, TargetSet};

//! What the `lingerscan close` tests share: a run's output as text, and the
//! actions its history database recorded.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

/// stdout then stderr, for assertion messages.
pub fn text(output: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// `lingerscan history --actions` of the database at `db`.
pub fn actions(db: &Path) -> Vec<Value> {
    let output = Command::new(env!("CARGO_BIN_EXE_lingerscan"))
        .args(["history", "--actions", "-f", "json", "--db"])
        .arg(db)
        .output()
        .expect("run lingerscan history");
    let doc: Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(&output)));
    doc["actions"].as_array().cloned().unwrap_or_default()
}

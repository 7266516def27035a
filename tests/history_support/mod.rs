//! What the history tests share: the binary with the history on and its
//! data directory in the test's temporary folder (never $HOME), its JSON
//! output, and the leaked-logon fixture as collected on a chosen day.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

pub const FIXTURE: &str = "tests/fixtures/leaked_logon.json";
/// The leaked logon of the fixture (TESTDOMAIN\bob, no process).
pub const LEAKED: &str = "905432";

/// `lingerscan` with the history on, its data directory under `home`.
pub fn command(home: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_lingerscan"));
    command
        .env_remove("LINGERSCAN_NO_HISTORY")
        .env_remove("LINGERSCAN_DB")
        .env("XDG_DATA_HOME", home)
        .env("HOME", home)
        .stdin(Stdio::null());
    command
}

/// `lingerscan ARGS`, run to completion.
pub fn lingerscan(home: &Path, args: &[&str]) -> Output {
    command(home).args(args).output().expect("run lingerscan")
}

/// One `analyze --record` process per batch of snapshot files, all at
/// once (`args` and `env` added to each), each waited for and its standard
/// error free of warnings: several scanners writing one database.
pub fn record_at_once<P: AsRef<std::ffi::OsStr>>(
    home: &Path,
    batches: &[Vec<P>],
    args: &[&str],
    env: &[(&str, &str)],
) {
    let children: Vec<_> = batches
        .iter()
        .map(|files| {
            command(home)
                .envs(env.iter().copied())
                .arg("analyze")
                .args(files)
                .args(["--record", "-f", "ndjson"])
                .args(args)
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("start lingerscan")
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().expect("wait");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("warning"), "{stderr}");
    }
}

pub fn json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

/// The fixture as collected on `day` (days after 2025-10-10), with or
/// without the leaked logon, written into `dir`.
pub fn snapshot(dir: &Path, host: &str, day: u32, leaked: bool) -> PathBuf {
    let text = std::fs::read_to_string(FIXTURE).expect("fixture");
    let mut snap: Value = serde_json::from_str(&text).expect("fixture JSON");
    snap["host"] = host.into();
    snap["collected_at"] = format!("2025-10-{:02}T10:30:00Z", 10 + day).into();
    if !leaked {
        let rows = snap["logon_sessions"]["rows"]
            .as_array_mut()
            .expect("logon rows");
        rows.retain(|r| r["logon_id"] != LEAKED);
    }
    let path = dir.join(format!("{host}-{day}-{leaked}.json"));
    std::fs::write(&path, snap.to_string()).expect("write snapshot");
    path
}

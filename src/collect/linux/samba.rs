//! Samba server sessions from `smbstatus --json`.
//!
//! smbstatus reads Samba's databases directly; it answers the same whether
//! or not smbd is running (with no sessions when it is not), so "smbd not
//! running" is an empty list, not a failure. smbstatus missing is
//! NotAvailable, its "only works as root" refusal is AccessDenied, any other
//! non-zero exit is Other (with its stderr), output that is
//! not the expected JSON is ParseError, and a hang is Timeout (the child and
//! anything it started are killed: it runs in its own process group).
//!
//! Shape of the JSON (Samba 4.17): `sessions` (keyed by session id:
//! `server_id.pid`, `username`, `remote_machine`, `hostname`,
//! `session_dialect`, `encryption`/`signing` {cipher, degree}), `tcons`
//! (`session_id`, `service`, `connected_at`) and `open_files` (per path, `opens`
//! each with `server_id.pid`). Pids and ids are strings there; numbers are
//! accepted too.

use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use jiff::Timestamp;
use serde::Deserialize;

use crate::collect::LinuxPaths;
use crate::model::{FailureKind, SmbSession, SourceFailure};

/// A JSON id that Samba prints as a string but that could be a number.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum Id {
    Text(String),
    Number(u64),
}

impl Id {
    fn text(&self) -> String {
        match self {
            Id::Text(t) => t.clone(),
            Id::Number(n) => n.to_string(),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
struct ServerId {
    pid: Option<Id>,
}

impl ServerId {
    fn pid(&self) -> Option<u32> {
        self.pid.as_ref()?.text().parse().ok()
    }
}

#[derive(Debug, Default, Deserialize)]
struct CipherDegree {
    cipher: Option<String>,
    degree: Option<String>,
}

impl CipherDegree {
    /// `none`, or `AES-128-GMAC (partial)`.
    fn describe(&self) -> Option<String> {
        let cipher = self
            .cipher
            .as_deref()
            .filter(|c| !c.is_empty() && *c != "-");
        match (cipher, self.degree.as_deref()) {
            (Some(c), Some(d)) => Some(format!("{c} ({d})")),
            (Some(c), None) => Some(c.to_string()),
            (None, Some(d)) => Some(d.to_string()),
            (None, None) => None,
        }
    }
}

#[derive(Debug, Deserialize)]
struct JsonSession {
    session_id: Option<Id>,
    #[serde(default)]
    server_id: ServerId,
    username: Option<String>,
    remote_machine: Option<String>,
    hostname: Option<String>,
    session_dialect: Option<String>,
    #[serde(default)]
    encryption: CipherDegree,
    #[serde(default)]
    signing: CipherDegree,
}

#[derive(Debug, Deserialize)]
struct JsonTcon {
    service: Option<String>,
    session_id: Option<Id>,
    connected_at: Option<String>,
}

#[derive(Debug, Deserialize)]
struct JsonOpen {
    #[serde(default)]
    server_id: ServerId,
}

#[derive(Debug, Deserialize)]
struct JsonOpenFile {
    #[serde(default)]
    opens: BTreeMap<String, JsonOpen>,
}

#[derive(Debug, Deserialize)]
struct JsonStatus {
    /// Required: output without it is not smbstatus's.
    sessions: BTreeMap<String, JsonSession>,
    #[serde(default)]
    tcons: BTreeMap<String, JsonTcon>,
    #[serde(default)]
    open_files: BTreeMap<String, JsonOpenFile>,
}

/// Parse `smbstatus --json` output into sessions. Pure.
pub fn parse_status_json(text: &str) -> Result<Vec<SmbSession>, serde_json::Error> {
    let status: JsonStatus = serde_json::from_str(text)?;
    let mut open_by_pid: BTreeMap<u32, u32> = BTreeMap::new();
    for open in status.open_files.values().flat_map(|f| f.opens.values()) {
        if let Some(pid) = open.server_id.pid() {
            *open_by_pid.entry(pid).or_default() += 1;
        }
    }
    let mut sessions: Vec<SmbSession> = status
        .sessions
        .iter()
        .map(|(key, s)| {
            let session_id = s.session_id.as_ref().map_or_else(|| key.clone(), Id::text);
            let tcons: Vec<&JsonTcon> = status
                .tcons
                .values()
                .filter(|t| {
                    t.session_id.as_ref().map(Id::text).as_deref() == Some(session_id.as_str())
                })
                .collect();
            let mut shares: Vec<String> = tcons.iter().filter_map(|t| t.service.clone()).collect();
            shares.sort();
            shares.dedup();
            let connected_at = tcons
                .iter()
                .filter_map(|t| parse_time(t.connected_at.as_deref()?))
                .min();
            let server_pid = s.server_id.pid();
            let (domain, user) = split_user(s.username.as_deref());
            SmbSession {
                client: s
                    .remote_machine
                    .clone()
                    .filter(|m| !m.is_empty())
                    .or_else(|| s.hostname.clone())
                    .unwrap_or_default(),
                user,
                domain,
                session_id: Some(session_id),
                open_files: Some(
                    server_pid
                        .and_then(|pid| open_by_pid.get(&pid).copied())
                        .unwrap_or(0),
                ),
                dialect: s.session_dialect.clone(),
                encryption: s.encryption.describe(),
                signing: s.signing.describe(),
                shares,
                connected_at,
                server_pid,
                ..SmbSession::default()
            }
        })
        .collect();
    sessions.sort_by(|a, b| (a.server_pid, &a.session_id).cmp(&(b.server_pid, &b.session_id)));
    Ok(sessions)
}

/// Winbind users come as `DOMAIN\user`; local users as `user`.
fn split_user(username: Option<&str>) -> (Option<String>, Option<String>) {
    match username {
        None => (None, None),
        Some(name) => match name.split_once('\\') {
            Some((domain, user)) => (Some(domain.to_string()), Some(user.to_string())),
            None => (None, Some(name.to_string())),
        },
    }
}

fn parse_time(text: &str) -> Option<Timestamp> {
    text.parse().ok()
}

/// What running smbstatus produced.
#[derive(Debug)]
pub struct SambaResult {
    pub sessions: Vec<SmbSession>,
    pub notes: Vec<String>,
}

/// Run smbstatus and parse its answer, within `timeout`.
pub fn collect(paths: &LinuxPaths, timeout: Duration) -> Result<SambaResult, SourceFailure> {
    let mut command = Command::new(&paths.smbstatus);
    command.arg("--json");
    if let Some(conf) = &paths.smb_conf {
        command.arg("-s").arg(conf);
    }
    let output = run_with_timeout(command, timeout, &paths.smbstatus.display().to_string())?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.success {
        // Samba 4.17 as non-root: exit 1, "smbstatus only works as root!".
        let kind = if stderr.contains("only works as root") {
            FailureKind::AccessDenied
        } else {
            FailureKind::Other
        };
        return Err(SourceFailure::new(
            kind,
            output.code.map(i64::from),
            format!(
                "{} --json failed ({}): {}",
                paths.smbstatus.display(),
                output
                    .code
                    .map_or_else(|| "killed by a signal".to_string(), |c| format!("exit {c}")),
                excerpt(&stderr)
            ),
        ));
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let sessions = parse_status_json(&stdout).map_err(|e| {
        SourceFailure::new(
            FailureKind::ParseError,
            None,
            format!(
                "{} --json printed unexpected output ({e}): {}",
                paths.smbstatus.display(),
                excerpt(&stdout)
            ),
        )
    })?;
    let mut notes = Vec::new();
    if stderr.contains("not initialised") {
        notes.push(
            "smbstatus: Samba's lock database is not initialised (smbd has served no client here)"
                .to_string(),
        );
    }
    Ok(SambaResult { sessions, notes })
}

/// The first few hundred characters of a tool's output, for a failure message.
fn excerpt(text: &str) -> String {
    const MAX: usize = 400;
    let text = text.trim();
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None if text.is_empty() => "(no output)".to_string(),
        None => text.to_string(),
    }
}

struct ToolOutput {
    success: bool,
    code: Option<i32>,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

/// Run `command` with stdout/stderr captured; kill it (and its process group) after `timeout`.
fn run_with_timeout(
    mut command: Command,
    timeout: Duration,
    name: &str,
) -> Result<ToolOutput, SourceFailure> {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = command.spawn().map_err(|e| {
        let kind = match e.kind() {
            std::io::ErrorKind::NotFound => FailureKind::NotAvailable,
            std::io::ErrorKind::PermissionDenied => FailureKind::AccessDenied,
            _ => FailureKind::Other,
        };
        let hint = if kind == FailureKind::NotAvailable {
            " (is Samba installed?)"
        } else {
            ""
        };
        SourceFailure::new(
            kind,
            e.raw_os_error().map(i64::from),
            format!("cannot run {name}: {e}{hint}"),
        )
    })?;
    let reader = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            bytes
        })
    };
    let stdout = reader(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let stderr = reader(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );

    let started = Instant::now();
    let mut pause = Duration::from_millis(1);
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() >= timeout => {
                super::sys::kill_process_group(child.id());
                let _ = child.kill();
                let _ = child.wait();
                return Err(SourceFailure::new(
                    FailureKind::Timeout,
                    None,
                    format!(
                        "{name} did not finish within {} ms and was killed",
                        timeout.as_millis()
                    ),
                ));
            }
            Ok(None) => {
                std::thread::sleep(pause.min(timeout.saturating_sub(started.elapsed())));
                pause = (pause * 2).min(Duration::from_millis(20));
            }
            Err(e) => {
                super::sys::kill_process_group(child.id());
                let _ = child.kill();
                let _ = child.wait();
                return Err(SourceFailure::new(
                    FailureKind::Other,
                    e.raw_os_error().map(i64::from),
                    format!("waiting for {name}: {e}"),
                ));
            }
        }
    };
    Ok(ToolOutput {
        success: status.success(),
        code: status.code(),
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const ONE_SESSION: &str = include_str!("../../../tests/fixtures/smbstatus/one_session.json");
    const OPEN_FILE: &str = include_str!("../../../tests/fixtures/smbstatus/open_file.json");

    #[test]
    fn real_samba_417_session() {
        let sessions = parse_status_json(ONE_SESSION).unwrap();
        assert_eq!(sessions.len(), 1);
        let s = &sessions[0];
        assert_eq!(s.session_id.as_deref(), Some("3977921652"));
        assert_eq!(s.user.as_deref(), Some("lsuser1"));
        assert_eq!(s.domain, None);
        assert_eq!(s.client, "127.0.0.1");
        assert_eq!(s.dialect.as_deref(), Some("SMB3_11"));
        assert_eq!(s.encryption.as_deref(), Some("none"));
        assert_eq!(s.signing.as_deref(), Some("AES-128-GMAC (partial)"));
        assert_eq!(s.shares, ["share"]);
        assert_eq!(s.server_pid, Some(8450));
        assert_eq!(s.open_files, Some(0));
        assert_eq!(
            s.connected_at.unwrap().to_string(),
            "2026-11-25T11:16:15.873208Z"
        );
    }

    #[test]
    fn open_files_are_counted_per_server_pid() {
        let sessions = parse_status_json(OPEN_FILE).unwrap();
        assert_eq!(sessions.len(), 1);
        assert_eq!(sessions[0].server_pid, Some(9078));
        assert_eq!(sessions[0].open_files, Some(1));
    }

    #[test]
    fn no_sessions_and_missing_tables() {
        let text = r#"{"timestamp": "x", "version": "4.17", "smb_conf": "/c", "sessions": {}, "tcons": {}}"#;
        assert_eq!(parse_status_json(text).unwrap(), vec![]);
    }

    #[test]
    fn winbind_user_and_numeric_ids() {
        let text = r#"{"sessions": {"7": {"session_id": 7, "server_id": {"pid": 100},
            "username": "CONTOSO\\alice", "remote_machine": "", "hostname": "ipv4:192.0.2.1:5000"}},
            "tcons": {"1": {"session_id": "7", "service": "b", "connected_at": "2024-01-01T00:00:05+00:00"},
                      "2": {"session_id": "7", "service": "a", "connected_at": "2024-01-01T00:00:01+00:00"},
                      "3": {"session_id": "8", "service": "z"}}}"#;
        let s = &parse_status_json(text).unwrap()[0];
        assert_eq!(
            (s.domain.as_deref(), s.user.as_deref()),
            (Some("CONTOSO"), Some("alice"))
        );
        assert_eq!(s.client, "ipv4:192.0.2.1:5000");
        assert_eq!(s.server_pid, Some(100));
        assert_eq!(s.shares, ["a", "b"]);
        assert_eq!(s.connected_at.unwrap().to_string(), "2024-01-01T00:00:01Z");
        assert_eq!(
            (s.encryption.as_deref(), s.signing.as_deref()),
            (None, None)
        );
    }

    #[test]
    fn not_smbstatus_output_is_an_error() {
        assert!(parse_status_json("").is_err());
        assert!(parse_status_json("{}").is_err());
        assert!(parse_status_json("[1,2]").is_err());
        assert!(parse_status_json(r#"{"sessions": []}"#).is_err());
    }

    #[test]
    fn excerpts_are_bounded() {
        assert_eq!(excerpt("  \n"), "(no output)");
        assert_eq!(excerpt("é".repeat(1000).as_str()).chars().count(), 401);
    }

    proptest! {
        #[test]
        fn built_sessions_roundtrip(
            entries in proptest::collection::vec(("[a-z]{1,8}", 1u32..100_000, "[a-z]{1,6}", 0u32..5), 0..6)
        ) {
            let mut sessions = serde_json::Map::new();
            let mut tcons = serde_json::Map::new();
            let mut files = serde_json::Map::new();
            for (i, (user, pid, share, opens)) in entries.iter().enumerate() {
                let pid = pid * 10 + i as u32; // distinct pids
                sessions.insert(i.to_string(), serde_json::json!({
                    "session_id": i.to_string(), "server_id": {"pid": pid.to_string()},
                    "username": user, "remote_machine": "m", "session_dialect": "SMB3_11",
                }));
                tcons.insert(format!("t{i}"), serde_json::json!({"session_id": i.to_string(), "service": share}));
                let opens: serde_json::Map<_, _> = (0..*opens)
                    .map(|k| (format!("{pid}/{k}"), serde_json::json!({"server_id": {"pid": pid.to_string()}})))
                    .collect();
                files.insert(format!("/f{i}"), serde_json::json!({"opens": opens}));
            }
            let text = serde_json::json!({"sessions": sessions, "tcons": tcons, "open_files": files}).to_string();
            let parsed = parse_status_json(&text).unwrap();
            prop_assert_eq!(parsed.len(), entries.len());
            for s in &parsed {
                let i: usize = s.session_id.as_deref().unwrap().parse().unwrap();
                let (user, _, share, opens) = &entries[i];
                prop_assert_eq!(s.user.as_deref(), Some(user.as_str()));
                prop_assert_eq!(&s.shares, &vec![share.clone()]);
                prop_assert_eq!(s.open_files, Some(*opens));
            }
        }

        #[test]
        fn arbitrary_text_never_panics(text in "\\PC{0,300}") {
            let _ = parse_status_json(&text);
        }
    }
}

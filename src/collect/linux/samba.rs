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
//!
//! Times: 4.17 gives a session no time at all (traverse_sessionid_json in
//! source3/utils/status_json.c); only its tree connects have `connected_at`.
//! Samba 4.20 added `creation_time`, `expiration_time` and `auth_time` to
//! sessions; `active_secs` comes from `creation_time` against smbstatus's own
//! `timestamp`. No version reports an idle time, so `idle_secs` stays None
//! (unknown) and a note says so. A time that is not a real moment (`-1`, a
//! number, NTTIME 0 printed as 1601, the infinite expiry as year 30828) is
//! unknown, never a value.

use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use serde::Deserialize;

use crate::collect::LinuxPaths;
use crate::model::{FailureKind, ProcessRow, SmbSession, SourceFailure};

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

/// A time smbstatus printed, kept only when it is a real moment: a string
/// that parses, after the Unix epoch. Anything else (absent, `-1`, `"-1"`,
/// 1601 from an NTTIME of 0, years past 9999) is unknown.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct JsonTime(Option<Timestamp>);

impl<'de> Deserialize<'de> for JsonTime {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // Any JSON value is accepted: a strange time must not lose the session.
        let value = serde_json::Value::deserialize(deserializer)?;
        Ok(JsonTime(value.as_str().and_then(parse_time)))
    }
}

/// A JSON object's entries in order, repeated keys included.
#[derive(Debug)]
struct Entries<V>(Vec<(String, V)>);

impl<V> Default for Entries<V> {
    fn default() -> Self {
        Entries(Vec::new())
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for Entries<V> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor<V>(std::marker::PhantomData<V>);
        impl<'de, V: Deserialize<'de>> serde::de::Visitor<'de> for Visitor<V> {
            type Value = Entries<V>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Self::Value, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry::<String, V>()? {
                    entries.push(entry);
                }
                Ok(Entries(entries))
            }
        }
        deserializer.deserialize_map(Visitor(std::marker::PhantomData))
    }
}

/// Notes for session ids smbstatus listed more than once (all are kept).
fn duplicate_notes(sessions: &[SmbSession]) -> Vec<String> {
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for id in sessions.iter().filter_map(|s| s.session_id.as_deref()) {
        *seen.entry(id).or_default() += 1;
    }
    seen.into_iter()
        .filter(|(_, n)| *n > 1)
        .map(|(id, n)| {
            format!("smbstatus listed session id {id} {n} times; each entry is kept and judged")
        })
        .collect()
}

#[derive(Debug, Deserialize)]
struct JsonSession {
    session_id: Option<Id>,
    /// Samba ≥ 4.20 only.
    #[serde(default)]
    creation_time: JsonTime,
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
    #[serde(default)]
    connected_at: JsonTime,
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
    /// When smbstatus looked (`json_add_timestamp`): "now" for session ages.
    #[serde(default)]
    timestamp: JsonTime,
    /// Required: output without it is not smbstatus's. Every entry is
    /// kept, a repeated key too: JSON objects may repeat keys, and a session
    /// silently dropped would be a session never judged.
    sessions: Entries<JsonSession>,
    #[serde(default)]
    tcons: Entries<JsonTcon>,
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
    let mut tcons_by_session: BTreeMap<String, Vec<&JsonTcon>> = BTreeMap::new();
    for (_, tcon) in &status.tcons.0 {
        if let Some(id) = &tcon.session_id {
            tcons_by_session.entry(id.text()).or_default().push(tcon);
        }
    }
    let mut sessions: Vec<SmbSession> = status
        .sessions
        .0
        .iter()
        .map(|(key, s)| {
            let session_id = s.session_id.as_ref().map_or_else(|| key.clone(), Id::text);
            let tcons: &[&JsonTcon] = tcons_by_session
                .get(&session_id)
                .map(Vec::as_slice)
                .unwrap_or_default();
            let mut shares: Vec<String> = tcons.iter().filter_map(|t| t.service.clone()).collect();
            shares.sort();
            shares.dedup();
            let connected_at = tcons.iter().filter_map(|t| t.connected_at.0).min();
            let active_secs = match (status.timestamp.0, s.creation_time.0) {
                (Some(now), Some(created)) => seconds_between(created, now),
                _ => None,
            };
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
                active_secs,
                // Samba keeps no idle time it could report (see the module docs).
                idle_secs: None,
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

/// Samba prints times as `2026-11-25T11:16:15.873208+00:00` (timeval_str_buf)
/// and its top-level timestamp as `…+0000`; both parse. Times at or before
/// the Unix epoch are not real session times (an unset NTTIME prints as 1601).
fn parse_time(text: &str) -> Option<Timestamp> {
    text.parse::<Timestamp>()
        .ok()
        .filter(|t| *t > Timestamp::UNIX_EPOCH)
}

/// Whole seconds from `start` to `end`; None when `end` is before `start`
/// (a clock step or a wrong time: unknown, not a negative age).
fn seconds_between(start: Timestamp, end: Timestamp) -> Option<u64> {
    u64::try_from(end.as_second() - start.as_second()).ok()
}

/// The note for Samba sessions without an idle time.
pub const NO_IDLE_NOTE: &str = "smbstatus: Samba does not report idle time for its SMB sessions \
     (neither smbstatus nor its NetrSessionEnum carries one): their idle time is unknown, \
     so --max-idle cannot judge them";

/// What running smbstatus produced.
#[derive(Debug)]
pub struct SambaResult {
    pub sessions: Vec<SmbSession>,
    pub notes: Vec<String>,
}

/// Where Samba builds commonly keep smbd's pid file (`pid directory`).
const SMBD_PID_FILES: [&str; 3] = [
    "/run/samba/smbd.pid",
    "/var/run/samba/smbd.pid",
    "/run/smbd.pid",
];

/// Whether a default smbd pid file names a live process: a Samba server,
/// where smbstatus may start before the process list is read.
pub fn smbd_pid_file_alive() -> bool {
    SMBD_PID_FILES.iter().any(|path| {
        std::fs::read_to_string(path)
            .ok()
            .and_then(|text| text.trim().parse::<u32>().ok())
            .and_then(super::sys::pid_alive)
            .unwrap_or(false)
    })
}

/// Why smbstatus need not run, judged from the process list: no `smbd`
/// process runs, so no SMB session can be open (a session lives in the smbd
/// child serving it; records left by a crashed smbd are cleared when it
/// starts again). None: smbd runs, or the process list could not be read,
/// so smbstatus must answer.
pub fn smbd_absent(processes: Option<&[ProcessRow]>) -> Option<SourceFailure> {
    let processes = processes?;
    // Samba's children carry names like `smbd[127.0.0.1]` and `smbd-notifyd`.
    if processes.iter().any(|p| p.name.starts_with("smbd")) {
        return None;
    }
    Some(SourceFailure::new(
        FailureKind::NotAvailable,
        None,
        "no smbd process runs here, so Samba serves no SMB session (smbstatus was not run; \
         --smbstatus or --smb-conf makes it run anyway)",
    ))
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
    let mut notes = duplicate_notes(&sessions);
    if sessions.iter().any(|s| s.idle_secs.is_none()) {
        notes.push(NO_IDLE_NOTE.to_string());
    }
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
    let stdout = spawn_reader(child.stdout.take().map(|p| Box::new(p) as Pipe), MAX_STDOUT);
    let stderr = spawn_reader(child.stderr.take().map(|p| Box::new(p) as Pipe), MAX_STDERR);
    let deadline = Instant::now() + timeout;
    let fail =
        |child: &mut std::process::Child, kind: FailureKind, code: Option<i64>, message: String| {
            // The whole group: smbstatus's own helpers (and anything they forked) go too.
            super::sys::kill_process_group(child.id());
            let _ = child.kill();
            let _ = child.wait();
            Err(SourceFailure::new(kind, code, message))
        };
    let too_late = || {
        format!(
            "{name} did not finish within {} ms and was killed",
            timeout.as_millis()
        )
    };

    // Wait for the child to exit and both pipes to close, whichever order;
    // a grandchild that keeps a pipe open must not hold the scan past the deadline.
    let mut pause = Duration::from_millis(1);
    let mut status = None;
    let mut exited_at: Option<Instant> = None;
    let mut group_killed = false;
    let (mut out, mut err) = (None, None);
    loop {
        if status.is_none() {
            match child.try_wait() {
                Ok(done) => {
                    status = done;
                    if status.is_some() {
                        exited_at = Some(Instant::now());
                    }
                }
                Err(e) => {
                    return fail(
                        &mut child,
                        FailureKind::Other,
                        e.raw_os_error().map(i64::from),
                        format!("waiting for {name}: {e}"),
                    );
                }
            }
        }
        if out.is_none() {
            out = stdout.try_recv().ok();
        }
        if err.is_none() {
            err = stderr.try_recv().ok();
        }
        if let Some(Captured {
            truncated: true, ..
        }) = out
        {
            return fail(
                &mut child,
                FailureKind::ParseError,
                None,
                format!(
                    "{name} printed more than {} MiB: not smbstatus's output, or a server far larger than any real one",
                    MAX_STDOUT >> 20
                ),
            );
        }
        if let (Some(status), Some(out), Some(err)) = (status, &out, &err) {
            return Ok(ToolOutput {
                success: status.success(),
                code: status.code(),
                stdout: out.bytes.clone(),
                stderr: err.bytes.clone(),
            });
        }
        // smbstatus has exited but something it started still holds its
        // output open: its output is complete, so end the rest of its group.
        if let Some(at) = exited_at
            && !group_killed
            && at.elapsed() >= PIPE_GRACE
        {
            super::sys::kill_process_group(child.id());
            group_killed = true;
        }
        if Instant::now() >= deadline {
            return fail(&mut child, FailureKind::Timeout, None, too_late());
        }
        std::thread::sleep(pause.min(deadline.saturating_duration_since(Instant::now())));
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}

type Pipe = Box<dyn Read + Send>;

/// How long pipes may stay open after smbstatus exits before its leftover
/// process group is killed.
const PIPE_GRACE: Duration = Duration::from_millis(200);

/// Most smbstatus may print: thousands of sessions take a few MiB.
const MAX_STDOUT: usize = 64 << 20;
/// Most of its error output that is kept (only an excerpt is shown).
const MAX_STDERR: usize = 64 << 10;

/// What a reader got from one pipe: at most its cap, and whether there was more.
struct Captured {
    bytes: Vec<u8>,
    truncated: bool,
}

/// Read a child's pipe on a thread, up to `cap` bytes; the answer arrives on
/// the channel at end of file or at the cap. A pipe held open forever (a
/// grandchild) leaves the thread blocked and detached; the caller stops
/// waiting for it at its deadline.
fn spawn_reader(pipe: Option<Pipe>, cap: usize) -> mpsc::Receiver<Captured> {
    let (sender, receiver) = mpsc::channel();
    let read = move || {
        let mut captured = Captured {
            bytes: Vec::new(),
            truncated: false,
        };
        if let Some(pipe) = pipe {
            let limit = u64::try_from(cap).unwrap_or(u64::MAX).saturating_add(1);
            let _ = pipe.take(limit).read_to_end(&mut captured.bytes);
            if captured.bytes.len() > cap {
                captured.bytes.truncate(cap);
                captured.truncated = true;
            }
        }
        let _ = sender.send(captured);
    };
    if let Err(e) = std::thread::Builder::new()
        .name("lingerscan-smbstatus-pipe".into())
        .spawn(read)
    {
        let (sender, receiver) = mpsc::channel();
        let _ = sender.send(Captured {
            bytes: format!("cannot read the pipe: {e}").into_bytes(),
            truncated: false,
        });
        return receiver;
    }
    receiver
}

#[cfg(test)]
#[path = "samba_tests.rs"]
mod tests;

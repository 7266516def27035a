//! systemd-logind's sessions read over the system D-Bus, where the bus is
//! there: `org.freedesktop.login1.Manager.ListSessions`, then
//! `org.freedesktop.DBus.Properties.GetAll("org.freedesktop.login1.Session")`
//! for each session, mapped into the same [`LogindSession`] fields the file
//! reader produces, so everything downstream is the same.
//!
//! Why both: the bus is logind's public interface and answers for the
//! logind that runs now; the files are private ("Do not parse") but work
//! without a bus, in containers and on a copied `/run/systemd`. The bus is
//! asked only for this machine's own logind (the default `--logind-dir`),
//! unless `--logind-source dbus` says so; any failure falls back to the
//! files, and a note says which was used and why.
//!
//! Every value on the bus is untrusted (the name may be owned by anything
//! the bus policy allows): the number of sessions and every string are
//! bounded, odd ids and paths refuse the whole answer (→ the files), and a
//! property of the wrong type is simply absent.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use zbus::zvariant::{OwnedObjectPath, OwnedValue, Value};

use super::logind::{LogindSession, LogindState, session_id_valid};
use crate::collect::{LinuxPaths, LogindSource};
use crate::model::{FailureKind, SourceFailure};

const DESTINATION: &str = "org.freedesktop.login1";
const MANAGER_PATH: &str = "/org/freedesktop/login1";
const MANAGER: &str = "org.freedesktop.login1.Manager";
const SESSION: &str = "org.freedesktop.login1.Session";
const PROPERTIES: &str = "org.freedesktop.DBus.Properties";
const SESSION_PATH_PREFIX: &str = "/org/freedesktop/login1/session/";

/// More sessions than any real host has (logind's own default
/// `SessionsMax=8192`); past it the answer is refused rather than cut,
/// since a missing session could change a verdict.
pub const MAX_SESSIONS: usize = 8192;
/// Longest string kept from the bus (bytes); longer ones are cut at a
/// character boundary. logind's own strings are far shorter.
pub const MAX_STRING: usize = 512;
/// One call may wait at most this long (and never past the scan's deadline):
/// logind answers at once or not at all.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the bus gave no usable answer.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("the system D-Bus ({address}) cannot be reached: {source}")]
    Connect {
        address: String,
        #[source]
        source: zbus::Error,
    },
    #[error("{call}: {source}")]
    Call {
        call: String,
        #[source]
        source: zbus::Error,
    },
    #[error("logind listed {0} sessions, more than the {MAX_SESSIONS} read")]
    TooMany(usize),
    #[error("logind's answer is not usable: {0}")]
    Shape(String),
    #[error("the scan's time limit was reached")]
    Deadline,
}

/// One property value, as far as the mapping cares: logind's `(u,o)` and
/// `(s,o)` pairs are reduced to their first member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prop {
    Str(String),
    U32(u32),
    U64(u64),
    Bool(bool),
    /// Any other type: treated as absent.
    Other,
}

/// A bus value as a [`Prop`], strings bounded.
pub fn prop_of(value: &Value<'_>) -> Prop {
    match value {
        Value::Str(s) => Prop::Str(bounded(s.as_str())),
        Value::ObjectPath(p) => Prop::Str(bounded(p.as_str())),
        Value::U32(n) => Prop::U32(*n),
        Value::U64(n) => Prop::U64(*n),
        Value::Bool(b) => Prop::Bool(*b),
        // User (u,o) and Seat (s,o): the uid or seat name; the object path
        // adds nothing the scan uses. One level only: no recursion on
        // nested values an attacker could make deep.
        Value::Structure(s) => match s.fields().first() {
            Some(Value::Str(s)) => Prop::Str(bounded(s.as_str())),
            Some(Value::U32(n)) => Prop::U32(*n),
            _ => Prop::Other,
        },
        _ => Prop::Other,
    }
}

/// `text` cut to [`MAX_STRING`] bytes at a character boundary.
pub fn bounded(text: &str) -> String {
    if text.len() <= MAX_STRING {
        return text.to_string();
    }
    let mut end = MAX_STRING;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_string()
}

/// Session properties → the file reader's keys. Pure; never fails: a
/// property missing or of another type is left out, as a missing line in
/// a session file would be. `id` is the id ListSessions gave.
pub fn session_from_properties(id: &str, props: &BTreeMap<String, Prop>) -> LogindSession {
    // (property, file key)
    const STRINGS: [(&str, &str); 9] = [
        ("Name", "USER"),
        ("State", "STATE"),
        ("TTY", "TTY"),
        ("Seat", "SEAT"),
        ("RemoteHost", "REMOTE_HOST"),
        ("RemoteUser", "REMOTE_USER"),
        ("Service", "SERVICE"),
        ("Type", "TYPE"),
        ("Class", "CLASS"),
    ];
    const NUMBERS: [(&str, &str); 4] = [
        ("User", "UID"),
        ("Leader", "LEADER"),
        ("Audit", "AUDIT"),
        ("Timestamp", "REALTIME"),
    ];
    const FLAGS: [(&str, &str); 2] = [("Remote", "REMOTE"), ("Active", "ACTIVE")];
    let mut fields = HashMap::new();
    for (prop, key) in STRINGS.into_iter().chain([("Scope", "SCOPE")]) {
        if let Some(Prop::Str(s)) = props.get(prop) {
            fields.insert(key.to_string(), bounded(s));
        }
    }
    for (prop, key) in NUMBERS {
        let number = match props.get(prop) {
            Some(Prop::U32(n)) => u64::from(*n),
            // Timestamp is `t` (µs); 0 means unset, as in the file.
            Some(Prop::U64(n)) if *n > 0 => *n,
            _ => continue,
        };
        fields.insert(key.to_string(), number.to_string());
    }
    for (prop, key) in FLAGS {
        if let Some(Prop::Bool(b)) = props.get(prop) {
            fields.insert(key.to_string(), if *b { "1" } else { "0" }.to_string());
        }
    }
    LogindSession {
        id: bounded(id),
        fields,
    }
}

/// Whether this scan asks the bus, or why not.
pub fn bus_wanted(paths: &LinuxPaths) -> Result<(), String> {
    match paths.logind_source {
        LogindSource::Files => Err("--logind-source files".to_string()),
        LogindSource::Dbus => Ok(()),
        LogindSource::Auto if paths.logind_dir != LinuxPaths::default().logind_dir => Err(format!(
            "--logind-dir {} names other files than this machine's running logind",
            paths.logind_dir.display()
        )),
        LogindSource::Auto => Ok(()),
    }
}

/// The sessions logind lists on the system bus, each with its properties,
/// every call bounded by `deadline`.
pub fn read(deadline: Instant) -> Result<Vec<LogindSession>, BusError> {
    let left = || {
        deadline
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
            .ok_or(BusError::Deadline)
    };
    let timeout = left()?.min(CALL_TIMEOUT);
    let bus = zbus::blocking::connection::Builder::system()
        .and_then(|b| b.method_timeout(timeout).build())
        .map_err(|source| BusError::Connect {
            address: bus_address(),
            source,
        })?;
    let listed = bus
        .call_method(
            Some(DESTINATION),
            MANAGER_PATH,
            Some(MANAGER),
            "ListSessions",
            &(),
        )
        .and_then(|reply| {
            reply
                .body()
                .deserialize::<Vec<(String, u32, String, String, OwnedObjectPath)>>()
        })
        .map_err(|source| BusError::Call {
            call: "logind ListSessions".to_string(),
            source,
        })?;
    if listed.len() > MAX_SESSIONS {
        return Err(BusError::TooMany(listed.len()));
    }
    let mut sessions = Vec::with_capacity(listed.len());
    let mut seen = BTreeSet::new();
    for (id, _uid, _user, _seat, path) in listed {
        // An id names a session file and a row; logind makes only these
        // (letters and digits, a counter: far under 64 characters).
        if !session_id_valid(&id) || id.len() > 64 || !seen.insert(id.clone()) {
            return Err(BusError::Shape(format!(
                "session id {:?} is not one logind makes, or is listed twice",
                bounded(&id)
            )));
        }
        if !path.as_str().starts_with(SESSION_PATH_PREFIX) {
            return Err(BusError::Shape(format!(
                "session {id} has the object path {:?}",
                bounded(path.as_str())
            )));
        }
        left()?;
        let props = bus
            .call_method(
                Some(DESTINATION),
                path.as_str(),
                Some(PROPERTIES),
                "GetAll",
                &(SESSION,),
            )
            .and_then(|reply| reply.body().deserialize::<HashMap<String, OwnedValue>>())
            .map_err(|source| BusError::Call {
                call: format!("GetAll on logind session {id}"),
                source,
            })?;
        let props: BTreeMap<String, Prop> = props
            .iter()
            .map(|(name, value)| (bounded(name), prop_of(value)))
            .collect();
        // GetAll's Id must be the listed one: else the path is not that session.
        match props.get("Id") {
            Some(Prop::Str(got)) if *got == id => {}
            other => {
                return Err(BusError::Shape(format!(
                    "session {id}'s object answers with Id {other:?}"
                )));
            }
        }
        sessions.push(session_from_properties(&id, &props));
    }
    sessions
        .sort_by(|a, b| super::logind::natural_key(&a.id).cmp(&super::logind::natural_key(&b.id)));
    Ok(sessions)
}

/// The bus address as notes name it.
pub fn bus_address() -> String {
    std::env::var("DBUS_SYSTEM_BUS_ADDRESS")
        .map(|a| bounded(&a))
        .unwrap_or_else(|_| "unix:path=/var/run/dbus/system_bus_socket".to_string())
}

/// What the scan uses: the bus's sessions (with the files' users, when
/// readable) or the files. `bus` is None when the bus was not asked
/// (`why_not` says why). Returns the state and whether it came from the
/// bus (then logind is known to run). Notes say which and why, and where
/// the bus and the files disagree about which sessions exist.
pub fn combine(
    bus: Option<Result<Vec<LogindSession>, SourceFailure>>,
    why_not: Option<String>,
    source: LogindSource,
    files: Result<LogindState, SourceFailure>,
    notes: &mut Vec<String>,
) -> (Result<LogindState, SourceFailure>, bool) {
    match bus {
        Some(Ok(sessions)) => {
            notes.push(format!(
                "logind: {} session(s) read over D-Bus (org.freedesktop.login1 on {})",
                sessions.len(),
                bus_address()
            ));
            let (users, skipped) = match &files {
                Ok(state) => {
                    note_disagreement(&sessions, &state.sessions, notes);
                    (state.users.clone(), state.skipped.clone())
                }
                Err(_) => (Vec::new(), Vec::new()),
            };
            let state = LogindState {
                sessions,
                users,
                skipped,
                seats_present: true,
            };
            (Ok(state), true)
        }
        Some(Err(failure)) if source == LogindSource::Dbus => {
            notes.push(format!(
                "logind: not read (--logind-source dbus): {}",
                failure.message
            ));
            (Err(failure), false)
        }
        Some(Err(failure)) => {
            notes.push(format!(
                "logind: sessions read from its files, not D-Bus: {}",
                failure.message
            ));
            (files, false)
        }
        None => {
            notes.push(format!(
                "logind: sessions read from its files, not D-Bus: {}",
                why_not.unwrap_or_else(|| "not asked".to_string())
            ));
            (files, false)
        }
    }
}

/// A bus failure as a source failure.
pub fn failure(error: &BusError) -> SourceFailure {
    let kind = match error {
        BusError::Connect { .. } => FailureKind::NotAvailable,
        BusError::Deadline => FailureKind::Timeout,
        _ => FailureKind::Other,
    };
    // A D-Bus error's text comes from the other end: bounded like any value.
    SourceFailure::new(kind, None, bounded(&error.to_string()))
}

/// A note when the bus and the files name different sessions: the files
/// may be left over, or logind may be between writes; the bus is used.
fn note_disagreement(bus: &[LogindSession], files: &[LogindSession], notes: &mut Vec<String>) {
    let on_bus: BTreeSet<&str> = bus.iter().map(|s| s.id.as_str()).collect();
    let in_files: BTreeSet<&str> = files.iter().map(|s| s.id.as_str()).collect();
    if on_bus == in_files {
        return;
    }
    let list = |ids: Vec<&&str>| {
        ids.iter()
            .take(20)
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    notes.push(format!(
        "logind: D-Bus and its files disagree (the bus is used): only on the bus: [{}]; only in the files: [{}]",
        list(on_bus.difference(&in_files).collect()),
        list(in_files.difference(&on_bus).collect()),
    ));
}

#[cfg(test)]
#[path = "logind_dbus_tests.rs"]
mod tests;

//! Ending a leaked or closing logind session whose processes are gone:
//! `TerminateSession(s id)` on `org.freedesktop.login1` over the system
//! D-Bus (zbus's blocking API; `DBUS_SYSTEM_BUS_ADDRESS` chooses the bus,
//! as for every D-Bus client).
//!
//! Just before the call the session is read again from logind's own file
//! (`<logind dir>/sessions/<id>`): it must still be there, still be the
//! same user's, and its leader must still be gone. Otherwise logind may
//! have reused the id (ids count up, but a reboot starts again) or the
//! session came back to life, and the call is refused.

use std::path::Path;
use std::time::Duration;

use crate::collect::linux::logind::parse_session;

use super::CloseError;

const DESTINATION: &str = "org.freedesktop.login1";
const PATH: &str = "/org/freedesktop/login1";
const INTERFACE: &str = "org.freedesktop.login1.Manager";

/// logind answers at once or not at all; a bus that accepts the call and
/// never replies must not hold `close` for zbus's default 25 seconds.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// The session as the plan saw it.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    pub id: &'a str,
    pub uid: Option<u32>,
    pub leader: Option<u32>,
}

/// Where the re-check reads.
#[derive(Debug, Clone, Copy)]
pub struct Paths<'a> {
    pub logind_dir: &'a Path,
    pub proc_dir: &'a Path,
}

/// Terminate the session on the system bus, after the re-check.
pub fn terminate(paths: &Paths<'_>, expected: &Expected<'_>) -> Result<String, CloseError> {
    recheck(paths, expected)?;
    call_terminate(expected.id)?;
    Ok(format!(
        "logind session {} terminated (TerminateSession)",
        expected.id
    ))
}

/// The session file is still there, still the same user's, with its leader
/// still gone. A logind that keeps no files where we looked (another
/// runtime dir) refuses too: without the file nothing shows it is the same
/// session.
fn recheck(paths: &Paths<'_>, expected: &Expected<'_>) -> Result<(), CloseError> {
    // The id names a file: one path component, nothing else.
    if expected.id.is_empty()
        || !expected
            .id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        return Err(CloseError::Refused(format!(
            "{:?} is not a logind session id",
            expected.id
        )));
    }
    let file = paths.logind_dir.join("sessions").join(expected.id);
    let text = match std::fs::read_to_string(&file) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(CloseError::Refused(format!(
                "logind session {} is gone already ({} is not there)",
                expected.id,
                file.display()
            )));
        }
        Err(e) => return Err(CloseError::io(file, e)),
    };
    let now = parse_session(expected.id, &text);
    if now.uid() != expected.uid {
        return Err(CloseError::Refused(format!(
            "logind session {} now belongs to uid {:?}, not {:?}: left alone",
            expected.id,
            now.uid(),
            expected.uid
        )));
    }
    if now.state() == Some("opening") {
        return Err(CloseError::Refused(format!(
            "logind session {} is being opened again: left alone",
            expected.id
        )));
    }
    if let Some(leader) = now.leader() {
        if now.leader() != expected.leader {
            return Err(CloseError::Refused(format!(
                "logind session {} has a new leader {leader}: left alone",
                expected.id
            )));
        }
        if paths.proc_dir.join(leader.to_string()).exists() {
            return Err(CloseError::Refused(format!(
                "the leader {leader} of logind session {} runs (again): left alone",
                expected.id
            )));
        }
    }
    Ok(())
}

/// `TerminateSession(id)` on the system bus. Failing to reach the bus is
/// an error of its own, so that the reason names the bus, not logind.
fn call_terminate(id: &str) -> Result<(), CloseError> {
    let bus = zbus::blocking::connection::Builder::system()
        .and_then(|b| b.method_timeout(CALL_TIMEOUT).build())
        .map_err(|e| {
            CloseError::Failed(format!(
                "the system D-Bus ({}) cannot be reached: {e}",
                bus_address()
            ))
        })?;
    bus.call_method(
        Some(DESTINATION),
        PATH,
        Some(INTERFACE),
        "TerminateSession",
        &(id,),
    )
    .map(drop)
    .map_err(|e| CloseError::Failed(format!("logind TerminateSession({id}): {e}")))
}

/// The bus address as the error names it.
fn bus_address() -> String {
    std::env::var("DBUS_SYSTEM_BUS_ADDRESS")
        .unwrap_or_else(|_| "unix:path=/var/run/dbus/system_bus_socket".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_recheck_refuses_a_gone_reused_or_odd_session() {
        let dir = tempfile::tempdir().unwrap();
        let proc_dir = dir.path().join("proc");
        std::fs::create_dir_all(proc_dir.join("4242")).unwrap();
        std::fs::create_dir_all(dir.path().join("sessions")).unwrap();
        std::fs::write(
            dir.path().join("sessions/7"),
            "UID=1000\nUSER=alice\nSTATE=closing\nLEADER=4242\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("sessions/8"),
            "UID=1000\nUSER=alice\nSTATE=closing\nLEADER=5151\n",
        )
        .unwrap();
        let paths = Paths {
            logind_dir: dir.path(),
            proc_dir: &proc_dir,
        };
        let refused = |id: &str, uid: u32, leader: u32| {
            matches!(
                recheck(
                    &paths,
                    &Expected {
                        id,
                        uid: Some(uid),
                        leader: Some(leader)
                    }
                ),
                Err(CloseError::Refused(_))
            )
        };
        assert!(refused("9", 1000, 5151), "gone");
        assert!(refused("../7", 1000, 4242), "not an id");
        assert!(refused("7", 1000, 4242), "its leader runs");
        assert!(refused("8", 1001, 5151), "another user's");
        assert!(refused("8", 1000, 6000), "another leader");
        assert!(!refused("8", 1000, 5151));
    }
}

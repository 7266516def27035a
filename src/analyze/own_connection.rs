//! The scan's own footprint on the host it scans.
//!
//! A remote scan opens an SMB session as its account, so NetrSessionEnum
//! lists the scan itself, and Samba with `utmp = yes` also lists that session
//! in NetrWkstaUserEnum. Those rows are this scan, not a user: they are set
//! aside from verdicts and counts and reported once as the scan's own
//! connection. A row is the scan's when it has the scan's account, comes from
//! the scan's client address, and (where the host says when it opened)
//! opened while the scan was connected.

use std::net::IpAddr;

use jiff::{SignedDuration, Timestamp};

use crate::identity::eq_ignore_case;
use crate::model::{HostSnapshot, ScanConnection, SmbSession};

/// How far the host's clock and ours may disagree about when the session opened.
const CLOCK_SKEW: SignedDuration = SignedDuration::from_secs(300);

/// Rows of the snapshot that are the scan's own connection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct OwnRows {
    pub smb: Vec<u32>,
    pub workstation: Vec<u32>,
}

pub(super) fn find(snapshot: &HostSnapshot) -> OwnRows {
    let Some(scan) = &snapshot.scan_connection else {
        return OwnRows::default();
    };
    // The scan's account and address, each with whether the host said when it opened.
    let candidates: Vec<(u32, bool)> = snapshot
        .smb_sessions
        .rows_or_empty()
        .iter()
        .enumerate()
        .filter(|(_, s)| is_scan_session(scan, s, snapshot.collected_at))
        .map(|(row, s)| (row as u32, opened_at(s, snapshot.collected_at).is_some()))
        .collect();
    let timed: Vec<u32> = candidates
        .iter()
        .filter(|(_, timed)| *timed)
        .map(|&(row, _)| row)
        .collect();
    let smb: Vec<u32> = if !timed.is_empty() {
        timed
    } else {
        // Without times the scan's session cannot be told from an older
        // one of the same account and address: set aside one, judge the rest.
        candidates.last().map(|&(row, _)| row).into_iter().collect()
    };
    // Samba with `utmp = yes` lists each SMB session once in the workstation
    // list, the scan's included; those rows carry no address or time, so one
    // row of the scan's account stands for it, and only when the scan's SMB
    // session was seen.
    let workstation = if smb.is_empty() {
        Vec::new()
    } else {
        snapshot
            .workstation_users
            .rows_or_empty()
            .iter()
            .enumerate()
            .filter(|(_, w)| w.pid.is_none() && eq_ignore_case(&w.user, &scan.user))
            .map(|(row, _)| row as u32)
            .take(smb.len())
            .collect()
    };
    OwnRows { smb, workstation }
}

fn is_scan_session(scan: &ScanConnection, session: &SmbSession, collected_at: Timestamp) -> bool {
    let same_user = session
        .user
        .as_deref()
        .is_some_and(|u| eq_ignore_case(u, &scan.user));
    let same_client = match &scan.client_address {
        Some(ours) => same_address(ours, &session.client),
        None => false,
    };
    if !same_user || !same_client {
        return false;
    }
    match opened_at(session, collected_at) {
        Some(opened) => {
            let closed = scan.closed_at.unwrap_or(collected_at);
            opened >= scan.opened_at - CLOCK_SKEW && opened <= closed + CLOCK_SKEW
        }
        None => true,
    }
}

/// When the host says the session opened: its first tree connect, else now minus its age.
fn opened_at(session: &SmbSession, collected_at: Timestamp) -> Option<Timestamp> {
    session.connected_at.or_else(|| {
        let age = i64::try_from(session.active_secs?).ok()?;
        collected_at
            .checked_sub(SignedDuration::from_secs(age))
            .ok()
    })
}

/// Client names as hosts report them: `\\127.0.0.1`, `127.0.0.1`,
/// `ipv4:127.0.0.1:50000`, `::ffff:127.0.0.1`, `[::1]`.
fn same_address(ours: &str, theirs: &str) -> bool {
    match (parse_address(ours), parse_address(theirs)) {
        (Some(a), Some(b)) => a == b,
        _ => eq_ignore_case(
            ours.trim_start_matches('\\'),
            theirs.trim_start_matches('\\'),
        ),
    }
}

fn parse_address(text: &str) -> Option<IpAddr> {
    let text = text.trim().trim_start_matches('\\');
    let text = text
        .strip_prefix("ipv4:")
        .or_else(|| text.strip_prefix("ipv6:"))
        .unwrap_or(text);
    let canonical = |ip: IpAddr| ip.to_canonical();
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    if let Ok(addr) = text.parse::<std::net::SocketAddr>() {
        return Some(canonical(addr.ip()));
    }
    // `ipv4:ADDR:PORT` as Samba writes remote addresses.
    let (host, port) = text.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    host.trim_matches(|c| c == '[' || c == ']')
        .parse::<IpAddr>()
        .ok()
        .map(canonical)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Observed, Platform, WorkstationUser};

    fn snapshot(sessions: Vec<SmbSession>, wksta: Vec<WorkstationUser>) -> HostSnapshot {
        let mut s = HostSnapshot::empty("h", Platform::Unknown, "msrpc");
        s.collected_at = Timestamp::from_second(1_700_000_100).unwrap();
        s.smb_sessions = Observed::ok(sessions);
        s.workstation_users = Observed::ok(wksta);
        s.scan_connection = Some(ScanConnection {
            user: "admin".into(),
            domain: Some("WG".into()),
            client_address: Some("127.0.0.2".into()),
            opened_at: Timestamp::from_second(1_700_000_099).unwrap(),
            closed_at: Some(Timestamp::from_second(1_700_000_100).unwrap()),
            ..ScanConnection::default()
        });
        s
    }

    fn session(user: &str, client: &str, active: Option<u64>) -> SmbSession {
        SmbSession {
            client: client.into(),
            user: Some(user.into()),
            active_secs: active,
            ..SmbSession::default()
        }
    }

    fn wksta(user: &str) -> WorkstationUser {
        WorkstationUser {
            user: user.into(),
            ..WorkstationUser::default()
        }
    }

    #[test]
    fn the_scans_session_and_its_utmp_row_are_found() {
        let s = snapshot(
            vec![
                session("alice", "127.0.0.2", Some(0)),
                session("ADMIN", "\\\\127.0.0.2", Some(0)),
                session("admin", "127.0.0.9", Some(0)),
            ],
            vec![wksta("alice"), wksta("admin")],
        );
        assert_eq!(
            find(&s),
            OwnRows {
                smb: vec![1],
                workstation: vec![1]
            }
        );
    }

    #[test]
    fn an_older_session_of_the_same_account_is_still_judged() {
        let s = snapshot(
            vec![
                session("admin", "127.0.0.2", Some(86_400)),
                session("admin", "127.0.0.2", Some(1)),
            ],
            vec![],
        );
        assert_eq!(find(&s).smb, vec![1]);
    }

    #[test]
    fn no_scan_connection_no_own_rows() {
        let mut s = snapshot(vec![session("admin", "127.0.0.2", Some(0))], vec![]);
        s.scan_connection = None;
        assert_eq!(find(&s), OwnRows::default());
    }

    #[test]
    fn address_forms() {
        assert!(same_address("127.0.0.2", "\\\\127.0.0.2"));
        assert!(same_address("127.0.0.2", "ipv4:127.0.0.2:44512"));
        assert!(same_address("127.0.0.2", "::ffff:127.0.0.2"));
        assert!(same_address("::1", "[::1]:445"));
        assert!(!same_address("127.0.0.2", "127.0.0.3"));
        assert!(same_address("ws01", "\\\\WS01"));
    }
}

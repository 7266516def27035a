//! Terminal services structures (WTS_SESSION_INFO_1W, WTS_SESSION_INFOW,
//! WTSINFOW, WTS_CLIENT_ADDRESS) into `InteractiveSession` rows.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::RawEntries;
use super::time::{filetime_seconds_between, filetime_to_timestamp};
use super::wide::{fixed_wide, non_empty, read_wide_cstr};
use crate::model::{InteractiveSession, InteractiveState};

/// `WTS_SESSION_INFO_1W` (WTSEnumerateSessionsExW level 1).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct WtsSessionInfo1 {
    pub exec_env_id: u32,
    pub state: i32,
    pub session_id: u32,
    pub session_name: *const u16,
    pub host_name: *const u16,
    pub user_name: *const u16,
    pub domain_name: *const u16,
    pub farm_name: *const u16,
}

/// `WTS_SESSION_INFOW` (WTSEnumerateSessionsW).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct WtsSessionInfo {
    pub session_id: u32,
    pub win_station_name: *const u16,
    pub state: i32,
}

/// `WTSINFOW` (WTSQuerySessionInformationW with WTSSessionInfo). Times are FILETIME ticks.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct WtsInfo {
    pub state: i32,
    pub session_id: u32,
    pub incoming_bytes: u32,
    pub outgoing_bytes: u32,
    pub incoming_frames: u32,
    pub outgoing_frames: u32,
    pub incoming_compressed_bytes: u32,
    pub outgoing_compressed_bytes: u32,
    pub win_station_name: [u16; 32],
    pub domain: [u16; 17],
    pub user_name: [u16; 21],
    pub connect_time: i64,
    pub disconnect_time: i64,
    pub last_input_time: i64,
    pub logon_time: i64,
    pub current_time: i64,
}

/// `WTS_CLIENT_ADDRESS`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct WtsClientAddress {
    pub address_family: u32,
    pub address: [u8; 20],
}

pub const AF_INET: u32 = 2;
pub const AF_INET6: u32 = 23;

/// `WTS_CONNECTSTATE_CLASS` → state.
pub fn connect_state(state: i32) -> InteractiveState {
    match state {
        0 => InteractiveState::Active,
        1 => InteractiveState::Connected,
        2 => InteractiveState::ConnectQuery,
        3 => InteractiveState::Shadow,
        4 => InteractiveState::Disconnected,
        5 => InteractiveState::Idle,
        6 => InteractiveState::Listen,
        7 => InteractiveState::Reset,
        8 => InteractiveState::Down,
        9 => InteractiveState::Init,
        _ => InteractiveState::Unknown,
    }
}

fn field(ptr: *const u16) -> Option<String> {
    // SAFETY: only called on pointer fields of entries of a `RawEntries`,
    // whose creator promised they are null or NUL-terminated strings.
    non_empty(unsafe { read_wide_cstr(ptr) })
}

/// Sessions from WTSEnumerateSessionsExW level 1.
pub fn decode_sessions_ex(entries: RawEntries<'_, WtsSessionInfo1>) -> Vec<InteractiveSession> {
    entries
        .iter()
        .map(|e| InteractiveSession {
            session_id: e.session_id.to_string(),
            station: field(e.session_name),
            user: field(e.user_name),
            domain: field(e.domain_name),
            state: connect_state(e.state),
            client_name: field(e.host_name),
            ..InteractiveSession::default()
        })
        .collect()
}

/// Sessions from WTSEnumerateSessionsW (no user; filled in from WTSINFOW later).
pub fn decode_sessions(entries: RawEntries<'_, WtsSessionInfo>) -> Vec<InteractiveSession> {
    entries
        .iter()
        .map(|e| InteractiveSession {
            session_id: e.session_id.to_string(),
            station: field(e.win_station_name),
            state: connect_state(e.state),
            ..InteractiveSession::default()
        })
        .collect()
}

/// Add what WTSINFOW knows: logon time, idle seconds, and names the
/// enumeration did not give.
pub fn apply_session_info(session: &mut InteractiveSession, info: &WtsInfo) {
    let text = |units: &[u16]| Some(fixed_wide(units)).filter(|s| !s.is_empty());
    if session.user.is_none() {
        session.user = text(&info.user_name);
    }
    if session.domain.is_none() {
        session.domain = text(&info.domain);
    }
    if session.station.is_none() {
        session.station = text(&info.win_station_name);
    }
    session.logon_time = filetime_to_timestamp(info.logon_time);
    // A disconnected session has no input since it was disconnected; for
    // others the last input time is what counts.
    let last_activity =
        if session.state == InteractiveState::Disconnected && info.disconnect_time > 0 {
            info.disconnect_time.max(info.last_input_time)
        } else {
            info.last_input_time
        };
    session.idle_secs = filetime_seconds_between(last_activity, info.current_time);
}

/// The client's address: IPv4 in bytes 2..6 and IPv6 in bytes 2..18 of
/// `Address` (the bytes of a SOCKADDR after its port, as WTS stores them).
pub fn decode_client_address(addr: &WtsClientAddress) -> Option<String> {
    let a = &addr.address;
    match addr.address_family {
        AF_INET => Some(Ipv4Addr::new(a[2], a[3], a[4], a[5]).to_string()),
        AF_INET6 => {
            let mut octets = [0u8; 16];
            octets.copy_from_slice(&a[2..18]);
            Some(Ipv6Addr::from(octets).to_string())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::windows_decode::arena::WideArena;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn any_session_list_decodes_entry_for_entry(rows in proptest::collection::vec(
            (any::<u32>(), -2i32..12, proptest::option::of("[^\u{0}]{0,20}"), proptest::option::of("[^\u{0}]{0,20}")),
            0..16,
        )) {
            let mut arena = WideArena::new();
            let entries: Vec<_> = rows
                .iter()
                .map(|(id, state, station, user)| WtsSessionInfo1 {
                    exec_env_id: 0,
                    state: *state,
                    session_id: *id,
                    session_name: arena.ptr(station.as_deref()),
                    host_name: arena.ptr(None),
                    user_name: arena.ptr(user.as_deref()),
                    domain_name: arena.ptr(None),
                    farm_name: arena.ptr(None),
                })
                .collect();
            // SAFETY: pointers into `arena`.
            let decoded = decode_sessions_ex(unsafe { RawEntries::new(&entries) });
            prop_assert_eq!(decoded.len(), rows.len());
            for (s, (id, state, station, user)) in decoded.iter().zip(&rows) {
                prop_assert_eq!(&s.session_id, &id.to_string());
                prop_assert_eq!(s.state, connect_state(*state));
                prop_assert_eq!(s.station.as_deref(), station.as_deref().filter(|v| !v.is_empty()));
                prop_assert_eq!(s.user.as_deref(), user.as_deref().filter(|v| !v.is_empty()));
            }
        }

        #[test]
        fn client_address_never_panics(family in any::<u32>(), bytes in any::<[u8; 20]>()) {
            let decoded = decode_client_address(&WtsClientAddress { address_family: family, address: bytes });
            prop_assert_eq!(decoded.is_some(), family == AF_INET || family == AF_INET6);
        }
    }

    const SECOND: i64 = 10_000_000;

    fn wide_array<const N: usize>(s: &str) -> [u16; N] {
        let mut out = [0u16; N];
        for (slot, unit) in out.iter_mut().zip(s.encode_utf16()) {
            *slot = unit;
        }
        out
    }

    fn info(state: i32, user: &str) -> WtsInfo {
        WtsInfo {
            state,
            session_id: 2,
            win_station_name: wide_array("RDP-Tcp#4"),
            domain: wide_array("CONTOSO"),
            user_name: wide_array(user),
            last_input_time: 133_485_408_000_000_000,
            logon_time: 133_485_408_000_000_000 - 3600 * SECOND,
            current_time: 133_485_408_000_000_000 + 90 * SECOND,
            ..WtsInfo::default()
        }
    }

    #[test]
    fn states_map_one_to_one() {
        let all: Vec<_> = (0..10).map(connect_state).collect();
        assert_eq!(all[0], InteractiveState::Active);
        assert_eq!(all[4], InteractiveState::Disconnected);
        assert_eq!(all[6], InteractiveState::Listen);
        assert_eq!(all[9], InteractiveState::Init);
        assert_eq!(connect_state(42), InteractiveState::Unknown);
        assert_eq!(connect_state(-1), InteractiveState::Unknown);
        let unique: std::collections::HashSet<_> = all.iter().collect();
        assert_eq!(unique.len(), 10);
    }

    #[test]
    fn ex_sessions_decode_with_nulls() {
        let mut arena = WideArena::new();
        let entries = [
            WtsSessionInfo1 {
                exec_env_id: 0,
                state: 0,
                session_id: 1,
                session_name: arena.ptr(Some("Console")),
                host_name: arena.ptr(None),
                user_name: arena.ptr(Some("alice")),
                domain_name: arena.ptr(Some("CONTOSO")),
                farm_name: arena.ptr(None),
            },
            WtsSessionInfo1 {
                exec_env_id: 1,
                state: 6,
                session_id: 65536,
                session_name: arena.ptr(Some("RDP-Tcp")),
                host_name: arena.ptr(Some("")),
                user_name: arena.ptr(Some("")),
                domain_name: arena.ptr(None),
                farm_name: arena.ptr(None),
            },
        ];
        // SAFETY: pointers into `arena`.
        let rows = decode_sessions_ex(unsafe { RawEntries::new(&entries) });
        assert_eq!(rows[0].session_id, "1");
        assert_eq!(rows[0].user.as_deref(), Some("alice"));
        assert_eq!(rows[0].station.as_deref(), Some("Console"));
        assert_eq!(rows[0].state, InteractiveState::Active);
        assert_eq!(rows[1].state, InteractiveState::Listen);
        assert_eq!(
            (rows[1].user.as_ref(), rows[1].client_name.as_ref()),
            (None, None)
        );
    }

    #[test]
    fn session_info_adds_user_logon_time_and_idle() {
        let mut arena = WideArena::new();
        let entries = [WtsSessionInfo {
            session_id: 2,
            win_station_name: arena.ptr(None),
            state: 0,
        }];
        // SAFETY: pointers into `arena`.
        let mut rows = decode_sessions(unsafe { RawEntries::new(&entries) });
        apply_session_info(&mut rows[0], &info(0, "bob"));
        let s = &rows[0];
        assert_eq!(s.user.as_deref(), Some("bob"));
        assert_eq!(s.domain.as_deref(), Some("CONTOSO"));
        assert_eq!(s.station.as_deref(), Some("RDP-Tcp#4"));
        assert_eq!(s.idle_secs, Some(90));
        assert_eq!(s.logon_time, Some("2023-12-31T23:00:00Z".parse().unwrap()));
    }

    #[test]
    fn disconnected_idle_counts_from_disconnect() {
        let mut session = InteractiveSession {
            state: InteractiveState::Disconnected,
            ..Default::default()
        };
        let mut i = info(4, "carol");
        i.last_input_time -= 1000 * SECOND;
        i.disconnect_time = i.current_time - 30 * SECOND;
        apply_session_info(&mut session, &i);
        assert_eq!(session.idle_secs, Some(30));
    }

    #[test]
    fn missing_times_give_no_idle() {
        let mut session = InteractiveSession::default();
        let mut i = info(0, "");
        i.last_input_time = 0;
        i.logon_time = 0;
        apply_session_info(&mut session, &i);
        assert_eq!(
            (session.idle_secs, session.logon_time, session.user.as_ref()),
            (None, None, None)
        );
    }

    #[test]
    fn client_addresses() {
        let mut v4 = WtsClientAddress {
            address_family: AF_INET,
            address: [0; 20],
        };
        v4.address[2..6].copy_from_slice(&[192, 0, 2, 7]);
        assert_eq!(decode_client_address(&v4).as_deref(), Some("192.0.2.7"));
        let mut v6 = WtsClientAddress {
            address_family: AF_INET6,
            address: [0; 20],
        };
        v6.address[2..18].copy_from_slice(&"2001:db8::1".parse::<Ipv6Addr>().unwrap().octets());
        assert_eq!(decode_client_address(&v6).as_deref(), Some("2001:db8::1"));
        let unspec = WtsClientAddress {
            address_family: 0,
            address: [9; 20],
        };
        assert_eq!(decode_client_address(&unspec), None);
    }
}

//! `SECURITY_LOGON_SESSION_DATA` (LsaGetLogonSessionData) into `LogonSession`.

use std::mem::{offset_of, size_of};

use super::RawEntries;
use super::sid::read_sid_string;
use super::time::filetime_to_timestamp;
use super::wide::{CountedWide, non_empty, read_counted};
use crate::model::LogonSession;

/// A `LUID`: 64-bit locally unique id as two halves.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Luid {
    pub low_part: u32,
    pub high_part: i32,
}

impl Luid {
    /// The decimal form WMI prints (Win32_LogonSession.LogonId): `(High << 32) | Low`.
    pub fn to_decimal(self) -> String {
        self.as_u64().to_string()
    }

    pub fn as_u64(self) -> u64 {
        (u64::from(self.high_part as u32) << 32) | u64::from(self.low_part)
    }
}

/// The leading part of `SECURITY_LOGON_SESSION_DATA`, up to `Upn` (the
/// fields lingerscan reads). The OS tells how much it filled in `size`;
/// fields past it (older Windows versions) are not read.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct LogonSessionData {
    pub size: u32,
    pub logon_id: Luid,
    pub user_name: CountedWide,
    pub logon_domain: CountedWide,
    pub authentication_package: CountedWide,
    pub logon_type: u32,
    pub session: u32,
    /// PSID.
    pub sid: *const u8,
    /// FILETIME ticks.
    pub logon_time: i64,
    pub logon_server: CountedWide,
    pub dns_domain_name: CountedWide,
    pub upn: CountedWide,
}

/// Does the structure the OS filled (`size` bytes) include the field that
/// ends at `end`?
fn has_field(size: u32, end: usize) -> bool {
    usize::try_from(size).is_ok_and(|size| size >= end)
}

fn counted(s: &CountedWide) -> Option<String> {
    // SAFETY: only called on fields of entries of a `RawEntries`, whose
    // creator promised valid counted buffers.
    non_empty(unsafe { read_counted(s) })
}

/// Decode logon session data. The `LogonId` is taken from `data` itself.
pub fn decode_logon_sessions(entries: RawEntries<'_, LogonSessionData>) -> Vec<LogonSession> {
    let upn_end = offset_of!(LogonSessionData, upn) + size_of::<CountedWide>();
    let server_end = offset_of!(LogonSessionData, logon_server) + size_of::<CountedWide>();
    entries
        .iter()
        .map(|d| LogonSession {
            logon_id: d.logon_id.to_decimal(),
            user: counted(&d.user_name),
            domain: counted(&d.logon_domain),
            // SAFETY: `RawEntries` promises the SID pointer is null or a valid SID.
            sid: unsafe { read_sid_string(d.sid) },
            logon_type: Some(d.logon_type),
            auth_package: counted(&d.authentication_package),
            logon_server: has_field(d.size, server_end)
                .then(|| counted(&d.logon_server))
                .flatten(),
            upn: has_field(d.size, upn_end)
                .then(|| counted(&d.upn))
                .flatten(),
            start_time: filetime_to_timestamp(d.logon_time),
            terminal_session_id: Some(d.session),
            ..LogonSession::default()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::windows_decode::arena::WideArena;
    use crate::collect::windows_decode::sid::sid_bytes;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn any_session_record_decodes_to_its_fields(
            low in any::<u32>(), high in any::<i32>(),
            user in proptest::option::of("[^\u{0}]{0,30}"),
            domain in proptest::option::of("[A-Z]{0,15}"),
            logon_type in 0u32..14, session in any::<u32>(),
            subs in proptest::option::of(proptest::collection::vec(any::<u32>(), 1..6)),
            ticks in any::<i64>(),
        ) {
            let mut arena = WideArena::new();
            let data = [LogonSessionData {
                size: u32::try_from(size_of::<LogonSessionData>()).unwrap(),
                logon_id: Luid { low_part: low, high_part: high },
                user_name: arena.counted(user.as_deref()),
                logon_domain: arena.counted(domain.as_deref()),
                authentication_package: CountedWide::EMPTY,
                logon_type,
                session,
                sid: arena.bytes(subs.as_ref().map(|s| sid_bytes(5, s))),
                logon_time: ticks,
                logon_server: CountedWide::EMPTY,
                dns_domain_name: CountedWide::EMPTY,
                upn: CountedWide::EMPTY,
            }];
            // SAFETY: pointers into `arena`.
            let s = &decode_logon_sessions(unsafe { RawEntries::new(&data) })[0];
            prop_assert_eq!(s.logon_id.parse::<u64>().unwrap(), (u64::from(high as u32) << 32) | u64::from(low));
            prop_assert_eq!(s.user.as_deref(), user.as_deref().filter(|u| !u.is_empty()));
            prop_assert_eq!(s.domain.as_deref(), domain.as_deref().filter(|d| !d.is_empty()));
            prop_assert_eq!((s.logon_type, s.terminal_session_id), (Some(logon_type), Some(session)));
            prop_assert_eq!(s.sid.is_some(), subs.is_some());
            prop_assert_eq!(s.start_time, crate::collect::windows_decode::time::filetime_to_timestamp(ticks));
        }
    }

    fn full_size() -> u32 {
        // The real structure is larger; any size ≥ the mirror's means "all fields present".
        u32::try_from(size_of::<LogonSessionData>()).unwrap()
    }

    #[test]
    fn luid_decimal_is_high_shifted_or_low() {
        assert_eq!(
            Luid {
                low_part: 0x3e7,
                high_part: 0
            }
            .to_decimal(),
            "999"
        );
        assert_eq!(
            Luid {
                low_part: 1,
                high_part: 1
            }
            .to_decimal(),
            "4294967297"
        );
        assert_eq!(
            Luid {
                low_part: u32::MAX,
                high_part: -1
            }
            .to_decimal(),
            u64::MAX.to_string()
        );
    }

    #[test]
    fn full_record_decodes() {
        let mut arena = WideArena::new();
        let data = [LogonSessionData {
            size: full_size(),
            logon_id: Luid {
                low_part: 0x1234,
                high_part: 0,
            },
            user_name: arena.counted(Some("alice")),
            logon_domain: arena.counted(Some("CONTOSO")),
            authentication_package: arena.counted(Some("Kerberos")),
            logon_type: 10,
            session: 3,
            sid: arena.bytes(Some(sid_bytes(5, &[21, 1, 2, 3, 1104]))),
            logon_time: 133_485_408_000_000_000, // 2024-01-01T00:00:00Z
            logon_server: arena.counted(Some("DC01")),
            dns_domain_name: arena.counted(Some("CONTOSO.COM")),
            upn: arena.counted(Some("alice@contoso.com")),
        }];
        // SAFETY: pointers into `arena`.
        let rows = decode_logon_sessions(unsafe { RawEntries::new(&data) });
        let s = &rows[0];
        assert_eq!(s.logon_id, "4660");
        assert_eq!(s.user.as_deref(), Some("alice"));
        assert_eq!(s.domain.as_deref(), Some("CONTOSO"));
        assert_eq!(s.sid.as_deref(), Some("S-1-5-21-1-2-3-1104"));
        assert_eq!(s.logon_type, Some(10));
        assert_eq!(s.auth_package.as_deref(), Some("Kerberos"));
        assert_eq!(s.logon_server.as_deref(), Some("DC01"));
        assert_eq!(s.upn.as_deref(), Some("alice@contoso.com"));
        assert_eq!(s.terminal_session_id, Some(3));
        assert_eq!(s.start_time, Some("2024-01-01T00:00:00Z".parse().unwrap()));
    }

    #[test]
    fn null_strings_no_sid_no_time() {
        let mut arena = WideArena::new();
        let data = [LogonSessionData {
            size: full_size(),
            logon_id: Luid {
                low_part: 0x3e7,
                high_part: 0,
            },
            user_name: arena.counted(None),
            logon_domain: arena.counted(Some("")),
            authentication_package: CountedWide::EMPTY,
            logon_type: 0,
            session: 0,
            sid: std::ptr::null(),
            logon_time: 0,
            logon_server: CountedWide::EMPTY,
            dns_domain_name: CountedWide::EMPTY,
            upn: CountedWide::EMPTY,
        }];
        // SAFETY: pointers into `arena` or null.
        let s = &decode_logon_sessions(unsafe { RawEntries::new(&data) })[0];
        assert_eq!(s.logon_id, "999");
        assert_eq!(
            (s.user.as_ref(), s.domain.as_ref(), s.sid.as_ref()),
            (None, None, None)
        );
        assert_eq!(s.start_time, None);
        assert_eq!(s.logon_type, Some(0));
    }

    #[test]
    fn fields_beyond_the_reported_size_are_not_read() {
        let mut arena = WideArena::new();
        // A record from an older OS: filled only up to the SID/logon time.
        let short = u32::try_from(offset_of!(LogonSessionData, logon_server)).unwrap();
        let data = [LogonSessionData {
            size: short,
            logon_id: Luid::default(),
            user_name: arena.counted(Some("bob")),
            logon_domain: CountedWide::EMPTY,
            authentication_package: CountedWide::EMPTY,
            logon_type: 2,
            session: 1,
            sid: std::ptr::null(),
            logon_time: 0,
            logon_server: arena.counted(Some("must-not-appear")),
            dns_domain_name: CountedWide::EMPTY,
            upn: arena.counted(Some("must-not-appear")),
        }];
        // SAFETY: pointers into `arena`.
        let s = &decode_logon_sessions(unsafe { RawEntries::new(&data) })[0];
        assert_eq!(s.user.as_deref(), Some("bob"));
        assert_eq!(s.logon_server, None);
        assert_eq!(s.upn, None);
    }
}

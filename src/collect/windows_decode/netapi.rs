//! NetWkstaUserEnum (WKSTA_USER_INFO_1) and NetSessionEnum (SESSION_INFO_502/10/1/0)
//! structures and their decoding into model rows.

use super::RawEntries;
use super::wide::{non_empty, read_wide_cstr};
use crate::model::{SmbSession, WorkstationUser};

/// `WKSTA_USER_INFO_1`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct WkstaUserInfo1 {
    pub username: *const u16,
    pub logon_domain: *const u16,
    pub oth_domains: *const u16,
    pub logon_server: *const u16,
}

/// `SESSION_INFO_502`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct SessionInfo502 {
    pub cname: *const u16,
    pub username: *const u16,
    pub num_opens: u32,
    pub time: u32,
    pub idle_time: u32,
    pub user_flags: u32,
    pub cltype_name: *const u16,
    pub transport: *const u16,
}

/// `SESSION_INFO_10`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct SessionInfo10 {
    pub cname: *const u16,
    pub username: *const u16,
    pub time: u32,
    pub idle_time: u32,
}

/// `SESSION_INFO_1`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct SessionInfo1 {
    pub cname: *const u16,
    pub username: *const u16,
    pub num_opens: u32,
    pub time: u32,
    pub idle_time: u32,
    pub user_flags: u32,
}

/// `SESSION_INFO_0`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct SessionInfo0 {
    pub cname: *const u16,
}

/// `SESS_GUEST` in `sesiN_user_flags`.
pub const SESS_GUEST: u32 = 0x1;

/// Read one string field of an entry of a [`RawEntries`] view.
fn field(ptr: *const u16) -> Option<String> {
    // SAFETY: only called on pointer fields of entries of a `RawEntries`,
    // whose creator promised they are null or valid NUL-terminated strings.
    unsafe { read_wide_cstr(ptr) }
}

pub fn decode_wksta_users(entries: RawEntries<'_, WkstaUserInfo1>) -> Vec<WorkstationUser> {
    entries
        .iter()
        .map(|e| WorkstationUser {
            user: field(e.username).unwrap_or_default(),
            logon_domain: field(e.logon_domain).unwrap_or_default(),
            other_domains: field(e.oth_domains).unwrap_or_default(),
            logon_server: field(e.logon_server).unwrap_or_default(),
            ..WorkstationUser::default()
        })
        .collect()
}

/// The client as the server names it, without the `\\` NetSessionEnum prefixes.
fn client_name(ptr: *const u16) -> String {
    field(ptr)
        .map(|c| c.trim_start_matches('\\').to_string())
        .unwrap_or_default()
}

pub fn decode_sessions_502(entries: RawEntries<'_, SessionInfo502>) -> Vec<SmbSession> {
    entries
        .iter()
        .map(|e| SmbSession {
            client: client_name(e.cname),
            user: non_empty(field(e.username)),
            open_files: Some(e.num_opens),
            active_secs: Some(u64::from(e.time)),
            idle_secs: Some(u64::from(e.idle_time)),
            is_guest: Some(e.user_flags & SESS_GUEST != 0),
            client_type: non_empty(field(e.cltype_name)),
            transport: non_empty(field(e.transport)),
            ..SmbSession::default()
        })
        .collect()
}

pub fn decode_sessions_10(entries: RawEntries<'_, SessionInfo10>) -> Vec<SmbSession> {
    entries
        .iter()
        .map(|e| SmbSession {
            client: client_name(e.cname),
            user: non_empty(field(e.username)),
            active_secs: Some(u64::from(e.time)),
            idle_secs: Some(u64::from(e.idle_time)),
            ..SmbSession::default()
        })
        .collect()
}

pub fn decode_sessions_1(entries: RawEntries<'_, SessionInfo1>) -> Vec<SmbSession> {
    entries
        .iter()
        .map(|e| SmbSession {
            client: client_name(e.cname),
            user: non_empty(field(e.username)),
            open_files: Some(e.num_opens),
            active_secs: Some(u64::from(e.time)),
            idle_secs: Some(u64::from(e.idle_time)),
            is_guest: Some(e.user_flags & SESS_GUEST != 0),
            ..SmbSession::default()
        })
        .collect()
}

pub fn decode_sessions_0(entries: RawEntries<'_, SessionInfo0>) -> Vec<SmbSession> {
    entries
        .iter()
        .map(|e| SmbSession {
            client: client_name(e.cname),
            ..SmbSession::default()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::windows_decode::arena::WideArena;
    use proptest::prelude::*;

    fn wksta(arena: &mut WideArena, user: Option<&str>, domain: Option<&str>) -> WkstaUserInfo1 {
        WkstaUserInfo1 {
            username: arena.ptr(user),
            logon_domain: arena.ptr(domain),
            oth_domains: arena.ptr(Some("")),
            logon_server: arena.ptr(Some("DC01")),
        }
    }

    #[test]
    fn wksta_users_decode_with_null_strings() {
        let mut arena = WideArena::new();
        let entries = [
            wksta(&mut arena, Some("alice"), Some("CONTOSO")),
            wksta(&mut arena, None, None),
            wksta(&mut arena, Some("SRV01$"), Some("CONTOSO")),
        ];
        // SAFETY: every pointer comes from `arena`, alive for this test.
        let rows = decode_wksta_users(unsafe { RawEntries::new(&entries) });
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0].user, "alice");
        assert_eq!(rows[0].logon_domain, "CONTOSO");
        assert_eq!(rows[0].logon_server, "DC01");
        assert_eq!(rows[1].user, "");
        assert_eq!(rows[1].logon_domain, "");
        assert_eq!(rows[2].user, "SRV01$");
        assert!(rows.iter().all(|r| r.tty.is_none() && r.pid.is_none()));
    }

    #[test]
    fn null_buffer_means_zero_rows() {
        // SAFETY: a null pointer is an empty view whatever the count says.
        let view = unsafe { RawEntries::<SessionInfo502>::from_raw(std::ptr::null(), 5) };
        assert!(decode_sessions_502(view).is_empty());
        // SAFETY: as above.
        let view = unsafe { RawEntries::<WkstaUserInfo1>::from_raw(std::ptr::null(), 0) };
        assert!(decode_wksta_users(view).is_empty());
    }

    #[test]
    fn session_502_decodes_every_field() {
        let mut arena = WideArena::new();
        let entries = [SessionInfo502 {
            cname: arena.ptr(Some(r"\\10.1.2.3")),
            username: arena.ptr(Some("alice")),
            num_opens: 2,
            time: 3600,
            idle_time: 60,
            user_flags: SESS_GUEST,
            cltype_name: arena.ptr(Some("")),
            transport: arena.ptr(Some(r"\Device\NetbiosSmb")),
        }];
        // SAFETY: pointers into `arena`.
        let rows =
            decode_sessions_502(unsafe { RawEntries::from_raw(entries.as_ptr(), entries.len()) });
        assert_eq!(
            rows,
            vec![SmbSession {
                client: "10.1.2.3".into(),
                user: Some("alice".into()),
                open_files: Some(2),
                active_secs: Some(3600),
                idle_secs: Some(60),
                is_guest: Some(true),
                client_type: None,
                transport: Some(r"\Device\NetbiosSmb".into()),
                ..SmbSession::default()
            }]
        );
    }

    #[test]
    fn lower_levels_fill_what_they_have() {
        let mut arena = WideArena::new();
        let l10 = [SessionInfo10 {
            cname: arena.ptr(Some(r"\\WS7")),
            username: arena.ptr(None),
            time: 5,
            idle_time: 4,
        }];
        let l1 = [SessionInfo1 {
            cname: arena.ptr(Some("WS8")),
            username: arena.ptr(Some("bob")),
            num_opens: 0,
            time: 9,
            idle_time: 8,
            user_flags: 0,
        }];
        let l0 = [SessionInfo0 {
            cname: arena.ptr(None),
        }];
        // SAFETY: pointers into `arena`.
        let r10 = decode_sessions_10(unsafe { RawEntries::new(&l10) });
        // SAFETY: pointers into `arena`.
        let r1 = decode_sessions_1(unsafe { RawEntries::new(&l1) });
        // SAFETY: pointers into `arena`.
        let r0 = decode_sessions_0(unsafe { RawEntries::new(&l0) });
        assert_eq!(
            (
                r10[0].client.as_str(),
                r10[0].user.as_deref(),
                r10[0].idle_secs
            ),
            ("WS7", None, Some(4))
        );
        assert_eq!(r10[0].open_files, None);
        assert_eq!(
            (r1[0].user.as_deref(), r1[0].is_guest, r1[0].open_files),
            (Some("bob"), Some(false), Some(0))
        );
        assert_eq!(r0[0], SmbSession::default());
    }

    proptest! {
        #[test]
        fn session_502_round_trip(rows in proptest::collection::vec(
            (proptest::option::of("[^\u{0}]{0,20}"), proptest::option::of("[^\u{0}]{0,20}"), any::<u32>(), any::<u32>(), any::<u32>()),
            0..20,
        )) {
            let mut arena = WideArena::new();
            let entries: Vec<_> = rows
                .iter()
                .map(|(client, user, opens, time, flags)| SessionInfo502 {
                    cname: arena.ptr(client.as_deref()),
                    username: arena.ptr(user.as_deref()),
                    num_opens: *opens,
                    time: *time,
                    idle_time: time / 2,
                    user_flags: *flags,
                    cltype_name: arena.ptr(None),
                    transport: arena.ptr(None),
                })
                .collect();
            // SAFETY: pointers into `arena`.
            let decoded = decode_sessions_502(unsafe { RawEntries::new(&entries) });
            prop_assert_eq!(decoded.len(), rows.len());
            for (row, (client, user, opens, time, flags)) in decoded.iter().zip(&rows) {
                let want_client = client.as_deref().unwrap_or_default().trim_start_matches('\\');
                prop_assert_eq!(row.client.as_str(), want_client);
                prop_assert_eq!(row.user.as_deref(), user.as_deref().filter(|u| !u.is_empty()));
                prop_assert_eq!(row.open_files, Some(*opens));
                prop_assert_eq!((row.active_secs, row.idle_secs), (Some(u64::from(*time)), Some(u64::from(time / 2))));
                prop_assert_eq!(row.is_guest, Some(flags & SESS_GUEST != 0));
            }
        }

        #[test]
        fn wksta_round_trip(users in proptest::collection::vec((proptest::option::of("[^\u{0}]{0,20}"), proptest::option::of("[A-Z]{0,15}")), 0..20)) {
            let mut arena = WideArena::new();
            let entries: Vec<_> = users.iter().map(|(u, d)| wksta(&mut arena, u.as_deref(), d.as_deref())).collect();
            // SAFETY: pointers into `arena`.
            let rows = decode_wksta_users(unsafe { RawEntries::new(&entries) });
            prop_assert_eq!(rows.len(), users.len());
            for (row, (u, d)) in rows.iter().zip(&users) {
                prop_assert_eq!(&row.user, &u.clone().unwrap_or_default());
                prop_assert_eq!(&row.logon_domain, &d.clone().unwrap_or_default());
            }
        }
    }
}

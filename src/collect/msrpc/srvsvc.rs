//! MS-SRVS NetrSessionEnum (opnum 12), levels 502, 10, 1, 0 with fallback:
//! the SMB sessions the server holds (Samba serves levels 0 and 1).

use crate::model::SmbSession;

use super::dcerpc::{Interface, SyntaxId, uuid};
use super::ndr::{Field, Fields, NdrReader, NdrWriter, Value, encode_enum_tail};
use super::wire::DecodeError;

pub const INTERFACE: Interface = Interface {
    name: "srvsvc",
    syntax: SyntaxId {
        uuid: uuid("4b324fc8-1670-01d3-1278-5a47bf6ee188"),
        major: 3,
        minor: 0,
    },
};

pub const OPNUM_SESSION_ENUM: u16 = 12;
pub const CALL_NAME: &str = "NetrSessionEnum";
/// NetrSessionDel (MS-SRVS 3.1.4.6).
pub const OPNUM_SESSION_DEL: u16 = 13;
pub const SESSION_DEL_CALL: &str = "NetrSessionDel";

const S: Field = Field::Str;
const N: Field = Field::U32;
/// SESSION_INFO_0: cname.
pub const LEVEL0: [Field; 1] = [S];
/// SESSION_INFO_1: cname, username, num_opens, time, idle_time, user_flags.
pub const LEVEL1: [Field; 6] = [S, S, N, N, N, N];
/// SESSION_INFO_10: cname, username, time, idle_time.
pub const LEVEL10: [Field; 4] = [S, S, N, N];
/// SESSION_INFO_502: level 1 + cltype_name, transport.
pub const LEVEL502: [Field; 8] = [S, S, N, N, N, N, S, S];
pub const LEVELS: [(u32, &[Field]); 4] =
    [(502, &LEVEL502), (10, &LEVEL10), (1, &LEVEL1), (0, &LEVEL0)];

const SESS_GUEST: u32 = 0x1;

/// A seconds count no real session reaches (2^31 s is 68 years). Samba fills
/// `sesi1_time` as `(uint32_t)(now - connect_start)`
/// (source3/rpc_server/srvsvc/srv_srvsvc_nt.c, init_srv_sess_info_1), so a
/// start time in the future or unset wraps to values at or above this, and
/// 0xFFFFFFFF is the usual "-1": all of them mean "not known".
const FIRST_IMPOSSIBLE_SECS: u32 = 1 << 31;

/// A seconds count as the server sent it, or None where it means "unknown".
pub fn seconds(value: u32) -> Option<u64> {
    (value < FIRST_IMPOSSIBLE_SECS).then_some(u64::from(value))
}

/// Whether `level`'s idle_time is a measurement. Levels 502 and 10 come from
/// servers that track idle time (Windows). Level 1 is used only after the
/// server refused 502 and 10 as invalid levels, which is what Samba does; and
/// Samba writes `idle_time = 0` for every session whatever it did
/// (init_srv_sess_info_1), so at level 1 an idle time of 0 says nothing.
fn idle_secs(level: u32, value: u32) -> Option<u64> {
    match (level, value) {
        (1, 0) => None,
        _ => seconds(value),
    }
}

/// The request stub: ServerName, ClientName NULL, UserName NULL, InfoStruct, PreferedMaximumLength, ResumeHandle.
pub fn encode_request(server: &str, level: u32, preferred_max: u32, resume_handle: u32) -> Vec<u8> {
    let mut w = NdrWriter::new();
    w.unique_wide_string(Some(&format!("\\\\{server}")));
    w.unique_wide_string(None);
    w.unique_wide_string(None);
    encode_enum_tail(&mut w, level, preferred_max, Some(resume_handle));
    w.into_bytes()
}

/// NetrSessionDel's request (MS-SRVS 3.1.4.6): `[in, string, unique]`
/// ServerName (`\\server`), ClientName and UserName. The client is sent
/// as the server listed it (`\\IP` from Windows, `IP` from Samba), which
/// both match against their sessions' client names.
pub fn encode_session_del_request(server: &str, client: &str, user: &str) -> Vec<u8> {
    let mut w = NdrWriter::new();
    w.unique_wide_string(Some(&format!("\\\\{server}")));
    w.unique_wide_string(Some(client));
    w.unique_wide_string(Some(user));
    w.into_bytes()
}

/// NetrSessionDel's response: the NET_API_STATUS alone.
pub fn decode_session_del_response(stub: &[u8]) -> Result<u32, DecodeError> {
    let mut r = NdrReader::new(stub, "NetrSessionDel response");
    r.u32()
}

/// One SESSION_INFO_`level` as a model row, its strings moved in as decoded.
/// Times that mean "unknown" (Samba's wrapped `-1`, its constant idle 0 at
/// level 1) become None, never a number.
pub fn session_from(level: u32, fields: &mut Fields) -> SmbSession {
    let mut session = SmbSession {
        client: fields.take_text(0).unwrap_or_default(),
        user: fields.take_text(1).filter(|u| !u.is_empty()),
        ..SmbSession::default()
    };
    match level {
        1 | 502 => {
            session.open_files = fields.number(2);
            session.active_secs = fields.number(3).and_then(seconds);
            session.idle_secs = fields.number(4).and_then(|idle| idle_secs(level, idle));
            session.is_guest = fields.number(5).map(|flags| flags & SESS_GUEST != 0);
            if level == 502 {
                session.client_type = fields.take_text(6).filter(|t| !t.is_empty());
                session.transport = fields.take_text(7).filter(|t| !t.is_empty());
            }
        }
        10 => {
            session.active_secs = fields.number(2).and_then(seconds);
            session.idle_secs = fields.number(3).and_then(|idle| idle_secs(level, idle));
        }
        _ => {}
    }
    session
}

/// Generic rows of `level` as model rows (tests and fuzzing; scans build
/// rows with [`session_from`] while decoding).
pub fn to_sessions(level: u32, rows: &[Vec<Value>]) -> Vec<SmbSession> {
    rows.iter()
        .map(|row| session_from(level, &mut Fields::from_values(row.iter().cloned())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::ndr::{NdrWriter, decode_enum_reply};
    use super::*;
    use proptest::prelude::*;

    /// One SESSION_INFO_1 as Samba fills it: client, user, num_open, time, idle_time, user_flags.
    struct Info1<'a>(&'a str, &'a str, u32, u32, u32, u32);

    /// A NetrSessionEnum level-1 reply stub laid out as Samba's generated
    /// pusher writes it (librpc/gen_ndr/ndr_srvsvc.c, ndr_push_srvsvc_NetSessEnum
    /// with r->out: info_ctr, totalentries, resume_handle, result), with the
    /// values source3/rpc_server/srvsvc/srv_srvsvc_nt.c init_srv_sess_info_1 puts in.
    fn samba_level1_reply(entries: &[Info1<'_>]) -> Vec<u8> {
        let mut w = NdrWriter::new();
        w.u32(1); // info_ctr->level
        w.u32(1); // union switch
        w.pointer(true); // ctr1
        w.u32(entries.len() as u32); // ctr1->count
        w.pointer(true); // ctr1->array
        w.u32(entries.len() as u32); // conformance
        for e in entries {
            w.pointer(true); // client
            w.pointer(true); // user
            for n in [e.2, e.3, e.4, e.5] {
                w.u32(n);
            }
        }
        for e in entries {
            w.wide_string(e.0);
            w.wide_string(e.1);
        }
        w.u32(entries.len() as u32); // totalentries
        w.pointer(true); // resume_handle
        w.u32(0);
        w.u32(0); // WERR_OK
        w.into_bytes()
    }

    fn decode_level1(stub: &[u8]) -> Vec<SmbSession> {
        let reply = decode_enum_reply(stub, CALL_NAME, &LEVEL1).unwrap();
        assert_eq!(reply.level, 1);
        to_sessions(reply.level, &reply.rows)
    }

    #[test]
    fn samba_level1_idle_zero_and_wrapped_time_are_unknown() {
        let stub = samba_level1_reply(&[
            // A live session: time = now - connect_start, idle_time hard-coded 0.
            Info1("127.0.0.1", "alice", 1, 42, 0, 0),
            // connect_start one second in the future: (uint32_t)-1.
            Info1("127.0.0.2", "bob", 0, u32::MAX, 0, 1),
            // Any wrapped difference (a start time far off) is as impossible.
            Info1("127.0.0.3", "carol", 0, 0x8000_0000, u32::MAX, 0),
        ]);
        let got = decode_level1(&stub);
        assert_eq!(got.len(), 3);
        assert_eq!(
            (got[0].client.as_str(), got[0].user.as_deref()),
            ("127.0.0.1", Some("alice"))
        );
        assert_eq!(
            (got[0].open_files, got[0].active_secs, got[0].idle_secs),
            (Some(1), Some(42), None)
        );
        assert_eq!((got[1].active_secs, got[1].idle_secs), (None, None));
        assert_eq!(got[1].is_guest, Some(true));
        assert_eq!((got[2].active_secs, got[2].idle_secs), (None, None));
        let json = serde_json::to_string(&got).unwrap();
        assert!(!json.contains("idle_secs"), "{json}");
        assert!(!json.contains("4294967295"), "{json}");
    }

    #[test]
    fn windows_levels_keep_a_real_idle_zero_but_not_minus_one() {
        let s = |t: &str| Value::Str(Some(t.to_string()));
        let row = |time: u32, idle: u32| {
            vec![
                s("\\\\10.0.0.5"),
                s("alice"),
                Value::U32(time),
                Value::U32(idle),
            ]
        };
        let got = to_sessions(10, &[row(60, 0), row(u32::MAX, u32::MAX)]);
        assert_eq!((got[0].active_secs, got[0].idle_secs), (Some(60), Some(0)));
        assert_eq!((got[1].active_secs, got[1].idle_secs), (None, None));
    }

    #[test]
    fn request_has_two_null_names_before_the_info_struct() {
        let stub = encode_request("h", 502, u32::MAX, 0);
        // ptr + 12 + "\\\\h\0" (8 bytes) = 24; then two NULL pointers; then level.
        assert_eq!(&stub[24..32], &[0; 8]);
        assert_eq!(&stub[32..36], &502u32.to_le_bytes());
    }

    #[test]
    fn levels_map_their_fields() {
        let s = |t: &str| Value::Str(Some(t.to_string()));
        let row502 = vec![
            s("\\\\10.0.0.5"),
            s("alice"),
            Value::U32(3),
            Value::U32(100),
            Value::U32(7),
            Value::U32(1),
            s("Windows"),
            s("tcp"),
        ];
        let got = &to_sessions(502, &[row502])[0];
        assert_eq!(got.client, "\\\\10.0.0.5");
        assert_eq!(got.user.as_deref(), Some("alice"));
        assert_eq!(
            (got.open_files, got.active_secs, got.idle_secs, got.is_guest),
            (Some(3), Some(100), Some(7), Some(true))
        );
        assert_eq!(got.transport.as_deref(), Some("tcp"));
        let row10 = vec![s("c"), s("bob"), Value::U32(50), Value::U32(5)];
        let got = &to_sessions(10, &[row10])[0];
        assert_eq!(
            (got.active_secs, got.idle_secs, got.open_files),
            (Some(50), Some(5), None)
        );
        let got = &to_sessions(0, &[vec![s("c")]])[0];
        assert_eq!((got.client.as_str(), got.user.as_deref()), ("c", None));
    }

    proptest! {
        /// Whatever the server sends, a time is either the value itself (below
        /// 2^31 s) or unknown; Samba's level-1 idle 0 is always unknown.
        #[test]
        fn seconds_are_the_value_or_unknown(time: u32, idle: u32, level in prop::sample::select(vec![1u32, 10, 502])) {
            let s = |t: &str| Value::Str(Some(t.to_string()));
            let row = match level {
                10 => vec![s("c"), s("u"), Value::U32(time), Value::U32(idle)],
                _ => vec![s("c"), s("u"), Value::U32(0), Value::U32(time), Value::U32(idle), Value::U32(0), s(""), s("")],
            };
            let got = &to_sessions(level, &[row])[0];
            prop_assert_eq!(got.active_secs, (time < 1 << 31).then_some(u64::from(time)));
            let idle_known = idle < 1 << 31 && !(level == 1 && idle == 0);
            prop_assert_eq!(got.idle_secs, idle_known.then_some(u64::from(idle)));
        }

        #[test]
        fn built_samba_replies_decode(entries in prop::collection::vec(("[a-z0-9.]{1,15}", "[a-z]{1,10}", any::<u32>(), any::<u32>()), 0..8)) {
            let infos: Vec<Info1<'_>> = entries.iter().map(|(c, u, t, o)| Info1(c, u, *o, *t, 0, 0)).collect();
            let got = decode_level1(&samba_level1_reply(&infos));
            prop_assert_eq!(got.len(), entries.len());
            for (session, (client, user, time, opens)) in got.iter().zip(&entries) {
                prop_assert_eq!(&session.client, client);
                prop_assert_eq!(session.user.as_deref(), Some(user.as_str()));
                prop_assert_eq!(session.open_files, Some(*opens));
                prop_assert_eq!(session.active_secs, seconds(*time));
                prop_assert_eq!(session.idle_secs, None);
            }
        }
    }
}

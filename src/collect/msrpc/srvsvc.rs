//! MS-SRVS NetrSessionEnum (opnum 12), levels 502, 10, 1, 0 with fallback:
//! the SMB sessions the server holds (Samba serves levels 0 and 1).

use crate::model::SmbSession;

use super::dcerpc::{Interface, SyntaxId, uuid};
use super::ndr::{Field, NdrWriter, Value, encode_enum_tail};

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

/// The request stub: ServerName, ClientName NULL, UserName NULL, InfoStruct, PreferedMaximumLength, ResumeHandle.
pub fn encode_request(server: &str, level: u32, preferred_max: u32, resume_handle: u32) -> Vec<u8> {
    let mut w = NdrWriter::new();
    w.unique_wide_string(Some(&format!("\\\\{server}")));
    w.unique_wide_string(None);
    w.unique_wide_string(None);
    encode_enum_tail(&mut w, level, preferred_max, Some(resume_handle));
    w.into_bytes()
}

/// Rows of `level` as model rows.
pub fn to_sessions(level: u32, rows: &[Vec<Value>]) -> Vec<SmbSession> {
    let text = |row: &[Value], i: usize| row.get(i).and_then(Value::text).map(str::to_string);
    let num = |row: &[Value], i: usize| row.get(i).and_then(Value::number);
    rows.iter()
        .map(|row| {
            let mut session = SmbSession {
                client: text(row, 0).unwrap_or_default(),
                user: text(row, 1).filter(|u| !u.is_empty()),
                ..SmbSession::default()
            };
            match level {
                1 | 502 => {
                    session.open_files = num(row, 2);
                    session.active_secs = num(row, 3).map(u64::from);
                    session.idle_secs = num(row, 4).map(u64::from);
                    session.is_guest = num(row, 5).map(|flags| flags & SESS_GUEST != 0);
                    if level == 502 {
                        session.client_type = text(row, 6).filter(|t| !t.is_empty());
                        session.transport = text(row, 7).filter(|t| !t.is_empty());
                    }
                }
                10 => {
                    session.active_secs = num(row, 2).map(u64::from);
                    session.idle_secs = num(row, 3).map(u64::from);
                }
                _ => {}
            }
            session
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

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
}

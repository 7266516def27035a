//! MS-WKST NetrWkstaUserEnum (opnum 2), levels 1 and 0: who the workstation
//! service lists as logged on (interactive, service and batch logons).

use crate::model::WorkstationUser;

use super::dcerpc::{Interface, SyntaxId, uuid};
use super::ndr::{Field, Fields, NdrWriter, Value, encode_enum_tail};

pub const INTERFACE: Interface = Interface {
    name: "wkssvc",
    syntax: SyntaxId {
        uuid: uuid("6bffd098-a112-3610-9833-46c3f87e345a"),
        major: 1,
        minor: 0,
    },
};

pub const OPNUM_USER_ENUM: u16 = 2;
pub const CALL_NAME: &str = "NetrWkstaUserEnum";

/// WKSTA_USER_INFO_0: username.
pub const LEVEL0: [Field; 1] = [Field::Str];
/// WKSTA_USER_INFO_1: username, logon_domain, oth_domains, logon_server.
pub const LEVEL1: [Field; 4] = [Field::Str; 4];
/// Richest first; Samba serves both.
pub const LEVELS: [(u32, &[Field]); 2] = [(1, &LEVEL1), (0, &LEVEL0)];

/// The request stub: ServerName, UserInfo {Level, empty container}, PreferredMaximumLength, ResumeHandle.
pub fn encode_request(server: &str, level: u32, preferred_max: u32, resume_handle: u32) -> Vec<u8> {
    let mut w = NdrWriter::new();
    w.unique_wide_string(Some(&format!("\\\\{server}")));
    encode_enum_tail(&mut w, level, preferred_max, Some(resume_handle));
    w.into_bytes()
}

/// One WKSTA_USER_INFO_0/1 as a model row, its strings moved in as decoded;
/// utmp-only fields stay empty.
pub fn user_from(fields: &mut Fields) -> WorkstationUser {
    let mut text = |i| fields.take_text(i).unwrap_or_default();
    WorkstationUser {
        user: text(0),
        logon_domain: text(1),
        other_domains: text(2),
        logon_server: text(3),
        ..WorkstationUser::default()
    }
}

/// Generic rows of level 0 or 1 as model rows (tests and fuzzing; scans
/// build rows with [`user_from`] while decoding).
pub fn to_users(rows: &[Vec<Value>]) -> Vec<WorkstationUser> {
    rows.iter()
        .map(|row| user_from(&mut Fields::from_values(row.iter().cloned())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::msrpc::ndr::{EnumReply, decode_enum_reply, encode_enum_reply};

    #[test]
    fn request_names_the_server_and_level() {
        let stub = encode_request("srv", 1, u32::MAX, 0);
        // "\\srv\0" = 6 UTF-16 units after ptr + max/off/actual.
        assert_eq!(&stub[4..8], &6u32.to_le_bytes());
        assert_eq!(&stub[28..32], &1u32.to_le_bytes());
        assert_eq!(stub.len(), 4 + 12 + 12 + 4 * 8);
    }

    #[test]
    fn level1_rows_map_to_users() {
        let reply = EnumReply {
            level: 1,
            rows: vec![vec![
                Value::Str(Some("alice".into())),
                Value::Str(Some("CONTOSO".into())),
                Value::Str(None),
                Value::Str(Some("DC1".into())),
            ]],
            total_entries: 1,
            resume_handle: Some(0),
            status: 0,
        };
        let decoded =
            decode_enum_reply(&encode_enum_reply(&reply, &LEVEL1), CALL_NAME, &LEVEL1).unwrap();
        let users = to_users(&decoded.rows);
        assert_eq!(users.len(), 1);
        assert_eq!(users[0].user, "alice");
        assert_eq!(users[0].logon_domain, "CONTOSO");
        assert_eq!(users[0].other_domains, "");
        assert_eq!(users[0].logon_server, "DC1");
    }
}

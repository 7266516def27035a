use super::*;
use crate::collect::msrpc::test_pipe::{self, Canned};
use proptest::prelude::*;

#[test]
fn requests_have_the_ms_rrp_layout() {
    assert_eq!(encode_open_users(8), [0, 0, 0, 0, 8, 0, 0, 0]);
    let handle = [7u8; 20];
    assert_eq!(encode_close_key(&handle), handle);
    let stub = encode_enum_key(&handle, 3);
    // hKey, dwIndex, name {0, 512, ptr} + {256, 0, 0}, class ptr + {0, 128, ptr} + {64, 0, 0}, NULL time.
    assert_eq!(stub.len(), 20 + 4 + 8 + 12 + 4 + 8 + 12 + 4);
    assert_eq!(&stub[20..24], &3u32.to_le_bytes());
    assert_eq!(&stub[24..28], &[0, 0, 0, 2]);
    assert_eq!(&stub[32..36], &256u32.to_le_bytes());
    assert_eq!(&stub[stub.len() - 4..], &[0, 0, 0, 0]);
}

#[test]
fn enum_key_replies_decode_with_or_without_terminators() {
    let reply = encode_enum_key_reply(Some("S-1-5-21-1-2-3-1001"), 0);
    assert_eq!(
        decode_enum_key(&reply).unwrap(),
        EnumKeyReply {
            name: Some("S-1-5-21-1-2-3-1001".into()),
            status: 0
        }
    );
    let end = encode_enum_key_reply(None, ERROR_NO_MORE_ITEMS);
    assert_eq!(decode_enum_key(&end).unwrap().status, ERROR_NO_MORE_ITEMS);
    // A failing call whose out parameters are garbage still reports its error.
    let mut garbage = vec![0xFF; 9];
    garbage.extend_from_slice(&ERROR_NO_MORE_ITEMS.to_le_bytes());
    assert_eq!(
        decode_enum_key(&garbage).unwrap().status,
        ERROR_NO_MORE_ITEMS
    );
    // A success that does not decode is an error.
    let mut truncated = encode_enum_key_reply(Some("abc"), 0);
    truncated.truncate(20);
    truncated.extend_from_slice(&[0, 0, 0, 0]);
    assert!(decode_enum_key(&truncated).is_err());
}

#[test]
fn over_long_names_are_refused() {
    let long = "x".repeat(600);
    assert!(decode_enum_key_strict(&encode_enum_key_reply(Some(&long), 0)).is_err());
}

#[test]
fn only_sid_named_hives_are_users() {
    assert_eq!(hive_sid(".DEFAULT"), None);
    assert_eq!(hive_sid("S-1-5-21-1-2-3-1001_Classes"), None);
    assert_eq!(
        hive_sid("S-1-5-21-1-2-3-1001").map(|s| s.to_string()),
        Some("S-1-5-21-1-2-3-1001".to_string())
    );
    assert_eq!(hive_sid("Software"), None);
}

fn client(answers: Vec<Vec<u8>>) -> RpcClient<Canned> {
    test_pipe::client(&INTERFACE, answers)
}

fn open_reply(status: u32) -> Vec<u8> {
    let mut stub = vec![1u8; 20];
    stub.extend_from_slice(&status.to_le_bytes());
    stub
}

#[test]
fn lists_user_hives_and_closes_the_key() {
    let mut rpc = client(vec![
        open_reply(0),
        encode_enum_key_reply(Some(".DEFAULT"), 0),
        encode_enum_key_reply(Some("S-1-5-21-9-9-9-1001"), 0),
        encode_enum_key_reply(Some("S-1-5-21-9-9-9-1001_Classes"), 0),
        encode_enum_key_reply(Some("S-1-5-18"), 0),
        encode_enum_key_reply(None, ERROR_NO_MORE_ITEMS),
        open_reply(0),
    ]);
    let sids = loaded_hive_sids(&mut rpc, 100).unwrap();
    let text: Vec<String> = sids.iter().map(ToString::to_string).collect();
    assert_eq!(text, ["S-1-5-18", "S-1-5-21-9-9-9-1001"]);
    assert_eq!(rpc.into_transport().opnums(), [4, 9, 9, 9, 9, 9, 5]);
}

#[test]
fn too_many_keys_is_a_limit_and_the_key_is_still_closed() {
    let mut rpc = client(vec![
        open_reply(0),
        encode_enum_key_reply(Some("S-1-5-21-9-9-9-1001"), 0),
        encode_enum_key_reply(Some("S-1-5-21-9-9-9-1002"), 0),
        open_reply(0),
    ]);
    let err = loaded_hive_sids(&mut rpc, 1).unwrap_err();
    assert!(matches!(err, RemoteError::Limit { .. }), "{err}");
    assert_eq!(rpc.into_transport().opnums(), [4, 9, 9, 5]);
}

#[test]
fn a_refused_open_is_access_denied() {
    let mut rpc = client(vec![open_reply(5)]);
    let err = loaded_hive_sids(&mut rpc, 10).unwrap_err();
    assert!(matches!(err, RemoteError::Win32 { code: 5, .. }), "{err}");
}

proptest! {
    #[test]
    fn enum_key_decoder_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(reply) = decode_enum_key(&bytes) {
            if let Some(name) = reply.name {
                prop_assert!(name.encode_utf16().count() <= usize::from(NAME_BUFFER_UNITS));
            }
        }
        let _ = decode_handle_reply(&bytes);
    }

    #[test]
    fn any_name_round_trips(name in "[ -~]{0,255}", status in any::<u32>()) {
        let reply = decode_enum_key(&encode_enum_key_reply(Some(&name), status)).unwrap();
        prop_assert_eq!(reply.name.as_deref(), Some(name.trim_end_matches('\0')));
        prop_assert_eq!(reply.status, status);
    }
}

//! BaseRegEnumKey and OpenUsers/BaseRegCloseKey answers (`\pipe\winreg`):
//! never panic, and a decoded key name stays within the buffer offered.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lingerscan::collect::msrpc::winreg::{
    NAME_BUFFER_UNITS, decode_enum_key, decode_handle_reply, hive_sid,
};

fuzz_target!(|data: &[u8]| {
    let _ = decode_handle_reply(data);
    if let Ok(reply) = decode_enum_key(data)
        && let Some(name) = reply.name
    {
        assert!(name.encode_utf16().count() <= usize::from(NAME_BUFFER_UNITS));
        if let Some(sid) = hive_sid(&name) {
            // A hive SID names itself again in canonical text.
            assert_eq!(
                sid.to_string()
                    .parse::<lingerscan::collect::msrpc::sid::Sid>()
                    .ok(),
                Some(sid)
            );
        }
    }
});

//! [MS-TSTS] LSM replies: RpcOpenEnum, RpcCloseEnum, RpcGetEnumResult (level
//! 1, a row limit from the first byte) and RpcGetSessionInformationEx, then
//! the model rows built from them.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lingerscan::collect::msrpc::tsts::sessions::{
    decode_close_enum, decode_get_enum_result, decode_get_session_information_ex, decode_open_enum,
    to_session,
};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, stub)) = data.split_first() else {
        return;
    };
    let _ = decode_open_enum(stub);
    let _ = decode_close_enum(stub);
    let detail = decode_get_session_information_ex(stub).ok();
    if let Ok(rows) = decode_get_enum_result(stub, usize::from(selector)) {
        let now = jiff::Timestamp::now();
        for row in rows {
            let _ = to_session(row, detail.as_ref(), now);
        }
    }
});

//! NDR reply stubs of NetrWkstaUserEnum and NetrSessionEnum at every level,
//! decoded as a scan does (model rows built while decoding, a row limit)
//! and generically.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lingerscan::collect::msrpc::ndr::{decode_enum_page, decode_enum_reply};
use lingerscan::collect::msrpc::{srvsvc, wkssvc};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, stub)) = data.split_first() else {
        return;
    };
    let layouts: Vec<(u32, &[_])> = wkssvc::LEVELS
        .iter()
        .chain(srvsvc::LEVELS.iter())
        .copied()
        .collect();
    let (level, layout) = layouts[usize::from(selector) % layouts.len()];
    // The high bits pick how many rows may still be taken.
    let room = usize::from(selector >> 4) * 4;
    let mut users = Vec::new();
    let _ = decode_enum_page(stub, "fuzz", layout, room, &mut users, wkssvc::user_from);
    let mut sessions = Vec::new();
    let _ = decode_enum_page(stub, "fuzz", layout, usize::MAX, &mut sessions, |fields| {
        srvsvc::session_from(level, fields)
    });
    if let Ok(reply) = decode_enum_reply(stub, "fuzz", layout) {
        let _ = wkssvc::to_users(&reply.rows);
        let _ = srvsvc::to_sessions(level, &reply.rows);
    }
});

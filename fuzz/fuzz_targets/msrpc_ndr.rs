//! NDR reply stubs of NetrWkstaUserEnum and NetrSessionEnum at every level.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lingerscan::collect::msrpc::ndr::decode_enum_reply;
use lingerscan::collect::msrpc::{srvsvc, wkssvc};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, stub)) = data.split_first() else {
        return;
    };
    let layouts: Vec<(u32, &[_])> = wkssvc::LEVELS.iter().chain(srvsvc::LEVELS.iter()).copied().collect();
    let (level, layout) = layouts[usize::from(selector) % layouts.len()];
    if let Ok(reply) = decode_enum_reply(stub, "fuzz", layout) {
        let _ = wkssvc::to_users(&reply.rows);
        let _ = srvsvc::to_sessions(level, &reply.rows);
    }
});

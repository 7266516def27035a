//! DCE/RPC PDUs from the server: framing and parsing must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lingerscan::collect::msrpc::dcerpc::{complete_pdu_len, parse_pdu};

fuzz_target!(|data: &[u8]| {
    // Walk the buffer as the client does: PDU after PDU.
    let mut rest = data;
    while let Ok(Some(len)) = complete_pdu_len(rest) {
        let _ = parse_pdu(&rest[..len]);
        rest = &rest[len..];
    }
    let _ = parse_pdu(data);
});

//! LsarLookupSids2 and LsarOpenPolicy2 answers (`\pipe\lsarpc`): never
//! panic; no more names than SIDs asked (the first two bytes say how many),
//! domains bounded by the stub, and every name maps to its SID.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lingerscan::collect::msrpc::lsarpc::{decode_handle_reply, decode_lookup_sids2, names_from};
use lingerscan::collect::msrpc::sid::Sid;

fuzz_target!(|data: &[u8]| {
    let [a, b, stub @ ..] = data else {
        return;
    };
    let expected = usize::from(u16::from_le_bytes([*a, *b]));
    let _ = decode_handle_reply(stub);
    if let Ok(reply) = decode_lookup_sids2(stub, expected) {
        assert!(reply.names.len() <= expected);
        assert!(reply.domains.len() * 12 <= stub.len());
        let sids: Vec<Sid> = (0..expected.min(64))
            .map(|rid| Sid {
                revision: 1,
                authority: 5,
                sub_authorities: vec![21, 1, 2, 3, rid as u32],
            })
            .collect();
        let named = names_from(&sids, &reply);
        assert_eq!(named.len(), sids.len());
        for (name, sid) in named.iter().zip(&sids) {
            assert_eq!(&name.sid, sid);
        }
    }
});

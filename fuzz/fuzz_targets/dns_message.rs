//! DNS answers from a server (src/dns/message.rs): any bytes, as the
//! answer to an SRV, an A and an AAAA question, give a decoded answer or
//! an error, never a panic or a hang (compression loops included); what
//! decodes holds only host-name characters and bounded counts.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lingerscan::dns::MAX_RECORDS_PER_SECTION;
use lingerscan::dns::message::{Decoded, Query, RecordKind, decode_response};

fuzz_target!(|data: &[u8]| {
    for kind in [RecordKind::Srv, RecordKind::A, RecordKind::Aaaa] {
        // The ID the bytes carry, so the checks after it are reached too.
        let id = match data {
            [high, low, ..] => u16::from_be_bytes([*high, *low]),
            _ => 0,
        };
        let query = Query {
            id,
            name: "_ldap._tcp.dc._msdcs.samdom.test".into(),
            kind,
        };
        if let Ok(Decoded::Answer(answer)) = decode_response(data, &query) {
            let total = answer.srv.len() + answer.addresses.len() + answer.ignored;
            assert!(total <= 4 * usize::from(MAX_RECORDS_PER_SECTION));
            for name in answer
                .srv
                .iter()
                .map(|s| s.target.as_str())
                .chain(answer.addresses.iter().map(|(n, _)| n.as_str()))
            {
                assert!(name.len() <= 253);
                assert!(
                    name.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
                );
            }
        }
    }
});

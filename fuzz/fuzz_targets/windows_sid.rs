//! Binary SIDs from anywhere (token buffers, LSA): never panic, and a SID
//! that parses formats to `S-<rev>-<authority>(-<sub>)*` with its count of parts.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lingerscan::collect::windows_decode::sid::{
    read_sid_string, sid_len_from_header, sid_to_string,
};

fuzz_target!(|data: &[u8]| {
    let Some(text) = sid_to_string(data) else {
        return;
    };
    let len = sid_len_from_header(data).expect("a parsed SID has a valid header");
    assert!(text.starts_with("S-"));
    assert_eq!(text.split('-').count(), 3 + (len - 8) / 4);
    // Reading the same bytes through memory gives the same answer.
    // SAFETY: `data` holds the whole SID (sid_to_string checked its length).
    assert_eq!(
        unsafe { read_sid_string(data.as_ptr()) }.as_deref(),
        Some(text.as_str())
    );
});

#![no_main]
//! `smbstatus --json` parsing of arbitrary text: never panics.
use libfuzzer_sys::fuzz_target;
use lingerscan::collect::linux::samba;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(sessions) = samba::parse_status_json(text) {
            for s in sessions {
                assert!(s.session_id.is_some());
            }
        }
    }
});

//! WMI object paths and CIM datetimes as a remote host sends them.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lingerscan::collect::windows_decode::wmi::{parse_cim_datetime, parse_object_path};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(path) = parse_object_path(text) {
        assert!(!path.class.is_empty());
        assert!(path.keys.iter().all(|(k, _)| !k.is_empty()));
    }
    if let Some(ts) = parse_cim_datetime(text) {
        assert_eq!(text.len(), 25);
        let _ = ts.as_second();
    }
});

#![no_main]
//! logind session/user files from arbitrary text: never panics.
use libfuzzer_sys::fuzz_target;
use lingerscan::collect::linux::logind;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let users = [logind::parse_user(1000, &text)];
    let session = logind::parse_session("1", &text);
    let row = session.to_logon_session(&users);
    assert_eq!(row.logon_id, "1");
    let _ = session.to_interactive(&users, |_| Some(1));
    let _ = logind::unescape_value(&text);
    // Names the directory reader accepts: a uid name must be the canonical spelling.
    let _ = logind::session_id_valid(&text);
    if let Some(uid) = logind::uid_file_name(&text) {
        assert_eq!(uid.to_string(), text);
    }
});

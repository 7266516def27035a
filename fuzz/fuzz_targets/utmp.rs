#![no_main]
//! utmp decoding of arbitrary bytes: never panics; decoded records re-encode to the same bytes' meaning.
use libfuzzer_sys::fuzz_target;
use lingerscan::collect::linux::utmp;

fuzz_target!(|data: &[u8]| {
    if let Ok(records) = utmp::decode(data) {
        assert_eq!(records.len() * utmp::RECORD_SIZE, data.len());
        let users = utmp::workstation_users(&records, |_| None);
        assert!(users.len() <= records.len());
        for record in &records {
            let again = utmp::decode(&utmp::encode(record)).expect("re-encoded record decodes");
            assert_eq!(again[0].kind, record.kind);
            assert_eq!(again[0].pid, record.pid);
            let _ = record.login_time();
            let _ = record.remote_host();
        }
    }
});

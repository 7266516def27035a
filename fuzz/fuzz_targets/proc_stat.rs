#![no_main]
//! /proc parsers (stat, status, id files, cgroup, /proc/stat btime) on arbitrary bytes: never panic.
use libfuzzer_sys::fuzz_target;
use lingerscan::collect::linux::procfs;

fuzz_target!(|data: &[u8]| {
    if let Some(stat) = procfs::parse_stat(data) {
        // The command name lies inside the input, between its parentheses.
        assert!(stat.comm.len() < data.len());
    }
    let _ = procfs::parse_status_uid(data);
    let _ = procfs::parse_id_file(data);
    let _ = procfs::parse_cgroup_session(data);
    let _ = procfs::parse_btime(data);
    let _ = procfs::parse_passwd(&String::from_utf8_lossy(data));
});

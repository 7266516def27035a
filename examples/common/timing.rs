//! Timings shared by the analysis examples (included with `#[path]`).

/// CPU time of the whole process (every thread), in ms: on a machine shared
/// with other work it varies less than the wall time.
#[cfg(unix)]
pub fn cpu_ms() -> f64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid, writable timespec for the duration of the call.
    if unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut now) } != 0 {
        return 0.0;
    }
    now.tv_sec as f64 * 1000.0 + now.tv_nsec as f64 / 1e6
}

#[cfg(not(unix))]
pub fn cpu_ms() -> f64 {
    0.0
}

/// One pass reading every process's owner and logon id (the two strings
/// the analysis groups processes by): the least any analysis of the
/// snapshot must do. Returns its time in ms and a byte sum (so that the
/// reads are not optimised away).
pub fn read_floor(snapshot: &lingerscan::model::HostSnapshot) -> (f64, u64) {
    let start = std::time::Instant::now();
    let mut sum = 0u64;
    for process in snapshot.processes.rows_or_empty() {
        for text in [&process.user, &process.logon_id].into_iter().flatten() {
            sum = text
                .bytes()
                .fold(sum, |sum, b| sum.wrapping_add(u64::from(b)));
        }
    }
    (start.elapsed().as_secs_f64() * 1000.0, sum)
}

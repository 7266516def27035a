//! Process CPU time for the examples' timings (included with `#[path]`).

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

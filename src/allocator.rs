//! The binary's allocator and its settings, shared with the benchmarks and
//! examples (`#[path]`-included there) so that their figures are the
//! binary's. Not part of the library: it leaves the choice to its user.

/// See Cargo.toml: millions of small allocations in large snapshots.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Return freed memory to the system at once rather than after mimalloc's
/// default delay: loading a large snapshot frees each outgrown buffer of
/// its row vectors while the next is filled, and holding them on costs
/// ~100 MB of peak memory at a million processes.
///
/// Call first in `main`, before any other thread starts.
pub fn tune() {
    /// `mi_option_purge_delay` (mimalloc.h, v2 and v3: the 16th option),
    /// which libmimalloc-sys does not name.
    const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
    // SAFETY: mi_option_set stores an integer option; the caller runs this
    // first in main, before the process starts any other thread.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0) };
    // mimalloc asks for transparent huge pages, so each thread's first
    // segment becomes a resident 2 MiB page: a 64-worker fleet sat at
    // 128 MiB instead of 18 MiB (benches/fleet.sh). Its own switch is read
    // before main runs; the process-wide one still applies to every later
    // page fault.
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_THP_DISABLE takes integer arguments only and changes
    // nothing but this process's huge-page policy; failure leaves it as it was.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

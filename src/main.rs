//! lingerscan's command line: parse, run, map the outcome to the exit code.

mod app;
mod cli;

use std::process::ExitCode;

use clap::Parser;

/// See Cargo.toml: millions of small allocations in large snapshots.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Return freed memory to the system at once rather than after mimalloc's
/// default 10 ms: loading a large snapshot frees each outgrown buffer of
/// its row vectors while the next is filled, and holding them on costs
/// ~100 MB of peak memory at a million processes, for no measurable speed.
fn tune_allocator() {
    /// `mi_option_purge_delay` (mimalloc.h, v2 and v3: the 16th option),
    /// which libmimalloc-sys does not name.
    const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
    // SAFETY: mi_option_set stores an integer option; it is called first in
    // main, before this process starts any other thread.
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

fn main() -> ExitCode {
    tune_allocator();
    let cli = cli::Cli::parse();
    match app::run(cli) {
        Ok(outcome) => ExitCode::from(outcome.exit_code()),
        Err(error) => {
            let message =
                lingerscan::report::sanitize::for_terminal(&format!("{error:#}")).into_owned();
            eprintln!("lingerscan: error: {message}");
            ExitCode::from(2)
        }
    }
}

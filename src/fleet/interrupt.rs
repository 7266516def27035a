//! Ctrl-C for fleet scans: the first one sets a flag (no new hosts start;
//! running ones finish or meet their deadline; the report is still
//! written), the second ends the process as usual. A small wrapper over
//! `sigaction` / `SetConsoleCtrlHandler` rather than a crate: the handler
//! only stores to an atomic, which is async-signal-safe.

use std::sync::atomic::{AtomicBool, Ordering};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// The run's stop flag: set by Ctrl-C, and by the run itself when its
/// output is closed.
pub fn flag() -> &'static AtomicBool {
    &INTERRUPTED
}

/// Whether Ctrl-C (or a closed output) stopped the run.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::Relaxed)
}

#[cfg(unix)]
extern "C" fn on_interrupt(_signal: libc::c_int) {
    INTERRUPTED.store(true, Ordering::Relaxed);
}

/// Catch the first SIGINT (the second one is the default: the process ends).
#[cfg(unix)]
pub fn install() -> std::io::Result<()> {
    // SAFETY: `action` is fully initialised (zeroed, then its handler, flags
    // and an empty mask set) before sigaction reads it; the handler only
    // stores to a static atomic, which is async-signal-safe. SA_RESETHAND
    // restores the default action after the first delivery; SA_RESTART keeps
    // blocking calls going (they end by their own deadlines).
    let result = unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_interrupt as extern "C" fn(libc::c_int) as libc::sighandler_t;
        action.sa_flags = libc::SA_RESETHAND | libc::SA_RESTART;
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(libc::SIGINT, &action, std::ptr::null_mut())
    };
    if result == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(windows)]
unsafe extern "system" fn on_interrupt(kind: u32) -> windows_sys::core::BOOL {
    use windows_sys::Win32::System::Console::{CTRL_BREAK_EVENT, CTRL_C_EVENT};
    if kind != CTRL_C_EVENT && kind != CTRL_BREAK_EVENT {
        return 0;
    }
    // The second Ctrl-C is not handled: the default handler ends the process.
    i32::from(!INTERRUPTED.swap(true, Ordering::Relaxed))
}

/// Catch the first Ctrl-C (the second one ends the process).
#[cfg(windows)]
pub fn install() -> std::io::Result<()> {
    // SAFETY: registers a handler with the signature the API expects; it
    // only touches a static atomic.
    let ok = unsafe {
        windows_sys::Win32::System::Console::SetConsoleCtrlHandler(Some(on_interrupt), 1)
    };
    if ok != 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(not(any(unix, windows)))]
pub fn install() -> std::io::Result<()> {
    Ok(())
}

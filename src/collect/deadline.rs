//! Work that must finish by a deadline, or be given up on.
//!
//! Each source runs on its own thread and hands its answer over a channel;
//! the caller waits at most until the deadline. A thread that overruns is
//! not killed (Rust cannot cancel a thread stuck in a system call); it is
//! detached and its late answer dropped, so one stuck source, such as a read
//! on a hung network filesystem, costs the scan only that source. The
//! sources are built so that they should never block (no FIFOs are opened,
//! child processes are killed at their own deadline); this is the backstop.
//!
//! A fleet scan multiplies the overruns (every silent host's name lookup,
//! every stuck Windows API call), so the helper threads alive at once are
//! capped ([`set_helper_limit`]): at the cap, new work waits for a slot
//! until its own deadline and then fails as timed out, instead of starting
//! yet another thread.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, mpsc};
use std::thread;
use std::time::Instant;

/// Helper threads alive at once unless a fleet asks for more: 64 hosts'
/// four Windows sources, or a name lookup for each of 256 hosts.
pub const DEFAULT_HELPER_LIMIT: usize = 256;

/// A counting semaphore for helper threads.
struct Slots {
    limit: AtomicUsize,
    alive: Mutex<usize>,
    freed: Condvar,
}

static HELPERS: Slots = Slots::new(DEFAULT_HELPER_LIMIT);

impl Slots {
    const fn new(limit: usize) -> Slots {
        Slots {
            limit: AtomicUsize::new(limit),
            alive: Mutex::new(0),
            freed: Condvar::new(),
        }
    }

    fn set_limit(&self, limit: usize) {
        self.limit.store(limit.max(1), Ordering::Relaxed);
        self.freed.notify_all();
    }

    fn alive(&self) -> usize {
        *self.alive.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Wait for a free slot until `deadline`.
    fn take(&'static self, deadline: Instant) -> Option<Slot> {
        let mut alive = self.alive.lock().unwrap_or_else(|e| e.into_inner());
        while *alive >= self.limit.load(Ordering::Relaxed) {
            let left = deadline.checked_duration_since(Instant::now())?;
            alive = self
                .freed
                .wait_timeout(alive, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        *alive += 1;
        Some(Slot(self))
    }
}

/// Set the cap on helper threads alive at once (at least 1).
pub fn set_helper_limit(limit: usize) {
    HELPERS.set_limit(limit);
}

/// Helper threads alive now (running, or stuck past their caller's deadline).
pub fn helpers_alive() -> usize {
    HELPERS.alive()
}

/// A taken slot; dropping it (when the helper's work returns) frees it.
struct Slot(&'static Slots);

impl Drop for Slot {
    fn drop(&mut self) {
        let mut alive = self.0.alive.lock().unwrap_or_else(|e| e.into_inner());
        *alive = alive.saturating_sub(1);
        self.0.freed.notify_one();
    }
}

/// Start `work` on its own thread now; the returned closure waits for its
/// answer until `deadline`, and otherwise returns `on_timeout(why)`.
pub fn with_deadline<T: Send + 'static>(
    deadline: Instant,
    name: &str,
    work: impl FnOnce() -> T + Send + 'static,
    on_timeout: impl FnOnce(String) -> T,
) -> impl FnOnce() -> T {
    with_deadline_in(&HELPERS, deadline, name, work, on_timeout)
}

fn with_deadline_in<T: Send + 'static>(
    slots: &'static Slots,
    deadline: Instant,
    name: &str,
    work: impl FnOnce() -> T + Send + 'static,
    on_timeout: impl FnOnce(String) -> T,
) -> impl FnOnce() -> T {
    let (sender, receiver) = mpsc::channel();
    let spawned = match slots.take(deadline) {
        None => Err(format!(
            "no answer within the time limit: {} earlier helper threads are still stuck",
            slots.limit.load(Ordering::Relaxed)
        )),
        Some(slot) => thread::Builder::new()
            .name(format!("lingerscan-{name}"))
            .spawn(move || {
                let answer = work();
                drop(slot);
                // The receiver is gone when the caller gave up: nothing to do then.
                let _ = sender.send(answer);
            })
            .map_err(|error| format!("cannot start a thread: {error}")),
    };
    move || match spawned {
        Err(why) => on_timeout(why),
        Ok(_) => {
            let left = deadline.saturating_duration_since(Instant::now());
            receiver.recv_timeout(left).unwrap_or_else(|error| {
                on_timeout(match error {
                    mpsc::RecvTimeoutError::Timeout => {
                        "no answer within the time limit".to_string()
                    }
                    mpsc::RecvTimeoutError::Disconnected => {
                        "its reader stopped without an answer (it panicked)".to_string()
                    }
                })
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn an_answer_in_time_is_returned() {
        let wait = with_deadline(Instant::now() + Duration::from_secs(5), "t", || 7, |_| 0);
        assert_eq!(wait(), 7);
    }

    #[test]
    fn a_blocked_source_is_cut_at_the_deadline() {
        let started = Instant::now();
        let wait = with_deadline(
            started + Duration::from_millis(100),
            "t",
            || {
                thread::sleep(Duration::from_secs(30));
                1
            },
            |why| {
                assert!(why.contains("time limit"), "{why}");
                -1
            },
        );
        assert_eq!(wait(), -1);
        let took = started.elapsed();
        assert!(took < Duration::from_secs(2), "took {took:?}");
    }

    #[test]
    fn a_panicking_source_is_a_failure_not_a_crash() {
        let wait = with_deadline(
            Instant::now() + Duration::from_secs(5),
            "t",
            || -> i32 { panic!("boom") },
            |why| {
                assert!(why.contains("panicked"), "{why}");
                -1
            },
        );
        assert_eq!(wait(), -1);
    }

    #[test]
    fn stuck_helpers_are_capped() {
        // Slots of its own: other tests in this binary use the shared ones.
        static SLOTS: Slots = Slots::new(2);
        let release = std::sync::Arc::new(std::sync::Barrier::new(3));
        let stuck: Vec<_> = (0..2)
            .map(|_| {
                let release = release.clone();
                with_deadline_in(
                    &SLOTS,
                    Instant::now() + Duration::from_millis(50),
                    "stuck",
                    move || {
                        release.wait();
                        1
                    },
                    |_| -1,
                )
            })
            .collect();
        for wait in stuck {
            assert_eq!(wait(), -1, "cut at the deadline, thread left running");
        }
        let started = Instant::now();
        let third = with_deadline_in(
            &SLOTS,
            started + Duration::from_millis(200),
            "third",
            || 3,
            |why| {
                assert!(why.contains("still stuck"), "{why}");
                -1
            },
        );
        assert_eq!(third(), -1, "no third thread while two are stuck");
        assert!(started.elapsed() >= Duration::from_millis(150));
        assert_eq!(SLOTS.alive(), 2);
        release.wait();
        let fourth = with_deadline_in(
            &SLOTS,
            Instant::now() + Duration::from_secs(5),
            "t",
            || 4,
            |_| -1,
        );
        assert_eq!(fourth(), 4);
    }
}

/// `read_exact` that ends by `deadline` however the peer paces its bytes.
/// A socket's read timeout bounds each `recv`, not the whole read: a peer
/// that sends one byte just inside every timeout would hold a plain
/// `read_exact` of a 64 KiB frame for hours. Here every `recv` gets only
/// the time left. Fails with `TimedOut` at the deadline, `UnexpectedEof`
/// when the peer closes first.
pub fn read_exact_by(
    stream: &mut std::net::TcpStream,
    mut buf: &mut [u8],
    deadline: Instant,
) -> std::io::Result<()> {
    use std::io::{Error, ErrorKind, Read};
    while !buf.is_empty() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Error::new(ErrorKind::TimedOut, "the deadline passed"));
        }
        stream.set_read_timeout(Some(left))?;
        match stream.read(buf) {
            Ok(0) => return Err(Error::from(ErrorKind::UnexpectedEof)),
            Ok(n) => buf = &mut buf[n..],
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                return Err(Error::new(ErrorKind::TimedOut, e));
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod read_exact_by_tests {
    use super::read_exact_by;
    use std::io::{ErrorKind, Write};
    use std::net::{TcpListener, TcpStream};
    use std::time::{Duration, Instant};

    /// A real loopback peer that sends one byte every 40 ms, forever
    /// (until the reader hangs up).
    fn trickling_peer() -> (TcpStream, std::thread::JoinHandle<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let peer = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            while stream.write_all(b"x").is_ok() {
                std::thread::sleep(Duration::from_millis(40));
            }
        });
        (TcpStream::connect(address).unwrap(), peer)
    }

    #[test]
    fn a_trickling_peer_cannot_hold_the_read_past_the_deadline() {
        let (mut stream, peer) = trickling_peer();
        let mut buf = vec![0u8; 64 * 1024];
        let started = Instant::now();
        let err =
            read_exact_by(&mut stream, &mut buf, started + Duration::from_millis(300)).unwrap_err();
        let took = started.elapsed();
        assert_eq!(err.kind(), ErrorKind::TimedOut, "{err}");
        assert!(
            took >= Duration::from_millis(300) && took < Duration::from_millis(600),
            "took {took:?}"
        );
        drop(stream);
        peer.join().unwrap();
    }

    #[test]
    fn bytes_that_come_in_time_are_read_whole() {
        let (mut stream, peer) = trickling_peer();
        let mut buf = [0u8; 4];
        read_exact_by(
            &mut stream,
            &mut buf,
            Instant::now() + Duration::from_secs(5),
        )
        .unwrap();
        assert_eq!(&buf, b"xxxx");
        drop(stream);
        peer.join().unwrap();
    }
}

//! Work that must finish by a deadline, or be given up on.
//!
//! Each source runs on its own thread and hands its answer over a channel;
//! the caller waits at most until the deadline. A thread that overruns is
//! not killed (Rust cannot cancel a thread stuck in a system call); it is
//! detached and its late answer dropped, so one stuck source, such as a read
//! on a hung network filesystem, costs the scan only that source. The
//! sources are built so that they should never block (no FIFOs are opened,
//! child processes are killed at their own deadline); this is the backstop.

use std::sync::mpsc;
use std::thread;
use std::time::Instant;

/// Start `work` on its own thread now; the returned closure waits for its
/// answer until `deadline`, and otherwise returns `on_timeout(why)`.
pub fn with_deadline<T: Send + 'static>(
    deadline: Instant,
    name: &str,
    work: impl FnOnce() -> T + Send + 'static,
    on_timeout: impl FnOnce(String) -> T,
) -> impl FnOnce() -> T {
    let (sender, receiver) = mpsc::channel();
    let spawned = thread::Builder::new()
        .name(format!("lingerscan-{name}"))
        .spawn(move || {
            // The receiver is gone when the caller gave up: nothing to do then.
            let _ = sender.send(work());
        });
    move || match spawned {
        Err(error) => on_timeout(format!("cannot start a thread: {error}")),
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
}

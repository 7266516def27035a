//! Whole local Linux collection with N extra sleeping processes.
//!
//! Run: `cargo bench --bench linux_scan`. Target: under 50 ms at 10,000 processes.
//! `without_smbstatus` points smbstatus at a missing binary, so it measures
//! our own work (utmp, logind, /proc); `with_smbstatus` adds the real
//! smbstatus run, whose start-up cost (~50 ms of loading Samba's libraries)
//! does not depend on the number of processes.

#[cfg(target_os = "linux")]
mod linux {
    use std::path::PathBuf;
    use std::process::{Child, Command, Stdio};

    use lingerscan::collect::{CollectOptions, LinuxPaths};

    /// Sleeping processes killed (by their own pids) and reaped on drop.
    pub struct Sleepers(Vec<Child>);

    impl Sleepers {
        pub fn start(n: usize) -> Sleepers {
            let mut children = Vec::with_capacity(n);
            for _ in 0..n {
                match Command::new("sleep")
                    .arg("3600")
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                {
                    Ok(child) => children.push(child),
                    Err(e) => {
                        eprintln!("could only start {} of {n} sleepers: {e}", children.len());
                        break;
                    }
                }
            }
            Sleepers(children)
        }
    }

    impl Drop for Sleepers {
        fn drop(&mut self) {
            for child in &mut self.0 {
                let _ = child.kill();
            }
            for child in &mut self.0 {
                let _ = child.wait();
            }
        }
    }

    pub fn options(with_smbstatus: bool) -> CollectOptions {
        CollectOptions {
            linux: LinuxPaths {
                smbstatus: if with_smbstatus {
                    PathBuf::from("smbstatus")
                } else {
                    PathBuf::from("/nonexistent/smbstatus")
                },
                ..LinuxPaths::default()
            },
            ..CollectOptions::default()
        }
    }

    /// Under `cargo test` (no `--bench` argument) divan runs each benchmark
    /// once as a smoke test: a hundredth of the processes keeps that quick.
    pub fn scaled(n: usize) -> usize {
        if !std::env::args().any(|a| a == "--bench") {
            n / 100
        } else {
            n
        }
    }

    pub fn process_count() -> usize {
        std::fs::read_dir("/proc")
            .map(|d| {
                d.filter_map(Result::ok)
                    .filter(|e| {
                        e.file_name()
                            .to_str()
                            .is_some_and(|n| n.parse::<u32>().is_ok())
                    })
                    .count()
            })
            .unwrap_or(0)
    }
}

#[cfg(target_os = "linux")]
#[divan::bench(args = [1_000, 5_000, 10_000], sample_count = 20)]
fn without_smbstatus(bencher: divan::Bencher, extra: usize) {
    let _sleepers = linux::Sleepers::start(linux::scaled(extra));
    let options = linux::options(false);
    eprintln!("[{} processes in /proc]", linux::process_count());
    bencher.bench(|| {
        let snapshot = lingerscan::collect::collect(&options);
        divan::black_box(snapshot)
    });
}

#[cfg(target_os = "linux")]
#[divan::bench(args = [10_000], sample_count = 10)]
fn with_smbstatus(bencher: divan::Bencher, extra: usize) {
    let _sleepers = linux::Sleepers::start(linux::scaled(extra));
    let options = linux::options(true);
    bencher.bench(|| divan::black_box(lingerscan::collect::collect(&options)));
}

fn main() {
    divan::main();
}

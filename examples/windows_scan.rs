//! Times each phase of a local Windows scan (one line per source), then
//! optionally prints the snapshot as JSON (`--json`). Windows only; under
//! Linux run it with `cargo run --example windows_scan --target
//! x86_64-pc-windows-gnu` (Wine, through the cargo runner).

#[cfg(windows)]
fn main() {
    use std::time::Instant;

    use lingerscan::collect::CollectOptions;
    use lingerscan::collect::windows::{collect_local, lsa, netapi, process, wts};
    use lingerscan::model::Observed;

    fn count<T>(o: &Observed<Vec<T>>) -> String {
        match o {
            Observed::Ok { rows } => format!("{} rows", rows.len()),
            Observed::Failed(f) => format!("failed: {f}"),
        }
    }

    let args: Vec<String> = std::env::args().skip(1).collect();
    let rounds: usize = args
        .iter()
        .position(|a| a == "--rounds")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(5);
    let spawn: usize = args
        .iter()
        .position(|a| a == "--spawn")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let children = Children::spawn(spawn);
    let mut notes = Vec::new();
    let mut best = std::collections::BTreeMap::<&str, (f64, String)>::new();
    for _ in 0..rounds {
        let mut time = |name: &'static str, f: &mut dyn FnMut() -> String| {
            let start = Instant::now();
            let summary = f();
            let ms = start.elapsed().as_secs_f64() * 1000.0;
            let entry = best.entry(name).or_insert((f64::MAX, String::new()));
            if ms < entry.0 {
                *entry = (ms, summary);
            }
        };
        time("debug_privilege", &mut || {
            format!("enabled={}", process::enable_debug_privilege())
        });
        time("workstation_users", &mut || {
            count(&netapi::workstation_users(None))
        });
        time("logon_sessions", &mut || {
            count(&lsa::logon_sessions(&mut notes))
        });
        time("processes", &mut || count(&process::processes(&mut notes)));
        time("smb_sessions", &mut || {
            count(&netapi::smb_sessions(None, &mut notes))
        });
        time("interactive_sessions", &mut || {
            count(&wts::interactive_sessions(None))
        });
        time("collect_local (all)", &mut || {
            let s = collect_local(&CollectOptions::default());
            format!("{} processes", s.processes.rows_or_empty().len())
        });
    }
    println!(
        "best of {rounds} rounds, {} extra cmd.exe processes:",
        children.0.len()
    );
    for (name, (ms, summary)) in &best {
        println!("{name:>22}: {ms:9.3} ms  ({summary})");
    }
    if args.iter().any(|a| a == "--json") {
        let snapshot = collect_local(&CollectOptions::default());
        match serde_json::to_string_pretty(&snapshot) {
            Ok(json) => println!("{json}"),
            Err(e) => eprintln!("cannot serialize: {e}"),
        }
    }
}

/// Extra processes to make the process source work harder; each is a
/// `cmd.exe` waiting on its stdin, ended (and reaped) on drop.
#[cfg(windows)]
struct Children(Vec<std::process::Child>);

#[cfg(windows)]
impl Children {
    fn spawn(count: usize) -> Self {
        use std::process::{Command, Stdio};
        let children = (0..count)
            .filter_map(|_| {
                Command::new("cmd.exe")
                    .arg("/q")
                    .stdin(Stdio::piped())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .ok()
            })
            .collect();
        Children(children)
    }
}

#[cfg(windows)]
impl Drop for Children {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[cfg(not(windows))]
fn main() {
    eprintln!(
        "windows_scan times the Windows collector; build it with --target x86_64-pc-windows-gnu"
    );
}

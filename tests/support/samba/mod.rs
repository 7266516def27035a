//! A private Samba `smbd` on a loopback address, for tests: the Linux
//! collector tests, the MS-RPC client tests and the remote-scan benchmark.
//!
//! Everything lives in a temp dir: smb.conf, private/lock/state/cache/pid
//! dirs, a share, and a utmp file (`utmp = yes` makes smbd write a
//! USER_PROCESS record per session). smbd runs as `setsid smbd --foreground
//! --no-process-group -s CONF`, optionally in its own mount namespace with a
//! private `/run` ([`SambaOptions::private_run`]). Drop stops smbd, its
//! children, samba-dcerpcd (via its pid file) and its workers, all by pid.
//!
//! [`SambaOptions`] says what to set up; [`remote`] holds the MS-RPC tests'
//! accounts and options.

mod accounts;
mod options;
pub mod remote;
mod session;
mod utmp;

// Each test binary names a different part of the fixture's vocabulary.
#[allow(unused_imports)]
pub use options::{SambaOptions, SambaUser, UtmpEntry};
#[allow(unused_imports)]
pub use session::HeldSession;

use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::{alive, children_of, ensure_user, run, signal, wait_until, which};

/// Name of the share every test server exports.
pub const SHARE: &str = "share";

pub struct SambaServer {
    pub dir: tempfile::TempDir,
    pub conf: PathBuf,
    pub address: Ipv4Addr,
    pub port: u16,
    pub workgroup: String,
    utmp: PathBuf,
    smbd: Child,
}

impl SambaServer {
    pub fn start(options: &SambaOptions) -> SambaServer {
        let dir = tempfile::Builder::new()
            .prefix("lingerscan-smbd-")
            .tempdir()
            .expect("temp dir");
        let root = dir.path();
        for sub in [
            "private", "lock", "state", "cache", "pid", "ncalrpc", "log", "utmp", "run", SHARE,
        ] {
            std::fs::create_dir_all(root.join(sub)).expect("mkdir");
        }
        // glibc's pututxline does not create the file. With `utmp directory`
        // smbd (built with utmpx) writes utmpx/wtmpx there; in a private /run
        // it uses the default /run/utmp.
        let utmp = if options.private_run {
            root.join("run/utmp")
        } else {
            std::fs::write(root.join("utmp/wtmpx"), b"").expect("wtmp file");
            root.join("utmp/utmpx")
        };
        std::fs::write(&utmp, b"").expect("utmp file");
        utmp::append(&utmp, &options.utmp_entries);
        set_mode(&root.join(SHARE), 0o777);
        std::fs::write(root.join(SHARE).join("hello.txt"), b"hello\n").expect("share file");
        set_mode(&root.join(SHARE).join("hello.txt"), 0o666);

        let conf = root.join("smb.conf");
        std::fs::write(&conf, options::config_text(root, options)).expect("smb.conf");
        let conf_arg = conf.to_str().expect("utf-8 temp path");
        accounts::set_up(conf_arg, options);

        let smbd = spawn_smbd(root, conf_arg, options.private_run);
        let mut server = SambaServer {
            conf,
            address: options.address,
            port: options.port,
            workgroup: options.workgroup.clone(),
            utmp,
            smbd,
            dir,
        };
        let target = SocketAddr::from((options.address, options.port));
        let up = wait_until(Duration::from_secs(30), || {
            TcpStream::connect_timeout(&target, Duration::from_millis(200)).is_ok()
                || server.smbd.try_wait().ok().flatten().is_some()
        });
        let exited = server.smbd.try_wait().ok().flatten();
        if !up || exited.is_some() {
            panic!(
                "smbd did not come up on {target} ({exited:?}); log:\n{}",
                server.log_tail()
            );
        }
        server
    }

    /// The address as text, as the remote collector takes it.
    pub fn ip(&self) -> String {
        self.address.to_string()
    }

    pub fn conf_path(&self) -> &Path {
        &self.conf
    }

    /// The utmp file smbd writes its session records to (and, with a private
    /// /run, serves NetrWkstaUserEnum from).
    pub fn utmp_path(&self) -> PathBuf {
        self.utmp.clone()
    }

    /// Append USER_PROCESS records (user, line, host) to the server's utmp file.
    pub fn add_utmp(&self, records: &[(&str, &str, &str)]) {
        let entries: Vec<UtmpEntry> = records
            .iter()
            .map(|&(user, line, host)| UtmpEntry {
                user: user.into(),
                line: line.into(),
                host: host.into(),
            })
            .collect();
        utmp::append(&self.utmp, &entries);
    }

    pub fn share_dir(&self) -> PathBuf {
        self.dir.path().join(SHARE)
    }

    pub fn smbd_pid(&self) -> u32 {
        self.smbd.id()
    }

    /// CPU time (user + system, in clock ticks) this server has used so far:
    /// smbd, samba-dcerpcd and their rpcd_* workers, each with the children
    /// it has reaped (smbd's per-connection processes end up there).
    #[allow(dead_code)] // the fleet benchmark's server/client breakdown
    pub fn cpu_ticks(&self) -> u64 {
        let mut pids = vec![self.smbd.id()];
        pids.extend(pids_naming(&self.conf));
        pids.sort_unstable();
        pids.dedup();
        pids.iter()
            .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/stat")).ok())
            .filter_map(|stat| {
                // utime, stime, cutime, cstime: fields 14-17, the 12th-15th after `(comm) `.
                let rest = stat.get(stat.rfind(')')? + 2..)?;
                Some(
                    rest.split(' ')
                        .skip(11)
                        .take(4)
                        .filter_map(|f| f.parse::<u64>().ok())
                        .sum::<u64>(),
                )
            })
            .sum()
    }

    pub fn unc(&self) -> String {
        format!("//{}/{SHARE}", self.address)
    }

    pub fn log_tail(&self) -> String {
        let text =
            std::fs::read_to_string(self.dir.path().join("log/smbd.out")).unwrap_or_default();
        text.lines()
            .rev()
            .take(40)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// `setsid smbd --foreground --no-process-group --debug-stdout -s CONF`, output
/// to log/smbd.out; with `private_run`, through `unshare -m` and a bind mount of
/// `<root>/run` over /run. setsid, unshare (no --fork) and sh's exec all keep
/// one pid: the child's pid is smbd's.
fn spawn_smbd(root: &Path, conf: &str, private_run: bool) -> Child {
    let log = std::fs::File::create(root.join("log/smbd.out")).expect("log file");
    let smbd = which("smbd").expect("smbd installed");
    let mut command = Command::new(which("setsid").unwrap_or_else(|| "setsid".into()));
    if private_run {
        command
            .arg(which("unshare").expect("unshare installed"))
            .args(["-m", "sh", "-c", "mount --bind \"$0\" /run && exec \"$@\""])
            .arg(root.join("run"));
    }
    command
        .arg(smbd)
        .args([
            "--foreground",
            "--no-process-group",
            "--debug-stdout",
            "-s",
            conf,
        ])
        // A winbindd elsewhere on the machine (an AD DC's) must not take part
        // in this server's logons.
        .env("_NO_WINBINDD", "1")
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("start smbd")
}

impl Drop for SambaServer {
    fn drop(&mut self) {
        let smbd = self.smbd.id();
        let dcerpcd_pid = || {
            std::fs::read_to_string(self.dir.path().join("pid/samba-dcerpcd.pid"))
                .ok()
                .and_then(|t| t.trim().parse::<u32>().ok())
        };
        let dcerpcd = dcerpcd_pid();
        // Everything smbd and samba-dcerpcd started, by pid, before they go:
        // once they exit their children are reparented and found only by the
        // private smb.conf path in their command lines.
        let mut helpers = children_of(smbd);
        helpers.extend(dcerpcd);
        if let Some(pid) = dcerpcd {
            helpers.extend(children_of(pid));
        }
        helpers.extend(pids_naming(&self.conf));
        signal(smbd, "TERM");
        if let Some(pid) = dcerpcd {
            signal(pid, "TERM");
        }
        if !wait_until(Duration::from_secs(5), || {
            self.smbd.try_wait().ok().flatten().is_some()
        }) {
            let _ = self.smbd.kill();
        }
        let _ = self.smbd.wait();
        // samba-dcerpcd and its rpcd_* workers outlive smbd; some may have started meanwhile.
        helpers.extend(dcerpcd_pid());
        helpers.extend(pids_naming(&self.conf));
        helpers.retain(|&pid| pid != smbd && pid != std::process::id());
        helpers.sort_unstable();
        helpers.dedup();
        for &pid in &helpers {
            signal(pid, "TERM");
        }
        wait_until(Duration::from_secs(3), || {
            helpers.iter().all(|&p| !alive(p))
        });
        for pid in helpers {
            if alive(pid) {
                signal(pid, "KILL");
            }
        }
    }
}

/// Pids whose command line mentions `path` (this server's unique smb.conf).
fn pids_naming(path: &Path) -> Vec<u32> {
    let needle = path.as_os_str().as_encoded_bytes();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|cmdline| cmdline.windows(needle.len()).any(|w| w == needle))
        })
        .collect()
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

//! A real Active Directory domain controller for tests: Samba's AD DC on
//! loopback 127.0.0.200 (Kerberos 88, LDAP 389, SMB 445, endpoint mapper
//! 135, and DNS 53: the DC's internal DNS server serves the domain's zone,
//! SRV records included, and forwards nothing off loopback).
//!
//! Provisioning takes seconds, so it is done once and cached under
//! `target/samba-ad-dc/<key>/` (the key names the Samba version and this
//! fixture's layout); a lock file makes concurrent test binaries wait for
//! one provisioning. The DC itself runs once per test binary that asks for
//! it, from that directory, behind a second lock (every DC binds the same
//! address and ports); it is stopped by pid when the binary exits
//! (`atexit`, which the test harness reaches even when tests fail), and a
//! DC left by a killed run is stopped by the pid in its pid file first.
//!
//! Facts (Debian 12, Samba 4.17): the `/8` in `interfaces` lets Samba bind
//! a 127.0.0.X not assigned to `lo`; the DC needs its own `pid directory`;
//! its smbd must use winbindd's default socket (a private one makes every
//! logon fail with NT_STATUS_INTERNAL_ERROR), which is why the plain smbd
//! fixture runs with `_NO_WINBINDD=1`.

use std::fs::File;
use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use super::{alive, children_of, signal, wait_until, which};

pub const ADDRESS: &str = "127.0.0.200";
pub const REALM: &str = "SAMDOM.TEST";
pub const DOMAIN: &str = "SAMDOM";
pub const HOST: &str = "dc1.samdom.test";
pub const ADMIN_PASSWORD: &str = "Passw0rd.Lingerscan";
/// Bumped when what is provisioned changes, so old caches are not reused.
/// v2: the DC serves its zone with its internal DNS server.
const LAYOUT: &str = "v2";
/// Where the DC would forward DNS questions outside its zone: a loopback
/// address nothing listens on, so it never asks anyone else.
pub const DNS_FORWARDER: &str = "127.0.0.201";

pub struct SambaDc {
    pub dir: PathBuf,
    pub conf: PathBuf,
    /// A client krb5.conf naming the KDC by address (no DNS).
    pub krb5_conf: PathBuf,
    samba: Mutex<Option<Child>>,
    /// Held for the DC's life: the run lock.
    _run_lock: File,
}

/// The programs the DC fixture needs.
pub const PROGRAMS: &[&str] = &["samba", "samba-tool", "kinit", "smbcontrol", "smbclient"];

static DC: OnceLock<SambaDc> = OnceLock::new();

extern "C" fn stop_at_exit() {
    if let Some(dc) = DC.get() {
        dc.stop();
    }
}

impl SambaDc {
    /// `kinit` as the domain's administrator (the password on standard
    /// input) into the credential cache file `cache`; the KRB5CCNAME
    /// naming it.
    pub fn kinit_admin(&self, cache: &Path) -> String {
        let mut child = Command::new("kinit")
            .arg(format!("administrator@{REALM}"))
            .env("KRB5_CONFIG", &self.krb5_conf)
            .env("KRB5CCNAME", format!("FILE:{}", cache.display()))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run kinit");
        writeln!(child.stdin.take().expect("stdin"), "{ADMIN_PASSWORD}")
            .expect("password to kinit");
        let out = child.wait_with_output().expect("kinit");
        assert!(
            out.status.success(),
            "kinit: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        format!("FILE:{}", cache.display())
    }

    /// The DC of this test binary, started on first use.
    pub fn get() -> &'static SambaDc {
        DC.get_or_init(|| {
            let dc = SambaDc::start();
            // SAFETY: registers a plain extern "C" function with no
            // arguments; it only reads the static set just after.
            unsafe { libc::atexit(stop_at_exit) };
            dc
        })
    }

    fn start() -> SambaDc {
        let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/samba-ad-dc");
        std::fs::create_dir_all(&base).expect("mkdir target/samba-ad-dc");
        let key = format!("{}-{LAYOUT}", samba_version());
        let dir = base.join(&key);
        {
            let _provisioning = lock(&base.join(format!("{key}.lock")));
            if !dir.join("provisioned").exists() {
                provision(&dir);
            }
        }
        let run_lock = lock(&base.join("run.lock"));
        let conf = dir.join("etc/smb.conf");
        stop_stale(&dir, &conf);
        set_policy(&dir, "ntlmv2-only");
        let krb5_conf = dir.join("krb5.conf");
        std::fs::write(
            &krb5_conf,
            format!(
                "[libdefaults]\n default_realm = {REALM}\n dns_lookup_kdc = false\n \
                 dns_canonicalize_hostname = false\n rdns = false\n\
                 [realms]\n {REALM} = {{\n  kdc = {ADDRESS}\n }}\n"
            ),
        )
        .expect("write krb5.conf");
        let log = File::create(dir.join("samba.log")).expect("log file");
        let samba = Command::new(which("samba").expect("samba installed"))
            .args(["-i", "-M", "single", "--debug-stdout", "-s"])
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start samba");
        let dc = SambaDc {
            dir,
            conf,
            krb5_conf,
            samba: Mutex::new(Some(samba)),
            _run_lock: run_lock,
        };
        let up = wait_until(Duration::from_secs(60), || {
            [88, 445, 389, 53].iter().all(|port| {
                let addr: SocketAddr = format!("{ADDRESS}:{port}").parse().expect("address");
                TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
            })
        });
        // Listening is not serving: winbindd and the SAM come up after the
        // sockets, and a logon before that fails. Wait for a real one.
        let up = up
            && wait_until(Duration::from_secs(60), || {
                Command::new(which("smbclient").expect("smbclient installed"))
                    .arg(format!("//{ADDRESS}/IPC$"))
                    .args(["-U", &format!("{DOMAIN}\\administrator"), "-c", "exit"])
                    .env("PASSWD", ADMIN_PASSWORD)
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success())
            });
        if !up {
            let tail = dc.log_tail();
            dc.stop();
            panic!("the Samba AD DC did not start:\n{tail}");
        }
        dc
    }

    /// `ntlm auth` of the DC (`ntlmv2-only`, `disabled`), applied at once.
    pub fn set_ntlm_auth(&self, value: &str) {
        set_policy(&self.dir, value);
        for target in ["smbd", "samba"] {
            let _ = Command::new(which("smbcontrol").expect("smbcontrol installed"))
                .arg("-s")
                .arg(&self.conf)
                .args([target, "reload-config"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        // smbd re-reads its configuration when the message arrives.
        std::thread::sleep(Duration::from_millis(500));
    }

    /// `out` is a JSON scan report of this DC alone (by its name), and its
    /// srvsvc answered.
    #[allow(dead_code)] // not every test binary scans the DC
    pub fn assert_scanned(&self, out: &std::process::Output) {
        let report: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stderr)));
        let hosts = report["hosts"].as_array().expect("hosts");
        assert_eq!(hosts.len(), 1, "{report:#}");
        assert_eq!(
            hosts[0]["host"].as_str().map(str::to_lowercase).as_deref(),
            Some(HOST)
        );
        let failed = hosts[0]["analysis"]["failed_sources"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert!(
            !failed.iter().any(|f| f["source"] == "smb_sessions"),
            "srvsvc failed: {report:#}\n{}",
            self.log_tail()
        );
    }

    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.dir.join("samba.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// A keytab holding `principal`'s keys (samba-tool reads them from sam.ldb).
    pub fn export_keytab(&self, principal: &str, path: &Path) {
        let out = Command::new(which("samba-tool").expect("samba-tool installed"))
            .args(["domain", "exportkeytab"])
            .arg(path)
            .arg(format!("--principal={principal}"))
            .arg("-s")
            .arg(&self.conf)
            .output()
            .expect("run samba-tool");
        assert!(
            out.status.success(),
            "exportkeytab: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Stop samba and everything it started, by pid.
    pub fn stop(&self) {
        let Ok(mut guard) = self.samba.lock() else {
            return;
        };
        let Some(mut child) = guard.take() else {
            return;
        };
        let pid = child.id();
        let mut helpers = descendants(pid);
        helpers.extend(pids_naming(&self.conf));
        signal(pid, "TERM");
        if !wait_until(Duration::from_secs(10), || {
            child.try_wait().ok().flatten().is_some()
        }) {
            let _ = child.kill();
        }
        let _ = child.wait();
        // samba-dcerpcd and its rpcd_* workers are started on demand and
        // reparented: found by this DC's smb.conf in their command lines.
        helpers.extend(pids_naming(&self.conf));
        kill_all(helpers, pid);
    }
}

fn samba_version() -> String {
    let out = Command::new(which("samba").expect("samba installed"))
        .arg("--version")
        .output()
        .expect("samba --version");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .replace(|c: char| !c.is_ascii_alphanumeric() && c != '.', "_")
}

/// An exclusive flock on `path`, released when the file is closed.
fn lock(path: &Path) -> File {
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .expect("open lock file");
    use std::os::fd::AsRawFd;
    // SAFETY: flock on a descriptor this File owns; blocks until granted.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
    assert_eq!(rc, 0, "flock {}", path.display());
    file
}

fn provision(dir: &Path) {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).expect("mkdir");
    let out = Command::new(which("samba-tool").expect("samba-tool installed"))
        .args(["domain", "provision"])
        .arg(format!("--realm={REALM}"))
        .arg(format!("--domain={DOMAIN}"))
        .arg(format!("--adminpass={ADMIN_PASSWORD}"))
        .args([
            "--server-role=dc",
            "--dns-backend=SAMBA_INTERNAL",
            "--use-rfc2307",
            "--host-name=dc1",
        ])
        .arg(format!("--host-ip={ADDRESS}"))
        .arg(format!("--targetdir={}", dir.display()))
        .arg(format!("--option=interfaces={ADDRESS}/8"))
        .arg("--option=bind interfaces only=yes")
        .arg(format!("--option=dns forwarder={DNS_FORWARDER}"))
        // samba_dnsupdate would check the DC's records through the
        // system's resolver (a non-loopback address); the provisioned
        // zone already holds them.
        .arg("--option=dns update command=/bin/true")
        .output()
        .expect("run samba-tool domain provision");
    assert!(
        out.status.success(),
        "provisioning failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The fixture's own directories and the policy file tests change.
    for sub in ["pid", "ncalrpc"] {
        std::fs::create_dir_all(dir.join(sub)).expect("mkdir");
    }
    let conf = dir.join("etc/smb.conf");
    let text = std::fs::read_to_string(&conf).expect("read smb.conf");
    let extra = format!(
        "[global]\n\tpid directory = {d}/pid\n\tncalrpc dir = {d}/ncalrpc\n\
         \tinclude = {d}/etc/policy.conf\n",
        d = dir.display()
    );
    std::fs::write(&conf, text.replacen("[global]\n", &extra, 1)).expect("write smb.conf");
    File::create(dir.join("provisioned")).expect("marker");
}

fn set_policy(dir: &Path, ntlm_auth: &str) {
    let mut file = File::create(dir.join("etc/policy.conf")).expect("policy.conf");
    writeln!(file, "\tntlm auth = {ntlm_auth}").expect("write policy.conf");
}

/// A DC left running by a run that was killed: stopped by its pid file's
/// pid, if that process still runs this DC's configuration.
fn stop_stale(dir: &Path, conf: &Path) {
    let pid = std::fs::read_to_string(dir.join("pid/samba.pid"))
        .ok()
        .and_then(|t| t.trim().parse::<u32>().ok());
    let mut stale = pids_naming(conf);
    if let Some(pid) = pid.filter(|p| stale.contains(p)) {
        stale.extend(descendants(pid));
    }
    kill_all(stale, 0);
}

fn descendants(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let mut queue = vec![pid];
    while let Some(p) = queue.pop() {
        for child in children_of(p) {
            if !out.contains(&child) {
                out.push(child);
                queue.push(child);
            }
        }
    }
    out
}

fn kill_all(mut pids: Vec<u32>, parent: u32) {
    pids.retain(|&p| p != parent && p != std::process::id());
    pids.sort_unstable();
    pids.dedup();
    for &pid in &pids {
        signal(pid, "TERM");
    }
    wait_until(Duration::from_secs(5), || pids.iter().all(|&p| !alive(p)));
    for pid in pids {
        if alive(pid) {
            signal(pid, "KILL");
        }
    }
}

/// Pids whose command line mentions `path` (this DC's smb.conf).
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

/// lingerscan with only the environment given: no inherited Kerberos
/// setting or password, no history database.
#[allow(dead_code)] // not every test binary runs it this way
pub fn lingerscan(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_lingerscan"));
    command
        .args(args)
        .env_remove("KRB5CCNAME")
        .env_remove("KRB5_CONFIG")
        .env_remove("KRB5_CLIENT_KTNAME")
        .env_remove("LINGERSCAN_PASSWORD")
        .env_remove("LINGERSCAN_NT_HASH")
        .env("LINGERSCAN_NO_HISTORY", "1")
        .stdin(Stdio::null());
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().expect("run lingerscan")
}

/// The computer names of a `lingerscan targets -f json` listing, in lower
/// case, sorted.
#[allow(dead_code)] // not every test binary lists targets
pub fn computer_names(listing: &serde_json::Value) -> Vec<String> {
    let mut names: Vec<String> = listing["computers"]
        .as_array()
        .expect("computers")
        .iter()
        .map(|c| c["name"].as_str().expect("name").to_lowercase())
        .collect();
    names.sort();
    names
}

//! A private Samba `smbd` on a loopback address, for tests (reusable: the
//! Linux collector tests and the MS-RPC client tests both use it).
//!
//! Everything lives in a temp dir: smb.conf, private/lock/state/cache/pid
//! dirs, a share, and utmp files (`utmp = yes` makes smbd write a
//! USER_PROCESS record per session to `<dir>/utmp/utmpx`). smbd runs as
//! `setsid smbd --foreground --no-process-group -s CONF`; Drop stops it, its
//! children and samba-dcerpcd (via its pid file), all by pid.

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::Duration;

use super::{alive, children_of, ensure_user, run, signal, wait_until, which};

/// A Samba account: a system user (created if missing) with an SMB password.
#[derive(Debug, Clone)]
pub struct SambaUser {
    pub name: String,
    pub password: String,
    /// Put in the admin group (see [`SambaOptions::admin_group`]).
    pub admin: bool,
}

impl SambaUser {
    pub fn new(name: &str, password: &str) -> Self {
        SambaUser {
            name: name.into(),
            password: password.into(),
            admin: false,
        }
    }

    pub fn admin(mut self) -> Self {
        self.admin = true;
        self
    }
}

#[derive(Debug, Clone)]
pub struct SambaOptions {
    pub address: Ipv4Addr,
    pub port: u16,
    pub users: Vec<SambaUser>,
    /// Unix group mapped to BUILTIN\Administrators (S-1-5-32-544) via `net groupmap`.
    pub admin_group: Option<String>,
    /// Extra `[global]` lines.
    pub extra_global: Vec<String>,
}

impl SambaOptions {
    pub fn new(address: Ipv4Addr, port: u16) -> Self {
        SambaOptions {
            address,
            port,
            users: Vec::new(),
            admin_group: None,
            extra_global: Vec::new(),
        }
    }

    pub fn user(mut self, user: SambaUser) -> Self {
        self.users.push(user);
        self
    }
}

/// Name of the share every test server exports.
pub const SHARE: &str = "share";

pub struct SambaServer {
    pub dir: tempfile::TempDir,
    pub conf: PathBuf,
    pub address: Ipv4Addr,
    pub port: u16,
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
            "private", "lock", "state", "cache", "pid", "ncalrpc", "log", "utmp", SHARE,
        ] {
            std::fs::create_dir_all(root.join(sub)).expect("mkdir");
        }
        // glibc's pututxline does not create the file; smbd (built with utmpx) writes these names.
        for file in ["utmpx", "wtmpx"] {
            std::fs::write(root.join("utmp").join(file), b"").expect("utmp file");
        }
        set_mode(&root.join(SHARE), 0o777);
        std::fs::write(root.join(SHARE).join("hello.txt"), b"hello\n").expect("share file");
        set_mode(&root.join(SHARE).join("hello.txt"), 0o666);

        let conf = root.join("smb.conf");
        std::fs::write(&conf, config_text(root, options)).expect("smb.conf");
        let conf_arg = conf.to_str().expect("utf-8 temp path");

        for user in &options.users {
            ensure_user(&user.name);
            set_password(conf_arg, user);
        }
        if let Some(group) = &options.admin_group {
            run("groupadd", &["-f", group]);
            for user in options.users.iter().filter(|u| u.admin) {
                run("usermod", &["-aG", group, &user.name]);
            }
            // Replaces an earlier mapping of this SID in this private database only.
            let _ = Command::new(which("net").unwrap_or_else(|| "net".into()))
                .args(["-s", conf_arg, "groupmap", "delete", "sid=S-1-5-32-544"])
                .output();
            run(
                "net",
                &[
                    "-s",
                    conf_arg,
                    "groupmap",
                    "add",
                    "sid=S-1-5-32-544",
                    &format!("unixgroup={group}"),
                    "type=builtin",
                ],
            );
        }

        let log = std::fs::File::create(root.join("log/smbd.out")).expect("log file");
        let smbd = Command::new(which("setsid").unwrap_or_else(|| "setsid".into()))
            .arg(which("smbd").expect("smbd installed"))
            .args([
                "--foreground",
                "--no-process-group",
                "--debug-stdout",
                "-s",
                conf_arg,
            ])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start smbd");
        let mut server = SambaServer {
            conf,
            address: options.address,
            port: options.port,
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

    pub fn conf_path(&self) -> &Path {
        &self.conf
    }

    /// The utmp file smbd writes its session records to.
    pub fn utmp_path(&self) -> PathBuf {
        self.dir.path().join("utmp/utmpx")
    }

    pub fn share_dir(&self) -> PathBuf {
        self.dir.path().join(SHARE)
    }

    pub fn smbd_pid(&self) -> u32 {
        self.smbd.id()
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

    /// `smbstatus --json` for this server.
    pub fn status(&self) -> serde_json::Value {
        let text = run(
            "smbstatus",
            &["-s", self.conf.to_str().unwrap_or_default(), "--json"],
        );
        serde_json::from_str(&text).expect("smbstatus JSON")
    }

    /// The serving smbd child's pid for `user`'s session, if smbstatus lists one.
    pub fn session_pid(&self, user: &str) -> Option<u32> {
        let status = self.status();
        status["sessions"]
            .as_object()?
            .values()
            .find(|s| s["username"] == user)?["server_id"]["pid"]
            .as_str()?
            .parse()
            .ok()
    }

    /// Open an SMB session as `user` and keep it open until the returned guard drops.
    pub fn hold_session(&self, user: &SambaUser) -> HeldSession {
        let mut child = Command::new(which("smbclient").expect("smbclient installed"))
            .arg(self.unc())
            .args([
                "-p",
                &self.port.to_string(),
                "-s",
                self.conf.to_str().unwrap_or_default(),
            ])
            .arg("-U")
            .arg(format!("{}%{}", user.name, user.password))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start smbclient");
        let stdin = child.stdin.take();
        let mut held = HeldSession {
            child,
            stdin,
            server_pid: 0,
        };
        wait_until(Duration::from_secs(20), || {
            if let Some(pid) = self.session_pid(&user.name) {
                held.server_pid = pid;
                return true;
            }
            // smbclient gave up (wrong password, no server): stop waiting.
            held.child.try_wait().ok().flatten().is_some()
        });
        assert!(
            held.server_pid != 0,
            "no SMB session for {} appeared; smbd log:\n{}",
            user.name,
            self.log_tail()
        );
        held
    }
}

/// An smbclient session held open by keeping its stdin open.
pub struct HeldSession {
    child: Child,
    stdin: Option<ChildStdin>,
    /// The smbd child serving this session.
    pub server_pid: u32,
}

impl HeldSession {
    /// Send one smbclient command (for example `open hello.txt` to hold a file open).
    pub fn command(&mut self, line: &str) {
        if let Some(stdin) = &mut self.stdin {
            let _ = writeln!(stdin, "{line}");
            let _ = stdin.flush();
        }
    }

    pub fn client_pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for HeldSession {
    fn drop(&mut self) {
        drop(self.stdin.take()); // EOF: smbclient logs off and exits
        if !wait_until(Duration::from_secs(3), || {
            self.child.try_wait().ok().flatten().is_some()
        }) {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

impl Drop for SambaServer {
    fn drop(&mut self) {
        let smbd = self.smbd.id();
        let dcerpcd = std::fs::read_to_string(self.dir.path().join("pid/samba-dcerpcd.pid"))
            .ok()
            .and_then(|t| t.trim().parse::<u32>().ok());
        // Everything smbd and samba-dcerpcd started, by pid, before they go.
        let mut helpers = children_of(smbd);
        if let Some(pid) = dcerpcd {
            helpers.extend(children_of(pid));
        }
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
        wait_until(Duration::from_secs(2), || {
            helpers.iter().all(|&p| !alive(p))
        });
        for pid in helpers.into_iter().chain(dcerpcd) {
            if alive(pid) {
                signal(pid, "KILL");
            }
        }
    }
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

fn set_password(conf: &str, user: &SambaUser) {
    let mut child = Command::new(which("smbpasswd").expect("smbpasswd installed"))
        .args(["-c", conf, "-a", "-s", &user.name])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("smbpasswd");
    if let Some(mut stdin) = child.stdin.take() {
        let _ = write!(stdin, "{0}\n{0}\n", user.password);
    }
    let output = child.wait_with_output().expect("smbpasswd");
    assert!(
        output.status.success(),
        "smbpasswd: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn config_text(root: &Path, options: &SambaOptions) -> String {
    let d = |sub: &str| root.join(sub).display().to_string();
    let mut text = format!(
        "[global]\n\
         netbios name = LSTEST{port}\n\
         workgroup = LINGERTEST\n\
         security = user\n\
         server role = standalone server\n\
         passdb backend = tdbsam\n\
         # Samba only binds addresses of known interfaces; /8 matches loopback.\n\
         interfaces = {addr}/8\n\
         bind interfaces only = yes\n\
         smb ports = {port}\n\
         disable netbios = yes\n\
         private dir = {private}\n\
         lock directory = {lock}\n\
         state directory = {state}\n\
         cache directory = {cache}\n\
         pid directory = {pid}\n\
         ncalrpc dir = {ncalrpc}\n\
         log file = {log}/log.%m\n\
         log level = 1\n\
         utmp = yes\n\
         utmp directory = {utmp}\n\
         wtmp directory = {utmp}\n\
         load printers = no\n\
         printing = bsd\n\
         printcap name = /dev/null\n\
         disable spoolss = yes\n",
        addr = options.address,
        port = options.port,
        private = d("private"),
        lock = d("lock"),
        state = d("state"),
        cache = d("cache"),
        pid = d("pid"),
        ncalrpc = d("ncalrpc"),
        log = d("log"),
        utmp = d("utmp"),
    );
    for line in &options.extra_global {
        text.push_str(line);
        text.push('\n');
    }
    text.push_str(&format!(
        "\n[{SHARE}]\n   path = {}\n   read only = no\n",
        d(SHARE)
    ));
    text
}

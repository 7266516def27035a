//! The accounts a test server knows: Unix users and groups (machine-wide,
//! created once), SMB passwords and the admin group mapping (in the server's
//! private databases).

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Mutex;

use super::options::{SambaOptions, SambaUser};
use super::{ensure_user, run, which};

/// useradd/groupadd/usermod lock /etc/passwd and /etc/group and fail when
/// another one holds the lock: tests of one binary run in parallel, so they
/// take turns.
static UNIX_ACCOUNTS: Mutex<()> = Mutex::new(());

/// Unix users and the admin group, SMB passwords, and the admin group mapped
/// to BUILTIN\Administrators, for the server configured by `conf`.
pub(super) fn set_up(conf: &str, options: &SambaOptions) {
    {
        let _turn = UNIX_ACCOUNTS.lock().unwrap_or_else(|e| e.into_inner());
        for user in &options.users {
            ensure_user(&user.name);
        }
        for group in [&options.admin_group, &options.domain_admins_group]
            .into_iter()
            .flatten()
        {
            run("groupadd", &["-f", group]);
            for user in options.users.iter().filter(|u| u.admin) {
                run("usermod", &["-aG", group, &user.name]);
            }
        }
    }
    for user in &options.users {
        set_password(conf, user);
    }
    if let Some(group) = &options.admin_group {
        map_admin_group(conf, group);
    }
    if let Some(group) = &options.domain_admins_group {
        map_domain_admins(conf, group);
    }
}

/// A standalone server's Domain Admins (RID 512 of its own domain SID):
/// what Samba's _srvsvc_NetSessDel asks of a caller who is not root.
fn map_domain_admins(conf: &str, group: &str) {
    map_group(
        conf,
        "ntgroup=Domain Admins",
        &["rid=512", "ntgroup=Domain Admins", "type=domain"],
        group,
    );
}

fn map_admin_group(conf: &str, group: &str) {
    map_group(
        conf,
        "sid=S-1-5-32-544",
        &["sid=S-1-5-32-544", "type=builtin"],
        group,
    );
}

/// Map the Unix `group` to the Windows group `mapping` names, replacing an
/// earlier mapping (found by `existing`) in this private database only.
fn map_group(conf: &str, existing: &str, mapping: &[&str], group: &str) {
    let _ = Command::new(which("net").unwrap_or_else(|| "net".into()))
        .args(["-s", conf, "groupmap", "delete", existing])
        .output();
    let unix_group = format!("unixgroup={group}");
    let args = [&["-s", conf, "groupmap", "add"], mapping, &[&unix_group]].concat();
    run("net", &args);
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

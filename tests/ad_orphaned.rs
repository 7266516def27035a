//! ORPHANED against a real Active Directory domain controller (Samba's AD
//! DC on 127.0.0.200, tests/support/samba_dc.rs): a domain user holds an
//! SMB session to the DC; the administrator disables the account, then
//! deletes it, and for a second user changes the password. Each time a
//! scan with `--dc` and Kerberos must call the still-open session ORPHANED
//! and cite the directory's row for the account.

#![cfg(target_os = "linux")]

mod support;

use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;
use support::samba_dc::{self, ADDRESS, DOMAIN, HOST, SambaDc};
use support::{wait_until, which};

const PASSWORD: &str = "Orph4n.Lingerscan-1";
const NEW_PASSWORD: &str = "Orph4n.Lingerscan-2";

fn ready(test: &str) -> Option<&'static SambaDc> {
    support::require(test, true, samba_dc::PROGRAMS).then(SambaDc::get)
}

fn samba_tool(dc: &SambaDc, args: &[&str]) -> Output {
    Command::new(which("samba-tool").expect("samba-tool installed"))
        .args(args)
        .arg("-s")
        .arg(&dc.conf)
        .stdin(Stdio::null())
        .output()
        .expect("run samba-tool")
}

fn samba_tool_ok(dc: &SambaDc, args: &[&str]) {
    let out = samba_tool(dc, args);
    assert!(
        out.status.success(),
        "samba-tool {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A domain user with a name unique to this run, deleted on drop (even
/// when the test fails; a user the test already deleted is no error).
struct DomainUser {
    dc: &'static SambaDc,
    name: String,
}

impl DomainUser {
    fn create(dc: &'static SambaDc, tag: &str) -> DomainUser {
        let name = format!("orph{tag}{}", std::process::id());
        samba_tool_ok(dc, &["user", "create", &name, PASSWORD]);
        DomainUser { dc, name }
    }
}

impl Drop for DomainUser {
    fn drop(&mut self) {
        let _ = samba_tool(self.dc, &["user", "delete", &self.name]);
    }
}

/// smbclient connected to the DC's netlogon share as `user`, held open by
/// keeping its standard input open; dropping it logs off.
struct Held {
    child: Child,
    stdin: Option<ChildStdin>,
}

impl Held {
    fn open(user: &DomainUser) -> Held {
        let mut child = Command::new(which("smbclient").expect("smbclient installed"))
            .arg(format!("//{ADDRESS}/netlogon"))
            .args(["-m", "SMB3", "-U", &format!("{DOMAIN}\\{}", user.name)])
            .env("PASSWD", PASSWORD)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start smbclient");
        let stdin = child.stdin.take();
        Held { child, stdin }
    }

    fn still_running(&mut self) -> bool {
        self.child.try_wait().ok().flatten().is_none()
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        drop(self.stdin.take());
        if !wait_until(Duration::from_secs(3), || {
            self.child.try_wait().ok().flatten().is_some()
        }) {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// A scan of the DC with Kerberos from `ccname` and the directory at --dc.
fn scan(ccname: &str, format: &str) -> Output {
    lingerscan(ccname, &["-f", format])
}

/// lingerscan against the DC (`args` first: a subcommand goes there);
/// without a `--db` in them, no history.
fn lingerscan(ccname: &str, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_lingerscan"));
    if !args.contains(&"--db") {
        command.env("LINGERSCAN_NO_HISTORY", "1");
    }
    command
        .env_remove("LINGERSCAN_DB")
        .args(args)
        .args(["--host", HOST, "--resolve", &format!("{HOST}={ADDRESS}")])
        .args(["--dc", ADDRESS, "-k", "--timeout", "30s"])
        .env("KRB5CCNAME", ccname)
        .env_remove("KRB5_CONFIG")
        .env_remove("KRB5_CLIENT_KTNAME")
        .env_remove("LINGERSCAN_PASSWORD")
        .stdin(Stdio::null())
        .output()
        .expect("run lingerscan")
}

fn report(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// The SMB session finding of `user`, and the directory row it cites.
fn finding_of(report: &Value, user: &str) -> Option<(Value, Option<Value>)> {
    let host = &report["hosts"][0];
    let finding = host["analysis"]["findings"]
        .as_array()?
        .iter()
        .find(|f| {
            f["kind"] == "smb_session"
                && f["user"].as_str().is_some_and(|u| {
                    u.rsplit('\\')
                        .next()
                        .is_some_and(|n| n.eq_ignore_ascii_case(user))
                })
        })?
        .clone();
    let row = finding["evidence"]
        .as_array()
        .and_then(|e| e.iter().find(|e| e["source"] == "directory_accounts"))
        .and_then(|e| e["rows"][0].as_u64());
    let account = row.and_then(|row| {
        host["evidence_rows"]["directory_accounts"]
            .as_array()?
            .iter()
            .find(|r| r["row"].as_u64() == Some(row))
            .cloned()
    });
    Some((finding, account))
}

/// Scan until the session of `user` shows with `verdict` (the DC needs a
/// moment to list a new session; a scan takes about a second).
fn scan_until(ccname: &str, user: &str, verdict: &str) -> (Value, Option<Value>, Value) {
    let mut last = Value::Null;
    for _ in 0..15 {
        let out = scan(ccname, "json");
        let report = report(&out);
        if let Some((finding, account)) = finding_of(&report, user)
            && finding["verdict"] == verdict
        {
            return (finding, account, report);
        }
        last = report;
        std::thread::sleep(Duration::from_millis(700));
    }
    panic!("no {verdict} SMB session of {user}: {last:#}");
}

#[test]
fn sessions_of_disabled_deleted_and_repassworded_users_are_orphaned() {
    let Some(dc) = ready("sessions_of_disabled_deleted_and_repassworded_users_are_orphaned") else {
        return;
    };
    let tmp = tempfile::tempdir().expect("temp dir");
    let ccname = dc.kinit_admin(&tmp.path().join("cc"));

    let alice = DomainUser::create(dc, "a");
    let mut alice_session = Held::open(&alice);
    // Before: the account is fine, the session ACTIVE, the directory read.
    let (_, _, before) = scan_until(&ccname, &alice.name, "ACTIVE");
    let failed = before["hosts"][0]["analysis"]["failed_sources"].clone();
    assert!(
        failed
            .as_array()
            .is_none_or(|f| f.iter().all(|f| f["source"] != "directory_accounts")),
        "the directory could not be read: {failed:#}"
    );

    samba_tool_ok(dc, &["user", "disable", &alice.name]);
    let (finding, account, report) = scan_until(&ccname, &alice.name, "ORPHANED");
    assert!(
        alice_session.still_running(),
        "the session must outlive the change"
    );
    let reason = finding["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("account disabled: userAccountControl 0x"),
        "{reason}"
    );
    let account = account.unwrap_or_else(|| panic!("no directory row cited: {report:#}"));
    let uac = account["user_account_control"].as_u64().unwrap_or(0);
    assert_eq!(uac & 2, 2, "{account:#}");
    assert_eq!(finding["lingering"], true);
    assert_eq!(report["outcome"], "lingering", "{report:#}");
    // Text and CSV say it too.
    let text = String::from_utf8_lossy(&scan(&ccname, "text").stdout).into_owned();
    assert!(text.contains("ORPHANED"), "{text}");
    let csv = String::from_utf8_lossy(&scan(&ccname, "csv").stdout).into_owned();
    assert!(
        csv.lines()
            .any(|l| l.contains("ORPHANED") && l.contains(&alice.name)),
        "{csv}"
    );

    samba_tool_ok(dc, &["user", "delete", &alice.name]);
    let (finding, account, report) = scan_until(&ccname, &alice.name, "ORPHANED");
    let reason = finding["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("account deleted"), "{reason}");
    let account = account.unwrap_or_else(|| panic!("no directory row cited: {report:#}"));
    assert!(
        account["deleted"] == true || account["found"] == false,
        "{account:#}"
    );
    // `close` ends the orphaned SMB session (NetrSessionDel on the DC),
    // and its own re-scan finds it gone.
    let db = tmp.path().join("history.sqlite");
    let db = db.to_str().expect("utf-8 path");
    let closed = lingerscan(
        &ccname,
        &["close", "--verdict", "ORPHANED", "--yes", "--db", db],
    );
    let shown = format!(
        "{}{}",
        String::from_utf8_lossy(&closed.stdout),
        String::from_utf8_lossy(&closed.stderr)
    );
    assert_eq!(closed.status.code(), Some(0), "{shown}");
    assert!(
        shown.contains("delete the SMB session") && shown.contains("re-scan: gone"),
        "{shown}"
    );
    let after = self::report(&scan(&ccname, "json"));
    assert!(
        finding_of(&after, &alice.name).is_none(),
        "still listed after close: {after:#}"
    );
    drop(alice_session);

    let bob = DomainUser::create(dc, "b");
    let _bob_session = Held::open(&bob);
    scan_until(&ccname, &bob.name, "ACTIVE");
    // The host gives a session's age in whole seconds: the change must
    // come clearly after the session began.
    std::thread::sleep(Duration::from_secs(2));
    samba_tool_ok(
        dc,
        &[
            "user",
            "setpassword",
            &bob.name,
            &format!("--newpassword={NEW_PASSWORD}"),
        ],
    );
    let (finding, account, report) = scan_until(&ccname, &bob.name, "ORPHANED");
    let reason = finding["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("password changed after the session began: pwdLastSet"),
        "{reason}"
    );
    let account = account.unwrap_or_else(|| panic!("no directory row cited: {report:#}"));
    assert!(account["pwd_last_set"].is_string(), "{account:#}");
}

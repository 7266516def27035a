//! A remote scan that cannot be lied to: lingerscan against a hostile SMB
//! server that does not know the password (tests/hostile/smb_server.py) and
//! through a man in the middle in front of a real smbd (tests/hostile/proxy.py).
//! Every case must end in a clean failure of the right kind, within the
//! deadline, with no rows. Addresses 127.0.0.70-79, ports 14650-14699.
#![cfg(target_os = "linux")]

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lingerscan::collect::msrpc::smb2::{DIALECT_210, DIALECT_300};
use lingerscan::collect::msrpc::{
    Credentials, Password, RemoteOptions, collect_remote, collect_remote_with,
};
use lingerscan::model::{FailureKind, HostSnapshot};
use serde_json::Value;
use support::samba::SambaServer;
use support::samba::remote as samba;

const TIMEOUT: Duration = Duration::from_secs(5);
/// A failure must come within the deadline plus this.
const SLACK: Duration = Duration::from_millis(500);

/// A Python helper on loopback, stopped (by its pid) when dropped, also when
/// the test fails.
struct Helper {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Helper {
    fn start(script: &str, args: &[&str]) -> Helper {
        let path = format!("{}/tests/hostile/{script}", env!("CARGO_MANIFEST_DIR"));
        let mut child = Command::new("python3")
            .arg("-u")
            .arg(&path)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start python3");
        let stdout = child.stdout.take().expect("stdout");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&lines);
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        let helper = Helper { child, lines };
        let ready = support::wait_until(Duration::from_secs(10), || {
            helper.lines().iter().any(|l| l == "READY")
        });
        assert!(
            ready,
            "{script} {args:?} did not start: {:?}",
            helper.lines()
        );
        helper
    }

    fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    /// Whether the proxy altered a frame; its line may trail the scan's end
    /// by a moment (it goes through a pipe and a reader thread).
    fn tampered(&self) -> bool {
        support::wait_until(Duration::from_secs(2), || {
            self.lines().iter().any(|l| l.starts_with("TAMPERED"))
        })
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn creds(domain: &str, user: &str, password: &str) -> Credentials {
    Credentials::parse(&format!("{domain}\\{user}"), Password::new(password.into())).unwrap()
}

fn admin() -> Credentials {
    creds(samba::WORKGROUP, samba::ADMIN_USER, samba::ADMIN_PASSWORD)
}

/// Scan and time it.
fn scan(
    ip: &str,
    port: u16,
    creds: &Credentials,
    tweak: impl Fn(&mut RemoteOptions),
) -> (HostSnapshot, Duration) {
    let mut options = RemoteOptions {
        port,
        timeout: TIMEOUT,
        ..RemoteOptions::default()
    };
    tweak(&mut options);
    let started = Instant::now();
    let snap = collect_remote_with(ip, creds, &options);
    (snap, started.elapsed())
}

/// Both remote sources failed with `kind`, in time, and nothing was kept.
fn assert_clean_failure(
    case: &str,
    snap: &HostSnapshot,
    took: Duration,
    kind: FailureKind,
    says: &str,
) {
    for (source, failure) in [
        ("workstation_users", snap.workstation_users.failure()),
        ("smb_sessions", snap.smb_sessions.failure()),
    ] {
        let failure = failure.unwrap_or_else(|| panic!("{case}: {source} must fail: {snap:?}"));
        assert_eq!(failure.kind, kind, "{case}: {failure}");
        assert!(failure.message.contains(says), "{case}: {failure}");
    }
    assert!(
        !snap.notes.iter().any(|n| n.contains("response fragments")),
        "{case}: rows were read: {:?}",
        snap.notes
    );
    assert!(took < TIMEOUT + SLACK, "{case}: took {took:?}");
    let message = snap.workstation_users.failure().map(|f| f.message.clone());
    eprintln!("{case}: {kind} after {took:?}: {message:?}");
}

fn start_samba(ip: &str, port: u16, extra: &str) -> SambaServer {
    let mut options = samba::options(ip.parse().unwrap(), port);
    if !extra.is_empty() {
        options = options.global(extra);
    }
    SambaServer::start(&options)
}

#[test]
fn a_server_that_does_not_know_the_password_gets_a_logon_failure_and_serves_no_rows() {
    for (i, (dialect, forge)) in [
        ("2.1", false),
        ("3.1.1", false),
        ("2.1", true),
        ("3.1.1", true),
    ]
    .into_iter()
    .enumerate()
    {
        let port = 14650 + i as u16;
        let mut args = vec![
            "127.0.0.70".to_string(),
            port.to_string(),
            "--dialect".into(),
            dialect.into(),
        ];
        if forge {
            args.push("--forge".into());
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let server = Helper::start("smb_server.py", &args);
        let case = format!(
            "hostile server, SMB {dialect}, {}",
            if forge {
                "forged signature"
            } else {
                "unsigned"
            }
        );
        let (snap, took) = scan(
            "127.0.0.70",
            port,
            &creds("EVIL", "victim", "a-real-password"),
            |_| {},
        );
        let says = if forge {
            "signed with another key"
        } else {
            "not signed"
        };
        assert_clean_failure(&case, &snap, took, FailureKind::LogonFailure, says);
        // The server logs each request and, last, the connection's close.
        support::wait_until(Duration::from_secs(2), || {
            server.lines().iter().any(|l| l.ends_with(" CLOSED"))
        });
        let seen = server.lines();
        assert_eq!(
            seen.iter()
                .filter(|l| l.ends_with(" SESSION_SETUP"))
                .count(),
            2,
            "{seen:?}"
        );
        assert!(
            !seen.iter().any(|l| l.ends_with(" TREE_CONNECT")),
            "went on: {seen:?}"
        );
        if i == 0 {
            // impacket does not check, and reads the invented rows: the
            // server really would have lied to a client that went on.
            let root = env!("CARGO_MANIFEST_DIR");
            let out = Command::new(format!("{root}/target/impacket-venv/bin/python"))
                .arg(format!("{root}/tests/impacket/reference_scan.py"))
                .args(["127.0.0.70", &port.to_string(), "EVIL", "victim"])
                .env("LINGERSCAN_PASSWORD", "a-real-password")
                .output()
                .expect("run impacket");
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(
                text.contains("intruder"),
                "impacket: {text} {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

#[test]
fn a_man_in_the_middle_in_front_of_samba_is_caught_in_every_mode() {
    let server = start_samba("127.0.0.71", 14660, "");
    server.add_utmp(&[("ivan", "pts/8", "10.8.8.8")]);
    let up = server.port.to_string();
    let min_30 = |o: &mut RemoteOptions| o.min_dialect = DIALECT_300;
    let encrypt = |o: &mut RemoteOptions| o.encrypt = true;
    let none = |_: &mut RemoteOptions| {};
    type Tweak<'a> = &'a dyn Fn(&mut RemoteOptions);
    /// None: the scan must succeed; else the failure's kind and words.
    type Expect = Option<(FailureKind, &'static str)>;
    let cases: [(&str, Tweak, Expect); 11] = [
        ("pass", &none, None),
        (
            "strip-signature",
            &none,
            Some((FailureKind::Tampered, "was not signed")),
        ),
        (
            "corrupt-signature",
            &none,
            Some((FailureKind::Tampered, "did not verify")),
        ),
        (
            "corrupt-rows",
            &none,
            Some((FailureKind::Tampered, "did not verify")),
        ),
        (
            "force-dialect=0x0202",
            &none,
            Some((FailureKind::NotSupported, "below the minimum")),
        ),
        (
            "force-dialect=0x0210",
            &min_30,
            Some((FailureKind::NotSupported, "below the minimum")),
        ),
        (
            "force-dialect=0x0300",
            &none,
            Some((FailureKind::Tampered, "negotiation")),
        ),
        (
            "force-dialect=0x0302",
            &none,
            Some((FailureKind::Tampered, "negotiation")),
        ),
        (
            "tamper-preauth",
            &none,
            Some((FailureKind::LogonFailure, "another key")),
        ),
        (
            "tamper-encrypted",
            &encrypt,
            Some((FailureKind::Tampered, "failed authentication")),
        ),
        ("corrupt-rows", &encrypt, None),
    ];
    for (i, (mode, tweak, expect)) in cases.into_iter().enumerate() {
        let port = 14670 + i as u16;
        let proxy = Helper::start(
            "proxy.py",
            &["127.0.0.72", &port.to_string(), "127.0.0.71", &up, mode],
        );
        let (snap, took) = scan("127.0.0.72", port, &admin(), tweak);
        let case = format!("proxy {mode}");
        match expect {
            Some((kind, says)) => {
                assert!(
                    proxy.tampered(),
                    "{case}: the proxy altered nothing: {:?}",
                    proxy.lines()
                );
                assert_clean_failure(&case, &snap, took, kind, says);
            }
            None => {
                // The control, and rows under encryption: the proxy cannot
                // find the IOCTL answers to alter, so the scan goes through.
                assert!(
                    !proxy.lines().iter().any(|l| l.starts_with("TAMPERED")),
                    "{case}: {:?}",
                    proxy.lines()
                );
                assert!(snap.workstation_users.is_ok(), "{case}: {snap:?}");
                assert!(snap.smb_sessions.is_ok(), "{case}: {snap:?}");
                let conn = snap.scan_connection.as_ref().unwrap();
                assert!(conn.signed, "{case}: {conn:?}");
                eprintln!("{case}: rows after {took:?}");
            }
        }
    }
}

#[test]
fn a_downgrade_to_2_1_is_accepted_by_default_and_recorded() {
    // 2.1 signs every answer too, so the default minimum lets it through;
    // the JSON says which dialect was spoken.
    let server = start_samba("127.0.0.73", 14661, "");
    let proxy = Helper::start(
        "proxy.py",
        &[
            "127.0.0.74",
            "14690",
            "127.0.0.73",
            "14661",
            "force-dialect=0x0210",
        ],
    );
    let (snap, _) = scan("127.0.0.74", 14690, &admin(), |_| {});
    assert!(proxy.tampered());
    assert!(snap.workstation_users.is_ok(), "{snap:?}");
    let conn = snap.scan_connection.as_ref().unwrap();
    assert_eq!(conn.dialect.as_deref(), Some("2.1.0"));
    assert!(conn.signed && !conn.encrypted, "{conn:?}");
    let (snap, took) = scan("127.0.0.74", 14690, &admin(), |o| {
        o.min_dialect = DIALECT_300
    });
    assert_clean_failure(
        "2.1 refused by --min-dialect 3.0",
        &snap,
        took,
        FailureKind::NotSupported,
        "--min-dialect",
    );
    let _ = DIALECT_210;
    drop(server);
}

/// The CLI, as a user runs it.
fn lingerscan(args: &[&str], password: &str) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_lingerscan"))
        .env("LINGERSCAN_NO_HISTORY", "1")
        .args(args)
        .env("LINGERSCAN_PASSWORD", password)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), text)
}

#[test]
fn cli_reports_the_hostile_server_and_the_tampering_proxy_without_rows() {
    let hostile = Helper::start(
        "smb_server.py",
        &["127.0.0.75", "14691", "--dialect", "3.1.1"],
    );
    let (code, text) = lingerscan(
        &[
            "scan",
            "--host",
            "127.0.0.75",
            "--port",
            "14691",
            "--username",
            "EVIL\\victim",
            "--timeout",
            "5s",
            "--format",
            "json",
            "--include-snapshot",
        ],
        "a-real-password",
    );
    assert_eq!(code, Some(2), "{text}");
    let doc: Value =
        serde_json::from_str(text.trim_start()).unwrap_or_else(|e| panic!("{e}: {text}"));
    let snapshot = &doc["hosts"][0]["snapshot"];
    for source in ["workstation_users", "smb_sessions"] {
        assert_eq!(snapshot[source]["status"], "failed", "{text}");
        assert_eq!(snapshot[source]["kind"], "logon_failure", "{text}");
    }
    assert!(!text.contains("intruder"), "{text}");
    assert!(!text.contains("a-real-password"));
    support::wait_until(Duration::from_secs(2), || {
        hostile.lines().iter().any(|l| l.ends_with(" CLOSED"))
    });
    assert!(!hostile.lines().iter().any(|l| l.ends_with(" TREE_CONNECT")));

    let server = start_samba("127.0.0.76", 14662, "");
    server.add_utmp(&[("judy", "pts/9", "10.9.9.9")]);
    let proxy = Helper::start(
        "proxy.py",
        &["127.0.0.77", "14692", "127.0.0.76", "14662", "corrupt-rows"],
    );
    let account = format!("{}\\{}", samba::WORKGROUP, samba::ADMIN_USER);
    let (code, text) = lingerscan(
        &[
            "scan",
            "--host",
            "127.0.0.77",
            "--port",
            "14692",
            "--username",
            &account,
            "--timeout",
            "5s",
        ],
        samba::ADMIN_PASSWORD,
    );
    assert!(proxy.tampered());
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("integrity check failed"), "{text}");
    assert!(!text.contains("judy"), "{text}");

    // --min-dialect through the CLI: a proxy forcing 2.1 is refused.
    let downgrade = Helper::start(
        "proxy.py",
        &[
            "127.0.0.77",
            "14693",
            "127.0.0.76",
            "14662",
            "force-dialect=0x0210",
        ],
    );
    let (code, text) = lingerscan(
        &[
            "scan",
            "--host",
            "127.0.0.77",
            "--port",
            "14693",
            "--username",
            &account,
            "--min-dialect",
            "3.0",
            "--format",
            "json",
        ],
        samba::ADMIN_PASSWORD,
    );
    assert!(downgrade.tampered());
    assert_eq!(code, Some(2), "{text}");
    assert!(
        text.contains("\"not_supported\"") && text.contains("below the minimum SMB 3.0.0"),
        "{text}"
    );
    let (_, bad) = lingerscan(
        &["scan", "--host", "127.0.0.77", "--min-dialect", "1.0"],
        "x",
    );
    assert!(bad.contains("unknown SMB dialect '1.0'"), "{bad}");
}

#[test]
fn the_normal_path_still_works_and_costs_about_the_same_when_signed() {
    // The comparison docs/remote.md quotes: the same server, direct.
    let server = start_samba("127.0.0.78", 14663, "");
    let mut times = Vec::new();
    for _ in 0..15 {
        let started = Instant::now();
        let snap = collect_remote(&server.ip(), server.port, &admin(), TIMEOUT);
        assert!(snap.workstation_users.is_ok(), "{snap:?}");
        times.push(started.elapsed());
    }
    times.sort();
    eprintln!("signed scan, median of 15: {:?}", times[7]);
}

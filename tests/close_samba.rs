//! NetrSessionDel (`lingerscan close` on SMB sessions) against real Samba:
//! a Domain Admins member ends a held smbclient session, which is then gone
//! from the server's list; a plain user is refused (WERR_ACCESS_DENIED) and
//! nothing changes. Our request stub equals impacket's `srvs.NetrSessionDel`.
//! Owns 127.0.0.190-199 and ports 14990-14999.
#![cfg(target_os = "linux")]

mod support;

use std::time::Duration;

use lingerscan::collect::msrpc::{
    Credentials, Password, RemoteError, RemoteOptions, close_smb_session, collect_remote_with,
    srvsvc,
};
use lingerscan::model::SmbSession;
use support::samba::SambaServer;
use support::samba::remote as samba;

fn creds(user: &str, password: &str) -> Credentials {
    Credentials::parse(
        &format!("{}\\{user}", samba::WORKGROUP),
        Password::new(password.into()),
    )
    .unwrap()
}

fn options(port: u16) -> RemoteOptions {
    RemoteOptions {
        port,
        timeout: Duration::from_secs(20),
        ..RemoteOptions::default()
    }
}

fn sessions_of(server: &SambaServer, user: &str) -> Vec<SmbSession> {
    let snapshot = collect_remote_with(
        &server.ip(),
        &creds(samba::ADMIN_USER, samba::ADMIN_PASSWORD),
        &options(server.port),
    );
    snapshot
        .smb_sessions
        .rows_or_empty()
        .iter()
        .filter(|s| s.user.as_deref() == Some(user))
        .cloned()
        .collect()
}

fn start(ip: &str, port: u16) -> Option<SambaServer> {
    if !support::require("close_samba", true, &["smbd", "smbclient", "net"]) {
        return None;
    }
    Some(SambaServer::start(
        &samba::options(ip.parse().unwrap(), port).domain_admins_group("lsclosedas"),
    ))
}

#[test]
fn a_domain_admin_ends_a_held_session_and_it_is_gone() {
    let Some(server) = start("127.0.0.190", 14990) else {
        return;
    };
    let held = server.hold_session(&samba::plain());
    let listed = sessions_of(&server, samba::PLAIN_USER);
    assert_eq!(listed.len(), 1, "{listed:?}");
    let client = listed[0].client.clone();

    close_smb_session(
        &server.ip(),
        &creds(samba::ADMIN_USER, samba::ADMIN_PASSWORD),
        &options(server.port),
        &client,
        samba::PLAIN_USER,
    )
    .unwrap_or_else(|e| panic!("NetrSessionDel failed: {e}\n{}", server.log_tail()));

    assert!(
        support::wait_until(Duration::from_secs(10), || !support::alive(held.server_pid)),
        "the smbd serving the held session still runs"
    );
    let after = sessions_of(&server, samba::PLAIN_USER);
    assert!(after.is_empty(), "still listed: {after:?}");
}

#[test]
fn a_plain_user_is_refused_and_nothing_changes() {
    let Some(server) = start("127.0.0.191", 14991) else {
        return;
    };
    let held = server.hold_session(&samba::plain());
    let listed = sessions_of(&server, samba::PLAIN_USER);
    assert_eq!(listed.len(), 1, "{listed:?}");

    let refused = close_smb_session(
        &server.ip(),
        &creds(samba::PLAIN_USER, samba::PLAIN_PASSWORD),
        &options(server.port),
        &listed[0].client,
        samba::PLAIN_USER,
    );
    assert!(
        matches!(refused, Err(RemoteError::Win32 { code: 5, .. })),
        "{refused:?}"
    );
    assert!(support::alive(held.server_pid));
    assert_eq!(sessions_of(&server, samba::PLAIN_USER).len(), 1);
}

#[test]
fn the_request_stub_is_impackets() {
    let root = env!("CARGO_MANIFEST_DIR");
    let python = format!("{root}/target/impacket-venv/bin/python");
    if !std::path::Path::new(&python).exists() {
        eprintln!(
            "\n!!!!!!!! SKIPPED: impacket venv missing; run scripts/setup.d/40-impacket.sh !!!!!!!!\n"
        );
        return;
    }
    for (server, client, user) in [
        ("127.0.0.190", "127.0.0.1", "lsmsplain"),
        ("SRV01", "\\\\10.1.2.3", "alice"),
        ("h", "c", "ünï"),
    ] {
        let out = std::process::Command::new(&python)
            .arg(format!("{root}/tests/impacket/session_del_stub.py"))
            .args([server, client, user])
            .output()
            .expect("run python");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let hex = String::from_utf8(out.stdout).unwrap();
        let theirs: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect();
        let ours = srvsvc::encode_session_del_request(server, client, user);
        // Equal, except NDR padding: zero in ours, impacket's fill bytes in its.
        let same = ours.len() == theirs.len()
            && ours
                .iter()
                .zip(&theirs)
                .all(|(a, b)| a == b || (*a == 0 && matches!(b, 0xAA | 0xAB | 0xBF | 0xEE)));
        assert!(
            same,
            "{server} {client} {user}:\n ours     {ours:02x?}\n impacket {theirs:02x?}"
        );
    }
}

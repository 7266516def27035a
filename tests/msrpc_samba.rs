//! The remote collector against a real Samba smbd on loopback.

mod support;

use std::time::Duration;

use lingerscan::collect::msrpc::{Credentials, Password, collect_remote};
use support::samba::{self, Samba};

#[test]
fn smoke() {
    let mut server = Samba::start("127.0.0.20", 14501);
    server.add_utmp(&[("alice", "pts/3", "10.1.1.1")]);
    server.hold_session(samba::PLAIN_USER, samba::PLAIN_PASSWORD);
    let creds = Credentials::parse(&format!("{}\\{}", samba::WORKGROUP, samba::ADMIN_USER), Password::new(samba::ADMIN_PASSWORD.into())).unwrap();
    let snap = collect_remote(&server.ip, server.port, &creds, Duration::from_secs(10));
    println!("{}", serde_json::to_string_pretty(&snap).unwrap());
    println!("{}", server.log());
}

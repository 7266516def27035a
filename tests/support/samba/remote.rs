//! The server the MS-RPC tests and the remote-scan benchmark query: an admin
//! (BUILTIN\Administrators through a mapped group) and a plain account, and
//! a private `/run`, so NetrWkstaUserEnum serves the fixture's utmp records.

use std::net::Ipv4Addr;

use super::options::{SambaOptions, SambaUser};

pub const ADMIN_USER: &str = "lsmsadmin";
pub const ADMIN_PASSWORD: &str = "Adm1n-pass!";
pub const PLAIN_USER: &str = "lsmsplain";
pub const PLAIN_PASSWORD: &str = "Pla1n-pass!";
pub const ADMIN_GROUP: &str = "lsmsadmins";
pub const WORKGROUP: &str = "LSMSRPC";

pub fn admin() -> SambaUser {
    SambaUser::new(ADMIN_USER, ADMIN_PASSWORD).admin()
}

pub fn plain() -> SambaUser {
    SambaUser::new(PLAIN_USER, PLAIN_PASSWORD)
}

/// Options for a remote-query server on `address:port`; add utmp entries and
/// `[global]` lines as the test needs.
pub fn options(address: Ipv4Addr, port: u16) -> SambaOptions {
    SambaOptions::new(address, port)
        .workgroup(WORKGROUP)
        .netbios_name("LSMSRPCSRV")
        .user(admin())
        .user(plain())
        .admin_group(ADMIN_GROUP)
        .private_run()
}

/// impacket's answer to the same two queries (tests/impacket/reference_scan.py),
/// as JSON, or its error output when it failed.
pub fn impacket_reference_scan(
    server: &super::SambaServer,
    user: &str,
    password: &str,
) -> Result<serde_json::Value, String> {
    let root = env!("CARGO_MANIFEST_DIR");
    let python = format!("{root}/target/impacket-venv/bin/python");
    if !std::path::Path::new(&python).exists() {
        return Err("impacket venv missing: run scripts/setup.d/40-impacket.sh".into());
    }
    let out = std::process::Command::new(python)
        .arg(format!("{root}/tests/impacket/reference_scan.py"))
        .args([&server.ip(), &server.port.to_string(), WORKGROUP, user])
        .env("LINGERSCAN_PASSWORD", password)
        .output()
        .map_err(|e| format!("cannot run impacket: {e}"))?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    serde_json::from_slice(&out.stdout).map_err(|e| format!("impacket printed no JSON: {e}"))
}

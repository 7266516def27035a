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

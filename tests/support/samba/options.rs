//! What a test asks of its smbd: address, accounts, smb.conf lines, where
//! utmp lives; and the smb.conf text built from it.

use std::net::Ipv4Addr;
use std::path::Path;

use super::SHARE;

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

/// One utmp USER_PROCESS record to put in the server's utmp file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UtmpEntry {
    pub user: String,
    pub line: String,
    pub host: String,
}

#[derive(Debug, Clone)]
pub struct SambaOptions {
    /// A loopback address (127.0.0.0/8): tests never talk to anything else.
    pub address: Ipv4Addr,
    pub port: u16,
    pub users: Vec<SambaUser>,
    /// Unix group mapped to BUILTIN\Administrators (S-1-5-32-544) via `net groupmap`.
    pub admin_group: Option<String>,
    /// Unix group mapped to Domain Admins (RID 512) via `net groupmap`; its
    /// members (the admin users) may call NetrSessionDel.
    pub domain_admins_group: Option<String>,
    pub workgroup: String,
    /// `None`: `LSTEST<port>`.
    pub netbios_name: Option<String>,
    /// Extra `[global]` lines, after the fixture's own (so they override them).
    pub extra_global: Vec<String>,
    /// Run smbd in its own mount namespace with a private directory over `/run`.
    ///
    /// Samba answers NetrWkstaUserEnum from the *default* utmp file
    /// (`getutxent`), ignoring `utmp directory`; only this makes it read (and
    /// write) the fixture's utmp instead of the machine's. Off: smbd writes its
    /// session records to the fixture's `utmp directory` and no mount is needed.
    pub private_run: bool,
    /// Records written to the utmp file before smbd starts.
    pub utmp_entries: Vec<UtmpEntry>,
}

impl SambaOptions {
    pub fn new(address: Ipv4Addr, port: u16) -> Self {
        SambaOptions {
            address,
            port,
            users: Vec::new(),
            admin_group: None,
            domain_admins_group: None,
            workgroup: "LINGERTEST".into(),
            netbios_name: None,
            extra_global: Vec::new(),
            private_run: false,
            utmp_entries: Vec::new(),
        }
    }

    pub fn user(mut self, user: SambaUser) -> Self {
        self.users.push(user);
        self
    }

    pub fn admin_group(mut self, group: &str) -> Self {
        self.admin_group = Some(group.into());
        self
    }

    pub fn domain_admins_group(mut self, group: &str) -> Self {
        self.domain_admins_group = Some(group.into());
        self
    }

    pub fn workgroup(mut self, workgroup: &str) -> Self {
        self.workgroup = workgroup.into();
        self
    }

    pub fn netbios_name(mut self, name: &str) -> Self {
        self.netbios_name = Some(name.into());
        self
    }

    /// One more `[global]` line (may hold several, separated by newlines).
    pub fn global(mut self, line: &str) -> Self {
        self.extra_global.push(line.into());
        self
    }

    pub fn private_run(mut self) -> Self {
        self.private_run = true;
        self
    }

    pub fn utmp_entry(mut self, user: &str, line: &str, host: &str) -> Self {
        self.utmp_entries.push(UtmpEntry {
            user: user.into(),
            line: line.into(),
            host: host.into(),
        });
        self
    }
}

pub(super) fn config_text(root: &Path, options: &SambaOptions) -> String {
    let d = |sub: &str| root.join(sub).display().to_string();
    let netbios_name = options
        .netbios_name
        .clone()
        .unwrap_or_else(|| format!("LSTEST{}", options.port));
    let mut text = format!(
        "[global]\n\
         netbios name = {netbios_name}\n\
         workgroup = {workgroup}\n\
         security = user\n\
         server role = standalone server\n\
         passdb backend = tdbsam:{private}/passdb.tdb\n\
         # Samba only binds addresses of known interfaces; /8 matches loopback.\n\
         interfaces = {addr}/8\n\
         bind interfaces only = yes\n\
         smb ports = {port}\n\
         disable netbios = yes\n\
         server min protocol = SMB2_02\n\
         map to guest = never\n\
         private dir = {private}\n\
         lock directory = {lock}\n\
         state directory = {state}\n\
         cache directory = {cache}\n\
         pid directory = {pid}\n\
         ncalrpc dir = {ncalrpc}\n\
         log file = {log}/log.%m\n\
         log level = 1\n\
         utmp = yes\n\
         load printers = no\n\
         printing = bsd\n\
         printcap name = /dev/null\n\
         disable spoolss = yes\n",
        workgroup = options.workgroup,
        addr = options.address,
        port = options.port,
        private = d("private"),
        lock = d("lock"),
        state = d("state"),
        cache = d("cache"),
        pid = d("pid"),
        ncalrpc = d("ncalrpc"),
        log = d("log"),
    );
    if !options.private_run {
        // In a private /run smbd uses the default utmp path, which is the fixture's.
        let utmp = d("utmp");
        text.push_str(&format!(
            "utmp directory = {utmp}\nwtmp directory = {utmp}\n"
        ));
    }
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

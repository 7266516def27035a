//! The directory side of the DC fixture: the administrator's ticket, the
//! OpenLDAP tools run as peers (`ldapsearch -Y GSSAPI`), and bulk objects.
//!
//! Cyrus SASL asks for a ticket to ldap/<the URI's host>, so ldapsearch
//! needs the DC's name to resolve, and /etc/hosts is not the tests' to
//! change: each tool runs in its own mount namespace (`unshare -m`) with a
//! private hosts file bind-mounted over /etc/hosts, seen by it alone.
//!
//! Computers are created in one `ldapadd` of an LDIF over LDAP while the
//! DC runs (measured under load: 1,500 in about 21 s; `samba-tool computer
//! create` takes about 0.25 s each, over 6 minutes for 1,500). Only the
//! missing ones are created, so the shared DC keeps them between runs.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use super::samba_dc::{ADDRESS, HOST, SambaDc};
use super::which;

pub const BASE: &str = "DC=samdom,DC=test";
/// Enabled computers the bulk fixture creates: LSCAN0001 … LSCAN1500.
pub const COMPUTERS: usize = 1_500;
/// Disabled computers (userAccountControl 4098): LSCANOFF01 … LSCANOFF05.
pub const DISABLED: usize = 5;

/// The programs this needs besides the DC's.
pub const PROGRAMS: &[&str] = &["ldapsearch", "ldapadd", "unshare", "mount"];

pub struct Admin {
    /// A FILE: credential cache holding the administrator's TGT.
    pub ccache: String,
    hosts: PathBuf,
    _dir: tempfile::TempDir,
}

/// The administrator's ticket and a private hosts file, once per test binary.
pub fn admin(dc: &SambaDc) -> &'static Admin {
    static ADMIN: OnceLock<Admin> = OnceLock::new();
    ADMIN.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let ccache = dc.kinit_admin(&dir.path().join("admin.cc"));
        let hosts = dir.path().join("hosts");
        std::fs::write(
            &hosts,
            format!("127.0.0.1 localhost\n{ADDRESS} {HOST} dc1\n"),
        )
        .expect("hosts file");
        Admin {
            ccache,
            hosts,
            _dir: dir,
        }
    })
}

impl Admin {
    /// An OpenLDAP tool as the administrator, against ldap://dc1.samdom.test,
    /// in a mount namespace where that name resolves to the DC.
    pub fn tool(&self, dc: &SambaDc, program: &str, args: &[&str], stdin: &[u8]) -> Output {
        let mut child = Command::new(which("unshare").expect("unshare"))
            .args([
                "-m",
                "sh",
                "-c",
                "mount --bind \"$0\" /etc/hosts && exec \"$@\"",
            ])
            .arg(&self.hosts)
            .arg(which(program).expect("ldap tool"))
            .args(["-Q", "-Y", "GSSAPI", "-H", &format!("ldap://{HOST}")])
            .args(args)
            .env("KRB5_CONFIG", &dc.krb5_conf)
            .env("KRB5CCNAME", &self.ccache)
            .env("LDAPCONF", "/dev/null")
            .env("LDAPNOINIT", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run ldap tool");
        // Fed from a thread while the output is read here: ldapadd prints a
        // line per entry, and a full stdout pipe would stop it reading its
        // input while this side still writes it (a deadlock, seen in CI).
        let mut input = child.stdin.take().expect("stdin");
        let data = stdin.to_vec();
        let feeder = std::thread::spawn(move || input.write_all(&data));
        let out = child.wait_with_output().expect("ldap tool");
        feeder
            .join()
            .expect("feeder thread")
            .expect("ldap tool input");
        out
    }

    /// `ldapsearch` (paged) of `filter`'s `attribute` values, sorted.
    pub fn search(&self, dc: &SambaDc, filter: &str, attribute: &str) -> Vec<String> {
        let out = self.tool(
            dc,
            "ldapsearch",
            &[
                "-LLL",
                "-o",
                "ldif-wrap=no",
                "-E",
                "pr=1000/noprompt",
                "-b",
                BASE,
                filter,
                attribute,
            ],
            b"",
        );
        assert!(
            out.status.success(),
            "ldapsearch: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let prefix = format!("{}: ", attribute.to_lowercase());
        let mut values: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|line| {
                let lower = line.to_lowercase();
                lower
                    .starts_with(&prefix)
                    .then(|| line[prefix.len()..].to_string())
            })
            .collect();
        values.sort();
        values
    }

    /// Add the LDIF `entries` (one ldapadd; existing entries are errors
    /// that -c passes over).
    pub fn add(&self, dc: &SambaDc, ldif: &str) {
        let out = self.tool(dc, "ldapadd", &["-c"], ldif.as_bytes());
        assert!(
            out.status.success(),
            "ldapadd: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

fn computer_ldif(name: &str, uac: u32) -> String {
    format!(
        "dn: CN={name},CN=Computers,{BASE}\nobjectClass: computer\nsAMAccountName: {name}$\n\
         userAccountControl: {uac}\ndNSHostName: {lower}.samdom.test\n\
         operatingSystem: Windows Server 2022\n\n",
        lower = name.to_lowercase()
    )
}

/// The bulk computers exist (only the missing ones are created; once per
/// test binary, however many tests ask at once).
pub fn ensure_computers(dc: &SambaDc) -> &'static Admin {
    static DONE: OnceLock<()> = OnceLock::new();
    let admin = admin(dc);
    DONE.get_or_init(|| create_missing(dc, admin));
    admin
}

fn create_missing(dc: &SambaDc, admin: &Admin) {
    let have = admin.search(dc, "(&(objectCategory=computer)(cn=LSCAN*))", "cn");
    let mut ldif = String::new();
    for i in 1..=COMPUTERS {
        let name = format!("LSCAN{i:04}");
        if have.binary_search(&name).is_err() {
            ldif.push_str(&computer_ldif(&name, 4096));
        }
    }
    for i in 1..=DISABLED {
        let name = format!("LSCANOFF{i:02}");
        if have.binary_search(&name).is_err() {
            ldif.push_str(&computer_ldif(&name, 4098));
        }
    }
    if !ldif.is_empty() {
        admin.add(dc, &ldif);
    }
}

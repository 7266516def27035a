//! Active Directory over LDAP: a small LDAPv3 client (SASL GSSAPI bind
//! with the integrity layer, paged searches) and what lingerscan asks the
//! directory: the computers to scan ([`computers`]).
//!
//! Layers: [`ber`] and [`message`] are pure encoders/decoders (fuzzed,
//! property-tested), [`filter`] turns RFC 4515 text into BER, and
//! `connection` (Unix: the system's MIT GSS-API, loaded at run time) does
//! the I/O, bounded by a deadline, a message size cap and an entry cap.

pub mod accounts;
pub mod ber;
pub mod computers;
#[cfg(unix)]
mod connection;
pub mod filter;
pub mod message;

use std::net::SocketAddr;
use std::time::Duration;

use crate::collect::msrpc::kerberos::KerberosError;

pub use computers::{Computer, ComputerQuery, Listing};
pub use message::{Entry, Scope};

/// Largest LDAP message (and SASL frame) accepted: AD's own default
/// MaxReceiveBuffer is 10 MB; an entry of a few attributes is far smaller.
pub const MAX_MESSAGE: usize = 16 * 1024 * 1024;
/// Entries one search may return before it is cut off as an error.
pub const DEFAULT_MAX_ENTRIES: usize = 1_000_000;
/// Entries asked for per page (AD's default MaxPageSize is 1000).
pub const PAGE_SIZE: u32 = 1000;

#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    #[error("LDAP: malformed message from the server: expected {0}")]
    Malformed(&'static str),
    #[error("LDAP: cannot connect to {addr}: {source}")]
    Connect {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("LDAP: {during}: {source}")]
    Io {
        during: &'static str,
        source: std::io::Error,
    },
    #[error("LDAP: no answer in time ({during})")]
    Timeout { during: &'static str },
    #[error("LDAP: cannot resolve {host}: {detail}")]
    Resolve { host: String, detail: String },
    #[error("LDAP: the server closed the connection ({during})")]
    Closed { during: &'static str },
    #[error("LDAP: a message of {size} bytes is over the limit of {max}")]
    TooLarge { size: usize, max: usize },
    #[error("LDAP: the search returned more than {max} entries")]
    TooMany { max: usize },
    #[error(transparent)]
    Kerberos(#[from] KerberosError),
    #[error("LDAP bind refused (result {code}): {message}")]
    Bind { code: u32, message: String },
    #[error(
        "LDAP: the server offers no SASL integrity layer; lingerscan does not read the \
         directory over an unprotected connection"
    )]
    NoIntegrity,
    #[error("LDAP search of '{base}' failed (result {code}): {message}")]
    Search {
        base: String,
        code: u32,
        message: String,
    },
    #[error("LDAP: the server sent a notice of disconnection (result {code}): {message}")]
    Disconnected { code: u32, message: String },
    #[error("LDAP: the rootDSE names no {0}; give it with --search-base or --dc NAME")]
    RootDse(&'static str),
    #[error(transparent)]
    Filter(#[from] filter::FilterError),
    #[error("reading the directory needs Kerberos through MIT GSS-API, which this build has not")]
    NotOnThisPlatform,
}

/// Where and how to reach the directory.
#[derive(Debug, Clone)]
pub struct Server {
    /// `--dc`: an address or a DNS name.
    pub dc: String,
    pub port: u16,
    /// `--resolve` mappings, consulted before DNS.
    pub resolve: Vec<(String, std::net::IpAddr)>,
    /// The whole conversation (connect, bind, every page).
    pub timeout: Duration,
    pub connect_timeout: Duration,
    pub max_entries: usize,
}

/// How the bind gets its Kerberos credentials.
pub enum Login<'a> {
    /// The ticket cache (KRB5CCNAME) or the keytab MIT is pointed at.
    Cache,
    /// A TGT got from `principal`'s password.
    Password {
        principal: &'a str,
        password: &'a str,
    },
}

/// What the anonymous rootDSE read tells before any bind.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RootDse {
    pub dns_host_name: Option<String>,
    pub default_naming_context: Option<String>,
}

impl RootDse {
    /// The realm a naming context implies: DC=samdom,DC=test → SAMDOM.TEST.
    pub fn realm(&self) -> Option<String> {
        let context = self.default_naming_context.as_deref()?;
        realm_of(context)
    }
}

/// `DC=a,DC=b` → `A.B` (other RDNs are ignored).
pub fn realm_of(dn: &str) -> Option<String> {
    let parts: Vec<String> = dn
        .split(',')
        .filter_map(|rdn| {
            let (kind, value) = rdn.trim().split_once('=')?;
            kind.eq_ignore_ascii_case("dc")
                .then(|| value.trim().to_uppercase())
        })
        .collect();
    (!parts.is_empty()).then(|| parts.join("."))
}

#[cfg(unix)]
pub use connection::{Connection, read_root_dse};

/// The directory cannot be read on this platform (no MIT GSS-API).
#[cfg(not(unix))]
pub fn read_root_dse(_server: &Server) -> Result<RootDse, DirectoryError> {
    Err(DirectoryError::NotOnThisPlatform)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn realm_from_naming_context() {
        assert_eq!(
            realm_of("DC=samdom,DC=test").as_deref(),
            Some("SAMDOM.TEST")
        );
        assert_eq!(
            realm_of("OU=x, dc=Corp ,DC=example").as_deref(),
            Some("CORP.EXAMPLE")
        );
        assert_eq!(realm_of("CN=nothing"), None);
    }
}

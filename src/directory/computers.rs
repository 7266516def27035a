//! `--ldap`: the computer objects of the domain as scan targets. Disabled
//! accounts are skipped, and with `--active-within` those whose
//! lastLogonTimestamp is older (or absent: never logged on). The decision
//! per entry is a pure function ([`judge`]); [`list`] does the reading.

use std::time::Duration;

use jiff::Timestamp;
use serde::Serialize;

use super::message::Entry;

/// userAccountControl ACCOUNTDISABLE (MS-ADTS 2.2.16).
pub const UF_ACCOUNTDISABLE: u32 = 0x2;

/// The attributes read for each computer.
pub const ATTRIBUTES: &[&str] = &[
    "dNSHostName",
    "sAMAccountName",
    "operatingSystem",
    "userAccountControl",
    "lastLogonTimestamp",
];

/// What to list.
#[derive(Debug, Clone, Default)]
pub struct ComputerQuery {
    /// Default: the domain's naming context (rootDSE).
    pub search_base: Option<String>,
    /// AND-ed with `(objectCategory=computer)`.
    pub filter: Option<String>,
    pub active_within: Option<Duration>,
}

impl ComputerQuery {
    /// The whole filter, as text.
    pub fn filter_text(&self) -> String {
        match self
            .filter
            .as_deref()
            .map(str::trim)
            .filter(|f| !f.is_empty())
        {
            Some(extra) if extra.starts_with('(') => format!("(&(objectCategory=computer){extra})"),
            Some(extra) => format!("(&(objectCategory=computer)({extra}))"),
            None => "(objectCategory=computer)".to_string(),
        }
    }
}

/// One computer to scan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Computer {
    /// dNSHostName: what the scan connects to and Kerberos names.
    pub name: String,
    pub sam_account_name: Option<String>,
    pub operating_system: Option<String>,
    pub user_account_control: u32,
    pub last_logon: Option<Timestamp>,
    pub dn: String,
}

/// The computers and what was left out, by reason.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Listing {
    pub base: String,
    pub filter: String,
    pub computers: Vec<Computer>,
    pub skipped_disabled: usize,
    pub skipped_inactive: usize,
    /// Computer objects without a dNSHostName: nothing to connect to by name.
    pub skipped_no_dns_name: usize,
}

/// Why an entry is not a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    Disabled,
    Inactive,
    NoDnsName,
}

/// A Windows FILETIME (100 ns since 1601) as a timestamp; 0 and
/// out-of-range values (AD's "never") are None.
pub fn filetime(value: i64) -> Option<Timestamp> {
    const UNIX_EPOCH_AS_FILETIME: i64 = 116_444_736_000_000_000;
    if value <= 0 {
        return None;
    }
    let since_unix = value.checked_sub(UNIX_EPOCH_AS_FILETIME)?;
    Timestamp::from_nanosecond(i128::from(since_unix) * 100).ok()
}

/// The target one computer entry gives, or why it is skipped.
pub fn judge(entry: &Entry, query: &ComputerQuery, now: Timestamp) -> Result<Computer, Skip> {
    let uac = entry
        .integer("userAccountControl")
        .and_then(|v| u32::try_from(v).ok())
        .unwrap_or(0);
    if uac & UF_ACCOUNTDISABLE != 0 {
        return Err(Skip::Disabled);
    }
    let last_logon = entry.integer("lastLogonTimestamp").and_then(filetime);
    if let Some(within) = query.active_within {
        let recent = last_logon.is_some_and(|at| {
            now.duration_since(at)
                .try_into()
                .is_ok_and(|ago: Duration| ago <= within)
        });
        if !recent {
            return Err(Skip::Inactive);
        }
    }
    let name = entry
        .text("dNSHostName")
        .map(|n| n.trim().trim_end_matches('.').to_string())
        .filter(|n| !n.is_empty())
        .ok_or(Skip::NoDnsName)?;
    Ok(Computer {
        name,
        sam_account_name: entry.text("sAMAccountName"),
        operating_system: entry.text("operatingSystem"),
        user_account_control: uac,
        last_logon,
        dn: entry.dn.clone(),
    })
}

impl Listing {
    pub fn add(&mut self, judged: Result<Computer, Skip>) {
        match judged {
            Ok(computer) => self.computers.push(computer),
            Err(Skip::Disabled) => self.skipped_disabled += 1,
            Err(Skip::Inactive) => self.skipped_inactive += 1,
            Err(Skip::NoDnsName) => self.skipped_no_dns_name += 1,
        }
    }
}

/// Connect, bind, and list the computers (paged).
#[cfg(unix)]
pub fn list(
    server: &super::Server,
    login: &super::Login<'_>,
    query: &ComputerQuery,
) -> Result<Listing, super::DirectoryError> {
    use super::{Connection, DirectoryError, PAGE_SIZE, filter, message};
    let filter_text = query.filter_text();
    let encoded = filter::encode(&filter_text)?;
    let mut connection = Connection::open(server)?;
    let dse = connection.root_dse()?;
    let host = bind_host(server, &dse)?;
    let base = match &query.search_base {
        Some(base) => base.clone(),
        None => dse
            .default_naming_context
            .clone()
            .ok_or(DirectoryError::RootDse("defaultNamingContext"))?,
    };
    connection.bind(&host, login)?;
    let now = Timestamp::now();
    let mut listing = Listing {
        base: base.clone(),
        filter: filter_text,
        ..Listing::default()
    };
    let search = message::Search {
        base: &base,
        scope: message::Scope::Subtree,
        filter: &encoded,
        attributes: ATTRIBUTES,
    };
    connection.search_paged(&search, Some(PAGE_SIZE), &[], &mut |entry| {
        listing.add(judge(&entry, query, now));
        Ok(())
    })?;
    connection.unbind();
    listing.computers.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(listing)
}

/// The name the bind asks a ticket for (ldap/NAME): --dc when it is a
/// name, else the rootDSE's dnsHostName.
#[cfg(unix)]
pub fn bind_host(
    server: &super::Server,
    dse: &super::RootDse,
) -> Result<String, super::DirectoryError> {
    let dc = server.dc.trim_start_matches('[').trim_end_matches(']');
    if dc.parse::<std::net::IpAddr>().is_err() {
        return Ok(dc.to_string());
    }
    dse.dns_host_name
        .clone()
        .ok_or(super::DirectoryError::RootDse("dnsHostName"))
}

#[cfg(not(unix))]
pub fn list(
    _server: &super::Server,
    _login: &super::Login<'_>,
    _query: &ComputerQuery,
) -> Result<Listing, super::DirectoryError> {
    Err(super::DirectoryError::NotOnThisPlatform)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::message::Attribute;

    fn computer(uac: &str, last: Option<&str>, dns: Option<&str>) -> Entry {
        let mut attributes = vec![Attribute {
            name: "userAccountControl".into(),
            values: vec![uac.as_bytes().to_vec()],
        }];
        if let Some(last) = last {
            attributes.push(Attribute {
                name: "lastLogonTimestamp".into(),
                values: vec![last.as_bytes().to_vec()],
            });
        }
        if let Some(dns) = dns {
            attributes.push(Attribute {
                name: "dNSHostName".into(),
                values: vec![dns.as_bytes().to_vec()],
            });
        }
        Entry {
            dn: "CN=X".into(),
            attributes,
        }
    }

    #[test]
    fn filetimes() {
        // 2024-01-01T00:00:00Z.
        let at = filetime(133_485_408_000_000_000).unwrap();
        assert_eq!(at.to_string(), "2024-01-01T00:00:00Z");
        assert_eq!(filetime(0), None);
        assert_eq!(
            filetime(i64::MAX).map(|_| ()),
            filetime(i64::MAX).map(|_| ())
        );
    }

    #[test]
    fn disabled_inactive_and_nameless_are_skipped() {
        let now: Timestamp = "2024-03-01T00:00:00Z".parse().unwrap();
        let all = ComputerQuery::default();
        let recent = ComputerQuery {
            active_within: Some(Duration::from_secs(90 * 86_400)),
            ..ComputerQuery::default()
        };
        let jan = Some("133485408000000000");
        assert!(judge(&computer("4096", jan, Some("a.x")), &all, now).is_ok());
        assert_eq!(
            judge(&computer("4098", jan, Some("a.x")), &all, now),
            Err(Skip::Disabled)
        );
        assert!(judge(&computer("4096", jan, Some("a.x")), &recent, now).is_ok());
        assert_eq!(
            judge(&computer("4096", None, Some("a.x")), &recent, now),
            Err(Skip::Inactive)
        );
        let later: Timestamp = "2024-06-01T00:00:00Z".parse().unwrap();
        assert_eq!(
            judge(&computer("4096", jan, Some("a.x")), &recent, later),
            Err(Skip::Inactive)
        );
        assert_eq!(
            judge(&computer("4096", jan, None), &all, now),
            Err(Skip::NoDnsName)
        );
    }

    #[test]
    fn user_filters_are_and_ed() {
        let q = |f: &str| ComputerQuery {
            filter: Some(f.into()),
            ..ComputerQuery::default()
        };
        assert_eq!(
            ComputerQuery::default().filter_text(),
            "(objectCategory=computer)"
        );
        assert_eq!(
            q("(cn=web*)").filter_text(),
            "(&(objectCategory=computer)(cn=web*))"
        );
        assert_eq!(
            q("cn=web*").filter_text(),
            "(&(objectCategory=computer)(cn=web*))"
        );
    }
}

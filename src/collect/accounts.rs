//! The `directory_accounts` source: every account that holds a session on
//! the host, looked up in its account database, for ORPHANED verdicts.
//!
//! Remote scans with `--dc` ask Active Directory over LDAP (one connection
//! per host, keys batched, within the host's deadline); a Linux host's own
//! scan asks NSS. A database that cannot be read fails the source: an
//! account that could not be checked is never reported as fine.

use std::collections::BTreeSet;
#[cfg(unix)]
use std::time::Instant;

use crate::collect::msrpc::sid::Sid;
use crate::directory::accounts::AccountKey;
use crate::model::HostSnapshot;
#[cfg(unix)]
use crate::model::{DirectoryAccount, FailureKind, Observed};

/// A SID of a person's account (domain or local `S-1-5-21-…`): service
/// identities (`S-1-5-18`) are not in the directory and never orphaned.
fn is_account_sid(sid: &str) -> bool {
    sid.len() > 9 && sid[..9].eq_ignore_ascii_case("S-1-5-21-")
}

/// The accounts holding sessions in `snapshot`, each once: by SID where the
/// row gives one (processes, logon sessions), else by name with the domain
/// the row named it with.
pub fn keys_of(snapshot: &HostSnapshot) -> Vec<(AccountKey, Option<String>)> {
    let mut seen = BTreeSet::new();
    let mut keys = Vec::new();
    let mut add_name = |domain: Option<&str>, user: &str| {
        let user = user.trim();
        if user.is_empty() {
            return;
        }
        let domain = domain.map(str::trim).filter(|d| !d.is_empty());
        let seen_key = format!(
            "n:{}\\{}",
            domain.unwrap_or_default().to_lowercase(),
            user.to_lowercase()
        );
        if seen.insert(seen_key) {
            keys.push((
                AccountKey::Name(user.to_string()),
                domain.map(str::to_string),
            ));
        }
    };
    for s in snapshot.smb_sessions.rows_or_empty() {
        if let Some(user) = s.user.as_deref() {
            add_name(s.domain.as_deref(), user);
        }
    }
    for i in snapshot.interactive_sessions.rows_or_empty() {
        if let Some(user) = i.user.as_deref() {
            add_name(i.domain.as_deref(), user);
        }
    }
    for w in snapshot.workstation_users.rows_or_empty() {
        add_name(Some(&w.logon_domain), &w.user);
    }
    let mut sids = BTreeSet::new();
    let process_sids = snapshot
        .processes
        .rows_or_empty()
        .iter()
        .filter_map(|p| p.sid.as_deref());
    let logon_sids = snapshot
        .logon_sessions
        .rows_or_empty()
        .iter()
        .filter_map(|l| l.sid.as_deref());
    for sid in process_sids.chain(logon_sids) {
        if !is_account_sid(sid) {
            continue;
        }
        if let Ok(parsed) = sid.parse::<Sid>()
            && sids.insert(parsed.to_string())
        {
            keys.push((AccountKey::Sid(parsed), None));
        }
    }
    keys
}

/// The directory's own domain, to tell its accounts from others: a
/// session of `OTHERDOM\bob` or of a local account is not looked up in
/// this directory (not found there says nothing about it).
#[derive(Debug, Clone, Default)]
#[cfg_attr(not(unix), allow(dead_code))]
pub struct DirectoryDomain {
    /// DNS realm (SAMDOM.TEST) and NetBIOS name (SAMDOM), upper case.
    pub names: Vec<String>,
    /// The domain SID: its accounts' SIDs are this plus a RID.
    pub sid: Option<Sid>,
}

impl DirectoryDomain {
    #[cfg_attr(not(unix), allow(dead_code))]
    fn holds(&self, key: &AccountKey, domain: Option<&str>) -> bool {
        match key {
            AccountKey::Sid(sid) => self.sid.as_ref().is_none_or(|d| {
                sid.sub_authorities.len() == d.sub_authorities.len() + 1
                    && sid.authority == d.authority
                    && sid.sub_authorities.starts_with(&d.sub_authorities)
            }),
            AccountKey::Name(name) => {
                // user@domain names its domain in the name itself.
                let from_name = name
                    .split_once('@')
                    .map(|(_, d)| d)
                    .or_else(|| name.rsplit_once('\\').map(|(d, _)| d));
                match domain.or(from_name).map(str::trim) {
                    None | Some("") => true,
                    Some(d) => self.names.iter().any(|n| n.eq_ignore_ascii_case(d)),
                }
            }
        }
    }
}

/// Look the session holders of `snapshot` up in Active Directory.
#[cfg(unix)]
pub fn from_directory(
    snapshot: &HostSnapshot,
    server: &crate::directory::Server,
    login: &crate::directory::Login<'_>,
    deadline: Instant,
) -> Observed<Vec<DirectoryAccount>> {
    use crate::directory::DirectoryError;
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Observed::failed(
            FailureKind::Timeout,
            None,
            "no time was left to read the directory",
        );
    }
    let server = crate::directory::Server {
        timeout: server.timeout.min(left),
        ..server.clone()
    };
    let read = || -> Result<Vec<DirectoryAccount>, DirectoryError> {
        let mut connection = crate::directory::Connection::open(&server)?;
        let dse = connection.root_dse()?;
        let host = crate::directory::computers::bind_host(&server, &dse)?;
        let base = dse
            .default_naming_context
            .clone()
            .ok_or(DirectoryError::RootDse("defaultNamingContext"))?;
        connection.bind(&host, login)?;
        let domain = read_domain(&mut connection, &base)?;
        let keys: Vec<_> = keys_of(snapshot)
            .into_iter()
            .filter(|(key, d)| domain.holds(key, d.as_deref()))
            .collect();
        let only_keys: Vec<AccountKey> = keys.iter().map(|(k, _)| k.clone()).collect();
        let entries = crate::directory::accounts::lookup_all(&mut connection, &base, &only_keys)?;
        connection.unbind();
        Ok(keys
            .iter()
            .zip(&entries)
            .map(|((key, d), entry)| {
                crate::directory::accounts::row(key, d.as_deref(), entry.as_ref())
            })
            .collect())
    };
    match read() {
        Ok(rows) => Observed::ok(rows),
        Err(err) => {
            let kind = match &err {
                DirectoryError::Timeout { .. } => FailureKind::Timeout,
                DirectoryError::Connect { .. } | DirectoryError::Resolve { .. } => {
                    FailureKind::Unreachable
                }
                DirectoryError::Bind { .. } | DirectoryError::Kerberos(_) => {
                    FailureKind::LogonFailure
                }
                DirectoryError::Search { code: 50, .. } => FailureKind::AccessDenied,
                DirectoryError::Malformed(_) => FailureKind::ParseError,
                _ => FailureKind::Other,
            };
            Observed::failed(kind, None, err.to_string())
        }
    }
}

/// The domain object's SID and the domain's NetBIOS name (its crossRef in
/// the configuration partition; the first DNS label when that is unreadable,
/// as in most domains the two agree).
#[cfg(unix)]
fn read_domain(
    connection: &mut crate::directory::Connection,
    base: &str,
) -> Result<DirectoryDomain, crate::directory::DirectoryError> {
    use crate::directory::filter;
    use crate::directory::message::{Scope, Search};
    let realm = crate::directory::realm_of(base).unwrap_or_default();
    let mut domain = DirectoryDomain {
        names: vec![realm.clone()],
        sid: None,
    };
    let any = filter::encode("(objectClass=*)")?;
    connection.search(
        &Search {
            base,
            scope: Scope::Base,
            filter: &any,
            attributes: &["objectSid"],
        },
        &[],
        |entry| {
            domain.sid = entry
                .values("objectSid")
                .first()
                .and_then(|b| Sid::from_bytes(b).ok())
                .map(|(sid, _)| sid);
            Ok(())
        },
    )?;
    let cross_ref = filter::encode(&format!(
        "(&(objectClass=crossRef)(nCName={}))",
        filter::escape(base)
    ))?;
    let partitions = format!("CN=Partitions,CN=Configuration,{base}");
    let mut netbios = None;
    // A child domain's configuration lives under the forest root: then this
    // search fails and the DNS label stands in.
    let _ = connection.search(
        &Search {
            base: &partitions,
            scope: Scope::OneLevel,
            filter: &cross_ref,
            attributes: &["nETBIOSName"],
        },
        &[],
        |entry| {
            netbios = entry.text("nETBIOSName");
            Ok(())
        },
    );
    let label = realm.split('.').next().unwrap_or_default().to_string();
    domain.names.push(netbios.unwrap_or(label));
    Ok(domain)
}

/// Look the utmp and logind users of a Linux host up through NSS: a uid or
/// name NSS no longer knows is an account that no longer exists.
#[cfg(target_os = "linux")]
pub fn from_nss(snapshot: &HostSnapshot) -> Observed<Vec<DirectoryAccount>> {
    use crate::collect::linux::sys::{NssLookup, uid_of_name, user_name_of_uid};
    use crate::model::AccountDatabase;
    let mut rows: Vec<DirectoryAccount> = Vec::new();
    let mut uids = BTreeSet::new();
    let mut names = BTreeSet::new();
    let failed = |what: String, errno: i32| {
        Observed::failed(
            FailureKind::Other,
            Some(i64::from(errno)),
            format!(
                "NSS could not look up {what}: {}",
                std::io::Error::from_raw_os_error(errno)
            ),
        )
    };
    for logon in snapshot.logon_sessions.rows_or_empty() {
        let Some(uid) = logon.uid else { continue };
        if !uids.insert(uid) {
            continue;
        }
        let row = match user_name_of_uid(uid) {
            NssLookup::Found(name) => DirectoryAccount {
                uid: Some(uid),
                sam_account_name: Some(name),
                found: true,
                ..DirectoryAccount::default()
            },
            NssLookup::Missing => DirectoryAccount {
                uid: Some(uid),
                sam_account_name: logon.user.clone(),
                ..DirectoryAccount::default()
            },
            NssLookup::Error(errno) => return failed(format!("uid {uid}"), errno),
        };
        rows.push(DirectoryAccount {
            database: AccountDatabase::Nss,
            ..row
        });
    }
    for w in snapshot.workstation_users.rows_or_empty() {
        let name = w.user.trim();
        if name.is_empty() || !names.insert(name.to_string()) {
            continue;
        }
        let row = match uid_of_name(name) {
            NssLookup::Found(uid) => DirectoryAccount {
                uid: Some(uid),
                found: true,
                ..DirectoryAccount::default()
            },
            NssLookup::Missing => DirectoryAccount::default(),
            NssLookup::Error(errno) => return failed(format!("user {name}"), errno),
        };
        rows.push(DirectoryAccount {
            database: AccountDatabase::Nss,
            sam_account_name: Some(name.to_string()),
            ..row
        });
    }
    Observed::ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Observed, Platform, ProcessRow, SmbSession};

    #[test]
    fn keys_are_deduplicated_and_foreign_domains_skipped() {
        let mut s = HostSnapshot::empty("h", Platform::Unknown, "msrpc");
        let smb = |user: &str, domain: &str| SmbSession {
            user: Some(user.into()),
            domain: Some(domain.into()),
            ..SmbSession::default()
        };
        s.smb_sessions = Observed::ok(vec![
            smb("alice", "SAMDOM"),
            smb("ALICE", "samdom"),
            smb("bob", "OTHER"),
        ]);
        s.processes = Observed::ok(vec![
            ProcessRow {
                sid: Some("S-1-5-21-1-2-3-1104".into()),
                ..ProcessRow::default()
            },
            ProcessRow {
                sid: Some("S-1-5-18".into()),
                ..ProcessRow::default()
            },
        ]);
        let keys = keys_of(&s);
        assert_eq!(keys.len(), 3, "{keys:?}");
        let domain = DirectoryDomain {
            names: vec!["SAMDOM.TEST".into(), "SAMDOM".into()],
            sid: "S-1-5-21-1-2-3".parse().ok(),
        };
        let held: Vec<bool> = keys
            .iter()
            .map(|(k, d)| domain.holds(k, d.as_deref()))
            .collect();
        assert_eq!(held, [true, false, true]);
        assert!(!domain.holds(
            &AccountKey::Sid("S-1-5-21-9-9-9-500".parse().unwrap()),
            None
        ));
    }
}

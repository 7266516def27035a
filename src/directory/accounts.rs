//! The directory's entries of the accounts sessions run on, for "the user
//! is gone" verdicts: [`lookup_all`] reads them, batched (live objects,
//! then Deleted Objects with the show-deleted control), and [`row`] turns
//! each into the snapshot's `directory_accounts` row (filled by
//! `collect::accounts`); the analysis judges the rows
//! (`analyze::sessions::orphaned`).

use super::computers::filetime;
use super::filter;
use super::message::Entry;
use crate::collect::msrpc::sid::Sid;
use crate::model::{AccountDatabase, DirectoryAccount};

/// Keys per search: one OR filter of this many terms stays far below any
/// server's filter limits, and a domain with thousands of sessions still
/// takes few round trips.
pub const BATCH: usize = 50;

/// accountExpires "never" (besides 0).
const NEVER: i64 = i64::MAX;

/// The attributes read for an account.
pub const ATTRIBUTES: &[&str] = &[
    "sAMAccountName",
    "objectSid",
    "userAccountControl",
    "lockoutTime",
    "accountExpires",
    "pwdLastSet",
    "whenChanged",
    "isDeleted",
];

/// How an account is looked for: by SID where the source gave one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountKey {
    Sid(Sid),
    Name(String),
}

impl AccountKey {
    /// The filter finding the account (user objects; computers have `$`).
    pub fn filter_text(&self) -> String {
        match self {
            AccountKey::Sid(sid) => {
                format!("(objectSid={})", filter::escape_bytes(&sid.to_bytes()))
            }
            AccountKey::Name(name) => format!(
                "(&(objectClass=user)(sAMAccountName={}))",
                filter::escape(bare_name(name))
            ),
        }
    }

    /// Whether a directory entry is this account.
    #[cfg(unix)]
    fn matches(&self, entry: &Entry) -> bool {
        match self {
            AccountKey::Sid(sid) => entry_sid(entry).as_ref() == Some(sid),
            AccountKey::Name(name) => entry
                .text("sAMAccountName")
                .is_some_and(|sam| sam.eq_ignore_ascii_case(bare_name(name))),
        }
    }
}

/// DOMAIN\user and user@domain: the directory knows `user`.
pub fn bare_name(name: &str) -> &str {
    name.rsplit_once('\\')
        .map_or(name, |(_, u)| u)
        .split('@')
        .next()
        .unwrap_or_default()
}

fn entry_sid(entry: &Entry) -> Option<Sid> {
    let bytes = entry.values("objectSid").first()?;
    Sid::from_bytes(bytes).ok().map(|(sid, _)| sid)
}

/// The snapshot row for `key`: what `entry` says, or "not found" (None).
/// `domain` is the domain the session named the account with.
pub fn row(key: &AccountKey, domain: Option<&str>, entry: Option<&Entry>) -> DirectoryAccount {
    let (key_sid, key_name) = match key {
        AccountKey::Sid(sid) => (Some(sid.to_string()), None),
        AccountKey::Name(name) => (None, Some(bare_name(name).to_string())),
    };
    let mut account = DirectoryAccount {
        database: AccountDatabase::Ldap,
        sid: key_sid,
        sam_account_name: key_name,
        domain: domain.filter(|d| !d.is_empty()).map(str::to_string),
        ..DirectoryAccount::default()
    };
    let Some(entry) = entry else {
        return account;
    };
    let time = |name: &str| entry.integer(name).and_then(filetime);
    account.found = true;
    account.sid = entry_sid(entry).map(|s| s.to_string()).or(account.sid);
    account.sam_account_name = entry.text("sAMAccountName").or(account.sam_account_name);
    account.dn = Some(entry.dn.clone());
    account.user_account_control = entry
        .integer("userAccountControl")
        .and_then(|v| u32::try_from(v).ok());
    account.lockout_time = time("lockoutTime");
    account.account_expires = entry
        .integer("accountExpires")
        .filter(|&v| v != NEVER)
        .and_then(filetime);
    account.pwd_last_set = time("pwdLastSet");
    account.when_changed = entry.text("whenChanged");
    account.deleted = entry
        .text("isDeleted")
        .is_some_and(|v| v.eq_ignore_ascii_case("TRUE"));
    account
}

/// Look every key up under `base`, [`BATCH`] keys per search: live objects
/// first, then Deleted Objects for the keys not found. One result per key,
/// in order (None: no such account anywhere).
#[cfg(unix)]
pub fn lookup_all(
    connection: &mut super::Connection,
    base: &str,
    keys: &[AccountKey],
) -> Result<Vec<Option<Entry>>, super::DirectoryError> {
    use super::message::{Control, Scope, Search};
    let mut found: Vec<Option<Entry>> = vec![None; keys.len()];
    for controls in [vec![], vec![Control::show_deleted()]] {
        let missing: Vec<usize> = (0..keys.len()).filter(|&i| found[i].is_none()).collect();
        for chunk in missing.chunks(BATCH) {
            let terms: String = chunk.iter().map(|&i| keys[i].filter_text()).collect();
            let encoded = filter::encode(&format!("(|{terms})"))?;
            let search = Search {
                base,
                scope: Scope::Subtree,
                filter: &encoded,
                attributes: ATTRIBUTES,
            };
            connection.search(&search, &controls, |entry| {
                for &i in chunk {
                    if found[i].is_none() && keys[i].matches(&entry) {
                        found[i] = Some(entry.clone());
                    }
                }
                Ok(())
            })?;
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::message::Attribute;

    fn entry(pairs: &[(&str, &str)]) -> Entry {
        Entry {
            dn: "CN=alice,CN=Users,DC=x".into(),
            attributes: pairs
                .iter()
                .map(|(n, v)| Attribute {
                    name: (*n).into(),
                    values: vec![v.as_bytes().to_vec()],
                })
                .collect(),
        }
    }

    #[test]
    fn rows_carry_what_the_entry_says() {
        let key = AccountKey::Name("SAMDOM\\alice".into());
        let fine = row(
            &key,
            Some("SAMDOM"),
            Some(&entry(&[
                ("userAccountControl", "512"),
                ("accountExpires", "9223372036854775807"),
                ("pwdLastSet", "133485408000000000"),
            ])),
        );
        assert!(fine.found && !fine.deleted);
        assert_eq!(fine.user_account_control, Some(512));
        assert_eq!(fine.account_expires, None, "never expires");
        assert_eq!(
            fine.pwd_last_set,
            Some("2024-01-01T00:00:00Z".parse().unwrap())
        );
        let of = |pairs: &[(&str, &str)]| row(&key, None, Some(&entry(pairs)));
        assert_eq!(
            of(&[("userAccountControl", "514")]).user_account_control,
            Some(514)
        );
        assert!(
            of(&[("lockoutTime", "133485408000000000")])
                .lockout_time
                .is_some()
        );
        assert!(
            of(&[("accountExpires", "133485408000000000")])
                .account_expires
                .is_some()
        );
        assert!(of(&[("isDeleted", "TRUE")]).deleted);
        let missing = row(&key, Some("SAMDOM"), None);
        assert!(!missing.found);
        assert_eq!(missing.sam_account_name.as_deref(), Some("alice"));
    }

    #[test]
    fn keys() {
        let sid: Sid = "S-1-5-21-1-2-3-1104".parse().unwrap();
        assert!(
            AccountKey::Sid(sid)
                .filter_text()
                .starts_with("(objectSid=\\01\\05")
        );
        assert_eq!(
            AccountKey::Name("SAMDOM\\al*ce".into()).filter_text(),
            "(&(objectClass=user)(sAMAccountName=al\\2ace))"
        );
        assert!(filter::encode(&AccountKey::Name("bob@x".into()).filter_text()).is_ok());
    }
}

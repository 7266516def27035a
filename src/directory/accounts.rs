//! The state of one account in the directory, for "the user is gone"
//! verdicts (phase 3 of issue 13): disabled, locked out, expired, password
//! changed, deleted (found only with the show-deleted control) or not found.
//! The decision per entry is pure ([`state`]); [`lookup`] does the reading.
//! Not yet wired into the snapshot or the analysis.

use jiff::Timestamp;
use serde::Serialize;

use super::computers::{UF_ACCOUNTDISABLE, filetime};
use super::filter;
use super::message::Entry;
use crate::collect::msrpc::sid::Sid;

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
            AccountKey::Name(name) => {
                // DOMAIN\user and user@domain: the directory knows `user`.
                let bare = name
                    .rsplit_once('\\')
                    .map_or(name.as_str(), |(_, u)| u)
                    .split('@')
                    .next()
                    .unwrap_or_default();
                format!(
                    "(&(objectClass=user)(sAMAccountName={}))",
                    filter::escape(bare)
                )
            }
        }
    }
}

/// What the directory says about an account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccountState {
    pub dn: String,
    pub sam_account_name: Option<String>,
    pub user_account_control: u32,
    pub disabled: bool,
    pub locked_out: bool,
    /// accountExpires when set and in the past.
    pub expired_at: Option<Timestamp>,
    pub password_last_set: Option<Timestamp>,
    pub when_changed: Option<String>,
    pub deleted: bool,
}

impl AccountState {
    /// Whether the password was set after `logon`: the session runs on
    /// credentials that no longer exist.
    pub fn password_changed_since(&self, logon: Timestamp) -> bool {
        self.password_last_set.is_some_and(|set| set > logon)
    }

    /// Disabled, locked out, expired or deleted.
    pub fn is_gone(&self) -> bool {
        self.disabled || self.locked_out || self.expired_at.is_some() || self.deleted
    }
}

/// The state an account entry shows as of `now`.
pub fn state(entry: &Entry, now: Timestamp) -> AccountState {
    let uac = entry
        .integer("userAccountControl")
        .and_then(|v| u32::try_from(v).ok())
        .unwrap_or(0);
    let expires = entry.integer("accountExpires").and_then(filetime);
    AccountState {
        dn: entry.dn.clone(),
        sam_account_name: entry.text("sAMAccountName"),
        user_account_control: uac,
        disabled: uac & UF_ACCOUNTDISABLE != 0,
        locked_out: entry.integer("lockoutTime").is_some_and(|t| t > 0),
        expired_at: expires.filter(|at| *at <= now),
        password_last_set: entry.integer("pwdLastSet").and_then(filetime),
        when_changed: entry.text("whenChanged"),
        deleted: entry
            .text("isDeleted")
            .is_some_and(|v| v.eq_ignore_ascii_case("TRUE")),
    }
}

/// Look `key` up under `base`: live objects first, then Deleted Objects
/// (show-deleted control). Ok(None): no such account anywhere.
#[cfg(unix)]
pub fn lookup(
    connection: &mut super::Connection,
    base: &str,
    key: &AccountKey,
) -> Result<Option<AccountState>, super::DirectoryError> {
    use super::message::{Control, Scope, Search};
    let encoded = filter::encode(&key.filter_text())?;
    let now = Timestamp::now();
    for controls in [vec![], vec![Control::show_deleted()]] {
        let mut found = None;
        let search = Search {
            base,
            scope: Scope::Subtree,
            filter: &encoded,
            attributes: ATTRIBUTES,
        };
        connection.search(&search, &controls, |entry| {
            found.get_or_insert_with(|| state(&entry, now));
            Ok(())
        })?;
        if found.is_some() {
            return Ok(found);
        }
    }
    Ok(None)
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
    fn states() {
        let now: Timestamp = "2024-03-01T00:00:00Z".parse().unwrap();
        let fine = state(
            &entry(&[
                ("userAccountControl", "512"),
                ("accountExpires", "9223372036854775807"),
                ("lockoutTime", "0"),
                ("pwdLastSet", "133485408000000000"),
            ]),
            now,
        );
        assert!(!fine.is_gone());
        assert!(fine.password_changed_since("2023-12-31T00:00:00Z".parse().unwrap()));
        assert!(!fine.password_changed_since("2024-01-02T00:00:00Z".parse().unwrap()));
        assert!(state(&entry(&[("userAccountControl", "514")]), now).disabled);
        assert!(state(&entry(&[("lockoutTime", "133485408000000000")]), now).locked_out);
        assert!(
            state(&entry(&[("accountExpires", "133485408000000000")]), now)
                .expired_at
                .is_some()
        );
        assert!(state(&entry(&[("isDeleted", "TRUE")]), now).deleted);
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

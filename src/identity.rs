//! Account names and how a target user is matched, as Get-LingeringSessions.ps1 does it.
//!
//! A target is `DOMAIN\user`, `user@domain.tld` (canonically `domain\user`)
//! or a bare `user`. Matching is case-insensitive. A bare target matches the
//! user in any domain; a domain target matches rows of that domain and rows
//! that carry no domain at all (SMB sessions and some process lists name only
//! the SAM account). A DNS domain matches its NetBIOS name when that is its
//! first label (`contoso.com` ~ `CONTOSO`).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    #[error("the user name is empty")]
    Empty,
    #[error("'{0}' is not a valid account name (expected DOMAIN\\user, user@domain or user)")]
    Malformed(String),
}

/// A target user as given on the command line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetUser {
    /// NetBIOS or DNS domain, as given; None for a bare name.
    pub domain: Option<String>,
    pub user: String,
}

impl TargetUser {
    pub fn parse(text: &str) -> Result<Self, IdentityError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(IdentityError::Empty);
        }
        let (domain, user) = split_account(text);
        let bad_part = |s: &str| s.is_empty() || s.contains(['\\', '@', '/']);
        if bad_part(user) || domain.is_some_and(|d| d.is_empty() || d.contains(['\\', '@'])) {
            return Err(IdentityError::Malformed(text.to_string()));
        }
        Ok(TargetUser {
            domain: domain.map(str::to_string),
            user: user.to_string(),
        })
    }

    /// `DOMAIN\user` (or `user`), with the domain as given.
    pub fn display(&self) -> String {
        display_account(self.domain.as_deref(), &self.user)
    }

    /// Does an account seen by a source (its domain, if known, and its name) belong to this target?
    pub fn matches(&self, domain: Option<&str>, user: &str) -> bool {
        if !eq_ignore_case(&self.user, user) {
            return false;
        }
        match (
            self.domain.as_deref(),
            domain.map(str::trim).filter(|d| !d.is_empty()),
        ) {
            (None, _) | (_, None) => true,
            (Some(want), Some(have)) => domains_equal(want, have),
        }
    }

    /// Match a single account string as sources print it: `DOMAIN\user`, `user@domain` or `user`.
    pub fn matches_account(&self, account: &str) -> bool {
        let (domain, user) = split_account(account.trim());
        self.matches(domain, user)
    }
}

impl std::fmt::Display for TargetUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.display())
    }
}

/// Case-insensitive equality without allocating (Unicode-aware, not just ASCII).
pub fn eq_ignore_case(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
        || a.chars()
            .flat_map(char::to_lowercase)
            .eq(b.chars().flat_map(char::to_lowercase))
}

/// `DOMAIN\user`, or just `user` when the domain is unknown or empty.
pub fn display_account(domain: Option<&str>, user: &str) -> String {
    match domain.filter(|d| !d.is_empty()) {
        Some(d) => format!("{d}\\{user}"),
        None => user.to_string(),
    }
}

/// Split `DOMAIN\user` / `user@domain` / `user` into (domain, user).
pub fn split_account(account: &str) -> (Option<&str>, &str) {
    if let Some((domain, user)) = account.split_once('\\') {
        (Some(domain), user)
    } else if let Some((user, domain)) = account.rsplit_once('@') {
        (Some(domain), user)
    } else {
        (None, account)
    }
}

/// Case-insensitive domain comparison that also equates a DNS domain with its NetBIOS first label.
pub fn domains_equal(a: &str, b: &str) -> bool {
    if eq_ignore_case(a, b) {
        return true;
    }
    let first_label = |d: &str| d.split('.').next().unwrap_or(d).to_string();
    let (a_dns, b_dns) = (a.contains('.'), b.contains('.'));
    match (a_dns, b_dns) {
        (true, false) => first_label(a).eq_ignore_ascii_case(b),
        (false, true) => first_label(b).eq_ignore_ascii_case(a),
        _ => false,
    }
}

/// A key that groups the same account across sources: lower-case user name,
/// plus the lower-case domain when one is known.
pub fn account_key(domain: Option<&str>, user: &str) -> String {
    let mut key = String::new();
    write_account_key(&mut key, domain, user);
    key
}

/// [`account_key`] into a reused buffer (cleared first), for hot loops.
pub fn write_account_key(out: &mut String, domain: Option<&str>, user: &str) {
    out.clear();
    if let Some(d) = domain.map(str::trim).filter(|d| !d.is_empty()) {
        push_lowercase(out, d);
        out.push('\\');
    }
    push_lowercase(out, user);
}

fn push_lowercase(out: &mut String, text: &str) {
    if text.is_ascii() {
        out.extend(text.bytes().map(|b| char::from(b.to_ascii_lowercase())));
    } else {
        out.push_str(&text.to_lowercase());
    }
}

/// `NAME$`: a computer account. The script sets these aside.
pub fn is_machine_account(user: &str) -> bool {
    user.trim_end().ends_with('$')
}

/// Well-known service identities that hold logon sessions by design.
pub fn is_service_identity(domain: Option<&str>, user: &str) -> bool {
    let user_upper = user.to_ascii_uppercase();
    let domain_upper = domain.unwrap_or_default().to_ascii_uppercase();
    matches!(
        user_upper.as_str(),
        "SYSTEM"
            | "LOCAL SERVICE"
            | "NETWORK SERVICE"
            | "ANONYMOUS LOGON"
            | "LOCALSERVICE"
            | "NETWORKSERVICE"
    ) || user_upper.starts_with("DWM-")
        || user_upper.starts_with("UMFD-")
        || matches!(
            domain_upper.as_str(),
            "NT AUTHORITY" | "WINDOW MANAGER" | "FONT DRIVER HOST" | "NT SERVICE" | "IIS APPPOOL"
        )
}

/// Whether an account is one the analysis sets aside (machine accounts and service identities).
pub fn is_set_aside(domain: Option<&str>, user: &str) -> bool {
    user.trim().is_empty() || is_machine_account(user) || is_service_identity(domain, user)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_three_forms() {
        let t = TargetUser::parse("CONTOSO\\alice").unwrap();
        assert_eq!(
            (t.domain.as_deref(), t.user.as_str()),
            (Some("CONTOSO"), "alice")
        );
        let t = TargetUser::parse("alice@contoso.com").unwrap();
        assert_eq!(
            (t.domain.as_deref(), t.user.as_str()),
            (Some("contoso.com"), "alice")
        );
        assert_eq!(t.display(), "contoso.com\\alice");
        let t = TargetUser::parse("  alice ").unwrap();
        assert_eq!((t.domain, t.user.as_str()), (None, "alice"));
    }

    #[test]
    fn rejects_empty_and_malformed() {
        assert_eq!(TargetUser::parse("   "), Err(IdentityError::Empty));
        assert_eq!(TargetUser::parse(""), Err(IdentityError::Empty));
        assert!(matches!(
            TargetUser::parse("\\alice"),
            Err(IdentityError::Malformed(_))
        ));
        assert!(matches!(
            TargetUser::parse("DOM\\"),
            Err(IdentityError::Malformed(_))
        ));
        assert!(matches!(
            TargetUser::parse("a\\b\\c"),
            Err(IdentityError::Malformed(_))
        ));
        assert!(matches!(
            TargetUser::parse("@dom"),
            Err(IdentityError::Malformed(_))
        ));
    }

    #[test]
    fn matching_is_case_insensitive_and_domain_aware() {
        let t = TargetUser::parse("TESTDOMAIN\\Administrator").unwrap();
        assert!(t.matches(Some("testdomain"), "ADMINISTRATOR"));
        assert!(t.matches(None, "administrator"));
        assert!(t.matches(Some(""), "administrator"));
        assert!(!t.matches(Some("OTHER"), "administrator"));
        assert!(!t.matches(Some("TESTDOMAIN"), "admin"));
        assert!(t.matches_account("TESTDOMAIN\\administrator"));
        assert!(t.matches_account("administrator@testdomain.local"));
        assert!(!t.matches_account("OTHER\\administrator"));
    }

    #[test]
    fn bare_target_matches_any_domain() {
        let t = TargetUser::parse("bob").unwrap();
        assert!(t.matches(Some("ANY"), "Bob"));
        assert!(t.matches_account("X\\bob"));
        assert!(!t.matches_account("X\\bobby"));
    }

    #[test]
    fn upn_target_matches_netbios_rows() {
        let t = TargetUser::parse("alice@contoso.com").unwrap();
        assert!(t.matches(Some("CONTOSO"), "alice"));
        assert!(!t.matches(Some("FABRIKAM"), "alice"));
    }

    #[test]
    fn set_aside_accounts() {
        assert!(is_machine_account("DC01-SERVER-22$"));
        assert!(!is_machine_account("alice"));
        assert!(is_set_aside(Some("NT AUTHORITY"), "SYSTEM"));
        assert!(is_set_aside(Some("Window Manager"), "DWM-1"));
        assert!(is_set_aside(Some("Font Driver Host"), "UMFD-0"));
        assert!(!is_set_aside(Some("CONTOSO"), "alice"));
        assert!(!is_set_aside(None, "root"));
    }
}

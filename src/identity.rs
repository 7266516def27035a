//! Account names, and the two ways a target user is matched.
//!
//! A target is `DOMAIN\user`, `user@domain.tld` (canonically `domain\user`)
//! or a bare `user`.
//!
//! - [`TargetUser::matches`] is lingerscan's own, domain-aware matching, used
//!   by the per-session findings: case-insensitive; a bare target matches the
//!   user in any domain; a domain target matches rows of that domain and rows
//!   that carry no domain at all (SMB sessions and some process lists name
//!   only the SAM account); a DNS domain matches its NetBIOS name when that is
//!   its first label (`contoso.com` ~ `CONTOSO`).
//! - [`ScriptIdentity`] is the script's matching, used by its user-level rule
//!   (section 5): it never compares domains (see its docs).

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
    /// The text exactly as typed (untrimmed): the script compares some
    /// candidates with it verbatim (a UPN is matched only this way), so the
    /// parsed parts alone cannot reproduce its rule. Accounts built from rows
    /// carry their `DOMAIN\user` form.
    #[serde(default)]
    pub given: String,
}

impl TargetUser {
    /// Parse a target. Forms the script would take but that name no account
    /// (`\alice`, `alice@`, `a\b\c`) are refused here: a documented
    /// difference from the script, which would silently match odd rows.
    pub fn parse(given: &str) -> Result<Self, IdentityError> {
        let text = given.trim();
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
            given: given.to_string(),
        })
    }

    /// An account seen in a source's rows, as a target (its `DOMAIN\user` form is what was "given").
    /// The domain is kept as it is, even empty, so that [`TargetUser::matches`] reads it as before.
    pub fn account(domain: Option<&str>, user: &str) -> Self {
        TargetUser {
            domain: domain.map(str::to_string),
            user: user.to_string(),
            given: display_account(domain, user),
        }
    }

    /// The script's reading of this target (Get-TargetUserIdentity).
    pub fn script_identity(&self) -> ScriptIdentity {
        let given = if self.given.trim().is_empty() {
            self.display()
        } else {
            self.given.clone()
        };
        ScriptIdentity::new(&given)
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

/// The target as Get-LingeringSessions.ps1 reads and matches it.
///
/// Get-TargetUserIdentity (Get-LingeringSessions.ps1:171-193) trims the text
/// and takes the SAM name from `DOMAIN\SAM` or `SAM@domain`, else the whole
/// text. Test-IdentityMatch (195-210) then accepts a candidate (a non-blank
/// `DOMAIN\user` or `user` string from a source) when, case-insensitively,
/// it equals the trimmed text, the canonical `DOMAIN\SAM`, or the SAM, or
/// ends with `\SAM`. Domains are never compared: `CONTOSO\alice` matches
/// `FABRIKAM\alice`, and `dave@example.com` matches `FABRIKAM\dave`; a UPN
/// candidate (`carol@app04.local`) matches only the identical UPN target.
///
/// Because lingerscan refuses targets whose SAM part holds a `\`, "ends
/// with `\SAM`" is the same as "the part after the last `\` is SAM", and the
/// canonical form needs no test of its own (it ends with `\SAM`); that is
/// what lets [`ScriptKeys`] index candidates instead of scanning them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptIdentity {
    /// The target exactly as given, case-folded (remote process filter, line 380).
    raw_key: String,
    /// The trimmed target, case-folded (line 202).
    trimmed_key: String,
    /// The SAM name, case-folded (lines 204-207).
    sam_key: String,
}

impl ScriptIdentity {
    pub fn new(given: &str) -> Self {
        let trimmed = given.trim();
        // The two regexes of lines 174 and 181, in order.
        let sam = match trimmed.split_once('\\') {
            Some((domain, sam)) if !domain.is_empty() && !sam.is_empty() => sam,
            _ => match trimmed.split_once('@') {
                Some((sam, domain)) if !sam.is_empty() && !domain.is_empty() => sam,
                _ => trimmed,
            },
        };
        ScriptIdentity {
            raw_key: fold_case(given),
            trimmed_key: fold_case(trimmed),
            sam_key: fold_case(sam),
        }
    }

    /// Test-IdentityMatch (Get-LingeringSessions.ps1:195-210): NetWkstaUserEnum
    /// rows, logon sessions, local processes and SMB sessions.
    pub fn matches(&self, candidate: &str) -> bool {
        if candidate.trim().is_empty() {
            return false;
        }
        self.matches_keys(&ScriptKeys::of(candidate), &self.trimmed_key)
    }

    /// The filter the script sends to a remote host for its processes
    /// (Get-LingeringSessions.ps1:377-388): like Test-IdentityMatch, but it
    /// compares with the target as typed, untrimmed (line 380), and splits
    /// at the last `\` (384-385).
    pub fn matches_remote_process(&self, candidate: &str) -> bool {
        if candidate.is_empty() {
            return false;
        }
        self.matches_keys(&ScriptKeys::of(candidate), &self.raw_key)
    }

    fn matches_keys(&self, keys: &ScriptKeys, whole_target: &str) -> bool {
        keys.whole == whole_target
            || keys.whole == self.sam_key
            || keys.last.as_deref() == Some(self.sam_key.as_str())
    }

    /// The keys a candidate must have to match (for index lookups):
    /// whole-string keys, then the key of the part after the last `\`.
    pub fn lookup_keys(&self, remote_process: bool) -> ([&str; 2], &str) {
        let whole = if remote_process {
            self.raw_key.as_str()
        } else {
            self.trimmed_key.as_str()
        };
        ([whole, self.sam_key.as_str()], self.sam_key.as_str())
    }
}

/// A candidate string's folded keys: the whole string, and (when it holds a
/// `\`) the part after the last one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptKeys {
    pub whole: String,
    pub last: Option<String>,
}

impl ScriptKeys {
    pub fn of(candidate: &str) -> Self {
        let whole = fold_case(candidate);
        let last = whole.rfind('\\').map(|i| whole[i + 1..].to_string());
        ScriptKeys { whole, last }
    }

    /// The same keys without allocating: the whole key into `out` (cleared
    /// first), and where the last-part key starts in it, if there is one.
    /// For indexing a million candidates, most of them repeats.
    pub fn write(candidate: &str, out: &mut String) -> Option<usize> {
        out.clear();
        write_fold_case(candidate, out);
        out.rfind('\\').map(|i| i + 1)
    }
}

/// Case folding as .NET's ordinal ignore-case comparison does it: each
/// character to its simple upper case (one character, or itself when the
/// upper case is several characters, as for `ß`). PowerShell's `-ieq`
/// compares with the invariant culture instead; the two agree on letters
/// that have a one-character upper case, which is every letter of every
/// account name seen in practice.
pub fn fold_case(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    write_fold_case(text, &mut out);
    out
}

/// [`fold_case`] appended to `out`.
fn write_fold_case(text: &str, out: &mut String) {
    if text.is_ascii() {
        let start = out.len();
        out.push_str(text);
        out[start..].make_ascii_uppercase();
        return;
    }
    out.extend(text.chars().map(|c| {
        let mut upper = c.to_uppercase();
        match (upper.next(), upper.next()) {
            (Some(u), None) => u,
            _ => c,
        }
    }));
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
        // Built by hand: `format!` costs several times as much, once per row and finding.
        Some(d) => {
            let mut text = String::with_capacity(d.len() + 1 + user.len());
            text.push_str(d);
            text.push('\\');
            text.push_str(user);
            text
        }
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
/// Returns where the user part starts in it (the user, lower-cased).
pub fn write_account_key(out: &mut String, domain: Option<&str>, user: &str) -> usize {
    out.clear();
    if let Some(d) = domain.map(str::trim).filter(|d| !d.is_empty()) {
        push_lowercase(out, d);
        out.push('\\');
    }
    let user_start = out.len();
    push_lowercase(out, user);
    user_start
}

fn push_lowercase(out: &mut String, text: &str) {
    if text.is_ascii() {
        let start = out.len();
        out.push_str(text);
        out[start..].make_ascii_lowercase();
    } else {
        out.push_str(&text.to_lowercase());
    }
}

/// `NAME$`: a computer account or a (group) managed service account. The
/// per-session findings set these aside; the script drops them only from
/// NetWkstaUserEnum rows, and exactly when the name ends in `$`
/// (Get-LingeringSessions.ps1:313, 463), which [`is_script_machine_row`] keeps.
pub fn is_machine_account(user: &str) -> bool {
    user.trim_end().ends_with('$')
}

/// The script's test for a NetWkstaUserEnum row to drop: the user name, as
/// returned and untrimmed, ends with `$` (Get-LingeringSessions.ps1:313, 463).
pub fn is_script_machine_row(user: &str) -> bool {
    user.ends_with('$')
}

/// Well-known service identities that hold logon sessions by design.
pub fn is_service_identity(domain: Option<&str>, user: &str) -> bool {
    // Compared in place, without upper-casing copies: this runs for every
    // row of every source.
    const USERS: [&str; 6] = [
        "SYSTEM",
        "LOCAL SERVICE",
        "NETWORK SERVICE",
        "ANONYMOUS LOGON",
        "LOCALSERVICE",
        "NETWORKSERVICE",
    ];
    const DOMAINS: [&str; 5] = [
        "NT AUTHORITY",
        "WINDOW MANAGER",
        "FONT DRIVER HOST",
        "NT SERVICE",
        "IIS APPPOOL",
    ];
    let starts_with = |prefix: &str| {
        user.get(..prefix.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
    };
    let domain = domain.unwrap_or_default();
    USERS.iter().any(|u| user.eq_ignore_ascii_case(u))
        || starts_with("DWM-")
        || starts_with("UMFD-")
        || DOMAINS.iter().any(|d| domain.eq_ignore_ascii_case(d))
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
    fn the_scripts_matching_ignores_domains() {
        // Get-LingeringSessions.ps1:195-210: name only, case-insensitive.
        let t = TargetUser::parse("FABRIKAM\\alice")
            .unwrap()
            .script_identity();
        assert!(t.matches("CONTOSO\\ALICE"));
        assert!(t.matches("alice"));
        assert!(t.matches("\\alice"));
        assert!(!t.matches("CONTOSO\\alicia"));
        assert!(!t.matches("alice@contoso.com"));
        assert!(!t.matches("   "));
        let upn = TargetUser::parse("dave@example.com")
            .unwrap()
            .script_identity();
        assert!(upn.matches("FABRIKAM\\dave"));
        assert!(upn.matches("DAVE@EXAMPLE.COM"));
        assert!(!upn.matches("dave@fabrikam.local"));
    }

    #[test]
    fn the_remote_process_filter_compares_the_untrimmed_target() {
        // Lines 380 (untrimmed) against 202 (trimmed).
        let t = TargetUser::parse(" dave@example.com")
            .unwrap()
            .script_identity();
        assert!(t.matches("dave@example.com"));
        assert!(!t.matches_remote_process("dave@example.com"));
        assert!(t.matches_remote_process("X\\dave"));
    }

    #[test]
    fn case_folding_is_per_character() {
        assert_eq!(fold_case("José"), "JOSÉ");
        assert_eq!(fold_case("straße"), "STRAßE");
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

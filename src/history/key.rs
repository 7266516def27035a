//! The stable key of a finding, and how its parts are stored and read back.

use jiff::Timestamp;
use serde::Serialize;

use super::HistoryError;
use crate::analyze::{Finding, SessionKind, Verdict};

/// The identity of a finding across scans: the same key in two scans is
/// the same finding seen twice.
///
/// - `host`: the host as scanned, trimmed and lower-cased (`SRV01` and
///   `srv01` are one host).
/// - `verdict`: a session that turns from DISCONNECTED to LEAKED_LOGON is a
///   new finding (it lingers in a new way from then on).
/// - `kind` and `session_id`: the session identity the analysis already
///   gives each finding: the LUID or logind session id, the WTS session id
///   or tty, the utmp line, the SMB session id (else its client address),
///   the account for a workstation-list user, the audit session id.
/// - `user`: the account as reported (`DOMAIN\user` or `user`).
/// - `login_time`: the session's logon / login time, for logon sessions,
///   interactive sessions and utmp entries: ids and lines are reused (logind
///   numbers restart at boot, `pts/0` serves login after login), a login
///   time is not. Not for SMB sessions, whose connection time Windows gives
///   as "seconds ago" (it would jitter by a second between scans), nor for
///   the kinds that have none.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct FindingKey {
    #[serde(skip)]
    pub host: String,
    pub verdict: Verdict,
    pub kind: SessionKind,
    pub session_id: String,
    pub user: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub login_time: Option<Timestamp>,
}

impl FindingKey {
    pub fn of(host: &str, finding: &Finding) -> FindingKey {
        let keeps_login_time = matches!(
            finding.kind,
            SessionKind::LogonSession | SessionKind::InteractiveSession | SessionKind::UtmpEntry
        );
        FindingKey {
            host: host_key(host),
            verdict: finding.verdict,
            kind: finding.kind,
            session_id: finding.session_id.clone(),
            user: finding.user.clone(),
            login_time: finding.since.filter(|_| keeps_login_time),
        }
    }
}

impl FindingKey {
    /// A short, stable name of this key (12 hex digits of its SHA-256):
    /// what a plan shows and `close --id` takes. The same finding seen by
    /// another scan, or read back from a report, has the same id.
    pub fn id(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut hash = Sha256::new();
        for part in [
            self.host.as_str(),
            self.verdict.as_str(),
            self.kind.as_str(),
            self.session_id.as_str(),
            self.user.as_str(),
        ] {
            hash.update(part.as_bytes());
            // A separator no field holds, so that ("ab","c") ≠ ("a","bc").
            hash.update([0u8]);
        }
        hash.update(login_time_to_db(self.login_time).to_le_bytes());
        hash.finalize()[..6]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

/// A host as stored: trimmed, ASCII lower-case.
pub fn host_key(host: &str) -> String {
    host.trim().to_ascii_lowercase()
}

/// The account name `--user` is matched on: the name without its domain
/// (`CONTOSO\Alice` and `alice@contoso.com` are both `alice`), lower-cased.
pub fn account_key(user: &str) -> String {
    let name = user.rsplit('\\').next().unwrap_or(user);
    let name = name.split('@').next().unwrap_or(name);
    name.to_lowercase()
}

/// `login_time` column: microseconds since the epoch; 0 stands for none,
/// because SQL UNIQUE constraints treat NULLs as all different.
pub fn login_time_to_db(time: Option<Timestamp>) -> i64 {
    time.map_or(0, micros)
}

pub fn login_time_from_db(value: i64) -> Result<Option<Timestamp>, HistoryError> {
    if value == 0 {
        Ok(None)
    } else {
        time_from_db(value).map(Some)
    }
}

/// Timestamps are stored as microseconds since the epoch (what snapshots carry).
pub fn micros(time: Timestamp) -> i64 {
    time.as_microsecond()
}

pub fn time_from_db(value: i64) -> Result<Timestamp, HistoryError> {
    Timestamp::from_microsecond(value)
        .map_err(|e| HistoryError::Corrupt(format!("time {value}: {e}")))
}

pub fn verdict_from_db(text: &str) -> Result<Verdict, HistoryError> {
    VERDICTS
        .iter()
        .copied()
        .find(|v| v.as_str() == text)
        .ok_or_else(|| HistoryError::Corrupt(format!("unknown verdict {text:?}")))
}

pub fn kind_from_db(text: &str) -> Result<SessionKind, HistoryError> {
    KINDS
        .iter()
        .copied()
        .find(|k| k.as_str() == text)
        .ok_or_else(|| HistoryError::Corrupt(format!("unknown session kind {text:?}")))
}

pub const VERDICTS: [Verdict; 10] = Verdict::ALL;

pub const KINDS: [SessionKind; 7] = SessionKind::ALL;

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn stored_times_read_back(micros_value in -377_705_116_800_000_000i64..=253_402_207_200_000_000i64) {
            let time = time_from_db(micros_value).unwrap();
            prop_assert_eq!(micros(time), micros_value);
            if micros_value != 0 {
                prop_assert_eq!(login_time_from_db(login_time_to_db(Some(time))).unwrap(), Some(time));
            }
        }

        #[test]
        fn any_stored_integer_is_a_time_or_an_error(value in any::<i64>()) {
            // Never a panic, whatever an old or foreign database holds.
            let _ = time_from_db(value);
            let _ = login_time_from_db(value);
        }

        #[test]
        fn any_stored_text_is_a_name_or_an_error(text in ".{0,20}") {
            if let Ok(v) = verdict_from_db(&text) { prop_assert_eq!(v.as_str(), text.as_str()); }
            if let Ok(k) = kind_from_db(&text) { prop_assert_eq!(k.as_str(), text.as_str()); }
        }

        #[test]
        fn account_key_drops_the_domain(name in "[a-zA-Z0-9._-]{1,12}", domain in "[A-Z]{1,8}") {
            let bare = name.to_lowercase();
            prop_assert_eq!(account_key(&format!("{domain}\\{name}")), bare.clone());
            prop_assert_eq!(account_key(&format!("{name}@{domain}.local")), bare.clone());
            prop_assert_eq!(account_key(&name), bare);
        }
    }

    #[test]
    fn every_name_reads_back() {
        for v in VERDICTS {
            assert_eq!(verdict_from_db(v.as_str()).unwrap(), v);
        }
        for k in KINDS {
            assert_eq!(kind_from_db(k.as_str()).unwrap(), k);
        }
        assert_eq!(login_time_from_db(0).unwrap(), None);
    }
}

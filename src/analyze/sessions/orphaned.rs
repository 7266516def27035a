//! ORPHANED: a session whose account the account database says is gone.
//!
//! A session lives on after its account is disabled, deleted, locked out
//! or expired, or after its password changed (the session then runs on
//! credentials that no longer exist). `directory_accounts` (Active
//! Directory, or NSS on a Linux host) says so; this pass turns such a
//! session's finding, whatever its verdict, into ORPHANED and cites the
//! account row. A database that could not be read changes no verdict: the
//! accounts it would have checked are named in a note instead, as their
//! state is unknown, never "fine".

use jiff::Timestamp;

use crate::analyze::{AnalyzeOptions, Evidence, Finding, SessionKind, Verdict};
use crate::identity::eq_ignore_case;
use crate::model::{
    AccountDatabase, DirectoryAccount, FailureKind, HostSnapshot, Observed, Source,
};

/// userAccountControl ACCOUNTDISABLE (MS-ADTS 2.2.16).
const UF_ACCOUNTDISABLE: u32 = 0x2;

/// The kinds of finding that are a session of an account (a loaded hive is
/// judged by what holds it, not by its account).
fn is_session(kind: SessionKind) -> bool {
    !matches!(kind, SessionKind::LoadedProfile)
}

/// Who a finding is about, as its rows name the account.
struct Holder<'a> {
    sids: Vec<&'a str>,
    uids: Vec<u32>,
    domain: Option<&'a str>,
    name: &'a str,
}

fn holder<'a>(snapshot: &'a HostSnapshot, finding: &'a Finding) -> Holder<'a> {
    let mut sids = Vec::new();
    let mut uids = Vec::new();
    for evidence in &finding.evidence {
        for &row in &evidence.rows {
            let row = row as usize;
            match evidence.source {
                Source::Processes => {
                    if let Some(p) = snapshot.processes.rows_or_empty().get(row) {
                        sids.extend(p.sid.as_deref());
                        uids.extend(p.uid);
                    }
                }
                Source::LogonSessions => {
                    if let Some(l) = snapshot.logon_sessions.rows_or_empty().get(row) {
                        sids.extend(l.sid.as_deref());
                        uids.extend(l.uid);
                    }
                }
                _ => {}
            }
        }
    }
    let (domain, name) = match finding.user.rsplit_once('\\') {
        Some((domain, name)) => (Some(domain).filter(|d| !d.is_empty()), name),
        None => (None, finding.user.as_str()),
    };
    let name = name.split('@').next().unwrap_or(name);
    Holder {
        sids,
        uids,
        domain,
        name,
    }
}

/// The account row for a holder: by SID, then uid, then name.
fn account_of<'a>(
    accounts: &'a [DirectoryAccount],
    holder: &Holder<'_>,
) -> Option<(u32, &'a DirectoryAccount)> {
    let indexed = || accounts.iter().enumerate().map(|(i, a)| (i as u32, a));
    let by_sid = indexed().find(|(_, a)| {
        a.sid
            .as_deref()
            .is_some_and(|sid| holder.sids.iter().any(|s| eq_ignore_case(s, sid)))
    });
    let by_uid = || {
        indexed().find(|(_, a)| {
            a.database == AccountDatabase::Nss && a.uid.is_some_and(|u| holder.uids.contains(&u))
        })
    };
    let by_name = || {
        indexed().find(|(_, a)| {
            !holder.name.is_empty()
                && a.sam_account_name
                    .as_deref()
                    .is_some_and(|n| eq_ignore_case(n, holder.name))
                && match (a.domain.as_deref(), holder.domain) {
                    (Some(a), Some(h)) => eq_ignore_case(a, h),
                    _ => true,
                }
        })
    };
    by_sid.or_else(by_uid).or_else(by_name)
}

/// When the session began, from its own row (the earliest process of a
/// process group).
fn session_start(snapshot: &HostSnapshot, finding: &Finding) -> Option<Timestamp> {
    let source = match finding.kind {
        SessionKind::LogonSession => Source::LogonSessions,
        SessionKind::InteractiveSession => Source::InteractiveSessions,
        SessionKind::UtmpEntry | SessionKind::WorkstationUser => Source::WorkstationUsers,
        SessionKind::SmbSession => Source::SmbSessions,
        SessionKind::AuditSession => Source::Processes,
        SessionKind::LoadedProfile => return None,
    };
    let rows = finding
        .evidence
        .iter()
        .filter(|e| e.source == source)
        .flat_map(|e| e.rows.iter().map(|&r| r as usize));
    rows.filter_map(|row| match source {
        Source::LogonSessions => snapshot.logon_sessions.rows_or_empty().get(row)?.start_time,
        Source::InteractiveSessions => {
            snapshot
                .interactive_sessions
                .rows_or_empty()
                .get(row)?
                .logon_time
        }
        Source::WorkstationUsers => {
            snapshot
                .workstation_users
                .rows_or_empty()
                .get(row)?
                .login_time
        }
        Source::SmbSessions => {
            let s = snapshot.smb_sessions.rows_or_empty().get(row)?;
            s.connected_at.or_else(|| {
                // The host gives the session's age: its start is that long
                // before the collection.
                let secs = i64::try_from(s.active_secs?).ok()?;
                snapshot
                    .collected_at
                    .checked_sub(jiff::SignedDuration::from_secs(secs))
                    .ok()
            })
        }
        Source::Processes => snapshot.processes.rows_or_empty().get(row)?.start_time,
        _ => None,
    })
    .min()
}

/// Why an account is gone, as of `now`, for a session started at `start`;
/// each reason names the attribute and its value. Empty: the account is fine.
pub(crate) fn gone_reasons(
    account: &DirectoryAccount,
    start: Option<Timestamp>,
    now: Timestamp,
) -> Vec<String> {
    let changed = account
        .when_changed
        .as_deref()
        .map(|w| format!(", whenChanged {w}"))
        .unwrap_or_default();
    if !account.found {
        return vec![match account.database {
            AccountDatabase::Nss => {
                let who = match (&account.sam_account_name, account.uid) {
                    (Some(name), Some(uid)) => format!("{name} (uid {uid})"),
                    (Some(name), None) => name.clone(),
                    (None, Some(uid)) => format!("uid {uid}"),
                    (None, None) => "the account".to_string(),
                };
                format!("account no longer exists: NSS cannot resolve {who}")
            }
            AccountDatabase::Ldap => {
                "account deleted: no such object in the directory, not even in Deleted Objects"
                    .to_string()
            }
        }];
    }
    let mut reasons = Vec::new();
    if account.deleted {
        reasons.push(format!(
            "account deleted: found only in Deleted Objects (isDeleted TRUE{changed})"
        ));
    }
    if let Some(uac) = account.user_account_control
        && uac & UF_ACCOUNTDISABLE != 0
    {
        reasons.push(format!(
            "account disabled: userAccountControl 0x{uac:x}{changed}"
        ));
    }
    if let Some(at) = account.lockout_time {
        reasons.push(format!("account locked out: lockoutTime {at}"));
    }
    if let Some(at) = account.account_expires.filter(|&at| at <= now) {
        reasons.push(format!("account expired: accountExpires {at}"));
    }
    if let (Some(set), Some(start)) = (account.pwd_last_set, start)
        && set > start
    {
        reasons.push(format!(
            "password changed after the session began: pwdLastSet {set}, session started {start}"
        ));
    }
    reasons
}

/// Turn the findings of gone accounts ORPHANED; the notes say what could
/// not be checked.
pub(in crate::analyze) fn apply(
    snapshot: &HostSnapshot,
    options: &AnalyzeOptions,
    findings: &mut [Finding],
) -> Vec<String> {
    let accounts = match &snapshot.directory_accounts {
        Observed::Ok { rows } => rows,
        // Not asked for (no --dc, old snapshots, copied utmp files): nothing to say.
        Observed::Failed(failure) if failure.kind == FailureKind::NotSupported => {
            return Vec::new();
        }
        Observed::Failed(failure) => {
            let mut unchecked: Vec<&str> = findings
                .iter()
                .filter(|f| is_session(f.kind) && !f.user.is_empty())
                .map(|f| f.user.as_str())
                .collect();
            unchecked.sort_unstable_by_key(|u| u.to_lowercase());
            unchecked.dedup_by(|a, b| eq_ignore_case(a, b));
            if unchecked.is_empty() {
                return Vec::new();
            }
            return vec![format!(
                "account states could not be checked ({failure}): INCONCLUSIVE whether these \
                 accounts still exist and are enabled: {}",
                unchecked.join(", ")
            )];
        }
    };
    // No account row, nothing to turn ORPHANED: finding each holder would
    // read every process a finding cites (a million random reads).
    if accounts.is_empty() {
        return Vec::new();
    }
    for finding in findings.iter_mut().filter(|f| is_session(f.kind)) {
        let holder = holder(snapshot, finding);
        let Some((row, account)) = account_of(accounts, &holder) else {
            continue;
        };
        let reasons = gone_reasons(account, session_start(snapshot, finding), options.now);
        if reasons.is_empty() {
            continue;
        }
        finding.reason = format!(
            "{} (was {}: {})",
            reasons.join("; "),
            finding.verdict,
            finding.reason
        );
        finding.verdict = Verdict::Orphaned;
        finding.lingering = true;
        finding.evidence.push(Evidence {
            source: Source::DirectoryAccounts,
            rows: vec![row],
        });
    }
    Vec::new()
}

#[cfg(test)]
mod tests {
    use crate::analyze::{AnalyzeOptions, Finding, SessionKind, Verdict, analyze};
    use crate::model::{
        AccountDatabase, DirectoryAccount, FailureKind, HostSnapshot, InteractiveSession,
        InteractiveState, LogonSession, Observed, Platform, SmbSession, Source, WorkstationUser,
    };
    use jiff::Timestamp;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    /// A remote host with one SMB session per user, connected an hour
    /// before the 12:00 collection.
    fn host(users: &[&str]) -> HostSnapshot {
        let mut s = HostSnapshot::empty("srv", Platform::Unknown, "msrpc");
        s.collected_at = at("2024-03-01T12:00:00Z");
        s.smb_sessions = Observed::ok(
            users
                .iter()
                .map(|u| SmbSession {
                    client: "10.0.0.9".into(),
                    user: Some((*u).into()),
                    domain: Some("SAMDOM".into()),
                    active_secs: Some(3600),
                    idle_secs: Some(5),
                    ..SmbSession::default()
                })
                .collect(),
        );
        s.interactive_sessions = Observed::ok(Vec::new());
        s.workstation_users = Observed::ok(Vec::new());
        s.processes = Observed::ok(Vec::new());
        s
    }

    fn account(name: &str) -> DirectoryAccount {
        DirectoryAccount {
            database: AccountDatabase::Ldap,
            sam_account_name: Some(name.into()),
            domain: Some("SAMDOM".into()),
            found: true,
            user_account_control: Some(0x200),
            pwd_last_set: Some(at("2024-01-01T00:00:00Z")),
            when_changed: Some("20240301113000.0Z".into()),
            ..DirectoryAccount::default()
        }
    }

    fn smb_findings(s: &HostSnapshot) -> Vec<Finding> {
        analyze(s, &AnalyzeOptions::for_snapshot(s))
            .findings
            .into_iter()
            .filter(|f| f.kind == SessionKind::SmbSession)
            .collect()
    }

    #[test]
    fn each_gone_state_makes_the_session_orphaned_with_its_attribute() {
        let names = [
            "fine", "off", "gone", "tomb", "locked", "expired", "newpw", "future",
        ];
        let mut s = host(&names);
        let mut rows: Vec<DirectoryAccount> = names.iter().map(|n| account(n)).collect();
        rows[1].user_account_control = Some(0x202);
        rows[2].found = false;
        rows[3].deleted = true;
        rows[4].lockout_time = Some(at("2024-03-01T11:10:00Z"));
        rows[5].account_expires = Some(at("2024-02-01T00:00:00Z"));
        rows[6].pwd_last_set = Some(at("2024-03-01T11:30:00Z"));
        // An expiry still to come is not expired.
        rows[7].account_expires = Some(at("2030-01-01T00:00:00Z"));
        s.directory_accounts = Observed::ok(rows);
        let findings = smb_findings(&s);
        let verdicts: Vec<(&str, Verdict)> = findings
            .iter()
            .map(|f| (f.user.as_str(), f.verdict))
            .collect();
        assert_eq!(verdicts[0], ("SAMDOM\\fine", Verdict::Active));
        assert_eq!(verdicts[7], ("SAMDOM\\future", Verdict::Active));
        for (f, needle) in findings[1..7].iter().zip([
            "userAccountControl 0x202",
            "no such object",
            "Deleted Objects",
            "lockoutTime 2024-03-01T11:10:00Z",
            "accountExpires 2024-02-01T00:00:00Z",
            "pwdLastSet 2024-03-01T11:30:00Z, session started 2024-03-01T11:00:00Z",
        ]) {
            assert_eq!(f.verdict, Verdict::Orphaned, "{f:?}");
            assert!(f.lingering);
            assert!(f.reason.contains(needle), "{}", f.reason);
            assert!(f.reason.contains("was ACTIVE"), "{}", f.reason);
            assert_eq!(f.evidence_count(Source::DirectoryAccounts), 1);
        }
        assert!(findings[1].reason.contains("whenChanged 20240301113000.0Z"));
    }

    #[test]
    fn an_unreadable_directory_changes_no_verdict_and_says_so() {
        let mut s = host(&["alice"]);
        s.directory_accounts = Observed::failed(FailureKind::Unreachable, None, "no DC");
        let analysis = analyze(&s, &AnalyzeOptions::for_snapshot(&s));
        assert_eq!(analysis.findings[0].verdict, Verdict::Active);
        let note = analysis
            .notes
            .iter()
            .find(|n| n.contains("account states could not be checked"))
            .expect("a note");
        assert!(
            note.contains("INCONCLUSIVE") && note.contains("SAMDOM\\alice"),
            "{note}"
        );
        assert!(
            analysis
                .failed_sources
                .iter()
                .any(|f| f.source == Source::DirectoryAccounts)
        );
        // Not asked for at all: silence, and the snapshot judged as before.
        let plain = host(&["alice"]);
        let analysis = analyze(&plain, &AnalyzeOptions::for_snapshot(&plain));
        assert!(analysis.notes.iter().all(|n| !n.contains("account states")));
        assert!(
            analysis
                .failed_sources
                .iter()
                .all(|f| f.source != Source::DirectoryAccounts)
        );
    }

    #[test]
    fn an_unknown_sid_or_other_domain_is_left_alone() {
        let mut s = host(&["alice"]);
        let mut other = account("alice");
        other.domain = Some("OTHERDOM".into());
        other.found = false;
        s.directory_accounts = Observed::ok(vec![other]);
        assert_eq!(smb_findings(&s)[0].verdict, Verdict::Active);
    }

    /// Linux: a logind session whose uid NSS no longer resolves, and a
    /// utmp login of a name NSS does not know.
    #[test]
    fn linux_accounts_nss_cannot_resolve_are_orphaned() {
        let mut s = HostSnapshot::empty("lx", Platform::Linux, "linux-local");
        s.collected_at = at("2024-03-01T12:00:00Z");
        s.logon_sessions = Observed::ok(vec![LogonSession {
            logon_id: "7".into(),
            user: Some("gone".into()),
            uid: Some(1234),
            state: Some("active".into()),
            leader_pid: Some(1),
            ..LogonSession::default()
        }]);
        s.workstation_users = Observed::ok(vec![WorkstationUser {
            user: "ghost".into(),
            tty: Some("pts/9".into()),
            pid: Some(99_999),
            pid_alive: Some(true),
            ..WorkstationUser::default()
        }]);
        s.interactive_sessions = Observed::ok(vec![InteractiveSession {
            session_id: "pts/9".into(),
            station: Some("pts/9".into()),
            user: Some("ghost".into()),
            state: InteractiveState::Active,
            ..InteractiveSession::default()
        }]);
        s.processes = Observed::ok(Vec::new());
        s.smb_sessions = Observed::ok(Vec::new());
        s.directory_accounts = Observed::ok(vec![
            DirectoryAccount {
                database: AccountDatabase::Nss,
                uid: Some(1234),
                sam_account_name: Some("gone".into()),
                ..DirectoryAccount::default()
            },
            DirectoryAccount {
                database: AccountDatabase::Nss,
                sam_account_name: Some("ghost".into()),
                ..DirectoryAccount::default()
            },
        ]);
        let analysis = analyze(&s, &AnalyzeOptions::for_snapshot(&s));
        let orphaned: Vec<&Finding> = analysis
            .findings
            .iter()
            .filter(|f| f.verdict == Verdict::Orphaned)
            .collect();
        assert!(
            orphaned
                .iter()
                .any(|f| f.reason.contains("NSS cannot resolve gone (uid 1234)")),
            "{:#?}",
            analysis.findings
        );
        assert!(
            orphaned
                .iter()
                .any(|f| f.user == "ghost" && f.reason.contains("account no longer exists")),
            "{:#?}",
            analysis.findings
        );
    }
}

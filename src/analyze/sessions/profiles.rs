//! Loaded user hives (`HKEY_USERS\<SID>`) that nothing explains.
//!
//! Windows loads a user's hive at logon and unloads it when the last handle
//! to it closes. A hive that stays loaded with no process and no session of
//! its user is the classic profile leak (User Profile Service event 1530:
//! another process keeps a handle open, and the profile never unloads).
//! A hive its user still runs processes or a session under is explained and
//! gets no finding; one whose explanation could not be read is INCONCLUSIVE.

use super::Ctx;
use crate::analyze::{Evidence, Finding, SessionKind, Verdict, rules_out};
use std::collections::HashSet;

use crate::identity::{TargetUser, display_account};
use crate::model::{LoadedProfile, Observed, Source};

/// A SID that names a person's account: a domain or local account
/// (`S-1-5-21-…`) or an Entra ID account (`S-1-12-1-…`). Service identities
/// (`S-1-5-18/19/20`, `S-1-5-80-…`) load hives too, and are never a leak.
pub fn is_user_sid(sid: &str) -> bool {
    let sid = sid.trim().as_bytes();
    [b"S-1-5-21-".as_slice(), b"S-1-12-1-"]
        .iter()
        .any(|prefix| sid.len() > prefix.len() && sid[..prefix.len()].eq_ignore_ascii_case(prefix))
}

pub(super) fn profile_findings(ctx: &Ctx<'_>) -> Vec<Finding> {
    let Observed::Ok { rows: profiles } = &ctx.snapshot.loaded_profiles else {
        return Vec::new();
    };
    // Without hives there is nothing to hold: no pass over every process.
    if profiles.is_empty() {
        return Vec::new();
    }
    let held = HeldSids::of(ctx);
    let mut findings = Vec::new();
    for (row, profile) in profiles.iter().enumerate() {
        if !is_user_sid(&profile.sid) {
            continue;
        }
        let user = profile.user.as_deref().filter(|u| !u.is_empty());
        let domain = profile.domain.as_deref().filter(|d| !d.is_empty());
        // A target names an account: a hive LSA could not name cannot be matched to it.
        let wanted = match user {
            Some(user) => ctx.wanted(domain, user),
            None => ctx.options.target.is_none(),
        };
        if !wanted {
            continue;
        }
        let holders = Holders::of(ctx, &held, profile);
        if holders.any() {
            continue;
        }
        let account = user.map_or_else(|| profile.sid.clone(), |u| display_account(domain, u));
        let mut finding = Finding {
            verdict: Verdict::LeakedProfile,
            lingering: true,
            kind: SessionKind::LoadedProfile,
            session_id: profile.sid.clone(),
            user: account,
            reason: String::new(),
            idle_secs: None,
            since: None,
            evidence: vec![Evidence {
                source: Source::LoadedProfiles,
                rows: vec![row as u32],
            }],
            history: None,
        };
        let unread: Vec<&str> = [
            (rules_out(&ctx.snapshot.processes), "processes"),
            (
                rules_out(&ctx.snapshot.interactive_sessions),
                "interactive sessions",
            ),
        ]
        .into_iter()
        .filter(|(ok, _)| !ok)
        .map(|(_, name)| name)
        .collect();
        if unread.is_empty() {
            let logons = if rules_out(&ctx.snapshot.logon_sessions) {
                ", no logon session"
            } else {
                " (logon sessions could not be read; processes decide)"
            };
            finding.reason = format!(
                "user hive HKU\\{} is loaded with no process{logons} and no interactive \
                 session: the profile cannot unload",
                profile.sid
            );
        } else {
            finding.verdict = Verdict::Inconclusive;
            finding.lingering = false;
            finding.reason = format!(
                "user hive HKU\\{} is loaded; whether anything holds it is unknown: {} could \
                 not be read",
                profile.sid,
                unread.join(" and ")
            );
        }
        findings.push(finding);
    }
    findings
}

/// The SIDs (upper-cased) that own a process or a logon session, gathered
/// once for all hives rather than by a scan of every process per hive.
struct HeldSids {
    processes: HashSet<String>,
    logons: HashSet<String>,
}

impl HeldSids {
    fn of(ctx: &Ctx<'_>) -> Self {
        // Owners repeat (a million processes, a few thousand SIDs): each
        // distinct text is upper-cased once.
        let sids = |rows: &mut dyn Iterator<Item = Option<&str>>| {
            let mut seen: HashSet<&str> = HashSet::new();
            let mut upper = HashSet::new();
            for sid in rows.flatten() {
                if seen.insert(sid) {
                    upper.insert(sid.to_ascii_uppercase());
                }
            }
            upper
        };
        let snapshot = ctx.snapshot;
        HeldSids {
            processes: sids(
                &mut snapshot
                    .processes
                    .rows_or_empty()
                    .iter()
                    .map(|p| p.sid.as_deref()),
            ),
            logons: sids(
                &mut snapshot
                    .logon_sessions
                    .rows_or_empty()
                    .iter()
                    .map(|l| l.sid.as_deref()),
            ),
        }
    }
}

/// What on the host could hold a user's hive open.
struct Holders {
    processes: bool,
    logons: bool,
    interactive: bool,
}

impl Holders {
    fn of(ctx: &Ctx<'_>, held: &HeldSids, profile: &LoadedProfile) -> Self {
        let snapshot = ctx.snapshot;
        let sid = profile.sid.to_ascii_uppercase();
        let account = profile
            .user
            .as_deref()
            .filter(|u| !u.is_empty())
            .map(|user| TargetUser::account(profile.domain.as_deref(), user));
        let processes = held.processes.contains(&sid)
            || account
                .as_ref()
                .is_some_and(|a| ctx.index.has_process(a.domain.as_deref(), &a.user));
        let logons = held.logons.contains(&sid)
            || account
                .as_ref()
                .is_some_and(|a| ctx.index.has_logon(a.domain.as_deref(), &a.user));
        let interactive = account.as_ref().is_some_and(|a| {
            snapshot
                .interactive_sessions
                .rows_or_empty()
                .iter()
                .any(|i| {
                    i.user
                        .as_deref()
                        .is_some_and(|u| a.matches(i.domain.as_deref(), u))
                })
        });
        Holders {
            processes,
            logons,
            interactive,
        }
    }

    fn any(&self) -> bool {
        self.processes || self.logons || self.interactive
    }
}

#[cfg(test)]
mod tests {
    use super::is_user_sid;
    use crate::analyze::{AnalyzeOptions, Finding, Verdict, analyze};
    use crate::identity::TargetUser;
    use crate::model::{
        FailureKind, HostSnapshot, InteractiveSession, InteractiveState, LoadedProfile, Observed,
        Platform, ProcessRow,
    };

    const ALICE: &str = "S-1-5-21-1-2-3-1001";
    const BOB: &str = "S-1-5-21-1-2-3-1002";
    const CAROL: &str = "S-1-5-21-1-2-3-1003";

    /// A remote Windows host as the TSTS + winreg + LSA sources describe it:
    /// alice runs a process (named by SID only), bob has a disconnected
    /// session, carol and an unnamed SID have nothing but their hive.
    fn host() -> HostSnapshot {
        let mut s = HostSnapshot::empty("srv", Platform::Windows, "msrpc");
        let profile = |sid: &str, user: Option<&str>| LoadedProfile {
            sid: sid.to_string(),
            user: user.map(str::to_string),
            domain: user.map(|_| "CONTOSO".to_string()),
        };
        s.loaded_profiles = Observed::ok(vec![
            profile(ALICE, Some("alice")),
            profile(BOB, Some("bob")),
            profile(CAROL, Some("carol")),
            profile("S-1-5-21-1-2-3-1009", None),
            profile("S-1-5-18", Some("SYSTEM")),
        ]);
        s.processes = Observed::ok(vec![ProcessRow {
            pid: 4242,
            name: "explorer.exe".into(),
            sid: Some(ALICE.to_string()),
            ..ProcessRow::default()
        }]);
        s.interactive_sessions = Observed::ok(vec![InteractiveSession {
            session_id: "2".into(),
            user: Some("bob".into()),
            domain: Some("CONTOSO".into()),
            state: InteractiveState::Disconnected,
            ..InteractiveSession::default()
        }]);
        s
    }

    fn profile_findings(s: &HostSnapshot, target: Option<&str>) -> Vec<Finding> {
        let mut options = AnalyzeOptions::for_snapshot(s);
        options.target = target.map(|t| TargetUser::parse(t).unwrap());
        analyze(s, &options)
            .findings
            .into_iter()
            .filter(|f| f.kind == crate::analyze::SessionKind::LoadedProfile)
            .collect()
    }

    #[test]
    fn a_hive_nothing_holds_lingers_and_held_ones_are_explained() {
        let findings = profile_findings(&host(), None);
        let ids: Vec<(&str, Verdict, bool)> = findings
            .iter()
            .map(|f| (f.session_id.as_str(), f.verdict, f.lingering))
            .collect();
        assert_eq!(
            ids,
            [
                (CAROL, Verdict::LeakedProfile, true),
                ("S-1-5-21-1-2-3-1009", Verdict::LeakedProfile, true),
            ]
        );
        assert_eq!(findings[0].user, "CONTOSO\\carol");
        assert_eq!(findings[1].user, "S-1-5-21-1-2-3-1009");
        assert!(
            findings[0]
                .reason
                .contains("logon sessions could not be read"),
            "{}",
            findings[0].reason
        );
    }

    #[test]
    fn unreadable_processes_leave_a_hive_undecided() {
        let mut s = host();
        s.processes = Observed::failed(FailureKind::AccessDenied, Some(5), "denied");
        let findings = profile_findings(&s, None);
        assert!(
            findings
                .iter()
                .all(|f| f.verdict == Verdict::Inconclusive && !f.lingering)
        );
        // alice's process is no longer seen, so her hive is undecided too.
        assert_eq!(findings.len(), 3);
        assert!(findings[0].reason.contains("processes could not be read"));
    }

    #[test]
    fn a_target_sees_only_its_own_named_hive() {
        let findings = profile_findings(&host(), Some("CONTOSO\\carol"));
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].session_id, CAROL);
        assert!(profile_findings(&host(), Some("alice")).is_empty());
    }

    #[test]
    fn only_people_accounts_count() {
        assert!(is_user_sid("S-1-5-21-1-2-3-1001"));
        assert!(is_user_sid("s-1-5-21-1-2-3-500"));
        assert!(is_user_sid("S-1-12-1-1-2-3-4"));
        for service in [
            "S-1-5-18",
            "S-1-5-19",
            "S-1-5-20",
            "S-1-5-80-1-2",
            ".DEFAULT",
            "S-1-5-21-",
        ] {
            assert!(!is_user_sid(service), "{service}");
        }
    }
}

//! Which findings are closed, and how: one action per selected lingering
//! finding, from the rows its evidence cites.

use crate::analyze::{Analysis, Finding, SessionKind, Verdict};
use crate::history::FindingKey;
use crate::history::key::{account_key, host_key};
use crate::identity::eq_ignore_case;
use crate::model::{HostSnapshot, Platform, ProcessRow, Source};

use super::{Action, Planned, SeenProcess, closable};

/// What the user selected; an empty list selects everything.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Account names (`DOMAIN\user`, `user@domain` or `user`), matched by name.
    pub users: Vec<String>,
    pub verdicts: Vec<Verdict>,
    pub hosts: Vec<String>,
    /// Finding ids ([`FindingKey::id`]) or session ids.
    pub ids: Vec<String>,
}

impl Selection {
    fn takes(&self, host: &str, key: &FindingKey, id: &str) -> bool {
        (self.users.is_empty()
            || self
                .users
                .iter()
                .any(|u| account_key(u) == account_key(&key.user)))
            && (self.verdicts.is_empty() || self.verdicts.contains(&key.verdict))
            && (self.hosts.is_empty() || self.hosts.iter().any(|h| host_key(h) == host_key(host)))
            && (self.ids.is_empty()
                || self
                    .ids
                    .iter()
                    .any(|i| i.eq_ignore_ascii_case(id) || *i == key.session_id))
    }
}

/// The plan for one host: an entry for each selected closable finding
/// (its action may be [`Action::Nothing`], which says why).
pub fn plan(
    snapshot: &HostSnapshot,
    analysis: &Analysis,
    local: bool,
    selection: &Selection,
) -> Vec<Planned> {
    analysis
        .findings
        .iter()
        .filter(|f| closable(f))
        .filter_map(|finding| {
            let key = FindingKey::of(&analysis.host, finding);
            let id = key.id();
            selection.takes(&analysis.host, &key, &id).then(|| Planned {
                host: analysis.host.clone(),
                local,
                id,
                reason: finding.reason.clone(),
                action: action_for(snapshot, finding, local),
                key,
            })
        })
        .collect()
}

fn rows<'a>(finding: &'a Finding, source: Source) -> impl Iterator<Item = usize> + 'a {
    finding
        .evidence
        .iter()
        .filter(move |e| e.source == source)
        .flat_map(|e| e.rows.iter().map(|&r| r as usize))
}

fn nothing(why: impl Into<String>) -> Action {
    Action::Nothing { why: why.into() }
}

/// Whether the host is the Linux machine this runs on: only there are its
/// processes, utmp records and logind sessions ended.
fn linux_here(snapshot: &HostSnapshot, local: bool) -> bool {
    local && snapshot.platform == Platform::Linux && cfg!(target_os = "linux")
}

fn action_for(snapshot: &HostSnapshot, finding: &Finding, local: bool) -> Action {
    let linux_here = linux_here(snapshot, local);
    match (finding.verdict, finding.kind) {
        (Verdict::StaleUtmp, SessionKind::UtmpEntry) => {
            if !linux_here {
                return nothing("a utmp record is closed only on the Linux machine itself");
            }
            let entries = snapshot.workstation_users.rows_or_empty();
            let Some(entry) = rows(finding, Source::WorkstationUsers)
                .filter_map(|r| entries.get(r))
                .next()
            else {
                return nothing("the evidence names no utmp record");
            };
            match (&entry.tty, entry.pid) {
                (Some(line), Some(pid)) => Action::MarkUtmpDead {
                    line: line.clone(),
                    pid,
                    user: entry.user.clone(),
                    login_time: entry.login_time,
                },
                _ => nothing("the utmp record has no line or no pid"),
            }
        }
        (Verdict::Closing | Verdict::LeakedLogon, _) | (_, SessionKind::AuditSession) => {
            if !linux_here {
                return nothing("leftover processes are ended only on the Linux machine itself");
            }
            let processes = session_processes(snapshot, finding);
            if processes.is_empty() {
                logind_action(snapshot, finding)
            } else {
                Action::EndProcesses {
                    user: finding.user.clone(),
                    processes,
                }
            }
        }
        (Verdict::IdleSmb, SessionKind::SmbSession) => smb_action(snapshot, finding, local),
        (Verdict::Disconnected, _) => logoff_action(snapshot, finding, local),
        (Verdict::Orphaned, kind) => orphaned_action(snapshot, finding, kind, local),
        (verdict, _) => nothing(format!("no clean-up action for {verdict} findings")),
    }
}

/// A session whose account the directory has disabled or deleted (or whose
/// password changed since, or a Linux account that no longer exists): it
/// is ended the way its kind is ended, live or not, since the account it
/// runs on is gone. A Windows logon session or a workstation-service entry
/// has no call of its own that ends it; its SMB or terminal session does.
fn orphaned_action(
    snapshot: &HostSnapshot,
    finding: &Finding,
    kind: SessionKind,
    local: bool,
) -> Action {
    let linux_here = linux_here(snapshot, local);
    match kind {
        SessionKind::SmbSession => smb_action(snapshot, finding, local),
        SessionKind::InteractiveSession if snapshot.platform != Platform::Linux => {
            logoff_action(snapshot, finding, local)
        }
        SessionKind::LogonSession if linux_here => logind_action(snapshot, finding),
        SessionKind::LogonSession | SessionKind::InteractiveSession
            if snapshot.platform == Platform::Linux =>
        {
            nothing("a Linux session is ended only on the Linux machine itself")
        }
        other => nothing(format!(
            "an ORPHANED {} has no clean-up call of its own: close the user's SMB or \
             terminal services session",
            other.as_str()
        )),
    }
}

/// A disconnected Terminal Services session: logged off by its id, once
/// the server still shows it disconnected and its user's.
fn logoff_action(snapshot: &HostSnapshot, finding: &Finding, local: bool) -> Action {
    // A host seen over MS-RPC is `Unknown` (Samba answers the same pipes
    // as Windows); its terminal services sessions came from TSTS all the same.
    if snapshot.platform == Platform::Linux {
        return nothing("only Windows sessions (RDP/console) are logged off");
    }
    if local && !cfg!(windows) {
        return nothing("a Windows session is logged off from Windows or over MS-RPC");
    }
    let sessions = snapshot.interactive_sessions.rows_or_empty();
    let Some(session) = rows(finding, Source::InteractiveSessions)
        .filter_map(|r| sessions.get(r))
        .next()
    else {
        return nothing("the evidence names no terminal services session");
    };
    let Ok(session_id) = session.session_id.parse::<u32>() else {
        return nothing(format!(
            "{:?} is no terminal services session id",
            session.session_id
        ));
    };
    match &session.user {
        Some(user) if !user.is_empty() => Action::LogoffSession {
            session_id,
            user: user.clone(),
        },
        _ => nothing("the session has no user to check it by before the logoff"),
    }
}

/// A logind session with no process of its user left: logind itself ends
/// it (its scope, its record, the user's runtime dir when it was the last).
fn logind_action(snapshot: &HostSnapshot, finding: &Finding) -> Action {
    if finding.kind != SessionKind::LogonSession {
        return nothing(
            "no process of this user is left in the session, and it is no logind session",
        );
    }
    let Some(session) = snapshot
        .logon_sessions
        .rows_or_empty()
        .iter()
        .find(|s| s.logon_id == finding.session_id)
    else {
        return nothing("the scan lists no logind session with this id");
    };
    Action::TerminateLogindSession {
        id: session.logon_id.clone(),
        user: finding.user.clone(),
        uid: session.uid,
        leader: session.leader_pid,
    }
}

/// The session's processes owned by its user (never root's, never another
/// user's: `sshd`'s session process and the like are left to end on their own).
fn session_processes(snapshot: &HostSnapshot, finding: &Finding) -> Vec<SeenProcess> {
    let all = snapshot.processes.rows_or_empty();
    let name = finding
        .user
        .rsplit('\\')
        .next()
        .unwrap_or(finding.user.as_str());
    rows(finding, Source::Processes)
        .filter_map(|r| all.get(r))
        .filter_map(|p: &ProcessRow| {
            let uid = p.uid.filter(|&u| u != 0)?;
            let owner = p.user.as_deref()?;
            (eq_ignore_case(owner, name)).then_some(SeenProcess {
                pid: p.pid,
                name: p.name.clone(),
                uid,
                start_time: p.start_time?,
            })
        })
        .collect()
}

fn smb_action(snapshot: &HostSnapshot, finding: &Finding, local: bool) -> Action {
    if local && !cfg!(windows) {
        return nothing(
            "SMB sessions of this machine's Samba are not closed here (smbcontrol can)",
        );
    }
    let sessions = snapshot.smb_sessions.rows_or_empty();
    let Some(session) = rows(finding, Source::SmbSessions)
        .filter_map(|r| sessions.get(r))
        .next()
    else {
        return nothing("the evidence names no SMB session");
    };
    match &session.user {
        Some(user) if !user.is_empty() => Action::DeleteSmbSession {
            client: session.client.clone(),
            user: user.clone(),
        },
        _ => nothing("the SMB session has no user name to delete it by"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::{Evidence, FindingHistory};
    use crate::model::{Observed, SmbSession};

    fn finding(verdict: Verdict, lingering: bool, kind: SessionKind, session: &str) -> Finding {
        Finding {
            verdict,
            lingering,
            kind,
            session_id: session.to_string(),
            user: "CONTOSO\\alice".to_string(),
            reason: String::new(),
            idle_secs: None,
            since: None,
            evidence: Vec::new(),
            history: None,
        }
    }

    fn analysis(findings: Vec<Finding>) -> Analysis {
        Analysis {
            host: "SRV01".into(),
            platform: Platform::Windows,
            collected_at: jiff::Timestamp::UNIX_EPOCH,
            target: None,
            max_idle_secs: 60,
            findings,
            users: Vec::new(),
            failed_sources: Vec::new(),
            decided_without: Vec::new(),
            own_connection: Vec::new(),
            notes: Vec::new(),
        }
    }

    fn smb_snapshot() -> HostSnapshot {
        let mut snapshot = HostSnapshot::empty("SRV01", Platform::Windows, "msrpc");
        snapshot.smb_sessions = Observed::Ok {
            rows: vec![SmbSession {
                client: "\\\\10.0.0.5".into(),
                user: Some("alice".into()),
                ..SmbSession::default()
            }],
        };
        snapshot
    }

    #[test]
    fn inconclusive_active_young_and_not_lingering_findings_are_never_planned() {
        let mut watching = finding(Verdict::IdleSmb, true, SessionKind::SmbSession, "w");
        watching.history = Some(FindingHistory {
            first_seen: jiff::Timestamp::UNIX_EPOCH,
            last_seen: jiff::Timestamp::UNIX_EPOCH,
            sightings: 1,
            watching: true,
        });
        let a = analysis(vec![
            finding(Verdict::Inconclusive, true, SessionKind::LogonSession, "1"),
            finding(Verdict::Active, true, SessionKind::LogonSession, "2"),
            finding(
                Verdict::Disconnected,
                false,
                SessionKind::InteractiveSession,
                "3",
            ),
            watching,
        ]);
        assert!(plan(&smb_snapshot(), &a, false, &Selection::default()).is_empty());
    }

    #[test]
    fn an_idle_smb_session_is_deleted_by_client_and_user_and_the_selection_narrows() {
        let mut idle = finding(
            Verdict::IdleSmb,
            true,
            SessionKind::SmbSession,
            "\\\\10.0.0.5",
        );
        idle.evidence = vec![Evidence {
            source: Source::SmbSessions,
            rows: vec![0],
        }];
        let stale = finding(Verdict::StaleWksta, true, SessionKind::WorkstationUser, "x");
        let a = analysis(vec![idle, stale]);
        let all = plan(&smb_snapshot(), &a, false, &Selection::default());
        assert_eq!(all.len(), 2);
        assert_eq!(
            all[0].action,
            Action::DeleteSmbSession {
                client: "\\\\10.0.0.5".into(),
                user: "alice".into()
            }
        );
        assert!(all[1].action.is_nothing());
        let by = |selection: Selection| plan(&smb_snapshot(), &a, false, &selection).len();
        let verdict = Selection {
            verdicts: vec![Verdict::IdleSmb],
            ..Selection::default()
        };
        assert_eq!(by(verdict), 1);
        let id = Selection {
            ids: vec![all[1].id.to_uppercase()],
            ..Selection::default()
        };
        assert_eq!(by(id), 1);
        let session = Selection {
            ids: vec!["x".into()],
            ..Selection::default()
        };
        assert_eq!(by(session), 1);
        let user = Selection {
            users: vec!["bob".into()],
            ..Selection::default()
        };
        assert_eq!(by(user), 0);
        let host = Selection {
            hosts: vec!["srv01".into()],
            ..Selection::default()
        };
        assert_eq!(by(host), 2);
    }

    #[test]
    fn a_disconnected_session_is_logged_off_by_id_and_user_but_not_on_linux() {
        let mut disconnected = finding(
            Verdict::Disconnected,
            true,
            SessionKind::InteractiveSession,
            "2",
        );
        disconnected.evidence = vec![Evidence {
            source: Source::InteractiveSessions,
            rows: vec![0],
        }];
        let mut snapshot = HostSnapshot::empty("SRV01", Platform::Unknown, "msrpc");
        snapshot.interactive_sessions = Observed::Ok {
            rows: vec![crate::model::InteractiveSession {
                session_id: "2".into(),
                user: Some("bob".into()),
                ..Default::default()
            }],
        };
        let a = analysis(vec![disconnected]);
        let planned = plan(&snapshot, &a, false, &Selection::default());
        assert_eq!(
            planned[0].action,
            Action::LogoffSession {
                session_id: 2,
                user: "bob".into()
            }
        );
        snapshot.platform = Platform::Linux;
        assert!(
            plan(&snapshot, &a, false, &Selection::default())[0]
                .action
                .is_nothing()
        );
    }

    #[test]
    fn an_orphaned_session_is_ended_the_way_its_kind_is() {
        let cites = |mut f: Finding, source: Source| {
            f.evidence = vec![Evidence {
                source,
                rows: vec![0],
            }];
            f
        };
        let smb = cites(
            finding(Verdict::Orphaned, true, SessionKind::SmbSession, "s"),
            Source::SmbSessions,
        );
        let rdp = cites(
            finding(
                Verdict::Orphaned,
                true,
                SessionKind::InteractiveSession,
                "2",
            ),
            Source::InteractiveSessions,
        );
        let listed = finding(Verdict::Orphaned, true, SessionKind::WorkstationUser, "w");
        let mut snapshot = smb_snapshot();
        snapshot.interactive_sessions = Observed::Ok {
            rows: vec![crate::model::InteractiveSession {
                session_id: "2".into(),
                user: Some("alice".into()),
                ..Default::default()
            }],
        };
        let planned = plan(
            &snapshot,
            &analysis(vec![smb, rdp, listed]),
            false,
            &Selection {
                verdicts: vec![Verdict::Orphaned],
                ..Selection::default()
            },
        );
        let actions: Vec<&Action> = planned.iter().map(|p| &p.action).collect();
        assert_eq!(
            actions[..2],
            [
                &Action::DeleteSmbSession {
                    client: "\\\\10.0.0.5".into(),
                    user: "alice".into()
                },
                &Action::LogoffSession {
                    session_id: 2,
                    user: "alice".into()
                }
            ]
        );
        assert!(
            matches!(actions[2], Action::Nothing { why } if why.contains("no clean-up call")),
            "{:?}",
            actions[2]
        );
        // A Linux session is ended only on that machine.
        snapshot.platform = Platform::Linux;
        let linux = cites(
            finding(Verdict::Orphaned, true, SessionKind::LogonSession, "c1"),
            Source::LogonSessions,
        );
        assert!(
            plan(
                &snapshot,
                &analysis(vec![linux]),
                false,
                &Selection::default()
            )[0]
            .action
            .is_nothing()
        );
    }
}

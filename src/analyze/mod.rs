//! Correlation and verdicts: a pure function from a snapshot to findings.
//!
//! No I/O happens here. Every finding carries the rows that led to it, so a
//! reader can check the reasoning, and a verdict that needed a source which
//! could not be read is INCONCLUSIVE, never LINGERING or ACTIVE by default.
//!
//! Session-level findings (one per logon session, interactive session,
//! utmp entry, SMB session, or stale workstation-list user) come from
//! [`sessions`]; the script's user-level rule from [`users`].

mod index;
mod keygroups;
mod login_process;
mod own_connection;
mod script_index;
mod sessions;
mod user_contrast;
mod users;

use std::time::Duration;

use jiff::Timestamp;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::identity::TargetUser;
use crate::model::{FailureKind, HostSnapshot, Observed, Platform, Source, SourceFailure};

pub use login_process::still_the_logins;
pub use sessions::human_duration;
pub use users::{ScriptWarning, UserAssessment, UserState};

/// Default for `--max-idle`: a disconnected or idle session older than this lingers.
pub const DEFAULT_MAX_IDLE: Duration = Duration::from_secs(24 * 3600);

#[derive(Debug, Clone)]
pub struct AnalyzeOptions {
    /// Only this user; None analyses every user on the host.
    pub target: Option<TargetUser>,
    /// Disconnected interactive sessions and idle SMB sessions past this linger.
    pub max_idle: Duration,
    /// "Now" for idle computations (the snapshot's collection time when analysing offline).
    pub now: Timestamp,
}

impl AnalyzeOptions {
    pub fn for_snapshot(snapshot: &HostSnapshot) -> Self {
        AnalyzeOptions {
            target: None,
            max_idle: DEFAULT_MAX_IDLE,
            now: snapshot.collected_at,
        }
    }
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Verdict {
    Active,
    Disconnected,
    LeakedLogon,
    StaleWksta,
    Closing,
    StaleUtmp,
    IdleSmb,
    /// A user hive stays loaded with no process or session of its user.
    LeakedProfile,
    /// The account database says the session's account is gone: disabled,
    /// deleted, locked out, expired, or its password changed since the
    /// session began.
    Orphaned,
    Inconclusive,
}

impl Verdict {
    /// Every verdict (history stores them by name and reads them back).
    pub const ALL: [Verdict; 10] = [
        Verdict::Active,
        Verdict::Disconnected,
        Verdict::LeakedLogon,
        Verdict::StaleWksta,
        Verdict::Closing,
        Verdict::StaleUtmp,
        Verdict::IdleSmb,
        Verdict::LeakedProfile,
        Verdict::Orphaned,
        Verdict::Inconclusive,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Active => "ACTIVE",
            Verdict::Disconnected => "DISCONNECTED",
            Verdict::LeakedLogon => "LEAKED_LOGON",
            Verdict::StaleWksta => "STALE_WKSTA",
            Verdict::Closing => "CLOSING",
            Verdict::StaleUtmp => "STALE_UTMP",
            Verdict::IdleSmb => "IDLE_SMB",
            Verdict::LeakedProfile => "LEAKED_PROFILE",
            Verdict::Orphaned => "ORPHANED",
            Verdict::Inconclusive => "INCONCLUSIVE",
        }
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What kind of record a finding is about.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum SessionKind {
    /// A Windows LSA/WMI logon session or a systemd-logind session.
    LogonSession,
    /// A WTS (RDP/console) session or Linux terminal not tied to a logon session above.
    InteractiveSession,
    /// A utmp login record (Linux).
    UtmpEntry,
    /// A user in the workstation service's list (per user, as the list has no session ids).
    WorkstationUser,
    SmbSession,
    /// Processes grouped by Linux audit session id when logind is absent.
    AuditSession,
    /// A user hive loaded on a Windows host (`HKEY_USERS\<SID>`).
    LoadedProfile,
}

impl SessionKind {
    /// Every kind (history stores them by name and reads them back).
    pub const ALL: [SessionKind; 7] = [
        SessionKind::LogonSession,
        SessionKind::InteractiveSession,
        SessionKind::UtmpEntry,
        SessionKind::WorkstationUser,
        SessionKind::SmbSession,
        SessionKind::AuditSession,
        SessionKind::LoadedProfile,
    ];

    /// The name used in JSON, CSV and the text report.
    pub fn as_str(self) -> &'static str {
        match self {
            SessionKind::LogonSession => "logon_session",
            SessionKind::InteractiveSession => "interactive_session",
            SessionKind::UtmpEntry => "utmp_entry",
            SessionKind::WorkstationUser => "workstation_user",
            SessionKind::SmbSession => "smb_session",
            SessionKind::AuditSession => "audit_session",
            SessionKind::LoadedProfile => "loaded_profile",
        }
    }
}

/// Rows of one source that support a finding (indices into that source's rows).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Evidence {
    pub source: Source,
    pub rows: Vec<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Finding {
    pub verdict: Verdict,
    /// Whether this session lingers (the verdict, and for DISCONNECTED/IDLE_SMB the idle time past `max_idle`).
    pub lingering: bool,
    pub kind: SessionKind,
    /// LUID, logind id, WTS id, tty, SMB session id or client, or the user for workstation rows.
    pub session_id: String,
    /// The account, `DOMAIN\user` or `user`.
    pub user: String,
    /// Why this verdict, in one sentence.
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_secs: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<Timestamp>,
    pub evidence: Vec<Evidence>,
    /// What the history database knows of this finding (only when history
    /// is on): `first_seen`, `last_seen`, `sightings`, and `watching`.
    #[serde(default, flatten, skip_serializing_if = "Option::is_none")]
    pub history: Option<FindingHistory>,
}

/// A finding's past, from the history database (see `crate::history`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct FindingHistory {
    /// First sighting in the unbroken run of scans of this host that all
    /// saw this finding, up to this one: "lingering since".
    pub first_seen: Timestamp,
    /// This scan (the last sighting of the run).
    pub last_seen: Timestamp,
    /// Scans in that run ("seen N times").
    pub sightings: u64,
    /// Lingering by its verdict, but seen for less than `--min-age`: reported
    /// as "new, watching", not lingering (and not in the exit code).
    #[serde(default, skip_serializing_if = "is_false")]
    pub watching: bool,
}

fn is_false(value: &bool) -> bool {
    !*value
}

impl Finding {
    /// Lingering by its verdict but younger than `--min-age` (see [`FindingHistory::watching`]).
    pub fn watching(&self) -> bool {
        self.history.is_some_and(|h| h.watching)
    }

    /// How many rows of `source` support this finding.
    pub fn evidence_count(&self, source: Source) -> usize {
        self.evidence
            .iter()
            .filter(|e| e.source == source)
            .map(|e| e.rows.len())
            .sum()
    }
}

/// A source that failed, as the analysis saw it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FailedSource {
    pub source: Source,
    pub failure: SourceFailure,
}

/// Everything concluded about one host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Analysis {
    pub host: String,
    pub platform: Platform,
    pub collected_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    pub max_idle_secs: u64,
    pub findings: Vec<Finding>,
    /// The script's user-level rule and counts, per user (or for the target
    /// only); without a target, each account as if it had been the script's target.
    pub users: Vec<UserAssessment>,
    pub failed_sources: Vec<FailedSource>,
    /// Failed sources the verdicts were decided without (logon sessions over
    /// MS-RPC, decided on processes and interactive sessions: see
    /// [`logons_out_of_reach`]); they do not leave the host undecided.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub decided_without: Vec<Source>,
    /// Rows that are this scan's own connection to the host (its SMB session,
    /// and the workstation-list row Samba makes for it): not judged, not counted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub own_connection: Vec<Evidence>,
    /// What the analysis could not judge, in words (e.g. idle time the host does not report).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// The process exit code contract: 0 nothing lingering, 1 something lingering, 2 could not decide.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Clean,
    Lingering,
    Undecided,
}

impl Outcome {
    pub fn exit_code(self) -> u8 {
        match self {
            Outcome::Clean => 0,
            Outcome::Lingering => 1,
            Outcome::Undecided => 2,
        }
    }

    /// Several hosts: lingering anywhere wins, then undecided anywhere.
    pub fn combine(self, other: Outcome) -> Outcome {
        match (self, other) {
            (Outcome::Lingering, _) | (_, Outcome::Lingering) => Outcome::Lingering,
            (Outcome::Undecided, _) | (_, Outcome::Undecided) => Outcome::Undecided,
            _ => Outcome::Clean,
        }
    }
}

impl Analysis {
    /// Whether a watching finding is about this account (the script's
    /// matching: by account name, domains ignored).
    fn watched_user(&self, user: &str) -> bool {
        let name = |account: &str| account.rsplit('\\').next().unwrap_or(account).to_owned();
        let wanted = name(user);
        self.findings
            .iter()
            .any(|f| f.watching() && name(&f.user).eq_ignore_ascii_case(&wanted))
    }

    pub fn lingering_count(&self) -> usize {
        self.findings.iter().filter(|f| f.lingering).count()
    }

    pub fn outcome(&self) -> Outcome {
        // A lingering user the script itself warns about (a failed query) is
        // not confirmed: that leaves the question open instead.
        // A user the script's rule calls lingering whose own finding is
        // still "new, watching" (`--min-age`) is not lingering yet either.
        let user_lingers = self.users.iter().any(|u| {
            u.state == UserState::Lingering && !u.unconfirmed() && !self.watched_user(&u.user)
        });
        if user_lingers || self.findings.iter().any(|f| f.lingering) {
            return Outcome::Lingering;
        }
        let undecided_finding = self
            .findings
            .iter()
            .any(|f| f.verdict == Verdict::Inconclusive);
        let undecided_user = self
            .users
            .iter()
            .any(|u| u.state == UserState::Inconclusive || u.unconfirmed());
        // "Nothing lingers" is only claimed when every source was read, or is
        // absent from the host altogether; a source this collector could not
        // look at (even one it does not support) leaves the question open.
        let broken_source = self.failed_sources.iter().any(|f| {
            f.failure.kind != FailureKind::NotAvailable
                && !f.source.is_supplementary()
                && !self.decided_without.contains(&f.source)
        });
        if undecided_finding || undecided_user || broken_source {
            Outcome::Undecided
        } else {
            Outcome::Clean
        }
    }
}

/// Can a source's silence be trusted? Yes when it answered, or when the
/// thing it reads does not exist on the host at all (no Samba, no utmp).
pub(crate) fn rules_out<T>(observed: &Observed<T>) -> bool {
    match observed {
        Observed::Ok { .. } => true,
        Observed::Failed(f) => f.kind == FailureKind::NotAvailable,
    }
}

/// Logon sessions cannot be read over this protocol at all (a remote scan
/// over MS-RPC: LSA logon sessions need WMI), while processes and
/// interactive sessions were read: those then decide whether a listed user
/// still has a logon, and an interactive session counts as one.
pub(crate) fn logons_out_of_reach(snapshot: &HostSnapshot) -> bool {
    snapshot.collector == crate::collect::msrpc::COLLECTOR_NAME
        && snapshot
            .logon_sessions
            .failure()
            .is_some_and(|f| f.kind == FailureKind::NotSupported)
        && rules_out(&snapshot.processes)
        && rules_out(&snapshot.interactive_sessions)
}

/// Below this many processes, a second thread costs more than it saves.
pub(super) const PARALLEL_ROWS: usize = 20_000;

/// Analyse one snapshot.
pub fn analyze(snapshot: &HostSnapshot, options: &AnalyzeOptions) -> Analysis {
    let index = index::SnapshotIndex::build(snapshot);
    let own = own_connection::find(snapshot);
    let prepare = || users::prepare(snapshot, &index, options, &own);
    let (mut findings, prepared) = if snapshot.processes.rows_or_empty().len() < PARALLEL_ROWS {
        (
            sessions::session_findings(snapshot, &index, options, &own),
            prepare(),
        )
    } else {
        // The session findings and the user-level rule's indexes read the
        // same shared indexes and nothing of each other: on a large host
        // they are built on two cores at once.
        std::thread::scope(|scope| {
            let helper = scope.spawn(prepare);
            let findings = sessions::session_findings(snapshot, &index, options, &own);
            // A panic there is a bug; preparing again here reproduces it with its message.
            let prepared = helper.join().unwrap_or_else(|_| prepare());
            (findings, prepared)
        })
    };
    let users = users::assess_users(snapshot, &index, prepared, &findings);
    // After the user-level rule: it reads the session verdicts as the
    // script would, and an account's state is not the script's question.
    let account_notes = sessions::orphaned::apply(snapshot, options, &mut findings);
    let mut notes = sessions::idle_notes(snapshot, &findings, options);
    notes.extend(account_notes);
    // A supplementary source the collector does not provide at all (every
    // Linux host, snapshots older than the source) is not a failure to show.
    let failed_sources = Source::EVERY
        .iter()
        .filter(|&&source| {
            !source.is_supplementary()
                || snapshot
                    .failure_of(source)
                    .is_some_and(|f| f.kind != FailureKind::NotSupported)
        })
        .filter_map(|&source| {
            snapshot.failure_of(source).map(|failure| FailedSource {
                source,
                failure: failure.clone(),
            })
        })
        .collect();
    Analysis {
        host: snapshot.host.clone(),
        platform: snapshot.platform,
        collected_at: snapshot.collected_at,
        target: options.target.as_ref().map(TargetUser::display),
        max_idle_secs: options.max_idle.as_secs(),
        findings,
        users,
        failed_sources,
        decided_without: if logons_out_of_reach(snapshot) {
            vec![Source::LogonSessions]
        } else {
            Vec::new()
        },
        own_connection: [
            (Source::SmbSessions, own.smb),
            (Source::WorkstationUsers, own.workstation),
        ]
        .into_iter()
        .filter(|(_, rows)| !rows.is_empty())
        .map(|(source, rows)| Evidence { source, rows })
        .collect(),
        notes,
    }
}

#[cfg(test)]
mod tests {
    use super::{SessionKind, Verdict};

    #[test]
    fn session_kind_names_match_their_json() {
        for kind in SessionKind::ALL {
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
        }
        for verdict in Verdict::ALL {
            assert_eq!(serde_json::to_value(verdict).unwrap(), verdict.as_str());
        }
    }

    /// A new variant fails to compile here until it is added to `ALL`
    /// (and so to what history can read back).
    #[test]
    fn every_variant_is_listed() {
        for verdict in Verdict::ALL {
            match verdict {
                Verdict::Active
                | Verdict::Disconnected
                | Verdict::LeakedLogon
                | Verdict::StaleWksta
                | Verdict::Closing
                | Verdict::StaleUtmp
                | Verdict::IdleSmb
                | Verdict::LeakedProfile
                | Verdict::Orphaned
                | Verdict::Inconclusive => {}
            }
        }
        for kind in SessionKind::ALL {
            match kind {
                SessionKind::LogonSession
                | SessionKind::InteractiveSession
                | SessionKind::UtmpEntry
                | SessionKind::WorkstationUser
                | SessionKind::SmbSession
                | SessionKind::AuditSession
                | SessionKind::LoadedProfile => {}
            }
        }
        let distinct = |names: Vec<&str>| {
            names
                .iter()
                .collect::<std::collections::BTreeSet<_>>()
                .len()
        };
        assert_eq!(distinct(Verdict::ALL.map(Verdict::as_str).to_vec()), 10);
        assert_eq!(
            distinct(SessionKind::ALL.map(SessionKind::as_str).to_vec()),
            7
        );
    }
}

//! One finding per session record, with its evidence.
//!
//! Order of attribution: logon sessions first (they link processes,
//! interactive sessions, utmp records and SMB sessions); then, when logind
//! is absent, processes grouped by audit session; then whatever records
//! nothing above explained (utmp entries, workstation-list users,
//! interactive sessions, SMB sessions).

use foldhash::{HashMap, HashMapExt};

mod logon;
pub(super) mod orphaned;
mod profiles;
mod unexplained;

use logon::logon_finding;

use unexplained::{
    audit_session_findings, interactive_findings, smb_findings, utmp_findings,
    workstation_user_findings,
};

use super::index::SnapshotIndex;
use super::login_process::{self, LoginProcess, LoginRecord};
use super::own_connection::OwnRows;
use super::{AnalyzeOptions, Evidence, Finding, Verdict};
use crate::identity::eq_ignore_case;
use crate::model::{HostSnapshot, InteractiveSession, InteractiveState, Platform, Source};

/// Which interactive, utmp and SMB rows a finding has already explained.
struct Covered {
    interactive: Vec<bool>,
    workstation: Vec<bool>,
    smb: Vec<bool>,
}

struct Ctx<'a> {
    snapshot: &'a HostSnapshot,
    index: &'a SnapshotIndex<'a>,
    options: &'a AnalyzeOptions,
    utmp_by_pid: HashMap<u32, Vec<u32>>,
    utmp_by_tty: HashMap<&'a str, Vec<u32>>,
    smb_by_pid: HashMap<u32, Vec<u32>>,
    /// Interactive rows by terminal, to find the row a utmp record produced.
    interactive_by_station: HashMap<&'a str, Vec<u32>>,
    /// Each logon session's group in `index.procs_by_logon`, by logon row:
    /// looked up all at once (see [`super::index::Grouped::ids_of_all`]).
    logon_groups: Vec<Option<u32>>,
}

impl Ctx<'_> {
    fn wanted(&self, domain: Option<&str>, user: &str) -> bool {
        self.options
            .target
            .as_ref()
            .is_none_or(|t| t.matches(domain, user))
    }

    /// An idle time read at collection, as of the analysis's "now"
    /// (`analyze --now`): a snapshot is a past picture, and whatever was idle
    /// then has been idle for as much longer since, as far as it can tell.
    fn idle_now(&self, idle_secs: Option<u64>) -> Option<u64> {
        let since = self
            .options
            .now
            .duration_since(self.snapshot.collected_at)
            .as_secs();
        idle_secs.map(|idle| idle.saturating_add(u64::try_from(since).unwrap_or(0)))
    }

    fn idle_past_limit(&self, idle_secs: Option<u64>) -> bool {
        idle_secs.is_some_and(|idle| idle > self.options.max_idle.as_secs())
    }

    /// How a utmp record's login process stands.
    fn utmp_login(&self, row: u32) -> Option<LoginProcess> {
        let entry = self
            .snapshot
            .workstation_users
            .rows_or_empty()
            .get(row as usize)?;
        let record = LoginRecord::of_utmp(entry)?;
        Some(login_process::check(self.snapshot, self.index, &record))
    }

    /// The interactive rows a utmp record produced (same terminal and pid), not yet covered.
    fn interactive_of_utmp(&self, row: u32, covered: &mut Covered) -> Vec<u32> {
        let entry = &self.snapshot.workstation_users.rows_or_empty()[row as usize];
        let interactive = self.snapshot.interactive_sessions.rows_or_empty();
        let Some(tty) = entry.tty.as_deref() else {
            return Vec::new();
        };
        let mut rows = Vec::new();
        for &r in self.interactive_by_station.get(tty).into_iter().flatten() {
            let session = &interactive[r as usize];
            if !covered.interactive[r as usize]
                && session.pid == entry.pid
                && session
                    .user
                    .as_deref()
                    .is_some_and(|u| eq_ignore_case(u, &entry.user))
            {
                covered.interactive[r as usize] = true;
                rows.push(r);
            }
        }
        rows
    }
}

fn evidence(source: Source, rows: Vec<u32>) -> Option<Evidence> {
    (!rows.is_empty()).then_some(Evidence { source, rows })
}

fn failed_names(sources: &[(Source, bool)]) -> String {
    let names: Vec<&str> = sources
        .iter()
        .filter(|(_, ok)| !ok)
        .map(|(s, _)| s.name())
        .collect();
    names.join(", ")
}

pub(super) fn session_findings(
    snapshot: &HostSnapshot,
    index: &SnapshotIndex<'_>,
    options: &AnalyzeOptions,
    own: &OwnRows,
) -> Vec<Finding> {
    let workstation = snapshot.workstation_users.rows_or_empty();
    let smb = snapshot.smb_sessions.rows_or_empty();
    let mut utmp_by_pid: HashMap<u32, Vec<u32>> = HashMap::new();
    let mut utmp_by_tty: HashMap<&str, Vec<u32>> = HashMap::new();
    for (row, w) in workstation.iter().enumerate() {
        if let Some(pid) = w.pid {
            utmp_by_pid.entry(pid).or_default().push(row as u32);
            if let Some(tty) = w.tty.as_deref() {
                utmp_by_tty.entry(tty).or_default().push(row as u32);
            }
        }
    }
    let mut smb_by_pid: HashMap<u32, Vec<u32>> = HashMap::new();
    for (row, s) in smb.iter().enumerate() {
        if let Some(pid) = s.server_pid {
            smb_by_pid.entry(pid).or_default().push(row as u32);
        }
    }
    let mut interactive_by_station: HashMap<&str, Vec<u32>> = HashMap::new();
    for (row, i) in snapshot
        .interactive_sessions
        .rows_or_empty()
        .iter()
        .enumerate()
    {
        if let Some(station) = i.station.as_deref() {
            interactive_by_station
                .entry(station)
                .or_default()
                .push(row as u32);
        }
    }
    let logon_groups = index.procs_by_logon.ids_of_all(
        snapshot
            .logon_sessions
            .rows_or_empty()
            .iter()
            .map(|l| l.logon_id.as_str()),
    );
    let ctx = Ctx {
        snapshot,
        index,
        options,
        utmp_by_pid,
        utmp_by_tty,
        smb_by_pid,
        interactive_by_station,
        logon_groups,
    };
    let mut covered = Covered {
        interactive: vec![false; snapshot.interactive_sessions.rows_or_empty().len()],
        workstation: vec![false; workstation.len()],
        smb: vec![false; smb.len()],
    };
    for &r in &own.smb {
        covered.smb[r as usize] = true;
    }
    for &r in &own.workstation {
        covered.workstation[r as usize] = true;
    }
    // At most one finding per row of these sources (plus audit groups):
    // reserved once, not regrown and copied at a hundred thousand findings.
    let mut findings = Vec::with_capacity(
        snapshot.logon_sessions.rows_or_empty().len()
            + workstation.len()
            + snapshot.interactive_sessions.rows_or_empty().len()
            + smb.len(),
    );
    for (row, logon) in snapshot.logon_sessions.rows_or_empty().iter().enumerate() {
        if let Some(f) = logon_finding(&ctx, row as u32, logon, &mut covered) {
            findings.push(f);
        }
    }
    if !snapshot.logon_sessions.is_ok() {
        findings.extend(audit_session_findings(&ctx, &mut covered));
    }
    findings.extend(utmp_findings(&ctx, &mut covered));
    findings.extend(workstation_user_findings(&ctx, &covered));
    findings.extend(interactive_findings(&ctx, &covered));
    findings.extend(smb_findings(&ctx, &covered));
    findings.extend(profiles::profile_findings(&ctx));
    findings
}

/// Set the verdict from an interactive session's state.
fn apply_interactive_state(
    ctx: &Ctx<'_>,
    finding: &mut Finding,
    session: &InteractiveSession,
    processes: Option<usize>,
) {
    let procs = processes
        .map(|n| format!(", {n} process(es)"))
        .unwrap_or_default();
    let station = session.station.as_deref().unwrap_or(&session.session_id);
    let idle = ctx.idle_now(session.idle_secs);
    finding.idle_secs = idle;
    match session.state {
        InteractiveState::Disconnected => {
            finding.verdict = Verdict::Disconnected;
            finding.lingering = ctx.idle_past_limit(idle);
            finding.reason = match idle {
                Some(idle) if finding.lingering => format!(
                    "{station} disconnected, idle {} (over --max-idle {}){procs}",
                    human_duration(idle),
                    human_duration(ctx.options.max_idle.as_secs())
                ),
                Some(idle) => format!(
                    "{station} disconnected, idle {}{procs}",
                    human_duration(idle)
                ),
                None => format!("{station} disconnected, idle time unknown{procs}"),
            };
        }
        InteractiveState::Active
        | InteractiveState::Connected
        | InteractiveState::ConnectQuery
        | InteractiveState::Shadow => {
            finding.verdict = Verdict::Active;
            finding.reason = format!("{station} is {}{procs}", session.state);
        }
        other => {
            finding.verdict = Verdict::Inconclusive;
            finding.reason = format!("{station} is in state {other}{procs}");
        }
    }
}

/// `3d 4h`, `2h 5m`, `42s`: compact, for reasons and tables.
pub fn human_duration(secs: u64) -> String {
    let (d, h, m, s) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) => format!("{m}m {s}s"),
        (0, _, _) => format!("{h}h {m}m"),
        _ => format!("{d}d {h}h"),
    }
}

/// A note for SMB sessions whose idleness could not be judged because the
/// host gives no idle time (Samba never does): every SMB row a finding
/// cites, whether as its own finding or as the session a live smbd serves.
pub(super) fn idle_notes(
    snapshot: &HostSnapshot,
    findings: &[Finding],
    options: &AnalyzeOptions,
) -> Vec<String> {
    let smb = snapshot.smb_sessions.rows_or_empty();
    let mut unknown: Vec<u32> = findings
        .iter()
        .flat_map(|f| &f.evidence)
        .filter(|e| e.source == Source::SmbSessions)
        .flat_map(|e| e.rows.iter().copied())
        .filter(|&r| smb.get(r as usize).is_some_and(|s| s.idle_secs.is_none()))
        .collect();
    unknown.sort_unstable();
    unknown.dedup();
    if unknown.is_empty() {
        return Vec::new();
    }
    let server = if snapshot.platform == Platform::Linux {
        "Samba does not report how long a session has been idle"
    } else {
        "the host did not report how long they have been idle"
    };
    vec![format!(
        "{} SMB session(s) could not be judged against --max-idle {}: {server}",
        unknown.len(),
        human_duration(options.max_idle.as_secs())
    )]
}

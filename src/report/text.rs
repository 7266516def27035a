//! The human report: the script's five sections and summary, then
//! lingerscan's per-session findings.

use std::fmt::Write as _;

use jiff::Timestamp;

use super::sanitize::for_terminal;
use super::table::{Align, Table};
use crate::analyze::{Analysis, Finding, UserAssessment, UserState, Verdict, human_duration};
use crate::identity::{TargetUser, is_set_aside, split_account};
use crate::model::{
    HostSnapshot, Observed, Source, SourceFailure, WorkstationUser, logon_type_name,
};

const RULE: &str =
    "================================================================================";

#[derive(Debug, Clone, Copy, Default)]
pub struct TextOptions {
    /// ANSI colour for verdicts (only on a terminal, never with NO_COLOR).
    pub color: bool,
    /// The snapshot was read from a file rather than collected now.
    pub offline: bool,
}

struct Writer<'a> {
    out: String,
    snapshot: &'a HostSnapshot,
    analysis: &'a Analysis,
    target: Option<TargetUser>,
    options: TextOptions,
}

/// Render one host's report.
pub fn render(snapshot: &HostSnapshot, analysis: &Analysis, options: TextOptions) -> String {
    let target = analysis
        .target
        .as_deref()
        .and_then(|t| TargetUser::parse(t).ok());
    let mut w = Writer {
        out: String::new(),
        snapshot,
        analysis,
        target,
        options,
    };
    w.header();
    w.section1();
    w.section2();
    w.section3();
    w.section4();
    w.section5();
    w.findings();
    w.summary();
    w.out
}

fn fmt_time(t: Option<Timestamp>) -> String {
    t.map(|t| t.strftime("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_default()
}

fn true_false(b: bool) -> &'static str {
    if b { "True" } else { "False" }
}

impl Writer<'_> {
    fn line(&mut self, text: &str) {
        self.out.push_str(text);
        self.out.push('\n');
    }

    fn heading(&mut self, title: &str) {
        self.line("");
        self.line(RULE);
        self.line(title);
        self.line(RULE);
    }

    fn what_this_shows(&mut self, lines: &[&str]) {
        for (i, l) in lines.iter().enumerate() {
            let prefix = if i == 0 {
                "WHAT THIS SHOWS: "
            } else {
                "                 "
            };
            self.line(&format!("{prefix}{l}"));
        }
        self.line("");
    }

    fn failure(&mut self, api: &str, failure: &SourceFailure) {
        let code = failure
            .code
            .map(|c| format!(" (code {c})"))
            .unwrap_or_default();
        self.line(&format!(
            "ERROR: {api} could not be read: {}: {}{code}",
            failure.kind,
            for_terminal(&failure.message)
        ));
    }

    fn target_name(&self) -> String {
        self.target
            .as_ref()
            .map(TargetUser::display)
            .unwrap_or_default()
    }

    fn wanted_account(&self, account: &str) -> bool {
        let (domain, user) = split_account(account);
        !is_set_aside(domain, user) && self.target.as_ref().is_none_or(|t| t.matches(domain, user))
    }

    fn wanted(&self, domain: Option<&str>, user: &str) -> bool {
        !is_set_aside(domain, user) && self.target.as_ref().is_none_or(|t| t.matches(domain, user))
    }

    fn paint(&self, verdict: Verdict, lingering: bool) -> String {
        let text = verdict.as_str();
        if !self.options.color {
            return text.to_string();
        }
        let code = match verdict {
            Verdict::Active if !lingering => "32",
            Verdict::Inconclusive => "33",
            Verdict::Disconnected | Verdict::IdleSmb if !lingering => "36",
            _ => "1;31",
        };
        format!("\x1b[{code}m{text}\x1b[0m")
    }

    fn header(&mut self) {
        self.line(RULE);
        self.line("LINGERING SESSION DETECTION REPORT");
        self.line(RULE);
        let host = for_terminal(&self.snapshot.host).into_owned();
        self.line(&format!("Target Server: {host}"));
        let target = if self.target.is_some() {
            for_terminal(&self.target_name()).into_owned()
        } else {
            "(all users)".to_string()
        };
        self.line(&format!("Target User: {target}"));
        let mode = match self.snapshot.collector.as_str() {
            c if c.ends_with("-local") => "Local".to_string(),
            "msrpc" => "Remote (MS-RPC over SMB)".to_string(),
            "windows-remote" => "Remote (Windows APIs and WMI)".to_string(),
            other => format!("Other ({})", for_terminal(other)),
        };
        let offline = if self.options.offline {
            format!(
                ", from a snapshot taken {}",
                fmt_time(Some(self.snapshot.collected_at))
            )
        } else {
            String::new()
        };
        self.line(&format!("Query mode: {mode}{offline}"));
    }

    fn workstation_table(&self, rows: &[(usize, &WorkstationUser)]) -> Table {
        let utmp = rows.iter().any(|(_, w)| w.pid.is_some());
        let mut columns = vec![
            ("Username", Align::Left),
            ("LogonDomain", Align::Left),
            ("OtherDomains", Align::Left),
            ("LogonServer", Align::Left),
            ("FullName", Align::Left),
        ];
        if utmp {
            columns.extend([
                ("Line", Align::Left),
                ("From", Align::Left),
                ("Pid", Align::Right),
                ("Alive", Align::Left),
                ("LoginTime", Align::Left),
            ]);
        }
        let mut table = Table::new(&columns);
        for (_, w) in rows {
            let full = if w.logon_domain.is_empty() {
                w.user.clone()
            } else {
                format!("{}\\{}", w.logon_domain, w.user)
            };
            let mut cells = vec![
                w.user.clone(),
                w.logon_domain.clone(),
                w.other_domains.clone(),
                w.logon_server.clone(),
                full,
            ];
            if utmp {
                cells.extend([
                    w.tty.clone().unwrap_or_default(),
                    w.remote_host.clone().unwrap_or_default(),
                    w.pid.map(|p| p.to_string()).unwrap_or_default(),
                    w.pid_alive
                        .map(|a| true_false(a).to_string())
                        .unwrap_or_default(),
                    fmt_time(w.login_time),
                ]);
            }
            table.row(cells);
        }
        table
    }

    fn section1(&mut self) {
        self.heading("SECTION 1: NetWkstaUserEnum - ALL SESSIONS");
        self.what_this_shows(&[
            "Complete list of ALL user sessions returned by the Windows",
            "NetWkstaUserEnum API (on Linux: utmp login records). This includes:",
            "- Active user logon sessions",
            "- Machine account sessions (computer$ accounts)",
            "- Cached/stale sessions that may not appear elsewhere",
            "- Network logon sessions",
        ]);
        let rows = match &self.snapshot.workstation_users {
            Observed::Ok { rows } => rows,
            Observed::Failed(f) => {
                let f = f.clone();
                self.failure("NetWkstaUserEnum", &f);
                return;
            }
        };
        self.line(&format!("Total sessions found: {}", rows.len()));
        self.line("");
        let all: Vec<(usize, &WorkstationUser)> = rows.iter().enumerate().collect();
        if !all.is_empty() {
            self.line("ALL SESSIONS (including machine accounts):");
            self.line("");
            let table = self.workstation_table(&all).render();
            self.out.push_str(&table);
            self.line("");
        }
        let matching: Vec<(usize, &WorkstationUser)> = all
            .iter()
            .copied()
            .filter(|(_, w)| self.wanted(Some(&w.logon_domain), &w.user))
            .collect();
        let title = match &self.target {
            Some(_) => format!(
                "Sessions matching '{}' (excluding machine accounts):",
                for_terminal(&self.target_name())
            ),
            None => "User sessions (excluding machine accounts):".to_string(),
        };
        if matching.is_empty() {
            let who = self
                .target
                .as_ref()
                .map(|_| format!(" for '{}'", for_terminal(&self.target_name())))
                .unwrap_or_default();
            self.line(&format!(
                "No user sessions found{who} (machine accounts excluded)"
            ));
        } else {
            self.line(&title);
            self.line("");
            let table = self.workstation_table(&matching).render();
            self.out.push_str(&table);
        }
    }

    fn section2(&mut self) {
        self.heading("SECTION 2: Win32_LogonSession - ACTIVE LOGON SESSIONS");
        self.what_this_shows(&[
            "Currently active logon sessions (Windows: LSA or WMI;",
            "Linux: systemd-logind). These represent sessions that are actively logged on.",
            "LogonType meanings:",
            "2 = Interactive, 3 = Network, 10 = RemoteInteractive (RDP)",
        ]);
        let rows = match &self.snapshot.logon_sessions {
            Observed::Ok { rows } => rows,
            Observed::Failed(f) => {
                let f = f.clone();
                self.failure("Logon sessions", &f);
                return;
            }
        };
        let matching: Vec<_> = rows
            .iter()
            .filter(|l| self.wanted(l.domain.as_deref(), l.user.as_deref().unwrap_or_default()))
            .collect();
        self.line(&format!("Active logon sessions found: {}", matching.len()));
        if matching.is_empty() {
            return;
        }
        self.line("");
        let with_state = matching.iter().any(|l| l.state.is_some());
        let mut columns = vec![
            ("LogonId", Align::Left),
            ("LogonType", Align::Right),
            ("LogonTypeName", Align::Left),
            ("StartTime", Align::Left),
            ("User", Align::Left),
        ];
        if with_state {
            columns.extend([("State", Align::Left), ("From", Align::Left)]);
        }
        let mut table = Table::new(&columns);
        for l in matching {
            let user = match (&l.domain, &l.user) {
                (Some(d), Some(u)) if !d.is_empty() => format!("{d}\\{u}"),
                (_, Some(u)) => u.clone(),
                _ => String::new(),
            };
            let type_name = match (l.logon_type, &l.session_type) {
                (Some(t), _) => logon_type_name(t).to_string(),
                (None, Some(s)) => s.clone(),
                (None, None) => String::new(),
            };
            let mut cells = vec![
                l.logon_id.clone(),
                l.logon_type.map(|t| t.to_string()).unwrap_or_default(),
                type_name,
                fmt_time(l.start_time),
                user,
            ];
            if with_state {
                cells.extend([
                    l.state.clone().unwrap_or_default(),
                    l.remote_host.clone().unwrap_or_default(),
                ]);
            }
            table.row(cells);
        }
        let rendered = table.render();
        self.out.push_str(&rendered);
    }

    fn section3(&mut self) {
        self.heading("SECTION 3: PROCESSES - ACTIVE PROCESSES RUNNING AS USER");
        self.what_this_shows(&[
            "All processes currently running with the target user's",
            "security context. Active sessions will have processes.",
        ]);
        let rows = match &self.snapshot.processes {
            Observed::Ok { rows } => rows,
            Observed::Failed(f) => {
                let f = f.clone();
                self.failure("The process list", &f);
                return;
            }
        };
        let matching: Vec<_> = rows
            .iter()
            .filter(|p| p.user.as_deref().is_some_and(|u| self.wanted_account(u)))
            .collect();
        self.line(&format!("Active processes found: {}", matching.len()));
        let unreadable = rows.iter().filter(|p| p.access_error.is_some()).count();
        if unreadable > 0 {
            self.line(&format!(
                "Note: {unreadable} process(es) could not be opened to read their owner or logon session."
            ));
        }
        if matching.is_empty() {
            return;
        }
        self.line("");
        let rendered = if self.target.is_some() {
            let mut table = Table::new(&[
                ("Name", Align::Left),
                ("Id", Align::Right),
                ("UserName", Align::Left),
            ]);
            for p in &matching {
                table.row(vec![
                    p.name.clone(),
                    p.pid.to_string(),
                    p.user.clone().unwrap_or_default(),
                ]);
            }
            table.render()
        } else {
            // Every process of every user would drown the report: one line per user instead.
            let mut per_user: std::collections::BTreeMap<String, usize> =
                std::collections::BTreeMap::new();
            for p in &matching {
                *per_user
                    .entry(p.user.clone().unwrap_or_default())
                    .or_default() += 1;
            }
            let mut table = Table::new(&[("UserName", Align::Left), ("Processes", Align::Right)]);
            for (user, n) in per_user {
                table.row(vec![user, n.to_string()]);
            }
            table.render()
        };
        self.out.push_str(&rendered);
    }

    fn section4(&mut self) {
        self.heading("SECTION 4: SMB SESSIONS - NETWORK FILE SHARING SESSIONS");
        self.what_this_shows(&[
            "Active SMB (Server Message Block) file sharing sessions.",
            "These represent network file share connections.",
        ]);
        let rows = match &self.snapshot.smb_sessions {
            Observed::Ok { rows } => rows,
            Observed::Failed(f) => {
                let f = f.clone();
                self.failure("SMB sessions", &f);
                return;
            }
        };
        let matching: Vec<_> = rows
            .iter()
            .filter(|s| self.wanted(s.domain.as_deref(), s.user.as_deref().unwrap_or_default()))
            .collect();
        if matching.is_empty() {
            let who = if self.target.is_some() {
                format!(" for '{}'", for_terminal(&self.target_name()))
            } else {
                String::new()
            };
            self.line(&format!("No SMB sessions found{who}"));
            return;
        }
        self.line(&format!("SMB sessions found: {}", matching.len()));
        self.line("");
        let mut table = Table::new(&[
            ("ClientComputerName", Align::Left),
            ("ClientUserName", Align::Left),
            ("NumOpens", Align::Right),
            ("SecondsIdle", Align::Right),
            ("Dialect", Align::Left),
        ]);
        for s in matching {
            let user = match (&s.domain, &s.user) {
                (Some(d), Some(u)) if !d.is_empty() => format!("{d}\\{u}"),
                (_, Some(u)) => u.clone(),
                _ => String::new(),
            };
            table.row(vec![
                s.client.clone(),
                user,
                s.open_files.map(|n| n.to_string()).unwrap_or_default(),
                s.idle_secs.map(|n| n.to_string()).unwrap_or_default(),
                s.dialect.clone().unwrap_or_default(),
            ]);
        }
        let rendered = table.render();
        self.out.push_str(&rendered);
    }

    fn section5(&mut self) {
        self.heading("SECTION 5: LINGERING SESSION ANALYSIS");
        self.line("(User-level summary and NetWkstaUserEnum rows for the target user.)");
        if self.analysis.users.is_empty() {
            self.line("");
            self.line(
                "No user accounts found on this host (machine and service accounts excluded).",
            );
        }
        for user in &self.analysis.users {
            self.user_assessment(user);
        }
    }

    fn user_assessment(&mut self, user: &UserAssessment) {
        self.line("");
        let name = for_terminal(&user.user).into_owned();
        let headline = match user.state {
            UserState::Lingering => format!("LINGERING USER STATE DETECTED for {name}:"),
            UserState::Active => {
                format!("ACTIVE USER STATE (not lingering by this heuristic) for {name}:")
            }
            UserState::NotPresent => {
                format!("NOT LOGGED ON: {name} is not listed by NetWkstaUserEnum:")
            }
            UserState::Inconclusive => {
                format!("INCONCLUSIVE USER STATE for {name} (checks were incomplete):")
            }
        };
        self.line(&headline);
        let count = |n: Option<usize>| match n {
            Some(n) => (true_false(n > 0).to_string(), n.to_string()),
            None => ("Unknown".to_string(), "could not read".to_string()),
        };
        self.line(&format!(
            "  NetWkstaUserEnum row count for user: {}",
            user.workstation_rows.len()
        ));
        let (has, n) = count(user.logon_sessions);
        self.line(&format!("  Has WMI logon session: {has} ({n} session(s))"));
        let (has, n) = count(user.processes);
        self.line(&format!("  Has running processes: {has} ({n} process(es))"));
        let (has, _) = count(user.smb_sessions);
        self.line(&format!("  Has SMB session (informational): {has}"));
        if user.state == UserState::Lingering {
            self.line("");
            self.line(
                "  Recommendation: the account is listed by NetWkstaUserEnum but has no logon",
            );
            self.line(
                "  session and no process. Check for stale cached credentials or a session that",
            );
            self.line(
                "  did not fully log off (services, scheduled tasks, mapped drives using this",
            );
            self.line(
                "  account); a reboot or logoff of the listed session clears it. Re-run elevated",
            );
            self.line("  to confirm before acting.");
        }
        if !user.unchecked.is_empty() && user.state != UserState::Active {
            let names: Vec<String> = user
                .unchecked
                .iter()
                .map(|s| match s {
                    Source::WorkstationUsers => "Section 1 (NetWkstaUserEnum)".to_string(),
                    Source::LogonSessions => "Section 2 (logon sessions)".to_string(),
                    Source::Processes => "Section 3 (processes)".to_string(),
                    other => other.to_string(),
                })
                .collect();
            self.line("");
            self.line(&format!(
                "  WARNING: {} could not be read, so this result is not reliable.",
                names.join(" and ")
            ));
            self.line("  Run elevated (as Administrator / root) and check the errors above.");
        }
        if let Observed::Ok { rows } = &self.snapshot.workstation_users
            && !user.workstation_rows.is_empty()
        {
            let detail: Vec<(usize, &WorkstationUser)> = user
                .workstation_rows
                .iter()
                .filter_map(|&r| rows.get(r as usize).map(|w| (r as usize, w)))
                .collect();
            self.line("");
            self.line("NetWkstaUserEnum detail:");
            let table = self.workstation_table(&detail).render();
            self.out.push_str(&table);
        }
    }

    fn findings(&mut self) {
        self.heading("SESSION FINDINGS (per session, with evidence)");
        let findings: &[Finding] = &self.analysis.findings;
        if findings.is_empty() {
            self.line("No user sessions to judge.");
            return;
        }
        let mut table = Table::new(&[
            ("Verdict", Align::Left),
            ("Kind", Align::Left),
            ("Session", Align::Left),
            ("User", Align::Left),
            ("Idle", Align::Right),
            ("Evidence", Align::Left),
            ("Reason", Align::Left),
        ]);
        let mut order: Vec<&Finding> = findings.iter().collect();
        order.sort_by_key(|f| (!f.lingering, f.verdict == Verdict::Active, f.verdict));
        let mut verdicts = Vec::new();
        for f in order {
            let kind = serde_json::to_value(f.kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            let evidence: Vec<String> = f
                .evidence
                .iter()
                .map(|e| format!("{}:{}", short_source(e.source), e.rows.len()))
                .collect();
            verdicts.push((f.verdict, f.lingering));
            table.row(vec![
                f.verdict.as_str().to_string(),
                kind,
                f.session_id.clone(),
                f.user.clone(),
                f.idle_secs.map(human_duration).unwrap_or_default(),
                evidence.join(" "),
                f.reason.clone(),
            ]);
        }
        let rendered = table.render();
        if self.options.color {
            // Colour after layout so escape codes do not disturb column widths.
            let mut lines = rendered.lines();
            for header in lines.by_ref().take(2) {
                self.line(header);
            }
            for (line, (verdict, lingering)) in lines.zip(verdicts) {
                let painted = line.replacen(verdict.as_str(), &self.paint(verdict, lingering), 1);
                self.line(&painted);
            }
        } else {
            self.out.push_str(&rendered);
        }
    }

    fn summary(&mut self) {
        self.heading("SUMMARY");
        let count = |o: Option<usize>| {
            o.map(|n| n.to_string())
                .unwrap_or_else(|| "unknown (source failed)".into())
        };
        let s = self.snapshot;
        let wanted_logons = s.logon_sessions.rows().map(|rows| {
            rows.iter()
                .filter(|l| self.wanted(l.domain.as_deref(), l.user.as_deref().unwrap_or_default()))
                .count()
        });
        let wanted_procs = s.processes.rows().map(|rows| {
            rows.iter()
                .filter(|p| p.user.as_deref().is_some_and(|u| self.wanted_account(u)))
                .count()
        });
        let wanted_smb = s.smb_sessions.rows().map(|rows| {
            rows.iter()
                .filter(|x| self.wanted(x.domain.as_deref(), x.user.as_deref().unwrap_or_default()))
                .count()
        });
        let wksta = s.workstation_users.rows().map(Vec::len);
        self.line(&format!(
            "NetWkstaUserEnum Sessions: {} total",
            count(wksta)
        ));
        self.line(&format!("Active Logon Sessions: {}", count(wanted_logons)));
        self.line(&format!("Running Processes: {}", count(wanted_procs)));
        self.line(&format!("SMB Sessions: {}", count(wanted_smb)));
        let lingering = self.analysis.lingering_count();
        let inconclusive = self
            .analysis
            .findings
            .iter()
            .filter(|f| f.verdict == Verdict::Inconclusive)
            .count();
        self.line(&format!(
            "Session findings: {} ({lingering} lingering, {inconclusive} inconclusive)",
            self.analysis.findings.len()
        ));
        if !self.analysis.failed_sources.is_empty() {
            self.line("");
            self.line("Sources that could not be read:");
            let failed: Vec<(Source, SourceFailure)> = self
                .analysis
                .failed_sources
                .iter()
                .map(|f| (f.source, f.failure.clone()))
                .collect();
            for (source, failure) in failed {
                let code = failure
                    .code
                    .map(|c| format!(" (code {c})"))
                    .unwrap_or_default();
                self.line(&format!(
                    "  {source}: {}: {}{code}",
                    failure.kind,
                    for_terminal(&failure.message)
                ));
            }
        }
        for note in &s.notes {
            let note = for_terminal(note).into_owned();
            self.line(&format!("Note: {note}"));
        }
        self.line("");
        self.line("Note: NetWkstaUserEnum may show sessions that do not appear in other methods.");
        self.line("      Section 5 flags a lingering user state when that happens without logon/processes.");
    }
}

fn short_source(source: Source) -> &'static str {
    match source {
        Source::WorkstationUsers => "wksta",
        Source::LogonSessions => "logon",
        Source::Processes => "proc",
        Source::SmbSessions => "smb",
        Source::InteractiveSessions => "wts",
    }
}

/// Several hosts: one line per host, for the end of a multi-host text report.
pub fn host_line(analysis: &Analysis) -> String {
    let mut line = String::new();
    let _ = write!(
        line,
        "{}: {} finding(s), {} lingering",
        for_terminal(&analysis.host),
        analysis.findings.len(),
        analysis.lingering_count()
    );
    line
}

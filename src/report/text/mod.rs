//! The human report: the script's five sections and summary, then
//! lingerscan's per-session findings.
//!
//! `sources` renders sections 1-4 (one per evidence source), `verdicts`
//! section 5, the findings and the summary.

mod coverage;
pub mod fleet;
mod sources;
mod verdicts;

use std::fmt::Write as _;

use jiff::Timestamp;

use super::sanitize::for_terminal;
use super::table::{Align, Table};
use crate::analyze::{Analysis, Finding, UserAssessment, UserState, Verdict, human_duration};
use crate::identity::{
    TargetUser, display_account, is_script_machine_row, is_set_aside, split_account,
};
use crate::model::{
    FailureKind, HostSnapshot, Observed, Source, SourceFailure, WorkstationUser, logon_type_name,
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

/// Indices of the rows that pass `keep`.
fn indices<R>(rows: &[R], keep: impl Fn(usize, &R) -> bool) -> Vec<u32> {
    rows.iter()
        .enumerate()
        .filter(|(i, r)| keep(*i, r))
        .map(|(i, _)| i as u32)
        .collect()
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
    w.coverage();
    w.section1();
    w.section2();
    w.section3();
    w.section4();
    w.section5();
    w.findings();
    w.summary();
    w.out
}

/// A host whose evidence is not at hand (a fleet report line recorded
/// without its snapshot): its findings and failed sources only.
pub fn render_recorded(analysis: &Analysis, options: TextOptions) -> String {
    // The sections need the snapshot; the findings table reads only the analysis.
    let placeholder = HostSnapshot::empty(&analysis.host, analysis.platform, "recorded");
    let mut w = Writer {
        out: String::new(),
        snapshot: &placeholder,
        analysis,
        target: analysis
            .target
            .as_deref()
            .and_then(|t| TargetUser::parse(t).ok()),
        options,
    };
    w.line(RULE);
    w.line("LINGERING SESSION DETECTION REPORT (recorded analysis, no evidence rows)");
    w.line(RULE);
    w.line(&format!("Target Server: {}", for_terminal(&analysis.host)));
    let target = match &w.target {
        Some(t) => for_terminal(&t.display()).into_owned(),
        None => "(all users)".to_string(),
    };
    w.line(&format!("Target User: {target}"));
    w.line(&format!(
        "Collected: {}",
        fmt_time(Some(analysis.collected_at))
    ));
    for failed in &analysis.failed_sources {
        if failed.failure.kind != FailureKind::NotSupported {
            w.failure(failed.source.name(), &failed.failure);
        }
    }
    w.findings();
    w.out
}

fn fmt_time(t: Option<Timestamp>) -> String {
    t.map(|t| t.strftime("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_default()
}

fn true_false(b: bool) -> &'static str {
    if b { "True" } else { "False" }
}

impl<'a> Writer<'a> {
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
        let message = for_terminal(&failure.message).into_owned();
        if failure.kind == FailureKind::NotAvailable {
            // Not an error: the host simply has no such source, so it holds nothing.
            self.line(&format!(
                "NOTE: {api} is not available on this host: {message}"
            ));
        } else {
            self.line(&format!(
                "ERROR: {api} could not be read: {}: {message}{code}",
                failure.kind
            ));
        }
    }

    fn target_name(&self) -> String {
        self.target
            .as_ref()
            .map(TargetUser::display)
            .unwrap_or_default()
    }

    /// The target's result (the script's rule), when there is a target.
    fn target_result(&self) -> Option<&'a UserAssessment> {
        self.target.as_ref()?;
        self.analysis.users.first()
    }

    /// The rows sections 2-4 and the summary show and count for a source:
    /// with a target, the rows the script's rule counted for it (so every
    /// count printed twice is one number); without, every row of an account
    /// that is not a machine account or service identity. None when the
    /// source could not be read.
    fn section_rows(&self, source: Source) -> Option<Vec<u32>> {
        let s = self.snapshot;
        let read = match source {
            Source::WorkstationUsers => s.workstation_users.is_ok(),
            Source::LogonSessions => s.logon_sessions.is_ok(),
            Source::Processes => s.processes.is_ok(),
            Source::SmbSessions => s.smb_sessions.is_ok(),
            Source::InteractiveSessions => s.interactive_sessions.is_ok(),
            Source::LoadedProfiles => s.loaded_profiles.is_ok(),
            Source::DirectoryAccounts => s.directory_accounts.is_ok(),
        };
        if !read {
            return None;
        }
        if let Some(user) = self.target_result() {
            return Some(match source {
                Source::WorkstationUsers => user.workstation_rows.clone(),
                Source::LogonSessions => user.logon_rows.clone(),
                Source::Processes => user.process_rows.clone(),
                Source::SmbSessions => user.smb_rows.clone(),
                Source::InteractiveSessions
                | Source::LoadedProfiles
                | Source::DirectoryAccounts => Vec::new(),
            });
        }
        let own = self.own_rows(source);
        let keep = |row: usize, domain: Option<&str>, user: &str| {
            !is_set_aside(domain, user) && !own.contains(&(row as u32))
        };
        let rows: Vec<u32> = match source {
            // The script drops only `NAME$` rows from this list.
            Source::WorkstationUsers => indices(s.workstation_users.rows_or_empty(), |r, w| {
                !is_script_machine_row(&w.user) && !own.contains(&(r as u32))
            }),
            Source::LogonSessions => indices(s.logon_sessions.rows_or_empty(), |r, l| {
                l.user
                    .as_deref()
                    .is_some_and(|u| keep(r, l.domain.as_deref(), u))
            }),
            Source::Processes => indices(s.processes.rows_or_empty(), |r, p| {
                p.user.as_deref().is_some_and(|u| {
                    let (domain, user) = split_account(u);
                    keep(r, domain, user)
                })
            }),
            Source::SmbSessions => indices(s.smb_sessions.rows_or_empty(), |r, x| {
                x.user
                    .as_deref()
                    .is_some_and(|u| keep(r, x.domain.as_deref(), u))
            }),
            Source::InteractiveSessions | Source::LoadedProfiles | Source::DirectoryAccounts => {
                Vec::new()
            }
        };
        Some(rows)
    }

    /// Rows of a source that are this scan's own connection.
    fn own_rows(&self, source: Source) -> Vec<u32> {
        self.analysis
            .own_connection
            .iter()
            .filter(|e| e.source == source)
            .flat_map(|e| e.rows.iter().copied())
            .collect()
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
            let full = display_account(Some(&w.logon_domain), &w.user);
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
}

fn short_source(source: Source) -> &'static str {
    match source {
        Source::WorkstationUsers => "wksta",
        Source::LogonSessions => "logon",
        Source::Processes => "proc",
        Source::SmbSessions => "smb",
        Source::InteractiveSessions => "wts",
        Source::LoadedProfiles => "hive",
        Source::DirectoryAccounts => "dir",
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

//! The human report: the script's five sections and summary, then
//! lingerscan's per-session findings.
//!
//! `sources` renders sections 1-4 (one per evidence source), `verdicts`
//! section 5, the findings and the summary.

mod sources;
mod verdicts;

use std::fmt::Write as _;

use jiff::Timestamp;

use super::sanitize::for_terminal;
use super::table::{Align, Table};
use crate::analyze::{Analysis, Finding, UserAssessment, UserState, Verdict, human_duration};
use crate::identity::{TargetUser, display_account, is_set_aside, split_account};
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

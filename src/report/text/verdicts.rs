//! Section 5 (the script's user-level rule), the per-session findings and the summary.

use super::{
    Align, FailureKind, Finding, Observed, Source, SourceFailure, Table, UserAssessment, UserState,
    Verdict, WorkstationUser, Writer, for_terminal, human_duration, short_source, true_false,
};
use crate::analyze::ScriptWarning;
use crate::model::Platform;

impl Writer<'_> {
    pub(super) fn section5(&mut self) {
        self.heading("SECTION 5: LINGERING SESSION ANALYSIS");
        let list = self.workstation_list_name();
        self.line(&format!(
            "(User-level summary and {list} rows for the target user.)"
        ));
        if self.analysis.users.is_empty() {
            self.line("");
            if Source::ALL
                .iter()
                .all(|&s| self.snapshot.failure_of(s).is_some())
            {
                self.line(
                    "Nothing could be read on this host: every source failed (see the errors above), so no user can be judged.",
                );
            } else {
                self.line(
                    "No user accounts found on this host (machine and service accounts excluded).",
                );
            }
        }
        for user in &self.analysis.users {
            self.user_assessment(user);
        }
    }

    /// What the workstation-user list is called on this host.
    fn workstation_list_name(&self) -> &'static str {
        if self.linux() {
            "utmp"
        } else {
            "NetWkstaUserEnum"
        }
    }

    fn linux(&self) -> bool {
        self.snapshot.platform == Platform::Linux
    }

    fn user_assessment(&mut self, user: &UserAssessment) {
        self.line("");
        let name = for_terminal(&user.user).into_owned();
        let list = self.workstation_list_name();
        let headline = match user.state {
            UserState::Lingering => format!("LINGERING USER STATE DETECTED for {name}:"),
            UserState::Active => {
                format!("ACTIVE USER STATE (not lingering by this heuristic) for {name}:")
            }
            UserState::NotPresent => {
                format!("NOT LOGGED ON: {name} is not listed by {list}; nothing to analyze:")
            }
            UserState::Inconclusive => {
                format!("INCONCLUSIVE USER STATE for {name} (checks were incomplete):")
            }
        };
        self.line(&headline);
        self.line(&format!(
            "  {list} row count for user: {}",
            user.workstation_rows.len()
        ));
        let failed = |source: Source| {
            self.snapshot
                .failure_of(source)
                .is_some_and(|f| f.kind != FailureKind::NotAvailable)
        };
        let query_failed = |source: Source| {
            if failed(source) {
                "; the query failed"
            } else {
                ""
            }
        };
        let logon_source = if self.linux() {
            "logind session"
        } else {
            "WMI logon session"
        };
        self.line(&format!(
            "  Has {logon_source}: {} ({} session(s){})",
            true_false(user.logon_sessions > 0),
            user.logon_sessions,
            query_failed(Source::LogonSessions)
        ));
        let login = if user.login_processes > 0 {
            format!("; {} live utmp login process(es)", user.login_processes)
        } else {
            String::new()
        };
        self.line(&format!(
            "  Has running processes: {} ({} process(es){login}{})",
            true_false(user.processes + user.login_processes > 0),
            user.processes,
            query_failed(Source::Processes)
        ));
        let smb_failed = if failed(Source::SmbSessions) {
            " (the query failed)"
        } else {
            ""
        };
        self.line(&format!(
            "  Has SMB session (informational): {}{smb_failed}",
            true_false(user.smb_sessions > 0)
        ));
        if user.warnings.contains(&ScriptWarning::ChecksIncomplete) {
            self.checks_incomplete(user);
        }
        if user.state == UserState::Inconclusive {
            self.list_unreadable();
        }
        if user.state == UserState::Lingering {
            self.line("");
            let advice: &[&str] = if self.linux() {
                &[
                    "  Recommendation: utmp lists this user, but no logind session and no process",
                    "  remain. The record is stale: its login ended without logging out (a killed",
                    "  sshd or smbd child, a crash). `who` and `w` keep showing it until the line",
                    "  is reused or the host reboots; it holds no credentials. Re-run as root to",
                    "  confirm before acting.",
                ]
            } else {
                &[
                    "  Recommendation: the account is listed by NetWkstaUserEnum but has no logon",
                    "  session and no process. Check for stale cached credentials or a session that",
                    "  did not fully log off (services, scheduled tasks, mapped drives using this",
                    "  account); a reboot or logoff of the listed session clears it. Re-run elevated",
                    "  to confirm before acting.",
                ]
            };
            for line in advice {
                self.line(line);
            }
        }
        if let Some(differ) = &user.findings_differ {
            self.line("");
            self.line(&format!("  Note: {}", for_terminal(differ)));
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
            self.line(&format!("{list} detail:"));
            let table = self.workstation_table(&detail).render();
            self.out.push_str(&table);
        }
    }

    /// The script's "IMPORTANT" block (Get-LingeringSessions.ps1:479-484):
    /// a lingering result that rests on a failed section 2 or 3.
    fn checks_incomplete(&mut self, user: &UserAssessment) {
        self.line("");
        self.line(
            "  IMPORTANT: Section 2 and/or Section 3 did not complete successfully (see the errors above).",
        );
        if user.decided_without_logons {
            // lingerscan's documented difference: see docs/remote.md.
            self.line(&format!(
                "  Logon sessions cannot be read over MS-RPC (the script reads them through WMI); \
                 processes and\n  interactive sessions were read, so they decided \
                 ({} interactive session(s) of this user).",
                user.interactive_sessions
            ));
            return;
        }
        self.line("  Fix access and re-run before treating this as confirmed lingering.");
        self.next_steps(&user.unchecked);
    }

    /// The workstation list could not be read: lingerscan's one difference
    /// in verdict. The script's warning (Get-LingeringSessions.ps1:139-140),
    /// then what to do.
    fn list_unreadable(&mut self) {
        let Some(failure) = self.snapshot.failure_of(Source::WorkstationUsers) else {
            return;
        };
        let code = failure
            .code
            .map(|c| format!(" (code {c})"))
            .unwrap_or_default();
        let message = for_terminal(&failure.message).into_owned();
        let list = self.workstation_list_name();
        self.line("");
        self.line(&format!("  WARNING: {list} failed: {message}{code}"));
        if !self.linux() {
            self.line(
                "  Common error codes: 5=Access Denied, 53=Network path not found, 87=Invalid parameter",
            );
        }
        self.line(&format!(
            "  The script would find nothing to analyze; lingerscan does not read an unread {list} as empty."
        ));
        self.next_steps(&[Source::WorkstationUsers]);
    }

    fn next_steps(&mut self, sources: &[Source]) {
        let mut steps: Vec<String> = Vec::new();
        for &source in sources {
            if let Some(failure) = self.snapshot.failure_of(source) {
                let step = self.next_step(failure.kind);
                if !steps.contains(&step) {
                    steps.push(step);
                }
            }
        }
        for step in steps {
            self.line(&format!("  {step}"));
        }
    }

    /// What to do about a source that failed this way.
    fn next_step(&self, kind: FailureKind) -> String {
        let remote_from_linux = self.snapshot.collector == "msrpc";
        match kind {
            FailureKind::AccessDenied if self.linux() => {
                "Run as root and check the errors above.".to_string()
            }
            FailureKind::AccessDenied => {
                "Run elevated (as Administrator, or with an administrator account for a remote host) and check the errors above.".to_string()
            }
            FailureKind::NotSupported if remote_from_linux => {
                "A scan from Linux over MS-RPC cannot read logon sessions or processes: run lingerscan on the host itself, or from a Windows machine (it reads them over WMI).".to_string()
            }
            FailureKind::NotSupported => {
                "This collector cannot read that source: run lingerscan on the host itself.".to_string()
            }
            FailureKind::NotAvailable => {
                "The host does not have that source.".to_string()
            }
            FailureKind::Timeout => {
                "The source did not answer in time: raise --timeout or check the host's load.".to_string()
            }
            FailureKind::Unreachable => {
                "The host could not be reached: check the name, that it is up, and that the port is open.".to_string()
            }
            FailureKind::LogonFailure => {
                "The host refused the credentials: check --username and the password.".to_string()
            }
            FailureKind::Tampered => {
                "An answer failed its integrity check: someone altered the traffic, or the host is not who it claims to be. Nothing from it was kept.".to_string()
            }
            FailureKind::ParseError | FailureKind::Other => {
                "Check the errors above.".to_string()
            }
        }
    }

    pub(super) fn findings(&mut self) {
        self.heading("SESSION FINDINGS (per session, with evidence)");
        let findings: &[Finding] = &self.analysis.findings;
        if findings.is_empty() {
            self.line("No user sessions to judge.");
            return;
        }
        // The history's column only when there is history: reports without
        // it stay as they always were.
        let with_history = findings.iter().any(|f| f.history.is_some());
        let mut columns = vec![
            ("Verdict", Align::Left),
            ("Kind", Align::Left),
            ("Session", Align::Left),
            ("User", Align::Left),
            ("Idle", Align::Right),
        ];
        if with_history {
            columns.push(("Seen", Align::Left));
        }
        columns.extend([
            ("Evidence (row counts)", Align::Left),
            ("Reason", Align::Left),
        ]);
        let mut table = Table::new(&columns);
        let mut order: Vec<&Finding> = findings.iter().collect();
        order.sort_by_key(|f| (!f.lingering, f.verdict == Verdict::Active, f.verdict));
        let mut verdicts = Vec::new();
        for f in order {
            let kind = f.kind.as_str().to_string();
            let evidence: Vec<String> = f
                .evidence
                .iter()
                .map(|e| format!("{}:{}", short_source(e.source), e.rows.len()))
                .collect();
            verdicts.push((f.verdict, f.lingering));
            let mut cells = vec![
                f.verdict.as_str().to_string(),
                kind,
                f.session_id.clone(),
                f.user.clone(),
                f.idle_secs.map(human_duration).unwrap_or_default(),
            ];
            if with_history {
                cells.push(seen(f));
            }
            cells.extend([evidence.join(" "), f.reason.clone()]);
            table.row(cells);
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

    pub(super) fn summary(&mut self) {
        self.heading("SUMMARY");
        let s = self.snapshot;
        // The script counts a failed query as 0 (its lists start empty,
        // Get-LingeringSessions.ps1:280-283); say why next to the number.
        let count = |source: Source| match (self.section_rows(source), s.failure_of(source)) {
            (Some(rows), _) => rows.len().to_string(),
            (None, Some(f)) if f.kind == FailureKind::NotAvailable => {
                "0 (not available on this host)".to_string()
            }
            (None, _) => "0 (the query failed)".to_string(),
        };
        let wksta = match s.workstation_users.rows() {
            Some(rows) => format!("{} total", rows.len()),
            None => count(Source::WorkstationUsers),
        };
        let list = self.workstation_list_name();
        let lines = [
            format!("{list} Sessions: {wksta}"),
            format!("Active Logon Sessions: {}", count(Source::LogonSessions)),
            format!("Running Processes: {}", count(Source::Processes)),
            format!("SMB Sessions: {}", count(Source::SmbSessions)),
        ];
        for line in lines {
            self.line(&line);
        }
        let lingering = self.analysis.lingering_count();
        let inconclusive = self
            .analysis
            .findings
            .iter()
            .filter(|f| f.verdict == Verdict::Inconclusive)
            .count();
        let watching = self
            .analysis
            .findings
            .iter()
            .filter(|f| f.watching())
            .count();
        let watching = if watching > 0 {
            format!(", {watching} new, watching (younger than --min-age)")
        } else {
            String::new()
        };
        self.line(&format!(
            "Session findings: {} ({lingering} lingering, {inconclusive} inconclusive{watching})",
            self.analysis.findings.len()
        ));
        let (absent, broken): (Vec<_>, Vec<_>) =
            self.analysis.failed_sources.iter().partition(|f| {
                matches!(
                    f.failure.kind,
                    FailureKind::NotAvailable | FailureKind::NotSupported
                )
            });
        for (title, list) in [
            ("Sources that could not be read:", broken),
            (
                "Sources not available on this host or not supported by this scan:",
                absent,
            ),
        ] {
            if list.is_empty() {
                continue;
            }
            self.line("");
            self.line(title);
            let failed: Vec<(Source, SourceFailure)> =
                list.iter().map(|f| (f.source, f.failure.clone())).collect();
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
        let own = self.own_connection_line();
        if let Some(own) = own {
            self.line("");
            self.line(&own);
        }
        let notes: Vec<String> = self.analysis.notes.clone();
        for note in notes {
            self.line(&format!("Note: {}", for_terminal(&note)));
        }
        for note in &s.notes {
            let note = for_terminal(note).into_owned();
            self.line(&format!("Note: {note}"));
        }
        self.line("");
        let list = self.workstation_list_name();
        self.line(&format!(
            "Note: {list} may show sessions that do not appear in other methods."
        ));
        self.line("      Section 5 flags a lingering user state when that happens without logon/processes.");
    }
}

impl Writer<'_> {
    /// "This scan's own connection: …", when the analysis set rows aside as the scan itself.
    fn own_connection_line(&self) -> Option<String> {
        let scan = self.snapshot.scan_connection.as_ref()?;
        let mut parts = Vec::new();
        for evidence in &self.analysis.own_connection {
            let what = match evidence.source {
                Source::SmbSessions => "SMB session",
                Source::WorkstationUsers => "workstation-list row",
                _ => "row",
            };
            parts.push(format!("{} {what}(s)", evidence.rows.len()));
        }
        if parts.is_empty() {
            return None;
        }
        let from = scan
            .client_address
            .as_deref()
            .map(|a| format!(" from {}", for_terminal(a)))
            .unwrap_or_default();
        Some(format!(
            "This scan's own connection (as {}{from}): {}, set aside and not counted.",
            for_terminal(&scan.user),
            parts.join(" and ")
        ))
    }
}

/// The history of a finding in a few words: "lingering since …, seen N
/// times", or "new, watching" for one younger than `--min-age`.
fn seen(f: &Finding) -> String {
    let Some(h) = f.history else {
        return String::new();
    };
    let since = h.first_seen.strftime("%Y-%m-%d %H:%MZ");
    let times = if h.sightings == 1 {
        "once".to_string()
    } else {
        format!("{} times", h.sightings)
    };
    if h.watching {
        format!("new, watching: since {since}, seen {times}")
    } else if f.lingering {
        format!("lingering since {since}, seen {times}")
    } else {
        format!("since {since}, seen {times}")
    }
}

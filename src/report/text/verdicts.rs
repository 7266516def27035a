//! Section 5 (the script's user-level rule), the per-session findings and the summary.

use super::{
    Align, FailureKind, Finding, Observed, Source, SourceFailure, Table, UserAssessment, UserState,
    Verdict, WorkstationUser, Writer, for_terminal, human_duration, short_source, true_false,
};

impl Writer<'_> {
    pub(super) fn section5(&mut self) {
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

    pub(super) fn findings(&mut self) {
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
            let kind = f.kind.as_str().to_string();
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

    pub(super) fn summary(&mut self) {
        self.heading("SUMMARY");
        let s = self.snapshot;
        let count = |o: Option<usize>, source: Source| match (o, s.failure_of(source)) {
            (Some(n), _) => n.to_string(),
            (None, Some(f)) if f.kind == FailureKind::NotAvailable => {
                "0 (not available on this host)".to_string()
            }
            (None, _) => "unknown (source failed)".to_string(),
        };
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
        let wksta = match s.workstation_users.rows() {
            Some(rows) => format!("{} total", rows.len()),
            None => count(None, Source::WorkstationUsers),
        };
        self.line(&format!("NetWkstaUserEnum Sessions: {wksta}"));
        self.line(&format!(
            "Active Logon Sessions: {}",
            count(wanted_logons, Source::LogonSessions)
        ));
        self.line(&format!(
            "Running Processes: {}",
            count(wanted_procs, Source::Processes)
        ));
        self.line(&format!(
            "SMB Sessions: {}",
            count(wanted_smb, Source::SmbSessions)
        ));
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

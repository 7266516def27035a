//! Sections 1-4: what each evidence source saw.

use crate::identity::display_account;

use super::{
    Align, Observed, Source, Table, WorkstationUser, Writer, fmt_time, for_terminal,
    logon_type_name,
};

impl Writer<'_> {
    pub(super) fn section1(&mut self) {
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
        let matching: Vec<(usize, &WorkstationUser)> = self
            .section_rows(Source::WorkstationUsers)
            .unwrap_or_default()
            .iter()
            .filter_map(|&r| rows.get(r as usize).map(|w| (r as usize, w)))
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

    pub(super) fn section2(&mut self) {
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
        let matching: Vec<_> = self
            .section_rows(Source::LogonSessions)
            .unwrap_or_default()
            .iter()
            .filter_map(|&r| rows.get(r as usize))
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
            let user = l
                .user
                .as_deref()
                .map(|u| display_account(l.domain.as_deref(), u))
                .unwrap_or_default();
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

    pub(super) fn section3(&mut self) {
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
        let matching: Vec<_> = self
            .section_rows(Source::Processes)
            .unwrap_or_default()
            .iter()
            .filter_map(|&r| rows.get(r as usize))
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

    pub(super) fn section4(&mut self) {
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
        let matching: Vec<_> = self
            .section_rows(Source::SmbSessions)
            .unwrap_or_default()
            .iter()
            .filter_map(|&r| rows.get(r as usize))
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
            let user = s
                .user
                .as_deref()
                .map(|u| display_account(s.domain.as_deref(), u))
                .unwrap_or_default();
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
}

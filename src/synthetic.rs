//! Synthetic snapshots of any size, for benchmarks and load tests.
//!
//! Deterministic: the same sizes give the same snapshot. The mix resembles a
//! busy terminal server: most logon sessions have processes, some are
//! disconnected RDP sessions, some leaked, some users are only listed by the
//! workstation service.

use jiff::Timestamp;

use crate::model::*;

#[derive(Debug, Clone, Copy)]
pub struct Sizes {
    pub processes: usize,
    pub logon_sessions: usize,
    pub workstation_rows: usize,
}

impl Sizes {
    /// The shape: processes, a tenth as many logon sessions and workstation rows.
    pub fn scaled(processes: usize) -> Self {
        Sizes {
            processes,
            logon_sessions: (processes / 10).max(1),
            workstation_rows: (processes / 10).max(1),
        }
    }
}

pub fn snapshot(sizes: Sizes) -> HostSnapshot {
    let now = Timestamp::from_second(1_760_000_000).unwrap_or(Timestamp::UNIX_EPOCH);
    let users = (sizes.logon_sessions / 2).max(1);
    let user_name = |i: usize| format!("user{i:06}");
    let logon_id = |i: usize| (100_000 + i).to_string();
    // Every 10th logon session holds no process (leaked), every 7th is a disconnected RDP session.
    let logon_sessions: Vec<LogonSession> = (0..sizes.logon_sessions)
        .map(|i| LogonSession {
            logon_id: logon_id(i),
            user: Some(user_name(i % users)),
            domain: Some("CONTOSO".to_string()),
            logon_type: Some(if i % 7 == 0 { 10 } else { 3 }),
            terminal_session_id: Some(if i % 7 == 0 { (i + 1) as u32 } else { 0 }),
            start_time: Some(now),
            ..Default::default()
        })
        .collect();
    let holders: Vec<usize> = (0..sizes.logon_sessions).filter(|i| i % 10 != 0).collect();
    let processes: Vec<ProcessRow> = (0..sizes.processes)
        .map(|p| {
            let session = holders.get(p % holders.len().max(1)).copied().unwrap_or(0);
            ProcessRow {
                pid: (p as u32).wrapping_mul(4).wrapping_add(8),
                name: "svchost.exe".to_string(),
                user: Some(format!("CONTOSO\\{}", user_name(session % users))),
                logon_id: Some(logon_id(session)),
                terminal_session_id: Some(0),
                ..Default::default()
            }
        })
        .collect();
    let interactive: Vec<InteractiveSession> = (0..sizes.logon_sessions)
        .filter(|i| i % 7 == 0)
        .map(|i| InteractiveSession {
            session_id: (i + 1).to_string(),
            station: Some(format!("RDP-Tcp#{i}")),
            user: Some(user_name(i % users)),
            domain: Some("CONTOSO".to_string()),
            state: if i % 14 == 0 {
                InteractiveState::Disconnected
            } else {
                InteractiveState::Active
            },
            idle_secs: Some((i as u64 % 5) * 86_400),
            ..Default::default()
        })
        .collect();
    // Workstation rows name existing users and, for a fifth of them, users with nothing else.
    let workstation: Vec<WorkstationUser> = (0..sizes.workstation_rows)
        .map(|w| WorkstationUser {
            user: if w % 5 == 0 {
                format!("gone{w:06}")
            } else {
                user_name(w % users)
            },
            logon_domain: "CONTOSO".to_string(),
            logon_server: "DC01".to_string(),
            ..Default::default()
        })
        .collect();
    HostSnapshot {
        schema_version: SCHEMA_VERSION,
        host: "SYNTH01".to_string(),
        platform: Platform::Windows,
        collected_at: now,
        collector: "synthetic".to_string(),
        workstation_users: Observed::ok(workstation),
        logon_sessions: Observed::ok(logon_sessions),
        processes: Observed::ok(processes),
        smb_sessions: Observed::ok(Vec::new()),
        interactive_sessions: Observed::ok(interactive),
        loaded_profiles: Observed::ok(Vec::new()),
        directory_accounts: Observed::ok(Vec::new()),
        coverage: Vec::new(),
        notes: Vec::new(),
        scan_connection: None,
    }
}

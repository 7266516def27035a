//! A snapshot survives JSON: snapshot → JSON → snapshot is the identity.

use jiff::Timestamp;
use lingerscan::model::*;
use lingerscan::snapshot_io;
use proptest::option::of;
use proptest::prelude::*;

fn timestamp() -> impl Strategy<Value = Timestamp> {
    (0i64..4_000_000_000, 0i32..1_000_000_000).prop_map(|(s, ns)| Timestamp::new(s, ns).unwrap())
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![any::<String>(), "[A-Za-z0-9$\\\\._-]{0,12}"]
}

fn failure() -> impl Strategy<Value = SourceFailure> {
    (
        prop_oneof![
            Just(FailureKind::AccessDenied),
            Just(FailureKind::NotSupported),
            Just(FailureKind::NotAvailable),
            Just(FailureKind::Timeout),
            Just(FailureKind::Unreachable),
            Just(FailureKind::LogonFailure),
            Just(FailureKind::ParseError),
            Just(FailureKind::Tampered),
            Just(FailureKind::Other),
        ],
        of(any::<i64>()),
        text(),
    )
        .prop_map(|(kind, code, message)| SourceFailure {
            kind,
            code,
            message,
        })
}

fn observed<T: std::fmt::Debug + Clone>(
    rows: impl Strategy<Value = T>,
) -> impl Strategy<Value = Observed<T>> {
    prop_oneof![
        3 => rows.prop_map(Observed::ok),
        1 => failure().prop_map(Observed::Failed),
    ]
}

fn workstation_user() -> impl Strategy<Value = WorkstationUser> {
    (
        text(),
        text(),
        text(),
        text(),
        of(text()),
        of(text()),
        of(any::<u32>()),
        of(any::<bool>()),
        of(timestamp()),
    )
        .prop_map(
            |(
                user,
                logon_domain,
                other_domains,
                logon_server,
                tty,
                remote_host,
                pid,
                pid_alive,
                login_time,
            )| {
                WorkstationUser {
                    user,
                    logon_domain,
                    other_domains,
                    logon_server,
                    tty,
                    remote_host,
                    pid,
                    pid_alive,
                    login_time,
                }
            },
        )
}

fn logon_session() -> impl Strategy<Value = LogonSession> {
    (
        (
            text(),
            of(text()),
            of(text()),
            of(text()),
            of(any::<u32>()),
            of(any::<u32>()),
            of(text()),
            of(text()),
        ),
        (
            of(text()),
            of(text()),
            of(timestamp()),
            of(any::<u32>()),
            of(text()),
            of(text()),
            of(text()),
            of(text()),
        ),
        (of(any::<u32>()), of(any::<u32>())),
    )
        .prop_map(|(a, b, c)| LogonSession {
            logon_id: a.0,
            user: a.1,
            domain: a.2,
            sid: a.3,
            uid: a.4,
            logon_type: a.5,
            session_type: a.6,
            auth_package: a.7,
            logon_server: b.0,
            upn: b.1,
            start_time: b.2,
            terminal_session_id: b.3,
            state: b.4,
            remote_host: b.5,
            tty: b.6,
            service: b.7,
            leader_pid: c.0,
            audit_session: c.1,
        })
}

fn process() -> impl Strategy<Value = ProcessRow> {
    (
        (
            any::<u32>(),
            text(),
            of(text()),
            of(text()),
            of(any::<u32>()),
            of(text()),
        ),
        (
            of(any::<u32>()),
            of(timestamp()),
            of(any::<u32>()),
            of(any::<u32>()),
            of(any::<u32>()),
            of(text()),
        ),
    )
        .prop_map(|(a, b)| ProcessRow {
            pid: a.0,
            name: a.1,
            user: a.2,
            sid: a.3,
            uid: a.4,
            logon_id: a.5,
            terminal_session_id: b.0,
            start_time: b.1,
            ppid: b.2,
            loginuid: b.3,
            audit_session: b.4,
            access_error: b.5,
        })
}

fn smb_session() -> impl Strategy<Value = SmbSession> {
    (
        (
            text(),
            of(text()),
            of(text()),
            of(text()),
            of(any::<u32>()),
            of(any::<u64>()),
            of(any::<u64>()),
            of(text()),
        ),
        (
            of(text()),
            of(any::<bool>()),
            of(text()),
            of(text()),
            of(text()),
            prop::collection::vec(text(), 0..3),
            of(timestamp()),
            of(any::<u32>()),
        ),
    )
        .prop_map(|(a, b)| SmbSession {
            client: a.0,
            user: a.1,
            domain: a.2,
            session_id: a.3,
            open_files: a.4,
            active_secs: a.5,
            idle_secs: a.6,
            client_type: a.7,
            transport: b.0,
            is_guest: b.1,
            dialect: b.2,
            encryption: b.3,
            signing: b.4,
            shares: b.5,
            connected_at: b.6,
            server_pid: b.7,
        })
}

fn interactive() -> impl Strategy<Value = InteractiveSession> {
    let state = prop_oneof![
        Just(InteractiveState::Active),
        Just(InteractiveState::Disconnected),
        Just(InteractiveState::Listen),
        Just(InteractiveState::Unknown),
        Just(InteractiveState::Connected),
    ];
    (
        text(),
        of(text()),
        of(text()),
        of(text()),
        state,
        of(text()),
        of(text()),
        of(timestamp()),
        of(any::<u64>()),
        of(any::<u32>()),
    )
        .prop_map(
            |(
                session_id,
                station,
                user,
                domain,
                state,
                client_name,
                client_address,
                logon_time,
                idle_secs,
                pid,
            )| {
                InteractiveSession {
                    session_id,
                    station,
                    user,
                    domain,
                    state,
                    client_name,
                    client_address,
                    logon_time,
                    idle_secs,
                    pid,
                }
            },
        )
}

prop_compose! {
    fn scan_connection()(
        user in text(),
        domain in prop::option::of(text()),
        client_address in prop::option::of(text()),
        opened_at in timestamp(),
        closed_at in prop::option::of(timestamp()),
        dialect in prop::option::of(text()),
        signed in any::<bool>(),
        encrypted in any::<bool>(),
    ) -> ScanConnection {
        ScanConnection {
            user, domain, client_address, opened_at, closed_at, dialect, signed, encrypted,
        }
    }
}

prop_compose! {
    fn loaded_profile()(sid in text(), user in of(text()), domain in of(text())) -> LoadedProfile {
        LoadedProfile { sid, user, domain }
    }
}

prop_compose! {
    fn directory_account()(
        sid in of(text()),
        uid in prop::option::of(any::<u32>()),
        sam_account_name in of(text()),
        found in any::<bool>(),
        deleted in any::<bool>(),
        user_account_control in prop::option::of(any::<u32>()),
        lockout_time in prop::option::of(timestamp()),
        account_expires in prop::option::of(timestamp()),
        pwd_last_set in prop::option::of(timestamp()),
        nss in any::<bool>(),
    ) -> DirectoryAccount {
        DirectoryAccount {
            database: if nss { AccountDatabase::Nss } else { AccountDatabase::Ldap },
            sid, uid, sam_account_name, found, deleted, user_account_control,
            lockout_time, account_expires, pwd_last_set,
            ..DirectoryAccount::default()
        }
    }
}

prop_compose! {
    fn coverage_entry()(
        method in text(),
        pipe in text(),
        result in prop_oneof![
            Just(CoverageResult::Ok), Just(CoverageResult::AccessDenied),
            Just(CoverageResult::PipeAbsent), Just(CoverageResult::ServiceStopped),
            Just(CoverageResult::Fault), Just(CoverageResult::NotTried), Just(CoverageResult::Failed),
        ],
        code in prop::option::of(any::<i64>()),
        detail in of(text()),
        setting in of(text()),
    ) -> CoverageEntry {
        CoverageEntry { method, pipe, result, code, detail, setting }
    }
}

// A separate strategy: one flat list of every field overflows the test
// thread's stack in debug builds.
prop_compose! {
    fn remote_extras()(
        loaded_profiles in observed(prop::collection::vec(loaded_profile(), 0..4)),
        coverage in prop::collection::vec(coverage_entry(), 0..3),
        directory_accounts in observed(prop::collection::vec(directory_account(), 0..3)),
    ) -> (Observed<Vec<LoadedProfile>>, Vec<CoverageEntry>, Observed<Vec<DirectoryAccount>>) {
        (loaded_profiles, coverage, directory_accounts)
    }
}

prop_compose! {
    fn snapshot()(
        host in text(),
        platform in prop_oneof![Just(Platform::Windows), Just(Platform::Linux), Just(Platform::Unknown)],
        collected_at in timestamp(),
        collector in text(),
        workstation_users in observed(prop::collection::vec(workstation_user(), 0..4)),
        logon_sessions in observed(prop::collection::vec(logon_session(), 0..4)),
        processes in observed(prop::collection::vec(process(), 0..4)),
        smb_sessions in observed(prop::collection::vec(smb_session(), 0..4)),
        interactive_sessions in observed(prop::collection::vec(interactive(), 0..4)),
        notes in prop::collection::vec(text(), 0..2),
        scan_connection in prop::option::of(scan_connection()),
        (loaded_profiles, coverage, directory_accounts) in remote_extras().boxed(),
    ) -> HostSnapshot {
        HostSnapshot {
            schema_version: SCHEMA_VERSION, host, platform, collected_at, collector,
            workstation_users, logon_sessions, processes, smb_sessions, interactive_sessions, notes,
            scan_connection, loaded_profiles, directory_accounts, coverage,
        }
    }
}

proptest! {
    #[test]
    fn json_round_trip_is_identity(s in snapshot()) {
        let json = snapshot_io::to_json(&s);
        let back = snapshot_io::parse(&json, std::path::Path::new("mem.json")).unwrap();
        prop_assert_eq!(back, s);
    }

    #[test]
    fn analysis_never_panics_and_only_judges_what_it_saw(s in snapshot()) {
        let options = lingerscan::analyze::AnalyzeOptions::for_snapshot(&s);
        let analysis = lingerscan::analyze::analyze(&s, &options);
        for f in &analysis.findings {
            // Evidence rows always point into rows that exist.
            for e in &f.evidence {
                let len = match e.source {
                    Source::WorkstationUsers => s.workstation_users.rows_or_empty().len(),
                    Source::LogonSessions => s.logon_sessions.rows_or_empty().len(),
                    Source::Processes => s.processes.rows_or_empty().len(),
                    Source::SmbSessions => s.smb_sessions.rows_or_empty().len(),
                    Source::InteractiveSessions => s.interactive_sessions.rows_or_empty().len(),
                    Source::LoadedProfiles => s.loaded_profiles.rows_or_empty().len(),
                    Source::DirectoryAccounts => s.directory_accounts.rows_or_empty().len(),
                };
                prop_assert!(e.rows.iter().all(|&r| (r as usize) < len));
            }
            // A lingering verdict that rests on absence needs the absent source to have answered.
            if f.verdict == lingerscan::analyze::Verdict::StaleWksta {
                prop_assert!(s.logon_sessions.is_ok() || s.logon_sessions.failure().is_some_and(|x| x.kind == FailureKind::NotAvailable));
                prop_assert!(s.processes.is_ok() || s.processes.failure().is_some_and(|x| x.kind == FailureKind::NotAvailable));
            }
        }
        let _ = lingerscan::report::text::render(&s, &analysis, Default::default());
    }
}

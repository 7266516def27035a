//! The property mapping (pure) and the choice between the bus and the files.

use super::*;
use crate::collect::linux::logind::LogindUser;
use crate::model::InteractiveState;
use proptest::prelude::*;
use zbus::zvariant::{ObjectPath, Structure};

fn props(pairs: &[(&str, Prop)]) -> BTreeMap<String, Prop> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

fn s(text: &str) -> Prop {
    Prop::Str(text.to_string())
}

/// What logind's GetAll says for an ssh login (the interesting part).
fn ssh_session() -> BTreeMap<String, Prop> {
    props(&[
        ("Id", s("3")),
        ("Name", s("alice")),
        ("User", Prop::U32(1000)),
        ("State", s("active")),
        ("Leader", Prop::U32(1234)),
        ("TTY", s("pts/0")),
        ("Seat", s("")),
        ("Remote", Prop::Bool(true)),
        ("RemoteHost", s("192.0.2.5")),
        ("Service", s("sshd")),
        ("Type", s("tty")),
        ("Class", s("user")),
        ("Timestamp", Prop::U64(1_700_000_000_123_456)),
        ("Scope", s("session-3.scope")),
        ("Active", Prop::Bool(true)),
        ("Audit", Prop::U32(3)),
    ])
}

#[test]
fn properties_map_like_the_session_file() {
    let from_bus = session_from_properties("3", &ssh_session());
    let from_file = crate::collect::linux::logind::parse_session(
        "3",
        "UID=1000\nUSER=alice\nACTIVE=1\nSTATE=active\nREMOTE=1\nTYPE=tty\nCLASS=user\n\
         SCOPE=session-3.scope\nTTY=pts/0\nREMOTE_HOST=192.0.2.5\nSERVICE=sshd\nLEADER=1234\n\
         AUDIT=3\nREALTIME=1700000000123456\n",
    );
    assert_eq!(
        from_bus.to_logon_session(&[]),
        from_file.to_logon_session(&[])
    );
    let row = from_bus.to_interactive(&[], |_| None).unwrap();
    assert_eq!(row.station.as_deref(), Some("pts/0"));
    assert_eq!(row.state, InteractiveState::Active);
}

#[test]
fn wrong_types_and_unset_values_are_absent() {
    let session = session_from_properties(
        "c1",
        &props(&[
            ("Name", Prop::U32(7)),
            ("User", s("1000")),
            ("Leader", Prop::U32(0)),
            ("Timestamp", Prop::U64(0)),
            ("Remote", s("yes")),
            ("Audit", Prop::U32(u32::MAX)),
            ("State", Prop::Other),
        ]),
    );
    let row = session.to_logon_session(&[LogindUser::default()]);
    assert_eq!(row.logon_id, "c1");
    assert_eq!(
        (row.user, row.uid, row.leader_pid, row.start_time, row.state),
        (None, None, None, None, None)
    );
    assert_eq!(row.audit_session, None);
    assert!(!session.fields.contains_key("REMOTE"));
}

#[test]
fn bus_values_reduce_to_props() {
    assert_eq!(prop_of(&Value::from("x")), s("x"));
    assert_eq!(prop_of(&Value::U32(5)), Prop::U32(5));
    assert_eq!(prop_of(&Value::U64(6)), Prop::U64(6));
    assert_eq!(prop_of(&Value::Bool(true)), Prop::Bool(true));
    assert_eq!(prop_of(&Value::I32(-1)), Prop::Other);
    let user = Structure::from((
        1000u32,
        ObjectPath::try_from("/org/freedesktop/login1/user/_1000").unwrap(),
    ));
    assert_eq!(prop_of(&Value::Structure(user)), Prop::U32(1000));
    let seat = Structure::from((
        "seat0",
        ObjectPath::try_from("/org/freedesktop/login1/seat/seat0").unwrap(),
    ));
    assert_eq!(prop_of(&Value::Structure(seat)), s("seat0"));
    let long = "é".repeat(MAX_STRING);
    let Prop::Str(cut) = prop_of(&Value::from(long.as_str())) else {
        panic!("a string");
    };
    assert!(cut.len() <= MAX_STRING && long.starts_with(&cut));
}

#[test]
fn the_bus_is_asked_for_this_machines_logind_only_unless_told() {
    let mut paths = LinuxPaths::default();
    assert!(bus_wanted(&paths).is_ok());
    paths.logind_dir = "/tmp/copied".into();
    assert!(bus_wanted(&paths).unwrap_err().contains("--logind-dir"));
    paths.logind_source = LogindSource::Dbus;
    assert!(bus_wanted(&paths).is_ok());
    paths.logind_source = LogindSource::Files;
    assert!(bus_wanted(&LinuxPaths { ..paths }).is_err());
}

fn file_state(ids: &[&str]) -> LogindState {
    LogindState {
        sessions: ids
            .iter()
            .map(|id| LogindSession {
                id: id.to_string(),
                ..LogindSession::default()
            })
            .collect(),
        ..LogindState::default()
    }
}

#[test]
fn combine_uses_the_bus_notes_disagreement_and_falls_back() {
    let bus = vec![session_from_properties("3", &ssh_session())];
    let mut notes = Vec::new();
    let (state, via_bus) = combine(
        Some(Ok(bus.clone())),
        None,
        LogindSource::Auto,
        Ok(file_state(&["3", "4"])),
        &mut notes,
    );
    assert!(via_bus);
    assert_eq!(state.unwrap().sessions, bus);
    assert!(notes[0].contains("over D-Bus"), "{notes:?}");
    assert!(notes[1].contains("only in the files: [4]"), "{notes:?}");

    let down = SourceFailure::new(FailureKind::NotAvailable, None, "no bus here");
    let mut notes = Vec::new();
    let (state, via_bus) = combine(
        Some(Err(down.clone())),
        None,
        LogindSource::Auto,
        Ok(file_state(&["4"])),
        &mut notes,
    );
    assert!(!via_bus);
    assert_eq!(state.unwrap().sessions.len(), 1);
    assert_eq!(
        notes,
        ["logind: sessions read from its files, not D-Bus: no bus here"]
    );

    let mut notes = Vec::new();
    let (state, _) = combine(
        Some(Err(down)),
        None,
        LogindSource::Dbus,
        Ok(file_state(&["4"])),
        &mut notes,
    );
    assert!(state.is_err(), "--logind-source dbus does not fall back");
}

fn any_prop() -> impl Strategy<Value = Prop> {
    prop_oneof![
        "\\PC{0,600}".prop_map(Prop::Str),
        any::<u32>().prop_map(Prop::U32),
        any::<u64>().prop_map(Prop::U64),
        any::<bool>().prop_map(Prop::Bool),
        Just(Prop::Other),
    ]
}

const NAMES: [&str; 17] = [
    "Id",
    "Name",
    "User",
    "State",
    "Leader",
    "TTY",
    "Seat",
    "Remote",
    "RemoteHost",
    "Service",
    "Type",
    "Class",
    "Timestamp",
    "Scope",
    "Active",
    "Audit",
    "Junk",
];

proptest! {
    #[test]
    fn arbitrary_properties_never_panic(
        id in "\\PC{0,80}",
        values in proptest::collection::vec((0..NAMES.len(), any_prop()), 0..24),
    ) {
        let map: BTreeMap<String, Prop> =
            values.into_iter().map(|(i, v)| (NAMES[i].to_string(), v)).collect();
        let session = session_from_properties(&id, &map);
        prop_assert!(session.fields.values().all(|v| v.len() <= MAX_STRING));
        let _ = session.to_logon_session(&[]);
        let _ = session.to_interactive(&[], |_| Some(1));
    }
}

use std::net::IpAddr;

use proptest::prelude::*;

use super::*;

fn srv_query() -> Query {
    Query {
        id: 0x1234,
        name: "_ldap._tcp.dc._msdcs.samdom.test".into(),
        kind: RecordKind::Srv,
    }
}

fn srv(priority: u16, weight: u16, target: &str) -> SrvRecord {
    SrvRecord {
        priority,
        weight,
        port: 389,
        target: target.into(),
    }
}

fn answer_of(bytes: &[u8], query: &Query) -> Answer {
    match decode_response(bytes, query) {
        Ok(Decoded::Answer(answer)) => answer,
        other => panic!("not an answer: {other:?}"),
    }
}

#[test]
fn query_bytes_are_a_standard_srv_question() {
    let bytes = srv_query().encode(false).unwrap();
    assert_eq!(&bytes[..4], &[0x12, 0x34, 0x01, 0x00]); // RD only
    assert_eq!(&bytes[4..12], &[0, 1, 0, 0, 0, 0, 0, 0]);
    assert!(bytes.ends_with(&[0, 33, 0, 1])); // SRV, IN
    let with_edns = srv_query().encode(true).unwrap();
    assert_eq!(&with_edns[10..12], &[0, 1]); // one OPT record
    // A query is not its own answer.
    assert!(matches!(
        decode_response(&bytes, &srv_query()),
        Err(DnsError::Mismatch(_))
    ));
}

#[test]
fn bad_names_are_not_sent() {
    for name in ["", "a..b", "bad name.test", &"x".repeat(64), "a.b\n"] {
        let query = Query {
            id: 1,
            name: name.into(),
            kind: RecordKind::A,
        };
        assert!(query.encode(true).is_err(), "{name:?}");
    }
}

#[test]
fn srv_answer_with_additional_addresses() {
    let query = srv_query();
    let ip: IpAddr = "127.0.0.200".parse().unwrap();
    let bytes = build_answer(
        &query,
        &[
            srv(0, 100, "dc1.samdom.test"),
            srv(10, 0, "DC2.samdom.test"),
        ],
        &[],
        &[("dc1.samdom.test".into(), ip)],
    )
    .unwrap();
    let answer = answer_of(&bytes, &query);
    assert_eq!(
        answer.srv,
        [
            srv(0, 100, "dc1.samdom.test"),
            srv(10, 0, "dc2.samdom.test")
        ]
    );
    assert_eq!(answer.addresses, [("dc1.samdom.test".to_string(), ip)]);
    // The question's name in other letters is the same question.
    let mut upper = query.clone();
    upper.name = upper.name.to_uppercase();
    assert_eq!(answer_of(&bytes, &upper).srv.len(), 2);
}

#[test]
fn answers_to_other_questions_are_mismatches() {
    let query = srv_query();
    let bytes = build_answer(&query, &[srv(0, 0, "dc1.samdom.test")], &[], &[]).unwrap();
    let mut other_id = query.clone();
    other_id.id = 0x4321;
    let mut other_name = query.clone();
    other_name.name = "_ldap._tcp.samdom.test".into();
    let mut other_kind = query.clone();
    other_kind.kind = RecordKind::A;
    for asked in [other_id, other_name, other_kind] {
        assert!(
            matches!(decode_response(&bytes, &asked), Err(DnsError::Mismatch(_))),
            "{asked:?}"
        );
    }
}

#[test]
fn truncated_answers_ask_for_tcp_whatever_follows() {
    let query = srv_query();
    let mut bytes = build_answer(&query, &[srv(0, 0, "dc1.samdom.test")], &[], &[]).unwrap();
    bytes[2] |= 0x02; // TC
    bytes.truncate(20); // cut inside the question
    assert_eq!(decode_response(&bytes, &query).unwrap(), Decoded::Truncated);
}

#[test]
fn response_codes() {
    let query = srv_query();
    let mut bytes = build_answer(&query, &[], &[], &[]).unwrap();
    bytes[3] = (bytes[3] & 0xf0) | 3; // NXDOMAIN
    assert!(answer_of(&bytes, &query).no_such_name);
    bytes[3] = (bytes[3] & 0xf0) | 2; // SERVFAIL
    assert!(matches!(
        decode_response(&bytes, &query),
        Err(DnsError::ServerError("SERVFAIL"))
    ));
}

/// A response to `query` whose first answer's owner is a compression
/// pointer to itself.
fn pointer_loop(query: &Query) -> Vec<u8> {
    let question = query.encode(false).unwrap();
    let mut bytes = question.clone();
    bytes[2] = 0x81; // QR, RD
    bytes[7] = 1; // one answer
    let at = bytes.len();
    bytes.extend_from_slice(&[0xc0 | (at >> 8) as u8, at as u8]);
    bytes.extend_from_slice(&[0, 33, 0, 1, 0, 0, 0, 60, 0, 6, 0, 0, 0, 0, 0xc0, at as u8]);
    bytes
}

#[test]
fn compression_loops_end_as_malformed() {
    let query = srv_query();
    assert!(matches!(
        decode_response(&pointer_loop(&query), &query),
        Err(DnsError::Malformed(_))
    ));
    // Two names pointing at each other.
    let mut bytes = query.encode(false).unwrap();
    bytes[2] = 0x81;
    bytes[7] = 1;
    let at = bytes.len() as u8;
    bytes.extend_from_slice(&[1, b'a', 0xc0, at + 4, 1, b'b', 0xc0, at]);
    assert!(decode_response(&bytes, &query).is_err());
}

#[test]
fn record_counts_are_bounded_before_parsing() {
    let query = srv_query();
    let mut bytes = build_answer(&query, &[], &[], &[]).unwrap();
    bytes[6] = 0xff;
    bytes[7] = 0xff;
    assert!(matches!(
        decode_response(&bytes, &query),
        Err(DnsError::TooManyRecords { count: 0xffff, .. })
    ));
}

#[test]
fn address_answers_follow_aliases_and_skip_strangers() {
    let query = Query {
        id: 9,
        name: "dc1.samdom.test".into(),
        kind: RecordKind::A,
    };
    let ip: IpAddr = "127.0.0.200".parse().unwrap();
    let bytes = build_answer(
        &query,
        &[],
        &[
            ("dc1.samdom.test".into(), ip),
            ("evil.example".into(), "10.0.0.1".parse().unwrap()),
        ],
        &[],
    )
    .unwrap();
    let answer = answer_of(&bytes, &query);
    assert_eq!(answer.addresses, [("dc1.samdom.test".to_string(), ip)]);
    assert_eq!(answer.ignored, 1);
}

#[test]
fn targets_with_other_characters_are_left_out() {
    let query = srv_query();
    let bytes = build_answer(&query, &[srv(0, 0, "dc1.samdom.test")], &[], &[]).unwrap();
    // Turn the target's "d" of "dc1" into an escape character.
    let at = bytes
        .windows(4)
        .rposition(|w| w == b"\x03dc1")
        .expect("target label");
    let mut hostile = bytes.clone();
    hostile[at + 1] = 0x1b;
    let answer = answer_of(&hostile, &query);
    assert!(answer.srv.is_empty());
    assert_eq!(answer.ignored, 1);
}

fn host_name_strategy() -> impl Strategy<Value = String> {
    proptest::collection::vec("[a-z0-9][a-z0-9-]{0,20}", 1..5).prop_map(|labels| labels.join("."))
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = decode_response(&bytes, &srv_query());
    }

    /// Bytes that pass the ID and QR checks, so the parser itself is reached.
    #[test]
    fn arbitrary_bodies_never_panic(
        body in proptest::collection::vec(any::<u8>(), 0..600),
        counts in proptest::collection::vec(0u8..4, 4),
    ) {
        let query = srv_query();
        let mut bytes = vec![0x12, 0x34, 0x81, 0x80];
        for count in counts {
            bytes.extend_from_slice(&[0, count]);
        }
        bytes.extend_from_slice(&body);
        let _ = decode_response(&bytes, &query);
        // And after a well-formed question.
        let mut with_question = query.encode(false).unwrap();
        with_question[2] = 0x81;
        with_question[7] = 2;
        with_question.extend_from_slice(&body);
        let _ = decode_response(&with_question, &query);
    }

    #[test]
    fn built_answers_decode_to_what_was_built(
        records in proptest::collection::vec(
            (any::<u16>(), any::<u16>(), any::<u16>(), host_name_strategy()), 0..20),
        addresses in proptest::collection::vec((host_name_strategy(), any::<[u8; 4]>()), 0..10),
    ) {
        let query = srv_query();
        let srv: Vec<SrvRecord> = records
            .into_iter()
            .map(|(priority, weight, port, target)| SrvRecord { priority, weight, port, target })
            .collect();
        let additional: Vec<(String, IpAddr)> = addresses
            .into_iter()
            .map(|(name, ip)| (name, IpAddr::from(ip)))
            .collect();
        let bytes = build_answer(&query, &srv, &[], &additional).unwrap();
        let answer = answer_of(&bytes, &query);
        prop_assert_eq!(answer.srv, srv);
        prop_assert_eq!(answer.addresses, additional);
        prop_assert_eq!(answer.ignored, 0);
    }
}

use super::*;
use crate::collect::msrpc::test_pipe::{self, Canned};
use proptest::prelude::*;

fn sid(text: &str) -> Sid {
    text.parse().unwrap()
}

#[test]
fn open_policy2_has_the_ms_lsad_layout() {
    let stub = encode_open_policy2(POLICY_LOOKUP_NAMES);
    assert_eq!(stub.len(), 4 + 24 + 4);
    assert_eq!(&stub[4..8], &24u32.to_le_bytes());
    assert_eq!(&stub[28..32], &0x800u32.to_le_bytes());
}

#[test]
fn lookup_request_carries_each_sid_once() {
    let sids = [sid("S-1-5-21-1-2-3-1001"), sid("S-1-5-32-544")];
    let stub = encode_lookup_sids2(&[9; 20], &sids);
    // handle, Entries, ptr, conformance, 2 ptrs, SIDs (4+8+4n), names {0, NULL},
    // level (2 + 2 pad), mapped, options, revision.
    let sid_bytes = (4 + 8 + 20) + (4 + 8 + 8);
    assert_eq!(stub.len(), 20 + 4 + 4 + 4 + 8 + sid_bytes + 8 + 4 + 12);
    assert_eq!(&stub[stub.len() - 4..], &1u32.to_le_bytes());
    assert_eq!(
        encode_lookup_sids2(&[0; 20], &[]).len(),
        20 + 8 + 8 + 4 + 12
    );
}

fn domain_sid() -> Sid {
    sid("S-1-5-21-1-2-3")
}

#[test]
fn names_decode_with_their_domains_and_unknowns_stay_unnamed() {
    let stub = encode_lookup_sids2_reply(
        &[("LSMSRPCSRV", domain_sid()), ("BUILTIN", sid("S-1-5-32"))],
        &[
            (1, Some("alice"), 0),
            (8, Some("S-1-5-21-1-2-3-4242"), -1),
            (4, Some("Administrators"), 1),
        ],
        2,
        STATUS_SOME_NOT_MAPPED,
    );
    let reply = decode_lookup_sids2(&stub, 3).unwrap();
    assert_eq!(reply.status, STATUS_SOME_NOT_MAPPED);
    assert_eq!(reply.mapped_count, 2);
    let sids = [
        sid("S-1-5-21-1-2-3-1001"),
        sid("S-1-5-21-1-2-3-4242"),
        sid("S-1-5-32-544"),
    ];
    let named = names_from(&sids, &reply);
    assert_eq!(named[0].domain.as_deref(), Some("LSMSRPCSRV"));
    assert_eq!(named[0].name.as_deref(), Some("alice"));
    assert_eq!(named[0].use_, 1);
    assert_eq!(
        (named[1].domain.clone(), named[1].name.clone()),
        (None, None)
    );
    assert_eq!(named[2].domain.as_deref(), Some("BUILTIN"));
    assert_eq!(named[2].name.as_deref(), Some("Administrators"));
}

#[test]
fn more_names_than_sids_asked_is_refused() {
    let stub = encode_lookup_sids2_reply(&[], &[(1, Some("a"), -1), (1, Some("b"), -1)], 2, 0);
    assert!(decode_lookup_sids2(&stub, 1).is_err());
    assert!(decode_lookup_sids2(&stub, 2).is_ok());
}

#[test]
fn a_domain_index_out_of_range_names_no_domain() {
    let stub = encode_lookup_sids2_reply(&[("D", domain_sid())], &[(1, Some("x"), 7)], 1, 0);
    let reply = decode_lookup_sids2(&stub, 1).unwrap();
    let named = names_from(&[sid("S-1-5-21-1-2-3-5")], &reply);
    assert_eq!(
        (named[0].domain.clone(), named[0].name.as_deref()),
        (None, Some("x"))
    );
}

fn client(answers: Vec<Vec<u8>>) -> RpcClient<Canned> {
    test_pipe::client(&INTERFACE, answers)
}

fn handle_reply(status: u32) -> Vec<u8> {
    let mut stub = vec![3u8; 20];
    stub.extend_from_slice(&status.to_le_bytes());
    stub
}

#[test]
fn sids_go_in_batches_on_one_handle_which_is_closed() {
    let sids: Vec<Sid> = (0..2500)
        .map(|rid| sid(&format!("S-1-5-21-1-2-3-{rid}")))
        .collect();
    let batch_reply = |n: usize| {
        let names: Vec<(u16, Option<&str>, i32)> = (0..n).map(|_| (1, Some("u"), 0)).collect();
        encode_lookup_sids2_reply(&[("D", domain_sid())], &names, n as u32, 0)
    };
    let mut rpc = client(vec![
        handle_reply(0),
        batch_reply(1000),
        batch_reply(1000),
        // Nobody named in the last batch: an answer, not a failure.
        encode_lookup_sids2_reply(&[], &[], 0, STATUS_NONE_MAPPED),
        handle_reply(0),
    ]);
    let named = lookup_sids(&mut rpc, &sids).unwrap();
    assert_eq!(named.len(), 2500);
    assert!(named[..2000].iter().all(|n| n.name.as_deref() == Some("u")));
    assert!(named[2000..].iter().all(|n| n.name.is_none()));
    assert_eq!(named[2400].sid, sids[2400]);
    let pipe = rpc.into_transport();
    assert_eq!(pipe.opnums(), [44, 57, 57, 57, 0]);
    // SidEnumBuffer.Entries follows the 20-byte handle.
    let entries: Vec<&[u8]> = pipe.calls[1..4]
        .iter()
        .map(|(_, stub)| &stub[20..24])
        .collect();
    assert_eq!(
        entries,
        [
            &1000u32.to_le_bytes(),
            &1000u32.to_le_bytes(),
            &500u32.to_le_bytes()
        ]
    );
}

#[test]
fn a_refused_policy_is_access_denied() {
    let mut rpc = client(vec![handle_reply(0xC000_0022)]);
    let err = lookup_sids(&mut rpc, &[domain_sid()]).unwrap_err();
    assert_eq!(err.kind(), crate::model::FailureKind::AccessDenied);
    assert!(err.to_string().contains("STATUS_ACCESS_DENIED"), "{err}");
}

#[test]
fn another_lookup_failure_fails_the_lookup_and_still_closes() {
    let mut rpc = client(vec![
        handle_reply(0),
        encode_lookup_sids2_reply(&[], &[], 0, 0xC000_000D),
        handle_reply(0),
    ]);
    let err = lookup_sids(&mut rpc, &[domain_sid()]).unwrap_err();
    assert!(matches!(
        err,
        RemoteError::NtStatus {
            status: 0xC000_000D,
            ..
        }
    ));
    assert_eq!(rpc.into_transport().opnums(), [44, 57, 0]);
}

proptest! {
    #[test]
    fn lookup_decoder_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400), expected in 0usize..2000) {
        if let Ok(reply) = decode_lookup_sids2(&bytes, expected) {
            prop_assert!(reply.names.len() <= expected);
            prop_assert!(reply.domains.len() * 12 <= bytes.len());
        }
        let _ = decode_handle_reply(&bytes);
    }

    #[test]
    fn any_reply_round_trips(
        names in proptest::collection::vec((1u16..12, proptest::option::of("[a-z]{1,20}"), -1i32..3), 0..20),
    ) {
        let domains = [("A", sid("S-1-5-21-1-2-3")), ("BUILTIN", sid("S-1-5-32"))];
        let names_ref: Vec<(u16, Option<&str>, i32)> =
            names.iter().map(|(u, n, i)| (*u, n.as_deref(), *i)).collect();
        let stub = encode_lookup_sids2_reply(&domains, &names_ref, 1, 0);
        let reply = decode_lookup_sids2(&stub, names.len()).unwrap();
        prop_assert_eq!(reply.domains, vec![Some("A".to_string()), Some("BUILTIN".to_string())]);
        prop_assert_eq!(reply.names.len(), names.len());
        for (got, (use_, name, index)) in reply.names.iter().zip(&names) {
            prop_assert_eq!(got.use_, *use_);
            prop_assert_eq!(got.name.as_deref(), name.as_deref());
            prop_assert_eq!(got.domain_index, *index);
        }
    }
}

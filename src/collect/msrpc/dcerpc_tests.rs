use std::collections::VecDeque;
use std::time::Duration;

use proptest::prelude::*;

use super::*;

/// Server-side encoding of a RESPONSE fragment, for building test input.
fn response_pdu(call_id: u32, flags: u8, stub: &[u8]) -> Vec<u8> {
    let mut pdu = Vec::new();
    put_header(&mut pdu, PTYPE_RESPONSE, flags, call_id);
    pdu.put_u32(stub.len() as u32);
    pdu.put_u16(0);
    pdu.extend_from_slice(&[0, 0]);
    pdu.extend_from_slice(stub);
    finish(pdu)
}

fn bind_ack(call_id: u32, max_recv: u16, result: u16) -> Vec<u8> {
    let mut pdu = Vec::new();
    put_header(
        &mut pdu,
        PTYPE_BIND_ACK,
        PFC_FIRST_FRAG | PFC_LAST_FRAG,
        call_id,
    );
    pdu.put_u16(4280);
    pdu.put_u16(max_recv);
    pdu.put_u32(0x1234);
    pdu.put_u16(13);
    pdu.extend_from_slice(b"\\PIPE\\wkssvc\0");
    pdu.pad_to(4);
    pdu.extend_from_slice(&[1, 0, 0, 0]);
    pdu.put_u16(result);
    pdu.put_u16(if result == 0 { 0 } else { 1 });
    put_syntax(&mut pdu, &NDR20);
    finish(pdu)
}

fn fault(call_id: u32, status: u32) -> Vec<u8> {
    let mut pdu = Vec::new();
    put_header(
        &mut pdu,
        PTYPE_FAULT,
        PFC_FIRST_FRAG | PFC_LAST_FRAG,
        call_id,
    );
    pdu.put_u32(0);
    pdu.put_u16(0);
    pdu.extend_from_slice(&[0, 0]);
    pdu.put_u32(status);
    pdu.put_u32(0);
    finish(pdu)
}

/// Plays back prepared pipe messages and records what the client wrote.
#[derive(Default)]
struct Scripted {
    written: Vec<Vec<u8>>,
    replies: VecDeque<Vec<u8>>,
    deadline: Option<Instant>,
}

impl PipeTransport for &mut Scripted {
    fn transceive(&mut self, data: &[u8]) -> Result<Vec<u8>, RemoteError> {
        self.written.push(data.to_vec());
        self.read()
    }
    fn write(&mut self, data: &[u8]) -> Result<(), RemoteError> {
        self.written.push(data.to_vec());
        Ok(())
    }
    fn read(&mut self) -> Result<Vec<u8>, RemoteError> {
        Ok(self.replies.pop_front().unwrap_or_default())
    }
    fn deadline(&self) -> Option<Instant> {
        self.deadline
    }
}

const WKSSVC: Interface = Interface {
    name: "wkssvc",
    syntax: SyntaxId {
        uuid: uuid("6bffd098-a112-3610-9833-46c3f87e345a"),
        major: 1,
        minor: 0,
    },
};

#[test]
fn uuid_is_in_ndr_byte_order() {
    assert_eq!(
        NDR20.uuid,
        [
            0x04, 0x5d, 0x88, 0x8a, 0xeb, 0x1c, 0xc9, 0x11, 0x9f, 0xe8, 0x08, 0x00, 0x2b, 0x10,
            0x48, 0x60
        ]
    );
}

#[test]
fn bind_pdu_layout() {
    let pdu = bind_pdu(1, 4280, &WKSSVC.syntax);
    assert_eq!(pdu.len(), 72);
    assert_eq!(u16::from_le_bytes([pdu[8], pdu[9]]), 72);
    assert_eq!(pdu[2], PTYPE_BIND);
    assert_eq!(&pdu[32..48], &WKSSVC.syntax.uuid);
    assert_eq!(&pdu[52..68], &NDR20.uuid);
}

#[test]
fn call_reassembles_fragments_split_across_pipe_reads() {
    let mut pipe = Scripted::default();
    pipe.replies.push_back(bind_ack(1, 2000, 0));
    let one = response_pdu(2, PFC_FIRST_FRAG, &[1; 1000]);
    let two = response_pdu(2, 0, &[2; 1000]);
    let three = response_pdu(2, PFC_LAST_FRAG, &[3; 10]);
    // Boundaries of pipe messages need not match fragments.
    let all = [one, two, three].concat();
    pipe.replies.push_back(all[..700].to_vec());
    pipe.replies.push_back(all[700..1500].to_vec());
    pipe.replies.push_back(all[1500..].to_vec());
    let mut client = RpcClient::bind(&mut pipe, &WKSSVC, 4280).unwrap();
    assert_eq!(client.max_xmit, 2000);
    let stub = client.call(2, &[0xAA; 5000]).unwrap();
    assert_eq!(stub.len(), 2010);
    assert!(stub[..1000].iter().all(|&b| b == 1) && stub[1000..2000].iter().all(|&b| b == 2));
    drop(client);
    // Request went out in fragments no longer than the negotiated 2000 bytes.
    let request: Vec<_> = pipe.written[1..].to_vec();
    assert_eq!(request.len(), 3);
    assert!(request.iter().all(|f| f.len() <= 2000));
    assert_eq!(request[0][3], PFC_FIRST_FRAG);
    assert_eq!(request[1][3], 0);
    assert_eq!(request[2][3], PFC_LAST_FRAG);
    let carried: usize = request.iter().map(|f| f.len() - 24).sum();
    assert_eq!(carried, 5000);
}

#[test]
fn a_started_call_writes_all_but_its_last_fragment_and_completes_from_the_reply() {
    let mut pipe = Scripted::default();
    pipe.replies.push_back(bind_ack(1, 2000, 0));
    // The reply handed in carries the first fragment; the rest is read from the pipe.
    pipe.replies
        .push_back(response_pdu(2, PFC_LAST_FRAG, &[7; 30]));
    let mut client = RpcClient::bind(&mut pipe, &WKSSVC, 4280).unwrap();
    let started = client.start_call(2, &[0xAA; 3000]).unwrap();
    assert_eq!(started.call_id, 2);
    assert_eq!(started.last_fragment[3], PFC_LAST_FRAG);
    let reply = response_pdu(2, PFC_FIRST_FRAG, &[6; 20]);
    let stub = client.complete_call(started.call_id, reply).unwrap();
    assert_eq!(stub, [[6; 20].as_slice(), &[7; 30]].concat());
    // The next call gets the next call id.
    assert_eq!(client.start_call(2, &[]).unwrap().call_id, 3);
    drop(client);
    // Bind, then only the first of the two request fragments: the last was handed back.
    assert_eq!(pipe.written.len(), 2);
    assert_eq!(pipe.written[1][3], PFC_FIRST_FRAG);
    let carried = pipe.written[1].len() - 24 + started.last_fragment.len() - 24;
    assert_eq!(carried, 3000);
}

#[test]
fn a_completed_call_rejects_an_answer_to_another_call() {
    let mut pipe = Scripted::default();
    pipe.replies.push_back(bind_ack(1, 4280, 0));
    let mut client = RpcClient::bind(&mut pipe, &WKSSVC, 4280).unwrap();
    let started = client.start_call(2, &[1, 2, 3, 4]).unwrap();
    let wrong = response_pdu(started.call_id + 1, PFC_FIRST_FRAG | PFC_LAST_FRAG, &[0; 4]);
    assert!(matches!(
        client.complete_call(started.call_id, wrong),
        Err(RemoteError::Decode(_))
    ));
}

#[test]
fn fault_and_rejection_are_errors_with_codes() {
    let mut pipe = Scripted::default();
    pipe.replies.push_back(bind_ack(1, 4280, 0));
    pipe.replies.push_back(fault(2, 0x1C01_0002));
    let mut client = RpcClient::bind(&mut pipe, &WKSSVC, 4280).unwrap();
    match client.call(99, &[]) {
        Err(RemoteError::Fault { status }) => assert_eq!(status, 0x1C01_0002),
        other => panic!("expected fault, got {other:?}"),
    }

    let mut pipe = Scripted::default();
    pipe.replies.push_back(bind_ack(1, 4280, 2));
    assert!(matches!(
        RpcClient::bind(&mut pipe, &WKSSVC, 4280),
        Err(RemoteError::BindRejected { .. })
    ));
}

#[test]
fn truncated_and_bogus_pdus_are_rejected() {
    let pdu = response_pdu(2, 3, &[1, 2, 3]);
    assert!(parse_pdu(&pdu[..pdu.len() - 1]).is_err());
    let mut bad = pdu.clone();
    bad[8] = 4; // frag_length below header
    assert!(complete_pdu_len(&bad).is_err());
    let mut auth = pdu.clone();
    auth[10] = 200; // auth_length beyond the fragment
    assert!(parse_pdu(&auth).is_err());
}

/// `count` copies of `fragment` in one pipe message.
fn repeated(fragment: &[u8], count: usize) -> Vec<u8> {
    let mut message = Vec::with_capacity(fragment.len() * count);
    for _ in 0..count {
        message.extend_from_slice(fragment);
    }
    message
}

/// The tester's fragment flood: one 8 MiB pipe message of 349,000 empty
/// fragments, none of them the last. Removing each fragment from the front
/// of the buffer made this take 65 s (release build); reading at an offset
/// and capping fragments per call ends it at once.
#[test]
fn a_message_of_empty_fragments_ends_at_the_fragment_cap_at_once() {
    let mut pipe = Scripted::default();
    pipe.replies.push_back(bind_ack(1, 4280, 0));
    pipe.replies
        .push_back(repeated(&response_pdu(2, 0, &[]), 349_000));
    let mut client = RpcClient::bind(&mut pipe, &WKSSVC, 4280).unwrap();
    let started = Instant::now();
    let err = client.call(2, &[0; 8]).unwrap_err();
    let took = started.elapsed();
    eprintln!("349,000 empty fragments in one message: {err} after {took:?}");
    assert!(
        matches!(&err, RemoteError::Limit { limit } if limit.contains("fragments")),
        "{err}"
    );
    assert!(took < Duration::from_secs(2), "{took:?}");
}

/// Reassembly of a whole MAX_STUB response in small fragments, all in one
/// message: linear, so well under a second even in a debug build.
#[test]
fn a_large_response_in_small_fragments_reassembles_in_linear_time() {
    let per = usize::from(MIN_FRAG) - 24;
    let fragments = MAX_STUB / per;
    let mut message = Vec::with_capacity(fragments * usize::from(MIN_FRAG));
    for i in 0..fragments {
        let flags = if i + 1 == fragments { PFC_LAST_FRAG } else { 0 };
        message.extend_from_slice(&response_pdu(2, flags, &vec![(i % 251) as u8; per]));
    }
    let mut pipe = Scripted::default();
    pipe.replies.push_back(bind_ack(1, 4280, 0));
    pipe.replies.push_back(message);
    let mut client = RpcClient::bind(&mut pipe, &WKSSVC, 4280).unwrap();
    let started = Instant::now();
    let stub = client.call(2, &[0; 8]).unwrap();
    let took = started.elapsed();
    eprintln!(
        "{fragments} fragments, {} stub bytes reassembled in {took:?}",
        stub.len()
    );
    assert_eq!(stub.len(), fragments * per);
    assert_eq!(stub[per * 7], 7);
    assert!(took < Duration::from_secs(3), "{took:?}");
}

#[test]
fn a_response_past_the_stub_limit_is_refused() {
    let fragment = response_pdu(2, 0, &[0x41; 4256]);
    let mut pipe = Scripted::default();
    pipe.replies.push_back(bind_ack(1, 4280, 0));
    // 16 MiB / 4256 bytes is 3,942 fragments: 4,000 pass the limit.
    pipe.replies.push_back(repeated(&fragment, 4_000));
    let mut client = RpcClient::bind(&mut pipe, &WKSSVC, 4280).unwrap();
    let err = client.call(2, &[0; 8]).unwrap_err();
    assert!(
        matches!(&err, RemoteError::Limit { limit } if limit.contains("16 MiB")),
        "{err}"
    );
}

/// The deadline is checked between fragments already received, not only
/// while waiting on the pipe.
#[test]
fn reassembly_checks_the_deadline_between_received_fragments() {
    let mut pipe = Scripted::default();
    pipe.replies.push_back(bind_ack(1, 4280, 0));
    pipe.replies
        .push_back(repeated(&response_pdu(2, 0, &[1; 8]), 1_000));
    let mut client = RpcClient::bind(&mut pipe, &WKSSVC, 4280).unwrap();
    client.transport.deadline = Some(Instant::now());
    let err = client.call(2, &[0; 8]).unwrap_err();
    assert!(matches!(err, RemoteError::Timeout { .. }), "{err}");
}

proptest! {
    #[test]
    fn request_fragments_carry_the_stub_in_order(stub in proptest::collection::vec(any::<u8>(), 0..12_000), max in 1432u16..6000) {
        let fragments = request_fragments(7, 12, &stub, max);
        let mut carried = Vec::new();
        for (i, f) in fragments.iter().enumerate() {
            prop_assert!(f.len() <= usize::from(max));
            prop_assert_eq!(usize::from(u16::from_le_bytes([f[8], f[9]])), f.len());
            prop_assert_eq!(f[3] & PFC_FIRST_FRAG != 0, i == 0);
            prop_assert_eq!(f[3] & PFC_LAST_FRAG != 0, i == fragments.len() - 1);
            carried.extend_from_slice(&f[24..]);
        }
        prop_assert_eq!(carried, stub);
    }

    #[test]
    fn response_decode_of_encode(stub in proptest::collection::vec(any::<u8>(), 0..4000), call_id: u32, flags in 0u8..4) {
        let pdu = response_pdu(call_id, flags, &stub);
        prop_assert_eq!(complete_pdu_len(&pdu).unwrap(), Some(pdu.len()));
        prop_assert_eq!(parse_pdu(&pdu).unwrap(), Pdu::Response { call_id, flags, stub: &stub });
    }

    #[test]
    fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = complete_pdu_len(&bytes);
        let _ = parse_pdu(&bytes);
    }

    /// Whatever fragment sizes the server picks and wherever the pipe
    /// splits its messages, the stub comes out whole and in order.
    #[test]
    fn reassembly_is_independent_of_fragment_and_message_boundaries(
        stub in proptest::collection::vec(any::<u8>(), 0..20_000),
        sizes in proptest::collection::vec(0usize..3000, 1..40),
        cuts in proptest::collection::vec(1usize..5000, 0..20),
    ) {
        let mut stream = Vec::new();
        let mut rest = &stub[..];
        for (i, &size) in sizes.iter().cycle().enumerate() {
            let last = rest.len() <= size || i > 10_000;
            let take = if last { rest.len() } else { size };
            let (part, tail) = rest.split_at(take);
            stream.extend_from_slice(&response_pdu(2, if last { PFC_LAST_FRAG } else { 0 }, part));
            rest = tail;
            if last {
                break;
            }
        }
        let mut pipe = Scripted::default();
        pipe.replies.push_back(bind_ack(1, 4280, 0));
        let mut at = 0;
        for cut in cuts {
            let end = (at + cut).min(stream.len());
            pipe.replies.push_back(stream[at..end].to_vec());
            at = end;
        }
        pipe.replies.push_back(stream[at..].to_vec());
        let mut client = RpcClient::bind(&mut pipe, &WKSSVC, 4280).unwrap();
        prop_assert_eq!(client.call(2, &[0; 8]).unwrap(), stub);
    }
}

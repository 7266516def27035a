//! Response reassembly as a scan runs it: after an accepted bind, whatever
//! the pipe delivers, in pieces the input chooses, must end in a stub or an
//! error (never a panic, a hang or unbounded memory).
#![no_main]

use libfuzzer_sys::fuzz_target;
use lingerscan::collect::msrpc::RemoteError;
use lingerscan::collect::msrpc::dcerpc::{PipeTransport, RpcClient};
use lingerscan::collect::msrpc::wkssvc;

/// A bind_ack accepting context 0 with NDR 2.0, max fragments 4280.
fn bind_ack() -> Vec<u8> {
    let mut pdu = vec![5, 0, 12, 3, 0x10, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0];
    pdu.extend_from_slice(&4280u16.to_le_bytes());
    pdu.extend_from_slice(&4280u16.to_le_bytes());
    pdu.extend_from_slice(&[0x34, 0x12, 0, 0]);
    pdu.extend_from_slice(&2u16.to_le_bytes());
    pdu.extend_from_slice(b"x\0"); // ends at offset 28: aligned
    pdu.extend_from_slice(&[1, 0, 0, 0]); // one result
    pdu.extend_from_slice(&[0, 0, 0, 0]); // acceptance, reason 0
    pdu.extend_from_slice(&[0x04, 0x5d, 0x88, 0x8a, 0xeb, 0x1c, 0xc9, 0x11]);
    pdu.extend_from_slice(&[0x9f, 0xe8, 0x08, 0x00, 0x2b, 0x10, 0x48, 0x60, 2, 0, 0, 0]);
    let len = pdu.len() as u16;
    pdu[8..10].copy_from_slice(&len.to_le_bytes());
    pdu
}

/// Serves the input as pipe reads: each first byte says how long the next read is.
struct Pipe<'a> {
    rest: &'a [u8],
}

impl PipeTransport for Pipe<'_> {
    fn transceive(&mut self, _data: &[u8]) -> Result<Vec<u8>, RemoteError> {
        self.read()
    }
    fn write(&mut self, _data: &[u8]) -> Result<(), RemoteError> {
        Ok(())
    }
    fn read(&mut self) -> Result<Vec<u8>, RemoteError> {
        let Some((&len, rest)) = self.rest.split_first() else {
            return Ok(Vec::new());
        };
        let take = (usize::from(len) * 64).min(rest.len());
        let (chunk, rest) = rest.split_at(take);
        self.rest = rest;
        Ok(chunk.to_vec())
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(mut rpc) =
        RpcClient::from_bind_reply(Pipe { rest: data }, &wkssvc::INTERFACE, 4280, bind_ack())
    else {
        return;
    };
    let _ = rpc.call(wkssvc::OPNUM_USER_ENUM, &[0; 8]);
});

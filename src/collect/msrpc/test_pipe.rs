//! A pipe for unit tests of the RPC callers (winreg, lsarpc): it answers
//! each call with the next canned stub and records what was asked.

use std::collections::VecDeque;

use super::dcerpc::{Interface, PFC_FIRST_FRAG, PFC_LAST_FRAG, PTYPE_BIND_ACK, PTYPE_RESPONSE};
use super::dcerpc::{PipeTransport, RpcClient};
use super::error::RemoteError;

pub struct Canned {
    answers: VecDeque<Vec<u8>>,
    /// (opnum, request stub) of each call, in order.
    pub calls: Vec<(u16, Vec<u8>)>,
    /// Stub bytes of the fragments written before a call's last one.
    written: Vec<u8>,
}

impl Canned {
    pub fn opnums(&self) -> Vec<u16> {
        self.calls.iter().map(|(opnum, _)| *opnum).collect()
    }
}

fn response_pdu(call_id: u32, stub: &[u8]) -> Vec<u8> {
    let mut pdu = vec![
        5,
        0,
        PTYPE_RESPONSE,
        PFC_FIRST_FRAG | PFC_LAST_FRAG,
        0x10,
        0,
        0,
        0,
    ];
    pdu.extend_from_slice(&((24 + stub.len()) as u16).to_le_bytes());
    pdu.extend_from_slice(&[0, 0]);
    pdu.extend_from_slice(&call_id.to_le_bytes());
    pdu.extend_from_slice(&(stub.len() as u32).to_le_bytes());
    pdu.extend_from_slice(&[0, 0, 0, 0]);
    pdu.extend_from_slice(stub);
    pdu
}

/// A BIND_ACK accepting the one context offered.
fn bind_ack() -> Vec<u8> {
    let mut pdu = vec![
        5,
        0,
        PTYPE_BIND_ACK,
        3,
        0x10,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        1,
        0,
        0,
        0,
    ];
    pdu.extend_from_slice(&[0xB8, 0x10, 0xB8, 0x10, 0, 0, 0, 0]);
    pdu.extend_from_slice(&[0, 0, 0, 0]); // empty secondary address, aligned
    pdu.extend_from_slice(&[1, 0, 0, 0, 0, 0, 0, 0]); // one result: acceptance
    pdu.extend_from_slice(&[0; 20]);
    let len = pdu.len() as u16;
    pdu[8..10].copy_from_slice(&len.to_le_bytes());
    pdu
}

impl PipeTransport for Canned {
    fn transceive(&mut self, data: &[u8]) -> Result<Vec<u8>, RemoteError> {
        let call_id = u32::from_le_bytes([data[12], data[13], data[14], data[15]]);
        let opnum = u16::from_le_bytes([data[22], data[23]]);
        let mut stub = std::mem::take(&mut self.written);
        stub.extend_from_slice(&data[24..]);
        self.calls.push((opnum, stub));
        let stub = self.answers.pop_front().expect("a canned answer");
        Ok(response_pdu(call_id, &stub))
    }
    fn write(&mut self, data: &[u8]) -> Result<(), RemoteError> {
        self.written.extend_from_slice(&data[24..]);
        Ok(())
    }
    fn read(&mut self) -> Result<Vec<u8>, RemoteError> {
        Err(RemoteError::Timeout { during: "test" })
    }
}

/// A client bound to `interface` whose calls get `answers` in order.
pub fn client(interface: &Interface, answers: Vec<Vec<u8>>) -> RpcClient<Canned> {
    let pipe = Canned {
        answers: answers.into(),
        calls: Vec::new(),
        written: Vec::new(),
    };
    RpcClient::from_bind_reply(pipe, interface, 4280, bind_ack()).expect("bound")
}

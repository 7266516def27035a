//! Connection-oriented DCE/RPC (MS-RPCE, C706 ch. 12) over a named pipe:
//! bind with NDR 2.0, request/response with fragmentation both ways, faults.
//! PDU encoding and parsing are pure; [`RpcClient`] drives a [`PipeTransport`].

use std::time::Instant;

use super::error::RemoteError;
use super::wire::{DecodeError, PutLe, Reader};

pub const PTYPE_REQUEST: u8 = 0;
pub const PTYPE_RESPONSE: u8 = 2;
pub const PTYPE_FAULT: u8 = 3;
pub const PTYPE_BIND: u8 = 11;
pub const PTYPE_BIND_ACK: u8 = 12;
pub const PTYPE_BIND_NAK: u8 = 13;

pub const PFC_FIRST_FRAG: u8 = 0x01;
pub const PFC_LAST_FRAG: u8 = 0x02;

pub const HEADER_LEN: usize = 16;
const REQUEST_HEADER_LEN: usize = 24;
/// The smallest fragment MS-RPCE lets a peer negotiate.
pub const MIN_FRAG: u16 = 1432;
/// What Windows clients offer.
pub const DEFAULT_FRAG: u16 = 4280;
/// Bound on a reassembled response (the lists here are far smaller).
pub const MAX_STUB: usize = 16 * 1024 * 1024;
/// Bound on the fragments of one response. Every fragment but the last
/// carries at least MIN_FRAG - 24 stub bytes from a conforming server, so a
/// MAX_STUB response needs under 12,000; a peer sending empty fragments
/// meets this after a few hundred kilobytes.
pub const MAX_FRAGMENTS: usize = 16_384;

/// An RPC interface or transfer syntax: UUID (in wire byte order) and version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyntaxId {
    pub uuid: [u8; 16],
    pub major: u16,
    pub minor: u16,
}

/// Parse `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` into the NDR (little-endian fields) byte order.
pub const fn uuid(text: &str) -> [u8; 16] {
    const fn nibble(c: u8) -> u8 {
        match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            b'A'..=b'F' => c - b'A' + 10,
            _ => panic!("bad hex digit in UUID literal"),
        }
    }
    let s = text.as_bytes();
    assert!(s.len() == 36, "UUID literal must have 36 characters");
    let mut raw = [0u8; 16];
    let mut i = 0;
    let mut j = 0;
    while i < 36 {
        if s[i] == b'-' {
            i += 1;
            continue;
        }
        raw[j] = nibble(s[i]) << 4 | nibble(s[i + 1]);
        j += 1;
        i += 2;
    }
    // time_low, time_mid, time_hi are little-endian on the wire.
    [
        raw[3], raw[2], raw[1], raw[0], raw[5], raw[4], raw[7], raw[6], raw[8], raw[9], raw[10],
        raw[11], raw[12], raw[13], raw[14], raw[15],
    ]
}

pub const NDR20: SyntaxId = SyntaxId {
    uuid: uuid("8a885d04-1ceb-11c9-9fe8-08002b104860"),
    major: 2,
    minor: 0,
};

/// A named interface to bind to.
#[derive(Debug, Clone, Copy)]
pub struct Interface {
    pub name: &'static str,
    pub syntax: SyntaxId,
}

fn put_header(out: &mut Vec<u8>, ptype: u8, flags: u8, call_id: u32) {
    out.extend_from_slice(&[5, 0, ptype, flags, 0x10, 0, 0, 0]);
    out.put_u16(0); // frag_length, patched by finish()
    out.put_u16(0); // auth_length
    out.put_u32(call_id);
}

fn finish(mut pdu: Vec<u8>) -> Vec<u8> {
    let len = u16::try_from(pdu.len()).unwrap_or(u16::MAX);
    pdu.set_u16(8, len);
    pdu
}

fn put_syntax(out: &mut Vec<u8>, syntax: &SyntaxId) {
    out.extend_from_slice(&syntax.uuid);
    out.put_u16(syntax.major);
    out.put_u16(syntax.minor);
}

/// BIND offering one presentation context (id 0): `interface` over NDR 2.0.
pub fn bind_pdu(call_id: u32, max_frag: u16, interface: &SyntaxId) -> Vec<u8> {
    let mut pdu = Vec::with_capacity(72);
    put_header(
        &mut pdu,
        PTYPE_BIND,
        PFC_FIRST_FRAG | PFC_LAST_FRAG,
        call_id,
    );
    pdu.put_u16(max_frag); // max_xmit_frag
    pdu.put_u16(max_frag); // max_recv_frag
    pdu.put_u32(0); // assoc_group_id: new
    pdu.extend_from_slice(&[1, 0, 0, 0]); // one context element
    pdu.put_u16(0); // p_cont_id
    pdu.extend_from_slice(&[1, 0]); // one transfer syntax
    put_syntax(&mut pdu, interface);
    put_syntax(&mut pdu, &NDR20);
    finish(pdu)
}

/// REQUEST fragments carrying `stub`, none longer than `max_xmit`.
pub fn request_fragments(call_id: u32, opnum: u16, stub: &[u8], max_xmit: u16) -> Vec<Vec<u8>> {
    // Stub bytes per fragment: a multiple of 8 keeps NDR alignment obvious to peers.
    let per_fragment = (usize::from(max_xmit.max(MIN_FRAG)) - REQUEST_HEADER_LEN) & !7;
    let chunks: Vec<&[u8]> = if stub.is_empty() {
        vec![&[]]
    } else {
        stub.chunks(per_fragment).collect()
    };
    let last = chunks.len() - 1;
    chunks
        .iter()
        .enumerate()
        .map(|(i, chunk)| {
            let mut flags = 0;
            if i == 0 {
                flags |= PFC_FIRST_FRAG;
            }
            if i == last {
                flags |= PFC_LAST_FRAG;
            }
            let mut pdu = Vec::with_capacity(REQUEST_HEADER_LEN + chunk.len());
            put_header(&mut pdu, PTYPE_REQUEST, flags, call_id);
            pdu.put_u32((stub.len() - i * per_fragment) as u32); // alloc_hint: stub bytes still to come
            pdu.put_u16(0); // p_cont_id
            pdu.put_u16(opnum);
            pdu.extend_from_slice(chunk);
            finish(pdu)
        })
        .collect()
}

/// A parsed PDU from the server; a response's stub is borrowed from the
/// received bytes, so reassembly copies each stub byte once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pdu<'a> {
    BindAck {
        call_id: u32,
        max_xmit_frag: u16,
        max_recv_frag: u16,
        /// (result, reason) per context: 0 = acceptance.
        results: Vec<(u16, u16)>,
    },
    BindNak {
        call_id: u32,
        reason: u16,
    },
    Response {
        call_id: u32,
        flags: u8,
        stub: &'a [u8],
    },
    Fault {
        call_id: u32,
        status: u32,
    },
    Other {
        ptype: u8,
    },
}

/// Length of the first PDU in `buf` if it is complete there, from its header.
pub fn complete_pdu_len(buf: &[u8]) -> Result<Option<usize>, DecodeError> {
    if buf.len() < HEADER_LEN {
        return Ok(None);
    }
    let frag_length = usize::from(u16::from_le_bytes([buf[8], buf[9]]));
    if frag_length < HEADER_LEN {
        return Err(DecodeError::new(
            "RPC PDU",
            format!("frag_length {frag_length} below the header size"),
        ));
    }
    Ok((buf.len() >= frag_length).then_some(frag_length))
}

/// Parse one whole PDU (exactly `frag_length` bytes or more; the rest is ignored).
pub fn parse_pdu(bytes: &[u8]) -> Result<Pdu<'_>, DecodeError> {
    let mut r = Reader::new(bytes, "RPC PDU");
    let version = r.u8()?;
    let minor = r.u8()?;
    if version != 5 || minor > 1 {
        return Err(r.error(format!("version {version}.{minor}, expected 5.0/5.1")));
    }
    let ptype = r.u8()?;
    let flags = r.u8()?;
    let drep = r.array::<4>()?;
    if drep[0] & 0xF0 != 0x10 {
        return Err(r.error("big-endian data representation is not supported"));
    }
    let frag_length = usize::from(r.u16()?);
    let auth_length = usize::from(r.u16()?);
    let call_id = r.u32()?;
    if frag_length > bytes.len() || frag_length < HEADER_LEN {
        return Err(r.error(format!(
            "frag_length {frag_length} but {} bytes",
            bytes.len()
        )));
    }
    let body = &bytes[..frag_length];
    let mut r = Reader::new(body, "RPC PDU body");
    r.seek(HEADER_LEN)?;
    match ptype {
        PTYPE_BIND_ACK => {
            let max_xmit_frag = r.u16()?;
            let max_recv_frag = r.u16()?;
            r.skip(4)?; // assoc_group_id
            let addr_len = usize::from(r.u16()?);
            r.skip(addr_len)?;
            let aligned = r.position().next_multiple_of(4);
            r.seek(aligned)?;
            let count = usize::from(r.u8()?);
            r.skip(3)?;
            let mut results = Vec::with_capacity(count.min(16));
            for _ in 0..count {
                let result = r.u16()?;
                let reason = r.u16()?;
                r.skip(20)?; // transfer syntax
                results.push((result, reason));
            }
            Ok(Pdu::BindAck {
                call_id,
                max_xmit_frag,
                max_recv_frag,
                results,
            })
        }
        PTYPE_BIND_NAK => Ok(Pdu::BindNak {
            call_id,
            reason: r.u16()?,
        }),
        PTYPE_RESPONSE => {
            r.skip(4 + 2 + 1 + 1)?; // alloc_hint, p_cont_id, cancel_count, reserved
            // With an auth trailer, stub ends before the 8-byte sec_trailer and the token.
            let stub_end = frag_length
                .checked_sub(if auth_length > 0 { auth_length + 8 } else { 0 })
                .filter(|&end| end >= r.position())
                .ok_or_else(|| r.error("auth_length larger than the fragment"))?;
            let stub = r.bytes(stub_end - r.position())?;
            Ok(Pdu::Response {
                call_id,
                flags,
                stub,
            })
        }
        PTYPE_FAULT => {
            r.skip(4 + 2 + 1 + 1)?;
            Ok(Pdu::Fault {
                call_id,
                status: r.u32()?,
            })
        }
        other => Ok(Pdu::Other { ptype: other }),
    }
}

/// Human text for a bind rejection reason (C706 p_reject_reason / provider_reason).
fn bind_reason(reason: u16) -> &'static str {
    match reason {
        1 => "abstract syntax (interface) not supported",
        2 => "proposed transfer syntaxes not supported",
        4 => "protocol version not supported",
        _ => "rejected",
    }
}

/// Where PDUs go: a named pipe in message mode.
pub trait PipeTransport {
    /// Write one message and read one reply message.
    fn transceive(&mut self, data: &[u8]) -> Result<Vec<u8>, RemoteError>;
    fn write(&mut self, data: &[u8]) -> Result<(), RemoteError>;
    fn read(&mut self) -> Result<Vec<u8>, RemoteError>;
    /// When the scan must end. Loops over what the peer sent (fragments
    /// already received) check it themselves: they wait on nothing.
    fn deadline(&self) -> Option<Instant> {
        None
    }
}

/// The BIND PDU [`RpcClient::bind`] sends (call id 1).
pub fn bind_request(interface: &Interface, max_frag: u16) -> Vec<u8> {
    bind_pdu(1, max_frag.max(MIN_FRAG), &interface.syntax)
}

/// A call whose leading fragments are written; `last_fragment` is still to be
/// sent as a transceive, and its answer handed to [`RpcClient::complete_call`].
#[derive(Debug)]
pub struct StartedCall {
    pub call_id: u32,
    pub last_fragment: Vec<u8>,
}

/// A bound RPC association on one pipe.
pub struct RpcClient<T: PipeTransport> {
    transport: T,
    interface: &'static str,
    max_xmit: u16,
    next_call_id: u32,
    /// Received bytes; those before `consumed` are parsed already. Reading
    /// at an offset keeps reassembly linear: bytes are moved to the front only
    /// when more must be read, and then less than one PDU remains.
    pending: Vec<u8>,
    consumed: usize,
    /// RESPONSE fragments received so far (a diagnostic for notes and tests).
    response_fragments: usize,
}

impl<T: PipeTransport> RpcClient<T> {
    /// Bind to `interface`; `max_frag` is offered for both directions.
    pub fn bind(
        mut transport: T,
        interface: &Interface,
        max_frag: u16,
    ) -> Result<Self, RemoteError> {
        let reply = transport.transceive(&bind_request(interface, max_frag))?;
        Self::from_bind_reply(transport, interface, max_frag, reply)
    }

    /// Finish a bind whose [`bind_request`] was sent elsewhere (several pipes
    /// bound at once): `reply` is what the pipe answered.
    pub fn from_bind_reply(
        transport: T,
        interface: &Interface,
        max_frag: u16,
        reply: Vec<u8>,
    ) -> Result<Self, RemoteError> {
        let max_frag = max_frag.max(MIN_FRAG);
        let mut client = RpcClient {
            transport,
            interface: interface.name,
            max_xmit: max_frag,
            next_call_id: 2,
            pending: reply,
            consumed: 0,
            response_fragments: 0,
        };
        match client.next_pdu()? {
            Pdu::BindAck {
                max_recv_frag,
                results,
                ..
            } => {
                match results.first() {
                    Some((0, _)) => {}
                    Some((_, reason)) => {
                        return Err(RemoteError::BindRejected {
                            interface: interface.name,
                            reason: bind_reason(*reason).into(),
                        });
                    }
                    None => {
                        return Err(RemoteError::BindRejected {
                            interface: interface.name,
                            reason: "bind_ack without a result".into(),
                        });
                    }
                }
                client.max_xmit = max_frag.min(max_recv_frag).max(MIN_FRAG);
                Ok(client)
            }
            Pdu::BindNak { reason, .. } => Err(RemoteError::BindRejected {
                interface: interface.name,
                reason: bind_reason(reason).into(),
            }),
            Pdu::Fault { status, .. } => Err(RemoteError::Fault { status }),
            other => {
                Err(DecodeError::new("RPC bind answer", format!("unexpected {other:?}")).into())
            }
        }
    }

    pub fn interface(&self) -> &'static str {
        self.interface
    }

    pub fn into_transport(self) -> T {
        self.transport
    }

    pub fn response_fragments(&self) -> usize {
        self.response_fragments
    }

    /// Call `opnum` with an NDR stub; returns the reassembled response stub.
    pub fn call(&mut self, opnum: u16, stub: &[u8]) -> Result<Vec<u8>, RemoteError> {
        let started = self.start_call(opnum, stub)?;
        let reply = self.transport.transceive(&started.last_fragment)?;
        self.complete_call(started.call_id, reply)
    }

    /// The first half of [`Self::call`], for a caller that sends the last
    /// fragment itself (to overlap it with work on another pipe): writes every
    /// fragment but the last and returns that one, unsent.
    pub fn start_call(&mut self, opnum: u16, stub: &[u8]) -> Result<StartedCall, RemoteError> {
        let call_id = self.next_call_id;
        self.next_call_id = self.next_call_id.wrapping_add(1);
        let mut fragments = request_fragments(call_id, opnum, stub, self.max_xmit);
        let last_fragment = fragments
            .pop()
            .ok_or_else(|| DecodeError::new("RPC request", "no fragments"))?;
        for fragment in &fragments {
            self.transport.write(fragment)?;
        }
        Ok(StartedCall {
            call_id,
            last_fragment,
        })
    }

    /// The second half of [`Self::call`]: `reply` is what the pipe answered to
    /// the last fragment of `call_id`; reads further fragments as needed.
    /// Bounded by [`MAX_STUB`] bytes, [`MAX_FRAGMENTS`] fragments and the
    /// transport's deadline, whatever the peer sends.
    pub fn complete_call(&mut self, call_id: u32, reply: Vec<u8>) -> Result<Vec<u8>, RemoteError> {
        if self.consumed == self.pending.len() {
            // The usual case: nothing left over, so the reply is taken as is.
            self.pending = reply;
            self.consumed = 0;
        } else {
            self.pending.extend_from_slice(&reply);
        }
        let mut stub = Vec::new();
        for _ in 0..MAX_FRAGMENTS {
            self.check_deadline()?;
            match self.next_pdu()? {
                Pdu::Response {
                    call_id: id,
                    flags,
                    stub: part,
                } if id == call_id => {
                    if stub.len() + part.len() > MAX_STUB {
                        return Err(RemoteError::Limit {
                            limit: "16 MiB per RPC response".into(),
                        });
                    }
                    stub.extend_from_slice(part);
                    if flags & PFC_LAST_FRAG != 0 {
                        self.response_fragments += 1;
                        return Ok(stub);
                    }
                }
                Pdu::Fault { status, .. } => return Err(RemoteError::Fault { status }),
                other => {
                    return Err(DecodeError::new(
                        "RPC response",
                        format!("unexpected {other:?} for call {call_id}"),
                    )
                    .into());
                }
            }
            self.response_fragments += 1;
        }
        Err(RemoteError::Limit {
            limit: format!("{MAX_FRAGMENTS} fragments per RPC response"),
        })
    }

    fn check_deadline(&self) -> Result<(), RemoteError> {
        match self.transport.deadline() {
            Some(deadline) if Instant::now() >= deadline => Err(RemoteError::Timeout {
                during: "reassembling an RPC response",
            }),
            _ => Ok(()),
        }
    }

    /// The next whole PDU, reading more from the pipe as needed.
    fn next_pdu(&mut self) -> Result<Pdu<'_>, RemoteError> {
        loop {
            if let Some(len) = complete_pdu_len(&self.pending[self.consumed..])? {
                let start = self.consumed;
                self.consumed += len;
                return Ok(parse_pdu(&self.pending[start..start + len])?);
            }
            self.check_deadline()?;
            let more = self.transport.read()?;
            if more.is_empty() {
                return Err(DecodeError::new("RPC response", "the pipe returned no data").into());
            }
            // Less than one PDU is left before the new bytes: moving it is cheap.
            self.pending.drain(..self.consumed);
            self.consumed = 0;
            self.pending.extend_from_slice(&more);
        }
    }
}

#[cfg(test)]
#[path = "dcerpc_tests.rs"]
mod tests;

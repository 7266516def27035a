//! Asking one DNS server one question: over UDP (EDNS0, 4,096 bytes;
//! without EDNS0 again if the server answers FORMERR), sent again once
//! when no answer comes, then over TCP when the answer is truncated
//! (RFC 7766). A datagram that is not the answer (another ID,
//! not a response, another question, too large) is dropped and the wait
//! goes on, until the attempt's time is up. Every wait ends by the
//! caller's deadline.

use std::io::{ErrorKind, Write};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use super::message::{Answer, Decoded, Query, decode_response};
use super::{DnsError, MAX_UDP_MESSAGE};
use crate::collect::deadline::read_exact_by;

/// One UDP attempt waits at most this long (then the one retry).
pub const UDP_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(2);
const UDP_ATTEMPTS: usize = 2;

/// How an answer came.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Carried {
    Udp,
    /// Over TCP after a truncated UDP answer.
    Tcp,
}

/// `query`'s answer from `server`, by `deadline`.
pub fn exchange(
    server: SocketAddr,
    query: &Query,
    deadline: Instant,
) -> Result<(Answer, Carried), DnsError> {
    // A server that does not know EDNS0 answers FORMERR (RFC 6891 7):
    // ask it again without the OPT record.
    let udp = match exchange_udp(server, query, deadline, true) {
        Err(DnsError::ServerError("FORMERR")) => exchange_udp(server, query, deadline, false),
        other => other,
    };
    match udp? {
        Decoded::Answer(answer) => Ok((answer, Carried::Udp)),
        Decoded::Truncated => exchange_tcp(server, query, deadline).map(|a| (a, Carried::Tcp)),
    }
}

fn left(deadline: Instant) -> Result<Duration, DnsError> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left < Duration::from_millis(1) {
        return Err(DnsError::DeadlinePassed);
    }
    Ok(left)
}

fn io(during: &'static str, server: SocketAddr) -> impl Fn(std::io::Error) -> DnsError {
    move |source| match source.kind() {
        ErrorKind::WouldBlock | ErrorKind::TimedOut => DnsError::Timeout {
            server,
            over_tcp: during.contains("TCP"),
            dropped: 0,
        },
        _ => DnsError::Io {
            during,
            server,
            source,
        },
    }
}

fn exchange_udp(
    server: SocketAddr,
    query: &Query,
    deadline: Instant,
    with_edns: bool,
) -> Result<Decoded, DnsError> {
    let local: SocketAddr = if server.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = UdpSocket::bind(local).map_err(io("opening a UDP socket for", server))?;
    // A connected socket: the system drops datagrams from anyone else.
    socket
        .connect(server)
        .map_err(io("addressing UDP to", server))?;
    let bytes = query.encode(with_edns)?;
    // One byte more than the largest answer taken, to see one that is larger.
    let mut buffer = vec![0u8; MAX_UDP_MESSAGE + 1];
    let mut dropped = 0usize;
    for _ in 0..UDP_ATTEMPTS {
        let attempt_end = Instant::now() + left(deadline)?.min(UDP_ATTEMPT_TIMEOUT);
        socket
            .send(&bytes)
            .map_err(io("sending a UDP query to", server))?;
        while let Ok(wait) = left(attempt_end) {
            socket
                .set_read_timeout(Some(wait))
                .map_err(io("waiting for", server))?;
            let received = match socket.recv(&mut buffer) {
                Ok(received) => received,
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => break,
                // A stray ICMP error for an earlier datagram is not the answer.
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(io("receiving from", server)(e)),
            };
            if received > MAX_UDP_MESSAGE {
                dropped += 1;
                continue;
            }
            match decode_response(&buffer[..received], query) {
                Err(DnsError::Mismatch(_)) => dropped += 1,
                other => return other,
            }
        }
    }
    Err(DnsError::Timeout {
        server,
        over_tcp: false,
        dropped,
    })
}

fn exchange_tcp(server: SocketAddr, query: &Query, deadline: Instant) -> Result<Answer, DnsError> {
    let mut stream = TcpStream::connect_timeout(&server, left(deadline)?).map_err(io(
        "connecting over TCP (after a truncated UDP answer) to",
        server,
    ))?;
    let bytes = query.encode(false)?;
    let length = u16::try_from(bytes.len()).map_err(|_| DnsError::BadName {
        name: query.name.clone(),
        detail: "the query is too long".into(),
    })?;
    let mut framed = length.to_be_bytes().to_vec();
    framed.extend_from_slice(&bytes);
    stream
        .set_write_timeout(Some(left(deadline)?))
        .map_err(io("sending to", server))?;
    stream
        .write_all(&framed)
        .map_err(io("sending a TCP query to", server))?;
    // Each byte-paced wait within the deadline, not only each recv.
    let mut read = |buffer: &mut [u8]| -> Result<(), DnsError> {
        read_exact_by(&mut stream, buffer, deadline).map_err(io(
            "reading the TCP answer (after a truncated UDP answer) of",
            server,
        ))
    };
    let mut length = [0u8; 2];
    read(&mut length)?;
    // At most 64 KiB: the 2-byte length cannot say more.
    let mut answer = vec![0u8; usize::from(u16::from_be_bytes(length))];
    read(&mut answer)?;
    match decode_response(&answer, query)? {
        Decoded::Answer(answer) => Ok(answer),
        Decoded::Truncated => Err(DnsError::TruncatedOverTcp),
    }
}

//! A minimal SMB2/3 client over TCP (direct hosting, port 445): one
//! connection, one authenticated session, the IPC$ tree, and named pipes on
//! it. Every network wait is bounded by one deadline for the whole scan.
//!
//! From the moment the session key exists every answer is integrity-checked
//! (MS-SMB2 3.2.5.1.3): a signature that verifies, or an encrypted message
//! whose AEAD tag does; only interim STATUS_PENDING answers are exempt. The
//! logon itself (negotiate, session setup, the checks that bind them to the
//! key) is in smb_session.rs.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::time::Instant;

use zeroize::Zeroizing;

use super::error::RemoteError;
use super::smb2::{self, FileId, RequestHeader, ResponseHeader};
use super::smb2_crypto::{self, CipherKeys};
use super::smb2_negotiate::{ClientOffer, NegotiateResponse};
use super::wire::utf16le;
use crate::collect::deadline::read_exact_by;

/// Largest SMB2 message accepted from the server; ours are far smaller.
const MAX_MESSAGE: usize = 8 * 1024 * 1024;
/// The largest single READ/IOCTL output asked for (one credit's worth).
pub(super) const MAX_IO: u32 = 65_536;

/// What the scan demands of the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// The lowest dialect accepted (and offered).
    pub min_dialect: u16,
    /// Encrypt the session even when the server does not ask for it.
    pub encrypt: bool,
}

/// The session's keys, once the logon's final answer has verified.
pub(super) struct Protection {
    pub(super) signing_key: Zeroizing<[u8; 16]>,
    /// The ciphers' keys, when the dialect and the server allow encryption.
    pub(super) cipher: Option<CipherKeys>,
    /// Requests are encrypted, and so every answer must be.
    pub(super) encrypting: bool,
    /// Nonces are a message counter and a random per-session part, so none
    /// repeats under one key (MS-SMB2 3.2.4.1.8 asks for uniqueness).
    pub(super) nonce_random: [u8; 8],
    pub(super) nonce_counter: u64,
}

pub struct SmbClient {
    pub(super) stream: TcpStream,
    pub(super) deadline: Instant,
    pub(super) policy: Policy,
    pub(super) next_message_id: u64,
    pub(super) dialect: u16,
    /// The server's NEGOTIATE answer, for VALIDATE_NEGOTIATE_INFO.
    pub(super) negotiated: Option<NegotiateResponse>,
    /// What this client sent in its NEGOTIATE, for the same check.
    pub(super) offer: Option<ClientOffer>,
    pub(super) session_id: u64,
    pub(super) tree_id: u32,
    /// None until the logon completed with a verified answer.
    pub(super) protection: Option<Protection>,
    /// SMB 3.1.1 preauth integrity hash (connection, then session).
    pub(super) preauth_hash: [u8; 64],
    pub(super) max_read: u32,
    pub(super) max_transact: u32,
    /// Requests sent whose answers someone will wait for.
    awaited: HashSet<u64>,
    /// Answers that arrived while waiting for another request (pipelining).
    stash: HashMap<u64, (ResponseHeader, Vec<u8>)>,
    /// Set by the first failed integrity check: from then on the connection
    /// is not trusted, and every call fails with it.
    tampered: Option<String>,
    /// The NTLM CHALLENGE's Version field: what kind of server this is.
    pub(super) server_version: Option<[u8; 8]>,
}

/// The result of a pipe read or transceive: one message, whole.
pub struct PipeMessage {
    pub data: Vec<u8>,
}

impl SmbClient {
    /// Connect and negotiate: the TCP connect and the server's NEGOTIATE
    /// answer bounded by `connect_by` (as curl's connect timeout covers the
    /// TLS handshake: a host that accepts TCP but never speaks SMB, such as
    /// a hung server or a proxy holding the port, costs the connect
    /// timeout, not the whole scan's); `deadline` bounds everything.
    pub fn connect_within(
        addr: SocketAddr,
        connect_by: Instant,
        deadline: Instant,
        policy: Policy,
    ) -> Result<Self, RemoteError> {
        let remaining = remaining(connect_by.min(deadline), "connecting")?;
        let stream = TcpStream::connect_timeout(&addr, remaining).map_err(|source| match source
            .kind()
        {
            std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => RemoteError::Timeout {
                during: "connecting",
            },
            _ => RemoteError::Connect { addr, source },
        })?;
        // Small request/response exchanges: do not wait for Nagle.
        let _ = stream.set_nodelay(true);
        let mut client = SmbClient {
            stream,
            deadline,
            policy,
            next_message_id: 0,
            dialect: smb2::DIALECT_202,
            negotiated: None,
            offer: None,
            session_id: 0,
            tree_id: 0,
            protection: None,
            preauth_hash: [0; 64],
            max_read: MAX_IO,
            max_transact: MAX_IO,
            awaited: HashSet::new(),
            stash: HashMap::new(),
            tampered: None,
            server_version: None,
        };
        client.deadline = connect_by.min(deadline);
        client.negotiate()?;
        client.deadline = deadline;
        Ok(client)
    }

    /// This end of the TCP connection: the address the server sees the scan come from.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.stream.local_addr().ok()
    }

    pub fn dialect(&self) -> u16 {
        self.dialect
    }

    /// When every wait of this connection ends: loops over data already
    /// received (RPC reassembly, paging) check it too.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// The server's NTLM Version field, known after the logon.
    pub fn server_version(&self) -> Option<[u8; 8]> {
        self.server_version
    }

    /// Every answer since the logon was integrity-checked (always, once
    /// logged on: anything else ends the scan).
    pub fn signed(&self) -> bool {
        self.protection.is_some()
    }

    /// The first integrity failure on this connection, if any: every source
    /// read over it is then suspect, not only the one that saw it.
    pub fn integrity_failure(&self) -> Option<RemoteError> {
        self.tampered
            .clone()
            .map(|detail| RemoteError::Tampered { detail })
    }

    /// Requests and answers are encrypted.
    pub fn encrypted(&self) -> bool {
        self.protection.as_ref().is_some_and(|p| p.encrypting)
    }

    /// The cipher in use, when encrypting.
    pub fn cipher(&self) -> Option<smb2_crypto::Cipher> {
        let protection = self.protection.as_ref().filter(|p| p.encrypting)?;
        protection.cipher.as_ref().map(|keys| keys.cipher)
    }

    /// Open several pipes at once: all CREATEs go out before the first answer is read.
    pub fn open_pipes(&mut self, names: &[&str]) -> Vec<Result<FileId, RemoteError>> {
        let sent: Vec<_> = names
            .iter()
            .map(|name| {
                let body = smb2::create_pipe_request(&utf16le(name));
                self.submit(smb2::CREATE, &body, "opening a named pipe")
            })
            .collect();
        sent.into_iter()
            .map(|id| {
                let (header, response) = self.wait(id?, "opening a named pipe")?;
                check_status(&header, "CREATE pipe")?;
                Ok(smb2::parse_create_response(&response)?)
            })
            .collect()
    }

    /// [`Self::transceive`] on several pipes at once, one message each.
    pub fn transceive_each(
        &mut self,
        requests: &[(FileId, Vec<u8>)],
    ) -> Vec<Result<PipeMessage, RemoteError>> {
        let sent: Vec<_> = requests
            .iter()
            .map(|(file_id, data)| {
                let body = smb2::ioctl_transceive_request(file_id, data, self.max_transact);
                self.submit(smb2::IOCTL, &body, "calling over a pipe")
            })
            .collect();
        sent.into_iter()
            .zip(requests)
            .map(|(id, (file_id, _))| {
                let (header, response) = self.wait(id?, "calling over a pipe")?;
                self.finish_transceive(file_id, &header, &response)
            })
            .collect()
    }

    /// Write one message to a pipe.
    pub fn write_pipe(&mut self, file_id: &FileId, data: &[u8]) -> Result<(), RemoteError> {
        let (header, _) = self.call(
            smb2::WRITE,
            &smb2::write_request(file_id, data),
            "writing to a pipe",
        )?;
        check_status(&header, "WRITE pipe")
    }

    /// Write one message and read the reply in one round trip (FSCTL_PIPE_TRANSCEIVE).
    pub fn transceive(
        &mut self,
        file_id: &FileId,
        data: &[u8],
    ) -> Result<PipeMessage, RemoteError> {
        let body = smb2::ioctl_transceive_request(file_id, data, self.max_transact);
        let (header, response) = self.call(smb2::IOCTL, &body, "calling over a pipe")?;
        self.finish_transceive(file_id, &header, &response)
    }

    /// Send a transceive without waiting: its answer is collected later by
    /// [`Self::finish_submitted_transceive`] (meanwhile other exchanges on the
    /// connection stash it when it arrives). Returns the message id.
    pub fn submit_transceive(&mut self, file_id: &FileId, data: &[u8]) -> Result<u64, RemoteError> {
        let body = smb2::ioctl_transceive_request(file_id, data, self.max_transact);
        self.submit(smb2::IOCTL, &body, "calling over a pipe")
    }

    /// The answer to a [`Self::submit_transceive`] of `message_id` on `file_id`.
    pub fn finish_submitted_transceive(
        &mut self,
        message_id: u64,
        file_id: &FileId,
    ) -> Result<PipeMessage, RemoteError> {
        let (header, response) = self.wait(message_id, "calling over a pipe")?;
        self.finish_transceive(file_id, &header, &response)
    }

    /// The reply of a pipe IOCTL, reading the rest of a message that did not fit.
    fn finish_transceive(
        &mut self,
        file_id: &FileId,
        header: &ResponseHeader,
        response: &[u8],
    ) -> Result<PipeMessage, RemoteError> {
        if header.status != smb2::STATUS_BUFFER_OVERFLOW {
            check_status(header, "IOCTL pipe transceive")?;
        }
        let mut out = PipeMessage {
            data: smb2::parse_ioctl_response(response)?.to_vec(),
        };
        if header.status == smb2::STATUS_BUFFER_OVERFLOW {
            self.read_rest(file_id, &mut out)?;
        }
        Ok(out)
    }

    /// Read the next whole message from a pipe.
    pub fn read_pipe(&mut self, file_id: &FileId) -> Result<PipeMessage, RemoteError> {
        let mut out = PipeMessage { data: Vec::new() };
        self.read_rest(file_id, &mut out)?;
        Ok(out)
    }

    fn read_rest(&mut self, file_id: &FileId, out: &mut PipeMessage) -> Result<(), RemoteError> {
        loop {
            let body = smb2::read_request(file_id, self.max_read);
            let (header, response) = self.call(smb2::READ, &body, "reading from a pipe")?;
            if header.status != smb2::STATUS_BUFFER_OVERFLOW {
                check_status(&header, "READ pipe")?;
            }
            out.data
                .extend_from_slice(smb2::parse_read_response(&response)?);
            if out.data.len() > MAX_MESSAGE {
                return Err(RemoteError::Decode(super::wire::DecodeError::new(
                    "pipe message",
                    "larger than 8 MiB",
                )));
            }
            if header.status != smb2::STATUS_BUFFER_OVERFLOW {
                return Ok(());
            }
        }
    }

    /// CLOSE a pipe without waiting for the answer: nothing depends on it, and
    /// [`Self::receive`] skips the late response. Saves a round trip per pipe.
    pub fn close_pipe(&mut self, file_id: &FileId) -> Result<(), RemoteError> {
        let request = self.build(smb2::CLOSE, &smb2::close_request(file_id))?;
        self.send_raw(&request, "closing a pipe")
    }

    /// TREE_DISCONNECT and LOGOFF, sent together without waiting: the scan's
    /// result is already known and the server tears down on close anyway.
    pub fn disconnect(mut self) {
        let mut batch = Vec::new();
        if self.tree_id != 0 {
            batch.push(self.build(smb2::TREE_DISCONNECT, &smb2::empty_request()));
        }
        if self.session_id != 0 {
            batch.push(self.build(smb2::LOGOFF, &smb2::empty_request()));
        }
        for request in batch.into_iter().flatten() {
            if self.send_raw(&request, "disconnecting").is_err() {
                break;
            }
        }
        let _ = self.stream.shutdown(std::net::Shutdown::Both);
    }

    /// Build the next request (header + body), signed when the session
    /// signs, or encrypted (unsigned inside, MS-SMB2 3.2.4.1.8) when it encrypts.
    pub(super) fn build(&mut self, command: u16, body: &[u8]) -> Result<Vec<u8>, RemoteError> {
        let header = RequestHeader {
            command,
            credit_charge: if self.dialect == smb2::DIALECT_202 || command == smb2::NEGOTIATE {
                0
            } else {
                1
            },
            credit_request: 32,
            flags: 0,
            message_id: self.next_message_id,
            tree_id: if matches!(
                command,
                smb2::NEGOTIATE | smb2::SESSION_SETUP | smb2::LOGOFF
            ) {
                0
            } else {
                self.tree_id
            },
            session_id: self.session_id,
        };
        self.next_message_id += 1;
        let mut msg = smb2::build_message(&header, body);
        let Some(protection) = &mut self.protection else {
            return Ok(msg);
        };
        match (&protection.cipher, protection.encrypting) {
            (Some(keys), true) => {
                protection.nonce_counter += 1;
                let mut nonce = [0u8; 16];
                nonce[..8].copy_from_slice(&protection.nonce_counter.to_le_bytes());
                nonce[8..].copy_from_slice(&protection.nonce_random);
                smb2_crypto::encrypt(keys, self.session_id, &nonce, &msg).map_err(|e| {
                    RemoteError::Tampered {
                        detail: e.to_string(),
                    }
                })
            }
            _ => {
                smb2_crypto::sign_message(self.dialect, &protection.signing_key, &mut msg);
                Ok(msg)
            }
        }
    }

    pub(super) fn call(
        &mut self,
        command: u16,
        body: &[u8],
        during: &'static str,
    ) -> Result<(ResponseHeader, Vec<u8>), RemoteError> {
        let id = self.submit(command, body, during)?;
        self.wait(id, during)
    }

    /// Send a request whose answer will be waited for; returns its message id.
    fn submit(
        &mut self,
        command: u16,
        body: &[u8],
        during: &'static str,
    ) -> Result<u64, RemoteError> {
        let request = self.build(command, body)?;
        let id = self.next_message_id - 1;
        self.send_raw(&request, during)?;
        self.awaited.insert(id);
        Ok(id)
    }

    /// The answer to `message_id`, from the stash or the connection.
    fn wait(
        &mut self,
        message_id: u64,
        during: &'static str,
    ) -> Result<(ResponseHeader, Vec<u8>), RemoteError> {
        self.awaited.remove(&message_id);
        if let Some(err) = self.integrity_failure() {
            return Err(err);
        }
        if let Some(answer) = self.stash.remove(&message_id) {
            return Ok(answer);
        }
        self.receive(message_id, during)
    }

    pub(super) fn send_raw(&mut self, msg: &[u8], during: &'static str) -> Result<(), RemoteError> {
        let len = u32::try_from(msg.len())
            .unwrap_or(u32::MAX)
            .min(0x00FF_FFFF);
        let mut framed = Vec::with_capacity(4 + msg.len());
        framed.extend_from_slice(&len.to_be_bytes());
        framed.extend_from_slice(msg);
        self.stream
            .set_write_timeout(Some(remaining(self.deadline, during)?))
            .map_err(|e| RemoteError::io(during, e))?;
        self.stream
            .write_all(&framed)
            .map_err(|e| RemoteError::io(during, e))
    }

    /// Receive the final response to `message_id`, skipping interim
    /// STATUS_PENDING answers, unsolicited messages (oplock breaks) and answers
    /// nobody waits for; answers to other awaited requests are stashed. Once
    /// logged on, an answer that fails its integrity check ends the scan.
    pub(super) fn receive(
        &mut self,
        message_id: u64,
        during: &'static str,
    ) -> Result<(ResponseHeader, Vec<u8>), RemoteError> {
        if let Some(err) = self.integrity_failure() {
            return Err(err);
        }
        let result = self.receive_checked(message_id, during);
        if let Err(RemoteError::Tampered { detail }) = &result {
            self.tampered = Some(detail.clone());
        }
        result
    }

    fn receive_checked(
        &mut self,
        message_id: u64,
        during: &'static str,
    ) -> Result<(ResponseHeader, Vec<u8>), RemoteError> {
        loop {
            let (msg, decrypted) = self.receive_message(during)?;
            let header = smb2::parse_header(&msg)?;
            let wanted =
                header.message_id == message_id || self.awaited.contains(&header.message_id);
            if header.flags & smb2::FLAG_SERVER_TO_REDIR == 0 || !wanted {
                continue;
            }
            // Interim answers are never signed (MS-SMB2 3.3.4.1.1); nothing is
            // taken from them but "wait on".
            if header.flags & smb2::FLAG_ASYNC_COMMAND != 0 && header.status == smb2::STATUS_PENDING
            {
                continue;
            }
            self.check_integrity(&header, &msg, decrypted)?;
            if header.message_id != message_id {
                self.awaited.remove(&header.message_id);
                self.stash.insert(header.message_id, (header, msg));
                continue;
            }
            return Ok((header, msg));
        }
    }

    /// The next SMB2 message off the wire, decrypted if it came in a
    /// transform header (and whether it did).
    pub(super) fn receive_message(
        &mut self,
        during: &'static str,
    ) -> Result<(Vec<u8>, bool), RemoteError> {
        let mut frame = [0u8; 4];
        self.read_exact(&mut frame, during)?;
        let len = u32::from_be_bytes([0, frame[1], frame[2], frame[3]]) as usize;
        if frame[0] != 0 || len > MAX_MESSAGE {
            return Err(RemoteError::Decode(super::wire::DecodeError::new(
                "transport frame",
                format!("type {} length {len}", frame[0]),
            )));
        }
        let mut msg = vec![0u8; len];
        self.read_exact(&mut msg, during)?;
        if !smb2_crypto::is_transform(&msg) {
            return Ok((msg, false));
        }
        // MS-SMB2 3.2.5.1.1.1: decrypt with the session's key, or drop the
        // connection; an encrypted message before any key is an error too.
        let keys = self
            .protection
            .as_ref()
            .and_then(|p| p.cipher.as_ref())
            .ok_or_else(|| RemoteError::Tampered {
                detail: "the server sent an encrypted message on a session without encryption keys"
                    .into(),
            })?;
        let plain = smb2_crypto::decrypt(keys, self.session_id, &msg).map_err(|e| {
            RemoteError::Tampered {
                detail: e.to_string(),
            }
        })?;
        Ok((plain, true))
    }

    /// MS-SMB2 3.2.5.1.3: on a signed session every answer must carry a
    /// valid signature; on an encrypted one it must have been encrypted
    /// (3.2.5.1.1: Session.EncryptData — an unencrypted answer is refused).
    fn check_integrity(
        &self,
        header: &ResponseHeader,
        msg: &[u8],
        decrypted: bool,
    ) -> Result<(), RemoteError> {
        let Some(protection) = &self.protection else {
            return Ok(());
        };
        let command = smb2::command_name(header.command);
        if protection.encrypting && !decrypted {
            return Err(RemoteError::Tampered {
                detail: format!("the answer to {command} came unencrypted on an encrypted session"),
            });
        }
        if decrypted {
            // The AEAD tag covered it; its session id was checked on decryption.
            return Ok(());
        }
        if header.session_id != self.session_id {
            return Err(RemoteError::Tampered {
                detail: format!("the answer to {command} is for another session"),
            });
        }
        if header.flags & smb2::FLAG_SIGNED == 0 {
            return Err(RemoteError::Tampered {
                detail: format!("the answer to {command} was not signed"),
            });
        }
        if !smb2_crypto::verify_signature(self.dialect, &protection.signing_key, msg) {
            return Err(RemoteError::Tampered {
                detail: format!("the signature of the answer to {command} did not verify"),
            });
        }
        Ok(())
    }

    fn read_exact(&mut self, buf: &mut [u8], during: &'static str) -> Result<(), RemoteError> {
        read_exact_by(&mut self.stream, buf, self.deadline).map_err(|e| RemoteError::io(during, e))
    }
}

pub(super) fn remaining(
    deadline: Instant,
    during: &'static str,
) -> Result<std::time::Duration, RemoteError> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(RemoteError::Timeout { during });
    }
    Ok(left)
}

pub(super) fn check_status(
    header: &ResponseHeader,
    command: &'static str,
) -> Result<(), RemoteError> {
    if header.status == smb2::STATUS_SUCCESS {
        Ok(())
    } else {
        Err(RemoteError::Status {
            command,
            status: header.status,
        })
    }
}

//! A minimal SMB2/3 client over TCP (direct hosting, port 445): one
//! connection, one authenticated session, the IPC$ tree, and named pipes on
//! it. Every network wait is bounded by one deadline for the whole scan.

use std::collections::{HashMap, HashSet};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Instant;

use sha2::{Digest, Sha512};
use zeroize::Zeroizing;

use super::error::RemoteError;
use super::ntlm;
use super::smb2::{self, FileId, RequestHeader, ResponseHeader};
use super::spnego;
use super::wire::utf16le;

/// Largest SMB2 message accepted from the server; ours are far smaller.
const MAX_MESSAGE: usize = 8 * 1024 * 1024;
/// The largest single READ/IOCTL output asked for (one credit's worth).
const MAX_IO: u32 = 65_536;

pub struct SmbClient {
    stream: TcpStream,
    deadline: Instant,
    next_message_id: u64,
    dialect: u16,
    session_id: u64,
    tree_id: u32,
    signing_key: Option<Zeroizing<[u8; 16]>>,
    /// SMB 3.1.1 preauth integrity hash (connection, then session).
    preauth_hash: [u8; 64],
    max_read: u32,
    max_transact: u32,
    /// Requests sent whose answers someone will wait for.
    awaited: HashSet<u64>,
    /// Answers that arrived while waiting for another request (pipelining).
    stash: HashMap<u64, (ResponseHeader, Vec<u8>)>,
}

/// The result of a pipe read or transceive: one message, whole.
pub struct PipeMessage {
    pub data: Vec<u8>,
}

impl SmbClient {
    /// Connect and negotiate. `deadline` bounds this and every later call.
    pub fn connect(addr: SocketAddr, deadline: Instant) -> Result<Self, RemoteError> {
        let remaining = remaining(deadline, "connecting")?;
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
            next_message_id: 0,
            dialect: smb2::DIALECT_202,
            session_id: 0,
            tree_id: 0,
            signing_key: None,
            preauth_hash: [0; 64],
            max_read: MAX_IO,
            max_transact: MAX_IO,
            awaited: HashSet::new(),
            stash: HashMap::new(),
        };
        client.negotiate()?;
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

    fn negotiate(&mut self) -> Result<(), RemoteError> {
        let mut client_guid = [0u8; 16];
        let mut salt = [0u8; 32];
        fill_random(&mut client_guid)?;
        fill_random(&mut salt)?;
        let request = self.build(smb2::NEGOTIATE, &smb2::negotiate_request(client_guid, salt));
        self.preauth_hash = chain_hash(&[0; 64], &request);
        self.send_raw(&request, "negotiating")?;
        let (header, response) = self.receive(0, "negotiating")?;
        check_status(&header, "NEGOTIATE")?;
        let negotiated = smb2::parse_negotiate_response(&response)?;
        self.dialect = negotiated.dialect;
        self.max_read = negotiated.max_read_size.clamp(4096, MAX_IO);
        self.max_transact = negotiated.max_transact_size.clamp(4096, MAX_IO);
        if self.dialect == smb2::DIALECT_311 {
            self.preauth_hash = chain_hash(&self.preauth_hash, &response);
        }
        Ok(())
    }

    /// NTLMv2 over SPNEGO. Refuses guest and anonymous sessions: their answers
    /// would not be those the named account is entitled to.
    pub fn session_setup(&mut self, identity: &ntlm::Identity<'_>) -> Result<(), RemoteError> {
        let mut hash = self.preauth_hash;
        let first = spnego::neg_token_init(&ntlm::negotiate_message());
        let request = self.build(smb2::SESSION_SETUP, &smb2::session_setup_request(&first));
        hash = chain_hash(&hash, &request);
        self.send_raw(&request, "authenticating")?;
        let (header, response) = self.receive(self.next_message_id - 1, "authenticating")?;
        if header.status != smb2::STATUS_MORE_PROCESSING_REQUIRED {
            check_status(&header, "SESSION_SETUP")?;
            return Err(RemoteError::Authentication {
                detail: "the server ended authentication before the NTLM challenge".into(),
            });
        }
        hash = chain_hash(&hash, &response);
        self.session_id = header.session_id;
        let setup = smb2::parse_session_setup_response(&response)?;
        let token = spnego::parse_neg_token_resp(&setup.security_buffer)?;
        let challenge_bytes = token
            .response_token
            .ok_or_else(|| RemoteError::Authentication {
                detail: "the server's SPNEGO answer carried no NTLM challenge".into(),
            })?;
        let challenge = ntlm::parse_challenge(&challenge_bytes)?;
        let mut client_challenge = [0u8; 8];
        fill_random(&mut client_challenge)?;
        let auth = ntlm::authenticate_message(
            identity,
            &challenge,
            client_challenge,
            ntlm::filetime_now(),
        );

        let request = self.build(
            smb2::SESSION_SETUP,
            &smb2::session_setup_request(&spnego::neg_token_resp(&auth.message)),
        );
        hash = chain_hash(&hash, &request);
        self.send_raw(&request, "authenticating")?;
        let key = Zeroizing::new(smb2::signing_key(self.dialect, &auth.session_key, &hash));
        self.signing_key = Some(key);
        let (header, response) = self.receive(self.next_message_id - 1, "authenticating")?;
        if let Err(err) = check_status(&header, "SESSION_SETUP") {
            self.signing_key = None;
            return Err(err);
        }
        let setup = smb2::parse_session_setup_response(&response)?;
        if setup.session_flags & (smb2::SESSION_FLAG_IS_GUEST | smb2::SESSION_FLAG_IS_NULL) != 0 {
            self.signing_key = None;
            return Err(RemoteError::Authentication {
                detail: "the server accepted the logon only as guest or anonymous".into(),
            });
        }
        if setup.session_flags & smb2::SESSION_FLAG_ENCRYPT_DATA != 0 {
            return Err(RemoteError::EncryptionRequired);
        }
        Ok(())
    }

    /// TREE_CONNECT `\\server\IPC$`.
    pub fn connect_ipc(&mut self, server: &str) -> Result<(), RemoteError> {
        let path = utf16le(&format!("\\\\{server}\\IPC$"));
        let (header, _) = self.call(
            smb2::TREE_CONNECT,
            &smb2::tree_connect_request(&path),
            "connecting to IPC$",
        )?;
        check_status(&header, "TREE_CONNECT IPC$")?;
        self.tree_id = header.tree_id;
        Ok(())
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
        let request = self.build(smb2::CLOSE, &smb2::close_request(file_id));
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
        for request in batch {
            if self.send_raw(&request, "disconnecting").is_err() {
                break;
            }
        }
        let _ = self.stream.shutdown(std::net::Shutdown::Both);
    }

    /// Build the next request (header + body), signed when the session signs.
    fn build(&mut self, command: u16, body: &[u8]) -> Vec<u8> {
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
        if let Some(key) = &self.signing_key {
            smb2::sign_message(self.dialect, key, &mut msg);
        }
        msg
    }

    fn call(
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
        let request = self.build(command, body);
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
        if let Some(answer) = self.stash.remove(&message_id) {
            return Ok(answer);
        }
        self.receive(message_id, during)
    }

    fn send_raw(&mut self, msg: &[u8], during: &'static str) -> Result<(), RemoteError> {
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
    /// nobody waits for; answers to other awaited requests are stashed.
    fn receive(
        &mut self,
        message_id: u64,
        during: &'static str,
    ) -> Result<(ResponseHeader, Vec<u8>), RemoteError> {
        loop {
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
            let header = smb2::parse_header(&msg)?;
            let wanted =
                header.message_id == message_id || self.awaited.contains(&header.message_id);
            if header.flags & smb2::FLAG_SERVER_TO_REDIR == 0 || !wanted {
                continue;
            }
            if header.flags & smb2::FLAG_ASYNC_COMMAND != 0 && header.status == smb2::STATUS_PENDING
            {
                continue;
            }
            let signed = header.flags & smb2::FLAG_SIGNED != 0;
            if let (true, Some(key)) = (signed, &self.signing_key) {
                if !smb2::verify_signature(self.dialect, key, &msg) {
                    return Err(RemoteError::BadSignature);
                }
            }
            if header.message_id != message_id {
                self.awaited.remove(&header.message_id);
                self.stash.insert(header.message_id, (header, msg));
                continue;
            }
            return Ok((header, msg));
        }
    }

    fn read_exact(&mut self, mut buf: &mut [u8], during: &'static str) -> Result<(), RemoteError> {
        while !buf.is_empty() {
            self.stream
                .set_read_timeout(Some(remaining(self.deadline, during)?))
                .map_err(|e| RemoteError::io(during, e))?;
            match self.stream.read(buf) {
                Ok(0) => {
                    return Err(RemoteError::Io {
                        during,
                        source: std::io::ErrorKind::UnexpectedEof.into(),
                    });
                }
                Ok(n) => buf = &mut buf[n..],
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(RemoteError::io(during, e)),
            }
        }
        Ok(())
    }
}

fn remaining(deadline: Instant, during: &'static str) -> Result<std::time::Duration, RemoteError> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(RemoteError::Timeout { during });
    }
    Ok(left)
}

fn check_status(header: &ResponseHeader, command: &'static str) -> Result<(), RemoteError> {
    if header.status == smb2::STATUS_SUCCESS {
        Ok(())
    } else {
        Err(RemoteError::Status {
            command,
            status: header.status,
        })
    }
}

fn chain_hash(previous: &[u8; 64], msg: &[u8]) -> [u8; 64] {
    let mut hasher = Sha512::new();
    hasher.update(previous);
    hasher.update(msg);
    hasher.finalize().into()
}

fn fill_random(buf: &mut [u8]) -> Result<(), RemoteError> {
    getrandom::fill(buf).map_err(|e| RemoteError::Io {
        during: "gathering randomness",
        source: std::io::Error::other(e.to_string()),
    })
}

//! SMB2/3 messages (MS-SMB2), pure: building requests and parsing responses.
//! Only what a named-pipe RPC client needs: NEGOTIATE, SESSION_SETUP,
//! TREE_CONNECT, CREATE, IOCTL (pipe transceive), READ, WRITE, CLOSE,
//! TREE_DISCONNECT, LOGOFF. NEGOTIATE is in smb2_negotiate.rs, signing and
//! encryption in smb2_crypto.rs.

use super::wire::{DecodeError, PutLe, Reader, slice_at};

pub const HEADER_LEN: usize = 64;
/// ProtocolId of an SMB2 TRANSFORM_HEADER (an encrypted message, MS-SMB2 2.2.41).
pub const TRANSFORM_PROTOCOL_ID: [u8; 4] = *b"\xFDSMB";

pub const NEGOTIATE: u16 = 0x0000;
pub const SESSION_SETUP: u16 = 0x0001;
pub const LOGOFF: u16 = 0x0002;
pub const TREE_CONNECT: u16 = 0x0003;
pub const TREE_DISCONNECT: u16 = 0x0004;
pub const CREATE: u16 = 0x0005;
pub const CLOSE: u16 = 0x0006;
pub const READ: u16 = 0x0008;
pub const WRITE: u16 = 0x0009;
pub const IOCTL: u16 = 0x000B;

pub const FLAG_SERVER_TO_REDIR: u32 = 0x0000_0001;
pub const FLAG_ASYNC_COMMAND: u32 = 0x0000_0002;
pub const FLAG_SIGNED: u32 = 0x0000_0008;

pub const STATUS_SUCCESS: u32 = 0x0000_0000;
pub const STATUS_PENDING: u32 = 0x0000_0103;
pub const STATUS_BUFFER_OVERFLOW: u32 = 0x8000_0005;
pub const STATUS_MORE_PROCESSING_REQUIRED: u32 = 0xC000_0016;
pub const STATUS_ACCESS_DENIED: u32 = 0xC000_0022;
pub const STATUS_OBJECT_NAME_NOT_FOUND: u32 = 0xC000_0034;
pub const STATUS_LOGON_FAILURE: u32 = 0xC000_006D;
pub const STATUS_ACCOUNT_RESTRICTION: u32 = 0xC000_006E;
pub const STATUS_PASSWORD_EXPIRED: u32 = 0xC000_0071;
pub const STATUS_ACCOUNT_DISABLED: u32 = 0xC000_0072;
pub const STATUS_BAD_NETWORK_NAME: u32 = 0xC000_00CC;
pub const STATUS_NOT_SUPPORTED: u32 = 0xC000_00BB;
pub const STATUS_NTLM_BLOCKED: u32 = 0xC000_0418;
pub const STATUS_ACCOUNT_LOCKED_OUT: u32 = 0xC000_0234;

pub const SECURITY_SIGNING_ENABLED: u16 = 0x0001;
pub const SECURITY_SIGNING_REQUIRED: u16 = 0x0002;

pub const SESSION_FLAG_IS_GUEST: u16 = 0x0001;
pub const SESSION_FLAG_IS_NULL: u16 = 0x0002;
pub const SESSION_FLAG_ENCRYPT_DATA: u16 = 0x0004;

/// SMB2_GLOBAL_CAP_ENCRYPTION (MS-SMB2 2.2.3): 3.0/3.0.2 encryption (AES-128-CCM).
pub const CAP_ENCRYPTION: u32 = 0x0000_0040;
/// SMB2_SHAREFLAG_ENCRYPT_DATA (MS-SMB2 2.2.10).
pub const SHAREFLAG_ENCRYPT_DATA: u32 = 0x0000_8000;

pub const DIALECT_202: u16 = 0x0202;
pub const DIALECT_210: u16 = 0x0210;
pub const DIALECT_300: u16 = 0x0300;
pub const DIALECT_302: u16 = 0x0302;
pub const DIALECT_311: u16 = 0x0311;
pub const DIALECTS: [u16; 5] = [
    DIALECT_202,
    DIALECT_210,
    DIALECT_300,
    DIALECT_302,
    DIALECT_311,
];

pub const FSCTL_PIPE_TRANSCEIVE: u32 = 0x0011_C017;

/// A short name for an NTSTATUS, for messages.
pub fn status_name(status: u32) -> &'static str {
    match status {
        STATUS_SUCCESS => "STATUS_SUCCESS",
        STATUS_ACCESS_DENIED => "STATUS_ACCESS_DENIED",
        STATUS_OBJECT_NAME_NOT_FOUND => "STATUS_OBJECT_NAME_NOT_FOUND",
        STATUS_LOGON_FAILURE => "STATUS_LOGON_FAILURE",
        STATUS_ACCOUNT_RESTRICTION => "STATUS_ACCOUNT_RESTRICTION",
        STATUS_PASSWORD_EXPIRED => "STATUS_PASSWORD_EXPIRED",
        STATUS_ACCOUNT_DISABLED => "STATUS_ACCOUNT_DISABLED",
        STATUS_ACCOUNT_LOCKED_OUT => "STATUS_ACCOUNT_LOCKED_OUT",
        STATUS_BAD_NETWORK_NAME => "STATUS_BAD_NETWORK_NAME",
        STATUS_NOT_SUPPORTED => "STATUS_NOT_SUPPORTED",
        STATUS_NTLM_BLOCKED => "STATUS_NTLM_BLOCKED",
        STATUS_BUFFER_OVERFLOW => "STATUS_BUFFER_OVERFLOW",
        STATUS_MORE_PROCESSING_REQUIRED => "STATUS_MORE_PROCESSING_REQUIRED",
        0xC000_00B0 => "STATUS_PIPE_DISCONNECTED",
        0xC000_00AD => "STATUS_INVALID_PIPE_STATE",
        0xC000_0203 => "STATUS_USER_SESSION_DELETED",
        0xC000_0035 => "STATUS_OBJECT_NAME_COLLISION",
        0xC000_000D => "STATUS_INVALID_PARAMETER",
        0xC000_0128 => "STATUS_FILE_CLOSED",
        0xC000_0010 => "STATUS_INVALID_DEVICE_REQUEST",
        _ => "NTSTATUS",
    }
}

/// A command's name, for messages.
pub fn command_name(command: u16) -> &'static str {
    match command {
        NEGOTIATE => "NEGOTIATE",
        SESSION_SETUP => "SESSION_SETUP",
        LOGOFF => "LOGOFF",
        TREE_CONNECT => "TREE_CONNECT",
        TREE_DISCONNECT => "TREE_DISCONNECT",
        CREATE => "CREATE",
        CLOSE => "CLOSE",
        READ => "READ",
        WRITE => "WRITE",
        IOCTL => "IOCTL",
        _ => "an SMB2 command",
    }
}

/// A request header; the client fills message id, credits and signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RequestHeader {
    pub command: u16,
    pub credit_charge: u16,
    pub credit_request: u16,
    pub flags: u32,
    pub message_id: u64,
    pub tree_id: u32,
    pub session_id: u64,
}

/// Header followed by the body, unsigned.
pub fn build_message(header: &RequestHeader, body: &[u8]) -> Vec<u8> {
    let mut msg = Vec::with_capacity(HEADER_LEN + body.len());
    msg.extend_from_slice(b"\xFESMB");
    msg.put_u16(64);
    msg.put_u16(header.credit_charge);
    msg.put_u32(0); // Status (ChannelSequence/Reserved in requests)
    msg.put_u16(header.command);
    msg.put_u16(header.credit_request);
    msg.put_u32(header.flags);
    msg.put_u32(0); // NextCommand
    msg.put_u64(header.message_id);
    msg.put_u32(0); // Reserved (process id)
    msg.put_u32(header.tree_id);
    msg.put_u64(header.session_id);
    msg.extend_from_slice(&[0; 16]);
    msg.extend_from_slice(body);
    msg
}

/// The fields of a response header the client acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseHeader {
    pub status: u32,
    pub command: u16,
    pub credits_granted: u16,
    pub flags: u32,
    pub next_command: u32,
    pub message_id: u64,
    pub tree_id: u32,
    pub session_id: u64,
}

pub fn parse_header(msg: &[u8]) -> Result<ResponseHeader, DecodeError> {
    let mut r = Reader::new(msg, "SMB2 header");
    if r.bytes(4)? != b"\xFESMB" {
        return Err(r.error("not an SMB2 message (SMB1 or garbage)"));
    }
    if r.u16()? != 64 {
        return Err(r.error("header StructureSize is not 64"));
    }
    r.skip(2)?;
    let status = r.u32()?;
    let command = r.u16()?;
    let credits_granted = r.u16()?;
    let flags = r.u32()?;
    let next_command = r.u32()?;
    let message_id = r.u64()?;
    let (tree_id, session_id) = if flags & FLAG_ASYNC_COMMAND != 0 {
        let _async_id = r.u64()?;
        (0, r.u64()?)
    } else {
        r.skip(4)?;
        (r.u32()?, r.u64()?)
    };
    r.skip(16)?;
    Ok(ResponseHeader {
        status,
        command,
        credits_granted,
        flags,
        next_command,
        message_id,
        tree_id,
        session_id,
    })
}

/// The body of a response (everything after the header).
pub fn body(msg: &[u8]) -> &[u8] {
    msg.get(HEADER_LEN..).unwrap_or(&[])
}

pub fn session_setup_request(security_buffer: &[u8]) -> Vec<u8> {
    let mut b = Vec::with_capacity(24 + security_buffer.len());
    b.put_u16(25);
    b.put_u8(0); // Flags
    // Signing required: the server must sign every answer of the session,
    // the final SESSION_SETUP response included (MS-SMB2 3.3.5.5.3).
    b.put_u8((SECURITY_SIGNING_ENABLED | SECURITY_SIGNING_REQUIRED) as u8);
    b.put_u32(0); // Capabilities
    b.put_u32(0); // Channel
    b.put_u16((HEADER_LEN + 24) as u16);
    b.put_u16(security_buffer.len() as u16);
    b.put_u64(0); // PreviousSessionId
    b.extend_from_slice(security_buffer);
    b
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSetupResponse {
    pub session_flags: u16,
    pub security_buffer: Vec<u8>,
}

pub fn parse_session_setup_response(msg: &[u8]) -> Result<SessionSetupResponse, DecodeError> {
    let mut r = Reader::new(body(msg), "SMB2 SESSION_SETUP response");
    if r.u16()? != 9 {
        return Err(r.error("StructureSize is not 9"));
    }
    let session_flags = r.u16()?;
    let offset = usize::from(r.u16()?);
    let len = usize::from(r.u16()?);
    let security_buffer = if len == 0 {
        Vec::new()
    } else {
        slice_at(msg, offset, len, "SMB2 SESSION_SETUP security buffer")?.to_vec()
    };
    Ok(SessionSetupResponse {
        session_flags,
        security_buffer,
    })
}

/// TREE_CONNECT to `\\server\share` (UTF-16 path).
pub fn tree_connect_request(path_utf16: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    b.put_u16(9);
    b.put_u16(0);
    b.put_u16((HEADER_LEN + 8) as u16);
    b.put_u16(path_utf16.len() as u16);
    b.extend_from_slice(path_utf16);
    b
}

/// The ShareFlags of a TREE_CONNECT response (MS-SMB2 2.2.10).
pub fn parse_tree_connect_response(msg: &[u8]) -> Result<u32, DecodeError> {
    let mut r = Reader::new(body(msg), "SMB2 TREE_CONNECT response");
    if r.u16()? != 16 {
        return Err(r.error("StructureSize is not 16"));
    }
    r.skip(2)?; // ShareType, Reserved
    r.u32()
}

/// CREATE (open) of a named pipe by name (`wkssvc`), read/write, no create contexts.
pub fn create_pipe_request(name_utf16: &[u8]) -> Vec<u8> {
    const DESIRED_ACCESS: u32 = 0x0012_019F; // generic read/write on a pipe
    let mut b = Vec::new();
    b.put_u16(57);
    b.put_u8(0); // SecurityFlags
    b.put_u8(0); // RequestedOplockLevel: none
    b.put_u32(2); // ImpersonationLevel: Impersonation
    b.put_u64(0); // SmbCreateFlags
    b.put_u64(0); // Reserved
    b.put_u32(DESIRED_ACCESS);
    b.put_u32(0); // FileAttributes
    b.put_u32(0x3); // ShareAccess: read | write
    b.put_u32(1); // CreateDisposition: FILE_OPEN
    b.put_u32(0x40); // CreateOptions: FILE_NON_DIRECTORY_FILE
    b.put_u16((HEADER_LEN + 56) as u16);
    b.put_u16(name_utf16.len() as u16);
    b.put_u32(0); // CreateContextsOffset
    b.put_u32(0); // CreateContextsLength
    b.extend_from_slice(name_utf16);
    b
}

/// The 16-byte SMB2_FILEID of an open.
pub type FileId = [u8; 16];

pub fn parse_create_response(msg: &[u8]) -> Result<FileId, DecodeError> {
    let mut r = Reader::new(body(msg), "SMB2 CREATE response");
    if r.u16()? != 89 {
        return Err(r.error("StructureSize is not 89"));
    }
    r.seek(64)?;
    r.array::<16>()
}

pub fn ioctl_transceive_request(file_id: &FileId, input: &[u8], max_output: u32) -> Vec<u8> {
    ioctl_request(FSCTL_PIPE_TRANSCEIVE, file_id, input, max_output)
}

/// An FSCTL on `file_id` (all 0xFF for FSCTLs on no file, MS-SMB2 2.2.31).
pub fn ioctl_request(ctl_code: u32, file_id: &FileId, input: &[u8], max_output: u32) -> Vec<u8> {
    let mut b = Vec::with_capacity(56 + input.len());
    b.put_u16(57);
    b.put_u16(0);
    b.put_u32(ctl_code);
    b.extend_from_slice(file_id);
    b.put_u32((HEADER_LEN + 56) as u32); // InputOffset
    b.put_u32(input.len() as u32);
    b.put_u32(0); // MaxInputResponse
    b.put_u32(0); // OutputOffset
    b.put_u32(0); // OutputCount
    b.put_u32(max_output);
    b.put_u32(1); // Flags: SMB2_0_IOCTL_IS_FSCTL
    b.put_u32(0);
    b.extend_from_slice(input);
    b
}

/// The output buffer of an IOCTL response.
pub fn parse_ioctl_response(msg: &[u8]) -> Result<&[u8], DecodeError> {
    let mut r = Reader::new(body(msg), "SMB2 IOCTL response");
    if r.u16()? != 49 {
        return Err(r.error("StructureSize is not 49"));
    }
    r.skip(2 + 4 + 16 + 4 + 4)?;
    let offset = r.u32()? as usize;
    let count = r.u32()? as usize;
    if count == 0 {
        return Ok(&[]);
    }
    slice_at(msg, offset, count, "SMB2 IOCTL output")
}

pub fn write_request(file_id: &FileId, data: &[u8]) -> Vec<u8> {
    let mut b = Vec::with_capacity(48 + data.len());
    b.put_u16(49);
    b.put_u16((HEADER_LEN + 48) as u16);
    b.put_u32(data.len() as u32);
    b.put_u64(0); // Offset
    b.extend_from_slice(file_id);
    b.put_u32(0); // Channel
    b.put_u32(0); // RemainingBytes
    b.put_u16(0);
    b.put_u16(0);
    b.put_u32(0); // Flags
    b.extend_from_slice(data);
    b
}

pub fn read_request(file_id: &FileId, length: u32) -> Vec<u8> {
    let mut b = Vec::with_capacity(49);
    b.put_u16(49);
    b.put_u8(0x50); // Padding: where the server should put the data
    b.put_u8(0);
    b.put_u32(length);
    b.put_u64(0); // Offset
    b.extend_from_slice(file_id);
    b.put_u32(0); // MinimumCount
    b.put_u32(0); // Channel
    b.put_u32(0); // RemainingBytes
    b.put_u16(0);
    b.put_u16(0);
    b.put_u8(0);
    b
}

pub fn parse_read_response(msg: &[u8]) -> Result<&[u8], DecodeError> {
    let mut r = Reader::new(body(msg), "SMB2 READ response");
    if r.u16()? != 17 {
        return Err(r.error("StructureSize is not 17"));
    }
    let offset = usize::from(r.u8()?);
    r.skip(1)?;
    let len = r.u32()? as usize;
    slice_at(msg, offset, len, "SMB2 READ data")
}

pub fn close_request(file_id: &FileId) -> Vec<u8> {
    let mut b = Vec::with_capacity(24);
    b.put_u16(24);
    b.put_u16(0);
    b.put_u32(0);
    b.extend_from_slice(file_id);
    b
}

/// TREE_DISCONNECT and LOGOFF share this 4-byte body.
pub fn empty_request() -> Vec<u8> {
    vec![4, 0, 0, 0]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trip() {
        let header = RequestHeader {
            command: CREATE,
            credit_charge: 1,
            credit_request: 64,
            flags: 0,
            message_id: 7,
            tree_id: 5,
            session_id: 0x1122_3344_5566_7788,
        };
        let msg = build_message(&header, &[1, 2, 3]);
        let parsed = parse_header(&msg).unwrap();
        assert_eq!(parsed.command, CREATE);
        assert_eq!(parsed.message_id, 7);
        assert_eq!(parsed.tree_id, 5);
        assert_eq!(parsed.session_id, 0x1122_3344_5566_7788);
        assert_eq!(body(&msg), &[1, 2, 3]);
        assert!(parse_header(&msg[..40]).is_err());
        assert!(parse_header(b"\xFFSMB").is_err());
    }

    #[test]
    fn response_parsers_reject_short_bodies() {
        let msg = build_message(&RequestHeader::default(), &[0; 10]);
        assert!(super::super::smb2_negotiate::parse_negotiate_response(&msg).is_err());
        assert!(parse_tree_connect_response(&msg).is_err());
        assert!(parse_session_setup_response(&msg).is_err());
        assert!(parse_create_response(&msg).is_err());
        assert!(parse_ioctl_response(&msg).is_err());
        assert!(parse_read_response(&msg).is_err());
    }
}

//! What can go wrong in a remote scan, and how each failure is reported as a
//! [`SourceFailure`] with its real reason and native code.

use std::io;
use std::net::SocketAddr;

use crate::model::{FailureKind, SourceFailure};

use super::smb2;
use super::wire::DecodeError;

pub const WERR_ACCESS_DENIED: u32 = 5;
pub const WERR_INVALID_LEVEL: u32 = 124;
pub const WERR_MORE_DATA: u32 = 234;
pub const NCA_OP_RNG_ERROR: u32 = 0x1C01_0002;
pub const NCA_UNK_IF: u32 = 0x1C01_0003;
pub const NCA_PROTO_ERROR: u32 = 0x1C01_000B;
pub const RPC_S_ACCESS_DENIED: u32 = 5;

#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    #[error("cannot resolve host '{host}': {detail}")]
    Resolve { host: String, detail: String },
    #[error("cannot connect to {addr}: {}", connect_reason(source, *addr))]
    Connect { addr: SocketAddr, source: io::Error },
    #[error("no answer within the time limit while {during}")]
    Timeout { during: &'static str },
    #[error("connection failed while {during}: {source}")]
    Io {
        during: &'static str,
        source: io::Error,
    },
    #[error("the server sent a {0}")]
    Decode(#[from] DecodeError),
    #[error("SMB2 {command} failed with {} (0x{status:08x})", smb2::status_name(*status))]
    Status { command: &'static str, status: u32 },
    #[error("authentication failed: {detail}")]
    Authentication { detail: String },
    /// The server's dialect is below `--min-dialect` (or one never offered):
    /// an old server, or a rewritten NEGOTIATE.
    #[error(
        "the server chose SMB {chosen}, below the minimum SMB {minimum} (--min-dialect): \
         an old server, or someone rewrote the negotiation"
    )]
    DialectRefused { chosen: String, minimum: String },
    #[error(
        "the server speaks no SMB dialect at or above the minimum SMB {minimum} (--min-dialect)"
    )]
    NoCommonDialect { minimum: String },
    /// Encryption was asked for (`--encrypt`) but this server cannot do it.
    #[error("encryption was required but {detail}")]
    EncryptionUnavailable { detail: String },
    /// An answer failed its integrity check after the logon.
    #[error("integrity check failed: {detail}; nothing from this exchange was kept")]
    Tampered { detail: String },
    #[error("the RPC bind to {interface} was rejected: {reason}")]
    BindRejected {
        interface: &'static str,
        reason: String,
    },
    #[error("RPC fault 0x{status:08x} ({})", fault_name(*status))]
    Fault { status: u32 },
    #[error("{call} returned Windows error {code} ({})", werror_name(*code))]
    Win32 { call: &'static str, code: u32 },
    /// The server sent more than a scan takes (rows, bytes, fragments, pages):
    /// reading stopped, and the partial answer is not used.
    #[error(
        "the server's answer passed the limit of {limit}; reading stopped and the incomplete answer is not used"
    )]
    Limit { limit: String },
    /// An LSA call answered with a failing NTSTATUS (MS-LSAD/MS-LSAT return
    /// NTSTATUS where the Net* calls return Win32 errors).
    #[error("{call} returned {} (0x{status:08x})", ntstatus_name(*status))]
    NtStatus { call: &'static str, status: u32 },
    /// The server refuses NTLM logons by policy.
    #[error(
        "the server refuses NTLM logons by policy ({} 0x{status:08x}; Samba: `ntlm auth = disabled`, \
         Windows: \"Network security: Restrict NTLM\"): log on with Kerberos (-k)",
        smb2::status_name(*status)
    )]
    NtlmRefused { status: u32 },
    #[error(transparent)]
    Kerberos(#[from] super::kerberos::KerberosError),
}

pub const STATUS_NONE_MAPPED: u32 = 0xC000_0073;
pub const STATUS_SOME_NOT_MAPPED: u32 = 0x0000_0107;

pub fn ntstatus_name(status: u32) -> &'static str {
    match status {
        STATUS_NONE_MAPPED => "STATUS_NONE_MAPPED",
        STATUS_SOME_NOT_MAPPED => "STATUS_SOME_NOT_MAPPED",
        0xC000_0008 => "STATUS_INVALID_HANDLE",
        0xC000_0017 => "STATUS_NO_MEMORY",
        other => smb2::status_name(other),
    }
}

/// Why a TCP connect failed, in words that tell a closed port from a host
/// that cannot be reached: a refusal means the host answered.
fn connect_reason(source: &io::Error, addr: SocketAddr) -> String {
    match source.kind() {
        io::ErrorKind::ConnectionRefused => format!(
            "connection refused (nothing listening on port {})",
            addr.port()
        ),
        io::ErrorKind::HostUnreachable => format!("host unreachable ({source})"),
        io::ErrorKind::NetworkUnreachable => format!("network unreachable ({source})"),
        _ => source.to_string(),
    }
}

pub fn fault_name(status: u32) -> &'static str {
    match status {
        RPC_S_ACCESS_DENIED => "access denied",
        NCA_OP_RNG_ERROR => "nca_op_rng_error: operation not supported",
        NCA_UNK_IF => "nca_unk_if: unknown interface",
        NCA_PROTO_ERROR => "nca_proto_error",
        0x1C00_001A => "nca_s_fault_ndr",
        0x1C00_0001 => "nca_s_fault_int_div_by_zero",
        0x6F7 => "RPC_X_BAD_STUB_DATA",
        _ => "unknown fault",
    }
}

pub fn werror_name(code: u32) -> &'static str {
    match code {
        WERR_ACCESS_DENIED => "ERROR_ACCESS_DENIED",
        WERR_INVALID_LEVEL => "ERROR_INVALID_LEVEL",
        WERR_MORE_DATA => "ERROR_MORE_DATA",
        8 => "ERROR_NOT_ENOUGH_MEMORY",
        87 => "ERROR_INVALID_PARAMETER",
        50 => "ERROR_NOT_SUPPORTED",
        2221 => "NERR_UserNotFound",
        _ => "unknown error",
    }
}

impl RemoteError {
    pub fn io(during: &'static str, source: io::Error) -> Self {
        match source.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => RemoteError::Timeout { during },
            _ => RemoteError::Io { during, source },
        }
    }

    pub fn kind(&self) -> FailureKind {
        match self {
            RemoteError::Resolve { .. } => FailureKind::Unreachable,
            RemoteError::Connect { source, .. } => match source.kind() {
                io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => FailureKind::Timeout,
                _ => FailureKind::Unreachable,
            },
            RemoteError::Timeout { .. } => FailureKind::Timeout,
            RemoteError::Io { .. } => FailureKind::Other,
            RemoteError::Decode(_) => FailureKind::ParseError,
            RemoteError::Status { status, .. } => match *status {
                smb2::STATUS_LOGON_FAILURE
                | smb2::STATUS_ACCOUNT_RESTRICTION
                | smb2::STATUS_PASSWORD_EXPIRED
                | smb2::STATUS_ACCOUNT_DISABLED
                | smb2::STATUS_ACCOUNT_LOCKED_OUT => FailureKind::LogonFailure,
                smb2::STATUS_ACCESS_DENIED => FailureKind::AccessDenied,
                smb2::STATUS_OBJECT_NAME_NOT_FOUND | smb2::STATUS_BAD_NETWORK_NAME => {
                    FailureKind::NotAvailable
                }
                _ => FailureKind::Other,
            },
            RemoteError::Authentication { .. } => FailureKind::LogonFailure,
            RemoteError::DialectRefused { .. }
            | RemoteError::NoCommonDialect { .. }
            | RemoteError::EncryptionUnavailable { .. } => FailureKind::NotSupported,
            RemoteError::Tampered { .. } => FailureKind::Tampered,
            RemoteError::BindRejected { .. } => FailureKind::NotAvailable,
            RemoteError::Fault { status } => match *status {
                RPC_S_ACCESS_DENIED => FailureKind::AccessDenied,
                _ => FailureKind::Other,
            },
            RemoteError::Win32 { code, .. } => match *code {
                WERR_ACCESS_DENIED => FailureKind::AccessDenied,
                _ => FailureKind::Other,
            },
            RemoteError::Limit { .. } => FailureKind::Other,
            RemoteError::NtStatus { status, .. } => match *status {
                smb2::STATUS_ACCESS_DENIED => FailureKind::AccessDenied,
                _ => FailureKind::Other,
            },
            RemoteError::Kerberos(err) => err.kind(),
            RemoteError::NtlmRefused { .. } => FailureKind::NotSupported,
        }
    }

    /// The native code worth showing: NTSTATUS, RPC fault status, Win32 error or errno.
    pub fn code(&self) -> Option<i64> {
        match self {
            RemoteError::Status { status, .. }
            | RemoteError::Fault { status }
            | RemoteError::NtStatus { status, .. } => Some(i64::from(*status)),
            RemoteError::Win32 { code, .. } => Some(i64::from(*code)),
            RemoteError::Connect { source, .. } | RemoteError::Io { source, .. } => {
                source.raw_os_error().map(i64::from)
            }
            RemoteError::Kerberos(err) => err.code(),
            RemoteError::NtlmRefused { status } => Some(i64::from(*status)),
            _ => None,
        }
    }

    /// This error as the failure of one source, with a hint what to do where there is one.
    pub fn to_failure(&self, source: &str) -> SourceFailure {
        let hint = match self.kind() {
            // Kerberos failures carry their own advice.
            _ if matches!(
                self,
                RemoteError::Kerberos(_) | RemoteError::NtlmRefused { .. }
            ) =>
            {
                ""
            }
            FailureKind::AccessDenied => {
                "; the server answers this only to administrators (Samba: members of BUILTIN\\Administrators)"
            }
            FailureKind::LogonFailure => "; check the user name, domain and password",
            FailureKind::Tampered => {
                "; the traffic was altered on the way, or the host is not the one it claims to be"
            }
            _ => "",
        };
        SourceFailure::new(self.kind(), self.code(), format!("{source}: {self}{hint}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_follow_the_real_reason() {
        let status = |status| RemoteError::Status {
            command: "X",
            status,
        };
        assert_eq!(
            status(smb2::STATUS_LOGON_FAILURE).kind(),
            FailureKind::LogonFailure
        );
        assert_eq!(
            status(smb2::STATUS_ACCESS_DENIED).kind(),
            FailureKind::AccessDenied
        );
        assert_eq!(
            status(smb2::STATUS_OBJECT_NAME_NOT_FOUND).kind(),
            FailureKind::NotAvailable
        );
        let werr = RemoteError::Win32 {
            call: "NetrSessionEnum",
            code: 5,
        };
        assert_eq!(werr.kind(), FailureKind::AccessDenied);
        assert_eq!(werr.code(), Some(5));
        let fault = RemoteError::Fault {
            status: NCA_OP_RNG_ERROR,
        };
        assert_eq!(fault.kind(), FailureKind::Other);
        assert_eq!(fault.code(), Some(0x1C01_0002));
        assert!(fault.to_string().contains("nca_op_rng_error"));
        let refused = RemoteError::Connect {
            addr: "127.0.0.1:1".parse().unwrap(),
            source: io::Error::from(io::ErrorKind::ConnectionRefused),
        };
        assert_eq!(refused.kind(), FailureKind::Unreachable);
        let message = refused.to_failure("NetrSessionEnum").message;
        assert!(
            message.ends_with("connection refused (nothing listening on port 1)"),
            "{message}"
        );
        assert!(!message.contains("nreachable"), "{message}");
        let unreachable = RemoteError::Connect {
            addr: "127.0.0.1:445".parse().unwrap(),
            source: io::Error::from(io::ErrorKind::HostUnreachable),
        };
        assert_eq!(unreachable.kind(), FailureKind::Unreachable);
        assert!(unreachable.to_string().contains("host unreachable"));
        assert!(!unreachable.to_string().contains("refused"));
        assert_eq!(
            RemoteError::io("x", io::ErrorKind::WouldBlock.into()).kind(),
            FailureKind::Timeout
        );
    }
}

//! Which door of a remote host was open: one [`CoverageEntry`] per method a
//! scan tried, with the host setting that decides a shut one.

use crate::model::{CoverageEntry, CoverageResult, FailureKind, Observed};

use super::error::{
    NCA_OP_RNG_ERROR, NCA_UNK_IF, RPC_S_ACCESS_DENIED, RemoteError, WERR_ACCESS_DENIED,
};
use super::smb2;

/// NTSTATUS a pipe open or read gets when the pipe exists but nothing serves it.
pub const STATUS_PIPE_NOT_AVAILABLE: u32 = 0xC000_00AC;
pub const STATUS_PIPE_BROKEN: u32 = 0xC000_014B;
pub const STATUS_PIPE_DISCONNECTED: u32 = 0xC000_00B0;

/// One method of reading a host: what it is called, its pipe, and the
/// setting that decides whether a non-administrator (or anyone) may use it.
#[derive(Debug, Clone, Copy)]
pub struct Method {
    pub name: &'static str,
    pub pipe: &'static str,
    /// Shown when the method was refused (access denied).
    pub access_setting: &'static str,
    /// Shown when the pipe is absent or its service does not answer.
    pub service_setting: &'static str,
}

impl Method {
    /// The coverage record of one attempt.
    pub fn entry<T>(&self, outcome: &Result<T, RemoteError>) -> CoverageEntry {
        match outcome {
            Ok(_) => CoverageEntry {
                method: self.name.to_string(),
                pipe: self.pipe.to_string(),
                result: CoverageResult::Ok,
                code: None,
                detail: None,
                setting: None,
            },
            Err(err) => self.failed(err),
        }
    }

    /// The coverage record of a failed attempt.
    pub fn failed(&self, err: &RemoteError) -> CoverageEntry {
        let result = classify(err);
        CoverageEntry {
            method: self.name.to_string(),
            pipe: self.pipe.to_string(),
            result,
            code: err.code(),
            detail: Some(err.to_string()),
            setting: self.setting_for(result),
        }
    }

    /// The coverage record of a source as it was filled in (its failure
    /// keeps the native code that tells the doors apart).
    pub fn of_source<T>(&self, observed: &Observed<T>) -> CoverageEntry {
        let Observed::Failed(failure) = observed else {
            return self.entry::<()>(&Ok(()));
        };
        let result = failure
            .code
            .and_then(|code| u32::try_from(code).ok())
            .and_then(classify_code)
            .unwrap_or(match failure.kind {
                FailureKind::AccessDenied => CoverageResult::AccessDenied,
                FailureKind::NotAvailable => CoverageResult::PipeAbsent,
                _ => CoverageResult::Failed,
            });
        CoverageEntry {
            method: self.name.to_string(),
            pipe: self.pipe.to_string(),
            result,
            code: failure.code,
            detail: Some(failure.message.clone()),
            setting: self.setting_for(result),
        }
    }

    fn setting_for(&self, result: CoverageResult) -> Option<String> {
        match result {
            CoverageResult::AccessDenied => Some(self.access_setting),
            CoverageResult::PipeAbsent | CoverageResult::ServiceStopped => {
                Some(self.service_setting)
            }
            _ => None,
        }
        .filter(|s| !s.is_empty())
        .map(str::to_string)
    }

    /// A method not tried because an earlier step (connecting, logging on) failed.
    pub fn not_tried(&self, why: &str) -> CoverageEntry {
        CoverageEntry {
            method: self.name.to_string(),
            pipe: self.pipe.to_string(),
            result: CoverageResult::NotTried,
            code: None,
            detail: Some(why.to_string()),
            setting: None,
        }
    }
}

/// The door an NTSTATUS or RPC fault code names, if it names one.
fn classify_code(code: u32) -> Option<CoverageResult> {
    Some(match code {
        smb2::STATUS_ACCESS_DENIED => CoverageResult::AccessDenied,
        smb2::STATUS_OBJECT_NAME_NOT_FOUND => CoverageResult::PipeAbsent,
        STATUS_PIPE_NOT_AVAILABLE | STATUS_PIPE_BROKEN | STATUS_PIPE_DISCONNECTED => {
            CoverageResult::ServiceStopped
        }
        // The server does not implement the call (a Samba AD DC's wkssvc
        // answers nca_op_rng_error): a fault, not a stopped service.
        NCA_OP_RNG_ERROR | NCA_UNK_IF => CoverageResult::Fault,
        _ => return None,
    })
}

/// Which door the error says was shut.
pub fn classify(err: &RemoteError) -> CoverageResult {
    match err {
        RemoteError::Status { status, .. } => {
            classify_code(*status).unwrap_or(CoverageResult::Failed)
        }
        RemoteError::Fault { status } => match *status {
            RPC_S_ACCESS_DENIED => CoverageResult::AccessDenied,
            other => classify_code(other).unwrap_or(CoverageResult::Fault),
        },
        RemoteError::Win32 { code, .. } if *code == WERR_ACCESS_DENIED => {
            CoverageResult::AccessDenied
        }
        RemoteError::NtStatus { status, .. } if *status == smb2::STATUS_ACCESS_DENIED => {
            CoverageResult::AccessDenied
        }
        RemoteError::BindRejected { .. } => CoverageResult::ServiceStopped,
        _ => CoverageResult::Failed,
    }
}

pub const WKSSVC_USER_ENUM: Method = Method {
    name: "wkssvc NetrWkstaUserEnum",
    pipe: r"\pipe\wkssvc",
    access_setting: "NetrWkstaUserEnum answers only administrators on Windows \
        (the workstation service's security descriptor); Samba: members of BUILTIN\\Administrators",
    service_setting: "the Workstation service (LanmanWorkstation) is stopped",
};

pub const SRVSVC_SESSION_ENUM: Method = Method {
    name: "srvsvc NetrSessionEnum",
    pipe: r"\pipe\srvsvc",
    access_setting: "the SrvsvcSessionInfo ACL (HKLM\\SYSTEM\\CurrentControlSet\\Services\\\
        LanmanServer\\DefaultSecurity): administrators only since Windows 10 1607 / Server 2019",
    service_setting: "the Server service (LanmanServer) is stopped",
};

pub const WINREG_ENUM_HKU: Method = Method {
    name: "winreg BaseRegEnumKey HKEY_USERS",
    pipe: r"\pipe\winreg",
    access_setting: "the ACL of HKLM\\SYSTEM\\CurrentControlSet\\Control\\SecurePipeServers\\winreg \
        (Windows: Administrators, Backup Operators and LOCAL SERVICE by default; paths under \
        its AllowedExactPaths/AllowedPaths values are open to others) and the ACL of HKEY_USERS; \
        Samba: the registry key's security descriptor",
    service_setting: "the Remote Registry service (RemoteRegistry): Disabled leaves no pipe; \
        Manual/trigger-start on Windows 8 and later clients (started by the first \\pipe\\winreg \
        open, stopped again when idle), Automatic on servers; Samba: rpcd_winreg, started \
        by samba-dcerpcd",
};

pub const LSARPC_LOOKUP_SIDS: Method = Method {
    name: "lsarpc LsarLookupSids2",
    pipe: r"\pipe\lsarpc",
    access_setting: "the LSA policy object's security descriptor (POLICY_LOOKUP_NAMES): \
        authenticated users hold it by default; anonymous and restricted callers are decided by \
        \"Network access: Allow anonymous SID/Name translation\" (LSAAnonymousNameLookup) and \
        RestrictAnonymous in HKLM\\SYSTEM\\CurrentControlSet\\Control\\Lsa; Samba: its LSA \
        policy security descriptor",
    service_setting: "the LSA RPC server lives in lsass and cannot be stopped on Windows; \
        Samba: rpcd_lsad, started by samba-dcerpcd",
};

#[cfg(test)]
mod tests {
    use super::*;

    fn status(status: u32) -> RemoteError {
        RemoteError::Status {
            command: "CREATE",
            status,
        }
    }

    #[test]
    fn each_shut_door_is_told_apart() {
        assert_eq!(
            classify(&status(smb2::STATUS_ACCESS_DENIED)),
            CoverageResult::AccessDenied
        );
        assert_eq!(
            classify(&status(smb2::STATUS_OBJECT_NAME_NOT_FOUND)),
            CoverageResult::PipeAbsent
        );
        assert_eq!(
            classify(&status(STATUS_PIPE_NOT_AVAILABLE)),
            CoverageResult::ServiceStopped
        );
        assert_eq!(
            classify(&RemoteError::Fault { status: 5 }),
            CoverageResult::AccessDenied
        );
        assert_eq!(
            classify(&RemoteError::Fault { status: 0x6F7 }),
            CoverageResult::Fault
        );
        assert_eq!(
            classify(&RemoteError::Win32 {
                call: "X",
                code: WERR_ACCESS_DENIED
            }),
            CoverageResult::AccessDenied
        );
        assert_eq!(
            classify(&RemoteError::Timeout { during: "x" }),
            CoverageResult::Failed
        );
    }

    #[test]
    fn a_refusal_names_the_setting_and_success_names_none() {
        let denied = SRVSVC_SESSION_ENUM.failed(&RemoteError::Fault { status: 5 });
        assert_eq!(denied.result, CoverageResult::AccessDenied);
        assert!(denied.setting.unwrap().contains("SrvsvcSessionInfo"));
        assert_eq!(denied.code, Some(5));
        let ok = WKSSVC_USER_ENUM.entry::<()>(&Ok(()));
        assert_eq!((ok.result, ok.setting), (CoverageResult::Ok, None));
        let absent = WKSSVC_USER_ENUM.failed(&status(smb2::STATUS_OBJECT_NAME_NOT_FOUND));
        assert!(absent.setting.unwrap().contains("LanmanWorkstation"));
    }

    #[test]
    fn a_filled_source_tells_the_same_doors_apart() {
        let failed = |err: RemoteError| Observed::<()>::Failed(err.to_failure("call"));
        for err in [
            status(smb2::STATUS_ACCESS_DENIED),
            status(smb2::STATUS_OBJECT_NAME_NOT_FOUND),
            status(STATUS_PIPE_BROKEN),
            RemoteError::Fault { status: 5 },
            RemoteError::Fault {
                status: NCA_OP_RNG_ERROR,
            },
            RemoteError::Win32 {
                call: "X",
                code: WERR_ACCESS_DENIED,
            },
        ] {
            let direct = SRVSVC_SESSION_ENUM.failed(&err);
            let filled = SRVSVC_SESSION_ENUM.of_source(&failed(err));
            assert_eq!(
                (filled.result, filled.setting),
                (direct.result, direct.setting)
            );
        }
        let ok = SRVSVC_SESSION_ENUM.of_source(&Observed::ok(()));
        assert_eq!(ok.result, CoverageResult::Ok);
    }
}

//! Win32 / NET / HRESULT / NTSTATUS codes as failed sources with advice.
//!
//! A failing API call never crashes a scan: it becomes a
//! [`SourceFailure`] with the native code and a message that says what it
//! means and, where possible, what to do.

use crate::model::{FailureKind, SourceFailure};

pub const ERROR_SUCCESS: u32 = 0;
pub const ERROR_ACCESS_DENIED: u32 = 5;
pub const ERROR_INVALID_PARAMETER: u32 = 87;
pub const ERROR_INVALID_LEVEL: u32 = 124;
pub const ERROR_MORE_DATA: u32 = 234;
pub const ERROR_NO_MORE_ITEMS: u32 = 259;
pub const ERROR_CALL_NOT_IMPLEMENTED: u32 = 120;
pub const ERROR_NOT_SUPPORTED: u32 = 50;
pub const ERROR_INVALID_FUNCTION: u32 = 1;
pub const ERROR_INSUFFICIENT_BUFFER: u32 = 122;
pub const ERROR_NOT_ALL_ASSIGNED: u32 = 1300;
pub const ERROR_NO_MORE_FILES: u32 = 18;

/// What a Win32 or LAN Manager (NERR_*) error code means for a source.
pub fn describe_win32(code: u32) -> (FailureKind, &'static str) {
    use FailureKind::*;
    match code {
        5 => (
            AccessDenied,
            "access denied: run lingerscan elevated (as Administrator); for a remote host \
             the account must be an administrator there",
        ),
        53 => (
            Unreachable,
            "the network path was not found: check the host name, DNS, and that \
             File and Printer Sharing (SMB, TCP 445) is reachable",
        ),
        51 => (Unreachable, "the remote computer is not available"),
        64 => (
            Unreachable,
            "the network name is no longer available (connection dropped)",
        ),
        67 => (Unreachable, "the network name cannot be found"),
        1231 => (Unreachable, "the network location cannot be reached"),
        1722 => (
            Unreachable,
            "the RPC server is unavailable: the host is down, a firewall blocks RPC/SMB, \
             or the service is not running",
        ),
        1726 | 1727 => (Unreachable, "the remote procedure call failed"),
        1460 | 1053 => (Timeout, "the operation timed out"),
        87 => (
            NotSupported,
            "the host rejected the request as an invalid parameter (its workstation or \
             server service does not support this query; Wine answers this way)",
        ),
        124 => (
            NotSupported,
            "the host does not support this information level",
        ),
        50 | 120 | 1 => (NotSupported, "the host does not implement this call"),
        1326 => (
            LogonFailure,
            "logon failure: unknown user name or bad password",
        ),
        1219 => (
            LogonFailure,
            "conflicting credentials: a connection to this host already exists under \
             another user (net use * /delete)",
        ),
        1244 => (LogonFailure, "the request requires an authenticated user"),
        1311 => (
            LogonFailure,
            "no logon server is available to authenticate the request",
        ),
        1330 => (LogonFailure, "the password of the account has expired"),
        1331 => (LogonFailure, "the account is disabled"),
        1909 => (LogonFailure, "the account is locked out"),
        1396 => (
            LogonFailure,
            "the target account name is incorrect (Kerberos SPN mismatch; try the host's FQDN)",
        ),
        2221 => (Other, "the user name could not be found"),
        2312 => (Other, "no session exists with that computer name"),
        2102 | 2138 => (
            NotAvailable,
            "the Workstation service is not started on the host",
        ),
        2114 => (
            NotAvailable,
            "the Server service is not started on the host",
        ),
        8 | 14 => (Other, "not enough memory"),
        2123 => (Other, "the API return buffer is too small"),
        _ => (Other, "unexpected Windows error"),
    }
}

/// A failed source for a Win32 / NET API error code.
pub fn win32_failure(code: u32, call: &str, target: &str) -> SourceFailure {
    let (kind, meaning) = describe_win32(code);
    SourceFailure::new(
        kind,
        Some(i64::from(code)),
        format!("{call} on {target}: {meaning}"),
    )
}

/// HRESULT facility of Win32 errors wrapped as HRESULTs (0x8007xxxx).
const FACILITY_WIN32: u32 = 7;

/// What a COM / WMI HRESULT means for a source.
pub fn describe_hresult(hr: i32) -> (FailureKind, String) {
    let bits = hr as u32;
    if (bits >> 16) & 0x1FFF == FACILITY_WIN32 && bits & 0x8000_0000 != 0 {
        let (kind, meaning) = describe_win32(bits & 0xFFFF);
        return (kind, meaning.to_string());
    }
    let (kind, meaning) = match bits {
        0x8004_1003 => (
            FailureKind::AccessDenied,
            "WMI access denied: the account needs remote WMI (DCOM) rights, usually administrator",
        ),
        0x8004_1009 => (
            FailureKind::NotAvailable,
            "the WMI service or provider is not available",
        ),
        0x8004_100C => (
            FailureKind::NotSupported,
            "WMI does not support this operation",
        ),
        0x8004_100E => (FailureKind::NotSupported, "WMI namespace not found"),
        0x8004_1010 => (
            FailureKind::NotSupported,
            "WMI class not found on this host",
        ),
        0x8004_1013 => (FailureKind::Other, "the WMI provider failed to load"),
        0x8004_1014 => (FailureKind::Other, "the WMI component failed to initialise"),
        0x8004_1015 => (
            FailureKind::Unreachable,
            "WMI transport failure: the host cannot be reached over DCOM (host down, firewall, \
             or the WMI service is stopped)",
        ),
        0x8004_1017 => (FailureKind::Other, "WMI rejected the query (invalid query)"),
        0x8004_1032 => (FailureKind::Other, "the WMI call was cancelled"),
        0x8004_3001 => (FailureKind::Timeout, "the WMI call timed out"),
        0x8001_0108 | 0x8001_0114 => (
            FailureKind::Unreachable,
            "the RPC connection to WMI was lost",
        ),
        0x8000_4005 => (FailureKind::Other, "unspecified COM failure"),
        0x8000_4001 => (FailureKind::NotSupported, "not implemented"),
        _ => (FailureKind::Other, "unexpected COM/WMI error"),
    };
    (kind, meaning.to_string())
}

pub fn hresult_failure(hr: i32, call: &str, target: &str) -> SourceFailure {
    let (kind, meaning) = describe_hresult(hr);
    SourceFailure::new(
        kind,
        Some(i64::from(hr as u32)),
        format!(
            "{call} on {target}: {meaning} (HRESULT 0x{:08X})",
            hr as u32
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_codes_the_brief_names_map_to_their_kinds() {
        let cases = [
            (5, FailureKind::AccessDenied, "elevated"),
            (53, FailureKind::Unreachable, "network path"),
            (87, FailureKind::NotSupported, "invalid parameter"),
            (1722, FailureKind::Unreachable, "RPC server is unavailable"),
            (2221, FailureKind::Other, "user name could not be found"),
            (1326, FailureKind::LogonFailure, "bad password"),
            (124, FailureKind::NotSupported, "information level"),
        ];
        for (code, kind, words) in cases {
            let failure = win32_failure(code, "NetWkstaUserEnum", r"\\SRV01");
            assert_eq!(failure.kind, kind, "code {code}");
            assert_eq!(failure.code, Some(i64::from(code)));
            assert!(
                failure.message.contains(words),
                "code {code}: {}",
                failure.message
            );
            assert!(
                failure
                    .message
                    .starts_with(r"NetWkstaUserEnum on \\SRV01: ")
            );
        }
    }

    #[test]
    fn unknown_code_is_other_with_the_code_kept() {
        let failure = win32_failure(999_999, "X", "here");
        assert_eq!(failure.kind, FailureKind::Other);
        assert_eq!(failure.code, Some(999_999));
        assert!(failure.to_string().contains("(code 999999)"));
    }

    #[test]
    fn hresults_unwrap_win32_and_know_wmi_codes() {
        assert_eq!(
            describe_hresult(0x8007_0005_u32 as i32).0,
            FailureKind::AccessDenied
        );
        assert_eq!(
            describe_hresult(0x8007_06BA_u32 as i32).0,
            FailureKind::Unreachable
        );
        assert_eq!(
            describe_hresult(0x8004_1003_u32 as i32).0,
            FailureKind::AccessDenied
        );
        assert_eq!(
            describe_hresult(0x8004_1010_u32 as i32).0,
            FailureKind::NotSupported
        );
        let failure = hresult_failure(0x8007_06BA_u32 as i32, "WMI connect", "SRV01");
        assert_eq!(failure.code, Some(0x8007_06BA));
        assert!(failure.message.contains("0x800706BA"));
    }
}

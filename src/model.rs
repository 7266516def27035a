//! The snapshot vocabulary: what collectors produce and the analysis reads.
//!
//! A [`HostSnapshot`] is plain data. It serializes to JSON with a
//! `schema_version`, so a snapshot taken on one machine can be analysed on
//! another (`lingerscan analyze snap.json`). Every source is an
//! [`Observed`]: either the rows, or why the collector could not look.
//! "Found nothing" (`Ok` with no rows) and "could not look" (`Failed`) are
//! never the same value.

use jiff::Timestamp;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Version of the snapshot JSON layout. Bump on any incompatible change.
pub const SCHEMA_VERSION: u32 = 2;

/// Every version this build reads: version 1 lacks `directory_accounts`,
/// which then loads as "not collected" (its serde default).
pub const READABLE_SCHEMA_VERSIONS: [u32; 2] = [1, 2];

/// The result of asking one source: its rows, or a structured failure.
// In JSON an object tagged by `status` (`{"status": "ok", "rows": [...]}` or
// `{"status": "failed", "kind": ..., "code": ..., "message": ...}`).
// Deserialize is written by hand (src/observed_de.rs) so that a million
// rows are read straight into their vector, not buffered first as serde's
// derive does for internally tagged enums. (A `//` comment: the schema in
// docs/ carries the doc comment, and the format has not changed.)
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Observed<T> {
    /// The source answered. An empty `rows` means it saw nothing.
    Ok { rows: T },
    /// The source could not be read; nothing may be concluded from it.
    Failed(SourceFailure),
}

impl<T> Observed<T> {
    pub fn ok(rows: T) -> Self {
        Observed::Ok { rows }
    }

    pub fn failed(kind: FailureKind, code: Option<i64>, message: impl Into<String>) -> Self {
        Observed::Failed(SourceFailure {
            kind,
            code,
            message: message.into(),
        })
    }

    pub fn rows(&self) -> Option<&T> {
        match self {
            Observed::Ok { rows } => Some(rows),
            Observed::Failed(_) => None,
        }
    }

    pub fn failure(&self) -> Option<&SourceFailure> {
        match self {
            Observed::Ok { .. } => None,
            Observed::Failed(f) => Some(f),
        }
    }

    pub fn is_ok(&self) -> bool {
        matches!(self, Observed::Ok { .. })
    }
}

impl<R> Observed<Vec<R>> {
    /// The rows, or an empty slice when the source failed. Use only where a
    /// failure has already been accounted for (counting for display).
    pub fn rows_or_empty(&self) -> &[R] {
        match self {
            Observed::Ok { rows } => rows,
            Observed::Failed(_) => &[],
        }
    }
}

impl<T> From<Result<T, SourceFailure>> for Observed<T> {
    fn from(result: Result<T, SourceFailure>) -> Self {
        match result {
            Ok(rows) => Observed::Ok { rows },
            Err(failure) => Observed::Failed(failure),
        }
    }
}

/// Why a source could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema, thiserror::Error)]
#[error("{kind}: {message}{}", code.map(|c| format!(" (code {c})")).unwrap_or_default())]
pub struct SourceFailure {
    pub kind: FailureKind,
    /// The native error code (Win32/NTSTATUS/errno/RPC fault), where there is one.
    pub code: Option<i64>,
    /// A human explanation, ideally with what to do about it.
    pub message: String,
}

impl SourceFailure {
    pub fn new(kind: FailureKind, code: Option<i64>, message: impl Into<String>) -> Self {
        SourceFailure {
            kind,
            code,
            message: message.into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    AccessDenied,
    /// The platform or the remote protocol cannot provide this source at all.
    NotSupported,
    /// The source could exist but is absent here (no utmp file, no smbstatus).
    NotAvailable,
    Timeout,
    Unreachable,
    /// Authentication was refused (wrong password, unknown account).
    LogonFailure,
    ParseError,
    /// An answer failed its integrity check (a bad or missing SMB signature,
    /// an encrypted message that does not decrypt, a negotiation that does
    /// not validate): tampering on the way, or a host that is not who it
    /// claims to be. Nothing from such an exchange is kept.
    Tampered,
    Other,
}

impl std::fmt::Display for FailureKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FailureKind::AccessDenied => "access denied",
            FailureKind::NotSupported => "not supported",
            FailureKind::NotAvailable => "not available",
            FailureKind::Timeout => "timed out",
            FailureKind::Unreachable => "unreachable",
            FailureKind::LogonFailure => "logon failure",
            FailureKind::ParseError => "parse error",
            FailureKind::Tampered => "integrity check failed",
            FailureKind::Other => "error",
        })
    }
}

/// The five evidence sources, named as in reports and JSON.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    WorkstationUsers,
    LogonSessions,
    Processes,
    SmbSessions,
    InteractiveSessions,
    /// User hives loaded on a Windows host: supplementary evidence, not one
    /// of the script's sources (see [`Source::SUPPLEMENTARY`]).
    LoadedProfiles,
    /// The accounts holding sessions as their account database (Active
    /// Directory over LDAP, or NSS on a Linux host) describes them:
    /// supplementary evidence for ORPHANED findings.
    DirectoryAccounts,
}

impl Source {
    /// The five sources the script's report is built on.
    pub const ALL: [Source; 5] = [
        Source::WorkstationUsers,
        Source::LogonSessions,
        Source::Processes,
        Source::SmbSessions,
        Source::InteractiveSessions,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Source::WorkstationUsers => "workstation_users",
            Source::LogonSessions => "logon_sessions",
            Source::Processes => "processes",
            Source::SmbSessions => "smb_sessions",
            Source::InteractiveSessions => "interactive_sessions",
            Source::LoadedProfiles => "loaded_profiles",
            Source::DirectoryAccounts => "directory_accounts",
        }
    }

    /// Sources that add evidence and findings but that the script's rule
    /// never reads: their failure is shown, and does not by itself leave a
    /// host undecided.
    pub const SUPPLEMENTARY: [Source; 2] = [Source::LoadedProfiles, Source::DirectoryAccounts];

    /// Every source, the script's five first.
    pub const EVERY: [Source; 7] = [
        Source::WorkstationUsers,
        Source::LogonSessions,
        Source::Processes,
        Source::SmbSessions,
        Source::InteractiveSessions,
        Source::LoadedProfiles,
        Source::DirectoryAccounts,
    ];

    pub fn is_supplementary(self) -> bool {
        Source::SUPPLEMENTARY.contains(&self)
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Platform {
    Windows,
    Linux,
    /// A remote host seen only through MS-RPC; its OS is not known for sure.
    Unknown,
}

/// Everything collected from one host at one moment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct HostSnapshot {
    pub schema_version: u32,
    /// The host as the user named it (or the local computer name).
    pub host: String,
    pub platform: Platform,
    pub collected_at: Timestamp,
    /// Which collector produced this (`windows-local`, `linux-local`, `msrpc`, …).
    pub collector: String,
    /// NetWkstaUserEnum / NetrWkstaUserEnum / utmp USER_PROCESS entries.
    pub workstation_users: Observed<Vec<WorkstationUser>>,
    /// LSA / WMI logon sessions, or systemd-logind sessions.
    pub logon_sessions: Observed<Vec<LogonSession>>,
    pub processes: Observed<Vec<ProcessRow>>,
    /// SMB server sessions (NetSessionEnum / smbstatus).
    pub smb_sessions: Observed<Vec<SmbSession>>,
    /// WTS sessions (RDP/console) or Linux terminals.
    pub interactive_sessions: Observed<Vec<InteractiveSession>>,
    /// Remarks from the collectors (for example how many processes could not be opened).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// User registry hives loaded on the host (the SIDs under HKEY_USERS,
    /// named through LSA). A hive that stays loaded after its user left
    /// keeps the profile from unloading. Older snapshots have no such source.
    #[serde(default = "not_collected_profiles")]
    pub loaded_profiles: Observed<Vec<LoadedProfile>>,
    /// The state of every account holding a session, as the account
    /// database says: Active Directory (remote scans with `--dc`) or NSS
    /// (Linux hosts). Version 1 snapshots have no such source.
    #[serde(default = "not_collected_accounts")]
    pub directory_accounts: Observed<Vec<DirectoryAccount>>,
    /// Remote scans: each method tried on the host, what it answered and,
    /// for a door that was shut, the setting that decides it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub coverage: Vec<CoverageEntry>,
    /// The scanner's own connection to the host, when collecting opened one
    /// (remote scans, or a local query of Samba over MS-RPC): the rows it
    /// causes on the host are this scan, not a user, and are not judged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scan_connection: Option<ScanConnection>,
}

/// How the scanner itself appears on the host it scans.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct ScanConnection {
    /// The account the scan authenticated as (without domain).
    pub user: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// The scanner's address as the host sees it (the local address of its TCP connection).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_address: Option<String>,
    /// When the connection was opened and closed; the host's rows for it fall in between.
    pub opened_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_at: Option<Timestamp>,
    /// The SMB dialect negotiated (`3.1.1`, `2.1`, ...), where the scan spoke SMB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dialect: Option<String>,
    /// The session was protected with its key from the logon's last answer
    /// on: every answer's SMB signature (or, when encrypted, its AEAD tag)
    /// was checked, and one that failed ended the sources as `tampered`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub signed: bool,
    /// Every message after the logon was encrypted (SMB 3.x).
    #[serde(default, skip_serializing_if = "is_false")]
    pub encrypted: bool,
}

fn not_collected_failure() -> SourceFailure {
    SourceFailure::new(
        FailureKind::NotSupported,
        None,
        "not collected by this collector",
    )
}

fn not_collected_profiles() -> Observed<Vec<LoadedProfile>> {
    Observed::Failed(not_collected_failure())
}

fn not_collected_accounts() -> Observed<Vec<DirectoryAccount>> {
    Observed::Failed(not_collected_failure())
}

/// Which account database a [`DirectoryAccount`] row comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AccountDatabase {
    /// Active Directory, read over LDAP.
    #[default]
    Ldap,
    /// The host's own name service switch (passwd: files, LDAP, SSSD, winbind …).
    Nss,
}

/// One account looked up in the account database, found or not.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct DirectoryAccount {
    #[serde(default)]
    pub database: AccountDatabase,
    /// The SID: the directory's objectSid, else the SID looked up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// Linux: the uid looked up (or the one NSS gave for the name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<u32>,
    /// sAMAccountName (or the Unix name): the directory's, else the name looked up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sam_account_name: Option<String>,
    /// The domain the session row named the account with, where it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// Whether the database has the account (live or in Deleted Objects).
    pub found: bool,
    /// Found only in Deleted Objects (isDeleted).
    #[serde(default, skip_serializing_if = "is_false")]
    pub deleted: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_account_control: Option<u32>,
    /// lockoutTime, when set (non-zero): the account is locked out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lockout_time: Option<Timestamp>,
    /// accountExpires, when the account has an expiry (not 0 or "never").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_expires: Option<Timestamp>,
    /// pwdLastSet, when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pwd_last_set: Option<Timestamp>,
    /// whenChanged as the directory writes it (generalized time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when_changed: Option<String>,
}

/// A user hive loaded on a Windows host: `HKEY_USERS\<SID>`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct LoadedProfile {
    /// The account's SID as the key names it.
    pub sid: String,
    /// The account, where LSA could name the SID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
}

/// One way of reading a remote host, and how it went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CoverageEntry {
    /// What was asked, e.g. `srvsvc NetrSessionEnum`, `TSTS RpcGetAllProcesses`.
    pub method: String,
    /// The named pipe it went over, e.g. `\\pipe\\srvsvc`.
    pub pipe: String,
    pub result: CoverageResult,
    /// The native code (NTSTATUS, RPC fault, Win32 error) of a failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<i64>,
    /// What the host answered, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// For a failure: the host setting that decides it, and how to open it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub setting: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CoverageResult {
    Ok,
    AccessDenied,
    /// The named pipe does not exist (the service is not installed or not running).
    PipeAbsent,
    /// The pipe exists but its service refused or could not answer.
    ServiceStopped,
    /// The call was refused with an RPC fault.
    Fault,
    /// Not tried: an earlier step failed or the connection was lost.
    NotTried,
    Failed,
}

impl std::fmt::Display for CoverageResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CoverageResult::Ok => "ok",
            CoverageResult::AccessDenied => "access denied",
            CoverageResult::PipeAbsent => "pipe absent",
            CoverageResult::ServiceStopped => "service stopped",
            CoverageResult::Fault => "RPC fault",
            CoverageResult::NotTried => "not tried",
            CoverageResult::Failed => "failed",
        })
    }
}

fn is_false(value: &bool) -> bool {
    !*value
}

impl HostSnapshot {
    /// A snapshot in which every source is "not collected yet"; collectors fill in what they can.
    pub fn empty(
        host: impl Into<String>,
        platform: Platform,
        collector: impl Into<String>,
    ) -> Self {
        let not_collected = not_collected_failure;
        HostSnapshot {
            schema_version: SCHEMA_VERSION,
            host: host.into(),
            platform,
            collected_at: Timestamp::now(),
            collector: collector.into(),
            workstation_users: Observed::Failed(not_collected()),
            logon_sessions: Observed::Failed(not_collected()),
            processes: Observed::Failed(not_collected()),
            smb_sessions: Observed::Failed(not_collected()),
            interactive_sessions: Observed::Failed(not_collected()),
            loaded_profiles: Observed::Failed(not_collected()),
            directory_accounts: Observed::Failed(not_collected()),
            coverage: Vec::new(),
            notes: Vec::new(),
            scan_connection: None,
        }
    }

    /// A host nothing could be read from: every source failed the same way.
    pub fn unreadable(host: impl Into<String>, failure: SourceFailure) -> Self {
        let mut snapshot = HostSnapshot::empty(host, Platform::Unknown, "none");
        snapshot.workstation_users = Observed::Failed(failure.clone());
        snapshot.logon_sessions = Observed::Failed(failure.clone());
        snapshot.processes = Observed::Failed(failure.clone());
        snapshot.smb_sessions = Observed::Failed(failure.clone());
        snapshot.interactive_sessions = Observed::Failed(failure);
        snapshot
    }

    /// The failure of one source, if it failed.
    pub fn failure_of(&self, source: Source) -> Option<&SourceFailure> {
        match source {
            Source::WorkstationUsers => self.workstation_users.failure(),
            Source::LogonSessions => self.logon_sessions.failure(),
            Source::Processes => self.processes.failure(),
            Source::SmbSessions => self.smb_sessions.failure(),
            Source::InteractiveSessions => self.interactive_sessions.failure(),
            Source::LoadedProfiles => self.loaded_profiles.failure(),
            Source::DirectoryAccounts => self.directory_accounts.failure(),
        }
    }
}

/// One entry of the workstation service's logged-on user list
/// (WKSTA_USER_INFO_1), or a utmp USER_PROCESS record on Linux.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct WorkstationUser {
    pub user: String,
    #[serde(default)]
    pub logon_domain: String,
    #[serde(default)]
    pub other_domains: String,
    #[serde(default)]
    pub logon_server: String,
    /// utmp: terminal line (`pts/0`, `smb/12345`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tty: Option<String>,
    /// utmp: remote host the login came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_host: Option<String>,
    /// utmp: the login process.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    /// utmp: whether `pid` was alive at collection time (None: not checked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid_alive: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login_time: Option<Timestamp>,
}

/// A logon session: Windows LSA/WMI (LUID) or systemd-logind.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct LogonSession {
    /// Windows: the LUID as a decimal u64 (as WMI prints it). logind: the session id (`3`, `c1`).
    pub logon_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<u32>,
    /// Windows SECURITY_LOGON_TYPE number (2 Interactive, 3 Network, 10 RemoteInteractive …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logon_type: Option<u32>,
    /// logind TYPE (tty, x11, wayland, unspecified) and CLASS, e.g. `tty/user`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_package: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logon_server: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<Timestamp>,
    /// Windows terminal services session id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terminal_session_id: Option<u32>,
    /// logind STATE: active, online, closing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_host: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tty: Option<String>,
    /// logind SERVICE (sshd, login, gdm-password …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// logind LEADER pid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leader_pid: Option<u32>,
    /// Linux audit session id (logind AUDIT).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit_session: Option<u32>,
}

/// One process and the logon it belongs to.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct ProcessRow {
    pub pid: u32,
    pub name: String,
    /// Owner as `DOMAIN\user` (Windows) or the user name (Linux).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<u32>,
    /// The logon session the token belongs to: Windows AuthenticationId as a
    /// decimal u64; Linux the logind session id from the cgroup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logon_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terminal_session_id: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ppid: Option<u32>,
    /// Linux /proc/PID/loginuid (None when unset, i.e. 4294967295).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loginuid: Option<u32>,
    /// Linux /proc/PID/sessionid (None when unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit_session: Option<u32>,
    /// Why owner or logon could not be read for this process, if so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_error: Option<String>,
}

/// One SMB server session (SESSION_INFO_502/10/1/0, or smbstatus).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct SmbSession {
    /// Client computer name or address as the server reports it.
    pub client: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open_files: Option<u32>,
    /// Seconds the session has existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_secs: Option<u64>,
    /// Seconds since the client last did anything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_secs: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transport: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_guest: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dialect: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing: Option<String>,
    /// Tree connects (share names) of this session.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shares: Vec<String>,
    /// Earliest tree connect time, where known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connected_at: Option<Timestamp>,
    /// The serving process (smbd child) on Linux.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_pid: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema, Default)]
pub enum InteractiveState {
    Active,
    Connected,
    ConnectQuery,
    Shadow,
    Disconnected,
    Idle,
    Listen,
    Reset,
    Down,
    Init,
    #[default]
    Unknown,
}

impl std::fmt::Display for InteractiveState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self, f)
    }
}

/// A Windows terminal-services session or a Linux terminal login.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct InteractiveSession {
    /// WTS session id, or a Linux identifier (logind session or tty).
    pub session_id: String,
    /// WinStation name (`Console`, `RDP-Tcp#3`) or tty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub station: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    pub state: InteractiveState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logon_time: Option<Timestamp>,
    /// Seconds since last input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_secs: Option<u64>,
    /// Linux: the login process.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
}

/// Name of a Windows logon type number, as the script prints it.
pub fn logon_type_name(logon_type: u32) -> &'static str {
    match logon_type {
        0 => "System",
        2 => "Interactive",
        3 => "Network",
        4 => "Batch",
        5 => "Service",
        6 => "Proxy",
        7 => "Unlock",
        8 => "NetworkCleartext",
        9 => "NewCredentials",
        10 => "RemoteInteractive (RDP)",
        11 => "CachedInteractive",
        12 => "CachedRemoteInteractive",
        13 => "CachedUnlock",
        _ => "Unknown",
    }
}

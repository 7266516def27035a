//! Collectors: one per source and platform. Each fills a [`HostSnapshot`].
//!
//! A collector never fails as a whole because one source failed: that
//! source becomes `Observed::Failed` and the others go on. Only "there is no
//! collector for this target on this platform" is an error.

pub mod accounts;
pub mod deadline;
#[cfg(target_os = "linux")]
pub mod linux;

/// Portable MS-RPC over SMB; `collect()` uses it for remote hosts except on
/// Windows, where the native Net* APIs take `\\host` themselves.
pub mod msrpc;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::model::HostSnapshot;

#[cfg(windows)]
pub mod windows;
pub mod windows_decode;

/// What a scan should look at and how.
#[derive(Debug, Clone)]
pub struct CollectOptions {
    /// None: this machine. Some: a remote host name or address.
    pub host: Option<String>,
    /// Per-host time limit for network work.
    pub timeout: Duration,
    /// Remote scans: the limit on each TCP connect, within `timeout`.
    pub connect_timeout: Option<Duration>,
    /// Linux local sources: where to read them (tests point these elsewhere).
    pub linux: LinuxPaths,
    /// Remote scans from a non-Windows OS: the account to authenticate as.
    pub credentials: Option<msrpc::Credentials>,
    /// Remote scans from a non-Windows OS: the SMB port (445).
    pub port: u16,
    /// Remote scans from a non-Windows OS: the lowest SMB dialect accepted.
    pub min_dialect: u16,
    /// Remote scans from a non-Windows OS: encrypt the SMB session.
    pub encrypt: bool,
    /// Remote scans from a non-Windows OS: rows one list may hold (`--max-rows`).
    pub max_rows: usize,
    /// Remote scans from a non-Windows OS: NetrSessionEnum levels learned
    /// during this run, per kind of server (one table for the whole run).
    pub levels: msrpc::LevelMemory,
    /// Remote scans from a non-Windows OS: `--resolve NAME=ADDR` entries.
    pub resolve: Vec<(String, std::net::IpAddr)>,
    /// Remote scans with `--dc`: the directory the session holders' account
    /// states are read from (`directory_accounts`).
    pub directory: Option<crate::directory::Server>,
}

impl Default for CollectOptions {
    fn default() -> Self {
        CollectOptions {
            host: None,
            timeout: Duration::from_secs(10),
            connect_timeout: None,
            linux: LinuxPaths::default(),
            credentials: None,
            port: 445,
            min_dialect: msrpc::DEFAULT_MIN_DIALECT,
            encrypt: false,
            max_rows: msrpc::DEFAULT_MAX_ROWS,
            levels: msrpc::LevelMemory::default(),
            resolve: Vec::new(),
            directory: None,
        }
    }
}

/// Paths of the Linux evidence, overridable for tests and unusual systems.
#[derive(Debug, Clone)]
pub struct LinuxPaths {
    pub utmp: PathBuf,
    pub logind_dir: PathBuf,
    pub proc_dir: PathBuf,
    /// smb.conf passed to smbstatus (`-s`); None: Samba's default.
    pub smb_conf: Option<PathBuf>,
    pub smbstatus: PathBuf,
    /// Where logind's sessions are read from (`--logind-source`).
    pub logind_source: LogindSource,
}

/// Where the Linux collector reads systemd-logind's sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogindSource {
    /// The system D-Bus for this machine's own logind (the default
    /// `--logind-dir`), falling back to the files; the files otherwise.
    #[default]
    Auto,
    /// The system D-Bus only, even with `--logind-dir` (whose files are then
    /// only compared with it); a bus failure fails the logind source.
    Dbus,
    /// logind's files only.
    Files,
}

/// The smbstatus a scan runs unless told otherwise (found on `PATH`).
pub const DEFAULT_SMBSTATUS: &str = "smbstatus";

impl LinuxPaths {
    /// Whether the caller named a Samba to ask (`--smbstatus` other than the
    /// default, or `--smb-conf`): then smbstatus always runs. Otherwise it
    /// runs only where an smbd process does, as it costs a scan ~50 ms and
    /// 20 MB of loading Samba's libraries to learn that nothing is served.
    pub fn smbstatus_requested(&self) -> bool {
        self.smb_conf.is_some() || self.smbstatus != std::path::Path::new(DEFAULT_SMBSTATUS)
    }
}

impl Default for LinuxPaths {
    fn default() -> Self {
        LinuxPaths {
            utmp: PathBuf::from("/var/run/utmp"),
            logind_dir: PathBuf::from("/run/systemd"),
            proc_dir: PathBuf::from("/proc"),
            smb_conf: None,
            smbstatus: PathBuf::from(DEFAULT_SMBSTATUS),
            logind_source: LogindSource::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    #[error("no collector can scan {target} from this platform yet: {missing}")]
    NoCollector { target: String, missing: String },
    #[error("scanning {target} remotely needs credentials (--username and a password)")]
    NoCredentials { target: String },
}

/// The host a collector is pointed at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target<'a> {
    /// This machine.
    Local,
    /// A host name or address.
    Remote(&'a str),
}

/// One way of collecting a host, chosen once per run: run-wide settings
/// (credentials, paths, limits) live in the collector, the host is the
/// argument, and the time limit is a deadline. A host that cannot be
/// collected still yields a snapshot whose sources say why.
pub trait Collector: Sync {
    fn collect(&self, target: Target<'_>, deadline: Instant) -> HostSnapshot;
}

/// This platform's collectors: the local one for this machine; for remote
/// hosts the native APIs on Windows, MS-RPC over SMB elsewhere.
#[derive(Debug, Clone)]
pub struct PlatformCollector {
    /// `host` is ignored: the target says which host.
    options: CollectOptions,
}

impl PlatformCollector {
    pub fn new(options: CollectOptions) -> Self {
        PlatformCollector { options }
    }

    /// Whether `target` can be scanned at all with these settings: checked
    /// before a scan starts, so a missing credential ends the run at once
    /// rather than failing every host.
    pub fn check(&self, target: Target<'_>) -> Result<(), CollectError> {
        match target {
            #[cfg(any(windows, target_os = "linux"))]
            Target::Local => Ok(()),
            #[cfg(not(any(windows, target_os = "linux")))]
            Target::Local => Err(no_collector("this machine")),
            #[cfg(windows)]
            Target::Remote(_) => Ok(()),
            #[cfg(not(windows))]
            Target::Remote(host) => match self.options.credentials {
                Some(_) => Ok(()),
                None => Err(CollectError::NoCredentials {
                    target: host.to_string(),
                }),
            },
        }
    }

    /// The run's options with the time left until `deadline` as the timeout.
    #[cfg(any(windows, target_os = "linux"))]
    fn options_until(&self, deadline: Instant) -> CollectOptions {
        CollectOptions {
            timeout: deadline.saturating_duration_since(Instant::now()),
            ..self.options.clone()
        }
    }

    #[cfg(not(windows))]
    fn remote_options(&self) -> msrpc::RemoteOptions {
        remote_options(&self.options)
    }
}

/// The MS-RPC settings of a run's options (a scan's, and `close`'s NetrSessionDel).
pub fn remote_options(options: &CollectOptions) -> msrpc::RemoteOptions {
    msrpc::RemoteOptions {
        port: options.port,
        timeout: options.timeout,
        connect_timeout: options.connect_timeout,
        min_dialect: options.min_dialect,
        encrypt: options.encrypt,
        max_rows: options.max_rows,
        levels: options.levels.clone(),
        resolve: options.resolve.clone(),
        ..msrpc::RemoteOptions::default()
    }
}

impl Collector for PlatformCollector {
    fn collect(&self, target: Target<'_>, deadline: Instant) -> HostSnapshot {
        #[cfg(windows)]
        {
            let options = self.options_until(deadline);
            match target {
                Target::Remote(host) if !windows::names_this_machine(host) => {
                    let mut snapshot = windows::collect_remote(host, &options);
                    if options.directory.is_some() {
                        // This build reads LDAP with MIT GSS-API only (Unix).
                        snapshot.directory_accounts = crate::model::Observed::failed(
                            crate::model::FailureKind::Other,
                            None,
                            crate::directory::DirectoryError::NotOnThisPlatform.to_string(),
                        );
                    }
                    snapshot
                }
                _ => windows::collect_local(&options),
            }
        }
        #[cfg(not(windows))]
        match target {
            #[cfg(target_os = "linux")]
            Target::Local => linux::collect_local(&self.options_until(deadline)),
            #[cfg(not(target_os = "linux"))]
            Target::Local => unavailable("this machine", &no_collector("this machine")),
            Target::Remote(host) => match &self.options.credentials {
                Some(credentials) => {
                    let mut snapshot = msrpc::collect_remote_by(
                        host,
                        credentials,
                        &self.remote_options(),
                        deadline,
                    );
                    if let Some(server) = &self.options.directory {
                        snapshot.directory_accounts =
                            directory_accounts(&snapshot, server, credentials, deadline);
                    }
                    snapshot
                }
                None => unavailable(
                    host,
                    &CollectError::NoCredentials {
                        target: host.to_string(),
                    },
                ),
            },
        }
    }
}

/// The session holders of a remote snapshot, looked up in the directory
/// with the scan's own Kerberos credentials (the directory is read with
/// SASL GSSAPI only: NTLM credentials cannot read it).
#[cfg(not(windows))]
fn directory_accounts(
    snapshot: &HostSnapshot,
    server: &crate::directory::Server,
    credentials: &msrpc::Credentials,
    deadline: Instant,
) -> crate::model::Observed<Vec<crate::model::DirectoryAccount>> {
    use crate::directory::Login;
    use crate::model::{FailureKind, Observed};
    let principal = credentials.principal();
    let login = match credentials.method() {
        msrpc::Method::Kerberos(Some(password)) => Login::Password {
            principal: &principal,
            password: password.expose(),
        },
        msrpc::Method::Kerberos(None) => Login::Cache,
        msrpc::Method::Ntlm(_) => {
            return Observed::failed(
                FailureKind::Other,
                None,
                "the directory is read with Kerberos only: add -k to check account states",
            );
        }
    };
    accounts::from_directory(snapshot, server, &login, deadline)
}

#[cfg(not(any(windows, target_os = "linux")))]
fn no_collector(target: &str) -> CollectError {
    CollectError::NoCollector {
        target: target.to_string(),
        missing: format!(
            "collectors for {} are not built in this version",
            std::env::consts::OS
        ),
    }
}

/// A snapshot of a host no collector could look at, every source saying why.
#[cfg(not(windows))]
fn unavailable(host: &str, why: &CollectError) -> HostSnapshot {
    use crate::model::{FailureKind, SourceFailure};
    HostSnapshot::unreadable(
        host,
        SourceFailure::new(FailureKind::NotSupported, None, why.to_string()),
    )
}

/// Collect a snapshot of the target described by `options` (one host).
pub fn collect(options: &CollectOptions) -> Result<HostSnapshot, CollectError> {
    let collector = PlatformCollector::new(options.clone());
    let target = match options.host.as_deref() {
        None => Target::Local,
        Some(host) => Target::Remote(host),
    };
    collector.check(target)?;
    Ok(collector.collect(target, Instant::now() + options.timeout))
}

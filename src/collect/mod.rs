//! Collectors: one per source and platform. Each fills a [`HostSnapshot`].
//!
//! A collector never fails as a whole because one source failed: that
//! source becomes `Observed::Failed` and the others go on. Only "there is no
//! collector for this target on this platform" is an error.

pub mod deadline;
#[cfg(target_os = "linux")]
pub mod linux;

/// Portable MS-RPC over SMB; `collect()` uses it for remote hosts except on
/// Windows, where the native Net* APIs take `\\host` themselves.
pub mod msrpc;

use std::path::PathBuf;
use std::time::Duration;

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
}

impl Default for CollectOptions {
    fn default() -> Self {
        CollectOptions {
            host: None,
            timeout: Duration::from_secs(10),
            linux: LinuxPaths::default(),
            credentials: None,
            port: 445,
            min_dialect: msrpc::DEFAULT_MIN_DIALECT,
            encrypt: false,
            max_rows: msrpc::DEFAULT_MAX_ROWS,
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

/// Collect a snapshot of the target described by `options`.
pub fn collect(options: &CollectOptions) -> Result<HostSnapshot, CollectError> {
    #[cfg(windows)]
    {
        Ok(match options.host.as_deref() {
            None => windows::collect_local(options),
            Some(host) if windows::names_this_machine(host) => windows::collect_local(options),
            Some(host) => windows::collect_remote(host, options),
        })
    }
    #[cfg(not(windows))]
    collect_not_windows(options)
}

#[cfg(not(windows))]
fn collect_not_windows(options: &CollectOptions) -> Result<HostSnapshot, CollectError> {
    #[cfg(target_os = "linux")]
    if options.host.is_none() {
        return Ok(linux::collect_local(options));
    }
    if let Some(host) = &options.host {
        let credentials =
            options
                .credentials
                .as_ref()
                .ok_or_else(|| CollectError::NoCredentials {
                    target: host.clone(),
                })?;
        return Ok(msrpc::collect_remote_with(
            host,
            credentials,
            &msrpc::RemoteOptions {
                port: options.port,
                timeout: options.timeout,
                min_dialect: options.min_dialect,
                encrypt: options.encrypt,
                max_rows: options.max_rows,
                ..msrpc::RemoteOptions::default()
            },
        ));
    }
    let target = options
        .host
        .clone()
        .unwrap_or_else(|| "this machine".to_string());
    Err(CollectError::NoCollector {
        target,
        missing: format!(
            "collectors for {} are not built in this version",
            std::env::consts::OS
        ),
    })
}

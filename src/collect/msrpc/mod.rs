//! Remote scans from any OS over MS-RPC on SMB, in pure Rust: one SMB2/3
//! connection and NTLMv2 session, the IPC$ tree, `\PIPE\wkssvc`
//! (NetrWkstaUserEnum), `\PIPE\srvsvc` (NetrSessionEnum) and the Terminal
//! Services pipes (interactive sessions and processes, see [`tsts`]).
//!
//! Logon sessions are not served by these pipes, so a remote snapshot
//! reports them as not supported (see docs/remote.md).

pub mod coverage;
mod credentials;
pub mod dcerpc;
mod enumerate;
mod error;
#[cfg(unix)]
pub(crate) mod gssapi;
pub mod kerberos;
pub mod level_memory;
pub mod lsarpc;
pub mod ndr;
pub mod ntlm;
mod profiles;
mod session_del;
pub mod sid;
pub mod smb2;
pub mod smb2_crypto;
pub mod smb2_negotiate;
mod smb_client;
mod smb_session;
pub mod spnego;
pub mod srvsvc;
#[cfg(test)]
mod test_pipe;
pub mod tsts;
pub mod winreg;
pub mod wire;
pub mod wkssvc;

use std::cell::RefCell;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::time::{Duration, Instant};

use jiff::Timestamp;

use crate::model::{
    FailureKind, HostSnapshot, Observed, Platform, ScanConnection, SmbSession, SourceFailure,
    WorkstationUser,
};

pub use credentials::{
    Credentials, CredentialsError, MAX_PASSWORD_FILE, Method, NtHash, Password,
    core_dumps_possible, disable_core_dumps, nt_hash_from, password_from_env, password_from_file,
    password_from_prompt, read_password,
};
pub use error::RemoteError;
pub use level_memory::LevelMemory;
pub use session_del::{Logoff, close_smb_session, logoff_tsts_session};

use dcerpc::{PipeTransport, RpcClient};
use enumerate::enumerate;
use smb_client::{Policy, SmbClient};
pub use smb_session::{DEFAULT_MIN_DIALECT, dialect_name, parse_dialect};
use smb2::FileId;

pub const COLLECTOR_NAME: &str = "msrpc";
pub const DEFAULT_PORT: u16 = 445;
const NOT_OVER_MSRPC: &str = "not available over MS-RPC from Linux";

/// How a remote scan talks to its host. `Default` is what a user gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteOptions {
    pub port: u16,
    /// Bound on the whole scan: resolving, connecting, every exchange.
    pub timeout: Duration,
    /// Bound on each TCP connect (within `timeout`): a host that drops the
    /// SYN costs this, not the whole timeout. None: only `timeout` bounds it.
    pub connect_timeout: Option<Duration>,
    /// DCE/RPC fragment size offered in the bind (both directions).
    pub max_frag: u16,
    /// PreferedMaximumLength of the Enum calls; u32::MAX asks for everything at once.
    pub preferred_max: u32,
    /// The lowest SMB dialect accepted (`smb2::DIALECT_*`); see
    /// [`DEFAULT_MIN_DIALECT`].
    pub min_dialect: u16,
    /// Encrypt the session (SMB 3.x) even when the server does not ask for it.
    pub encrypt: bool,
    /// Rows one enumeration may return over all its pages; more is a failure
    /// of that source, never a silently shortened list.
    pub max_rows: usize,
    /// Bytes the rows of one enumeration may hold in memory (see [`enumerate::Limits`]).
    pub max_bytes: usize,
    /// NetrSessionEnum levels that kinds of server answered at, shared by
    /// the hosts of one run (see [`level_memory`]).
    pub levels: LevelMemory,
    /// Names mapped to addresses ahead of DNS (`--resolve NAME=ADDR`):
    /// Kerberos needs the host's name, which DNS may not know.
    pub resolve: Vec<(String, IpAddr)>,
}

/// Far above any real server (a busy file server holds thousands of
/// sessions), far below what would exhaust a scanning machine.
pub const DEFAULT_MAX_ROWS: usize = 1_000_000;
pub const DEFAULT_MAX_BYTES: usize = 256 * 1024 * 1024;

impl Default for RemoteOptions {
    fn default() -> Self {
        RemoteOptions {
            port: DEFAULT_PORT,
            timeout: Duration::from_secs(10),
            connect_timeout: None,
            max_frag: dcerpc::DEFAULT_FRAG,
            preferred_max: u32::MAX,
            min_dialect: DEFAULT_MIN_DIALECT,
            encrypt: false,
            max_rows: DEFAULT_MAX_ROWS,
            max_bytes: DEFAULT_MAX_BYTES,
            levels: LevelMemory::default(),
            resolve: Vec::new(),
        }
    }
}

/// Scan `host` (name or address) on `port`: workstation users and SMB sessions.
pub fn collect_remote(
    host: &str,
    port: u16,
    creds: &Credentials,
    timeout: Duration,
) -> HostSnapshot {
    collect_remote_with(
        host,
        creds,
        &RemoteOptions {
            port,
            timeout,
            ..RemoteOptions::default()
        },
    )
}

/// [`collect_remote`] with every knob.
pub fn collect_remote_with(
    host: &str,
    creds: &Credentials,
    options: &RemoteOptions,
) -> HostSnapshot {
    collect_remote_by(host, creds, options, Instant::now() + options.timeout)
}

/// [`collect_remote_with`] bounded by a deadline rather than `options.timeout`
/// (a fleet gives every host its own).
pub fn collect_remote_by(
    host: &str,
    creds: &Credentials,
    options: &RemoteOptions,
    deadline: Instant,
) -> HostSnapshot {
    let mut snapshot = HostSnapshot::empty(host, Platform::Unknown, COLLECTOR_NAME);
    snapshot.logon_sessions = not_here();

    // Taken before connecting: the host's rows for this scan start after it.
    let opened_at = Timestamp::now();
    let fail_both = |snapshot: &mut HostSnapshot, err: &RemoteError| {
        snapshot.workstation_users = Observed::Failed(err.to_failure(wkssvc::CALL_NAME));
        snapshot.smb_sessions = Observed::Failed(err.to_failure(srvsvc::CALL_NAME));
        snapshot.loaded_profiles = Observed::Failed(err.to_failure(winreg::CALL_NAME));
        snapshot.interactive_sessions = Observed::Failed(err.to_failure(tsts::sessions::ENUM_CALL));
        snapshot.processes = Observed::Failed(err.to_failure(tsts::processes::CALL_NAME));
    };
    let mut client = match connect_and_log_on(host, creds, options, deadline) {
        Ok(client) => client,
        Err(err) => {
            fail_both(&mut snapshot, &err);
            return snapshot;
        }
    };
    // Logged on: from here the host holds a session for this scan.
    let local_address = client.local_addr();
    let mut scan = ScanConnection {
        user: creds.user.clone(),
        domain: Some(creds.domain.clone()).filter(|d| !d.is_empty()),
        client_address: None,
        opened_at,
        closed_at: None,
        dialect: Some(dialect_name(client.dialect())),
        signed: false,
        encrypted: false,
    };
    if let Err(err) = client.connect_ipc(host) {
        fail_both(&mut snapshot, &err);
        scan.client_address = local_address.map(|a| client_address(a, ServerKind::Samba));
        client.disconnect();
        scan.closed_at = Some(Timestamp::now());
        snapshot.scan_connection = Some(scan);
        return snapshot;
    }
    snapshot.notes.push(format!(
        "msrpc: SMB dialect {}, authenticated as {}, {}",
        dialect_name(client.dialect()),
        creds.account(),
        match client.cipher() {
            Some(cipher) => format!("encrypted with {}", cipher.name()),
            None => "signed".to_string(),
        }
    ));

    // Both pipes are opened, then bound, in one round trip each.
    let client = RefCell::new(client);
    let mut bound = open_and_bind(
        &mut client.borrow_mut(),
        &[&wkssvc::INTERFACE, &srvsvc::INTERFACE],
        options.max_frag,
    )
    .into_iter();
    let mut next_bound = || {
        bound.next().unwrap_or(Err(RemoteError::Timeout {
            during: "opening pipes",
        }))
    };
    let (wks_bound, srv_bound) = (next_bound(), next_bound());
    // The first NetrWkstaUserEnum goes out now and is collected after the
    // NetrSessionEnum level fallback: the two pipes' waits overlap.
    let mut wks_pipe = bind_pipe(&client, wks_bound, &wkssvc::INTERFACE, options.max_frag);
    let early = start_first_call(
        &client,
        &mut wks_pipe,
        wkssvc::OPNUM_USER_ENUM,
        &wkssvc::encode_request(host, wkssvc::LEVELS[0].0, options.preferred_max, 0),
    );
    let srv_pipe = bind_pipe(&client, srv_bound, &srvsvc::INTERFACE, options.max_frag);
    let limits = enumerate::Limits {
        max_rows: options.max_rows,
        max_bytes: options.max_bytes,
        deadline,
    };
    let (sessions, srv_found) =
        split_level(smb_sessions(&client, srv_pipe, host, options, &limits));
    let (users, wks_found) = split_level(workstation_users(
        &client, wks_pipe, early, host, options, &limits,
    ));
    // Windows names a session's client `\\IP`, Samba plain `IP`; the level a
    // server serves tells them apart (Samba refuses 502 and 10, see srvsvc::LEVELS).
    let kind = match srv_found {
        Some(Found {
            level: 502 | 10, ..
        }) => ServerKind::Windows,
        _ => ServerKind::Samba,
    };
    // Only Samba answers NetrSessionEnum at level 1 or 0 to a caller it
    // answers at all (Windows serves 502, or 10 to non-administrators), and
    // Samba implements no Terminal Services: asking smbd for a pipe it does
    // not have makes it consult samba-dcerpcd, 100-350 ms per pipe
    // (measured with Samba 4.17), which a fleet of Samba servers would pay
    // three times per host for nothing.
    let samba_answered = matches!(srv_found, Some(Found { level: 0 | 1, .. }));
    let idle = srv_found
        .as_ref()
        .and_then(|found| idle_note(found.level, sessions.rows_or_empty()));
    for (found, call) in [
        (wks_found, wkssvc::CALL_NAME),
        (srv_found, srvsvc::CALL_NAME),
    ] {
        if let Some(found) = found {
            snapshot.notes.push(found.note(call));
        }
    }
    snapshot.notes.extend(idle);
    scan.client_address = local_address.map(|a| client_address(a, kind));
    snapshot.workstation_users = users;
    snapshot.smb_sessions = sessions;
    if samba_answered {
        tsts::not_on_samba(&mut snapshot);
    } else {
        tsts::collect(&client, options, deadline, &mut snapshot);
    }
    profiles::read_profiles(&client, &mut snapshot, options, deadline);
    let client = client.into_inner();
    // One failed integrity check makes the whole connection suspect: rows
    // read before it are dropped too, so a tampered host yields no rows.
    if let Some(err) = client.integrity_failure() {
        fail_both(&mut snapshot, &err);
        snapshot.notes.retain(|note| !note.contains(" level "));
    }
    // The two doors the script itself knocks on come first in the table.
    snapshot.coverage.splice(
        0..0,
        [
            coverage::WKSSVC_USER_ENUM.of_source(&snapshot.workstation_users),
            coverage::SRVSVC_SESSION_ENUM.of_source(&snapshot.smb_sessions),
        ],
    );
    scan.signed = client.signed();
    scan.encrypted = client.encrypted();
    client.disconnect();
    scan.closed_at = Some(Timestamp::now());
    snapshot.scan_connection = Some(scan);
    snapshot
}

/// How a server writes the client of an SMB session in NetrSessionEnum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ServerKind {
    /// `sesi*_cname` is `\\` and the address (Windows, levels 502/10).
    Windows,
    /// `sesi1_cname` is the connection's remote_name
    /// (source3/lib/sessionid_tdb.c, sessionid_traverse_read_fn), which with
    /// the default `hostname lookups = no` is the bare address
    /// (source3/smbd/smb2_process.c, smbd_add_connection), IPv4-mapped
    /// addresses without their `::ffff:`.
    Samba,
}

/// The scanner's address as `kind` reports it in NetrSessionEnum.
fn client_address(local: SocketAddr, kind: ServerKind) -> String {
    let ip = match local.ip() {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    };
    match kind {
        ServerKind::Windows => format!("\\\\{ip}"),
        ServerKind::Samba => ip.to_string(),
    }
}

/// A note when the SMB sessions came with no idle time: Samba (levels 0 and 1
/// only) does not track it, so `--max-idle` cannot judge them.
fn idle_note(level: u32, sessions: &[SmbSession]) -> Option<String> {
    let unknown = sessions.iter().filter(|s| s.idle_secs.is_none()).count();
    (unknown > 0).then(|| {
        format!(
            "msrpc: {} level {level} gave no idle time for {unknown} of {} SMB sessions \
             (Samba does not track it and sends idle_time 0): their idle time is unknown",
            srvsvc::CALL_NAME,
            sessions.len()
        )
    })
}

fn not_here<T>() -> Observed<T> {
    Observed::Failed(SourceFailure::new(
        FailureKind::NotSupported,
        None,
        NOT_OVER_MSRPC,
    ))
}

/// How an enumeration succeeded: the info level and the RPC response fragments it took.
struct Found {
    level: u32,
    fragments: usize,
    /// Started at this level because an earlier host of the same kind refused the richer ones.
    remembered: bool,
}

impl Found {
    fn note(&self, call: &str) -> String {
        let start = if self.remembered {
            ", started there: a server of this kind refused the richer levels earlier in this run"
        } else {
            ""
        };
        format!(
            "msrpc: {call} level {} ({} response fragments{start})",
            self.level, self.fragments
        )
    }
}

fn split_level<T>(result: Result<(T, Found), SourceFailure>) -> (Observed<T>, Option<Found>) {
    match result {
        Ok((rows, found)) => (Observed::ok(rows), Some(found)),
        Err(failure) => (Observed::Failed(failure), None),
    }
}

/// Resolve (bounded by the deadline), connect, negotiate, authenticate.
fn connect_and_log_on(
    host: &str,
    creds: &Credentials,
    options: &RemoteOptions,
    deadline: Instant,
) -> Result<SmbClient, RemoteError> {
    let mapped = options
        .resolve
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(host))
        .map(|(_, ip)| vec![SocketAddr::new(*ip, options.port)]);
    let addrs = match mapped {
        Some(addrs) => addrs,
        None => resolve(host, options.port, deadline)?,
    };
    let policy = Policy {
        min_dialect: options.min_dialect,
        encrypt: options.encrypt,
    };
    let mut last_error = None;
    let mut connected = None;
    for addr in addrs {
        // Each address gets its own connect bound; the whole stays within the deadline.
        let connect_by = options
            .connect_timeout
            .and_then(|limit| Instant::now().checked_add(limit))
            .map_or(deadline, |by| by.min(deadline));
        match SmbClient::connect_within(addr, connect_by, deadline, policy) {
            Ok(client) => {
                connected = Some(client);
                break;
            }
            Err(err @ RemoteError::Timeout { .. }) => return Err(err),
            Err(err) => last_error = Some(err),
        }
    }
    let mut client = connected.ok_or_else(|| {
        last_error.unwrap_or_else(|| RemoteError::Resolve {
            host: host.to_string(),
            detail: "no addresses".into(),
        })
    })?;
    match creds.method() {
        Method::Ntlm(nt_hash) => client.session_setup(
            &ntlm::Identity {
                user: &creds.user,
                domain: &creds.domain,
                nt_hash,
            },
            host,
        )?,
        Method::Kerberos(password) => {
            let principal = creds.principal();
            client.session_setup_kerberos(host, password.map(|p| (principal.as_str(), p)))?
        }
    }
    Ok(client)
}

/// Name resolution can block far longer than the scan may take, so it runs
/// on a helper thread that is abandoned at the deadline; the helpers alive
/// at once are capped (`deadline::with_deadline`), so a fleet of names that
/// never resolve cannot pile up threads.
fn resolve(host: &str, port: u16, deadline: Instant) -> Result<Vec<SocketAddr>, RemoteError> {
    if let Ok(ip) = host.parse::<std::net::IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let name = host.to_string();
    let lookup = super::deadline::with_deadline(
        deadline,
        "resolve",
        move || {
            (name.as_str(), port)
                .to_socket_addrs()
                .map(Iterator::collect::<Vec<_>>)
                .map_err(|e| e.to_string())
        },
        |_| Err(String::new()),
    );
    match lookup() {
        Ok(addrs) => Ok(addrs),
        // The timeout's answer is empty: no lookup error says nothing.
        Err(detail) if detail.is_empty() => Err(RemoteError::Timeout {
            during: "resolving the host name",
        }),
        Err(detail) => Err(RemoteError::Resolve {
            host: host.to_string(),
            detail,
        }),
    }
}

/// One open pipe as a DCE/RPC transport. The connection is shared by both
/// pipes and borrowed only for the duration of one exchange.
struct SmbPipe<'a> {
    client: &'a RefCell<SmbClient>,
    file_id: FileId,
}

impl PipeTransport for SmbPipe<'_> {
    fn transceive(&mut self, data: &[u8]) -> Result<Vec<u8>, RemoteError> {
        Ok(self
            .client
            .borrow_mut()
            .transceive(&self.file_id, data)?
            .data)
    }
    fn write(&mut self, data: &[u8]) -> Result<(), RemoteError> {
        self.client.borrow_mut().write_pipe(&self.file_id, data)
    }
    fn read(&mut self) -> Result<Vec<u8>, RemoteError> {
        Ok(self.client.borrow_mut().read_pipe(&self.file_id)?.data)
    }
    fn deadline(&self) -> Option<Instant> {
        Some(self.client.borrow().deadline())
    }
}

/// An opened pipe and what it answered to its BIND.
struct BoundPipe {
    file_id: FileId,
    bind_reply: Result<Vec<u8>, RemoteError>,
}

/// Open every interface's pipe, then bind them all, pipelined: two round
/// trips whatever the number of pipes.
fn open_and_bind(
    client: &mut SmbClient,
    interfaces: &[&dcerpc::Interface],
    max_frag: u16,
) -> Vec<Result<BoundPipe, RemoteError>> {
    let names: Vec<&str> = interfaces.iter().map(|i| i.name).collect();
    let opened = client.open_pipes(&names);
    let binds: Vec<(FileId, Vec<u8>)> = opened
        .iter()
        .zip(interfaces)
        .filter_map(|(file_id, interface)| {
            let file_id = *file_id.as_ref().ok()?;
            Some((file_id, dcerpc::bind_request(interface, max_frag)))
        })
        .collect();
    let mut replies = client.transceive_each(&binds).into_iter();
    opened
        .into_iter()
        .map(|file_id| {
            let file_id = file_id?;
            let bind_reply = replies
                .next()
                .unwrap_or(Err(RemoteError::Timeout { during: "binding" }))
                .map(|message| message.data);
            Ok(BoundPipe {
                file_id,
                bind_reply,
            })
        })
        .collect()
}

/// An opened pipe (its id, for closing) and its bound RPC association.
type RpcPipe<'a> = Result<(FileId, Result<RpcClient<SmbPipe<'a>>, RemoteError>), RemoteError>;

/// Finish the bind of `bound`.
fn bind_pipe<'a>(
    client: &'a RefCell<SmbClient>,
    bound: Result<BoundPipe, RemoteError>,
    interface: &dcerpc::Interface,
    max_frag: u16,
) -> RpcPipe<'a> {
    let BoundPipe {
        file_id,
        bind_reply,
    } = bound?;
    let rpc = bind_reply.and_then(|reply| {
        let pipe = SmbPipe { client, file_id };
        RpcClient::from_bind_reply(pipe, interface, max_frag, reply)
    });
    Ok((file_id, rpc))
}

/// A call sent ahead without waiting: its RPC call id and SMB message id.
type EarlyCall = Result<(u32, u64), RemoteError>;

/// Send the first call of `pipe` without waiting for its answer (None when
/// the pipe is not bound: then its error is reported instead).
fn start_first_call(
    client: &RefCell<SmbClient>,
    pipe: &mut RpcPipe<'_>,
    opnum: u16,
    stub: &[u8],
) -> Option<EarlyCall> {
    let (file_id, Ok(rpc)) = pipe.as_mut().ok()? else {
        return None;
    };
    Some(rpc.start_call(opnum, stub).and_then(|started| {
        let message_id = client
            .borrow_mut()
            .submit_transceive(file_id, &started.last_fragment)?;
        Ok((started.call_id, message_id))
    }))
}

/// Run `work` on a bound pipe, then close it (also after an error).
/// Also returns how many RESPONSE fragments arrived.
fn with_pipe<'a, T>(
    client: &RefCell<SmbClient>,
    pipe: RpcPipe<'a>,
    work: impl FnOnce(&mut RpcClient<SmbPipe<'a>>) -> Result<T, RemoteError>,
) -> Result<(T, usize), RemoteError> {
    let (file_id, rpc) = pipe?;
    let result = rpc.and_then(|mut rpc| {
        let out = work(&mut rpc)?;
        Ok((out, rpc.response_fragments()))
    });
    // A timed-out connection cannot close anything; do not wait twice.
    if !matches!(result, Err(RemoteError::Timeout { .. })) {
        let _ = client.borrow_mut().close_pipe(&file_id);
    }
    result
}

fn workstation_users(
    client: &RefCell<SmbClient>,
    pipe: RpcPipe<'_>,
    mut early: Option<EarlyCall>,
    host: &str,
    options: &RemoteOptions,
    limits: &enumerate::Limits,
) -> Result<(Vec<WorkstationUser>, Found), SourceFailure> {
    let file_id = pipe.as_ref().ok().map(|(file_id, _)| *file_id);
    with_pipe(client, pipe, |rpc| {
        let mut call = |level, resume| {
            // The answer to the call sent ahead (first level, resume 0).
            if let (Some(sent), Some(file_id)) = (early.take(), file_id) {
                let (call_id, message_id) = sent?;
                let reply = client
                    .borrow_mut()
                    .finish_submitted_transceive(message_id, &file_id)?;
                return rpc.complete_call(call_id, reply.data);
            }
            rpc.call(
                wkssvc::OPNUM_USER_ENUM,
                &wkssvc::encode_request(host, level, options.preferred_max, resume),
            )
        };
        enumerate(
            &mut call,
            wkssvc::CALL_NAME,
            &wkssvc::LEVELS,
            limits,
            |_, fields| wkssvc::user_from(fields),
        )
    })
    .map(|(found, fragments)| {
        (
            found.rows,
            Found {
                level: found.level,
                fragments,
                remembered: false,
            },
        )
    })
    .map_err(|err| err.to_failure(wkssvc::CALL_NAME))
}

fn smb_sessions(
    client: &RefCell<SmbClient>,
    pipe: RpcPipe<'_>,
    host: &str,
    options: &RemoteOptions,
    limits: &enumerate::Limits,
) -> Result<(Vec<SmbSession>, Found), SourceFailure> {
    let kind = client.borrow().server_version();
    let start = kind.and_then(|kind| options.levels.start_level(&kind));
    let levels = level_memory::levels_from(&srvsvc::LEVELS, start);
    with_pipe(client, pipe, |rpc| {
        let mut call = |level, resume| {
            rpc.call(
                srvsvc::OPNUM_SESSION_ENUM,
                &srvsvc::encode_request(host, level, options.preferred_max, resume),
            )
        };
        enumerate(
            &mut call,
            srvsvc::CALL_NAME,
            &levels,
            limits,
            srvsvc::session_from,
        )
    })
    .map(|(found, fragments)| {
        if let Some(kind) = kind {
            options.levels.learned(kind, found.level);
        }
        (
            found.rows,
            Found {
                level: found.level,
                fragments,
                remembered: start == Some(found.level) && found.level != srvsvc::LEVELS[0].0,
            },
        )
    })
    .map_err(|err| err.to_failure(srvsvc::CALL_NAME))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_address_is_written_as_each_server_writes_it() {
        let at = |text: &str| text.parse::<SocketAddr>().unwrap();
        assert_eq!(
            client_address(at("127.0.0.2:40000"), ServerKind::Samba),
            "127.0.0.2"
        );
        assert_eq!(
            client_address(at("[::ffff:127.0.0.2]:40000"), ServerKind::Samba),
            "127.0.0.2"
        );
        assert_eq!(client_address(at("[::1]:40000"), ServerKind::Samba), "::1");
        assert_eq!(
            client_address(at("10.0.0.5:40000"), ServerKind::Windows),
            "\\\\10.0.0.5"
        );
    }

    #[test]
    fn idle_note_only_when_idle_time_is_missing() {
        let known = SmbSession {
            idle_secs: Some(5),
            ..SmbSession::default()
        };
        assert_eq!(idle_note(502, std::slice::from_ref(&known)), None);
        assert_eq!(idle_note(1, &[]), None);
        let note = idle_note(1, &[known, SmbSession::default()]).unwrap();
        assert!(
            note.contains("level 1") && note.contains("1 of 2"),
            "{note}"
        );
    }
}

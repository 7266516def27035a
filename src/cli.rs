//! Command-line definitions only (clap derive). Behaviour lives in `app`.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use lingerscan::report::Format;

const AFTER_HELP: &str = "\
Examples:
  lingerscan                                  scan this machine, every user
  lingerscan --user 'CONTOSO\\alice'           the script's report for one user
  lingerscan --host SRV01 --user alice        a remote host
  lingerscan --hosts-file servers.txt --username 'CONTOSO\\scan' -f ndjson > fleet.ndjson
                                              a fleet: concurrent, per-host time limits
  lingerscan analyze fleet.ndjson -f text     the fleet report again, from its NDJSON
  lingerscan --format json > scan.json        machine-readable
  lingerscan snapshot --out snap.json         raw evidence, to analyse elsewhere
  lingerscan analyze snap.json --user alice   offline analysis

Exit codes (for a fleet: over every host):
  0  nothing lingering
  1  something lingering
  2  could not decide (a needed source failed, a host failed) or an error";

#[derive(Debug, Parser)]
#[command(
    name = "lingerscan",
    version,
    about = "Find lingering user sessions on Windows and Linux hosts",
    long_about = "Find lingering user sessions: logons a host still holds for users who are gone.\n\n\
        Compares the workstation service's user list, logon sessions, processes, SMB sessions and \
        interactive sessions, gives a verdict per session with its evidence, and prints the \
        sections of Get-LingeringSessions.ps1. Without a subcommand it runs `scan`.",
    after_help = AFTER_HELP,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub scan: ScanArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Collect evidence from a host and report (the default).
    Scan(ScanArgs),
    /// Analyse snapshots written earlier by `snapshot` (offline, no collection).
    Analyze(AnalyzeArgs),
    /// Collect evidence and write the raw snapshot as JSON.
    Snapshot(SnapshotArgs),
    /// Findings over time, from the history database: when each was first
    /// and last seen, and whether it is still there.
    History(HistoryArgs),
    /// What changed between two scans of each host: new, gone, still there.
    Diff(DiffArgs),
    /// Print the targets a scan would take from the directory (--ldap).
    Targets(TargetsArgs),
    /// Close lingering findings: scan, plan one action per selected finding,
    /// act only with --yes (or when confirmed at a terminal), then scan again.
    Close(ScanArgs),
    /// Print the JSON Schema of the snapshot format.
    Schema,
    /// Print shell completions.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff).
    Man,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum ColorChoice {
    /// Colour when standard output is a terminal and NO_COLOR is not set.
    #[default]
    Auto,
    Always,
    Never,
}

/// Options that shape the analysis and its output.
#[derive(Debug, Clone, Args)]
pub struct AnalysisArgs {
    /// The user to check: DOMAIN\user, user@domain or user (default: every user).
    #[arg(short = 'u', long, visible_alias = "target-user", value_name = "USER")]
    pub user: Option<String>,

    /// Output format.
    #[arg(short = 'f', long, value_enum, default_value_t = Format::Text)]
    pub format: Format,

    /// Disconnected and idle sessions linger past this (e.g. 30m, 8h, 3d) [default: 24h].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub max_idle: Option<Duration>,

    /// Colour in the text report.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,

    /// JSON/NDJSON: carry the whole snapshot (to analyse again later), not only the rows the analysis cites.
    #[arg(long)]
    pub include_snapshot: bool,
}

#[derive(Debug, Clone, Args)]
pub struct TargetArgs {
    /// The host to scan (default: this machine; `.` and `localhost` also mean
    /// this machine). Repeat for several; also CIDR (10.1.2.0/24, fd00::/120)
    /// and ranges (10.1.2.10-40, 10.1.2.250-10.1.3.5).
    #[arg(
        short = 'H',
        long,
        visible_alias = "target-server",
        value_name = "HOST"
    )]
    pub host: Vec<String>,

    /// File of targets, one per line as for --host, `#` comments; `-` reads standard input.
    #[arg(long, value_name = "FILE")]
    pub hosts_file: Vec<PathBuf>,

    /// Targets not to scan, in the same forms as --host.
    #[arg(long, value_name = "HOST")]
    pub exclude: Vec<String>,

    /// Time limit for one host: the whole scan of a remote host, or each source of a local scan (e.g. 5s, 1m).
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub timeout: Duration,

    /// Time limit for reaching a server, within --timeout: the TCP connect
    /// and the server's first SMB answer (NEGOTIATE). A host that drops the
    /// connection attempt, or accepts it and never speaks, costs this much.
    #[arg(long, value_name = "DURATION", default_value = "3s", value_parser = parse_duration)]
    pub connect_timeout: Duration,

    #[command(flatten)]
    pub remote: RemoteArgs,

    #[command(flatten)]
    pub directory: DirectoryArgs,

    #[command(flatten)]
    pub linux: LinuxSourceArgs,
}

/// Targets from Active Directory.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Targets from Active Directory (LDAP, Kerberos)")]
pub struct DirectoryArgs {
    /// Scan the domain's computer objects (dNSHostName), read over LDAP
    /// with Kerberos from the DC given by --dc, else from a DC found
    /// through DNS SRV records (_ldap._tcp.dc._msdcs.DOMAIN) of the domain
    /// named by --realm or --username user@REALM. Disabled computers are
    /// skipped.
    #[arg(long)]
    pub ldap: bool,
    /// --ldap without --dc: the DNS server to ask for the domain's DCs
    /// (repeatable, asked in order; default: the nameserver lines of
    /// /etc/resolv.conf).
    #[arg(long, value_name = "ADDR[:PORT]", value_parser = parse_dns_server, requires = "ldap")]
    pub dns_server: Vec<std::net::SocketAddr>,
    /// The LDAP port of a DC found through DNS (its SRV record's); 389 for --dc.
    #[arg(skip)]
    pub ldap_port: Option<u16>,
    /// --ldap: skip computers whose lastLogonTimestamp is older than this
    /// (e.g. 90d; AD updates it only every 9-14 days) or absent.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, requires = "ldap")]
    pub active_within: Option<Duration>,
    /// --ldap: where to search (default: the domain's naming context).
    #[arg(long, value_name = "DN", requires = "ldap")]
    pub search_base: Option<String>,
    /// --ldap: an LDAP filter (RFC 4515) AND-ed with (objectCategory=computer).
    #[arg(long, value_name = "FILTER", requires = "ldap")]
    pub ldap_filter: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum TargetsFormat {
    /// One host name a line (a --hosts-file); the counts on standard error.
    #[default]
    Text,
    /// The computers with their attributes and what was skipped.
    Json,
}

#[derive(Debug, Clone, Args)]
pub struct TargetsArgs {
    /// Output format.
    #[arg(short = 'f', long, value_enum, default_value_t = TargetsFormat::Text)]
    pub format: TargetsFormat,

    #[command(flatten)]
    pub target: TargetArgs,
}

#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Remote scans from Linux (MS-RPC over SMB)")]
pub struct RemoteArgs {
    /// Account to authenticate as: DOMAIN\user, user@domain or user. The password
    /// comes from --password-file, else LINGERSCAN_PASSWORD, else a prompt.
    #[arg(long, value_name = "ACCOUNT")]
    pub username: Option<String>,
    /// File holding the password (one line).
    #[arg(long, value_name = "PATH")]
    pub password_file: Option<PathBuf>,
    /// SMB port of the remote host.
    #[arg(long, value_name = "PORT", default_value_t = 445)]
    pub port: u16,
    /// Lowest SMB dialect to accept: 2.0.2, 2.1, 3.0, 3.0.2 or 3.1.1. A server
    /// (or someone in between) choosing lower ends the scan as not supported.
    #[arg(long, value_name = "DIALECT", default_value = "2.1", value_parser = parse_min_dialect)]
    pub min_dialect: u16,
    /// Encrypt the SMB session (SMB 3.x, AES-GCM or AES-CCM) even when the
    /// server does not require it; a server that cannot is not scanned.
    #[arg(long)]
    pub encrypt: bool,
    /// Most rows one list (workstation users, SMB sessions) may have; a server
    /// sending more makes that source fail rather than report a cut list.
    #[arg(long, value_name = "N", default_value_t = lingerscan::collect::msrpc::DEFAULT_MAX_ROWS, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub max_rows: usize,
    /// Log on with Kerberos (the system's MIT GSS-API library): from the
    /// ticket cache (KRB5CCNAME, what `kinit` leaves), --keytab, or
    /// --username with a password. The default when a ticket cache exists
    /// and no --username is given. Hosts must be named as in the directory.
    #[arg(short = 'k', long)]
    pub kerberos: bool,
    /// Kerberos: get the TGT from this keytab (implies --kerberos).
    #[arg(long, value_name = "FILE")]
    pub keytab: Option<PathBuf>,
    /// Kerberos: the KDC's address when DNS cannot find it (a private
    /// krb5.conf is written for this run).
    #[arg(long, value_name = "ADDR")]
    pub dc: Option<String>,
    /// Kerberos realm for --dc (default: from --username user@REALM, else
    /// the host name's domain in capitals); with --ldap and no --dc, the AD
    /// domain whose DCs are looked up in DNS.
    #[arg(long, value_name = "REALM")]
    pub realm: Option<String>,
    /// Connect to NAME at ADDR without asking DNS (repeatable, like curl's
    /// --resolve): Kerberos needs the name, the network the address.
    #[arg(long, value_name = "NAME=ADDR", value_parser = parse_resolve)]
    pub resolve: Vec<(String, std::net::IpAddr)>,
    /// NTLM with an NT hash instead of a password: 32 hex digits from
    /// --nt-hash-file, else LINGERSCAN_NT_HASH (never on the command line).
    #[arg(long)]
    pub nt_hash: bool,
    /// File holding the NT hash (implies --nt-hash).
    #[arg(long, value_name = "PATH")]
    pub nt_hash_file: Option<PathBuf>,
}

/// `ADDR` or `ADDR:PORT` (`[V6]:PORT`) for --dns-server; port 53 by default.
pub fn parse_dns_server(text: &str) -> Result<std::net::SocketAddr, String> {
    let text = text.trim();
    if let Ok(address) = text.parse::<std::net::SocketAddr>() {
        return Ok(address);
    }
    text.trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<std::net::IpAddr>()
        .map(|ip| std::net::SocketAddr::new(ip, lingerscan::dns::DNS_PORT))
        .map_err(|_| {
            format!("'{text}' is not ADDR or ADDR:PORT (an IP address, e.g. 10.0.0.10:53)")
        })
}

/// `NAME=ADDR` for --resolve.
pub fn parse_resolve(text: &str) -> Result<(String, std::net::IpAddr), String> {
    let (name, addr) = text
        .split_once('=')
        .ok_or_else(|| format!("'{text}' is not NAME=ADDR"))?;
    let name = name.trim();
    if name.is_empty() {
        return Err(format!("'{text}': the name is empty"));
    }
    let addr = addr
        .trim()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .map_err(|e| format!("'{text}': '{addr}' is not an IP address ({e})"))?;
    Ok((name.to_string(), addr))
}

fn parse_min_dialect(text: &str) -> Result<u16, String> {
    lingerscan::collect::msrpc::parse_dialect(text)
}

#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Linux sources")]
pub struct LinuxSourceArgs {
    /// utmp file to read (and, for `close`, to mark stale records dead in).
    #[arg(
        long,
        visible_alias = "utmp",
        value_name = "PATH",
        default_value = "/var/run/utmp"
    )]
    pub utmp_file: PathBuf,
    /// wtmp file `close` logs a utmp logout in.
    #[arg(
        long,
        visible_alias = "wtmp",
        value_name = "PATH",
        default_value = "/var/log/wtmp"
    )]
    pub wtmp_file: PathBuf,
    /// systemd runtime directory holding sessions/ and users/.
    #[arg(long, value_name = "DIR", default_value = "/run/systemd")]
    pub logind_dir: PathBuf,
    /// Where logind's sessions are read: auto (the system D-Bus for the
    /// default --logind-dir, else or on failure the files), dbus, files.
    #[arg(
        long,
        value_name = "SOURCE",
        env = "LINGERSCAN_LOGIND_SOURCE",
        default_value = "auto"
    )]
    pub logind_source: lingerscan::collect::LogindSource,
    /// procfs mount.
    #[arg(long, value_name = "DIR", default_value = "/proc")]
    pub proc_dir: PathBuf,
    /// smb.conf for smbstatus (default: Samba's own).
    #[arg(long, value_name = "PATH")]
    pub smb_conf: Option<PathBuf>,
    /// smbstatus program.
    #[arg(long, value_name = "PATH", default_value = "smbstatus")]
    pub smbstatus: PathBuf,
}

#[derive(Debug, Clone, Args)]
pub struct ScanArgs {
    #[command(flatten)]
    pub analysis: AnalysisArgs,
    #[command(flatten)]
    pub target: TargetArgs,
    #[command(flatten)]
    pub fleet: FleetArgs,
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub close: CloseArgs,
    /// Record nothing in the history database, read nothing from it.
    #[arg(
        long,
        env = "LINGERSCAN_NO_HISTORY",
        help_heading = "History",
        action = clap::ArgAction::SetTrue,
        value_parser = clap::builder::FalseyValueParser::new()
    )]
    pub no_history: bool,
}

/// `close`, and `scan --close`.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Clean-up (close, scan --close)")]
pub struct CloseArgs {
    /// Scan, then close the selected lingering findings (as `lingerscan close`).
    #[arg(long)]
    pub close: bool,
    /// Act without asking. Without it: a terminal is asked once; otherwise
    /// only the plan is shown (a dry run).
    #[arg(long)]
    pub yes: bool,
    /// Only findings with this verdict (repeatable): STALE_UTMP, IDLE_SMB, CLOSING, …
    #[arg(long, value_name = "VERDICT", value_parser = parse_verdict)]
    pub verdict: Vec<lingerscan::analyze::Verdict>,
    /// Only this finding: its id (as the plan and `history --actions` show
    /// it) or its session id (repeatable).
    #[arg(long, value_name = "ID")]
    pub id: Vec<String>,
    /// Plan from this snapshot or JSON/NDJSON report (with its snapshot)
    /// instead of scanning; acting scans again and acts only on what is still found.
    #[arg(long, value_name = "FILE")]
    pub from: Option<PathBuf>,
    /// Between SIGTERM and SIGKILL for leftover processes.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration)]
    pub grace: Duration,
}

fn parse_verdict(text: &str) -> Result<lingerscan::analyze::Verdict, String> {
    lingerscan::history::key::verdict_from_db(&text.trim().to_ascii_uppercase())
        .map_err(|_| format!("'{text}' is not a verdict (STALE_UTMP, IDLE_SMB, CLOSING, LEAKED_LOGON, DISCONNECTED, …)"))
}

/// The history database, as scans (and `analyze --record`) use it.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "History")]
pub struct StoreArgs {
    /// The history database [default: lingerscan/history.sqlite in the user's
    /// data directory: $XDG_DATA_HOME or ~/.local/share, %LOCALAPPDATA% on Windows].
    #[arg(long, value_name = "PATH", env = "LINGERSCAN_DB")]
    pub db: Option<PathBuf>,
    /// Call a finding lingering only once it has been seen this long (e.g. 1d);
    /// a younger one is reported as "new, watching" and does not make the exit code 1.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub min_age: Option<Duration>,
    /// After recording, forget scans older than this (e.g. 90d).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub keep: Option<Duration>,
}

/// `lingerscan history`.
#[derive(Debug, Clone, Args)]
pub struct HistoryArgs {
    /// The history database [default: as for scans].
    #[arg(long, value_name = "PATH", env = "LINGERSCAN_DB")]
    pub db: Option<PathBuf>,
    /// Only this host.
    #[arg(short = 'H', long, value_name = "HOST")]
    pub host: Option<String>,
    /// Only this account: DOMAIN\user, or a name in any domain.
    #[arg(short = 'u', long, value_name = "USER")]
    pub user: Option<String>,
    /// Only what was seen at or after this: a time (RFC 3339), a date, or a
    /// duration ago (7d).
    #[arg(long, value_name = "WHEN", value_parser = parse_since)]
    pub since: Option<jiff::Timestamp>,
    /// List the recorded scans (with the ids `diff --from/--to` take) instead of findings.
    #[arg(long, conflicts_with = "actions")]
    pub scans: bool,
    /// List what `close` did (who, when, what, outcome) instead of findings.
    #[arg(long)]
    pub actions: bool,
    /// Forget scans older than this (e.g. 90d) first.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub keep: Option<Duration>,
    /// Output format.
    #[arg(short = 'f', long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// `lingerscan diff`.
#[derive(Debug, Clone, Args)]
pub struct DiffArgs {
    /// The history database [default: as for scans].
    #[arg(long, value_name = "PATH", env = "LINGERSCAN_DB")]
    pub db: Option<PathBuf>,
    /// Only this host.
    #[arg(short = 'H', long, value_name = "HOST", conflicts_with = "from")]
    pub host: Option<String>,
    /// The earlier scan (an id from `history --scans`) [default: each host's second-to-last scan].
    #[arg(long, value_name = "SCAN_ID", requires = "to")]
    pub from: Option<i64>,
    /// The later scan [default: each host's last scan].
    #[arg(long, value_name = "SCAN_ID", requires = "from")]
    pub to: Option<i64>,
    /// Output format.
    #[arg(short = 'f', long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// Several hosts at once.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Fleets (several hosts)")]
pub struct FleetArgs {
    /// Hosts scanned at once.
    #[arg(long, value_name = "N", default_value_t = lingerscan::fleet::DEFAULT_CONCURRENCY, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=4096))]
    pub concurrency: usize,
    /// Scan only the K-th of N interleaved slices of the targets (e.g. 2/8);
    /// the NDJSON outputs of all N concatenate into one stream.
    #[arg(long, value_name = "K/N", value_parser = lingerscan::targets::Shard::parse)]
    pub shard: Option<lingerscan::targets::Shard>,
    /// Stop starting new hosts after this many refuse the credentials, so a
    /// wrong or expired password does not lock the account out across the
    /// fleet (as NetExec's --fail-limit does). 0: no limit.
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub fail_limit: usize,
    /// The text report of a fleet: the full report of every host, not only those with findings.
    #[arg(long)]
    pub details: bool,
    /// Also write the NDJSON stream (one line per host, as `--format ndjson`
    /// writes it, flushed per host) to FILE, while standard output gets the
    /// chosen format; `lingerscan analyze FILE` reads it back.
    #[arg(long, value_name = "FILE")]
    pub ndjson_out: Option<PathBuf>,
    /// No progress bar.
    #[arg(long)]
    pub no_progress: bool,
    /// Nothing on standard error but errors.
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Debug, Clone, Args)]
pub struct AnalyzeArgs {
    /// Snapshot files (JSON, from `lingerscan snapshot`); `-` reads standard input.
    #[arg(required = true, value_name = "SNAPSHOT")]
    pub files: Vec<PathBuf>,

    #[command(flatten)]
    pub analysis: AnalysisArgs,

    /// Judge idle times (and `--min-age`) as of this moment (RFC 3339) instead of each snapshot's collection time.
    #[arg(long, value_name = "TIMESTAMP")]
    pub now: Option<jiff::Timestamp>,

    /// Record the analysed hosts in the history database, as a scan would
    /// (each at its collection time; the same snapshot twice counts once).
    #[arg(long, help_heading = "History")]
    pub record: bool,

    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(Debug, Clone, Args)]
pub struct SnapshotArgs {
    /// Where to write the snapshot (`-` for standard output).
    #[arg(short, long, value_name = "FILE")]
    pub out: PathBuf,

    #[command(flatten)]
    pub target: TargetArgs,
}

/// `30m`, `8h`, `3d`, `1h 30m`, or ISO 8601 (`PT5M`); days are 24 hours.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let span: jiff::Span = text
        .trim()
        .parse()
        .map_err(|e| format!("'{text}' is not a duration like 30s, 15m, 8h or 3d ({e})"))?;
    let signed = span
        .to_duration(jiff::SpanRelativeTo::days_are_24_hours())
        .map_err(|e| format!("'{text}': {e}"))?;
    Duration::try_from(signed).map_err(|_| format!("'{text}' must not be negative"))
}

/// `--since`: a time, a date (midnight UTC), or a duration before now.
pub fn parse_since(text: &str) -> Result<jiff::Timestamp, String> {
    let text = text.trim();
    if let Ok(time) = text.parse::<jiff::Timestamp>() {
        return Ok(time);
    }
    if let Ok(date) = text.parse::<jiff::civil::Date>() {
        return date
            .to_zoned(jiff::tz::TimeZone::UTC)
            .map(|z| z.timestamp())
            .map_err(|e| format!("'{text}': {e}"));
    }
    let ago = parse_duration(text).map_err(|_| {
        format!("'{text}' is not a time (2025-06-01T08:00:00Z), a date (2025-06-01) or a duration ago (7d)")
    })?;
    let ago = jiff::SignedDuration::try_from(ago).map_err(|e| format!("'{text}': {e}"))?;
    jiff::Timestamp::now()
        .checked_sub(ago)
        .map_err(|e| format!("'{text}': {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("24h"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse_duration("3d"), Ok(Duration::from_secs(3 * 86_400)));
        assert_eq!(parse_duration("1h 30m"), Ok(Duration::from_secs(5_400)));
        assert_eq!(parse_duration("PT5M"), Ok(Duration::from_secs(300)));
        assert!(parse_duration("-5m").is_err());
        assert!(parse_duration("soon").is_err());
    }

    #[test]
    fn script_parameter_names_are_aliases() {
        let cli = Cli::try_parse_from([
            "lingerscan",
            "--target-user",
            "DOM\\bob",
            "--target-server",
            "SRV",
        ])
        .unwrap();
        assert_eq!(cli.scan.analysis.user.as_deref(), Some("DOM\\bob"));
        assert_eq!(cli.scan.target.host, ["SRV"]);
        assert!(cli.command.is_none());
    }

    #[test]
    fn fleet_flags() {
        let cli = Cli::try_parse_from([
            "lingerscan",
            "-H",
            "a",
            "--host",
            "10.0.0.0/30",
            "--exclude",
            "10.0.0.2",
            "--concurrency",
            "8",
            "--shard",
            "2/3",
            "--connect-timeout",
            "1s",
        ])
        .unwrap();
        assert_eq!(cli.scan.target.host, ["a", "10.0.0.0/30"]);
        assert_eq!(cli.scan.fleet.concurrency, 8);
        assert_eq!(
            cli.scan.fleet.shard,
            Some(lingerscan::targets::Shard { k: 2, n: 3 })
        );
        assert_eq!(cli.scan.target.connect_timeout, Duration::from_secs(1));
        assert!(Cli::try_parse_from(["lingerscan", "--concurrency", "0"]).is_err());
        let cli = Cli::try_parse_from(["lingerscan", "--ndjson-out", "fleet.ndjson"]).unwrap();
        assert_eq!(
            cli.scan.fleet.ndjson_out.as_deref(),
            Some(std::path::Path::new("fleet.ndjson"))
        );
        assert!(Cli::try_parse_from(["lingerscan", "--shard", "4/3"]).is_err());
    }

    #[test]
    fn kerberos_flags() {
        let cli = Cli::try_parse_from([
            "lingerscan",
            "-H",
            "dc1.samdom.test",
            "--resolve",
            "dc1.samdom.test=127.0.0.200",
            "--dc",
            "127.0.0.200",
            "-k",
        ])
        .unwrap();
        let remote = &cli.scan.target.remote;
        assert!(remote.kerberos);
        assert_eq!(
            remote.resolve,
            [(
                "dc1.samdom.test".to_string(),
                "127.0.0.200".parse().unwrap()
            )]
        );
        assert_eq!(remote.dc.as_deref(), Some("127.0.0.200"));
        assert!(Cli::try_parse_from(["lingerscan", "--resolve", "x"]).is_err());
        assert!(Cli::try_parse_from(["lingerscan", "--resolve", "x=notip"]).is_err());
        assert!(parse_resolve("h=[::1]").is_ok());
        // The NT hash has no value on the command line.
        assert!(Cli::try_parse_from(["lingerscan", "--nt-hash", "00112233"]).is_err());
    }

    #[test]
    fn ldap_flags() {
        let cli = Cli::try_parse_from([
            "lingerscan",
            "targets",
            "--ldap",
            "--dc",
            "127.0.0.200",
            "--active-within",
            "90d",
            "--ldap-filter",
            "(cn=web*)",
            "-f",
            "json",
        ])
        .unwrap();
        let Some(Command::Targets(args)) = cli.command else {
            panic!("not targets");
        };
        assert!(args.target.directory.ldap);
        assert_eq!(args.format, TargetsFormat::Json);
        assert_eq!(
            args.target.directory.active_within,
            Some(Duration::from_secs(90 * 86_400))
        );
        // --ldap without --dc: the DCs come from DNS (the domain is
        // checked when the command runs, not by the parser).
        let cli = Cli::try_parse_from([
            "lingerscan",
            "targets",
            "--ldap",
            "--realm",
            "SAMDOM.TEST",
            "--dns-server",
            "127.0.0.200",
            "--dns-server",
            "[::1]:5353",
        ])
        .unwrap();
        let Some(Command::Targets(args)) = cli.command else {
            panic!("not targets");
        };
        assert_eq!(args.target.remote.dc, None);
        assert_eq!(
            args.target.directory.dns_server,
            [
                "127.0.0.200:53".parse().unwrap(),
                "[::1]:5353".parse().unwrap()
            ]
        );
        assert!(Cli::try_parse_from(["lingerscan", "--ldap"]).is_ok());
        // --dns-server is only for --ldap, and only addresses.
        assert!(Cli::try_parse_from(["lingerscan", "--dns-server", "127.0.0.1"]).is_err());
        assert!(parse_dns_server("dns.example:53").is_err());
        assert_eq!(parse_dns_server("::1").unwrap().port(), 53);
        assert!(Cli::try_parse_from(["lingerscan", "--active-within", "3d"]).is_err());
    }

    #[test]
    fn max_rows_is_a_positive_count() {
        let cli = Cli::try_parse_from(["lingerscan", "--max-rows", "500"]).unwrap();
        assert_eq!(cli.scan.target.remote.max_rows, 500);
        let cli = Cli::try_parse_from(["lingerscan"]).unwrap();
        assert_eq!(
            cli.scan.target.remote.max_rows,
            lingerscan::collect::msrpc::DEFAULT_MAX_ROWS
        );
        assert!(Cli::try_parse_from(["lingerscan", "--max-rows", "0"]).is_err());
    }

    #[test]
    fn history_and_diff_commands() {
        let cli = Cli::try_parse_from([
            "lingerscan",
            "history",
            "--host",
            "srv",
            "--user",
            "alice",
            "--since",
            "2025-06-01",
            "-f",
            "csv",
        ])
        .unwrap();
        let Some(Command::History(args)) = cli.command else {
            panic!("not history")
        };
        assert_eq!(args.since, Some("2025-06-01T00:00:00Z".parse().unwrap()));
        assert_eq!(args.format, Format::Csv);
        let cli = Cli::try_parse_from(["lingerscan", "diff", "--from", "3", "--to", "9"]).unwrap();
        let Some(Command::Diff(args)) = cli.command else {
            panic!("not diff")
        };
        assert_eq!((args.from, args.to), (Some(3), Some(9)));
        assert!(Cli::try_parse_from(["lingerscan", "diff", "--from", "3"]).is_err());
        let cli = Cli::try_parse_from(["lingerscan", "--min-age", "1d", "--keep", "90d"]).unwrap();
        assert_eq!(cli.scan.store.min_age, Some(Duration::from_secs(86_400)));
        assert_eq!(cli.scan.store.keep, Some(Duration::from_secs(90 * 86_400)));
    }

    #[test]
    fn since_takes_a_time_a_date_or_a_duration_ago() {
        assert_eq!(
            parse_since("2025-06-01T08:00:00Z"),
            Ok("2025-06-01T08:00:00Z".parse().unwrap())
        );
        let week_ago = parse_since("7d").unwrap();
        let age = jiff::Timestamp::now().duration_since(week_ago);
        assert!((age.as_secs() - 7 * 86_400).abs() < 60);
        assert!(parse_since("soon").is_err());
    }
}

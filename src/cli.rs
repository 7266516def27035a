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

    /// Time limit for each TCP connect, within --timeout: a host that drops
    /// the connection attempt costs this much.
    #[arg(long, value_name = "DURATION", default_value = "3s", value_parser = parse_duration)]
    pub connect_timeout: Duration,

    #[command(flatten)]
    pub remote: RemoteArgs,

    #[command(flatten)]
    pub linux: LinuxSourceArgs,
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
}

fn parse_min_dialect(text: &str) -> Result<u16, String> {
    lingerscan::collect::msrpc::parse_dialect(text)
}

#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Linux sources")]
pub struct LinuxSourceArgs {
    /// utmp file to read.
    #[arg(long, value_name = "PATH", default_value = "/var/run/utmp")]
    pub utmp_file: PathBuf,
    /// systemd runtime directory holding sessions/ and users/.
    #[arg(long, value_name = "DIR", default_value = "/run/systemd")]
    pub logind_dir: PathBuf,
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

    /// Judge idle times as of this moment (RFC 3339) instead of each snapshot's collection time.
    #[arg(long, value_name = "TIMESTAMP")]
    pub now: Option<jiff::Timestamp>,
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
}

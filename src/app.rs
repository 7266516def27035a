//! What each subcommand does. The only place that talks to the terminal.

use std::io::{IsTerminal, Write};

use anyhow::{Context, Result};
use clap::CommandFactory;

use crate::cli::{
    AnalysisArgs, AnalyzeArgs, Cli, ColorChoice, Command, ScanArgs, SnapshotArgs, TargetArgs,
};
use lingerscan::analyze::{self, Analysis, AnalyzeOptions, Outcome};
use lingerscan::collect::msrpc::{Credentials, disable_core_dumps, read_password};
use lingerscan::collect::{self, CollectOptions, LinuxPaths};

/// Environment variable that may hold the password for remote scans.
const PASSWORD_ENV: &str = "LINGERSCAN_PASSWORD";
use lingerscan::identity::TargetUser;
use lingerscan::model::HostSnapshot;
use lingerscan::report::{self, Format, json::HostReport, text::TextOptions};
use lingerscan::snapshot_io;

pub fn run(cli: Cli) -> Result<Outcome> {
    match cli.command {
        None => scan(&cli.scan),
        Some(Command::Scan(args)) => scan(&args),
        Some(Command::Analyze(args)) => analyze_files(&args),
        Some(Command::Snapshot(args)) => snapshot(&args),
        Some(Command::Schema) => {
            emit(&snapshot_io::json_schema())?;
            Ok(Outcome::Clean)
        }
        Some(Command::Completions { shell }) => {
            let mut command = Cli::command();
            clap_complete::generate(shell, &mut command, "lingerscan", &mut std::io::stdout());
            Ok(Outcome::Clean)
        }
        Some(Command::Man) => {
            let mut page = Vec::new();
            clap_mangen::Man::new(Cli::command()).render(&mut page)?;
            std::io::stdout().write_all(&page)?;
            Ok(Outcome::Clean)
        }
    }
}

/// Write to standard output; a closed pipe (`| head`) is not an error.
fn emit(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.context("writing the report"),
    }
}

/// Stream a report into buffered standard output; a closed pipe is not an error.
fn emit_with(write: impl FnOnce(&mut dyn Write) -> serde_json::Result<()>) -> Result<()> {
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    let result = write(&mut out)
        .map_err(std::io::Error::from)
        .and_then(|()| out.flush());
    match result {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.context("writing the report"),
    }
}

fn is_local(host: &str) -> bool {
    let host = host.trim();
    host.is_empty()
        || host == "."
        || host.eq_ignore_ascii_case("localhost")
        || local_hostname().is_some_and(|h| h.eq_ignore_ascii_case(host))
}

fn local_hostname() -> Option<String> {
    std::env::var("COMPUTERNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
}

fn collect_options(target: &TargetArgs) -> Result<CollectOptions> {
    let host = target.host.clone().filter(|h| !is_local(h));
    // Ask for a password only when it will be used: a remote host and an account.
    let credentials = match (&host, &target.remote.username) {
        (Some(_), Some(account)) => {
            // Before the password exists in this process: no core file may
            // hold it or its hash (a server-triggered abort, a crash).
            if let Err(err) = disable_core_dumps() {
                eprintln!("warning: cannot disable core dumps for this scan: {err}");
            }
            let password = read_password(
                target.remote.password_file.as_deref(),
                PASSWORD_ENV,
                "Password: ",
                &mut |warning| eprintln!("warning: {warning}"),
            )
            .context("reading the password")?;
            // Hashed and wiped inside parse: the scan keeps only the NT hash.
            Some(Credentials::parse(account, password).context("invalid --username")?)
        }
        _ => None,
    };
    Ok(CollectOptions {
        host,
        timeout: target.timeout,
        credentials,
        port: target.remote.port,
        min_dialect: target.remote.min_dialect,
        encrypt: target.remote.encrypt,
        max_rows: target.remote.max_rows,
        linux: LinuxPaths {
            utmp: target.linux.utmp_file.clone(),
            logind_dir: target.linux.logind_dir.clone(),
            proc_dir: target.linux.proc_dir.clone(),
            smb_conf: target.linux.smb_conf.clone(),
            smbstatus: target.linux.smbstatus.clone(),
        },
    })
}

fn parse_target(args: &AnalysisArgs) -> Result<Option<TargetUser>> {
    args.user
        .as_deref()
        .map(|u| TargetUser::parse(u).with_context(|| "invalid --user"))
        .transpose()
}

fn use_color(choice: ColorChoice) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                && std::io::stdout().is_terminal()
        }
    }
}

/// Analysis options for one snapshot: idle times are judged as of `now`, or
/// of the moment the snapshot was taken.
fn analyze_options(
    snapshot: &HostSnapshot,
    target: &Option<TargetUser>,
    args: &AnalysisArgs,
    now: Option<jiff::Timestamp>,
) -> AnalyzeOptions {
    AnalyzeOptions {
        target: target.clone(),
        max_idle: args.max_idle,
        now: now.unwrap_or(snapshot.collected_at),
    }
}

fn scan(args: &ScanArgs) -> Result<Outcome> {
    let target = parse_target(&args.analysis)?;
    let options = collect_options(&args.target)?;
    let snapshot = collect::collect(&options)?;
    let analysis = analyze::analyze(
        &snapshot,
        &analyze_options(&snapshot, &target, &args.analysis, None),
    );
    render(&[snapshot], &[analysis], &args.analysis, false)
}

fn analyze_files(args: &AnalyzeArgs) -> Result<Outcome> {
    let target = parse_target(&args.analysis)?;
    let mut snapshots = Vec::with_capacity(args.files.len());
    for path in &args.files {
        let snapshot = snapshot_io::load(path)?;
        if let Some(now) = args.now
            && now < snapshot.collected_at
        {
            anyhow::bail!(
                "--now {now} is before {} was collected ({}): idle times cannot be judged backwards",
                path.display(),
                snapshot.collected_at
            );
        }
        snapshots.push(snapshot);
    }
    let analyses: Vec<Analysis> = snapshots
        .iter()
        .map(|s| analyze::analyze(s, &analyze_options(s, &target, &args.analysis, args.now)))
        .collect();
    render(&snapshots, &analyses, &args.analysis, true)
}

fn render(
    snapshots: &[HostSnapshot],
    analyses: &[Analysis],
    args: &AnalysisArgs,
    offline: bool,
) -> Result<Outcome> {
    let outcome = analyses
        .iter()
        .map(Analysis::outcome)
        .fold(Outcome::Clean, Outcome::combine);
    match args.format {
        Format::Text => {
            let options = TextOptions {
                color: use_color(args.color),
                offline,
            };
            for (snapshot, analysis) in snapshots.iter().zip(analyses) {
                emit(&report::text::render(snapshot, analysis, options))?;
            }
            if analyses.len() > 1 {
                let lines: Vec<String> = analyses.iter().map(report::text::host_line).collect();
                emit(&format!("\nHosts:\n  {}\n", lines.join("\n  ")))?;
            }
        }
        Format::Json => {
            let hosts: Vec<HostReport> = snapshots
                .iter()
                .zip(analyses)
                .map(|(s, a)| HostReport::new(s, a, args.include_snapshot))
                .collect();
            emit_with(|out| report::json::write_document(out, &hosts))?;
        }
        Format::Ndjson => {
            for (s, a) in snapshots.iter().zip(analyses) {
                let host = HostReport::new(s, a, args.include_snapshot);
                emit_with(|out| report::json::write_line(out, &host))?;
            }
        }
        Format::Csv => emit(&report::csv::document(analyses)?)?,
    }
    Ok(outcome)
}

fn snapshot(args: &SnapshotArgs) -> Result<Outcome> {
    let options = collect_options(&args.target)?;
    let snapshot = collect::collect(&options)?;
    snapshot_io::save(&snapshot, &args.out)?;
    if args.out.as_os_str() != "-" {
        eprintln!(
            "snapshot of {} written to {}",
            lingerscan::report::sanitize::for_terminal(&snapshot.host),
            args.out.display()
        );
    }
    Ok(Outcome::Clean)
}

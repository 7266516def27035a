//! What each subcommand does. The only place that talks to the terminal.

mod analyze_input;
mod auth;
mod close;
mod dc_locator;
mod directory;
mod history;

use std::io::{BufWriter, IsTerminal, Write};
use std::time::Instant;

use anyhow::{Context, Result};
use clap::CommandFactory;

use crate::cli::{
    AnalysisArgs, Cli, ColorChoice, Command, FleetArgs, ScanArgs, SnapshotArgs, TargetArgs,
};
use lingerscan::analyze::{self, AnalyzeOptions, DEFAULT_MAX_IDLE, Outcome};
use lingerscan::collect::{self, CollectOptions, Collector, LinuxPaths, PlatformCollector};
use lingerscan::fleet::{self, FleetOptions, interrupt, progress};
use lingerscan::identity::TargetUser;
use lingerscan::model::HostSnapshot;
use lingerscan::report::Format;
use lingerscan::report::sink::{CsvSink, JsonSink, NdjsonSink, ReportSink, Tee};
use lingerscan::report::text::{TextOptions, fleet::TextSink};
use lingerscan::snapshot_io;
use lingerscan::targets::{self, Spec, Target, TargetSet};

pub fn run(cli: Cli) -> Result<Outcome> {
    match cli.command {
        None => scan(&cli.scan),
        Some(Command::Scan(args)) => scan(&args),
        Some(Command::Close(args)) => close::run(&args),
        Some(Command::Analyze(args)) => analyze_input::run(&args),
        Some(Command::Snapshot(args)) => snapshot(&args),
        Some(Command::History(args)) => history::history_command(&args),
        Some(Command::Diff(args)) => history::diff_command(&args),
        Some(Command::Targets(args)) => directory::targets(&args),
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

/// Every target of the run, checked (a bad entry is an error naming its
/// line) before anything is scanned; no `--host` at all is this machine.
fn target_set(target: &TargetArgs, from_directory: Vec<Spec>) -> Result<TargetSet> {
    let mut include = from_directory;
    for (index, host) in target.host.iter().enumerate() {
        include.extend(targets::parse_line("--host", index + 1, host)?);
    }
    let mut stdin_read = false;
    for path in &target.hosts_file {
        if path.as_os_str() == "-" {
            anyhow::ensure!(!stdin_read, targets::io::ReadError::StdinTwice);
            stdin_read = true;
        }
        include.extend(targets::io::read_list(path)?);
    }
    if target.host.is_empty() && target.hosts_file.is_empty() && !target.directory.ldap {
        include.push(Spec::Local);
    }
    let mut exclude = Vec::new();
    for (index, host) in target.exclude.iter().enumerate() {
        exclude.extend(targets::parse_line("--exclude", index + 1, host)?);
    }
    Ok(TargetSet::new(include, exclude, is_local)?)
}

fn collect_options(
    target: &TargetArgs,
    remote: bool,
    ready: Option<(
        Option<lingerscan::collect::msrpc::Credentials>,
        auth::AuthGuard,
    )>,
) -> Result<(CollectOptions, auth::AuthGuard)> {
    // Ask for a secret only when it will be used: a remote host and an
    // account (or Kerberos). Read once, whatever the number of hosts.
    let (credentials, guard) = match ready {
        Some(ready) => ready,
        None if remote => auth::credentials(target)?,
        None => (None, auth::AuthGuard::default()),
    };
    let options = CollectOptions {
        host: None,
        timeout: target.timeout,
        connect_timeout: Some(target.connect_timeout),
        credentials,
        port: target.remote.port,
        min_dialect: target.remote.min_dialect,
        encrypt: target.remote.encrypt,
        max_rows: target.remote.max_rows,
        levels: lingerscan::collect::msrpc::LevelMemory::default(),
        resolve: target.remote.resolve.clone(),
        directory: if remote {
            directory::accounts_server(target)
        } else {
            None
        },
        linux: LinuxPaths {
            utmp: target.linux.utmp_file.clone(),
            logind_dir: target.linux.logind_dir.clone(),
            proc_dir: target.linux.proc_dir.clone(),
            smb_conf: target.linux.smb_conf.clone(),
            smbstatus: target.linux.smbstatus.clone(),
            logind_source: target.linux.logind_source,
        },
    };
    Ok((options, guard))
}

pub(crate) fn parse_target(args: &AnalysisArgs) -> Result<Option<TargetUser>> {
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
pub(crate) fn analyze_options(
    snapshot: &HostSnapshot,
    target: &Option<TargetUser>,
    args: &AnalysisArgs,
    now: Option<jiff::Timestamp>,
) -> AnalyzeOptions {
    AnalyzeOptions {
        target: target.clone(),
        max_idle: args.max_idle.unwrap_or(DEFAULT_MAX_IDLE),
        now: now.unwrap_or(snapshot.collected_at),
    }
}

/// The report format as a sink writing to `out`; `history`: the findings
/// carry their history (CSV then has its columns).
fn sink<'a>(
    args: &AnalysisArgs,
    out: impl Write + 'a,
    offline: bool,
    details: bool,
    history: bool,
) -> Box<dyn ReportSink + 'a> {
    match args.format {
        Format::Text => Box::new(TextSink::new(
            out,
            TextOptions {
                color: use_color(args.color),
                offline,
            },
            details,
        )),
        Format::Json => Box::new(JsonSink::new(out, args.include_snapshot)),
        Format::Ndjson => Box::new(NdjsonSink::new(out, args.include_snapshot)),
        Format::Csv => Box::new(CsvSink::new(out, history)),
    }
}

/// The report on standard output, teed to an NDJSON file with `--ndjson-out`
/// (created, or emptied, before any host is scanned).
fn output_sink(args: &ScanArgs, details: bool) -> Result<Box<dyn ReportSink + 'static>> {
    let report = sink(&args.analysis, stdout(), false, details, !args.no_history);
    let Some(path) = &args.fleet.ndjson_out else {
        return Ok(report);
    };
    let file = std::fs::File::create(path)
        .with_context(|| format!("creating --ndjson-out {}", path.display()))?;
    let ndjson = NdjsonSink::new(BufWriter::new(file), args.analysis.include_snapshot);
    Ok(Box::new(Tee::new(vec![report, Box::new(ndjson)])))
}

/// Standard output, buffered: the sinks write to it directly.
fn stdout() -> BufWriter<std::io::StdoutLock<'static>> {
    BufWriter::with_capacity(64 * 1024, std::io::stdout().lock())
}

/// Is this a fleet (several targets, a list, a shard) rather than one host?
fn is_fleet(args: &ScanArgs, set: &TargetSet) -> bool {
    set.len() != 1
        || !args.target.hosts_file.is_empty()
        || args.fleet.shard.is_some()
        || args.target.directory.ldap
}

fn scan(args: &ScanArgs) -> Result<Outcome> {
    if args.close.close {
        return close::run(args);
    }
    let close = &args.close;
    anyhow::ensure!(
        !close.yes && close.verdict.is_empty() && close.id.is_empty() && close.from.is_none(),
        "--yes, --verdict, --id and --from are for clean-up: add --close (or use `lingerscan close`)"
    );
    anyhow::ensure!(
        !(args.no_history && args.store.min_age.is_some()),
        "--min-age needs the history (leave out --no-history)"
    );
    let user = parse_target(&args.analysis)?;
    // --ldap without --dc: the DC found through DNS stands for --dc from
    // here on (LDAP, the KDC, the account states).
    let located;
    let args = match dc_locator::locate(&args.target, args.fleet.quiet)? {
        Some(target) => {
            located = ScanArgs {
                target,
                ..args.clone()
            };
            &located
        }
        None => args,
    };
    // --ldap: the directory is read first, with the credentials the scan
    // then uses (Kerberos), so they are set up once.
    let (from_directory, ready) = if args.target.directory.ldap {
        let found = directory::list(&args.target)?;
        if !args.fleet.quiet {
            eprintln!("{}", directory::summary(&found.listing));
        }
        let names = found
            .listing
            .computers
            .iter()
            .map(|c| Spec::Name(c.name.clone()))
            .collect();
        (names, Some((found.credentials, found.guard)))
    } else {
        (Vec::new(), None)
    };
    let set = target_set(&args.target, from_directory)?;
    anyhow::ensure!(
        !set.is_empty(),
        "no targets left to scan (--exclude removed them all, or --ldap found none)"
    );
    let fleet_mode = is_fleet(args, &set);
    let (options, _auth) = collect_options(&args.target, set.has_remote(), ready)?;
    let collector = PlatformCollector::new(options);
    // Before any host is scanned: a run that cannot log on anywhere ends now.
    if let Some(remote) = set.first_remote() {
        collector.check(collect::Target::Remote(&remote.to_string()))?;
    }
    let recorder = (!args.no_history)
        .then(|| history::Recorder::open(&args.store, lingerscan::history::Origin::Scan))
        .flatten();
    let judge = |snapshot: &HostSnapshot| {
        let mut analysis = analyze::analyze(
            snapshot,
            &analyze_options(snapshot, &user, &args.analysis, None),
        );
        if let Some(recorder) = &recorder {
            recorder.record(&mut analysis, snapshot.collected_at);
        }
        analysis
    };
    let outcome = if fleet_mode {
        scan_fleet(args, &args.fleet, &set, &collector, &judge)
    } else {
        scan_one(args, &set, &collector, &judge)
    };
    if let Some(recorder) = recorder {
        recorder.finish(args.store.keep, jiff::Timestamp::now());
    }
    outcome
}

/// One host, as before fleets: the same report, no progress, no summary.
fn scan_one(
    args: &ScanArgs,
    set: &TargetSet,
    collector: &PlatformCollector,
    judge: &(dyn Fn(&HostSnapshot) -> analyze::Analysis + Sync),
) -> Result<Outcome> {
    let mut sink = output_sink(args, true)?;
    let summary = fleet::run(
        set.iter(),
        Some(set.len()),
        collector,
        judge,
        &mut *sink,
        &mut progress::NoProgress,
        interrupt::flag(),
        &FleetOptions {
            concurrency: 1,
            timeout: args.target.timeout,
            fleet: false,
            fail_limit: None,
        },
    )
    .context("writing the report")?;
    Ok(summary.outcome())
}

fn scan_fleet(
    args: &ScanArgs,
    fleet_args: &FleetArgs,
    set: &TargetSet,
    collector: &PlatformCollector,
    judge: &(dyn Fn(&HostSnapshot) -> analyze::Analysis + Sync),
) -> Result<Outcome> {
    if let Err(error) = interrupt::install()
        && !fleet_args.quiet
    {
        eprintln!("warning: Ctrl-C will end the run without a report: {error}");
    }
    let concurrency = fleet_args.concurrency;
    // Room for every running host's helper threads (four Windows sources, or
    // a name lookup), plus the stuck ones, and no more (collect::deadline).
    collect::deadline::set_helper_limit(4 * concurrency + 16);
    let show_progress =
        !fleet_args.quiet && !fleet_args.no_progress && std::io::stderr().is_terminal();
    let mut bar: Box<dyn progress::Progress> = if show_progress {
        Box::new(progress::Bar::new())
    } else {
        Box::new(progress::NoProgress)
    };
    let mut sink = output_sink(args, fleet_args.details)?;
    // Spread over the list, so a block of dead hosts does not arrive at once
    // (see targets::order); a shard keeps its members.
    let (first, step, total) = match fleet_args.shard {
        Some(shard) => (
            u128::from(shard.k - 1),
            u128::from(shard.n),
            set.shard_len(shard),
        ),
        None => (0, 1, set.len()),
    };
    let targets: Box<dyn Iterator<Item = Target> + Send> =
        Box::new(targets::order::spread(set, first, step, total));
    let summary = fleet::run(
        targets,
        Some(total),
        collector,
        judge,
        &mut *sink,
        &mut *bar,
        interrupt::flag(),
        &FleetOptions {
            concurrency,
            timeout: args.target.timeout,
            fleet: true,
            fail_limit: (fleet_args.fail_limit > 0).then_some(fleet_args.fail_limit),
        },
    )
    .context("writing the report")?;
    Ok(summary.outcome())
}

fn snapshot(args: &SnapshotArgs) -> Result<Outcome> {
    anyhow::ensure!(
        !args.target.directory.ldap,
        "`snapshot` takes one host; --ldap lists many (use `scan --format ndjson`)"
    );
    let set = target_set(&args.target, Vec::new())?;
    let target = set
        .single()
        .context("`snapshot` takes one host (use `scan --format ndjson` for several)")?;
    let (options, _auth) = collect_options(&args.target, set.has_remote(), None)?;
    let collector = PlatformCollector::new(options);
    let host = target.host();
    let which = match &host {
        None => collect::Target::Local,
        Some(name) => collect::Target::Remote(name),
    };
    collector.check(which)?;
    let snapshot = collector.collect(which, Instant::now() + args.target.timeout);
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

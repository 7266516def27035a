//! `lingerscan close` / `scan --close`: scan (or read `--from`), plan, show
//! the plan, act only when asked, record every action, scan again.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};
use jiff::Timestamp;
use serde::Serialize;

use super::history::{Recorder, action_store};
use super::{analyze_options, collect_options, emit, is_local, parse_target, target_set};
use crate::cli::ScanArgs;
use lingerscan::analyze::{self, Outcome};
use lingerscan::close::{self, ActionResult, Planned, Selection};
use lingerscan::collect::{self, Collector, PlatformCollector};
use lingerscan::history::{ActionRecord, Origin};
use lingerscan::model::HostSnapshot;
use lingerscan::report::Format;
use lingerscan::report::sanitize::for_terminal;
use lingerscan::snapshot_io;

/// A host to plan for: its snapshot, and whether it is this machine.
struct Host {
    snapshot: HostSnapshot,
    local: bool,
}

pub(crate) fn run(args: &ScanArgs) -> Result<Outcome> {
    // Clean-up acts on hosts named one by one, never on a directory listing.
    anyhow::ensure!(
        !args.target.directory.ldap,
        "--ldap is for scans: name the hosts to clean up with --host or --hosts-file"
    );
    let user = parse_target(&args.analysis)?;
    // Hosts from a file are picked by --host; a scan's were its targets.
    let from = args.close.from.as_deref().map(read_from).transpose()?;
    let selection = Selection {
        users: args.analysis.user.iter().cloned().collect(),
        verdicts: args.close.verdict.clone(),
        hosts: if from.is_some() {
            args.target.host.clone()
        } else {
            Vec::new()
        },
        ids: args.close.id.clone(),
    };
    let set = match from {
        Some(_) => None,
        None => Some(target_set(&args.target, Vec::new())?),
    };
    let remote = match (&from, &set) {
        (Some(hosts), _) => hosts.iter().any(|h| !h.local),
        (None, Some(set)) => set.has_remote(),
        (None, None) => false,
    };
    let (options, _auth) = collect_options(&args.target, remote, None)?;
    let collector = PlatformCollector::new(options.clone());
    let recorder = (!args.no_history)
        .then(|| Recorder::open(&args.store, Origin::Scan))
        .flatten();
    // Scans are recorded as any scan is; snapshots read from a file are not
    // (they were recorded when taken, or `analyze --record` records them).
    let plan_of = |hosts: &[Host], record: bool| -> Vec<Planned> {
        hosts
            .iter()
            .flat_map(|h| {
                let mut analysis = analyze::analyze(
                    &h.snapshot,
                    &analyze_options(&h.snapshot, &user, &args.analysis, None),
                );
                if let Some(recorder) = recorder.as_ref().filter(|_| record) {
                    recorder.record(&mut analysis, h.snapshot.collected_at);
                }
                close::plan(&h.snapshot, &analysis, h.local, &selection)
            })
            .collect()
    };
    let scan_again = |hosts: &[Host]| -> Vec<Host> {
        hosts
            .iter()
            .map(|h| scan_host(&collector, h.local, &h.snapshot.host, args))
            .collect()
    };

    let hosts = match (from, &set) {
        (Some(hosts), _) => hosts,
        (None, Some(set)) => scan_targets(set, args, &collector)?,
        (None, None) => Vec::new(),
    };
    let plan = plan_of(&hosts, args.close.from.is_none());
    let json = matches!(args.analysis.format, Format::Json | Format::Ndjson);
    if !json {
        print_plan(&plan)?;
    }
    let actionable = plan.iter().any(|p| !p.action.is_nothing());
    let act = actionable && decide(args.close.yes, plan.len())?;
    if !act {
        if json {
            emit_json(&plan, &[])?;
        } else if actionable {
            emit("Dry run: nothing was changed (--yes acts).\n")?;
        }
        return Ok(Outcome::Clean);
    }
    anyhow::ensure!(
        !args.no_history,
        "clean-up records every action in the history database: leave out --no-history to act"
    );
    let mut store = action_store(&args.store)?;
    // A plan read from a file is acted on only where a fresh scan still
    // finds the same finding (same id: same verdict, session, user, login).
    let plan = if args.close.from.is_some() {
        let kept: Vec<Planned> = plan_of(&scan_again(&hosts), true)
            .into_iter()
            .filter(|p| plan.iter().any(|q| q.id == p.id))
            .collect();
        for p in plan.iter().filter(|p| !kept.iter().any(|k| k.id == p.id)) {
            eprintln!(
                "{} {}: no longer found as it was; left alone",
                p.id,
                for_terminal(&p.key.session_id)
            );
        }
        kept
    } else {
        plan
    };
    let context = close::Context {
        collect: options.clone(),
        wtmp: args.target.linux.wtmp_file.clone(),
        grace: args.close.grace,
    };
    let mut results = Vec::new();
    for planned in &plan {
        let result = close::execute(planned, &context);
        let row = store
            .record_action(&action_record(planned, &result, &options))
            .context("recording the action in the history")?;
        results.push(Done {
            planned,
            result,
            row,
            checked: None,
        });
    }
    // The proof: the hosts acted on, scanned again.
    let mut acted_hosts: Vec<Host> = Vec::new();
    for done in results
        .iter()
        .filter(|d| d.result.outcome == close::Outcome::Done)
    {
        if !acted_hosts
            .iter()
            .any(|h| h.snapshot.host == done.planned.host)
        {
            acted_hosts.push(scan_host(
                &collector,
                done.planned.local,
                &done.planned.host,
                args,
            ));
        }
    }
    let after: Vec<Planned> = {
        let every = Selection::default();
        acted_hosts
            .iter()
            .flat_map(|h| {
                let analysis = analyze::analyze(
                    &h.snapshot,
                    &analyze_options(&h.snapshot, &user, &args.analysis, None),
                );
                close::plan(&h.snapshot, &analysis, h.local, &every)
            })
            .collect()
    };
    for done in results
        .iter_mut()
        .filter(|d| d.result.outcome == close::Outcome::Done)
    {
        // Still there: the same finding (same id, verdict included). A
        // session left in another state (a CLOSING session whose processes
        // were ended is LEAKED_LOGON until logind removes it) is named.
        let k = &done.planned.key;
        let still = after.iter().any(|a| a.id == done.planned.id);
        let now = after.iter().find(|a| {
            a.key.host == k.host
                && a.key.kind == k.kind
                && a.key.session_id == k.session_id
                && a.key.user == k.user
        });
        let checked = match now {
            _ if still => "still there".to_string(),
            Some(other) => format!("gone (the session is now {})", other.key.verdict),
            None => "gone".to_string(),
        };
        if let Err(error) = store.check_action(done.row, &checked) {
            eprintln!("warning: the re-scan's result was not recorded: {error}");
        }
        done.checked = Some(checked);
    }
    if json {
        emit_json(&plan, &results)?;
    } else {
        print_results(&results)?;
    }
    let all_done = results.iter().all(|d| {
        matches!(d.result.outcome, close::Outcome::Skipped)
            || (d.result.outcome == close::Outcome::Done
                && d.checked.as_deref().is_some_and(|c| c.starts_with("gone")))
    });
    Ok(if all_done {
        Outcome::Clean
    } else {
        Outcome::Lingering
    })
}

struct Done<'a> {
    planned: &'a Planned,
    result: ActionResult,
    row: i64,
    checked: Option<String>,
}

fn scan_targets(
    set: &lingerscan::targets::TargetSet,
    args: &ScanArgs,
    collector: &PlatformCollector,
) -> Result<Vec<Host>> {
    anyhow::ensure!(
        !set.is_empty(),
        "no targets left (--exclude removed them all)"
    );
    if let Some(remote) = set.first_remote() {
        collector.check(collect::Target::Remote(&remote.to_string()))?;
    }
    Ok(set
        .iter()
        .map(|t| match t.host() {
            None => scan_host(collector, true, "", args),
            Some(name) => scan_host(collector, false, &name, args),
        })
        .collect())
}

fn scan_host(collector: &PlatformCollector, local: bool, host: &str, args: &ScanArgs) -> Host {
    let target = if local {
        collect::Target::Local
    } else {
        collect::Target::Remote(host)
    };
    let snapshot = collector.collect(target, Instant::now() + args.target.timeout);
    Host { snapshot, local }
}

/// `--from`: a snapshot, or a JSON / NDJSON report that carries its snapshots.
fn read_from(path: &Path) -> Result<Vec<Host>> {
    let text = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let text = snapshot_io::decode_text(text, path)?;
    let host = |snapshot: HostSnapshot| Host {
        local: is_local(&snapshot.host),
        snapshot,
    };
    if let Ok(snapshot) = snapshot_io::parse(&text, path) {
        return Ok(vec![host(snapshot)]);
    }
    let mut reports = Vec::new();
    match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(doc) if doc.get("hosts").is_some() => {
            reports.extend(doc["hosts"].as_array().cloned().unwrap_or_default());
        }
        Ok(doc) => reports.push(doc),
        Err(_) => {
            for line in text.lines().filter(|l| !l.trim().is_empty()) {
                reports.push(serde_json::from_str(line).with_context(|| {
                    format!("{}: neither a snapshot nor a JSON report", path.display())
                })?);
            }
        }
    }
    reports
        .into_iter()
        .map(|report| {
            let snapshot = report.get("snapshot").with_context(|| {
                format!(
                    "{}: a report without its snapshot cannot be planned from \
                     (make it with --include-snapshot, or give a snapshot)",
                    path.display()
                )
            })?;
            Ok(host(snapshot_io::parse(&snapshot.to_string(), path)?))
        })
        .collect()
}

/// Act? `--yes`; else ask once at a terminal; else no (a dry run).
fn decide(yes: bool, count: usize) -> Result<bool> {
    if yes {
        return Ok(true);
    }
    if !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
        return Ok(false);
    }
    eprint!("Close these {count} finding(s)? [y/N] ");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(
        answer.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}

/// Who acts: the account for a remote host, else this process's user.
fn actor(planned: &Planned, options: &collect::CollectOptions) -> String {
    if !planned.local
        && let Some(creds) = &options.credentials
    {
        return creds.account();
    }
    local_user()
}

fn local_user() -> String {
    #[cfg(unix)]
    {
        // SAFETY: getuid cannot fail and touches no memory.
        let uid = unsafe { libc::getuid() };
        let name = std::fs::read_to_string("/etc/passwd")
            .ok()
            .and_then(|text| {
                text.lines().find_map(|l| {
                    let mut f = l.split(':');
                    let name = f.next()?;
                    (f.nth(1)? == uid.to_string()).then(|| name.to_string())
                })
            });
        name.unwrap_or_else(|| format!("uid {uid}"))
    }
    #[cfg(not(unix))]
    {
        let domain = std::env::var("USERDOMAIN").unwrap_or_default();
        let user = std::env::var("USERNAME").unwrap_or_default();
        if domain.is_empty() {
            user
        } else {
            format!("{domain}\\{user}")
        }
    }
}

fn action_record(
    planned: &Planned,
    result: &ActionResult,
    options: &collect::CollectOptions,
) -> ActionRecord {
    let failed = result.outcome != close::Outcome::Done;
    ActionRecord {
        id: None,
        acted_at: Timestamp::now(),
        actor: actor(planned, options),
        host: planned.host.clone(),
        finding_id: planned.id.clone(),
        verdict: planned.key.verdict.as_str().to_string(),
        kind: planned.key.kind.as_str().to_string(),
        session_id: planned.key.session_id.clone(),
        user: planned.key.user.clone(),
        action: planned.action.describe(),
        outcome: result.outcome.as_str().to_string(),
        error: result.detail.clone().filter(|_| failed),
        checked: None,
    }
}

fn print_plan(plan: &[Planned]) -> Result<()> {
    if plan.is_empty() {
        return emit("Nothing to close: no selected finding is lingering.\n");
    }
    let mut text = String::from("Plan:\n");
    for p in plan {
        text.push_str(&format!(
            "  {}  {}  {}  {} {}  {}\n      why: {}\n      do:  {}\n",
            p.id,
            for_terminal(&p.host),
            p.key.verdict,
            p.key.kind.as_str(),
            for_terminal(&p.key.session_id),
            for_terminal(&p.key.user),
            for_terminal(&p.reason),
            for_terminal(&p.action.describe()),
        ));
    }
    emit(&text)
}

fn print_results(results: &[Done<'_>]) -> Result<()> {
    let mut text = String::from("Results:\n");
    for d in results {
        text.push_str(&format!(
            "  {}  {}{}{}\n",
            d.planned.id,
            d.result.outcome.as_str(),
            d.checked
                .as_deref()
                .map(|c| format!(", re-scan: {c}"))
                .unwrap_or_default(),
            d.result
                .detail
                .as_deref()
                .map(|t| format!(": {}", for_terminal(t)))
                .unwrap_or_default(),
        ));
    }
    emit(&text)
}

#[derive(Serialize)]
struct JsonResult<'a> {
    id: &'a str,
    #[serde(flatten)]
    result: &'a ActionResult,
    #[serde(skip_serializing_if = "Option::is_none")]
    checked: Option<&'a str>,
}

fn emit_json(plan: &[Planned], results: &[Done<'_>]) -> Result<()> {
    let results: Vec<JsonResult<'_>> = results
        .iter()
        .map(|d| JsonResult {
            id: &d.planned.id,
            result: &d.result,
            checked: d.checked.as_deref(),
        })
        .collect();
    let doc = serde_json::json!({
        "dry_run": results.is_empty(),
        "plan": plan,
        "results": results,
    });
    emit(&format!("{doc}\n"))
}

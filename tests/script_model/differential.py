"""Differential test: lingerscan's section 5, counts and per-user JSON against
the model of Get-LingeringSessions.ps1 (model.py), on generated snapshots.

For every case it compares the verdict, the script's warnings and every
count (section 1's total, the user's NetWkstaUserEnum rows, sections 2-4),
in the JSON (`users`) and in the text report (sections 1-5 and the
summary), and, without --user, each assessed account against the model
run with that account as the target. Only the documented differences are
allowed:

- a malformed target (lingerscan refuses it; the script would go on), and
- NetWkstaUserEnum could not be read: INCONCLUSIVE, where the script says
  there is nothing to analyse (its warning is the same).

Any other disagreement fails, with a minimised snapshot printed.

Usage: python3 differential.py --lingerscan BIN [--seed N] [--cases N] [--workdir DIR]
"""

import argparse
import copy
import json
import os
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import generate  # noqa: E402
import model  # noqa: E402

WARNING_NAMES = {
    model.WARN_WKSTA: "workstation_list_failed",
    model.WARN_LOGON: "logon_sessions_failed",
    model.WARN_PROC: "processes_failed",
    model.WARN_SMB: "smb_sessions_failed",
    model.WARN_IMPORTANT: "checks_incomplete",
}
VERDICT_NAMES = {
    model.VERDICT_LINGERING: "LINGERING",
    model.VERDICT_ACTIVE: "ACTIVE",
    model.VERDICT_NOTHING: "NOT_PRESENT",
}
CHUNK = 150  # snapshots per lingerscan run
RULE = "=" * 80


def lingerscan_refuses(target):
    """The one target-side allowed difference: forms that name no account."""
    t = target.strip()
    if not t:
        return True
    if "\\" in t:
        domain, user = t.split("\\", 1)
    elif "@" in t:
        user, domain = t.rsplit("@", 1)
    else:
        domain, user = None, t
    bad = lambda s: s == "" or any(c in s for c in "\\@/")  # noqa: E731
    return bad(user) or (domain is not None and (domain == "" or "\\" in domain or "@" in domain))


def expected(snapshot, target):
    """The model's result in lingerscan's words, with the allowed difference applied."""
    script = model.run_script(snapshot, target)
    verdict = VERDICT_NAMES[script["verdict"]]
    allowed = None
    if model.WARN_WKSTA in script["warnings"]:
        verdict, allowed = "INCONCLUSIVE", "NetWkstaUserEnum unreadable"
    return {
        "verdict": verdict,
        "warnings": [WARNING_NAMES[w] for w in script["warnings"]],
        "counts": script["counts"],
        "has_smb": script["has_smb"],
    }, allowed


def from_json(host, user):
    rows = host["snapshot"]["workstation_users"]
    return {
        "verdict": user["state"],
        "warnings": user["warnings"],
        "counts": {
            "wksta_total": len(rows.get("rows") or []) if rows.get("status") == "ok" else 0,
            "wksta_rows": len(user["workstation_rows"]),
            "logon": user["logon_sessions"],
            "processes": user["processes"],
            "smb": user["smb_sessions"],
        },
        "has_smb": user["smb_sessions"] > 0,
    }


def json_diff(want, got):
    problems = []
    for key in ("verdict", "warnings", "counts", "has_smb"):
        if want[key] != got[key]:
            problems.append("%s: script %r, lingerscan %r" % (key, want[key], got[key]))
    return problems


HEADLINES = [
    ("LINGERING USER STATE DETECTED", "LINGERING"),
    ("ACTIVE USER STATE", "ACTIVE"),
    ("NOT LOGGED ON:", "NOT_PRESENT"),
    ("INCONCLUSIVE USER STATE", "INCONCLUSIVE"),
]


def text_diff(want, report):
    """Every number the text prints, against the model (and so against each other)."""
    c = want["counts"]
    checks = [
        (r"Total sessions found: (\d+)", c["wksta_total"]),
        (r"NetWkstaUserEnum Sessions: (\d+)", c["wksta_total"]),
        (r"row count for user: (\d+)", c["wksta_rows"]),
        (r"Active logon sessions found: (\d+)", c["logon"]),
        (r"Has WMI logon session: \w+ \((\d+) session", c["logon"]),
        (r"Active Logon Sessions: (\d+)", c["logon"]),
        (r"Active processes found: (\d+)", c["processes"]),
        (r"Has running processes: \w+ \((\d+) process", c["processes"]),
        (r"Running Processes: (\d+)", c["processes"]),
        (r"SMB sessions found: (\d+)", c["smb"]),
        (r"SMB Sessions: (\d+)", c["smb"]),
    ]
    problems = []
    for pattern, number in checks:
        for found in re.findall(pattern, report):
            if int(found) != number:
                problems.append("text %r shows %s, script %d" % (pattern, found, number))
    for pattern, flag in [
        (r"Has WMI logon session: (\w+)", c["logon"] > 0),
        (r"Has running processes: (\w+)", c["processes"] > 0),
        (r"Has SMB session \(informational\): (\w+)", want["has_smb"]),
    ]:
        for found in re.findall(pattern, report):
            if found != ("True" if flag else "False"):
                problems.append("text %r shows %s" % (pattern, found))
    if "No SMB sessions found" in report and c["smb"] != 0:
        problems.append("text says no SMB sessions, script counts %d" % c["smb"])
    section5 = report[report.find("SECTION 5") : report.find("SESSION FINDINGS")]
    shown = [v for text, v in HEADLINES if text in section5]
    if shown != [want["verdict"]]:
        problems.append("text section 5 says %r, expected %s" % (shown, want["verdict"]))
    important = "IMPORTANT: Section 2 and/or Section 3" in section5
    if important != ("checks_incomplete" in want["warnings"]):
        problems.append("text IMPORTANT warning shown: %s" % important)
    return problems


def run(binary, files, target, fmt):
    args = [binary, "analyze", *files, "--format", fmt, "--color", "never"]
    if fmt == "json":
        # The checks below read the snapshot's rows back from the report.
        args.append("--include-snapshot")
    if target is not None:
        args += ["--user", target]
    return subprocess.run(args, capture_output=True, text=True, env={**os.environ, "NO_COLOR": "1"})


def split_text(stdout):
    parts = re.split(r"^%s\nLINGERING SESSION DETECTION REPORT$" % RULE, stdout, flags=re.M)
    return parts[1:]


def check_targeted(binary, snapshot_of, files, target):
    """Problems per file for one target, JSON and text."""
    out = {}
    if lingerscan_refuses(target):
        res = run(binary, files[:1], target, "json")
        if res.returncode == 0 or "invalid --user" not in res.stderr:
            out[files[0]] = ["malformed target %r was not refused: %s" % (target, res.stderr.strip())]
        return out, "malformed target"  # the whole chunk shares the target
    jres = run(binary, files, target, "json")
    tres = run(binary, files, target, "text")
    try:
        hosts = json.loads(jres.stdout)["hosts"]
    except (ValueError, KeyError):
        return {f: ["lingerscan failed: %s" % jres.stderr.strip()] for f in files}, None
    reports = split_text(tres.stdout)
    if len(hosts) != len(files) or len(reports) != len(files):
        return {f: ["expected %d hosts, got %d/%d" % (len(files), len(hosts), len(reports))] for f in files}, None
    for path, host, report in zip(files, hosts, reports):
        want, _ = expected(snapshot_of[path], target)
        users = host["analysis"]["users"]
        problems = []
        if len(users) != 1:
            problems.append("expected one user, got %d" % len(users))
        else:
            problems += json_diff(want, from_json(host, users[0]))
        problems += text_diff(want, report)
        if problems:
            out[path] = problems
    return out, None


def check_untargeted(binary, snapshot_of, files):
    """Without --user: each account assessed is the script's result for it as the target."""
    out = {}
    res = run(binary, files, None, "json")
    hosts = json.loads(res.stdout)["hosts"]
    accounts = 0
    for path, host in zip(files, hosts):
        snap = snapshot_of[path]
        problems = []
        for user in host["analysis"]["users"]:
            accounts += 1
            want, _ = expected(snap, user["user"])
            problems += ["%s: %s" % (user["user"], p) for p in json_diff(want, from_json(host, user))]
        # No listed user is left out: every non-$ NetWkstaUserEnum row is some assessed account's.
        names = [u["user"] for u in host["analysis"]["users"]]
        wk = snap["workstation_users"]
        for row in (wk.get("rows") or []) if wk.get("status") == "ok" else []:
            if row["user"].endswith("$") or not row["user"].strip():
                continue
            full = ("%s\\%s" % (row["logon_domain"], row["user"])) if row["logon_domain"] else row["user"]
            ident = lambda n: model.get_target_user_identity(n)  # noqa: E731
            if not any(model.test_identity_match(full, ident(n), n) for n in names):
                problems.append("listed row %r is nobody's" % full)
        if problems:
            out[path] = problems
    return out, accounts


def disagreement(binary, snapshot, target, workdir):
    path = os.path.join(workdir, "minimise.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(snapshot, f, ensure_ascii=False)
    problems, _ = check_targeted(binary, {path: snapshot}, [path], target)
    return problems.get(path)


def minimise(binary, snapshot, target, workdir):
    """Drop rows one at a time while the disagreement stays."""
    snap = copy.deepcopy(snapshot)
    for name in ["interactive_sessions", "processes", "logon_sessions", "smb_sessions", "workstation_users"]:
        rows = snap[name].get("rows")
        if rows is None:
            continue
        i = len(rows) - 1
        while i >= 0:
            trial = copy.deepcopy(snap)
            del trial[name]["rows"][i]
            if disagreement(binary, trial, target, workdir):
                snap = trial
            i -= 1
    return snap


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--lingerscan", required=True)
    p.add_argument("--seed", type=int, default=15)
    p.add_argument("--cases", type=int, default=1200)
    p.add_argument("--workdir")
    a = p.parse_args()
    started = time.monotonic()
    workdir = a.workdir or tempfile.mkdtemp(prefix="script-differential-")
    index = generate.write(generate.generate(a.seed, a.cases), workdir)
    snapshot_of = {}
    for case in index:
        with open(case["file"], encoding="utf-8") as f:
            snapshot_of[case["file"]] = json.load(f)
    by_target = {}
    for case in index:
        by_target.setdefault(case["target"], []).append(case["file"])

    failures = {}
    allowed = {}
    for target, files in by_target.items():
        for i in range(0, len(files), CHUNK):
            chunk = files[i : i + CHUNK]
            problems, why = check_targeted(a.lingerscan, snapshot_of, chunk, target)
            for f in problems:
                failures[f] = (target, problems[f])
            for f in chunk:
                if f not in problems:
                    allowed_here = why or expected(snapshot_of[f], target)[1]
                    if allowed_here:
                        allowed[allowed_here] = allowed.get(allowed_here, 0) + 1
    # What the cases exercised: the model's verdicts, and how often the
    # findings (domain-aware) answered differently and said why.
    verdicts = {}
    for case in index:
        if not lingerscan_refuses(case["target"]):
            v = expected(snapshot_of[case["file"]], case["target"])[0]["verdict"]
            verdicts[v] = verdicts.get(v, 0) + 1
    files = [c["file"] for c in index]
    untargeted = {}
    accounts = 0
    for i in range(0, len(files), CHUNK):
        problems, n = check_untargeted(a.lingerscan, snapshot_of, files[i : i + CHUNK])
        untargeted.update(problems)
        accounts += n

    total = len(index)
    agree = total - len(failures)
    print("script differential: seed %d, %d cases, %d distinct targets, %.1fs"
          % (a.seed, total, len(by_target), time.monotonic() - started))
    print("  agreement: %d/%d (%.2f%%); allowed differences: %s"
          % (agree, total, 100.0 * agree / max(total, 1), allowed or "none"))
    print("  script verdicts: %s" % dict(sorted(verdicts.items())))
    print("  without --user: %d accounts on %d hosts, %d host(s) disagree" % (accounts, total, len(untargeted)))
    for path, problems in list(untargeted.items())[:3]:
        print("\nWITHOUT --user, %s:\n  %s" % (path, "\n  ".join(problems)))
    for path, (target, problems) in list(failures.items())[:3]:
        small = minimise(a.lingerscan, snapshot_of[path], target, workdir)
        print("\nDISAGREEMENT, --user %r (%s):\n  %s" % (target, path, "\n  ".join(problems)))
        print("minimised snapshot:\n%s" % json.dumps(small, indent=1, ensure_ascii=False))
        print("still: %s" % disagreement(a.lingerscan, small, target, workdir))
    return 1 if failures or untargeted else 0


if __name__ == "__main__":
    sys.exit(main())

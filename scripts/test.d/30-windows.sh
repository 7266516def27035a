#!/usr/bin/env bash
# Windows build under Wine: lint for the Windows target, run every test
# binary under Wine (cargo runner scripts/wine/run.sh), then run the real
# lingerscan.exe and check what it reports about this (Wine) machine.
set -euo pipefail
cd "$(dirname "$0")/../.."
target=x86_64-pc-windows-gnu
export WINEPREFIX="$PWD/target/wineprefix"
# The scans below check reports, not the history: they record none (the
# history's own tests name their database).
export LINGERSCAN_NO_HISTORY=1
bash scripts/wine/make-prefix.sh

echo "-- clippy ($target)"
bash scripts/wine/cargo-win.sh clippy --all-targets -- -D warnings

echo "-- cargo test ($target, under Wine)"
# One wineserver for the whole suite: by default it exits a few seconds after
# its last program, and a test binary starting just then can lose its
# connection ("wine client error: recvmsg: Connection reset by peer").
# Stopped by `wineserver -k` at the end of this script.
wineserver -p 2>/dev/null || true
wine_log="$(mktemp)"
# Into a file, not a pipe: Wine's services, started by the first test,
# inherit the output and live as long as the wineserver, so a pipe's reader
# would never see its end.
status=0
bash scripts/wine/cargo-win.sh test >"$wine_log" 2>&1 || status=$?
cat "$wine_log"
if [ "$status" -ne 0 ]; then
    # Wine's own failures (its client losing the server, CreateProcess's
    # ERROR_INTERNAL_ERROR 1359) are not the tests': run the suite once more.
    # A test that fails fails again.
    if grep -qE "wine client error|code: 1359" "$wine_log"; then
        echo "-- Wine itself failed (see above); running the Windows tests once more"
        bash scripts/wine/cargo-win.sh test
    else
        rm -f "$wine_log"
        exit 1
    fi
fi
rm -f "$wine_log"

echo "-- lingerscan.exe under Wine"
bash scripts/wine/cargo-win.sh build --bin lingerscan
exe="target/$target/debug/lingerscan.exe"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# Only the channels that prove the calls reached Wine's stubs, and heap errors.
channels="-all,fixme+netapi32,fixme+secur32,fixme+wtsapi,err+heap,warn+heap"

status=0
WINEDEBUG="$channels" scripts/wine/run.sh "$exe" scan --format json --include-snapshot >"$work/scan.json" 2>"$work/scan.err" || status=$?
python3 - "$work/scan.json" "$work/scan.err" "$status" <<'PY'
import sys
sys.path.insert(0, "scripts/wine")
from report_check import report, stderr, status, check

check("panicked" not in stderr, "no panic")
check(not any(f":{c}:heap" in stderr for c in ("err", "warn")), "no Wine heap warnings")
for stub in ("NetWkstaUserEnum", "LsaEnumerateLogonSessions", "NetSessionEnum", "WTSEnumerateSessions"):
    check(stub in stderr, f"{stub} was called (Wine logs its stub)")
expected_exit = {"clean": 0, "lingering": 1, "undecided": 2}[report["outcome"]]
check(status == expected_exit and status in (0, 2), f"exit code {status} matches outcome {report['outcome']}")
snap = report["hosts"][0]["snapshot"]
check(snap["collector"] == "windows-local" and snap["platform"] == "windows", "windows-local collector")
procs = snap["processes"]
check(procs["status"] == "ok", "process source read")
names = {p["name"].lower() for p in procs["rows"]}
check({"lingerscan.exe", "services.exe"} <= names, f"real Wine processes with names: {sorted(names)}")
me = next(p for p in procs["rows"] if p["name"].lower() == "lingerscan.exe")
check(me.get("user", "").count("\\") == 1 and me.get("sid", "").startswith("S-1-5-"), f"owner {me.get('user')} {me.get('sid')}")
check(me.get("logon_id") == "0" and me.get("start_time"), "token AuthenticationId (0 under Wine) and start time")
wk = snap["workstation_users"]
check(wk["status"] == "failed" and wk["code"] == 87 and wk["kind"] == "not_supported", "NetWkstaUserEnum 87 reported as a failed source")
check(snap["smb_sessions"] == {"status": "ok", "rows": []}, "NetSessionEnum success+NULL = zero SMB sessions")
check(snap["logon_sessions"] == {"status": "ok", "rows": []}, "LSA zero sessions")
check(any(n.startswith("logon_sessions: LSA listed no logon sessions") for n in snap.get("notes", [])), "implausible-LSA note")
failed = [f["source"] for f in report["hosts"][0]["analysis"]["failed_sources"]]
check("workstation_users" in failed, "analysis lists the failed source")
open(sys.argv[1] + ".owner", "w").write(me["user"])
PY

owner="$(cat "$work/scan.json.owner")"
status=0
scripts/wine/run.sh "$exe" scan --user "$owner" >"$work/scan.txt" 2>"$work/text.err" || status=$?
for needle in "SECTION 1: NetWkstaUserEnum" "(code 87)" "SECTION 3: PROCESSES" "lingerscan.exe" \
    "services.exe" "LSA listed no logon sessions" "SUMMARY"; do
    if ! grep -qF -- "$needle" "$work/scan.txt"; then
        echo "FAIL: text report for $owner lacks '$needle'"; cat "$work/scan.txt" "$work/text.err"; exit 1
    fi
done
if grep -q panicked "$work/text.err"; then echo "FAIL: panic"; cat "$work/text.err"; exit 1; fi
case "$status" in 0|1|2) echo "ok: text report for $owner (exit $status)";; *) echo "FAIL: exit $status"; exit 1;; esac

# A remote scan of a loopback address nothing serves (Wine cannot reach it
# over DCOM): every source answers or fails with a reason; the verdict
# cannot be "clean" when the evidence is missing.
status=0
WINEDEBUG=-all scripts/wine/run.sh "$exe" scan --host 127.0.0.2 --timeout 20s --format json --include-snapshot \
    >"$work/remote.json" 2>"$work/remote.err" || status=$?
python3 - "$work/remote.json" "$work/remote.err" "$status" <<'PY'
import functools, sys
sys.path.insert(0, "scripts/wine")
from report_check import report, stderr, status, check
check = functools.partial(check, show_report=True)
check("panicked" not in stderr, "remote: no panic")
snap = report["hosts"][0]["snapshot"]
check(snap["collector"] == "windows-remote" and snap["host"] == "127.0.0.2", "remote: windows-remote collector")
for source in ("logon_sessions", "processes"):
    f = snap[source]
    check(f["status"] == "failed" and f["kind"] == "unreachable" and "127.0.0.2" in f["message"], f"remote: WMI {source} unreachable: {f.get('message')}")
check(report["outcome"] != "clean", f"remote: outcome {report['outcome']} is not 'clean' without evidence")
expected_exit = {"clean": 0, "lingering": 1, "undecided": 2}[report["outcome"]]
check(status == expected_exit, f"remote: exit code {status} matches outcome {report['outcome']}")
PY

echo "-- scan timing under Wine (smoke figure; 200 extra processes)"
bash scripts/wine/cargo-win.sh run -q --release --example windows_scan -- --rounds 5 --spawn 200

# Stop this prefix's wineserver and the Wine services it started (only ours:
# wineserver -k acts on the WINEPREFIX given).
wineserver -k 2>/dev/null || true

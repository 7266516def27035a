#!/usr/bin/env python3
"""Whole-process figures for lingerscan and its peers, measured in one run.

Each case runs its commands in turn, round after round (lingerscan, peer,
lingerscan, peer, ...), so that both see the same machine load; the table
gives each command's median wall time and median peak memory (from the
child's own rusage, via os.wait4). Output goes to /dev/null; its size is
reported once.

Cases (each can be skipped with --skip NAME):
  quiet     default local scan of this host, vs. the previous default (smbstatus run)
  procs     local scan with N extra sleeping processes (no Samba), vs. `ps -eo user,pid,lstart,cmd`
  analyze   `analyze -f json` of synthetic snapshots (100k and 1M processes),
            vs. a naive Python join (benches/peers/naive_join.py)
  scaling   the analysis step alone as `lingerscan analyze` runs it (one
            analysis per process, right after loading the snapshot, with the
            binary's allocator settings), timed inside the process by the
            report_phases example at each size in turn: median wall and CPU
            time per size, and each size's time over the smallest's; beside
            it the floor, one pass reading every process's owner and logon id
            in the same state (`report_phases --floor`)
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def run_once(argv, out_path=None):
    """Wall seconds, peak RSS in MiB, exit status, output bytes."""
    out = open(out_path, "wb") if out_path else subprocess.DEVNULL
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if out_path:
        out.close()
    size = os.path.getsize(out_path) if out_path else None
    return wall, usage.ru_maxrss / 1024.0, os.waitstatus_to_exitcode(status), size


def paired(case, commands, rounds, out_dir):
    """commands: [(label, argv)]; returns rows for the table."""
    samples = {label: [] for label, _ in commands}
    sizes = {}
    for r in range(rounds):
        for label, argv in commands:
            out = os.path.join(out_dir, "out") if r == 0 else None
            wall, rss, code, size = run_once(argv, out)
            samples[label].append((wall, rss))
            if size is not None:
                sizes[label] = (size, code)
    rows = []
    for label, _ in commands:
        walls = [w for w, _ in samples[label]]
        rsses = [m for _, m in samples[label]]
        size, code = sizes.get(label, (None, None))
        rows.append((case, label, statistics.median(walls), min(walls), max(walls),
                     statistics.median(rsses), size, code))
    return rows


def print_rows(rows):
    print(f"{'case':<12} {'command':<44} {'median':>10} {'min':>9} {'max':>9} {'peak MiB':>9} {'output':>11} exit")
    for case, label, med, lo, hi, rss, size, code in rows:
        out = f"{size / 1e6:.1f} MB" if size is not None else "-"
        print(f"{case:<12} {label:<44} {med * 1000:8.1f}ms {lo * 1000:7.1f}ms {hi * 1000:7.1f}ms "
              f"{rss:9.1f} {out:>11} {code}")
    sys.stdout.flush()


def start_sleepers(n):
    sleepers = []
    for _ in range(n):
        try:
            sleepers.append(subprocess.Popen(["sleep", "3600"], stdin=subprocess.DEVNULL,
                                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        except OSError as e:
            print(f"could start only {len(sleepers)} of {n} sleepers: {e}", file=sys.stderr)
            break
    return sleepers


def stop_sleepers(sleepers):
    # Only the processes started here, by their own pids.
    for p in sleepers:
        p.kill()
    for p in sleepers:
        p.wait()


FLOOR = re.compile(r"floor ([\d.]+) ms")
PHASES = re.compile(r"parse (\d+) ms, analyse ([\d.]+) ms \(CPU ([\d.]+) ms\), write (\d+) ms")


def scaling(phases, snaps, rounds):
    """Analysis-step medians per size (sizes in turn, round after round);
    snaps: {processes: snapshot path}."""
    sizes = sorted(snaps)
    samples = {n: [] for n in sizes}
    floors = {n: [] for n in sizes}
    for _ in range(rounds):
        for n in sizes:
            out = subprocess.run([phases, snaps[n]], check=True, capture_output=True, text=True).stdout
            m = PHASES.search(out)
            if not m:
                sys.exit(f"report_phases printed no phases: {out!r}")
            samples[n].append(tuple(float(g) for g in m.groups()))
            out = subprocess.run([phases, snaps[n], "--floor"], check=True, capture_output=True,
                                 text=True).stdout
            m = FLOOR.search(out)
            if not m:
                sys.exit(f"report_phases --floor printed no time: {out!r}")
            floors[n].append(float(m.group(1)))
    base = sizes[0]
    med = {n: [statistics.median(s[i] for s in samples[n]) for i in range(4)] for n in sizes}
    floor = {n: statistics.median(floors[n]) for n in sizes}
    print(f"{'processes':>10} {'analyse':>10} {'(min-max)':>17} {'CPU':>10} {'x rows':>7} "
          f"{'x wall':>7} {'x CPU':>7} {'floor':>9} {'x floor':>8} {'parse':>8} {'write':>8}")
    for n in sizes:
        parse, wall, cpu, write = med[n]
        walls = [s[1] for s in samples[n]]
        print(f"{n:>10} {wall:8.1f}ms {min(walls):7.1f}-{max(walls):7.1f}ms {cpu:8.1f}ms "
              f"{n / base:7.1f} {wall / med[base][1]:7.2f} {cpu / med[base][2]:7.2f} "
              f"{floor[n]:7.2f}ms {floor[n] / floor[base]:8.2f} {parse:6.0f}ms {write:6.0f}ms")
    sys.stdout.flush()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lingerscan", required=True)
    ap.add_argument("--synthetic", required=True, help="the synthetic_snapshot example binary")
    ap.add_argument("--phases", help="the report_phases example binary (for the scaling case)")
    ap.add_argument("--baseline", help="an earlier lingerscan binary to run beside (optional)")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--processes", type=int, default=10_000)
    ap.add_argument("--sizes", default="100000,1000000")
    ap.add_argument("--skip", action="append", default=[])
    args = ap.parse_args()
    ls = args.lingerscan
    with open("/proc/loadavg") as f:
        print(f"# machine: {os.cpu_count()} cores, load average {f.read().split()[0]} at start "
              f"(shared machine: medians of {args.rounds} paired rounds)")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        if "quiet" not in args.skip:
            cmds = [("lingerscan (default scan)", [ls, "-f", "json"]),
                    ("lingerscan --smbstatus smbstatus-always", [ls, "-f", "json", "--smbstatus", "/usr/bin/smbstatus"])]
            if args.baseline:
                cmds.append(("baseline (default scan)", [args.baseline, "-f", "json"]))
            rows += paired("quiet", cmds, max(args.rounds, 11), tmp)
            print_rows(rows[-len(cmds):])
        if "procs" not in args.skip:
            sleepers = start_sleepers(args.processes)
            try:
                nproc = sum(1 for e in os.listdir("/proc") if e.isdigit())
                case = f"{nproc} procs"
                cmds = [("lingerscan --smbstatus /nonexistent", [ls, "-f", "json", "--smbstatus", "/nonexistent/smbstatus"]),
                        ("ps -eo user,pid,lstart,cmd", ["ps", "-eo", "user,pid,lstart,cmd"])]
                if args.baseline:
                    cmds.append(("baseline --smbstatus /nonexistent", [args.baseline, "-f", "json", "--smbstatus", "/nonexistent/smbstatus"]))
                rows += paired(case, cmds, args.rounds, tmp)
                print_rows(rows[-len(cmds):])
            finally:
                stop_sleepers(sleepers)
        # Each size's snapshot is generated once, for both cases below.
        snaps = {}
        if "analyze" not in args.skip or ("scaling" not in args.skip and args.phases):
            for n in sorted(int(s) for s in args.sizes.split(",") if s):
                snaps[n] = os.path.join(tmp, f"snap{n}.json")
                subprocess.run([args.synthetic, str(n), snaps[n]], check=True)
        if "analyze" not in args.skip:
            for n, snap in snaps.items():
                case = f"analyze {n // 1000}k"
                cmds = [("lingerscan analyze -f json", [ls, "analyze", "-f", "json", snap]),
                        ("python3 naive_join.py", [sys.executable, os.path.join(HERE, "naive_join.py"), snap])]
                if args.baseline and n <= 100_000:
                    # The previous binary is quadratic in users: only the small size.
                    cmds.append(("baseline analyze -f json", [args.baseline, "analyze", "-f", "json", snap]))
                print(f"# {snap}: {os.path.getsize(snap) / 1e6:.0f} MB")
                rows += paired(case, cmds, args.rounds, tmp)
                print_rows(rows[-len(cmds):])
        if "scaling" not in args.skip and args.phases:
            print(f"# scaling: the analysis step, {max(args.rounds, 11)} rounds")
            scaling(args.phases, snaps, max(args.rounds, 11))
    print()
    print_rows(rows)


if __name__ == "__main__":
    main()

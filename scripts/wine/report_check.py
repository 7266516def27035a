"""Shared by scripts/test.d/30-windows.sh: load one lingerscan run (its JSON
report, its stderr, its exit status; paths and status from argv) and check
facts about it, failing with the evidence on the first wrong one."""
import json
import sys

report = json.load(open(sys.argv[1]))
stderr = open(sys.argv[2], encoding="utf-8", errors="replace").read()
status = int(sys.argv[3])


def check(ok, what, show_report=False):
    if not ok:
        extra = f"\n--- report ---\n{json.dumps(report, indent=1)[:4000]}" if show_report else ""
        sys.exit(f"FAIL: {what}\n--- stderr ---\n{stderr}{extra}")
    print(f"ok: {what}")

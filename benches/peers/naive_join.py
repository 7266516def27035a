#!/usr/bin/env python3
"""The peer for `analyze`: a naive Python join over a snapshot file.

Loads the whole snapshot with the standard json module, groups processes by
logon session and by user, and writes a JSON list of findings (leaked logon
sessions, workstation-list users with no logon and no process). It is what a
reader would write in a few minutes, and what lingerscan must beat.
"""
import json
import sys
from collections import defaultdict


def rows(source):
    return source.get("rows", []) if source.get("status") == "ok" else []


def main(path, out):
    with open(path, encoding="utf-8") as f:
        snap = json.load(f)
    procs_by_logon = defaultdict(list)
    users_with_process = set()
    for i, p in enumerate(rows(snap["processes"])):
        if p.get("logon_id") is not None:
            procs_by_logon[p["logon_id"]].append(i)
        if p.get("user"):
            users_with_process.add(p["user"].split("\\")[-1].lower())
    users_with_logon = set()
    findings = []
    for i, l in enumerate(rows(snap["logon_sessions"])):
        user = (l.get("user") or "").lower()
        users_with_logon.add(user)
        procs = procs_by_logon.get(l["logon_id"], [])
        findings.append({
            "kind": "logon_session", "session_id": l["logon_id"], "user": user,
            "verdict": "ACTIVE" if procs else "LEAKED_LOGON", "processes": procs,
        })
    for i, w in enumerate(rows(snap["workstation_users"])):
        user = w["user"].lower()
        if user not in users_with_logon and user not in users_with_process:
            findings.append({"kind": "workstation_user", "user": user,
                             "verdict": "STALE_WKSTA", "rows": [i]})
    json.dump({"host": snap["host"], "findings": findings}, out)
    out.write("\n")


if __name__ == "__main__":
    main(sys.argv[1], sys.stdout)

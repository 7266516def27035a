"""An executable model of Get-LingeringSessions.ps1's decision and counting rules.

Written from the script (HEAD of DefenderK/GetLingeringSessions, 520 lines),
not from lingerscan's code: every rule below names the lines it models.
Standard library only.

Input: a lingerscan snapshot (JSON) and the -TargetUser text. The snapshot
stands for what the script's cmdlets would have returned on that host:

- workstation_users rows -> WKSTA_USER_INFO_1 (Username = user,
  LogonDomain = logon_domain), lines 86-124.
- logon_sessions rows -> Win32_LogonSession, each associated with the
  Win32_Account (Domain = domain or "", Name = user); a row without a user
  has no resolvable account (lines 223-258).
- processes rows -> Get-Process -IncludeUserName, UserName = user (369, 377).
- smb_sessions rows -> Get-SmbSession, ClientUserName = "domain\\user", or
  user alone when the row has no domain (423, 430).
- A source with status "failed" is a query that threw: the script's catch
  path runs (its warning, its failure flag) and its list stays empty. A
  failure of kind "not_available" is a source the host does not have: an
  empty list, no warning.
- The collector decides local or remote (Test-TargetServerIsLocal,
  158-169): "*-local" is local, anything else remote.

Output (a dict): the verdict of section 5, the warnings printed, and every
count the script prints.

Usage: python3 model.py SNAPSHOT.json TARGET   -> prints the result as JSON.
"""

import json
import re
import sys

# .NET String.Trim() removes Unicode white space (char.IsWhiteSpace).
_WHITESPACE = (
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
    "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)

VERDICT_LINGERING = "LINGERING"
VERDICT_ACTIVE = "ACTIVE"
VERDICT_NOTHING = "NOTHING_TO_ANALYZE"

WARN_WKSTA = "NetWkstaUserEnum failed"  # 139-140
WARN_LOGON = "Error getting logon sessions"  # 352
WARN_PROC = "process enumeration failed"  # 392 (remote) / 406 (local)
WARN_SMB = "SMB session query failed"  # 432 (remote) / 445
WARN_IMPORTANT = "IMPORTANT: Section 2 and/or Section 3 did not complete"  # 479-484


def trim(text):
    return text.strip(_WHITESPACE)


def is_null_or_white_space(text):
    return text is None or trim(text) == ""


def fold(text):
    """Ordinal ignore-case: each character to its simple upper case."""
    out = []
    for c in text:
        u = c.upper()
        out.append(u if len(u) == 1 else c)
    return "".join(out)


def ieq(a, b):
    """PowerShell -ieq on strings (case-insensitive equality)."""
    return fold(a) == fold(b)


def get_target_user_identity(raw):
    """Get-TargetUserIdentity, lines 171-193."""
    t = trim(raw)  # 173
    m = re.match(r"^([^\\]+)\\(.+)$", t)  # 174
    if m:
        return {"Domain": m.group(1), "Sam": m.group(2), "Canonical": m.group(1) + "\\" + m.group(2)}
    m = re.match(r"^([^@]+)@(.+)$", t)  # 181
    if m:
        return {"Domain": m.group(2), "Sam": m.group(1), "Canonical": m.group(2) + "\\" + m.group(1)}
    return {"Domain": "", "Sam": t, "Canonical": t}  # 188-192


def test_identity_match(candidate, identity, raw_original):
    """Test-IdentityMatch, lines 195-210."""
    if is_null_or_white_space(candidate):  # 201
        return False
    if ieq(candidate, trim(raw_original)):  # 202
        return True
    if identity["Canonical"] and ieq(candidate, identity["Canonical"]):  # 203
        return True
    if identity["Sam"] and ieq(candidate, identity["Sam"]):  # 204
        return True
    if identity["Sam"]:  # 205-208: EndsWith("\SAM", OrdinalIgnoreCase)
        if fold(candidate).endswith(fold("\\" + identity["Sam"])):
            return True
    return False


def remote_process_match(user_name, canon, sam, raw_orig):
    """The filter sent to a remote host with Invoke-Command, lines 377-388."""
    if not user_name:  # 378
        return False
    u = user_name
    if ieq(u, raw_orig):  # 380: the target as typed, untrimmed
        return True
    if canon and ieq(u, canon):  # 381
        return True
    if sam and ieq(u, sam):  # 382
        return True
    if sam:  # 383-386: the part after the last backslash
        i = u.rfind("\\")
        if i >= 0 and ieq(u[i + 1 :], sam):
            return True
    return False


def _source(snapshot, name):
    """(rows, failed) for one source; not_available is an empty, readable source."""
    obs = snapshot.get(name) or {"status": "failed", "kind": "other"}
    if obs.get("status") == "ok":
        return obs.get("rows") or [], False
    if obs.get("kind") == "not_available":
        return [], False
    return [], True


def run_script(snapshot, target_user):
    """The script's main body (lines 262-520) on one snapshot."""
    collector = snapshot.get("collector", "")
    is_local = collector.endswith("-local")  # 262, Test-TargetServerIsLocal
    identity = get_target_user_identity(target_user)  # 263
    warnings = []
    # Lists start empty and stay so when a query throws (280-285).
    logon_query_failed = False
    process_query_failed = False

    # SECTION 1 (301-325): every row, machine accounts included.
    wksta_rows, wksta_failed = _source(snapshot, "workstation_users")
    if wksta_failed:
        warnings.append(WARN_WKSTA)  # 131-141: warning, loop ends, no rows
    wksta_sessions = []
    for w in wksta_rows:
        username = w.get("user") or ""
        logon_domain = w.get("logon_domain") or ""
        full_name = (logon_domain + "\\" + username) if logon_domain else username  # 118-122
        wksta_sessions.append({"Username": username, "FullName": full_name})

    # SECTION 2 (340-353), Get-LogonSessionsForTargetUser (212-260).
    rows, failed = _source(snapshot, "logon_sessions")
    logon_sessions = []
    if failed:
        logon_query_failed = True  # 351
        warnings.append(WARN_LOGON)  # 352
    else:
        for session in rows:
            if session.get("user") is None:
                continue  # no associated Win32_Account (230-235)
            full_name = (session.get("domain") or "") + "\\" + session["user"]  # 236
            if test_identity_match(full_name, identity, target_user):  # 237
                logon_sessions.append(session)

    # SECTION 3 (366-407).
    rows, failed = _source(snapshot, "processes")
    processes = []
    if failed:
        process_query_failed = True  # 391 remote / 405 local
        warnings.append(WARN_PROC)  # 392 / 406
    elif is_local:
        processes = [p for p in rows if test_identity_match(p.get("user"), identity, target_user)]  # 368-369
    else:
        processes = [
            p
            for p in rows
            if remote_process_match(p.get("user"), identity["Canonical"], identity["Sam"], target_user)
        ]  # 371-389

    # SECTION 4 (420-446): SMB is counted, never decisive.
    rows, failed = _source(snapshot, "smb_sessions")
    smb_sessions = []
    if failed:
        warnings.append(WARN_SMB)  # 432 / 445
    else:
        for s in rows:
            if s.get("user") is None:
                continue
            domain = s.get("domain") or ""
            client_user_name = (domain + "\\" + s["user"]) if domain else s["user"]
            if test_identity_match(client_user_name, identity, target_user):  # 423 / 430
                smb_sessions.append(s)

    # SECTION 5 (461-504).
    target_wksta = [
        w
        for w in wksta_sessions
        if not w["Username"].endswith("$")  # 463: machine-account rows dropped here only
        and test_identity_match(w["FullName"], identity, target_user)  # 464
    ]
    if len(target_wksta) > 0:  # 467: the gate
        has_active_logon = len(logon_sessions) > 0  # 468
        has_processes = len(processes) > 0  # 469
        if not has_active_logon and not has_processes:  # 472
            verdict = VERDICT_LINGERING
            if process_query_failed or logon_query_failed:  # 479
                warnings.append(WARN_IMPORTANT)
        else:
            verdict = VERDICT_ACTIVE  # 491-499
    else:
        verdict = VERDICT_NOTHING  # 501-504

    return {
        "verdict": verdict,
        "warnings": warnings,
        "counts": {
            # Section 1 "Total sessions found" and summary line 513.
            "wksta_total": len(wksta_sessions),
            # Section 5 "NetWkstaUserEnum row count for user" (493).
            "wksta_rows": len(target_wksta),
            # Sections 2-4 and summary lines 514-516.
            "logon": len(logon_sessions),
            "processes": len(processes),
            "smb": len(smb_sessions),
        },
        "has_smb": len(smb_sessions) > 0,  # 470
    }


def main(argv):
    if len(argv) != 3:
        print("usage: model.py SNAPSHOT.json TARGET", file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8-sig") as f:
        snapshot = json.load(f)
    print(json.dumps(run_script(snapshot, argv[2]), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

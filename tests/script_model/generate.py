"""Random but realistic Windows snapshots, and a target user for each (seeded).

What they hold, in varying mixes: NetBIOS and DNS domains and none (local
accounts, blank domains), the same SAM name in two domains, mixed-case
names, machine (NAME$) and gMSA accounts, users listed only by
NetWkstaUserEnum, network-only logons, logons with no process, processes
without a logon session, unreadable processes, SMB-only users, SMB rows in
UPN form, sessions with no resolvable account, and sources that failed,
were empty, or are absent. Targets: DOMAIN\\user, UPN (matching, other and
unknown domains), bare, mixed case, padded, machine and gMSA accounts,
unknown users, and a few malformed ones.

Usage: python3 generate.py SEED COUNT OUTDIR  -> OUTDIR/case-NNNN.json and
OUTDIR/cases.json (a list of {"file", "target"}).
"""

import json
import os
import random
import sys

DOMAINS = {"CONTOSO": "contoso.com", "FABRIKAM": "fabrikam.local", "TESTDOMAIN": "testdomain.local"}
USERS = ["alice", "bob", "carol", "dave", "erin", "Administrator", "svc_sql", "José", "x.chen"]
GMSAS = ["gmsa_web$", "gmsa_sql$"]
FAILURES = ["access_denied", "timeout", "other", "unreachable"]
MALFORMED = ["\\alice", "alice@", "a\\b\\c", "@contoso.com", "CONTOSO\\", "bob@x@y"]


def vary_case(rng, text):
    return rng.choice([text, text.lower(), text.upper(), text[:1].upper() + text[1:].lower()])


def failed(rng, kind=None):
    return {"status": "failed", "kind": kind or rng.choice(FAILURES), "code": None, "message": "generated failure"}


class Builder:
    def __init__(self, rng):
        self.rng = rng
        self.host = rng.choice(["SRV01", "APP04", "DC01-SERVER-22", "FS02"])
        self.host_domain = rng.choice(list(DOMAINS))
        self.collector = rng.choices(["windows-local", "windows-remote", "msrpc"], [65, 25, 10])[0]
        self.wksta, self.logons, self.procs, self.smb, self.wts = [], [], [], [], []
        self.next_luid = 400000
        self.next_pid = 5000
        self.people = []

    def luid(self):
        self.next_luid += self.rng.randint(1, 5000)
        return str(self.next_luid)

    def pid(self):
        self.next_pid += self.rng.choice([4, 8, 12])
        return self.next_pid

    def wksta_row(self, domain, user, copies=1):
        for _ in range(copies):
            self.wksta.append({
                "user": user,
                "logon_domain": domain,
                "other_domains": "",
                "logon_server": self.rng.choice(["", self.host, "DC01"]),
            })

    def logon(self, domain, user, logon_type, luid=None):
        luid = luid or self.luid()
        row = {"logon_id": luid, "logon_type": logon_type, "auth_package": self.rng.choice(["Kerberos", "NTLM", "Negotiate"]),
               "start_time": "2025-10-10T08:%02d:00Z" % self.rng.randint(0, 59)}
        if user is not None:
            row["user"] = user
            if domain is not None:
                row["domain"] = domain
            row["sid"] = "S-1-5-21-1-2-3-%d" % self.rng.randint(1000, 9999)
        else:
            row["sid"] = "S-1-5-21-9-9-9-%d" % self.rng.randint(1000, 9999)
        self.logons.append(row)
        return luid

    def process(self, owner, luid, name=None, ts=None):
        row = {"pid": self.pid(), "name": name or self.rng.choice(["explorer", "cmd", "powershell", "msedge", "sqlservr", "svchost"])}
        if owner is not None:
            row["user"] = owner
        if luid is not None:
            row["logon_id"] = luid
        if ts is not None:
            row["terminal_session_id"] = ts
        self.procs.append(row)

    def base(self):
        """What every Windows host shows: the machine account and service identities."""
        machine = self.host + "$"
        self.wksta_row(self.host_domain, machine, self.rng.randint(0, 8))
        self.logon(self.host_domain, machine, 0, "999")
        self.logon("NT AUTHORITY", "LOCAL SERVICE", 5, "997")
        self.logon(self.host_domain, machine, 5, "996")
        for name in ["System", "lsass.exe", "services.exe"]:
            self.process("NT AUTHORITY\\SYSTEM", "999", name)
        self.process("NT AUTHORITY\\LOCAL SERVICE", "997", "svchost.exe")
        if self.rng.random() < 0.5:
            n = self.rng.randint(1, 3)
            self.logon("Window Manager", "DWM-%d" % n, 2)
            self.logon("Font Driver Host", "UMFD-%d" % n, 2)
        if self.rng.random() < 0.3:
            self.smb.append({"client": "\\\\10.0.0.%d" % self.rng.randint(2, 250), "user": machine,
                             "domain": self.host_domain, "idle_secs": self.rng.randint(0, 9000)})
        if self.rng.random() < 0.3:
            gmsa = self.rng.choice(GMSAS)
            luid = self.logon(self.host_domain, gmsa, 5)
            for _ in range(self.rng.randint(1, 3)):
                self.process("%s\\%s" % (self.host_domain, gmsa), luid, "w3wp")
            if self.rng.random() < 0.3:
                self.wksta_row(self.host_domain, gmsa)
        if self.rng.random() < 0.2:
            self.logon(None, None, 3)  # an account that no longer resolves
        for _ in range(self.rng.randint(0, 3)):
            self.procs.append({"pid": self.pid(), "name": "protected.exe", "access_error": "access denied"})

    def person(self):
        rng = self.rng
        sam = rng.choice(USERS)
        domain = rng.choices([rng.choice(list(DOMAINS)), self.host, ""], [80, 15, 5])[0]
        self.people.append((domain, sam))
        if rng.random() < 0.25:
            # The same SAM in another domain, in another case.
            other = rng.choice([d for d in DOMAINS if d != domain])
            self.people.append((other, vary_case(rng, sam)))
            self.scenario(other, self.people[-1][1])
        self.scenario(domain, sam)

    def scenario(self, domain, sam):
        rng = self.rng
        kind = rng.choice(["interactive", "rdp_disconnected", "network_only", "wksta_only", "process_only",
                           "smb_only", "logon_only", "upn_smb", "listed_smb"])
        d = vary_case(rng, domain) if domain else domain
        u = vary_case(rng, sam)
        owner = "%s\\%s" % (d, u) if d else u
        listed = kind in ("interactive", "rdp_disconnected", "wksta_only", "listed_smb") or rng.random() < 0.4
        if listed:
            self.wksta_row(d, u, rng.choice([1, 1, 2, 3]))
        if kind in ("interactive", "rdp_disconnected"):
            ts = rng.randint(1, 6)
            luid = self.logon(d if rng.random() < 0.9 else None, u, rng.choice([2, 10, 11]))
            for _ in range(rng.randint(1, 6)):
                self.process(owner, luid, ts=ts)
            self.wts.append({"session_id": str(ts), "station": "RDP-Tcp#%d" % ts, "user": u, "domain": d,
                             "state": "Active" if kind == "interactive" else "Disconnected",
                             "idle_secs": rng.randint(0, 400000)})
        elif kind == "network_only":
            self.logon(d, u, 3)
        elif kind == "process_only":
            for _ in range(rng.randint(1, 3)):
                self.process(owner, str(rng.randint(10, 99)))
        elif kind == "logon_only":
            self.logon(d, u, rng.choice([2, 3, 10]))
        if kind in ("smb_only", "listed_smb", "network_only") and rng.random() < 0.8:
            form = rng.random()
            row = {"client": "\\\\10.0.1.%d" % rng.randint(2, 250), "idle_secs": rng.randint(0, 200000),
                   "open_files": rng.randint(0, 4)}
            if form < 0.5:
                row["user"] = u
            else:
                row["user"] = u
                row["domain"] = d
            self.smb.append(row)
        if kind == "upn_smb":
            dns = DOMAINS.get(domain.upper(), (self.host + ".local").lower())
            self.smb.append({"client": "\\\\10.0.2.%d" % rng.randint(2, 250), "user": "%s@%s" % (u, dns),
                             "idle_secs": rng.randint(0, 5000)})

    def snapshot(self):
        rng = self.rng
        remote_rpc = self.collector == "msrpc"
        sources = {
            "workstation_users": {"status": "ok", "rows": self.wksta},
            "logon_sessions": {"status": "ok", "rows": self.logons},
            "processes": {"status": "ok", "rows": self.procs},
            "smb_sessions": {"status": "ok", "rows": self.smb},
            "interactive_sessions": {"status": "ok", "rows": self.wts},
        }
        if remote_rpc:
            # What MS-RPC from Linux cannot read.
            for name in ["logon_sessions", "processes", "interactive_sessions"]:
                if rng.random() < 0.9:
                    sources[name] = failed(rng, "not_supported")
        for name in sources:
            r = rng.random()
            if r < 0.07:
                sources[name] = failed(rng)
            elif r < 0.10:
                sources[name] = {"status": "ok", "rows": []}
            elif r < 0.12 and name == "smb_sessions":
                sources[name] = failed(rng, "not_available")
        snap = {
            "schema_version": 1,
            "host": self.host,
            "platform": "unknown" if remote_rpc and rng.random() < 0.5 else "windows",
            "collected_at": "2025-10-10T10:30:00Z",
            "collector": self.collector,
        }
        snap.update(sources)
        return snap

    def target(self):
        rng = self.rng
        r = rng.random()
        if r < 0.04:
            return rng.choice(MALFORMED)
        if r < 0.12:
            return rng.choice([self.host + "$", "%s\\%s$" % (self.host_domain, self.host), rng.choice(GMSAS),
                               "%s\\%s" % (self.host_domain, rng.choice(GMSAS))])
        if self.people and rng.random() < 0.75:
            domain, sam = rng.choice(self.people)
        else:
            domain, sam = rng.choice(list(DOMAINS)), rng.choice(USERS)
        sam = vary_case(rng, sam)
        form = rng.random()
        if form < 0.35 and domain:
            text = "%s\\%s" % (vary_case(rng, domain), sam)
        elif form < 0.6:
            dns = rng.choice([DOMAINS.get(domain.upper(), "example.com"), "example.com", "contoso.com"])
            text = "%s@%s" % (sam, dns)
        else:
            text = sam
        if rng.random() < 0.05:
            text = rng.choice(["  %s", "%s ", "\t%s "]) % text
        return text


def generate(seed, count):
    """[(snapshot, target)] for one seed."""
    rng = random.Random(seed)
    cases = []
    for _ in range(count):
        b = Builder(rng)
        b.base()
        for _ in range(rng.randint(0, 5)):
            b.person()
        target = b.target()
        cases.append((b.snapshot(), target))
    return cases


def write(cases, outdir):
    os.makedirs(outdir, exist_ok=True)
    index = []
    for i, (snap, target) in enumerate(cases):
        path = os.path.join(outdir, "case-%04d.json" % i)
        with open(path, "w", encoding="utf-8") as f:
            json.dump(snap, f, ensure_ascii=False)
        index.append({"file": path, "target": target})
    with open(os.path.join(outdir, "cases.json"), "w", encoding="utf-8") as f:
        json.dump(index, f, ensure_ascii=False, indent=1)
    return index


def main(argv):
    if len(argv) != 4:
        print("usage: generate.py SEED COUNT OUTDIR", file=sys.stderr)
        return 2
    write(generate(int(argv[1]), int(argv[2])), argv[3])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

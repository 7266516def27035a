#!/usr/bin/env python3
"""The fleet sweep through impacket, for benches/fleet.rs: a thread pool of
CONCURRENCY workers, each making the calls lingerscan makes per host of
this fleet (all Samba): one SMB connection, NetrWkstaUserEnum level 1,
NetrSessionEnum level 1, and the remote registry's HKEY_USERS listing
(OpenUsers, BaseRegEnumKey until ERROR_NO_MORE_ITEMS, BaseRegCloseKey).
lingerscan asks a server that answers NetrSessionEnum at level 1 (Samba)
for no Terminal Services pipes, and LSA only when a hive or a process has a
SID to name (Samba's HKU is empty), so neither is asked here either.

usage: fleet_impacket.py TARGETS_FILE PORT DOMAIN USER CONCURRENCY TIMEOUT_SECS CONNECT_TIMEOUT_SECS [EXPECTED_OK]
(password from LINGERSCAN_PASSWORD). As in lingerscan, the connect timeout
bounds the TCP connect and the server's NEGOTIATE answer (impacket negotiates
in SMBConnection's constructor), the timeout every later wait. Prints JSON: {"ok": n, "failed": n, "seconds": s}.
"""
import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from impacket.dcerpc.v5 import rrp, srvs, transport, wkst
from impacket.dcerpc.v5.rpcrt import DCERPCException
from impacket.smbconnection import SMBConnection


def scan(host, port, domain, user, password, timeout, connect_timeout):
    try:
        smb = SMBConnection(host, host, sess_port=port, timeout=connect_timeout)
        smb.setTimeout(timeout)
        smb.login(user, password, domain)
        counts = []
        for pipe, uuid, call in (
            (r"\wkssvc", wkst.MSRPC_UUID_WKST, lambda dce: wkst.hNetrWkstaUserEnum(dce, 1)),
            (r"\srvsvc", srvs.MSRPC_UUID_SRVS, lambda dce: srvs.hNetrSessionEnum(dce, srvs.NULL, srvs.NULL, 1)),
        ):
            rpc = transport.SMBTransport(host, port, filename=pipe, smb_connection=smb)
            dce = rpc.get_dce_rpc()
            dce.connect()
            dce.bind(uuid)
            call(dce)
            dce.disconnect()
        rpc = transport.SMBTransport(host, port, filename=r"\winreg", smb_connection=smb)
        dce = rpc.get_dce_rpc()
        dce.connect()
        dce.bind(rrp.MSRPC_UUID_RRP)
        key = rrp.hOpenUsers(dce)["phKey"]
        index = 0
        while True:
            try:
                rrp.hBaseRegEnumKey(dce, key, index)
            except DCERPCException:  # ERROR_NO_MORE_ITEMS
                break
            index += 1
        rrp.hBaseRegCloseKey(dce, key)
        dce.disconnect()
        smb.logoff()
        smb.close()
        return True
    except Exception:  # a failed host is a result, as in lingerscan
        return False


def main():
    path, port, domain, user = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    concurrency, timeout, connect_timeout = int(sys.argv[5]), float(sys.argv[6]), float(sys.argv[7])
    password = os.environ["LINGERSCAN_PASSWORD"]
    hosts = [line.split("#")[0].strip() for line in open(path)]
    hosts = [h for h in hosts if h]
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        results = list(pool.map(lambda h: scan(h, port, domain, user, password, timeout, connect_timeout), hosts))
    summary = json.dumps({"ok": sum(results), "failed": len(results) - sum(results),
                          "seconds": time.monotonic() - started})
    print(summary)
    print(f"impacket: {summary}", file=sys.stderr)
    # The hosts expected to answer: fewer means impacket skipped work (a
    # timeout under its own load), and its time would not be comparable.
    if len(sys.argv) > 8 and sum(results) != int(sys.argv[8]):
        sys.exit(3)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Independent reference client: the two lingerscan remote queries through impacket.

usage: reference_scan.py HOST PORT DOMAIN USER [REPEAT]   (password from LINGERSCAN_PASSWORD)

One SMB connection per scan, reused for \\PIPE\\wkssvc (NetrWkstaUserEnum level 1)
and \\PIPE\\srvsvc (NetrSessionEnum level 1), as lingerscan does. Prints JSON:
{"users": [[user, logon_domain, oth_domains, logon_server], ...],
 "sessions": [[client, user, num_opens, idle_time, user_flags, time], ...],
 "seconds_per_scan": float, "cpu_seconds_per_scan": float}
"""
import json
import os
import sys
import time

from impacket.dcerpc.v5 import srvs, transport, wkst
from impacket.smbconnection import SMBConnection


def text(value):
    # impacket gives a NULL string pointer as b''.
    if isinstance(value, (bytes, bytearray)):
        return value.decode("utf-16-le", "replace").rstrip("\x00")
    return str(value).rstrip("\x00")


def bind(smb, host, port, pipe, interface):
    rpc = transport.SMBTransport(host, port, filename=pipe, smb_connection=smb)
    dce = rpc.get_dce_rpc()
    dce.connect()
    dce.bind(interface)
    return dce


def scan(host, port, domain, user, password):
    smb = SMBConnection(host, host, sess_port=port, timeout=10)
    smb.login(user, password, domain)
    dce = bind(smb, host, port, r"\wkssvc", wkst.MSRPC_UUID_WKST)
    reply = wkst.hNetrWkstaUserEnum(dce, 1)
    users = [
        [text(e["wkui1_username"]), text(e["wkui1_logon_domain"]), text(e["wkui1_oth_domains"]), text(e["wkui1_logon_server"])]
        for e in reply["UserInfo"]["WkstaUserInfo"]["Level1"]["Buffer"]
    ]
    dce.disconnect()
    dce = bind(smb, host, port, r"\srvsvc", srvs.MSRPC_UUID_SRVS)
    reply = srvs.hNetrSessionEnum(dce, srvs.NULL, srvs.NULL, 1)
    sessions = [
        [text(e["sesi1_cname"]), text(e["sesi1_username"]), e["sesi1_num_opens"], e["sesi1_idle_time"], e["sesi1_user_flags"],
         e["sesi1_time"]]
        for e in reply["InfoStruct"]["SessionInfo"]["Level1"]["Buffer"]
    ]
    dce.disconnect()
    smb.logoff()
    smb.close()
    return users, sessions


def main():
    host, port, domain, user = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    repeat = int(sys.argv[5]) if len(sys.argv) > 5 else 1
    password = os.environ["LINGERSCAN_PASSWORD"]
    start, cpu_start = time.perf_counter(), time.process_time()
    for _ in range(repeat):
        users, sessions = scan(host, port, domain, user, password)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    print(json.dumps({"users": users, "sessions": sessions, "seconds_per_scan": elapsed / repeat,
                      "cpu_seconds_per_scan": cpu / repeat}))


if __name__ == "__main__":
    main()

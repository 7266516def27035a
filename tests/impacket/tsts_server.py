#!/usr/bin/env python3
"""A Windows host's Terminal Services, as impacket encodes them.

usage: tsts_server.py ADDRESS SMB_PORT MODE USER PASSWORD

impacket's SMB server (SMB2, NTLMv2) listens on ADDRESS:SMB_PORT with one
account USER/PASSWORD. Its `\\pipe\\LSM_API_service` and
`\\pipe\\Ctx_WinStation_API_service` are forwarded (registerNamedPipe) to
impacket's DCE/RPC server (rpcrt.DCERPCServer: its bind, dispatch and
fragmentation), one per pipe connection, whose callbacks answer with
impacket's own [MS-TSTS] structures (dcerpc/v5/tsts.py): an encoder
independent of lingerscan's. MODE:

  windows  a host with four sessions and a listener:
             0 Services   Disconnected  (no user)
             1 Console    Active        CORP\\alice, input 30 s ago
             2 RDP-Tcp#0  Disconnected  CORP\\bob, disconnected 3 h ago
             3 (no name)  Down          (no user): a ghost left behind
             65536 RDP-Tcp Listen
           and processes: SYSTEM's, three of alice's, one of bob's;
           carol (a domain user) has none.
  host     "windows" plus the rest of a Windows host: wkssvc lists
           CORP\\alice, bob and carol; srvsvc has no sessions; winreg's
           HKEY_USERS holds alice's, bob's and dave's hives; lsarpc names
           them (LsarLookupSids2).
  Every mode also logs off (TermSrvSession RpcOpenSession, RpcLogoff,
  RpcCloseSession, as impacket's `tstool.py logoff`): it prints
  "LOGOFF <id>" and drops the session and its processes from the lists.

  denied   what a caller who is not an administrator gets: RpcOpenEnum
           answers E_ACCESSDENIED, RpcWinStationGetAllProcesses FALSE with
           STATUS_ACCESS_DENIED.

Prints "READY <SMB_PORT>" once listening. Exits when stdin closes or on SIGTERM.

Requests are read by hand (struct), not with impacket's request classes:
impacket marshals a 20-byte placeholder for the implicit `handle_t`
binding handle that the IDL never puts on the wire, and this server must
answer both impacket's tstool and a client that follows the IDL.
"""
import os
import signal
import socketserver
import struct
import sys
import threading
import time
import traceback
from threading import Thread

from impacket import ntlm, smbserver
from impacket.dcerpc.v5 import lsad, lsat, rrp, srvs, tsts, wkst
from impacket.dcerpc.v5.dtypes import LPLONG, NULL, ULONG
from impacket.dcerpc.v5.ndr import NDRCALL
from impacket.dcerpc.v5.rpcrt import DCERPCServer

DOMAIN_SID = "S-1-5-21-1004336348-1177238915-682003330"
ALICE = DOMAIN_SID + "-1105"
BOB = DOMAIN_SID + "-1106"
SYSTEM = "S-1-5-18"

E_ACCESSDENIED = 0x80070005
STATUS_ACCESS_DENIED = 0xC0000022
ERROR_CTX_WINSTATION_NOT_FOUND = 0x80071B6E

NOW = time.time()


def filetime(unix):
    return int((unix + 11644473600) * 10_000_000)


# id: (name, state, domain, user, logon, connect, disconnect, last input); times are seconds ago.
SESSIONS = {
    0: ("Services", 4, "", "", None, None, None, None),
    1: ("Console", 0, "CORP", "alice", 7200, 7200, None, 30),
    2: ("RDP-Tcp#0", 4, "CORP", "bob", 5 * 3600, 5 * 3600, 3 * 3600, 3 * 3600 + 60),
    3: ("", 8, "", "", None, None, None, None),
    65536: ("RDP-Tcp", 6, "", "", None, None, None, None),
}

# (pid, parent, image, session, owner SID)
PROCESSES = [
    (4, 0, "System", 0, SYSTEM),
    (612, 4, "winlogon.exe", 1, SYSTEM),
    (3312, 612, "explorer.exe", 1, ALICE),
    (4410, 3312, "notepad.exe", 1, ALICE),
    (5120, 3312, "msedge.exe", 1, ALICE),
    (2044, 700, "taskhostw.exe", 2, BOB),
]

MODE = "windows"
ENUM_HANDLE = b"\0\0\0\0" + b"E" * 16
SERVER_HANDLE = b"\0\0\0\0" + b"S" * 16


def ago(seconds):
    return 0 if seconds is None else filetime(NOW - seconds)


def sid_bytes(text):
    parts = text.split("-")
    subs = [int(x) for x in parts[3:]]
    head = struct.pack("<BB", int(parts[1]), len(subs)) + int(parts[2]).to_bytes(6, "big")
    return head + b"".join(struct.pack("<I", s) for s in subs)


def set_handle(reply, field, raw):
    """A context handle: its attributes and GUID."""
    reply[field]["context_handle_attributes"] = struct.unpack_from("<I", raw)[0]
    reply[field]["context_handle_uuid"] = raw[4:]


def padded(text, units):
    """impacket's fixed WCHAR arrays encode only what they are given: pad them."""
    return text + "\0" * (units - len(text))


# --- TermSrvEnumeration --------------------------------------------------


def open_enum(stub):
    reply = tsts.RpcOpenEnumResponse()
    if MODE == "denied":
        set_handle(reply, "phEnum", b"\0" * 20)
        reply["ErrorCode"] = E_ACCESSDENIED
    else:
        set_handle(reply, "phEnum", ENUM_HANDLE)
        reply["ErrorCode"] = 0
    return reply.getData()


def close_enum(stub):
    reply = tsts.RpcCloseEnumResponse()
    set_handle(reply, "phEnum", b"\0" * 20)
    reply["ErrorCode"] = 0
    return reply.getData()


def get_enum_result(stub):
    level = struct.unpack_from("<I", stub, 20)[0]
    reply = tsts.RpcGetEnumResultResponse()
    if level != 1 or stub[:20] != ENUM_HANDLE:
        reply["ppSessionEnumResult"] = NULL
        reply["pEntries"] = 0
        reply["ErrorCode"] = 0x80070057  # E_INVALIDARG
        return reply.getData()
    for session_id, (name, state, *_rest) in SESSIONS.items():
        item = tsts.SessionInfo_STRUCT()
        item["Level"] = 1
        item["SessionInfo"]["tag"] = 1
        row = item["SessionInfo"]["SessionEnum_Level1"]
        row["SessionId"] = session_id
        row["State"] = state
        row["Name"] = padded(name, 33)
        reply["ppSessionEnumResult"].append(item)
    reply["pEntries"] = len(SESSIONS)
    reply["ErrorCode"] = 0
    return reply.getData()


# --- TermSrvSession --------------------------------------------------------


def get_session_information_ex(stub):
    session_id, level = struct.unpack_from("<iI", stub, 0)
    reply = tsts.RpcGetSessionInformationExResponse()
    if MODE == "denied" or session_id not in SESSIONS or level != 1:
        reply["LSMSessionInfoExPtr"] = NULL
        reply["ErrorCode"] = E_ACCESSDENIED if MODE == "denied" else ERROR_CTX_WINSTATION_NOT_FOUND
        return reply.getData()
    name, state, domain, user, logon, connect, disconnect, last_input = SESSIONS[session_id]
    reply["LSMSessionInfoExPtr"]["tag"] = 1
    info = reply["LSMSessionInfoExPtr"]["LSM_SessionInfo_Level1"]
    info["SessionState"] = state
    info["SessionFlags"] = 1 if user else 0xFFFFFFFF
    info["SessionName"] = padded(name, 33)
    info["DomainName"] = padded(domain, 18)
    info["UserName"] = padded(user, 21)
    info["ConnectTime"] = ago(connect)
    info["DisconnectTime"] = ago(disconnect)
    info["LogonTime"] = ago(logon)
    info["LastInputTime"] = ago(last_input)
    info["ProtocolDataSize"] = 0
    info["ProtocolData"] = NULL
    reply["ErrorCode"] = 0
    return reply.getData()


def session_handle(session_id):
    """A session handle that names its session: 'H', the id, then padding."""
    return b"\0\0\0\0" + b"H" + struct.pack("<I", session_id) + b"h" * 11


def open_session(stub):
    session_id = struct.unpack_from("<I", stub, 0)[0]
    reply = tsts.RpcOpenSessionResponse()
    if MODE == "denied" or session_id not in SESSIONS:
        set_handle(reply, "phSession", b"\0" * 20)
        reply["ErrorCode"] = E_ACCESSDENIED if MODE == "denied" else ERROR_CTX_WINSTATION_NOT_FOUND
    else:
        set_handle(reply, "phSession", session_handle(session_id))
        reply["ErrorCode"] = 0
    return reply.getData()


def logoff(stub):
    global PROCESSES
    handle = bytes(stub[:20])
    session_id = struct.unpack_from("<I", handle, 5)[0]
    reply = tsts.RpcLogoffResponse()
    if handle != session_handle(session_id) or session_id not in SESSIONS:
        reply["ErrorCode"] = 0x80070006  # E_HANDLE
        return reply.getData()
    del SESSIONS[session_id]
    PROCESSES = [p for p in PROCESSES if p[3] != session_id]
    print("LOGOFF %d" % session_id, flush=True)
    # What Windows answers for a logoff that happened (impacket's hRpcLogoff).
    reply["ErrorCode"] = 0x10000000
    return reply.getData()


def close_session(stub):
    reply = tsts.RpcCloseSessionResponse()
    reply["ErrorCode"] = 0
    return reply.getData()


# --- LegacyApi -------------------------------------------------------------


def open_server(stub):
    reply = tsts.RpcWinStationOpenServerResponse()
    reply["pResult"] = 0
    set_handle(reply, "phServer", SERVER_HANDLE)
    reply["ErrorCode"] = 1
    return reply.getData()


def get_all_processes(stub):
    if MODE == "denied" or stub[:20] != SERVER_HANDLE:
        # pResult, pNumberOfProcesses, a NULL array, FALSE.
        return struct.pack("<III", STATUS_ACCESS_DENIED, 0, 0) + b"\0"
    # impacket's response class leaves the array raw (its client parses it by
    # hand): the header and the TS_ALL_PROCESSES_INFO elements are written
    # here, each element's referents by impacket's TS_SYS_PROCESS_INFORMATION
    # (the structure, its ImageName buffer, then the SID bytes).
    out = struct.pack("<III", 0, len(PROCESSES), 0x20000)
    out += struct.pack("<I", len(PROCESSES))
    referent = 0x20004
    for _pid, _ppid, _image, _session, sid in PROCESSES:
        out += struct.pack("<III", referent, len(sid_bytes(sid)), referent + 4)
        referent += 8
    for pid, ppid, image, session, sid in PROCESSES:
        out += b"\0" * (-len(out) % 8)
        info = tsts.TS_SYS_PROCESS_INFORMATION()
        info["NextEntryOffset"] = 0
        info["NumberOfThreads"] = 4
        info["ImageNameSize"] = image
        info["UniqueProcessId"] = pid
        info["InheritedFromUniqueProcessId"] = ppid
        info["SessionId"] = session
        info["WorkingSetSize"] = 8_192_000
        info["ImageName"] = image + "\0"
        info["pSid"] = sid_bytes(sid)
        out += info.getData()
    return out + b"\x01"


# --- the rest of a Windows host (mode "host") ---------------------------------
# wkssvc lists alice, bob and carol; srvsvc serves level 1 with no sessions;
# winreg holds the hives of alice, bob and dave (a profile nothing holds);
# lsarpc names the domain's SIDs and SYSTEM. Answers are impacket's classes.

CAROL = DOMAIN_SID + "-1107"
DAVE = DOMAIN_SID + "-1108"
NAMES = {ALICE: "alice", BOB: "bob", CAROL: "carol", DAVE: "dave"}
HIVES = [".DEFAULT", "S-1-5-18", ALICE, ALICE + "_Classes", BOB, DAVE]
HKU_HANDLE = b"\0\0\0\0" + b"H" * 16
POLICY_HANDLE = b"\0\0\0\0" + b"P" * 16
WERR_INVALID_LEVEL = 124
ERROR_NO_MORE_ITEMS = 259


def enum_level(stub, names):
    """The level of a Netr*Enum request: after the server name and, for
    NetrSessionEnum, two NULL name pointers."""
    offset = 4 + 12
    units = struct.unpack_from("<I", stub, 4)[0]
    offset += ((units * 2) + 3) & ~3
    offset += 4 * names
    return struct.unpack_from("<I", stub, offset)[0]


def invalid_level(level):
    body = struct.pack("<III", level, level, 0)
    body += struct.pack("<I", 0)
    body += struct.pack("<II", 0x20000, 0)
    return body + struct.pack("<I", WERR_INVALID_LEVEL)


class WkstaUserEnumReply(NDRCALL):
    """impacket's response class declares ResumeHandle a plain ULONG; the IDL
    makes it a unique pointer."""

    structure = (
        ("UserInfo", wkst.WKSTA_USER_ENUM_STRUCT),
        ("TotalEntries", ULONG),
        ("ResumeHandle", LPLONG),
        ("ErrorCode", ULONG),
    )


def wksta_user_enum(stub):
    level = enum_level(stub, 0)
    if level != 1:
        return invalid_level(level)
    reply = WkstaUserEnumReply()
    reply["UserInfo"]["Level"] = 1
    reply["UserInfo"]["WkstaUserInfo"]["tag"] = 1
    container = reply["UserInfo"]["WkstaUserInfo"]["Level1"]
    users = ["alice", "bob", "carol"]
    container["EntriesRead"] = len(users)
    for user in users:
        row = wkst.WKSTA_USER_INFO_1()
        row["wkui1_username"] = user + "\x00"
        row["wkui1_logon_domain"] = "CORP\x00"
        row["wkui1_oth_domains"] = "\x00"
        row["wkui1_logon_server"] = "DC1\x00"
        container["Buffer"].append(row)
    reply["TotalEntries"] = len(users)
    reply["ResumeHandle"] = 0
    reply["ErrorCode"] = 0
    return reply.getData()


def session_enum(stub):
    # Windows answers the richest level, 502, as lingerscan asks first (Samba
    # refuses it: only Samba answers at level 1, and lingerscan then skips the
    # Terminal Services pipes Samba does not have).
    level = enum_level(stub, 2)
    if level not in (502, 10, 1):
        return invalid_level(level)
    arm = "Level%d" % level
    reply = srvs.NetrSessionEnumResponse()
    reply["InfoStruct"]["Level"] = level
    reply["InfoStruct"]["SessionInfo"]["tag"] = level
    reply["InfoStruct"]["SessionInfo"][arm]["EntriesRead"] = 0
    reply["InfoStruct"]["SessionInfo"][arm]["Buffer"] = NULL
    reply["TotalEntries"] = 0
    reply["ResumeHandle"] = 0
    reply["ErrorCode"] = 0
    return reply.getData()


def open_users(stub):
    reply = rrp.OpenUsersResponse()
    set_handle(reply, "phKey", HKU_HANDLE)
    reply["ErrorCode"] = 0
    return reply.getData()


def enum_key(stub):
    index = struct.unpack_from("<I", stub, 20)[0]
    reply = rrp.BaseRegEnumKeyResponse()
    name = HIVES[index] if index < len(HIVES) else ""
    reply["lpNameOut"] = name + "\x00"
    reply["lplpClassOut"] = NULL
    reply["lpftLastWriteTime"] = NULL
    reply["ErrorCode"] = 0 if index < len(HIVES) else ERROR_NO_MORE_ITEMS
    return reply.getData()


def close_key(stub):
    reply = rrp.BaseRegCloseKeyResponse()
    set_handle(reply, "hKey", b"\0" * 20)
    reply["ErrorCode"] = 0
    return reply.getData()


def open_policy2(stub):
    reply = lsad.LsarOpenPolicy2Response()
    reply["PolicyHandle"] = POLICY_HANDLE
    reply["ErrorCode"] = 0
    return reply.getData()


def lookup_sids2(stub):
    request = lsat.LsarLookupSids2()
    request.fromString(stub)
    sids = [item["Sid"].formatCanonical() for item in request["SidEnumBuffer"]["SidInfo"]]
    reply = lsat.LsarLookupSids2Response()
    domains = [("CORP", DOMAIN_SID), ("NT AUTHORITY", "S-1-5")]
    reply["ReferencedDomains"]["Entries"] = len(domains)
    reply["ReferencedDomains"]["MaxEntries"] = 32
    for name, sid in domains:
        d = lsad.LSAPR_TRUST_INFORMATION()
        d["Name"] = name
        d["Sid"].fromCanonical(sid)
        reply["ReferencedDomains"]["Domains"].append(d)
    mapped = 0
    for sid in sids:
        n = lsat.LSAPR_TRANSLATED_NAME_EX()
        if sid in NAMES:
            n["Use"], n["Name"], n["DomainIndex"] = 1, NAMES[sid], 0
        elif sid == SYSTEM:
            n["Use"], n["Name"], n["DomainIndex"] = 5, "SYSTEM", 1
        else:
            n["Use"], n["Name"], n["DomainIndex"] = 8, NULL, -1
        mapped += n["Use"] != 8
        n["Flags"] = 0
        reply["TranslatedNames"]["Names"].append(n)
    reply["TranslatedNames"]["Entries"] = len(sids)
    reply["MappedCount"] = mapped
    reply["ErrorCode"] = 0 if mapped == len(sids) else 0x107
    return reply.getData()


def close_policy(stub):
    reply = lsad.LsarCloseResponse()
    reply["ObjectHandle"] = b"\0" * 20
    reply["ErrorCode"] = 0
    return reply.getData()


HOST_CALLBACKS = [
    (("6bffd098-a112-3610-9833-46c3f87e345a", "1.0"), "\\PIPE\\wkssvc", {2: wksta_user_enum}),
    (("4b324fc8-1670-01d3-1278-5a47bf6ee188", "3.0"), "\\PIPE\\srvsvc", {12: session_enum}),
    (("338cd001-2244-31f1-aaaa-900038001003", "1.0"), "\\PIPE\\winreg",
     {4: open_users, 9: enum_key, 5: close_key}),
    (("12345778-1234-abcd-ef00-0123456789ab", "0.0"), "\\PIPE\\lsarpc",
     {44: open_policy2, 57: lookup_sids2, 0: close_policy}),
]


# --- serving ---------------------------------------------------------------

CALLBACKS = [
    (("88143fd0-c28d-4b2b-8fef-8d882f6a9390", "1.0"), "\\PIPE\\LSM_API_service",
     {0: open_enum, 1: close_enum, 5: get_enum_result}),
    (("484809d6-4239-471b-b5bc-61df8c23ac48", "1.0"), "\\PIPE\\LSM_API_service",
     {17: get_session_information_ex, 0: open_session, 4: logoff, 1: close_session}),
    (("5ca4a760-ebb1-11cf-8611-00a0245420ed", "1.0"), "\\PIPE\\Ctx_WinStation_API_service",
     {0: open_server, 43: get_all_processes}),
]


class Connection(DCERPCServer):
    """impacket's DCERPCServer for one accepted connection: its run() serves
    one client at a time, and a scan holds several pipes open at once."""

    def __init__(self, sock):
        Thread.__init__(self)
        self._listenUUIDS = {}
        self._boundUUID = b""
        self._callid = 1
        self._max_frag = None
        self._max_xmit_size = 4280
        self._sock = None
        self._clientSock = sock
        for uuid, pipe, callbacks in CALLBACKS + (HOST_CALLBACKS if MODE == "host" else []):
            self.addCallbacks(uuid, pipe, callbacks)

    def log(self, msg, level=None):
        pass

    def serve(self):
        while True:
            data = self.recv()
            if data is None:
                return
            answer = self.processRequest(data)
            if answer is not None:
                self.send(answer)


class Handler(socketserver.BaseRequestHandler):
    def handle(self):
        try:
            Connection(self.request).serve()
        except OSError:
            pass  # the client went away mid-call
        except Exception:  # a bug here: say it, the test shows stderr
            traceback.print_exc()


class RpcServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True


def exit_when_stdin_closes():
    while sys.stdin.buffer.read(1024):
        pass
    os._exit(0)


def main():
    global MODE
    address, smb_port, MODE, user, password = sys.argv[1:6]
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    rpc = RpcServer((address, 0), Handler)
    threading.Thread(target=rpc.serve_forever, daemon=True).start()
    rpc_port = rpc.server_address[1]

    smb = smbserver.SimpleSMBServer(listenAddress=address, listenPort=int(smb_port))
    smb.setSMB2Support(True)
    smb.setSMBChallenge("")
    smb.setLogFile("/dev/null")
    nthash = ntlm.compute_nthash(password).hex()
    smb.addCredential(user, 0, "aad3b435b51404eeaad3b435b51404ee", nthash)
    pipes = ["LSM_API_service", "Ctx_WinStation_API_service"]
    if MODE == "host":
        pipes += ["wkssvc", "srvsvc", "winreg", "lsarpc"]
    for pipe in pipes:
        smb.registerNamedPipe(pipe, (address, rpc_port))
    threading.Thread(target=exit_when_stdin_closes, daemon=True).start()
    print("READY %s" % smb_port, flush=True)
    smb.start()


if __name__ == "__main__":
    main()

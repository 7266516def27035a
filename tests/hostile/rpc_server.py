#!/usr/bin/env python3
"""A hostile MS-RPC server for lingerscan's resource-bound tests.

usage: rpc_server.py ADDRESS SMB_PORT SCENARIO USER PASSWORD

impacket's SMB server (SMB2, NTLMv2, signing done for real) listens on
ADDRESS:SMB_PORT with one account USER/PASSWORD; its `\\PIPE\\wkssvc` and
`\\PIPE\\srvsvc` are forwarded (registerNamedPipe) to a small DCE/RPC server
here on ADDRESS and an ephemeral port. That server binds honestly, then plays
SCENARIO against the enumeration calls:

  pages   NetrWkstaUserEnum / NetrSessionEnum answer ERROR_MORE_DATA with a
          full page of rows and a fresh resume handle, forever
  flood   the answer to the first call is an endless run of empty RESPONSE
          fragments none of which is the last
  huge    the answer to the first call is one response whose fragments carry
          far more stub data than any real list (256 MiB announced)
  silent  bind_ack, then never a word

Pages are encoded by impacket's NDR engine (an implementation independent
of lingerscan's). Prints "READY <rpc port>" on stdout once both listen.
The impacket pipe forwarding is a byte stream (a TCP socket), so one "pipe
message" here is whatever the socket holds when the SMB server reads it.
"""
import socket
import socketserver
import struct
import sys
import threading

from impacket import ntlm, smbserver
from impacket.dcerpc.v5 import srvs, wkst
from impacket.dcerpc.v5.dtypes import LPLONG, ULONG
from impacket.dcerpc.v5.ndr import NDRCALL

PTYPE_REQUEST, PTYPE_RESPONSE, PTYPE_BIND, PTYPE_BIND_ACK = 0, 2, 11, 12
FIRST, LAST = 0x01, 0x02
WERR_MORE_DATA, WERR_INVALID_LEVEL = 234, 124
ROWS_PER_PAGE = 1000
# What the client offers in its bind; a polite server stays below it.
FRAGMENT = 4280
NDR20 = bytes.fromhex("045d888aeb1cc9119fe808002b104860") + struct.pack("<HH", 2, 0)


class WkstaUserEnumReply(NDRCALL):
    """NetrWkstaUserEnum's out parameters ([MS-WKST] 3.2.4.3): impacket's own
    response class declares ResumeHandle as a plain ULONG, the IDL as a unique
    pointer, so the reply is declared here with impacket's types."""

    structure = (
        ("UserInfo", wkst.WKSTA_USER_ENUM_STRUCT),
        ("TotalEntries", ULONG),
        ("ResumeHandle", LPLONG),
        ("ErrorCode", ULONG),
    )


def wkssvc_page():
    reply = WkstaUserEnumReply()
    reply["UserInfo"]["Level"] = 1
    reply["UserInfo"]["WkstaUserInfo"]["tag"] = 1
    container = reply["UserInfo"]["WkstaUserInfo"]["Level1"]
    container["EntriesRead"] = ROWS_PER_PAGE
    for i in range(ROWS_PER_PAGE):
        row = wkst.WKSTA_USER_INFO_1()
        row["wkui1_username"] = "user%06d\x00" % i
        row["wkui1_logon_domain"] = "HOSTILE\x00"
        row["wkui1_oth_domains"] = "\x00"
        row["wkui1_logon_server"] = "EVIL\x00"
        container["Buffer"].append(row)
    reply["TotalEntries"] = 0x7FFFFFFF
    reply["ResumeHandle"] = 1
    reply["ErrorCode"] = WERR_MORE_DATA
    return reply.getData()


def srvsvc_page():
    reply = srvs.NetrSessionEnumResponse()
    reply["InfoStruct"]["Level"] = 1
    reply["InfoStruct"]["SessionInfo"]["tag"] = 1
    container = reply["InfoStruct"]["SessionInfo"]["Level1"]
    container["EntriesRead"] = ROWS_PER_PAGE
    for i in range(ROWS_PER_PAGE):
        row = srvs.SESSION_INFO_1()
        row["sesi1_cname"] = "10.%d.%d.%d\x00" % (i >> 16, (i >> 8) & 255, i & 255)
        row["sesi1_username"] = "user%06d\x00" % i
        row["sesi1_num_opens"] = 1
        row["sesi1_time"] = 60
        row["sesi1_idle_time"] = 0
        row["sesi1_user_flags"] = 0
        container["Buffer"].append(row)
    reply["TotalEntries"] = 0x7FFFFFFF
    reply["ResumeHandle"] = 1
    reply["ErrorCode"] = WERR_MORE_DATA
    return reply.getData()


def invalid_level(level):
    """An ERROR_INVALID_LEVEL reply as Samba sends it: the level echoed, a NULL
    container, no entries."""
    body = struct.pack("<III", level, level, 0)  # Level, union tag, NULL container
    body += struct.pack("<I", 0)  # TotalEntries
    body += struct.pack("<II", 0x20000, 0)  # ResumeHandle: pointer and value
    return body + struct.pack("<I", WERR_INVALID_LEVEL)


def header(ptype, flags, length, call_id):
    return struct.pack("<BBBB4sHHI", 5, 0, ptype, flags, b"\x10\0\0\0", length, 0, call_id)


def response_fragments(call_id, stub):
    """`stub` as RESPONSE fragments of at most FRAGMENT bytes."""
    per = (FRAGMENT - 24) & ~7
    chunks = [stub[i : i + per] for i in range(0, len(stub), per)] or [b""]
    out = []
    for i, chunk in enumerate(chunks):
        flags = (FIRST if i == 0 else 0) | (LAST if i == len(chunks) - 1 else 0)
        body = struct.pack("<IHBB", len(stub) - i * per, 0, 0, 0) + chunk
        out.append(header(PTYPE_RESPONSE, flags, 16 + len(body), call_id) + body)
    return b"".join(out)


def bind_ack(call_id):
    body = struct.pack("<HHI", FRAGMENT, FRAGMENT, 0x1234)
    secondary = b"\\PIPE\\x\0"
    body += struct.pack("<H", len(secondary)) + secondary
    while (16 + len(body)) % 4:
        body += b"\0"
    body += struct.pack("<B3x", 1) + struct.pack("<HH", 0, 0) + NDR20
    return header(PTYPE_BIND_ACK, FIRST | LAST, 16 + len(body), call_id) + body


class Rpc(socketserver.BaseRequestHandler):
    scenario = "pages"
    pages = {}

    def read_pdu(self):
        head = self.read_exact(16)
        if head is None:
            return None
        length = struct.unpack_from("<H", head, 8)[0]
        rest = self.read_exact(length - 16)
        return None if rest is None else head + rest

    def read_exact(self, n):
        data = b""
        while len(data) < n:
            more = self.request.recv(n - len(data))
            if not more:
                return None
            data += more
        return data

    def handle(self):
        try:
            self.serve()
        except OSError:
            pass  # the client gave up or was stopped: expected in every scenario

    def serve(self):
        stub = b""
        while True:
            pdu = self.read_pdu()
            if pdu is None:
                return
            ptype, flags = pdu[2], pdu[3]
            call_id = struct.unpack_from("<I", pdu, 12)[0]
            if ptype == PTYPE_BIND:
                self.request.sendall(bind_ack(call_id))
                continue
            if ptype != PTYPE_REQUEST:
                return
            opnum = struct.unpack_from("<H", pdu, 22)[0]
            stub += pdu[24:]
            if not flags & LAST:
                continue
            self.answer(call_id, opnum, stub)
            stub = b""

    def answer(self, call_id, opnum, stub):
        if self.scenario == "silent":
            threading.Event().wait()
        if self.scenario == "flood":
            # One empty fragment, neither first-and-last: 24 bytes of nothing, forever.
            body = struct.pack("<IHBB", 0, 0, 0, 0)
            empty = header(PTYPE_RESPONSE, 0, 24, call_id) + body
            burst = empty * 350_000  # about 8 MiB per send
            while True:
                self.request.sendall(burst)
        if self.scenario == "huge":
            chunk = response_fragments(call_id, b"\x41" * (FRAGMENT - 24 - 8) * 16)
            # Drop the LAST flag of every fragment: the response never ends.
            chunk = bytearray(chunk)
            at = 0
            while at < len(chunk):
                chunk[at + 3] &= ~LAST
                struct.pack_into("<I", chunk, at + 16, 256 * 1024 * 1024)
                at += struct.unpack_from("<H", chunk, at + 8)[0]
            while True:
                self.request.sendall(chunk)
        # pages: the level is the first u32 after the server name and, for
        # NetrSessionEnum, two NULL name pointers.
        names = 2 if opnum == 12 else 0
        offset = 4 + 12
        name_units = struct.unpack_from("<I", stub, 4)[0]
        offset += ((name_units * 2) + 3) & ~3
        offset += 4 * names
        level = struct.unpack_from("<I", stub, offset)[0]
        page = self.pages["srvsvc" if opnum == 12 else "wkssvc"]
        if level != 1:
            self.request.sendall(response_fragments(call_id, invalid_level(level)))
            return
        resume = struct.unpack_from("<I", stub, len(stub) - 4)[0]
        page = bytearray(page)
        # ResumeHandle's referent is the u32 before ErrorCode.
        struct.pack_into("<I", page, len(page) - 8, resume + ROWS_PER_PAGE)
        self.request.sendall(response_fragments(call_id, bytes(page)))


class RpcServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    address, smb_port, scenario, user, password = sys.argv[1:6]
    Rpc.scenario = scenario
    if scenario == "pages":
        Rpc.pages = {"wkssvc": wkssvc_page(), "srvsvc": srvsvc_page()}
    rpc = RpcServer((address, 0), Rpc)
    threading.Thread(target=rpc.serve_forever, daemon=True).start()
    rpc_port = rpc.server_address[1]

    smb = smbserver.SimpleSMBServer(listenAddress=address, listenPort=int(smb_port))
    smb.setSMB2Support(True)
    smb.setSMBChallenge("")
    smb.setLogFile("/dev/null")
    nthash = ntlm.compute_nthash(password).hex()
    smb.addCredential(user, 0, "aad3b435b51404eeaad3b435b51404ee", nthash)
    for pipe in ("wkssvc", "srvsvc"):
        smb.registerNamedPipe(pipe, (address, rpc_port))
    print("READY %d" % rpc_port, flush=True)
    smb.start()


if __name__ == "__main__":
    main()

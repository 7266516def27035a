#!/usr/bin/env python3
"""A hostile SMB2 server for lingerscan's tests (Python stdlib only).

It does not know any password. It negotiates, sends an NTLM challenge, then
answers the logon with STATUS_SUCCESS, unsigned (or with a signature it
invented: --forge), and serves invented rows to any client that goes on:
TREE_CONNECT, CREATE of \\PIPE\\wkssvc and \\PIPE\\srvsvc, DCE/RPC bind, and
NetrWkstaUserEnum / NetrSessionEnum at level 1 (over IOCTL transceive or
WRITE + READ). A client that checks the logon's signature stops after the
second SESSION_SETUP; one that does not reads user "intruder".

usage: smb_server.py HOST PORT [--dialect 2.1|3.1.1] [--forge]

Prints "READY" once listening, then one line per request received:
"<peer-port> <COMMAND>". Loopback only; runs until killed.
"""
import os
import socket
import struct
import sys
import threading
import time

NEGOTIATE, SESSION_SETUP, LOGOFF, TREE_CONNECT, TREE_DISCONNECT = 0, 1, 2, 3, 4
CREATE, CLOSE, READ, WRITE, IOCTL = 5, 6, 8, 9, 11
NAMES = {0: "NEGOTIATE", 1: "SESSION_SETUP", 2: "LOGOFF", 3: "TREE_CONNECT", 4: "TREE_DISCONNECT",
         5: "CREATE", 6: "CLOSE", 8: "READ", 9: "WRITE", 11: "IOCTL"}
SUCCESS, MORE_PROCESSING, NOT_SUPPORTED = 0, 0xC0000016, 0xC00000BB
NTLMSSP_OID = bytes.fromhex("060a2b0601040182370202 0a".replace(" ", ""))
NDR_SYNTAX = bytes.fromhex("045d888aeb1cc9119fe808002b104860") + struct.pack("<I", 2)
SESSION_ID = 0x0000_4000_0000_0001

INVENTED_USERS = [("intruder", "EVIL", "", "EVILSRV")]
INVENTED_SESSIONS = [("10.66.66.66", "intruder")]

from lines import listen, say


def der(tag, content):
    n = len(content)
    if n < 0x80:
        length = bytes([n])
    else:
        raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
        length = bytes([0x80 | len(raw)]) + raw
    return bytes([tag]) + length + content


def filetime():
    return int((time.time() + 11644473600) * 10_000_000)


def ntlm_challenge():
    def av(kind, value):
        return struct.pack("<HH", kind, len(value)) + value
    name = "EVILSRV".encode("utf-16-le")
    info = (av(2, "EVIL".encode("utf-16-le")) + av(1, name)
            + av(7, struct.pack("<Q", filetime())) + av(0, b""))
    flags = 0xE28A8215
    head_len = 56
    msg = b"NTLMSSP\x00" + struct.pack("<I", 2)
    msg += struct.pack("<HHI", len(name), len(name), head_len)
    msg += struct.pack("<I", flags) + os.urandom(8) + b"\x00" * 8
    msg += struct.pack("<HHI", len(info), len(info), head_len + len(name))
    msg += bytes([10, 0, 0x61, 0x4A, 0, 0, 0, 15])
    return msg + name + info


def header(command, status, message_id, tree_id=0, session_id=0, signed=False, signature=b""):
    flags = 0x1 | (0x8 if signed else 0)
    return (b"\xfeSMB" + struct.pack("<HHIHHIIQIIQ", 64, 1, status, command, 64, flags, 0,
                                     message_id, 0, tree_id, session_id)
            + (signature or b"\x00" * 16))


class Ndr:
    """Just enough NDR (transfer syntax 2.0) for two enumeration answers."""

    def __init__(self):
        self.buf = bytearray()
        self.referent = 0x20000

    def align(self):
        while len(self.buf) % 4:
            self.buf.append(0)

    def u32(self, value):
        self.align()
        self.buf += struct.pack("<I", value)

    def pointer(self):
        self.referent += 4
        self.u32(self.referent)

    def string(self, text):
        data = (text + "\x00").encode("utf-16-le")
        count = len(data) // 2
        self.u32(count)
        self.u32(0)
        self.u32(count)
        self.buf += data
        self.align()


def enum_answer(level, rows, strings_per_row, numbers):
    """Level, union arm, container pointer, EntriesRead, array of rows
    (string pointers then numbers), the deferred strings, TotalEntries,
    resume handle, WERROR 0."""
    ndr = Ndr()
    ndr.u32(level)
    ndr.u32(level)
    ndr.pointer()
    ndr.u32(len(rows))
    ndr.pointer()
    ndr.u32(len(rows))
    for row in rows:
        for _ in range(strings_per_row):
            ndr.pointer()
        for value in numbers:
            ndr.u32(value)
    for row in rows:
        for text in row[:strings_per_row]:
            ndr.string(text)
    ndr.u32(len(rows))
    ndr.pointer()
    ndr.u32(0)
    ndr.u32(0)
    return bytes(ndr.buf)


def level_refused(level):
    ndr = Ndr()
    ndr.u32(level)
    ndr.u32(level)
    ndr.u32(0)  # no container
    ndr.u32(0)
    ndr.pointer()
    ndr.u32(0)
    ndr.u32(124)  # ERROR_INVALID_LEVEL
    return bytes(ndr.buf)


def requested_level(stub, strings_before):
    """Skip the leading [unique] string parameters; the level follows."""
    pos = 0
    for _ in range(strings_before):
        (ref,) = struct.unpack_from("<I", stub, pos)
        pos += 4
        if ref:
            _, _, actual = struct.unpack_from("<III", stub, pos)
            pos += 12 + 2 * actual
            pos = (pos + 3) & ~3
    return struct.unpack_from("<I", stub, pos)[0]


def rpc_reply(pdu, pipe):
    """The answer to one DCE/RPC PDU written to `pipe`."""
    ptype = pdu[2]
    call_id = struct.unpack_from("<I", pdu, 12)[0]
    if ptype == 11:  # BIND
        max_xmit, max_recv = struct.unpack_from("<HH", pdu, 16)
        count = pdu[24]
        pos, results = 28, b""
        for _ in range(count):
            n_syntaxes = pdu[pos + 2]
            offered = [pdu[pos + 24 + 20 * i:pos + 44 + 20 * i] for i in range(n_syntaxes)]
            if NDR_SYNTAX in offered:
                results += struct.pack("<HH", 0, 0) + NDR_SYNTAX
            else:
                results += struct.pack("<HH", 2, 2) + b"\x00" * 20
            pos += 24 + 20 * n_syntaxes
        port = ("\\PIPE\\" + pipe + "\x00").encode()
        body = struct.pack("<HHI", max_xmit, max_recv, 0x1234) + struct.pack("<H", len(port)) + port
        while (16 + len(body)) % 4:
            body += b"\x00"
        body += bytes([count, 0, 0, 0]) + results
        return struct.pack("<BBBBIHHI", 5, 0, 12, 3, 0x10, 16 + len(body), 0, call_id) + body
    if ptype == 0:  # REQUEST
        opnum = struct.unpack_from("<H", pdu, 22)[0]
        stub = pdu[24:]
        if pipe == "wkssvc" and opnum == 2:
            level = requested_level(stub, 1)
            answer = enum_answer(1, INVENTED_USERS, 4, []) if level == 1 else level_refused(level)
        elif pipe == "srvsvc" and opnum == 12:
            level = requested_level(stub, 3)
            answer = (enum_answer(1, INVENTED_SESSIONS, 2, [1, 100, 0, 0]) if level == 1
                      else level_refused(level))
        else:  # fault nca_op_rng_error
            return struct.pack("<BBBBIHHI", 5, 0, 3, 3, 0x10, 32, 0, call_id) + struct.pack(
                "<IHBBII", 0, 0, 0, 0, 0x1C010002, 0)
        body = struct.pack("<IHBB", len(answer), 0, 0, 0) + answer
        return struct.pack("<BBBBIHHI", 5, 0, 2, 3, 0x10, 16 + len(body), 0, call_id) + body
    return b""


class Connection:
    def __init__(self, sock, dialect, forge):
        self.sock = sock
        self.dialect = dialect
        self.forge = forge
        self.peer = sock.getpeername()[1]
        self.setups = 0
        self.pipes = {}  # file id -> (pipe name, pending output)

    def send(self, msg):
        self.sock.sendall(struct.pack(">I", len(msg)) + msg)

    def reply(self, command, status, message_id, body, tree_id=0, session_id=0, signed=False):
        signature = os.urandom(16) if signed else b""
        self.send(header(command, status, message_id, tree_id, session_id, signed, signature) + body)

    def negotiate_body(self, dialect):
        contexts = b""
        if dialect == 0x0311:
            salt = os.urandom(32)
            data = struct.pack("<HHH", 1, 32, 1) + salt
            contexts = struct.pack("<HHI", 1, len(data), 0) + data
        body = struct.pack("<HHHH", 65, 1, dialect, 1 if contexts else 0) + os.urandom(16)
        body += struct.pack("<IIII", 0, 65536, 65536, 65536)
        body += struct.pack("<QQ", filetime(), 0)
        context_offset = 64 + 64 + 0 if contexts else 0
        body += struct.pack("<HHI", 128, 0, context_offset)
        return body + contexts

    def handle(self, msg):
        if msg[:4] == b"\xffSMB":  # SMB1 multi-protocol negotiate: answer SMB2 wildcard
            say(f"{self.peer} SMB1_NEGOTIATE")
            self.send(header(NEGOTIATE, SUCCESS, 0) + self.negotiate_body(0x02FF))
            return
        command = struct.unpack_from("<H", msg, 12)[0]
        message_id = struct.unpack_from("<Q", msg, 24)[0]
        tree_id = struct.unpack_from("<I", msg, 36)[0]
        say(f"{self.peer} {NAMES.get(command, hex(command))}")
        body = msg[64:]
        if command == NEGOTIATE:
            self.reply(NEGOTIATE, SUCCESS, message_id, self.negotiate_body(self.dialect))
        elif command == SESSION_SETUP:
            self.setups += 1
            if self.setups == 1:
                token = der(0xa1, der(0x30, der(0xa0, der(0x0a, b"\x01")) + der(0xa1, NTLMSSP_OID)
                                      + der(0xa2, der(0x04, ntlm_challenge()))))
                status = MORE_PROCESSING
            else:
                # Success for any password; unsigned, or signed with noise.
                token = der(0xa1, der(0x30, der(0xa0, der(0x0a, b"\x00"))))
                status = SUCCESS
            out = struct.pack("<HHHH", 9, 0, 72, len(token)) + token
            self.reply(SESSION_SETUP, status, message_id, out, session_id=SESSION_ID,
                       signed=self.forge and status == SUCCESS)
        elif command == TREE_CONNECT:
            out = struct.pack("<HBBIII", 16, 2, 0, 0, 0, 0x001F01FF)
            self.reply(TREE_CONNECT, SUCCESS, message_id, out, 1, SESSION_ID)
        elif command == CREATE:
            name_offset, name_len = struct.unpack_from("<HH", body, 44)
            name = msg[name_offset:name_offset + name_len].decode("utf-16-le").lower()
            pipe = name.rsplit("\\", 1)[-1]
            file_id = os.urandom(16)
            self.pipes[file_id] = (pipe, bytearray())
            out = struct.pack("<HBBI", 89, 0, 0, 1) + b"\x00" * 32 + struct.pack("<QQII", 4096, 0, 0x80, 0)
            out += file_id + struct.pack("<II", 0, 0)
            self.reply(CREATE, SUCCESS, message_id, out, tree_id, SESSION_ID)
        elif command == IOCTL:
            file_id = body[8:24]
            in_offset, in_count = struct.unpack_from("<II", body, 24)
            pipe, _ = self.pipes.get(file_id, ("", None))
            output = rpc_reply(msg[in_offset:in_offset + in_count], pipe)
            ctl = struct.unpack_from("<I", body, 4)[0]
            out = struct.pack("<HHI", 49, 0, ctl) + file_id
            out += struct.pack("<IIIIII", 112, 0, 112, len(output), 0, 0) + output
            self.reply(IOCTL, SUCCESS, message_id, out, tree_id, SESSION_ID)
        elif command == WRITE:
            data_offset, length = struct.unpack_from("<HI", body, 2)
            file_id = body[16:32]
            pipe, pending = self.pipes.get(file_id, ("", bytearray()))
            pending += rpc_reply(msg[data_offset:data_offset + length], pipe)
            self.pipes[file_id] = (pipe, pending)
            self.reply(WRITE, SUCCESS, message_id, struct.pack("<HHIIHH", 17, 0, length, 0, 0, 0),
                       tree_id, SESSION_ID)
        elif command == READ:
            length = struct.unpack_from("<I", body, 4)[0]
            file_id = body[16:32]
            pipe, pending = self.pipes.get(file_id, ("", bytearray()))
            data = bytes(pending[:length])
            del pending[:length]
            out = struct.pack("<HBBIII", 17, 80, 0, len(data), 0, 0) + data
            self.reply(READ, SUCCESS, message_id, out, tree_id, SESSION_ID)
        elif command == CLOSE:
            self.reply(CLOSE, SUCCESS, message_id, struct.pack("<HHI", 60, 0, 0) + b"\x00" * 52,
                       tree_id, SESSION_ID)
        elif command in (TREE_DISCONNECT, LOGOFF):
            self.reply(command, SUCCESS, message_id, struct.pack("<HH", 4, 0), tree_id, SESSION_ID)
        else:
            self.reply(command, NOT_SUPPORTED, message_id, struct.pack("<HBBI", 9, 0, 0, 0))

    def run(self):
        try:
            while True:
                head = self.recv(4)
                if head is None:
                    return
                msg = self.recv(struct.unpack(">I", head)[0] & 0xFFFFFF)
                if msg is None:
                    return
                self.handle(msg)
        except (OSError, struct.error, IndexError, UnicodeDecodeError) as err:
            say(f"{self.peer} ERROR {err!r}")
        finally:
            say(f"{self.peer} CLOSED")
            self.sock.close()

    def recv(self, n):
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                return None
            data += chunk
        return data


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    dialect = 0x0311 if "--dialect" in sys.argv and sys.argv[sys.argv.index("--dialect") + 1] == "3.1.1" \
        else 0x0210
    forge = "--forge" in sys.argv
    listener = listen(host, port)
    while True:
        sock, _ = listener.accept()
        threading.Thread(target=Connection(sock, dialect, forge).run, daemon=True).start()


if __name__ == "__main__":
    main()

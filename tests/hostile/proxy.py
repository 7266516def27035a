#!/usr/bin/env python3
"""A man in the middle between lingerscan and a real smbd (Python stdlib only).

usage: proxy.py LISTEN_HOST LISTEN_PORT UPSTREAM_HOST UPSTREAM_PORT MODE

It relays SMB2 frames both ways and, by MODE, alters them:
  pass                  nothing (a control)
  strip-signature       answers after the logon: SIGNED flag cleared, signature zeroed
  corrupt-signature     answers after the logon: one signature bit flipped
  corrupt-rows          IOCTL answers (the RPC replies, rows inside): one data byte flipped
  force-dialect=0x0210  the client's NEGOTIATE: every offered dialect replaced by this one
  tamper-preauth        the server's NEGOTIATE answer: its SystemTime changed (3.1.1 hashes it)
  tamper-encrypted      the first encrypted answer: one ciphertext byte flipped

Prints "READY" once listening and "TAMPERED <what>" each time it alters a
frame, so a test knows the attack really happened. Loopback only; runs
until killed.
"""
import socket
import struct
import sys
import threading

NEGOTIATE, SESSION_SETUP, IOCTL = 0, 1, 11
from lines import listen, recv_exact, say


class Tamper:
    def __init__(self, mode):
        self.mode = mode
        self.encrypted_done = False
        self.lock = threading.Lock()

    def to_server(self, msg):
        if not self.mode.startswith("force-dialect=") or msg[:4] != b"\xfeSMB":
            return msg
        if struct.unpack_from("<H", msg, 12)[0] != NEGOTIATE:
            return msg
        forced = int(self.mode.split("=", 1)[1], 16)
        count = struct.unpack_from("<H", msg, 64 + 2)[0]
        msg = bytearray(msg)
        for i in range(count):
            struct.pack_into("<H", msg, 64 + 36 + 2 * i, forced)
        say(f"TAMPERED NEGOTIATE request: {count} dialects -> 0x{forced:04x}")
        return bytes(msg)

    def to_client(self, msg):
        msg = bytearray(msg)
        if msg[:4] == b"\xfdSMB":
            with self.lock:
                if self.mode == "tamper-encrypted" and not self.encrypted_done:
                    self.encrypted_done = True
                    msg[-1] ^= 0x01
                    say("TAMPERED encrypted answer")
            return bytes(msg)
        if msg[:4] != b"\xfeSMB":
            return bytes(msg)
        command = struct.unpack_from("<H", msg, 12)[0]
        flags = struct.unpack_from("<I", msg, 16)[0]
        status = struct.unpack_from("<I", msg, 8)[0]
        after_logon = command not in (NEGOTIATE, SESSION_SETUP)
        if self.mode == "strip-signature" and after_logon and flags & 0x8:
            struct.pack_into("<I", msg, 16, flags & ~0x8)
            msg[48:64] = b"\x00" * 16
            say(f"TAMPERED signature stripped from command {command}")
        elif self.mode == "corrupt-signature" and after_logon and flags & 0x8:
            msg[50] ^= 0x01
            say(f"TAMPERED signature corrupted on command {command}")
        elif (self.mode == "corrupt-rows" and command == IOCTL and status in (0, 0x80000005)
              and len(msg) > 64 + 48 + 24):
            msg[-8] ^= 0x01
            say("TAMPERED IOCTL answer data")
        elif self.mode == "tamper-preauth" and command == NEGOTIATE and len(msg) > 64 + 48:
            msg[64 + 40] ^= 0x01
            say("TAMPERED NEGOTIATE answer SystemTime")
        return bytes(msg)


def relay(source, target, change):
    try:
        while True:
            head = recv_exact(source, 4)
            if head is None:
                break
            msg = recv_exact(source, struct.unpack(">I", head)[0] & 0xFFFFFF)
            if msg is None:
                break
            msg = change(msg)
            target.sendall(struct.pack(">I", len(msg)) + msg)
    except OSError:
        pass
    finally:
        for sock in (source, target):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def main():
    host, port, up_host, up_port, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5]
    if not up_host.startswith("127."):
        sys.exit("loopback addresses only")
    listener = listen(host, port)
    while True:
        client, _ = listener.accept()
        server = socket.create_connection((up_host, up_port), timeout=30)
        server.settimeout(None)
        tamper = Tamper(mode)
        threading.Thread(target=relay, args=(client, server, tamper.to_server), daemon=True).start()
        threading.Thread(target=relay, args=(server, client, tamper.to_client), daemon=True).start()


if __name__ == "__main__":
    main()

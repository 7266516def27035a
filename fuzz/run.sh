#!/usr/bin/env bash
# Run one fuzz target for a while, its corpus seeded from the test fixtures.
#   fuzz/run.sh TARGET [SECONDS]      (default 300 s)
# Needs cargo-fuzz (`cargo install cargo-fuzz`). The machine's toolchain is
# stable; RUSTC_BOOTSTRAP lets cargo-fuzz pass its sanitizer flags to it.
set -euo pipefail
cd "$(dirname "$0")"
target="$1"
seconds="${2:-300}"
corpus="corpus/$target"
mkdir -p "$corpus"
case "$target" in
snapshot_json) cp ../tests/fixtures/*.json "$corpus/" ;;
smbstatus_json) cp ../tests/fixtures/smbstatus/*.json "$corpus/" ;;
logind)
    # Session files as systemd's session_save() writes them.
    printf 'UID=1000\nUSER=alice\nACTIVE=1\nIS_DISPLAY=0\nSTATE=active\nREMOTE=1\nTYPE=tty\nCLASS=user\nSCOPE=session-3.scope\nFIFO=/run/systemd/sessions/3.ref\nTTY=pts/0\nREMOTE_HOST=192.0.2.5\nSERVICE=sshd\nLEADER=1234\nAUDIT=3\nREALTIME=1700000000123456\nMONOTONIC=123\n' >"$corpus/session-3"
    ;;
msrpc_winreg)
    # impacket's BaseRegEnumKeyResponse (tests/impacket/profiles_stubs.py enum_key_reply S-1-5-18 0).
    echo 120012000000020009000000000000000900000053002d0031002d0035002d00310038000000aaaa0400020000000000080002000000000000000000000000000000000000000000 | xxd -r -p >"$corpus/enum-key"
    ;;
msrpc_lsarpc)
    # Two SIDs asked, then impacket's LsarLookupSids2Response (… lookup_sids2_reply 0x107 D:S-1-5-21-1-2-3 1:alice:0 8:-:-1).
    echo 0200000002000100000004000200200000000100000002000200080002000c0002000100000000000000010000004400eeee040000000104000000000005150000000100000002000000030000000200000010000200020000000100abab0a000a001400020000000000000000000800abab0000000000000000ffffffff0000000005000000000000000500000061006c00690063006500bfbf0100000007010000 | xxd -r -p >"$corpus/lookup-sids2"
    ;;
tsts_sessions | tsts_processes)
    # The replies of tests/impacket/tsts_server.py (impacket's encoder),
    # after a selector byte of 16 (the row limit), when the venv is there.
    python=../target/impacket-venv/bin/python
    if [ -x "$python" ]; then
        "$python" - "$corpus" <<'PY'
import os, struct, sys
sys.path.insert(0, "../tests/impacket")
import tsts_server as s
out = sys.argv[1]
handle = s.ENUM_HANDLE
seeds = {
    "open_enum": s.open_enum(b""),
    "enum_result": s.get_enum_result(handle + struct.pack("<I", 1)),
    "session_info": s.get_session_information_ex(struct.pack("<iI", 2, 1)),
    "no_session": s.get_session_information_ex(struct.pack("<iI", 9, 1)),
    "open_server": s.open_server(b""),
    "processes": s.get_all_processes(s.SERVER_HANDLE),
}
for name, stub in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(b"\x10" + stub)
PY
    fi
    ;;
ldap_ber)
    # A SearchResultEntry, a SearchResultDone with a paged-results cookie,
    # a BindResponse with server SASL credentials (RFC 4511 encodings),
    # and a filter as --ldap-filter takes it.
    python3 - "$corpus" <<'PY'
import os, sys
def tlv(tag, content):
    n = len(content)
    head = bytes([n]) if n < 0x80 else bytes([0x80 | ((n.bit_length() + 7) // 8)]) + n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag]) + head + content
s = lambda b: tlv(0x04, b)
msg = lambda i, op, ctl=b"": tlv(0x30, tlv(0x02, bytes([i])) + op + ctl)
result = lambda code: tlv(0x0A, bytes([code])) + s(b"") + s(b"")
attr = lambda name, *vals: tlv(0x30, s(name) + tlv(0x31, b"".join(s(v) for v in vals)))
entry = msg(2, tlv(0x64, s(b"CN=DC1,OU=Domain Controllers,DC=samdom,DC=test") + tlv(0x30, attr(b"dNSHostName", b"dc1.samdom.test") + attr(b"userAccountControl", b"532480"))))
paged = tlv(0x30, s(b"1.2.840.113556.1.4.319") + s(tlv(0x30, tlv(0x02, b"\x00") + s(b"cookie"))))
done = msg(2, tlv(0x65, result(0)), tlv(0xA0, paged))
bind = msg(1, tlv(0x61, result(14) + tlv(0x87, b"token")))
for name, data in {"entry": entry, "done": done, "bind": bind}.items():
    open(os.path.join(sys.argv[1], name), "wb").write(data)
open(os.path.join(sys.argv[1], "filter"), "w").write("(&(objectCategory=computer)(!(userAccountControl:1.2.840.113556.1.4.803:=2))(cn=web*01*x))")
PY
    ;;
dns_message)
    # What Samba's AD DC answers for _ldap._tcp.dc._msdcs.samdom.test SRV
    # (one SRV record, an SOA in Authority), with the target's A record
    # added in Additional, and a compression pointer to itself.
    python3 - "$corpus" <<'PY'
import os, struct, sys
def name(text):
    return b"".join(bytes([len(l)]) + l.encode() for l in text.split(".")) + b"\0"
q = name("_ldap._tcp.dc._msdcs.samdom.test") + struct.pack(">HH", 33, 1)
head = lambda an, ns, ar: struct.pack(">HHHHHH", 0x0102, 0x8580, 1, an, ns, ar)
srv = b"\xc0\x0c" + struct.pack(">HHIH", 33, 1, 900, 6 + 17) + struct.pack(">HHH", 0, 100, 389) + name("dc1.samdom.test")
target = 12 + len(q) + 2 + 10 + 6
a = struct.pack(">H", 0xC000 | target) + struct.pack(">HHIH", 1, 1, 900, 4) + bytes([127, 0, 0, 200])
seeds = {
    "srv": head(1, 0, 0) + q + srv,
    "srv-additional": head(1, 0, 1) + q + srv + a,
    "loop": head(1, 0, 0) + q + struct.pack(">H", 0xC000 | (12 + len(q))) + struct.pack(">HHIH", 33, 1, 60, 8) + b"\0\0\0\x64\x01\x85" + struct.pack(">H", 0xC000 | (12 + len(q))),
}
for key, data in seeds.items():
    open(os.path.join(sys.argv[1], key), "wb").write(data)
PY
    ;;
esac
RUSTC_BOOTSTRAP=1 cargo fuzz run "$target" "$corpus" -- -max_total_time="$seconds" -rss_limit_mb=2048

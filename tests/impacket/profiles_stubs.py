"""impacket's encoding of the winreg and lsarpc requests lingerscan sends
(tests/msrpc_profiles_wire.rs compares them byte for byte), and of server
answers for lingerscan's decoders to read.

    profiles_stubs.py NAME [ARGS...]   -> the stub as hex on stdout

Referent ids are arbitrary in NDR (impacket draws them at random): every
non-NULL pointer is renumbered 0x00020000, 0x00020004, ... in the order it is
encoded, which is how lingerscan numbers them. Padding keeps impacket's 0xAA.
"""
import sys

from impacket.dcerpc.v5 import lsad, lsat, rrp
from impacket.dcerpc.v5.dtypes import NULL
from impacket.dcerpc.v5.ndr import NDR, NDRPOINTER

MARK = 0x7E000000


def pointers(obj, out):
    if isinstance(obj, NDRPOINTER) and obj.fields.get("ReferentID"):
        out.append(obj)
    if isinstance(obj, NDR):
        for value in obj.fields.values():
            pointers(value, out)
    elif isinstance(obj, list):
        for value in obj:
            pointers(value, out)


def stub(call):
    found = []
    pointers(call, found)
    for i, ptr in enumerate(found):
        ptr.fields["ReferentID"] = MARK + 4 * i
    data = bytearray(call.getData())
    next_id = 0x00020000
    for at in range(0, len(data) - 3, 4):
        word = int.from_bytes(data[at:at + 4], "little")
        if MARK <= word < MARK + 4 * len(found):
            data[at:at + 4] = next_id.to_bytes(4, "little")
            next_id += 4
    return bytes(data)


HANDLE = bytes(range(1, 21))


def set_handle(call, key):
    """An RPC_HKEY (attributes, uuid) or an LSAPR_HANDLE (20 bytes)."""
    if isinstance(call[key], NDR):
        call[key]["context_handle_attributes"] = int.from_bytes(HANDLE[:4], "little")
        call[key]["context_handle_uuid"] = HANDLE[4:]
    else:
        call[key] = HANDLE


def open_users(access):
    r = rrp.OpenUsers()
    r["ServerName"] = NULL
    r["samDesired"] = int(access)
    return r


def enum_key(index):
    r = rrp.BaseRegEnumKey()
    set_handle(r, "hKey")
    r["dwIndex"] = int(index)
    r.fields["lpNameIn"].fields["MaximumLength"] = 512
    r.fields["lpNameIn"].fields["Data"].fields["Data"].fields["MaximumCount"] = 256
    r["lpClassIn"] = ""
    r.fields["lpClassIn"].fields["Data"].fields["MaximumLength"] = 128
    r.fields["lpClassIn"].fields["Data"].fields["Data"].fields["Data"].fields["MaximumCount"] = 64
    r["lpftLastWriteTime"] = NULL
    return r


def close_key():
    r = rrp.BaseRegCloseKey()
    set_handle(r, "hKey")
    return r


def open_policy2(access):
    r = lsad.LsarOpenPolicy2()
    r["SystemName"] = NULL
    r["ObjectAttributes"]["Length"] = 24
    r["ObjectAttributes"]["RootDirectory"] = NULL
    r["ObjectAttributes"]["ObjectName"] = NULL
    r["ObjectAttributes"]["SecurityDescriptor"] = NULL
    r["ObjectAttributes"]["SecurityQualityOfService"] = NULL
    r["DesiredAccess"] = int(access)
    return r


def lookup_sids2(*sids):
    r = lsat.LsarLookupSids2()
    set_handle(r, "PolicyHandle")
    r["SidEnumBuffer"]["Entries"] = len(sids)
    for sid in sids:
        item = lsat.LSAPR_SID_INFORMATION()
        item["Sid"].fromCanonical(sid)
        r["SidEnumBuffer"]["SidInfo"].append(item)
    r["TranslatedNames"]["Names"] = NULL
    r["LookupLevel"] = lsat.LSAP_LOOKUP_LEVEL.LsapLookupWksta
    r["LookupOptions"] = 0
    r["ClientRevision"] = 1
    return r


def close_policy():
    r = lsad.LsarClose()
    set_handle(r, "ObjectHandle")
    return r


def enum_key_reply(name, status):
    r = rrp.BaseRegEnumKeyResponse()
    r["lpNameOut"] = name + "\x00"
    r["lplpClassOut"] = ""
    r["lpftLastWriteTime"] = NULL
    r["ErrorCode"] = int(status)
    return r


def lookup_sids2_reply(status, *items):
    """items: DOMAIN:DOMAINSID or USE:NAME:INDEX (NAME '-' for none)."""
    r = lsat.LsarLookupSids2Response()
    domains = [i.split(":") for i in items if i.count(":") == 1]
    names = [i.split(":") for i in items if i.count(":") == 2]
    r["ReferencedDomains"]["Entries"] = len(domains)
    r["ReferencedDomains"]["MaxEntries"] = 32
    for name, sid in domains:
        d = lsad.LSAPR_TRUST_INFORMATION()
        d["Name"] = name
        d["Sid"].fromCanonical(sid)
        r["ReferencedDomains"]["Domains"].append(d)
    r["TranslatedNames"]["Entries"] = len(names)
    for use, name, index in names:
        n = lsat.LSAPR_TRANSLATED_NAME_EX()
        n["Use"] = int(use)
        n["Name"] = NULL if name == "-" else name
        n["DomainIndex"] = int(index)
        n["Flags"] = 0
        r["TranslatedNames"]["Names"].append(n)
    r["MappedCount"] = sum(1 for n in names if n[1] != "-")
    r["ErrorCode"] = int(status, 0)
    return r


if __name__ == "__main__":
    name, args = sys.argv[1], sys.argv[2:]
    sys.stdout.write(stub(globals()[name](*args)).hex())

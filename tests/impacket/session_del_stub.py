"""impacket's encoding of srvsvc NetrSessionDel (MS-SRVS 3.1.4.6), for
tests/close_samba.rs to compare with lingerscan's, byte for byte.

    session_del_stub.py SERVER CLIENT USER   -> the stub as hex on stdout

Referent ids are renumbered as profiles_stubs.py does.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from impacket.dcerpc.v5 import srvs  # noqa: E402

from profiles_stubs import stub  # noqa: E402

server, client, user = sys.argv[1:4]
call = srvs.NetrSessionDel()
call["ServerName"] = "\\\\" + server + "\x00"
call["ClientName"] = client + "\x00"
call["UserName"] = user + "\x00"
sys.stdout.write(stub(call).hex())

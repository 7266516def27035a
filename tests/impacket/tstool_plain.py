#!/usr/bin/env python3
"""Run impacket's examples/tstool.py unchanged except for one thing: its
binds ask for RPC-level NTLM with packet privacy (on top of the SMB
session), which impacket's DCERPCServer in tests/impacket/tsts_server.py
does not speak. Authentication stays at the SMB session, as lingerscan's
own client does it. And tstool's -port takes only 139 or 445: the SMB port
comes from SMB_PORT instead.

usage: SMB_PORT=N tstool_plain.py TSTOOL_PATH ARGS..."""
import os
import runpy
import sys

from impacket import smbconnection
from impacket.dcerpc.v5 import rpcrt

rpcrt.DCERPC_v5.set_auth_level = lambda self, level: None

_connect = smbconnection.SMBConnection.__init__


def _connect_to_test_port(self, *args, **kwargs):
    kwargs["sess_port"] = int(os.environ["SMB_PORT"])
    _connect(self, *args, **kwargs)


smbconnection.SMBConnection.__init__ = _connect_to_test_port

tstool = sys.argv[1]
sys.argv = [tstool] + sys.argv[2:]
runpy.run_path(tstool, run_name="__main__")

#!/usr/bin/env bash
# impacket (PyPI) in a private venv under target/: the independent MS-RPC client
# the msrpc integration tests and the remote-scan benchmark compare against, and
# the SMB server of the hostile-server tests (tests/hostile/rpc_server.py).
# Also samba + smbclient, the real server those tests talk to, and the tools
# the fixture uses, and python3 (stdlib only) for tests/hostile/, the hostile
# SMB server and man-in-the-middle proxy of tests/msrpc_hostile.rs. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/../.."
SUDO="${SUDO:-}"
need=()
command -v smbd >/dev/null || need+=(samba)
command -v smbclient >/dev/null || need+=(smbclient)
# The Samba fixture (tests/support/samba/) stops its daemons with /bin/kill (not the shell builtin)
# and runs smbd under setsid/unshare in its own mount namespace.
{ [ -x /bin/kill ] || [ -x /usr/bin/kill ]; } || need+=(procps)
command -v unshare >/dev/null || need+=(util-linux)
command -v useradd >/dev/null || need+=(passwd)
command -v python3 >/dev/null || need+=(python3)
python3 -c 'import venv, ensurepip' 2>/dev/null || need+=(python3-venv)
if [ ${#need[@]} -gt 0 ]; then
    $SUDO apt-get update
    $SUDO DEBIAN_FRONTEND=noninteractive apt-get install -y "${need[@]}"
fi
venv=target/impacket-venv
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import impacket' 2>/dev/null; then
    mkdir -p target
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check 'impacket==0.12.*'
fi
"$venv/bin/python" -c 'from importlib.metadata import version; print("impacket", version("impacket"))'

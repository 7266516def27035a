#!/usr/bin/env bash
# Samba (smbd, smbstatus, smbpasswd, net), smbclient, and util-linux/passwd
# tools (setpriv, setsid, useradd) for the Linux collector's integration tests.
set -euo pipefail
SUDO="${SUDO:-}"
need=()
command -v smbd >/dev/null 2>&1 || [ -x /usr/sbin/smbd ] || need+=(samba)
command -v smbclient >/dev/null 2>&1 || need+=(smbclient)
command -v setpriv >/dev/null 2>&1 || need+=(util-linux)
command -v useradd >/dev/null 2>&1 || [ -x /usr/sbin/useradd ] || need+=(passwd)
if [ "${#need[@]}" -gt 0 ]; then
    echo "installing: ${need[*]}"
    $SUDO apt-get update -q
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}"
fi
# The Debian package starts smbd/nmbd where an init system runs them; the
# tests start their own private smbd and need nothing else.
echo "samba: $(smbd --version 2>/dev/null || /usr/sbin/smbd --version)"

#!/usr/bin/env bash
# tests/close_logind.rs: a private dbus-daemon and a stand-in logind written
# in Python with the system python's dbus and gi bindings (Debian packages;
# a venv would not see them). Idempotent.
set -euo pipefail
SUDO="${SUDO:-}"
need=()
command -v dbus-daemon >/dev/null || need+=(dbus-daemon)
/usr/bin/python3 -c 'import dbus' 2>/dev/null || need+=(python3-dbus)
/usr/bin/python3 -c 'from gi.repository import GLib' 2>/dev/null || need+=(python3-gi)
if [ ${#need[@]} -gt 0 ]; then
    $SUDO apt-get update -q
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}"
fi
/usr/bin/python3 -c 'import dbus; print("python3-dbus", dbus.__version__)'

#!/usr/bin/env bash
# Cargo runner for x86_64-pc-windows-gnu: runs a Windows binary under Wine in
# the project's own prefix (made by scripts/setup.d/30-windows.sh).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
if [ ! -f "$WINEPREFIX/.lingerscan-ready" ]; then
    bash "$root/scripts/wine/make-prefix.sh"
fi
exec "$wine" "$@"

#!/usr/bin/env bash
# Install what building and testing lingerscan needs on Debian/Ubuntu.
# Idempotent; each part lives in scripts/setup.d/ so it can be run alone.
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export SUDO DEBIAN_FRONTEND=noninteractive
for part in scripts/setup.d/*.sh; do
    [ -e "$part" ] || continue
    echo "== setup: $part"
    bash "$part"
done

#!/usr/bin/env bash
# The fleet benchmark (benches/fleet.rs): 1,000 targets, a tenth silent,
# lingerscan and impacket side by side, then peak RSS at 1,000 and 10,000.
# Needs root, Samba and the impacket venv (scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo bench --bench fleet "$@"

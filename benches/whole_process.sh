#!/usr/bin/env bash
# Whole-process figures, lingerscan beside its peers in the same run:
#   quiet host default scan; a scan with 10,000 extra processes vs `ps`;
#   `analyze -f json` of synthetic 100k and 1M-process snapshots (generated
#   here) vs a naive Python join. Medians of paired rounds (see benches/peers/paired.py).
# Usage: benches/whole_process.sh [--rounds N] [--processes N] [--sizes 100000,1000000]
#        [--skip quiet|procs|analyze] [--baseline /path/to/older/lingerscan]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet --bin lingerscan --example synthetic_snapshot
# Comparable with older lingerscans (and the peers): no history database.
export LINGERSCAN_NO_HISTORY=1
exec python3 benches/peers/paired.py \
    --lingerscan target/release/lingerscan \
    --synthetic target/release/examples/synthetic_snapshot "$@"

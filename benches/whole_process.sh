#!/usr/bin/env bash
# Whole-process figures, lingerscan beside its peers in the same run:
#   quiet host default scan; a scan with 10,000 extra processes vs `ps`;
#   `analyze -f json` of synthetic 100k and 1M-process snapshots (generated
#   here) vs a naive Python join; the analysis step's scaling from 100k to 1M
#   as the binary runs it (report_phases). Medians of paired rounds (see benches/peers/paired.py).
# Usage: benches/whole_process.sh [--rounds N] [--processes N] [--sizes 100000,1000000]
#        [--skip quiet|procs|analyze|scaling] [--baseline /path/to/older/lingerscan]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet --bin lingerscan --example synthetic_snapshot --example report_phases
# Comparable with older lingerscans (and the peers): no history database.
export LINGERSCAN_NO_HISTORY=1
exec python3 benches/peers/paired.py \
    --lingerscan target/release/lingerscan \
    --synthetic target/release/examples/synthetic_snapshot \
    --phases target/release/examples/report_phases "$@"

#!/usr/bin/env bash
# The whole test suite: Linux unit, property and integration tests, then the
# extra suites in scripts/test.d/ (Windows under Wine, …).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --all-targets
for part in scripts/test.d/*.sh; do
    [ -e "$part" ] || continue
    echo "== tests: $part"
    bash "$part"
done

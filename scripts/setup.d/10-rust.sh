#!/usr/bin/env bash
# The lint tools CI and the README's checks use.
set -euo pipefail
if command -v rustup >/dev/null 2>&1; then
    for component in rustfmt clippy; do
        rustup component list --installed 2>/dev/null | grep -q "^$component" || rustup component add "$component"
    done
fi

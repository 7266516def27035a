#!/usr/bin/env bash
# PostgreSQL's server binaries (initdb, postgres) for the shared-history test
# (tests/history_postgres.rs), which starts its own server in a temporary
# folder on a loopback port; no cluster or service of the package is used.
set -euo pipefail
SUDO="${SUDO:-}"
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    echo "installing: postgresql"
    $SUDO apt-get update -q
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends postgresql
fi
echo "postgresql: $(ls -d /usr/lib/postgresql/*/bin | tail -1)"

#!/usr/bin/env bash
# Runs the JavaScript SDK acceptance suite: installs @io-orkes/conductor-javascript from the
# committed lockfile (only when it changed), then runs every test file with node's test
# runner. Each test file starts its own Podium server ($PODIUM_BIN) on a free port and
# stops it. Its store is the embedded SQLite, or, when PODIUM_SDK_DATABASE_URL names a
# PostgreSQL server, a new empty database there for each server (lib/podium.mjs; needs
# psql). Fails when a test fails or when no test ran.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$here"

if [ -n "${PODIUM_SDK_DATABASE_URL:-}" ]; then
    command -v psql >/dev/null 2>&1 \
        || { echo "PODIUM_SDK_DATABASE_URL is set but psql is not installed" >&2; exit 1; }
    store="PostgreSQL"
    echo "Store: PostgreSQL, a new database per server on $PODIUM_SDK_DATABASE_URL"
else
    store="SQLite"
    echo "Store: SQLite (embedded, in each server's data directory)"
fi

exec "$here/../../../scripts/node-suite" "$here" "JS SDK suite ($store)"

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

# npm ci is skipped when node_modules already matches the lockfile.
stamp=node_modules/.podium-lock-stamp
if [ ! -f "$stamp" ] || ! cmp -s package-lock.json "$stamp"; then
    npm ci --no-audit --no-fund --loglevel=error
    cp package-lock.json "$stamp"
fi

if [ -n "${PODIUM_SDK_DATABASE_URL:-}" ]; then
    command -v psql >/dev/null 2>&1 \
        || { echo "PODIUM_SDK_DATABASE_URL is set but psql is not installed" >&2; exit 1; }
    store="PostgreSQL"
    echo "Store: PostgreSQL, a new database per server on $PODIUM_SDK_DATABASE_URL"
else
    store="SQLite"
    echo "Store: SQLite (embedded, in each server's data directory)"
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
node --test --test-reporter=spec --test-concurrency=1 test/*.test.mjs 2>&1 | tee "$log" || status=$?
if [ "$status" -ne 0 ]; then
    echo "JS SDK suite ($store) failed" >&2
    exit "$status"
fi
# The spec reporter ends with "ℹ tests N" and "ℹ pass N".
passed=$(awk '/^ℹ pass / { print $3 }' "$log" | tail -n1)
if [ -z "$passed" ] || [ "$passed" -eq 0 ]; then
    echo "JS SDK suite ($store) ran no tests" >&2
    exit 1
fi
echo "JS SDK suite ($store): $passed tests passed"

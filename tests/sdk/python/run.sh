#!/usr/bin/env bash
# Runs the Python SDK acceptance suite: creates (or reuses) a virtualenv at <repo>/.venv-sdk,
# installs requirements.txt into it only when that file changed, then runs pytest on the
# tests here. The suite starts its own Podium server ($PODIUM_BIN, default
# <repo>/target/debug/podium) on a free 127.0.0.1 port and always stops it. Its store is
# the embedded SQLite, or, when PODIUM_SDK_DATABASE_URL names a PostgreSQL server, a new
# empty database there for each server (podium_server.py; needs psql).
# Fails when a test fails or when no test ran.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../../.." && pwd)
venv="$repo/.venv-sdk"
export PODIUM_BIN="${PODIUM_BIN:-$repo/target/debug/podium}"

if [ ! -x "$PODIUM_BIN" ]; then
    echo "Podium binary not found at $PODIUM_BIN (build it or set PODIUM_BIN)" >&2
    exit 1
fi

# conductor-python 2.0.0 needs Python >= 3.10; prefer 3.11 when it is installed.
python=${PYTHON:-$(command -v python3.11 || command -v python3)}
# A venv whose interpreter no longer runs (moved or removed base Python) is rebuilt.
if [ -d "$venv" ] && ! "$venv/bin/python" -c 'import sys' >/dev/null 2>&1; then
    echo "Rebuilding broken virtualenv $venv" >&2
    rm -rf "$venv"
fi
if [ ! -d "$venv" ]; then
    echo "Creating virtualenv $venv with $("$python" --version)"
    "$python" -m venv "$venv"
fi
"$venv/bin/python" -c 'import sys; assert sys.version_info >= (3, 10), sys.version' \
    || { echo "$venv needs Python >= 3.10" >&2; exit 1; }

# pip runs only when requirements.txt differs from the copy kept after the last install.
stamp="$venv/.podium-requirements-stamp"
if [ ! -f "$stamp" ] || ! cmp -s "$here/requirements.txt" "$stamp"; then
    echo "Installing Python SDK requirements into $venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$here/requirements.txt"
    cp "$here/requirements.txt" "$stamp"
else
    echo "Python SDK requirements unchanged; skipping install"
fi

# `--prepare`: only make the virtualenv ready (scripts/sdk-suites uses it).
if [ "${1:-}" = "--prepare" ]; then
    exit 0
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
cd "$here"
status=0
# -p no:cacheprovider: no .pytest_cache in the tree. Unbuffered so output streams through tee.
PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 "$venv/bin/python" -m pytest -p no:cacheprovider -v -rfE "$@" \
    2>&1 | tee "$log" || status=$?
if [ "$status" -eq 5 ]; then
    echo "Python SDK suite ($store) collected no tests" >&2
    exit 1
fi
if [ "$status" -ne 0 ]; then
    echo "Python SDK suite ($store) failed (pytest exit $status)" >&2
    exit "$status"
fi
# pytest's summary line reads like "== 42 passed, 1 skipped in 12.34s ==".
passed=$(grep -Eo '[0-9]+ passed' "$log" | tail -n1 | awk '{print $1}')
if [ -z "$passed" ] || [ "$passed" -eq 0 ]; then
    echo "Python SDK suite ($store) ran no tests" >&2
    exit 1
fi
echo "Python SDK suite ($store): $passed tests passed"

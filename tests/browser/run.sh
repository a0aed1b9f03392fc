#!/usr/bin/env bash
# Runs Podium's pages in a real browser: installs playwright-core from the committed
# lockfile (only when it changed) and runs every test file with node's test runner
# against Debian's Chromium ($PODIUM_CHROMIUM, else /usr/bin/chromium). Each test file
# starts its own Podium server ($PODIUM_BIN) and the OpenID Connect provider of
# tests/peers/oidc on free ports, and stops them. Screenshots go to
# $PODIUM_SCREENSHOT_DIR (default tests/browser/screenshots). Fails when a test fails or
# when no test ran.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$here"

stamp=node_modules/.podium-lock-stamp
if [ ! -f "$stamp" ] || ! cmp -s package-lock.json "$stamp"; then
    npm ci --no-audit --no-fund --loglevel=error
    cp package-lock.json "$stamp"
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
node --test --test-reporter=spec --test-concurrency=1 test/*.test.mjs 2>&1 | tee "$log" || status=$?
if [ "$status" -ne 0 ]; then
    echo "browser suite failed" >&2
    exit "$status"
fi
passed=$(awk '/^ℹ pass / { print $3 }' "$log" | tail -n1)
if [ -z "$passed" ] || [ "$passed" -eq 0 ]; then
    echo "browser suite ran no tests" >&2
    exit 1
fi
echo "browser suite: $passed tests passed"

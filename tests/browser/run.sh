#!/usr/bin/env bash
# Runs Podium's pages in a real browser: playwright-core from the committed lockfile
# drives Debian's Chromium ($PODIUM_CHROMIUM, else /usr/bin/chromium). Each test file
# starts its own Podium server ($PODIUM_BIN) and the OpenID Connect provider of
# tests/peers/oidc on free ports, and stops them. Screenshots go to
# $PODIUM_SCREENSHOT_DIR (default tests/browser/screenshots).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
exec "$here/../../scripts/node-suite" "$here" "browser suite"

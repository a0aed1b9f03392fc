#!/usr/bin/env bash
# Runs Camunda Operate's REST API v1 on Podium through the Operate client of
# @camunda8/sdk (from the committed lockfile), authenticated at the OpenID Connect
# provider of tests/peers/oidc. Each test file starts its own Podium server
# ($PODIUM_BIN, see ../js/lib/podium.mjs) and provider on free ports, and stops them.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
exec "$here/../../../scripts/node-suite" "$here" "Operate client suite (@camunda8/sdk)"

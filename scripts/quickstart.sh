#!/usr/bin/env bash
# Parley's main command for a newcomer: installs the npm dependencies, builds, and runs `parley`.
# Until the identity server and agent land (issue 3), this shows the CLI; it will then start a
# server and an agent and fetch an SVID.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$PARLEY_ROOT"
export npm_config_cache="$PARLEY_CACHE/npm"
npm ci --no-audit --no-fund --loglevel=error
npm run build --silent
npx parley --help
npx parley version

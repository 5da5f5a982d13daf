#!/usr/bin/env bash
# Builds the go-spiffe test oracle (e2e/peers/go-spiffe-oracle) into $PARLEY_CACHE/bin, rebuilding
# only when its sources or the Go version change (the oracle's x509 verdicts come from Go's
# crypto/x509), and prints its path and the go-spiffe version it was built with.
# Usage: scripts/install-go-oracle.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BIN="$(go_build_cached "$PARLEY_ROOT/e2e/peers/go-spiffe-oracle" go-spiffe-oracle)"
v="$("$BIN" version)" || die "$BIN does not run"
gs="$(printf '%s' "$v" | sed -n 's/.*"goSpiffe":"\([^"]*\)".*/\1/p')"
gv="$(printf '%s' "$v" | sed -n 's/.*"go":"\([^"]*\)".*/\1/p')"
echo "go-spiffe-oracle $BIN (go-spiffe $gs, built with $gv)"

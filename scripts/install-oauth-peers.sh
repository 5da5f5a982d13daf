#!/usr/bin/env bash
# Builds the Go OAuth client of the tokens e2e suite (e2e/peers/go-oauth2-client, Go's
# golang.org/x/oauth2/clientcredentials) into $PARLEY_CACHE/bin, rebuilding only when its sources
# or the Go version change. The npm clients (openid-client, oauth4webapi, jose) come with `npm ci`.
# Usage: scripts/install-oauth-peers.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BIN="$(go_build_cached "$PARLEY_ROOT/e2e/peers/go-oauth2-client" go-oauth2-client)"
echo "go-oauth2-client $BIN"

#!/usr/bin/env bash
# Builds the authorization benchmark's peers into the cache dir:
#   $PARLEY_CACHE/opa-v$OPA_VERSION/bin/opa   Open Policy Agent v1.22.2 (REST API: POST /v1/data/...)
#   $PARLEY_CACHE/bin/authz-load              bench/go/authz-load: the Check load generator and an
#                                             ext_authz Check server that evaluates Rego with OPA
#                                             v1.22.2 as a Go library (see its README)
# OPA's Envoy plugin (github.com/open-policy-agent/opa-envoy-plugin) is not served by the Go module
# proxy here (its version list and v1.22.0-envoy both answer 403), so plain OPA is built. The
# command is added with `go get -tool` to a scratch module under $PARLEY_CACHE/opa-v$OPA_VERSION/src
# whose go.sum is seeded from OPA's own, and built without cgo and without the opa_wasm tag (the
# benchmark evaluates Rego, never Wasm). OPA's version is compiled into its sources, so
# `opa version` prints it. Module downloads and build artifacts are cached under
# $PARLEY_CACHE/go/{mod,build}, shared with the other Go peers.
# Idempotent: a no-op when opa exists and reports the pinned version and authz-load is up to date.
# Usage: scripts/install-opa.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

OPA_VERSION=1.22.2
OPA_DIR="$PARLEY_CACHE/opa-v$OPA_VERSION"
BIN="$OPA_DIR/bin"
SRC="$OPA_DIR/src"

# version_ok BIN: the binary exists and `opa version` names exactly the pinned version.
version_ok() {
  [ -x "$1" ] || return 1
  [ "$("$1" version 2>/dev/null | sed -n 's/^Version: //p')" = "$OPA_VERSION" ]
}

command -v go >/dev/null || die "go is required (Go 1.26 is expected on the machine)"
export GOMODCACHE="$PARLEY_CACHE/go/mod"
export GOCACHE="$PARLEY_CACHE/go/build"
export GOTOOLCHAIN=local # use the installed Go; never download a toolchain
export CGO_ENABLED=0

if version_ok "$BIN/opa"; then
  log "OPA $OPA_VERSION already installed"
else
  start=$SECONDS
  mkdir -p "$SRC" "$BIN" "$GOMODCACHE" "$GOCACHE"
  cd "$SRC"
  [ -f go.mod ] || go mod init parley.local/opa-tools >/dev/null 2>&1
  opa_src="$(go mod download -json "github.com/open-policy-agent/opa@v$OPA_VERSION" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  [ -f "$opa_src/go.sum" ] || die "could not download github.com/open-policy-agent/opa@v$OPA_VERSION"
  cat "$opa_src/go.sum" >>go.sum
  sort -u -o go.sum go.sum
  log "go get -tool github.com/open-policy-agent/opa@v$OPA_VERSION"
  go get -tool "github.com/open-policy-agent/opa@v$OPA_VERSION" >"$OPA_DIR/go-get.log" 2>&1 ||
    { cat "$OPA_DIR/go-get.log" >&2; die "go get -tool failed (log: $OPA_DIR/go-get.log)"; }
  log "building $BIN/opa (first build takes a few minutes)"
  GOBIN="$BIN" go install -trimpath -ldflags='-s -w' github.com/open-policy-agent/opa
  version_ok "$BIN/opa" || die "$BIN/opa version does not print $OPA_VERSION"
  log "built OPA $OPA_VERSION in $((SECONDS - start))s"
fi
echo "opa $OPA_VERSION $BIN/opa"

if [ -d "$PARLEY_ROOT/bench/go/authz-load" ]; then
  echo "authz-load $(go_build_cached "$PARLEY_ROOT/bench/go/authz-load" authz-load)"
fi

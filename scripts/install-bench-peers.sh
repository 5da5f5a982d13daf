#!/usr/bin/env bash
# Builds the benchmarks' Go peers into the cache dir:
#   $PARLEY_CACHE/bin/spire-signer   (bench/peers/spire-signer: drives spire-server's agent API
#                                     for bench/src/identity-signing.ts)
# Module downloads and build artifacts are cached under $PARLEY_CACHE/go/{mod,build} (shared with
# install-spire.sh, which already holds every module the signer needs).
# Rebuilds only when the sources change: a stamp file next to the binary holds a hash of every
# file in the folder plus the Go version; a second run with nothing changed is a fast no-op.
# Usage: scripts/install-bench-peers.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SRC="$PARLEY_ROOT/bench/peers/spire-signer"
BIN_DIR="$PARLEY_CACHE/bin"
BIN="$BIN_DIR/spire-signer"
STAMP="$BIN.stamp"

[ -f "$SRC/go.mod" ] || die "spire-signer sources not found at $SRC"
command -v go >/dev/null || die "go is required (Go 1.26 is expected on the machine)"

# source_hash: sha256 over "<sha256>  <relative path>" of every file in the folder, plus the Go
# version.
source_hash() {
  {
    (cd "$SRC" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
    go env GOVERSION
  } | sha256sum | cut -d' ' -f1
}

hash="$(source_hash)"
if [ -x "$BIN" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$hash" ]; then
  log "up to date"
  echo "spire-signer $BIN"
  exit 0
fi

export GOMODCACHE="$PARLEY_CACHE/go/mod"
export GOCACHE="$PARLEY_CACHE/go/build"
export GOTOOLCHAIN=local  # use the installed Go; never download a toolchain
export GOFLAGS=-mod=readonly
mkdir -p "$BIN_DIR" "$GOMODCACHE" "$GOCACHE"

log "building $BIN"
tmp="$BIN.tmp.$$"
trap 'rm -f "$tmp"' EXIT
(cd "$SRC" && CGO_ENABLED=0 go build -trimpath -o "$tmp" .)
mv -f "$tmp" "$BIN"
echo "$hash" > "$STAMP"
echo "spire-signer $BIN"

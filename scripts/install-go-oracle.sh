#!/usr/bin/env bash
# Builds the go-spiffe test oracle (e2e/peers/go-spiffe-oracle) into the cache dir:
#   $PARLEY_CACHE/bin/go-spiffe-oracle
# Module downloads and build artifacts are cached under $PARLEY_CACHE/go/{mod,build}.
# Rebuilds only when the oracle's sources change: a stamp file next to the binary
# ($PARLEY_CACHE/bin/go-spiffe-oracle.stamp) holds a hash of every file in the folder
# (names and contents) plus the Go version; a second run with nothing changed is a fast no-op.
# Prints the binary's path and the go-spiffe version it was built with.
# Usage: scripts/install-go-oracle.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SRC="$PARLEY_ROOT/e2e/peers/go-spiffe-oracle"
BIN_DIR="$PARLEY_CACHE/bin"
BIN="$BIN_DIR/go-spiffe-oracle"
STAMP="$BIN.stamp"

[ -f "$SRC/go.mod" ] || die "oracle sources not found at $SRC"
command -v go >/dev/null || die "go is required (Go 1.26 is expected on the machine)"

# source_hash: sha256 over the sorted list of "<sha256>  <relative path>" of every file in the
# folder, plus the Go toolchain version (the oracle's x509 verdicts come from Go's crypto/x509).
source_hash() {
  {
    (cd "$SRC" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
    go env GOVERSION
  } | sha256sum | cut -d' ' -f1
}

report() {
  local v gs gv
  v="$("$BIN" version)" || die "$BIN does not run"
  gs="$(printf '%s' "$v" | sed -n 's/.*"goSpiffe":"\([^"]*\)".*/\1/p')"
  gv="$(printf '%s' "$v" | sed -n 's/.*"go":"\([^"]*\)".*/\1/p')"
  echo "go-spiffe-oracle $BIN (go-spiffe $gs, built with $gv)"
}

hash="$(source_hash)"
if [ -x "$BIN" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$hash" ]; then
  log "up to date"
  report
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
report

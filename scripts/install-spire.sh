#!/usr/bin/env bash
# Builds SPIRE's spire-server and spire-agent from the Go module proxy into the cache dir:
#   $PARLEY_CACHE/spire-v$SPIRE_VERSION/bin/{spire-server,spire-agent}
# The commands are added with `go get -tool` to a scratch module under
# $PARLEY_CACHE/spire-v$SPIRE_VERSION/src and built from there (`go install pkg@version` refuses
# modules whose go.mod has replace/exclude directives; v1.13.3 has none, but the scratch module
# keeps this working across releases and leaves a reusable go.mod/go.sum). The build uses SPIRE's
# pinned dependency versions, cgo (spire-server's sqlite3 datastore needs it) and the same
# version stamp as SPIRE's release Makefile, so `spire-server --version` prints the version.
# Module downloads and build artifacts are cached under $PARLEY_CACHE/go/{mod,build}.
# Idempotent: a no-op when both binaries exist and report the pinned version.
# Usage: scripts/install-spire.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SPIRE_VERSION=1.13.3
SPIRE_DIR="$PARLEY_CACHE/spire-v$SPIRE_VERSION"
BIN="$SPIRE_DIR/bin"
SRC="$SPIRE_DIR/src"
TOOLS=(spire-server spire-agent)

# version_ok BIN: the binary exists and `--version` prints exactly the pinned version.
version_ok() {
  [ -x "$1" ] || return 1
  local v
  v="$("$1" --version 2>&1 | head -n1 | tr -d '[:space:]')" || return 1
  [ "$v" = "$SPIRE_VERSION" ]
}

report() {
  for t in "${TOOLS[@]}"; do
    echo "$t $("$BIN/$t" --version 2>&1 | head -n1) $BIN/$t"
  done
}

if version_ok "$BIN/spire-server" && version_ok "$BIN/spire-agent"; then
  log "SPIRE $SPIRE_VERSION already installed"
  report
  exit 0
fi

command -v go >/dev/null || die "go is required (Go 1.26 is expected on the machine)"

export GOMODCACHE="$PARLEY_CACHE/go/mod"
export GOCACHE="$PARLEY_CACHE/go/build"
export GOTOOLCHAIN=local  # use the installed Go; never download a toolchain
# cgo is required: without it spire-server's sqlite3 datastore (mattn/go-sqlite3) is compiled out
# ("sqlite3 is not a supported dialect when CGO is not enabled").
export CGO_ENABLED=1
command -v gcc >/dev/null || apt_install gcc libc6-dev

mkdir -p "$SRC" "$BIN" "$GOMODCACHE" "$GOCACHE"
cd "$SRC"
if [ ! -f go.mod ]; then
  go mod init parley.local/spire-tools >/dev/null 2>&1
fi

# Seed the scratch module's go.sum with SPIRE's own go.sum (authenticated: SPIRE's module zip is
# checked against sum.golang.org). The build list is SPIRE's, so every checksum comes from there
# and the Go tool needs no further checksum-database lookups (some, e.g. for
# github.com/GoogleCloudPlatform/cloudsql-proxy@v1.37.9, return 404 from the proxy's sumdb
# endpoint on this network, which made `go get` fail).
spire_dir="$(go mod download -json "github.com/spiffe/spire@v$SPIRE_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
[ -f "$spire_dir/go.sum" ] || die "could not download github.com/spiffe/spire@v$SPIRE_VERSION"
cat "$spire_dir/go.sum" >> go.sum
sort -u -o go.sum go.sum

log "go get -tool github.com/spiffe/spire/cmd/{spire-server,spire-agent}@v$SPIRE_VERSION"
# (its ~300 "go: downloading/added" lines go to a log, shown only on failure)
go get -tool \
  "github.com/spiffe/spire/cmd/spire-server@v$SPIRE_VERSION" \
  "github.com/spiffe/spire/cmd/spire-agent@v$SPIRE_VERSION" >"$SPIRE_DIR/go-get.log" 2>&1 \
  || { cat "$SPIRE_DIR/go-get.log" >&2; die "go get -tool failed (log: $SPIRE_DIR/go-get.log)"; }

log "building into $BIN (first build takes several minutes)"
for t in "${TOOLS[@]}"; do
  # Same version stamping as SPIRE's Makefile for a tagged release (prints "1.13.3").
  GOBIN="$BIN" go install -trimpath \
    -ldflags="-s -w -X github.com/spiffe/spire/pkg/common/version.gittag=$SPIRE_VERSION" \
    "github.com/spiffe/spire/cmd/$t"
done

for t in "${TOOLS[@]}"; do
  version_ok "$BIN/$t" || die "$BIN/$t --version does not print $SPIRE_VERSION: $("$BIN/$t" --version 2>&1 | head -n1)"
  go version -m "$BIN/$t" | grep -q 'CGO_ENABLED=1' || die "$BIN/$t was built without cgo"
done
log "installed SPIRE $SPIRE_VERSION"
report

# Shared helpers for the peer install scripts; source it, do not run it.
# Every peer is installed idempotently under the cache dir (PARLEY_CACHE, default ~/.cache/parley)
# or the project-local virtualenv (.venv), and each script prints what it installed.
set -euo pipefail

PARLEY_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PARLEY_CACHE="${PARLEY_CACHE:-$HOME/.cache/parley}"
mkdir -p "$PARLEY_CACHE"
export PARLEY_ROOT PARLEY_CACHE

log() { printf '[%s] %s\n' "$(basename "$0" .sh)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# apt_install PKG...: installs Debian packages that are missing (runs apt-get update once).
apt_install() {
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "apt-get install ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# go_build_cached SRC_DIR NAME: builds the Go program in SRC_DIR into $PARLEY_CACHE/bin/NAME with
# the module and build caches under $PARLEY_CACHE/go. Rebuilds only when the sources change: a
# stamp next to the binary holds a hash of every file in SRC_DIR plus the Go version. Prints the
# binary's path on stdout when it is (already) built.
go_build_cached() {
  local src="$1" name="$2" bin_dir="$PARLEY_CACHE/bin"
  local bin="$bin_dir/$name" stamp="$bin_dir/$name.stamp" hash tmp
  [ -f "$src/go.mod" ] || die "$name sources not found at $src"
  command -v go >/dev/null || die "go is required (Go 1.26 is expected on the machine)"
  hash="$({
    (cd "$src" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
    go env GOVERSION
  } | sha256sum | cut -d' ' -f1)"
  if [ -x "$bin" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$hash" ]; then
    log "$name up to date"
    echo "$bin"
    return 0
  fi
  export GOMODCACHE="$PARLEY_CACHE/go/mod" GOCACHE="$PARLEY_CACHE/go/build"
  export GOTOOLCHAIN=local  # use the installed Go; never download a toolchain
  export GOFLAGS=-mod=readonly
  mkdir -p "$bin_dir" "$GOMODCACHE" "$GOCACHE"
  log "building $bin"
  tmp="$bin.tmp.$$"
  (cd "$src" && CGO_ENABLED=0 go build -trimpath -o "$tmp" .) || { rm -f "$tmp"; die "building $name failed"; }
  mv -f "$tmp" "$bin"
  echo "$hash" > "$stamp"
  echo "$bin"
}

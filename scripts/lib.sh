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

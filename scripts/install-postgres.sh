#!/usr/bin/env bash
# Ensures the PostgreSQL 15 server binaries from Debian's packages (postgresql-15) and prints
#   postgresql <version> <bindir>        e.g. postgresql 15.18 /usr/lib/postgresql/15/bin
# The bin dir holds initdb, postgres, pg_ctl, pg_isready and psql. No server is left running and
# the system service is not used: if installing the package auto-started its default cluster
# (15/main), that cluster is stopped and the postgresql service disabled.
# Idempotent: a no-op (apart from the version print) when postgresql-15 is installed.
#
# Usage: scripts/install-postgres.sh [--check]
#   --check  also starts a throwaway server as below, runs `select version()` and removes it.
#
# Starting a throwaway server (what a test launcher must do). PostgreSQL refuses to run as root,
# so everything that touches the data dir runs as the `postgres` user, in a temp dir it owns.
# The dir must be reachable by that user (under /tmp, not under /root) and the socket path
# DIR/.s.PGSQL.PORT must stay under 107 bytes. With BIN=/usr/lib/postgresql/15/bin:
#   DIR=$(mktemp -d /tmp/parley-pg.XXXXXX) && chown postgres:postgres "$DIR"
#   cd "$DIR"     # cwd must be readable by postgres (a cwd under /root makes the tools complain)
#   runuser -u postgres -- $BIN/initdb -D "$DIR/data" -U postgres -A trust -E UTF8 --locale=C \
#       --no-sync --no-instructions
#   runuser -u postgres -- $BIN/postgres -D "$DIR/data" -k "$DIR" -h 127.0.0.1 -p PORT \
#       -c fsync=off -c synchronous_commit=off -c full_page_writes=off     # runs in foreground
#   PORT: a free TCP port on 127.0.0.1 (bind port 0, read it, close it).
#   until $BIN/pg_isready -q -h 127.0.0.1 -p PORT -t 1; do sleep 0.1; done   # ready (exit 0)
#   $BIN/psql -X -h 127.0.0.1 -p PORT -U postgres -d postgres -c 'select version()'
#       (works as any user, root included, no password: initdb -A trust and only 127.0.0.1 and
#        the socket in DIR listen; URL postgresql://postgres@127.0.0.1:PORT/postgres)
#   stop: kill -INT "$(head -n1 "$DIR/data/postmaster.pid")"   # fast shutdown of the postmaster
#       (as root; equivalently runuser -u postgres -- $BIN/pg_ctl -D "$DIR/data" stop -m fast -w),
#       wait for the runuser process to exit (status 0), then rm -rf "$DIR".
#   Do not signal the runuser process itself: it does not react to SIGINT, and on SIGTERM it
#   forwards SIGTERM (postgres' "smart" shutdown), SIGKILLs postgres if it is still running 2 s
#   later, and dies by SIGTERM itself (status 143) even when postgres shut down cleanly.
#   Exec-style alternative with the same arguments, where the spawned pid IS the postmaster
#   (so child.kill('SIGINT') is a fast shutdown and the exit status is postgres'):
#     setpriv --reuid=postgres --regid=postgres --init-groups -- $BIN/postgres -D "$DIR/data" ...
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PG_MAJOR=15
BIN="/usr/lib/postgresql/$PG_MAJOR/bin"
CHECK=0
for arg in "$@"; do
  case "$arg" in
    --check) CHECK=1 ;;
    *) die "usage: $0 [--check]" ;;
  esac
done

if dpkg -s "postgresql-$PG_MAJOR" >/dev/null 2>&1; then
  log "postgresql-$PG_MAJOR already installed"
else
  apt_install "postgresql-$PG_MAJOR"
  # The package creates a default cluster and, outside containers, starts it and enables the
  # service. Parley's tests start their own servers: stop it and keep it from starting at boot.
  if command -v pg_lsclusters >/dev/null; then
    pg_lsclusters --no-header 2>/dev/null | while read -r ver name _port status _rest; do
      if [ "$status" = online ]; then
        log "stopping the cluster $ver/$name started by the package"
        pg_ctlcluster "$ver" "$name" stop || true
      fi
    done
  fi
  if command -v systemctl >/dev/null; then
    systemctl disable --now postgresql >/dev/null 2>&1 || true
  fi
fi

for b in initdb postgres pg_ctl pg_isready psql; do
  [ -x "$BIN/$b" ] || die "$BIN/$b is missing; reinstall postgresql-$PG_MAJOR"
done
version="$("$BIN/postgres" --version | sed -n 's/^postgres (PostgreSQL) \([^ ]*\).*/\1/p')"
[ -n "$version" ] || die "could not read the version of $BIN/postgres"
echo "postgresql $version $BIN"

[ "$CHECK" = 1 ] || exit 0

# --- smoke test: a throwaway server, exactly as documented above ---
id postgres >/dev/null 2>&1 || die "user postgres does not exist (it comes with postgresql-common)"
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
dir="$(mktemp -d /tmp/parley-pg.XXXXXX)"
server_pid=""
# postmaster_pid: the postgres server's own pid (line 1 of postmaster.pid), not runuser's.
postmaster_pid() { head -n1 "$dir/data/postmaster.pid" 2>/dev/null; }
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    local pm; pm="$(postmaster_pid)"
    [ -n "$pm" ] && kill -INT "$pm" 2>/dev/null
    wait "$server_pid" 2>/dev/null || true
  fi
  cd /
  rm -rf "$dir"
}
trap cleanup EXIT
chown postgres:postgres "$dir"
cd "$dir"

log "check: initdb in $dir/data"
runuser -u postgres -- "$BIN/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C \
  --no-sync --no-instructions >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; die "initdb failed"; }

log "check: postgres on 127.0.0.1:$port"
runuser -u postgres -- "$BIN/postgres" -D "$dir/data" -k "$dir" -h 127.0.0.1 -p "$port" \
  -c fsync=off -c synchronous_commit=off -c full_page_writes=off >"$dir/server.log" 2>&1 &
server_pid=$!

for _ in $(seq 1 300); do
  "$BIN/pg_isready" -q -h 127.0.0.1 -p "$port" -t 1 && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$dir/server.log" >&2; die "postgres exited"; }
  sleep 0.1
done
"$BIN/pg_isready" -q -h 127.0.0.1 -p "$port" -t 1 || { cat "$dir/server.log" >&2; die "postgres not ready after 30s"; }

"$BIN/psql" -X -At -h 127.0.0.1 -p "$port" -U postgres -d postgres -c 'select version()' \
  || die "psql failed"

pm="$(postmaster_pid)"
log "check: stopping the server (SIGINT to postmaster $pm, fast shutdown) and removing $dir"
kill -INT "$pm"
wait "$server_pid" || die "postgres did not shut down cleanly: $(tail -n5 "$dir/server.log")"
server_pid=""
pgrep -u postgres -f "$dir/data" >/dev/null && die "a postgres process for $dir/data is still running"
cd /
rm -rf "$dir"
trap - EXIT
log "check: ok"

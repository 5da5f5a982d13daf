#!/usr/bin/env bash
# Parley's main command for a newcomer: installs the npm dependencies, builds, starts an identity
# server and a node agent on this machine (loopback, state in .parley/quickstart/), registers the
# current user as a workload, and fetches its X509-SVID and a JWT-SVID over the SPIFFE Workload
# API. The server and agent keep running; `scripts/quickstart.sh stop` stops them.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$PARLEY_ROOT"
QS="$PARLEY_ROOT/.parley/quickstart"
CLI="$PARLEY_ROOT/packages/cli/dist/main.js"
parley() { node "$CLI" "$@"; }

stop() {
  for p in agent server; do
    if [ -f "$QS/$p.pid" ]; then kill "$(cat "$QS/$p.pid")" 2>/dev/null || true; rm -f "$QS/$p.pid"; fi
  done
}
if [ "${1:-}" = stop ]; then stop; log "stopped"; exit 0; fi

export npm_config_cache="$PARLEY_CACHE/npm"
[ -d node_modules/.bin ] && [ node_modules/.package-lock.json -nt package-lock.json ] || npm ci --no-audit --no-fund --loglevel=error
npm run build --silent
stop
rm -rf "$QS" && mkdir -p "$QS" && chmod 755 "$QS"

cat > "$QS/server.yaml" <<YAML
trustDomain: example.org
dataDir: server
agentApiAddress: 127.0.0.1:8081
adminSocket: admin.sock
healthAddress: 127.0.0.1:8082
YAML
node "$CLI" server run --config "$QS/server.yaml" > "$QS/server.log" 2>&1 &
echo $! > "$QS/server.pid"
ready() { node -e "require('http').get('http://127.0.0.1:8082/ready',r=>process.exit(r.statusCode===200?0:1)).on('error',()=>process.exit(1))"; }
for _ in $(seq 1 100); do ready && break; sleep 0.2; done
ready || die "server did not start; see $QS/server.log"
log "server ready (logs: $QS/server.log)"

export PARLEY_ADMIN_SOCKET="$QS/admin.sock"
parley bundle show -o pem > "$QS/bundle.pem"
read -r TOKEN AGENT_ID < <(parley token generate -o json | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const j=JSON.parse(s);console.log(j.token, j.agentSpiffeId)})')
parley entry create --spiffe-id spiffe://example.org/quickstart/me --parent-id "$AGENT_ID" --selector "unix:uid:$(id -u)" >/dev/null
log "registered spiffe://example.org/quickstart/me for unix:uid:$(id -u) under agent $AGENT_ID"

cat > "$QS/agent.yaml" <<YAML
trustDomain: example.org
dataDir: agent
serverAddress: 127.0.0.1:8081
bootstrapBundleFile: bundle.pem
socketPath: agent.sock
joinToken: $TOKEN
syncInterval: 5s
YAML
node "$CLI" agent run --config "$QS/agent.yaml" > "$QS/agent.log" 2>&1 &
echo $! > "$QS/agent.pid"
for _ in $(seq 1 100); do grep -q "Workload API listening" "$QS/agent.log" 2>/dev/null && break; sleep 0.2; done
grep -q "Workload API listening" "$QS/agent.log" || die "agent did not start; see $QS/agent.log"
log "agent ready (logs: $QS/agent.log)"

export SPIFFE_ENDPOINT_SOCKET="unix://$QS/agent.sock"
parley api fetch x509
parley api fetch jwt --audience quickstart
cat <<MSG

Parley is running: a server (agent API 127.0.0.1:8081, admin socket $QS/admin.sock) and an agent
(Workload API $QS/agent.sock). Try:
  export PARLEY_ADMIN_SOCKET=$QS/admin.sock SPIFFE_ENDPOINT_SOCKET=unix://$QS/agent.sock
  npx parley entry list
  npx parley api fetch x509 --write /tmp/svid
  npx parley api watch
Stop both with: scripts/quickstart.sh stop
MSG

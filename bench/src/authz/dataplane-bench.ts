// bench/authz-dataplane: the latency authorization adds on the data path, through real Envoy 1.40,
// at fixed request rates (BENCH_RATES, default 1000,2000 requests/s). Every path is client → client
// sidecar (plain HTTP on loopback) → server sidecar (SPIFFE mTLS) → app, identical except for the
// server sidecar's HTTP filters:
//   - none: the baseline (the mesh compiler's inbound HTTP connection manager: path normalization,
//     request ids — on every path, so only the filters differ);
//   - native RBAC: the filters compileEnforcement (@parley/authz) emits for the policy set of
//     dataplane-policy.ts (a DENY policy of 4 rules, 20 ALLOW rules, defaultAction DENY);
//   - ext_authz, server: extAuthzFilter to Parley's Check service (createCheckService on grpc-js)
//     in another process over gRPC on loopback TCP with mTLS, as sidecars reach the server's authz
//     listener — the same policies with the DENY policy marked external;
//   - ext_authz, agent: the same Check service on a Unix socket (plain HTTP/2), as the agent
//     embeds it and sidecars reach it through their agent socket.
// Before measuring, allowed and denied requests go through every path: the baseline answers 200
// to all, the others 200 or 403 as the policies say (ext_authz denials must carry the Check
// service's body, so a fail-closed error cannot pass for a decision). The load is allowed requests
// only. Paths and rates are measured in interleaved rounds (BENCH_ROUNDS × BENCH_SECONDS each);
// figures are the medians of the rounds' p50/p99. Each Envoy runs with --concurrency 1. Also
// printed: the server sidecar's and the Check server's CPU per request (from /proc), and the CPU
// this benchmark's processes ("bench load", cores: all of them, load generator included) and the
// machine's other work ("other load") used during the windows, since this runs on shared
// machines. BENCH_PATHS (e.g. ext-server,ext-agent) measures some paths only, beside the baseline.
// Targets (issue 6): native RBAC adds ≤ 0.1 ms p99; ext_authz adds ≤ 1 ms p99 at 2,000 rps.
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { Agent } from 'node:http';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import {
  type HttpFilterConfig,
  buildPolicySet,
  compileEnforcement,
  extAuthzFilter,
} from '@parley/authz';
import { encodePem } from '@parley/core';
import { formatMeshProblem, parseMeshConfig } from '@parley/mesh';
import {
  type Daemon,
  type Envoy,
  freePort,
  makeTempDir,
  makeTestCa,
  readyOrStop,
  startDaemon,
  startEnvoy,
} from '@parley/testing';
import { processStats } from '../process-stats.js';
import { type Defer, median, runBench } from '../run-bench.js';
import {
  CHECK_CLUSTER,
  type CheckEndpoint,
  type TlsFiles,
  clientSidecar,
  serverSidecar,
} from './dataplane-envoy.js';
import { type LoadWindow, openLoopLoad, percentile, probe } from './dataplane-load.js';
import {
  CLIENT,
  PARLEY_SERVER_ID,
  PROBES,
  SERVER,
  dataplanePolicyYaml,
} from './dataplane-policy.js';

/** A positive number from the environment variable `name`, or `fallback`. */
function setting(name: string, fallback: number): number {
  const raw = process.env[name];
  const n = raw === undefined ? fallback : Number(raw);
  if (!(n > 0) || !Number.isFinite(n)) throw new Error(`${name} must be a positive number`);
  return n;
}

const RATES = (process.env['BENCH_RATES'] ?? '1000,2000').split(',').map((s) => {
  const n = Number(s);
  if (!(n > 0) || !Number.isFinite(n)) throw new Error('BENCH_RATES must list positive numbers');
  return n;
});
const SECONDS = setting('BENCH_SECONDS', 3);
const WARMUP = setting('BENCH_WARMUP', 2);
const ROUNDS = Math.round(setting('BENCH_ROUNDS', 5));
/** Load at a window's rate before it is measured, so the connection pools settle to it. */
const RAMP_SECONDS = 0.5;
type PathId = 'none' | 'rbac' | 'ext-server' | 'ext-agent';
const ALL: readonly PathId[] = ['none', 'rbac', 'ext-server', 'ext-agent'];
/** The paths to measure (BENCH_PATHS, comma-separated); the baseline always is. */
const PATHS = new Set<PathId>([
  'none',
  ...(process.env['BENCH_PATHS']?.split(',') ?? ALL).map((s) => {
    if (!(ALL as readonly string[]).includes(s))
      throw new Error(`unknown path ${s} in BENCH_PATHS`);
    return s as PathId;
  }),
]);
const TARGET_RBAC_P99_MS = 0.1;
const TARGET_EXT_AUTHZ_P99_MS = 1;
const TARGET_EXT_AUTHZ_RATE = 2000;

const LABELS: Record<PathId, string> = {
  none: 'no policy (baseline)',
  rbac: 'native RBAC',
  'ext-server': 'ext_authz at the server',
  'ext-agent': 'ext_authz in the agent',
};

type Window = LoadWindow & {
  /** CPU time of the path's Check server over the window. */
  readonly checkCpuSeconds: number;
  /** CPU time of the path's server sidecar over the window. */
  readonly sidecarCpuSeconds: number;
  /** CPU time of this benchmark's processes over the window. */
  readonly oursCpuSeconds: number;
  /** CPU time of the machine's other work (not this benchmark's processes) over the window. */
  readonly otherCpuSeconds: number;
};

interface Path {
  readonly id: PathId;
  readonly port: number;
  readonly agent: Agent;
  readonly server: Envoy;
  readonly check?: Daemon;
  /** Rounds' windows by rate. */
  readonly windows: Map<number, Window[]>;
}

const APP_SOURCE = `
import { createServer } from 'node:http';
createServer((req, res) => { req.resume(); res.writeHead(200, { 'content-type': 'text/plain' }).end('ok'); })
  .listen(Number(process.env.PORT), '127.0.0.1', () => process.send('ready'));
`;

/** Writes mesh config files under `dir` and parses them; throws with the problems if invalid. */
async function writeMesh(dir: string, external: boolean) {
  const files = dataplanePolicyYaml(external);
  for (const f of files) {
    await mkdir(dirname(join(dir, f.path)), { recursive: true });
    await writeFile(join(dir, f.path), f.text);
  }
  const parsed = parseMeshConfig(files);
  if (!parsed.ok) throw new Error(parsed.problems.map(formatMeshProblem).join('\n'));
  return parsed.config;
}

/** The server sidecar's filters for `config`, which must be enforced in `mode`. */
function enforcement(
  config: Awaited<ReturnType<typeof writeMesh>>,
  mode: 'native' | 'external',
): readonly HttpFilterConfig[] {
  const e = compileEnforcement(buildPolicySet(config.authorizationPolicies), {
    service: SERVER.service,
    spiffeId: SERVER.spiffeId,
    ports: [SERVER.port],
  });
  if (e.mode !== mode) {
    throw new Error(
      `the policy set compiles to ${e.mode} enforcement, expected ${mode}` +
        (e.mode === 'external' ? `: ${e.reasons.join('; ')}` : ''),
    );
  }
  return e.mode === 'native' ? e.filters : [];
}

/** Starts a Check server process (dataplane-check-server.js); resolves once it listens. */
async function startCheckServer(
  args: readonly string[],
  defer: Defer,
): Promise<{ daemon: Daemon; port: number }> {
  const script = join(import.meta.dirname, 'dataplane-check-server.js');
  const daemon = startDaemon(process.execPath, [script, ...args]);
  defer(() => daemon.stop());
  let port = -1;
  await readyOrStop(daemon, 'the Check server to listen', () => {
    const m = /\{"port":\s*(\d+)\}/.exec(daemon.log());
    if (m?.[1] !== undefined) port = Number(m[1]);
    return Promise.resolve(port >= 0);
  });
  return { daemon, port };
}

/** Envoy's counters whose names match `pattern`, summed by the last name component. */
async function counters(envoy: Envoy, pattern: string): Promise<Record<string, number>> {
  const text = await envoy.admin(`/stats?usedonly&filter=${encodeURIComponent(pattern)}`);
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = /^(\S+): (\d+)$/.exec(line);
    if (m?.[1] === undefined || m[2] === undefined) continue;
    const key = m[1].slice(m[1].lastIndexOf('.') + 1);
    out[key] = (out[key] ?? 0) + Number(m[2]);
  }
  return out;
}

/** Sends the probes through every path; throws unless each answers as its filters must. */
async function sanityCheck(paths: readonly Path[]): Promise<void> {
  const problems: string[] = [];
  for (const p of paths) {
    for (const r of PROBES) {
      const want = p.id === 'none' ? 200 : r.status;
      const got = await probe(p.port, r);
      let wrong = got.status !== want;
      // A 403 from ext_authz must be the Check service's answer, not a fail-closed error.
      if (!wrong && want === 403) {
        wrong = !got.body.startsWith('RBAC: access denied');
        if (p.id.startsWith('ext-')) wrong ||= !got.body.includes('(request id ');
      }
      if (wrong) {
        problems.push(
          `${LABELS[p.id]}: ${r.method} ${r.path} (${r.why}) answered ${got.status} ` +
            `${JSON.stringify(got.body.slice(0, 80))}, expected ${want}`,
        );
      }
    }
  }
  if (problems.length > 0) throw new Error(`sanity check failed:\n${problems.join('\n')}`);
}

const ms = (x: number) => x.toFixed(3);

/** CPU time the whole machine has spent busy (all CPUs, /proc/stat), in seconds. */
function machineBusySeconds(): number {
  // cpu  user nice system idle iowait irq softirq steal ...; ticks of USER_HZ (100 on Linux).
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
  const ticks = line.trim().split(/\s+/).slice(1, 9).map(Number);
  const busy = ticks.reduce((n, t) => n + t, 0) - (ticks[3] ?? 0) - (ticks[4] ?? 0);
  return busy / 100;
}

await runBench('bench/authz-dataplane', 10 * 60_000, async (defer) => {
  const dir = await makeTempDir('parley-bench-authz-dp-');
  defer(() => dir.remove());
  const ca = await makeTestCa();
  const tlsOf = async (id: string): Promise<TlsFiles> => {
    const svid = await ca.mintSvid(id);
    return {
      chain: encodePem('CERTIFICATE', svid.der),
      key: svid.key.export({ type: 'pkcs8', format: 'pem' }).toString(),
      bundle: encodePem('CERTIFICATE', ca.root.raw),
    };
  };
  const clientTls = await tlsOf(CLIENT.spiffeId);
  const serverTls = await tlsOf(SERVER.spiffeId);
  const parleyTls = await tlsOf(PARLEY_SERVER_ID);
  const pem = (name: string) => join(dir.path, name);
  await writeFile(pem('parley.crt'), parleyTls.chain);
  await writeFile(pem('parley.key'), parleyTls.key, { mode: 0o600 });
  await writeFile(pem('bundle.crt'), parleyTls.bundle);

  // The same policies twice: enforceable natively, and with the DENY policy marked external.
  const meshExternal = join(dir.path, 'mesh-external');
  const rbacFilters = enforcement(await writeMesh(join(dir.path, 'mesh-native'), false), 'native');
  enforcement(await writeMesh(meshExternal, true), 'external');

  const appPort = await freePort();
  const app: ChildProcess = spawn(process.execPath, ['--input-type=module', '-e', APP_SOURCE], {
    env: { PORT: String(appPort) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const appExited = new Promise<void>((resolve) => app.once('exit', () => resolve()));
  defer(async () => {
    if (app.exitCode === null && app.signalCode === null) app.kill();
    await appExited;
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the app did not start within 10 s')), 10_000);
    app.once('message', () => {
      clearTimeout(timer);
      resolve();
    });
  });

  const serverCheck = await startCheckServer(
    [meshExternal, 'tls', pem('parley.crt'), pem('parley.key'), pem('bundle.crt')],
    defer,
  );
  const agentSocket = join(dir.path, 'agent.sock');
  const agentCheck = await startCheckServer([meshExternal, `unix:${agentSocket}`], defer);

  const paths: Path[] = [];
  const envoys: Envoy[] = [];
  const pathOf = async (
    id: PathId,
    filters: readonly HttpFilterConfig[],
    check?: { endpoint: CheckEndpoint; daemon: Daemon },
  ) => {
    if (!PATHS.has(id)) return;
    const [front, back] = [await freePort(), await freePort()];
    const server = await startEnvoy({
      dir: dir.path,
      name: `${id}-server`,
      bootstrap: serverSidecar(back, appPort, serverTls, filters, check?.endpoint),
      concurrency: 1,
    });
    defer(() => server.stop());
    envoys.push(server);
    const client = await startEnvoy({
      dir: dir.path,
      name: `${id}-client`,
      bootstrap: clientSidecar(front, back, clientTls),
      concurrency: 1,
    });
    defer(() => client.stop());
    envoys.push(client);
    const agent = new Agent({ keepAlive: true, maxSockets: 256 });
    defer(() => agent.destroy());
    paths.push({
      id,
      port: front,
      agent,
      server,
      ...(check !== undefined && { check: check.daemon }),
      windows: new Map(RATES.map((r) => [r, []])),
    });
  };
  await pathOf('none', []);
  await pathOf('rbac', rbacFilters);
  await pathOf('ext-server', [extAuthzFilter({ clusterName: CHECK_CLUSTER.server })], {
    endpoint: { kind: 'server', port: serverCheck.port },
    daemon: serverCheck.daemon,
  });
  await pathOf('ext-agent', [extAuthzFilter({ clusterName: CHECK_CLUSTER.agent })], {
    endpoint: { kind: 'agent', socket: agentSocket },
    daemon: agentCheck.daemon,
  });

  // CPU time of this benchmark's processes: itself, the app, the Check servers and the Envoys.
  const pids = [
    app.pid,
    serverCheck.daemon.pid,
    agentCheck.daemon.pid,
    ...envoys.map((e) => e.pid),
  ].filter((pid): pid is number => pid !== undefined);
  const ours = () => {
    const self = process.cpuUsage();
    return (
      (self.user + self.system) / 1e6 + pids.reduce((n, pid) => n + processStats(pid).cpuSeconds, 0)
    );
  };

  console.log(
    `bench/authz-dataplane: client → client sidecar → (SPIFFE mTLS) → server sidecar → app; ` +
      `Envoy 1.40 --concurrency 1; ${RATES.join(' and ')} req/s, ${ROUNDS} interleaved rounds ` +
      `of ${SECONDS} s per path and rate (${RAMP_SECONDS} s ramp each, ${WARMUP} s warm-up per path first); node ${process.version}, ` +
      `${availableParallelism()} CPUs`,
  );
  console.log(
    `policies: DENY policy (4 rules), ALLOW policy (20 rules), defaultAction DENY; native RBAC: ` +
      `${rbacFilters.length} RBAC filters; ext_authz: the DENY policy marked external`,
  );
  await sanityCheck(paths);
  console.log(
    `sanity: ${PROBES.length} requests per path (${PROBES.filter((p) => p.status === 403).length} ` +
      `denied by policy) answered as expected: 403 with policies, 200 on the baseline`,
  );
  const top = Math.max(...RATES);
  for (const p of paths) await openLoopLoad(p.port, top, WARMUP, p.agent);

  for (let round = 0; round < ROUNDS; round++) {
    // Alternate the order, so drift (other work on the machine) hits every path alike.
    const order = round % 2 === 0 ? paths : [...paths].reverse();
    for (const rate of RATES) {
      for (const p of order) {
        await openLoopLoad(p.port, rate, RAMP_SECONDS, p.agent);
        const check = () => (p.check === undefined ? 0 : processStats(p.check.pid).cpuSeconds);
        const sidecar = () => processStats(p.server.pid).cpuSeconds;
        const cpu = () => [check(), sidecar(), ours(), machineBusySeconds()] as const;
        const [check0, sidecar0, ours0, machine0] = cpu();
        const w = await openLoopLoad(p.port, rate, SECONDS, p.agent);
        const [check1, sidecar1, ours1, machine1] = cpu();
        p.windows.get(rate)?.push({
          ...w,
          checkCpuSeconds: check1 - check0,
          sidecarCpuSeconds: sidecar1 - sidecar0,
          oursCpuSeconds: ours1 - ours0,
          otherCpuSeconds: machine1 - machine0 - (ours1 - ours0),
        });
      }
    }
  }

  const base = paths.find((p) => p.id === 'none');
  if (base === undefined) throw new Error('no baseline');
  const stat = (p: Path, rate: number, f: (w: Window) => number) =>
    median((p.windows.get(rate) ?? []).map(f));
  const p50 = (p: Path, rate: number) => stat(p, rate, (w) => percentile(w.latencies, 50));
  const p99 = (p: Path, rate: number) => stat(p, rate, (w) => percentile(w.latencies, 99));
  const added = (p: Path, rate: number, f: typeof p50) => f(p, rate) - f(base, rate);
  const perRequest = (p: Path, rate: number, f: (w: Window) => number) =>
    stat(p, rate, (w) => (1e6 * f(w)) / (rate * SECONDS));
  const sidecarCpu = (p: Path, rate: number) => perRequest(p, rate, (w) => w.sidecarCpuSeconds);
  /** How much the baseline's p99 varies between rounds: the resolution of a p99 difference. */
  const spread = (rate: number) => {
    const xs = (base.windows.get(rate) ?? []).map((w) => percentile(w.latencies, 99));
    return `baseline p99 ${ms(Math.min(...xs))}–${ms(Math.max(...xs))} ms over rounds`;
  };

  console.log('');
  console.log(
    [
      'path'.padEnd(24),
      'rate'.padStart(5),
      'p50 ms'.padStart(8),
      'p99 ms'.padStart(8),
      '+p50 ms'.padStart(8),
      '+p99 ms'.padStart(8),
      'errors'.padStart(7),
      'sidecar µs/req'.padStart(14),
      'Check µs/req'.padStart(12),
      'bench load'.padStart(10),
      'other load'.padStart(10),
      '  p99 by round (ms)',
    ].join(' '),
  );
  for (const rate of RATES) {
    for (const p of paths) {
      const ws = p.windows.get(rate) ?? [];
      const errors = ws.reduce((n, w) => n + w.non2xx + w.failed, 0);
      const checkCpu =
        p.check === undefined ? '-' : perRequest(p, rate, (w) => w.checkCpuSeconds).toFixed(0);
      const load = stat(p, rate, (w) => w.oursCpuSeconds / SECONDS);
      const other = stat(p, rate, (w) => w.otherCpuSeconds / SECONDS);
      console.log(
        [
          LABELS[p.id].padEnd(24),
          String(rate).padStart(5),
          ms(p50(p, rate)).padStart(8),
          ms(p99(p, rate)).padStart(8),
          (p === base ? '-' : ms(added(p, rate, p50))).padStart(8),
          (p === base ? '-' : ms(added(p, rate, p99))).padStart(8),
          String(errors).padStart(7),
          sidecarCpu(p, rate).toFixed(0).padStart(14),
          checkCpu.padStart(12),
          load.toFixed(2).padStart(10),
          other.toFixed(2).padStart(10),
          `  ${ws.map((w) => ms(percentile(w.latencies, 99))).join(', ')}`,
        ].join(' '),
      );
    }
  }

  for (const p of paths) {
    for (const rate of RATES) {
      const ws = (p.windows.get(rate) ?? []).filter((w) => w.non2xx + w.failed > 0);
      if (ws.length === 0) continue;
      const non2xx = ws.reduce((n, w) => n + w.non2xx, 0);
      const failed = ws.reduce((n, w) => n + w.failed, 0);
      console.log(
        `  ${LABELS[p.id]} at ${rate} req/s: ${non2xx} non-2xx, ${failed} without an answer ` +
          `(first: ${ws[0]?.firstError ?? '?'})`,
      );
    }
  }

  // The server sidecars' own counts: the filters decided the load (and nothing failed open).
  console.log('');
  for (const p of paths) {
    if (p.id === 'none') continue;
    const c =
      p.id === 'rbac'
        ? await counters(p.server, '^http\\.inbound\\.rbac\\.parley_allow_')
        : await counters(p.server, '^http\\.inbound\\.ext_authz\\.');
    const fields = Object.entries(c)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
    console.log(
      `${LABELS[p.id]}: server sidecar ${p.id === 'rbac' ? 'RBAC' : 'ext_authz'}: ${fields}`,
    );
  }

  console.log('');
  for (const rate of RATES) {
    const rbac = paths.find((p) => p.id === 'rbac');
    if (rbac === undefined) continue;
    const a = added(rbac, rate, p99);
    const cpu = sidecarCpu(rbac, rate) - sidecarCpu(base, rate);
    console.log(
      `native RBAC adds ${ms(a)} ms p99 at ${rate} req/s (target ≤ ${TARGET_RBAC_P99_MS} ms: ` +
        `${a <= TARGET_RBAC_P99_MS ? 'met' : 'NOT met'}; ${spread(rate)}); server sidecar CPU ` +
        `${cpu >= 0 ? '+' : ''}${cpu.toFixed(0)} µs/req`,
    );
  }
  if (!RATES.includes(TARGET_EXT_AUTHZ_RATE)) {
    console.log(
      `ext_authz target: not measured (${TARGET_EXT_AUTHZ_RATE} req/s not in BENCH_RATES)`,
    );
    return;
  }
  for (const p of paths) {
    if (!p.id.startsWith('ext-')) continue;
    const a = added(p, TARGET_EXT_AUTHZ_RATE, p99);
    console.log(
      `${LABELS[p.id]} adds ${ms(a)} ms p99 at ${TARGET_EXT_AUTHZ_RATE} req/s (path p99 ` +
        `${ms(p99(p, TARGET_EXT_AUTHZ_RATE))} ms; target ≤ ${TARGET_EXT_AUTHZ_P99_MS} ms added: ` +
        `${a <= TARGET_EXT_AUTHZ_P99_MS ? 'met' : 'NOT met'}; ${spread(TARGET_EXT_AUTHZ_RATE)})`,
    );
  }
});

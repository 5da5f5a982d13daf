// bench/authz-check: decisions per second and p50/p99 latency of envoy.service.auth.v3.Authorization/
// Check with 1,000 ALLOW rules and 4 DENY rules (bench/src/authz/rule-set.ts), every target a separate
// process on 127.0.0.1 driven by the same Go load generator (bench/go/authz-load: grpc-go, BENCH_CONNS
// HTTP/2 connections with BENCH_STREAMS calls in flight on each) with the same request stream:
//   - no-op: a grpc-js Check server that answers OK at once (the limit);
//   - Parley: Parley's Check service (@parley/authz) over the policy parsed from mesh config YAML;
//   - OPA REST: OPA v1.22.2 (`opa run --server`) with the equivalent Rego policy, POST /v1/data/...
//     with the CheckRequest as input (OPA's Envoy plugin is not served by the Go module proxy here;
//     REST goes over BENCH_CONNS × BENCH_STREAMS keep-alive HTTP/1.1 connections);
//   - OPA gRPC: the same Rego evaluated by OPA v1.22.2's Go library behind a grpc-go Check server in
//     authz-load (what the plugin does, minus its logging and metrics).
// Before measuring, the decisions of every target on a sample of requests are compared with each
// other and with the expected ones. Targets alternate over BENCH_ROUNDS rounds of BENCH_WARMUP +
// BENCH_SECONDS each; figures are medians over rounds. Targets (issue 6): Parley ≥ OPA's throughput
// and ≥ 60% of the no-op server's. BENCH_TARGETS=noop,parley,opa-rest,opa-grpc picks targets.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import {
  type Daemon,
  cacheDir,
  freePort,
  httpOk,
  makeTempDir,
  readyOrStop,
  startDaemon,
} from '@parley/testing';
import { processStats } from '../process-stats.js';
import { median, runBench } from '../run-bench.js';
import {
  type BenchRequest,
  REGO_QUERY,
  REGO_REST_PATH,
  benchRequests,
  policyRego,
  policyYaml,
} from './rule-set.js';

/** A positive number from the environment variable `name`, or `fallback`. */
function setting(name: string, fallback: number): number {
  const raw = process.env[name];
  const n = raw === undefined ? fallback : Number(raw);
  if (!(n > 0) || !Number.isFinite(n)) throw new Error(`${name} must be a positive number`);
  return n;
}

const RULES = Math.round(setting('BENCH_RULES', 1000));
const SECONDS = setting('BENCH_SECONDS', 5);
const WARMUP = setting('BENCH_WARMUP', 2);
const ROUNDS = Math.round(setting('BENCH_ROUNDS', 3));
const CONNS = Math.round(setting('BENCH_CONNS', 4));
const STREAMS = Math.round(setting('BENCH_STREAMS', 16));
const STREAM_LENGTH = 4096;
const SAMPLE = 1000;

const OPA_VERSION = '1.22.2';
const OPA = join(cacheDir, `opa-v${OPA_VERSION}`, 'bin', 'opa');
const LOADER = join(cacheDir, 'bin', 'authz-load');
const execFileAsync = promisify(execFile);

type TargetId = 'noop' | 'parley' | 'opa-rest' | 'opa-grpc';
const ALL: readonly TargetId[] = ['noop', 'parley', 'opa-rest', 'opa-grpc'];
const LABELS: Record<TargetId, string> = {
  noop: 'no-op Check (grpc-js)',
  parley: 'Parley Check (grpc-js)',
  'opa-rest': `OPA ${OPA_VERSION} REST`,
  'opa-grpc': `OPA ${OPA_VERSION} lib, grpc-go`,
};

interface Target {
  readonly id: TargetId;
  /** grpc://HOST:PORT or the REST decision URL. */
  readonly url: string;
  readonly daemon: Daemon;
}

/** What `authz-load load` prints, plus the target's CPU use while measured. */
interface Window {
  readonly decisions: number;
  readonly perSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly allowed: number;
  readonly denied: number;
  readonly errors: number;
  readonly firstError?: string;
  readonly inFlight: number;
  readonly loaderCpuSeconds: number;
  readonly seconds: number;
  serverCores: number;
}

/** Starts a process that prints {"port": N} on its first stdout line; resolves to that port. */
async function startAnnouncing(
  what: string,
  command: string,
  args: readonly string[],
): Promise<{ daemon: Daemon; port: number }> {
  const daemon = startDaemon(command, args);
  let port = 0;
  await readyOrStop(daemon, `${what} to listen`, () => {
    const m = /\{"port":\s*(\d+)\}/.exec(daemon.log());
    port = m?.[1] === undefined ? 0 : Number(m[1]);
    return Promise.resolve(port > 0);
  });
  return { daemon, port };
}

async function startTarget(id: TargetId, dir: string): Promise<Target> {
  const here = import.meta.dirname;
  switch (id) {
    case 'noop':
    case 'parley': {
      const script = join(here, `${id}-check-server.js`);
      const args = id === 'parley' ? [script, join(dir, 'mesh')] : [script];
      const { daemon, port } = await startAnnouncing(LABELS[id], process.execPath, args);
      return { id, url: `grpc://127.0.0.1:${port}`, daemon };
    }
    case 'opa-grpc': {
      const args = [
        'opa-check-server',
        '--policy',
        join(dir, 'policy.rego'),
        '--query',
        REGO_QUERY,
      ];
      const { daemon, port } = await startAnnouncing(LABELS[id], LOADER, args);
      return { id, url: `grpc://127.0.0.1:${port}`, daemon };
    }
    case 'opa-rest': {
      const port = await freePort();
      const daemon = startDaemon(OPA, [
        'run',
        '--server',
        '--addr',
        `127.0.0.1:${port}`,
        '--skip-version-check',
        '--log-level',
        'error',
        join(dir, 'policy.rego'),
      ]);
      await readyOrStop(daemon, 'OPA to listen', () => httpOk(`http://127.0.0.1:${port}/health`));
      return { id, url: `http://127.0.0.1:${port}${REGO_REST_PATH}`, daemon };
    }
  }
}

/** Runs authz-load and parses its one JSON line. */
async function loader(args: readonly string[], timeoutMs: number): Promise<unknown> {
  const { stdout } = await execFileAsync(LOADER, [...args], {
    timeout: timeoutMs,
    maxBuffer: 16 * 1024 * 1024,
  });
  return JSON.parse(stdout) as unknown;
}

/** The decisions `target` makes on the requests of `file`, in order. */
async function decide(target: Target, file: string): Promise<string[]> {
  return (await loader(
    ['decide', '--target', target.url, '--requests', file],
    120_000,
  )) as string[];
}

/** One measured window against `target`, with the target's CPU use over the measured part. */
async function measure(target: Target, file: string): Promise<Window> {
  const run = loader(
    [
      'load',
      '--target',
      target.url,
      '--requests',
      file,
      '--conns',
      String(CONNS),
      '--streams',
      String(STREAMS),
      '--warmup',
      `${WARMUP}s`,
      '--duration',
      `${SECONDS}s`,
    ],
    (WARMUP + SECONDS + 30) * 1000,
  );
  // The loader measures from WARMUP s after it starts; sample the target's CPU time then and at the end.
  await new Promise((r) => setTimeout(r, WARMUP * 1000));
  const before = processStats(target.daemon.pid).cpuSeconds;
  const w = (await run) as Window;
  w.serverCores = (processStats(target.daemon.pid).cpuSeconds - before) / w.seconds;
  if (w.errors > 0) {
    throw new Error(`${LABELS[target.id]}: ${w.errors} calls failed, e.g. ${w.firstError ?? '?'}`);
  }
  return w;
}

/** Throws unless every target decides every sampled request as expected (the no-op allows all). */
async function checkAgreement(
  targets: readonly Target[],
  sample: readonly BenchRequest[],
  file: string,
) {
  const problems: string[] = [];
  for (const t of targets) {
    const got = await decide(t, file);
    const wanted = t.id === 'noop' ? sample.map(() => 'allow') : sample.map((r) => r.expected);
    const wrong = sample.flatMap((r, i) => (got[i] === wanted[i] ? [] : [{ r, got: got[i] }]));
    if (wrong.length > 0) {
      problems.push(
        `${LABELS[t.id]}: ${wrong.length} of ${sample.length} decisions differ, e.g. ` +
          wrong
            .slice(0, 3)
            .map(
              ({ r, got: g }) =>
                `${r.method} ${r.path} from ${r.principal} (${r.kind}): ${g ?? 'none'}, expected ${r.expected}`,
            )
            .join('; '),
      );
    }
  }
  if (problems.length > 0) throw new Error(`the targets do not agree:\n${problems.join('\n')}`);
}

await runBench('bench/authz-check', 5 * 60_000, async (defer) => {
  for (const [bin, what] of [
    [OPA, 'OPA'],
    [LOADER, 'authz-load'],
  ] as const) {
    if (!existsSync(bin))
      throw new Error(`${what} is missing at ${bin}: run scripts/install-opa.sh`);
  }
  const ids = (process.env['BENCH_TARGETS']?.split(',') ?? ALL).map((s) => {
    if (!(ALL as readonly string[]).includes(s)) throw new Error(`unknown target ${s}`);
    return s as TargetId;
  });

  const dir = await makeTempDir('parley-bench-authz-');
  defer(() => dir.remove());
  for (const f of policyYaml(RULES)) {
    const path = join(dir.path, 'mesh', f.path);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, f.text);
  }
  await writeFile(join(dir.path, 'policy.rego'), policyRego(RULES));
  const stream = benchRequests(RULES, STREAM_LENGTH);
  const sample = benchRequests(RULES, SAMPLE, 7);
  const streamFile = join(dir.path, 'stream.json');
  const sampleFile = join(dir.path, 'sample.json');
  await writeFile(streamFile, JSON.stringify(stream));
  await writeFile(sampleFile, JSON.stringify(sample));

  const targets: Target[] = [];
  for (const id of ids) {
    const t = await startTarget(id, dir.path);
    defer(() => t.daemon.stop());
    targets.push(t);
  }
  const allowed = stream.filter((r) => r.expected === 'allow').length;
  console.log(
    `bench/authz-check: ${RULES} ALLOW rules + 4 DENY rules, ${STREAM_LENGTH} requests cycled ` +
      `(${((100 * allowed) / stream.length).toFixed(0)}% allowed), ${CONNS} connections × ${STREAMS} ` +
      `calls in flight, ${ROUNDS} rounds of ${WARMUP}s warm-up + ${SECONDS}s per target; ` +
      `node ${process.version}, ${availableParallelism()} CPUs`,
  );
  await checkAgreement(targets, sample, sampleFile);
  console.log(
    `decisions agree: ${targets.map((t) => LABELS[t.id]).join(', ')} on ${SAMPLE} sampled requests`,
  );
  console.log('');

  const windows = new Map<TargetId, Window[]>(ids.map((id) => [id, []]));
  for (let round = 0; round < ROUNDS; round++) {
    // Alternate the order, so drift (thermal, other work) hits every target alike.
    const order = round % 2 === 0 ? targets : [...targets].reverse();
    for (const t of order) windows.get(t.id)?.push(await measure(t, streamFile));
  }

  const med = (id: TargetId, f: (w: Window) => number) => median((windows.get(id) ?? []).map(f));
  const rate = (id: TargetId) => med(id, (w) => w.perSecond);
  const noop = ids.includes('noop') ? rate('noop') : undefined;
  console.log(
    [
      'target'.padEnd(26),
      'decisions/s'.padStart(12),
      'p50 ms'.padStart(8),
      'p99 ms'.padStart(8),
      'vs no-op'.padStart(9),
      'server cores'.padStart(13),
      'loader cores'.padStart(13),
      '  rounds (decisions/s)',
    ].join(' '),
  );
  for (const id of ids) {
    const ws = windows.get(id) ?? [];
    console.log(
      [
        LABELS[id].padEnd(26),
        rate(id).toFixed(0).padStart(12),
        med(id, (w) => w.p50Ms)
          .toFixed(2)
          .padStart(8),
        med(id, (w) => w.p99Ms)
          .toFixed(2)
          .padStart(8),
        (noop === undefined ? '-' : `${((100 * rate(id)) / noop).toFixed(0)}%`).padStart(9),
        med(id, (w) => w.serverCores)
          .toFixed(2)
          .padStart(13),
        med(id, (w) => w.loaderCpuSeconds / w.seconds)
          .toFixed(2)
          .padStart(13),
        `  ${ws.map((w) => w.perSecond.toFixed(0)).join(', ')}`,
      ].join(' '),
    );
  }
  console.log('');
  if (ids.includes('parley')) {
    const parley = rate('parley');
    for (const opa of ['opa-rest', 'opa-grpc'] as const) {
      if (!ids.includes(opa)) continue;
      const ratio = parley / rate(opa);
      console.log(
        `Parley vs ${LABELS[opa]}: ${ratio.toFixed(2)}× decisions/s, p99 ` +
          `${med('parley', (w) => w.p99Ms).toFixed(2)} vs ${med(opa, (w) => w.p99Ms).toFixed(2)} ms ` +
          `(target ≥ 1×: ${ratio >= 1 ? 'met' : 'NOT met'})`,
      );
    }
    if (noop !== undefined) {
      const share = parley / noop;
      console.log(
        `Parley vs no-op: ${(100 * share).toFixed(0)}% of the limit (target ≥ 60%: ` +
          `${share >= 0.6 ? 'met' : 'NOT met'})`,
      );
    }
  }
});

// bench/workload-fanout: time from an X509-SVID rotation to the last open FetchX509SVID stream's
// update, with 1,000 streams spread over 10 HTTP/2 connections; baseline: the same measurement
// with one stream, in the same run.
//
// A real `parley server run` signs; the agent runs in this process — AgentManager (attested with
// a join token, its real SvidCache), the Workload API service and the Unix socket listener with
// peer-credential workload attestation, composed as `parley agent run` composes them — so the
// rotation instant is observed exactly: it is when the new SVID enters the cache. The streams
// live in a separate client process (workload-fanout-streams.js) that stamps each arrival with
// wall-clock time. A rotation is triggered as an operator would: `parley entry update` changes
// the entry (its X.509 TTL), and the agent's next sync (run here at once, as its loop would)
// re-mints the SVID.
import { createHash } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Server } from '@grpc/grpc-js';
import {
  AgentManager,
  attestCaller,
  createWorkloadApiService,
  createWorkloadAttestors,
  listenUnixGrpc,
} from '@parley/agent';
import { loadWorkloadApi } from '@parley/api';
import {
  decodePemBlocks,
  parseDuration,
  parseSpiffeId,
  parseTrustDomain,
  systemClock,
} from '@parley/core';
import { makeTempDir } from '@parley/testing';
import { forkClient } from './client-process.js';
import { startParleyServer } from './parley-server.js';
import { median, runBench } from './run-bench.js';

const STREAMS = Number(process.env['BENCH_STREAMS'] ?? 1000);
const CONNECTIONS = Number(process.env['BENCH_CONNECTIONS'] ?? 10);
const ROTATIONS = 5;
const STREAMS_SCRIPT = join(import.meta.dirname, 'workload-fanout-streams.js');

/** Wall-clock milliseconds with sub-millisecond precision, comparable across processes. */
const now = () => performance.timeOrigin + performance.now();

type ClientMessage =
  | { type: 'ready'; streams: number }
  | { type: 'arrived'; times: (number | null)[] }
  | { type: 'error'; message: string };

/** One rotation as the streams saw it, in ms after the SVID entered the cache. */
interface Rotation {
  readonly first: number;
  readonly p50: number;
  readonly last: number;
  /** Streams that never received the new SVID within the timeout. */
  readonly missing: number;
  /** From the agent's sync (after the entry update) to the new SVID in its cache. */
  readonly remintMs: number;
}

await runBench('bench/workload-fanout', 5 * 60_000, async (defer) => {
  const dir = await makeTempDir('parley-bench-fanout-');
  defer(() => dir.remove());
  await mkdir(join(dir.path, 'server'));
  const server = await startParleyServer(join(dir.path, 'server'));
  defer(() => server.stop());

  const uid = process.getuid?.() ?? 0;
  const { token, agentSpiffeId } = await server.joinToken();
  const [entryId] = await server.createEntries([
    {
      spiffeId: `spiffe://${server.trustDomain}/bench/fanout`,
      parentId: agentSpiffeId,
      selectors: [{ type: 'unix', value: `uid:${uid}` }],
      x509SvidTtl: 3600,
    },
  ]);
  if (entryId === undefined) throw new Error('no entry created');

  // The agent, composed as `parley agent run` does (cli/src/agent/run-agent.ts).
  const agentLog: string[] = [];
  const manager = await AgentManager.start({
    trustDomain: parseTrustDomain(server.trustDomain),
    serverAddress: server.agentApiAddress,
    serverId: parseSpiffeId(`spiffe://${server.trustDomain}/parley/server`),
    bootstrapRoots: decodePemBlocks(
      await server.admin('bundle', 'show', '-o', 'pem'),
      'CERTIFICATE',
    ),
    dataDir: join(dir.path, 'agent'),
    attestation: {
      type: 'join_token',
      payload: async () => Buffer.from(token),
      answer: () => Promise.reject(new Error('join_token takes no challenge')),
    },
    syncInterval: parseDuration('5s'),
    clock: systemClock,
    log: (message, fields) => agentLog.push(`${message} ${JSON.stringify(fields ?? {})}`),
  });
  await manager.tick();
  if (manager.cache.svids.get(entryId) === undefined)
    throw new Error(`the agent holds no SVID for the entry: ${agentLog.join('\n')}`);
  // The agent's default attestor settings (cli/src/agent/agent-config.ts).
  const attestors = createWorkloadAttestors({
    unix: { discoverWorkloadPath: true, workloadSizeLimit: 512 * 1024 * 1024 },
  });
  const grpc = new Server();
  grpc.addService(
    loadWorkloadApi().SpiffeWorkloadAPI.service,
    createWorkloadApiService({
      identify: (call) => attestCaller(call, attestors),
      cache: manager.cache,
      clock: systemClock,
      log: {
        warn: (m, f) => agentLog.push(`warn ${m} ${JSON.stringify(f ?? {})}`),
        error: (m, f) => agentLog.push(`error ${m} ${JSON.stringify(f ?? {})}`),
      },
    }),
  );
  const socket = join(dir.path, 'agent.sock');
  const listener = await listenUnixGrpc(grpc, socket);
  defer(async () => {
    grpc.forceShutdown();
    await listener.close();
  });

  let ttl = 3600;
  /** Changes the entry, syncs, and resolves with when the new SVID entered the cache. */
  const rotate = async (): Promise<{ at: number; remintMs: number; svidHash: string }> => {
    ttl = ttl === 3600 ? 3601 : 3600;
    await server.admin('entry', 'update', '--id', entryId, '--x509-ttl', String(ttl));
    const before = manager.cache.svids.get(entryId);
    const ticked = now();
    let at: number | undefined;
    const unsubscribe = manager.cache.subscribe(() => {
      if (at === undefined && manager.cache.svids.get(entryId) !== before) at = now();
    });
    try {
      // The server reuses an agent's authorized entries for up to ENTRY_CACHE_MS, so the change
      // may take a few ticks to arrive; the fan-out is measured from when the new SVID is cached.
      for (let i = 0; i < 40 && at === undefined; i++) {
        await manager.tick();
        if (at === undefined) await new Promise((r) => setTimeout(r, 100));
      }
    } finally {
      unsubscribe();
    }
    const held = manager.cache.svids.get(entryId);
    if (at === undefined || held === undefined || held === before)
      throw new Error(`the agent did not rotate the SVID: ${agentLog.slice(-5).join('\n')}`);
    return {
      at,
      remintMs: at - ticked,
      svidHash: createHash('sha256').update(Buffer.concat(held.certChain)).digest('hex'),
    };
  };

  /** Opens `streams` streams, rotates ROTATIONS (+1 warm-up) times, closes them. */
  const phase = async (streams: number, connections: number): Promise<Rotation[]> => {
    const client = forkClient<ClientMessage>(
      'stream client',
      STREAMS_SCRIPT,
      [socket, String(streams), String(connections)],
      defer,
    );
    const stop = () => client.stop();
    const next = (what: string, timeoutMs: number) => client.next(what, timeoutMs);
    const opened = performance.now();
    const ready = await next(`${streams} streams to open`, 120_000);
    if (ready.type !== 'ready') throw new Error(`unexpected ${ready.type}`);
    const openMs = performance.now() - opened;
    const rotations: Rotation[] = [];
    for (let i = 0; i <= ROTATIONS; i++) {
      const { at, remintMs, svidHash } = await rotate();
      client.send({ type: 'await', svidHash, timeoutMs: 10_000 });
      const arrived = await next('the streams to receive the rotated SVID', 30_000);
      if (arrived.type !== 'arrived') throw new Error(`unexpected ${arrived.type}`);
      const times = arrived.times.filter((t): t is number => t !== null).map((t) => t - at);
      times.sort((a, b) => a - b);
      if (i > 0)
        rotations.push({
          first: times[0] ?? NaN,
          p50: times[Math.floor(times.length / 2)] ?? NaN,
          last: times[times.length - 1] ?? NaN,
          missing: arrived.times.length - times.length,
          remintMs,
        });
    }
    await stop();
    console.log(
      `${String(streams).padStart(5)} stream(s) on ${Math.min(connections, streams)} connection(s): ` +
        `opened and served in ${openMs.toFixed(0)} ms; rotation → last update per rotation: ` +
        rotations.map((r) => r.last.toFixed(1)).join(', ') +
        ' ms',
    );
    return rotations;
  };

  console.log(
    `bench/workload-fanout: ${STREAMS} FetchX509SVID streams over ${CONNECTIONS} connections vs 1 stream; ` +
      `${ROTATIONS} rotations each (after one warm-up); node ${process.version}, ${availableParallelism()} CPUs`,
  );
  const baseline = await phase(1, 1);
  const fanned = await phase(STREAMS, CONNECTIONS);
  for (const [name, rs] of [
    ['1 stream', baseline],
    [`${STREAMS} streams`, fanned],
  ] as const) {
    const missing = rs.reduce((a, r) => a + r.missing, 0);
    if (missing > 0) throw new Error(`${name}: ${missing} stream updates never arrived`);
  }
  const last = (rs: Rotation[]) => median(rs.map((r) => r.last));
  console.log('');
  console.log(
    `baseline, 1 stream:      rotation → update ${last(baseline).toFixed(1)} ms (median of ${ROTATIONS}; ` +
      `max ${Math.max(...baseline.map((r) => r.last)).toFixed(1)} ms)`,
  );
  console.log(
    `${`${STREAMS} streams:`.padEnd(25)}rotation → first ${median(fanned.map((r) => r.first)).toFixed(1)} ms, ` +
      `p50 ${median(fanned.map((r) => r.p50)).toFixed(1)} ms, last ${last(fanned).toFixed(1)} ms ` +
      `(median of ${ROTATIONS}; max ${Math.max(...fanned.map((r) => r.last)).toFixed(1)} ms)`,
  );
  console.log(
    `(the agent's sync + re-mint before each rotation: median ` +
      `${median([...baseline, ...fanned].map((r) => r.remintMs)).toFixed(1)} ms, not counted above)`,
  );
  console.log(
    `ratio ${STREAMS} streams / 1 stream: ${(last(fanned) / last(baseline)).toFixed(1)}×; ` +
      `target: last update < 1000 ms: ${Math.max(...fanned.map((r) => r.last)) < 1000 ? 'met' : 'NOT met'}`,
  );
});

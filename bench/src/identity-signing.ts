// bench/identity-signing: X509-SVIDs signed per second over the agent API — BatchNewX509SVID with
// CSRs made beforehand — by a real `parley server run`, side by side with a real spire-server
// v1.13.3 doing the same work on the same machine in the same run (the baseline).
//
// Both servers: SQLite store, P-256 CA key in a memory key manager, N entries (1 h X509-SVIDs)
// parented to an agent attested with a join token; one P-256 key and CSR per entry generated
// before any timing; one signed SVID checked against the bundle before timing. Parley is driven
// by @parley/agent's ServerClient (the agent's own client) from this process; SPIRE by
// bench/peers/spire-signer (Go, spire-api-sdk: AttestAgent, GetAuthorizedEntries,
// BatchNewX509SVID) over one mTLS connection with the agent SVID it attested for. Each figure is
// measured in rounds that alternate between the two servers; the medians are reported, and the
// ratio is the median of the per-round ratios. Server CPU time comes from /proc, so SVIDs per
// server CPU-second compare the servers' work independently of how many cores each one uses.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { createPublicKey } from 'node:crypto';
import { ServerClient } from '@parley/agent';
import {
  bundleSet,
  decodePemBlocks,
  generateKey,
  keyObjectSigner,
  mintCertificateRequest,
  parseBundle,
  parseCertificate,
  parseSpiffeId,
  parseTrustDomain,
  systemClock,
  verifyX509Svid,
} from '@parley/core';
import { cacheDir, makeTempDir } from '@parley/testing';
import { type EntryInput, startParleyServer } from './parley-server.js';
import { processStats } from './process-stats.js';
import { median, runBench } from './run-bench.js';
import { startSpireServer } from './spire-server.js';

const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 3);
const ENTRIES = Number(process.env['BENCH_ENTRIES'] ?? 1000);
const ROUNDS = 3;
/** Batch size × batches in flight: one agent's sequential batches, then several at once. */
const CONFIGS = [
  { batch: 50, inFlight: 1 },
  { batch: 500, inFlight: 1 },
  { batch: 500, inFlight: 4 },
] as const;
const TTL_SECONDS = 3600;

/** One timed window on one side. */
interface Window {
  readonly svids: number;
  readonly errors: number;
  readonly seconds: number;
  readonly serverCpu: number;
  readonly clientCpu: number;
  readonly firstError?: string;
}

const rate = (w: Window) => w.svids / w.seconds;

/** A side of the comparison: runs a timed window of `batch` × `inFlight` for `ms`. */
type Side = (batch: number, inFlight: number, ms: number) => Promise<Window>;

const SIGNER = join(cacheDir, 'bin', 'spire-signer');

await runBench('bench/identity-signing', 10 * 60_000, async (defer) => {
  if (!existsSync(SIGNER))
    throw new Error(`${SIGNER} is missing: run scripts/install-bench-peers.sh`);
  const dir = await makeTempDir('parley-bench-signing-');
  defer(() => dir.remove());
  await mkdir(join(dir.path, 'parley'));
  await mkdir(join(dir.path, 'spire'));
  // One after the other, each stopped on the way out even when the next one fails to start.
  const parley = await startParleyServer(join(dir.path, 'parley'));
  defer(() => parley.stop());
  const spire = await startSpireServer(join(dir.path, 'spire'));
  defer(() => spire.stop());

  const parleySide = await setUpParley(parley);
  defer(() => parleySide.close());
  const spireSide = await setUpSpire(spire, dir.path);
  defer(() => spireSide.close());

  console.log(
    `bench/identity-signing: ${ENTRIES} entries, P-256 CA and CSR keys, ${TTL_SECONDS}s X509-SVIDs, ` +
      `${ROUNDS} alternating rounds of ${(SECONDS / ROUNDS).toFixed(1)}s per figure; node ${process.version}, ` +
      `spire-server ${spire.version}, ${availableParallelism()} CPUs`,
  );
  console.log(
    `CSRs made before timing: Parley side ${parleySide.csrMillis} ms, SPIRE side ${spireSide.csrMillis} ms`,
  );
  console.log('');
  const header = [
    'batch × in flight'.padEnd(18),
    'Parley SVIDs/s'.padStart(16),
    'spire SVIDs/s'.padStart(15),
    'ratio'.padStart(7),
    '| per server CPU-s: Parley'.padStart(26),
    'spire'.padStart(7),
    'ratio'.padStart(7),
    '| client CPU-s/1k SVIDs: node / go',
  ];
  console.log(header.join(' '));
  const summary: string[] = [];
  for (const { batch, inFlight } of CONFIGS) {
    const ms = (SECONDS * 1000) / ROUNDS;
    // Warm up both sides (JIT, connections, caches).
    await parleySide.run(batch, inFlight, 300);
    await spireSide.run(batch, inFlight, 300);
    const p: Window[] = [];
    const s: Window[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      // Alternate who goes first, so drift hits both alike.
      if (round % 2 === 0) {
        p.push(await parleySide.run(batch, inFlight, ms));
        s.push(await spireSide.run(batch, inFlight, ms));
      } else {
        s.push(await spireSide.run(batch, inFlight, ms));
        p.push(await parleySide.run(batch, inFlight, ms));
      }
    }
    for (const [who, ws] of [
      ['Parley', p],
      ['spire-server', s],
    ] as const) {
      const bad = ws.find((w) => w.errors > 0);
      if (bad !== undefined)
        throw new Error(`${who}: ${bad.errors} SVIDs failed, e.g. ${bad.firstError ?? '?'}`);
    }
    const ratio = median(p.map((w, i) => rate(w) / rate(s[i] ?? w)));
    const perCpu = (ws: Window[]) =>
      ws.reduce((a, w) => a + w.svids, 0) /
      Math.max(
        ws.reduce((a, w) => a + w.serverCpu, 0),
        0.01,
      );
    const clientPerK = (ws: Window[]) =>
      (ws.reduce((a, w) => a + w.clientCpu, 0) / ws.reduce((a, w) => a + w.svids, 0)) * 1000;
    const spread = (ws: Window[]) =>
      `${Math.min(...ws.map(rate)).toFixed(0)}..${Math.max(...ws.map(rate)).toFixed(0)}`;
    const pc = perCpu(p);
    const sc = perCpu(s);
    console.log(
      [
        `${String(batch).padStart(3)} × ${inFlight}`.padEnd(18),
        median(p.map(rate)).toFixed(0).padStart(16),
        median(s.map(rate)).toFixed(0).padStart(15),
        `${ratio.toFixed(2)}×`.padStart(7),
        pc.toFixed(0).padStart(26),
        sc.toFixed(0).padStart(7),
        `${(pc / sc).toFixed(2)}×`.padStart(7),
        `| ${clientPerK(p).toFixed(3)} / ${clientPerK(s).toFixed(3)}`,
      ].join(' '),
    );
    console.log(`${''.padEnd(18)} rounds: Parley ${spread(p)}, spire ${spread(s)}`);
    summary.push(
      `batch ${batch} × ${inFlight}: Parley ${median(p.map(rate)).toFixed(0)}/s vs spire-server ` +
        `${median(s.map(rate)).toFixed(0)}/s = ${ratio.toFixed(2)}× (target >= 2×: ${ratio >= 2 ? 'met' : 'NOT met'})`,
    );
  }
  console.log('');
  for (const line of summary) console.log(line);
});

/** Parley's side: agent attested with a join token, N entries, CSRs made, one SVID checked. */
async function setUpParley(parley: Awaited<ReturnType<typeof startParleyServer>>) {
  const td = parseTrustDomain(parley.trustDomain);
  const roots = decodePemBlocks(await parley.admin('bundle', 'show', '-o', 'pem'), 'CERTIFICATE');
  const { token, agentSpiffeId } = await parley.joinToken();
  const inputs: EntryInput[] = Array.from({ length: ENTRIES }, (_, i) => ({
    spiffeId: `spiffe://${parley.trustDomain}/bench/w${i}`,
    parentId: agentSpiffeId,
    selectors: [{ type: 'unix', value: `uid:${i}` }],
    x509SvidTtl: TTL_SECONDS,
  }));
  await parley.createEntries(inputs);
  const endpoint = {
    address: parley.agentApiAddress,
    serverId: parseSpiffeId(`spiffe://${parley.trustDomain}/parley/server`),
    roots,
  };
  const agentKey = generateKey('ec-p256');
  const bootstrap = new ServerClient(endpoint, undefined);
  const agentSvid = await bootstrap
    .attest(
      { type: 'join_token', payload: Buffer.from(token) },
      await mintCertificateRequest(keyObjectSigner(agentKey)),
      () => Promise.reject(new Error('join_token takes no challenge')),
    )
    .finally(() => bootstrap.close());
  const bundle = parseBundle(td, agentSvid.bundle);
  const client = new ServerClient(
    endpoint,
    {
      certChain: agentSvid.cert_chain,
      privateKeyPkcs8: agentKey.export({ type: 'pkcs8', format: 'der' }),
    },
    60_000,
  );
  const entries = (await client.sync(new Map())).changed
    .map((e) => ({ id: e.id, spiffeId: e.spiffe_id }))
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  if (entries.length !== ENTRIES)
    throw new Error(`Parley authorized ${entries.length} entries for the agent, not ${ENTRIES}`);

  const started = performance.now();
  const keys = entries.map(() => generateKey('ec-p256'));
  const csrs = await Promise.all(keys.map((k) => mintCertificateRequest(keyObjectSigner(k))));
  const csrMillis = Math.round(performance.now() - started);

  // Validate what is measured: the SVID chains to the bundle, names the entry, certifies the key.
  const [first] = await client.batchX509Svids([{ entryId: entries[0]!.id, csr: csrs[0]! }]);
  if (first === undefined || !first.ok)
    throw new Error(`Parley did not sign: ${JSON.stringify(first)}`);
  const verified = verifyX509Svid(first.certChain, bundleSet(bundle), systemClock);
  if (!verified.ok) throw new Error(`Parley's SVID does not verify: ${verified.reason}`);
  const leaf = parseCertificate(first.certChain[0]!);
  if (leaf.uris[0] !== entries[0]!.spiffeId) throw new Error('Parley SVID names another ID');
  const certified = createPublicKey({
    key: Buffer.from(leaf.subjectPublicKeyInfo),
    format: 'der',
    type: 'spki',
  });
  if (!certified.equals(createPublicKey(keys[0]!)))
    throw new Error('Parley SVID certifies another key');

  const run: Side = async (batch, inFlight, ms) => {
    let next = 0;
    let svids = 0;
    let errors = 0;
    let firstError: string | undefined;
    const server0 = processStats(parley.daemon.pid).cpuSeconds;
    const client0 = process.cpuUsage();
    const start = performance.now();
    const deadline = start + ms;
    await Promise.all(
      Array.from({ length: inFlight }, async () => {
        while (performance.now() < deadline) {
          const base = next;
          next += batch;
          const requests = Array.from({ length: batch }, (_, i) => {
            const k = (base + i) % entries.length;
            return { entryId: entries[k]!.id, csr: csrs[k]! };
          });
          try {
            for (const o of await client.batchX509Svids(requests)) {
              if (o.ok && o.certChain.length > 0) svids++;
              else {
                errors++;
                firstError ??= o.ok ? 'empty chain' : o.message;
              }
            }
          } catch (err) {
            errors += batch;
            firstError ??= (err as Error).message;
          }
        }
      }),
    );
    const seconds = (performance.now() - start) / 1000;
    const cpu = process.cpuUsage(client0);
    return {
      svids,
      errors,
      seconds,
      serverCpu: processStats(parley.daemon.pid).cpuSeconds - server0,
      clientCpu: (cpu.user + cpu.system) / 1e6,
      ...(firstError === undefined ? {} : { firstError }),
    };
  };
  return { run, csrMillis, close: () => client.close() };
}

/** SPIRE's side: spire-signer attests with a join token, waits for N entries, makes CSRs. */
async function setUpSpire(spire: Awaited<ReturnType<typeof startSpireServer>>, dir: string) {
  const bundleFile = join(dir, 'spire', 'bundle.pem');
  await writeFile(bundleFile, await spire.cli(['bundle', 'show']));
  const { token, agentSpiffeId } = await spire.joinToken();
  await spire.createEntries(
    Array.from({ length: ENTRIES }, (_, i) => ({
      spiffe_id: `spiffe://${spire.trustDomain}/bench/w${i}`,
      parent_id: agentSpiffeId,
      selectors: [{ type: 'unix', value: `uid:${i}` }],
      x509_svid_ttl: TTL_SECONDS,
    })),
  );
  const child = spawn(
    SIGNER,
    [
      '-server',
      spire.address,
      '-bundle',
      bundleFile,
      '-trust-domain',
      spire.trustDomain,
      '-join-token',
      token,
      '-entries',
      String(ENTRIES),
    ],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const nextLine = async (timeoutMs: number): Promise<Record<string, unknown>> => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`spire-signer silent for ${timeoutMs} ms`)),
        timeoutMs,
      );
    });
    try {
      const line = await Promise.race([lines.next(), timeout]);
      if (line.done === true) throw new Error(`spire-signer exited: ${stderr.trim()}`);
      return JSON.parse(line.value) as Record<string, unknown>;
    } finally {
      clearTimeout(timer);
    }
  };
  const close = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.stdin.end('quit\n');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }
  };
  try {
    const ready = await nextLine(120_000);
    if (ready['ready'] !== true || ready['entries'] !== ENTRIES)
      throw new Error(`spire-signer: unexpected ${JSON.stringify(ready)}`);
    const run: Side = async (batch, inFlight, ms) => {
      const server0 = processStats(spire.daemon.pid).cpuSeconds;
      child.stdin.write(`run ${batch} ${inFlight} ${Math.round(ms)}\n`);
      const r = await nextLine(ms + 120_000);
      return {
        svids: Number(r['svids']),
        errors: Number(r['errors']),
        seconds: Number(r['seconds']),
        serverCpu: processStats(spire.daemon.pid).cpuSeconds - server0,
        clientCpu: Number(r['cpuSeconds']),
        ...(typeof r['firstError'] === 'string' ? { firstError: r['firstError'] } : {}),
      };
    };
    return { run, csrMillis: Number(ready['csrMillis']), close };
  } catch (err) {
    await close();
    throw err;
  }
}

// bench/identity-memory: resident memory (VmRSS) of a real `parley agent run` holding 1,000
// X509-SVIDs — baseline: an agent of the same server with no entry, measured in the same run —
// and of a real `parley server run` holding 10,000 registration entries — baseline: a server
// with no entry, started alongside.
//
// The agent's SVIDs are checked through its Workload API by the go-spiffe oracle (every entry
// matches this process's uid, so one fetch returns all of them, each verified against the bundle)
// after the memory is read. RSS is the median of several samples after the process settled, as
// an operator's `ps` shows it: it includes heap V8 has not collected or given back yet. So the
// live JavaScript heap after a full collection (from a heap snapshot each process writes on a
// signal, taken after the RSS readings) is printed beside it: what the SVIDs or entries retain.
import { execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { findPeer, makeTempDir, waitFor } from '@parley/testing';
import { heapSnapshotFlags, liveHeapBytes } from './heap-snapshot.js';
import { startParleyAgent } from './parley-agent.js';
import { type EntryInput, type ParleyServer, startParleyServer } from './parley-server.js';
import { mib, processStats } from './process-stats.js';
import { median, runBench } from './run-bench.js';

const AGENT_SVIDS = Number(process.env['BENCH_AGENT_SVIDS'] ?? 1000);
const SERVER_ENTRIES = Number(process.env['BENCH_SERVER_ENTRIES'] ?? 10_000);
/** Entries are created 500 at a time, each lot signed before the next (a steady, bounded ramp). */
const AGENT_LOT = 500;
const MINTED = 'parley_identity_x509_svids_minted_total';
/** The agent's default sync interval (cli/src/agent/agent-config.ts). */
const SYNC_INTERVAL = '5s';

/** The medians of `samples` RSS readings of two processes, taken together `everyMs` apart. */
async function rssOf(a: number, b: number, samples = 7, everyMs = 400): Promise<[number, number]> {
  const ra: number[] = [];
  const rb: number[] = [];
  for (let i = 0; i < samples; i++) {
    if (i > 0) await new Promise((r) => setTimeout(r, everyMs));
    ra.push(processStats(a).rssBytes);
    rb.push(processStats(b).rssBytes);
  }
  return [median(ra), median(rb)];
}

const settle = (ms: number) => new Promise((r) => setTimeout(r, ms));

function entries(n: number, parentOf: (i: number) => string, selector: string): EntryInput[] {
  return Array.from({ length: n }, (_, i) => ({
    spiffeId: `spiffe://example.org/bench/${parentOf(i).split('/').pop()}/w${i}`,
    parentId: parentOf(i),
    selectors: [{ type: 'unix', value: selector }],
    x509SvidTtl: 3600,
  }));
}

/** Waits until the server's minted-SVID counter reaches `count`. */
async function mintedReaches(server: ParleyServer, count: number, log: () => string) {
  await waitFor(
    `${count} X509-SVIDs minted`,
    async () => (await server.metric(MINTED)) >= count,
    60_000,
    log,
  );
}

await runBench('bench/identity-memory', 5 * 60_000, async (defer) => {
  const dir = await makeTempDir('parley-bench-memory-');
  defer(() => dir.remove());
  for (const d of ['server', 'baseline-server', 'agent-empty', 'agent-full'])
    await mkdir(join(dir.path, d));
  const uid = process.getuid?.() ?? 0;
  console.log(
    `bench/identity-memory: agent with ${AGENT_SVIDS} X509-SVIDs vs agent with none; ` +
      `server with ${SERVER_ENTRIES} entries vs server with none; node ${process.version}, ` +
      `${availableParallelism()} CPUs`,
  );

  const snapshots = (name: string) => join(dir.path, 'snapshots', name);
  const server = await startParleyServer(join(dir.path, 'server'), {
    keyManager: 'disk',
    nodeArgs: heapSnapshotFlags(snapshots('server')),
  });
  defer(() => server.stop());
  const baselineServer = await startParleyServer(join(dir.path, 'baseline-server'), {
    keyManager: 'disk',
    nodeArgs: heapSnapshotFlags(snapshots('baseline-server')),
  });
  defer(() => baselineServer.stop());

  // Two agents of the same server: one with no entry, one with AGENT_SVIDS.
  const empty = await server.joinToken();
  const full = await server.joinToken();
  const emptyAgent = await startParleyAgent(join(dir.path, 'agent-empty'), server, empty.token, {
    syncInterval: SYNC_INTERVAL,
    nodeArgs: heapSnapshotFlags(snapshots('agent-empty')),
  });
  defer(() => emptyAgent.stop());
  const agentInputs = entries(AGENT_SVIDS, () => full.agentSpiffeId, `uid:${uid}`);
  const fullAgent = await startParleyAgent(join(dir.path, 'agent-full'), server, full.token, {
    syncInterval: SYNC_INTERVAL,
    nodeArgs: heapSnapshotFlags(snapshots('agent-full')),
  });
  defer(() => fullAgent.stop());
  // Counted after both agents' own SVIDs were minted.
  const minted0 = await server.metric(MINTED);
  const started = performance.now();
  const agentEntryIds: string[] = [];
  for (let lot = 0; lot < AGENT_SVIDS; lot += AGENT_LOT) {
    agentEntryIds.push(...(await server.createEntries(agentInputs.slice(lot, lot + AGENT_LOT))));
    await mintedReaches(server, minted0 + Math.min(lot + AGENT_LOT, AGENT_SVIDS), () =>
      fullAgent.log(),
    );
  }
  const signedMs = performance.now() - started;
  await settle(3000); // a few sync rounds: the agent stored them and is idle again
  const [emptyRss, fullRss] = await rssOf(emptyAgent.pid, fullAgent.pid);
  const emptyHeap = await liveHeapBytes(emptyAgent.pid, snapshots('agent-empty'));
  const fullHeap = await liveHeapBytes(fullAgent.pid, snapshots('agent-full'));

  // The agent really holds them: one Workload API fetch returns every SVID, each verified.
  const { stdout } = await promisify(execFile)(
    findPeer('go-spiffe-oracle'),
    [
      'fetch-x509',
      '--socket',
      `unix://${join(dir.path, 'agent-full', 'agent.sock')}`,
      '--timeout',
      '30s',
    ],
    { maxBuffer: 64 << 20, timeout: 60_000 },
  );
  const fetched = JSON.parse(stdout) as { svids: { verified: boolean }[] };
  const verified = fetched.svids.filter((s) => s.verified).length;
  if (verified !== AGENT_SVIDS)
    throw new Error(`the agent served ${verified} verified SVIDs, not ${AGENT_SVIDS}`);

  // The server: up to SERVER_ENTRIES entries, the rest parented to 100 agents that never attest.
  const others = SERVER_ENTRIES - AGENT_SVIDS;
  const createdAt = performance.now();
  await server.createEntries(
    entries(
      others,
      (i) => `spiffe://example.org/parley/agent/join_token/absent-${i % 100}`,
      'uid:1',
    ),
  );
  const createMs = performance.now() - createdAt;
  await settle(3000);
  const [serverRss, baselineRss] = await rssOf(server.daemon.pid, baselineServer.daemon.pid);
  // A fresh process over the same database: what the server holds for its entries at rest.
  await server.restart();
  // The agent has synced with the new process once it re-mints the SVID of an updated entry.
  await server.admin('entry', 'update', '--id', agentEntryIds[0]!, '--x509-ttl', '3601');
  await mintedReaches(server, 1, () => fullAgent.log());
  await settle(3000);
  const [restartedRss, baselineRss2] = await rssOf(server.daemon.pid, baselineServer.daemon.pid);
  const serverHeap = await liveHeapBytes(server.daemon.pid, snapshots('server'));
  const baselineHeap = await liveHeapBytes(baselineServer.daemon.pid, snapshots('baseline-server'));

  const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}×`;
  const row = (label: string, rss: number, base: number | undefined, note = '') =>
    console.log(
      `${label.padEnd(44)} ${mib(rss).padStart(7)} MiB` +
        (base === undefined
          ? ''
          : `  ${ratio(rss, base).padStart(6)} baseline, +${mib(rss - base)} MiB`) +
        note,
    );
  console.log('');
  console.log('RSS (median of 7 readings over 2.4 s):');
  row('agent, no entry (baseline)', emptyRss, undefined);
  row(
    `agent, ${AGENT_SVIDS} X509-SVIDs cached`,
    fullRss,
    emptyRss,
    ` = ${((fullRss - emptyRss) / AGENT_SVIDS / 1024).toFixed(1)} KiB per SVID; ` +
      `target < 100 MB: ${fullRss < 100e6 ? 'met' : 'NOT met'} (${(fullRss / 1e6).toFixed(1)} MB)`,
  );
  row('server, no entry (baseline)', baselineRss, undefined);
  row(`server, ${SERVER_ENTRIES} entries, just created`, serverRss, baselineRss);
  row(`server, ${SERVER_ENTRIES} entries, restarted + synced`, restartedRss, baselineRss2);
  console.log('');
  console.log('live JS heap after a full GC (heap snapshot):');
  row('agent, no entry (baseline)', emptyHeap, undefined);
  row(
    `agent, ${AGENT_SVIDS} X509-SVIDs cached`,
    fullHeap,
    emptyHeap,
    ` = ${((fullHeap - emptyHeap) / AGENT_SVIDS / 1024).toFixed(1)} KiB per SVID`,
  );
  row('server, no entry (baseline)', baselineHeap, undefined);
  row(
    `server, ${SERVER_ENTRIES} entries, restarted + synced`,
    serverHeap,
    baselineHeap,
    ` = ${((serverHeap - baselineHeap) / SERVER_ENTRIES).toFixed(0)} B per entry`,
  );
  console.log('');
  console.log(
    `agent SVIDs: signed in ${(signedMs / 1000).toFixed(1)} s in lots of ${AGENT_LOT} ` +
      `(the agent asks for at most 500 SVIDs per BatchNewX509SVID, the server's cap), ` +
      `${verified} served and verified by go-spiffe; server entries: ${SERVER_ENTRIES - AGENT_SVIDS} ` +
      `created in ${(createMs / 1000).toFixed(1)} s; 2 agents connected, one syncing ` +
      `${AGENT_SVIDS} entries every ${SYNC_INTERVAL}`,
  );
});

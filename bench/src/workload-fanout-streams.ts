// The client process of bench/workload-fanout: opens STREAMS FetchX509SVID streams spread over
// CONNECTIONS HTTP/2 connections to the Workload API socket, and records when each stream
// receives each distinct X509-SVID (by the SHA-256 of its chain). Driven over the IPC channel:
//   → {type: 'ready', streams}                     once every stream holds its first message
//   ← {type: 'await', svidHash, timeoutMs}         wait until every stream received that SVID
//   → {type: 'arrived', times: (number|null)[]}    per stream, when it arrived (epoch ms)
//   → {type: 'error', message}                     a stream failed
// Usage (forked by workload-fanout.js): workload-fanout-streams.js SOCKET STREAMS CONNECTIONS
import { createHash } from 'node:crypto';
import { type ClientReadableStream, Metadata, credentials } from '@grpc/grpc-js';
import { WORKLOAD_API_HEADER, type X509SvidResponse, loadWorkloadApi } from '@parley/api';

const [socketPath, streamsArg, connectionsArg] = process.argv.slice(2);
const streams = Number(streamsArg);
const connections = Number(connectionsArg);
if (socketPath === undefined || !(streams > 0) || !(connections > 0)) {
  console.error('usage: workload-fanout-streams.js SOCKET STREAMS CONNECTIONS');
  process.exit(2);
}

/** Wall-clock milliseconds with sub-millisecond precision, comparable across processes. */
const now = () => performance.timeOrigin + performance.now();
const send = (message: unknown) => process.send?.(message);

const Ctor = loadWorkloadApi().SpiffeWorkloadAPI;
// A local subchannel pool per client: otherwise grpc-js shares one connection among them.
const clients = Array.from(
  { length: Math.min(connections, streams) },
  () =>
    new Ctor(`unix://${socketPath}`, credentials.createInsecure(), {
      'grpc.use_local_subchannel_pool': 1,
    }) as unknown as {
      FetchX509SVID(request: object, metadata: Metadata): ClientReadableStream<X509SvidResponse>;
    },
);

/** Per SVID hash, when each stream first received it. */
const arrivals = new Map<string, (number | null)[]>();
const counts = new Map<string, number>();
let holdingFirst = 0;
let waiting: { readonly hash: string; readonly timer: NodeJS.Timeout } | undefined;

function reply(hash: string): void {
  if (waiting?.hash !== hash) return;
  clearTimeout(waiting.timer);
  waiting = undefined;
  send({ type: 'arrived', times: arrivals.get(hash) ?? Array<null>(streams).fill(null) });
}

for (let s = 0; s < streams; s++) {
  const client = clients[s % clients.length]!;
  const metadata = new Metadata();
  metadata.add(WORKLOAD_API_HEADER, 'true');
  const call = client.FetchX509SVID({}, metadata);
  let first = true;
  call.on('data', (message: X509SvidResponse) => {
    const at = now();
    const chain = message.svids[0]?.x509_svid;
    if (chain === undefined) return;
    const hash = createHash('sha256').update(chain).digest('hex');
    let times = arrivals.get(hash);
    if (times === undefined) arrivals.set(hash, (times = Array<number | null>(streams).fill(null)));
    if (times[s] !== null) return;
    times[s] = at;
    const count = (counts.get(hash) ?? 0) + 1;
    counts.set(hash, count);
    if (first) {
      first = false;
      if (++holdingFirst === streams) send({ type: 'ready', streams });
    }
    if (count === streams) reply(hash);
  });
  call.on('error', (err: Error) => {
    send({ type: 'error', message: `stream ${s}: ${err.message}` });
  });
}

process.on('message', (m: { type: string; svidHash: string; timeoutMs: number }) => {
  if (m.type !== 'await') return;
  waiting = {
    hash: m.svidHash,
    timer: setTimeout(() => reply(m.svidHash), m.timeoutMs),
  };
  if ((counts.get(m.svidHash) ?? 0) === streams) reply(m.svidHash);
});
process.on('disconnect', () => process.exit(0));

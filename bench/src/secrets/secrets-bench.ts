// bench/secrets: KV v2 reads and writes per second with p50/p99 through a real `parley server run`
// (SQLite store, audit on: every request appends to the hash-chained audit log before it is
// answered), over mTLS with an X509-SVID, at 1 and 32 concurrent connections, and the latency of
// reads at a fixed 500 req/s. Load comes from bench/go/https-load (Go, keep-alive HTTP/1.1).
// Baseline in the same run: Node's HTTPS server with the same TLS set-up answering a body of the
// same size at once (noop-https-server.ts) — the ceiling of this runtime on this machine.
// Anchors (issue 7): OpenBao's published 3-node figures (reads mean 5.75 ms, p99 36.9 ms at
// 500 req/s) and vault-benchmark's KV v2 example (~8.4k req/s). Target: ≥ 10,000 reads/s and
// p99 ≤ 5 ms at 500 req/s, audit included. BENCH_SECONDS (default 5) sets each measurement.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, makeTempDir, startDaemon, waitFor } from '@parley/testing';
import { type Load, httpsLoad, printLoadTable, requireLoader } from '../https-load.js';
import { runBench } from '../run-bench.js';
import { startParleyServer } from '../parley-server.js';

const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 5);
const CLIENT = 'spiffe://example.org/bench/client';

await runBench('bench:secrets', 15 * 60_000, async (defer) => {
  requireLoader('bench:secrets');
  const dir = await makeTempDir('parley-bench-secrets-');
  defer(() => dir.remove());
  const secretsPort = await freePort();
  const server = await startParleyServer(dir.path, {
    configLines: ['secrets:', `  address: 127.0.0.1:${secretsPort}`],
  });
  defer(() => server.stop());
  await waitFor(
    'secrets listening',
    () => server.daemon.log().includes('secrets listening'),
    30_000,
  );

  const bundle = join(dir.path, 'bundle.pem');
  await writeFile(bundle, await server.admin('bundle', 'show', '-o', 'pem'));
  const clientDir = join(dir.path, 'client');
  const serverDir = join(dir.path, 'noop');
  await server.admin('x509', 'mint', '--spiffe-id', CLIENT, '--write', clientDir);
  await server.admin(
    'x509',
    'mint',
    '--spiffe-id',
    'spiffe://example.org/noop',
    '--dns',
    'localhost',
    '--write',
    serverDir,
  );
  const policy = join(dir.path, 'policy.json');
  await writeFile(
    policy,
    JSON.stringify({
      rules: [{ principals: [CLIENT], paths: ['bench/**'], capabilities: ['read', 'write'] }],
    }),
  );
  await server.admin('secret', 'policy', 'put', 'bench', '--file', policy);
  await server.admin(
    'secret',
    'put',
    'bench/read',
    'username=orders',
    `password=${'p'.repeat(32)}`,
  );

  // The no-op server answers what a Parley read answers (same body size).
  const sample = await httpsLoad(
    [...loaderArgs(`https://localhost:${secretsPort}/v1/secret/data/bench/read`), '-conns', '1'],
    { seconds: 0.2, warmup: 0 },
  );
  if (sample.errors > 0 || sample.requests === 0)
    throw new Error('Parley does not serve the bench secret');
  const bodyFile = join(dir.path, 'body.json');
  const parleyBody = await readBody(secretsPort, bundle, clientDir);
  await writeFile(bodyFile, parleyBody);
  const noopPort = await freePort();
  const noop = startDaemon(process.execPath, [
    fileURLToPath(new URL('./noop-https-server.js', import.meta.url)),
    String(noopPort),
    join(serverDir, 'svid.pem'),
    join(serverDir, 'key.pem'),
    bundle,
    bodyFile,
  ]);
  defer(() => noop.stop());
  await new Promise((r) => setTimeout(r, 500));

  function loaderArgs(url: string): string[] {
    return [
      '-url',
      url,
      '-ca',
      bundle,
      '-cert',
      join(clientDir, 'svid.pem'),
      '-key',
      join(clientDir, 'key.pem'),
    ];
  }
  const load = (url: string, extra: string[], pid?: number) =>
    httpsLoad([...loaderArgs(url), ...extra], {
      seconds: SECONDS,
      ...(pid !== undefined && { pid }),
    });

  const readUrl = `https://localhost:${secretsPort}/v1/secret/data/bench/read`;
  const writeUrl = `https://localhost:${secretsPort}/v1/secret/data/bench/write`;
  const noopUrl = `https://localhost:${noopPort}/v1/secret/data/bench/read`;
  const writeBody = JSON.stringify({ data: { password: 'w'.repeat(32) } });
  const rows: [string, Load][] = [];
  for (const conns of [1, 32]) {
    rows.push([`no-op HTTPS, ${conns} conn`, await load(noopUrl, ['-conns', String(conns)])]);
    rows.push([
      `Parley read, ${conns} conn`,
      await load(readUrl, ['-conns', String(conns)], server.daemon.pid),
    ]);
    rows.push([
      `Parley write, ${conns} conn`,
      await load(
        writeUrl,
        ['-conns', String(conns), '-method', 'POST', '-body', writeBody],
        server.daemon.pid,
      ),
    ]);
  }
  rows.push(['no-op HTTPS, 500 req/s', await load(noopUrl, ['-conns', '8', '-rate', '500'])]);
  rows.push([
    'Parley read, 500 req/s',
    await load(readUrl, ['-conns', '8', '-rate', '500'], server.daemon.pid),
  ]);
  rows.push([
    'Parley write, 500 req/s',
    await load(
      writeUrl,
      ['-conns', '8', '-rate', '500', '-method', 'POST', '-body', writeBody],
      server.daemon.pid,
    ),
  ]);

  console.log(`bench:secrets — ${SECONDS} s each, mTLS (X509-SVID), audit on, SQLite`);
  printLoadTable('req/s', rows);
  const get = (name: string) => rows.find(([n]) => n === name)?.[1] as Load;
  const reads32 = get('Parley read, 32 conn').rate;
  const noop32 = get('no-op HTTPS, 32 conn').rate;
  const p99at500 = get('Parley read, 500 req/s').p99Ms;
  console.log(
    `reads at 32 connections: ${reads32.toFixed(0)}/s = ${(reads32 / noop32).toFixed(2)}× the no-op HTTPS server; ` +
      `${(reads32 / 8400).toFixed(2)}× vault-benchmark's KV v2 example (~8.4k/s) — target ≥ 10,000/s: ${reads32 >= 10_000 ? 'met' : 'NOT met'}`,
  );
  console.log(
    `read p99 at 500 req/s: ${p99at500.toFixed(2)} ms (OpenBao 3-node: 36.9 ms) — target ≤ 5 ms: ${p99at500 <= 5 ? 'met' : 'NOT met'}`,
  );
});

async function readBody(port: number, ca: string, clientDir: string): Promise<string> {
  const { request } = await import('node:https');
  const [caPem, cert, key] = await Promise.all([
    readFile(ca),
    readFile(join(clientDir, 'svid.pem')),
    readFile(join(clientDir, 'key.pem')),
  ]);
  return new Promise((resolve, reject) => {
    request(
      {
        host: '127.0.0.1',
        servername: 'localhost',
        port,
        path: '/v1/secret/data/bench/read',
        ca: caPem,
        cert,
        key,
      },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve(text));
      },
    )
      .on('error', reject)
      .end();
  });
}

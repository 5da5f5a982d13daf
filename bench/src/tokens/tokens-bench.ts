// bench/tokens: client_credentials tokens per second and p50/p99 through a real `parley server
// run` (SQLite, audit on: each mint's record committed before its token is returned), the client
// authenticated by mTLS with its X509-SVID, at 1 and 32 keep-alive connections and at a fixed
// 1,000 req/s, from bench/go/https-load. In the same run: oidc-provider (npm) doing the same grant
// with private_key_jwt (a fresh ES256 client assertion per request, RFC 9068 JWT access tokens
// signed ES256) at 32 connections, and the raw ES256 signing rate of this machine (node:crypto
// with a KeyObject, one core; `openssl speed ecdsap256` for reference) — the limit of a server
// that signs one JWT per token. Anchors (issue 8): Hydra's published 513 client_credentials/s on
// 2 CPUs (bcrypt-bound) and Keycloak's ~120 grants/s per vCPU. Targets: ≥ 3,000 tokens/s and
// ≥ 2× oidc-provider. BENCH_SECONDS (default 5) sets each measurement.
import { execFile } from 'node:child_process';
import { type KeyObject, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { freePort, makeTempDir, startDaemon, waitFor } from '@parley/testing';
import { type Load, httpsLoad, printLoadTable, requireLoader } from '../https-load.js';
import { runBench } from '../run-bench.js';
import { startParleyServer } from '../parley-server.js';

const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 5);
const CLIENT = 'spiffe://example.org/bench/client';
const FORM = 'application/x-www-form-urlencoded';
const BODY = 'grant_type=client_credentials&audience=bench&scope=bench%3Aread';
const PEER_BODY =
  'grant_type=client_credentials&scope=bench%3Aread&resource=https%3A%2F%2Fbench.example';
const PEER_CLIENT = 'bench-client';

/** ES256 signatures per second of one core, with a KeyObject (the limit of JWT minting). */
function rawEs256Rate(seconds: number): number {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const input = Buffer.from('x'.repeat(300));
  const end = performance.now() + seconds * 1000;
  let n = 0;
  while (performance.now() < end) {
    for (let i = 0; i < 100; i++)
      sign('sha256', input, { key: privateKey, dsaEncoding: 'ieee-p1363' });
    n += 100;
  }
  return n / seconds;
}

/** POSTs a form to `url` over HTTPS (client certificate optional); the status and the body. */
function postForm(
  port: number,
  path: string,
  body: string,
  tls: { readonly ca: Buffer; readonly cert?: Buffer; readonly key?: Buffer },
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        servername: 'localhost',
        port,
        path,
        method: 'POST',
        ...tls,
        headers: { 'content-type': FORM, 'content-length': Buffer.byteLength(body) },
        timeout: 10_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${path}: no answer within 10 s`)));
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * Throws unless `answer` is a 200 token response whose access_token is an RFC 9068 JWT signed
 * ES256; returns a one-line description of it.
 */
function checkTokenResponse(name: string, answer: { status: number; text: string }): string {
  const fail = (why: string) =>
    new Error(`${name}: sample token response ${why}: HTTP ${answer.status} ${answer.text}`);
  if (answer.status !== 200) throw fail('is not 200');
  const body = JSON.parse(answer.text) as unknown;
  const token =
    typeof body === 'object' && body !== null && 'access_token' in body
      ? body.access_token
      : undefined;
  if (typeof token !== 'string') throw fail('has no access_token');
  const [header = '', claims = ''] = token.split('.');
  const decode = (part: string) =>
    JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>;
  const h = decode(header);
  const c = decode(claims);
  if (h['typ'] !== 'at+jwt' || h['alg'] !== 'ES256') throw fail('is not an ES256 at+jwt');
  return `200, ${String(h['alg'])} ${String(h['typ'])}, aud ${JSON.stringify(c['aud'])}, scope ${JSON.stringify(c['scope'])}, ${token.length} B`;
}

/** An RFC 7523 client assertion (ES256) as the loader signs one per request. */
function clientAssertion(key: KeyObject, client: string, aud: string): string {
  const b64 = (v: object) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const input = `${b64({ alg: 'ES256', typ: 'JWT' })}.${b64({
    iss: client,
    sub: client,
    aud,
    jti: randomBytes(16).toString('base64url'),
    iat: now,
    exp: now + 60,
  })}`;
  const signature = sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
  return `${input}.${signature.toString('base64url')}`;
}

async function opensslEs256(): Promise<string> {
  try {
    const { stdout } = await promisify(execFile)(
      'openssl',
      ['speed', '-seconds', '3', 'ecdsap256'],
      {
        timeout: 60_000,
      },
    );
    const line = stdout.split('\n').find((l) => /256 bits ecdsa \(nistp256\)/.test(l));
    const sign = line?.trim().split(/\s+/).at(-2);
    return sign === undefined ? 'n/a' : `${Number(sign).toFixed(0)} signs/s`;
  } catch {
    return 'openssl not available';
  }
}

await runBench('bench:tokens', 15 * 60_000, async (defer) => {
  requireLoader('bench:tokens');
  const dir = await makeTempDir('parley-bench-tokens-');
  defer(() => dir.remove());
  const run = promisify(execFile);

  // The mesh repository holds the TokenPolicy that lets the bench client get its tokens.
  const repo = join(dir.path, 'mesh');
  await mkdir(repo);
  const git = (...args: string[]) =>
    run('git', ['-C', repo, ...args], {
      env: {
        ...process.env,
        GIT_AUTHOR_NAME: 'b',
        GIT_AUTHOR_EMAIL: 'b@b',
        GIT_COMMITTER_NAME: 'b',
        GIT_COMMITTER_EMAIL: 'b@b',
      },
    });
  await git('init', '-q', '-b', 'main');
  await writeFile(
    join(repo, 'tokens.yaml'),
    [
      'apiVersion: parley.dev/v1',
      'kind: TokenPolicy',
      'metadata: { name: bench }',
      'spec:',
      '  rules:',
      `    - clients: [${CLIENT}]`,
      '      audiences: [bench]',
      '      scopes: [bench:read]',
    ].join('\n'),
  );
  await git('add', '-A');
  await git('commit', '-qm', 'bench policy');

  const tokensPort = await freePort();
  const server = await startParleyServer(dir.path, {
    configLines: [
      'mesh:',
      `  xdsAddress: 127.0.0.1:${await freePort()}`,
      `  repository: ${repo}`,
      // pollInterval left at its default (2 s): each poll spawns git, a few ms of the event loop.
      // The mesh brings the authz listener up too: a free port, not its default 15013.
      'authz:',
      `  address: 127.0.0.1:${await freePort()}`,
      'tokens:',
      `  address: 127.0.0.1:${tokensPort}`,
    ],
  });
  defer(() => server.stop());
  await waitFor('tokens listening', () => server.daemon.log().includes('tokens listening'), 30_000);

  const bundle = join(dir.path, 'bundle.pem');
  await writeFile(bundle, await server.admin('bundle', 'show', '-o', 'pem'));
  const clientDir = join(dir.path, 'client');
  const peerDir = join(dir.path, 'peer');
  await server.admin('x509', 'mint', '--spiffe-id', CLIENT, '--write', clientDir);
  await server.admin(
    'x509',
    'mint',
    '--spiffe-id',
    'spiffe://example.org/peer',
    '--dns',
    'localhost',
    '--write',
    peerDir,
  );
  const parleyUrl = `https://localhost:${tokensPort}/oauth2/token`;
  const parleyArgs = [
    '-url',
    parleyUrl,
    '-ca',
    bundle,
    '-cert',
    join(clientDir, 'svid.pem'),
    '-key',
    join(clientDir, 'key.pem'),
    '-method',
    'POST',
    '-content-type',
    FORM,
    '-body',
    BODY,
  ];
  // The policy is served once the mesh commit is: wait for a first token.
  await waitFor(
    'a first token',
    async () =>
      (await httpsLoad([...parleyArgs, '-conns', '1'], { seconds: 0.2, warmup: 0 })).errors === 0,
    30_000,
  );

  // oidc-provider with a private_key_jwt client whose key the loader signs assertions with.
  const clientKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const clientKeyFile = join(dir.path, 'assertion-key.pem');
  const clientJwkFile = join(dir.path, 'assertion-jwk.json');
  await writeFile(clientKeyFile, clientKey.privateKey.export({ format: 'pem', type: 'pkcs8' }));
  await writeFile(
    clientJwkFile,
    JSON.stringify({ ...clientKey.publicKey.export({ format: 'jwk' }), alg: 'ES256', use: 'sig' }),
  );
  const peerPort = await freePort();
  const peer = startDaemon(process.execPath, [
    fileURLToPath(new URL('./oidc-provider-server.js', import.meta.url)),
    String(peerPort),
    join(peerDir, 'svid.pem'),
    join(peerDir, 'key.pem'),
    clientJwkFile,
  ]);
  defer(() => peer.stop());
  const peerUrl = `https://localhost:${peerPort}/token`;
  const peerArgs = [
    '-url',
    peerUrl,
    '-ca',
    bundle,
    '-method',
    'POST',
    '-content-type',
    FORM,
    '-body',
    PEER_BODY,
    '-assertion-key',
    clientKeyFile,
    '-assertion-client',
    PEER_CLIENT,
    '-assertion-aud',
    `https://localhost:${peerPort}`,
  ];
  await waitFor(
    'oidc-provider tokens',
    async () =>
      (
        await httpsLoad([...peerArgs, '-conns', '1'], { seconds: 0.2, warmup: 0 }).catch(
          () => undefined,
        )
      )?.errors === 0,
    30_000,
    () => peer.log(),
  );

  // One sample answer of each, checked before timing: 200 with an ES256 RFC 9068 access token.
  const ca = await readFile(bundle);
  const parleySample = checkTokenResponse(
    'Parley',
    await postForm(tokensPort, '/oauth2/token', BODY, {
      ca,
      cert: await readFile(join(clientDir, 'svid.pem')),
      key: await readFile(join(clientDir, 'key.pem')),
    }),
  );
  const assertion = clientAssertion(
    clientKey.privateKey,
    PEER_CLIENT,
    `https://localhost:${peerPort}`,
  );
  const peerSample = checkTokenResponse(
    'oidc-provider',
    await postForm(
      peerPort,
      '/token',
      `${PEER_BODY}&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=${assertion}`,
      { ca },
    ),
  );

  const rows: [string, Load][] = [];
  const pid = server.daemon.pid;
  rows.push([
    'Parley, 1 conn',
    await httpsLoad([...parleyArgs, '-conns', '1'], { seconds: SECONDS, pid }),
  ]);
  rows.push([
    'Parley, 32 conns',
    await httpsLoad([...parleyArgs, '-conns', '32'], { seconds: SECONDS, pid }),
  ]);
  rows.push([
    'oidc-provider, 32 conns',
    await httpsLoad([...peerArgs, '-conns', '32'], { seconds: SECONDS, pid: peer.pid }),
  ]);
  rows.push([
    'Parley, 1,000 req/s',
    await httpsLoad([...parleyArgs, '-conns', '16', '-rate', '1000'], { seconds: SECONDS, pid }),
  ]);
  const raw = rawEs256Rate(3);
  const openssl = await opensslEs256();

  console.log(
    `bench:tokens — ${SECONDS} s each, keep-alive HTTP/1.1 over HTTPS (TLS) for both servers; ` +
      'Parley: client authenticated by mTLS (X509-SVID), audit on, SQLite; ' +
      'oidc-provider 9.13.3: private_key_jwt (a fresh ES256 assertion per request), ES256 JWT access tokens',
  );
  console.log(`sample Parley response: ${parleySample}`);
  console.log(`sample oidc-provider response: ${peerSample}`);
  printLoadTable('tokens/s', rows);
  // The raw signing rate as a row of the same table (its columns: name 26, rate 10).
  console.log(
    `${'raw ES256 signs, 1 core'.padEnd(26)}${raw.toFixed(0).padEnd(10)}(node:crypto sign, KeyObject)`,
  );
  const get = (name: string) => rows.find(([n]) => n === name)?.[1] as Load;
  const parley32 = get('Parley, 32 conns').rate;
  const peer32 = get('oidc-provider, 32 conns').rate;
  console.log(
    `raw ES256 signing (node:crypto, one core): ${raw.toFixed(0)} signs/s; openssl speed ecdsap256: ${openssl}`,
  );
  console.log(
    `Parley at 32 connections: ${parley32.toFixed(0)} tokens/s = ${(parley32 / peer32).toFixed(2)}× oidc-provider (target ≥ 2×: ${parley32 >= 2 * peer32 ? 'met' : 'NOT met'}), ` +
      `${(parley32 / raw).toFixed(2)}× one core's raw ES256 signing; target ≥ 3,000 tokens/s: ${parley32 >= 3000 ? 'met' : 'NOT met'}`,
  );
  console.log(
    `anchors: Hydra 513 client_credentials/s on 2 CPUs (bcrypt-bound) → ${(parley32 / 513).toFixed(1)}×; Keycloak ~120 grants/s per vCPU (~240 on 2) → ${(parley32 / 240).toFixed(1)}×`,
  );
});

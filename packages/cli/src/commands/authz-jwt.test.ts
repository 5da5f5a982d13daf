import assert from 'node:assert/strict';
import { type KeyObject, generateKeyPairSync, sign } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { type Server, createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { systemClock } from '@parley/core';
import { runCli } from '../cli.js';

const FRONTEND = 'spiffe://example.org/frontend';
const ISSUER = 'https://tokens.example.org';

/** A fresh ES256 key: the private key and its public JWK. */
function es256Key(kid: string): { key: KeyObject; jwk: Record<string, unknown> } {
  const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { key: pair.privateKey, jwk: { kid, ...pair.publicKey.export({ format: 'jwk' }) } };
}

/** An ES256 JWT with `claims`, signed by `key`. */
function mint(key: { key: KeyObject; jwk: Record<string, unknown> }, claims: object): string {
  const b64 = (v: object) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const input = `${b64({ alg: 'ES256', typ: 'JWT', kid: key.jwk['kid'] })}.${b64(claims)}`;
  const signature = sign('sha256', Buffer.from(input), { key: key.key, dsaEncoding: 'ieee-p1363' });
  return `${input}.${signature.toString('base64url')}`;
}

const services = `apiVersion: parley.dev/v1
kind: Service
metadata: { name: frontend }
spec:
  spiffeId: ${FRONTEND}
  ports: [{ name: http, port: 8080 }]
---
apiVersion: parley.dev/v1
kind: Service
metadata: { name: backend }
spec:
  spiffeId: spiffe://example.org/backend
  ports: [{ name: http, port: 9090 }]
---
apiVersion: parley.dev/v1
kind: AuthorizationPolicy
metadata: { name: backend-allow }
spec:
  selector: { services: [backend] }
  rules:
    - name: admins
      from: [{ principals: [${FRONTEND}] }]
      when: [{ key: "request.auth.claims[role]", values: [admin] }]
`;

async function parley(env: Record<string, string>, ...argv: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, {
    stdout: (t) => (stdout += t),
    stderr: (t) => (stderr += t),
    env,
  });
  return { code, stdout, stderr };
}

function listen(server: Server, where: number | string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    if (typeof where === 'string') server.listen(where, () => resolve());
    else server.listen(where, '127.0.0.1', () => resolve());
  });
}

describe('parley authz check --jwt', () => {
  const inline = es256Key('inline-1');
  const remote = es256Key('remote-1');
  const now = Math.floor(systemClock.now() / 1000);
  const claims = { iss: ISSUER, sub: 'alice', aud: 'orders', exp: now + 600, role: 'admin' };
  let dir: string;
  let noIssuers: string;
  let jwksServer: Server;
  let jwksRequests = 0;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'parley-authz-jwt-'));
    jwksServer = createServer((req, res) => {
      jwksRequests++;
      if (req.url !== '/jwks') {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys: [remote.jwk, { kty: 'oct-unknown' }] }));
    });
    await listen(jwksServer, 0);
    const { port } = jwksServer.address() as { port: number };
    const settings = `---
apiVersion: parley.dev/v1
kind: AuthorizationPolicy
metadata: { name: mesh }
spec:
  defaultAction: DENY
  jwtIssuers:
    - issuer: ${ISSUER}
      audiences: [orders]
      jwks: '${JSON.stringify({ keys: [inline.jwk] })}'
    - issuer: partner
      jwksUri: http://127.0.0.1:${port}/jwks
    - issuer: unreachable
      jwksUri: http://127.0.0.1:1/jwks
    - issuer: missing
      jwksUri: http://127.0.0.1:${port}/missing
`;
    await writeFile(join(dir, 'mesh.yaml'), services + settings);
    noIssuers = await mkdtemp(join(tmpdir(), 'parley-authz-jwt-none-'));
    await writeFile(join(noIssuers, 'mesh.yaml'), services);
  });
  after(async () => {
    await new Promise((resolve) => jwksServer.close(resolve));
    await rm(dir, { recursive: true });
    await rm(noIssuers, { recursive: true });
  });

  const check = (meshDir: string, token: string, ...argv: string[]) =>
    parley(
      {},
      'authz',
      'check',
      '--dir',
      meshDir,
      '--source',
      FRONTEND,
      '--host',
      'backend',
      '--method',
      'GET',
      '--path',
      '/api',
      '--jwt',
      token,
      ...argv,
    );

  it('gives a verified token its claims and never prints it', async () => {
    const token = mint(inline, claims);
    const r = await check(dir, token);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^decision: +allow$/m);
    assert.match(
      r.stdout,
      /^token: +verified: issuer "https:\/\/tokens.example.org", subject "alice"$/m,
    );
    const guest = await check(dir, mint(inline, { ...claims, role: 'guest' }), '-o', 'json');
    assert.equal(guest.code, 0, guest.stderr);
    const out = JSON.parse(guest.stdout) as { decision: { outcome: string }; token: unknown };
    assert.equal(out.decision.outcome, 'deny');
    assert.deepEqual(out.token, { verified: true, issuer: ISSUER, subject: 'alice' });
    for (const text of [r.stdout, r.stderr, guest.stdout, guest.stderr]) {
      assert.ok(!text.includes(token.split('.')[2] ?? '-'));
    }
  });

  it('answers 401 (403 for a wrong audience) like Envoy to a token that does not verify', async () => {
    const expired = mint(inline, { ...claims, exp: now - 3600 });
    const r = await check(dir, expired);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^decision: +deny$/m);
    assert.match(r.stdout, /^decided by: +the end-user token \(Envoy's JWT filter answers 401/m);
    assert.match(r.stdout, /^why: +401 — token has expired$/m);
    assert.match(r.stdout, /^destination: +backend port 9090$/m);
    const json = await check(dir, mint(inline, { ...claims, aud: 'payments' }), '-o', 'json');
    assert.deepEqual(JSON.parse(json.stdout), {
      destination: { service: 'backend', port: 9090 },
      decision: { outcome: 'deny', status: 403, why: 'token audience is not allowed' },
    });
    const forged = mint(es256Key('inline-1'), claims);
    const bad = await check(dir, forged, '-o', 'json');
    assert.equal(
      (JSON.parse(bad.stdout) as { decision: { why: string } }).decision.why,
      'token signature does not verify',
    );
    for (const text of [r.stdout, r.stderr, bad.stdout, bad.stderr]) {
      assert.ok(!text.includes(expired) && !text.includes(forged));
    }
    const garbage = await check(dir, 'not-a-token');
    assert.match(garbage.stdout, /^why: +401 — token is not a compact JWS/m);
  });

  it("fetches a jwksUri issuer's keys, only for that issuer's tokens", async () => {
    const before = jwksRequests;
    await check(dir, mint(inline, claims));
    assert.equal(jwksRequests, before);
    const r = await check(dir, mint(remote, { ...claims, iss: 'partner' }));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^decision: +allow$/m);
    assert.equal(jwksRequests, before + 1);
    const down = await check(dir, mint(remote, { ...claims, iss: 'unreachable' }));
    assert.equal(down.code, 1);
    assert.match(down.stderr, /^parley: fetching the JWKS at http:\/\/127.0.0.1:1\/jwks failed/);
    const missing = await check(dir, mint(remote, { ...claims, iss: 'missing' }));
    assert.equal(missing.code, 1);
    assert.match(
      missing.stderr,
      /^parley: the JWKS at http:\/\/127.0.0.1:\d+\/missing answered HTTP 404$/m,
    );
  });

  it('says when the mesh has no issuer, so the token is ignored as Envoy would', async () => {
    const r = await check(noIssuers, mint(inline, claims));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^token: +not verified: the mesh configures no JWT issuer/m);
    assert.match(r.stdout, /^decision: +deny$/m);
  });

  it('refuses --jwt with --jwt-claims or empty (exit 2) and an unknown host (exit 1)', async () => {
    const both = await check(dir, mint(inline, claims), '--jwt-claims', '{}');
    assert.equal(both.code, 2);
    assert.match(both.stderr, /--jwt and --jwt-claims exclude each other/);
    assert.equal((await check(dir, '')).code, 2);
    const host = await check(dir, mint(inline, { ...claims, exp: 1 }), '--host', 'nowhere');
    assert.equal(host.code, 1);
    assert.match(host.stderr, /no Service is named by host "nowhere"/);
  });

  it('sends the token to the server without --dir and prints its answer', async () => {
    let body: Record<string, unknown> = {};
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            destination: { service: 'backend', port: 9090 },
            decision: { outcome: 'deny', status: 401, why: 'token has expired' },
          }),
        );
      });
    });
    const socket = join(noIssuers, 'admin.sock');
    await listen(server, socket);
    try {
      const token = mint(inline, claims);
      const r = await parley(
        { PARLEY_ADMIN_SOCKET: socket },
        ...['authz', 'check', '--source', FRONTEND, '--host', 'backend'],
        ...['--method', 'GET', '--path', '/api', '--jwt', token],
      );
      assert.equal(r.code, 0, r.stderr);
      assert.equal(body['jwt'], token);
      assert.equal(body['jwtClaims'], undefined);
      assert.match(r.stdout, /^why: +401 — token has expired$/m);
      assert.ok(!r.stdout.includes(token));
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

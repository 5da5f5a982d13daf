import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseTrustDomain, systemClock } from '@parley/core';
import { Ca, MemoryAuthorityJournal, MemoryKeyManager, createAdminApi } from '@parley/identity';
import { parseMeshConfig } from '@parley/mesh';
import { openStore } from '@parley/store';
import { runCli } from '../cli.js';
import { checkWithToken, fetchJwks } from '../server/authz-check.js';
import { meshRoutes } from '../server/mesh-routes.js';
import { readMeshDir } from './mesh-command.js';

const CONFIG = `apiVersion: parley.dev/v1
kind: Service
metadata: { name: frontend }
spec:
  spiffeId: spiffe://example.org/frontend
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
metadata: { name: mesh }
spec:
  defaultAction: DENY
---
apiVersion: parley.dev/v1
kind: AuthorizationPolicy
metadata: { name: backend-allow }
spec:
  selector: { services: [backend] }
  action: ALLOW
  rules:
    - name: frontend-api
      from: [{ principals: [spiffe://example.org/frontend] }]
      to: [{ methods: [GET], paths: [/api/*] }]
---
apiVersion: parley.dev/v1
kind: AuthorizationPolicy
metadata: { name: backend-deny }
spec:
  selector: { services: [backend] }
  action: DENY
  rules:
    - name: guests
      when: [{ key: "request.headers[x-role]", values: [guest] }]
---
apiVersion: parley.dev/v1
kind: AuthorizationPolicy
metadata: { name: backend-lockdown }
spec:
  selector: { services: [backend] }
  action: DENY
  dryRun: true
  rules:
    - name: everything
      to: [{ paths: [/api/secret] }]
`;

const FRONTEND = 'spiffe://example.org/frontend';

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

describe('parley authz check', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'parley-authz-cli-'));
    await writeFile(join(dir, 'mesh.yaml'), CONFIG);
  });
  after(() => rm(dir, { recursive: true }));

  const check = (...argv: string[]) =>
    parley({}, 'authz', 'check', '--dir', dir, '--host', 'backend', ...argv);

  it('allows a request an ALLOW rule matches, naming the rule', async () => {
    const r = await check('--source', FRONTEND, '--method', 'GET', '--path', '/api/items');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^decision: +allow$/m);
    assert.match(r.stdout, /ALLOW policy "backend-allow" rule "frontend-api"/);
    assert.match(r.stdout, /backend port 9090/);
  });

  it('denies by a DENY rule (exit 0), as JSON too', async () => {
    const argv = ['--source', FRONTEND, '--method', 'GET', '--path', '/api/items'];
    const r = await check(...argv, '--header', 'X-Role=guest', '-o', 'json');
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as {
      decision: { outcome: string; decidedBy: { kind: string; policy: string; rule: string } };
    };
    assert.equal(out.decision.outcome, 'deny');
    assert.deepEqual(
      [out.decision.decidedBy.policy, out.decision.decidedBy.rule],
      ['backend-deny', 'guests'],
    );
  });

  it('denies by default with the closest rules and why', async () => {
    const r = await check('--source', FRONTEND, '--method', 'POST', '--path', '/api/items');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^decision: +deny$/m);
    assert.match(r.stdout, /no ALLOW rule matched/);
    assert.match(r.stdout, /closest rules:\n {2}backend-allow\/frontend-api: failed /);
    const other = await check(
      '--source',
      'spiffe://example.org/stranger',
      '--host',
      'frontend:8080',
      '--method',
      'GET',
      '--path',
      '/',
    );
    assert.equal(other.code, 0, other.stderr);
    assert.match(other.stdout, /^decision: +deny$/m);
    assert.match(other.stdout, /mesh default \(defaultAction DENY\)/);
  });

  it('reports what a dry-run policy would do without enforcing it', async () => {
    const r = await check('--source', FRONTEND, '--method', 'GET', '--path', '/api/secret');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^decision: +allow$/m);
    assert.match(r.stdout, /^dry run: +with dry-run policies enforced, would deny/m);
    assert.match(r.stdout, /backend-lockdown\/everything/);
  });

  it('exits 2 on bad flags and 1 on a failed operation', async () => {
    const base = ['--method', 'GET', '--path', '/'];
    for (const argv of [
      base,
      ['--source', 'not-an-id', ...base],
      ['--source', FRONTEND, ...base, '--header', 'novalue'],
      ['--source', FRONTEND, ...base, '--jwt-claims', '{not json'],
      ['--source', FRONTEND, ...base, '--jwt-claims', '[1]'],
      ['--source', FRONTEND, ...base, '--bogus'],
      ['--source', FRONTEND, ...base, '-o', 'xml'],
    ]) {
      const r = await check(...argv);
      assert.equal(r.code, 2, `${argv.join(' ')}: ${r.stdout}${r.stderr}`);
    }
    const unknownHost = await check('--source', FRONTEND, ...base, '--host', 'nowhere');
    assert.equal(unknownHost.code, 1);
    assert.match(unknownHost.stderr, /no Service is named by host "nowhere"/);
  });

  it('asks the running server with POST /v1/authz/check without --dir', async () => {
    const parsed = parseMeshConfig(await readMeshDir(dir));
    assert.ok(parsed.ok);
    const td = parseTrustDomain('example.org');
    const db = await openStore({ sqlite: { path: join(dir, 'store.db') } });
    const ca = await Ca.open(
      { trustDomain: td },
      {
        keyManager: new MemoryKeyManager(),
        journal: new MemoryAuthorityJournal(),
        clock: systemClock,
      },
    );
    const routes = meshRoutes({
      status: () => assert.fail('not used'),
      registerEndpoints: () => assert.fail('not used'),
      checkAuthorization: (input) =>
        checkWithToken(parsed.config, input, { clock: systemClock, fetchJwks }),
    });
    const server = createServer(
      createAdminApi({
        db,
        ca,
        trustDomain: td,
        clock: systemClock,
        log: () => {},
        extraRoutes: routes,
      }),
    );
    const socket = join(dir, 'admin.sock');
    await new Promise<void>((resolve) => server.listen(socket, resolve));
    try {
      const env = { PARLEY_ADMIN_SOCKET: socket };
      const argv = ['authz', 'check', '--source', FRONTEND, '--host', 'backend', '--method'];
      const allowed = await parley(env, ...argv, 'GET', '--path', '/api/x', '-o', 'yaml');
      assert.equal(allowed.code, 0, allowed.stderr);
      assert.match(allowed.stdout, /outcome: allow/);
      const denied = await parley(
        env,
        ...argv,
        'GET',
        '--path',
        '//api/x',
        '--header',
        'x-role=guest',
      );
      assert.equal(denied.code, 0, denied.stderr);
      assert.match(denied.stdout, /DENY policy "backend-deny" rule "guests"/);
      const missing = await parley(env, ...argv, 'GET', '--path', '/', '--host', 'nowhere');
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /no Service is named by host/);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await db.close();
    }
  });
});

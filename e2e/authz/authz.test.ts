import assert from 'node:assert/strict';
import { createSign } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { type Envoy, freePorts, waitFor } from '@parley/testing';
import { type MeshCluster, startMeshCluster } from '../mesh/mesh-harness.js';
import { type TestApp, startTestApp } from '../mesh/test-app.js';
import {
  ISSUER,
  type Ports,
  SERVICES,
  type ServiceName,
  authzFiles,
  idOf,
  userKey,
} from './authz-config.js';

interface Answer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/** A client certificate (an SVID minted by the server) and its key, PEM. */
interface Svid {
  readonly cert: Buffer;
  readonly key: Buffer;
}

/**
 * One raw HTTP/1.1 request over mTLS straight to a sidecar's inbound listener: the request line,
 * Host and headers go on the wire exactly as given (repeated headers, odd paths).
 */
function rawRequest(
  port: number,
  svid: Svid,
  request: { method: string; path: string; host: string; headers?: readonly [string, string][] },
): Promise<Answer> {
  const head = [
    `${request.method} ${request.path} HTTP/1.1`,
    `Host: ${request.host}`,
    ...(request.headers ?? []).map(([k, v]) => `${k}: ${v}`),
    'Connection: close',
    '',
    '',
  ].join('\r\n');
  return new Promise((resolve, reject) => {
    const socket = connect({
      host: '127.0.0.1',
      port,
      cert: svid.cert,
      key: svid.key,
      rejectUnauthorized: false,
      ALPNProtocols: ['http/1.1'],
    });
    const chunks: Buffer[] = [];
    socket.setTimeout(10_000, () => socket.destroy(new Error('request timed out')));
    socket.on('secureConnect', () => socket.write(head));
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const [top = '', ...rest] = text.split('\r\n\r\n');
      const [statusLine = '', ...lines] = top.split('\r\n');
      const headers: Record<string, string> = {};
      for (const l of lines) {
        const i = l.indexOf(':');
        if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
      }
      resolve({
        status: Number(statusLine.split(' ')[1] ?? 0),
        headers,
        body: rest.join('\r\n\r\n'),
      });
    });
  });
}

/** An ES256 end-user token of the mesh's trusted issuer (or signed by nobody it trusts). */
function userToken(claims: Record<string, unknown>, options: { expired?: boolean } = {}): string {
  const now = Math.floor(Date.now() / 1000);
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const input = `${b64({ alg: 'ES256', kid: 'user-1', typ: 'JWT' })}.${b64({
    iss: ISSUER,
    aud: 'ledger',
    iat: now - 60,
    exp: options.expired === true ? now - 120 : now + 600,
    ...claims,
  })}`;
  const signer = createSign('sha256');
  signer.update(input);
  const signature = signer.sign({ key: userKey.privateKey, dsaEncoding: 'ieee-p1363' });
  return `${input}.${signature.toString('base64url')}`;
}

interface Case {
  readonly from: 'web' | 'ops' | 'stranger';
  readonly to: 'backend' | 'ledger';
  readonly method: string;
  readonly path: string;
  readonly host?: string;
  readonly headers?: readonly [string, string][];
  /** The outcome the policies must give (checked on both Envoy and `parley authz check`). */
  readonly expect?: 'allow' | 'deny';
}

const BYPASSES = [
  '//admin/x',
  '/admin/',
  '/admin',
  '/%2Fadmin/x',
  '/%2fadmin/x',
  '/ADMIN/x',
  '/Admin/x',
  '/admin;x',
  '/admin/x;y',
  '/admin?x',
  '/admin/x?y=1',
  '/admin#x',
  '\\admin\\x',
  '/api/../admin/x',
  '/api/%2e%2e/admin/x',
  '/%61dmin/x',
  '/./admin/x',
  '/api/secret/',
  '/api//secret',
  '/API/secret',
];

/** The agreement table: ≥ 50 requests, decided by Envoy and by `parley authz check`. */
const CASES: readonly Case[] = [
  { from: 'web', to: 'backend', method: 'GET', path: '/api/items', expect: 'allow' },
  { from: 'web', to: 'backend', method: 'POST', path: '/api/orders', expect: 'allow' },
  { from: 'web', to: 'backend', method: 'DELETE', path: '/api/orders', expect: 'deny' },
  { from: 'web', to: 'backend', method: 'GET', path: '/api', expect: 'allow' },
  { from: 'web', to: 'backend', method: 'GET', path: '/apix', expect: 'deny' },
  { from: 'web', to: 'backend', method: 'GET', path: '/items/7/reviews', expect: 'allow' },
  { from: 'web', to: 'backend', method: 'GET', path: '/items/7/8/reviews', expect: 'deny' },
  { from: 'web', to: 'backend', method: 'GET', path: '/items//reviews', expect: 'deny' },
  { from: 'web', to: 'backend', method: 'GET', path: '/api/secret', expect: 'deny' },
  { from: 'web', to: 'backend', method: 'GET', path: '/api/legacy/old', expect: 'allow' },
  { from: 'web', to: 'backend', method: 'GET', path: '/other', expect: 'deny' },
  { from: 'ops', to: 'backend', method: 'GET', path: '/reports/q3', expect: 'allow' },
  { from: 'ops', to: 'backend', method: 'POST', path: '/reports/q3', expect: 'deny' },
  { from: 'ops', to: 'backend', method: 'GET', path: '/api/items', expect: 'deny' },
  { from: 'stranger', to: 'backend', method: 'GET', path: '/api/items', expect: 'deny' },
  { from: 'stranger', to: 'backend', method: 'GET', path: '/reports/q3', expect: 'deny' },
  {
    from: 'web',
    to: 'backend',
    method: 'GET',
    path: '/console',
    headers: [['x-role', 'admin']],
    expect: 'allow',
  },
  { from: 'web', to: 'backend', method: 'GET', path: '/console', expect: 'deny' },
  {
    from: 'web',
    to: 'backend',
    method: 'GET',
    path: '/console',
    headers: [
      ['x-role', 'admin'],
      ['x-role', 'guest'],
    ],
    expect: 'deny',
  },
  {
    from: 'web',
    to: 'backend',
    method: 'GET',
    path: '/console',
    headers: [['x-role', 'admin,guest']],
    expect: 'deny',
  },
  {
    from: 'web',
    to: 'backend',
    method: 'GET',
    path: '/api/items',
    headers: [
      ['x-role', 'user'],
      ['x-role', 'guest'],
    ],
    expect: 'deny',
  },
  {
    from: 'web',
    to: 'backend',
    method: 'GET',
    path: '/api/items',
    headers: [['X-Role', 'guest']],
    expect: 'deny',
  },
  {
    from: 'web',
    to: 'backend',
    method: 'GET',
    path: '/console',
    headers: [['x-role', 'Admin']],
    expect: 'deny',
  },
  {
    from: 'web',
    to: 'backend',
    method: 'GET',
    path: '/api/items',
    host: 'backend:80',
    expect: 'allow',
  },
  {
    from: 'web',
    to: 'backend',
    method: 'GET',
    path: '/api/items',
    host: 'BACKEND',
    expect: 'allow',
  },
  { from: 'web', to: 'backend', method: 'get', path: '/api/items', expect: 'deny' },
  ...BYPASSES.map((path): Case => ({
    from: 'web',
    to: 'backend',
    method: 'GET',
    path,
    expect: 'deny',
  })),
  ...BYPASSES.slice(0, 6).map((path): Case => ({
    from: 'ops',
    to: 'backend',
    method: 'GET',
    path,
    expect: 'deny',
  })),
  // ledger: ABAC (same team) and hybrid (role and attribute), decided by ext_authz at the agent.
  { from: 'web', to: 'ledger', method: 'GET', path: '/books', expect: 'allow' },
  { from: 'web', to: 'ledger', method: 'POST', path: '/books/1', expect: 'allow' },
  { from: 'ops', to: 'ledger', method: 'GET', path: '/reports/q3', expect: 'allow' },
  { from: 'ops', to: 'ledger', method: 'POST', path: '/reports/q3', expect: 'deny' },
  { from: 'ops', to: 'ledger', method: 'GET', path: '/books', expect: 'deny' },
  { from: 'stranger', to: 'ledger', method: 'GET', path: '/books', expect: 'deny' },
  { from: 'web', to: 'ledger', method: 'GET', path: '//books/../x', expect: 'allow' },
  { from: 'web', to: 'ledger', method: 'GET', path: '/%2Fbooks', expect: 'deny' },
  { from: 'web', to: 'ledger', method: 'GET', path: '/books;x', expect: 'deny' },
  { from: 'ops', to: 'ledger', method: 'GET', path: '/reports/../books', expect: 'deny' },
];

// Callers, a backend enforced by Envoy's RBAC filter and a ledger decided by the agent's ext_authz
// service, each behind a real Envoy 1.40 sidecar configured by Parley from a Git repository.
describe('authz: policies enforced by real Envoy sidecars, explained and logged by Parley', () => {
  let mesh: MeshCluster;
  const ports = {} as Record<ServiceName, Ports>;
  const apps: Partial<Record<ServiceName, TestApp>> = {};
  const envoys: Partial<Record<ServiceName, Envoy>> = {};
  const svids: Partial<Record<Case['from'], Svid>> = {};

  const send = (c: Case, extra: readonly [string, string][] = []) => {
    const svid = svids[c.from];
    if (svid === undefined) throw new Error(`no SVID for ${c.from}`);
    return rawRequest(ports[c.to].inbound, svid, {
      method: c.method,
      path: c.path,
      host: c.host ?? c.to,
      headers: [...(c.headers ?? []), ...extra],
    });
  };
  const ok = async (...args: string[]) => {
    const r = await mesh.admin(...args);
    assert.equal(r.code, 0, `parley ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const decisionsOf = async (requestId: string) =>
    (
      JSON.parse(await ok('authz', 'log', '--request-id', requestId, '-o', 'json')) as {
        decisions: {
          requestId: string;
          outcome: string;
          policy?: string;
          rule?: string;
          why: string;
          enforcedBy: string;
          dryRun?: { outcome: string; policy?: string };
        }[];
      }
    ).decisions;
  const logged = async (requestId: string) => {
    let found: Awaited<ReturnType<typeof decisionsOf>>[number] | undefined;
    await waitFor(
      `decision ${requestId} in the log`,
      async () => {
        found = (await decisionsOf(requestId))[0];
        return found !== undefined;
      },
      10_000,
      () => mesh.server.log(),
    );
    if (found === undefined) throw new Error('unreachable');
    return found;
  };

  before(async () => {
    mesh = await startMeshCluster({ extAuthz: 'agent', sampleAllows: 1 });
    const names = Object.keys(SERVICES) as ServiceName[];
    for (const n of names) apps[n] = await startTestApp(n);
    const picked = await freePorts(names.length * 2);
    names.forEach((n, i) => {
      ports[n] = {
        inbound: picked[2 * i] ?? 0,
        outbound: picked[2 * i + 1] ?? 0,
        app: apps[n]?.port ?? 0,
      };
    });
    const commit = await mesh.commit(authzFiles(ports), 'authz suite');
    await mesh.waitForCommit(commit);
    const sockets: Partial<Record<ServiceName, string>> = {};
    for (const n of names) sockets[n] = await mesh.addWorkload(n, idOf(n));
    await Promise.all(
      names.map(async (n) => {
        envoys[n] = await mesh.startSidecar({
          name: n,
          spiffeId: idOf(n),
          instance: `${n}-0`,
          socket: sockets[n] ?? '',
        });
      }),
    );
    for (const who of ['web', 'ops', 'stranger'] as const) {
      const dir = join(mesh.dir, `svid-${who}`);
      await mkdir(dir);
      await ok('x509', 'mint', '--spiffe-id', idOf(who), '--write', dir);
      svids[who] = {
        cert: await readFile(join(dir, 'svid.pem')),
        key: await readFile(join(dir, 'key.pem')),
      };
    }
    // Ready when both protected sidecars answer their first allowed request.
    await waitFor(
      'sidecars enforcing',
      async () => {
        const a = await send({ from: 'web', to: 'backend', method: 'GET', path: '/api/x' }).catch(
          () => undefined,
        );
        const b = await send({ from: 'web', to: 'ledger', method: 'GET', path: '/x' }).catch(
          () => undefined,
        );
        return a?.status === 200 && b?.status === 200;
      },
      30_000,
      () => `${mesh.server.log()}\n${mesh.agent.log()}`,
    );
  });

  after(async () => {
    await mesh?.stop();
    await Promise.all(Object.values(apps).map((a) => a.close()));
  });

  it('enforces natively on backend and through ext_authz on ledger', async () => {
    // The HTTP filters of the sidecar's inbound listener, by name and config type.
    const config = async (n: ServiceName) =>
      (await envoys[n]?.admin('/config_dump?resource=dynamic_listeners&name_regex=inbound')) ?? '';
    const backend = await config('backend');
    assert.match(backend, /envoy\.extensions\.filters\.http\.rbac\.v3\.RBAC/);
    assert.doesNotMatch(backend, /ext_authz\.v3\.ExtAuthz/);
    assert.match(await config('ledger'), /ext_authz\.v3\.ExtAuthz/);
  });

  it('allows an allowed call (200) and denies a denied one (403 with a request id in the log)', async () => {
    const allowed = await send({ from: 'web', to: 'backend', method: 'GET', path: '/api/items' });
    assert.equal(allowed.status, 200);
    const denied = await send({ from: 'web', to: 'backend', method: 'GET', path: '/other' });
    assert.equal(denied.status, 403);
    const id = denied.headers['x-request-id'] ?? '';
    assert.notEqual(id, '', 'a denied response carries x-request-id');
    assert.doesNotMatch(denied.body, /backend-allow|backend-deny/, 'no policy names to callers');
    const record = await logged(id);
    assert.equal(record.outcome, 'deny');
    assert.equal(record.enforcedBy, 'rbac');
    const denied2 = await send({ from: 'ops', to: 'backend', method: 'GET', path: '/api/x' });
    assert.equal(denied2.status, 403);
    const listed = JSON.parse(await ok('authz', 'log', '--denied', '-o', 'json')) as {
      decisions: { outcome: string }[];
    };
    assert.ok(listed.decisions.length >= 1);
    assert.ok(listed.decisions.every((d) => d.outcome === 'deny'));
    // The decisions are links of the audit chain, which still verifies.
    const audit = JSON.parse(await ok('audit', 'verify', '-o', 'json')) as {
      ok: boolean;
      count: number;
    };
    assert.equal(audit.ok, true);
    assert.ok(audit.count >= 2);
  });

  it('lets a DENY beat an ALLOW, naming the deciding policy and rule', async () => {
    const r = await send({ from: 'web', to: 'backend', method: 'GET', path: '/api/secret' });
    assert.equal(r.status, 403);
    const record = await logged(r.headers['x-request-id'] ?? '');
    assert.equal(record.policy, 'backend-deny');
    assert.equal(record.rule, 'no-secret');
  });

  it('logs what a dry-run policy would deny, and allows it', async () => {
    const r = await send({ from: 'web', to: 'backend', method: 'GET', path: '/api/legacy/x' });
    assert.equal(r.status, 200);
    const record = await logged(r.headers['x-request-id'] ?? '');
    assert.equal(record.outcome, 'allow');
    assert.equal(record.dryRun?.outcome, 'deny');
  });

  it('decides ext_authz requests at the agent, with the why in the log', async () => {
    const r = await send({ from: 'ops', to: 'ledger', method: 'GET', path: '/books' });
    assert.equal(r.status, 403);
    assert.match(r.body, /request id/);
    const record = await logged(r.headers['x-request-id'] ?? '');
    assert.equal(record.enforcedBy, 'ext_authz');
    assert.match(record.why, /no ALLOW rule|closest|ALLOW/);
  });

  it('answers an invalid end-user token 401 and a valid one without permission 403', async () => {
    const base: Case = { from: 'stranger', to: 'ledger', method: 'GET', path: '/user/profile' };
    const auth = (t: string): [string, string][] => [['authorization', `Bearer ${t}`]];
    assert.equal((await send(base, auth(userToken({ sub: 'alice' })))).status, 200);
    assert.equal((await send(base, auth(userToken({ sub: 'bob' })))).status, 403);
    assert.equal((await send(base)).status, 403);
    assert.equal(
      (await send(base, auth(userToken({ sub: 'alice' }, { expired: true })))).status,
      401,
    );
    // A signature of other content: the token's signature part replaced by another token's.
    const [h, p] = userToken({ sub: 'alice' }).split('.');
    const forged = `${h}.${p}.${userToken({ sub: 'mallory' }).split('.')[2]}`;
    assert.equal((await send(base, auth(forged))).status, 401);
  });

  it('agrees with parley authz check on every request of the table, bypasses included', async () => {
    assert.ok(CASES.length >= 50, `${CASES.length} cases`);
    const disagreements: string[] = [];
    const queue = [...CASES];
    await Promise.all(
      Array.from({ length: 6 }, async () => {
        for (let c = queue.shift(); c !== undefined; c = queue.shift()) {
          const answer = await send(c);
          const envoy = answer.status >= 200 && answer.status < 300 ? 'allow' : 'deny';
          const checked = await ok(
            'authz',
            'check',
            '--source',
            idOf(c.from),
            '--host',
            c.host ?? c.to,
            '--method',
            c.method,
            '--path',
            c.path,
            ...(c.headers ?? []).flatMap(([k, v]) => ['--header', `${k}=${v}`]),
            '-o',
            'json',
          );
          const parley = (JSON.parse(checked) as { decision: { outcome: string; why: string } })
            .decision;
          const label = `${c.from} → ${c.to} ${c.method} ${c.path} ${JSON.stringify(c.headers ?? [])} host=${c.host ?? c.to}`;
          if (parley.outcome !== envoy) {
            disagreements.push(
              `${label}: Envoy ${answer.status}, parley ${parley.outcome} (${parley.why})`,
            );
          }
          if (c.expect !== undefined && envoy !== c.expect) {
            disagreements.push(`${label}: expected ${c.expect}, Envoy answered ${answer.status}`);
          }
        }
      }),
    );
    assert.deepEqual(disagreements, []);
  });

  it('denies, never allows, while the ext_authz service is down', async () => {
    const ledgerCall: Case = { from: 'web', to: 'ledger', method: 'GET', path: '/books' };
    assert.equal((await send(ledgerCall)).status, 200);
    await mesh.agent.stop();
    const answers = await Promise.all(Array.from({ length: 20 }, () => send(ledgerCall)));
    assert.deepEqual(
      answers.filter((a) => a.status !== 403).map((a) => a.status),
      [],
      'every request denied with 403',
    );
    // Native enforcement needs no service: backend still decides.
    const backend = await send({ from: 'web', to: 'backend', method: 'GET', path: '/api/items' });
    assert.equal(backend.status, 200);
  });
});

// The same ext_authz decisions made by the server instead of the agent (`authz.extAuthz: server`):
// sidecars reach its authz listener over mTLS; with the server gone, requests are denied.
describe('authz: ext_authz served by the server', () => {
  let mesh: MeshCluster;
  const ports = {} as Record<ServiceName, Ports>;
  const apps: Partial<Record<ServiceName, TestApp>> = {};
  const svids: Partial<Record<Case['from'], Svid>> = {};
  const send = (c: Case) =>
    rawRequest(
      ports[c.to].inbound,
      svids[c.from] ?? { cert: Buffer.alloc(0), key: Buffer.alloc(0) },
      {
        method: c.method,
        path: c.path,
        host: c.to,
      },
    );

  before(async () => {
    mesh = await startMeshCluster({ extAuthz: 'server' });
    const names = Object.keys(SERVICES) as ServiceName[];
    for (const n of names) apps[n] = await startTestApp(n);
    const picked = await freePorts(names.length * 2);
    names.forEach((n, i) => {
      ports[n] = {
        inbound: picked[2 * i] ?? 0,
        outbound: picked[2 * i + 1] ?? 0,
        app: apps[n]?.port ?? 0,
      };
    });
    const commit = await mesh.commit(authzFiles(ports), 'authz suite');
    await mesh.waitForCommit(commit);
    const socket = await mesh.addWorkload('ledger', idOf('ledger'));
    await mesh.startSidecar({
      name: 'ledger',
      spiffeId: idOf('ledger'),
      instance: 'ledger-0',
      socket,
    });
    for (const who of ['web', 'ops'] as const) {
      const dir = join(mesh.dir, `svid-${who}`);
      await mkdir(dir);
      const r = await mesh.admin('x509', 'mint', '--spiffe-id', idOf(who), '--write', dir);
      assert.equal(r.code, 0, r.stderr);
      svids[who] = {
        cert: await readFile(join(dir, 'svid.pem')),
        key: await readFile(join(dir, 'key.pem')),
      };
    }
    await waitFor(
      'ledger enforcing',
      async () =>
        (
          await send({ from: 'web', to: 'ledger', method: 'GET', path: '/x' }).catch(
            () => undefined,
          )
        )?.status === 200,
      30_000,
      () => mesh.server.log(),
    );
  });

  after(async () => {
    await mesh?.stop();
    await Promise.all(Object.values(apps).map((a) => a.close()));
  });

  it('decides at the server, and denies while the server is down', async () => {
    assert.equal(
      (await send({ from: 'web', to: 'ledger', method: 'GET', path: '/books' })).status,
      200,
    );
    assert.equal(
      (await send({ from: 'ops', to: 'ledger', method: 'GET', path: '/books' })).status,
      403,
    );
    await mesh.server.stop();
    const answers = await Promise.all(
      Array.from({ length: 10 }, () =>
        send({ from: 'web', to: 'ledger', method: 'GET', path: '/books' }),
      ),
    );
    assert.deepEqual(
      answers.map((a) => a.status).filter((s) => s !== 403),
      [],
    );
  });
});

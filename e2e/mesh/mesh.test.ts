import assert from 'node:assert/strict';
import { mkdir, readFile } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { type Server as TlsServer, createServer as createTlsServer } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  bundleSet,
  encodePem,
  parseBundle,
  parseTrustDomain,
  systemClock,
  verifyJwtSvid,
} from '@parley/core';
import {
  type Envoy,
  freePort,
  freePorts,
  makeTestCa,
  waitFor,
  waitForEnvoyStat,
} from '@parley/testing';
import { INSTANCES, type InstancePorts, backendRoute, meshFiles } from './mesh-config.js';
import { type MeshCluster, startMeshCluster } from './mesh-harness.js';
import { type TestApp, startTestApp } from './test-app.js';

interface Reply {
  readonly status: number;
  readonly service: string;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly ms: number;
}

const agent = new Agent({ keepAlive: true, maxSockets: 64 });

/** One HTTP request through a sidecar's outbound listener, naming the service in Host. */
function call(
  port: number,
  host: string,
  path = '/',
  headers: Record<string, string> = {},
): Promise<Reply> {
  const start = performance.now();
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path, agent, headers: { host, ...headers }, timeout: 10_000 },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => {
          let service = '';
          try {
            service = (JSON.parse(body) as { service?: string }).service ?? '';
          } catch {
            // not from a test app (an Envoy-generated answer)
          }
          resolve({
            status: res.statusCode ?? 0,
            service,
            headers: res.headers,
            ms: performance.now() - start,
          });
        });
      },
    );
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.end();
  });
}

/** Runs `n` calls with at most `parallel` in flight. */
async function callMany(n: number, parallel: number, one: () => Promise<Reply>): Promise<Reply[]> {
  const replies: Reply[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < n) {
        next += 1;
        replies.push(await one());
      }
    }),
  );
  return replies;
}

/** An HTTPS request straight to a sidecar's inbound listener with `tls` options; the status or the error. */
function inboundRequest(port: number, tls: { cert?: string; key?: string }): Promise<string> {
  return new Promise((resolve) => {
    const req = httpsRequest(
      {
        host: '127.0.0.1',
        port,
        path: '/',
        rejectUnauthorized: false,
        agent: false,
        timeout: 5000,
        ...tls,
      },
      (res) => {
        res.resume();
        resolve(`HTTP ${res.statusCode ?? 0}`);
      },
    );
    req.on('error', (err) => resolve(`error: ${err.message}`));
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end();
  });
}

/** The serial number of the certificate an Envoy serves (its first dynamic SDS certificate). */
async function servedSerial(envoy: Envoy): Promise<string> {
  const certs = JSON.parse(await envoy.admin('/certs')) as {
    certificates: { cert_chain?: { serial_number: string }[] }[];
  };
  return certs.certificates.flatMap((c) => c.cert_chain ?? [])[0]?.serial_number ?? '';
}

// Three small HTTP services (plus a client) on loopback, each instance behind its own real Envoy
// 1.40 sidecar with its own SVID from its per-workload agent socket; listeners, routes, clusters
// and endpoints come from the server's ADS, compiled from a Git repository the test commits to.
describe('mesh: real Envoy sidecars driven by Parley (SDS + ADS from Git)', () => {
  let mesh: MeshCluster;
  const ports: Record<string, InstancePorts> = {};
  const apps: Record<string, TestApp> = {};
  const envoys: Record<string, Envoy> = {};
  const adminPorts: Record<string, number> = {};
  let out = 0;
  let impostor: TlsServer;
  let impostorPort = 0;

  const extra = () => [
    { name: 'impostor', spiffeId: 'spiffe://example.org/impostor', inbound: impostorPort },
  ];

  before(async () => {
    mesh = await startMeshCluster();
    // A TLS server holding a real SVID of the mesh, but not the identity its Service declares.
    const dir = join(mesh.dir, 'other');
    await mkdir(dir);
    const minted = await mesh.admin(
      'x509',
      'mint',
      '--spiffe-id',
      'spiffe://example.org/someone-else',
      '--write',
      dir,
    );
    assert.equal(minted.code, 0, minted.stderr);
    impostor = createTlsServer({
      cert: await readFile(join(dir, 'svid.pem')),
      key: await readFile(join(dir, 'key.pem')),
    });
    impostor.on('secureConnection', (s) => s.end('HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n'));
    impostor.on('tlsClientError', () => undefined);
    await new Promise<void>((resolve) => impostor.listen(0, '127.0.0.1', resolve));
    impostorPort = (impostor.address() as AddressInfo).port;
    // Every app first, then all listener ports at once: a port picked before an app bound port 0
    // could be handed to that app (the kernel reuses released ports).
    const instances = Object.values(INSTANCES).flat();
    for (const instance of instances) apps[instance] = await startTestApp(instance);
    const picked = await freePorts(instances.length * 3);
    instances.forEach((instance, i) => {
      ports[instance] = {
        inbound: picked[2 * i] ?? 0,
        outbound: picked[2 * i + 1] ?? 0,
        app: apps[instance]?.port ?? 0,
      };
      adminPorts[instance] = picked[2 * instances.length + i] ?? 0;
    });
    out = ports['client-0']?.outbound ?? 0;

    const first = await mesh.commit(meshFiles(ports, { extra: extra() }), 'initial mesh');
    await mesh.waitForCommit(first);
    // Backend SVIDs live 10 s, so every test below runs across rotations (at ~5 s).
    const sockets: Record<string, string> = {};
    for (const service of Object.keys(INSTANCES)) {
      const ttl = service.startsWith('backend') ? '10s' : '1h';
      sockets[service] = await mesh.addWorkload(service, `spiffe://example.org/${service}`, ttl);
    }
    await Promise.all(
      Object.entries(INSTANCES).flatMap(([service, instances]) =>
        instances.map(async (instance) => {
          envoys[instance] = await mesh.startSidecar({
            name: instance,
            spiffeId: `spiffe://example.org/${service}`,
            instance,
            socket: sockets[service] ?? '',
            adminPort: adminPorts[instance] ?? 0,
            // Half the sidecars speak delta xDS, half state of the world.
            delta: instance.endsWith('-1') || service === 'flaky',
          });
        }),
      ),
    );
  });

  after(async () => {
    agent.destroy();
    impostor?.close();
    await mesh?.stop();
    await Promise.all(Object.values(apps).map((a) => a.close()));
  });

  it('A calls B through both sidecars over SPIFFE mTLS', async () => {
    const reply = await call(out, 'backend', '/', { 'x-version': 'v2' });
    assert.equal(reply.status, 200);
    assert.equal(reply.service, 'backend-v2-0');
    // The server-side sidecar tells its app who called (the client's SPIFFE ID, from its SVID).
    const xfcc = String(apps['backend-v2-0']?.lastHeaders()['x-forwarded-client-cert'] ?? '');
    assert.match(xfcc, /URI=spiffe:\/\/example\.org\/client/);
    const status = await mesh.status();
    assert.equal(status.counts.proxies, 5);
    assert.equal(status.counts.nacking, 0);
  });

  it('parley authz check decides against the served config (no policy: same-domain callers only)', async () => {
    const check = (source: string) =>
      mesh.admin(
        'authz',
        'check',
        '--source',
        source,
        '--host',
        'backend',
        '--method',
        'GET',
        '--path',
        '/',
        '-o',
        'json',
      );
    const inside = await check('spiffe://example.org/client');
    assert.equal(inside.code, 0, inside.stderr);
    assert.equal(
      (JSON.parse(inside.stdout) as { decision: { outcome: string } }).decision.outcome,
      'allow',
    );
    const outside = await check('spiffe://other.example/client');
    assert.equal(outside.code, 0, outside.stderr);
    assert.equal(
      (JSON.parse(outside.stdout) as { decision: { outcome: string } }).decision.outcome,
      'deny',
    );
  });

  it('B refuses a TLS client without an SVID, with a self-signed cert, or from another trust domain', async () => {
    const inbound = ports['backend-0']?.inbound ?? 0;
    assert.match(await inboundRequest(inbound, {}), /^error/);
    const selfSigned = await makeTestCa({ trustDomain: 'example.org' });
    const forged = await selfSigned.mintSvid('spiffe://example.org/client');
    const other = await makeTestCa({ trustDomain: 'other.example' });
    const foreign = await other.mintSvid('spiffe://other.example/client');
    for (const svid of [forged, foreign]) {
      const answer = await inboundRequest(inbound, {
        cert: encodePem('CERTIFICATE', svid.der),
        key: svid.key.export({ type: 'pkcs8', format: 'pem' }).toString(),
      });
      assert.match(answer, /^error/, 'the handshake must fail');
    }
    // Positive control: a real SVID of the mesh gets through.
    const dir = join(mesh.dir, 'good');
    await mkdir(dir);
    assert.equal(
      (
        await mesh.admin(
          'x509',
          'mint',
          '--spiffe-id',
          'spiffe://example.org/client',
          '--write',
          dir,
        )
      ).code,
      0,
    );
    const answer = await inboundRequest(inbound, {
      cert: await readFile(join(dir, 'svid.pem'), 'utf8'),
      key: await readFile(join(dir, 'key.pem'), 'utf8'),
    });
    assert.equal(answer, 'HTTP 200');
  });

  it("A's cluster refuses a server presenting the wrong SPIFFE ID", async () => {
    const reply = await call(out, 'impostor');
    assert.equal(reply.status, 503);
    const client = envoys['client-0'];
    assert.ok(client);
    await waitForEnvoyStat(client, 'cluster.impostor.ssl.fail_verify_san', (n) => n > 0);
  });

  it('a 90/10 weighted split over 2,000 requests lands within ±3 points', async () => {
    const replies = await callMany(2000, 20, () => call(out, 'backend'));
    assert.ok(replies.every((r) => r.status === 200));
    const v2 = replies.filter((r) => r.service === 'backend-v2-0').length / replies.length;
    assert.ok(Math.abs(v2 - 0.1) <= 0.03, `backend-v2 got ${(v2 * 100).toFixed(1)}%`);
    // Both v1 instances served.
    assert.ok(apps['backend-0']!.received() > 0 && apps['backend-1']!.received() > 0);
  });

  it('header-based routing sends x-version: v2 to v2', async () => {
    const replies = await callMany(50, 5, () => call(out, 'backend', '/', { 'x-version': 'v2' }));
    assert.ok(replies.every((r) => r.status === 200 && r.service === 'backend-v2-0'));
  });

  it('retries turn a 50%-failing upstream into ≥ 99% success', async () => {
    apps['flaky-0']!.setBehavior({ failRatio: 0.5 });
    try {
      // One at a time: flaky's circuit breaker allows 2 requests in flight (tested below).
      const replies = await callMany(200, 1, () => call(out, 'flaky', '/retried'));
      const ok = replies.filter((r) => r.status === 200).length;
      assert.ok(ok >= 198, `${ok}/200 succeeded`);
      // The app really failed about half the attempts it saw.
      assert.ok(apps['flaky-0']!.received() > 300);
    } finally {
      apps['flaky-0']!.setBehavior({});
    }
  });

  it('token egress: the caller sidecar replaces the app Authorization with its JWT-SVID for the audience', async () => {
    const reply = await call(out, 'flaky', '/egress', { authorization: 'Bearer made-by-the-app' });
    assert.equal(reply.status, 200);
    const header = String(apps['flaky-0']?.lastHeaders()['authorization'] ?? '');
    assert.match(header, /^Bearer [\w-]+\.[\w-]+\.[\w-]+$/, 'a bearer JWT');
    // A JWT-SVID of the caller for flaky's audience, valid for the trust domain's JWT authorities.
    const bundle = await mesh.admin('bundle', 'show', '-o', 'spiffe');
    assert.equal(bundle.code, 0, bundle.stderr);
    const verified = verifyJwtSvid(
      header.slice('Bearer '.length),
      bundleSet(parseBundle(parseTrustDomain('example.org'), bundle.stdout)),
      ['spiffe://example.org/flaky'],
      systemClock,
    );
    assert.ok(verified.ok, verified.ok ? '' : verified.reason);
    assert.equal(verified.svid.spiffeId.toString(), 'spiffe://example.org/client');
    // Routes without egress carry what the app sent.
    await call(out, 'backend', '/', { authorization: 'Bearer made-by-the-app' });
    const seen = Object.values(apps)
      .filter((a) => a !== apps['flaky-0'])
      .map((a) => a.lastHeaders()['authorization'])
      .filter((h) => h !== undefined);
    assert.ok(seen.includes('Bearer made-by-the-app'));
  });

  it('a timeout answers 504 in time', async () => {
    const reply = await call(out, 'flaky', '/slow');
    assert.equal(reply.status, 504);
    assert.ok(reply.ms < 1500, `answered after ${reply.ms.toFixed(0)} ms`);
  });

  it('fault abort returns the configured status', async () => {
    const reply = await call(out, 'flaky', '/abort');
    assert.equal(reply.status, 418);
  });

  it('a circuit breaker trips at its limit', async () => {
    // flaky allows 2 requests in flight and 1 pending; /hold answers after 800 ms. How many get
    // through depends on whether upstream connections are still being set up (a request waiting
    // for a connection is pending), but never more than the limits allow.
    const replies = await Promise.all(Array.from({ length: 8 }, () => call(out, 'flaky', '/hold')));
    const ok = replies.filter((r) => r.status === 200).length;
    const overflowed = replies.filter((r) => r.status === 503 && r.headers['x-envoy-overloaded']);
    const summary = replies.map((r) => r.status).join(',');
    assert.ok(ok >= 1 && ok <= 3, `${ok} of 8 succeeded (${summary})`);
    assert.equal(overflowed.length, 8 - ok, summary);
    const client = envoys['client-0'];
    assert.ok(client);
    await waitForEnvoyStat(client, 'cluster.flaky.upstream_rq_pending_overflow', (n) => n > 0);
  });

  it('SVID rotation under a steady stream of requests fails none', async () => {
    const server = envoys['backend-0'];
    assert.ok(server);
    const serials = new Set([await servedSerial(server)]);
    let failed = 0;
    let sent = 0;
    const until = performance.now() + 13_000;
    const watcher = (async () => {
      while (performance.now() < until) {
        serials.add(await servedSerial(server));
        await new Promise((r) => setTimeout(r, 250));
      }
    })();
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (performance.now() < until) {
          sent += 1;
          const r = await call(out, 'backend').catch(() => undefined);
          if (r?.status !== 200) failed += 1;
          await new Promise((res) => setTimeout(res, 10));
        }
      }),
    );
    await watcher;
    assert.equal(failed, 0, `${failed} of ${sent} requests failed`);
    assert.ok(
      serials.size >= 3,
      `backend-0 served ${serials.size} certificates (2 rotations expected)`,
    );
  });

  it('an instance registered at run time gets its sidecar config and its share of traffic', async () => {
    const app = await startTestApp('backend-v2-1');
    apps['backend-v2-1'] = app;
    const [inbound, outbound] = [await freePort(), await freePort()];
    ports['backend-v2-1'] = { inbound, outbound, app: app.port };
    const registered = await mesh.admin(
      'mesh',
      'register',
      'backend-v2',
      '--endpoint',
      `name=backend-v2-1,inbound=127.0.0.1:${inbound},app=127.0.0.1:${app.port},outbound=127.0.0.1:${outbound}`,
    );
    assert.equal(registered.code, 0, registered.stderr);
    assert.match(registered.stdout, /\.e1$/m);
    envoys['backend-v2-1'] = await mesh.startSidecar({
      name: 'backend-v2-1',
      spiffeId: 'spiffe://example.org/backend-v2',
      instance: 'backend-v2-1',
      socket: join(mesh.dir, 'workloads', 'backend-v2.sock'),
    });
    await waitFor('the new instance serves v2 traffic', async () => {
      const replies = await callMany(20, 4, () => call(out, 'backend', '/', { 'x-version': 'v2' }));
      return replies.some((r) => r.service === 'backend-v2-1');
    });
    const bad = await mesh.admin(
      'mesh',
      'register',
      'backend-v2',
      '--endpoint',
      'name=x,inbound=nope',
    );
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /inbound/);
  });

  it('a config Envoy rejects is NACKed, reported and never replaces what the proxy runs', async () => {
    const app = apps['backend-v2-1'];
    assert.ok(app);
    const endpoint = (outbound: number) =>
      `name=backend-v2-1,inbound=127.0.0.1:${ports['backend-v2-1']?.inbound ?? 0},app=127.0.0.1:${app.port},outbound=127.0.0.1:${outbound}`;
    // Its outbound listener moves onto a port its own app already holds: Envoy cannot bind it.
    const bad = await mesh.admin(
      'mesh',
      'register',
      'backend-v2',
      '--endpoint',
      endpoint(app.port),
    );
    assert.equal(bad.code, 0, bad.stderr);
    const version = bad.stdout.trim();
    await waitFor('the NACK in mesh status', async () => {
      const s = await mesh.status();
      return s.proxies.some((p) =>
        Object.values(p.types).some((t) => t.lastNack?.version === version),
      );
    });
    const table = await mesh.admin('mesh', 'status');
    assert.match(table.stdout, /rejected by proxies:/);
    // The instance still serves through the listeners it had.
    await waitFor('v2-1 still answers', async () => {
      const replies = await callMany(20, 4, () => call(out, 'backend', '/', { 'x-version': 'v2' }));
      return (
        replies.every((r) => r.status === 200) && replies.some((r) => r.service === 'backend-v2-1')
      );
    });
    const fixed = await mesh.admin(
      'mesh',
      'register',
      'backend-v2',
      '--endpoint',
      endpoint(await freePort()),
    );
    assert.equal(fixed.code, 0, fixed.stderr);
    await waitFor('every proxy ACKed the fix', async () => {
      const s = await mesh.status();
      return s.version === fixed.stdout.trim() && s.counts.upToDate === s.counts.proxies;
    });
  });

  it('a bad commit is rejected with file:line and traffic stays on the old snapshot; the next good one applies without dropping a request', async () => {
    const before = (await mesh.status()).commit;
    let failed = 0;
    let sent = 0;
    let running = true;
    const traffic = Promise.all(
      Array.from({ length: 4 }, async () => {
        while (running) {
          sent += 1;
          const r = await call(out, 'backend').catch(() => undefined);
          if (r?.status !== 200) failed += 1;
          await new Promise((res) => setTimeout(res, 5));
        }
      }),
    );
    try {
      const badRule = `    - name: broken\n      match: { path: { regex: "(unclosed" } }\n      destinations: [{ service: backend }]\n`;
      const bad = await mesh.commit(
        meshFiles(ports, { extra: extra(), backendRoute: backendRoute(10, badRule) }),
        'bad regex',
      );
      await mesh.waitForCommit(bad, 'rejected');
      const status = await mesh.status();
      assert.equal(status.commit, before, 'the last good snapshot stays in force');
      const problems = status.controller.lastRejected?.problems ?? [];
      assert.ok(
        problems.some(
          (p) => p.file === 'routes/backend.yaml' && p.line > 0 && /regex/.test(p.path),
        ),
        JSON.stringify(problems),
      );
      const table = await mesh.admin('mesh', 'status');
      assert.match(table.stdout, /routes\/backend\.yaml:\d+: /);

      // The good commit moves all default traffic to the canary.
      const good = await mesh.commit(
        meshFiles(ports, { extra: extra(), backendRoute: backendRoute(100) }),
        'all to v2',
      );
      await mesh.waitForCommit(good);
      await waitFor('v2 serves the default route', async () => {
        const r = await call(out, 'backend');
        return r.service === 'backend-v2-0';
      });
      await waitFor('every proxy ACKed the new commit', async () => {
        const s = await mesh.status();
        return s.counts.upToDate === s.counts.proxies;
      });
    } finally {
      running = false;
      await traffic;
    }
    assert.equal(failed, 0, `${failed} of ${sent} requests failed across the commits`);
  });

  it('outlier detection ejects a failing endpoint', async () => {
    // Back to the 90/10 split, then backend-1 starts failing everything.
    const commit = await mesh.commit(meshFiles(ports, { extra: extra() }), 'back to 90/10');
    await mesh.waitForCommit(commit);
    apps['backend-1']!.setBehavior({ failRatio: 1 });
    const client = envoys['client-0'];
    assert.ok(client);
    await callMany(40, 1, () => call(out, 'backend'));
    await waitForEnvoyStat(
      client,
      'cluster.backend.outlier_detection.ejections_active',
      (n) => n === 1,
    );
    const replies = await callMany(100, 5, () => call(out, 'backend'));
    assert.ok(
      replies.every((r) => r.status === 200),
      'the ejected endpoint gets no more requests',
    );
  });
});

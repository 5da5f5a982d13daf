import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey, createPublicKey } from 'node:crypto';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { type Server, type ServiceError, status } from '@grpc/grpc-js';
import type { X509SvidResponse } from '@parley/api';
import {
  type Bundle,
  generateKey,
  parseTrustDomain,
  systemClock,
  verifyJwtSvid,
  bundleSet,
} from '@parley/core';
import { type TempDir, makeTempDir, makeTestCa } from '@parley/testing';
import { FakeIdentityCache } from './fake-identity-cache.js';
import type {
  CallerResult,
  Selector,
  WorkloadApiCall,
  WorkloadApiLog,
} from './workload-api-deps.js';
import { createWorkloadApiService } from './workload-api-service.js';
import {
  StreamReader,
  type WorkloadApiTestClient,
  callMetadata,
  callUnary,
  serveWorkloadApi,
  workloadApiTestClient,
} from './workload-api-test-client.js';

const sel = (value: string): Selector => ({ type: 'test', value });

/** Test callers are named by a header; `crowd-*` callers also carry the `crowd` selector. */
async function identify(call: WorkloadApiCall): Promise<CallerResult> {
  const header = call.metadata.get('x-test-caller')[0];
  const who = typeof header === 'string' ? header : 'default';
  if (who === 'unattestable') return { ok: false, reason: 'no peer credentials' };
  const selectors = [sel(`caller:${who}`)];
  if (who.startsWith('crowd-')) selectors.push(sel('crowd'));
  return { ok: true, selectors };
}

function serial(response: X509SvidResponse, i = 0): string {
  const der = response.svids[i]?.x509_svid;
  assert.ok(der !== undefined, `response has an SVID #${i}`);
  return new X509Certificate(der).serialNumber;
}

async function waitFor(what: string, ready: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ready()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Lets the service's coalesced fan-out (scheduled with setImmediate) run. */
const settle = () => new Promise((r) => setImmediate(() => setImmediate(r)));

describe('Workload API service (grpc-js client)', () => {
  let dir: TempDir;
  let server: Server;
  let client: WorkloadApiTestClient;
  let cache: FakeIdentityCache;
  let partner: Bundle;
  let socket: string;
  const logged: { level: string; message: string; fields?: unknown }[] = [];
  const log: WorkloadApiLog = {
    warn: (message, fields) => logged.push({ level: 'warn', message, fields }),
    error: (message, fields) => logged.push({ level: 'error', message, fields }),
  };

  before(async () => {
    dir = await makeTempDir();
    const ca = await makeTestCa();
    const partnerCa = await makeTestCa({ trustDomain: 'partner.example' });
    cache = new FakeIdentityCache(ca);
    partner = {
      trustDomain: parseTrustDomain('partner.example'),
      x509Authorities: [partnerCa.root],
      jwtAuthorities: new Map([['partner-key', createPublicKey(generateKey('ec-p256'))]]),
    };
    cache.setFederatedBundle(partner);
    await cache.addEntry({
      selectors: [sel('caller:alice')],
      spiffeId: 'spiffe://example.org/alice',
      hint: 'internal',
      federatesWith: ['partner.example'],
    });
    await cache.addEntry({
      selectors: [sel('caller:alice')],
      spiffeId: 'spiffe://example.org/alice-ext',
      hint: 'external',
    });
    await cache.addEntry({
      selectors: [sel('caller:alice')],
      spiffeId: 'spiffe://example.org/alice-dup',
      hint: 'internal',
    });
    for (const name of ['bob', 'fan-a', 'fan-b'])
      await cache.addEntry({
        selectors: [sel(`caller:${name}`)],
        spiffeId: `spiffe://example.org/${name}`,
      });
    await cache.addEntry({ selectors: [sel('crowd')], spiffeId: 'spiffe://example.org/crowd' });
    const service = createWorkloadApiService({ identify, cache, clock: systemClock, log });
    socket = join(dir.path, 'agent.sock');
    server = await serveWorkloadApi(socket, service);
    client = workloadApiTestClient(socket);
  });

  after(async () => {
    client.close();
    server.forceShutdown();
    await dir.remove();
  });

  describe('security header (Workload Endpoint §3, §6)', () => {
    const cases: [string, number, string][] = [
      ['missing', 0, 'true'],
      ['sent twice', 2, 'true'],
      ['not exactly "true"', 1, 'TRUE'],
    ];
    for (const [name, count, value] of cases) {
      it(`answers INVALID_ARGUMENT when the header is ${name}`, async () => {
        const md = () => callMetadata('alice', count, value);
        for (const open of [
          () => client.FetchX509SVID({}, md()),
          () => client.FetchX509Bundles({}, md()),
          () => client.FetchJWTBundles({}, md()),
        ]) {
          const err = await new StreamReader(open()).status();
          assert.equal(err.code, status.INVALID_ARGUMENT);
          assert.match(err.details, /workload\.spiffe\.io/);
        }
        for (const call of [
          callUnary(client.FetchJWTSVID.bind(client), { audience: ['a'] }, md()),
          callUnary(client.ValidateJWTSVID.bind(client), { audience: 'a', svid: 'x.y.z' }, md()),
        ]) {
          await assert.rejects(call, (err: ServiceError) => err.code === status.INVALID_ARGUMENT);
        }
      });
    }
  });

  it('answers PERMISSION_DENIED to a caller entitled to no identity', async () => {
    for (const open of [
      () => client.FetchX509SVID({}, callMetadata('nobody')),
      () => client.FetchX509Bundles({}, callMetadata('nobody')),
      () => client.FetchJWTBundles({}, callMetadata('nobody')),
    ]) {
      const err = await new StreamReader(open()).status();
      assert.equal(err.code, status.PERMISSION_DENIED);
      assert.equal(err.details, 'no identity issued');
    }
    await assert.rejects(
      callUnary(client.FetchJWTSVID.bind(client), { audience: ['a'] }, callMetadata('nobody')),
      (err: ServiceError) => err.code === status.PERMISSION_DENIED,
    );
  });

  it('answers UNAVAILABLE when the caller cannot be attested, and logs why', async () => {
    const err = await new StreamReader(
      client.FetchX509SVID({}, callMetadata('unattestable')),
    ).status();
    assert.equal(err.code, status.UNAVAILABLE);
    assert.equal(err.details, 'workload attestation failed');
    assert.ok(logged.some((l) => JSON.stringify(l.fields).includes('no peer credentials')));
  });

  it('answers UNIMPLEMENTED to the WIT-SVID profile (Workload API §7)', async () => {
    for (const open of [
      () => client.FetchWITSVID({}, callMetadata('alice')),
      () => client.FetchWITBundles({ spiffe_id: '' }, callMetadata('alice')),
    ]) {
      const err = await new StreamReader(open()).status();
      assert.equal(err.code, status.UNIMPLEMENTED);
    }
  });

  it('streams every SVID with its key, bundle, unique hints and federated bundles', async () => {
    const reader = new StreamReader(client.FetchX509SVID({}, callMetadata('alice')));
    const first = await reader.next();
    assert.deepEqual(
      first.svids.map((s) => [s.spiffe_id, s.hint]),
      [
        ['spiffe://example.org/alice', 'internal'],
        ['spiffe://example.org/alice-ext', 'external'],
      ],
    );
    for (const svid of first.svids) {
      const cert = new X509Certificate(svid.x509_svid);
      const key = createPrivateKey({ key: svid.x509_svid_key, format: 'der', type: 'pkcs8' });
      assert.ok(cert.checkPrivateKey(key), 'the key matches the leaf');
      assert.deepEqual(svid.bundle, Buffer.from(cache.bundle.x509Authorities[0]!.raw));
    }
    assert.deepEqual(Object.keys(first.federated_bundles), ['spiffe://partner.example']);
    assert.deepEqual(
      first.federated_bundles['spiffe://partner.example'],
      Buffer.from(partner.x509Authorities[0]!.raw),
    );
    assert.ok(logged.some((l) => l.message.includes('hint is not unique')));
    reader.stream.cancel();

    const bob = new StreamReader(client.FetchX509SVID({}, callMetadata('bob')));
    assert.deepEqual((await bob.next()).federated_bundles, {}, 'bob federates with nobody');
    bob.stream.cancel();
  });

  it('streams X.509 bundles and JWT bundles (plain JWKS with kid, no use)', async () => {
    const x509 = new StreamReader(client.FetchX509Bundles({}, callMetadata('alice')));
    const bundles = (await x509.next()).bundles;
    assert.deepEqual(Object.keys(bundles).sort(), [
      'spiffe://example.org',
      'spiffe://partner.example',
    ]);
    x509.stream.cancel();

    const jwt = new StreamReader(client.FetchJWTBundles({}, callMetadata('alice')));
    const jwks = (await jwt.next()).bundles;
    const own = JSON.parse(jwks['spiffe://example.org']!.toString()) as {
      keys: Record<string, string>[];
    };
    assert.equal(own.keys.length, 1);
    assert.equal(own.keys[0]?.['kid'], 'fake-jwt-key');
    assert.equal(own.keys[0]?.['kty'], 'EC');
    assert.equal(own.keys[0]?.['use'], undefined);
    assert.equal(own.keys[0]?.['d'], undefined);
    const foreign = JSON.parse(jwks['spiffe://partner.example']!.toString()) as {
      keys: { kid: string }[];
    };
    assert.deepEqual(
      foreign.keys.map((k) => k.kid),
      ['partner-key'],
    );
    jwt.stream.cancel();
  });

  describe('FetchJWTSVID (Workload API §6.2.1)', () => {
    it('mints a JWT-SVID for every identity, or only the one requested', async () => {
      const all = await callUnary(
        client.FetchJWTSVID.bind(client),
        { audience: ['svc-a', 'svc-b'] },
        callMetadata('alice'),
      );
      assert.deepEqual(
        all.svids.map((s) => [s.spiffe_id, s.hint]),
        [
          ['spiffe://example.org/alice', 'internal'],
          ['spiffe://example.org/alice-ext', 'external'],
        ],
      );
      for (const s of all.svids) {
        const result = verifyJwtSvid(s.svid, bundleSet(cache.bundle), ['svc-b'], systemClock);
        assert.ok(result.ok, result.ok ? '' : result.reason);
        assert.equal(result.svid.spiffeId.toString(), s.spiffe_id);
      }
      const one = await callUnary(
        client.FetchJWTSVID.bind(client),
        { audience: ['svc-a'], spiffe_id: 'spiffe://example.org/alice-ext' },
        callMetadata('alice'),
      );
      assert.deepEqual(
        one.svids.map((s) => s.spiffe_id),
        ['spiffe://example.org/alice-ext'],
      );
    });

    it('requires an audience', async () => {
      for (const audience of [[], ['']]) {
        await assert.rejects(
          callUnary(client.FetchJWTSVID.bind(client), { audience }, callMetadata('alice')),
          (err: ServiceError) => err.code === status.INVALID_ARGUMENT,
        );
      }
    });

    it('refuses a SPIFFE ID that is not the caller’s, and rejects a malformed one', async () => {
      await assert.rejects(
        callUnary(
          client.FetchJWTSVID.bind(client),
          { audience: ['a'], spiffe_id: 'spiffe://example.org/bob' },
          callMetadata('alice'),
        ),
        (err: ServiceError) => err.code === status.PERMISSION_DENIED,
      );
      await assert.rejects(
        callUnary(
          client.FetchJWTSVID.bind(client),
          { audience: ['a'], spiffe_id: 'https://example.org/alice' },
          callMetadata('alice'),
        ),
        (err: ServiceError) => err.code === status.INVALID_ARGUMENT,
      );
    });
  });

  describe('ValidateJWTSVID (Workload API §6.2.3)', () => {
    it('returns the SPIFFE ID and the claims as a Struct', async () => {
      const { svids } = await callUnary(
        client.FetchJWTSVID.bind(client),
        { audience: ['svc-a'], spiffe_id: 'spiffe://example.org/bob' },
        callMetadata('bob'),
      );
      const token = svids[0]!.svid;
      const res = await callUnary(
        client.ValidateJWTSVID.bind(client),
        { audience: 'svc-a', svid: token },
        callMetadata('alice'),
      );
      assert.equal(res.spiffe_id, 'spiffe://example.org/bob');
      const fields = res.claims?.fields as Record<string, Record<string, unknown>>;
      assert.equal(fields['sub']?.['stringValue'], 'spiffe://example.org/bob');
      const aud = fields['aud']?.['listValue'] as { values: { stringValue: string }[] };
      assert.deepEqual(
        aud.values.map((v) => v.stringValue),
        ['svc-a'],
      );
      assert.equal(typeof fields['exp']?.['numberValue'], 'number');
    });

    it('answers INVALID_ARGUMENT for a bad token, wrong audience or missing field', async () => {
      const { svids } = await callUnary(
        client.FetchJWTSVID.bind(client),
        { audience: ['svc-a'] },
        callMetadata('bob'),
      );
      const token = svids[0]!.svid;
      for (const req of [
        { audience: 'svc-b', svid: token },
        { audience: 'svc-a', svid: token.slice(0, -4) + 'AAAA' },
        { audience: '', svid: token },
        { audience: 'svc-a', svid: '' },
      ]) {
        await assert.rejects(
          callUnary(client.ValidateJWTSVID.bind(client), req, callMetadata('alice')),
          (err: ServiceError) => {
            assert.equal(err.code, status.INVALID_ARGUMENT);
            assert.ok(!err.details.includes(token), 'the token is never echoed');
            return true;
          },
        );
      }
    });
  });

  describe('streams and fan-out', () => {
    // Each test starts with no stream left open by the previous one.
    beforeEach(() => waitFor('previous streams closed', () => cache.listenerCount === 0));

    it('pushes the full state on rotation, and only when the caller’s view changed', async () => {
      const a = new StreamReader(client.FetchX509SVID({}, callMetadata('fan-a')));
      const b = new StreamReader(client.FetchX509SVID({}, callMetadata('fan-b')));
      const a1 = await a.next();
      const b1 = await b.next();
      const views = cache.viewCalls;
      cache.notify(); // a change event that changes nothing
      await settle();
      assert.equal(cache.viewCalls - views, 2, 'each group recomputed once');
      await cache.rotate('spiffe://example.org/fan-a');
      const a2 = await a.next();
      assert.notEqual(serial(a2), serial(a1));
      assert.equal(a2.svids.length, 1, 'full state, not a delta');
      await cache.rotate('spiffe://example.org/fan-b');
      const b2 = await b.next();
      assert.notEqual(serial(b2), serial(b1), 'no duplicate of the unchanged view was sent');
      assert.equal(a.buffered, 0, 'fan-a got nothing for fan-b’s rotation');
      a.stream.cancel();
      b.stream.cancel();
    });

    it('computes each distinct caller view once per change, however many streams', async () => {
      const readers = [
        ...Array.from({ length: 50 }, () => callMetadata('fan-a')),
        ...Array.from({ length: 50 }, () => callMetadata('fan-b')),
      ].map((md) => new StreamReader(client.FetchX509SVID({}, md)));
      await Promise.all(readers.map((r) => r.next()));
      const views = cache.viewCalls;
      await cache.rotate('spiffe://example.org/fan-a');
      await Promise.all(readers.slice(0, 50).map((r) => r.next()));
      assert.equal(cache.viewCalls - views, 2);
      for (const r of readers) r.stream.cancel();
    });

    it('ends a stream with PERMISSION_DENIED when the caller loses its last identity', async () => {
      await cache.addEntry({
        selectors: [sel('caller:carol')],
        spiffeId: 'spiffe://example.org/carol',
      });
      const reader = new StreamReader(client.FetchJWTBundles({}, callMetadata('carol')));
      await reader.next();
      cache.removeEntry('spiffe://example.org/carol');
      const err = await reader.status();
      assert.equal(err.code, status.PERMISSION_DENIED);
    });

    it('pushes a bundle change to every kind of stream', async () => {
      const svids = new StreamReader(client.FetchX509SVID({}, callMetadata('bob')));
      const x509 = new StreamReader(client.FetchX509Bundles({}, callMetadata('bob')));
      const jwt = new StreamReader(client.FetchJWTBundles({}, callMetadata('bob')));
      await Promise.all([svids.next(), x509.next(), jwt.next()]);
      const extra = await makeTestCa();
      const own = cache.bundle;
      cache.setBundle({ ...own, x509Authorities: [...own.x509Authorities, extra.root] });
      assert.equal(
        (await svids.next()).svids[0]!.bundle.length,
        own.x509Authorities[0]!.raw.length + extra.root.raw.length,
      );
      assert.ok(
        (await x509.next()).bundles['spiffe://example.org']!.length >
          own.x509Authorities[0]!.raw.length,
      );
      await assert.rejects(jwt.next(200), /no stream event/, 'the JWT bundles did not change');
      cache.setBundle(own);
      for (const r of [svids, x509, jwt]) r.stream.cancel();
    });

    it('leaves no listener or group behind after 1,000 open-then-cancelled streams', async () => {
      const witness = new StreamReader(client.FetchX509SVID({}, callMetadata('bob')));
      await witness.next();
      // 1,000 callers over 10 connections: Node's HTTP/2 server closes a session whose client
      // resets streams faster than its rapid-reset limit (CVE-2023-44487) allows.
      const connections = Array.from({ length: 10 }, () =>
        workloadApiTestClient(socket, { 'grpc.use_local_subchannel_pool': 1 }),
      );
      const crowd = Array.from(
        { length: 1000 },
        (_, i) =>
          new StreamReader(connections[i % 10]!.FetchX509SVID({}, callMetadata(`crowd-${i}`))),
      );
      await Promise.all(crowd.map((r) => r.next()));
      assert.equal(cache.listenerCount, 1);
      for (const r of crowd) r.stream.cancel();
      // Once the server has seen every cancellation, a change recomputes only the witness's view.
      const deadline = Date.now() + 5000;
      for (;;) {
        const views = cache.viewCalls;
        cache.notify();
        await settle();
        if (cache.viewCalls - views === 1) break;
        assert.ok(Date.now() < deadline, `cancelled streams still registered after 5 s`);
        await new Promise((r) => setTimeout(r, 20));
      }
      witness.stream.cancel();
      await waitFor('no listener left', () => cache.listenerCount === 0);
      for (const c of connections) c.close();
    });
  });
});

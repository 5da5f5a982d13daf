import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Server, ServerCredentials, type ServiceError, status } from '@grpc/grpc-js';
import { type DiscoveryResponse, XDS_TYPE_URL, loadXdsServices } from '@parley/api';
import { type Bundle, encodePem, parseTrustDomain } from '@parley/core';
import { type TempDir, type TestCa, makeTempDir, makeTestCa } from '@parley/testing';
import { FakeIdentityCache } from '../workload-api/fake-identity-cache.js';
import type { CallerResult, Selector, WorkloadApiLog } from '../workload-api/workload-api-deps.js';
import { StreamReader } from '../workload-api/workload-api-test-client.js';
import { type SdsCall, createSdsService } from './sds-service.js';
import {
  type SdsTestClient,
  SdsTestStream,
  decodeSecrets,
  sdsMetadata,
  sdsTestClient,
} from './sds-test-client.js';

const sel = (value: string): Selector => ({ type: 'test', value });

/** Test callers are named by a header (a stand-in for peer-credential attestation). */
async function identify(call: SdsCall): Promise<CallerResult> {
  const header = call.metadata.get('x-test-caller')[0];
  const who = typeof header === 'string' ? header : 'default';
  if (who === 'unattestable') return { ok: false, reason: 'no peer credentials' };
  return { ok: true, selectors: [sel(`caller:${who}`)] };
}

const leafId = (pem: string | undefined): string | undefined =>
  pem === undefined ? undefined : new X509Certificate(pem).subjectAltName;
const serial = (pem: string | undefined): string => new X509Certificate(pem ?? '').serialNumber;

describe('SDS service (grpc-js client)', () => {
  let dir: TempDir;
  let server: Server;
  let client: SdsTestClient;
  let cache: FakeIdentityCache;
  let ca: TestCa;
  let partner: Bundle;
  const logged: { level: string; message: string; fields?: unknown }[] = [];
  const log: WorkloadApiLog = {
    warn: (message, fields) => logged.push({ level: 'warn', message, fields }),
    error: (message, fields) => logged.push({ level: 'error', message, fields }),
  };
  const open = (caller: string) => new SdsTestStream(client.StreamSecrets(sdsMetadata(caller)));
  const rootPem = () => encodePem('CERTIFICATE', ca.root.raw);

  before(async () => {
    dir = await makeTempDir();
    ca = await makeTestCa();
    const partnerCa = await makeTestCa({ trustDomain: 'partner.example' });
    cache = new FakeIdentityCache(ca);
    partner = {
      trustDomain: parseTrustDomain('partner.example'),
      x509Authorities: [partnerCa.root],
      jwtAuthorities: new Map(),
    };
    cache.setFederatedBundle(partner);
    await cache.addEntry({
      selectors: [sel('caller:alice')],
      spiffeId: 'spiffe://example.org/alice',
      federatesWith: ['partner.example'],
    });
    await cache.addEntry({
      selectors: [sel('caller:alice')],
      spiffeId: 'spiffe://example.org/alice-ext',
    });
    await cache.addEntry({ selectors: [sel('caller:bob')], spiffeId: 'spiffe://example.org/bob' });
    server = new Server();
    server.addService(
      loadXdsServices().SecretDiscoveryService.service,
      createSdsService({ identify, cache, log }),
    );
    const socket = join(dir.path, 'agent.sock');
    await new Promise<void>((resolve, reject) =>
      server.bindAsync(`unix://${socket}`, ServerCredentials.createInsecure(), (err) =>
        err ? reject(err) : resolve(),
      ),
    );
    client = sdsTestClient(socket);
  });

  after(async () => {
    client.close();
    server.forceShutdown();
    await dir.remove();
  });

  it('serves default and ROOTCA with the SPIFFE validator, and is quiet after the ACK', async () => {
    const stream = open('alice');
    try {
      stream.request(['default', 'ROOTCA']);
      const response = await stream.next();
      assert.equal(response.type_url, XDS_TYPE_URL.secret);
      assert.notEqual(response.version_info, '');
      assert.notEqual(response.nonce, '');
      const [cert, roots] = decodeSecrets(response);
      assert.equal(cert?.name, 'default');
      assert.equal(leafId(cert?.chain), 'URI:spiffe://example.org/alice');
      const key = createPrivateKey(cert?.key ?? '');
      assert.match(cert?.key ?? '', /^-----BEGIN PRIVATE KEY-----/);
      assert.ok(
        new X509Certificate(cert?.chain ?? '').checkPrivateKey(key),
        'the key matches the leaf',
      );
      assert.equal(roots?.name, 'ROOTCA');
      assert.deepEqual([...(roots?.trustDomains ?? [])], [['example.org', rootPem()]]);
      stream.request(['default', 'ROOTCA'], response);
      await stream.nothingFor();
    } finally {
      stream.close();
    }
  });

  it('pushes a rotation with a new version; a NACK is logged and not answered', async () => {
    const stream = open('bob');
    try {
      stream.request(['spiffe://example.org/bob']);
      const first = await stream.next();
      const before = serial(decodeSecrets(first)[0]?.chain);
      stream.request(['spiffe://example.org/bob'], first);
      await cache.rotate('spiffe://example.org/bob');
      const second = await stream.next();
      assert.notEqual(second.version_info, first.version_info);
      assert.notEqual(second.nonce, first.nonce);
      assert.notEqual(serial(decodeSecrets(second)[0]?.chain), before);
      // Envoy's NACK: the last accepted version with the nonce of the rejected response.
      const nack = { version_info: first.version_info, nonce: second.nonce };
      stream.request(['spiffe://example.org/bob'], nack, {
        code: status.INVALID_ARGUMENT,
        message: 'bad certificate',
      });
      cache.notify(); // a change event with the same content
      await stream.nothingFor();
      assert.ok(
        logged.some((l) => l.message === 'sds: client rejected secrets'),
        JSON.stringify(logged),
      );
      await cache.rotate('spiffe://example.org/bob');
      const third = await stream.next();
      assert.notEqual(third.version_info, second.version_info);
    } finally {
      stream.close();
    }
  });

  it('serves parley:jwt-svid:<audience> as Bearer <JWT-SVID> of the default identity, once minted', async () => {
    const name = 'parley:jwt-svid:spiffe://example.org/bob';
    const stream = open('alice');
    try {
      stream.request(['default', name]);
      let response = await stream.next();
      let secrets = decodeSecrets(response);
      if (!secrets.some((s) => s.name === name)) {
        // The certificate first; the token follows once the agent has it.
        stream.request(['default', name], response);
        response = await stream.next();
        secrets = decodeSecrets(response);
      }
      const token = secrets.find((s) => s.name === name)?.generic ?? '';
      assert.match(token, /^Bearer [\w-]+\.[\w-]+\.[\w-]+$/);
      const claims = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as {
        sub: string;
        aud: string | string[];
      };
      assert.equal(claims.sub, 'spiffe://example.org/alice');
      assert.deepEqual([claims.aud].flat(), ['spiffe://example.org/bob']);
      // A name that is not a valid audience is simply not served.
      const fetched = await new Promise<DiscoveryResponse>((resolve, reject) =>
        client.FetchSecrets(
          { resource_names: [name, 'parley:jwt-svid:'] },
          sdsMetadata('alice'),
          (err, r) => (err ? reject(err) : resolve(r as DiscoveryResponse)),
        ),
      );
      assert.deepEqual(
        decodeSecrets(fetched).map((s) => s.name),
        [name],
      );
    } finally {
      stream.close();
    }
  });

  it('ignores a request with a stale nonce', async () => {
    const stream = open('bob');
    try {
      stream.request(['default']);
      const first = await stream.next();
      stream.request(['default'], first);
      await cache.rotate('spiffe://example.org/bob');
      const second = await stream.next();
      // A request still carrying the first nonce (sent before the push arrived) is stale.
      stream.request(['default', 'ROOTCA'], first);
      await stream.nothingFor();
      stream.request(['default', 'ROOTCA'], second);
      assert.equal(decodeSecrets(await stream.next()).length, 2);
    } finally {
      stream.close();
    }
  });

  it("never sends another workload's identity; a new name set is answered at once", async () => {
    const stream = open('alice');
    try {
      stream.request(['spiffe://example.org/bob', 'nonsense']);
      await stream.nothingFor();
      stream.request(['spiffe://example.org/bob', 'spiffe://example.org/alice-ext']);
      const response = await stream.next();
      const secrets = decodeSecrets(response);
      assert.deepEqual(
        secrets.map((s) => s.name),
        ['spiffe://example.org/alice-ext'],
      );
      assert.equal(leafId(secrets[0]?.chain), 'URI:spiffe://example.org/alice-ext');
    } finally {
      stream.close();
    }
  });

  it('serves ALL and spiffe://<td> per the federation of the caller', async () => {
    const alice = open('alice');
    const bob = open('bob');
    try {
      alice.request(['ALL', 'spiffe://partner.example', 'spiffe://example.org']);
      const [all, partnerOnly, own] = decodeSecrets(await alice.next());
      assert.deepEqual([...(all?.trustDomains?.keys() ?? [])].sort(), [
        'example.org',
        'partner.example',
      ]);
      assert.deepEqual([...(partnerOnly?.trustDomains?.keys() ?? [])], ['partner.example']);
      assert.equal(
        partnerOnly?.trustDomains?.get('partner.example'),
        encodePem('CERTIFICATE', partner.x509Authorities[0]?.raw ?? new Uint8Array()),
      );
      assert.deepEqual([...(own?.trustDomains?.keys() ?? [])], ['example.org']);
      // Bob's entry does not federate with partner.example.
      bob.request(['ALL', 'spiffe://partner.example']);
      const secrets = decodeSecrets(await bob.next());
      assert.deepEqual(
        secrets.map((s) => [s.name, [...(s.trustDomains?.keys() ?? [])]]),
        [['ALL', ['example.org']]],
      );
    } finally {
      alice.close();
      bob.close();
    }
  });

  it('sends nothing to a caller entitled to no identity until it gets one', async () => {
    const stream = open('carol');
    try {
      stream.request(['default', 'ROOTCA']);
      await stream.nothingFor();
      await cache.addEntry({
        selectors: [sel('caller:carol')],
        spiffeId: 'spiffe://example.org/carol',
      });
      const secrets = decodeSecrets(await stream.next());
      assert.deepEqual(
        secrets.map((s) => s.name),
        ['default', 'ROOTCA'],
      );
      assert.equal(leafId(secrets[0]?.chain), 'URI:spiffe://example.org/carol');
    } finally {
      stream.close();
      cache.removeEntry('spiffe://example.org/carol');
    }
  });

  it('answers a wildcard request with every identity, ROOTCA and the federated domains', async () => {
    const stream = open('alice');
    try {
      stream.request([]);
      const names = decodeSecrets(await stream.next()).map((s) => s.name);
      assert.deepEqual(names, [
        'spiffe://example.org/alice',
        'spiffe://example.org/alice-ext',
        'ROOTCA',
        'spiffe://partner.example',
      ]);
    } finally {
      stream.close();
    }
  });

  it('FetchSecrets answers once, and refuses callers without identity or names', async () => {
    const fetch = (caller: string, names: string[]) =>
      new Promise<DiscoveryResponse>((resolve, reject) =>
        client.FetchSecrets({ resource_names: names }, sdsMetadata(caller), (err, r) =>
          err ? reject(err) : resolve(r as DiscoveryResponse),
        ),
      );
    const response = await fetch('alice', ['default', 'spiffe://example.org/bob']);
    assert.deepEqual(
      decodeSecrets(response).map((s) => s.name),
      ['default'],
    );
    await assert.rejects(fetch('alice', ['spiffe://example.org/bob']), {
      code: status.NOT_FOUND,
    });
    await assert.rejects(fetch('nobody', ['default']), { code: status.PERMISSION_DENIED });
    await assert.rejects(fetch('unattestable', ['default']), { code: status.UNAVAILABLE });
  });

  it('ends bad streams: unattested caller, wrong type URL, DeltaSecrets', async () => {
    const unattested = open('unattestable');
    unattested.request(['default']);
    assert.equal((await unattested.reader.status()).code, status.UNAVAILABLE);

    const wrongType = new SdsTestStream(client.StreamSecrets(sdsMetadata('alice')));
    wrongType.call.write({
      version_info: '',
      node: null,
      resource_names: ['default'],
      type_url: 'type.googleapis.com/envoy.config.cluster.v3.Cluster',
      response_nonce: '',
      error_detail: null,
    });
    assert.equal((await wrongType.reader.status()).code, status.INVALID_ARGUMENT);

    const delta = client.DeltaSecrets(sdsMetadata('alice'));
    const reader = new StreamReader(delta);
    const ended: ServiceError = await reader.status();
    assert.equal(ended.code, status.UNIMPLEMENTED);
  });
});

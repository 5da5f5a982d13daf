import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  type ClientDuplexStream,
  Metadata,
  Server,
  ServerCredentials,
  type ServerDuplexStream,
  type StatusObject,
  credentials,
  status,
} from '@grpc/grpc-js';
import {
  type DeltaDiscoveryRequest,
  type DeltaDiscoveryResponse,
  type DiscoveryRequest,
  type DiscoveryResponse,
  loadXdsServices,
} from '@parley/api';
import {
  encodePem,
  generateKey,
  keyObjectSigner,
  parseDuration,
  parseSpiffeId,
} from '@parley/core';
import { type TempDir, type TestCa, makeTempDir, makeTestCa } from '@parley/testing';
import type { PeerNamedCall } from '../peer/peer-of.js';
import { FakeIdentityCache } from '../workload-api/fake-identity-cache.js';
import type { CallerResult, Selector, WorkloadApiLog } from '../workload-api/workload-api-deps.js';
import { xdsRelayServiceDefinition } from './xds-relay-definition.js';
import { createXdsRelayService } from './xds-relay-service.js';
import { grpcXdsRelayUpstream } from './xds-relay-upstream.js';

const sel = (value: string): Selector => ({ type: 'test', value });
const ALICE = 'spiffe://example.org/alice';
const BOB = 'spiffe://example.org/bob';
const SERVER = 'spiffe://example.org/parley/server';
const LDS = 'type.googleapis.com/envoy.config.listener.v3.Listener';

/** Test callers are named by a header (a stand-in for peer-credential attestation). */
async function identify(call: PeerNamedCall): Promise<CallerResult> {
  const header = (call as unknown as { metadata: Metadata }).metadata.get('x-test-caller')[0];
  const who = typeof header === 'string' ? header : 'nobody';
  if (who === 'unattestable') return { ok: false, reason: 'no peer credentials' };
  return { ok: true, selectors: [sel(`caller:${who}`)] };
}

function request(nodeId: string | undefined, typeUrl = LDS, nonce = ''): Partial<DiscoveryRequest> {
  return {
    ...(nodeId !== undefined && { node: { id: nodeId } as DiscoveryRequest['node'] }),
    type_url: typeUrl,
    resource_names: ['greeter'],
    response_nonce: nonce,
  };
}

/** Reads a stream's messages and its final status. */
class Reader<T> {
  readonly messages: T[] = [];
  readonly status: Promise<StatusObject>;
  #waiters: (() => void)[] = [];

  constructor(stream: NodeJS.EventEmitter) {
    stream.on('data', (m: T) => {
      this.messages.push(m);
      for (const w of this.#waiters.splice(0)) w();
    });
    stream.on('error', () => undefined);
    this.status = new Promise((resolve) => stream.on('status', resolve));
  }

  async next(index: number, timeoutMs = 5000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    while (this.messages.length <= index) {
      if (Date.now() > deadline) throw new Error(`no message #${index} in ${timeoutMs} ms`);
      await Promise.race([
        new Promise<void>((r) => this.#waiters.push(r)),
        new Promise((r) => setTimeout(r, 100)),
      ]);
    }
    return this.messages[index] as T;
  }
}

async function withTimeout<T>(p: Promise<T>, ms = 5000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

describe('xDS relay', () => {
  let dir: TempDir;
  let ca: TestCa;
  let cache: FakeIdentityCache;
  let upstreamServer: Server;
  let relayServer: Server;
  let socket = '';
  let port = 0;
  /** What the fake upstream ADS saw: the client certificate's URI SAN, and node ids by stream. */
  const seen: {
    san: string;
    serial: string;
    nodes: string[];
    ended: boolean;
    cancelled: boolean;
  }[] = [];
  const logged: string[] = [];
  const log: WorkloadApiLog = {
    warn: (message) => logged.push(message),
    error: (message) => logged.push(message),
  };
  const Ads = loadXdsServices().AggregatedDiscoveryService;
  const clients: { close(): void }[] = [];

  async function startUpstream(serverId: string): Promise<{ server: Server; port: number }> {
    const key = generateKey('ec-p256');
    const cert = await ca.minter.mintSvid({
      spiffeId: parseSpiffeId(serverId),
      publicKey: keyObjectSigner(key).publicKey,
      ttl: parseDuration('1h'),
    });
    const server = new Server();
    const serve = (call: ServerDuplexStream<DiscoveryRequest, DiscoveryResponse>) => {
      const peer = call.getAuthContext().sslPeerCertificate;
      const san = peer?.subjectaltname ?? '';
      const serial = peer?.serialNumber ?? '';
      const record = { san, serial, nodes: [] as string[], ended: false, cancelled: false };
      seen.push(record);
      let n = 0;
      call.on('data', (req: DiscoveryRequest) => {
        record.nodes.push(req.node?.id ?? '');
        if (req.type_url === 'fail') {
          call.emit('error', { code: status.FAILED_PRECONDITION, details: 'told to fail' });
          return;
        }
        n += 1;
        call.write({
          version_info: `${san}|${req.resource_names.join(',')}`,
          resources: [],
          type_url: req.type_url,
          nonce: String(n),
        });
      });
      call.on('end', () => {
        record.ended = true;
        call.end();
      });
      call.on('cancelled', () => (record.cancelled = true));
      call.on('error', () => undefined);
    };
    server.addService(Ads.service, {
      StreamAggregatedResources: serve,
      DeltaAggregatedResources: (
        call: ServerDuplexStream<DeltaDiscoveryRequest, DeltaDiscoveryResponse>,
      ) => {
        call.on('data', (req: DeltaDiscoveryRequest) => {
          call.write({
            system_version_info: `delta|${req.node?.id ?? ''}`,
            resources: [],
            type_url: req.type_url,
            removed_resources: [],
            nonce: '1',
          });
        });
        call.on('end', () => call.end());
      },
    });
    const p = await new Promise<number>((resolve, reject) =>
      server.bindAsync(
        '127.0.0.1:0',
        ServerCredentials.createSsl(
          Buffer.from(encodePem('CERTIFICATE', ca.root.raw)),
          [
            {
              cert_chain: Buffer.from(encodePem('CERTIFICATE', cert.der)),
              private_key: Buffer.from(key.export({ type: 'pkcs8', format: 'pem' }).toString()),
            },
          ],
          true,
        ),
        (err, bound) => (err ? reject(err) : resolve(bound)),
      ),
    );
    return { server, port: p };
  }

  async function startRelay(path: string, upstreamPort: number, serverId = SERVER) {
    const server = new Server();
    server.addService(
      xdsRelayServiceDefinition(),
      createXdsRelayService({
        identify,
        cache,
        upstream: grpcXdsRelayUpstream({
          address: `127.0.0.1:${upstreamPort}`,
          serverId: parseSpiffeId(serverId),
        }),
        log,
      }),
    );
    await new Promise<void>((resolve, reject) =>
      server.bindAsync(`unix://${path}`, ServerCredentials.createInsecure(), (err) =>
        err ? reject(err) : resolve(),
      ),
    );
    return server;
  }

  function client(path = socket) {
    const c = new Ads(`unix://${path}`, credentials.createInsecure());
    clients.push(c);
    return c as unknown as {
      StreamAggregatedResources(
        metadata: Metadata,
      ): ClientDuplexStream<Partial<DiscoveryRequest>, DiscoveryResponse>;
      DeltaAggregatedResources(
        metadata: Metadata,
      ): ClientDuplexStream<Partial<DeltaDiscoveryRequest>, DeltaDiscoveryResponse>;
    };
  }

  const as = (who: string) => {
    const m = new Metadata();
    m.set('x-test-caller', who);
    return m;
  };

  before(async () => {
    dir = await makeTempDir();
    ca = await makeTestCa();
    cache = new FakeIdentityCache(ca);
    await cache.addEntry({ selectors: [sel('caller:alice')], spiffeId: ALICE });
    await cache.addEntry({ selectors: [sel('caller:bob')], spiffeId: BOB });
    const up = await startUpstream(SERVER);
    upstreamServer = up.server;
    port = up.port;
    socket = join(dir.path, 'agent.sock');
    relayServer = await startRelay(socket, port);
  });

  after(async () => {
    for (const c of clients) c.close();
    relayServer.forceShutdown();
    upstreamServer.forceShutdown();
    await dir[Symbol.asyncDispose]();
  });

  it('forwards a stream with the caller’s own SVID, messages unchanged both ways', async () => {
    const before = seen.length;
    const stream = client().StreamAggregatedResources(as('alice'));
    const reader = new Reader<DiscoveryResponse>(stream);
    stream.write(request(ALICE));
    const first = await reader.next(0);
    assert.equal(first.version_info, `URI:${ALICE}|greeter`);
    assert.equal(first.type_url, LDS);
    stream.write({ ...request(undefined, LDS, '1'), resource_names: ['a', 'b'] });
    assert.equal((await reader.next(1)).version_info, `URI:${ALICE}|a,b`);
    stream.end();
    const s = await withTimeout(reader.status);
    assert.equal(s.code, status.OK);
    assert.deepEqual(seen[before]?.nodes, [ALICE, '']);
    assert.equal(seen[before]?.ended, true);
  });

  it('relays delta streams too', async () => {
    const stream = client().DeltaAggregatedResources(as('bob'));
    const reader = new Reader<DeltaDiscoveryResponse>(stream);
    stream.write({ node: { id: BOB } as DeltaDiscoveryRequest['node'], type_url: LDS });
    assert.equal((await reader.next(0)).system_version_info, `delta|${BOB}`);
    stream.end();
    assert.equal((await withTimeout(reader.status)).code, status.OK);
  });

  it('denies a node.id the caller is not entitled to, before reaching the server', async () => {
    const before = seen.length;
    const stream = client().StreamAggregatedResources(as('alice'));
    const reader = new Reader(stream);
    stream.write(request(BOB));
    const s = await withTimeout(reader.status);
    assert.equal(s.code, status.PERMISSION_DENIED);
    assert.match(s.details, /not an identity of this workload/);
    assert.equal(seen.length, before);
  });

  it('denies a caller with no identity and one that cannot be attested', async () => {
    const none = client().StreamAggregatedResources(as('mallory'));
    const r1 = new Reader(none);
    none.write(request(ALICE));
    assert.equal((await withTimeout(r1.status)).code, status.PERMISSION_DENIED);
    const unattested = client().StreamAggregatedResources(as('unattestable'));
    const r2 = new Reader(unattested);
    unattested.write(request(ALICE));
    assert.equal((await withTimeout(r2.status)).code, status.UNAVAILABLE);
  });

  it('rejects a first request without node.id and a later change of node.id', async () => {
    const anonymous = client().StreamAggregatedResources(as('alice'));
    const r1 = new Reader(anonymous);
    anonymous.write(request(undefined));
    assert.equal((await withTimeout(r1.status)).code, status.INVALID_ARGUMENT);

    const before = seen.length;
    const switching = client().StreamAggregatedResources(as('alice'));
    const r2 = new Reader(switching);
    switching.write(request(ALICE));
    await r2.next(0);
    switching.write(request(BOB, LDS, '1'));
    const s = await withTimeout(r2.status);
    assert.equal(s.code, status.PERMISSION_DENIED);
    assert.match(s.details, /node\.id changed/);
    // The upstream stream was cancelled, never sent the other node.
    await withTimeout(
      (async () => {
        while (seen[before]?.cancelled !== true) await new Promise((r) => setTimeout(r, 20));
      })(),
    );
    assert.deepEqual(seen[before]?.nodes, [ALICE]);
  });

  it('passes the server’s error status on, and a client cancel upstream', async () => {
    const failing = client().StreamAggregatedResources(as('alice'));
    const r1 = new Reader(failing);
    failing.write(request(ALICE, 'fail'));
    const s = await withTimeout(r1.status);
    assert.equal(s.code, status.FAILED_PRECONDITION);
    assert.equal(s.details, 'told to fail');

    const before = seen.length;
    const cancelled = client().StreamAggregatedResources(as('alice'));
    const r2 = new Reader(cancelled);
    cancelled.write(request(ALICE));
    await r2.next(0);
    cancelled.cancel();
    await withTimeout(
      (async () => {
        while (seen[before]?.cancelled !== true) await new Promise((r) => setTimeout(r, 20));
      })(),
    );
  });

  it('uses the rotated SVID for streams opened after a rotation', async () => {
    const serialOf = async () => {
      const stream = client().StreamAggregatedResources(as('alice'));
      const reader = new Reader(stream);
      stream.write(request(ALICE));
      await reader.next(0);
      stream.end();
      await withTimeout(reader.status);
    };
    const current = () => {
      const der = cache.viewFor([sel('caller:alice')]).svids[0]?.certChain[0];
      assert.ok(der);
      return new X509Certificate(der).serialNumber;
    };
    const first = seen.length;
    await serialOf();
    assert.equal(seen[first]?.serial, current());
    const old = current();
    await cache.rotate(ALICE);
    assert.notEqual(current(), old);
    const second = seen.length;
    await serialOf();
    assert.equal(seen[second]?.serial, current());
  });

  it('refuses a server that does not present the expected SPIFFE ID', async () => {
    const impostor = await startUpstream('spiffe://example.org/impostor');
    const path = join(dir.path, 'impostor.sock');
    const relay = await startRelay(path, impostor.port);
    try {
      const stream = client(path).StreamAggregatedResources(as('alice'));
      const reader = new Reader(stream);
      stream.write(request(ALICE));
      const s = await withTimeout(reader.status, 8000);
      assert.equal(s.code, status.UNAVAILABLE);
      assert.equal(reader.messages.length, 0);
    } finally {
      relay.forceShutdown();
      impostor.server.forceShutdown();
    }
  });

  it('ends cleanly when the caller half-closes before any request', async () => {
    const stream = client().StreamAggregatedResources(as('alice'));
    const reader = new Reader(stream);
    stream.end();
    assert.equal((await withTimeout(reader.status)).code, status.OK);
  });
});

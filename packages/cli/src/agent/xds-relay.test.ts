// The agent's xDS relay against the server's real ADS (composed as mesh-module.ts composes it):
// a client on an agent socket gets its own mesh configuration, relayed over mTLS with its SVID.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  type ClientDuplexStream,
  Server,
  type StatusObject,
  credentials,
  status,
} from '@grpc/grpc-js';
import {
  type AgentSocket,
  type Selector,
  type WorkloadIdentityCache,
  type WorkloadView,
  grpcXdsRelayUpstream,
  serveAgentSocket,
} from '@parley/agent';
import {
  type DiscoveryRequest,
  type DiscoveryResponse,
  XDS_TYPE_URL,
  decodeAny,
  loadXdsServices,
} from '@parley/api';
import {
  type Bundle,
  ParleyError,
  bundleSet,
  parseSpiffeId,
  parseTrustDomain,
  systemClock,
  verifyX509Svid,
} from '@parley/core';
import { RotatingTlsMaterial, agentApiServerCredentials } from '@parley/identity';
import {
  ADS_MAX_RECEIVE_MESSAGE_BYTES,
  type MeshSnapshot,
  PROXYLESS_METADATA_KEY,
  ProxyStatusRegistry,
  adsServiceDefinition,
  compileMesh,
  createAdsService,
  parseMeshConfig,
} from '@parley/mesh';
import { type TempDir, makeTempDir, makeTestCa } from '@parley/testing';

const CLIENT = 'spiffe://example.org/client';
const SERVER = 'spiffe://example.org/parley/server';

const MESH = `
apiVersion: parley.dev/v1
kind: Service
metadata: { name: client }
spec:
  spiffeId: ${CLIENT}
  ports: [{ name: grpc, port: 1, protocol: grpc }]
  sidecar: { outbound: [greeter] }
---
apiVersion: parley.dev/v1
kind: Service
metadata: { name: greeter }
spec:
  spiffeId: spiffe://example.org/greeter
  ports: [{ name: grpc, port: 50051, protocol: grpc }]
  endpoints: [{ name: greeter-0, inbound: 127.0.0.1:15201, app: 127.0.0.1:8201 }]
`;

function snapshotOf(text: string): MeshSnapshot {
  const parsed = parseMeshConfig([{ path: 'mesh.yaml', text }]);
  assert.ok(parsed.ok);
  return compileMesh(parsed.config, { commit: 'c1', trustDomain: 'example.org' });
}

function request(nodeId: string, typeUrl: string, names: string[]): Partial<DiscoveryRequest> {
  return {
    node: {
      id: nodeId,
      cluster: '',
      user_agent_name: 'relay-test',
      // protobufjs bundles struct.proto with camelCase field names.
      metadata: { fields: { [PROXYLESS_METADATA_KEY]: { boolValue: true } } },
    },
    type_url: typeUrl,
    resource_names: names,
  };
}

function finalStatus(stream: NodeJS.EventEmitter): Promise<StatusObject> {
  stream.on('error', () => undefined);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no status in 5 s')), 5000);
    stream.on('status', (s: StatusObject) => {
      clearTimeout(timer);
      resolve(s);
    });
  });
}

/** Collects a stream's responses; `next(type)` waits for the next one of a type. */
function responses(stream: NodeJS.EventEmitter) {
  const seen: DiscoveryResponse[] = [];
  stream.on('data', (r: DiscoveryResponse) => seen.push(r));
  let taken = 0;
  return {
    seen,
    async next(typeUrl: string): Promise<DiscoveryResponse> {
      const deadline = Date.now() + 5000;
      for (;;) {
        const i = seen.findIndex((r, index) => index >= taken && r.type_url === typeUrl);
        if (i >= 0) {
          taken = i + 1;
          return seen[i] as DiscoveryResponse;
        }
        if (Date.now() > deadline)
          throw new Error(`no ${typeUrl} in 5 s; got ${seen.map((r) => r.type_url).join(', ')}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
  };
}

describe('agent xDS relay → server ADS (mTLS, real ADS service)', () => {
  let dir: TempDir;
  let ads: Server;
  let workload: AgentSocket;
  let general: AgentSocket;
  const registry = new ProxyStatusRegistry(systemClock);
  const clients: { close(): void }[] = [];

  before(async () => {
    dir = await makeTempDir();
    const ca = await makeTestCa();
    const bundle: Bundle = {
      trustDomain: parseTrustDomain('example.org'),
      x509Authorities: [ca.root],
      jwtAuthorities: new Map(),
    };
    // The server: its SVID and bundle in the TLS material, ADS as the mesh module serves it.
    const serverSvid = await ca.mintSvid(SERVER);
    const material = new RotatingTlsMaterial();
    material.setIdentity([serverSvid.der], serverSvid.key.export({ type: 'pkcs8', format: 'der' }));
    material.setCaCertificates([ca.root.raw]);
    const snapshot = snapshotOf(MESH);
    ads = new Server({ 'grpc.max_receive_message_length': ADS_MAX_RECEIVE_MESSAGE_BYTES });
    ads.addService(
      adsServiceDefinition(),
      createAdsService({
        snapshots: { current: () => snapshot, subscribe: () => () => undefined },
        status: registry,
        authenticate: (raw) => {
          const result = verifyX509Svid([raw], bundleSet(bundle), systemClock);
          return result.ok
            ? { ok: true, spiffeId: result.svid.spiffeId }
            : { ok: false, reason: result.reason };
        },
      }),
    );
    const port = await new Promise<number>((resolve, reject) =>
      ads.bindAsync('127.0.0.1:0', agentApiServerCredentials(material), (err, p) =>
        err ? reject(err) : resolve(p),
      ),
    );

    // The agent: the workload socket of `client` entitles its callers to the client's SVID.
    const clientSvid = await ca.mintSvid(CLIENT, '1h');
    const svid = {
      spiffeId: parseSpiffeId(CLIENT),
      certChain: [clientSvid.der],
      privateKey: new Uint8Array(clientSvid.key.export({ type: 'pkcs8', format: 'der' })),
      hint: '',
    };
    const cache: WorkloadIdentityCache = {
      viewFor: (selectors: readonly Selector[]): WorkloadView => ({
        svids: selectors.some((s) => s.type === 'parley' && s.value === 'socket:client')
          ? [svid]
          : [],
        bundle,
        federatedBundles: [],
      }),
      fetchJwtSvid: () => Promise.reject(new ParleyError('unimplemented', 'not in this test')),
      subscribe: () => () => undefined,
    };
    const deps = {
      attest: () => Promise.resolve({ ok: true as const, selectors: [] }),
      cache,
      clock: systemClock,
      log: { warn: () => undefined, error: () => undefined },
      xdsRelay: grpcXdsRelayUpstream({
        address: `127.0.0.1:${port}`,
        serverId: parseSpiffeId(SERVER),
      }),
    };
    workload = await serveAgentSocket(join(dir.path, 'client.sock'), deps, {
      socketName: 'client',
    });
    general = await serveAgentSocket(join(dir.path, 'agent.sock'), deps);
  });

  after(async () => {
    for (const c of clients) c.close();
    await workload.close();
    await general.close();
    ads.forceShutdown();
    await dir[Symbol.asyncDispose]();
  });

  function stream(path: string) {
    const Ads = loadXdsServices().AggregatedDiscoveryService;
    const c = new Ads(`unix://${path}`, credentials.createInsecure());
    clients.push(c);
    return (
      c as unknown as {
        StreamAggregatedResources(): ClientDuplexStream<
          Partial<DiscoveryRequest>,
          DiscoveryResponse
        >;
      }
    ).StreamAggregatedResources();
  }

  it('relays the workload’s own configuration, and the server sees its SVID', async () => {
    const s = stream(workload.path);
    const done = finalStatus(s);
    const got = responses(s);
    s.write(request(CLIENT, XDS_TYPE_URL.listener, ['greeter']));
    const lds = await got.next(XDS_TYPE_URL.listener);
    assert.equal(lds.type_url, XDS_TYPE_URL.listener);
    assert.equal(lds.version_info, 'c1');
    assert.deepEqual(
      lds.resources.map((r) => decodeAny(r)['name']),
      ['greeter'],
    );
    // The server registered the stream under the SPIFFE ID of the SVID the relay presented.
    assert.ok(registry.proxies().some((p) => p.spiffeId === CLIENT));
    s.write({ ...request(CLIENT, XDS_TYPE_URL.cluster, ['greeter']) });
    const cds = await got.next(XDS_TYPE_URL.cluster);
    assert.equal(cds.type_url, XDS_TYPE_URL.cluster);
    const cluster = decodeAny(cds.resources[0] ?? { type_url: '', value: new Uint8Array() });
    assert.equal(cluster['name'], 'greeter');
    s.end();
    assert.equal((await done).code, status.OK);
  });

  it('denies a node.id that is not the caller’s', async () => {
    const s = stream(workload.path);
    const done = finalStatus(s);
    s.write(request('spiffe://example.org/greeter', XDS_TYPE_URL.listener, ['greeter']));
    const st = await done;
    assert.equal(st.code, status.PERMISSION_DENIED);
  });

  it('denies a caller that is not entitled to any identity (the general socket)', async () => {
    const s = stream(general.path);
    const done = finalStatus(s);
    s.write(request(CLIENT, XDS_TYPE_URL.listener, ['greeter']));
    const st = await done;
    assert.equal(st.code, status.PERMISSION_DENIED);
  });
});

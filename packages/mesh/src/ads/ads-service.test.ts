import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, beforeEach, describe, it } from 'node:test';
import {
  type ClientDuplexStream,
  Server,
  type ServiceError,
  credentials,
  experimental,
  status,
} from '@grpc/grpc-js';
import {
  type DeltaDiscoveryRequest,
  type DeltaDiscoveryResponse,
  type DiscoveryRequest,
  type DiscoveryResponse,
  XDS_TYPE_URL,
  type XdsTypeUrl,
  decodeAny,
  encodeAny,
  loadXdsServices,
} from '@parley/api';
import {
  bundleSet,
  encodePem,
  generateKey,
  keyObjectSigner,
  parseDuration,
  parseSpiffeId,
  systemClock,
  verifyX509Svid,
} from '@parley/core';
import { type TestCa, makeTestCa } from '@parley/testing';
import type { MeshSnapshot, ProxyResources, XdsResource } from '../snapshot/mesh-snapshot.js';
import { ProxyStatusRegistry } from '../status/proxy-status-registry.js';
import { adsServiceDefinition } from './ads-service-definition.js';
import { createAdsService } from './ads-service.js';

const { cluster: CDS, endpoint: EDS, listener: LDS, route: RDS } = XDS_TYPE_URL;
const HCM =
  'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const ROUTER = 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router';
const WEB = 'spiffe://example.org/web';
const API = 'spiffe://example.org/api';

function resource(typeUrl: string, name: string, object: Record<string, unknown>): XdsResource {
  const any = encodeAny(typeUrl, object);
  const version = createHash('sha256').update(any.value).digest('hex').slice(0, 16);
  return { name, version, resource: any };
}

/** What one proxy gets: clusters with their endpoint ports, listeners with their route's cluster. */
interface ProxySpec {
  readonly clusters: Readonly<Record<string, readonly number[]>>;
  readonly listeners: Readonly<Record<string, string>>;
}

function proxyResources(spec: ProxySpec): ProxyResources {
  const cds = new Map<string, XdsResource>();
  const eds = new Map<string, XdsResource>();
  const lds = new Map<string, XdsResource>();
  const rds = new Map<string, XdsResource>();
  for (const [name, ports] of Object.entries(spec.clusters)) {
    cds.set(
      name,
      resource(CDS, name, {
        name,
        type: 'EDS',
        connect_timeout: { seconds: 1 },
        eds_cluster_config: { eds_config: { ads: {} } },
      }),
    );
    eds.set(
      name,
      resource(EDS, name, {
        cluster_name: name,
        endpoints: [
          {
            lb_endpoints: ports.map((port_value) => ({
              endpoint: { address: { socket_address: { address: '127.0.0.1', port_value } } },
            })),
          },
        ],
      }),
    );
  }
  for (const [name, cluster] of Object.entries(spec.listeners)) {
    const route = `${name}-routes`;
    lds.set(
      name,
      resource(LDS, name, {
        name,
        address: { socket_address: { address: '127.0.0.1', port_value: 15001 } },
        filter_chains: [
          {
            filters: [
              {
                name: 'envoy.filters.network.http_connection_manager',
                typed_config: {
                  '@type': HCM,
                  stat_prefix: name,
                  rds: { route_config_name: route, config_source: { ads: {} } },
                  http_filters: [{ name: 'router', typed_config: { '@type': ROUTER } }],
                },
              },
            ],
          },
        ],
      }),
    );
    rds.set(
      route,
      resource(RDS, route, {
        name: route,
        virtual_hosts: [
          { name: 'all', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster } }] },
        ],
      }),
    );
  }
  return new Map<XdsTypeUrl, ReadonlyMap<string, XdsResource>>([
    [CDS, cds],
    [EDS, eds],
    [LDS, lds],
    [RDS, rds],
  ]);
}

function meshOf(version: string, proxies: Record<string, ProxySpec>): MeshSnapshot {
  const byId = new Map(Object.entries(proxies).map(([id, spec]) => [id, proxyResources(spec)]));
  return {
    version,
    commit: version,
    resourcesFor: (node) => {
      // Every test proxy says which instance it fronts: node metadata must arrive decoded.
      if (node.metadata['instance'] !== 'web-0') {
        return {
          ok: false,
          reason: `node.metadata.instance is ${String(node.metadata['instance'])}`,
        };
      }
      const resources = byId.get(node.id);
      return resources === undefined
        ? { ok: false, reason: `no configuration for ${node.id}` }
        : { ok: true, resources };
    },
  };
}

const WEB_V1: ProxySpec = {
  clusters: { api: [8081, 8082], web_local: [9000] },
  listeners: { outbound: 'api' },
};
const API_V1: ProxySpec = { clusters: { db: [5432] }, listeners: { inbound: 'db' } };

type Response = DiscoveryResponse | DeltaDiscoveryResponse;

/** A client end of one ADS stream: responses are queued; waits are bounded. */
class StreamClient<Req, Res extends Response> {
  readonly #queue: Res[] = [];
  readonly #waiters: ((r: Res) => void)[] = [];
  error: ServiceError | undefined;
  readonly #ended: Promise<ServiceError>;

  constructor(readonly call: ClientDuplexStream<Req, Res>) {
    call.on('data', (r: Res) => {
      const w = this.#waiters.shift();
      if (w !== undefined) w(r);
      else this.#queue.push(r);
    });
    this.#ended = new Promise((resolve) =>
      call.on('error', (e: ServiceError) => {
        this.error = e;
        resolve(e);
      }),
    );
  }

  send(req: Partial<Req>): void {
    this.call.write(req as Req);
  }

  next(timeoutMs = 3000): Promise<Res> {
    const queued = this.#queue.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
        reject(new Error(`no response within ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter = (r: Res) => {
        clearTimeout(timer);
        resolve(r);
      };
      this.#waiters.push(waiter);
    });
  }

  async expectNone(ms = 250): Promise<void> {
    await new Promise((r) => setTimeout(r, ms));
    assert.equal(this.#queue.length, 0, `unexpected response for ${this.#queue[0]?.type_url}`);
  }

  ended(timeoutMs = 3000): Promise<ServiceError> {
    return Promise.race([
      this.#ended,
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error('stream did not end')), timeoutMs),
      ),
    ]);
  }

  close(): void {
    this.call.cancel();
  }
}

function names(r: Response): string[] {
  if ('system_version_info' in r) return r.resources.map((x) => x.name).sort();
  return r.resources
    .map((any) => String(decodeAny(any)['name'] ?? decodeAny(any)['cluster_name']))
    .sort();
}

/** The route config names a listener response refers to (as Envoy learns RDS names). */
function routeNames(r: DiscoveryResponse): string[] {
  return r.resources.flatMap((any) => {
    const l = decodeAny(any) as {
      filter_chains: { filters: { typed_config: { rds?: { route_config_name: string } } }[] }[];
    };
    return l.filter_chains.flatMap((fc) =>
      fc.filters.map((f) => f.typed_config.rds?.route_config_name ?? ''),
    );
  });
}

class Feed {
  #current: MeshSnapshot | undefined;
  readonly #listeners = new Set<() => void>();
  current = () => this.#current;
  subscribe = (l: () => void) => {
    this.#listeners.add(l);
    return () => void this.#listeners.delete(l);
  };
  set(s: MeshSnapshot): void {
    this.#current = s;
    for (const l of this.#listeners) l();
  }
}

describe('ADS server over mTLS', () => {
  let ca: TestCa;
  let server: Server;
  let port = 0;
  let rootPem = '';
  const feed = new Feed();
  const registry = new ProxyStatusRegistry(systemClock);
  const open: { close(): void }[] = [];
  const creds = new Map<string, { key: string; cert: string }>();
  const Ads = loadXdsServices().AggregatedDiscoveryService;

  before(async () => {
    ca = await makeTestCa();
    rootPem = encodePem('CERTIFICATE', ca.root.raw);
    const serverKey = generateKey('ec-p256');
    const serverCert = await ca.minter.mintSvid({
      spiffeId: parseSpiffeId('spiffe://example.org/parley/server'),
      publicKey: keyObjectSigner(serverKey).publicKey,
      ttl: parseDuration('1h'),
      dnsNames: ['localhost'],
    });
    const identity = {
      certificate: Buffer.from(encodePem('CERTIFICATE', serverCert.der)),
      privateKey: Buffer.from(
        encodePem('PRIVATE KEY', serverKey.export({ type: 'pkcs8', format: 'der' })),
      ),
    };
    const ca_ = { caCertificate: Buffer.from(rootPem) };
    // Requests a client certificate without letting TLS reject its absence: the service answers.
    const provider: experimental.CertificateProvider = {
      addCaCertificateListener: (l) => queueMicrotask(() => l(ca_)),
      removeCaCertificateListener: () => undefined,
      addIdentityCertificateListener: (l) => queueMicrotask(() => l(identity)),
      removeIdentityCertificateListener: () => undefined,
    };
    const bundle = {
      trustDomain: parseSpiffeId(WEB).trustDomain,
      x509Authorities: [ca.root],
      jwtAuthorities: new Map(),
    };
    server = new Server();
    server.addService(
      adsServiceDefinition(),
      createAdsService({
        snapshots: feed,
        status: registry,
        authenticate: (raw) => {
          const result = verifyX509Svid([raw], bundleSet(bundle), systemClock);
          return result.ok ? { ok: true, spiffeId: result.svid.spiffeId } : result;
        },
      }),
    );
    port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(
        '127.0.0.1:0',
        experimental.createCertificateProviderServerCredentials(provider, provider, false),
        (err, p) => (err ? reject(err) : resolve(p)),
      ),
    );
    for (const id of [WEB, API, 'spiffe://example.org/unknown']) {
      const svid = await ca.mintSvid(id);
      creds.set(id, {
        key: svid.key.export({ type: 'pkcs8', format: 'pem' }).toString(),
        cert: encodePem('CERTIFICATE', svid.der),
      });
    }
  });

  after(() => {
    for (const c of open) c.close();
    server.forceShutdown();
  });

  beforeEach(() => {
    for (const c of open.splice(0)) c.close();
    feed.set(meshOf('v1', { [WEB]: WEB_V1, [API]: API_V1 }));
  });

  function client(as: string | undefined) {
    const c = as === undefined ? undefined : creds.get(as);
    const channel =
      c === undefined
        ? credentials.createSsl(Buffer.from(rootPem), null, null, {
            checkServerIdentity: () => undefined,
          })
        : credentials.createSsl(Buffer.from(rootPem), Buffer.from(c.key), Buffer.from(c.cert), {
            checkServerIdentity: () => undefined,
          });
    const ads = new Ads(`127.0.0.1:${port}`, channel);
    open.push({ close: () => ads.close() });
    return ads as unknown as {
      StreamAggregatedResources(): ClientDuplexStream<DiscoveryRequest, DiscoveryResponse>;
      DeltaAggregatedResources(): ClientDuplexStream<DeltaDiscoveryRequest, DeltaDiscoveryResponse>;
    };
  }

  function sotw(as: string | undefined) {
    const s = new StreamClient(client(as).StreamAggregatedResources());
    open.push(s);
    return s;
  }

  function delta(as: string | undefined) {
    const s = new StreamClient(client(as).DeltaAggregatedResources());
    open.push(s);
    return s;
  }

  const node = (id: string) => ({
    id,
    cluster: 'web',
    user_agent_name: 'envoy',
    metadata: { fields: { instance: { stringValue: 'web-0' } } },
  });

  type Sotw = StreamClient<DiscoveryRequest, DiscoveryResponse>;
  const ack = (s: Sotw, r: DiscoveryResponse, resource_names: string[] = []) =>
    s.send({
      type_url: r.type_url,
      version_info: r.version_info,
      response_nonce: r.nonce,
      resource_names,
    });

  /** Connects as Envoy would and returns once every type is ACKed at v1. */
  async function converged(as: string): Promise<Sotw> {
    const s = sotw(as);
    s.send({ node: node(as), type_url: CDS });
    s.send({ type_url: LDS });
    const cds = await s.next();
    assert.equal(cds.type_url, CDS);
    // Envoy asks for the endpoints of the clusters it learned, then ACKs CDS.
    s.send({ type_url: EDS, resource_names: names(cds) });
    ack(s, cds);
    const eds = await s.next();
    assert.equal(eds.type_url, EDS);
    ack(s, eds, names(cds));
    const lds = await s.next();
    assert.equal(lds.type_url, LDS);
    s.send({ type_url: RDS, resource_names: routeNames(lds) });
    ack(s, lds);
    const rds = await s.next();
    assert.equal(rds.type_url, RDS);
    ack(s, rds, routeNames(lds));
    return s;
  }

  const proxyStatus = (id: string) => registry.proxies().find((p) => p.spiffeId === id);

  async function eventually(check: () => boolean, what: string): Promise<void> {
    for (let i = 0; i < 100; i++) {
      if (check()) return;
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.fail(`timed out waiting for ${what}`);
  }

  describe('state of the world', () => {
    it('pushes CDS → EDS → LDS → RDS and records the ACKs', async () => {
      const s = sotw(WEB);
      s.send({ node: node(WEB), type_url: CDS });
      s.send({ type_url: LDS });
      const cds = await s.next();
      assert.equal(cds.type_url, CDS);
      assert.equal(cds.version_info, 'v1');
      assert.deepEqual(names(cds), ['api', 'web_local']);
      // LDS was asked for at once but waits for the CDS ACK (and the EDS that follows).
      s.send({ type_url: EDS, resource_names: names(cds) });
      await s.expectNone(100);
      ack(s, cds);
      const eds = await s.next();
      assert.equal(eds.type_url, EDS);
      assert.deepEqual(names(eds), ['api', 'web_local']);
      ack(s, eds, names(cds));
      const lds = await s.next();
      assert.equal(lds.type_url, LDS);
      assert.deepEqual(routeNames(lds), ['outbound-routes']);
      s.send({ type_url: RDS, resource_names: routeNames(lds) });
      ack(s, lds);
      const rds = await s.next();
      assert.equal(rds.type_url, RDS);
      assert.deepEqual(names(rds), ['outbound-routes']);
      ack(s, rds, ['outbound-routes']);
      await s.expectNone();
      const st = proxyStatus(WEB);
      assert.equal(st?.kind, 'sotw');
      assert.deepEqual(st.node.metadataKeys, ['instance']);
      for (const t of [CDS, EDS, LDS, RDS]) {
        assert.equal(st.types[t]?.lastSentVersion, 'v1');
        assert.equal(st.types[t]?.lastAckedVersion, 'v1');
      }
    });

    it('sends a proxy only its own resources', async () => {
      const s = sotw(API);
      s.send({ node: node(API), type_url: CDS });
      const cds = await s.next();
      assert.deepEqual(names(cds), ['db']);
      s.send({ type_url: EDS, resource_names: ['db', 'api'] });
      ack(s, cds);
      const eds = await s.next();
      assert.deepEqual(names(eds), ['db']);
    });

    it('resends when the subscription grows and not when nothing changed', async () => {
      const s = await converged(WEB);
      s.send({ type_url: EDS, resource_names: ['api'], response_nonce: '' });
      // A shrunk EDS set is a different content: answered with exactly that set.
      const shrunk = await s.next();
      assert.deepEqual(names(shrunk), ['api']);
      ack(s, shrunk, ['api']);
      ack(s, shrunk, ['api', 'web_local']);
      const grown = await s.next();
      assert.equal(grown.type_url, EDS);
      assert.deepEqual(names(grown), ['api', 'web_local']);
      ack(s, grown, ['api', 'web_local']);
      await s.expectNone();
    });

    it('pushes only the types a new snapshot changed', async () => {
      const s = await converged(WEB);
      feed.set(
        meshOf('v2', {
          [WEB]: { ...WEB_V1, clusters: { ...WEB_V1.clusters, api: [8081, 8082, 8083] } },
          [API]: API_V1,
        }),
      );
      const eds = await s.next();
      assert.equal(eds.type_url, EDS);
      assert.equal(eds.version_info, 'v2');
      ack(s, eds, ['api', 'web_local']);
      await s.expectNone();
      assert.equal(proxyStatus(WEB)?.types[EDS]?.lastAckedVersion, 'v2');
      // CDS was not resent: its last sent version is still v1.
      assert.equal(proxyStatus(WEB)?.types[CDS]?.lastSentVersion, 'v1');
    });

    it('removes a cluster by sending the full CDS set, then follows with LDS', async () => {
      const s = await converged(WEB);
      feed.set(
        meshOf('v2', {
          [WEB]: { clusters: { api: [8081, 8082] }, listeners: { outbound: 'api', extra: 'api' } },
          [API]: API_V1,
        }),
      );
      const cds = await s.next();
      assert.equal(cds.type_url, CDS);
      assert.deepEqual(names(cds), ['api']);
      s.send({ type_url: EDS, resource_names: ['api'] });
      ack(s, cds);
      const eds = await s.next();
      assert.equal(eds.type_url, EDS);
      ack(s, eds, ['api']);
      const lds = await s.next();
      assert.equal(lds.type_url, LDS);
      assert.deepEqual(names(lds), ['extra', 'outbound']);
      s.send({ type_url: RDS, resource_names: routeNames(lds).sort() });
      ack(s, lds);
      const rds = await s.next();
      assert.deepEqual(names(rds), ['extra-routes', 'outbound-routes']);
    });

    it('records a NACK, keeps the proxy on its last good version and does not resend it', async () => {
      const s = await converged(WEB);
      feed.set(
        meshOf('v2', {
          [WEB]: { ...WEB_V1, clusters: { ...WEB_V1.clusters, bad: [1] } },
          [API]: API_V1,
        }),
      );
      const cds = await s.next();
      assert.equal(cds.version_info, 'v2');
      s.send({
        type_url: CDS,
        version_info: 'v1',
        response_nonce: cds.nonce,
        error_detail: { code: 3, message: 'cluster bad: invalid' },
      });
      await s.expectNone(300);
      const st = proxyStatus(WEB)?.types[CDS];
      assert.equal(st?.lastAckedVersion, 'v1');
      assert.equal(st?.lastSentVersion, 'v2');
      assert.deepEqual(
        { version: st?.lastNack?.version, message: st?.lastNack?.message },
        { version: 'v2', message: 'cluster bad: invalid' },
      );
      // Envoy repeats its last request; still no resend of the rejected version.
      s.send({ type_url: CDS, version_info: 'v1', response_nonce: cds.nonce });
      await s.expectNone(200);
      // The next different snapshot is sent normally.
      feed.set(
        meshOf('v3', {
          [WEB]: { ...WEB_V1, clusters: { ...WEB_V1.clusters, good: [2] } },
          [API]: API_V1,
        }),
      );
      const next = await s.next();
      assert.equal(next.type_url, CDS);
      assert.equal(next.version_info, 'v3');
    });

    it('ignores requests with a stale nonce', async () => {
      const s = await converged(WEB);
      feed.set(
        meshOf('v2', {
          [WEB]: { ...WEB_V1, clusters: { api: [1], web_local: [2] } },
          [API]: API_V1,
        }),
      );
      const eds = await s.next();
      s.send({
        type_url: EDS,
        response_nonce: 'stale',
        resource_names: [],
        error_detail: { code: 3, message: 'x' },
      });
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(proxyStatus(WEB)?.types[EDS]?.lastNack, null);
      ack(s, eds, ['api', 'web_local']);
      await eventually(() => proxyStatus(WEB)?.types[EDS]?.lastAckedVersion === 'v2', 'EDS ACK');
    });

    it('ends a stream whose node.id is not its SVID with PERMISSION_DENIED', async () => {
      const s = sotw(WEB);
      s.send({ node: node(API), type_url: CDS });
      const err = await s.ended();
      assert.equal(err.code, status.PERMISSION_DENIED);
      assert.match(err.details, /does not match/);
    });

    it('ends a stream whose node.id changes with PERMISSION_DENIED', async () => {
      const s = sotw(WEB);
      s.send({ node: node(WEB), type_url: CDS });
      await s.next();
      s.send({ node: node(API), type_url: LDS });
      assert.equal((await s.ended()).code, status.PERMISSION_DENIED);
    });

    it('ends a stream without a client certificate with UNAUTHENTICATED', async () => {
      const s = sotw(undefined);
      s.send({ node: node(WEB), type_url: CDS });
      const err = await s.ended();
      assert.equal(err.code, status.UNAUTHENTICATED);
    });

    it('answers an unknown type URL with INVALID_ARGUMENT', async () => {
      const s = sotw(WEB);
      s.send({ node: node(WEB), type_url: 'type.googleapis.com/envoy.Nope' });
      const err = await s.ended();
      assert.equal(err.code, status.INVALID_ARGUMENT);
      assert.match(err.details, /unknown or unserved type_url/);
    });

    it('refuses a subscription past the name limit', async () => {
      const s = sotw(WEB);
      s.send({
        node: node(WEB),
        type_url: EDS,
        resource_names: Array.from({ length: 10_001 }, (_, i) => `c${i}`),
      });
      assert.equal((await s.ended()).code, status.RESOURCE_EXHAUSTED);
    });

    it('sends nothing to a proxy the snapshot has no configuration for, and says why', async () => {
      const id = 'spiffe://example.org/unknown';
      const s = sotw(id);
      s.send({ node: node(id), type_url: CDS });
      await s.expectNone(200);
      assert.equal(proxyStatus(id)?.configError, `no configuration for ${id}`);
      // A later snapshot that knows the proxy sends its configuration.
      feed.set(meshOf('v2', { [WEB]: WEB_V1, [id]: API_V1 }));
      assert.deepEqual(names(await s.next()), ['db']);
      assert.equal(proxyStatus(id)?.configError, null);
    });

    it('forgets a proxy when its stream closes', async () => {
      const s = await converged(API);
      assert.ok(proxyStatus(API));
      s.close();
      await eventually(() => proxyStatus(API) === undefined, 'the proxy to be forgotten');
    });
  });

  describe('delta', () => {
    type Delta = StreamClient<DeltaDiscoveryRequest, DeltaDiscoveryResponse>;
    const dack = (s: Delta, r: DeltaDiscoveryResponse) =>
      s.send({ type_url: r.type_url, response_nonce: r.nonce });

    async function deltaConverged(as: string): Promise<Delta> {
      const s = delta(as);
      s.send({ node: node(as), type_url: CDS });
      s.send({ type_url: LDS });
      const cds = await s.next();
      assert.equal(cds.type_url, CDS);
      s.send({ type_url: EDS, resource_names_subscribe: names(cds) });
      dack(s, cds);
      const eds = await s.next();
      assert.equal(eds.type_url, EDS);
      dack(s, eds);
      const lds = await s.next();
      assert.equal(lds.type_url, LDS);
      const routes = lds.resources.flatMap((r) =>
        routeNames({ resources: [r.resource] } as DiscoveryResponse),
      );
      s.send({ type_url: RDS, resource_names_subscribe: routes });
      dack(s, lds);
      const rds = await s.next();
      assert.equal(rds.type_url, RDS);
      dack(s, rds);
      return s;
    }

    it('pushes CDS → EDS → LDS → RDS with per-resource versions', async () => {
      const s = await deltaConverged(WEB);
      await s.expectNone();
      const st = proxyStatus(WEB);
      assert.equal(st?.kind, 'delta');
      for (const t of [CDS, EDS, LDS, RDS]) assert.equal(st.types[t]?.lastAckedVersion, 'v1');
    });

    it('sends only changed resources and removes stale ones', async () => {
      const s = await deltaConverged(WEB);
      feed.set(
        meshOf('v2', {
          [WEB]: { ...WEB_V1, clusters: { api: [8081, 8082, 8083], web_local: [9000] } },
          [API]: API_V1,
        }),
      );
      const eds = await s.next();
      assert.equal(eds.type_url, EDS);
      assert.equal(eds.system_version_info, 'v2');
      assert.deepEqual(names(eds), ['api']);
      assert.equal(eds.resources[0]?.version.length, 16);
      dack(s, eds);
      await s.expectNone();
      feed.set(
        meshOf('v3', {
          [WEB]: { ...WEB_V1, clusters: { api: [8081, 8082, 8083] } },
          [API]: API_V1,
        }),
      );
      const cds = await s.next();
      assert.equal(cds.type_url, CDS);
      assert.deepEqual(cds.resources, []);
      assert.deepEqual(cds.removed_resources, ['web_local']);
      s.send({ type_url: EDS, resource_names_unsubscribe: ['web_local'] });
      dack(s, cds);
      await s.expectNone();
    });

    it('records a NACK and does not resend the rejected versions', async () => {
      const s = await deltaConverged(WEB);
      feed.set(
        meshOf('v2', {
          [WEB]: { ...WEB_V1, clusters: { api: [1], web_local: [9000] } },
          [API]: API_V1,
        }),
      );
      const eds = await s.next();
      s.send({
        type_url: EDS,
        response_nonce: eds.nonce,
        error_detail: { code: 3, message: 'bad endpoint' },
      });
      await s.expectNone(300);
      const st = proxyStatus(WEB)?.types[EDS];
      assert.equal(st?.lastAckedVersion, 'v1');
      assert.equal(st?.lastNack?.version, 'v2');
      feed.set(
        meshOf('v3', {
          [WEB]: { ...WEB_V1, clusters: { api: [2], web_local: [9000] } },
          [API]: API_V1,
        }),
      );
      const next = await s.next();
      assert.equal(next.system_version_info, 'v3');
      assert.deepEqual(names(next), ['api']);
    });

    it('resumes from initial_resource_versions without resending what the client has', async () => {
      const first = await deltaConverged(API);
      first.close();
      const v1 = proxyResources(API_V1);
      const versions = (t: XdsTypeUrl) =>
        Object.fromEntries(
          [...(v1.get(t) ?? new Map<string, XdsResource>()).values()].map((r) => [
            r.name,
            r.version,
          ]),
        );
      const s = delta(API);
      s.send({ node: node(API), type_url: CDS, initial_resource_versions: versions(CDS) });
      const cds = await s.next();
      assert.deepEqual(cds.resources, []);
      assert.deepEqual(cds.removed_resources, []);
      dack(s, cds);
      s.send({
        type_url: EDS,
        resource_names_subscribe: ['db', 'missing'],
        initial_resource_versions: versions(EDS),
      });
      const eds = await s.next();
      assert.deepEqual(eds.resources, []);
      assert.deepEqual(eds.removed_resources, ['missing']);
      dack(s, eds);
      await s.expectNone();
    });

    it('ends a stream whose node.id is not its SVID with PERMISSION_DENIED', async () => {
      const s = delta(WEB);
      s.send({ node: node(API), type_url: CDS });
      assert.equal((await s.ended()).code, status.PERMISSION_DENIED);
    });
  });
});

// bench/xds-push: the mesh ADS server pushing to many simulated Envoys. For 1,000 and 5,000
// services (4 endpoints each) and 100 and 500 concurrent SotW ADS streams (each over its own
// mTLS connection with its own SVID, ACKing like Envoy, in a separate client process):
//   - time from the streams opening to every proxy having ACKed CDS, EDS, LDS and RDS;
//   - time from one endpoint change (registered through MeshController.updateEndpoints) to every
//     proxy having ACKed the new EDS;
//   - the server's RSS after convergence.
// Baseline, in the same run: the same measurements with one stream. The mesh is made by a small
// generator (not the compiler): every service has a cluster (EDS, upstream mTLS via SDS, SPIFFE
// SAN match) and a ClusterLoadAssignment; each proxy fronts one service and calls 10 others
// (svc-0 among them, so an endpoint change of svc-0 reaches every proxy): 11 clusters, 10
// ClusterLoadAssignments, 2 listeners and 2 route configurations per proxy, shared between
// proxies wherever identical, as MeshSnapshot promises.
import { type ChildProcess, fork } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { XDS_TYPE_URL, type XdsTypeUrl, encodeAny } from '@parley/api';
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
import {
  ADS_MAX_RECEIVE_MESSAGE_BYTES,
  MeshController,
  type MeshSnapshot,
  ProxyStatusRegistry,
  type XdsResource,
  adsServiceDefinition,
  createAdsService,
} from '@parley/mesh';
import { type TestCa, makeTestCa } from '@parley/testing';
import { mib } from './process-stats.js';
import { runBench } from './run-bench.js';

const SERVICE_COUNTS = [1000, 5000];
const CLIENT_COUNTS = [100, 500];
const ENDPOINTS = 4;
const CALLS = 10;
const TD = 'bench.example';
const CLIENTS_SCRIPT = join(import.meta.dirname, 'xds-push-clients.js');
const ALL_TYPES = [
  XDS_TYPE_URL.cluster,
  XDS_TYPE_URL.endpoint,
  XDS_TYPE_URL.listener,
  XDS_TYPE_URL.route,
];

/** Wall-clock milliseconds with sub-millisecond precision, comparable across processes. */
const now = () => performance.timeOrigin + performance.now();

const HCM =
  'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const ROUTER = 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router';
const UPSTREAM_TLS =
  'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext';
const SDS = {
  api_config_source: {
    api_type: 'GRPC',
    transport_api_version: 'V3',
    grpc_services: [{ envoy_grpc: { cluster_name: 'parley_agent' } }],
  },
  resource_api_version: 'V3',
};

let contentVersion = 0;
function resource(typeUrl: string, name: string, object: Record<string, unknown>): XdsResource {
  contentVersion += 1;
  return { name, version: String(contentVersion), resource: encodeAny(typeUrl, object) };
}

const svc = (i: number) => `svc-${i}`;
const spiffeId = (i: number) => `spiffe://${TD}/${svc(i)}`;

function cluster(i: number): XdsResource {
  return resource(XDS_TYPE_URL.cluster, svc(i), {
    name: svc(i),
    type: 'EDS',
    connect_timeout: { seconds: 1 },
    eds_cluster_config: { eds_config: { ads: {}, resource_api_version: 'V3' } },
    transport_socket: {
      name: 'envoy.transport_sockets.tls',
      typed_config: {
        '@type': UPSTREAM_TLS,
        common_tls_context: {
          tls_certificate_sds_secret_configs: [{ name: 'default', sds_config: SDS }],
          combined_validation_context: {
            default_validation_context: {
              match_typed_subject_alt_names: [{ san_type: 'URI', matcher: { exact: spiffeId(i) } }],
            },
            validation_context_sds_secret_config: { name: 'ROOTCA', sds_config: SDS },
          },
        },
      },
    },
  });
}

function loadAssignment(i: number, generation: number): XdsResource {
  return resource(XDS_TYPE_URL.endpoint, svc(i), {
    cluster_name: svc(i),
    endpoints: [
      {
        lb_endpoints: Array.from({ length: ENDPOINTS }, (_, e) => ({
          endpoint: {
            address: {
              socket_address: {
                address: `10.${(i >> 8) & 255}.${i & 255}.${e + 1}`,
                port_value: 8080 + generation,
              },
            },
          },
        })),
      },
    ],
  });
}

function listener(name: string, port: number, route: string): Record<string, unknown> {
  return {
    name,
    address: { socket_address: { address: '0.0.0.0', port_value: port } },
    filter_chains: [
      {
        filters: [
          {
            name: 'envoy.filters.network.http_connection_manager',
            typed_config: {
              '@type': HCM,
              stat_prefix: name,
              rds: {
                route_config_name: route,
                config_source: { ads: {}, resource_api_version: 'V3' },
              },
              http_filters: [
                { name: 'envoy.filters.http.router', typed_config: { '@type': ROUTER } },
              ],
            },
          },
        ],
      },
    ],
  };
}

interface ServiceResources {
  readonly calls: readonly number[];
  readonly local: XdsResource;
  readonly listeners: readonly XdsResource[];
  readonly routes: readonly XdsResource[];
}

/** Every service's shared resources, and one proxy's own, made once per mesh. */
function generate(services: number) {
  const clusters = Array.from({ length: services }, (_, i) => cluster(i));
  const assignments = Array.from({ length: services }, (_, i) => loadAssignment(i, 0));
  const perService: ServiceResources[] = Array.from({ length: services }, (_, i) => {
    const calls = [0, ...Array.from({ length: CALLS - 1 }, (_, k) => (i + 1 + k) % services)];
    const inbound = `inbound-${svc(i)}`;
    const outbound = `outbound-${svc(i)}`;
    return {
      calls,
      local: resource(XDS_TYPE_URL.cluster, `local-${svc(i)}`, {
        name: `local-${svc(i)}`,
        type: 'STATIC',
        connect_timeout: { seconds: 1 },
        load_assignment: {
          cluster_name: `local-${svc(i)}`,
          endpoints: [
            {
              lb_endpoints: [
                {
                  endpoint: {
                    address: { socket_address: { address: '127.0.0.1', port_value: 8080 } },
                  },
                },
              ],
            },
          ],
        },
      }),
      listeners: [
        resource(XDS_TYPE_URL.listener, 'inbound', listener('inbound', 15006, inbound)),
        resource(XDS_TYPE_URL.listener, 'outbound', listener('outbound', 15001, outbound)),
      ],
      routes: [
        resource(XDS_TYPE_URL.route, inbound, {
          name: inbound,
          virtual_hosts: [
            {
              name: 'local',
              domains: ['*'],
              routes: [{ match: { prefix: '/' }, route: { cluster: `local-${svc(i)}` } }],
            },
          ],
        }),
        resource(XDS_TYPE_URL.route, outbound, {
          name: outbound,
          virtual_hosts: calls.map((j) => ({
            name: svc(j),
            domains: [svc(j)],
            routes: [
              { match: { prefix: '/' }, route: { cluster: svc(j), timeout: { seconds: 5 } } },
            ],
          })),
        }),
      ],
    };
  });
  return { clusters, assignments, perService };
}

type Mesh = ReturnType<typeof generate>;

/** A snapshot over the generated mesh with `assignments` as the endpoints. */
function snapshotOf(
  mesh: Mesh,
  version: string,
  assignments: readonly XdsResource[],
): MeshSnapshot {
  const byProxy = new Map<string, ReadonlyMap<XdsTypeUrl, ReadonlyMap<string, XdsResource>>>();
  const prefix = `spiffe://${TD}/svc-`;
  return {
    version,
    commit: 'generated',
    resourcesFor(node) {
      const hit = byProxy.get(node.id);
      if (hit !== undefined) return { ok: true, resources: hit };
      const i = node.id.startsWith(prefix) ? Number(node.id.slice(prefix.length)) : NaN;
      const own = mesh.perService[i];
      if (own === undefined) return { ok: false, reason: `unknown proxy ${node.id}` };
      const byName = (rs: readonly XdsResource[]) => new Map(rs.map((r) => [r.name, r]));
      const resources = new Map<XdsTypeUrl, ReadonlyMap<string, XdsResource>>([
        [XDS_TYPE_URL.cluster, byName([own.local, ...own.calls.map((j) => mesh.clusters[j]!)])],
        [XDS_TYPE_URL.endpoint, byName(own.calls.map((j) => assignments[j]!))],
        [XDS_TYPE_URL.listener, byName(own.listeners)],
        [XDS_TYPE_URL.route, byName(own.routes)],
      ]);
      byProxy.set(node.id, resources);
      return { ok: true, resources };
    },
  };
}

type ClientMessage =
  | { type: 'ready' }
  | { type: 'arrived'; times: (number | null)[] }
  | { type: 'error'; message: string };

interface Round {
  readonly convergeMs: number;
  readonly changeMs: number;
  readonly rssBytes: number;
}

await runBench('bench/xds-push', 10 * 60_000, async (defer) => {
  const ca: TestCa = await makeTestCa({ trustDomain: TD });
  const serverKey = generateKey('ec-p256');
  const serverCert = await ca.minter.mintSvid({
    spiffeId: parseSpiffeId(`spiffe://${TD}/parley/server`),
    publicKey: keyObjectSigner(serverKey).publicKey,
    ttl: parseDuration('1h'),
    dnsNames: ['localhost'],
  });
  const rootPem = encodePem('CERTIFICATE', ca.root.raw);
  const bundles = bundleSet({
    trustDomain: parseSpiffeId(`spiffe://${TD}/x`).trustDomain,
    x509Authorities: [ca.root],
    jwtAuthorities: new Map(),
  });
  const maxClients = Math.max(...CLIENT_COUNTS);
  const maxServices = Math.min(...SERVICE_COUNTS);
  const svids = await Promise.all(
    Array.from({ length: Math.min(maxClients, maxServices) }, async (_, i) => {
      const svid = await ca.mintSvid(spiffeId(i));
      return {
        id: spiffeId(i),
        key: svid.key.export({ type: 'pkcs8', format: 'pem' }).toString(),
        cert: encodePem('CERTIFICATE', svid.der),
      };
    }),
  );

  console.log(
    `bench/xds-push: SotW ADS over mTLS, ${ENDPOINTS} endpoints per service, each proxy calls ` +
      `${CALLS} services; node ${process.version}, ${availableParallelism()} CPUs`,
  );

  const round = async (services: number, clients: number): Promise<Round> => {
    const built = performance.now();
    const mesh = generate(services);
    const buildMs = performance.now() - built;
    let generation = 0;
    const controller = new MeshController<number>({
      build: (_files, commit) => ({
        ok: true,
        snapshot: snapshotOf(mesh, commit, mesh.assignments),
      }),
      // Only svc-0's endpoints change in this bench: its ClusterLoadAssignment is re-made.
      withEndpoints: (_snapshot, updates) => {
        generation += 1;
        const assignments = [...mesh.assignments];
        for (const [name, ports] of updates)
          assignments[Number(name.slice(4))] = loadAssignment(Number(name.slice(4)), ports[0] ?? 0);
        return { ok: true, snapshot: snapshotOf(mesh, `v1+${generation}`, assignments) };
      },
      clock: systemClock,
    });
    controller.applyCommit({ ok: true, commit: 'v1', files: [] });
    const registry = new ProxyStatusRegistry(systemClock);
    const server = new Server({ 'grpc.max_receive_message_length': ADS_MAX_RECEIVE_MESSAGE_BYTES });
    server.addService(
      adsServiceDefinition(),
      createAdsService({
        snapshots: controller,
        status: registry,
        authenticate: (raw) => {
          const r = verifyX509Svid([raw], bundles, systemClock);
          return r.ok ? { ok: true, spiffeId: r.svid.spiffeId } : r;
        },
      }),
    );
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(
        '127.0.0.1:0',
        ServerCredentials.createSsl(
          Buffer.from(rootPem),
          [
            {
              cert_chain: Buffer.from(encodePem('CERTIFICATE', serverCert.der)),
              private_key: Buffer.from(
                encodePem('PRIVATE KEY', serverKey.export({ type: 'pkcs8', format: 'der' })),
              ),
            },
          ],
          true,
        ),
        (err, p) => (err ? reject(err) : resolve(p)),
      ),
    );
    const stopServer = () => server.forceShutdown();
    defer(stopServer);

    const child: ChildProcess = fork(CLIENTS_SCRIPT, [], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const stop = async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    };
    defer(stop);
    const inbox: ClientMessage[] = [];
    let wake: (() => void) | undefined;
    child.on('message', (m: ClientMessage) => {
      inbox.push(m);
      wake?.();
    });
    const next = async (what: string, timeoutMs: number): Promise<number[]> => {
      const deadline = performance.now() + timeoutMs;
      while (inbox.length === 0) {
        if (child.exitCode !== null) throw new Error(`the ADS client exited (${child.exitCode})`);
        const left = deadline - performance.now();
        if (left <= 0) throw new Error(`timed out waiting for ${what}`);
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, Math.min(left, 200));
        });
        wake = undefined;
      }
      const m = inbox.shift()!;
      if (m.type === 'error') throw new Error(`ADS client: ${m.message}`);
      if (m.type === 'ready') return [];
      const missing = m.times.filter((t) => t === null).length;
      if (missing > 0) throw new Error(`${missing} of ${m.times.length} proxies missed ${what}`);
      return m.times as number[];
    };

    await next('the ADS client process to start', 30_000);
    const started = now();
    const cpuBefore = process.cpuUsage();
    child.send({ type: 'start', port, rootPem, proxies: svids.slice(0, clients) });
    child.send({ type: 'await', version: 'v1', types: ALL_TYPES, timeoutMs: 60_000 });
    const converged = await next('convergence', 70_000);
    const convergeMs = Math.max(...converged) - started;
    const cpu = process.cpuUsage(cpuBefore);
    const convergeCpuMs = (cpu.user + cpu.system) / 1000;
    const rssBytes = process.memoryUsage().rss;

    // One endpoint change of svc-0, which every proxy calls.
    await new Promise((r) => setTimeout(r, 200));
    const changed = now();
    const result = controller.updateEndpoints('svc-0', [1]);
    if (!result.ok) throw new Error(result.reason);
    child.send({
      type: 'await',
      version: result.snapshot.version,
      types: [XDS_TYPE_URL.endpoint],
      timeoutMs: 30_000,
    });
    const arrived = await next('the endpoint change', 40_000);
    const changeMs = Math.max(...arrived) - changed;
    // The server's view: every proxy's ACK of the new EDS recorded in the status registry.
    const ackedAt = (v: string) =>
      registry.proxies().filter((p) => p.types[XDS_TYPE_URL.endpoint]?.lastAckedVersion === v)
        .length;
    for (let i = 0; i < 100 && ackedAt(result.snapshot.version) < clients; i++)
      await new Promise((r) => setTimeout(r, 20));
    const acked = ackedAt(result.snapshot.version);

    await stop();
    stopServer();
    console.log(
      `${String(services).padStart(5)} services, ${String(clients).padStart(3)} proxies: ` +
        `mesh generated in ${buildMs.toFixed(0)} ms; converged in ${convergeMs.toFixed(0)} ms ` +
        `(server CPU ${convergeCpuMs.toFixed(0)} ms, TLS handshakes included); ` +
        `endpoint change → every proxy in ${changeMs.toFixed(1)} ms (${acked} ACKs in status); ` +
        `server RSS ${mib(rssBytes)} MiB`,
    );
    return { convergeMs, changeMs, rssBytes };
  };

  for (const services of SERVICE_COUNTS) {
    const baseline = await round(services, 1);
    for (const clients of CLIENT_COUNTS) {
      const r = await round(services, clients);
      console.log(
        `  ratio ${clients} proxies / 1 proxy: convergence ${(r.convergeMs / baseline.convergeMs).toFixed(1)}×, ` +
          `endpoint change ${(r.changeMs / baseline.changeMs).toFixed(1)}×` +
          (clients === 500 && services === 5000
            ? `; targets: converged < 5000 ms ${r.convergeMs < 5000 ? 'met' : 'NOT met'}, ` +
              `endpoint change < 500 ms ${r.changeMs < 500 ? 'met' : 'NOT met'}`
            : ''),
      );
    }
  }
});

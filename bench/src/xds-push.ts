// bench/xds-push: the mesh ADS server pushing to many simulated Envoys. For 1,000 and 5,000
// services (4 endpoints each) and 100 and 500 concurrent SotW ADS streams (each over its own
// mTLS connection with its own SVID, ACKing like Envoy, in a separate client process):
//   - time from the streams opening to every proxy having ACKed CDS, EDS, LDS and RDS;
//   - time from one endpoint change (registered through MeshController.updateEndpoints) to every
//     proxy having ACKed the new EDS;
//   - the server's RSS after convergence.
// Baseline, in the same run: the same measurements with one stream. The mesh is a generated config
// repository (one Service YAML per service, 4 endpoints each, each calling 10 services with svc-0
// among them, so an endpoint change of svc-0 reaches every proxy), parsed and compiled by the real
// model and compiler (timed: the compile target) and changed with withEndpoints.
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { XDS_TYPE_URL } from '@parley/api';
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
  type Endpoint,
  MeshController,
  ProxyStatusRegistry,
  adsServiceDefinition,
  compileMesh,
  createAdsService,
  formatMeshProblem,
  parseEndpoint,
  parseMeshConfig,
  withEndpoints,
} from '@parley/mesh';
import { type TestCa, makeTestCa } from '@parley/testing';
import { forkClient } from './client-process.js';
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

/** The mesh config repository of `services` services, as YAML files (the compiler's input). */
function meshRepo(services: number): { path: string; text: string }[] {
  return Array.from({ length: services }, (_, i) => {
    const calls = [0, ...Array.from({ length: CALLS - 1 }, (_, k) => (i + 1 + k) % services)];
    const endpoints = Array.from({ length: ENDPOINTS }, (_, e) => {
      const host = `10.${(i >> 8) & 255}.${i & 255}.${e + 1}`;
      return `    - { name: ${svc(i)}-${e}, inbound: ${host}:15006, app: 127.0.0.1:8080 }`;
    });
    return {
      path: `services/${svc(i)}.yaml`,
      text: [
        'apiVersion: parley.dev/v1',
        'kind: Service',
        `metadata: { name: ${svc(i)} }`,
        'spec:',
        `  spiffeId: ${spiffeId(i)}`,
        '  ports: [{ name: http, port: 80 }]',
        `  sidecar: { outbound: [${[...new Set(calls)].map(svc).join(', ')}] }`,
        '  endpoints:',
        ...endpoints,
        '',
      ].join('\n'),
    };
  });
}

const svc = (i: number) => `svc-${i}`;
const spiffeId = (i: number) => `spiffe://${TD}/${svc(i)}`;

type ClientMessage =
  | { type: 'ready' }
  | { type: 'arrived'; times: (number | null)[] }
  | { type: 'error'; message: string };

interface Round {
  readonly compileMs: number;
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
    const files = meshRepo(services);
    const parseStart = performance.now();
    const parsed = parseMeshConfig(files);
    const parseMs = performance.now() - parseStart;
    if (!parsed.ok) throw new Error(parsed.problems.map(formatMeshProblem).join('\n'));
    const compileStart = performance.now();
    const compiled = compileMesh(parsed.config, { commit: 'v1', trustDomain: TD });
    const compileMs = performance.now() - compileStart;
    const controller = new MeshController<Endpoint>({
      build: () => ({ ok: true, snapshot: compiled }),
      withEndpoints: (snapshot, updates) => {
        let next = snapshot;
        for (const [name, list] of updates) next = withEndpoints(next, name, list);
        return { ok: true, snapshot: next };
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

    const client = forkClient<ClientMessage>('ADS client', CLIENTS_SCRIPT, [], defer);
    const stop = () => client.stop();
    const next = async (what: string, timeoutMs: number): Promise<number[]> => {
      const m = await client.next(what, timeoutMs);
      if (m.type !== 'arrived') return [];
      const missing = m.times.filter((t) => t === null).length;
      if (missing > 0) throw new Error(`${missing} of ${m.times.length} proxies missed ${what}`);
      return m.times as number[];
    };

    await next('the ADS client process to start', 30_000);
    const started = now();
    const cpuBefore = process.cpuUsage();
    client.send({ type: 'start', port, rootPem, proxies: svids.slice(0, clients) });
    client.send({ type: 'await', version: 'v1', types: ALL_TYPES, timeoutMs: 60_000 });
    const converged = await next('convergence', 70_000);
    const convergeMs = Math.max(...converged) - started;
    const cpu = process.cpuUsage(cpuBefore);
    const convergeCpuMs = (cpu.user + cpu.system) / 1000;
    const rssBytes = process.memoryUsage().rss;

    // One endpoint change of svc-0, which every proxy calls.
    await new Promise((r) => setTimeout(r, 200));
    const changed = now();
    const moved = parseEndpoint({
      name: 'svc-0-0',
      inbound: '10.0.0.99:15006',
      app: '127.0.0.1:8080',
    });
    if (!moved.ok) throw new Error('bad endpoint');
    const result = controller.updateEndpoints('svc-0', [moved.endpoint]);
    if (!result.ok) throw new Error(result.reason);
    client.send({
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
        `parsed in ${parseMs.toFixed(0)} ms, compiled in ${compileMs.toFixed(0)} ms; converged in ${convergeMs.toFixed(0)} ms ` +
        `(server CPU ${convergeCpuMs.toFixed(0)} ms, TLS handshakes included); ` +
        `endpoint change → every proxy in ${changeMs.toFixed(1)} ms (${acked} ACKs in status); ` +
        `server RSS ${mib(rssBytes)} MiB`,
    );
    return { compileMs, convergeMs, changeMs, rssBytes };
  };

  for (const services of SERVICE_COUNTS) {
    const baseline = await round(services, 1);
    for (const clients of CLIENT_COUNTS) {
      const r = await round(services, clients);
      console.log(
        `  ratio ${clients} proxies / 1 proxy: convergence ${(r.convergeMs / baseline.convergeMs).toFixed(1)}×, ` +
          `endpoint change ${(r.changeMs / baseline.changeMs).toFixed(1)}×` +
          (clients === 500 && services === 5000
            ? `; targets: compiled < 2000 ms ${r.compileMs < 2000 ? 'met' : 'NOT met'}, converged < 5000 ms ${r.convergeMs < 5000 ? 'met' : 'NOT met'}, ` +
              `endpoint change < 500 ms ${r.changeMs < 500 ? 'met' : 'NOT met'}`
            : ''),
      );
    }
  }
});

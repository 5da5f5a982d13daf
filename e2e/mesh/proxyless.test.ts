// Proxyless gRPC as a second, independent xDS client of the same control plane (issue 4): a
// @grpc/grpc-js-xds client resolves xds:///greeter through the agent's xDS relay (plaintext on
// its per-workload socket; the agent forwards over mTLS with the client's own SVID), calls the
// greeters' Envoy sidecars with mTLS from its certificate provider, follows the pushed routes,
// and follows a new commit's route.
import assert from 'node:assert/strict';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { freePort, waitFor } from '@parley/testing';
import { parley } from '../identity/harness.js';
import { type MeshCluster, startMeshCluster } from './mesh-harness.js';
import { type GreeterApp, loadGreeter, startGreeter } from './proxyless-greeter.js';

const CLIENT = 'spiffe://example.org/client';

/** One RPC's outcome as the client process reports it. */
interface Outcome {
  readonly service?: string;
  readonly error?: string;
}

/** The grpc-js-xds client process: one RPC per call, in order. */
interface ProxylessClient {
  call(headers?: Record<string, string>): Promise<Outcome>;
  stop(): Promise<void>;
}

function startProxylessClient(
  protoDir: string,
  target: string,
  bootstrap: unknown,
): ProxylessClient {
  const script = fileURLToPath(new URL('./proxyless-client.js', import.meta.url));
  const child: ChildProcess = spawn(process.execPath, [script, protoDir, target], {
    env: { ...process.env, GRPC_XDS_BOOTSTRAP_CONFIG: JSON.stringify(bootstrap) },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const waiting: ((o: Outcome) => void)[] = [];
  if (child.stdout === null || child.stdin === null) throw new Error('no client pipes');
  createInterface({ input: child.stdout }).on('line', (line) =>
    waiting.shift()?.(JSON.parse(line) as Outcome),
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    call: (headers = {}) =>
      new Promise<Outcome>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('the client did not answer')), 10_000);
        waiting.push((o) => {
          clearTimeout(timer);
          resolve(o);
        });
        child.stdin?.write(`${JSON.stringify(headers)}\n`);
      }),
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

interface Ports {
  readonly inbound: number;
  readonly app: number;
}

function greeterService(name: string, instance: string, p: Ports): string {
  return `apiVersion: parley.dev/v1
kind: Service
metadata: { name: ${name} }
spec:
  spiffeId: spiffe://example.org/${name}
  ports: [{ name: grpc, port: 50051, protocol: grpc }]
  endpoints:
    - { name: ${instance}, inbound: 127.0.0.1:${p.inbound}, app: 127.0.0.1:${p.app} }
`;
}

/** The mesh: the proxyless `client` calls `greeter`, whose Route picks v1 or v2. */
function meshFiles(v1: Ports, v2: Ports, route: string): Record<string, string> {
  return {
    'services/client.yaml': `apiVersion: parley.dev/v1
kind: Service
metadata: { name: client }
spec:
  spiffeId: ${CLIENT}
  ports: [{ name: grpc, port: 50051, protocol: grpc }]
  sidecar: { outbound: [greeter] }
`,
    'services/greeter.yaml': greeterService('greeter', 'greeter-0', v1),
    'services/greeter-v2.yaml': greeterService('greeter-v2', 'greeter-v2-0', v2),
    'routes/greeter.yaml': route,
  };
}

/** `x-version: v2` goes to greeter-v2, everything else to `fallback`. */
function greeterRoute(fallback: string): string {
  return `apiVersion: parley.dev/v1
kind: Route
metadata: { name: greeter }
spec:
  host: greeter
  rules:
    - name: v2-by-header
      match:
        path: { prefix: /parley.e2e.Greeter/ }
        headers: [{ name: x-version, exact: v2 }]
      destinations: [{ service: greeter-v2 }]
    - name: default
      destinations: [{ service: ${fallback} }]
      timeout: 5s
      retries: { attempts: 2, retryOn: [unavailable] }
`;
}

describe('proxyless gRPC (grpc-js-xds) through the agent’s xDS relay', { timeout: 60_000 }, () => {
  let mesh: MeshCluster;
  let client: ProxylessClient | undefined;
  const apps: GreeterApp[] = [];

  before(async () => {
    mesh = await startMeshCluster();
    const Greeter = await loadGreeter(mesh.dir);
    const [v1, v2] = [
      await startGreeter(Greeter, 'greeter'),
      await startGreeter(Greeter, 'greeter-v2'),
    ];
    apps.push(v1, v2);
    const ports = {
      v1: { inbound: await freePort(), app: v1.port },
      v2: { inbound: await freePort(), app: v2.port },
    };
    const commit = await mesh.commit(
      meshFiles(ports.v1, ports.v2, greeterRoute('greeter')),
      'greeter v1 and v2',
    );
    await mesh.waitForCommit(commit);
    const [greeterSocket, v2Socket, clientSocket] = await Promise.all([
      mesh.addWorkload('greeter', 'spiffe://example.org/greeter'),
      mesh.addWorkload('greeter-v2', 'spiffe://example.org/greeter-v2'),
      mesh.addWorkload('client', CLIENT),
    ]);
    await Promise.all([
      mesh.startSidecar({
        name: 'greeter',
        spiffeId: 'spiffe://example.org/greeter',
        instance: 'greeter-0',
        socket: greeterSocket,
      }),
      mesh.startSidecar({
        name: 'greeter-v2',
        spiffeId: 'spiffe://example.org/greeter-v2',
        instance: 'greeter-v2-0',
        socket: v2Socket,
      }),
    ]);

    // The client's SVID files for its certificate provider, as the docs say to write them.
    const svidDir = join(mesh.dir, 'client-svid');
    await mkdir(svidDir);
    const fetched = await parley([
      'api',
      'fetch',
      'x509',
      '--write',
      svidDir,
      '--socket',
      `unix://${clientSocket}`,
    ]);
    assert.equal(fetched.code, 0, fetched.stderr);
    const bootstrap = {
      xds_servers: [
        {
          server_uri: `unix://${clientSocket}`,
          channel_creds: [{ type: 'insecure' }],
          server_features: ['xds_v3'],
        },
      ],
      node: { id: CLIENT, locality: {}, metadata: { proxyless: true } },
      certificate_providers: {
        parley: {
          plugin_name: 'file_watcher',
          config: {
            certificate_file: join(svidDir, 'svid.0.pem'),
            private_key_file: join(svidDir, 'svid.0.key'),
            ca_certificate_file: join(svidDir, 'bundle.0.pem'),
            refresh_interval: '10s',
          },
        },
      },
    };
    client = startProxylessClient(mesh.dir, 'xds:///greeter', bootstrap);
  });

  after(async () => {
    await client?.stop();
    for (const a of apps) a.close();
    await mesh?.stop();
  });

  /** Calls until a reply comes from `service` (the client converges on pushed config). */
  async function eventually(headers: Record<string, string>, service: string): Promise<void> {
    let last: Outcome | undefined;
    await waitFor(
      `an RPC answered by ${service}`,
      async () => {
        last = await call(headers);
        return last.service === service;
      },
      20_000,
      () => `last: ${JSON.stringify(last)}\nagent: ${mesh.agent.log().slice(-2000)}`,
    );
  }

  function call(headers: Record<string, string> = {}): Promise<Outcome> {
    assert.ok(client);
    return client.call(headers);
  }

  it('resolves xds:///greeter and its RPCs follow the pushed routes', async () => {
    await eventually({}, 'greeter');
    for (let i = 0; i < 10; i++) {
      assert.deepEqual(await call(), { service: 'greeter' });
      assert.deepEqual(await call({ 'x-version': 'v2' }), { service: 'greeter-v2' });
    }
    // The server sees the client as its own proxy, with its SPIFFE ID, through the relay.
    const proxies = (await mesh.status()).proxies;
    const mine = proxies.find((p) => p.spiffeId === CLIENT);
    assert.ok(mine, JSON.stringify(proxies));
    assert.deepEqual(mine.node.metadataKeys, ['proxyless']);
    assert.ok(!mine.configError, mine.configError ?? '');
  });

  it('follows the next commit’s route', async () => {
    const files = meshFiles(
      await portsOf(mesh, 'greeter'),
      await portsOf(mesh, 'greeter-v2'),
      greeterRoute('greeter-v2'),
    );
    const commit = await mesh.commit(files, 'default to greeter-v2');
    await mesh.waitForCommit(commit);
    await eventually({}, 'greeter-v2');
    for (let i = 0; i < 10; i++) assert.deepEqual(await call(), { service: 'greeter-v2' });
  });
});

/** The ports of a service's only instance, read back from the committed config. */
async function portsOf(mesh: MeshCluster, name: string): Promise<Ports> {
  const text = await readFile(join(mesh.repo, 'services', `${name}.yaml`), 'utf8');
  const m = /inbound: 127\.0\.0\.1:(\d+), app: 127\.0\.0\.1:(\d+)/.exec(text);
  assert.ok(m?.[1] !== undefined && m[2] !== undefined, `no endpoint in ${name}.yaml`);
  return { inbound: Number(m[1]), app: Number(m[2]) };
}

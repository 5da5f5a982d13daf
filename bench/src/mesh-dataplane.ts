// bench/mesh-dataplane: latency a request gains through two Envoy 1.40 sidecars, at a fixed
// 1,000 requests/s, measured in one run for three paths to the same app: direct (the baseline),
// through two Envoys in plaintext, and through two Envoys with SPIFFE mTLS between them (the
// mesh's path: the client sidecar presents its X509-SVID, the server sidecar requires one and
// checks it with Envoy's SPIFFE validator, the client checks the server's exact SPIFFE ID).
// Paths are measured in interleaved rounds; the medians of the rounds' p50/p99 are printed with
// the latency each proxied path adds to the direct one.
//
// The Envoys use static config with the same TLS settings the mesh compiler emits (inline here
// instead of SDS, which only changes how the certificate arrives). Each Envoy runs with
// --concurrency 1, as a sidecar would on this 2-core machine.
import { type ChildProcess, spawn } from 'node:child_process';
import { Agent, request } from 'node:http';
import { checkMessage, toProto3Json } from '@parley/api';
import { encodePem } from '@parley/core';
import { type Envoy, freePort, makeTempDir, makeTestCa, startEnvoy } from '@parley/testing';
import { median, runBench } from './run-bench.js';

const RATE = Number(process.env['BENCH_RPS'] ?? 1000);
const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 8);
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 3);

interface TlsFiles {
  readonly chain: string;
  readonly key: string;
  readonly bundle: string;
}

const TLS = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.';

function spiffeValidation(bundle: string, peer?: string): object {
  return {
    custom_validator_config: {
      name: 'envoy.tls.cert_validator.spiffe',
      typed_config: {
        '@type': `${TLS}SPIFFECertValidatorConfig`,
        trust_domains: [{ name: 'example.org', trust_bundle: { inline_string: bundle } }],
      },
    },
    ...(peer === undefined
      ? {}
      : { match_typed_subject_alt_names: [{ san_type: 'URI', matcher: { exact: peer } }] }),
  };
}

function commonTls(tls: TlsFiles, peer?: string): object {
  return {
    tls_certificates: [
      { certificate_chain: { inline_string: tls.chain }, private_key: { inline_string: tls.key } },
    ],
    validation_context: spiffeValidation(tls.bundle, peer),
  };
}

function httpListener(port: number, cluster: string, tls?: TlsFiles): object {
  return {
    name: `listener_${port}`,
    address: { socket_address: { address: '127.0.0.1', port_value: port } },
    filter_chains: [
      {
        filters: [
          {
            name: 'envoy.filters.network.http_connection_manager',
            typed_config: {
              '@type':
                'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
              stat_prefix: 'http',
              route_config: {
                virtual_hosts: [
                  {
                    name: 'all',
                    domains: ['*'],
                    routes: [{ match: { prefix: '/' }, route: { cluster } }],
                  },
                ],
              },
              http_filters: [
                {
                  name: 'envoy.filters.http.router',
                  typed_config: {
                    '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router',
                  },
                },
              ],
            },
          },
        ],
        ...(tls === undefined
          ? {}
          : {
              transport_socket: {
                name: 'envoy.transport_sockets.tls',
                typed_config: {
                  '@type': `${TLS}DownstreamTlsContext`,
                  require_client_certificate: { value: true },
                  common_tls_context: commonTls(tls),
                },
              },
            }),
      },
    ],
  };
}

function cluster(name: string, port: number, tls?: TlsFiles, peer?: string): object {
  return {
    name,
    type: 'STATIC',
    connect_timeout: { seconds: 1, nanos: 0 },
    load_assignment: {
      cluster_name: name,
      endpoints: [
        {
          lb_endpoints: [
            {
              endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: port } } },
            },
          ],
        },
      ],
    },
    ...(tls === undefined
      ? {}
      : {
          transport_socket: {
            name: 'envoy.transport_sockets.tls',
            typed_config: {
              '@type': `${TLS}UpstreamTlsContext`,
              sni: 'server.example.org',
              common_tls_context: commonTls(tls, peer),
            },
          },
        }),
  };
}

function bootstrap(listener: object, upstream: object): unknown {
  const b = {
    admin: { address: { socket_address: { address: '127.0.0.1', port_value: 0 } } },
    static_resources: { listeners: [listener], clusters: [upstream] },
  };
  const problems = checkMessage('envoy.config.bootstrap.v3.Bootstrap', b);
  if (problems.length > 0) throw new Error(problems.join('; '));
  return toProto3Json('envoy.config.bootstrap.v3.Bootstrap', b);
}

/** Sends `RATE` requests/s for `SECONDS` to `port`; returns each request's latency in ms. */
async function load(port: number): Promise<{ latencies: number[]; failed: number }> {
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  const latencies: number[] = [];
  let failed = 0;
  const total = RATE * SECONDS;
  const start = performance.now();
  const pending: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / RATE;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    pending.push(
      new Promise<void>((resolve) => {
        // Latency counts from when the request was due (or sent, if earlier), so a stalled
        // sender is not hidden (no coordinated omission).
        const from = Math.min(due, performance.now());
        const req = request({ host: '127.0.0.1', port, path: '/', agent }, (res) => {
          res.resume();
          res.on('end', () => {
            if (res.statusCode === 200) latencies.push(performance.now() - from);
            else failed += 1;
            resolve();
          });
        });
        req.on('error', () => {
          failed += 1;
          resolve();
        });
        req.end();
      }),
    );
  }
  await Promise.all(pending);
  agent.destroy();
  return { latencies, failed };
}

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0;
}

const APP_SOURCE = `
import { createServer } from 'node:http';
createServer((req, res) => { req.resume(); res.writeHead(200, { 'content-type': 'text/plain' }).end('ok'); })
  .listen(Number(process.env.PORT), '127.0.0.1', () => process.send('ready'));
`;

await runBench('mesh-dataplane', 15 * 60_000, async (defer) => {
  const dir = await makeTempDir();
  defer(() => dir.remove());
  const ca = await makeTestCa();
  const tlsOf = async (id: string): Promise<TlsFiles> => {
    const svid = await ca.mintSvid(id);
    return {
      chain: encodePem('CERTIFICATE', svid.der),
      key: svid.key.export({ type: 'pkcs8', format: 'pem' }).toString(),
      bundle: encodePem('CERTIFICATE', ca.root.raw),
    };
  };
  const clientTls = await tlsOf('spiffe://example.org/client');
  const serverTls = await tlsOf('spiffe://example.org/server');

  const appPort = await freePort();
  const app: ChildProcess = spawn(process.execPath, ['--input-type=module', '-e', APP_SOURCE], {
    env: { PORT: String(appPort) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  defer(() => void app.kill());
  await new Promise<void>((resolve) => app.once('message', () => resolve()));

  const envoys: Envoy[] = [];
  defer(() => Promise.all(envoys.map((e) => e.stop())).then(() => undefined));
  const pair = async (name: string, mtls: boolean): Promise<number> => {
    const [front, back] = [await freePort(), await freePort()];
    const server = await startEnvoy({
      dir: dir.path,
      name: `${name}-server`,
      bootstrap: bootstrap(
        httpListener(back, 'app', mtls ? serverTls : undefined),
        cluster('app', appPort),
      ),
      concurrency: 1,
    });
    const client = await startEnvoy({
      dir: dir.path,
      name: `${name}-client`,
      bootstrap: bootstrap(
        httpListener(front, 'server'),
        cluster(
          'server',
          back,
          mtls ? clientTls : undefined,
          mtls ? 'spiffe://example.org/server' : undefined,
        ),
      ),
      concurrency: 1,
    });
    envoys.push(server, client);
    return front;
  };
  const paths = [
    { name: 'direct', port: appPort },
    { name: 'two Envoys, plaintext', port: await pair('plain', false) },
    { name: 'two Envoys, mTLS (SPIFFE)', port: await pair('mtls', true) },
  ].map((p) => ({ ...p, p50: [] as number[], p99: [] as number[], failed: 0 }));

  for (const p of paths) await load(p.port); // warm up connections and JIT
  for (let round = 0; round < ROUNDS; round++) {
    for (const p of paths) {
      const { latencies, failed } = await load(p.port);
      p.p50.push(percentile(latencies, 50));
      p.p99.push(percentile(latencies, 99));
      p.failed += failed;
    }
  }
  const base = paths[0];
  if (base === undefined) return;
  console.log(
    `mesh-dataplane: ${RATE} req/s for ${SECONDS} s per round, ${ROUNDS} rounds (medians)`,
  );
  for (const p of paths) {
    const [p50, p99] = [median(p.p50), median(p.p99)];
    const added =
      p === base
        ? 'baseline'
        : `adds p50 ${(p50 - median(base.p50)).toFixed(3)} ms, p99 ${(p99 - median(base.p99)).toFixed(3)} ms`;
    console.log(
      `  ${p.name.padEnd(26)} p50 ${p50.toFixed(3)} ms  p99 ${p99.toFixed(3)} ms  failed ${p.failed}  ${added}`,
    );
  }
});

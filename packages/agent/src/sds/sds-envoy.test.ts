import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { Server } from '@grpc/grpc-js';
import { loadXdsServices } from '@parley/api';
import { encodePem } from '@parley/core';
import {
  type Daemon,
  type TempDir,
  type TestCa,
  findPeer,
  makeTempDir,
  makeTestCa,
  startDaemon,
  waitFor,
} from '@parley/testing';
import { type UnixGrpcListener, listenUnixGrpc } from '../peer/listen-unix-grpc.js';
import { FakeIdentityCache } from '../workload-api/fake-identity-cache.js';
import type { WorkloadApiLog } from '../workload-api/workload-api-deps.js';
import { attestCaller } from '../workload-attestor/attest-caller.js';
import { createWorkloadAttestors } from '../workload-attestor/workload-attestors.js';
import { createSdsService } from './sds-service.js';

const ENVOY_ID = 'spiffe://example.org/envoy';

/** The SDS config source of the bootstrap: the agent's socket through a static cluster. */
const SDS_CONFIG = {
  resource_api_version: 'V3',
  api_config_source: {
    api_type: 'GRPC',
    transport_api_version: 'V3',
    grpc_services: [{ envoy_grpc: { cluster_name: 'parley_agent' } }],
  },
};

/** An Envoy with an mTLS listener whose certificate and validation context come from SDS. */
function bootstrap(socket: string): object {
  return {
    node: { id: ENVOY_ID, cluster: 'sds-test' },
    admin: { address: { socket_address: { address: '127.0.0.1', port_value: 0 } } },
    static_resources: {
      clusters: [
        {
          name: 'parley_agent',
          type: 'STATIC',
          connect_timeout: '1s',
          typed_extension_protocol_options: {
            'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
              '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
              explicit_http_config: { http2_protocol_options: {} },
            },
          },
          load_assignment: {
            cluster_name: 'parley_agent',
            endpoints: [{ lb_endpoints: [{ endpoint: { address: { pipe: { path: socket } } } }] }],
          },
        },
      ],
      listeners: [
        {
          name: 'inbound',
          address: { socket_address: { address: '127.0.0.1', port_value: 0 } },
          filter_chains: [
            {
              filters: [
                {
                  name: 'envoy.filters.network.http_connection_manager',
                  typed_config: {
                    '@type':
                      'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
                    stat_prefix: 'inbound',
                    route_config: {
                      virtual_hosts: [
                        {
                          name: 'all',
                          domains: ['*'],
                          routes: [
                            {
                              match: { prefix: '/' },
                              direct_response: { status: 200, body: { inline_string: 'hello' } },
                            },
                          ],
                        },
                      ],
                    },
                    http_filters: [
                      {
                        name: 'envoy.filters.http.router',
                        typed_config: {
                          '@type':
                            'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router',
                        },
                      },
                    ],
                  },
                },
              ],
              transport_socket: {
                name: 'envoy.transport_sockets.tls',
                typed_config: {
                  '@type':
                    'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext',
                  require_client_certificate: true,
                  common_tls_context: {
                    tls_certificate_sds_secret_configs: [
                      { name: 'default', sds_config: SDS_CONFIG },
                    ],
                    validation_context_sds_secret_config: {
                      name: 'ROOTCA',
                      sds_config: SDS_CONFIG,
                    },
                  },
                },
              },
            },
          ],
        },
      ],
    },
  };
}

async function getJson<T>(url: string): Promise<T> {
  const response = await fetch(url, { signal: AbortSignal.timeout(3000) });
  assert.equal(response.status, 200, `GET ${url}`);
  return (await response.json()) as T;
}

interface CertsDump {
  certificates: {
    cert_chain: { serial_number: string; subject_alt_names: { uri?: string }[] }[];
  }[];
}

/** What a TLS client saw: the response body and the server's leaf serial, or the failure. */
type Outcome = { ok: true; body: string; serial: string } | { ok: false; error: string };

/** One HTTP/1.1 request over TLS to Envoy's listener, as a client holding `identity` (if any). */
function request(
  port: number,
  roots: string,
  identity?: { cert: string; key: string },
): Promise<Outcome> {
  return new Promise((resolve) => {
    let body = '';
    let serial = '';
    const socket = connect({
      host: '127.0.0.1',
      port,
      ca: roots,
      ...(identity ?? {}),
      // SPIFFE: the server is authenticated by its URI SAN, not by a host name.
      checkServerIdentity: (_host, cert) =>
        cert.subjectaltname === `URI:${ENVOY_ID}`
          ? undefined
          : new Error(`unexpected server identity ${cert.subjectaltname}`),
    });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ ok: false, error: 'timeout' });
    }, 4000);
    socket.on('secureConnect', () => {
      serial = socket.getPeerCertificate().serialNumber;
      socket.write('GET / HTTP/1.1\r\nhost: test\r\nconnection: close\r\n\r\n');
    });
    // Envoy closes a TLS connection only after its delayed-close timeout: stop at the body.
    socket.on('data', (chunk: Buffer) => {
      body += chunk.toString();
      if (!body.includes('hello')) return;
      clearTimeout(timer);
      resolve({ ok: true, body, serial });
      socket.destroy();
    });
    socket.on('error', (err: Error) => {
      clearTimeout(timer);
      resolve({ ok: false, error: err.message });
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(
        body.includes('hello') ? { ok: true, body, serial } : { ok: false, error: 'no response' },
      );
    });
  });
}

const hexSerial = (s: string) => s.toLowerCase().replace(/^0+/, '');

// DESIGN §3, SDS row: Envoy 1.40 takes its certificate and validation context from the agent.
describe('SDS with real Envoy', () => {
  let dir: TempDir;
  let ca: TestCa;
  let cache: FakeIdentityCache;
  let server: Server;
  let listener: UnixGrpcListener;
  let envoy: Daemon;
  let admin: string;
  let port: number;
  const logged: string[] = [];
  const log: WorkloadApiLog = {
    warn: (m, f) => logged.push(`${m} ${JSON.stringify(f)}`),
    error: (m, f) => logged.push(`${m} ${JSON.stringify(f)}`),
  };

  before(async () => {
    const envoyPath = findPeer('envoy');
    dir = await makeTempDir();
    ca = await makeTestCa();
    cache = new FakeIdentityCache(ca);
    // Envoy runs as this test's user: the real unix attestor sees its uid through the socket.
    await cache.addEntry({
      selectors: [{ type: 'unix', value: `uid:${process.getuid?.() ?? 0}` }],
      spiffeId: ENVOY_ID,
    });
    const attestors = createWorkloadAttestors({
      unix: { discoverWorkloadPath: false, workloadSizeLimit: 0 },
    });
    server = new Server();
    server.addService(
      loadXdsServices().SecretDiscoveryService.service,
      createSdsService({ identify: (call) => attestCaller(call, attestors), cache, log }),
    );
    const socket = join(dir.path, 'agent.sock');
    listener = await listenUnixGrpc(server, socket);
    const config = join(dir.path, 'envoy.json');
    await writeFile(config, JSON.stringify(bootstrap(socket)));
    const adminFile = join(dir.path, 'admin-address');
    envoy = startDaemon(envoyPath, [
      '-c',
      config,
      '--disable-hot-restart',
      '--concurrency',
      '1',
      '--admin-address-path',
      adminFile,
      '-l',
      'warning',
    ]);
    await waitFor(
      'Envoy admin',
      async () => (await readFile(adminFile, 'utf8').catch(() => '')).trim() !== '',
      8000,
      () => envoy.log(),
    );
    admin = `http://${(await readFile(adminFile, 'utf8')).trim()}`;
    // The listener warms until SDS has delivered both secrets; /ready turns 200 after that.
    await waitFor(
      'Envoy ready',
      async () => (await fetch(`${admin}/ready`).catch(() => undefined))?.status === 200,
      8000,
      () => envoy.log() + logged.join('\n'),
    );
    const listeners = await getJson<{
      listener_statuses: { local_address: { socket_address: { port_value: number } } }[];
    }>(`${admin}/listeners?format=json`);
    port = listeners.listener_statuses[0]?.local_address.socket_address.port_value ?? 0;
    assert.ok(port > 0, 'the listener is bound');
  });

  after(async () => {
    await envoy?.stop();
    await listener?.close();
    server?.forceShutdown();
    await dir?.remove();
  });

  it('receives the SVID and the SPIFFE validation context', async () => {
    const dump = await getJson<{ configs: { name: string; secret: Record<string, unknown> }[] }>(
      `${admin}/config_dump?resource=dynamic_active_secrets`,
    );
    const names = dump.configs.map((c) => c.name).sort();
    assert.deepEqual(names, ['ROOTCA', 'default']);
    const rootca = dump.configs.find((c) => c.name === 'ROOTCA');
    assert.match(JSON.stringify(rootca), /envoy\.tls\.cert_validator\.spiffe/);
    const certs = await getJson<CertsDump>(`${admin}/certs`);
    const leaf = certs.certificates
      .flatMap((c) => c.cert_chain)
      .find((c) => c.subject_alt_names.some((s) => s.uri === ENVOY_ID));
    assert.ok(leaf, JSON.stringify(certs));
    const held = cache.viewFor([{ type: 'unix', value: `uid:${process.getuid?.() ?? 0}` }]);
    const der = held.svids[0]?.certChain[0];
    assert.ok(der !== undefined);
    const { X509Certificate } = await import('node:crypto');
    assert.equal(hexSerial(leaf.serial_number), hexSerial(new X509Certificate(der).serialNumber));
    assert.deepEqual(logged, []);
  });

  it('accepts a client with a valid SVID and refuses one without or from another domain', async () => {
    const roots = encodePem('CERTIFICATE', ca.root.raw);
    const client = await ca.mintSvid('spiffe://example.org/client');
    const pem = (der: Uint8Array) => encodePem('CERTIFICATE', der);
    const valid = await request(port, roots, {
      cert: pem(client.der),
      key: client.key.export({ type: 'pkcs8', format: 'pem' }).toString(),
    });
    assert.equal(valid.ok, true, JSON.stringify(valid));

    const none = await request(port, roots);
    assert.equal(none.ok, false);

    const other = await makeTestCa({ trustDomain: 'other.example' });
    const stranger = await other.mintSvid('spiffe://other.example/client');
    const foreign = await request(port, roots, {
      cert: pem(stranger.der),
      key: stranger.key.export({ type: 'pkcs8', format: 'pem' }).toString(),
    });
    assert.equal(foreign.ok, false);
  });

  it('serves the new certificate after a rotation', async () => {
    const roots = encodePem('CERTIFICATE', ca.root.raw);
    const client = await ca.mintSvid('spiffe://example.org/client');
    const identity = {
      cert: encodePem('CERTIFICATE', client.der),
      key: client.key.export({ type: 'pkcs8', format: 'pem' }).toString(),
    };
    const before = await request(port, roots, identity);
    assert.ok(before.ok);
    await cache.rotate(ENVOY_ID);
    let after: Outcome = before;
    await waitFor(
      'Envoy to serve the rotated SVID',
      async () => {
        after = await request(port, roots, identity);
        return after.ok && after.serial !== before.serial;
      },
      5000,
      () => envoy.log(),
    );
    const certs = await getJson<CertsDump>(`${admin}/certs`);
    const serials = certs.certificates.flatMap((c) => c.cert_chain.map((x) => x.serial_number));
    assert.ok(
      serials.some((s) => after.ok && hexSerial(s) === hexSerial(after.serial)),
      JSON.stringify(serials),
    );
    assert.deepEqual(logged, []);
  });
});

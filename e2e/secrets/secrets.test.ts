import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import NodeVault from 'node-vault';
import {
  type Daemon,
  type TempDir,
  freePort,
  httpOk,
  makeTempDir,
  repoRoot,
  startEnvoy,
  waitFor,
} from '@parley/testing';
import { parley, startParley } from '../identity/harness.js';
import { type Svid, secretsRequest } from './secrets-client.js';

const run = promisify(execFile);
const PYTHON = join(repoRoot, '.venv', 'bin', 'python');
const APP = 'spiffe://example.org/app';
const OTHER = 'spiffe://example.org/other';
const AUDIENCE = 'spiffe://example.org/parley/secrets';

// The secrets module of a real `parley server run`, driven by real Vault clients (hvac, node-vault),
// plain HTTPS with X509-SVIDs, raw sockets for path tricks, and the `parley secret` CLI.
describe('secrets: Vault KV v2 API with SPIFFE authentication', () => {
  let dir: TempDir;
  let server: Daemon;
  let serverConfig = '';
  let adminSocket = '';
  let healthPort = 0;
  let secretsPort = 0;
  let bundle = '';
  let bundleFile = '';
  const svids = new Map<string, Svid>();
  const logs: string[] = [];
  const admin = (...args: string[]) => parley([...args, '--socket', adminSocket]);

  const startServer = async () => {
    server = startParley(['server', 'run', '--config', serverConfig]);
    await waitFor(
      'secrets listening',
      async () =>
        (await httpOk(`http://127.0.0.1:${healthPort}/ready`)) &&
        server.log().includes('secrets listening'),
      30_000,
      () => server.log(),
    );
  };
  const stopServer = async (signal: NodeJS.Signals = 'SIGTERM') => {
    await server.stop(signal);
    logs.push(server.log());
  };

  const https = (
    method: string,
    path: string,
    options: { token?: string; svid?: Svid; body?: unknown } = {},
  ) => secretsRequest(secretsPort, bundle, method, path, options);

  /** Sends one raw HTTP/1.1 request over TLS (no client library to normalize the path). */
  const raw = (line: string, token: string) =>
    new Promise<number>((resolve, reject) => {
      const socket = connect(
        { host: '127.0.0.1', port: secretsPort, ca: bundle, servername: 'localhost' },
        () => {
          socket.write(
            `${line}\r\nHost: localhost\r\nX-Vault-Token: ${token}\r\nConnection: close\r\n\r\n`,
          );
        },
      );
      let text = '';
      socket.on('data', (c: Buffer) => (text += c.toString()));
      socket.on('end', () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0)));
      socket.on('error', reject);
    });

  const login = async (jwt: string) => {
    const r = await https('POST', '/v1/auth/spiffe/login', { body: { jwt } });
    assert.equal(r.status, 200, r.body);
    return (JSON.parse(r.body) as { auth: { client_token: string } }).auth.client_token;
  };
  const jwtFor = async (id: string) => {
    const r = await admin('jwt', 'mint', '--spiffe-id', id, '--audience', AUDIENCE);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.trim();
  };

  before(async () => {
    dir = await makeTempDir('parley-e2e-secrets-');
    healthPort = await freePort();
    secretsPort = await freePort();
    adminSocket = join(dir.path, 'admin.sock');
    serverConfig = join(dir.path, 'server.yaml');
    await writeFile(
      serverConfig,
      [
        'trustDomain: example.org',
        `dataDir: ${join(dir.path, 'server')}`,
        `agentApiAddress: 127.0.0.1:${await freePort()}`,
        `adminSocket: ${adminSocket}`,
        `healthAddress: 127.0.0.1:${healthPort}`,
        'secrets:',
        `  address: 127.0.0.1:${secretsPort}`,
        '  revokeInterval: 200ms',
      ].join('\n'),
    );
    await startServer();
    const b = await admin('bundle', 'show', '-o', 'pem');
    assert.equal(b.code, 0, b.stderr);
    bundle = b.stdout;
    bundleFile = join(dir.path, 'bundle.pem');
    await writeFile(bundleFile, bundle);
    for (const id of [APP, OTHER]) {
      const out = join(dir.path, id.split('/').at(-1) as string);
      await mkdir(out);
      const m = await admin('x509', 'mint', '--spiffe-id', id, '--write', out);
      assert.equal(m.code, 0, m.stderr);
      svids.set(id, {
        cert: await readFile(join(out, 'svid.pem'), 'utf8'),
        key: await readFile(join(out, 'key.pem'), 'utf8'),
      });
    }
    const policy = join(dir.path, 'policy.yaml');
    await writeFile(
      policy,
      [
        'rules:',
        `  - principals: [${APP}]`,
        '    paths: [app/**]',
        '    capabilities: [read, write, list, delete]',
        '  - name: no-admin-area',
        '    effect: deny',
        `    principals: [${APP}]`,
        '    paths: [app/admin/**]',
        '    capabilities: [read, write, list, delete, destroy]',
      ].join('\n'),
    );
    const put = await admin('secret', 'policy', 'put', 'app', '--file', policy);
    assert.equal(put.code, 0, put.stderr);
  });

  after(async () => {
    await server?.stop();
    await dir?.remove();
  });

  it('hvac logs in with a JWT-SVID and reads, writes, lists and reads old versions', async () => {
    const { stdout } = await run(PYTHON, [
      join(repoRoot, 'e2e', 'secrets', 'hvac_client.py'),
      `https://localhost:${secretsPort}`,
      bundleFile,
      await jwtFor(APP),
    ]);
    const out = JSON.parse(stdout) as Record<string, unknown>;
    assert.deepEqual(out, {
      token_prefix: 'pvs.',
      authenticated: true,
      versions: [1, 2],
      latest: 'hvac-two',
      old: 'hvac-one',
      list: ['hvac'],
      cas: 'check-and-set parameter did not match the current version',
      forbidden: '403',
      current_version: 2,
    });
  });

  it('node-vault logs in and uses the KV v2 paths, LIST included', async () => {
    const vault = NodeVault({
      apiVersion: 'v1',
      endpoint: `https://localhost:${secretsPort}`,
      requestOptions: { ca: bundle },
    });
    const loggedIn = (await vault.write('auth/spiffe/login', { jwt: await jwtFor(APP) })) as {
      auth: { client_token: string };
    };
    vault.token = loggedIn.auth.client_token;
    await vault.write('secret/data/app/nv', { data: { user: 'u1' } });
    await vault.write('secret/data/app/nv', { data: { user: 'u2' } });
    const read = (await vault.read('secret/data/app/nv')) as { data: { data: { user: string } } };
    assert.equal(read.data.data.user, 'u2');
    const old = (await vault.read('secret/data/app/nv?version=1')) as {
      data: { data: { user: string } };
    };
    assert.equal(old.data.data.user, 'u1');
    const list = (await vault.list('secret/metadata/app')) as { data: { keys: string[] } };
    assert.ok(list.data.keys.includes('nv'), JSON.stringify(list));
    await assert.rejects(vault.read('secret/data/app/admin/x'), /403|permission denied/);
  });

  it('authenticates a workload by its X509-SVID; another identity gets 403', async () => {
    const app = svids.get(APP) as Svid;
    const other = svids.get(OTHER) as Svid;
    const w = await https('POST', '/v1/secret/data/app/mtls', {
      svid: app,
      body: { data: { a: 'b' } },
    });
    assert.equal(w.status, 200, w.body);
    const r = await https('GET', '/v1/secret/data/app/mtls', { svid: app });
    assert.equal((JSON.parse(r.body) as { data: { data: { a: string } } }).data.data.a, 'b');
    assert.equal((await https('GET', '/v1/secret/data/app/mtls', { svid: other })).status, 403);
    assert.equal((await https('GET', '/v1/secret/data/app/mtls')).status, 403);
    // An mTLS login gives a token too.
    const l = await https('POST', '/v1/auth/spiffe/login', { svid: app, body: {} });
    assert.equal(l.status, 200, l.body);
    // A JWT-SVID for another audience is refused.
    const wrong = await admin('jwt', 'mint', '--spiffe-id', APP, '--audience', 'someone-else');
    const refused = await https('POST', '/v1/auth/spiffe/login', {
      body: { jwt: wrong.stdout.trim() },
    });
    assert.equal(refused.status, 403);
  });

  it('serves a workload through its Envoy sidecar, which presents the workload SVID (diagram 7)', async () => {
    const listenPort = await freePort();
    const svidDir = join(dir.path, 'app');
    const envoy = await startEnvoy({
      dir: dir.path,
      name: 'app-sidecar',
      bootstrap: {
        admin: { address: { socket_address: { address: '127.0.0.1', port_value: 0 } } },
        static_resources: {
          listeners: [
            {
              name: 'outbound-secrets',
              address: { socket_address: { address: '127.0.0.1', port_value: listenPort } },
              filter_chains: [
                {
                  filters: [
                    {
                      name: 'envoy.filters.network.http_connection_manager',
                      typed_config: {
                        '@type':
                          'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
                        stat_prefix: 'secrets',
                        route_config: {
                          virtual_hosts: [
                            {
                              name: 'secrets',
                              domains: ['*'],
                              routes: [
                                { match: { prefix: '/' }, route: { cluster: 'parley_secrets' } },
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
                },
              ],
            },
          ],
          clusters: [
            {
              name: 'parley_secrets',
              type: 'STATIC',
              connect_timeout: '2s',
              load_assignment: {
                cluster_name: 'parley_secrets',
                endpoints: [
                  {
                    lb_endpoints: [
                      {
                        endpoint: {
                          address: {
                            socket_address: { address: '127.0.0.1', port_value: secretsPort },
                          },
                        },
                      },
                    ],
                  },
                ],
              },
              transport_socket: {
                name: 'envoy.transport_sockets.tls',
                typed_config: {
                  '@type':
                    'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
                  sni: 'localhost',
                  common_tls_context: {
                    tls_certificates: [
                      {
                        certificate_chain: { filename: join(svidDir, 'svid.pem') },
                        private_key: { filename: join(svidDir, 'key.pem') },
                      },
                    ],
                    validation_context: {
                      trusted_ca: { filename: bundleFile },
                      match_typed_subject_alt_names: [
                        {
                          san_type: 'URI',
                          matcher: { exact: 'spiffe://example.org/parley/server' },
                        },
                      ],
                    },
                  },
                },
              },
            },
          ],
        },
      },
    });
    try {
      // The app speaks plain HTTP to its sidecar, with no token: the SVID is its credential.
      const res = await fetch(`http://127.0.0.1:${listenPort}/v1/secret/data/app/mtls`);
      assert.equal(res.status, 200);
      const body = (await res.json()) as { data: { data: { a: string } } };
      assert.equal(body.data.data.a, 'b');
      const denied = await fetch(`http://127.0.0.1:${listenPort}/v1/secret/data/other/x`);
      assert.equal(denied.status, 403);
    } finally {
      await envoy.stop();
    }
  });

  it('rejects path tricks instead of normalizing them', async () => {
    const token = await login(await jwtFor(APP));
    assert.equal(await raw('GET /v1/secret/data/app/mtls HTTP/1.1', token), 200);
    for (const target of [
      '/v1/secret/data/app/../other/secret',
      '/v1/secret/data/app/./mtls',
      '/v1/secret/data/app//mtls',
      '/v1/secret/data/app/%2e%2e/other/secret',
      '/v1/secret/data/app/mtls%20',
      '/v1/secret/data/app/mtls%00',
      '/v1/secret/data/app/mtls/',
    ]) {
      assert.equal(await raw(`GET ${target} HTTP/1.1`, token), 400, target);
    }
  });

  it('rotates with a live consumer: zero failed reads; --wait revokes once everyone has the new version', async () => {
    const token = await login(await jwtFor(APP));
    const put = await admin('secret', 'put', 'app/rot', 'password=first-rotated-value');
    assert.equal(put.code, 0, put.stderr);
    let failures = 0;
    let reads = 0;
    let stop = false;
    const seen = new Set<string>();
    const consumer = (async () => {
      while (!stop) {
        const r = await https('GET', '/v1/secret/data/app/rot', { token });
        if (r.status === 200) {
          reads += 1;
          seen.add(
            (JSON.parse(r.body) as { data: { data: { password: string } } }).data.data.password,
          );
        } else failures += 1;
        await new Promise((res) => setTimeout(res, 20));
      }
    })();
    await new Promise((res) => setTimeout(res, 300));
    const rotated = await admin(
      'secret',
      'rotate',
      'app/rot',
      '--generate',
      'password',
      '--grace',
      '30s',
      '--wait',
      '-o',
      'json',
    );
    assert.equal(rotated.code, 0, rotated.stderr);
    const status = JSON.parse(rotated.stdout) as {
      current_version: number;
      previous_version: number | null;
      consumers: { spiffe_id: string; has_current: boolean }[];
    };
    assert.equal(status.current_version, 2);
    assert.equal(status.previous_version, null, 'revoked early: every consumer read version 2');
    assert.deepEqual(
      status.consumers.map((c) => [c.spiffe_id, c.has_current]),
      [[APP, true]],
    );
    stop = true;
    await consumer;
    assert.equal(failures, 0);
    assert.ok(reads > 5 && seen.size === 2, `${reads} reads of ${[...seen].length} values`);
    const old = await https('GET', '/v1/secret/data/app/rot?version=1', { token });
    assert.equal(old.status, 404);
    assert.equal(
      (JSON.parse(old.body) as { data: { metadata: { destroyed: boolean } } }).data.metadata
        .destroyed,
      true,
    );
  });

  it('the CLI reads, lists and shows versions', async () => {
    const get = await admin('secret', 'get', 'app/rot', '--field', 'password');
    assert.equal(get.code, 0, get.stderr);
    assert.match(get.stdout, /^[A-Za-z0-9_-]{32}\n$/);
    const list = await admin('secret', 'list', 'app');
    assert.match(list.stdout, /^rot$/m);
    const versions = await admin('secret', 'versions', 'app/rot');
    assert.match(versions.stdout, /current version:\s+2/);
    assert.match(versions.stdout, /^1\s+\S+\s+destroyed$/m);
    const missing = await admin('secret', 'get', 'app/none');
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no readable version of secret app\/none/);
  });

  it('fails requests whose audit record cannot be written', async () => {
    const token = await login(await jwtFor(APP));
    const db = new Database(join(dir.path, 'server', 'server.db'));
    db.pragma('busy_timeout = 5000');
    db.exec(
      "CREATE TRIGGER audit_full BEFORE INSERT ON audit_events BEGIN SELECT RAISE(ABORT, 'audit disk full'); END",
    );
    try {
      assert.equal((await https('GET', '/v1/secret/data/app/rot', { token })).status, 500);
      const w = await https('POST', '/v1/secret/data/app/rot', {
        token,
        body: { data: { x: 'y' } },
      });
      assert.equal(w.status, 500);
      assert.ok(!w.body.includes('audit disk full'), 'the cause stays in the server log');
    } finally {
      db.exec('DROP TRIGGER audit_full');
      db.close();
    }
    const r = await https('GET', '/v1/secret/data/app/rot', { token });
    assert.equal(r.status, 200);
    assert.equal(
      (JSON.parse(r.body) as { data: { metadata: { version: number } } }).data.metadata.version,
      2,
    );
  });

  it('keeps every acknowledged write through kill -9, and the audit chain detects tampering', async () => {
    const token = await login(await jwtFor(APP));
    const acknowledged: number[] = [];
    let stop = false;
    const writer = (async () => {
      for (let i = 0; !stop; i++) {
        const r = await https('POST', `/v1/secret/data/app/crash/${i}`, {
          token,
          body: { data: { i: String(i) } },
        }).catch(() => undefined);
        if (r?.status === 200) acknowledged.push(i);
        else if (r === undefined) return;
      }
    })();
    await new Promise((res) => setTimeout(res, 700));
    await stopServer('SIGKILL');
    stop = true;
    await writer;
    assert.ok(acknowledged.length > 5, `only ${acknowledged.length} writes before the kill`);
    await startServer();
    const fresh = await login(await jwtFor(APP));
    for (const i of acknowledged) {
      const r = await https('GET', `/v1/secret/data/app/crash/${i}`, { token: fresh });
      assert.equal(r.status, 200, `acknowledged write ${i} lost`);
    }
    const verified = await admin('audit', 'verify');
    assert.equal(verified.code, 0, verified.stdout + verified.stderr);

    await stopServer();
    const db = new Database(join(dir.path, 'server', 'server.db'));
    db.exec('DROP TRIGGER audit_events_no_update');
    db.prepare(
      "UPDATE audit_events SET subject = 'spiffe://example.org/someone-else' WHERE seq = (SELECT MIN(seq) FROM audit_events WHERE module = 'secrets')",
    ).run();
    db.close();
    await startServer();
    const tampered = await admin('audit', 'verify');
    assert.equal(tampered.code, 1);
    assert.match(tampered.stdout, /BROKEN/);
  });

  it('never writes a secret value or a token to a log', async () => {
    logs.push(server.log());
    const all = logs.join('\n');
    assert.ok(all.length > 0);
    for (const needle of [
      'hvac-one',
      'hvac-two',
      'first-rotated-value',
      'pvs.',
      'BEGIN PRIVATE KEY',
    ]) {
      assert.ok(!all.includes(needle), `the server log contains ${needle}`);
    }
    assert.doesNotMatch(all, /eyJ[A-Za-z0-9_-]{10,}\./, 'a JWT in the log');
  });
});

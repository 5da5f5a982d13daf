import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import {
  type Daemon,
  type PostgresServer,
  type TempDir,
  createDatabase,
  freePort,
  httpOk,
  makeTempDir,
  startPostgres,
  waitFor,
} from '@parley/testing';
import { parley, startParley } from '../identity/harness.js';
import { secretsRequest } from './secrets-client.js';

const APP = 'spiffe://example.org/orders';
const AUDIENCE = 'spiffe://example.org/parley/secrets';

interface Login {
  readonly username: string;
  readonly password: string;
  readonly host: string;
  readonly port: number;
  readonly database: string;
}

/** Requires passwords (SCRAM) for every role but the superuser, as a real server would. */
async function requirePasswords(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ hba_file: string }>('SHOW hba_file');
    await writeFile(
      rows[0]?.hba_file as string,
      [
        'local all all trust',
        'host all postgres 127.0.0.1/32 trust',
        'host all all 127.0.0.1/32 scram-sha-256',
        '',
      ].join('\n'),
    );
    await client.query('SELECT pg_reload_conf()');
  } finally {
    await client.end();
  }
}

// Parley rotates a PostgreSQL login (two roles, alternated) while a client keeps reading the
// secret and connecting with it: zero failed queries, and each old login stops working once
// revoked.
describe('secrets: PostgreSQL credential rotation with a live client', () => {
  let dir: TempDir;
  let postgres: PostgresServer;
  let server: Daemon;
  let adminSocket = '';
  let secretsPort = 0;
  let bundle = '';
  const admin = (...args: string[]) => parley([...args, '--socket', adminSocket]);

  const https = (method: string, path: string, token: string | undefined, body?: unknown) =>
    secretsRequest(secretsPort, bundle, method, path, { token, body });

  const query = async (login: Login) => {
    const client = new pg.Client({
      host: login.host,
      port: login.port,
      database: login.database,
      user: login.username,
      password: login.password,
      connectionTimeoutMillis: 5000,
    });
    client.on('error', () => undefined);
    await client.connect();
    try {
      const { rows } = await client.query<{ n: string }>('SELECT count(*) AS n FROM orders');
      return Number(rows[0]?.n);
    } finally {
      await client.end();
    }
  };

  before(async () => {
    dir = await makeTempDir('parley-e2e-pg-rotation-');
    postgres = await startPostgres();
    const url = await createDatabase(postgres, 'shop');
    const su = new pg.Client({ connectionString: url });
    await su.connect();
    await su.query(`CREATE TABLE orders (id int); INSERT INTO orders VALUES (1), (2), (3);
      CREATE ROLE orders_app NOLOGIN; GRANT SELECT ON orders TO orders_app;
      CREATE ROLE orders_a LOGIN IN ROLE orders_app; CREATE ROLE orders_b LOGIN IN ROLE orders_app;`);
    await su.end();
    await requirePasswords(url);

    const healthPort = await freePort();
    secretsPort = await freePort();
    adminSocket = join(dir.path, 'admin.sock');
    const config = join(dir.path, 'server.yaml');
    await writeFile(
      config,
      [
        'trustDomain: example.org',
        `dataDir: ${join(dir.path, 'server')}`,
        `agentApiAddress: 127.0.0.1:${await freePort()}`,
        `adminSocket: ${adminSocket}`,
        `healthAddress: 127.0.0.1:${healthPort}`,
        'secrets:',
        `  address: 127.0.0.1:${secretsPort}`,
        '  revokeInterval: 200ms',
        '  databases:',
        '    - name: shop',
        '      host: 127.0.0.1',
        `      port: ${postgres.port}`,
        '      database: shop',
        '      user: postgres',
        '      roles: [orders_a, orders_b]',
      ].join('\n'),
    );
    server = startParley(['server', 'run', '--config', config]);
    await waitFor(
      'secrets listening',
      async () =>
        (await httpOk(`http://127.0.0.1:${healthPort}/ready`)) &&
        server.log().includes('secrets listening'),
      30_000,
      () => server.log(),
    );
    bundle = (await admin('bundle', 'show', '-o', 'pem')).stdout;
    const policy = join(dir.path, 'policy.json');
    await writeFile(
      policy,
      JSON.stringify({ rules: [{ principals: [APP], paths: ['db/**'], capabilities: ['read'] }] }),
    );
    const put = await admin('secret', 'policy', 'put', 'orders', '--file', policy);
    assert.equal(put.code, 0, put.stderr);
  });

  after(async () => {
    await server?.stop();
    await postgres?.stop();
    await dir?.remove();
  });

  it('rotates three times under load: zero failed queries; old logins revoked', async () => {
    const first = await admin('secret', 'rotate', 'db/orders', '--database', 'shop', '-o', 'json');
    assert.equal(first.code, 0, first.stderr);
    const jwt = (
      await admin('jwt', 'mint', '--spiffe-id', APP, '--audience', AUDIENCE)
    ).stdout.trim();
    const login = await https('POST', '/v1/auth/spiffe/login', undefined, { jwt });
    const token = (JSON.parse(login.body) as { auth: { client_token: string } }).auth.client_token;
    const read = async () => {
      const r = await https('GET', '/v1/secret/data/db/orders', token);
      assert.equal(r.status, 200, r.body);
      return (JSON.parse(r.body) as { data: { data: Login } }).data.data;
    };
    const initial = await read();
    assert.equal(initial.username, 'orders_a');
    assert.equal(await query(initial), 3);

    let stop = false;
    let queries = 0;
    const failures: string[] = [];
    const users = new Set<string>();
    const consumer = (async () => {
      while (!stop) {
        try {
          const creds = await read();
          users.add(creds.username);
          await query(creds);
          queries += 1;
        } catch (err) {
          failures.push((err as Error).message);
        }
        await new Promise((res) => setTimeout(res, 30));
      }
    })();
    const seen: Login[] = [initial];
    for (let i = 0; i < 3; i++) {
      await new Promise((res) => setTimeout(res, 300));
      const r = await admin(
        'secret',
        'rotate',
        'db/orders',
        '--database',
        'shop',
        '--grace',
        '20s',
        '--wait',
        '-o',
        'json',
      );
      assert.equal(r.code, 0, r.stderr);
      assert.equal((JSON.parse(r.stdout) as { previous_version: unknown }).previous_version, null);
      seen.push(await read());
    }
    await new Promise((res) => setTimeout(res, 300));
    stop = true;
    await consumer;
    assert.deepEqual(failures, []);
    assert.ok(queries > 10, `${queries} queries`);
    assert.deepEqual([...users].sort(), ['orders_a', 'orders_b']);
    assert.deepEqual(
      seen.map((s) => s.username),
      ['orders_a', 'orders_b', 'orders_a', 'orders_b'],
    );
    // Every earlier login is dead: its role's password was revoked or replaced.
    for (const old of seen.slice(0, -1)) {
      await assert.rejects(query(old), /password authentication failed/);
    }
    assert.equal(await query(seen.at(-1) as Login), 3);
    assert.ok(!server.log().includes(seen.at(-1)?.password as string), 'a password in the log');
  });
});

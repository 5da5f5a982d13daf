import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { isParleyError } from '@parley/core';
import { createDatabase, startPostgres } from '@parley/testing';
import type { PostgresServer } from '@parley/testing';
import pg from 'pg';
import { createPostgresRotator } from './postgres-rotator.js';
import type { PostgresRotator } from './postgres-rotator.js';
import { scramSha256Verifier } from './scram-verifier.js';

const ROLES = ['orders_a', 'orders_b'] as const;
const binding = { roles: ROLES };

let server: PostgresServer;
let admin: pg.Client;
let rotator: PostgresRotator;

/** A fresh connection with `login`'s credentials; resolves with `current_user`. */
async function loginAs(login: Record<string, string | number>): Promise<string> {
  const client = new pg.Client({
    host: String(login['host']),
    port: Number(login['port']),
    database: String(login['database']),
    user: String(login['username']),
    password: String(login['password']),
    connectionTimeoutMillis: 5_000,
  });
  client.on('error', () => {});
  try {
    await client.connect();
    // `orders` is granted to the group role only: this proves the membership carries the grants.
    await client.query('SELECT count(*) FROM orders');
    const { rows } = await client.query<{ me: string }>('SELECT current_user AS me');
    return rows[0]!.me;
  } finally {
    await client.end().catch(() => {});
  }
}

before(async () => {
  server = await startPostgres();
  const url = await createDatabase(server, 'shop');
  admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await admin.query('CREATE ROLE orders_rw NOLOGIN');
  for (const role of ROLES) await admin.query(`CREATE ROLE ${role} LOGIN IN ROLE orders_rw`);
  await admin.query('CREATE TABLE orders (id int)');
  await admin.query('GRANT SELECT ON orders TO orders_rw');
  // The test server trusts everyone; make every login but the superuser's need its password.
  const { rows } = await admin.query<{ hba_file: string }>('SHOW hba_file');
  const hba = [
    'local all all trust',
    'host all postgres 127.0.0.1/32 trust',
    'host all all 127.0.0.1/32 scram-sha-256',
  ];
  await admin.query(`COPY (SELECT unnest(ARRAY['${hba.join("','")}'])) TO '${rows[0]!.hba_file}'`);
  await admin.query('SELECT pg_reload_conf()');
  const probe = { host: '127.0.0.1', port: server.port, database: 'shop', username: 'orders_a' };
  for (let i = 0; ; i++) {
    const refused = await loginAs({ ...probe, password: 'wrong' }).then(
      () => false,
      () => true,
    );
    if (refused) break;
    assert.ok(i < 100, 'pg_hba.conf was not reloaded');
    await sleep(50);
  }
  rotator = createPostgresRotator({
    name: 'shop-db',
    roles: ROLES,
    connection: { host: '127.0.0.1', port: server.port, database: 'shop', user: 'postgres' },
  });
});

after(async () => {
  await rotator?.close();
  await admin?.end();
  await server?.stop();
});

void test('next alternates the roles, and the new password logs in', async () => {
  const first = await rotator.next(binding, undefined);
  assert.deepEqual(Object.keys(first).sort(), ['database', 'host', 'password', 'port', 'username']);
  assert.equal(first['username'], 'orders_a');
  assert.equal(first['host'], '127.0.0.1');
  assert.equal(first['port'], server.port);
  assert.equal(first['database'], 'shop');
  assert.match(String(first['password']), /^[A-Za-z0-9_-]{43}$/);
  assert.equal(await loginAs(first), 'orders_a');

  const second = await rotator.next(binding, first);
  assert.equal(second['username'], 'orders_b');
  assert.equal(await loginAs(second), 'orders_b');

  const third = await rotator.next(binding, second);
  assert.equal(third['username'], 'orders_a');
  assert.notEqual(third['password'], first['password']);
  assert.equal(await loginAs(third), 'orders_a');
  await assert.rejects(loginAs(first), (e: { code?: string }) => e.code === '28P01');
});

void test('PostgreSQL stores the verifier computed here, not a password it was sent', async () => {
  const login = await rotator.next(binding, undefined);
  const { rows } = await admin.query<{ stored: string }>(
    'SELECT rolpassword AS stored FROM pg_authid WHERE rolname = $1',
    [login['username']],
  );
  const stored = rows[0]!.stored;
  const salt = Buffer.from(/^SCRAM-SHA-256\$4096:([^$]+)\$/.exec(stored)![1]!, 'base64');
  assert.equal(stored, scramSha256Verifier(String(login['password']), salt));
});

void test('the previous login keeps working until it is revoked, and fails after', async () => {
  const old = await rotator.next(binding, undefined);
  const fresh = await rotator.next(binding, old);
  assert.equal(await loginAs(old), old['username']);
  assert.equal(await loginAs(fresh), fresh['username']);

  await rotator.revoke(String(old['username']));
  await assert.rejects(loginAs(old), (e: { code?: string }) => e.code === '28P01');
  assert.equal(await loginAs(fresh), fresh['username']);
  const { rows } = await admin.query<{ rolcanlogin: boolean; rolpassword: string | null }>(
    'SELECT rolcanlogin, rolpassword FROM pg_authid WHERE rolname = $1',
    [old['username']],
  );
  assert.deepEqual(rows[0], { rolcanlogin: true, rolpassword: null });

  // The revoked role comes back with the next rotation.
  const again = await rotator.next(binding, fresh);
  assert.equal(again['username'], old['username']);
  assert.equal(await loginAs(again), old['username']);
});

void test('role names are checked, and errors name the target and role, never a password', async () => {
  assert.throws(
    () =>
      createPostgresRotator({
        name: 'shop-db',
        roles: ['ok', 'Bad"; DROP'],
        connection: { host: '127.0.0.1', port: server.port, database: 'shop', user: 'postgres' },
      }),
    (e: unknown) => isParleyError(e, 'invalid-argument') && /shop-db/.test(e.message),
  );
  await assert.rejects(rotator.revoke('x y'), (e: unknown) => isParleyError(e, 'invalid-argument'));
  await assert.rejects(
    rotator.next({ roles: ['ghost_a', 'ghost_b'] }, undefined),
    (e: unknown) =>
      isParleyError(e, 'unavailable') &&
      /database "shop-db": cannot set the password of role "ghost_a"/.test(e.message) &&
      !/SCRAM|password '/.test(e.message.replace('the password of', '')),
  );
  const unreachable = createPostgresRotator({
    name: 'gone-db',
    roles: ROLES,
    connection: {
      host: '127.0.0.1',
      port: 1,
      database: 'shop',
      user: 'postgres',
      password: 'hunter2',
    },
  });
  await assert.rejects(
    unreachable.revoke('orders_a'),
    (e: unknown) =>
      isParleyError(e, 'unavailable') &&
      /"gone-db".*"orders_a"/.test(e.message) &&
      !e.message.includes('hunter2'),
  );
  await unreachable.close();
});

void test('a consumer that reconnects on every query never fails across five rotations', async () => {
  let holder = await rotator.next(binding, undefined);
  let queries = 0;
  const failures: unknown[] = [];
  let running = true;
  const consumer = (async () => {
    while (running) {
      try {
        await loginAs(holder);
        queries++;
      } catch (error) {
        failures.push(error);
      }
      await sleep(20);
    }
  })();
  try {
    for (let i = 0; i < 5; i++) {
      const previous = holder;
      holder = await rotator.next(binding, previous);
      await sleep(300); // the grace: the consumer re-reads the holder before each connection
      await rotator.revoke(String(previous['username']));
      await sleep(100);
    }
  } finally {
    running = false;
    await consumer;
  }
  assert.deepEqual(failures, []);
  assert.ok(queries >= 10, `only ${queries} queries ran`);
});

import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, before, test } from 'node:test';
import { isParleyError } from '@parley/core';
import { createDatabase, startPostgres } from '@parley/testing';
import type { PostgresServer } from '@parley/testing';
import { openStore } from '../open-store.js';

let server: PostgresServer;
before(async () => {
  server = await startPostgres();
});
after(async () => {
  await server?.stop();
});

async function closedPort(): Promise<number> {
  const probe = createServer().listen(0, '127.0.0.1');
  await new Promise((resolve) => probe.once('listening', resolve));
  const address = probe.address();
  await new Promise((resolve) => probe.close(resolve));
  assert.ok(address !== null && typeof address === 'object');
  return address.port;
}

void test('connection errors name the server but never the password', async () => {
  const port = await closedPort();
  const url = `postgres://parley:s3cr%21t-pw@127.0.0.1:${port}/parley`;
  await assert.rejects(openStore({ postgres: { url } }), (error: unknown) => {
    assert.ok(isParleyError(error, 'unavailable'));
    assert.match(
      error.message,
      new RegExp(
        `cannot connect to PostgreSQL at postgres://parley:\\*\\*\\*@127\\.0\\.0\\.1:${port}/parley`,
      ),
    );
    assert.doesNotMatch(error.message, /s3cr/);
    return true;
  });
});

void test('statement errors after the server is gone never show the password', async () => {
  const doomed = await startPostgres();
  const url = new URL(await createDatabase(doomed, 'gone'));
  url.password = 'hunter2';
  const db = await openStore({ postgres: { url: url.href } });
  await doomed.stop();
  await assert.rejects(db.query('SELECT 1 AS one'), (error: unknown) => {
    assert.ok(isParleyError(error, 'unavailable'));
    assert.match(
      error.message,
      /PostgreSQL at postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:\d+\/gone/,
    );
    assert.doesNotMatch(error.message, /hunter2/);
    return true;
  });
  await db.close();
});

void test('a transaction is retried after a serialization failure, a bounded number of times', async () => {
  await using db = await openStore({ postgres: { url: await createDatabase(server, 'retry') } });
  const failOnce = `DO $$ BEGIN RAISE EXCEPTION 'conflict' USING ERRCODE = 'serialization_failure'; END $$`;
  let attempts = 0;
  const result = await db.transaction(async (tx) => {
    attempts++;
    if (attempts === 1) await tx.execute(failOnce);
    return attempts;
  });
  assert.equal(result, 2);

  attempts = 0;
  await assert.rejects(
    db.transaction(async (tx) => {
      attempts++;
      await tx.execute(failOnce);
    }),
    (error: unknown) => isParleyError(error, 'unavailable') && /SQLSTATE 40001/.test(error.message),
  );
  assert.equal(attempts, 5);
});

void test('a real serialization conflict between two transactions is retried to success', async () => {
  await using db = await openStore({ postgres: { url: await createDatabase(server, 'conflict') } });
  await db.execute('CREATE TABLE counter (id BIGINT PRIMARY KEY, n BIGINT NOT NULL)');
  await db.execute('INSERT INTO counter VALUES (1, 0)');
  let reads = 0;
  let bothRead: () => void = () => {};
  const barrier = new Promise<void>((resolve) => (bothRead = resolve));
  const increment = () =>
    db.transaction(async (tx) => {
      await tx.execute('SET TRANSACTION ISOLATION LEVEL SERIALIZABLE');
      const [row] = await tx.query<{ n: number }>('SELECT n FROM counter WHERE id = 1');
      if (++reads === 2) bothRead();
      await Promise.race([barrier, new Promise((r) => setTimeout(r, 200))]);
      await tx.execute('UPDATE counter SET n = $1 WHERE id = 1', [(row?.n ?? 0) + 1]);
    });
  await Promise.all([increment(), increment()]);
  assert.deepEqual(await db.query('SELECT n FROM counter'), [{ n: 2 }]);
  assert.ok(reads >= 3, 'one transaction was re-run');
});

void test('a statement failure inside a transaction fails the transaction even if caught', async () => {
  await using db = await openStore({ postgres: { url: await createDatabase(server, 'caught') } });
  await assert.rejects(
    db.transaction(async (tx) => {
      await tx.query('SELECT no_such_column FROM leases').catch(() => {});
    }),
    /rolled the transaction back at COMMIT/,
  );
});

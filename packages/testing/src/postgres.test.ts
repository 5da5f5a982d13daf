import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { test } from 'node:test';
import pg from 'pg';
import { createDatabase, startPostgres } from './postgres.js';

async function selectOne(url: string): Promise<unknown> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const result = await client.query<{ one: number }>('select 1 as one');
    return result.rows[0]?.one;
  } finally {
    await client.end();
  }
}

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.on('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.on('error', () => resolve(true));
  });
}

void test('startPostgres serves queries until stopped, then frees its port and dir', async () => {
  const server = await startPostgres();
  let stopped = false;
  try {
    assert.match(server.url, /^postgres:\/\/postgres@127\.0\.0\.1:\d+\/postgres$/);
    assert.equal(await selectOne(server.url), 1);

    const url = await createDatabase(server, 'fresh_db');
    assert.equal(new URL(url).pathname, '/fresh_db');
    assert.equal(await selectOne(url), 1);

    const client = new pg.Client({ connectionString: server.url });
    await client.connect();
    const shown = await client.query<{ data_directory: string }>('show data_directory');
    const dataDir = shown.rows[0]?.data_directory;
    await client.end();
    assert.ok(dataDir !== undefined && existsSync(dataDir));

    await server.stop();
    stopped = true;
    assert.equal(await refused(server.port), true, 'port still accepts connections');
    assert.equal(existsSync(dataDir), false, 'data dir was not removed');
    await server.stop(); // idempotent
  } finally {
    if (!stopped) await server.stop();
  }
});

void test('createDatabase rejects names that would need quoting', async () => {
  await using server = await startPostgres();
  await assert.rejects(createDatabase(server, 'x"; drop'), TypeError);
});

import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  type PostgresServer,
  type TempDir,
  createDatabase,
  makeTempDir,
  startPostgres,
} from '@parley/testing';
import { type Daemon, freePort, waitFor } from '@parley/testing';
import { parley, startParley } from './harness.js';

// The same server on PostgreSQL (DESIGN §6): acknowledged writes survive kill -9.
describe('identity server on PostgreSQL', () => {
  let dir: TempDir;
  let pg: PostgresServer;
  let server: Daemon | undefined;
  let config = '';
  let adminSocket = '';
  const start = async () => {
    server = startParley(['server', 'run', '--config', config]);
    await waitFor(
      'server on PostgreSQL',
      async () => (await parley(['healthcheck', '--socket', adminSocket])).code === 0,
      30_000,
      () => server?.log() ?? '',
    );
  };

  before(async () => {
    dir = await makeTempDir('parley-e2e-pg-');
    pg = await startPostgres();
    const url = await createDatabase(pg, 'parley');
    adminSocket = join(dir.path, 'admin.sock');
    config = join(dir.path, 'server.yaml');
    await writeFile(
      config,
      [
        'trustDomain: example.org',
        `dataDir: ${join(dir.path, 'server')}`,
        `agentApiAddress: 127.0.0.1:${await freePort()}`,
        `adminSocket: ${adminSocket}`,
        `healthAddress: 127.0.0.1:${await freePort()}`,
        'store:',
        '  postgres:',
        `    url: ${url}`,
      ].join('\n'),
    );
    await start();
  });

  after(async () => {
    await server?.stop();
    await pg?.stop();
    await dir?.remove();
  });

  it('keeps acknowledged entries across kill -9', async () => {
    const created = await parley([
      'entry',
      'create',
      '--spiffe-id',
      'spiffe://example.org/pg',
      '--parent-id',
      'spiffe://example.org/parley/agent/x',
      '--selector',
      'unix:uid:1',
      '--socket',
      adminSocket,
    ]);
    assert.equal(created.code, 0, created.stderr);
    await server?.stop('SIGKILL');
    await start();
    const listed = await parley(['entry', 'list', '-o', 'json', '--socket', adminSocket]);
    assert.match(listed.stdout, /spiffe:\/\/example\.org\/pg/);
  });
});

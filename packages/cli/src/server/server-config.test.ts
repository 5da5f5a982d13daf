import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, readConfig } from '@parley/core';
import { readServerConfig } from './server-config.js';

const base = { trustDomain: 'example.org', dataDir: '/var/lib/parley' };
const read = (value: unknown) => readConfig(value, (r) => readServerConfig(r, (p) => `/etc/${p}`));

describe('server config: secrets', () => {
  it('is off without `secrets:` and has defaults with it', () => {
    assert.equal(read(base).secrets, undefined);
    const s = read({ ...base, secrets: {} }).secrets;
    assert.equal(s?.address, '127.0.0.1:8200');
    assert.deepEqual(s?.audiences, ['spiffe://example.org/parley/secrets']);
    assert.equal(s?.tokenTtl, 15 * 60_000);
    assert.deepEqual(s?.keys, []);
  });

  it('reads keys from files or the environment, and databases with two roles', () => {
    const s = read({
      ...base,
      secrets: {
        keys: [
          { id: 'k2', keyFile: 'kek2' },
          { id: 'k1', keyEnv: 'KEK1' },
        ],
        databases: [{ name: 'shop', user: 'rotator', passwordEnv: 'PW', roles: ['a_1', 'b_1'] }],
      },
    }).secrets;
    assert.deepEqual(s?.keys, [
      { id: 'k2', source: { file: '/etc/kek2' } },
      { id: 'k1', source: { env: 'KEK1' } },
    ]);
    assert.deepEqual(s?.databases[0], {
      name: 'shop',
      host: '127.0.0.1',
      port: 5432,
      database: 'postgres',
      user: 'rotator',
      password: { env: 'PW' },
      roles: ['a_1', 'b_1'],
    });
  });

  it('reports every problem with its path', () => {
    assert.throws(
      () =>
        read({
          ...base,
          secrets: {
            keys: [{ id: 'k', keyFile: 'a', keyEnv: 'B' }, { id: 'j' }],
            databases: [{ name: 'x', user: 'u', roles: ['same', 'same'] }],
            extra: true,
          },
        }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        const paths = err.problems.map((p) => p.path).sort();
        assert.deepEqual(paths, [
          'secrets.databases[0].roles',
          'secrets.extra',
          'secrets.keys[0].keyFile',
          'secrets.keys[1]',
        ]);
        return true;
      },
    );
  });
});

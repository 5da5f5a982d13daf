import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError } from '@parley/core';
import { parseStoreConfig } from './store-config.js';

void test('parses either engine', () => {
  assert.deepEqual(parseStoreConfig({ sqlite: { path: '/var/lib/parley/store.db' } }), {
    sqlite: { path: '/var/lib/parley/store.db' },
  });
  const url = 'postgresql://parley:pw@db.example:5432/parley?sslmode=require';
  assert.deepEqual(parseStoreConfig({ postgres: { url } }), { postgres: { url } });
  assert.ok(Object.isFrozen(parseStoreConfig({ postgres: { url } })));
});

function problems(value: unknown): string {
  try {
    parseStoreConfig(value);
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    return error.problems.map((p) => `${p.path}: ${p.message}`).join('\n');
  }
  assert.fail('expected a ConfigError');
}

void test('reports every problem with its key path', () => {
  assert.equal(
    problems({ sqlite: { path: '', journal: 'wal' }, extra: 1 }),
    'sqlite.path: must not be empty\nextra: unknown field\nsqlite.journal: unknown field',
  );
  assert.equal(problems({}), ': must have one of sqlite, postgres');
  assert.equal(problems({ sqlite: {} }), 'sqlite.path: is required');
  assert.match(
    problems({ sqlite: { path: 'a' }, postgres: { url: 'postgres://h/d' } }),
    /must have only one of sqlite, postgres/,
  );
  assert.match(problems('sqlite'), /^: must be an object$/m);
});

void test('never echoes a postgres URL, which may hold a password', () => {
  const message = problems({ postgres: { url: 'mysql://root:topsecret@h/d' } });
  assert.equal(message, 'postgres.url: must be a postgres:// or postgresql:// URL, not mysql://');
  assert.doesNotMatch(problems({ postgres: { url: 'topsecret no url' } }), /topsecret/);
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isParleyError } from '../errors.js';
import { parseTrustDomain } from '../spiffe-id/trust-domain.js';
import { type ConfigProblem, ConfigError, type ObjectReader, readConfig } from './fields.js';

function problemsOf(value: unknown, read: (root: ObjectReader) => unknown): ConfigProblem[] {
  try {
    readConfig(value, read);
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    assert.ok(isParleyError(err, 'invalid-argument'));
    return [...err.problems];
  }
  assert.fail('expected a ConfigError');
}

function readServer(root: ObjectReader) {
  const server = root.object('server');
  const ca = server?.object('ca');
  return {
    name: root.string('name'),
    port: root.integer('port', 8081, 1, 65535),
    debug: root.boolean('debug', false),
    mode: root.oneOf('mode', ['strict', 'permissive'] as const, 'strict'),
    server: {
      ttl: server?.duration('ttl') ?? 0,
      trustDomain: server?.has('trust_domain')
        ? server.parsed('trust_domain', parseTrustDomain)
        : undefined,
      ca: { keyType: ca?.oneOf('key_type', ['ec-p256', 'rsa-2048'] as const, 'ec-p256') },
    },
    tags: root.array('tags', (v, path) => {
      if (typeof v !== 'string') root.problem(path, 'must be a string');
      return v;
    }),
    note: root.optionalString('note'),
  };
}

describe('readConfig', () => {
  it('returns typed values with defaults', () => {
    const config = readConfig(
      { name: 'a', server: { ttl: '1h30m', trust_domain: 'example.org', ca: {} }, tags: ['x'] },
      readServer,
    );
    assert.equal(config.name, 'a');
    assert.equal(config.port, 8081);
    assert.equal(config.debug, false);
    assert.equal(config.mode, 'strict');
    assert.equal(config.server.ttl, 5_400_000);
    assert.equal(config.server.trustDomain?.name, 'example.org');
    assert.equal(config.server.ca.keyType, 'ec-p256');
    assert.deepEqual(config.tags, ['x']);
    assert.equal(config.note, undefined);
  });

  it('reads durations given as seconds', () => {
    const config = readConfig({ ttl: 90 }, (r) => ({ ttl: r.duration('ttl') }));
    assert.equal(config.ttl, 90_000);
  });

  it('freezes the result deeply', () => {
    const config = readConfig(
      { name: 'a', server: { ttl: 1, ca: { key_type: 'rsa-2048' } }, tags: ['x', 'y'] },
      readServer,
    );
    assert.ok(Object.isFrozen(config));
    assert.ok(Object.isFrozen(config.server));
    assert.ok(Object.isFrozen(config.server.ca));
    assert.ok(Object.isFrozen(config.tags));
    assert.throws(() => {
      (config as { name: string }).name = 'b';
    }, TypeError);
    assert.throws(() => (config.tags as string[]).push('z'), TypeError);
  });

  it('reports every problem at once, with its path', () => {
    const problems = problemsOf(
      {
        port: 0,
        debug: 'yes',
        mode: 'loose',
        server: { ttl: '1h1h', trust_domain: 'Example.org', ca: { key_type: 'dsa' } },
        tags: 'x',
        note: 5,
      },
      readServer,
    );
    const paths = problems.map((p) => p.path);
    assert.deepEqual(paths.sort(), [
      'debug',
      'mode',
      'name',
      'note',
      'port',
      'server.ca.key_type',
      'server.trust_domain',
      'server.ttl',
      'tags',
    ]);
    const byPath = new Map(problems.map((p) => [p.path, p.message]));
    assert.equal(byPath.get('name'), 'is required');
    assert.equal(byPath.get('port'), 'must be an integer between 1 and 65535');
    assert.equal(byPath.get('debug'), 'must be true or false');
    assert.equal(byPath.get('mode'), 'must be one of strict, permissive');
    assert.equal(byPath.get('tags'), 'must be a list');
    assert.equal(byPath.get('note'), 'must be a string');
    assert.match(byPath.get('server.trust_domain') ?? '', /invalid trust domain/);
    assert.match(byPath.get('server.ttl') ?? '', /units must decrease/);
  });

  it('reports unknown keys at any depth', () => {
    const problems = problemsOf(
      {
        name: 'a',
        extra: 1,
        server: { ttl: 1, stray: true, ca: { key_type: 'rsa-2048', deep: {} } },
      },
      readServer,
    );
    assert.deepEqual(problems.map((p) => `${p.path}: ${p.message}`).sort(), [
      'extra: unknown field',
      'server.ca.deep: unknown field',
      'server.stray: unknown field',
    ]);
  });

  it('locates problems inside list items by index', () => {
    const problems = problemsOf({ name: 'a', tags: ['ok', 5, 'ok', null] }, readServer);
    assert.deepEqual(
      problems.map((p) => p.path),
      ['tags[1]', 'tags[3]'],
    );
  });

  it('says (root) when the document is not an object, and lists problems in the message', () => {
    for (const value of [null, 5, 'text', []]) {
      const problems = problemsOf(value, (r) => r.string('a', ''));
      assert.deepEqual(problems, [{ path: '', message: 'must be an object' }]);
    }
    try {
      readConfig({ a: 1, b: 2 }, (r) => r.string('a'), 'store config');
      assert.fail('expected a ConfigError');
    } catch (err) {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.message, 'invalid store config:\n  a: must be a string\n  b: unknown field');
    }
  });

  it('reports a nested value that is not an object at its path', () => {
    const problems = problemsOf({ name: 'a', server: 'x' }, readServer);
    assert.deepEqual(problems, [
      { path: 'server', message: 'must be an object' },
      { path: 'server.ttl', message: 'is required' },
    ]);
  });

  it('treats keys checked with has() as known and ignores inherited properties', () => {
    const value = JSON.parse('{"a":1,"__proto__":{"b":2}}') as unknown;
    const problems = problemsOf(value, (r) => ({ a: r.has('a') }));
    assert.deepEqual(problems, [{ path: '__proto__', message: 'unknown field' }]);
    assert.deepEqual(
      readConfig({}, (r) => ({ toString: r.has('toString'), ctor: r.string('constructor', 'd') })),
      { toString: false, ctor: 'd' },
    );
  });

  it('knows every key read through any reader of the same nested object', () => {
    const config = readConfig({ a: { x: 1, y: 2 } }, (r) => ({
      x: r.object('a')?.integer('x'),
      y: r.object('a')?.integer('y'),
    }));
    assert.deepEqual({ ...config }, { x: 1, y: 2 });
  });
});

describe('ObjectReader.objects', () => {
  it('reads each list element through its own reader and reports unknown keys with their index', () => {
    const read = (root: ObjectReader) =>
      root.objects('keys').map((k) => ({ id: k.string('id'), file: k.optionalString('file') }));
    assert.deepEqual(readConfig({ keys: [{ id: 'a', file: 'f' }, { id: 'b' }] }, read), [
      { id: 'a', file: 'f' },
      { id: 'b', file: undefined },
    ]);
    assert.deepEqual(problemsOf({ keys: [{ id: 'a' }, { id: 'b', extra: 1 }, 3] }, read), [
      { path: 'keys[2]', message: 'must be an object' },
      { path: 'keys[2].id', message: 'is required' },
      { path: 'keys[1].extra', message: 'unknown field' },
    ]);
  });
});

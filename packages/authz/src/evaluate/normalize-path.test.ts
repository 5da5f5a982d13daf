import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { normalizeHost } from './normalize-host.js';
import { normalizePath } from './normalize-path.js';

// What Envoy forwards with normalize_path, merge_slashes and escaped slashes rejected; undefined =
// refused.
const PATHS: [string, string | undefined][] = [
  ['/', '/'],
  ['/a/b', '/a/b'],
  ['//admin', '/admin'],
  ['/a//b///c', '/a/b/c'],
  ['/a/./b', '/a/b'],
  ['/a/../b', '/b'],
  ['/../../a', '/a'],
  ['/a/b/..', '/a/'],
  ['/a/%2e%2E/b', '/b'],
  ['/%61dmin', '/admin'],
  ['/a%7eb', '/a~b'],
  ['/a%3bb', '/a%3Bb'],
  ['/a%25%32%46', '/a%252F'],
  ['/admin?x=1', '/admin'],
  ['/admin#frag', '/admin'],
  ['/a?b#c', '/a'],
  ['/a%2Fb', undefined],
  ['/a%2fb', undefined],
  ['/a%5Cb', undefined],
  ['/a%5cb', undefined],
  ['/a%00b', undefined],
  ['/a%zzb', undefined],
  ['/a%2', undefined],
  ['\\admin', undefined],
  ['/a\\b', undefined],
  ['/admin;x', undefined],
  ['/a b', undefined],
  ['/a\u0000b', undefined],
  ['/é', undefined],
  ['admin', undefined],
  ['*', undefined],
];

describe('normalizePath', () => {
  for (const [raw, want] of PATHS) {
    it(`${JSON.stringify(raw)} → ${want ?? 'refused'}`, () => {
      const got = normalizePath(raw);
      assert.deepEqual(got.ok ? got.path : undefined, want, got.ok ? '' : got.reason);
    });
  }
});

describe('normalizeHost', () => {
  const HOSTS: [string, string | undefined][] = [
    ['svc', 'svc'],
    ['SVC', 'svc'],
    ['svc:80', 'svc'],
    ['svc:443', 'svc'],
    ['svc.', 'svc'],
    ['svc:8080', 'svc:8080'],
    ['[::1]:8080', '[::1]:8080'],
    ['svc:0', undefined],
    ['svc:x', undefined],
    ['a@svc', undefined],
    ['', undefined],
    ['svc extra', undefined],
  ];
  for (const [raw, want] of HOSTS) {
    it(`${JSON.stringify(raw)} → ${want ?? 'refused'}`, () => {
      const got = normalizeHost(raw);
      const text = got.ok
        ? got.port === undefined
          ? got.name
          : `${got.name}:${got.port}`
        : undefined;
      assert.equal(text, want);
    });
  }
});

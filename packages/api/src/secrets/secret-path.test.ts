import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  matchSecretPathGlob,
  parseSecretFolder,
  parseSecretPath,
  parseSecretPathGlob,
} from './secret-path.js';

// Refused, never normalized: the path tricks of the Vault/OpenBao glob-policy advisories
// (HCSEC-2023-*, GHSA for `..`), plus anything that would need percent-encoding.
const BAD_PATHS = [
  '',
  '/app/db',
  'app/db/',
  'app//db',
  'app/../other',
  'app/./db',
  '..',
  'app/%2e%2e/other',
  '%2e%2e',
  'app/%2F',
  'app/db\t',
  'app/\u00e9',
  ' app/db',
  'app/db ',
  'app/d b',
  'app/db\0',
  'app\\db',
  'app/*',
  'app/dЬ', // Cyrillic lookalike
  `a/${'x'.repeat(129)}`,
  Array.from({ length: 33 }, () => 'a').join('/'),
  Array.from({ length: 5 }, () => 'x'.repeat(120)).join('/'), // 604 bytes
];
const GOOD_PATHS = [
  'app',
  'app/db',
  'app/orders/db-password',
  'a/.env',
  'a/..x',
  'x/user@example.org',
  'k/a=b,c+d',
  'A_Z/0-9',
  'x'.repeat(128),
  Array.from({ length: 32 }, () => 'a').join('/'),
  Array.from({ length: 4 }, () => 'x'.repeat(127)).join('/'), // 511 bytes
];

describe('secret paths', () => {
  it('accepts plain paths', () => {
    for (const p of GOOD_PATHS) assert.equal(parseSecretPath(p), p);
  });

  it('refuses tricks with a clear error', () => {
    for (const p of BAD_PATHS)
      assert.throws(() => parseSecretPath(p), /secret path|must not be empty/, p);
  });

  it('reads folders with an optional trailing slash', () => {
    assert.equal(parseSecretFolder(''), '');
    assert.equal(parseSecretFolder('app/'), 'app');
    assert.equal(parseSecretFolder('app/x'), 'app/x');
    assert.throws(() => parseSecretFolder('app//'));
    assert.throws(() => parseSecretFolder('../'));
    assert.throws(() => parseSecretFolder('app/..'));
    assert.throws(() => parseSecretFolder('/app'));
  });

  it('matches globs: * is one segment, a final ** any number', () => {
    const cases: [string, string, boolean][] = [
      ['app/**', 'app', true],
      ['app/**', 'app/x/y', true],
      ['app/**', 'apps/x', false],
      ['app/*', 'app/x', true],
      ['app/*', 'app/x/y', false],
      ['app/*', 'app', false],
      ['*/db', 'orders/db', true],
      ['**', '', true],
      ['app/db', 'app/db', true],
      ['app/db', 'app/dbx', false],
      ['app/db', 'app', false],
      ['app/*/**', 'app', false],
      ['app/*/**', 'app/x', true],
      ['app/*/**', 'app/x/y/z', true],
      ['**', 'a/b', true],
      ['app/**', '', false],
      ['*', '', false],
    ];
    for (const [glob, path, expected] of cases) {
      assert.equal(
        matchSecretPathGlob(parseSecretPathGlob(glob), path),
        expected,
        `${glob} ${path}`,
      );
    }
    for (const bad of [
      'app/**/x',
      'app/a*',
      'app/../x',
      '',
      'app//x',
      '/app',
      'app/',
      '**/x',
      'app/%2a',
    ]) {
      assert.throws(() => parseSecretPathGlob(bad), /path pattern/, bad);
    }
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError } from '@parley/core';
import { parseSecretPolicyDocument } from './secret-policy.js';

function problems(spec: unknown): string[] {
  try {
    parseSecretPolicyDocument(spec, 'p', 'admin');
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    assert.equal(err.code, 'invalid-argument');
    return err.problems.map((p) => `${p.path}: ${p.message}`);
  }
  return [];
}

describe('parseSecretPolicyDocument', () => {
  it('reads rules with their defaults and principal patterns', () => {
    const policy = parseSecretPolicyDocument(
      {
        rules: [
          {
            principals: ['spiffe://example.org/orders', 'spiffe://example.org/team/*', '*'],
            paths: ['app/orders/**', 'app/*/config'],
            capabilities: ['read', 'list'],
          },
          {
            name: 'no-admin',
            effect: 'deny',
            principals: ['*'],
            paths: ['**'],
            capabilities: ['destroy'],
          },
        ],
      },
      'orders-db',
      'mesh',
    );
    assert.equal(policy.name, 'orders-db');
    assert.equal(policy.origin, 'mesh');
    assert.deepEqual(
      policy.rules.map((r) => [r.name, r.effect]),
      [
        ['rule-0', 'allow'],
        ['no-admin', 'deny'],
      ],
    );
    assert.deepEqual(policy.rules[0]?.principals, [
      { kind: 'exact', value: 'spiffe://example.org/orders', text: 'spiffe://example.org/orders' },
      { kind: 'prefix', value: 'spiffe://example.org/team/', text: 'spiffe://example.org/team/*' },
      { kind: 'any', text: '*' },
    ]);
    assert.deepEqual(policy.rules[0]?.paths[0], {
      text: 'app/orders/**',
      segments: ['app', 'orders'],
      rest: true,
    });
    assert.ok(Object.isFrozen(policy.rules));
  });

  it('reports every problem at once, with its field path', () => {
    assert.deepEqual(
      problems({
        rules: [
          {
            effect: 'maybe',
            principals: ['spiffe://example.org/a*', 'http://x', 3],
            paths: ['app/../x', 'a/**/b'],
            capabilities: ['read', 'sudo'],
            extra: true,
          },
          { name: 'r', principals: [], paths: 'app/**', capabilities: ['read'] },
          { name: 'r', principals: ['*'], paths: ['x'], capabilities: ['read'] },
        ],
        other: 1,
      }).map((p) => p.replace(/: .*/s, '')),
      [
        'rules[0].effect',
        'rules[0].principals[0]',
        'rules[0].principals[1]',
        'rules[0].principals[2]',
        'rules[0].paths[0]',
        'rules[0].paths[1]',
        'rules[0].capabilities[1]',
        'rules[1].principals',
        'rules[1].paths',
        'rules[2].name',
        'other',
        'rules[0].extra',
      ],
    );
  });

  it('requires non-empty rules and lists', () => {
    assert.deepEqual(problems({}), ['rules: is required']);
    assert.deepEqual(problems({ rules: [] }), ['rules: must be a non-empty list']);
    assert.deepEqual(problems({ rules: [{ principals: ['*'], paths: ['x'] }] }), [
      'rules[0].capabilities: is required',
    ]);
    assert.deepEqual(
      problems({
        rules: [{ name: 'a b', principals: ['*'], paths: ['x'], capabilities: ['read'] }],
      }),
      ['rules[0].name: must be 1-63 letters, digits, "-" or "_"'],
    );
  });
});

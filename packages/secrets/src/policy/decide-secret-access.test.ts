import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseSecretPolicyDocument } from '@parley/api';
import { compileSecretPolicies, decideSecretAccess } from './decide-secret-access.js';

const APP = 'spiffe://example.org/app';
const set = compileSecretPolicies([
  parseSecretPolicyDocument(
    {
      rules: [
        { principals: [APP], paths: ['app/**'], capabilities: ['read', 'list'] },
        {
          name: 'team',
          principals: ['spiffe://example.org/team/*'],
          paths: ['team/*/config'],
          capabilities: ['read'],
        },
      ],
    },
    'b-allow',
    'admin',
  ),
  parseSecretPolicyDocument(
    {
      rules: [
        {
          name: 'admin-area',
          effect: 'deny',
          principals: ['*'],
          paths: ['app/admin/**'],
          capabilities: ['read'],
        },
      ],
    },
    'a-deny',
    'mesh',
  ),
]);
const decide = (spiffeId: string, path: string, capability: 'read' | 'list' | 'write' = 'read') =>
  decideSecretAccess(set, { spiffeId, path, capability });

describe('decideSecretAccess', () => {
  it('allows what a rule grants and denies everything else by default', () => {
    assert.deepEqual(decide(APP, 'app/db'), { allowed: true, policy: 'b-allow', rule: 'rule-0' });
    assert.deepEqual(decide(APP, 'app'), { allowed: true, policy: 'b-allow', rule: 'rule-0' });
    assert.deepEqual(decide(APP, 'app/db', 'write'), {
      allowed: false,
      reason: 'no-matching-rule',
    });
    assert.deepEqual(decide(APP, 'other/db'), { allowed: false, reason: 'no-matching-rule' });
    assert.deepEqual(decide(`${APP}-2`, 'app/db'), { allowed: false, reason: 'no-matching-rule' });
    assert.deepEqual(decide(APP, ''), { allowed: false, reason: 'no-matching-rule' });
    assert.deepEqual(decide(APP, '', 'list'), { allowed: false, reason: 'no-matching-rule' });
    assert.deepEqual(decide(APP, 'app/x', 'list').allowed, true);
  });

  it('lets a more specific deny win over a broader allow', () => {
    assert.deepEqual(decide(APP, 'app/admin/key'), {
      allowed: false,
      reason: 'denied-by-rule',
      policy: 'a-deny',
      rule: 'admin-area',
    });
    assert.equal(decide(APP, 'app/admin', 'list').allowed, true);
  });

  it('matches prefix principals and one-segment wildcards', () => {
    const team = 'spiffe://example.org/team/blue';
    assert.equal(decide(team, 'team/blue/config').allowed, true);
    assert.equal(decide(team, 'team/blue/x/config').allowed, false);
    assert.equal(decide('spiffe://example.org/teamx', 'team/blue/config').allowed, false);
  });

  it('lets a broader deny win over a narrower allow, whatever the policy order', () => {
    const policies = (denyName: string) =>
      compileSecretPolicies([
        parseSecretPolicyDocument(
          { rules: [{ principals: [APP], paths: ['app/orders/db'], capabilities: ['read'] }] },
          'exact-allow',
          'admin',
        ),
        parseSecretPolicyDocument(
          {
            rules: [
              {
                name: 'all',
                effect: 'deny',
                principals: ['spiffe://example.org/*'],
                paths: ['app/**'],
                capabilities: ['read'],
              },
            ],
          },
          denyName,
          'mesh',
        ),
      ]);
    for (const name of ['a-first', 'z-last']) {
      assert.deepEqual(
        decideSecretAccess(policies(name), {
          spiffeId: APP,
          path: 'app/orders/db',
          capability: 'read',
        }),
        {
          allowed: false,
          reason: 'denied-by-rule',
          policy: name,
          rule: 'all',
        },
      );
    }
  });

  it('reports the first allow in (policy name, rule order) order', () => {
    const rule = (name: string) => ({
      name,
      principals: ['*'],
      paths: ['**'],
      capabilities: ['read'],
    });
    const s = compileSecretPolicies([
      parseSecretPolicyDocument({ rules: [rule('z1')] }, 'zz', 'mesh'),
      parseSecretPolicyDocument({ rules: [rule('b2'), rule('a1')] }, 'aa', 'admin'),
    ]);
    assert.deepEqual(decideSecretAccess(s, { spiffeId: APP, path: 'x', capability: 'read' }), {
      allowed: true,
      policy: 'aa',
      rule: 'b2',
    });
    assert.deepEqual(
      decideSecretAccess(compileSecretPolicies([]), {
        spiffeId: APP,
        path: 'x',
        capability: 'read',
      }),
      {
        allowed: false,
        reason: 'no-matching-rule',
      },
    );
  });

  it('matches capabilities exactly and lists folders, the root only through **', () => {
    const s = compileSecretPolicies([
      parseSecretPolicyDocument(
        {
          rules: [
            { name: 'list-all', principals: [APP], paths: ['**'], capabilities: ['list'] },
            { name: 'del', principals: [APP], paths: ['app/*'], capabilities: ['delete'] },
          ],
        },
        'p',
        'admin',
      ),
    ]);
    const d = (path: string, capability: 'read' | 'write' | 'list' | 'delete' | 'destroy') =>
      decideSecretAccess(s, { spiffeId: APP, path, capability }).allowed;
    assert.equal(d('', 'list'), true);
    assert.equal(d('app/x', 'list'), true);
    assert.equal(d('', 'read'), false);
    assert.equal(d('app/x', 'delete'), true);
    assert.equal(d('app/x', 'destroy'), false);
    assert.equal(d('app/x', 'write'), false);
    assert.equal(d('app/x', 'read'), false);
  });
});

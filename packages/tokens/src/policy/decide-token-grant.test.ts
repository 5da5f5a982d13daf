import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type TokenPolicy, parseTokenPolicyDocument } from '@parley/api';
import {
  type GrantDecision,
  type GrantRequest,
  TokenPolicySet,
  decideTokenGrant,
} from './decide-token-grant.js';

const ORDERS = 'spiffe://example.org/orders';
const GATEWAY = 'spiffe://example.org/gateway';
const IDP = 'https://idp.example';
const MIN = 60_000;

/** A TokenPolicy as the mesh repository would hold it, read by the real reader. */
const policy = (name: string, rules: readonly Record<string, unknown>[]): TokenPolicy =>
  parseTokenPolicyDocument({ rules }, name);

const decide = (policies: readonly TokenPolicy[], req: Partial<GrantRequest>): GrantDecision =>
  decideTokenGrant(new TokenPolicySet(policies), {
    client: ORDERS,
    grant: 'client_credentials',
    audiences: [],
    scopes: [],
    ...req,
  });

function granted(d: GrantDecision) {
  assert.ok(d.ok, d.ok ? '' : `${d.error}: ${d.description}`);
  return d;
}

function refusedWith(d: GrantDecision, error: string): void {
  assert.equal(d.ok, false, 'the request is refused');
  if (!d.ok) {
    assert.equal(d.error, error, d.description);
    assert.notEqual(d.description, '');
  }
}

const shop = policy('shop', [
  {
    name: 'orders-pay',
    clients: [ORDERS],
    audiences: ['payments'],
    scopes: ['payments:charge', 'payments:read'],
    maxTtl: '10m',
  },
]);

describe('decideTokenGrant: clients and grants', () => {
  it('denies by default: no policy at all is unauthorized_client', () => {
    refusedWith(decide([], { audiences: ['payments'] }), 'unauthorized_client');
    refusedWith(decide([], { grant: 'token-exchange' }), 'unauthorized_client');
  });

  it('grants a client named exactly, and no other client', () => {
    const d = granted(decide([shop], { audiences: ['payments'], scopes: ['payments:read'] }));
    assert.deepEqual(d.audiences, ['payments']);
    assert.deepEqual(d.scopes, ['payments:read']);
    assert.equal(d.maxTtlMs, 10 * MIN);
    assert.deepEqual(d.rules, ['shop/orders-pay']);
    for (const other of [
      'spiffe://example.org/orders/v2',
      'spiffe://example.org/order',
      'spiffe://example.org/ORDERS',
      'spiffe://other.org/orders',
    ]) {
      refusedWith(
        decide([shop], { client: other, audiences: ['payments'] }),
        'unauthorized_client',
      );
    }
  });

  it('matches a prefix pattern ending "/*" below the path only, and "*" for every client', () => {
    const prefix = policy('ns', [
      { name: 'ns', clients: ['spiffe://example.org/ns/shop/*'], audiences: ['a'] },
    ]);
    for (const client of ['spiffe://example.org/ns/shop/a', 'spiffe://example.org/ns/shop/a/b']) {
      granted(decide([prefix], { client }));
    }
    for (const client of [
      'spiffe://example.org/ns/shop',
      'spiffe://example.org/ns/shopping/a',
      'spiffe://example.org/ns/other/a',
    ]) {
      refusedWith(decide([prefix], { client }), 'unauthorized_client');
    }
    const any = policy('any', [{ name: 'any', clients: ['*'], audiences: ['a'] }]);
    granted(decide([any], { client: 'spiffe://other.org/anything' }));
  });

  it('considers only the rules for the requested grant (client_credentials is the default)', () => {
    const exchangeOnly = policy('x', [
      {
        name: 'x',
        clients: [ORDERS],
        grants: ['token-exchange'],
        audiences: ['payments'],
        subjects: { issuers: ['self'] },
      },
    ]);
    refusedWith(decide([exchangeOnly], { audiences: ['payments'] }), 'unauthorized_client');
    refusedWith(
      decide([shop], {
        grant: 'token-exchange',
        audiences: ['payments'],
        subject: { issuer: 'self', sub: 'alice', scopes: [] },
      }),
      'unauthorized_client',
    );
    granted(
      decide([exchangeOnly], {
        grant: 'token-exchange',
        audiences: ['payments'],
        subject: { issuer: 'self', sub: 'alice', scopes: [] },
      }),
    );
  });

  it('caches rules per client without mixing clients up', () => {
    const set = new TokenPolicySet([shop]);
    assert.equal(set.forClient(ORDERS).length, 1);
    assert.equal(set.forClient(GATEWAY).length, 0);
    assert.equal(set.forClient(ORDERS).length, 1);
  });
});

describe('decideTokenGrant: audiences', () => {
  const two = policy('two', [
    { name: 'pay', clients: [ORDERS], audiences: ['payments'], scopes: ['pay'] },
    { name: 'ship', clients: [ORDERS], audiences: ['shipping'], scopes: ['ship'] },
  ]);

  it('picks the one allowed audience when none is requested', () => {
    assert.deepEqual(granted(decide([shop], {})).audiences, ['payments']);
    // The same audience allowed by two rules is still one audience.
    const twice = policy('twice', [
      { name: 'a', clients: [ORDERS], audiences: ['payments'] },
      { name: 'b', clients: ['*'], audiences: ['payments'] },
    ]);
    assert.deepEqual(granted(decide([twice], {})).audiences, ['payments']);
  });

  it('is invalid_target when none is requested and two are allowed', () => {
    refusedWith(decide([two], {}), 'invalid_target');
  });

  it('is invalid_target for an audience no rule allows, even beside an allowed one', () => {
    refusedWith(decide([shop], { audiences: ['ledger'] }), 'invalid_target');
    refusedWith(decide([shop], { audiences: ['payments', 'ledger'] }), 'invalid_target');
    refusedWith(decide([shop], { audiences: ['Payments'] }), 'invalid_target');
  });

  it('grants several audiences, naming every rule that granted one', () => {
    const d = granted(decide([two], { audiences: ['payments', 'shipping'] }));
    assert.deepEqual(d.audiences, ['payments', 'shipping']);
    assert.deepEqual([...d.rules].sort(), ['two/pay', 'two/ship']);
  });
});

describe('decideTokenGrant: scopes and lifetime', () => {
  it('is invalid_scope for a scope no rule allows', () => {
    refusedWith(
      decide([shop], { audiences: ['payments'], scopes: ['payments:refund'] }),
      'invalid_scope',
    );
    refusedWith(
      decide([shop], { audiences: ['payments'], scopes: ['payments:read', 'admin'] }),
      'invalid_scope',
    );
  });

  it('grants no scope when none is requested (client credentials)', () => {
    assert.deepEqual(granted(decide([shop], { audiences: ['payments'] })).scopes, []);
  });

  it('allows a scope only when every requested audience allows it', () => {
    const p = policy('p', [
      { name: 'pay', clients: [ORDERS], audiences: ['payments'], scopes: ['read', 'charge'] },
      { name: 'ship', clients: [ORDERS], audiences: ['shipping'], scopes: ['read', 'ship'] },
    ]);
    const both = ['payments', 'shipping'];
    assert.deepEqual(granted(decide([p], { audiences: both, scopes: ['read'] })).scopes, ['read']);
    refusedWith(decide([p], { audiences: both, scopes: ['charge'] }), 'invalid_scope');
    refusedWith(decide([p], { audiences: both, scopes: ['ship'] }), 'invalid_scope');
    granted(decide([p], { audiences: ['payments'], scopes: ['charge'] }));
  });

  it('unites the scopes of every rule granting the same audience', () => {
    const p = policy('p', [
      { name: 'a', clients: [ORDERS], audiences: ['payments'], scopes: ['read'] },
      {
        name: 'b',
        clients: ['spiffe://example.org/*'],
        audiences: ['payments'],
        scopes: ['charge'],
      },
    ]);
    assert.deepEqual(
      granted(decide([p], { audiences: ['payments'], scopes: ['read', 'charge'] })).scopes,
      ['read', 'charge'],
    );
  });

  it('limits the lifetime to the smallest, over the audiences, of the largest maxTtl granting it', () => {
    const p = policy('p', [
      { name: 'pay-short', clients: [ORDERS], audiences: ['payments'], maxTtl: '2m' },
      { name: 'pay-long', clients: ['*'], audiences: ['payments'], maxTtl: '30m' },
      { name: 'ship', clients: [ORDERS], audiences: ['shipping'], maxTtl: '10m' },
      { name: 'ledger', clients: [ORDERS], audiences: ['ledger'] },
    ]);
    assert.equal(granted(decide([p], { audiences: ['payments'] })).maxTtlMs, 30 * MIN);
    assert.equal(granted(decide([p], { audiences: ['shipping'] })).maxTtlMs, 10 * MIN);
    assert.equal(granted(decide([p], { audiences: ['payments', 'shipping'] })).maxTtlMs, 10 * MIN);
    assert.equal(
      granted(decide([p], { audiences: ['payments', 'shipping', 'ledger'] })).maxTtlMs,
      5 * MIN,
      'maxTtl defaults to 5m',
    );
  });
});

describe('decideTokenGrant: token exchange', () => {
  const exchange = policy('gw', [
    {
      name: 'self-users',
      clients: [GATEWAY],
      grants: ['token-exchange'],
      audiences: ['orders'],
      scopes: ['orders:read', 'orders:write'],
      subjects: { issuers: ['self', IDP], subjects: ['user:*', 'spiffe://example.org/web'] },
    },
  ]);
  const ask = (subject: GrantRequest['subject'], req: Partial<GrantRequest> = {}) =>
    decide([exchange], {
      client: GATEWAY,
      grant: 'token-exchange',
      audiences: ['orders'],
      ...(subject !== undefined && { subject }),
      ...req,
    });
  const user = (issuer: string, sub: string, scopes: readonly string[] = ['orders:read']) => ({
    issuer,
    sub,
    scopes,
  });

  it('grants a subject of an allowed issuer matching a subject pattern', () => {
    granted(ask(user('self', 'user:alice')));
    granted(ask(user(IDP, 'user:bob')));
    granted(ask(user('self', 'spiffe://example.org/web')));
  });

  it('is invalid_grant for an issuer or a subject the rule does not accept', () => {
    refusedWith(ask(user('https://evil.example', 'user:alice')), 'invalid_grant');
    refusedWith(ask(user('https://idp.example/', 'user:alice')), 'invalid_grant');
    refusedWith(ask(user('self', 'admin:alice')), 'invalid_grant');
    refusedWith(ask(user('self', 'spiffe://example.org/web/x')), 'invalid_grant');
  });

  it('matches subjects "*" and exact, and uses only rules whose subjects match', () => {
    const p = policy('p', [
      {
        name: 'idp-any',
        clients: [GATEWAY],
        grants: ['token-exchange'],
        audiences: ['orders'],
        subjects: { issuers: [IDP], subjects: ['*'] },
      },
      {
        name: 'self-alice',
        clients: [GATEWAY],
        grants: ['token-exchange'],
        audiences: ['admin'],
        subjects: { issuers: ['self'], subjects: ['alice'] },
      },
    ]);
    const req = { client: GATEWAY, grant: 'token-exchange' as const };
    granted(decide([p], { ...req, audiences: ['orders'], subject: user(IDP, 'anyone') }));
    granted(decide([p], { ...req, audiences: ['admin'], subject: user('self', 'alice') }));
    refusedWith(
      decide([p], { ...req, audiences: ['admin'], subject: user(IDP, 'alice') }),
      'invalid_target',
    );
    refusedWith(
      decide([p], { ...req, audiences: ['admin'], subject: user('self', 'alicia') }),
      'invalid_grant',
    );
    // With no audience requested, only the applicable rule's audience is the default.
    assert.deepEqual(granted(decide([p], { ...req, subject: user(IDP, 'x') })).audiences, [
      'orders',
    ]);
  });

  it("limits the scopes to the subject token's: asking for more is invalid_scope", () => {
    const d = granted(
      ask(user('self', 'user:alice', ['orders:read', 'orders:write']), {
        scopes: ['orders:write'],
      }),
    );
    assert.deepEqual(d.scopes, ['orders:write']);
    refusedWith(
      ask(user('self', 'user:alice', ['orders:read']), { scopes: ['orders:write'] }),
      'invalid_scope',
    );
    refusedWith(
      ask(user('self', 'user:alice', ['orders:read', 'admin']), { scopes: ['admin'] }),
      'invalid_scope',
    );
  });

  it("defaults to the subject's scopes that the policy allows", () => {
    const d = granted(ask(user(IDP, 'user:alice', ['profile', 'orders:write', 'orders:read'])));
    assert.deepEqual(d.scopes, ['orders:write', 'orders:read']);
    assert.deepEqual(granted(ask(user(IDP, 'user:alice', ['profile']))).scopes, []);
    assert.deepEqual(granted(ask(user(IDP, 'user:alice', []))).scopes, []);
  });
});

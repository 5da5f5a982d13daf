import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { describe, it } from 'node:test';
import { type SigningAlgorithm, SigningKeySet, jwkThumbprint } from './signing-keys.js';

const T0 = Date.UTC(2026, 10, 24);
const S = 1000;
const generate = (alg: SigningAlgorithm): KeyObject =>
  alg === 'ES256'
    ? generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey
    : generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;

describe('SigningKeySet', () => {
  it('publishes the next key before it signs and a retired one until its tokens expire', () => {
    let now = T0;
    const set = new SigningKeySet(
      { alg: 'ES256', activeMs: 60 * S, overlapMs: 10 * S, maxTokenTtlMs: 30 * S },
      generate,
      { now: () => now },
    );
    const a = set.advance();
    assert.deepEqual(
      set.jwks().keys.map((k) => k.kid),
      [a.kid],
    );
    now = T0 + 50 * S;
    assert.equal(set.advance().kid, a.kid);
    const kids = set.jwks().keys.map((k) => k.kid);
    assert.equal(kids.length, 2, 'the next key is published 10 s ahead');
    const b = kids[1] as string;
    now = T0 + 60 * S;
    assert.equal(set.advance().kid, b);
    now = T0 + 89 * S;
    set.advance();
    assert.ok(
      set.jwks().keys.some((k) => k.kid === a.kid),
      'tokens of a may live until 90 s',
    );
    now = T0 + 90 * S;
    set.advance();
    assert.ok(!set.jwks().keys.some((k) => k.kid === a.kid));
  });

  it('publishes RFC 7517 JWKs with use sig, the algorithm and an RFC 7638 kid', () => {
    for (const alg of ['ES256', 'RS256'] as const) {
      const set = new SigningKeySet(
        { alg, activeMs: 60 * S, overlapMs: 10 * S, maxTokenTtlMs: 30 * S },
        generate,
        { now: () => T0 },
      );
      const key = set.advance();
      const [jwk] = set.jwks().keys;
      assert.equal(jwk?.use, 'sig');
      assert.equal(jwk?.alg, alg);
      assert.equal(jwk?.kid, key.kid);
      assert.equal(
        jwk?.kid,
        jwkThumbprint(createPublicKey(key.privateKey).export({ format: 'jwk' })),
      );
      assert.ok(!('d' in (jwk ?? {})), 'no private member');
      assert.equal(jwk?.kty, alg === 'ES256' ? 'EC' : 'RSA');
    }
  });

  it('refuses an overlap as long as the active period', () => {
    assert.throws(
      () =>
        new SigningKeySet(
          { alg: 'ES256', activeMs: 10, overlapMs: 10, maxTokenTtlMs: 1 },
          generate,
          {
            now: () => T0,
          },
        ),
      RangeError,
    );
  });
});

import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { describe, it } from 'node:test';
import { parseJwks } from './parse-jwks.js';

const pub = (pair: { publicKey: { export(o: { format: 'jwk' }): object } }) =>
  pair.publicKey.export({ format: 'jwk' }) as Record<string, unknown>;

describe('parseJwks', () => {
  const ec = pub(generateKeyPairSync('ec', { namedCurve: 'P-256' }));
  const rsa = pub(generateKeyPairSync('rsa', { modulusLength: 2048 }));
  const ed = pub(generateKeyPairSync('ed25519'));

  it('keeps the signing keys Parley verifies with and leaves the others out', () => {
    const small = pub(generateKeyPairSync('rsa', { modulusLength: 1024 }));
    const p521 = pub(generateKeyPairSync('ec', { namedCurve: 'P-521' }));
    const r = parseJwks(
      JSON.stringify({
        keys: [
          { ...ec, kid: 'a', use: 'sig', alg: 'ES256', x5c: ['ignored'] },
          { ...rsa, kid: 'b' },
          ed,
          { ...ec, use: 'enc' },
          { ...ec, alg: 'ES384' },
          small,
          p521,
          { kty: 'oct-ish' },
          'not a key',
          { ...ec, x: 'AAAA' },
        ],
      }),
    );
    assert.ok(r.ok, r.ok ? '' : r.reason);
    assert.equal(r.skipped, 7);
    assert.deepEqual(r.keys, [
      { kid: 'a', alg: 'ES256', kty: 'EC', crv: 'P-256', x: ec['x'], y: ec['y'] },
      { kid: 'b', kty: 'RSA', n: rsa['n'], e: rsa['e'] },
      { kty: 'OKP', crv: 'Ed25519', x: ed['x'] },
    ]);
  });

  it('refuses private keys without quoting them, and documents without usable keys', () => {
    const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const priv = pair.privateKey.export({ format: 'jwk' });
    const r = parseJwks(JSON.stringify({ keys: [ec, priv] }));
    assert.deepEqual(r, { ok: false, reason: 'keys[1] of the JWKS holds private key material' });
    const hmac = parseJwks('{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}');
    assert.deepEqual(hmac, { ok: false, reason: 'keys[0] of the JWKS holds private key material' });
    assert.deepEqual(parseJwks('{"keys":[]}'), {
      ok: false,
      reason: 'the JWKS holds no usable signing key',
    });
    assert.deepEqual(parseJwks('{"kyes":[]}'), {
      ok: false,
      reason: 'the JWKS is not a JSON object with a "keys" list',
    });
    const bad = parseJwks('{"keys": [');
    assert.ok(!bad.ok && bad.reason.startsWith('the JWKS is not valid JSON'));
  });
});

import assert from 'node:assert/strict';
import { type KeyObject, createHmac, generateKeyPairSync, sign } from 'node:crypto';
import { describe, it } from 'node:test';
import { encodeBase64Url } from '@parley/core';
import { type SigningAlgorithm, type SigningKey, publishedJwk } from '../keys/signing-keys.js';
import { mintAccessToken, verifyAccessToken } from './access-token.js';

const T0 = Date.UTC(2026, 10, 24);
const ISSUER = 'https://localhost:8443';
function keys(alg: SigningAlgorithm) {
  const { privateKey, publicKey } =
    alg === 'ES256'
      ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = publishedJwk(publicKey, alg);
  const key: SigningKey & { privateKey: KeyObject } = {
    kid: jwk.kid,
    alg,
    activeFrom: T0,
    activeUntil: T0 + 3_600_000,
    privateKey,
    sign: async (input) =>
      alg === 'ES256'
        ? sign('sha256', input, { key: privateKey, dsaEncoding: 'ieee-p1363' })
        : sign('sha256', input, privateKey),
  };
  return { key, jwks: [jwk] };
}

const claims = {
  iss: ISSUER,
  sub: 'spiffe://example.org/orders',
  aud: ['payments'],
  clientId: 'spiffe://example.org/orders',
  scope: ['payments:write'],
  issuedAt: T0,
  expiresAt: T0 + 300_000,
};
const expected = { issuer: ISSUER, audience: 'payments', now: T0 + 1000 };

/** A token with the given header and claims, signed by `key` as ES256 (or not at all). */
function forge(header: object, body: object, signer?: (input: string) => Buffer): string {
  const input = `${encodeBase64Url(JSON.stringify(header))}.${encodeBase64Url(JSON.stringify(body))}`;
  return `${input}.${signer === undefined ? '' : encodeBase64Url(signer(input))}`;
}

describe('RFC 9068 access tokens', () => {
  for (const alg of ['ES256', 'RS256'] as const) {
    it(`mints and verifies with ${alg}, with certificate binding and an actor`, async () => {
      const { key, jwks } = keys(alg);
      const minted = await mintAccessToken(key, {
        ...claims,
        x5tS256: 'abc',
        act: { sub: 'spiffe://example.org/gateway' },
      });
      const r = verifyAccessToken(minted.token, jwks, expected);
      assert.ok(r.ok, r.ok ? '' : r.reason);
      assert.equal(r.claims.get('jti'), minted.jti);
      assert.equal(r.claims.get('scope'), 'payments:write');
      assert.equal(r.claims.get('client_id'), claims.clientId);
      assert.deepEqual(
        JSON.parse(Buffer.from(minted.token.split('.')[0] as string, 'base64url').toString()),
        {
          alg,
          kid: key.kid,
          typ: 'at+jwt',
        },
      );
    });
  }

  it('refuses expired, future-dated, wrong-issuer and wrong-audience tokens', async () => {
    const { key, jwks } = keys('ES256');
    const { token } = await mintAccessToken(key, claims);
    assert.match(
      String(verifyAccessToken(token, jwks, { ...expected, now: T0 + 300_000 }).ok),
      /false/,
    );
    assert.equal(verifyAccessToken(token, jwks, { ...expected, now: T0 - 120_000 }).ok, false);
    assert.equal(verifyAccessToken(token, jwks, { ...expected, issuer: 'https://evil' }).ok, false);
    assert.equal(verifyAccessToken(token, jwks, { ...expected, audience: 'other' }).ok, false);
  });

  it('refuses RFC 8725 attacks: alg none, HS/RS confusion, key-carrying headers, crit, wrong typ', () => {
    const { key, jwks } = keys('ES256');
    const rsa = keys('RS256');
    const body = {
      iss: ISSUER,
      sub: claims.sub,
      aud: 'payments',
      exp: Math.floor(T0 / 1000) + 300,
      iat: Math.floor(T0 / 1000),
      jti: 'x',
      client_id: claims.sub,
      scope: 's',
    };
    const es256 = (input: string) =>
      sign('sha256', Buffer.from(input), { key: key.privateKey, dsaEncoding: 'ieee-p1363' });
    const good = forge({ alg: 'ES256', kid: key.kid, typ: 'at+jwt' }, body, es256);
    assert.ok(verifyAccessToken(good, jwks, expected).ok);
    const publicPem = rsa.jwks[0] === undefined ? '' : JSON.stringify(rsa.jwks[0]);
    const cases: [string, string][] = [
      ['alg none', forge({ alg: 'none', kid: key.kid, typ: 'at+jwt' }, body)],
      ['alg NoNe', forge({ alg: 'NoNe', kid: key.kid, typ: 'at+jwt' }, body)],
      [
        'HS256 with the public key as secret',
        forge({ alg: 'HS256', kid: rsa.key.kid, typ: 'at+jwt' }, body, (i) =>
          createHmac('sha256', publicPem).update(i).digest(),
        ),
      ],
      [
        'RS256 claimed for an EC key',
        forge({ alg: 'RS256', kid: key.kid, typ: 'at+jwt' }, body, es256),
      ],
      [
        'jku',
        forge({ alg: 'ES256', kid: key.kid, typ: 'at+jwt', jku: 'https://evil/jwks' }, body, es256),
      ],
      [
        'x5u',
        forge({ alg: 'ES256', kid: key.kid, typ: 'at+jwt', x5u: 'https://evil/c' }, body, es256),
      ],
      [
        'jwk',
        forge({ alg: 'ES256', kid: key.kid, typ: 'at+jwt', jwk: { kty: 'EC' } }, body, es256),
      ],
      ['crit', forge({ alg: 'ES256', kid: key.kid, typ: 'at+jwt', crit: ['exp'] }, body, es256)],
      [
        'typ JWT (an ID token or a JWT-SVID)',
        forge({ alg: 'ES256', kid: key.kid, typ: 'JWT' }, body, es256),
      ],
      ['no typ', forge({ alg: 'ES256', kid: key.kid }, body, es256)],
      ['unknown kid', forge({ alg: 'ES256', kid: 'nope', typ: 'at+jwt' }, body, es256)],
      [
        'tampered claims',
        `${good.split('.')[0]}.${encodeBase64Url(JSON.stringify({ ...body, scope: 'admin' }))}.${good.split('.')[2]}`,
      ],
      ['oversized', `${'a'.repeat(9000)}.b.c`],
      [
        'deeply nested',
        forge(
          { alg: 'ES256', kid: key.kid, typ: 'at+jwt' },
          JSON.parse('['.repeat(300) + ']'.repeat(300)) as object,
          es256,
        ),
      ],
      ['two parts', 'a.b'],
    ];
    for (const [what, token] of cases) {
      assert.equal(verifyAccessToken(token, [...jwks, ...rsa.jwks], expected).ok, false, what);
    }
  });
});

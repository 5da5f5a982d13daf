import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fixedClock } from '@parley/core';
import { mintTestJwt, testSigningKey } from './jwt-test-fixtures.js';
import {
  type EndUserJwtIssuer,
  JWT_CLOCK_SKEW_SECONDS,
  verifyEndUserJwt,
} from './verify-end-user-jwt.js';

const NOW = 1_800_000_000; // seconds
const clock = fixedClock(NOW * 1000);
const ISS = 'https://tokens.example.org';
const es256 = testSigningKey('ES256', 'es-1');
const es384 = testSigningKey('ES384', 'es-2');
const rsa = testSigningKey('RS256', 'rsa-1');
const pss = testSigningKey('PS256');
const ed = testSigningKey('EdDSA');

const issuer = (over: Partial<EndUserJwtIssuer> = {}): EndUserJwtIssuer => ({
  issuer: ISS,
  audiences: ['orders'],
  keys: [es256.jwk, es384.jwk, rsa.jwk, pss.jwk, ed.jwk],
  ...over,
});
const claims = (over: Record<string, unknown> = {}) => ({
  iss: ISS,
  sub: 'alice',
  aud: 'orders',
  exp: NOW + 600,
  ...over,
});
const verify = (token: string, issuers = [issuer()]) => verifyEndUserJwt(token, issuers, clock);
/** 'ok', or the reason of a refusal (and its status when Envoy answers 403 rather than 401). */
const reason = (token: string, issuers = [issuer()]) => {
  const r = verify(token, issuers);
  return r.ok ? 'ok' : r.status === 401 ? r.reason : `${r.status} ${r.reason}`;
};

describe('verifyEndUserJwt', () => {
  it('verifies tokens of every supported algorithm and returns their claims', () => {
    for (const key of [es256, es384, rsa, pss, ed]) {
      const r = verify(mintTestJwt(key, claims({ realm: { roles: ['admin'] }, n: 7 })));
      assert.ok(r.ok, `${key.alg}: ${r.ok ? '' : r.reason}`);
      assert.equal(r.jwt.algorithm, key.alg);
      assert.equal(r.jwt.issuer, ISS);
      assert.equal(r.jwt.subject, 'alice');
      assert.deepEqual(r.jwt.audiences, ['orders']);
      assert.equal(r.jwt.expiresAt, (NOW + 600) * 1000);
      assert.deepEqual(r.jwt.claims['realm'], { roles: ['admin'] });
      assert.equal(r.jwt.claims['n'], 7);
    }
  });

  it('picks the issuer by exact iss', () => {
    const other = issuer({ issuer: 'https://other.example', keys: [rsa.jwk] });
    assert.equal(reason(mintTestJwt(es256, claims()), [other, issuer()]), 'ok');
    assert.equal(
      reason(mintTestJwt(es256, claims({ iss: `${ISS}/` }))),
      'token issuer "https://tokens.example.org/" is not configured',
    );
    assert.equal(reason(mintTestJwt(es256, claims({ iss: undefined }))), 'token has no iss claim');
    assert.equal(
      reason(mintTestJwt(es256, claims()), [other]),
      'token issuer "https://tokens.example.org" is not configured',
    );
  });

  it('checks the audience as Envoy does, and not at all when none is configured', () => {
    const t = (aud: unknown) => reason(mintTestJwt(es256, claims({ aud })));
    assert.equal(t(['x', 'orders']), 'ok');
    assert.equal(t('https://orders/'), 'ok');
    assert.equal(t('http://orders'), 'ok');
    assert.equal(t('orders/'), 'ok');
    assert.equal(t('ord'), '403 token audience is not allowed');
    assert.equal(t([]), '403 token audience is not allowed');
    assert.equal(t(undefined), '403 token audience is not allowed');
    const any = [issuer({ audiences: [] })];
    assert.equal(reason(mintTestJwt(es256, claims({ aud: undefined })), any), 'ok');
    assert.equal(reason(mintTestJwt(es256, claims({ aud: 'other' })), any), 'ok');
  });

  it('requires exp and checks exp and nbf with the clock skew', () => {
    const skew = JWT_CLOCK_SKEW_SECONDS;
    const t = (over: Record<string, unknown>) => reason(mintTestJwt(es256, claims(over)));
    assert.equal(t({ exp: undefined }), 'token has no exp claim');
    assert.equal(t({ exp: NOW - skew }), 'ok');
    assert.equal(t({ exp: NOW - skew - 1 }), 'token has expired');
    assert.equal(t({ nbf: NOW + skew }), 'ok');
    assert.equal(t({ nbf: NOW + skew + 1 }), 'token is not yet valid');
    assert.equal(t({ exp: 'tomorrow' }), 'token exp is not a non-negative integer');
    assert.equal(t({ nbf: -1 }), 'token nbf is not a non-negative integer');
    assert.equal(t({ iat: 1.5 }), 'token iat is not a non-negative integer');
  });

  it('takes the algorithm from the key: kid, the key alg and its type must fit', () => {
    assert.equal(
      reason(mintTestJwt(es256, claims(), { kid: 'rsa-1' })),
      'no key of the issuer fits the token (alg ES256, kid "rsa-1")',
    );
    // Without kid, every key of the right type is tried.
    assert.equal(reason(mintTestJwt(es256, claims(), { kid: undefined })), 'ok');
    // An ES384 header over an ES256 signature meets only the P-384 key.
    assert.equal(
      reason(mintTestJwt({ ...es256, alg: 'ES384' }, claims(), { kid: undefined })),
      'token signature does not verify',
    );
    // An RSA key never verifies an EC or EdDSA token, whatever the header says.
    const rsaOnly = [issuer({ keys: [rsa.jwk] })];
    assert.match(reason(mintTestJwt(es256, claims(), { kid: undefined }), rsaOnly), /no key/);
    const restricted = [issuer({ keys: [{ ...rsa.jwk, alg: 'PS256' }] })];
    assert.match(reason(mintTestJwt(rsa, claims()), restricted), /no key of the issuer fits/);
    for (const alg of ['none', 'HS256', 'ES512', 7]) {
      assert.match(
        reason(mintTestJwt(es256, claims(), { alg })),
        /^token algorithm is not supported/,
      );
    }
  });

  it('refuses a bad signature and a malformed token', () => {
    const good = mintTestJwt(es256, claims());
    const [h, p, s] = good.split('.') as [string, string, string];
    const forged = Buffer.from(JSON.stringify(claims({ sub: 'mallory' }))).toString('base64url');
    assert.equal(reason(`${h}.${forged}.${s}`), 'token signature does not verify');
    const otherKey = { ...testSigningKey('ES256', 'es-1') };
    assert.equal(reason(mintTestJwt(otherKey, claims())), 'token signature does not verify');
    assert.equal(reason(`${h}.${p}`), 'token is not a compact JWS (header.payload.signature)');
    assert.equal(reason(`${h}.${p}.${s}=`), 'token is not valid base64url');
    const short = Buffer.from(s, 'base64url').subarray(0, 60).toString('base64url');
    assert.equal(reason(`${h}.${p}.${short}`), 'token signature does not verify');
    const notJson = Buffer.from('{"alg":').toString('base64url');
    assert.match(reason(`${notJson}.${p}.${s}`), /^token is malformed: invalid JSON/);
    const list = Buffer.from('[1]').toString('base64url');
    assert.equal(reason(`${h}.${list}.${s}`), 'token header and payload must be JSON objects');
    assert.equal(
      reason(mintTestJwt(es256, claims({ aud: 3 }))),
      'token aud is not a string or a list of strings',
    );
    assert.equal(reason(mintTestJwt(es256, claims({ sub: 3 }))), 'token sub is not a string');
    assert.equal(reason(mintTestJwt(es256, claims(), { kid: 3 })), 'token kid is not a string');
    assert.equal(reason('a'.repeat(20_000)), 'token exceeds 16384 characters');
  });

  it('never puts the token or its signature in a reason', () => {
    const token = mintTestJwt(es256, claims({ exp: NOW - 1000 }));
    const r = verify(token);
    assert.ok(!r.ok);
    for (const part of token.split('.')) assert.ok(!r.reason.includes(part));
  });

  it('keeps claims named like Object.prototype members as plain data', () => {
    const token = mintTestJwt(es256, { ...claims(), ['__proto__']: { polluted: true } });
    const r = verify(token);
    assert.ok(r.ok);
    assert.deepEqual(Object.getPrototypeOf(r.jwt.claims), Object.prototype);
    assert.equal((r.jwt.claims as { polluted?: boolean }).polluted, undefined);
  });
});

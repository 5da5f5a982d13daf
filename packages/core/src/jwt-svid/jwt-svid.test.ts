import assert from 'node:assert/strict';
import { type KeyObject, constants, generateKeyPairSync, sign, verify } from 'node:crypto';
import { describe, it } from 'node:test';
import type { Bundle } from '../bundle/bundle.js';
import { bundleSet } from '../bundle/bundle.js';
import { fixedClock } from '../clock.js';
import { durationMs } from '../config/duration.js';
import { type KeyType, generateKey, keyObjectSigner } from '../crypto/signer.js';
import { isParleyError } from '../errors.js';
import { JsonNumber } from '../json/parse-json.js';
import { parseSpiffeId } from '../spiffe-id/spiffe-id.js';
import { parseTrustDomain } from '../spiffe-id/trust-domain.js';
import { type JwsAlgorithm, ecdsaDerToJose, isJwsAlgorithm } from './algorithms.js';
import { decodeBase64Url, encodeBase64Url } from './base64url.js';
import { type JwtAuthority, JwtSvidMinter } from './mint.js';
import {
  FUTURE_LEEWAY_MS,
  MAX_JWT_SVID_LENGTH,
  type JwtSvidResult,
  verifyJwtSvid,
} from './verify.js';

const TD = parseTrustDomain('example.org');
const SUBJECT = parseSpiffeId('spiffe://example.org/ns/prod/sa/web');
const NOW = Date.UTC(2030, 0, 1, 12, 0, 0); // whole seconds
const NOW_S = NOW / 1000;
const clock = fixedClock(NOW);
const HOUR = 3_600_000;

interface TestKey {
  readonly type: KeyType;
  readonly alg: JwsAlgorithm;
  readonly kid: string;
  readonly privateKey: KeyObject;
  readonly authority: JwtAuthority;
}

function testKey(type: KeyType, alg: JwsAlgorithm, kid: string): TestKey {
  const privateKey = generateKey(type);
  return {
    type,
    alg,
    kid,
    privateKey,
    authority: { signer: keyObjectSigner(privateKey), keyId: kid },
  };
}

const keys: readonly TestKey[] = [
  testKey('ec-p256', 'ES256', 'es256-key'),
  testKey('ec-p384', 'ES384', 'es384-key'),
  testKey('rsa-2048', 'RS256', 'rs256-key'),
];
const [es256, es384, rs256] = keys as [TestKey, TestKey, TestKey];

const bundle: Bundle = {
  trustDomain: TD,
  x509Authorities: [],
  jwtAuthorities: new Map(keys.map((k) => [k.kid, k.authority.signer.publicKey])),
};
const bundles = bundleSet(bundle);

function reason(result: JwtSvidResult): string {
  assert.equal(result.ok, false, 'expected a rejection');
  return result.ok ? '' : result.reason;
}

function decodePart(part: string | undefined): Record<string, unknown> {
  return JSON.parse(Buffer.from(part ?? '', 'base64url').toString('utf8')) as Record<
    string,
    unknown
  >;
}

const HASH: Record<string, string> = { '256': 'sha256', '384': 'sha384', '512': 'sha512' };

/** Signs arbitrary header and claims with node:crypto, independently of the minter. */
function craft(key: TestKey, header: object, claims: object, alg: string = key.alg): string {
  const input = `${encodeBase64Url(JSON.stringify(header))}.${encodeBase64Url(JSON.stringify(claims))}`;
  const hash = HASH[alg.slice(2)] ?? 'sha256';
  const sig = alg.startsWith('ES')
    ? sign(hash, Buffer.from(input), { key: key.privateKey, dsaEncoding: 'ieee-p1363' })
    : alg.startsWith('PS')
      ? sign(hash, Buffer.from(input), {
          key: key.privateKey,
          padding: constants.RSA_PKCS1_PSS_PADDING,
          saltLength: constants.RSA_PSS_SALTLEN_DIGEST,
        })
      : sign(hash, Buffer.from(input), key.privateKey);
  return `${input}.${encodeBase64Url(sig)}`;
}

const validClaims = (extra: object = {}) => ({
  sub: SUBJECT.toString(),
  aud: 'spire',
  exp: NOW_S + 3600,
  iat: NOW_S,
  ...extra,
});

function mint(key: TestKey, audience: string[] = ['spire'], ttl = HOUR, at = clock) {
  return new JwtSvidMinter(key.authority, at).mint({
    spiffeId: SUBJECT,
    audience,
    ttl: durationMs(ttl),
  });
}

describe('JwtSvidMinter and verifyJwtSvid', () => {
  for (const key of keys) {
    it(`mints ${key.alg} tokens that verify, and that node:crypto verifies independently`, async () => {
      const minted = await mint(key, ['spire', 'web']);
      const [h, c, s] = minted.token.split('.');
      assert.deepEqual(decodePart(h), { alg: key.alg, kid: key.kid, typ: 'JWT' });
      assert.deepEqual(decodePart(c), {
        aud: ['spire', 'web'],
        exp: NOW_S + 3600,
        iat: NOW_S,
        sub: 'spiffe://example.org/ns/prod/sa/web',
      });
      assert.equal(minted.expiresAt, NOW + HOUR);
      assert.equal(minted.issuedAt, NOW);

      const sig = Buffer.from(s ?? '', 'base64url');
      const hash = HASH[key.alg.slice(2)] ?? '';
      const data = Buffer.from(`${h}.${c}`);
      const publicKey = key.authority.signer.publicKey;
      if (key.alg.startsWith('ES')) {
        assert.equal(sig.length, key.alg === 'ES256' ? 64 : 96);
        assert.ok(verify(hash, data, { key: publicKey, dsaEncoding: 'ieee-p1363' }, sig));
      } else {
        assert.equal(sig.length, 256);
        assert.ok(verify(hash, data, publicKey, sig));
      }

      const result = verifyJwtSvid(minted.token, bundles, ['web'], clock);
      assert.ok(result.ok, result.ok ? '' : result.reason);
      assert.ok(result.svid.spiffeId.equals(SUBJECT));
      assert.deepEqual(result.svid.audience, ['spire', 'web']);
      assert.equal(result.svid.expiresAt, NOW + HOUR);
      assert.equal(result.svid.keyId, key.kid);
      const iat = result.svid.claims.get('iat');
      assert.ok(iat instanceof JsonNumber && iat.text === String(NOW_S));
    });
  }

  it('writes a single audience as a string, and matches any expected audience', async () => {
    const { token } = await mint(es256, ['spire']);
    assert.equal(decodePart(token.split('.')[1]).aud, 'spire');
    assert.ok(verifyJwtSvid(token, bundles, ['other', 'spire'], clock).ok);
    const mismatch = verifyJwtSvid(token, bundles, ['other'], clock);
    assert.equal(reason(mismatch), 'expected audience in ["other"] (audience=["spire"])');
    assert.match(reason(verifyJwtSvid(token, bundles, [], clock)), /expected audience/);
    assert.match(reason(verifyJwtSvid(token, bundles, ['SPIRE'], clock)), /expected audience/);
  });

  it('refuses to mint without a non-empty audience', async () => {
    for (const audience of [[], [''], ['a', '']]) {
      await assert.rejects(mint(es256, audience), (err) => isParleyError(err, 'invalid-argument'));
    }
  });

  it('expires exactly at exp (valid 1 ms before)', async () => {
    const { token, expiresAt } = await mint(es256, ['spire'], HOUR);
    assert.equal(expiresAt, NOW + HOUR);
    assert.ok(verifyJwtSvid(token, bundles, ['spire'], fixedClock(expiresAt - 1)).ok);
    assert.equal(
      reason(verifyJwtSvid(token, bundles, ['spire'], fixedClock(expiresAt))),
      'token has expired',
    );
    assert.equal(
      reason(verifyJwtSvid(token, bundles, ['spire'], fixedClock(expiresAt + HOUR))),
      'token has expired',
    );
  });

  it('rounds the lifetime down to whole seconds, but to at least one', async () => {
    assert.equal((await mint(es256, ['a'], 1500)).expiresAt, NOW + 1000);
    assert.equal((await mint(es256, ['a'], 1)).expiresAt, NOW + 1000);
    assert.equal((await mint(es256, ['a'], 0)).expiresAt, NOW + 1000);
    const offSecond = await mint(es256, ['a'], HOUR, fixedClock(NOW + 999));
    assert.equal(offSecond.issuedAt, NOW);
    assert.equal(offSecond.expiresAt, NOW + HOUR);
  });

  it('never lets a token outlive its authority', async () => {
    const notAfter = NOW + 10 * 60_000 + 500;
    const authority: JwtAuthority = { ...es256.authority, notAfter };
    const minted = await new JwtSvidMinter(authority, clock).mint({
      spiffeId: SUBJECT,
      audience: ['spire'],
      ttl: durationMs(HOUR),
    });
    assert.equal(minted.expiresAt, NOW + 10 * 60_000);
    assert.equal(decodePart(minted.token.split('.')[1]).exp, NOW_S + 600);
    for (const at of [NOW + 10 * 60_000, notAfter, NOW + HOUR]) {
      await assert.rejects(
        new JwtSvidMinter(authority, fixedClock(at)).mint({
          spiffeId: SUBJECT,
          audience: ['spire'],
          ttl: durationMs(HOUR),
        }),
        (err) => isParleyError(err, 'invalid-argument'),
      );
    }
    // Less than a second of authority left is no lifetime at all.
    await assert.rejects(
      new JwtSvidMinter({ ...es256.authority, notAfter: NOW + 999 }, clock).mint({
        spiffeId: SUBJECT,
        audience: ['spire'],
        ttl: durationMs(HOUR),
      }),
      (err) => isParleyError(err, 'invalid-argument'),
    );
  });

  it(`accepts nbf and iat up to ${FUTURE_LEEWAY_MS} ms in the future, not beyond`, () => {
    const leeway = FUTURE_LEEWAY_MS / 1000;
    for (const claim of ['nbf', 'iat'] as const) {
      const within = craft(
        es256,
        { alg: 'ES256', kid: es256.kid },
        validClaims({ [claim]: NOW_S + leeway }),
      );
      assert.ok(verifyJwtSvid(within, bundles, ['spire'], clock).ok, claim);
      const beyond = craft(
        es256,
        { alg: 'ES256', kid: es256.kid },
        validClaims({ [claim]: NOW_S + leeway + 1 }),
      );
      assert.equal(
        reason(verifyJwtSvid(beyond, bundles, ['spire'], clock)),
        claim === 'nbf' ? 'token is not yet valid' : 'token issued in the future',
      );
      // A millisecond later the same token is within the leeway.
      assert.ok(verifyJwtSvid(beyond, bundles, ['spire'], fixedClock(NOW + 1000)).ok);
      assert.ok(!verifyJwtSvid(beyond, bundles, ['spire'], fixedClock(NOW + 999)).ok);
      const past = craft(
        es256,
        { alg: 'ES256', kid: es256.kid },
        validClaims({ [claim]: NOW_S - 3600 }),
      );
      assert.ok(verifyJwtSvid(past, bundles, ['spire'], clock).ok);
      const bad = craft(
        es256,
        { alg: 'ES256', kid: es256.kid },
        validClaims({ [claim]: String(NOW_S) }),
      );
      assert.equal(
        reason(verifyJwtSvid(bad, bundles, ['spire'], clock)),
        `token has an invalid ${claim} claim`,
      );
    }
  });

  it('rejects a tampered payload or signature', async () => {
    const { token } = await mint(es256);
    const [h, c, s] = token.split('.') as [string, string, string];
    const otherClaims = encodeBase64Url(
      JSON.stringify({ ...decodePart(c), sub: 'spiffe://example.org/admin' }),
    );
    assert.equal(
      reason(verifyJwtSvid(`${h}.${otherClaims}.${s}`, bundles, ['spire'], clock)),
      'unable to verify token signature',
    );
    const laterExp = encodeBase64Url(JSON.stringify({ ...decodePart(c), exp: NOW_S + 7200 }));
    assert.equal(
      reason(verifyJwtSvid(`${h}.${laterExp}.${s}`, bundles, ['spire'], clock)),
      'unable to verify token signature',
    );
    const sig = Buffer.from(s, 'base64url');
    sig[10] = (sig[10] ?? 0) ^ 1;
    assert.equal(
      reason(verifyJwtSvid(`${h}.${c}.${encodeBase64Url(sig)}`, bundles, ['spire'], clock)),
      'unable to verify token signature',
    );
    assert.equal(
      reason(verifyJwtSvid(`${h}.${c}.`, bundles, ['spire'], clock)),
      'unable to verify token signature',
    );
    // The same signature in DER form is not a JWS ECDSA signature.
    const der = sign('sha256', Buffer.from(`${h}.${c}`), es256.privateKey);
    assert.equal(
      reason(verifyJwtSvid(`${h}.${c}.${encodeBase64Url(der)}`, bundles, ['spire'], clock)),
      'unable to verify token signature',
    );
  });

  it('rejects an unknown kid, a missing kid and a trust domain without a bundle', async () => {
    const unknown = craft(es256, { alg: 'ES256', kid: 'nope' }, validClaims());
    assert.equal(
      reason(verifyJwtSvid(unknown, bundles, ['spire'], clock)),
      'no JWT authority "nope" found for trust domain "example.org"',
    );
    const noKid = craft(es256, { alg: 'ES256' }, validClaims());
    assert.equal(
      reason(verifyJwtSvid(noKid, bundles, ['spire'], clock)),
      'token header missing key id',
    );
    const emptyKid = craft(es256, { alg: 'ES256', kid: '' }, validClaims());
    assert.equal(
      reason(verifyJwtSvid(emptyKid, bundles, ['spire'], clock)),
      'token header missing key id',
    );
    const otherTd = craft(
      es256,
      { alg: 'ES256', kid: es256.kid },
      validClaims({ sub: 'spiffe://other.org/w' }),
    );
    assert.equal(
      reason(verifyJwtSvid(otherTd, bundles, ['spire'], clock)),
      'no bundle found for trust domain "other.org"',
    );
    const { token } = await mint(es256);
    assert.match(reason(verifyJwtSvid(token, bundleSet(), ['spire'], clock)), /no bundle found/);
  });

  it('requires the key to suit the algorithm', () => {
    // ES384 header, but the kid names the P-256 key (and the token is signed by the P-384 key).
    const wrongCurve = craft(es384, { alg: 'ES384', kid: es256.kid }, validClaims());
    assert.equal(
      reason(verifyJwtSvid(wrongCurve, bundles, ['spire'], clock)),
      'key is not suitable for ES384',
    );
    const rsaAsEc = craft(rs256, { alg: 'RS256', kid: es256.kid }, validClaims());
    assert.equal(
      reason(verifyJwtSvid(rsaAsEc, bundles, ['spire'], clock)),
      'key is not suitable for RS256',
    );
    // RS384/RS512/PS256 with the RSA key are accepted (JWT-SVID §2.1).
    for (const alg of ['RS384', 'RS512', 'PS256', 'PS384', 'PS512'] as const) {
      const token = craft(rs256, { alg, kid: rs256.kid }, validClaims(), alg);
      const result = verifyJwtSvid(token, bundles, ['spire'], clock);
      assert.ok(result.ok, `${alg}: ${result.ok ? '' : result.reason}`);
    }
    const es512 = generateKeyPairSync('ec', { namedCurve: 'P-521' });
    const es512Key: TestKey = { ...es256, privateKey: es512.privateKey, kid: 'p521' };
    const withP521 = bundleSet({ ...bundle, jwtAuthorities: new Map([['p521', es512.publicKey]]) });
    assert.ok(
      verifyJwtSvid(
        craft(es512Key, { alg: 'ES512', kid: 'p521' }, validClaims(), 'ES512'),
        withP521,
        ['spire'],
        clock,
      ).ok,
    );
  });

  it('rejects disallowed headers and algorithms', () => {
    const k = { alg: 'ES256', kid: es256.kid };
    const cases: [object, RegExp][] = [
      [{ ...k, typ: 'JOSE' }, /^$/],
      [{ ...k, typ: 'at+jwt' }, /header type not allowed/],
      [{ ...k, typ: 5 }, /header type not allowed/],
      [{ ...k, jwk: {} }, /header "jwk" is not allowed/],
      [{ ...k, x5c: [] }, /header "x5c" is not allowed/],
      [{ ...k, crit: ['exp'] }, /header "crit" is not allowed/],
      [{ ...k, alg: 'none' }, /unsupported token signature algorithm/],
      [{ ...k, alg: 'HS256' }, /unsupported token signature algorithm/],
      [{ ...k, alg: 'es256' }, /unsupported token signature algorithm/],
      [{ kid: es256.kid }, /unsupported token signature algorithm/],
    ];
    for (const [header, pattern] of cases) {
      const result = verifyJwtSvid(
        craft(es256, header, validClaims(), 'ES256'),
        bundles,
        ['spire'],
        clock,
      );
      if (pattern.source === '^$') assert.ok(result.ok, JSON.stringify(header));
      else assert.match(reason(result), pattern, JSON.stringify(header));
    }
    for (const alg of ['none', 'HS256', 'EdDSA', 'constructor', '__proto__', 5])
      assert.equal(isJwsAlgorithm(alg), false);
    for (const alg of ['RS256', 'ES384', 'PS512']) assert.equal(isJwsAlgorithm(alg), true);
  });

  it('checks the claims', () => {
    const header = { alg: 'ES256', kid: es256.kid };
    const cases: [object, RegExp][] = [
      [{ sub: undefined }, /missing subject claim/],
      [{ sub: 5 }, /missing subject claim/],
      [
        { sub: 'spiffe://example.org/a/' },
        /invalid subject claim: path cannot have a trailing slash/,
      ],
      [{ sub: 'https://example.org/a' }, /invalid subject claim/],
      [{ exp: undefined }, /missing exp claim/],
      [{ exp: String(NOW_S + 60) }, /invalid exp claim/],
      [{ exp: -1 }, /invalid exp claim/],
      [{ exp: NOW_S }, /token has expired/],
      [{ aud: undefined }, /missing audience claim/],
      [{ aud: [] }, /missing audience claim/],
      [{ aud: ['spire', 5] }, /missing audience claim/],
      [{ aud: { spire: true } }, /missing audience claim/],
    ];
    for (const [claims, pattern] of cases) {
      const token = craft(es256, header, validClaims(claims));
      assert.match(
        reason(verifyJwtSvid(token, bundles, ['spire'], clock)),
        pattern,
        JSON.stringify(claims),
      );
    }
    const fractional = craft(es256, header, validClaims({ exp: NOW_S + 0.5 }));
    assert.ok(verifyJwtSvid(fractional, bundles, ['spire'], fixedClock(NOW + 499)).ok);
    assert.ok(!verifyJwtSvid(fractional, bundles, ['spire'], fixedClock(NOW + 500)).ok);
  });

  it('rejects malformed tokens', async () => {
    const { token } = await mint(es256);
    const [h, c, s] = token.split('.') as [string, string, string];
    const enc = (text: string) => Buffer.from(text).toString('base64url');
    const cases: [string, RegExp][] = [
      ['', /not a compact JWS/],
      [`${h}.${c}`, /not a compact JWS/],
      [`${h}.${c}.${s}.x`, /not a compact JWS/],
      [`${h}=.${c}.${s}`, /not valid base64url/],
      [`${h}.${c}.${s}=`, /not valid base64url/],
      [`${h}.${c.replace(/-/g, '+').replace(/_/g, '/')}+.${s}`, /not valid base64url/],
      [`${h}.${c}.${s}!`, /not valid base64url/],
      [`${enc('[]')}.${c}.${s}`, /must be JSON objects/],
      [`${h}.${enc('"x"')}.${s}`, /must be JSON objects/],
      [`${h}.${enc('{"sub":"a","sub":"b"}')}.${s}`, /token is malformed: .*duplicate key/],
      [`${h}.${enc('{')}.${s}`, /token is malformed/],
      [`${h}.${Buffer.from([0x7b, 0xff, 0x7d]).toString('base64url')}.${s}`, /token is malformed/],
      ['a'.repeat(MAX_JWT_SVID_LENGTH + 1), /token exceeds 16384 characters/],
    ];
    for (const [text, pattern] of cases) {
      assert.match(
        reason(verifyJwtSvid(text, bundles, ['spire'], clock)),
        pattern,
        text.slice(0, 60),
      );
    }
  });

  it('bounds what it echoes from the token', () => {
    const longKid = 'k'.repeat(10_000);
    const token = craft(es256, { alg: 'ES256', kid: longKid }, validClaims());
    assert.ok(reason(verifyJwtSvid(token, bundles, ['spire'], clock)).length < 200);
    const longHeader = craft(
      es256,
      { ...{ alg: 'ES256', kid: es256.kid }, ['h'.repeat(5000)]: 1 },
      validClaims(),
    );
    assert.ok(reason(verifyJwtSvid(longHeader, bundles, ['spire'], clock)).length < 200);
  });
});

describe('ecdsaDerToJose', () => {
  const der = (r: number[], s: number[]) =>
    Uint8Array.from([0x30, r.length + s.length + 4, 0x02, r.length, ...r, 0x02, s.length, ...s]);

  it('strips the sign pad and left-pads short integers', () => {
    const r = [0x00, 0x80, ...Array<number>(31).fill(0x11)];
    const jose = ecdsaDerToJose(der(r, [0x01]), 32);
    assert.equal(jose.length, 64);
    assert.deepEqual([...jose.subarray(0, 32)], r.slice(1));
    assert.deepEqual([...jose.subarray(32)], [...Array<number>(31).fill(0), 0x01]);
    // P-384: 49-byte padded integers make the SEQUENCE 102 bytes (still one length octet).
    const r384 = [0x00, 0xff, ...Array<number>(47).fill(0x22)];
    const s384 = [0x7f, ...Array<number>(46).fill(0x33)];
    const jose384 = ecdsaDerToJose(der(r384, s384), 48);
    assert.deepEqual([...jose384.subarray(0, 48)], r384.slice(1));
    assert.deepEqual([...jose384.subarray(48)], [0, ...s384]);
  });

  it('agrees with node:crypto’s IEEE P1363 verification over many signatures', () => {
    for (const [curve, size, hash] of [
      ['P-256', 32, 'sha256'],
      ['P-384', 48, 'sha384'],
      ['P-521', 66, 'sha512'],
    ] as const) {
      const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: curve });
      const count = curve === 'P-256' ? 400 : 50;
      for (let i = 0; i < count; i++) {
        const data = Buffer.from(`message ${i}`);
        const jose = ecdsaDerToJose(sign(hash, data, privateKey), size);
        assert.equal(jose.length, 2 * size);
        assert.ok(
          verify(hash, data, { key: publicKey, dsaEncoding: 'ieee-p1363' }, jose),
          `${curve} #${i}`,
        );
      }
    }
  });
});

describe('base64url', () => {
  it('round-trips and rejects non-canonical or padded text', () => {
    for (let n = 0; n < 20; n++) {
      const bytes = Buffer.from(Array.from({ length: n }, (_, i) => (i * 37 + n) & 0xff));
      const text = encodeBase64Url(bytes);
      assert.ok(!/[=+/]/.test(text));
      assert.ok(decodeBase64Url(text)?.equals(bytes));
    }
    assert.equal(encodeBase64Url('é'), 'w6k');
    for (const bad of ['A', 'AB', 'AAB', 'w6k=', 'w6k==', 'a+b/', 'ab cd', 'ab\n', 'AAAAA']) {
      assert.equal(decodeBase64Url(bad), undefined, bad);
    }
    assert.equal(decodeBase64Url('')?.length, 0);
  });
});

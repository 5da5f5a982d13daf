import assert from 'node:assert/strict';
import {
  type JsonWebKey,
  X509Certificate,
  createPublicKey,
  generateKeyPairSync,
} from 'node:crypto';
import { describe, it } from 'node:test';
import { fixedClock } from '../clock.js';
import { durationMs } from '../config/duration.js';
import { generateKey, keyObjectSigner } from '../crypto/signer.js';
import { isParleyError } from '../errors.js';
import { parseTrustDomain } from '../spiffe-id/trust-domain.js';
import { parseCertificate } from '../x509-svid/certificate.js';
import { mintSelfSignedRoot } from '../x509-svid/mint.js';
import { parseBundleMap, formatBundleMap } from './bundle-map.js';
import { type Bundle, MAX_BUNDLE_BYTES, bundleSet, formatBundle, parseBundle } from './bundle.js';

const TD = parseTrustDomain('example.org');
const OTHER_TD = parseTrustDomain('other.org');
const clock = fixedClock(Date.UTC(2030, 0, 1));
const MAX_UINT64 = 2n ** 64n - 1n;

const rsaSigner = keyObjectSigner(generateKey('rsa-2048'));
const p384Key = keyObjectSigner(generateKey('ec-p384')).publicKey;
const rootSigners = [keyObjectSigner(generateKey('ec-p256')), rsaSigner];
const roots = await Promise.all(
  rootSigners.map(async (signer) =>
    parseCertificate(
      (await mintSelfSignedRoot(signer, { trustDomain: TD, ttl: durationMs(86_400_000) }, clock))
        .der,
    ),
  ),
);
const jwtKeys = new Map([
  ['k-p256', keyObjectSigner(generateKey('ec-p256')).publicKey],
  ['k-p384', p384Key],
  ['k-rsa', rsaSigner.publicKey],
  ['k-ed25519', generateKeyPairSync('ed25519').publicKey],
]);

function fullBundle(extra: Partial<Bundle> = {}): Bundle {
  return {
    trustDomain: TD,
    x509Authorities: roots,
    jwtAuthorities: jwtKeys,
    sequenceNumber: MAX_UINT64,
    refreshHint: 300,
    ...extra,
  };
}

function assertSameBundle(actual: Bundle, expected: Bundle): void {
  assert.equal(actual.trustDomain.name, expected.trustDomain.name);
  assert.deepEqual(
    actual.x509Authorities.map((c) => Buffer.from(c.raw).toString('hex')),
    expected.x509Authorities.map((c) => Buffer.from(c.raw).toString('hex')),
  );
  assert.deepEqual([...actual.jwtAuthorities.keys()], [...expected.jwtAuthorities.keys()]);
  for (const [kid, key] of expected.jwtAuthorities) {
    assert.ok(actual.jwtAuthorities.get(kid)?.equals(key), kid);
  }
  assert.equal(actual.sequenceNumber, expected.sequenceNumber);
  assert.equal(actual.refreshHint, expected.refreshHint);
}

interface JwkEntry extends JsonWebKey {
  use?: string;
  kid?: string;
  x5c?: string[];
}

describe('formatBundle and parseBundle', () => {
  it('round-trip authorities, JWT keys, sequence and refresh hint', () => {
    const bundle = fullBundle();
    const text = formatBundle(bundle);
    assertSameBundle(parseBundle(TD, text), bundle);
    assertSameBundle(parseBundle(TD, Buffer.from(text)), bundle);
    // Formatting is stable.
    assert.equal(formatBundle(parseBundle(TD, text)), text);
  });

  it('writes the sequence number as exact digits, up to 2^64-1', () => {
    for (const seq of [0n, 1n, 2n ** 53n + 1n, MAX_UINT64]) {
      const text = formatBundle(fullBundle({ sequenceNumber: seq }));
      assert.match(text, new RegExp(`"spiffe_sequence":${seq}[,}]`));
      assert.equal(parseBundle(TD, text).sequenceNumber, seq);
    }
  });

  it('omits absent sequence and refresh hint', () => {
    const empty: Bundle = { trustDomain: TD, x509Authorities: [], jwtAuthorities: new Map() };
    const text = formatBundle(empty);
    assert.equal(text, '{"keys":[]}');
    const parsed = parseBundle(TD, text);
    assert.ok(!('sequenceNumber' in parsed));
    assert.ok(!('refreshHint' in parsed));
    assertSameBundle(parsed, empty);
    assert.equal(parseBundle(TD, formatBundle(fullBundle({ refreshHint: 0 }))).refreshHint, 0);
  });

  it('follows the SPIFFE bundle format: x509-svid with one x5c and no kid, jwt-svid with kid', () => {
    const doc = JSON.parse(formatBundle(fullBundle())) as {
      keys: JwkEntry[];
      spiffe_refresh_hint: number;
    };
    assert.equal(doc.spiffe_refresh_hint, 300);
    const x509 = doc.keys.filter((k) => k.use === 'x509-svid');
    const jwt = doc.keys.filter((k) => k.use === 'jwt-svid');
    assert.equal(x509.length, 2);
    assert.equal(jwt.length, 4);
    assert.equal(doc.keys.length, 6);
    x509.forEach((entry, i) => {
      assert.ok(!('kid' in entry), 'X509-SVID §6.1: no kid');
      assert.equal(entry.x5c?.length, 1);
      assert.ok(!('d' in entry));
      const der = Buffer.from(entry.x5c?.[0] ?? '', 'base64');
      assert.ok(der.equals(roots[i]?.raw ?? new Uint8Array()));
      // The key members describe the certificate's key (checked by Node, independently).
      const { use: _use, x5c: _x5c, ...jwk } = entry;
      assert.ok(
        createPublicKey({ key: jwk, format: 'jwk' }).equals(new X509Certificate(der).publicKey),
      );
    });
    assert.deepEqual(
      jwt.map((k) => k.kid),
      ['k-p256', 'k-p384', 'k-rsa', 'k-ed25519'],
    );
    for (const entry of jwt) {
      assert.ok(!('x5c' in entry));
      const { use: _use, kid, ...jwk } = entry;
      const expected = jwtKeys.get(kid ?? '');
      assert.ok(
        expected !== undefined && createPublicKey({ key: jwk, format: 'jwk' }).equals(expected),
      );
      for (const member of ['d', 'p', 'q', 'dp', 'dq', 'qi']) assert.ok(!(member in entry));
    }
  });

  it('rejects what it cannot trust, with invalid-argument', () => {
    const good = JSON.parse(formatBundle(fullBundle())) as { keys: JwkEntry[] };
    const [x509Entry, , jwtEntry] = good.keys as [JwkEntry, JwkEntry, JwkEntry];
    const invalid = (doc: unknown, pattern: RegExp) =>
      assert.throws(
        () => parseBundle(TD, typeof doc === 'string' ? doc : JSON.stringify(doc)),
        (err) => isParleyError(err, 'invalid-argument') && pattern.test(err.message),
        pattern.source,
      );
    invalid({}, /"keys" is required/);
    invalid({ keys: {} }, /"keys" must be an array/);
    invalid({ keys: [{ ...x509Entry, x5c: [] }] }, /exactly one x5c/);
    invalid(
      { keys: [{ ...x509Entry, x5c: [x509Entry.x5c?.[0], x509Entry.x5c?.[0]] }] },
      /exactly one x5c/,
    );
    invalid({ keys: [{ ...x509Entry, x: jwtEntry.x, y: jwtEntry.y }] }, /do not match its x5c/);
    invalid({ keys: [{ ...jwtEntry, kid: undefined }] }, /missing its key ID/);
    invalid({ keys: [jwtEntry, jwtEntry] }, /duplicate JWT authority key ID "k-p256"/);
    invalid({ keys: [{ ...jwtEntry, d: 'AAAA' }] }, /private key material/);
    invalid(`{"keys":[],"keys":[]}`, /duplicate key/);
    invalid(`{"keys":[],"spiffe_sequence":18446744073709551616}`, /spiffe_sequence/);
    invalid(`{"keys":[],"spiffe_sequence":-1}`, /spiffe_sequence/);
    invalid(`{"keys":[],"spiffe_refresh_hint":-1}`, /spiffe_refresh_hint/);
    assert.throws(
      () => parseBundle(TD, Buffer.from([0x7b, 0xff, 0x7d])),
      (err) => isParleyError(err, 'invalid-argument') && /UTF-8/.test(err.message),
    );
    assert.throws(
      () => parseBundle(TD, new Uint8Array(MAX_BUNDLE_BYTES + 1)),
      (err) => isParleyError(err, 'invalid-argument'),
    );
    // Entries of another use are ignored, not rejected (§4.2.2).
    const ignored = parseBundle(
      TD,
      JSON.stringify({ keys: [{ ...jwtEntry, use: 'something-else' }] }),
    );
    assert.equal(ignored.jwtAuthorities.size, 0);
  });
});

describe('parseBundleMap and formatBundleMap', () => {
  it('round-trip several trust domains, leaving out refresh hints', () => {
    const a = fullBundle();
    const b: Bundle = {
      trustDomain: OTHER_TD,
      x509Authorities: [],
      jwtAuthorities: new Map([['k1', p384Key]]),
      sequenceNumber: 7n,
    };
    const text = formatBundleMap([a, b]);
    const doc = JSON.parse(text) as {
      trust_domains: Record<string, { spiffe_refresh_hint?: number }>;
    };
    assert.deepEqual(Object.keys(doc.trust_domains), ['example.org', 'other.org']);
    assert.equal(doc.trust_domains['example.org']?.spiffe_refresh_hint, undefined);
    const map = parseBundleMap(text);
    assert.deepEqual([...map.keys()], ['example.org', 'other.org']);
    const { refreshHint: _hint, ...aWithoutHint } = a;
    assertSameBundle(map.get('example.org') ?? b, aWithoutHint);
    assertSameBundle(map.get('other.org') ?? a, b);
    assert.equal(formatBundleMap(map.values()), text);
    assert.equal(formatBundleMap([]), '{"trust_domains":{}}');
    assert.equal(parseBundleMap('{"trust_domains":{}}').size, 0);
  });

  it('rejects duplicate or invalid trust domain names and a missing trust_domains', () => {
    const invalid = (text: string, pattern: RegExp) =>
      assert.throws(
        () => parseBundleMap(text),
        (err) => isParleyError(err, 'invalid-argument') && pattern.test(err.message),
        text,
      );
    invalid('{"trust_domains":{"a.org":{"keys":[]},"a.org":{"keys":[]}}}', /duplicate key "a.org"/);
    invalid('{"trust_domains":{"A.org":{"keys":[]}}}', /invalid trust domain/);
    invalid('{"trust_domains":{"spiffe://a.org":{"keys":[]}}}', /invalid trust domain/);
    invalid('{"trust_domains":{"a.org":{}}}', /"keys" is required/);
    invalid('{}', /"trust_domains" is required/);
    invalid('{"trust_domains":[]}', /must be an object/);
    invalid('[]', /not a JSON object/);
  });
});

describe('bundleSet', () => {
  it('finds bundles by trust domain', () => {
    const a = fullBundle();
    const b: Bundle = { trustDomain: OTHER_TD, x509Authorities: [], jwtAuthorities: new Map() };
    const set = bundleSet(a, b);
    assert.equal(set.bundleFor(parseTrustDomain('example.org')), a);
    assert.equal(set.bundleFor(OTHER_TD), b);
    assert.equal(set.bundleFor(parseTrustDomain('third.org')), undefined);
    assert.equal(bundleSet().bundleFor(TD), undefined);
  });
});

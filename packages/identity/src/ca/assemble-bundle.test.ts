import assert from 'node:assert/strict';
import { createPublicKey } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  durationMs,
  fixedClock,
  formatBundle,
  generateKey,
  keyObjectSigner,
  mintSelfSignedRoot,
  parseBundle,
  parseTrustDomain,
} from '@parley/core';
import { assembleBundle } from './assemble-bundle.js';
import type {
  AuthorityStatus,
  JwtAuthorityRecord,
  X509AuthorityRecord,
} from './authority-record.js';

const T0 = Date.UTC(2030, 0, 1);
const DAY = 86_400_000;
const td = parseTrustDomain('example.org');

async function root(): Promise<Uint8Array> {
  const signer = keyObjectSigner(generateKey('ec-p256'));
  return (
    await mintSelfSignedRoot(signer, { trustDomain: td, ttl: durationMs(DAY) }, fixedClock(T0))
  ).der;
}

function x509(
  id: string,
  status: AuthorityStatus,
  certChain: Uint8Array[],
  sequence: number,
  issuedAt = T0,
): X509AuthorityRecord {
  return {
    kind: 'x509',
    id,
    status,
    keyId: id,
    keyType: 'ec-p256',
    issuedAt,
    notAfter: issuedAt + DAY,
    certChain,
    sequence,
  };
}

function jwt(id: string, status: AuthorityStatus, sequence: number): JwtAuthorityRecord {
  const publicKey = createPublicKey(generateKey('ec-p256')).export({ type: 'spki', format: 'der' });
  return {
    kind: 'jwt',
    id,
    status,
    keyId: id,
    keyType: 'ec-p256',
    issuedAt: T0,
    notAfter: T0 + DAY,
    publicKey,
    sequence,
  };
}

describe('assembleBundle', () => {
  it('publishes every bundled root once and every bundled JWT key, with the highest sequence', async () => {
    const [a, b, c, upstreamRoot] = await Promise.all([root(), root(), root(), root()]);
    assert.ok(a && b && c && upstreamRoot);
    const bundle = assembleBundle({
      trustDomain: td,
      refreshHint: durationMs(90_500),
      records: [
        x509('b', 'prepared', [b], 7, T0 + 2),
        x509('a', 'active', [a], 5, T0 + 1),
        x509('c', 'revoked', [c], 9),
        // Two intermediates under one upstream root: the root appears once.
        x509('u1', 'old', [a, upstreamRoot], 3, T0 + 3),
        x509('u2', 'tainted', [b, upstreamRoot], 4, T0 + 4),
        jwt('k1', 'active', 2),
        jwt('k2', 'retired', 8),
        jwt('k3', 'prepared', 6),
      ],
    });
    assert.deepEqual(
      bundle.x509Authorities.map((cert) => Buffer.from(cert.raw)),
      [a, b, upstreamRoot].map((d) => Buffer.from(d)),
    );
    assert.deepEqual([...bundle.jwtAuthorities.keys()], ['k1', 'k3']);
    assert.equal(bundle.sequenceNumber, 9n);
    assert.equal(bundle.refreshHint, 91);
    // It is a valid SPIFFE bundle document.
    const parsed = parseBundle(td, formatBundle(bundle));
    assert.equal(parsed.x509Authorities.length, 3);
    assert.equal(parsed.sequenceNumber, 9n);
  });

  it('never goes below the floor of dropped records', () => {
    const bundle = assembleBundle({
      trustDomain: td,
      refreshHint: durationMs(0),
      records: [],
      sequenceFloor: 12,
    });
    assert.equal(bundle.sequenceNumber, 12n);
    assert.equal(bundle.x509Authorities.length, 0);
  });
});

import assert from 'node:assert/strict';
import { type KeyObject, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { describe, it } from 'node:test';
import { spkiOf } from './spki.js';

function nodeSpki(key: KeyObject): Buffer {
  return key.export({ type: 'spki', format: 'der' });
}

// Node 20 can deadlock exporting a key as JWK while a garbage collection destroys the key-pair
// generation job that still shares the key's data (ExportJWK holds the key's mutex, ~KeyGenJob
// takes it). Parley's own keys never share it (generateKey re-imports from the job's JWK output);
// the test's keys come out of the generation job as DER and are imported anew, so neither do they.
function generatePublicKey(
  type: 'ec' | 'rsa' | 'ed25519',
  options: { namedCurve?: string; modulusLength?: number; publicExponent?: number } = {},
): KeyObject {
  const der = { type: 'spki', format: 'der' } as const;
  const pkcs8 = { type: 'pkcs8', format: 'der' } as const;
  const { publicKey } = (
    generateKeyPairSync as (
      t: string,
      o: object,
    ) => {
      publicKey: Buffer;
    }
  )(type, { ...options, publicKeyEncoding: der, privateKeyEncoding: pkcs8 });
  return createPublicKey({ key: publicKey, ...der });
}

describe('spkiOf', () => {
  const keys: [string, KeyObject][] = [
    ['P-256', generatePublicKey('ec', { namedCurve: 'P-256' })],
    ['P-384', generatePublicKey('ec', { namedCurve: 'P-384' })],
    ['P-521', generatePublicKey('ec', { namedCurve: 'P-521' })],
    ['RSA-2048', generatePublicKey('rsa', { modulusLength: 2048 })],
    ['RSA-1024 e=3', generatePublicKey('rsa', { modulusLength: 1024, publicExponent: 3 })],
    ['secp256k1 (fallback)', generatePublicKey('ec', { namedCurve: 'secp256k1' })],
    ['Ed25519 (fallback)', generatePublicKey('ed25519')],
  ];

  for (const [name, key] of keys) {
    it(`equals Node's SPKI export for ${name}`, () => {
      const spki = spkiOf(key);
      assert.ok(Buffer.from(spki).equals(nodeSpki(key)));
      const back = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
      assert.ok(back.equals(key));
    });
  }

  it('matches for many P-256 keys (leading zero bytes in x and y)', () => {
    for (let i = 0; i < 300; i++) {
      const publicKey = generatePublicKey('ec', { namedCurve: 'P-256' });
      assert.ok(Buffer.from(spkiOf(publicKey)).equals(nodeSpki(publicKey)));
    }
  });

  it('matches for RSA moduli of odd sizes', () => {
    for (const modulusLength of [1025, 1031]) {
      const publicKey = generatePublicKey('rsa', { modulusLength });
      assert.ok(Buffer.from(spkiOf(publicKey)).equals(nodeSpki(publicKey)));
    }
  });

  it('needs a public key', () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    assert.throws(() => spkiOf(privateKey), TypeError);
  });
});

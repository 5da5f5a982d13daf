import assert from 'node:assert/strict';
import { type KeyObject, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { describe, it } from 'node:test';
import { spkiOf } from './spki.js';

function nodeSpki(key: KeyObject): Buffer {
  return key.export({ type: 'spki', format: 'der' });
}

describe('spkiOf', () => {
  const keys: [string, KeyObject][] = [
    ['P-256', generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey],
    ['P-384', generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey],
    ['P-521', generateKeyPairSync('ec', { namedCurve: 'P-521' }).publicKey],
    ['RSA-2048', generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey],
    [
      'RSA-1024 e=3',
      generateKeyPairSync('rsa', { modulusLength: 1024, publicExponent: 3 }).publicKey,
    ],
    ['secp256k1 (fallback)', generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).publicKey],
    ['Ed25519 (fallback)', generateKeyPairSync('ed25519').publicKey],
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
      const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      assert.ok(Buffer.from(spkiOf(publicKey)).equals(nodeSpki(publicKey)));
    }
  });

  it('matches for RSA moduli of odd sizes', () => {
    for (const modulusLength of [1025, 1031]) {
      const { publicKey } = generateKeyPairSync('rsa', { modulusLength });
      assert.ok(Buffer.from(spkiOf(publicKey)).equals(nodeSpki(publicKey)));
    }
  });

  it('needs a public key', () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    assert.throws(() => spkiOf(privateKey), TypeError);
  });
});

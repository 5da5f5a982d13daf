import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync, randomBytes, verify } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  KEY_TYPES,
  type KeyType,
  generateKey,
  hashOf,
  keyObjectSigner,
  keyTypeOf,
  parsePrivateKey,
} from './signer.js';

const DETAILS: Record<KeyType, { type: string; curve?: string; bits?: number }> = {
  'ec-p256': { type: 'ec', curve: 'prime256v1' },
  'ec-p384': { type: 'ec', curve: 'secp384r1' },
  'rsa-2048': { type: 'rsa', bits: 2048 },
  'rsa-4096': { type: 'rsa', bits: 4096 },
};

describe('generateKey and keyObjectSigner', () => {
  for (const type of KEY_TYPES) {
    // RSA-4096 generation takes about a second (and varies widely); the suite stays fast without it.
    const skip =
      type === 'rsa-4096' ? 'RSA-4096 key generation is too slow for the unit suite' : false;
    it(`generates a ${type} key whose signatures verify with node:crypto`, { skip }, async () => {
      const key = generateKey(type);
      assert.equal(key.type, 'private');
      assert.equal(key.asymmetricKeyType, DETAILS[type].type);
      const details = key.asymmetricKeyDetails;
      if (DETAILS[type].curve !== undefined) assert.equal(details?.namedCurve, DETAILS[type].curve);
      if (DETAILS[type].bits !== undefined)
        assert.equal(details?.modulusLength, DETAILS[type].bits);
      assert.equal(keyTypeOf(key), type);

      const signer = keyObjectSigner(key);
      assert.equal(signer.keyType, type);
      assert.equal(signer.publicKey.type, 'public');
      assert.ok(signer.publicKey.equals(createPublicKey(key)));
      assert.equal(keyTypeOf(signer.publicKey), type);

      const data = randomBytes(100);
      const sig = await signer.sign(data);
      const hash = hashOf(type);
      assert.ok(verify(hash, data, signer.publicKey, sig));
      assert.ok(!verify(hash, Buffer.concat([data, Buffer.of(0)]), signer.publicKey, sig));
      if (DETAILS[type].type === 'ec') {
        // ECDSA signatures are DER (RFC 3279 §2.2.3), not JOSE R||S.
        assert.equal(sig[0], 0x30);
        assert.ok(verify(hash, data, { key: signer.publicKey, dsaEncoding: 'der' }, sig));
      }
      // A different key does not verify it.
      const other = keyObjectSigner(generateKey(type === 'rsa-2048' ? 'ec-p256' : type));
      assert.ok(!verify(hash, data, other.publicKey, sig));
    });
  }

  it('uses SHA-384 for P-384 only', () => {
    assert.equal(hashOf('ec-p384'), 'sha384');
    assert.equal(hashOf('ec-p256'), 'sha256');
    assert.equal(hashOf('rsa-2048'), 'sha256');
    assert.equal(hashOf('rsa-4096'), 'sha256');
  });

  it('gives a fresh key each time', () => {
    const a = generateKey('ec-p256');
    const b = generateKey('ec-p256');
    assert.ok(!createPublicKey(a).equals(createPublicKey(b)));
  });

  it('refuses public keys and key types Parley does not use', () => {
    const ec = generateKey('ec-p256');
    assert.throws(() => keyObjectSigner(createPublicKey(ec)), TypeError);
    for (const key of [
      generateKeyPairSync('ed25519').privateKey,
      generateKeyPairSync('ec', { namedCurve: 'P-521' }).privateKey,
      generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).privateKey,
      generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey,
    ]) {
      assert.equal(keyTypeOf(key), undefined);
      assert.throws(() => keyObjectSigner(key), TypeError);
    }
  });
});

describe('parsePrivateKey', () => {
  it('reads PKCS#8 and SEC1 PEM and PKCS#8 DER', () => {
    const key = generateKey('ec-p384');
    const pkcs8Pem = key.export({ type: 'pkcs8', format: 'pem' });
    const sec1Pem = key.export({ type: 'sec1', format: 'pem' });
    const pkcs8Der = key.export({ type: 'pkcs8', format: 'der' });
    for (const input of [pkcs8Pem, sec1Pem, new Uint8Array(pkcs8Der)]) {
      const parsed = parsePrivateKey(input);
      assert.equal(parsed.type, 'private');
      assert.ok(createPublicKey(parsed).equals(createPublicKey(key)));
      assert.equal(keyTypeOf(parsed), 'ec-p384');
    }
    const rsa = generateKey('rsa-2048');
    const pkcs1 = rsa.export({ type: 'pkcs1', format: 'pem' });
    assert.ok(createPublicKey(parsePrivateKey(pkcs1)).equals(createPublicKey(rsa)));
  });

  it('throws on garbage', () => {
    assert.throws(() => parsePrivateKey('not a key'));
    assert.throws(() => parsePrivateKey(randomBytes(64)));
  });
});

import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { makeTempDir } from '@parley/testing';
import { JwksIssuer, parseJwks } from './jwks-source.js';

const IDP = 'https://idp.example';

/** A public EC P-256 JWK with the given extra members. */
function ecJwk(extra: Record<string, unknown> = {}): Record<string, unknown> {
  const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { ...publicKey.export({ format: 'jwk' }), ...extra };
}

const jwks = (keys: unknown[]) => JSON.stringify({ keys });

describe('parseJwks', () => {
  it('keeps signing keys with a kid, and their string members', () => {
    const a = ecJwk({ kid: 'a', use: 'sig', alg: 'ES256' });
    const b = ecJwk({ kid: 'b' });
    const keys = parseJwks(jwks([a, b]));
    assert.deepEqual(
      keys.map((k) => k.kid),
      ['a', 'b'],
    );
    assert.deepEqual(keys[0], a);
  });

  it('drops keys without a kid (they cannot be selected) and keys for encryption', () => {
    const keys = parseJwks(
      jwks([
        ecJwk(),
        ecJwk({ kid: 7 }),
        ecJwk({ kid: 'enc', use: 'enc' }),
        ecJwk({ kid: 'other-use', use: 'tls' }),
        ecJwk({ kid: 'sig', use: 'sig' }),
      ]),
    );
    assert.deepEqual(
      keys.map((k) => k.kid),
      ['sig'],
    );
    assert.deepEqual(parseJwks(jwks([])), []);
  });

  it('drops members that are not strings (x5c, key_ops)', () => {
    const [key] = parseJwks(jwks([ecJwk({ kid: 'a', x5c: ['MIIB'], key_ops: ['verify'] })]));
    assert.ok(key !== undefined);
    assert.equal('x5c' in key, false);
    assert.equal('key_ops' in key, false);
  });

  it('refuses a JWK Set holding a private key', () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const priv = { ...privateKey.export({ format: 'jwk' }), kid: 'oops' };
    assert.throws(() => parseJwks(jwks([ecJwk({ kid: 'a' }), priv])), /private/);
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    assert.throws(
      () => parseJwks(jwks([{ ...rsa.export({ format: 'jwk' }), kid: 'r' }])),
      /private/,
    );
  });

  it('refuses more than 100 keys', () => {
    const key = ecJwk({ kid: 'k' });
    assert.equal(parseJwks(jwks(Array.from({ length: 100 }, () => key))).length, 100);
    assert.throws(() => parseJwks(jwks(Array.from({ length: 101 }, () => key))), /at most 100/);
  });

  it('refuses what is not a JWK Set', () => {
    for (const text of [
      '',
      'not json',
      '[]',
      'null',
      '{}',
      '{"keys":{}}',
      '{"keys":"a"}',
      '{"keys":[1]}',
      '{"keys":[null]}',
      '{"keys":[],"keys":[]}',
      JSON.stringify(ecJwk({ kid: 'a single JWK' })),
    ]) {
      assert.throws(() => parseJwks(text), Error, text);
    }
  });

  it('refuses a JWK Set larger than 256 KiB', () => {
    const padded = JSON.stringify({ keys: [], pad: 'x'.repeat(256 * 1024) });
    assert.throws(() => parseJwks(padded), /too large/);
  });
});

describe('JwksIssuer', () => {
  it('reads its keys from a file, and keeps the last good keys when a refresh fails', async () => {
    await using dir = await makeTempDir();
    const file = join(dir.path, 'jwks.json');
    const issuer = new JwksIssuer(IDP, { file }, 'parley');
    assert.equal(issuer.issuer, IDP);
    assert.equal(issuer.audience, 'parley');
    assert.deepEqual(issuer.keys(), [], 'no keys before the first refresh');

    await assert.rejects(issuer.refresh(), (e: Error) => e.message.includes(IDP));
    assert.deepEqual(issuer.keys(), []);

    await writeFile(file, jwks([ecJwk({ kid: 'one' })]));
    await issuer.refresh();
    assert.deepEqual(
      issuer.keys().map((k) => k.kid),
      ['one'],
    );

    for (const bad of ['{"keys":', '{}', jwks([{ ...ecJwk({ kid: 'p' }), d: 'secret' }])]) {
      await writeFile(file, bad);
      await assert.rejects(
        issuer.refresh(),
        (e: Error) => e.message.includes(IDP) && e.message.includes(file),
      );
      assert.deepEqual(
        issuer.keys().map((k) => k.kid),
        ['one'],
        'the last good keys stay',
      );
    }

    await writeFile(file, jwks([ecJwk({ kid: 'two' }), ecJwk({ kid: 'three' })]));
    await issuer.refresh();
    assert.deepEqual(
      issuer.keys().map((k) => k.kid),
      ['two', 'three'],
    );
  });

  it('does not put a private key member in the refresh error message', async () => {
    await using dir = await makeTempDir();
    const file = join(dir.path, 'jwks.json');
    await writeFile(file, jwks([{ ...ecJwk({ kid: 'p' }), d: 'TOP-SECRET-D' }]));
    await assert.rejects(
      new JwksIssuer(IDP, { file }).refresh(),
      (e: Error) => !e.message.includes('TOP-SECRET-D'),
    );
  });
});

// Test fixtures of end-user tokens: key pairs minted per test and JWTs signed with node:crypto
// (not exported from the package).
import { type KeyObject, constants, generateKeyPairSync, sign } from 'node:crypto';
import type { AuthzJwk, AuthzJwsAlgorithm } from '@parley/api';

/** A key pair for tests: the private key and the public JWK an issuer publishes. */
export interface TestSigningKey {
  readonly privateKey: KeyObject;
  readonly jwk: AuthzJwk;
  readonly alg: AuthzJwsAlgorithm;
}

/** A fresh signing key of `alg` (ES256, ES384, RS256/PS256 on RSA 2048, EdDSA on Ed25519). */
export function testSigningKey(alg: AuthzJwsAlgorithm, kid?: string): TestSigningKey {
  const pair = alg.startsWith('ES')
    ? generateKeyPairSync('ec', { namedCurve: alg === 'ES256' ? 'P-256' : 'P-384' })
    : alg === 'EdDSA'
      ? generateKeyPairSync('ed25519')
      : generateKeyPairSync('rsa', { modulusLength: 2048 });
  const members = pair.publicKey.export({ format: 'jwk' });
  return {
    privateKey: pair.privateKey,
    alg,
    jwk: { ...(kid !== undefined && { kid }), ...members } as AuthzJwk,
  };
}

/** Signs `claims` as a compact JWS with `key` (header `alg`, `typ: JWT`, and `kid` when given). */
export function mintTestJwt(
  key: TestSigningKey,
  claims: Record<string, unknown>,
  header: Record<string, unknown> = {},
): string {
  const h = Buffer.from(
    JSON.stringify({
      alg: key.alg,
      typ: 'JWT',
      ...(key.jwk.kid !== undefined && { kid: key.jwk.kid }),
      ...header,
    }),
  ).toString('base64url');
  const p = Buffer.from(JSON.stringify(claims)).toString('base64url');
  const data = Buffer.from(`${h}.${p}`);
  const hash = key.alg === 'EdDSA' ? null : `sha${key.alg.slice(2)}`;
  const signature = key.alg.startsWith('ES')
    ? sign(hash, data, { key: key.privateKey, dsaEncoding: 'ieee-p1363' })
    : key.alg.startsWith('PS')
      ? sign(hash, data, {
          key: key.privateKey,
          padding: constants.RSA_PKCS1_PSS_PADDING,
          saltLength: constants.RSA_PSS_SALTLEN_DIGEST,
        })
      : sign(hash, data, key.privateKey);
  return `${h}.${p}.${signature.toString('base64url')}`;
}

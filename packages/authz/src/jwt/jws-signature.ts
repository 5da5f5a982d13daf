import { type KeyObject, constants, createPublicKey, verify } from 'node:crypto';
import type { AuthzJwk, AuthzJwsAlgorithm } from '@parley/api';

const HASH: Readonly<Record<AuthzJwsAlgorithm, 'sha256' | 'sha384' | 'sha512' | null>> = {
  RS256: 'sha256',
  RS384: 'sha384',
  RS512: 'sha512',
  PS256: 'sha256',
  PS384: 'sha384',
  PS512: 'sha512',
  ES256: 'sha256',
  ES384: 'sha384',
  EdDSA: null,
};

/** True when `jwk` can verify `alg`: the algorithm follows from the key, not from the token. */
export function jwkFitsAlgorithm(jwk: AuthzJwk, alg: AuthzJwsAlgorithm): boolean {
  if (jwk.alg !== undefined && jwk.alg !== alg) return false;
  switch (jwk.kty) {
    case 'EC':
      return (jwk.crv === 'P-256' && alg === 'ES256') || (jwk.crv === 'P-384' && alg === 'ES384');
    case 'RSA':
      return alg.startsWith('RS') || alg.startsWith('PS');
    case 'OKP':
      return alg === 'EdDSA';
  }
}

const KEYS = new WeakMap<AuthzJwk, KeyObject | null>();

/** The KeyObject of a JWK (cached per JWK object), or undefined when it does not import. */
export function jwkPublicKey(jwk: AuthzJwk): KeyObject | undefined {
  let key = KEYS.get(jwk);
  if (key === undefined) {
    try {
      // Only the public members: `alg`, `kid` and the like are not for node:crypto.
      const members =
        jwk.kty === 'RSA'
          ? { kty: jwk.kty, n: jwk.n, e: jwk.e }
          : jwk.kty === 'EC'
            ? { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y }
            : { kty: jwk.kty, crv: jwk.crv, x: jwk.x };
      key = createPublicKey({ key: members, format: 'jwk' });
    } catch {
      key = null;
    }
    KEYS.set(jwk, key);
  }
  return key ?? undefined;
}

/**
 * Verifies a JWS signature with `key` (RFC 7518 §3.3–3.5, RFC 8037 §3.1): ECDSA signatures are
 * R||S of the curve's size, RSA-PSS uses a salt as long as the hash, Ed25519 signatures are 64
 * bytes. The caller has checked that the key fits `alg`.
 */
export function verifyJwsSignature(
  alg: AuthzJwsAlgorithm,
  key: KeyObject,
  data: Uint8Array,
  signature: Uint8Array,
): boolean {
  const hash = HASH[alg];
  try {
    if (alg === 'EdDSA') return signature.length === 64 && verify(null, data, key, signature);
    if (alg.startsWith('ES')) {
      return verify(hash, data, { key, dsaEncoding: 'ieee-p1363' }, signature);
    }
    if (alg.startsWith('PS')) {
      return verify(
        hash,
        data,
        {
          key,
          padding: constants.RSA_PKCS1_PSS_PADDING,
          saltLength: constants.RSA_PSS_SALTLEN_DIGEST,
        },
        signature,
      );
    }
    return verify(hash, data, key, signature);
  } catch {
    // A signature of the wrong size for the key, for instance.
    return false;
  }
}

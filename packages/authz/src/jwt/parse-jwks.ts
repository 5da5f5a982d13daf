import type { AuthzJwk } from '@parley/api';
import { type JsonObject, isJsonArray, isJsonObject, parseJson } from '@parley/core';
import { jwkFitsAlgorithm, jwkPublicKey } from './jws-signature.js';

/** The usable keys of a fetched JWKS, and how many of its keys were left out. */
export type JwksResult =
  | { readonly ok: true; readonly keys: readonly AuthzJwk[]; readonly skipped: number }
  | { readonly ok: false; readonly reason: string };

/** JWKS documents larger than this are refused. */
export const MAX_JWKS_BYTES = 1 << 20;
const MAX_KEYS = 1000;
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];
const ALGS: Readonly<Record<string, readonly string[]>> = {
  EC: ['ES256', 'ES384'],
  RSA: ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'],
  OKP: ['EdDSA'],
};

/**
 * Parses a JWKS fetched from an issuer's `jwksUri` (RFC 7517 §5) into the keys Parley verifies
 * with — EC P-256/P-384, RSA of at least 2048 bits, Ed25519, with `use` absent or `sig` — and
 * leaves other keys out (an issuer may publish encryption or HMAC keys beside its signing keys).
 * A document with private key members is refused; messages never quote key material.
 */
export function parseJwks(text: string): JwksResult {
  const reject = (reason: string): JwksResult => ({ ok: false, reason });
  let doc;
  try {
    doc = parseJson(text, { maxLength: MAX_JWKS_BYTES, maxDepth: 8 });
  } catch (err) {
    return reject(`the JWKS is not valid JSON: ${(err as Error).message}`);
  }
  const keys = isJsonObject(doc) ? doc.get('keys') : undefined;
  if (!isJsonArray(keys)) return reject('the JWKS is not a JSON object with a "keys" list');
  if (keys.length > MAX_KEYS) return reject(`the JWKS holds more than ${MAX_KEYS} keys`);
  const out: AuthzJwk[] = [];
  for (const [i, key] of keys.entries()) {
    if (!isJsonObject(key)) continue;
    const secret = PRIVATE_MEMBERS.find((m) => key.has(m));
    if (secret !== undefined) return reject(`keys[${i}] of the JWKS holds private key material`);
    const jwk = usableKey(key);
    if (jwk !== undefined) out.push(jwk);
  }
  if (out.length === 0) return reject('the JWKS holds no usable signing key');
  return { ok: true, keys: out, skipped: keys.length - out.length };
}

function usableKey(key: JsonObject): AuthzJwk | undefined {
  const str = (m: string) => {
    const v = key.get(m);
    return typeof v === 'string' ? v : undefined;
  };
  const kty = str('kty') ?? '';
  const use = key.get('use');
  const alg = key.get('alg');
  const kid = key.get('kid');
  const algs = ALGS[kty];
  if (algs === undefined || (use !== undefined && use !== 'sig')) return undefined;
  if (alg !== undefined && !(typeof alg === 'string' && algs.includes(alg))) return undefined;
  if (kid !== undefined && typeof kid !== 'string') return undefined;
  const base = {
    ...(kid !== undefined && { kid }),
    ...(alg !== undefined && { alg: alg as AuthzJwk['alg'] & string }),
  };
  const crv = str('crv');
  const x = str('x');
  let jwk: AuthzJwk;
  if (kty === 'EC' && (crv === 'P-256' || crv === 'P-384') && x !== undefined) {
    const y = str('y');
    if (y === undefined) return undefined;
    jwk = { ...base, kty, crv, x, y };
  } else if (kty === 'RSA') {
    const n = str('n');
    const e = str('e');
    if (n === undefined || e === undefined) return undefined;
    jwk = { ...base, kty, n, e };
  } else if (kty === 'OKP' && crv === 'Ed25519' && x !== undefined) {
    jwk = { ...base, kty, crv, x };
  } else {
    return undefined;
  }
  if (jwk.alg !== undefined && !jwkFitsAlgorithm(jwk, jwk.alg)) return undefined;
  const publicKey = jwkPublicKey(jwk);
  if (publicKey === undefined) return undefined;
  const bits = publicKey.asymmetricKeyDetails?.modulusLength;
  if (kty === 'RSA' && !(bits !== undefined && bits >= 2048)) return undefined;
  return jwk;
}

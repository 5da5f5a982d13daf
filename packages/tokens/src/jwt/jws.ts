import { createPublicKey } from 'node:crypto';
import {
  type JsonObject,
  type JsonValue,
  JsonNumber,
  decodeBase64Url,
  isJsonObject,
  isJwsAlgorithm,
  keyAlgorithmProblem,
  parseJson,
  verifyJwsSignature,
} from '@parley/core';

/** Tokens longer than this are refused before they are decoded. */
export const MAX_TOKEN_LENGTH = 8 * 1024;
/** Clock skew tolerated for `iat` and `nbf`; `exp` gets none. */
export const LEEWAY_S = 60;
// RFC 8725 §3.1/§3.10: the key comes from the issuer's JWK Set by kid, never from the token
// (no jku, x5u, jwk, x5c), and no extension the verifier would have to understand (crit).
const ALLOWED_HEADER = new Set(['alg', 'kid', 'typ']);

/** A verification key as an issuer publishes it (RFC 7517 §4). */
export interface VerificationJwk {
  readonly kid?: string;
  readonly kty?: string;
  readonly alg?: string;
  readonly use?: string;
  readonly [member: string]: unknown;
}

/** A JWT whose signature and registered time and issuer claims were checked. */
export interface VerifiedJwt {
  readonly header: JsonObject;
  readonly claims: JsonObject;
  readonly kid: string;
}

/** The outcome of verifying a JWT. */
export type JwtResult =
  ({ readonly ok: true } & VerifiedJwt) | { readonly ok: false; readonly reason: string };

/** Reads a numeric claim as an integer number of seconds, or undefined. */
export function secondsClaim(claims: JsonObject, name: string): number | undefined {
  const v = claims.get(name);
  const n = v instanceof JsonNumber ? v.toNumber() : NaN;
  return Number.isSafeInteger(n) ? n : undefined;
}

/** The `aud` claim as a list (RFC 7519 §4.1.3: a string or an array of strings). */
export function audienceClaim(claims: JsonObject): string[] | undefined {
  const aud: JsonValue | undefined = claims.get('aud');
  if (typeof aud === 'string') return [aud];
  if (Array.isArray(aud) && aud.every((a) => typeof a === 'string')) return aud;
  return undefined;
}

const fatalUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Verifies a compact JWS JWT against an issuer's keys (RFC 7515, RFC 7519, RFC 8725): bounded
 * length; header limited to `alg`, `kid` (required) and `typ`, which `acceptTyp` must accept;
 * the key found by `kid` must suit `alg` (so no `none`, no HS/RS confusion, no algorithm the
 * key does not declare); then `iss` must equal `issuer`, `exp` be in the future, `iat`/`nbf`
 * not ahead of the clock, and `aud` contain `audience` when one is given.
 */
export function verifyJwt(
  token: string,
  keys: readonly VerificationJwk[],
  expected: {
    readonly issuer: string;
    readonly audience?: string;
    readonly now: number;
    readonly acceptTyp: (typ: string | undefined) => boolean;
  },
): JwtResult {
  const refuse = (reason: string): JwtResult => ({ ok: false, reason });
  if (token.length > MAX_TOKEN_LENGTH) return refuse('token too long');
  const parts = token.split('.');
  if (parts.length !== 3) return refuse('not a compact JWS');
  const [h = '', c = '', s = ''] = parts;
  const headerBytes = decodeBase64Url(h);
  const claimBytes = decodeBase64Url(c);
  const signature = decodeBase64Url(s);
  if (headerBytes === undefined || claimBytes === undefined || signature === undefined) {
    return refuse('not base64url');
  }
  let header: JsonObject;
  let claims: JsonObject;
  try {
    const hv = parseJson(fatalUtf8.decode(headerBytes));
    const cv = parseJson(fatalUtf8.decode(claimBytes));
    if (!isJsonObject(hv) || !isJsonObject(cv)) return refuse('header and claims must be objects');
    header = hv;
    claims = cv;
  } catch {
    return refuse('header or claims are not JSON');
  }
  for (const name of header.keys()) {
    if (!ALLOWED_HEADER.has(name)) {
      return refuse(`header parameter ${JSON.stringify(name.slice(0, 32))} is not accepted`);
    }
  }
  const typ = header.get('typ');
  if (typ !== undefined && typeof typ !== 'string') return refuse('typ must be a string');
  if (!expected.acceptTyp(typ)) return refuse(`typ ${JSON.stringify(typ ?? null)} is not accepted`);
  const kid = header.get('kid');
  const alg = header.get('alg');
  if (typeof kid !== 'string') return refuse('kid is required');
  if (!isJwsAlgorithm(alg)) return refuse('alg is not an accepted asymmetric algorithm');
  const jwk = keys.find((k) => k.kid === kid);
  if (jwk === undefined) return refuse('unknown kid');
  if (jwk.use !== undefined && jwk.use !== 'sig') return refuse('the key is not for signatures');
  if (jwk.alg !== undefined && jwk.alg !== alg)
    return refuse(`alg must be ${jwk.alg} for this key`);
  let key;
  try {
    key = createPublicKey({ key: { ...jwk } as never, format: 'jwk' });
  } catch {
    return refuse('the key is not usable');
  }
  const problem = keyAlgorithmProblem(alg, key);
  if (problem !== undefined) return refuse(problem);
  if (!verifyJwsSignature(alg, key, Buffer.from(`${h}.${c}`, 'latin1'), signature)) {
    return refuse('bad signature');
  }

  const now = Math.floor(expected.now / 1000);
  if (claims.get('iss') !== expected.issuer) return refuse('wrong issuer');
  const exp = secondsClaim(claims, 'exp');
  if (exp === undefined || exp <= now) return refuse('expired');
  for (const name of ['iat', 'nbf']) {
    if (!claims.has(name)) continue;
    const t = secondsClaim(claims, name);
    if (t === undefined || t > now + LEEWAY_S) return refuse(`${name} is in the future`);
  }
  if (expected.audience !== undefined) {
    const aud = audienceClaim(claims);
    if (aud === undefined || !aud.includes(expected.audience)) return refuse('wrong audience');
  }
  return { ok: true, header, claims, kid };
}

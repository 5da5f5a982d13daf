import { type KeyObject, createPublicKey, randomBytes, sign, verify } from 'node:crypto';
import {
  type JsonObject,
  JsonNumber,
  decodeBase64Url,
  encodeBase64Url,
  isJsonObject,
  parseJson,
} from '@parley/core';
import type { PublishedJwk, SigningKey } from '../keys/signing-keys.js';

/** Who acted (RFC 8693 §4.1), nested for delegation chains. */
export interface Actor {
  readonly sub: string;
  readonly act?: Actor;
}

/** The claims of an access token Parley issues (RFC 9068 §2.2, RFC 8693 §4, RFC 8705 §3.1). */
export interface AccessTokenClaims {
  readonly iss: string;
  readonly sub: string;
  readonly aud: readonly string[];
  readonly clientId: string;
  readonly scope: readonly string[];
  readonly issuedAt: number;
  readonly expiresAt: number;
  /** Certificate binding: base64url SHA-256 of the client certificate (`cnf.x5t#S256`). */
  readonly x5tS256?: string;
  readonly act?: Actor;
}

/** A minted access token and its id. */
export interface MintedAccessToken {
  readonly token: string;
  readonly jti: string;
}

/** Tokens longer than this are refused before they are decoded. */
export const MAX_ACCESS_TOKEN_LENGTH = 8 * 1024;
/** Clock skew tolerated for `iat`/`nbf`. */
const LEEWAY_S = 60;
const ALLOWED_HEADER = new Set(['alg', 'kid', 'typ']);

function seconds(ms: number): number {
  return Math.floor(ms / 1000);
}

/**
 * Signs an RFC 9068 access token: header `{alg, kid, typ: "at+jwt"}`, claims `iss`, `sub`, `aud`,
 * `exp`, `iat`, `jti`, `client_id`, `scope` (space-separated), and `cnf`/`act` when given.
 */
export function mintAccessToken(key: SigningKey, claims: AccessTokenClaims): MintedAccessToken {
  const jti = randomBytes(16).toString('base64url');
  const header = encodeBase64Url(JSON.stringify({ alg: key.alg, kid: key.kid, typ: 'at+jwt' }));
  const body = encodeBase64Url(
    JSON.stringify({
      iss: claims.iss,
      sub: claims.sub,
      aud: claims.aud.length === 1 ? claims.aud[0] : claims.aud,
      exp: seconds(claims.expiresAt),
      iat: seconds(claims.issuedAt),
      jti,
      client_id: claims.clientId,
      scope: claims.scope.join(' '),
      ...(claims.x5tS256 !== undefined && { cnf: { 'x5t#S256': claims.x5tS256 } }),
      ...(claims.act !== undefined && { act: claims.act }),
    }),
  );
  const input = `${header}.${body}`;
  const signature =
    key.alg === 'ES256'
      ? sign('sha256', Buffer.from(input, 'latin1'), {
          key: key.privateKey,
          dsaEncoding: 'ieee-p1363',
        })
      : sign('sha256', Buffer.from(input, 'latin1'), key.privateKey);
  return { token: `${input}.${encodeBase64Url(signature)}`, jti };
}

/** A verified access token's claims, or why it was refused. */
export type AccessTokenResult =
  | { readonly ok: true; readonly claims: JsonObject; readonly kid: string }
  | { readonly ok: false; readonly reason: string };

function keyOf(jwk: PublishedJwk): KeyObject {
  return createPublicKey({ key: { ...jwk }, format: 'jwk' });
}

/**
 * Verifies an access token as RFC 9068 §4 says a resource server must, and RFC 8725 §3 adds:
 * `typ` must be `at+jwt` (or `application/at+jwt`); the header may hold only `alg`, `kid` and
 * `typ` (no `jku`, `x5u`, `jwk`, `crit`: the key comes from `jwks` by `kid`, never from the
 * token); `alg` must be the key's own (ES256 with an EC P-256 key, RS256 with RSA — so no
 * `none`, no HS/RS confusion); `iss` must equal `issuer`, `aud` contain `audience` when given,
 * `exp` be in the future and `iat` not ahead of the clock.
 */
export function verifyAccessToken(
  token: string,
  jwks: readonly PublishedJwk[],
  expected: { readonly issuer: string; readonly audience?: string; readonly now: number },
): AccessTokenResult {
  const refuse = (reason: string): AccessTokenResult => ({ ok: false, reason });
  if (token.length > MAX_ACCESS_TOKEN_LENGTH) return refuse('token too long');
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
    const hv = parseJson(new TextDecoder('utf-8', { fatal: true }).decode(headerBytes));
    const cv = parseJson(new TextDecoder('utf-8', { fatal: true }).decode(claimBytes));
    if (!isJsonObject(hv) || !isJsonObject(cv)) return refuse('header and claims must be objects');
    header = hv;
    claims = cv;
  } catch {
    return refuse('header or claims are not JSON');
  }
  for (const name of header.keys()) {
    if (!ALLOWED_HEADER.has(name))
      return refuse(`header parameter "${name.slice(0, 32)}" is not accepted`);
  }
  const typ = header.get('typ');
  if (typeof typ !== 'string' || !['at+jwt', 'application/at+jwt'].includes(typ.toLowerCase())) {
    return refuse('typ must be at+jwt (RFC 9068 §4)');
  }
  const kid = header.get('kid');
  const alg = header.get('alg');
  if (typeof kid !== 'string') return refuse('kid is required');
  const jwk = jwks.find((k) => k.kid === kid);
  if (jwk === undefined) return refuse('unknown kid');
  if (alg !== jwk.alg) return refuse(`alg must be ${jwk.alg} for this key`);
  const input = Buffer.from(`${h}.${c}`, 'latin1');
  const key = keyOf(jwk);
  const valid =
    jwk.alg === 'ES256'
      ? signature.length === 64 &&
        verify('sha256', input, { key, dsaEncoding: 'ieee-p1363' }, signature)
      : verify('sha256', input, key, signature);
  if (!valid) return refuse('bad signature');

  const now = seconds(expected.now);
  if (claims.get('iss') !== expected.issuer) return refuse('wrong issuer');
  const exp = claims.get('exp');
  const iat = claims.get('iat');
  const expN = exp instanceof JsonNumber ? exp.toNumber() : NaN;
  const iatN = iat instanceof JsonNumber ? iat.toNumber() : NaN;
  if (!Number.isSafeInteger(expN) || expN <= now) return refuse('expired');
  if (!Number.isSafeInteger(iatN) || iatN > now + LEEWAY_S) return refuse('issued in the future');
  if (typeof claims.get('sub') !== 'string' || typeof claims.get('client_id') !== 'string') {
    return refuse('sub and client_id are required');
  }
  if (typeof claims.get('jti') !== 'string') return refuse('jti is required');
  if (expected.audience !== undefined) {
    const aud = claims.get('aud');
    const list = Array.isArray(aud) ? (aud as readonly unknown[]) : [aud];
    if (!list.includes(expected.audience)) return refuse('wrong audience');
  }
  return { ok: true, claims, kid };
}

import { randomBytes } from 'node:crypto';
import { type JsonObject, encodeBase64Url } from '@parley/core';
import type { PublishedJwk, SigningKey } from '../keys/signing-keys.js';
import { type JwtResult, secondsClaim, verifyJwt } from './jws.js';

export { MAX_TOKEN_LENGTH as MAX_ACCESS_TOKEN_LENGTH } from './jws.js';

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

function seconds(ms: number): number {
  return Math.floor(ms / 1000);
}

const headers = new Map<string, string>();

/**
 * Signs an RFC 9068 access token: header `{alg, kid, typ: "at+jwt"}`, claims `iss`, `sub`, `aud`,
 * `exp`, `iat`, `jti`, `client_id`, `scope` (space-separated, absent when empty), and `cnf`/`act`
 * when given.
 */
export async function mintAccessToken(
  key: SigningKey,
  claims: AccessTokenClaims,
): Promise<MintedAccessToken> {
  const jti = randomBytes(16).toString('base64url');
  let header = headers.get(key.kid);
  if (header === undefined) {
    header = encodeBase64Url(JSON.stringify({ alg: key.alg, kid: key.kid, typ: 'at+jwt' }));
    if (headers.size > 64) headers.clear();
    headers.set(key.kid, header);
  }
  const body = encodeBase64Url(
    JSON.stringify({
      iss: claims.iss,
      sub: claims.sub,
      aud: claims.aud.length === 1 ? claims.aud[0] : claims.aud,
      exp: seconds(claims.expiresAt),
      iat: seconds(claims.issuedAt),
      jti,
      client_id: claims.clientId,
      ...(claims.scope.length > 0 && { scope: claims.scope.join(' ') }),
      ...(claims.x5tS256 !== undefined && { cnf: { 'x5t#S256': claims.x5tS256 } }),
      ...(claims.act !== undefined && { act: claims.act }),
    }),
  );
  const input = `${header}.${body}`;
  const signature = await key.sign(Buffer.from(input, 'latin1'));
  return { token: `${input}.${encodeBase64Url(signature)}`, jti };
}

/** A verified access token's claims, or why it was refused. */
export type AccessTokenResult =
  | { readonly ok: true; readonly claims: JsonObject; readonly kid: string }
  | { readonly ok: false; readonly reason: string };

const isAtJwt = (typ: string | undefined) =>
  typ !== undefined && ['at+jwt', 'application/at+jwt'].includes(typ.toLowerCase());

/**
 * Verifies an access token Parley issued, as RFC 9068 §4 says a resource server must: `typ`
 * must be `at+jwt`, the key one of `jwks` by `kid`, and on top of `verifyJwt`'s checks `sub`,
 * `client_id` and `jti` must be present.
 */
export function verifyAccessToken(
  token: string,
  jwks: readonly PublishedJwk[],
  expected: { readonly issuer: string; readonly audience?: string; readonly now: number },
): AccessTokenResult {
  const r: JwtResult = verifyJwt(token, jwks, { ...expected, acceptTyp: isAtJwt });
  if (!r.ok) return r;
  const { claims } = r;
  if (typeof claims.get('sub') !== 'string' || typeof claims.get('client_id') !== 'string') {
    return { ok: false, reason: 'sub and client_id are required' };
  }
  if (typeof claims.get('jti') !== 'string') return { ok: false, reason: 'jti is required' };
  if (secondsClaim(claims, 'iat') === undefined) return { ok: false, reason: 'iat is required' };
  return { ok: true, claims, kid: r.kid };
}

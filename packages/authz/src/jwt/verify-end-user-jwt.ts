import type { AuthzJwk, AuthzJwsAlgorithm } from '@parley/api';
import { type Clock, isJsonArray } from '@parley/core';
import { decodeJwt, numericDate, plainJson } from './decode-jwt.js';
import { jwkFitsAlgorithm, jwkPublicKey, verifyJwsSignature } from './jws-signature.js';

/** An issuer as the verifier needs it: its `iss`, its audiences (empty: any) and its keys. */
export interface EndUserJwtIssuer {
  readonly issuer: string;
  readonly audiences: readonly string[];
  readonly keys: readonly AuthzJwk[];
}

/** A verified end-user token. */
export interface EndUserJwt {
  readonly issuer: string;
  readonly subject?: string;
  readonly audiences: readonly string[];
  readonly algorithm: AuthzJwsAlgorithm;
  readonly keyId?: string;
  /** Milliseconds since the epoch. */
  readonly expiresAt: number;
  /** Every claim, as plain JSON (numbers as doubles): what `request.auth.claims` sees. */
  readonly claims: Readonly<Record<string, unknown>>;
}

/**
 * The outcome of verifying an end-user token: the token, or why it is refused and the status
 * Envoy's JWT filter answers with — 403 when only the audience is wrong, 401 otherwise.
 */
export type EndUserJwtResult =
  | { readonly ok: true; readonly jwt: EndUserJwt }
  | { readonly ok: false; readonly status: 401 | 403; readonly reason: string };

/** The clock skew allowed on `exp` and `nbf`, in seconds (Envoy's `clock_skew_seconds`). */
export const JWT_CLOCK_SKEW_SECONDS = 60;

/**
 * Verifies an end-user JWT as the JWT filter Parley configures in Envoy does: decoded strictly;
 * `iss` names one of `issuers` exactly; its `aud` contains one of the issuer's audiences when it
 * has some (compared as Envoy does, without an `http://`/`https://` scheme or a trailing `/`);
 * `exp` is required; `nbf` and `exp` hold at `clock` within JWT_CLOCK_SKEW_SECONDS; a key of
 * the issuer — by `kid` when both name one, whose own `alg` (if any) and type fit the token's
 * `alg` — verifies the signature. Checks run in Envoy's order, so the reason and status are the
 * ones Envoy's answer gives.
 */
export function verifyEndUserJwt(
  token: string,
  issuers: readonly EndUserJwtIssuer[],
  clock: Clock,
): EndUserJwtResult {
  const reject = (reason: string, status: 401 | 403 = 401): EndUserJwtResult => ({
    ok: false,
    status,
    reason,
  });
  const decoded = decodeJwt(token);
  if (!decoded.ok) return reject(decoded.reason);
  const { algorithm, keyId, claims, signingInput, signature } = decoded.jwt;

  const iss = claims.get('iss') as string | undefined;
  if (iss === undefined) return reject('token has no iss claim');
  const issuer = issuers.find((i) => i.issuer === iss);
  if (issuer === undefined) {
    return reject(`token issuer ${JSON.stringify(iss.slice(0, 128))} is not configured`);
  }

  const aud = claims.get('aud');
  const audiences =
    aud === undefined ? [] : isJsonArray(aud) ? (aud as readonly string[]) : [aud as string];
  if (issuer.audiences.length > 0) {
    const allowed = new Set(issuer.audiences.map(sanitizeAudience));
    if (!audiences.some((a) => allowed.has(sanitizeAudience(a)))) {
      return reject('token audience is not allowed', 403);
    }
  }

  const exp = numericDate(claims.get('exp'));
  if (exp === undefined) return reject('token has no exp claim');
  const nbf = numericDate(claims.get('nbf')) ?? 0;
  // Whole seconds, as Envoy compares them.
  const now = Math.floor(clock.now() / 1000);
  if (now + JWT_CLOCK_SKEW_SECONDS < nbf) return reject('token is not yet valid');
  if (now > exp + JWT_CLOCK_SKEW_SECONDS) return reject('token has expired');

  const candidates = issuer.keys.filter(
    (k) =>
      (keyId === undefined || k.kid === undefined || k.kid === keyId) &&
      jwkFitsAlgorithm(k, algorithm),
  );
  if (candidates.length === 0) {
    return reject(
      `no key of the issuer fits the token (alg ${algorithm}, kid ${keyIdText(keyId)})`,
    );
  }
  const data = Buffer.from(signingInput, 'latin1');
  const verified = candidates.some((k) => {
    const key = jwkPublicKey(k);
    return key !== undefined && verifyJwsSignature(algorithm, key, data, signature);
  });
  if (!verified) return reject('token signature does not verify');

  const sub = claims.get('sub') as string | undefined;
  return {
    ok: true,
    jwt: {
      issuer: iss,
      ...(sub !== undefined && { subject: sub }),
      audiences,
      algorithm,
      ...(keyId !== undefined && { keyId }),
      expiresAt: exp * 1000,
      claims: plainJson(claims) as Record<string, unknown>,
    },
  };
}

/** An audience without its `http://` or `https://` scheme and one trailing `/` (as Envoy). */
function sanitizeAudience(aud: string): string {
  const start = aud.startsWith('http://') ? 7 : aud.startsWith('https://') ? 8 : 0;
  const end = aud.length > start && aud.endsWith('/') ? aud.length - 1 : aud.length;
  return aud.slice(start, end);
}

function keyIdText(kid: string | undefined): string {
  return kid === undefined ? 'none' : JSON.stringify(kid.slice(0, 64));
}

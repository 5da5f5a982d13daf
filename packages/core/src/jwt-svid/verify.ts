import type { Clock } from '../clock.js';
import type { BundleSource } from '../bundle/bundle.js';
import {
  type JsonObject,
  JsonNumber,
  isJsonArray,
  isJsonObject,
  parseJson,
} from '../json/parse-json.js';
import { type SpiffeId, parseSpiffeId, spiffeIdProblem } from '../spiffe-id/spiffe-id.js';
import { isJwsAlgorithm, keyAlgorithmProblem, verifyJwsSignature } from './algorithms.js';
import { decodeBase64Url } from './base64url.js';

/** A verified JWT-SVID. */
export interface JwtSvid {
  readonly spiffeId: SpiffeId;
  readonly audience: readonly string[];
  /** Milliseconds since the epoch. */
  readonly expiresAt: number;
  readonly keyId: string;
  /** Every claim, as parsed (numbers keep their exact text). */
  readonly claims: JsonObject;
}

/** The outcome of verifying a JWT-SVID: the token, or why it was rejected. */
export type JwtSvidResult = { ok: true; svid: JwtSvid } | { ok: false; reason: string };

/** Tokens longer than this are rejected before decoding. */
export const MAX_JWT_SVID_LENGTH = 16 * 1024;

/** Clock skew tolerated for `nbf` and `iat` (go-spiffe allows 60 s); `exp` gets none. */
export const FUTURE_LEEWAY_MS = 60_000;

const ALLOWED_HEADERS = new Set(['alg', 'kid', 'typ']);

/**
 * Verifies a JWT-SVID (JWT-SVID §2–§5): compact JWS only; header limited to `alg` (RS/ES/PS
 * 256–512), `kid` (required) and `typ` (`JWT` or `JOSE`) — so no `jwk`/`jku`/`x5u`/`x5c` key
 * selection; the key comes from the bundle of the `sub` claim's trust domain by `kid` and must
 * suit `alg`; `aud` must contain one of `audience`; `exp` is required and in the future; `nbf`
 * and `iat`, when present, must not be more than FUTURE_LEEWAY_MS in the future.
 */
export function verifyJwtSvid(
  token: string,
  bundles: BundleSource,
  audience: readonly string[],
  clock: Clock,
): JwtSvidResult {
  const reject = (reason: string): JwtSvidResult => ({ ok: false, reason });
  if (token.length > MAX_JWT_SVID_LENGTH)
    return reject(`token exceeds ${MAX_JWT_SVID_LENGTH} characters`);
  const parts = token.split('.');
  if (parts.length !== 3) return reject('token is not a compact JWS (JWT-SVID §5.1)');
  const [h = '', c = '', s = ''] = parts;
  const headerBytes = decodeBase64Url(h);
  const claimBytes = decodeBase64Url(c);
  const signature = decodeBase64Url(s);
  if (headerBytes === undefined || claimBytes === undefined || signature === undefined)
    return reject('token is not valid base64url');

  let header: JsonObject;
  let claims: JsonObject;
  try {
    const hv = parseJson(new TextDecoder('utf-8', { fatal: true }).decode(headerBytes));
    const cv = parseJson(new TextDecoder('utf-8', { fatal: true }).decode(claimBytes));
    if (!isJsonObject(hv) || !isJsonObject(cv))
      return reject('token header and claims must be JSON objects');
    header = hv;
    claims = cv;
  } catch (err) {
    return reject(`token is malformed: ${(err as Error).message}`);
  }

  for (const name of header.keys()) {
    if (!ALLOWED_HEADERS.has(name))
      return reject(`header "${name.slice(0, 32)}" is not allowed in a JWT-SVID (JWT-SVID §2)`);
  }
  const alg = header.get('alg');
  if (!isJwsAlgorithm(alg)) return reject('unsupported token signature algorithm (JWT-SVID §2.1)');
  const kid = header.get('kid');
  if (typeof kid !== 'string' || kid === '') return reject('token header missing key id');
  const typ = header.get('typ');
  if (typ !== undefined && typ !== 'JWT' && typ !== 'JOSE')
    return reject('token header type not allowed (JWT-SVID §2.3)');

  const sub = claims.get('sub');
  if (typeof sub !== 'string') return reject('token missing subject claim (JWT-SVID §3.1)');
  const subProblem = spiffeIdProblem(sub);
  if (subProblem !== undefined) return reject(`token has an invalid subject claim: ${subProblem}`);
  const spiffeId = parseSpiffeId(sub);

  const bundle = bundles.bundleFor(spiffeId.trustDomain);
  if (bundle === undefined)
    return reject(`no bundle found for trust domain "${spiffeId.trustDomain.name}"`);
  const key = bundle.jwtAuthorities.get(kid);
  if (key === undefined)
    return reject(
      `no JWT authority "${kid.slice(0, 64)}" found for trust domain "${spiffeId.trustDomain.name}"`,
    );
  const keyProblem = keyAlgorithmProblem(alg, key);
  if (keyProblem !== undefined) return reject(keyProblem);
  if (!verifyJwsSignature(alg, key, Buffer.from(`${h}.${c}`, 'latin1'), signature))
    return reject('unable to verify token signature');

  const now = clock.now();
  const exp = numericDate(claims.get('exp'));
  if (exp === undefined) return reject('token missing exp claim (JWT-SVID §3.3)');
  if (exp === null) return reject('token has an invalid exp claim');
  if (now >= exp) return reject('token has expired');
  for (const name of ['nbf', 'iat'] as const) {
    const t = numericDate(claims.get(name));
    if (t === null) return reject(`token has an invalid ${name} claim`);
    if (t !== undefined && t > now + FUTURE_LEEWAY_MS)
      return reject(name === 'nbf' ? 'token is not yet valid' : 'token issued in the future');
  }

  const aud = claims.get('aud');
  const auds =
    typeof aud === 'string'
      ? [aud]
      : isJsonArray(aud) && aud.every((a) => typeof a === 'string')
        ? (aud as string[])
        : undefined;
  if (auds === undefined || auds.length === 0)
    return reject('token missing audience claim (JWT-SVID §3.2)');
  if (!audience.some((a) => auds.includes(a)))
    return reject(
      `expected audience in ${JSON.stringify(audience).slice(0, 256)} (audience=${JSON.stringify(auds).slice(0, 256)})`,
    );

  return { ok: true, svid: { spiffeId, audience: auds, expiresAt: exp, keyId: kid, claims } };
}

/** A NumericDate (RFC 7519 §2) in ms; undefined when absent, null when not a number. */
function numericDate(v: unknown): number | undefined | null {
  if (v === undefined) return undefined;
  if (!(v instanceof JsonNumber)) return null;
  const n = v.toNumber();
  return Number.isFinite(n) && n >= 0 ? n * 1000 : null;
}

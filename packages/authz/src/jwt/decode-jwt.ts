import type { AuthzJwsAlgorithm } from '@parley/api';
import {
  type JsonObject,
  type JsonValue,
  JsonNumber,
  isJsonArray,
  isJsonObject,
  parseJson,
} from '@parley/core';

/** A JWT in compact JWS form (RFC 7515 §7.1), decoded but not yet verified. */
export interface DecodedJwt {
  readonly algorithm: AuthzJwsAlgorithm;
  readonly keyId?: string;
  /** The claims as parsed (numbers keep their exact text). */
  readonly claims: JsonObject;
  /** `BASE64URL(header) '.' BASE64URL(payload)`: what the signature covers. */
  readonly signingInput: string;
  readonly signature: Buffer;
}

/** The outcome of decoding a JWT: the parts, or why it is malformed. */
export type DecodedJwtResult =
  { readonly ok: true; readonly jwt: DecodedJwt } | { readonly ok: false; readonly reason: string };

/** Tokens longer than this are refused before decoding. */
export const MAX_JWT_LENGTH = 16 * 1024;

const ALGORITHMS: readonly string[] = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'EdDSA',
] satisfies readonly AuthzJwsAlgorithm[];

/**
 * Decodes a compact JWS JWT as Envoy's JWT filter parses it: three base64url parts, a JSON
 * header with a supported `alg` and an optional string `kid`, a JSON payload whose `iss`, `sub`
 * and `jti` are strings, `iat`, `nbf` and `exp` non-negative integers, and `aud` a string or a
 * list of strings, when present. Nothing here says the token is authentic.
 */
export function decodeJwt(token: string): DecodedJwtResult {
  const reject = (reason: string): DecodedJwtResult => ({ ok: false, reason });
  if (token.length > MAX_JWT_LENGTH) return reject(`token exceeds ${MAX_JWT_LENGTH} characters`);
  const parts = token.split('.');
  if (parts.length !== 3) return reject('token is not a compact JWS (header.payload.signature)');
  const [h = '', p = '', s = ''] = parts;
  const headerBytes = decodeBase64Url(h);
  const payloadBytes = decodeBase64Url(p);
  const signature = decodeBase64Url(s);
  if (headerBytes === undefined || payloadBytes === undefined || signature === undefined) {
    return reject('token is not valid base64url');
  }
  let header: JsonValue;
  let claims: JsonValue;
  try {
    const utf8 = new TextDecoder('utf-8', { fatal: true });
    header = parseJson(utf8.decode(headerBytes), { maxLength: MAX_JWT_LENGTH });
    claims = parseJson(utf8.decode(payloadBytes), { maxLength: MAX_JWT_LENGTH });
  } catch (err) {
    return reject(`token is malformed: ${(err as Error).message}`);
  }
  if (!isJsonObject(header) || !isJsonObject(claims)) {
    return reject('token header and payload must be JSON objects');
  }
  const alg = header.get('alg');
  if (typeof alg !== 'string' || !ALGORITHMS.includes(alg)) {
    return reject(`token algorithm is not supported (${ALGORITHMS.join(', ')})`);
  }
  const kid = header.get('kid');
  if (kid !== undefined && typeof kid !== 'string') return reject('token kid is not a string');
  for (const name of ['iss', 'sub', 'jti']) {
    const v = claims.get(name);
    if (v !== undefined && typeof v !== 'string') return reject(`token ${name} is not a string`);
  }
  for (const name of ['iat', 'nbf', 'exp']) {
    const v = claims.get(name);
    if (v !== undefined && numericDate(v) === undefined) {
      return reject(`token ${name} is not a non-negative integer`);
    }
  }
  const aud = claims.get('aud');
  if (
    aud !== undefined &&
    typeof aud !== 'string' &&
    !(isJsonArray(aud) && aud.every((a) => typeof a === 'string'))
  ) {
    return reject('token aud is not a string or a list of strings');
  }
  return {
    ok: true,
    jwt: {
      algorithm: alg as AuthzJwsAlgorithm,
      ...(kid !== undefined && { keyId: kid }),
      claims,
      signingInput: `${h}.${p}`,
      signature,
    },
  };
}

/** A NumericDate claim (RFC 7519 §2) in whole seconds, or undefined when it is not one. */
export function numericDate(v: JsonValue | undefined): number | undefined {
  if (!(v instanceof JsonNumber)) return undefined;
  const n = v.toNumber();
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

/** Converts parsed JSON to plain data (numbers as doubles), as Envoy puts claims in metadata. */
export function plainJson(v: JsonValue): unknown {
  if (v instanceof JsonNumber) return v.toNumber();
  if (isJsonArray(v)) return v.map(plainJson);
  if (isJsonObject(v)) {
    const out: Record<string, unknown> = {};
    for (const [k, value] of v) {
      Object.defineProperty(out, k, { value: plainJson(value), enumerable: true, writable: true });
    }
    return out;
  }
  return v;
}

const BASE64URL = /^[A-Za-z0-9_-]*$/;

/** Strict unpadded base64url (RFC 7515 §2), or undefined when not canonical. */
function decodeBase64Url(text: string): Buffer | undefined {
  if (!BASE64URL.test(text) || text.length % 4 === 1) return undefined;
  const bytes = Buffer.from(text, 'base64url');
  return bytes.toString('base64url') === text ? bytes : undefined;
}

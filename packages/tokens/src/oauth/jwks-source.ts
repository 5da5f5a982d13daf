import { readFile } from 'node:fs/promises';
import { get } from 'node:https';
import { isJsonArray, isJsonObject, parseJson } from '@parley/core';
import type { VerificationJwk } from '../jwt/jws.js';
import type { SubjectIssuer } from './token-service.js';

/** A JWK Set larger than this is refused. */
const MAX_JWKS_BYTES = 256 * 1024;
const MAX_KEYS = 100;
const FETCH_TIMEOUT_MS = 10_000;

/** Where an issuer's keys are read from. */
export type JwksLocation =
  { readonly file: string } | { readonly url: string; readonly ca?: string };

/**
 * Parses a JWK Set (RFC 7517 §5): an object whose `keys` is a list of key objects; keys without
 * `kid` (they cannot be selected) or for encryption are dropped. Duplicate member names refused.
 */
export function parseJwks(text: string): VerificationJwk[] {
  if (Buffer.byteLength(text) > MAX_JWKS_BYTES) throw new Error('the JWK Set is too large');
  const doc = parseJson(text);
  const keys = isJsonObject(doc) ? doc.get('keys') : undefined;
  if (!isJsonArray(keys)) throw new Error('a JWK Set needs a "keys" list');
  if (keys.length > MAX_KEYS) throw new Error(`a JWK Set may hold at most ${MAX_KEYS} keys`);
  const out: VerificationJwk[] = [];
  for (const k of keys) {
    if (!isJsonObject(k)) throw new Error('every key must be an object');
    const jwk: Record<string, unknown> = {};
    for (const [name, value] of k) {
      if (typeof value === 'string') jwk[name] = value;
    }
    if (typeof jwk['kid'] !== 'string' || (jwk['use'] !== undefined && jwk['use'] !== 'sig'))
      continue;
    if ('d' in jwk) throw new Error('a JWK Set must not hold private keys');
    out.push(jwk);
  }
  return out;
}

function fetchText(url: string, ca: string | undefined): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = get(url, { ...(ca !== undefined && { ca }), timeout: FETCH_TIMEOUT_MS }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        reject(new Error(`HTTP ${res.statusCode ?? 0}`));
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_JWKS_BYTES) req.destroy(new Error('the JWK Set is too large'));
        else chunks.push(c);
      });
      res.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      res.once('error', reject);
    });
    req.once('timeout', () => req.destroy(new Error('timed out')));
    req.once('error', reject);
  });
}

/**
 * A trusted issuer of subject tokens whose JWK Set comes from a file or an HTTPS URL. `refresh`
 * re-reads it; a failed refresh keeps the last good keys (and throws, for the caller to log).
 */
export class JwksIssuer implements SubjectIssuer {
  #keys: readonly VerificationJwk[] = [];

  constructor(
    readonly issuer: string,
    private readonly location: JwksLocation,
    readonly audience?: string,
  ) {}

  keys(): readonly VerificationJwk[] {
    return this.#keys;
  }

  async refresh(): Promise<void> {
    const where = 'file' in this.location ? this.location.file : this.location.url;
    try {
      const text =
        'file' in this.location
          ? await readFile(this.location.file, 'utf8')
          : await fetchText(this.location.url, this.location.ca);
      this.#keys = parseJwks(text);
    } catch (err) {
      throw new Error(`keys of issuer ${this.issuer} from ${where}: ${(err as Error).message}`);
    }
  }
}

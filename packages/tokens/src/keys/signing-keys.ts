import { type KeyObject, createHash, createPublicKey } from 'node:crypto';
import type { Clock } from '@parley/core';

/** The JWS algorithms the token server signs with: ES256 by default, RS256 optional. */
export type SigningAlgorithm = 'ES256' | 'RS256';

/** One signing key: its private key, its `kid`, and when it signs and when it is published. */
export interface SigningKey {
  readonly kid: string;
  readonly alg: SigningAlgorithm;
  readonly privateKey: KeyObject;
  /** From when it signs (it is published from its creation, `overlap` earlier). */
  readonly activeFrom: number;
  /** When it stops signing. */
  readonly activeUntil: number;
}

/** A JWK of a published verification key (RFC 7517 §4, `use: sig`). */
export interface PublishedJwk {
  readonly kty: string;
  readonly kid: string;
  readonly use: 'sig';
  readonly alg: SigningAlgorithm;
  readonly [member: string]: string;
}

/** The rotation schedule. */
export interface SigningKeySchedule {
  readonly alg: SigningAlgorithm;
  /** How long a key signs. */
  readonly activeMs: number;
  /** How long before it signs a key is published (so validators' JWKS caches hold it in time). */
  readonly overlapMs: number;
  /** The longest lifetime of a token: a key stays published this long after it stops signing. */
  readonly maxTokenTtlMs: number;
}

/** The kid of a key: RFC 7638 thumbprint of its public JWK (base64url SHA-256). */
export function jwkThumbprint(jwk: Readonly<Record<string, unknown>>): string {
  // RFC 7638 §3.2: the required members only, in lexicographic order, no whitespace.
  const members = jwk['kty'] === 'EC' ? ['crv', 'kty', 'x', 'y'] : ['e', 'kty', 'n'];
  const canonical = `{${members.map((m) => `"${m}":${JSON.stringify(jwk[m])}`).join(',')}}`;
  return createHash('sha256').update(canonical, 'utf8').digest('base64url');
}

function publicJwk(key: SigningKey): PublishedJwk {
  const jwk = createPublicKey(key.privateKey).export({ format: 'jwk' }) as Record<string, string>;
  const kty = jwk['kty'] as string;
  const members =
    kty === 'EC'
      ? { crv: jwk['crv'] as string, x: jwk['x'] as string, y: jwk['y'] as string }
      : { n: jwk['n'] as string, e: jwk['e'] as string };
  return { kty, ...members, kid: key.kid, use: 'sig', alg: key.alg };
}

/**
 * The token server's signing keys under a rotation schedule: the next key is made and published
 * `overlapMs` before it starts signing; a key signs for `activeMs`; a retired key stays in the
 * JWKS `maxTokenTtlMs` after it stopped signing, so every token it signed can be verified until
 * it expires. `advance(now)` is the only mutation; what it returns is the current key.
 */
export class SigningKeySet {
  #keys: SigningKey[] = [];
  readonly #jwks = new Map<string, PublishedJwk>();

  constructor(
    private readonly schedule: SigningKeySchedule,
    private readonly generate: (alg: SigningAlgorithm) => KeyObject,
    private readonly clock: Clock,
    initial: readonly SigningKey[] = [],
  ) {
    if (schedule.overlapMs >= schedule.activeMs) {
      throw new RangeError('the overlap must be shorter than a key signs');
    }
    this.#keys = [...initial].sort((a, b) => a.activeFrom - b.activeFrom);
  }

  /** Makes, retires and drops keys as the schedule says at `now`; returns the signing key. */
  advance(now = this.clock.now()): SigningKey {
    const { activeMs, overlapMs, maxTokenTtlMs } = this.schedule;
    this.#keys = this.#keys.filter((k) => k.activeUntil + maxTokenTtlMs > now);
    if (!this.#keys.some((k) => k.activeFrom <= now && now < k.activeUntil)) {
      this.#keys.push(this.#make(now, now + activeMs));
    }
    const last = this.#keys[this.#keys.length - 1] as SigningKey;
    if (last.activeUntil - overlapMs <= now) {
      this.#keys.push(this.#make(last.activeUntil, last.activeUntil + activeMs));
    }
    for (const kid of this.#jwks.keys()) {
      if (!this.#keys.some((k) => k.kid === kid)) this.#jwks.delete(kid);
    }
    return this.current(now);
  }

  /** The key that signs at `now` (call `advance` first). */
  current(now = this.clock.now()): SigningKey {
    const key = this.#keys.find((k) => k.activeFrom <= now && now < k.activeUntil);
    if (key === undefined) throw new Error('no signing key is active: call advance()');
    return key;
  }

  /** Every key held: the retired ones still published, the active one, the next one. */
  keys(): readonly SigningKey[] {
    return this.#keys;
  }

  /** The published JWK Set (RFC 7517 §5): every key held, `use: sig`. */
  jwks(): { readonly keys: readonly PublishedJwk[] } {
    return {
      keys: this.#keys.map((k) => {
        let jwk = this.#jwks.get(k.kid);
        if (jwk === undefined) {
          jwk = publicJwk(k);
          this.#jwks.set(k.kid, jwk);
        }
        return jwk;
      }),
    };
  }

  #make(activeFrom: number, activeUntil: number): SigningKey {
    const privateKey = this.generate(this.schedule.alg);
    const jwk = createPublicKey(privateKey).export({ format: 'jwk' });
    return { kid: jwkThumbprint(jwk), alg: this.schedule.alg, privateKey, activeFrom, activeUntil };
  }
}

import { createHash } from 'node:crypto';
import {
  XDS_TYPE_URL,
  encodeAny,
  jwtSvidSecretAudience,
  oauthTokenSecretRequest,
} from '@parley/api';
import { type Clock, decodeBase64Url } from '@parley/core';
import type { WorkloadApiLog } from '../workload-api/workload-api-deps.js';
import type { SdsSecret } from './sds-secrets.js';

/** After a failed fetch, the next attempt waits this long. */
const RETRY_MS = 5_000;
/** Fetched again this long after the half-life (the SVID cache renews at half-life). */
const AFTER_HALF_LIFE_MS = 1_000;
/** The most token secrets one stream may ask for. */
const MAX_TOKENS = 32;

/** True when `name` is a token secret: `parley:jwt-svid:<audience>` or `parley:oauth:…`. */
export function isTokenSecretName(name: string): boolean {
  return jwtSvidSecretAudience(name) !== undefined || oauthTokenSecretRequest(name) !== undefined;
}

interface Held {
  secret?: SdsSecret | undefined;
  expiresAt: number;
  timer?: NodeJS.Timeout;
  closed: boolean;
}

/** `iat` and `exp` of a token the agent obtained (a JWT-SVID or an access token), in ms. */
function lifetime(token: string): { issuedAt: number; expiresAt: number } {
  const body = decodeBase64Url(token.split('.')[1] ?? '');
  const claims = JSON.parse(body?.toString('utf8') ?? '{}') as { iat?: unknown; exp?: unknown };
  const exp = typeof claims.exp === 'number' ? claims.exp * 1000 : 0;
  const iat = typeof claims.iat === 'number' ? claims.iat * 1000 : exp;
  return { issuedAt: iat, expiresAt: exp };
}

/** The generic secret `Bearer <token>` named `name`. */
export function tokenSecret(name: string, token: string): SdsSecret {
  const resource = encodeAny(XDS_TYPE_URL.secret, {
    name,
    generic_secret: { secret: { inline_string: `Bearer ${token}` } },
  });
  // A digest of the token, never the token: versions and logs may show it.
  const fingerprint = createHash('sha256').update(token).digest('base64url');
  return { name, resource, fingerprint };
}

/**
 * The token secrets of one SDS stream (token egress, docs/tokens.md): for each requested
 * `parley:jwt-svid:<audience>` a JWT-SVID of the caller's default identity, for each
 * `parley:oauth:<audience>?scope=…` an access token from the token endpoint — fetched again after
 * half its lifetime, so Envoy always holds a valid one. A failed fetch is retried; a token past
 * its expiry is withdrawn. `onChange` runs whenever the set of available secrets changes.
 */
export class TokenSecrets {
  readonly #held = new Map<string, Held>();

  constructor(
    private readonly deps: {
      /** The token a token secret name stands for, for the caller's default identity. */
      readonly fetch: (name: string) => Promise<string>;
      readonly onChange: () => void;
      readonly clock: Clock;
      readonly log: WorkloadApiLog;
    },
  ) {}

  /** Follows the requested names: starts fetching new audiences, forgets dropped ones. */
  want(names: readonly string[]): void {
    const wanted = new Set(names.filter(isTokenSecretName).slice(0, MAX_TOKENS));
    for (const [name, held] of this.#held) {
      if (!wanted.has(name)) this.#drop(name, held);
    }
    for (const name of wanted) {
      if (!this.#held.has(name)) {
        const held: Held = { expiresAt: 0, closed: false };
        this.#held.set(name, held);
        this.#fetch(name, held);
      }
    }
  }

  /** The secrets available now, by name. */
  secrets(): SdsSecret[] {
    const now = this.deps.clock.now();
    return [...this.#held.values()]
      .filter((h) => h.secret !== undefined && h.expiresAt > now)
      .map((h) => h.secret as SdsSecret);
  }

  close(): void {
    for (const [name, held] of this.#held) this.#drop(name, held);
  }

  #drop(name: string, held: Held): void {
    held.closed = true;
    clearTimeout(held.timer);
    this.#held.delete(name);
  }

  #schedule(name: string, held: Held, at: number): void {
    if (held.closed) return;
    clearTimeout(held.timer);
    held.timer = setTimeout(() => this.#fetch(name, held), Math.max(0, at - this.deps.clock.now()));
    held.timer.unref();
  }

  #fetch(name: string, held: Held): void {
    this.deps.fetch(name).then(
      (token) => {
        if (held.closed) return;
        const { issuedAt, expiresAt } = lifetime(token);
        held.secret = tokenSecret(name, token);
        held.expiresAt = expiresAt;
        this.#schedule(name, held, issuedAt + (expiresAt - issuedAt) / 2 + AFTER_HALF_LIFE_MS);
        this.deps.onChange();
      },
      (err: unknown) => {
        if (held.closed) return;
        this.deps.log.warn('sds: no token for token egress', {
          secret: name.slice(0, 256),
          reason: (err as Error).message,
        });
        const now = this.deps.clock.now();
        if (held.secret !== undefined && held.expiresAt <= now) {
          held.secret = undefined;
          this.deps.onChange();
        }
        this.#schedule(name, held, now + RETRY_MS);
      },
    );
  }
}

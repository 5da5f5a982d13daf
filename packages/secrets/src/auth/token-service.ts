import { createHash, randomBytes } from 'node:crypto';
import type { Clock } from '@parley/core';
import {
  type Database,
  appendAudit,
  deleteSecretToken,
  getSecretToken,
  insertSecretToken,
  pruneSecretTokens,
} from '@parley/store';

/** What the store keeps of an issued token (its hash, never the token). */
export interface TokenRecord {
  readonly spiffeId: string;
  /** A public handle on the token (a prefix of its hash), as Vault's accessor. */
  readonly accessor: string;
  readonly createdAt: number;
  readonly expiresAt: number;
}

const TOKEN_PREFIX = 'pvs.';
const TOKEN_SHAPE = /^pvs\.[A-Za-z0-9_-]{43}$/;
/** How long a looked-up token is trusted from memory (a revocation on another replica lands within it). */
const CACHE_MS = 5_000;
const CACHE_ENTRIES = 10_000;

function hashOf(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

function accessorOf(hash: string): string {
  return hash.slice(0, 24);
}

/**
 * Short-lived tokens from SPIFFE login: 32 random bytes (`pvs.` + base64url), stored as their
 * SHA-256 only, each issue audited in the transaction that stores it; lookups are cached briefly
 * so a read costs no query.
 */
export class TokenService {
  readonly #cache = new Map<string, { record: TokenRecord; until: number }>();

  constructor(
    private readonly deps: {
      readonly db: Database;
      readonly clock: Clock;
      readonly ttlMs: number;
    },
  ) {}

  /** Issues a token for `spiffeId` and records it (and the login) in the audit chain. */
  async issue(
    spiffeId: string,
    method: 'x509' | 'jwt',
    requestId: string,
  ): Promise<{ token: string; accessor: string; ttlSeconds: number }> {
    const token = `${TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
    const hash = hashOf(token);
    const now = this.deps.clock.now();
    const expiresAt = now + this.deps.ttlMs;
    await this.deps.db.transaction(async (tx) => {
      await insertSecretToken(tx, { tokenHash: hash, spiffeId, createdAt: now, expiresAt });
      await appendAudit(tx, {
        at: now,
        module: 'secrets',
        action: 'auth.login',
        subject: spiffeId,
        detail: { method, outcome: 'allowed', accessor: accessorOf(hash), expiresAt, requestId },
      });
    });
    return { token, accessor: accessorOf(hash), ttlSeconds: Math.floor(this.deps.ttlMs / 1000) };
  }

  /** Records a refused login (why, never the credential). */
  async refused(method: 'x509' | 'jwt', reason: string, requestId: string): Promise<void> {
    await this.deps.db.transaction((tx) =>
      appendAudit(tx, {
        at: this.deps.clock.now(),
        module: 'secrets',
        action: 'auth.login',
        subject: 'anonymous',
        detail: { method, outcome: 'denied', reason: reason.slice(0, 200), requestId },
      }),
    );
  }

  /** The live token `token` names, or undefined (unknown, malformed or expired). */
  async lookup(token: string): Promise<TokenRecord | undefined> {
    if (!TOKEN_SHAPE.test(token)) return undefined;
    const hash = hashOf(token);
    const now = this.deps.clock.now();
    const cached = this.#cache.get(hash);
    let record = cached !== undefined && cached.until > now ? cached.record : undefined;
    if (record === undefined) {
      const row = await getSecretToken(this.deps.db, hash);
      if (row === undefined) return undefined;
      record = {
        spiffeId: row.spiffeId,
        accessor: accessorOf(hash),
        createdAt: row.createdAt,
        expiresAt: row.expiresAt,
      };
      if (this.#cache.size >= CACHE_ENTRIES) this.#cache.clear();
      this.#cache.set(hash, { record, until: now + CACHE_MS });
    }
    return record.expiresAt > now ? record : undefined;
  }

  /** Revokes a token (its owner's `revoke-self`). */
  async revoke(token: string): Promise<void> {
    if (!TOKEN_SHAPE.test(token)) return;
    const hash = hashOf(token);
    this.#cache.delete(hash);
    await deleteSecretToken(this.deps.db, hash);
  }

  /** Deletes expired tokens; returns how many. */
  prune(): Promise<number> {
    return pruneSecretTokens(this.deps.db, this.deps.clock.now());
  }
}

import { ParleyError } from '@parley/core';
import type { SpiffeId } from '@parley/core';
import type { Queryable } from '../../database.js';
import { checkCount, checkSpiffeId } from '../stored-value.js';
import type { JoinTokenRecord } from './join-token.js';
import { hashJoinToken } from './join-token.js';

/** A join token to store: the token itself is hashed here and never stored. */
export interface NewJoinToken {
  readonly token: string;
  readonly spiffeId?: SpiffeId;
  /** ms since the epoch; the token is refused from this time on. */
  readonly expiresAt: number;
}

/**
 * Stores the SHA-256 of a join token (never the token) with the agent ID it grants and its
 * expiry. Fails with `already-exists` when the same token is stored already.
 */
export async function createJoinToken(
  db: Queryable,
  joinToken: NewJoinToken,
  now: number,
): Promise<JoinTokenRecord> {
  const tokenHash = hashJoinToken(joinToken.token);
  if (joinToken.spiffeId !== undefined) checkSpiffeId('join token spiffeId', joinToken.spiffeId);
  checkCount('join token expiresAt', joinToken.expiresAt);
  checkCount('now', now);
  const inserted = await db.execute(
    `INSERT INTO join_tokens (token_hash, spiffe_id, expires_at, created_at)
     VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`,
    [tokenHash, joinToken.spiffeId?.toString() ?? null, joinToken.expiresAt, now],
  );
  // The message names neither the token nor its hash.
  if (inserted === 0) throw new ParleyError('already-exists', 'this join token exists already');
  return {
    tokenHash,
    ...(joinToken.spiffeId === undefined ? {} : { spiffeId: joinToken.spiffeId }),
    expiresAt: joinToken.expiresAt,
    createdAt: now,
  };
}

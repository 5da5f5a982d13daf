import type { Queryable } from '../../database.js';
import { checkCount } from '../stored-value.js';
import type { JoinTokenRecord, JoinTokenRow } from './join-token.js';
import { JOIN_TOKEN_COLUMNS, hashJoinToken, joinTokenFromRow } from './join-token.js';

/** The outcome of presenting a join token: consumed (it is gone now), unknown, or expired. */
export type JoinTokenOutcome =
  | { readonly kind: 'consumed'; readonly joinToken: JoinTokenRecord }
  | { readonly kind: 'not-found' }
  | { readonly kind: 'expired'; readonly joinToken: JoinTokenRecord };

/**
 * Consumes a join token at `now`: one `DELETE … RETURNING`, so among any number of concurrent
 * callers on any replicas exactly one gets it. A token whose `expiresAt <= now` is deleted too
 * and reported as `expired`; a token not stored (or already consumed) is `not-found`.
 */
export async function consumeJoinToken(
  db: Queryable,
  token: string,
  now: number,
): Promise<JoinTokenOutcome> {
  const tokenHash = hashJoinToken(token);
  checkCount('now', now);
  const [row] = await db.query<JoinTokenRow>(
    `DELETE FROM join_tokens WHERE token_hash = $1 RETURNING ${JOIN_TOKEN_COLUMNS}`,
    [tokenHash],
  );
  if (row === undefined) return { kind: 'not-found' };
  const joinToken = joinTokenFromRow(row);
  return joinToken.expiresAt <= now
    ? { kind: 'expired', joinToken }
    : { kind: 'consumed', joinToken };
}

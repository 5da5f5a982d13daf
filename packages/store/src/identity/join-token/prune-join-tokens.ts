import type { Queryable } from '../../database.js';
import { checkCount } from '../stored-value.js';

/** Deletes the join tokens expired at `now` (`expiresAt <= now`) and returns how many. */
export async function pruneJoinTokens(db: Queryable, now: number): Promise<number> {
  checkCount('now', now);
  return db.execute('DELETE FROM join_tokens WHERE expires_at <= $1', [now]);
}

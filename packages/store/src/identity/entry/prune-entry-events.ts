import type { Queryable } from '../../database.js';
import { checkCount } from '../stored-value.js';

/**
 * Deletes the entry events recorded before `before` (ms), oldest first, and returns how many.
 * The newest event is always kept, so seqs keep growing; agents that had not read the pruned
 * events get `resync` from `listEntryEventsSince`.
 */
export async function pruneEntryEvents(db: Queryable, before: number): Promise<number> {
  checkCount('before', before);
  // A prefix of the feed: everything up to the newest event older than `before`.
  return db.execute(
    `DELETE FROM entry_events
     WHERE seq <= (SELECT MAX(seq) FROM entry_events WHERE at < $1)
       AND seq < (SELECT MAX(seq) FROM entry_events)`,
    [before],
  );
}

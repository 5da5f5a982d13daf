import type { Queryable } from '../../database.js';
import { checkCount } from '../stored-value.js';

/**
 * What changed since a seq of the entry change feed: the ids of the entries created, updated or
 * deleted since (each once, in no particular order) and the seq to ask from next time; or, when
 * the events since then were pruned (or the seq is not of this feed), `resync`: re-read every
 * entry, then continue from `seq`.
 */
export type EntryChanges =
  | { readonly kind: 'changes'; readonly entryIds: readonly string[]; readonly seq: number }
  | { readonly kind: 'resync'; readonly seq: number };

interface FeedRow {
  readonly first: number | null;
  readonly last: number | null;
  readonly entry_id: string | null;
}

/**
 * Reads the entry change feed after `since` (0 for the beginning). Events commit in seq order
 * without gaps, so a reader that continues from the returned seq misses nothing. For a resync,
 * call this first and list the entries after, so that changes in between are seen next time.
 */
export async function listEntryEventsSince(db: Queryable, since: number): Promise<EntryChanges> {
  checkCount('since', since);
  // One statement, so the bounds and the ids come from the same snapshot.
  const rows = await db.query<FeedRow>(
    `SELECT b.first, b.last, c.entry_id
     FROM (SELECT MIN(seq) AS first, MAX(seq) AS last FROM entry_events) b
     LEFT JOIN (SELECT entry_id FROM entry_events WHERE seq > $1 GROUP BY entry_id) c ON 1 = 1`,
    [since],
  );
  const first = rows[0]?.first ?? null;
  const last = rows[0]?.last ?? null;
  if (first === null || last === null) {
    return since === 0 ? { kind: 'changes', entryIds: [], seq: 0 } : { kind: 'resync', seq: 0 };
  }
  // Events since+1 … first-1 were pruned; a seq beyond the last is from another feed.
  if (since < first - 1 || since > last) return { kind: 'resync', seq: last };
  const entryIds = rows.flatMap((r) => (r.entry_id === null ? [] : [r.entry_id]));
  return { kind: 'changes', entryIds, seq: last };
}

import { ParleyError } from '@parley/core';
import type { Transaction } from '../../database.js';
import type { Selector } from '../selector.js';
import { MAX_BOUND_VALUES, SqlParams, chunks } from '../sql-params.js';
import { checkCount, checkTransaction } from '../stored-value.js';

/**
 * Serializes every change to registration entries across replicas: it makes the duplicate checks
 * race-free and lets entry events take consecutive seqs that commit in order.
 */
const ENTRIES_LOCK = 'parley.registration_entries';

/** Starts a change to entries inside `tx`: checks the arguments and takes the entries' lock. */
export async function beginEntryChange(what: string, tx: Transaction, now: number): Promise<void> {
  checkTransaction(what, tx);
  checkCount(`${what} now`, now);
  await tx.lock(ENTRIES_LOCK);
}

/** Stores the selector rows of entry `id` (the caller has removed any old ones). */
export async function insertEntrySelectors(
  tx: Transaction,
  id: string,
  selectors: readonly Selector[],
): Promise<void> {
  for (const chunk of chunks(selectors, Math.floor(MAX_BOUND_VALUES / 3))) {
    const params = new SqlParams();
    const rows = chunk.map((s) => `(${params.list([id, s.type, s.value])})`).join(', ');
    await tx.execute(
      `INSERT INTO entry_selectors (entry_id, type, value) VALUES ${rows}`,
      params.values,
    );
  }
}

/**
 * Appends "entry `id` changed" to the change feed, in the transaction of the change and under the
 * entries' lock: seq is the last one plus one. Pruning always keeps the last event, so a seq is
 * never handed out twice.
 */
export async function appendEntryEvent(tx: Transaction, id: string, now: number): Promise<number> {
  const [row] = await tx.query<{ seq: number }>(
    `INSERT INTO entry_events (seq, entry_id, at)
     SELECT COALESCE(MAX(seq), 0) + 1, CAST($1 AS TEXT), CAST($2 AS BIGINT) FROM entry_events
     RETURNING seq`,
    [id, now],
  );
  if (row === undefined)
    throw new ParleyError('internal', 'appending an entry event returned no seq');
  return row.seq;
}

/** The error for an entry id that names no entry. */
export function entryNotFound(id: string): ParleyError {
  return new ParleyError('not-found', `registration entry ${JSON.stringify(id)} not found`);
}

/** Finds an entry other than `exceptId` with the same SPIFFE ID, parent ID and selector set. */
export async function findSameEntry(
  tx: Transaction,
  values: { spiffeId: string; parentId: string; selectorsHash: string },
  exceptId: string,
): Promise<string | undefined> {
  const [row] = await tx.query<{ id: string }>(
    `SELECT id FROM registration_entries
     WHERE spiffe_id = $1 AND parent_id = $2 AND selectors_hash = $3 AND id <> $4`,
    [values.spiffeId, values.parentId, values.selectorsHash, exceptId],
  );
  return row?.id;
}

/** The error for an entry that would duplicate `existing`. */
export function duplicateEntry(existing: string): ParleyError {
  return new ParleyError(
    'already-exists',
    `a registration entry with the same SPIFFE ID, parent ID and selectors already exists ` +
      `(${JSON.stringify(existing)})`,
  );
}

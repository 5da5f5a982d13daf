import { ParleyError } from '@parley/core';
import type { Transaction } from '../../database.js';
import { checkCount } from '../stored-value.js';
import {
  appendEntryEvent,
  beginEntryChange,
  duplicateEntry,
  entryNotFound,
  findSameEntry,
  insertEntrySelectors,
} from './entry-writes.js';
import type { RegistrationEntry, RegistrationEntryInput } from './registration-entry.js';
import { FIELD_COLUMNS, checkEntryFields } from './registration-entry.js';

/** When and on what condition an update applies. */
export interface UpdateEntryOptions {
  /** The caller's clock, ms since the epoch. */
  readonly now: number;
  /** Apply only if the entry is still at this revision (optimistic concurrency). */
  readonly expectedRevision?: number;
}

/**
 * Replaces the fields of entry `id` with `fields` (absent ones take their defaults, as at
 * creation) in `tx`, bumps its revision and records an event in the change feed. Fails with
 * `not-found`, with `failed-precondition` when `expectedRevision` is given and the entry has moved
 * on, and with `already-exists` when the result would duplicate another entry. To change a few
 * fields, read the entry, spread it with the changes and pass its revision as expected.
 */
export async function updateEntry(
  tx: Transaction,
  id: string,
  fields: RegistrationEntryInput,
  options: UpdateEntryOptions,
): Promise<RegistrationEntry> {
  const { now, expectedRevision } = options;
  await beginEntryChange('updateEntry', tx, now);
  if (expectedRevision !== undefined) checkCount('expectedRevision', expectedRevision);
  const checked = checkEntryFields(fields);
  const [current] = await tx.query<{ revision: number; created_at: number }>(
    'SELECT revision, created_at FROM registration_entries WHERE id = $1',
    [id],
  );
  if (current === undefined) throw entryNotFound(id);
  if (expectedRevision !== undefined && current.revision !== expectedRevision) {
    throw new ParleyError(
      'failed-precondition',
      `registration entry ${JSON.stringify(id)} is at revision ${current.revision}, ` +
        `not the expected ${expectedRevision}: it was changed meanwhile`,
    );
  }
  const same = await findSameEntry(
    tx,
    {
      spiffeId: checked.fields.spiffeId.toString(),
      parentId: checked.fields.parentId.toString(),
      selectorsHash: checked.selectorsHash,
    },
    id,
  );
  if (same !== undefined) throw duplicateEntry(same);
  const revision = current.revision + 1;
  const assignments = FIELD_COLUMNS.map((c, i) => `${c} = $${i + 1}`).join(', ');
  const n = FIELD_COLUMNS.length;
  await tx.execute(
    `UPDATE registration_entries SET ${assignments}, revision = $${n + 1}, updated_at = $${n + 2}
     WHERE id = $${n + 3}`,
    [...checked.values, revision, now, id],
  );
  await tx.execute('DELETE FROM entry_selectors WHERE entry_id = $1', [id]);
  await insertEntrySelectors(tx, id, checked.fields.selectors);
  await appendEntryEvent(tx, id, now);
  return { id, ...checked.fields, revision, createdAt: current.created_at, updatedAt: now };
}

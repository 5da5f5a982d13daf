import type { Transaction } from '../../database.js';
import { appendEntryEvent, beginEntryChange, entryNotFound } from './entry-writes.js';
import type { EntryRow, RegistrationEntry } from './registration-entry.js';
import { ENTRY_COLUMNS, entryFromRow } from './registration-entry.js';

/**
 * Deletes entry `id` (and its selectors) in `tx`, records an event in the change feed and
 * returns the entry as it was. Fails with `not-found` when there is none.
 */
export async function deleteEntry(
  tx: Transaction,
  id: string,
  now: number,
): Promise<RegistrationEntry> {
  await beginEntryChange('deleteEntry', tx, now);
  const [row] = await tx.query<EntryRow>(
    `DELETE FROM registration_entries WHERE id = $1 RETURNING ${ENTRY_COLUMNS}`,
    [id],
  );
  if (row === undefined) throw entryNotFound(id);
  await appendEntryEvent(tx, id, now);
  return entryFromRow(row);
}

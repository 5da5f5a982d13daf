import type { SpiffeId } from '@parley/core';
import type { Queryable } from '../../database.js';
import { MAX_BOUND_VALUES, SqlParams, chunks } from '../sql-params.js';
import { checkSpiffeId } from '../stored-value.js';
import type { EntryRow, RegistrationEntry } from './registration-entry.js';
import { ENTRY_COLUMNS, entryFromRow } from './registration-entry.js';

/**
 * Every entry whose parent is one of `parentIds`, ordered by id: the building block of an agent's
 * authorization (its own entries, then those under its node aliases and descendants).
 */
export async function listEntriesByParents(
  db: Queryable,
  parentIds: readonly SpiffeId[],
): Promise<RegistrationEntry[]> {
  parentIds.forEach((id) => checkSpiffeId('parentIds', id));
  const names = [...new Set(parentIds.map((id) => id.toString()))];
  const entries: RegistrationEntry[] = [];
  for (const chunk of chunks(names, MAX_BOUND_VALUES)) {
    const params = new SqlParams();
    const rows = await db.query<EntryRow>(
      `SELECT ${ENTRY_COLUMNS} FROM registration_entries WHERE parent_id IN (${params.list(chunk)})`,
      params.values,
    );
    entries.push(...rows.map(entryFromRow));
  }
  return entries.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

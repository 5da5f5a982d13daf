import type { Queryable } from '../../database.js';
import { MAX_BOUND_VALUES, SqlParams, chunks } from '../sql-params.js';
import type { EntryRow, RegistrationEntry } from './registration-entry.js';
import { ENTRY_COLUMNS, entryFromRow } from './registration-entry.js';

/**
 * The entries among `ids` that exist, ordered by id: what an agent fetches after reading the
 * change feed (an id it asked for and did not get was deleted).
 */
export async function getEntries(
  db: Queryable,
  ids: readonly string[],
): Promise<RegistrationEntry[]> {
  const entries: RegistrationEntry[] = [];
  for (const chunk of chunks([...new Set(ids)], MAX_BOUND_VALUES)) {
    const params = new SqlParams();
    const rows = await db.query<EntryRow>(
      `SELECT ${ENTRY_COLUMNS} FROM registration_entries WHERE id IN (${params.list(chunk)})`,
      params.values,
    );
    entries.push(...rows.map(entryFromRow));
  }
  return entries.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

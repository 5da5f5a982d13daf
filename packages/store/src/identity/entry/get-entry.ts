import type { Queryable } from '../../database.js';
import type { EntryRow, RegistrationEntry } from './registration-entry.js';
import { ENTRY_COLUMNS, entryFromRow } from './registration-entry.js';

/** The entry `id`, or undefined when there is none. */
export async function getEntry(db: Queryable, id: string): Promise<RegistrationEntry | undefined> {
  const [row] = await db.query<EntryRow>(
    `SELECT ${ENTRY_COLUMNS} FROM registration_entries WHERE id = $1`,
    [id],
  );
  return row === undefined ? undefined : entryFromRow(row);
}

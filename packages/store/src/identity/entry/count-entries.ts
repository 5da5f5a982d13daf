import type { Queryable } from '../../database.js';
import { SqlParams } from '../sql-params.js';
import type { EntryFilter } from './entry-filter.js';
import { entryConditions } from './entry-filter.js';

/** The number of entries that match every filter given (all entries without one). */
export async function countEntries(db: Queryable, filter: EntryFilter = {}): Promise<number> {
  const params = new SqlParams();
  const conditions = entryConditions(filter, params);
  const where = conditions.length === 0 ? '' : `WHERE ${conditions.join(' AND ')}`;
  const [row] = await db.query<{ n: number }>(
    `SELECT COUNT(*) AS n FROM registration_entries e ${where}`,
    params.values,
  );
  return row?.n ?? 0;
}

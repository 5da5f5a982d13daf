import type { Queryable } from '../../database.js';
import { decodePageToken, encodePageToken, pageSize } from '../page-token.js';
import { SqlParams } from '../sql-params.js';
import type { EntryFilter } from './entry-filter.js';
import { entryConditions } from './entry-filter.js';
import type { EntryRow, RegistrationEntry } from './registration-entry.js';
import { ENTRY_COLUMNS_E, entryFromRow } from './registration-entry.js';

/** A request for one page of entries. */
export interface ListEntriesRequest extends EntryFilter {
  /** Entries per page: 100 when absent or 0, at most 1000 (larger requests are capped). */
  readonly pageSize?: number;
  /** The `nextPageToken` of the previous page; absent or `''` for the first page. */
  readonly pageToken?: string;
}

/** One page of entries, ordered by id, and the token of the next page if there is one. */
export interface EntryPage {
  readonly entries: readonly RegistrationEntry[];
  readonly nextPageToken?: string;
}

const TOKEN_KIND = 'entries';

/**
 * Lists the entries that match every filter given, a page at a time. Pages continue after the
 * last id returned (no OFFSET), so a walk returns each entry present throughout it exactly once,
 * whatever is created or deleted meanwhile.
 */
export async function listEntries(
  db: Queryable,
  request: ListEntriesRequest = {},
): Promise<EntryPage> {
  const size = pageSize(request.pageSize);
  const after = decodePageToken(TOKEN_KIND, request.pageToken);
  const params = new SqlParams();
  const conditions = entryConditions(request, params);
  if (after !== undefined) conditions.push(`e.id > ${params.add(after)}`);
  const where = conditions.length === 0 ? '' : `WHERE ${conditions.join(' AND ')}`;
  // One row more than the page tells whether another page follows.
  const rows = await db.query<EntryRow>(
    `SELECT ${ENTRY_COLUMNS_E} FROM registration_entries e ${where}
     ORDER BY e.id LIMIT ${params.add(size + 1)}`,
    params.values,
  );
  const page = rows.slice(0, size).map(entryFromRow);
  const last = page.at(-1);
  return rows.length > size && last !== undefined
    ? { entries: page, nextPageToken: encodePageToken(TOKEN_KIND, last.id) }
    : { entries: page };
}

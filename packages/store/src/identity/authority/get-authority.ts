import type { Queryable } from '../../database.js';
import type { AuthorityRow, CaAuthority } from './ca-authority.js';
import { AUTHORITY_COLUMNS, authorityFromRow } from './ca-authority.js';

/** The authority `id`, or undefined when there is none. */
export async function getAuthority(db: Queryable, id: string): Promise<CaAuthority | undefined> {
  const [row] = await db.query<AuthorityRow>(
    `SELECT ${AUTHORITY_COLUMNS} FROM ca_authorities WHERE id = $1`,
    [id],
  );
  return row === undefined ? undefined : authorityFromRow(row);
}

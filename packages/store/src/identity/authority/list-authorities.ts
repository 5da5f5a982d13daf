import type { Queryable } from '../../database.js';
import type { AuthorityKind, AuthorityRow, CaAuthority } from './ca-authority.js';
import { AUTHORITY_COLUMNS, authorityFromRow } from './ca-authority.js';

/** Every recorded authority of `kind`, in every status, oldest first (by notBefore, then id). */
export async function listAuthorities(db: Queryable, kind: AuthorityKind): Promise<CaAuthority[]> {
  const rows = await db.query<AuthorityRow>(
    `SELECT ${AUTHORITY_COLUMNS} FROM ca_authorities WHERE kind = $1 ORDER BY not_before, id`,
    [kind],
  );
  return rows.map(authorityFromRow);
}

import { ParleyError } from '@parley/core';
import type { Queryable } from '../../database.js';
import { SqlParams } from '../sql-params.js';
import { checkCount } from '../stored-value.js';
import type { AuthorityRow, AuthorityStatus, CaAuthority } from './ca-authority.js';
import { AUTHORITY_COLUMNS, AUTHORITY_TRANSITIONS, authorityFromRow } from './ca-authority.js';

/**
 * Moves authority `id` to `status` at `now`, atomically and only along `AUTHORITY_TRANSITIONS`
 * (so two replicas cannot both taint, or revive a revoked key). Fails with `not-found`, or with
 * `failed-precondition` when the authority's current status does not lead to `status`.
 */
export async function setAuthorityStatus(
  db: Queryable,
  id: string,
  status: AuthorityStatus,
  now: number,
): Promise<CaAuthority> {
  if (!Object.hasOwn(AUTHORITY_TRANSITIONS, status)) {
    throw new TypeError(`unknown authority status ${String(status)}`);
  }
  checkCount('now', now);
  const from = (Object.keys(AUTHORITY_TRANSITIONS) as AuthorityStatus[]).filter((s) =>
    AUTHORITY_TRANSITIONS[s].includes(status),
  );
  const params = new SqlParams();
  const sql = `UPDATE ca_authorities SET status = ${params.add(status)}, updated_at = ${params.add(now)}
     WHERE id = ${params.add(id)} AND ${from.length === 0 ? '1 = 0' : `status IN (${params.list(from)})`}
     RETURNING ${AUTHORITY_COLUMNS}`;
  const [row] = await db.query<AuthorityRow>(sql, params.values);
  if (row !== undefined) return authorityFromRow(row);
  const [current] = await db.query<{ status: string }>(
    'SELECT status FROM ca_authorities WHERE id = $1',
    [id],
  );
  if (current === undefined) {
    throw new ParleyError('not-found', `CA authority ${JSON.stringify(id)} not found`);
  }
  throw new ParleyError(
    'failed-precondition',
    `CA authority ${JSON.stringify(id)} is ${current.status}: it cannot become ${status}` +
      ` (only ${from.join(' or ') || 'no status'} can)`,
  );
}

import { ParleyError } from '@parley/core';
import type { TrustDomain } from '@parley/core';
import type { Queryable } from '../../database.js';
import { checkTrustDomain } from '../stored-value.js';

/**
 * Deletes the bundle of `td`. Fails with `not-found` when there is none. Whether entries may
 * still federate with it is the identity module's rule.
 */
export async function deleteBundle(db: Queryable, td: TrustDomain): Promise<void> {
  checkTrustDomain('trust domain', td);
  const deleted = await db.execute('DELETE FROM bundles WHERE trust_domain = $1', [td.name]);
  if (deleted === 0) throw new ParleyError('not-found', `no bundle is stored for ${td.name}`);
}

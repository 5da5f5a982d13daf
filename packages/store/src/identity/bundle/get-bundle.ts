import type { Bundle, TrustDomain } from '@parley/core';
import type { Queryable } from '../../database.js';
import { checkTrustDomain } from '../stored-value.js';
import type { BundleRow } from './stored-bundle.js';
import { bundleFromRow } from './stored-bundle.js';

/** The stored bundle of `td` with its sequence number, or undefined when there is none. */
export async function getBundle(db: Queryable, td: TrustDomain): Promise<Bundle | undefined> {
  checkTrustDomain('trust domain', td);
  const [row] = await db.query<BundleRow>(
    'SELECT trust_domain, document, sequence_number FROM bundles WHERE trust_domain = $1',
    [td.name],
  );
  return row === undefined ? undefined : bundleFromRow(row);
}

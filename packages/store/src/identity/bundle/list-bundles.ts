import type { Bundle } from '@parley/core';
import type { Queryable } from '../../database.js';
import type { BundleRow } from './stored-bundle.js';
import { bundleFromRow } from './stored-bundle.js';

/** Every stored bundle (the server's own and the federated ones), ordered by trust domain. */
export async function listBundles(db: Queryable): Promise<Bundle[]> {
  const rows = await db.query<BundleRow>(
    'SELECT trust_domain, document, sequence_number FROM bundles ORDER BY trust_domain',
  );
  return rows.map(bundleFromRow);
}

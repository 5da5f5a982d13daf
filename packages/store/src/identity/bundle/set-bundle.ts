import type { Bundle } from '@parley/core';
import type { Queryable } from '../../database.js';
import { checkCount, checkTrustDomain } from '../stored-value.js';
import { bundleDocument } from './stored-bundle.js';

/** The bundle's sequence number after `setBundle`, and whether its keys changed. */
export interface SetBundleResult {
  readonly sequenceNumber: number;
  readonly changed: boolean;
}

/**
 * Stores the bundle of its trust domain (the server's own or a federated one) at `now`, in one
 * atomic upsert: a new trust domain starts at sequence number 1 and each change of its document
 * bumps it by one; setting the same document again changes nothing. The bundle's own
 * `sequenceNumber` is ignored: the stored one is authoritative and `getBundle` returns it.
 */
export async function setBundle(
  db: Queryable,
  bundle: Bundle,
  now: number,
): Promise<SetBundleResult> {
  checkTrustDomain('bundle trustDomain', bundle.trustDomain);
  checkCount('now', now);
  const td = bundle.trustDomain.name;
  const [row] = await db.query<{ sequence_number: number }>(
    `INSERT INTO bundles (trust_domain, document, sequence_number, updated_at)
     VALUES ($1, $2, 1, $3)
     ON CONFLICT (trust_domain) DO UPDATE SET document = excluded.document,
       sequence_number = bundles.sequence_number + 1, updated_at = excluded.updated_at
     WHERE bundles.document <> excluded.document
     RETURNING sequence_number`,
    [td, bundleDocument(bundle), now],
  );
  if (row !== undefined) return { sequenceNumber: row.sequence_number, changed: true };
  const [current] = await db.query<{ sequence_number: number }>(
    'SELECT sequence_number FROM bundles WHERE trust_domain = $1',
    [td],
  );
  return { sequenceNumber: current?.sequence_number ?? 0, changed: false };
}
